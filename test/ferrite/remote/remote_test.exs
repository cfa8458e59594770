defmodule Ferrite.RemoteTest do
  @moduledoc """
  The remote backend itself, against redis-server instances started here:
  options and URLs, AUTH/SELECT, reconnection, timeouts, pipelining,
  blocking commands and pub/sub sessions.
  """
  use ExUnit.Case, async: true

  @moduletag :single_run

  alias Ferrite.{ConnectionError, ResponseError, TestServer, TimeoutError}
  alias Ferrite.Remote.Options

  doctest Options
  doctest Ferrite.Remote

  setup_all do
    server = TestServer.start_redis()
    on_exit(fn -> TestServer.stop_redis(server) end)
    %{port: server.port}
  end

  defp conn(port, opts \\ []) do
    {:ok, c} = Ferrite.start_link([host: "127.0.0.1", port: port] ++ opts)
    c
  end

  describe "options" do
    test "URLs: user, password, host, port, database and TLS schemes" do
      assert Options.url("ferrite://alice:s%40cret@db.example:7000/3") ==
               {:ok,
                [
                  ssl: false,
                  host: "db.example",
                  port: 7000,
                  password: "s@cret",
                  username: "alice",
                  database: 3
                ]}

      assert Options.url("redis://localhost") ==
               {:ok, [ssl: false, host: "localhost", port: 6379]}

      assert {:ok, opts} = Options.url("rediss://:pw@h:1")
      assert opts[:ssl] == true and opts[:password] == "pw" and opts[:username] == nil
      assert {:ok, [ssl: true, host: "h", port: 2]} = Options.url("ferrites://h:2/")
      assert {:ok, opts} = Options.url("redis://bob@h:1")
      assert opts[:username] == "bob" and opts[:password] == nil

      for bad <- ["http://h:1", "redis://h:1/x", "redis://h:1/-1", "redis://h:1/1/2"] do
        assert {:error, %ConnectionError{message: "invalid url" <> _}} = Options.url(bad)
      end
    end

    test "the URL overrides host, port, password and database" do
      {:ok, o} = Options.validate(host: "a", port: 1, database: 1, url: "redis://:pw@b:2/5")
      assert {o.host, o.port, o.password, o.database, o.ssl} == {"b", 2, "pw", 5, false}
    end

    test "defaults follow the configuration reference" do
      {:ok, o} = Options.validate([])

      assert Map.take(o, [:host, :port, :timeout, :connect_timeout, :sync_connect, :ssl]) ==
               %{
                 host: "localhost",
                 port: 6380,
                 timeout: 5_000,
                 connect_timeout: 5_000,
                 sync_connect: true,
                 ssl: false
               }

      assert {o.backoff_initial, o.backoff_max, o.database} == {500, 30_000, 0}
    end

    test "invalid options are refused without starting a process" do
      for bad <- [
            [port: -1],
            [port: "x"],
            [database: -1],
            [timeout: 0],
            [password: 5],
            [backoff_initial: 100, backoff_max: 10],
            [sync_connect: :maybe],
            [url: "nope://x"]
          ] do
        assert {:error, %ConnectionError{}} = Ferrite.start_link(bad), inspect(bad)
      end
    end

    test "sync_connect: a refused connection is an error, or a background retry" do
      port = TestServer.free_port()
      assert {:error, %ConnectionError{message: msg}} = Ferrite.start_link(port: port)
      assert msg =~ "connect to localhost:#{port} failed"

      {:ok, c} = Ferrite.start_link(port: port, sync_connect: false, backoff_initial: 20)
      assert {:error, %ConnectionError{message: "not connected" <> _}} = Ferrite.get(c, "k")

      server = TestServer.start_redis(port: port)
      TestServer.wait_until(fn -> Ferrite.set(c, "k", "v") == :ok end)
      assert Ferrite.get(c, "k") == {:ok, "v"}
      TestServer.stop_redis(server)
    end
  end

  describe "commands" do
    test "typed functions, raw commands and pipelines have the embedded shapes", %{port: p} do
      c = conn(p, database: 1)
      on_exit(fn -> nil end)
      Ferrite.command!(c, ["FLUSHDB"])
      assert Ferrite.set(c, "k", "v") == :ok
      assert Ferrite.get(c, "k") == {:ok, "v"}
      assert Ferrite.get(c, "missing") == {:ok, nil}
      assert Ferrite.incr(c, "n") == {:ok, 1}
      assert Ferrite.incrbyfloat(c, "f", 1.5) == {:ok, 1.5}

      assert Ferrite.incr(c, "k") ==
               {:error, %ResponseError{message: "ERR value is not an integer or out of range"}}

      assert Ferrite.pipeline(c, [["SET", "a", 1], ["LPUSH", "a", "x"], ["MGET", "a", "zz"]]) ==
               {:ok,
                [
                  "OK",
                  %ResponseError{
                    message: "WRONGTYPE Operation against a key holding the wrong kind of value"
                  },
                  ["1", nil]
                ]}

      assert Ferrite.pipeline(c, []) == {:ok, []}

      assert Ferrite.command(c, ["EXEC"]) ==
               {:error, %ResponseError{message: "ERR EXEC without MULTI"}}
    end

    test "database: selects the db on connect; name: registers", %{port: p} do
      name = :"remote_#{System.unique_integer([:positive])}"
      c3 = conn(p, database: 3, name: name)
      assert Process.whereis(name) == c3
      Ferrite.command!(name, ["FLUSHDB"])
      assert Ferrite.set(name, "only-in-3", "x") == :ok
      c0 = conn(p)
      assert Ferrite.get(c0, "only-in-3") == {:ok, nil}
      assert Ferrite.command(c0, ["SELECT", "3"]) == {:ok, "OK"}
      assert Ferrite.get(c0, "only-in-3") == {:ok, "x"}
    end

    test "large values and replies cross many packets", %{port: p} do
      c = conn(p, database: 4)
      big = :crypto.strong_rand_bytes(3_000_000)
      assert Ferrite.set(c, "big", big) == :ok
      assert Ferrite.get(c, "big") == {:ok, big}
      Ferrite.command!(c, ["DEL", "l"])
      Ferrite.command!(c, ["RPUSH", "l" | Enum.map(1..20_000, &Integer.to_string/1)])
      {:ok, items} = Ferrite.command(c, ["LRANGE", "l", "0", "-1"])
      assert items == Enum.map(1..20_000, &Integer.to_string/1)
    end

    test "many concurrent callers pipeline on one conn, each gets its own replies", %{port: p} do
      c = conn(p, database: 5)

      1..40
      |> Enum.map(fn i ->
        Task.async(fn ->
          key = "key:#{i}"

          for j <- 1..150 do
            value = "#{i}-#{j}"
            assert Ferrite.set(c, key, value) == :ok
            assert Ferrite.get(c, key) == {:ok, value}

            assert Ferrite.pipeline(c, [["ECHO", value], ["INCR", "counter"]]) |> elem(1) |> hd() ==
                     value
          end
        end)
      end)
      |> Enum.each(&Task.await(&1, 30_000))

      assert Ferrite.get(c, "counter") == {:ok, "6000"}
    end
  end

  describe "timeouts" do
    # DEBUG SLEEP stalls the whole server: these tests get their own.
    setup do
      server = TestServer.start_redis()
      on_exit(fn -> TestServer.stop_redis(server) end)
      %{port: server.port}
    end

    test "a call past its timeout returns TimeoutError and later calls stay in step", %{port: p} do
      c = conn(p, timeout: 150)
      t0 = System.monotonic_time(:millisecond)
      assert {:error, %TimeoutError{}} = Ferrite.command(c, ["DEBUG", "SLEEP", "0.5"])
      assert System.monotonic_time(:millisecond) - t0 < 450
      # The late reply of DEBUG SLEEP is dropped, not handed to this call.
      assert Ferrite.Remote.command(c, ["ECHO", "after"], timeout: 2000) == {:ok, "after"}

      assert {:error, %TimeoutError{}} =
               Ferrite.Remote.command(c, ["DEBUG", "SLEEP", "0.3"], timeout: 50)

      assert Ferrite.Remote.command(c, ["DEBUG", "SLEEP", "0.1"], timeout: 1000) == {:ok, "OK"}
      refute_received _
    end

    test "blocking commands wait their own timeout on top of the call's", %{port: p} do
      # Redis serves blocking timeouts from a 10 Hz cron, so they may come
      # up to ~100 ms late: the call's own 300 ms cover that.
      c = conn(p, timeout: 300, database: 6)
      Ferrite.command!(c, ["DEL", "q"])
      t0 = System.monotonic_time(:millisecond)
      assert Ferrite.command(c, ["BLPOP", "q", "0.6"]) == {:ok, nil}
      assert System.monotonic_time(:millisecond) - t0 >= 550

      # Timeout 0 blocks for as long as it takes.
      pusher = conn(p, database: 6)

      Task.start(fn ->
        Process.sleep(300)
        Ferrite.command(pusher, ["RPUSH", "q", "item"])
      end)

      assert Ferrite.command(c, ["BLPOP", "q", "0"]) == {:ok, ["q", "item"]}
      assert Ferrite.command(c, ["XREAD", "BLOCK", "500", "STREAMS", "s", "$"]) == {:ok, nil}
    end

    test "a waiting BLPOP does not stall the conn's other callers", %{port: p} do
      c = conn(p, database: 7)
      Ferrite.command!(c, ["DEL", "q"])
      waiter = Task.async(fn -> Ferrite.command(c, ["BLPOP", "q", "0"]) end)

      TestServer.wait_until(fn ->
        Ferrite.command!(c, ["INFO", "clients"]) =~ "blocked_clients:1"
      end)

      assert Ferrite.Remote.command(c, ["ECHO", "free"], timeout: 200) == {:ok, "free"}
      assert Ferrite.command(c, ["RPUSH", "q", "x"]) == {:ok, 1}
      assert Task.await(waiter) == {:ok, ["q", "x"]}
      # Inside MULTI nothing blocks: the transaction stays on the conn.
      assert Ferrite.pipeline(c, [["MULTI"], ["BLPOP", "q", "0"], ["EXEC"]]) ==
               {:ok, ["OK", "QUEUED", [nil]]}
    end

    test "a call on a conn that stops returns ConnectionError", %{port: p} do
      c = conn(p)
      Process.unlink(c)
      task = Task.async(fn -> Ferrite.command(c, ["DEBUG", "SLEEP", "0.3"]) end)
      Process.sleep(50)
      Ferrite.stop(c)
      assert {:error, %ConnectionError{}} = Task.await(task)
      assert {:error, %ConnectionError{}} = Ferrite.get(c, "k")
    end
  end

  describe "AUTH and reconnection" do
    setup do
      server = TestServer.start_redis(args: ["--requirepass", "s3cret"])
      on_exit(fn -> if File.exists?(server.dir), do: TestServer.stop_redis(server) end)
      %{server: server}
    end

    test "password: is sent with AUTH; without it the server says NOAUTH", %{server: s} do
      c = conn(s.port)

      assert Ferrite.get(c, "k") ==
               {:error, %ResponseError{message: "NOAUTH Authentication required."}}

      assert {:error, %ResponseError{message: "WRONGPASS" <> _}} =
               Ferrite.start_link(port: s.port, password: "wrong")

      c = conn(s.port, password: "s3cret")
      assert Ferrite.set(c, "k", "v") == :ok

      {:ok, c} = Ferrite.start_link(url: "redis://default:s3cret@127.0.0.1:#{s.port}/2")
      assert Ferrite.get(c, "k") == {:ok, nil}
      assert Ferrite.set(c, "in2", "yes") == :ok
    end

    test "after a server restart the conn reconnects, with AUTH and SELECT again", %{server: s} do
      c = conn(s.port, password: "s3cret", database: 2, backoff_initial: 20, backoff_max: 100)
      assert Ferrite.set(c, "k", "v") == :ok
      {:ok, sub} = Ferrite.Remote.open_session(c)
      {:ok, _} = Ferrite.command(sub, ["SUBSCRIBE", "news"])

      TestServer.stop_redis(s)
      TestServer.wait_until(fn -> match?({:error, %ConnectionError{}}, Ferrite.get(c, "k")) end)

      s2 = TestServer.start_redis(port: s.port, args: ["--requirepass", "s3cret"])
      on_exit(fn -> TestServer.stop_redis(s2) end)
      TestServer.wait_until(fn -> Ferrite.set(c, "k", "again") == :ok end)
      assert Ferrite.command(c, ["CLIENT", "INFO"]) |> elem(1) =~ " db=2 "

      # The pub/sub session subscribed again.
      TestServer.wait_until(fn -> Ferrite.command(c, ["PUBLISH", "news", "back"]) == {:ok, 1} end)
      assert_receive {:ferrite_push, ["message", "news", "back"]}
    end
  end

  describe "TLS" do
    test "ssl: with a verified certificate, and rediss:// URLs" do
      server = TestServer.start_redis(tls: true)
      on_exit(fn -> TestServer.stop_redis(server) end)
      cacert = Path.join(server.dir, "ca.pem")

      {:ok, c} =
        Ferrite.start_link(
          host: "localhost",
          port: server.port,
          ssl: true,
          ssl_opts: [verify: :verify_peer, cacertfile: cacert]
        )

      assert Ferrite.set(c, "k", "over tls") == :ok
      assert Ferrite.get(c, "k") == {:ok, "over tls"}

      {:ok, c2} =
        Ferrite.start_link(
          url: "rediss://localhost:#{server.port}/1",
          ssl_opts: [verify: :verify_peer, cacertfile: cacert]
        )

      assert Ferrite.get(c2, "k") == {:ok, nil}
      assert Ferrite.command(c2, ["SELECT", "0"]) == {:ok, "OK"}
      assert Ferrite.get(c2, "k") == {:ok, "over tls"}

      # Plain TCP to a TLS port: the server hangs up on the first command.
      {:ok, plain} = Ferrite.start_link(port: server.port)
      assert {:error, %ConnectionError{}} = Ferrite.get(plain, "k")
    end
  end

  describe "pub/sub sessions" do
    test "subscribe, messages, patterns, unsubscribe", %{port: p} do
      c = conn(p)
      {:ok, s} = Ferrite.Remote.open_session(c)

      assert Ferrite.command(s, ["SUBSCRIBE", "a", "b"]) ==
               {:ok, [["subscribe", "a", 1], ["subscribe", "b", 2]]}

      assert Ferrite.command(s, ["PSUBSCRIBE", "n.*"]) == {:ok, [["psubscribe", "n.*", 3]]}
      assert Ferrite.command(c, ["PUBLISH", "a", "hi"]) == {:ok, 1}
      assert Ferrite.command(c, ["PUBLISH", "n.x", "there"]) == {:ok, 1}
      assert_receive {:ferrite_push, ["message", "a", "hi"]}
      assert_receive {:ferrite_push, ["pmessage", "n.*", "n.x", "there"]}

      # A list reply shaped like a message is still a reply off pub/sub mode.
      Ferrite.command!(c, ["DEL", "l"])
      Ferrite.command!(c, ["RPUSH", "l", "message", "x", "y"])
      assert Ferrite.command(c, ["LRANGE", "l", "0", "-1"]) == {:ok, ["message", "x", "y"]}

      {:ok, confs} = Ferrite.command(s, ["UNSUBSCRIBE"])

      assert confs |> Enum.map(&Enum.take(&1, 2)) |> Enum.sort() == [
               ["unsubscribe", "a"],
               ["unsubscribe", "b"]
             ]

      assert Enum.map(confs, &List.last/1) == [2, 1]
      assert Ferrite.command(s, ["PUNSUBSCRIBE"]) == {:ok, [["punsubscribe", "n.*", 0]]}
      assert Ferrite.command(s, ["UNSUBSCRIBE"]) == {:ok, [["unsubscribe", nil, 0]]}
      assert Ferrite.command(s, ["PING"]) == {:ok, "PONG"}
      assert Ferrite.command(c, ["PUBLISH", "a", "nobody"]) == {:ok, 0}
    end

    test "a session stops with its owner and is not the shared conn", %{port: p} do
      c = conn(p)
      owner = spawn(fn -> Process.sleep(:infinity) end)
      {:ok, s} = Ferrite.Remote.open_session(c, owner)
      assert s != c
      ref = Process.monitor(s)
      Process.exit(owner, :kill)
      assert_receive {:DOWN, ^ref, :process, ^s, :normal}
      assert Ferrite.get(c, "x") == {:ok, nil}
      assert {:error, %ConnectionError{}} = Ferrite.Remote.open_session(:no_such_conn)
    end
  end
end
