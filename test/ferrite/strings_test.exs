defmodule Ferrite.StringsTest do
  @moduledoc "String commands, typed and raw, with Redis 7.0's exact replies."
  use ExUnit.Case, async: true

  alias Ferrite.ResponseError

  setup context do
    {:ok, conn} = Ferrite.TestConn.open(context)
    %{c: conn}
  end

  defp err(msg), do: {:error, %ResponseError{message: msg}}

  @wrongtype "WRONGTYPE Operation against a key holding the wrong kind of value"
  @not_int "ERR value is not an integer or out of range"
  @not_float "ERR value is not a valid float"
  @syntax "ERR syntax error"

  defp make_list(c, key), do: {:ok, 1} = Ferrite.command(c, ["LPUSH", key, "x"])

  # WRONGTYPE needs a second type; until lists land, LPUSH is unknown and
  # these checks only assert that.
  defp lists?(c) do
    case Ferrite.command(c, ["LPUSH", "__probe", "x"]) do
      {:ok, 1} ->
        true

      other ->
        assert other ==
                 err("ERR unknown command 'LPUSH', with args beginning with: '__probe' 'x' ")

        false
    end
  end

  describe "GET / SET" do
    test "round trip and missing key", %{c: c} do
      assert Ferrite.get(c, "k") == {:ok, nil}
      assert Ferrite.set(c, "k", "v") == :ok
      assert Ferrite.get(c, "k") == {:ok, "v"}
      assert Ferrite.command(c, ["GET", "k"]) == {:ok, "v"}
      assert Ferrite.command(c, ["SET", "k", "w"]) == {:ok, "OK"}
    end

    test "binary-safe keys and values, empty value", %{c: c} do
      key = <<0, 255, 10, 13>>
      value = <<0, 1, 2, 255, 0>>
      assert Ferrite.set(c, key, value) == :ok
      assert Ferrite.get(c, key) == {:ok, value}
      assert Ferrite.set(c, "empty", "") == :ok
      assert Ferrite.get(c, "empty") == {:ok, ""}
    end

    test "large values (dirty scheduler path) round trip", %{c: c} do
      big = :binary.copy("abcdefgh", 200_000)
      assert Ferrite.set(c, "big", big) == :ok
      assert Ferrite.get(c, "big") == {:ok, big}
      assert Ferrite.strlen(c, "big") == {:ok, 1_600_000}
    end

    test "a long value read out never changes after writes to its key", %{c: c} do
      # Embedded GETs of long values share the stored bytes with the
      # returned binary: later in-place edits must not reach it.
      v1 = :binary.copy("a", 1024)
      assert Ferrite.set(c, "k", v1) == :ok
      {:ok, got} = Ferrite.get(c, "k")
      assert Ferrite.set(c, "k", :binary.copy("b", 1024)) == :ok
      assert Ferrite.append(c, "k", "tail") == {:ok, 1028}
      assert Ferrite.setrange(c, "k", 0, "zz") == {:ok, 1028}
      assert got == v1
      {:ok, got2} = Ferrite.get(c, "k")
      assert Ferrite.append(c, "k", "more") == {:ok, 1032}
      assert Ferrite.del(c, "k") == {:ok, 1}
      :erlang.garbage_collect()
      assert got == v1
      assert got2 == "zz" <> :binary.copy("b", 1022) <> "tail"
      # Repeated APPENDs build the value in place (amortised growth).
      for _ <- 1..2000, do: {:ok, _} = Ferrite.append(c, "log", :binary.copy("x", 100))
      assert Ferrite.strlen(c, "log") == {:ok, 200_000}
      {:ok, log} = Ferrite.get(c, "log")
      assert log == :binary.copy("x", 200_000)
    end

    test "integers, floats and atoms are sent as text", %{c: c} do
      assert Ferrite.set(c, :atom_key, 42) == :ok
      assert Ferrite.get(c, "atom_key") == {:ok, "42"}
      assert Ferrite.set(c, "f", 1.5) == :ok
      assert Ferrite.get(c, "f") == {:ok, "1.5"}
      assert Ferrite.set(c, "io", ["a", ["b", ?c]]) == :ok
      assert Ferrite.get(c, "io") == {:ok, "abc"}
    end

    test "nil is refused as an argument", %{c: c} do
      assert_raise ArgumentError, fn -> Ferrite.set(c, "k", nil) end
      assert_raise ArgumentError, fn -> Ferrite.command(c, "GET k") end
    end

    test "NX and XX", %{c: c} do
      assert Ferrite.set(c, "k", "1", xx: true) == {:ok, nil}
      assert Ferrite.get(c, "k") == {:ok, nil}
      assert Ferrite.set(c, "k", "1", nx: true) == :ok
      assert Ferrite.set(c, "k", "2", nx: true) == {:ok, nil}
      assert Ferrite.get(c, "k") == {:ok, "1"}
      assert Ferrite.set(c, "k", "3", xx: true) == :ok
      assert Ferrite.get(c, "k") == {:ok, "3"}
      assert Ferrite.set(c, "k", "4", nx: false) == :ok
    end

    test "GET option returns the old value", %{c: c} do
      assert Ferrite.set(c, "k", "a", get: true) == {:ok, nil}
      assert Ferrite.set(c, "k", "b", get: true) == {:ok, "a"}
      assert Ferrite.set(c, "k", "c", nx: true, get: true) == {:ok, "b"}
      assert Ferrite.get(c, "k") == {:ok, "b"}
    end

    test "EX / PX / EXAT / PXAT / KEEPTTL", %{c: c} do
      assert Ferrite.set(c, "k", "v", ex: 100) == :ok
      assert Ferrite.ttl(c, "k") == {:ok, 100}
      assert Ferrite.set(c, "k", "v", px: 5000) == :ok
      assert {:ok, ms} = Ferrite.pttl(c, "k")
      assert ms in 4900..5000
      assert Ferrite.set(c, "k", "w", keepttl: true) == :ok
      assert {:ok, ms} = Ferrite.pttl(c, "k")
      assert ms in 4900..5000
      assert Ferrite.set(c, "k", "x") == :ok
      assert Ferrite.ttl(c, "k") == {:ok, -1}
      now = System.os_time(:second)
      assert Ferrite.set(c, "k", "v", exat: now + 50) == :ok
      assert {:ok, s} = Ferrite.ttl(c, "k")
      assert s in 48..50
      assert Ferrite.set(c, "k", "v", pxat: (now + 50) * 1000) == :ok
      assert {:ok, s} = Ferrite.ttl(c, "k")
      assert s in 48..50
      # An absolute time in the past deletes the key at once.
      assert Ferrite.set(c, "k", "v", exat: 1) == :ok
      assert Ferrite.get(c, "k") == {:ok, nil}
    end

    @tag :engine_only
    test "expiry follows the injected clock", %{c: c} do
      assert Ferrite.set(c, "k", "v", px: 1500) == :ok
      assert Ferrite.Embedded.fast_forward(c, 1000) == :ok
      assert Ferrite.get(c, "k") == {:ok, "v"}
      assert Ferrite.Embedded.fast_forward(c, 600) == :ok
      assert Ferrite.get(c, "k") == {:ok, nil}
      assert Ferrite.exists(c, "k") == {:ok, 0}
    end

    test "SET errors", %{c: c} do
      assert Ferrite.set(c, "k", "v", ex: 0) == err("ERR invalid expire time in 'set' command")
      assert Ferrite.set(c, "k", "v", px: -5) == err("ERR invalid expire time in 'set' command")
      assert Ferrite.set(c, "k", "v", ex: "abc") == err(@not_int)
      assert Ferrite.set(c, "k", "v", nx: true, xx: true) == err(@syntax)
      assert Ferrite.set(c, "k", "v", ex: 10, px: 10) == err(@syntax)
      assert Ferrite.set(c, "k", "v", ex: 10, keepttl: true) == err(@syntax)
      assert Ferrite.command(c, ["SET", "k", "v", "BOGUS"]) == err(@syntax)
      assert Ferrite.command(c, ["SET", "k", "v", "EX"]) == err(@syntax)

      assert Ferrite.command(c, ["SET", "k"]) ==
               err("ERR wrong number of arguments for 'set' command")

      assert_raise ArgumentError, fn -> Ferrite.set(c, "k", "v", bogus: 1) end
    end

    test "GET on a non-string is WRONGTYPE", %{c: c} do
      if lists?(c) do
        make_list(c, "l")
        assert Ferrite.get(c, "l") == err(@wrongtype)
        assert Ferrite.set(c, "l", "v", get: true) == err(@wrongtype)
        assert Ferrite.set(c, "l", "v") == :ok
        assert Ferrite.get(c, "l") == {:ok, "v"}
      end
    end

    test "arity errors", %{c: c} do
      assert Ferrite.command(c, ["GET"]) == err("ERR wrong number of arguments for 'get' command")

      assert Ferrite.command(c, ["GET", "a", "b"]) ==
               err("ERR wrong number of arguments for 'get' command")

      assert Ferrite.command(c, ["get"]) == err("ERR wrong number of arguments for 'get' command")
    end

    test "command names are case-insensitive", %{c: c} do
      assert Ferrite.command(c, ["sEt", "k", "v"]) == {:ok, "OK"}
      assert Ferrite.command(c, ["get", "k"]) == {:ok, "v"}
    end

    test "unknown command", %{c: c} do
      assert Ferrite.command(c, ["NOPE", "a", "b"]) ==
               err("ERR unknown command 'NOPE', with args beginning with: 'a' 'b' ")

      assert Ferrite.command(c, ["NOPE"]) ==
               err("ERR unknown command 'NOPE', with args beginning with: ")
    end

    test "command! raises the error, returns the reply", %{c: c} do
      assert Ferrite.command!(c, ["SET", "k", "v"]) == "OK"
      assert Ferrite.command!(c, ["GET", "k"]) == "v"

      assert_raise ResponseError, "ERR syntax error", fn ->
        Ferrite.command!(c, ["SET", "k", "v", "NX", "XX"])
      end
    end
  end

  describe "GET / SET entry points (Ferrite.Native.get/set)" do
    # The NIF's own entry points and engine internals: embedded only.
    @describetag :engine_only

    defp info_field(c, section, field) do
      {:ok, info} = Ferrite.command(c, ["INFO", section])

      info
      |> String.split("\r\n")
      |> Enum.find_value(fn line ->
        case String.split(line, ":", parts: 2) do
          [^field, v] -> v
          _ -> nil
        end
      end)
    end

    test "count in commandstats and keyspace hits/misses like the general path", %{c: c} do
      assert Ferrite.set(c, "k", "v") == :ok
      assert Ferrite.get(c, "k") == {:ok, "v"}
      assert Ferrite.get(c, "nokey") == {:ok, nil}
      assert Ferrite.command(c, ["GET", "k"]) == {:ok, "v"}
      assert info_field(c, "stats", "keyspace_hits") == "2"
      assert info_field(c, "stats", "keyspace_misses") == "1"
      assert "calls=3," <> _ = info_field(c, "commandstats", "cmdstat_get")
      assert "calls=1," <> _ = info_field(c, "commandstats", "cmdstat_set")
    end

    test "queue inside MULTI and run in EXEC", %{c: c} do
      assert Ferrite.command(c, ["MULTI"]) == {:ok, "OK"}
      assert Ferrite.set(c, "k", "v") == {:ok, "QUEUED"}
      assert Ferrite.get(c, "k") == {:ok, "QUEUED"}
      assert Ferrite.command(c, ["EXEC"]) == {:ok, ["OK", "v"]}
    end

    test "a SET invalidates a WATCH of another conn on the store" do
      store = :"fast_path_watch_#{System.unique_integer([:positive])}"
      {:ok, a} = Ferrite.start_link(embedded: [name: store])
      {:ok, b} = Ferrite.start_link(embedded: [name: store])
      assert Ferrite.command(a, ["WATCH", "w"]) == {:ok, "OK"}
      assert Ferrite.set(b, "w", "1") == :ok
      assert Ferrite.command(a, ["MULTI"]) == {:ok, "OK"}
      assert Ferrite.command(a, ["SET", "w", "2"]) == {:ok, "QUEUED"}
      assert Ferrite.command(a, ["EXEC"]) == {:ok, nil}
      assert Ferrite.get(a, "w") == {:ok, "1"}
    end

    test "TTLs: a SET clears one, an expired key reads as missing", %{c: c} do
      assert Ferrite.set(c, "k", "v", px: 100) == :ok
      assert Ferrite.set(c, "k", "w") == :ok
      assert Ferrite.command(c, ["PTTL", "k"]) == {:ok, -1}
      assert Ferrite.set(c, "t", "v", px: 100) == :ok
      assert Ferrite.Embedded.fast_forward(c, 100) == :ok
      assert Ferrite.get(c, "t") == {:ok, nil}
      assert info_field(c, "stats", "expired_keys") == "1"
    end

    test "a registered name works, a stopped conn is a ConnectionError" do
      name = :"fast_path_conn_#{System.unique_integer([:positive])}"
      {:ok, pid} = Ferrite.start_link(embedded: true, name: name)
      assert Ferrite.set(name, "k", "v") == :ok
      assert Ferrite.get(name, "k") == {:ok, "v"}
      Ferrite.stop(pid)
      assert {:error, %Ferrite.ConnectionError{}} = Ferrite.get(pid, "k")
      assert {:error, %Ferrite.ConnectionError{}} = Ferrite.set(pid, "k", "v")
    end

    test "WRONGTYPE, and the keyspace event of a SET, as in the general path", %{c: c} do
      if lists?(c) do
        make_list(c, "l")
        assert Ferrite.get(c, "l") == err(@wrongtype)
        assert "calls=1,usec=" <> rest = info_field(c, "commandstats", "cmdstat_get")
        assert rest =~ ",failed_calls=1"
      end

      assert Ferrite.command(c, ["CONFIG", "SET", "notify-keyspace-events", "K$"]) ==
               {:ok, "OK"}

      me = self()
      {:ok, _sub} = Ferrite.PubSub.subscribe(c, ["__keyspace@0__:ev"], &send(me, &1))
      assert_receive {:subscribe, "__keyspace@0__:ev", 1}, 1000
      assert Ferrite.set(c, "ev", "1") == :ok
      assert_receive {:message, "__keyspace@0__:ev", "set"}, 1000
    end

    test "OOM under maxmemory is refused as in the general path", %{c: c} do
      assert Ferrite.set(c, "old", "v") == :ok
      assert Ferrite.command(c, ["CONFIG", "SET", "maxmemory", "1"]) == {:ok, "OK"}
      oom = err("OOM command not allowed when used memory > 'maxmemory'.")
      assert Ferrite.set(c, "k", "v") == oom
      assert Ferrite.command(c, ["SET", "k", "v"]) == oom
      assert Ferrite.get(c, "k") == {:ok, nil}
      assert Ferrite.get(c, "old") == {:ok, "v"}
    end
  end

  describe "SETNX / SETEX / PSETEX" do
    test "SETNX", %{c: c} do
      assert Ferrite.setnx(c, "k", "first") == {:ok, 1}
      assert Ferrite.setnx(c, "k", "second") == {:ok, 0}
      assert Ferrite.get(c, "k") == {:ok, "first"}
    end

    @tag :engine_only
    test "SETEX and PSETEX", %{c: c} do
      assert Ferrite.setex(c, "k", 100, "v") == :ok
      assert Ferrite.get(c, "k") == {:ok, "v"}
      assert Ferrite.ttl(c, "k") == {:ok, 100}
      assert Ferrite.psetex(c, "p", 100_000, "v") == :ok
      assert {:ok, ms} = Ferrite.pttl(c, "p")
      assert ms in 99_000..100_000
      assert Ferrite.Embedded.fast_forward(c, 100_001) == :ok
      assert Ferrite.get(c, "k") == {:ok, nil}
      assert Ferrite.get(c, "p") == {:ok, nil}
    end

    test "SETEX errors", %{c: c} do
      assert Ferrite.setex(c, "k", -1, "v") == err("ERR invalid expire time in 'setex' command")
      assert Ferrite.setex(c, "k", 0, "v") == err("ERR invalid expire time in 'setex' command")
      assert Ferrite.setex(c, "k", "abc", "v") == err(@not_int)
      assert Ferrite.psetex(c, "k", 0, "v") == err("ERR invalid expire time in 'psetex' command")

      assert Ferrite.command(c, ["SETEX", "k", "10"]) ==
               err("ERR wrong number of arguments for 'setex' command")
    end
  end

  describe "GETSET / GETDEL / GETEX" do
    test "GETSET", %{c: c} do
      assert Ferrite.getset(c, "k", "a") == {:ok, nil}
      assert Ferrite.getset(c, "k", "b") == {:ok, "a"}
      assert Ferrite.get(c, "k") == {:ok, "b"}
    end

    test "GETSET clears the TTL", %{c: c} do
      assert Ferrite.setex(c, "k", 100, "a") == :ok
      assert Ferrite.getset(c, "k", "b") == {:ok, "a"}
      assert Ferrite.ttl(c, "k") == {:ok, -1}
    end

    test "GETDEL", %{c: c} do
      assert Ferrite.set(c, "k", "v") == :ok
      assert Ferrite.getdel(c, "k") == {:ok, "v"}
      assert Ferrite.getdel(c, "k") == {:ok, nil}
      assert Ferrite.exists(c, "k") == {:ok, 0}
    end

    test "GETEX", %{c: c} do
      assert Ferrite.command(c, ["GETEX", "k"]) == {:ok, nil}
      assert Ferrite.set(c, "k", "v") == :ok
      assert Ferrite.command(c, ["GETEX", "k", "EX", "100"]) == {:ok, "v"}
      assert Ferrite.ttl(c, "k") == {:ok, 100}
      assert Ferrite.command(c, ["GETEX", "k", "PERSIST"]) == {:ok, "v"}
      assert Ferrite.ttl(c, "k") == {:ok, -1}
      assert Ferrite.command(c, ["GETEX", "k", "EX", "10", "PX", "1"]) == err(@syntax)
      assert Ferrite.command(c, ["GETEX", "k", "EX", "abc"]) == err(@not_int)

      assert Ferrite.command(c, ["GETEX", "k", "EX", "0"]) ==
               err("ERR invalid expire time in 'getex' command")
    end

    test "WRONGTYPE", %{c: c} do
      if lists?(c) do
        make_list(c, "l")
        assert Ferrite.getset(c, "l", "v") == err(@wrongtype)
        assert Ferrite.getdel(c, "l") == err(@wrongtype)
        assert Ferrite.command(c, ["GETEX", "l"]) == err(@wrongtype)
      end
    end
  end

  describe "MSET / MSETNX / MGET" do
    test "MSET from tuples and from a map, MGET", %{c: c} do
      assert Ferrite.mset(c, [{"k1", "v1"}, {"k2", "v2"}, {"k3", "v3"}]) == :ok
      assert Ferrite.mget(c, ["k1", "k2", "k3", "nope"]) == {:ok, ["v1", "v2", "v3", nil]}
      assert Ferrite.mset(c, %{"a" => 1, "b" => 2}) == :ok
      assert Ferrite.mget(c, ["a", "b"]) == {:ok, ["1", "2"]}
    end

    test "MSETNX is all or nothing", %{c: c} do
      assert Ferrite.msetnx(c, [{"a", "1"}, {"b", "2"}]) == {:ok, 1}
      assert Ferrite.msetnx(c, [{"b", "x"}, {"c", "3"}]) == {:ok, 0}
      assert Ferrite.mget(c, ["a", "b", "c"]) == {:ok, ["1", "2", nil]}
    end

    test "MGET returns nil for a non-string", %{c: c} do
      if lists?(c) do
        make_list(c, "l")
        assert Ferrite.set(c, "s", "v") == :ok
        assert Ferrite.mget(c, ["l", "s"]) == {:ok, [nil, "v"]}
      end
    end

    test "arity errors", %{c: c} do
      assert Ferrite.command(c, ["MSET", "a"]) ==
               err("ERR wrong number of arguments for 'mset' command")

      assert Ferrite.command(c, ["MSET", "a", "1", "b"]) ==
               err("ERR wrong number of arguments for 'mset' command")

      assert Ferrite.command(c, ["MSETNX", "a", "1", "b"]) ==
               err("ERR wrong number of arguments for 'msetnx' command")

      assert Ferrite.command(c, ["MGET"]) ==
               err("ERR wrong number of arguments for 'mget' command")
    end
  end

  describe "APPEND / STRLEN / GETRANGE / SETRANGE" do
    test "APPEND and STRLEN", %{c: c} do
      assert Ferrite.strlen(c, "k") == {:ok, 0}
      assert Ferrite.append(c, "k", "hello") == {:ok, 5}
      assert Ferrite.append(c, "k", " world") == {:ok, 11}
      assert Ferrite.strlen(c, "k") == {:ok, 11}
      assert Ferrite.get(c, "k") == {:ok, "hello world"}
    end

    test "APPEND to a counter", %{c: c} do
      assert Ferrite.incr(c, "n") == {:ok, 1}
      assert Ferrite.append(c, "n", "23") == {:ok, 3}
      assert Ferrite.incr(c, "n") == {:ok, 124}
    end

    test "GETRANGE", %{c: c} do
      assert Ferrite.set(c, "k", "hello") == :ok
      assert Ferrite.getrange(c, "k", 0, -1) == {:ok, "hello"}
      assert Ferrite.getrange(c, "k", -3, -1) == {:ok, "llo"}
      assert Ferrite.getrange(c, "k", 1, 2) == {:ok, "el"}
      assert Ferrite.getrange(c, "k", 10, 20) == {:ok, ""}
      assert Ferrite.getrange(c, "k", 3, 1) == {:ok, ""}
      assert Ferrite.getrange(c, "missing", 0, 1) == {:ok, ""}
      assert Ferrite.getrange(c, "k", "a", 1) == err(@not_int)
    end

    test "SETRANGE", %{c: c} do
      assert Ferrite.set(c, "k", "hello") == :ok
      assert Ferrite.setrange(c, "k", 6, "world") == {:ok, 11}
      assert Ferrite.get(c, "k") == {:ok, "hello\0world"}
      assert Ferrite.setrange(c, "new", 3, "ab") == {:ok, 5}
      assert Ferrite.get(c, "new") == {:ok, <<0, 0, 0, ?a, ?b>>}
      assert Ferrite.setrange(c, "k", -1, "x") == err("ERR offset is out of range")

      assert Ferrite.setrange(c, "k", 536_870_912, "x") ==
               err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")

      # An empty value on a missing key creates nothing.
      assert Ferrite.setrange(c, "none", 5, "") == {:ok, 0}
      assert Ferrite.exists(c, "none") == {:ok, 0}
    end

    test "WRONGTYPE", %{c: c} do
      if lists?(c) do
        make_list(c, "l")
        assert Ferrite.append(c, "l", "x") == err(@wrongtype)
        assert Ferrite.strlen(c, "l") == err(@wrongtype)
        assert Ferrite.getrange(c, "l", 0, 1) == err(@wrongtype)
        assert Ferrite.setrange(c, "l", 0, "x") == err(@wrongtype)
      end
    end
  end

  describe "INCR family" do
    test "INCR / INCRBY / DECR / DECRBY", %{c: c} do
      assert Ferrite.incr(c, "n") == {:ok, 1}
      assert Ferrite.incrby(c, "n", 10) == {:ok, 11}
      assert Ferrite.decr(c, "n") == {:ok, 10}
      assert Ferrite.decrby(c, "n", 20) == {:ok, -10}
      assert Ferrite.incrby(c, "n", -5) == {:ok, -15}
      assert Ferrite.get(c, "n") == {:ok, "-15"}
    end

    test "SDK example: incr, incrby, incrbyfloat", %{c: c} do
      assert Ferrite.set(c, "counter", "0") == :ok
      assert Ferrite.incr(c, "counter") == {:ok, 1}
      assert Ferrite.incrby(c, "counter", 10) == {:ok, 11}
      assert Ferrite.incrbyfloat(c, "counter", 0.5) == {:ok, 11.5}
    end

    test "INCR keeps the TTL", %{c: c} do
      assert Ferrite.setex(c, "n", 100, "1") == :ok
      assert Ferrite.incr(c, "n") == {:ok, 2}
      assert Ferrite.ttl(c, "n") == {:ok, 100}
    end

    test "not an integer", %{c: c} do
      assert Ferrite.set(c, "s", "abc") == :ok
      assert Ferrite.incr(c, "s") == err(@not_int)
      assert Ferrite.set(c, "s", " 1") == :ok
      assert Ferrite.incr(c, "s") == err(@not_int)
      assert Ferrite.set(c, "s", "1.5") == :ok
      assert Ferrite.decr(c, "s") == err(@not_int)
      assert Ferrite.incrby(c, "n", "abc") == err(@not_int)
      assert Ferrite.decrby(c, "n", "1.0") == err(@not_int)
    end

    test "overflow", %{c: c} do
      assert Ferrite.set(c, "n", "9223372036854775807") == :ok
      assert Ferrite.incr(c, "n") == err("ERR increment or decrement would overflow")
      assert Ferrite.set(c, "m", "-9223372036854775808") == :ok
      assert Ferrite.decr(c, "m") == err("ERR increment or decrement would overflow")

      assert Ferrite.decrby(c, "x", -9_223_372_036_854_775_808) ==
               err("ERR decrement would overflow")
    end

    test "INCRBYFLOAT", %{c: c} do
      assert Ferrite.set(c, "f", "10.5") == :ok
      assert Ferrite.incrbyfloat(c, "f", 0.1) == {:ok, 10.6}
      assert Ferrite.get(c, "f") == {:ok, "10.6"}
      assert Ferrite.incrbyfloat(c, "f", -5) == {:ok, 5.6}
      assert Ferrite.command(c, ["INCRBYFLOAT", "g", "5.0e3"]) == {:ok, "5000"}
      assert Ferrite.incrbyfloat(c, "g", 1) == {:ok, 5001.0}
      assert Ferrite.incrbyfloat(c, "f", "abc") == err(@not_float)
      assert Ferrite.set(c, "s", "abc") == :ok
      assert Ferrite.incrbyfloat(c, "s", 1) == err(@not_float)
    end

    test "WRONGTYPE", %{c: c} do
      if lists?(c) do
        make_list(c, "l")
        assert Ferrite.incr(c, "l") == err(@wrongtype)
        assert Ferrite.incrbyfloat(c, "l", 1) == err(@wrongtype)
      end
    end
  end
end
