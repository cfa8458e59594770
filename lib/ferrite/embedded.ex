defmodule Ferrite.Embedded do
  @moduledoc """
  The embedded backend: the Ferrite engine inside this VM, through the NIF.

  A conn is a small process (this module's GenServer) that owns one engine
  session. It does no work on the call path: `Ferrite.command/2` calls the
  NIF directly in the caller's process, and the NIF finds the session from
  the conn's pid or registered name. The process exists so that a conn can
  be named, linked, supervised and stopped like any other; when it stops or
  dies, the session is closed (the NIF monitors it), and later calls return
  `{:error, %Ferrite.ConnectionError{}}`.

  Options (under `Ferrite.start_link/1`):

    * `embedded: true` - a private in-memory database, freed with the conn.
    * `embedded: [name: store]` - opens or joins the named store `store` (an
      atom or a binary): every conn on it sees one keyspace. The store is
      closed, and its memory freed, when its last conn stops.
    * `name:` - registers the conn process under this name.
    * `database:` - the logical database (0..15) selected at start.

  Options of a durable database (under `embedded:`, with or without `name:`;
  see the "Durability" section of the README):

    * `path:` - the data directory (created if missing): the database is
      loaded from it and every write is logged to it. Without `path:` the
      database lives in memory only.
    * `appendfsync:` - `:always` (a write is acknowledged after it reached
      the disk), `:everysec` (the default: at most about a second of writes
      can be lost on power loss) or `:no` (the OS decides when).
    * `repair:` - `true` cuts a damaged log back to its last good command
      instead of refusing to open.
    * `rewrite_min_size:` (bytes, default 64 MiB) and `rewrite_percentage:`
      (default 100; 0 turns automatic rewrites off): the log is compacted
      into a new snapshot when it grew past both thresholds.

  Memory ceiling (with or without `path:`): `maxmemory:` (bytes, or a
  string such as `"64mb"`) and `maxmemory_policy:` (`"noeviction"`,
  `"allkeys-lru"`, `:allkeys_lru`, ...), as CONFIG SET takes them.

  On a named store these options apply when the store is opened; a conn
  joining an open store gets it as it is (and with `path:`, the path must be
  the store's).

  Opening a durable database returns:

    * `{:error, %Ferrite.ConnectionError{reason: :locked}}` when the
      directory is already open, in this VM or in another OS process;
    * `{:error, %Ferrite.CorruptionError{file: f, offset: o}}` when a file
      is damaged (nothing is loaded);
    * `{:error, %Ferrite.ConnectionError{reason: :io}}` when the directory
      cannot be read or written.

  A torn final command (the usual state after a power loss) is cut back and
  logged with `Logger.warning/1`. Stopping the conn (the last conn of a
  named store) closes the database: the log is flushed and the directory
  released at once.
  """
  use GenServer

  alias Ferrite.{Args, ConnectionError, CorruptionError, Native}

  require Logger

  @doc """
  Starts an embedded conn. See the module doc for the options; returns
  `{:ok, pid}`.
  """
  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(opts) do
    with {:ok, spec} <- validate(opts) do
      # Started unlinked and then linked, so that a refused open (a locked
      # or damaged directory) is returned as `{:error, e}` without an exit
      # signal to the caller.
      started =
        case Keyword.get(opts, :name) do
          nil -> GenServer.start(__MODULE__, spec)
          name -> GenServer.start(__MODULE__, spec, name: name)
        end

      with {:ok, pid} <- started do
        Process.link(pid)
        {:ok, pid}
      end
    end
  end

  defp validate(opts) do
    db = Keyword.get(opts, :database, 0)

    store =
      case Keyword.get(opts, :embedded, true) do
        true -> {:ok, nil}
        kw when is_list(kw) -> store_name(Keyword.get(kw, :name))
        other -> {:error, "invalid :embedded option: #{inspect(other)}"}
      end

    kw = if is_list(opts[:embedded]), do: opts[:embedded], else: []

    cond do
      not (is_integer(db) and db in 0..15) ->
        {:error, %ConnectionError{message: "invalid :database #{inspect(db)} (0..15)"}}

      match?({:error, _}, store) ->
        {:error, %ConnectionError{message: elem(store, 1)}}

      true ->
        case durable_options(kw) do
          {:ok, durable} -> {:ok, %{store: elem(store, 1), db: db, durable: durable}}
          {:error, msg} -> {:error, %ConnectionError{message: msg}}
        end
    end
  end

  @durable_keys [
    :path,
    :appendfsync,
    :repair,
    :rewrite_min_size,
    :rewrite_percentage,
    :maxmemory,
    :maxmemory_policy
  ]

  # nil: a plain in-memory engine (`Native.open/3`); otherwise the
  # arguments of `Native.open_with/8` after owner, store and db.
  defp durable_options(kw) do
    case Keyword.keys(kw) -- [:name | @durable_keys] do
      [] ->
        if Enum.any?(@durable_keys, &Keyword.has_key?(kw, &1)), do: durable(kw), else: {:ok, nil}

      unknown ->
        {:error, "unknown :embedded options: #{inspect(unknown)}"}
    end
  end

  defp durable(kw) do
    with {:ok, path} <- opt(kw, :path, nil, &path/1),
         {:ok, fsync} <- opt(kw, :appendfsync, "everysec", &fsync/1),
         {:ok, repair} <- opt(kw, :repair, false, &bool/1),
         {:ok, min} <- opt(kw, :rewrite_min_size, 64 * 1024 * 1024, &non_neg/1),
         {:ok, pct} <- opt(kw, :rewrite_percentage, 100, &non_neg/1),
         {:ok, mem} <- opt(kw, :maxmemory, nil, &memory/1),
         {:ok, policy} <- opt(kw, :maxmemory_policy, nil, &policy/1) do
      config =
        [{"maxmemory", mem}, {"maxmemory-policy", policy}]
        |> Enum.reject(fn {_, v} -> is_nil(v) end)

      {:ok, {path, fsync, repair, {min, pct}, config}}
    end
  end

  defp opt(kw, key, default, check) do
    case Keyword.fetch(kw, key) do
      :error ->
        {:ok, default}

      {:ok, value} ->
        case check.(value) do
          {:ok, v} -> {:ok, v}
          :error -> {:error, "invalid :#{key} option: #{inspect(value)}"}
        end
    end
  end

  defp path(p) when is_binary(p) and p != "", do: {:ok, Path.expand(p)}
  defp path(_), do: :error

  defp fsync(p) when p in [:always, :everysec, :no], do: {:ok, Atom.to_string(p)}
  defp fsync(_), do: :error

  defp bool(b) when is_boolean(b), do: {:ok, b}
  defp bool(_), do: :error

  defp non_neg(n) when is_integer(n) and n >= 0, do: {:ok, n}
  defp non_neg(_), do: :error

  defp memory(n) when is_integer(n) and n >= 0, do: {:ok, Integer.to_string(n)}
  defp memory(s) when is_binary(s), do: {:ok, s}
  defp memory(_), do: :error

  defp policy(p) when is_atom(p) and not is_nil(p),
    do: {:ok, p |> Atom.to_string() |> String.replace("_", "-")}

  defp policy(p) when is_binary(p), do: {:ok, p}
  defp policy(_), do: :error

  defp store_name(nil), do: {:ok, nil}
  defp store_name(name) when is_binary(name), do: {:ok, name}
  defp store_name(name) when is_atom(name), do: {:ok, Atom.to_string(name)}
  defp store_name(name), do: {:error, "invalid store name: #{inspect(name)}"}

  @doc """
  Moves the clock of the conn's database forward by `ms` milliseconds (test
  mode): keys expire as if that time had passed, without sleeping. On a
  named store this moves the store's clock, for every conn on it.
  """
  @spec fast_forward(Ferrite.conn(), non_neg_integer()) :: :ok | {:error, Exception.t()}
  def fast_forward(conn, ms) when is_integer(ms) and ms >= 0 do
    case Native.fast_forward(conn, ms) do
      :ok -> :ok
      marker -> {:error, connection_error(marker, conn)}
    end
  end

  defdelegate listen(conn, opts \\ []), to: Ferrite.Embedded.Listener
  defdelegate unlisten(port), to: Ferrite.Embedded.Listener

  @doc "Number of open conns on the named store `name` (0 when it is closed)."
  @spec store_conns(atom() | binary()) :: non_neg_integer()
  def store_conns(name) when is_atom(name), do: Native.store_conns(Atom.to_string(name))
  def store_conns(name) when is_binary(name), do: Native.store_conns(name)

  # The call path. `Ferrite.command/2` calls the NIF and lands here for
  # anything but a plain reply.

  @doc false
  @spec continue_command(term(), Ferrite.conn(), [term()]) :: {:ok, term()} | {:error, term()}
  def continue_command(result, conn, argv) do
    case result do
      {:ok, _} = ok ->
        ok

      {:error, _} = err ->
        err

      :dirty ->
        continue_command(Native.command_dirty(conn, argv), conn, argv)

      :dirty_io ->
        continue_command(Native.command_dirty_io(conn, argv), conn, argv)

      # Continue with the normalized argv: a later :dirty must not see the
      # raw terms again (that looped :convert -> :dirty -> :convert).
      :convert ->
        argv = Args.normalize!(argv)
        continue_command(Native.command(conn, argv), conn, argv)

      {:blocked, token, waiter} ->
        await_blocked(conn, token, waiter, argv)

      :noconn ->
        other_backend(conn, :command, argv)

      :closed ->
        {:error, connection_error(:closed, conn)}
    end
  end

  @doc false
  @spec continue_pipeline(term(), Ferrite.conn(), [[term()]]) :: {:ok, list()} | {:error, term()}
  def continue_pipeline(result, conn, cmds) do
    case result do
      {:ok, _} = ok ->
        ok

      {:blocked_pipeline, replies} ->
        {:ok, Enum.zip_with(replies, cmds, &await_element(conn, &1, &2))}

      :dirty ->
        continue_pipeline(Native.pipeline_dirty(conn, cmds), conn, cmds)

      :dirty_io ->
        continue_pipeline(Native.pipeline_dirty_io(conn, cmds), conn, cmds)

      :convert ->
        cmds = normalize_pipeline!(cmds)
        continue_pipeline(Native.pipeline(conn, cmds), conn, cmds)

      :noconn ->
        other_backend(conn, :pipeline, cmds)

      :closed ->
        {:error, connection_error(:closed, conn)}
    end
  end

  # A blocking command inside a pipeline: wait for its result in place.
  # (Unlike Redis, the commands after it have already run.)
  defp await_element(conn, {:blocked, token, waiter}, argv) do
    case await_blocked(conn, token, waiter, argv) do
      {:ok, reply} -> reply
      {:error, e} -> e
    end
  end

  defp await_element(_conn, reply, _argv), do: reply

  defp normalize_pipeline!(cmds) when is_list(cmds), do: Enum.map(cmds, &Args.normalize!/1)

  defp normalize_pipeline!(cmds) do
    raise ArgumentError, "a pipeline must be a list of commands, got: #{inspect(cmds)}"
  end

  @doc """
  Waits for the result of a blocking command that registered a waiter
  (`{:blocked, token, waiter}` from the NIF): see `Ferrite.Embedded.Blocking`.
  """
  @spec await_blocked(Ferrite.conn(), non_neg_integer(), reference(), [term()]) ::
          {:ok, term()} | {:error, term()}
  def await_blocked(conn, token, waiter, argv),
    do: Ferrite.Embedded.Blocking.await(conn, token, waiter, argv)

  defp other_backend(conn, fun, args) do
    case Ferrite.Backend.lookup(conn) do
      {pid, module} ->
        args = if fun == :pipeline, do: normalize_pipeline!(args), else: Args.normalize!(args)

        apply(module, fun, [pid, args, []])

      nil ->
        {:error, connection_error(:noconn, conn)}
    end
  end

  defp connection_error(:closed, conn),
    do: %ConnectionError{message: "connection closed: #{inspect(conn)}"}

  defp connection_error(_, conn),
    do: %ConnectionError{message: "no open connection: #{inspect(conn)}"}

  # The conn process.

  @impl true
  def init(%{store: store, db: db, durable: nil}) do
    Process.flag(:trap_exit, true)

    case Native.open(self(), store, db) do
      {:ok, ref} -> {:ok, %{ref: ref, durable: false}}
      {:error, e} -> {:stop, e}
    end
  end

  def init(%{store: store, db: db, durable: {path, fsync, repair, rewrite, config}}) do
    Process.flag(:trap_exit, true)

    case Native.open_with(self(), store, db, path, fsync, repair, rewrite, config) do
      {:ok, ref, warnings} ->
        Enum.each(warnings, &Logger.warning("ferrite: " <> &1))
        {:ok, %{ref: ref, durable: true}}

      {:error, reason} ->
        {:stop, open_error(reason)}
    end
  end

  defp open_error({:corrupt, file, offset, message}),
    do: %CorruptionError{file: file, offset: offset, message: message}

  defp open_error({:locked, message}), do: %ConnectionError{message: message, reason: :locked}
  defp open_error({:io, message}), do: %ConnectionError{message: message, reason: :io}
  defp open_error({_, message}), do: %ConnectionError{message: message}

  @impl true
  def handle_info({:EXIT, _pid, reason}, state), do: {:stop, reason, state}
  def handle_info(_msg, state), do: {:noreply, state}

  @impl true
  def terminate(_reason, %{ref: ref, durable: true}), do: Native.close_dirty(ref)
  def terminate(_reason, %{ref: ref}), do: Native.close(ref)
end
