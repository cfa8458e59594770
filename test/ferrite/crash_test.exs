defmodule Ferrite.CrashTest do
  @moduledoc """
  kill -9 of an OS process writing with `appendfsync: :always`: every write
  it acknowledged must be there when the directory is reopened.

  The writer is `test/support/crash_writer.exs`, run by a separate `elixir`
  on this build's code. Children run concurrently to keep the test short.
  """
  use ExUnit.Case, async: true

  @moduletag timeout: 180_000
  # OS processes and directories of the embedded engine: one run only.
  @moduletag :single_run

  @writer Path.expand("../support/crash_writer.exs", __DIR__)

  # Must match the writer's.
  defp value(i), do: "value-#{i}-" <> String.duplicate("v", rem(i, 50))

  setup do
    base = Path.join(System.tmp_dir!(), "ferrite-crash-#{System.unique_integer([:positive])}")

    File.rm_rf!(base)
    File.mkdir_p!(base)
    on_exit(fn -> File.rm_rf!(base) end)
    {:ok, base: base}
  end

  test "kill -9 at random moments loses no acknowledged write", %{base: base} do
    runs =
      for n <- 1..4 do
        dir = Path.join(base, "plain#{n}")
        # After `ready`: wait 1 to 4 acknowledged writes' worth of lines,
        # then a random delay.
        delay = :rand.uniform(400)
        Task.async(fn -> run_and_kill(dir, "plain", {:delay_ms, delay}) end)
      end
      |> Task.await_many(120_000)

    for run <- runs, do: verify(run)
  end

  test "kill -9 during a rewrite loses no acknowledged write", %{base: base} do
    runs =
      for n <- 1..3 do
        dir = Path.join(base, "rewrite#{n}")
        # Kill right after the n-th rewrite was started, plus 0..30 ms.
        Task.async(fn ->
          run_and_kill(dir, "rewrite", {:after_rewrite, n, :rand.uniform(31) - 1})
        end)
      end
      |> Task.await_many(120_000)

    for run <- runs do
      assert run.rewrites >= 1
      verify(run)
    end
  end

  test "the directory of a running writer is locked for another OS process", %{base: base} do
    dir = Path.join(base, "locked")
    port = spawn_writer(dir, "plain")
    assert :ready = await_ready(port, [])

    assert {:error, %Ferrite.ConnectionError{reason: :locked, message: msg}} =
             Ferrite.start_link(embedded: [path: dir])

    assert msg =~ "already open"
    {:os_pid, os_pid} = Port.info(port, :os_pid)
    kill9(os_pid)
    drain(port, %{acks: [], incr: 0, rewrites: 0, lines: []})

    # The lock dies with its holder.
    {:ok, conn} = Ferrite.start_link(embedded: [path: dir])
    Ferrite.stop(conn)
  end

  defp spawn_writer(dir, mode) do
    elixir = System.find_executable("elixir") || flunk("elixir not on PATH")
    ebin = Application.app_dir(:ferrite, "ebin")

    Port.open({:spawn_executable, elixir}, [
      :binary,
      :exit_status,
      :stderr_to_stdout,
      {:line, 4096},
      args: ["-pa", ebin, @writer, dir, mode]
    ])
  end

  defp await_ready(port, lines) do
    receive do
      {^port, {:data, {:eol, "ready"}}} ->
        :ready

      {^port, {:data, {_, line}}} ->
        await_ready(port, [line | lines])

      {^port, {:exit_status, s}} ->
        flunk("writer exited (#{s}): #{Enum.reverse(lines) |> Enum.join("\n")}")
    after
      60_000 -> flunk("writer not ready after 60 s")
    end
  end

  defp run_and_kill(dir, mode, plan) do
    port = spawn_writer(dir, mode)
    :ready = await_ready(port, [])
    {:os_pid, os_pid} = Port.info(port, :os_pid)
    state = %{acks: [], incr: 0, rewrites: 0, lines: []}

    state =
      case plan do
        {:delay_ms, ms} ->
          # A slow machine may take a while to the first acknowledgement:
          # wait for it, then the random delay.
          first = System.monotonic_time(:millisecond) + 30_000
          state = collect_until(port, state, first, &(&1.acks != []))

          state =
            collect_until(port, state, System.monotonic_time(:millisecond) + ms, fn _ -> false end)

          kill9(os_pid)
          state

        {:after_rewrite, n, ms} ->
          deadline = System.monotonic_time(:millisecond) + 60_000
          state = collect_until(port, state, deadline, &(&1.rewrites >= n))

          state =
            collect_until(port, state, System.monotonic_time(:millisecond) + ms, fn _ -> false end)

          kill9(os_pid)
          state
      end

    state |> then(&drain(port, &1)) |> Map.put(:dir, dir)
  end

  defp kill9(os_pid), do: {_, 0} = System.cmd("kill", ["-9", Integer.to_string(os_pid)])

  # Reads lines until `done?` or the deadline.
  defp collect_until(port, state, deadline, done?) do
    if done?.(state) do
      state
    else
      left = max(deadline - System.monotonic_time(:millisecond), 0)

      receive do
        {^port, {:data, {:eol, line}}} ->
          collect_until(port, note(state, line), deadline, done?)

        {^port, {:exit_status, s}} ->
          flunk("writer died on its own (#{s}): #{inspect(state.lines)}")
      after
        left -> state
      end
    end
  end

  # After the kill: the lines already in the pipe, until the exit status.
  defp drain(port, state) do
    receive do
      {^port, {:data, {:eol, line}}} -> drain(port, note(state, line))
      {^port, {:data, {:noeol, _}}} -> drain(port, state)
      {^port, {:exit_status, _}} -> state
    after
      30_000 -> flunk("writer did not exit after kill -9")
    end
  end

  defp note(state, "ack " <> i), do: %{state | acks: [String.to_integer(i) | state.acks]}
  defp note(state, "incr " <> n), do: %{state | incr: String.to_integer(n)}
  defp note(state, "rewrite"), do: %{state | rewrites: state.rewrites + 1}
  defp note(state, line), do: %{state | lines: [line | state.lines]}

  defp verify(%{dir: dir, acks: acks, incr: incr} = run) do
    if System.get_env("CRASH_DEBUG"),
      do: IO.inspect({dir, length(acks), run.rewrites, File.ls!(dir)})

    assert acks != [], "the writer acknowledged nothing before the kill"
    # Acks arrive in order: 0..max.
    top = Enum.max(acks)
    assert Enum.sort(acks) == Enum.to_list(0..top)

    {:ok, conn} = Ferrite.start_link(embedded: [path: dir])

    for chunk <- Enum.chunk_every(0..top, 500) do
      {:ok, got} = Ferrite.mget(conn, Enum.map(chunk, &"k:#{&1}"))
      want = Enum.map(chunk, &value/1)

      for {i, g, w} <- Enum.zip([chunk, got, want]), g != w do
        flunk("#{dir}: acknowledged k:#{i} is #{inspect(g)}, expected #{inspect(w)}")
      end
    end

    # Writes after the last printed ack (done, or printed too late to reach
    # the pipe) are there whole or not at all.
    later = (top + 1)..(top + 100)
    {:ok, got} = Ferrite.mget(conn, Enum.map(later, &"k:#{&1}"))

    for {i, g} <- Enum.zip(later, got), g != nil do
      assert g == value(i)
    end

    {:ok, counter} = Ferrite.get(conn, "counter")
    assert String.to_integer(counter || "0") >= incr
    Ferrite.stop(conn)
  end
end
