defmodule Ferrite.ConnTest do
  @moduledoc "Conns: opening, naming, sharing, closing, pipelines and scheduling paths."
  use ExUnit.Case, async: true

  # Embedded conns themselves: not part of the API suite's remote runs.
  @moduletag :single_run

  alias Ferrite.{ConnectionError, Embedded, ResponseError}

  defp unique_name, do: :"ferrite_test_#{System.unique_integer([:positive])}"

  test "start_link returns a pid and each conn is its own database" do
    {:ok, a} = Ferrite.start_link(embedded: true)
    {:ok, b} = Ferrite.start_link(embedded: true)
    assert is_pid(a) and is_pid(b)
    assert Ferrite.set(a, "k", "a") == :ok
    assert Ferrite.get(b, "k") == {:ok, nil}
  end

  test "name: registers the conn" do
    name = unique_name()
    {:ok, pid} = Ferrite.start_link(embedded: true, name: name)
    assert Process.whereis(name) == pid
    assert Ferrite.set(name, "k", "v") == :ok
    assert Ferrite.get(pid, "k") == {:ok, "v"}
    assert Ferrite.pipeline(name, [["GET", "k"]]) == {:ok, ["v"]}
  end

  test "database: selects the db" do
    store = unique_name()
    {:ok, db0} = Ferrite.start_link(embedded: [name: store])
    {:ok, db3} = Ferrite.start_link(embedded: [name: store], database: 3)
    assert Ferrite.set(db3, "k", "three") == :ok
    assert Ferrite.get(db0, "k") == {:ok, nil}
    assert Ferrite.command(db0, ["SELECT", "3"]) == {:ok, "OK"}
    assert Ferrite.get(db0, "k") == {:ok, "three"}
  end

  test "invalid options are refused without starting a process" do
    assert {:error, %ConnectionError{}} = Ferrite.start_link(embedded: true, database: 16)
    assert {:error, %ConnectionError{}} = Ferrite.start_link(embedded: true, database: -1)
    assert {:error, %ConnectionError{}} = Ferrite.start_link(embedded: [name: {:bad}])
    assert {:error, %ConnectionError{}} = Ferrite.start_link(embedded: :bogus)
  end

  test "without embedded:, the remote backend is used" do
    assert {:error, %ConnectionError{}} = Ferrite.start_link(host: "localhost", port: 1)
  end

  test "a named store is shared, and closed with its last conn" do
    store = unique_name()
    {:ok, a} = Ferrite.start_link(embedded: [name: store])
    {:ok, b} = Ferrite.start_link(embedded: [name: Atom.to_string(store)])
    assert Embedded.store_conns(store) == 2
    assert Ferrite.set(a, "shared", "yes") == :ok
    assert Ferrite.get(b, "shared") == {:ok, "yes"}

    :ok = Ferrite.stop(a)
    assert Embedded.store_conns(store) == 1
    assert Ferrite.get(b, "shared") == {:ok, "yes"}

    :ok = Ferrite.stop(b)
    assert Embedded.store_conns(store) == 0

    # Reopening starts from an empty store.
    {:ok, c} = Ferrite.start_link(embedded: [name: store])
    assert Ferrite.get(c, "shared") == {:ok, nil}
  end

  test "a call on a stopped conn is a ConnectionError, never a crash" do
    {:ok, c} = Ferrite.start_link(embedded: true)
    assert Ferrite.set(c, "k", "v") == :ok
    :ok = Ferrite.stop(c)
    assert {:error, %ConnectionError{message: msg}} = Ferrite.get(c, "k")
    assert msg =~ "no open connection"
    assert {:error, %ConnectionError{}} = Ferrite.pipeline(c, [["GET", "k"]])
    assert {:error, %ConnectionError{}} = Embedded.fast_forward(c, 10)
    assert_raise ConnectionError, fn -> Ferrite.command!(c, ["GET", "k"]) end
  end

  test "an unknown pid or name is a ConnectionError" do
    assert {:error, %ConnectionError{}} = Ferrite.get(self(), "k")
    assert {:error, %ConnectionError{}} = Ferrite.get(:no_such_conn, "k")
    assert {:error, %ConnectionError{}} = Ferrite.command(make_ref(), ["PING"])
  end

  test "a conn whose process is killed is closed" do
    {:ok, c} = Ferrite.start_link(embedded: true)
    Process.unlink(c)
    ref = Process.monitor(c)
    Process.exit(c, :kill)
    assert_receive {:DOWN, ^ref, :process, ^c, :killed}
    assert {:error, %ConnectionError{}} = Ferrite.get(c, "k")
  end

  test "the conn stops when its linked owner exits" do
    test = self()

    owner =
      spawn(fn ->
        {:ok, c} = Ferrite.start_link(embedded: true)
        send(test, {:conn, c})
        Process.sleep(:infinity)
      end)

    assert_receive {:conn, c}
    ref = Process.monitor(c)
    Process.exit(owner, :shutdown)
    assert_receive {:DOWN, ^ref, :process, ^c, _}
    assert {:error, %ConnectionError{}} = Ferrite.get(c, "k")
  end

  test "supervisable through child_spec" do
    name = unique_name()

    {:ok, sup} =
      Supervisor.start_link([{Ferrite, embedded: true, name: name}], strategy: :one_for_one)

    assert Ferrite.set(name, "k", "v") == :ok
    [{^name, pid, :worker, _}] = Supervisor.which_children(sup)
    assert Process.whereis(name) == pid
    # A crash restarts the conn with a fresh private database.
    Process.exit(pid, :kill)
    wait_until(fn -> Process.whereis(name) not in [nil, pid] end)
    assert Ferrite.get(name, "k") == {:ok, nil}
    Supervisor.stop(sup)
  end

  defp wait_until(fun, tries \\ 100) do
    cond do
      fun.() -> :ok
      tries == 0 -> flunk("condition not reached")
      true -> Process.sleep(10) && wait_until(fun, tries - 1)
    end
  end

  test "calls run in the caller's process, concurrently" do
    {:ok, c} = Ferrite.start_link(embedded: true)

    1..8
    |> Enum.map(fn i ->
      Task.async(fn ->
        for j <- 1..500 do
          {:ok, _} = Ferrite.incr(c, "counter")
          :ok = Ferrite.set(c, "k#{i}:#{j}", "v")
        end
      end)
    end)
    |> Task.await_many(30_000)

    assert Ferrite.get(c, "counter") == {:ok, "4000"}
    assert Ferrite.dbsize(c) == {:ok, 4001}
  end

  describe "pipeline" do
    setup do
      {:ok, c} = Ferrite.start_link(embedded: true)
      %{c: c}
    end

    test "SDK example", %{c: c} do
      assert Ferrite.pipeline(c, [
               ["SET", "key1", "value1"],
               ["SET", "key2", "value2"],
               ["GET", "key1"],
               ["GET", "key2"]
             ]) == {:ok, ["OK", "OK", "value1", "value2"]}
    end

    test "errors are inline structs and the pipeline goes on", %{c: c} do
      assert Ferrite.pipeline(c, [["SET", "a", "x"], ["INCR", "a"], ["NOPE"], ["GET", "a"]]) ==
               {:ok,
                [
                  "OK",
                  %ResponseError{message: "ERR value is not an integer or out of range"},
                  %ResponseError{
                    message: "ERR unknown command 'NOPE', with args beginning with: "
                  },
                  "x"
                ]}
    end

    test "empty pipeline", %{c: c} do
      assert Ferrite.pipeline(c, []) == {:ok, []}
    end

    test "arguments are converted", %{c: c} do
      assert Ferrite.pipeline(c, [["SET", :n, 41], ["INCRBY", "n", 1], ["INCRBYFLOAT", "n", 0.5]]) ==
               {:ok, ["OK", 42, "42.5"]}
    end

    test "long pipelines and large inputs run on a dirty scheduler", %{c: c} do
      cmds = for i <- 1..1000, do: ["SET", "k#{i}", i]
      {:ok, replies} = Ferrite.pipeline(c, cmds)
      assert replies == List.duplicate("OK", 1000)
      big = :binary.copy("x", 100_000)

      assert Ferrite.pipeline(c, [["SET", "big", big], ["STRLEN", "big"]]) ==
               {:ok, ["OK", 100_000]}

      assert Ferrite.dbsize(c) == {:ok, 1001}
    end

    test "pipeline! raises only for connection errors", %{c: c} do
      assert Ferrite.pipeline!(c, [["INCR", "n"], ["INCR", "n"]]) == [1, 2]
      :ok = Ferrite.stop(c)
      assert_raise ConnectionError, fn -> Ferrite.pipeline!(c, [["PING"]]) end
    end

    test "malformed input raises ArgumentError", %{c: c} do
      assert_raise ArgumentError, fn -> Ferrite.pipeline(c, :nope) end
      assert_raise ArgumentError, fn -> Ferrite.pipeline(c, [["GET", nil]]) end
      assert_raise ArgumentError, fn -> Ferrite.pipeline(c, ["GET k"]) end
    end
  end

  describe "replies as terms" do
    setup do
      {:ok, c} = Ferrite.start_link(embedded: true)
      %{c: c}
    end

    test "status, integer, nil, bulk and array", %{c: c} do
      assert Ferrite.command(c, ["PING"]) == {:ok, "PONG"}
      assert Ferrite.command(c, ["ECHO", "hi"]) == {:ok, "hi"}
      assert Ferrite.command(c, ["EXISTS", "nope"]) == {:ok, 0}
      assert Ferrite.command(c, ["GET", "nope"]) == {:ok, nil}
      assert Ferrite.command(c, ["MGET", "a", "b"]) == {:ok, [nil, nil]}
    end

    test "an empty command is an error", %{c: c} do
      assert {:error, %ResponseError{}} = Ferrite.command(c, [])
    end
  end

  describe "other backends" do
    defmodule FakeBackend do
      @behaviour Ferrite.Backend
      @impl true
      def command(_pid, argv, _opts), do: {:ok, {:fake, argv}}
      @impl true
      def pipeline(_pid, cmds, _opts), do: {:ok, Enum.map(cmds, &{:fake, &1})}
    end

    test "a registered backend process serves calls the NIF does not know" do
      test = self()

      pid =
        spawn(fn ->
          :ok = Ferrite.Backend.register(self(), FakeBackend)
          send(test, :registered)
          Process.sleep(:infinity)
        end)

      assert_receive :registered
      assert Ferrite.command(pid, ["GET", :k]) == {:ok, {:fake, ["GET", "k"]}}
      assert Ferrite.get(pid, "k") == {:ok, {:fake, ["GET", "k"]}}
      assert Ferrite.pipeline(pid, [["PING", 1]]) == {:ok, [{:fake, ["PING", "1"]}]}
      Process.exit(pid, :kill)
      wait_until(fn -> Ferrite.Backend.lookup(pid) == nil end)
      assert {:error, %ConnectionError{}} = Ferrite.get(pid, "k")
    end
  end

  describe "out-of-band results (blocking commands)" do
    setup do
      store = :"blocking_#{System.unique_integer([:positive])}"
      {:ok, a} = Ferrite.start_link(embedded: [name: store])
      {:ok, b} = Ferrite.start_link(embedded: [name: store])
      %{a: a, b: b}
    end

    test "a result served by another conn's command reaches the blocked caller", %{a: a, b: b} do
      task = Task.async(fn -> Ferrite.command(a, ["BLPOP", "queue", "5"]) end)
      wait_until(fn -> Ferrite.command(b, ["INFO", "clients"]) |> blocked_clients() == 1 end)
      assert Ferrite.command(b, ["RPUSH", "queue", "x"]) == {:ok, 1}
      assert Task.await(task) == {:ok, ["queue", "x"]}
    end

    test "a timeout is sent from the engine's thread", %{a: a} do
      t0 = System.monotonic_time(:millisecond)
      assert Ferrite.command(a, ["BLPOP", "queue", "0.2"]) == {:ok, nil}
      assert System.monotonic_time(:millisecond) - t0 >= 190
    end

    test "a blocking command inside a pipeline is waited for", %{a: a, b: b} do
      task =
        Task.async(fn -> Ferrite.pipeline(a, [["PING"], ["BLPOP", "pq", "5"], ["ECHO", "x"]]) end)

      wait_until(fn -> Ferrite.command(b, ["INFO", "clients"]) |> blocked_clients() == 1 end)
      assert Ferrite.command(b, ["RPUSH", "pq", "v"]) == {:ok, 1}
      assert Task.await(task) == {:ok, ["PONG", ["pq", "v"], "x"]}
    end

    test "two processes blocked on one shared conn each get their own result", %{a: a, b: b} do
      t1 = Task.async(fn -> Ferrite.command(a, ["BLPOP", "q1", "5"]) end)
      wait_until(fn -> Ferrite.command(b, ["INFO", "clients"]) |> blocked_clients() == 1 end)
      t2 = Task.async(fn -> Ferrite.command(a, ["BLPOP", "q2", "5"]) end)
      wait_until(fn -> Ferrite.command(b, ["INFO", "clients"]) |> blocked_clients() == 2 end)
      assert Ferrite.command(b, ["RPUSH", "q2", "two"]) == {:ok, 1}
      assert Ferrite.command(b, ["RPUSH", "q1", "one"]) == {:ok, 1}
      assert Task.await(t1) == {:ok, ["q1", "one"]}
      assert Task.await(t2) == {:ok, ["q2", "two"]}
    end
  end

  defp blocked_clients({:ok, info}) do
    [_, n] = Regex.run(~r/blocked_clients:(\d+)/, info)
    String.to_integer(n)
  end
end
