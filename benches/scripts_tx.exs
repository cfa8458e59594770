# Transactions, pub/sub (and scripts, when EVALSHA is available): Ferrite
# embedded vs eredis -> redis-server on loopback.
#
#   MIX_ENV=prod mix run benches/scripts_tx.exs
#   TX_N=2000 TX_RUNS=3 mix run benches/scripts_tx.exs   # a small smoke run
#
# TX_N operations per run (eredis does TX_N / 10), TX_RUNS runs, median
# reported in microseconds per operation:
#   * MULTI + 5 x SET + EXEC (Ferrite.multi/2 vs an eredis pipeline qp/2);
#   * PUBLISH to 1 and to 1,000 subscribers (publisher side: the call
#     returns once every subscriber was handed the message);
#   * EVALSHA of a 3-command script, when the engine knows SCRIPT LOAD.
# The bench starts its own redis-server on a free loopback port and stops
# it by its pid. Redis subscribers are raw sockets that SUBSCRIBE and are
# drained by a reader process; Ferrite subscribers are Ferrite.subscribe/3
# processes with a no-op callback.

Code.require_file("support/redis_server.exs", __DIR__)

defmodule TxBench do
  def n, do: env_int("TX_N", 100_000)
  def runs, do: env_int("TX_RUNS", 5)

  defp env_int(name, default) do
    case System.get_env(name) do
      nil -> default
      s -> String.to_integer(s)
    end
  end

  # Median microseconds per call of `fun` over `n` calls.
  def measure(n, fun) do
    fun.()

    samples =
      for _ <- 1..runs() do
        t0 = System.monotonic_time(:nanosecond)
        loop(n, fun)
        (System.monotonic_time(:nanosecond) - t0) / n / 1000
      end

    Enum.at(Enum.sort(samples), div(length(samples), 2))
  end

  defp loop(0, _fun), do: :ok

  defp loop(k, fun) do
    fun.()
    loop(k - 1, fun)
  end

  def start_redis, do: Bench.RedisServer.start("tx-bench")
  def stop_redis(redis), do: Bench.RedisServer.stop(redis)
  def connect_eredis(port), do: Bench.RedisServer.connect_eredis(port)

  # A raw RESP subscriber to redis: subscribes, then a process drains it.
  def redis_subscriber(port, channel) do
    {:ok, s} = :gen_tcp.connect(~c"127.0.0.1", port, [:binary, active: false])
    :ok = :gen_tcp.send(s, "*2\r\n$9\r\nSUBSCRIBE\r\n$#{byte_size(channel)}\r\n#{channel}\r\n")
    {:ok, _confirmation} = :gen_tcp.recv(s, 0, 5000)
    pid = spawn(fn -> drain(s) end)
    :ok = :gen_tcp.controlling_process(s, pid)
    {s, pid}
  end

  defp drain(s) do
    case :gen_tcp.recv(s, 0) do
      {:ok, _} -> drain(s)
      _ -> :ok
    end
  end

  def fmt(x) when is_float(x), do: :erlang.float_to_binary(x, decimals: 2)
  def fmt(x), do: to_string(x)
end

n = TxBench.n()
n_eredis = max(div(n, 10), 200)

IO.puts(
  "scripts/tx bench: #{n} ops per run (eredis #{n_eredis}), #{TxBench.runs()} runs (median)"
)

{:ok, conn} = Ferrite.start_link(embedded: true)
redis = TxBench.start_redis()
{port, _, _} = redis
eredis = TxBench.connect_eredis(port)

rows =
  try do
    # MULTI/EXEC of 5 SETs.
    tx = fn ->
      {:ok, [:ok, :ok, :ok, :ok, :ok]} =
        Ferrite.multi(conn, fn t ->
          for i <- 1..5, do: Ferrite.Tx.set(t, "k#{i}", "value")
        end)
    end

    r_cmds = [["MULTI"]] ++ for(i <- 1..5, do: ["SET", "k#{i}", "value"]) ++ [["EXEC"]]
    r_tx = fn -> [{:ok, "OK"} | _] = :eredis.qp(eredis, r_cmds) end
    multi_row = {"MULTI/EXEC 5 SETs", TxBench.measure(n, tx), TxBench.measure(n_eredis, r_tx)}

    # PUBLISH to 1 and to 1,000 subscribers.
    publish_rows =
      for subs <- [1, 1000] do
        channel = "ch#{subs}"

        f_subs =
          for _ <- 1..subs, do: elem(Ferrite.subscribe(conn, [channel], fn _ -> :ok end), 1)

        r_subs = for _ <- 1..subs, do: TxBench.redis_subscriber(port, channel)
        {:ok, ^subs} = Ferrite.publish(conn, channel, "m")
        {:ok, got} = :eredis.q(eredis, ["PUBLISH", channel, "m"])
        ^subs = String.to_integer(got)
        k = if subs == 1, do: n, else: max(div(n, 100), 50)
        k_eredis = if subs == 1, do: n_eredis, else: max(div(n_eredis, 10), 20)
        f = TxBench.measure(k, fn -> {:ok, ^subs} = Ferrite.publish(conn, channel, "m") end)

        r =
          TxBench.measure(k_eredis, fn ->
            {:ok, _} = :eredis.q(eredis, ["PUBLISH", channel, "m"])
          end)

        Enum.each(f_subs, &Process.exit(&1, :kill))
        Enum.each(r_subs, fn {s, pid} -> :gen_tcp.close(s) && Process.exit(pid, :kill) end)
        {"PUBLISH to #{subs}", f, r}
      end

    # EVALSHA of a 3-command script, once scripting is in.
    script =
      "redis.call('SET', KEYS[1], ARGV[1]); redis.call('INCR', KEYS[2]); return redis.call('GET', KEYS[1])"

    eval_rows =
      case Ferrite.command(conn, ["SCRIPT", "LOAD", script]) do
        {:ok, sha} when is_binary(sha) ->
          {:ok, ^sha} = :eredis.q(eredis, ["SCRIPT", "LOAD", script])
          argv = ["EVALSHA", sha, "2", "s1", "s2", "v"]
          f = TxBench.measure(n, fn -> {:ok, "v"} = Ferrite.command(conn, argv) end)
          r = TxBench.measure(n_eredis, fn -> {:ok, "v"} = :eredis.q(eredis, argv) end)
          [{"EVALSHA 3 commands", f, r}]

        _ ->
          [{"EVALSHA 3 commands", "n/a", "n/a"}]
      end

    [multi_row | publish_rows] ++ eval_rows
  after
    :eredis.stop(eredis)
    TxBench.stop_redis(redis)
  end

IO.puts(
  String.pad_trailing("op", 22) <>
    String.pad_leading("ferrite us", 12) <>
    String.pad_leading("eredis us", 12) <> String.pad_leading("eredis/ferrite", 16)
)

for {op, f, r} <- rows do
  ratio = if is_float(f) and is_float(r), do: TxBench.fmt(r / f) <> "x", else: "n/a"

  IO.puts(
    String.pad_trailing(op, 22) <>
      String.pad_leading(TxBench.fmt(f), 12) <>
      String.pad_leading(TxBench.fmt(r), 12) <> String.pad_leading(ratio, 16)
  )
end

Ferrite.stop(conn)
