defmodule Ferrite.Tx do
  @moduledoc """
  Transactions: `Ferrite.multi/2`, `Ferrite.watch/3` and `Ferrite.unwatch/1`
  are implemented here, and this module mirrors the typed API for use
  inside `Ferrite.multi/2`:

      {:ok, [:ok, :ok, "value1"]} =
        Ferrite.multi(conn, fn tx ->
          Ferrite.Tx.set(tx, "key1", "value1")
          Ferrite.Tx.set(tx, "key2", "value2")
          Ferrite.Tx.get(tx, "key1")
        end)

  Every typed function `Ferrite.f(conn, args...)` has a twin
  `Ferrite.Tx.f(tx, args...)` that queues the same command and returns
  `tx` (so calls may also be piped). `command/2` queues a raw command.

  ## Results

  `Ferrite.multi/2` runs `MULTI`, the queued commands and `EXEC` in one
  NIF call (one round trip on a remote conn) and returns
  `{:ok, results}`: one element per queued command, in order, shaped as the
  typed function shapes it, unwrapped: `:ok` stays `:ok`, `{:ok, v}`
  becomes `v`, and a command that failed at run time (WRONGTYPE, ...)
  becomes its `%Ferrite.ResponseError{}`; the others still run, as in
  Redis. A command refused while queueing (unknown command, wrong number of
  arguments) discards the whole transaction:
  `{:error, %Ferrite.ResponseError{message: "EXECABORT ..."}}`.

  ## WATCH

  `Ferrite.watch(conn, keys, fun)` watches `keys` for the calling process
  on `conn` and runs `fun`. A `Ferrite.multi/2` on the same conn inside
  `fun` commits only if no watched key changed since the WATCH (any write,
  expiry, deletion, FLUSHDB or SWAPDB by anyone counts) and otherwise
  returns `{:error, :watch_failed}`. The watches end with the transaction,
  with `Ferrite.unwatch/1`, or when `fun` returns or raises.

  Watch state belongs to the calling process and the conn: on an embedded
  conn each process gets its own engine session for it (opened on first
  use, closed when the process exits), so processes sharing a conn never
  see each other's watches. That session starts on the database the conn
  had selected when it was opened.
  """

  alias Ferrite.Tx.Stage

  defstruct [:ref]

  @typedoc "A transaction being built inside `Ferrite.multi/2`."
  @type t :: %__MODULE__{ref: reference()}

  @doc """
  Runs `fun` with a new transaction, then MULTI, the queued commands and
  EXEC in one call. See the module doc for the results.
  """
  @spec multi(Ferrite.conn(), (t() -> any())) ::
          {:ok, [term()]} | {:error, :watch_failed} | Ferrite.error()
  def multi(conn, fun) when is_function(fun, 1) do
    tx = %__MODULE__{ref: make_ref()}
    key = {__MODULE__, :queue, tx.ref}
    Process.put(key, [])

    queued =
      try do
        fun.(tx)
        Enum.reverse(Process.get(key))
      after
        Process.delete(key)
      end

    exec(target(conn), queued)
  end

  defp exec(target, queued) do
    cmds = [["MULTI"] | Enum.map(queued, fn {argv, _} -> argv end)] ++ [["EXEC"]]

    case Ferrite.pipeline(target, cmds) do
      {:ok, replies} ->
        case List.last(replies) do
          nil ->
            {:error, :watch_failed}

          %Ferrite.ResponseError{} = e ->
            {:error, e}

          results when is_list(results) ->
            {:ok, Enum.zip_with(queued, results, fn {_, fun}, r -> shape(fun, r) end)}
        end

      {:error, _} = err ->
        err
    end
  end

  # Replays the typed function on its EXEC slot, then unwraps.
  defp shape(fun, reply) do
    result =
      case reply do
        %Ferrite.ResponseError{} = e -> {:error, e}
        r -> {:ok, r}
      end

    case fun.(%Stage{mode: {:replay, result}}) do
      :ok -> :ok
      {:ok, v} -> v
      {:error, e} -> e
      other -> other
    end
  end

  @doc """
  Queues `fun`, a call of a typed function on the conn it is given, for
  example `&Ferrite.set(&1, "k", "v")`. Returns `tx`.
  """
  @spec queue(t(), (term() -> term())) :: t()
  def queue(%__MODULE__{ref: ref} = tx, fun) when is_function(fun, 1) do
    key = {__MODULE__, :queue, ref}

    queued =
      case Process.get(key) do
        nil -> raise ArgumentError, "Ferrite.Tx used outside its Ferrite.multi/2"
        q -> q
      end

    argv =
      try do
        fun.(%Stage{mode: :record})
        raise ArgumentError, "the queued function ran no command"
      catch
        {Stage, argv} -> Ferrite.Args.normalize!(argv)
      end

    Process.put(key, [{argv, fun} | queued])
    tx
  end

  @doc "Queues a raw command; its result is the reply unchanged."
  @spec command(t(), [Ferrite.arg()]) :: t()
  def command(tx, argv) when is_list(argv), do: queue(tx, &Ferrite.command(&1, argv))

  # The typed API, mirrored: every public `Ferrite` function taking a conn
  # first, except the ones that are not single commands.
  @not_commands [
    start_link: 0,
    start_link: 1,
    child_spec: 1,
    stop: 1,
    stop: 2,
    stop: 3,
    command: 2,
    command!: 2,
    pipeline: 2,
    pipeline!: 2,
    multi: 2,
    watch: 3,
    unwatch: 1,
    subscribe: 3,
    unsubscribe: 2
  ]

  for {name, arity} <- Ferrite.__info__(:functions),
      arity >= 1,
      {name, arity} not in @not_commands do
    args = Macro.generate_arguments(arity - 1, __MODULE__)

    @doc "Queues `Ferrite.#{name}/#{arity}`; returns `tx`."
    @spec unquote(name)(t(), unquote_splicing(Enum.map(args, fn _ -> quote(do: term()) end))) ::
            t()
    def unquote(name)(%__MODULE__{} = tx, unquote_splicing(args)) do
      queue(tx, fn conn -> Ferrite.unquote(name)(conn, unquote_splicing(args)) end)
    end
  end

  # WATCH

  @doc """
  Watches `keys` for the calling process on `conn`, runs `fun` and returns
  what it returns. See the module doc.
  """
  @spec watch(Ferrite.conn(), [Ferrite.key()], (() -> result)) :: result | Ferrite.error()
        when result: term()
  def watch(conn, keys, fun) when is_list(keys) and is_function(fun, 0) do
    with {:ok, side} <- side_session(conn),
         {:ok, "OK"} <- Ferrite.command(side, ["WATCH" | keys]) do
      previous = Process.put({__MODULE__, :watching, conn}, side)

      try do
        fun.()
      after
        restore({__MODULE__, :watching, conn}, previous)
        Ferrite.command(side, ["UNWATCH"])
      end
    end
  end

  defp restore(key, nil), do: Process.delete(key)
  defp restore(key, value), do: Process.put(key, value)

  @doc "Releases the calling process's watches on `conn`: `:ok`."
  @spec unwatch(Ferrite.conn()) :: :ok | Ferrite.error()
  def unwatch(conn) do
    target =
      case Process.get({__MODULE__, :side, conn}) do
        nil -> conn
        side -> side
      end

    case Ferrite.command(target, ["UNWATCH"]) do
      {:ok, "OK"} -> :ok
      other -> other
    end
  end

  # Where a transaction runs: the caller's side session while it watches
  # `conn`, else `conn` itself (a pipeline holds the conn's session for its
  # whole run, so MULTI..EXEC never interleaves with another caller's).
  defp target(conn) do
    case Process.get({__MODULE__, :watching, conn}) do
      nil -> conn
      side -> side
    end
  end

  # The calling process's own session on `conn`'s engine, opened once.
  defp side_session(conn) do
    key = {__MODULE__, :side, conn}

    case Process.get(key) do
      nil ->
        case Ferrite.Native.open_session(conn) do
          {:ok, ref} ->
            Process.put(key, ref)
            {:ok, ref}

          {:error, _} = err ->
            err

          :noconn ->
            # A remote conn: the side session is a dedicated connection
            # owned by this process (closed when it exits).
            with {:ok, pid} <- Ferrite.Remote.open_session(conn) do
              Process.put(key, pid)
              {:ok, pid}
            end

          _marker ->
            {:error,
             %Ferrite.ConnectionError{message: "no open embedded connection: #{inspect(conn)}"}}
        end

      ref ->
        {:ok, ref}
    end
  end
end
