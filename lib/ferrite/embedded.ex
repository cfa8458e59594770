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
  """
  use GenServer

  alias Ferrite.{Args, ConnectionError, Native}

  @doc """
  Starts an embedded conn. See the module doc for the options; returns
  `{:ok, pid}`.
  """
  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(opts) do
    with {:ok, spec} <- validate(opts) do
      case Keyword.get(opts, :name) do
        nil -> GenServer.start_link(__MODULE__, spec)
        name -> GenServer.start_link(__MODULE__, spec, name: name)
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

    cond do
      not (is_integer(db) and db in 0..15) ->
        {:error, %ConnectionError{message: "invalid :database #{inspect(db)} (0..15)"}}

      match?({:error, _}, store) ->
        {:error, %ConnectionError{message: elem(store, 1)}}

      true ->
        {:ok, %{store: elem(store, 1), db: db}}
    end
  end

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
  def init(%{store: store, db: db}) do
    Process.flag(:trap_exit, true)

    case Native.open(self(), store, db) do
      {:ok, ref} -> {:ok, %{ref: ref}}
      {:error, e} -> {:stop, e}
    end
  end

  @impl true
  def handle_info({:EXIT, _pid, reason}, state), do: {:stop, reason, state}
  def handle_info(_msg, state), do: {:noreply, state}

  @impl true
  def terminate(_reason, %{ref: ref}) do
    Native.close(ref)
  end
end
