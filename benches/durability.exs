# Durability figures of Ferrite embedded, through the Elixir API.
#
#   make bench-durability                    # MIX_ENV=prod mix run benches/durability.exs
#   DURABILITY_KEYS=20000 make bench-durability   # a small smoke run
#
# DURABILITY_KEYS keys (default 1M; 10-byte names, 16-byte values).
# DURABILITY_ALWAYS_OPS SETs for `appendfsync: :always` (default 5,000: one
# fsync each). Prints:
#
#   1. SET throughput (one process, one SET per call) with `:no`,
#      `:everysec` and `:always` against an in-memory database, and how
#      many long schedules (> 1 ms) the VM saw inside Ferrite NIFs;
#   2. the open time of the N-key database, from the log and from a
#      snapshot (goal < 1 s);
#   3. the longest write stall during a background rewrite of the N keys
#      (goal < 10 ms): a paced writer process (bursts of 50 SETs, then 1 ms
#      of sleep) times every SET while BGREWRITEAOF runs, against the same
#      writer with no rewrite, in the same run;
#   4. the snapshot size, load time and used_memory per key against
#      redis-server's RDB (size, `DEBUG RELOAD NOSAVE` time) and used_memory
#      for the same data (a redis-server started on a free loopback port,
#      filled pipelined through eredis, SAVE, stopped by its pid);
#   5. a summary: each figure against its goal or its peer, with ratios.
#
# About two minutes at 1M keys on a quiet 2-core machine.

Code.require_file("support/redis_server.exs", __DIR__)

defmodule Durability.Bench do
  @value "0123456789abcdef"

  def n, do: env_int("DURABILITY_KEYS", 1_000_000)
  def always_ops, do: env_int("DURABILITY_ALWAYS_OPS", min(n(), 5_000))

  defp env_int(name, default) do
    case System.get_env(name) do
      nil -> default
      s -> String.to_integer(s)
    end
  end

  def key(i), do: "key:" <> String.pad_leading(Integer.to_string(i), 6, "0")

  def tmp(name) do
    dir = Path.join(System.tmp_dir!(), "ferrite-durability-#{name}-#{System.os_time()}")
    File.rm_rf!(dir)
    dir
  end

  def open!(opts) do
    {:ok, conn} = Ferrite.start_link(embedded: opts)
    conn
  end

  def info(conn, section) do
    {:ok, text} = Ferrite.command(conn, ["INFO", section])

    for line <- String.split(text, "\r\n"),
        [k, v] <- [String.split(line, ":", parts: 2)],
        into: %{},
        do: {k, v}
  end

  # Loads n keys with pipelined SETs (1,000 per call).
  def fill(conn, n) do
    0..(n - 1)
    |> Stream.chunk_every(1000)
    |> Enum.each(fn chunk ->
      {:ok, _} = Ferrite.pipeline(conn, Enum.map(chunk, &["SET", key(&1), @value]))
    end)
  end

  # SETs per second, one call per SET, from this process.
  def throughput(conn, ops) do
    Bench.LongSchedules.watch(1)
    t0 = System.monotonic_time(:microsecond)
    Enum.each(0..(ops - 1), fn i -> :ok = Ferrite.set(conn, key(i), @value) end)
    us = System.monotonic_time(:microsecond) - t0
    long = Bench.LongSchedules.stop() |> Bench.LongSchedules.ferrite() |> length()
    {ops * 1_000_000 / max(us, 1), us / ops, long}
  end

  # Seconds to open `dir` (start_link returns once everything is loaded).
  def open_time(dir) do
    t0 = System.monotonic_time(:microsecond)
    conn = open!(path: dir, appendfsync: :no)
    secs = (System.monotonic_time(:microsecond) - t0) / 1_000_000
    {:ok, size} = Ferrite.dbsize(conn)
    {conn, secs, size}
  end

  def wait_rewrite(conn) do
    if info(conn, "persistence")["aof_rewrite_in_progress"] == "1" do
      Process.sleep(10)
      wait_rewrite(conn)
    end
  end

  # A process that SETs in a loop and keeps the latencies (µs) until told
  # to stop.
  def start_writer(conn) do
    parent = self()

    spawn_link(fn ->
      send(parent, {:writer, writer_loop(conn, 0, [])})
    end)
  end

  # Bursts of 50 SETs, then 1 ms of sleep: a busy client that does not
  # flood the log (an unpaced loop would measure the page cache's
  # dirty-page throttling of a log growing by gigabytes).
  defp writer_loop(conn, i, acc) do
    receive do
      :stop -> acc
    after
      0 ->
        if rem(i, 50) == 49, do: Process.sleep(1)
        t0 = System.monotonic_time(:microsecond)
        :ok = Ferrite.set(conn, "stall-probe:#{rem(i, 1000)}", @value)
        writer_loop(conn, i + 1, [System.monotonic_time(:microsecond) - t0 | acc])
    end
  end

  def stop_writer(pid) do
    send(pid, :stop)

    receive do
      {:writer, lat} -> lat
    end
  end

  def stats(lat) do
    sorted = Enum.sort(lat)
    count = length(sorted)
    p = fn q -> Enum.at(sorted, min(count - 1, trunc(count * q))) end
    %{count: count, max: List.last(sorted), p999: p.(0.999), p99: p.(0.99), p50: p.(0.5)}
  end

  def file_size(dir, ext) do
    dir
    |> File.ls!()
    |> Enum.filter(&String.ends_with?(&1, ext))
    |> Enum.map(&File.stat!(Path.join(dir, &1)).size)
    |> Enum.sum()
  end

  # redis-server side: RDB size and used_memory growth for the same data.
  def redis(n) do
    dir = tmp("redis")
    File.mkdir_p!(dir)

    server =
      Bench.RedisServer.start("durability", [
        "--dir",
        dir,
        "--dbfilename",
        "dump.rdb",
        "--enable-debug-command",
        "local"
      ])

    {port, os_pid, _} = server

    try do
      c = Bench.RedisServer.connect_eredis(port)
      used0 = redis_used(c)

      0..(n - 1)
      |> Stream.chunk_every(1000)
      |> Enum.each(fn chunk ->
        replies = :eredis.qp(c, Enum.map(chunk, &["SET", key(&1), @value]), 60_000)
        true = Enum.all?(replies, &(&1 == {:ok, "OK"}))
      end)

      used = redis_used(c) - used0
      {:ok, "OK"} = :eredis.q(c, ["SAVE"], 600_000)
      rdb = File.stat!(Path.join(dir, "dump.rdb")).size
      # Redis's open time for the same data: loading its RDB.
      t0 = System.monotonic_time(:microsecond)
      reload = :eredis.q(c, ["DEBUG", "RELOAD", "NOSAVE"], 600_000)
      load_s = (System.monotonic_time(:microsecond) - t0) / 1_000_000
      load_s = if reload == {:ok, "OK"}, do: load_s, else: nil
      :eredis.stop(c)
      {rdb, used, load_s}
    after
      Bench.RedisServer.stop(server)
      wait_gone(os_pid, 100)
      File.rm_rf!(dir)
    end
  end

  defp redis_used(c) do
    {:ok, text} = :eredis.q(c, ["INFO", "memory"])
    [_, v] = Regex.run(~r/used_memory:(\d+)/, text)
    String.to_integer(v)
  end

  defp wait_gone(_pid, 0), do: :ok

  defp wait_gone(pid, tries) do
    case System.cmd("kill", ["-0", pid], stderr_to_stdout: true) do
      {_, 0} ->
        Process.sleep(50)
        wait_gone(pid, tries - 1)

      _ ->
        :ok
    end
  end

  def fmt_int(n) when is_float(n), do: fmt_int(round(n))

  def fmt_int(n) do
    n
    |> Integer.to_string()
    |> String.reverse()
    |> String.replace(~r/(\d{3})(?=\d)/, "\\1,")
    |> String.reverse()
  end

  def ms(us), do: :erlang.float_to_binary(us / 1000, decimals: 3) <> " ms"

  def row(cols, widths) do
    cols
    |> Enum.zip(widths)
    |> Enum.map_join("  ", fn {c, w} ->
      if w < 0, do: String.pad_trailing(c, -w), else: String.pad_leading(c, w)
    end)
    |> IO.puts()
  end

  def run do
    n = n()
    IO.puts("# Ferrite durability bench: #{fmt_int(n)} keys (10-byte names, 16-byte values)\n")

    # 1. Throughput.
    IO.puts("## SET throughput (one process, one SET per call)")
    widths = [-10, 8, 12, 10, 10, 12]
    row(["policy", "SETs", "SET/s", "us/SET", "vs memory", "long sched"], widths)
    mem = open!(true)
    {base, base_us, base_long} = throughput(mem, n)
    Ferrite.stop(mem)

    row(
      [
        "memory",
        fmt_int(n),
        fmt_int(base),
        :erlang.float_to_binary(base_us, decimals: 2),
        "1.00",
        "#{base_long}"
      ],
      widths
    )

    for {policy, ops} <- [no: n, everysec: n, always: always_ops()] do
      dir = tmp("#{policy}")
      conn = open!(path: dir, appendfsync: policy, rewrite_percentage: 0)
      {rate, us, long} = throughput(conn, ops)
      Ferrite.stop(conn)
      File.rm_rf!(dir)

      row(
        [
          "#{policy}",
          fmt_int(ops),
          fmt_int(rate),
          :erlang.float_to_binary(us, decimals: 2),
          :erlang.float_to_binary(rate / base, decimals: 3),
          "#{long}"
        ],
        widths
      )
    end

    # 2. Open time.
    IO.puts("\n## Open time of a #{fmt_int(n)}-key database (goal < 1 s)")
    dir = tmp("open")
    conn = open!(path: dir, appendfsync: :no, rewrite_percentage: 0)
    fill(conn, n)
    used = String.to_integer(info(conn, "memory")["used_memory"])
    Ferrite.stop(conn)
    log_size = file_size(dir, ".aof")
    {conn, from_log, ^n} = open_time(dir)
    {:ok, "OK"} = Ferrite.command(conn, ["SAVE"])
    Ferrite.stop(conn)
    snap = file_size(dir, ".snap")
    {conn, from_snap, ^n} = open_time(dir)

    IO.puts(
      "from the log (#{fmt_int(log_size)} bytes):      #{:erlang.float_to_binary(from_log, decimals: 3)} s"
    )

    IO.puts(
      "from a snapshot (#{fmt_int(snap)} bytes): #{:erlang.float_to_binary(from_snap, decimals: 3)} s"
    )

    # 4 (before 3, on the open database). Stall during a rewrite.
    IO.puts(
      "\n## Write latency during a background rewrite of #{fmt_int(n)} keys (goal: max < 10 ms)"
    )

    writer = start_writer(conn)
    Process.sleep(200)
    t0 = System.monotonic_time(:microsecond)
    {:ok, _} = Ferrite.command(conn, ["BGREWRITEAOF"])
    call_us = System.monotonic_time(:microsecond) - t0
    wait_rewrite(conn)
    rewrite_us = System.monotonic_time(:microsecond) - t0
    during = stats(stop_writer(writer))
    writer = start_writer(conn)
    Process.sleep(max(div(rewrite_us, 1000), 200))
    idle = stats(stop_writer(writer))
    Ferrite.stop(conn)
    File.rm_rf!(dir)

    IO.puts(
      "rewrite took #{ms(rewrite_us)}; BGREWRITEAOF (the segment switch, under the engine " <>
        "lock) answered in #{ms(call_us)}"
    )

    widths = [-16, 10, 12, 12, 12, 12]
    row(["writer", "SETs", "p50", "p99", "p99.9", "max"], widths)

    for {label, s} <- [{"during rewrite", during}, {"no rewrite", idle}] do
      row([label, fmt_int(s.count), ms(s.p50), ms(s.p99), ms(s.p999), ms(s.max)], widths)
    end

    # 4. Against redis-server.
    IO.puts("\n## Against redis-server #{redis_version()} (same keys and values)")
    widths = [-22, 16, 16, 10]
    row(["", "Ferrite", "redis-server", "ratio"], widths)

    peer =
      case System.find_executable("redis-server") do
        nil ->
          IO.puts("redis-server not found: skipped")
          nil

        _ ->
          {rdb, rused, rload} = redis(n)
          row(["snapshot bytes", fmt_int(snap), fmt_int(rdb), ratio(snap, rdb)], widths)
          row(["snapshot bytes/key", per(snap, n), per(rdb, n), ratio(snap, rdb)], widths)

          row(
            ["load snapshot/RDB (s)", secs(from_snap), secs(rload), ratio(from_snap, rload)],
            widths
          )

          row(["used_memory bytes/key", per(used, n), per(rused, n), ratio(used, rused)], widths)
          %{rdb: rdb, used: rused, load: rload}
      end

    # 5. Summary.
    IO.puts("\n## Summary (#{fmt_int(n)} keys)")
    widths = [-34, 14, 16, 8]
    row(["figure", "measured", "goal / peer", "ratio"], widths)
    row(["open from the log (s)", secs(from_log), "< 1 s", ratio(from_log, 1.0)], widths)
    row(["open from a snapshot (s)", secs(from_snap), "< 1 s", ratio(from_snap, 1.0)], widths)

    row(
      ["SET max during rewrite (ms)", ms_num(during.max), "< 10 ms", ratio(during.max, 10_000)],
      widths
    )

    row(
      [
        "SET max, rewrite vs none (ms)",
        ms_num(during.max),
        ms_num(idle.max),
        ratio(during.max, idle.max)
      ],
      widths
    )

    row(
      [
        "SET p99.9 rewrite / none (ms)",
        ms_num(during.p999),
        ms_num(idle.p999),
        ratio(during.p999, idle.p999)
      ],
      widths
    )

    if peer do
      row(
        ["snapshot bytes vs RDB", fmt_int(snap), fmt_int(peer.rdb), ratio(snap, peer.rdb)],
        widths
      )

      row(
        ["used_memory/key vs redis", per(used, n), per(peer.used, n), ratio(used, peer.used)],
        widths
      )
    end
  end

  defp secs(nil), do: "n/a"
  defp secs(s), do: :erlang.float_to_binary(s / 1, decimals: 3)
  defp ms_num(us), do: :erlang.float_to_binary(us / 1000, decimals: 3)

  defp per(bytes, n), do: :erlang.float_to_binary(bytes / n, decimals: 1)
  defp ratio(_, nil), do: "n/a"
  defp ratio(a, b) when b == 0, do: if(a == 0, do: "1.00", else: "n/a")
  defp ratio(a, b), do: :erlang.float_to_binary(a / b, decimals: 2)

  defp redis_version do
    case System.cmd("redis-server", ["--version"], stderr_to_stdout: true) do
      {out, 0} ->
        Regex.run(~r/v=(\S+)/, out, capture: :all_but_first) |> List.wrap() |> Enum.join()

      _ ->
        ""
    end
  rescue
    _ -> ""
  end
end

Durability.Bench.run()
