defmodule Ferrite.RemoteSelectTest do
  @moduledoc """
  The remote backend keeps the database a `SELECT` (sent through
  `Ferrite.command/2` or a pipeline) chose across reconnections, and
  `RESET` takes it back to 0. The server connection is killed with
  `CLIENT KILL` from another connection.
  """
  use ExUnit.Case, async: true

  @moduletag :single_run

  alias Ferrite.{ResponseError, TestServer}

  setup_all do
    server = TestServer.start_redis()
    on_exit(fn -> TestServer.stop_redis(server) end)
    %{port: server.port}
  end

  defp conn(port, opts \\ []) do
    opts = [host: "127.0.0.1", port: port, backoff_initial: 20, backoff_max: 100] ++ opts
    {:ok, c} = Ferrite.start_link(opts)
    c
  end

  # Kills `c`'s server connection from `admin` and waits until `c` is
  # connected again (a new client id).
  defp kill_and_wait(c, admin) do
    {:ok, id} = Ferrite.command(c, ["CLIENT", "ID"])
    assert Ferrite.command(admin, ["CLIENT", "KILL", "ID", id]) == {:ok, 1}

    TestServer.wait_until(fn ->
      match?({:ok, new} when new != id, Ferrite.command(c, ["CLIENT", "ID"]))
    end)
  end

  defp db_of(c) do
    {:ok, info} = Ferrite.command(c, ["CLIENT", "INFO"])
    [_, db] = Regex.run(~r/ db=(\d+) /, info)
    String.to_integer(db)
  end

  test "a SELECT survives a reconnection", %{port: p} do
    c = conn(p)
    admin = conn(p)
    assert Ferrite.command(c, ["SELECT", "3"]) == {:ok, "OK"}
    :ok = Ferrite.set(c, "where", "db3")
    kill_and_wait(c, admin)
    assert db_of(c) == 3
    assert Ferrite.get(c, "where") == {:ok, "db3"}
  end

  test "a SELECT in a pipeline, an integer argument, and a refused SELECT", %{port: p} do
    c = conn(p, database: 1)
    admin = conn(p)
    assert Ferrite.pipeline(c, [["SELECT", 4], ["SET", "k", "in4"]]) == {:ok, ["OK", "OK"]}

    assert Ferrite.command(c, ["SELECT", "99"]) ==
             {:error, %ResponseError{message: "ERR DB index is out of range"}}

    kill_and_wait(c, admin)
    assert db_of(c) == 4
    assert Ferrite.get(c, "k") == {:ok, "in4"}
  end

  test "RESET goes back to db 0 for later reconnections", %{port: p} do
    c = conn(p, database: 2)
    admin = conn(p)
    assert Ferrite.command(c, ["RESET"]) == {:ok, "RESET"}
    assert db_of(c) == 0
    kill_and_wait(c, admin)
    assert db_of(c) == 0
  end

  test "without a SELECT, the database: option is kept", %{port: p} do
    c = conn(p, database: 5)
    admin = conn(p)
    kill_and_wait(c, admin)
    assert db_of(c) == 5
  end

  test "shard channel subscriptions come back after a reconnection", %{port: p} do
    c = conn(p)
    {:ok, sub} = Ferrite.Remote.open_session(c)

    assert Ferrite.command(sub, ["SSUBSCRIBE", "s1", "s2"]) ==
             {:ok, [["ssubscribe", "s1", 1], ["ssubscribe", "s2", 2]]}

    assert Ferrite.spublish(c, "s1", "before") == {:ok, 1}
    assert_receive {:ferrite_push, ["smessage", "s1", "before"]}
    {:ok, killed} = Ferrite.command(c, ["CLIENT", "KILL", "TYPE", "pubsub"])
    assert killed >= 1
    TestServer.wait_until(fn -> Ferrite.spublish(c, "s2", "after") == {:ok, 1} end)
    assert_receive {:ferrite_push, ["smessage", "s2", "after"]}
    assert Ferrite.command(sub, ["SUNSUBSCRIBE", "s1"]) == {:ok, [["sunsubscribe", "s1", 1]]}
    assert Ferrite.command(sub, ["SUNSUBSCRIBE"]) == {:ok, [["sunsubscribe", "s2", 0]]}
    assert Ferrite.command(sub, ["PING"]) == {:ok, "PONG"}
  end
end
