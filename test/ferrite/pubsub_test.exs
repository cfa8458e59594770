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

  defp wait_until(fun, tries \\ 100) do
    cond do
      fun.() -> :ok
      tries == 0 -> flunk("condition never became true")
      true -> Process.sleep(10) && wait_until(fun, tries - 1)
    end
  end
end
