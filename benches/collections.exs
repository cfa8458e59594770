# Collection commands, pipelined: Ferrite embedded vs eredis -> redis-server.
#
#   make bench-collections                  # MIX_ENV=prod mix run benches/collections.exs
#   COLL_PIPELINES=2 COLL_RUNS=1 COLL_BIG=20000 COLL_SET=5000 make bench-collections  # smoke
#
# Every op runs as pipelines of COLL_DEPTH (1,000) commands on both sides:
# `Ferrite.pipeline/2` against `:eredis.qp/3`. COLL_PIPELINES pipelines per
# run, COLL_RUNS runs, median reported, in ns per op (an op of a pair such
# as LPUSH+LPOP is the pair). SINTER of two COLL_SET (100k) sets is a big
# op: its pipelines hold COLL_SINTER_DEPTH (100) commands.
#
# Sorted sets and streams may not be in this build: their rows are skipped
# with a note when ZADD / XADD is an unknown command.
#
# While the Ferrite runs go, :erlang.system_monitor watches for long
# schedules (> 1 ms); the bench prints the ones inside Ferrite.Native.
# The bench starts its own redis-server on a free loopback port and stops it
# by its pid.

Code.require_file("support/redis_server.exs", __DIR__)

defmodule Coll do
  def env_int(name, default) do
    case System.get_env(name) do
      nil -> default
      s -> String.to_integer(s)
    end
  end

  def depth, do: env_int("COLL_DEPTH", 1_000)
  def pipelines, do: env_int("COLL_PIPELINES", 50)
  def runs, do: env_int("COLL_RUNS", 5)
  def big, do: env_int("COLL_BIG", 1_000_000)
  def set_size, do: env_int("COLL_SET", 100_000)
  def sinter_depth, do: env_int("COLL_SINTER_DEPTH", 100)

  def median(samples) do
    sorted = Enum.sort(samples)
    Enum.at(sorted, div(length(sorted), 2))
  end

  # Runs `batches` (a list of pipelines, built before timing) through `run`
  # and returns ns per op, where each pipeline holds `ops` ops.
  def time(batches, ops, run) do
    t0 = System.monotonic_time(:nanosecond)
    Enum.each(batches, run)
    (System.monotonic_time(:nanosecond) - t0) / (length(batches) * ops)
  end

  # `make.(run_index)` builds the pipelines of one run: fresh arguments per
  # run, so that adds add and pops pop.
  def measure(make, ops, run) do
    median(for r <- 1..runs(), do: time(make.(r), ops, run))
  end

  def ferrite_run(conn) do
    fn cmds ->
      {:ok, replies} = Ferrite.pipeline(conn, cmds)
      check!(replies)
    end
  end

  def eredis_run(client) do
    fn cmds ->
      replies = :eredis.qp(client, cmds, 120_000)
      true = is_list(replies)

      for r <- replies do
        case r do
          {:ok, _} -> :ok
          other -> raise "eredis: #{inspect(other)}"
        end
      end
    end
  end

  defp check!(replies) do
    for %Ferrite.ResponseError{} = e <- replies, do: raise(e)
    :ok
  end

  # Fills `key` on both sides with `cmd` pipelines built by `chunk_cmd`
  # from chunks of 1,000 items.
  def fill(conn, client, items, chunk_cmd) do
    items
    |> Stream.chunk_every(1_000)
    |> Stream.map(chunk_cmd)
    |> Stream.chunk_every(100)
    |> Enum.each(fn cmds ->
      ferrite_run(conn).(cmds)
      eredis_run(client).(cmds)
    end)
  end

  def known?(conn, argv) do
    case Ferrite.command(conn, argv) do
      {:error, %Ferrite.ResponseError{message: "ERR unknown command" <> _}} -> false
      _ -> true
    end
  end

  def fmt(x) when is_float(x), do: :erlang.float_to_binary(x, decimals: 1)
  def fmt(x), do: to_string(x)
end

depth = Coll.depth()
p = Coll.pipelines()
big = Coll.big()
set_size = Coll.set_size()
b = &Integer.to_string/1

IO.puts(
  "collections bench: pipelines of #{depth}, #{p} per run, #{Coll.runs()} runs (median); " <>
    "zset #{big} members, sets #{set_size}"
)

{:ok, conn} = Ferrite.start_link(embedded: true)
redis = Bench.RedisServer.start("collections-bench")
{port, _, _} = redis
client = Bench.RedisServer.connect_eredis(port)

# Each case: {name, ops per pipeline, make (run -> pipelines), setup or nil,
# skip note or nil}.
pairs = div(depth, 2)

cases = [
  {"LPUSH+LPOP", pairs,
   fn r ->
     for i <- 1..p do
       k = "list:#{rem(i, 16)}"
       for j <- 1..pairs, c <- [["LPUSH", k, "v#{r}:#{j}"], ["LPOP", k]], do: c
     end
   end, nil, nil},
  {"HSET+HGET", pairs,
   fn r ->
     for i <- 1..p do
       k = "hash:#{rem(i, 16)}"

       for j <- 1..pairs,
           f = "f#{j}",
           c <- [["HSET", k, f, "v#{r}"], ["HGET", k, f]],
           do: c
     end
   end, nil, nil},
  {"SADD+SISMEMBER", pairs,
   fn r ->
     for i <- 1..p do
       k = "set:#{rem(i, 16)}"

       for j <- 1..pairs,
           m = "m#{rem(j * 7 + r, 5_000)}",
           c <- [["SADD", k, m], ["SISMEMBER", k, m]],
           do: c
     end
   end, nil, nil},
  {"ZADD (#{big} members)", depth,
   fn r ->
     for i <- 1..p do
       for j <- 1..depth do
         n = (r * p + i) * depth + j
         ["ZADD", "zbig", b.(:rand.uniform(big)), "new:#{n}"]
       end
     end
   end,
   fn ->
     Coll.fill(conn, client, 1..big, fn chunk ->
       ["ZADD", "zbig" | Enum.flat_map(chunk, fn n -> [b.(:rand.uniform(big)), "m:#{n}"] end)]
     end)
   end, if(Coll.known?(conn, ["ZCARD", "zbig"]), do: nil, else: "ZADD unknown (branch zsets)")},
  {"ZRANGEBYSCORE LIMIT 0 10", depth,
   fn _r ->
     for _ <- 1..p do
       for _ <- 1..depth do
         ["ZRANGEBYSCORE", "zbig", "(" <> b.(:rand.uniform(big)), "+inf", "LIMIT", "0", "10"]
       end
     end
   end, nil,
   if(Coll.known?(conn, ["ZCARD", "zbig"]), do: nil, else: "ZRANGEBYSCORE unknown (branch zsets)")},
  {"SINTER 2 x #{set_size}", Coll.sinter_depth(),
   fn _r ->
     for _ <- 1..max(div(p, 10), 1),
         do: List.duplicate(["SINTER", "sa", "sb"], Coll.sinter_depth())
   end,
   fn ->
     # 1% overlap: the reply stays small, the work is the lookups.
     overlap = div(set_size, 100)

     Coll.fill(conn, client, 1..set_size, fn chunk ->
       ["SADD", "sa" | Enum.map(chunk, &"e#{&1}")]
     end)

     Coll.fill(conn, client, 1..set_size, fn chunk ->
       ["SADD", "sb" | Enum.map(chunk, &"e#{&1 + set_size - overlap}")]
     end)
   end, nil},
  {"XADD+XREADGROUP", pairs,
   fn _r ->
     for _ <- 1..p do
       for _ <- 1..pairs,
           c <- [
             ["XADD", "stream", "*", "field", "value"],
             ["XREADGROUP", "GROUP", "g", "c1", "COUNT", "1", "STREAMS", "stream", ">"]
           ],
           do: c
     end
   end,
   fn ->
     cmd = ["XGROUP", "CREATE", "stream", "g", "$", "MKSTREAM"]
     {:ok, "OK"} = Ferrite.command(conn, cmd)
     {:ok, "OK"} = :eredis.q(client, cmd)
   end, if(Coll.known?(conn, ["XLEN", "stream"]), do: nil, else: "XADD unknown (branch zsets)")}
]

rows =
  try do
    for {name, ops, make, setup, skip} <- cases do
      if skip do
        {name, :skip, skip}
      else
        if setup, do: setup.()
        Bench.LongSchedules.watch(1)
        f = Coll.measure(make, ops, Coll.ferrite_run(conn))
        long = Bench.LongSchedules.stop()
        r = Coll.measure(make, ops, Coll.eredis_run(client))
        {name, f, r, long}
      end
    end
  after
    Bench.RedisServer.stop(redis)
  end

IO.puts(
  String.pad_trailing("op", 28) <>
    String.pad_leading("ferrite ns/op", 15) <>
    String.pad_leading("redis ns/op", 13) <>
    String.pad_leading("redis/ferrite", 15) <>
    String.pad_leading("long sched", 12)
)

for row <- rows do
  case row do
    {name, :skip, note} ->
      IO.puts(String.pad_trailing(name, 28) <> "  skipped: " <> note)

    {name, f, r, long} ->
      IO.puts(
        String.pad_trailing(name, 28) <>
          String.pad_leading(Coll.fmt(f), 15) <>
          String.pad_leading(Coll.fmt(r), 13) <>
          String.pad_leading(Coll.fmt(r / f) <> "x", 15) <>
          String.pad_leading("#{length(Bench.LongSchedules.ferrite(long))}/#{length(long)}", 12)
      )
  end
end

all_long =
  Enum.flat_map(rows, fn
    {_, _, _, long} -> long
    _ -> []
  end)

ferrite_long = Bench.LongSchedules.ferrite(all_long)

IO.puts(
  "long schedules (> 1 ms) during Ferrite runs: #{length(all_long)}, in Ferrite.Native: #{length(ferrite_long)}"
)

for info <- Enum.take(ferrite_long, 10), do: IO.puts("  " <> inspect(info))
IO.puts("goal: redis/ferrite >= 2x for every op; no long schedule in Ferrite.Native")
Ferrite.stop(conn)
