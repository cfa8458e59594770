# GET/SET cost: Ferrite embedded vs ETS vs eredis (redis-server on loopback).
#
#   make bench-kv                       # MIX_ENV=prod mix run benches/kv.exs
#   KV_N=20000 KV_RUNS=3 make bench-kv  # a small smoke run
#
# KV_N operations per run (eredis does KV_N / 50), KV_RUNS runs, median
# reported. Ferrite runs alternate with its peer's (one of each per
# round: ETS, then eredis), and each ratio column is the median of the
# per-round ratios, so that load from other processes and the machine's
# speed swings hit both sides alike. Keys are 10 bytes; values 16 B and
# 1 KiB. The bench starts its own redis-server on a free loopback port
# and stops it by its pid.
# While the Ferrite runs go, :erlang.system_monitor watches for long
# schedules (> 1 ms) and the bench prints how many it saw.

Code.require_file("support/redis_server.exs", __DIR__)

defmodule KV.Bench do
  @keys 1024

  def n, do: env_int("KV_N", 1_000_000)
  def runs, do: env_int("KV_RUNS", 7)

  defp env_int(name, default) do
    case System.get_env(name) do
      nil -> default
      s -> String.to_integer(s)
    end
  end

  def keys do
    for i <- 0..(@keys - 1), do: "key:" <> String.pad_leading(Integer.to_string(i), 6, "0")
  end

  # ns per operation of `fun.(key)` over `n` calls, cycling through `keys`.
  def time(keys, n, fun) do
    keys = List.to_tuple(keys)
    loop(keys, 0, 0, fun)
    t0 = System.monotonic_time(:nanosecond)
    loop(keys, 0, n, fun)
    (System.monotonic_time(:nanosecond) - t0) / n
  end

  defp loop(_keys, _i, 0, _fun), do: :ok

  defp loop(keys, i, left, fun) do
    fun.(elem(keys, i))
    loop(keys, if(i == @keys - 1, do: 0, else: i + 1), left - 1, fun)
  end

  def median(samples) do
    sorted = Enum.sort(samples)
    Enum.at(sorted, div(length(sorted), 2))
  end

  # Alternating runs of `f` (`nf` calls) and `g` (`ng` calls): {median f,
  # median g, median of f/g}. Which side goes first alternates too, so
  # that neither always runs right after the other's garbage.
  def measure_pair(keys, nf, f, ng, g) do
    samples =
      for round <- 1..runs() do
        {tf, tg} =
          if rem(round, 2) == 1 do
            tf = time(keys, nf, f)
            {tf, time(keys, ng, g)}
          else
            tg = time(keys, ng, g)
            {time(keys, nf, f), tg}
          end

        {tf, tg, tf / tg}
      end

    {median(Enum.map(samples, &elem(&1, 0))), median(Enum.map(samples, &elem(&1, 1))),
     median(Enum.map(samples, &elem(&1, 2)))}
  end

  # redis-server, eredis and the long-schedule monitor: benches/support.
  def start_redis, do: Bench.RedisServer.start("kv-bench")
  defdelegate stop_redis(redis), to: Bench.RedisServer, as: :stop
  defdelegate connect_eredis(port), to: Bench.RedisServer
  defdelegate drain_long_schedules, to: Bench.LongSchedules, as: :drain

  def fmt(x, decimals \\ 1) when is_float(x), do: :erlang.float_to_binary(x, decimals: decimals)
end

n = KV.Bench.n()
keys = KV.Bench.keys()
values = [{"16 B", String.duplicate("v", 16)}, {"1 KiB", String.duplicate("v", 1024)}]

IO.puts("kv bench: #{n} ops per run, #{KV.Bench.runs()} runs (median), 10 B keys")

{:ok, conn} = Ferrite.start_link(embedded: true)
ets = :ets.new(:kv_bench, [:set, :public])
redis = KV.Bench.start_redis()
{port, _, _} = redis
eredis = KV.Bench.connect_eredis(port)
n_eredis = max(div(n, 50), 1000)

rows =
  try do
    for {label, value} <- values do
      for k <- keys do
        :ok = Ferrite.set(conn, k, value)
        true = :ets.insert(ets, {k, value})
        {:ok, "OK"} = :eredis.q(eredis, ["SET", k, value])
      end

      :erlang.system_monitor(self(), [{:long_schedule, 1}])

      f_get = fn k -> {:ok, _} = Ferrite.get(conn, k) end
      f_set = fn k -> :ok = Ferrite.set(conn, k, value) end

      {f_get_ns, e_get, get_ratio} =
        KV.Bench.measure_pair(keys, n, f_get, n, fn k -> [_] = :ets.lookup(ets, k) end)

      {f_set_ns, e_set, set_ratio} =
        KV.Bench.measure_pair(keys, n, f_set, n, fn k -> true = :ets.insert(ets, {k, value}) end)

      :erlang.system_monitor(:undefined)
      long = KV.Bench.drain_long_schedules()

      # eredis against Ferrite, alternating too: fewer eredis calls per
      # run (each is a loopback round trip), ratio per round.
      {r_get, _, r_get_ratio} =
        KV.Bench.measure_pair(
          keys,
          n_eredis,
          fn k -> {:ok, _} = :eredis.q(eredis, ["GET", k]) end,
          n,
          f_get
        )

      {r_set, _, r_set_ratio} =
        KV.Bench.measure_pair(
          keys,
          n_eredis,
          fn k -> {:ok, "OK"} = :eredis.q(eredis, ["SET", k, value]) end,
          n,
          f_set
        )

      [
        {"GET", label, f_get_ns, e_get, get_ratio, r_get, r_get_ratio, long},
        {"SET", label, f_set_ns, e_set, set_ratio, r_set, r_set_ratio, []}
      ]
    end
  after
    KV.Bench.stop_redis(redis)
  end

rows = List.flatten(rows)

header =
  String.pad_trailing("op", 5) <>
    String.pad_trailing("value", 7) <>
    String.pad_leading("ferrite ns", 12) <>
    String.pad_leading("ets ns", 10) <>
    String.pad_leading("eredis ns", 12) <>
    String.pad_leading("ferrite/ets", 13) <>
    String.pad_leading("eredis/ferrite", 16)

IO.puts(header)

for {op, label, f, e, ratio, r, r_ratio, _} <- rows do
  IO.puts(
    String.pad_trailing(op, 5) <>
      String.pad_trailing(label, 7) <>
      String.pad_leading(KV.Bench.fmt(f), 12) <>
      String.pad_leading(KV.Bench.fmt(e), 10) <>
      String.pad_leading(KV.Bench.fmt(r), 12) <>
      String.pad_leading(KV.Bench.fmt(ratio, 2) <> "x", 13) <>
      String.pad_leading(KV.Bench.fmt(r_ratio, 0) <> "x", 16)
  )
end

long = Enum.flat_map(rows, fn {_, _, _, _, _, _, _, l} -> l end)
nif_long = Enum.filter(long, fn info -> inspect(info) =~ "Ferrite.Native" end)

IO.puts(
  "long schedules (> 1 ms) during Ferrite runs: #{length(long)}, in Ferrite.Native: #{length(nif_long)}"
)

for info <- Enum.take(long, 5), do: IO.puts("  " <> inspect(info))
IO.puts("goals: GET <= 1.25x ETS, SET <= 1.5x ETS, eredis/ferrite >= 300x")
Ferrite.stop(conn)
