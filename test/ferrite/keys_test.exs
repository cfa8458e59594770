defmodule Ferrite.KeysTest do
  @moduledoc "The typed key functions, with Redis 7.0's exact replies."
  use ExUnit.Case, async: true

  alias Ferrite.ResponseError

  setup context do
    {:ok, conn} = Ferrite.TestConn.open(context)
    %{c: conn}
  end

  defp err(msg), do: {:error, %ResponseError{message: msg}}

  test "DEL and EXISTS take one key or a list", %{c: c} do
    assert Ferrite.mset(c, a: 1, b: 2, c: 3) == :ok
    assert Ferrite.exists(c, "a") == {:ok, 1}
    assert Ferrite.exists(c, ["a", "b", "a", "zz"]) == {:ok, 3}
    assert Ferrite.del(c, "a") == {:ok, 1}
    assert Ferrite.del(c, ["a", "b", "c", "zz"]) == {:ok, 2}
    assert Ferrite.exists(c, ["a", "b", "c"]) == {:ok, 0}

    assert Ferrite.command(c, ["DEL"]) ==
             err("ERR wrong number of arguments for 'del' command")
  end

  @tag :engine_only
  test "EXPIRE, TTL, PERSIST with the injected clock", %{c: c} do
    assert Ferrite.ttl(c, "k") == {:ok, -2}
    assert Ferrite.expire(c, "k", 10) == {:ok, 0}
    assert Ferrite.set(c, "k", "v") == :ok
    assert Ferrite.ttl(c, "k") == {:ok, -1}
    assert Ferrite.expire(c, "k", 10) == {:ok, 1}
    assert Ferrite.ttl(c, "k") == {:ok, 10}
    assert Ferrite.persist(c, "k") == {:ok, 1}
    assert Ferrite.persist(c, "k") == {:ok, 0}
    assert Ferrite.ttl(c, "k") == {:ok, -1}
    assert Ferrite.expire(c, "k", 10) == {:ok, 1}
    assert Ferrite.Embedded.fast_forward(c, 9_000) == :ok
    assert Ferrite.ttl(c, "k") == {:ok, 1}
    assert Ferrite.Embedded.fast_forward(c, 1_001) == :ok
    assert Ferrite.ttl(c, "k") == {:ok, -2}
    assert Ferrite.get(c, "k") == {:ok, nil}
  end

  test "EXPIRE options NX XX GT LT", %{c: c} do
    assert Ferrite.set(c, "k", "v") == :ok
    assert Ferrite.expire(c, "k", 100, [:xx]) == {:ok, 0}
    assert Ferrite.expire(c, "k", 100, [:nx]) == {:ok, 1}
    assert Ferrite.expire(c, "k", 200, [:nx]) == {:ok, 0}
    assert Ferrite.expire(c, "k", 50, [:gt]) == {:ok, 0}
    assert Ferrite.expire(c, "k", 200, [:gt]) == {:ok, 1}
    assert Ferrite.expire(c, "k", 300, [:lt]) == {:ok, 0}
    assert Ferrite.expire(c, "k", 150, [:lt]) == {:ok, 1}
    assert Ferrite.ttl(c, "k") == {:ok, 150}

    assert Ferrite.expire(c, "k", 10, [:nx, :xx]) ==
             err("ERR NX and XX, GT or LT options at the same time are not compatible")

    assert Ferrite.expire(c, "k", "abc") == err("ERR value is not an integer or out of range")
    assert_raise ArgumentError, fn -> Ferrite.expire(c, "k", 10, [:bogus]) end
  end

  test "a zero or negative EXPIRE deletes the key", %{c: c} do
    assert Ferrite.set(c, "k", "v") == :ok
    assert Ferrite.expire(c, "k", 0) == {:ok, 1}
    assert Ferrite.exists(c, "k") == {:ok, 0}
  end

  test "PEXPIRE and PTTL", %{c: c} do
    assert Ferrite.set(c, "k", "v") == :ok
    assert Ferrite.pexpire(c, "k", 1500) == {:ok, 1}
    assert {:ok, ms} = Ferrite.pttl(c, "k")
    assert ms in 1400..1500
    assert Ferrite.pttl(c, "nope") == {:ok, -2}
  end

  test "TYPE", %{c: c} do
    assert Ferrite.set(c, "s", "v") == :ok
    assert Ferrite.type(c, "s") == {:ok, "string"}
    assert Ferrite.type(c, "nope") == {:ok, "none"}
  end

  test "KEYS with glob patterns", %{c: c} do
    assert Ferrite.mset(c, [{"user:1", "a"}, {"user:2", "b"}, {"other", "c"}]) == :ok
    assert {:ok, keys} = Ferrite.keys(c, "user:*")
    assert Enum.sort(keys) == ["user:1", "user:2"]
    assert {:ok, all} = Ferrite.keys(c)
    assert Enum.sort(all) == ["other", "user:1", "user:2"]
    assert Ferrite.keys(c, "nomatch*") == {:ok, []}
  end

  test "FLUSHDB and DBSIZE", %{c: c} do
    assert Ferrite.mset(c, %{"a" => 1, "b" => 2}) == :ok
    assert Ferrite.dbsize(c) == {:ok, 2}
    assert Ferrite.flushdb(c) == :ok
    assert Ferrite.dbsize(c) == {:ok, 0}
    assert Ferrite.command(c, ["FLUSHDB", "BOGUS"]) == err("ERR syntax error")
  end

  describe "rename/renamenx/expireat/unlink/copy/scan/type/pttl/getex" do
    test "rename and renamenx", %{c: c} do
      :ok = Ferrite.set(c, "a", "1")
      :ok = Ferrite.set(c, "b", "2")
      assert Ferrite.renamenx(c, "a", "b") == {:ok, 0}
      assert Ferrite.rename(c, "a", "c") == :ok
      assert Ferrite.get(c, "c") == {:ok, "1"}
      assert Ferrite.renamenx(c, "c", "d") == {:ok, 1}
      assert Ferrite.rename(c, "d", "b") == :ok
      assert Ferrite.get(c, "b") == {:ok, "1"}
      assert Ferrite.rename(c, "nosuch", "x") == err("ERR no such key")
      assert Ferrite.renamenx(c, "nosuch", "x") == err("ERR no such key")
    end

    test "expireat and pttl", %{c: c} do
      :ok = Ferrite.set(c, "k", "v")
      future = System.os_time(:second) + 100
      assert Ferrite.expireat(c, "k", future) == {:ok, 1}
      {:ok, ms} = Ferrite.pttl(c, "k")
      assert ms > 90_000 and ms <= 100_000
      assert Ferrite.expireat(c, "k", future + 50, [:lt]) == {:ok, 0}
      assert Ferrite.expireat(c, "k", future + 50, [:gt]) == {:ok, 1}
      assert Ferrite.expireat(c, "nosuch", future) == {:ok, 0}
      # A time in the past deletes the key.
      assert Ferrite.expireat(c, "k", 1) == {:ok, 1}
      assert Ferrite.exists(c, "k") == {:ok, 0}
      assert Ferrite.pttl(c, "k") == {:ok, -2}
      :ok = Ferrite.set(c, "k", "v")
      assert Ferrite.pttl(c, "k") == {:ok, -1}
      assert Ferrite.expireat(c, "k", "x") == err("ERR value is not an integer or out of range")
    end

    test "unlink", %{c: c} do
      :ok = Ferrite.mset(c, a: 1, b: 2)
      assert Ferrite.unlink(c, ["a", "b", "zz"]) == {:ok, 2}
      assert Ferrite.unlink(c, "a") == {:ok, 0}
    end

    test "copy, with replace and to another db", %{c: c} do
      {:ok, 2} = Ferrite.rpush(c, "l", ["a", "b"])
      assert Ferrite.copy(c, "l", "l2") == {:ok, 1}
      assert Ferrite.lrange(c, "l2", 0, -1) == {:ok, ["a", "b"]}
      :ok = Ferrite.set(c, "s", "v")
      assert Ferrite.copy(c, "s", "l2") == {:ok, 0}
      assert Ferrite.copy(c, "s", "l2", replace: true) == {:ok, 1}
      assert Ferrite.get(c, "l2") == {:ok, "v"}
      assert Ferrite.copy(c, "nosuch", "x") == {:ok, 0}
      assert Ferrite.copy(c, "s", "s", db: 5) == {:ok, 1}
      {:ok, other} = Ferrite.TestConn.another(%{}, database: 5)
      assert Ferrite.get(other, "s") == {:ok, "v"}
      assert Ferrite.copy(c, "s", "s") == err("ERR source and destination objects are the same")
      assert Ferrite.copy(c, "s", "x", db: 16) == err("ERR DB index is out of range")
    end

    test "type", %{c: c} do
      :ok = Ferrite.set(c, "s", "v")
      {:ok, 1} = Ferrite.rpush(c, "l", "a")
      {:ok, 1} = Ferrite.zadd(c, "z", [{1, "a"}])
      assert Ferrite.type(c, "s") == {:ok, "string"}
      assert Ferrite.type(c, "l") == {:ok, "list"}
      assert Ferrite.type(c, "z") == {:ok, "zset"}
      assert Ferrite.type(c, "nosuch") == {:ok, "none"}
    end

    test "scan walks every key, with match, count and type", %{c: c} do
      keys = for i <- 1..60, do: "k#{i}"
      :ok = Ferrite.mset(c, Enum.map(keys, &{&1, "v"}))
      {:ok, 2} = Ferrite.rpush(c, "list1", ["a", "b"])
      assert Enum.sort(scan_all(c, 0, [count: 7], [])) == Enum.sort(["list1" | keys])

      assert Enum.sort(scan_all(c, 0, [match: "k1*", count: 1000], [])) ==
               Enum.sort(["k1" | for(i <- 10..19, do: "k#{i}")])

      assert scan_all(c, 0, [type: "list", count: 1000], []) == ["list1"]
      assert Ferrite.scan(c, "abc") == err("ERR invalid cursor")
    end

    test "getex reads and changes the expiry", %{c: c} do
      assert Ferrite.getex(c, "nosuch") == {:ok, nil}
      :ok = Ferrite.set(c, "k", "v")
      assert Ferrite.getex(c, "k", ex: 100) == {:ok, "v"}
      {:ok, ttl} = Ferrite.ttl(c, "k")
      assert ttl in 99..100
      assert Ferrite.getex(c, "k", px: 50_000) == {:ok, "v"}
      {:ok, ms} = Ferrite.pttl(c, "k")
      assert ms > 40_000 and ms <= 50_000
      assert Ferrite.getex(c, "k", persist: true) == {:ok, "v"}
      assert Ferrite.ttl(c, "k") == {:ok, -1}
      assert Ferrite.getex(c, "k", exat: System.os_time(:second) + 100) == {:ok, "v"}
      {:ok, ttl} = Ferrite.ttl(c, "k")
      assert ttl in 98..100
      assert Ferrite.getex(c, "k") == {:ok, "v"}
      assert Ferrite.getex(c, "k", ex: 0) == err("ERR invalid expire time in 'getex' command")
      assert Ferrite.getex(c, "k", ex: 10, px: 10) == err("ERR syntax error")
      {:ok, 1} = Ferrite.rpush(c, "l", "a")

      assert Ferrite.getex(c, "l") ==
               err("WRONGTYPE Operation against a key holding the wrong kind of value")
    end
  end

  defp scan_all(c, cursor, opts, acc) do
    {:ok, {next, keys}} = Ferrite.scan(c, cursor, opts)
    if next == 0, do: acc ++ keys, else: scan_all(c, next, opts, acc ++ keys)
  end
end
