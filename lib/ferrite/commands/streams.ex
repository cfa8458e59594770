defmodule Ferrite.Commands.Streams do
  @moduledoc """
  Stream commands (`XADD`, `XRANGE`, `XREADGROUP`, ...). Call them through
  `Ferrite` (`Ferrite.xadd/4`, ...).

  An entry comes back as `{id, %{field => value}}`; a read of several
  streams as `[{stream, [entry]}]`, in the order the server answered.
  A blocking read (`block: ms`) waits in the calling process without
  holding a scheduler; `{:ok, nil}` means it timed out.
  """

  import Ferrite, only: [command: 2]
  import Ferrite.Commands.Shape

  @typedoc "A stream entry id, e.g. `\"1700000000000-0\"`."
  @type id :: binary()

  @typedoc "An entry: its id and its fields."
  @type entry :: {id(), %{binary() => binary()}}

  @typedoc "Options of `xread/2` and `xreadgroup/4`."
  @type read_opt ::
          {:streams, [Ferrite.key()]}
          | {:ids, [id() | binary()]}
          | {:count, pos_integer()}
          | {:block, non_neg_integer()}
          | {:noack, boolean()}

  @doc """
  `XADD key id field value ...`: appends an entry and returns `{:ok, id}`.
  `id` is `"*"` for an id generated from the clock. Fields are a map or a
  list of `{field, value}`.

      {:ok, id} = Ferrite.xadd(conn, "events", "*", %{type: "click"})

  Options: `maxlen: n` / `minid: id` trim (exactly, or with
  `approx: true` as `~`), `nomkstream: true` returns `{:ok, nil}` instead
  of creating the stream.
  """
  @spec xadd(Ferrite.conn(), Ferrite.key(), id(), map() | [{term(), term()}], keyword()) ::
          {:ok, id() | nil} | Ferrite.error()
  def xadd(conn, key, id, fields, opts \\ []) do
    trim =
      Enum.flat_map(opts, fn
        {:nomkstream, true} -> ["NOMKSTREAM"]
        {:nomkstream, false} -> []
        {:maxlen, n} -> ["MAXLEN", approx(opts), n]
        {:minid, m} -> ["MINID", approx(opts), m]
        {:approx, _} -> []
        other -> raise ArgumentError, "unknown XADD option: #{inspect(other)}"
      end)

    command(conn, ["XADD", key | trim] ++ [id | Ferrite.Commands.Strings.flatten_pairs(fields)])
  end

  defp approx(opts), do: if(Keyword.get(opts, :approx, false), do: "~", else: "=")

  @doc """
  `XRANGE key start end [COUNT n]`: `{:ok, [entry]}`, oldest first. `"-"`
  and `"+"` are the ends of the stream; `"(id"` excludes `id`.
  """
  @spec xrange(Ferrite.conn(), Ferrite.key(), id(), id(), [{:count, pos_integer()}]) ::
          {:ok, [entry()]} | Ferrite.error()
  def xrange(conn, key, start \\ "-", stop \\ "+", opts \\ []) do
    count = if n = opts[:count], do: ["COUNT", n], else: []

    case command(conn, ["XRANGE", key, start, stop | count]) do
      {:ok, nil} -> {:ok, []}
      {:ok, entries} -> {:ok, entries(entries)}
      other -> other
    end
  end

  @doc """
  `XREVRANGE key end start [COUNT n]`: `{:ok, [entry]}`, newest first
  (note: `end` comes first; defaults `"+"` and `"-"`).
  """
  @spec xrevrange(Ferrite.conn(), Ferrite.key(), id(), id(), [{:count, pos_integer()}]) ::
          {:ok, [entry()]} | Ferrite.error()
  def xrevrange(conn, key, stop \\ "+", start \\ "-", opts \\ []) do
    count = if n = opts[:count], do: ["COUNT", n], else: []

    case command(conn, ["XREVRANGE", key, stop, start | count]) do
      {:ok, entries} when is_list(entries) -> {:ok, entries(entries)}
      other -> other
    end
  end

  @doc "`XDEL key id ...`: `{:ok, deleted}`. Takes one id or a list."
  @spec xdel(Ferrite.conn(), Ferrite.key(), id() | [id()]) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def xdel(conn, key, ids), do: command(conn, ["XDEL", key | List.wrap(ids)])

  @doc """
  `XTRIM key MAXLEN|MINID [=|~] threshold [LIMIT n]`: `{:ok, removed}`.
  Options: `maxlen: n` or `minid: id` (one is required), `approx: true`
  for `~`, `limit: n` (with `approx`).
  """
  @spec xtrim(Ferrite.conn(), Ferrite.key(), keyword()) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def xtrim(conn, key, opts) do
    args =
      Enum.flat_map(opts, fn
        {:maxlen, n} -> ["MAXLEN", approx(opts), n]
        {:minid, m} -> ["MINID", approx(opts), m]
        {:limit, n} -> ["LIMIT", n]
        {:approx, _} -> []
        other -> raise ArgumentError, "unknown XTRIM option: #{inspect(other)}"
      end)

    command(conn, ["XTRIM", key | args])
  end

  @doc """
  `XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]`: `:ok`. Options:
  `entriesadded:`, `maxdeletedid:`.
  """
  @spec xsetid(Ferrite.conn(), Ferrite.key(), id(), keyword()) :: :ok | Ferrite.error()
  def xsetid(conn, key, id, opts \\ []) do
    extra =
      Enum.flat_map(opts, fn
        {:entriesadded, n} -> ["ENTRIESADDED", n]
        {:maxdeletedid, m} -> ["MAXDELETEDID", m]
        other -> raise ArgumentError, "unknown XSETID option: #{inspect(other)}"
      end)

    ok_status(command(conn, ["XSETID", key, id | extra]))
  end

  @doc """
  `XINFO STREAM key`: `{:ok, info}`, a map keyed by Redis's field names
  (`"length"`, `"last-generated-id"`, `"entries-added"`, `"groups"`, ...)
  with `"first-entry"` and `"last-entry"` as entries (or nil).
  """
  @spec xinfo_stream(Ferrite.conn(), Ferrite.key()) ::
          {:ok, %{binary() => term()}} | Ferrite.error()
  def xinfo_stream(conn, key) do
    case command(conn, ["XINFO", "STREAM", key]) do
      {:ok, info} when is_list(info) or is_map(info) ->
        {:ok, info |> kv() |> Map.new(fn {k, v} -> {k, info_value(k, v)} end)}

      other ->
        other
    end
  end

  defp kv(map) when is_map(map), do: Map.to_list(map)
  defp kv([k, v | rest]), do: [{k, v} | kv(rest)]
  defp kv([]), do: []

  defp info_value(k, nil) when k in ["first-entry", "last-entry"], do: nil
  defp info_value(k, e) when k in ["first-entry", "last-entry"], do: entry(e)
  defp info_value(_k, v), do: v

  @typedoc "Options of `xclaim/7`."
  @type claim_opt ::
          {:idle, non_neg_integer()}
          | {:time, non_neg_integer()}
          | {:retrycount, non_neg_integer()}
          | {:force, boolean()}
          | {:justid, boolean()}
          | {:lastid, id()}

  @doc """
  `XCLAIM key group consumer min-idle-ms id ... [IDLE ms] [TIME ms]
  [RETRYCOUNT n] [FORCE] [JUSTID] [LASTID id]`: gives `consumer` the
  pending entries idle for at least `min_idle_ms`; `{:ok, [entry]}` (with
  `justid: true`, `{:ok, [id]}`). Entries deleted from the stream are
  dropped from the pending list and not returned.
  """
  @spec xclaim(
          Ferrite.conn(),
          Ferrite.key(),
          binary(),
          binary(),
          non_neg_integer(),
          id() | [id()],
          [
            claim_opt()
          ]
        ) :: {:ok, [entry()] | [id()]} | Ferrite.error()
  def xclaim(conn, key, group, consumer, min_idle_ms, ids, opts \\ []) do
    extra =
      Enum.flat_map(opts, fn
        {k, v} when k in [:idle, :time, :retrycount, :lastid] ->
          [k |> Atom.to_string() |> String.upcase(), v]

        {k, true} when k in [:force, :justid] ->
          [k |> Atom.to_string() |> String.upcase()]

        {k, false} when k in [:force, :justid] ->
          []

        other ->
          raise ArgumentError, "unknown XCLAIM option: #{inspect(other)}"
      end)

    argv = ["XCLAIM", key, group, consumer, min_idle_ms | List.wrap(ids)] ++ extra

    case command(conn, argv) do
      {:ok, list} when is_list(list) ->
        if opts[:justid], do: {:ok, list}, else: {:ok, entries(list)}

      other ->
        other
    end
  end

  @doc """
  `XAUTOCLAIM key group consumer min-idle-ms start [COUNT n] [JUSTID]`:
  claims pending entries idle for at least `min_idle_ms`, scanning from
  `start`; `{:ok, {next_start, [entry] | [id], deleted_ids}}`. The scan is
  over when `next_start` is `"0-0"`. Options: `count:`, `justid:`.
  """
  @spec xautoclaim(
          Ferrite.conn(),
          Ferrite.key(),
          binary(),
          binary(),
          non_neg_integer(),
          id(),
          keyword()
        ) ::
          {:ok, {id(), [entry()] | [id()], [id()]}} | Ferrite.error()
  def xautoclaim(conn, key, group, consumer, min_idle_ms, start, opts \\ []) do
    extra =
      Enum.flat_map(opts, fn
        {:count, n} -> ["COUNT", n]
        {:justid, true} -> ["JUSTID"]
        {:justid, false} -> []
        other -> raise ArgumentError, "unknown XAUTOCLAIM option: #{inspect(other)}"
      end)

    case command(conn, ["XAUTOCLAIM", key, group, consumer, min_idle_ms, start | extra]) do
      {:ok, [next, claimed, deleted]} ->
        claimed = if opts[:justid], do: claimed, else: entries(claimed)
        {:ok, {next, claimed, deleted}}

      other ->
        other
    end
  end

  @doc "`XLEN key`: `{:ok, length}` (0 when missing)."
  @spec xlen(Ferrite.conn(), Ferrite.key()) :: {:ok, non_neg_integer()} | Ferrite.error()
  def xlen(conn, key), do: command(conn, ["XLEN", key])

  @doc """
  `XREAD [COUNT n] [BLOCK ms] STREAMS key ... id ...`: entries after the
  given ids (`"$"`: only entries added from now on).

      {:ok, [{"events", [{id, fields}]}]} =
        Ferrite.xread(conn, streams: ["events"], ids: ["0"], count: 10)

  Returns `{:ok, nil}` when nothing arrived (or the block timed out).
  """
  @spec xread(Ferrite.conn(), [read_opt()]) ::
          {:ok, [{binary(), [entry()]}] | nil} | Ferrite.error()
  def xread(conn, opts) do
    read(conn, ["XREAD" | read_opts(opts)])
  end

  @doc """
  `XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS key
  ... id ...`: `">"` reads entries never delivered to the group (and adds
  them to the consumer's pending list); an id reads the consumer's own
  pending entries after it.

      {:ok, streams} = Ferrite.xreadgroup(conn, "processors", "worker-1",
        streams: ["events"], ids: [">"], count: 10, block: 5000)

  Returns `{:ok, nil}` when nothing arrived (or the block timed out).
  """
  @spec xreadgroup(Ferrite.conn(), binary(), binary(), [read_opt()]) ::
          {:ok, [{binary(), [entry()]}] | nil} | Ferrite.error()
  def xreadgroup(conn, group, consumer, opts) do
    read(conn, ["XREADGROUP", "GROUP", group, consumer | read_opts(opts)])
  end

  defp read_opts(opts) do
    streams = Keyword.fetch!(opts, :streams)
    ids = Keyword.get_lazy(opts, :ids, fn -> Enum.map(streams, fn _ -> "$" end) end)

    if length(streams) != length(ids),
      do: raise(ArgumentError, ":streams and :ids must have the same length")

    head =
      Enum.flat_map(opts, fn
        {:count, n} -> ["COUNT", n]
        {:block, ms} -> ["BLOCK", ms]
        {:noack, true} -> ["NOACK"]
        {:noack, false} -> []
        {k, _} when k in [:streams, :ids] -> []
        other -> raise ArgumentError, "unknown option: #{inspect(other)}"
      end)

    head ++ ["STREAMS" | streams] ++ ids
  end

  defp read(conn, argv) do
    case command(conn, argv) do
      {:ok, nil} ->
        {:ok, nil}

      {:ok, streams} when is_list(streams) ->
        {:ok, Enum.map(streams, fn [name, es] -> {name, entries(es)} end)}

      {:ok, streams} when is_map(streams) ->
        {:ok, Enum.map(streams, fn {name, es} -> {name, entries(es)} end)}

      other ->
        other
    end
  end

  defp entries(list), do: Enum.map(list, &entry/1)

  defp entry([id, nil]), do: {id, nil}
  defp entry([id, fields]), do: {id, to_map(fields, %{})}

  defp to_map([f, v | rest], acc), do: to_map(rest, Map.put(acc, f, v))
  defp to_map([], acc), do: acc

  @doc """
  `XGROUP` subcommands:

    * `xgroup(conn, :create, key, group, id, mkstream: true, entriesread: n)` → `:ok`
    * `xgroup(conn, :setid, key, group, id)` → `:ok`
    * `xgroup(conn, :destroy, key, group)` → `{:ok, 0 | 1}`
    * `xgroup(conn, :createconsumer, key, group, consumer)` → `{:ok, 0 | 1}`
    * `xgroup(conn, :delconsumer, key, group, consumer)` → `{:ok, pending}`
  """
  @spec xgroup(Ferrite.conn(), atom(), Ferrite.key(), binary(), binary() | nil, keyword()) ::
          :ok | {:ok, non_neg_integer()} | Ferrite.error()
  def xgroup(conn, sub, key, group, arg \\ nil, opts \\ [])

  def xgroup(conn, :create, key, group, id, opts) do
    extra =
      Enum.flat_map(opts, fn
        {:mkstream, true} -> ["MKSTREAM"]
        {:mkstream, false} -> []
        {:entriesread, n} -> ["ENTRIESREAD", n]
        other -> raise ArgumentError, "unknown XGROUP CREATE option: #{inspect(other)}"
      end)

    ok_status(command(conn, ["XGROUP", "CREATE", key, group, id || "$" | extra]))
  end

  def xgroup(conn, :setid, key, group, id, _opts),
    do: ok_status(command(conn, ["XGROUP", "SETID", key, group, id]))

  def xgroup(conn, :destroy, key, group, nil, _opts),
    do: command(conn, ["XGROUP", "DESTROY", key, group])

  def xgroup(conn, sub, key, group, consumer, _opts) when sub in [:createconsumer, :delconsumer],
    do:
      command(conn, ["XGROUP", sub |> Atom.to_string() |> String.upcase(), key, group, consumer])

  @doc "`XACK key group id ...`: `{:ok, acknowledged}`. Takes one id or a list."
  @spec xack(Ferrite.conn(), Ferrite.key(), binary(), id() | [id()]) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def xack(conn, key, group, ids), do: command(conn, ["XACK", key, group | List.wrap(ids)])

  @doc """
  `XPENDING key group`: a summary,
  `{:ok, %{count: n, first: id | nil, last: id | nil, consumers: [{name, n}]}}`.

  With options (`start:`, `end:`, `count:` and optionally `consumer:`,
  `idle:` ms) the pending entries themselves:
  `{:ok, [{id, consumer, idle_ms, deliveries}]}`.
  """
  @spec xpending(Ferrite.conn(), Ferrite.key(), binary(), keyword()) ::
          {:ok, map() | [{id(), binary(), non_neg_integer(), non_neg_integer()}]}
          | Ferrite.error()
  def xpending(conn, key, group, opts \\ [])

  def xpending(conn, key, group, []) do
    case command(conn, ["XPENDING", key, group]) do
      {:ok, [n, first, last, consumers]} ->
        consumers = Enum.map(consumers || [], fn [name, c] -> {name, String.to_integer(c)} end)

        {:ok, %{count: n, first: first, last: last, consumers: consumers}}

      other ->
        other
    end
  end

  def xpending(conn, key, group, opts) do
    idle = if i = opts[:idle], do: ["IDLE", i], else: []

    range = [
      Keyword.get(opts, :start, "-"),
      Keyword.get(opts, :end, "+"),
      Keyword.get(opts, :count, 10)
    ]

    consumer = if c = opts[:consumer], do: [c], else: []

    case command(conn, ["XPENDING", key, group | idle] ++ range ++ consumer) do
      {:ok, list} -> {:ok, Enum.map(list, fn [id, c, idle_ms, n] -> {id, c, idle_ms, n} end)}
      other -> other
    end
  end
end
