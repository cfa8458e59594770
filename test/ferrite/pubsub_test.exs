defmodule Ferrite.PubSubTest do
  use ExUnit.Case, async: true

  setup context do
    {:ok, conn} = Ferrite.TestConn.open(context)
    %{conn: conn}
  end

  defmodule Events do
    use Ferrite.PubSub

    def start_link(opts), do: Ferrite.PubSub.start_link(__MODULE__, opts)

    @impl true
    def init(opts),
      do: {:ok, opts, subscribe: ["events", "notifications"], psubscribe: ["news.*"]}

    @impl true
    def handle_message(channel, message, opts) do
      send(opts[:test], {:message, channel, message})
      {:noreply, opts}
    end

    @impl true
    def handle_pmessage(pattern, channel, message, opts) do
      send(opts[:test], {:pmessage, pattern, channel, message})
      {:noreply, opts}
    end
  end

  test "publish with no subscriber", %{conn: c} do
    assert Ferrite.publish(c, "nobody", "x") == {:ok, 0}
  end

  test "subscribe with a callback", %{conn: c} do
    test = self()
    {:ok, sub} = Ferrite.subscribe(c, ["events", "notifications"], &send(test, {:cb, &1}))
    assert_receive {:cb, {:subscribe, "events", 1}}
    assert_receive {:cb, {:subscribe, "notifications", 2}}

    assert Ferrite.publish(c, "events", "Hello, subscribers!") == {:ok, 1}
    assert_receive {:cb, {:message, "events", "Hello, subscribers!"}}

    assert Ferrite.unsubscribe(sub, ["events"]) == :ok
    assert_receive {:cb, {:unsubscribe, "events", 1}}
    assert Ferrite.publish(c, "events", "gone") == {:ok, 0}
    assert Ferrite.publish(c, "notifications", "still") == {:ok, 1}
    assert_receive {:cb, {:message, "notifications", "still"}}

    ref = Process.monitor(sub)
    assert Ferrite.unsubscribe(sub, []) == :ok
    assert_receive {:DOWN, ^ref, :process, ^sub, :normal}
  end

  test "a dead subscriber is dropped", %{conn: c} do
    test = self()
    {:ok, sub} = Ferrite.subscribe(c, ["ch"], &send(test, {:cb, &1}))
    assert_receive {:cb, {:subscribe, "ch", 1}}
    ref = Process.monitor(sub)
    Process.exit(sub, :kill)
    assert_receive {:DOWN, ^ref, :process, ^sub, :killed}
    # A remote server drops the subscriber when it sees the hang-up.
    wait_until(fn -> Ferrite.publish(c, "ch", "x") == {:ok, 0} end)
    assert Ferrite.command(c, ["PUBSUB", "NUMSUB", "ch"]) == {:ok, ["ch", 0]}
  end

  test "the subscriber stops with its caller", %{conn: c} do
    test = self()

    {caller, cref} =
      spawn_monitor(fn ->
        {:ok, sub} = Ferrite.subscribe(c, ["ch"], fn _ -> :ok end)
        send(test, {:sub, sub})
      end)

    assert_receive {:sub, sub}, 1000
    assert_receive {:DOWN, ^cref, :process, ^caller, :normal}
    ref = Process.monitor(sub)
    assert_receive {:DOWN, ^ref, :process, ^sub, _}
    wait_until(fn -> Ferrite.publish(c, "ch", "x") == {:ok, 0} end)
  end

  test "use Ferrite.PubSub under a supervisor", %{conn: c} do
    children = [{Events, conn: c, test: self()}]
    {:ok, sup} = Supervisor.start_link(children, strategy: :one_for_one)

    assert Ferrite.publish(c, "events", "e1") == {:ok, 1}
    assert_receive {:message, "events", "e1"}
    assert Ferrite.publish(c, "news.tech", "n1") == {:ok, 1}
    assert_receive {:pmessage, "news.*", "news.tech", "n1"}

    # Restarted by its supervisor, it subscribes again.
    [{Events, pid, :worker, _}] = Supervisor.which_children(sup)
    ref = Process.monitor(pid)
    Process.exit(pid, :kill)
    assert_receive {:DOWN, ^ref, :process, ^pid, :killed}

    wait_until(fn ->
      match?([{_, p, _, _}] when is_pid(p) and p != pid, Supervisor.which_children(sup))
    end)

    wait_until(fn -> Ferrite.publish(c, "events", "e2") == {:ok, 1} end)
    assert_receive {:message, "events", "e2"}
    Supervisor.stop(sup)
  end

  test "keyspace notifications reach subscribers", %{conn: c} do
    {:ok, "OK"} = Ferrite.command(c, ["CONFIG", "SET", "notify-keyspace-events", "KE$"])
    test = self()
    {:ok, _sub} = Ferrite.subscribe(c, ["__keyevent@0__:set"], &send(test, {:cb, &1}))
    assert_receive {:cb, {:subscribe, _, 1}}
    :ok = Ferrite.set(c, "watched", "v")
    assert_receive {:cb, {:message, "__keyevent@0__:set", "watched"}}
  end

  test "a thousand subscribers each get the message", %{conn: c} do
    test = self()

    subs =
      for i <- 1..1000 do
        {:ok, sub} =
          Ferrite.subscribe(c, ["fan"], fn
            {:message, _, m} -> send(test, {:got, i, m})
            _ -> :ok
          end)

        sub
      end

    assert Ferrite.publish(c, "fan", "hi") == {:ok, 1000}
    for i <- 1..1000, do: assert_receive({:got, ^i, "hi"}, 5000)
    Enum.each(subs, &Ferrite.unsubscribe(&1, []))
  end

  defmodule Shards do
    use Ferrite.PubSub

    def start_link(opts), do: Ferrite.PubSub.start_link(__MODULE__, opts)

    @impl true
    def init(opts), do: {:ok, opts, ssubscribe: ["orders", "users"], subscribe: ["orders"]}

    @impl true
    def handle_message(channel, message, opts) do
      send(opts[:test], {:message, channel, message})
      {:noreply, opts}
    end

    @impl true
    def handle_smessage(channel, message, opts) do
      send(opts[:test], {:smessage, channel, message})
      {:noreply, opts}
    end

    @impl true
    def handle_subscription(event, opts) do
      send(opts[:test], {:confirmed, event})
      {:noreply, opts}
    end
  end

  test "sharded pub/sub: ssubscribe, spublish, sunsubscribe", %{conn: c} do
    {:ok, sub} = Shards.start_link(conn: c, test: self())
    assert_receive {:confirmed, {:ssubscribe, "orders", 1}}
    assert_receive {:confirmed, {:ssubscribe, "users", 2}}
    # Channels are counted apart from shard channels.
    assert_receive {:confirmed, {:subscribe, "orders", 1}}

    assert Ferrite.spublish(c, "orders", "o1") == {:ok, 1}
    assert_receive {:smessage, "orders", "o1"}
    # PUBLISH and SPUBLISH are separate namespaces.
    assert Ferrite.publish(c, "orders", "p1") == {:ok, 1}
    assert_receive {:message, "orders", "p1"}
    refute_received {:smessage, "orders", "p1"}
    assert Ferrite.spublish(c, "nobody", "x") == {:ok, 0}

    assert Ferrite.command(c, ["PUBSUB", "SHARDNUMSUB", "orders", "none"]) ==
             {:ok, ["orders", 1, "none", 0]}

    {:ok, shards} = Ferrite.command(c, ["PUBSUB", "SHARDCHANNELS"])
    assert Enum.sort(shards) == ["orders", "users"]
    assert Ferrite.command(c, ["PUBSUB", "SHARDCHANNELS", "u*"]) == {:ok, ["users"]}
    assert Ferrite.command(c, ["PUBSUB", "CHANNELS"]) == {:ok, ["orders"]}

    assert Ferrite.PubSub.sunsubscribe(sub, ["users"]) == :ok
    assert_receive {:confirmed, {:sunsubscribe, "users", 1}}
    assert Ferrite.spublish(c, "users", "u1") == {:ok, 0}
    assert Ferrite.PubSub.ssubscribe(sub, ["more"]) == :ok
    assert_receive {:confirmed, {:ssubscribe, "more", 2}}
    assert Ferrite.spublish(c, "more", "m1") == {:ok, 1}
    assert_receive {:smessage, "more", "m1"}
    assert Ferrite.PubSub.sunsubscribe(sub, []) == :ok
    assert_receive {:confirmed, {:sunsubscribe, _, 0}}
    assert Ferrite.spublish(c, "orders", "gone") == {:ok, 0}
    assert Ferrite.command(c, ["PUBSUB", "SHARDCHANNELS"]) == {:ok, []}
    # The plain subscription is untouched.
    assert Ferrite.publish(c, "orders", "p2") == {:ok, 1}
    assert_receive {:message, "orders", "p2"}
    GenServer.stop(sub)
  end

  test "a callback subscriber can take shard channels too", %{conn: c} do
    test = self()
    {:ok, sub} = Ferrite.subscribe(c, ["plain"], &send(test, {:cb, &1}))
    assert_receive {:cb, {:subscribe, "plain", 1}}
    assert Ferrite.PubSub.ssubscribe(sub, ["s1"]) == :ok
    assert_receive {:cb, {:ssubscribe, "s1", 1}}
    assert Ferrite.spublish(c, "s1", "hi") == {:ok, 1}
    assert_receive {:cb, {:smessage, "s1", "hi"}}
    # Leaving the plain channels does not stop it while it has a shard one.
    assert Ferrite.unsubscribe(sub, []) == :ok
    assert_receive {:cb, {:unsubscribe, "plain", 0}}
    assert Process.alive?(sub)
    ref = Process.monitor(sub)
    assert Ferrite.PubSub.sunsubscribe(sub, []) == :ok
    assert_receive {:DOWN, ^ref, :process, ^sub, :normal}
  end

  test "SPUBLISH arity error", %{conn: c} do
    assert {:error,
            %Ferrite.ResponseError{
              message: "ERR wrong number of arguments for 'spublish' command"
            }} = Ferrite.command(c, ["SPUBLISH", "x"])
  end

  defp wait_until(fun, tries \\ 100) do
    cond do
      fun.() -> :ok
      tries == 0 -> flunk("condition never became true")
      true -> Process.sleep(10) && wait_until(fun, tries - 1)
    end
  end
end
