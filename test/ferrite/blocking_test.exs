defmodule Ferrite.BlockingTest do
  # Blocking commands on the embedded backend: the engine registers the
  # caller as a waiter and sends it the result; the caller waits in
  # `receive` (Ferrite.Embedded.Blocking).
  use ExUnit.Case, async: true

  alias Ferrite.Embedded
  alias Ferrite.Embedded.Blocking

  setup context do
    {:ok, conn} = Ferrite.TestConn.open(context)
    %{c: conn}
  end

  defp blocked_clients(c) do
    {:ok, info} = Ferrite.command(c, ["INFO", "clients"])
    [_, n] = Regex.run(~r/blocked_clients:(\d+)/, info)
    String.to_integer(n)
  end

  # Waits (without a fixed sleep) until `n` clients are blocked.
  defp wait_blocked(c, n, tries \\ 2000) do
    cond do
      blocked_clients(c) == n ->
        :ok

      tries == 0 ->
        flunk("expected #{n} blocked clients, have #{blocked_clients(c)}")

      true ->
        Process.sleep(1)
        wait_blocked(c, n, tries - 1)
    end
  end

  # Starts a process blocked in `fun` and waits until it is registered.
  defp blocked_task(c, fun) do
    n = blocked_clients(c)
    task = Task.async(fun)
    wait_blocked(c, n + 1)
    task
  end

  describe "served when data arrives" do
    test "blpop, brpop and blmove wake up with the pushed element", %{c: c} do
      t = blocked_task(c, fn -> Ferrite.blpop(c, "q", 0) end)
      assert {:ok, 1} = Ferrite.rpush(c, "q", "v1")
      assert Task.await(t) == {:ok, {"q", "v1"}}
      assert Ferrite.exists(c, ["q"]) == {:ok, 0}

      t = blocked_task(c, fn -> Ferrite.brpop(c, ["a", "b"], 10) end)
      # The push replies with the length the list had before the waiter was
      # served, as in Redis.
      assert Ferrite.rpush(c, "b", ["x", "y"]) == {:ok, 2}
      assert Task.await(t) == {:ok, {"b", "y"}}
      assert Ferrite.lrange(c, "b", 0, -1) == {:ok, ["x"]}

      t = blocked_task(c, fn -> Ferrite.blmove(c, "src", "dst", :left, :right, 0) end)
      {:ok, 1} = Ferrite.lpush(c, "src", "m")
      assert Task.await(t) == {:ok, "m"}
      assert Ferrite.lrange(c, "dst", 0, -1) == {:ok, ["m"]}
      assert Ferrite.exists(c, ["src"]) == {:ok, 0}
      assert blocked_clients(c) == 0
    end

    test "a waiter on several keys is served from the one that gets data", %{c: c} do
      t = blocked_task(c, fn -> Ferrite.blpop(c, ["k1", "k2", "k3"], 0) end)
      {:ok, 1} = Ferrite.rpush(c, "k3", "from3")
      assert Task.await(t) == {:ok, {"k3", "from3"}}
    end

    test "a push inside a pipeline serves a waiter", %{c: c} do
      t = blocked_task(c, fn -> Ferrite.blpop(c, "q", 0) end)
      # The waiter is served right after the RPUSH, before the LLEN.
      assert Ferrite.pipeline(c, [["RPUSH", "q", "v"], ["LLEN", "q"]]) == {:ok, [1, 0]}
      assert Task.await(t) == {:ok, {"q", "v"}}
    end

    test "a blocking command in a pipeline is awaited", %{c: c} do
      me = self()

      t =
        Task.async(fn ->
          send(me, :started)
          Ferrite.pipeline(c, [["SET", "a", "1"], ["BLPOP", "q", "0"], ["GET", "a"]])
        end)

      assert_receive :started
      wait_blocked(c, 1)
      {:ok, 1} = Ferrite.rpush(c, "q", "late")
      assert Task.await(t) == {:ok, ["OK", ["q", "late"], "1"]}
    end

    @tag :engine_only
    test "blocking from a conn given by its registered name", %{c: _} do
      name = :"blocking_named_#{System.unique_integer([:positive])}"
      {:ok, _} = Ferrite.start_link(embedded: true, name: name)
      t = blocked_task(name, fn -> Ferrite.blpop(name, "q", 0) end)
      {:ok, 1} = Ferrite.rpush(name, "q", "v")
      assert Task.await(t) == {:ok, {"q", "v"}}
    end
  end

  describe "FIFO" do
    test "several processes waiting on one key are served in arrival order", %{c: c} do
      tasks =
        for i <- 1..5 do
          blocked_task(c, fn -> {i, Ferrite.blpop(c, "q", 0)} end)
        end

      # One push of five elements serves the five waiters in order.
      {:ok, 5} = Ferrite.rpush(c, "q", ["e1", "e2", "e3", "e4", "e5"])

      assert Task.await_many(tasks) == [
               {1, {:ok, {"q", "e1"}}},
               {2, {:ok, {"q", "e2"}}},
               {3, {:ok, {"q", "e3"}}},
               {4, {:ok, {"q", "e4"}}},
               {5, {:ok, {"q", "e5"}}}
             ]

      assert Ferrite.exists(c, ["q"]) == {:ok, 0}
    end

    test "one push at a time goes to the longest waiter", %{c: c} do
      t1 = blocked_task(c, fn -> Ferrite.brpop(c, "q", 0) end)
      t2 = blocked_task(c, fn -> Ferrite.brpop(c, "q", 0) end)
      {:ok, 1} = Ferrite.rpush(c, "q", "first")
      assert Task.await(t1) == {:ok, {"q", "first"}}
      assert blocked_clients(c) == 1
      {:ok, 1} = Ferrite.rpush(c, "q", "second")
      assert Task.await(t2) == {:ok, {"q", "second"}}
    end

    @tag :engine_only
    test "waiters on their own conns of a named store", %{c: _} do
      store = "blocking-fifo-#{System.unique_integer([:positive])}"

      conns =
        for _ <- 1..3 do
          {:ok, conn} = Ferrite.start_link(embedded: [name: store])
          conn
        end

      [c1 | _] = conns

      tasks =
        for {conn, i} <- Enum.with_index(conns) do
          blocked_task(c1, fn -> {i, Ferrite.blpop(conn, "q", 0)} end)
        end

      {:ok, 3} = Ferrite.rpush(c1, "q", ["a", "b", "c"])

      assert Task.await_many(tasks) == [
               {0, {:ok, {"q", "a"}}},
               {1, {:ok, {"q", "b"}}},
               {2, {:ok, {"q", "c"}}}
             ]
    end
  end

  describe "timeouts" do
    @tag :engine_only
    test "the engine's deadline returns nil; a later push is kept", %{c: c} do
      t = blocked_task(c, fn -> Ferrite.blpop(c, "q", 5) end)
      :ok = Embedded.fast_forward(c, 5_000)
      assert Task.await(t, 1_000) == {:ok, nil}
      assert blocked_clients(c) == 0
      {:ok, 1} = Ferrite.rpush(c, "q", "kept")
      assert Ferrite.lrange(c, "q", 0, -1) == {:ok, ["kept"]}
    end

    @tag :engine_only
    test "a deadline not reached yet keeps waiting", %{c: c} do
      t = blocked_task(c, fn -> Ferrite.blmove(c, "s", "d", :left, :left, 10) end)
      :ok = Embedded.fast_forward(c, 9_000)
      refute Task.yield(t, 50)
      {:ok, 1} = Ferrite.rpush(c, "s", "x")
      assert Task.await(t) == {:ok, "x"}
    end

    test "a short real timeout", %{c: c} do
      assert Ferrite.blpop(c, ["q1", "q2"], 0.02) == {:ok, nil}
      assert Ferrite.brpop(c, "q", 0.01) == {:ok, nil}
      assert Ferrite.blmove(c, "s", "d", :right, :right, 0.01) == {:ok, nil}
      assert blocked_clients(c) == 0
      refute_received {:ferrite_reply, _, _}
    end

    test "a timeout beyond what receive can wait for still works", %{c: c} do
      t = blocked_task(c, fn -> Ferrite.blpop(c, "q", 10_000_000_000) end)
      {:ok, 1} = Ferrite.rpush(c, "q", "v")
      assert Task.await(t) == {:ok, {"q", "v"}}
    end

    @tag :engine_only
    test "timeout 0 waits forever", %{c: c} do
      t = blocked_task(c, fn -> Ferrite.blpop(c, "q", 0) end)
      :ok = Embedded.fast_forward(c, 1_000_000_000)
      refute Task.yield(t, 50)
      {:ok, 1} = Ferrite.rpush(c, "q", "finally")
      assert Task.await(t) == {:ok, {"q", "finally"}}
    end

    @tag :engine_only
    test "giving up: unblock removes the waiter, or finds the reply sent", %{c: c} do
      # A waiter given up before data arrives: no reply ever comes, and the
      # data stays in the list.
      {:blocked, token, waiter} = Ferrite.Native.command_dirty(c, ["BLPOP", "q", "0"])
      assert blocked_clients(c) == 1
      assert Ferrite.Native.unblock(waiter) == true
      assert blocked_clients(c) == 0
      {:ok, 1} = Ferrite.rpush(c, "q", "stays")
      refute_receive {:ferrite_reply, ^token, _}, 20
      assert Ferrite.lrange(c, "q", 0, -1) == {:ok, ["stays"]}

      # A waiter served before it gives up: unblock says false and the
      # reply is already in the mailbox.
      {:ok, _} = Ferrite.command(c, ["DEL", "q"])
      {:blocked, token, waiter} = Ferrite.Native.command_dirty(c, ["BLPOP", "q", "0"])
      {:ok, 1} = Ferrite.rpush(c, "q", "served")
      assert Ferrite.Native.unblock(waiter) == false
      assert_received {:ferrite_reply, ^token, ["q", "served"]}
      assert Ferrite.Native.unblock(waiter) == false
    end

    @tag :engine_only
    test "timeouts are read from the arguments, 0 meaning forever" do
      assert Blocking.timeout_ms(["BLPOP", "a", "b", "1.5"]) == 1500
      assert Blocking.timeout_ms(["blpop", "a", 2]) == 2000
      assert Blocking.timeout_ms(["BRPOP", "a", "0"]) == :infinity
      assert Blocking.timeout_ms(["BLMOVE", "a", "b", "LEFT", "RIGHT", 0.0011]) == 2
      assert Blocking.timeout_ms(["BLMPOP", "0.25", "1", "a", "LEFT"]) == 250
      assert Blocking.timeout_ms(["BZMPOP", "3", "1", "z", "MIN"]) == 3000

      assert Blocking.timeout_ms(["XREAD", "COUNT", "1", "block", "40", "STREAMS", "s", "$"]) ==
               40

      assert Blocking.timeout_ms(["XREADGROUP", "GROUP", "g", "c", "STREAMS", "s", ">"]) ==
               :infinity

      assert Blocking.timeout_ms(["BLPOP", "a", "nonsense"]) == :infinity
      assert Blocking.timeout_ms(["GET", "a"]) == :infinity
    end
  end

  describe "waiters that die or lose their conn" do
    test "a killed waiter is dropped; the element goes to the next waiter", %{c: c} do
      victim = spawn(fn -> Ferrite.blpop(c, "q", 0) end)
      wait_blocked(c, 1)
      next = blocked_task(c, fn -> Ferrite.blpop(c, "q", 0) end)
      kill(victim)
      # The NIF's monitor removes the dead waiter.
      wait_blocked(c, 1)
      {:ok, 1} = Ferrite.rpush(c, "q", "x")
      assert Task.await(next) == {:ok, {"q", "x"}}
    end

    # Over a network a pop racing the killed waiter's hang-up goes to the
    # dead socket (Redis does the same): only the engine can promise this.
    @tag :engine_only
    test "a push right after the kill still reaches the next waiter", %{c: c} do
      for round <- 1..20 do
        victim = spawn(fn -> Ferrite.blpop(c, "q", 0) end)
        wait_blocked(c, 1)
        next = blocked_task(c, fn -> Ferrite.blpop(c, "q", 0) end)
        kill(victim)
        # No wait for the monitor: the engine may still try the dead waiter
        # first; its send fails and the element goes back and on.
        {:ok, _} = Ferrite.rpush(c, "q", "x#{round}")
        assert Task.await(next) == {:ok, {"q", "x#{round}"}}
        assert Ferrite.exists(c, ["q"]) == {:ok, 0}
        wait_blocked(c, 0)
      end
    end

    # Over a network a pop racing the killed waiter's hang-up goes to the
    # dead socket (Redis does the same): only the engine can promise this.
    @tag :engine_only
    test "with no other waiter, the element stays in the list", %{c: c} do
      for round <- 1..20 do
        victim = spawn(fn -> Ferrite.brpop(c, "q", 0) end)
        wait_blocked(c, 1)
        kill(victim)
        {:ok, _} = Ferrite.rpush(c, "q", ["a#{round}", "b#{round}"])
        assert Ferrite.lrange(c, "q", 0, -1) == {:ok, ["a#{round}", "b#{round}"]}
        {:ok, _} = Ferrite.command(c, ["DEL", "q"])
        wait_blocked(c, 0)
      end
    end

    # Over a network a pop racing the killed waiter's hang-up goes to the
    # dead socket (Redis does the same): only the engine can promise this.
    @tag :engine_only
    test "a blmove waiter killed: the element is neither moved nor lost", %{c: c} do
      victim = spawn(fn -> Ferrite.blmove(c, "s", "d", :left, :left, 0) end)
      wait_blocked(c, 1)
      kill(victim)
      {:ok, 2} = Ferrite.rpush(c, "s", ["a", "b"])
      assert Ferrite.lrange(c, "s", 0, -1) == {:ok, ["a", "b"]}
      assert Ferrite.exists(c, ["d"]) == {:ok, 0}
    end

    @tag :engine_only
    test "the conn stops while a process waits", %{c: _} do
      {:ok, conn} = Ferrite.start_link(embedded: true)
      Process.unlink(conn)
      t = blocked_task(conn, fn -> Ferrite.blpop(conn, "q", 0) end)
      Ferrite.stop(conn)
      assert {:error, %Ferrite.ConnectionError{}} = Task.await(t)
    end
  end

  defp kill(pid) do
    ref = Process.monitor(pid)
    Process.exit(pid, :kill)
    assert_receive {:DOWN, ^ref, :process, ^pid, :killed}
  end

  describe "stress" do
    # Many waiters (some on the shared conn, some on their own conns of a
    # named store) race with many pushers, with short timeouts racing the
    # pushes. Every element pushed is received by exactly one waiter or
    # left in a list.
    @tag :engine_only
    test "every element is counted exactly once", %{c: _} do
      store = "blocking-stress-#{System.unique_integer([:positive])}"
      {:ok, shared} = Ferrite.start_link(embedded: [name: store])
      keys = ["k0", "k1", "k2", "k3"]
      pushers = 8
      per_pusher = 250
      waiters = 24
      me = self()

      waiter_pids =
        for w <- 1..waiters do
          spawn_link(fn ->
            conn =
              if rem(w, 2) == 0 do
                shared
              else
                {:ok, own} = Ferrite.start_link(embedded: [name: store])
                own
              end

            send(me, {:ready, self()})
            waiter_loop(conn, Enum.shuffle(keys), w, [])
          end)
        end

      for pid <- waiter_pids, do: assert_receive({:ready, ^pid}, 5_000)

      pusher_tasks =
        for p <- 1..pushers do
          Task.async(fn ->
            {:ok, own} = Ferrite.start_link(embedded: [name: store])

            for i <- 1..per_pusher do
              key = Enum.at(keys, rem(i + p, length(keys)))
              elem = "p#{p}-#{i}"

              {:ok, _} =
                if rem(i, 3) == 0,
                  do: Ferrite.lpush(own, key, elem),
                  else: Ferrite.rpush(own, key, elem)

              if rem(i, 50) == 0, do: Process.sleep(1)
            end
          end)
        end

      Task.await_many(pusher_tasks, 60_000)
      # Let the waiters drain what they can, then stop them.
      wait_drained(shared, keys, 2_000)
      for pid <- waiter_pids, do: send(pid, {:stop, me})

      received =
        for pid <- waiter_pids, reduce: [] do
          acc ->
            assert_receive {:got, ^pid, got}, 10_000
            got ++ acc
        end

      left =
        Enum.flat_map(keys, fn k ->
          {:ok, l} = Ferrite.lrange(shared, k, 0, -1)
          l
        end)

      all = received ++ left
      expected = for p <- 1..pushers, i <- 1..per_pusher, do: "p#{p}-#{i}"
      assert length(all) == length(expected)
      assert Enum.sort(all) == Enum.sort(expected)
      # The waiters did the work, not the final LRANGE.
      assert length(received) > div(length(expected), 2)
      assert blocked_clients(shared) == 0
    end
  end

  defp waiter_loop(conn, keys, w, acc) do
    receive do
      {:stop, to} -> send(to, {:got, self(), acc})
    after
      0 ->
        timeout = Enum.at([0.005, 0.01, 0.02], rem(w, 3))

        result =
          if rem(w, 4) == 1,
            do: Ferrite.brpop(conn, keys, timeout),
            else: Ferrite.blpop(conn, keys, timeout)

        case result do
          {:ok, nil} -> waiter_loop(conn, keys, w, acc)
          {:ok, {_key, elem}} -> waiter_loop(conn, keys, w, [elem | acc])
        end
    end
  end

  defp wait_drained(conn, keys, ms) do
    {:ok, n} = Ferrite.command(conn, ["EXISTS" | keys])

    if n > 0 and ms > 0 do
      Process.sleep(10)
      wait_drained(conn, keys, ms - 10)
    else
      :ok
    end
  end
end
