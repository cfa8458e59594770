# The child OS process of the kill -9 tests (test/ferrite/crash_test.exs).
#
#     elixir -pa <ebin of ferrite> test/support/crash_writer.exs DIR MODE
#
# Opens the durable database in DIR with `appendfsync: :always` and writes
# forever, printing one line per acknowledged write, until it is killed:
#
#   * `ready` once the database is open;
#   * `ack I` after `SET k:I <value of I>` returned `:ok`;
#   * `incr N` after `INCR counter` returned N (every tenth write);
#   * `rewrite` after a BGREWRITEAOF was accepted (MODE `rewrite` only).
#
# MODE `rewrite` first loads 20,000 keys (so that a rewrite takes a while),
# then asks for a rewrite every 25 writes (refused while one runs), so that the kill most likely
# lands while one runs. A line is printed only after the write returned,
# so every printed write must survive the kill.

[dir, mode] = System.argv()
{:ok, _} = Application.ensure_all_started(:ferrite)

value = fn i -> "value-#{i}-" <> String.duplicate("v", rem(i, 50)) end

opts =
  case mode do
    "plain" -> [path: dir, appendfsync: :always]
    "rewrite" -> [path: dir, appendfsync: :always, rewrite_percentage: 0]
  end

{:ok, conn} = Ferrite.start_link(embedded: opts)

if mode == "rewrite" do
  for batch <- 0..19 do
    pairs = Enum.flat_map(0..999, fn j -> ["fill:#{batch}:#{j}", String.duplicate("f", 40)] end)
    {:ok, "OK"} = Ferrite.command(conn, ["MSET" | pairs])
  end
end

IO.puts("ready")

Enum.each(Stream.iterate(0, &(&1 + 1)), fn i ->
  :ok = Ferrite.set(conn, "k:#{i}", value.(i))
  IO.puts("ack #{i}")

  if rem(i, 10) == 9 do
    {:ok, n} = Ferrite.incr(conn, "counter")
    IO.puts("incr #{n}")
  end

  if mode == "rewrite" and rem(i, 25) == 0 do
    # Refused while one runs; counted only when one was started.
    case Ferrite.command(conn, ["BGREWRITEAOF"]) do
      {:ok, _} -> IO.puts("rewrite")
      {:error, %Ferrite.ResponseError{message: "ERR Background append only" <> _}} -> :ok
    end
  end
end)
