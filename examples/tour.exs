# A tour of Ferrite Embedded: `make demo` (or `mix run examples/tour.exs`).
#
# Everything runs on in-memory embedded databases inside this VM: no server,
# no network. Each section is a list of lines; the tour runs each line and
# prints it with its result. Lines starting with `#` are printed as notes.
# Variables bound on one line are visible to the next ones.

defmodule Tour do
  def section(title, lines) do
    IO.puts(IO.ANSI.format([:bright, "\n== #{title} =="]))

    for line <- String.split(lines, "\n", trim: true) do
      step(String.trim(line))
    end
  end

  defp step("#" <> note), do: IO.puts(IO.ANSI.format([:faint, "  #" <> note]))

  defp step(code) do
    {result, binding} = Code.eval_string(code, Process.get(:tour_binding, []))
    Process.put(:tour_binding, binding)
    IO.puts("  " <> String.pad_trailing(code, 60) <> " #=> " <> inspect(result))
  end
end

Tour.section("Open a private in-memory database", ~S"""
{:ok, conn} = Ferrite.start_link(embedded: true)
""")

Tour.section("Strings", ~S"""
Ferrite.set(conn, "name", "Ferrite")
Ferrite.get(conn, "name")
Ferrite.get(conn, "missing")
Ferrite.strlen(conn, "name")
Ferrite.append(conn, "name", " Embedded")
Ferrite.getrange(conn, "name", 0, 6)
Ferrite.setnx(conn, "name", "other")
Ferrite.set(conn, "name", "other", nx: true)
Ferrite.set(conn, "name", "Ferrite", get: true)
""")

Tour.section("Counters", ~S"""
Ferrite.set(conn, "counter", 0)
Ferrite.incr(conn, "counter")
Ferrite.incrby(conn, "counter", 10)
Ferrite.decrby(conn, "counter", 3)
Ferrite.incrbyfloat(conn, "counter", 0.5)
""")

Tour.section("Batches", ~S"""
Ferrite.mset(conn, [{"k1", "v1"}, {"k2", "v2"}, {"k3", "v3"}])
Ferrite.mget(conn, ["k1", "k2", "nope"])
Ferrite.mset(conn, %{"a" => 1, "b" => 2})
Ferrite.exists(conn, ["a", "b", "zz"])
Ferrite.del(conn, ["a", "b"])
""")

Tour.section("Expiry, with a clock that tests can move", ~S"""
Ferrite.set(conn, "session", "token123", ex: 3600)
Ferrite.ttl(conn, "session")
# move this database's clock forward one hour, without sleeping
Ferrite.Embedded.fast_forward(conn, 3_600_000)
Ferrite.get(conn, "session")
Ferrite.ttl(conn, "session")
""")

Tour.section("Keys", ~S"""
Ferrite.keys(conn, "k*") |> then(fn {:ok, ks} -> {:ok, Enum.sort(ks)} end)
Ferrite.type(conn, "k1")
Ferrite.dbsize(conn)
""")

Tour.section("Raw commands and pipelines", ~S"""
Ferrite.command(conn, ["SET", "lock", "me", "NX", "PX", 30_000])
Ferrite.command(conn, ["PTTL", "lock"]) |> then(fn {:ok, ms} -> {:ok, ms > 29_000} end)
Ferrite.pipeline(conn, [["SET", "key1", "value1"], ["GET", "key1"], ["INCR", "key1"]])
""")

Tour.section("Errors are Redis's own, as exceptions", ~S"""
Ferrite.incr(conn, "name")
Ferrite.command(conn, ["SET", "k"])
Ferrite.command(conn, ["NOPE"])
Ferrite.set(conn, "k", "v", ex: 0)
""")

Tour.section("A named store shared by several conns and processes", ~S"""
{:ok, a} = Ferrite.start_link(embedded: [name: :shop])
{:ok, b} = Ferrite.start_link(embedded: [name: :shop], name: :shop_reader)
Ferrite.set(a, "greeting", "hello from a")
Ferrite.get(:shop_reader, "greeting")

# 100 processes increment one counter concurrently; each call runs in its caller
1..100 |> Enum.map(fn _ -> Task.async(fn -> for _ <- 1..100, do: Ferrite.incr(b, "visits") end) end) |> Task.await_many() |> length()

Ferrite.get(a, "visits")
Ferrite.Embedded.store_conns(:shop)
Ferrite.stop(a)
Ferrite.stop(b)
Ferrite.Embedded.store_conns(:shop)
""")

Tour.section("A stopped conn gives an error, never a crash", ~S"""
Ferrite.stop(conn)
Ferrite.get(conn, "name")
""")

Tour.section("Server", ~S"""
{:ok, info_conn} = Ferrite.start_link(embedded: true)
Ferrite.mset(info_conn, %{"x" => 1, "y" => 2})
Ferrite.command(info_conn, ["PING"])
Ferrite.command(info_conn, ["ECHO", "hi"])
Ferrite.command(info_conn, ["INFO", "keyspace"])
""")

IO.puts("\nDone.")
