defmodule Ferrite.Remote do
  @moduledoc """
  The remote backend: RESP2 over TCP or TLS to a Ferrite or Redis server.

      {:ok, conn} = Ferrite.start_link(host: "localhost", port: 6380, password: "secret")
      {:ok, conn} = Ferrite.start_link(url: "redis://:secret@localhost:6379/2")

  `Ferrite.start_link/1` comes here whenever `embedded:` is absent; every
  function of `Ferrite` then works on the conn with the same return shapes
  as on the embedded backend (the same replies, parsed by
  `Ferrite.Remote.RESP`). The options are listed in `Ferrite.Remote.Options`.

  ## Behaviour

    * One conn is one connection process (`Ferrite.Remote.Connection`) and
      one socket. Any number of processes may call it at once: their
      commands are pipelined and the replies matched in order.
    * A call waits at most `timeout:` ms (default 5000), then returns
      `{:error, %Ferrite.TimeoutError{}}`. Blocking commands (`BLPOP`,
      `BLMOVE`, `BZPOPMIN`, `XREAD ... BLOCK`, `WAIT`, ...) wait their own
      timeout on top of it (forever for a timeout of 0).
    * Blocking commands (and pipelines holding one, outside `MULTI`) run on
      a dedicated connection of the calling process, opened on first use
      and closed when the process exits, so that a waiting `BLPOP` never
      stalls the other callers of the conn: as on the embedded backend,
      each process blocks on its own. That connection starts on
      `database:`.
    * When the connection fails, waiting calls and calls made while it is
      down return `{:error, %Ferrite.ConnectionError{}}`, and the process
      reconnects with exponential backoff (`backoff_initial:` doubling up
      to `backoff_max:`), sending `AUTH` and `SELECT` again.
    * With `sync_connect: true` (default), `start_link` returns only once
      connected (or `{:error, exception}` without starting a process); with
      `false`, it returns at once and connects in the background.
    * A `SELECT` sent with `command/2` changes the database of the
      connection for every caller until the next reconnection, which
      selects `database:` again; prefer one conn per database.
    * `WATCH` state and subscriptions belong to a connection: use a
      dedicated one from `open_session/2` for them (`Ferrite.watch/3` and
      `Ferrite.PubSub` do).
    * The connection speaks RESP2 and pairs replies with requests in
      order, so `HELLO 3` (RESP3 replies) and `CLIENT REPLY OFF|SKIP`
      (missing replies) are not supported through it: the first makes the
      parser fail and the connection reconnect.
  """
  @behaviour Ferrite.Backend

  alias Ferrite.{Args, ConnectionError}
  alias Ferrite.Remote.{Connection, Options}

  @doc """
  Starts a remote conn. See `Ferrite.Remote.Options` for the options.
  Returns `{:ok, pid}`, or `{:error, exception}` for invalid options or
  (with `sync_connect: true`) a failed connection or handshake.
  """
  @spec start_link(keyword()) :: GenServer.on_start() | {:error, Exception.t()}
  def start_link(opts) do
    with {:ok, o} <- Options.validate(opts) do
      start(o, nil, &Connection.start_link(&1, gen_opts(o)))
    end
  end

  defp gen_opts(%{name: nil}), do: []
  defp gen_opts(%{name: name}), do: [name: name]

  defp start(o, owner, starter) do
    if o.sync_connect do
      with {:ok, sock} <- Connection.connect(o) do
        case starter.({o, sock, owner}) do
          {:ok, pid} ->
            # A socket that died meanwhile: the process reconnects.
            with {:error, reason} <- Connection.hand_over(sock, pid),
                 do: send(pid, {:ferrite_lost, elem(sock, 1), reason})

            {:ok, pid}

          other ->
            {transport, socket} = sock
            transport.close(socket)
            other
        end
      end
    else
      starter.({o, nil, owner})
    end
  end

  @doc """
  Opens a dedicated connection to the same server, with the same options,
  for `owner` (default: the caller), and returns `{:ok, pid}`. It is not
  linked; it stops when `owner` exits or with `Ferrite.stop/1`.

  This is the remote counterpart of an embedded side session: what must
  not be shared with other callers lives on it, `WATCH` state and
  subscriptions. After `Ferrite.command(pid, ["SUBSCRIBE", "ch"])` (which
  returns `{:ok, [["subscribe", "ch", 1]]}`), the subscribing process
  receives `{:ferrite_push, ["message", "ch", payload]}` and
  `{:ferrite_push, ["pmessage", pattern, "ch", payload]}`, as from the
  embedded engine.
  """
  @spec open_session(Ferrite.conn(), pid()) :: {:ok, pid()} | {:error, Exception.t()}
  def open_session(conn, owner \\ self()) do
    case Ferrite.Backend.lookup(conn) do
      {pid, __MODULE__} ->
        o = GenServer.call(pid, :options)

        with {:ok, session} <-
               start(%{o | name: nil, sync_connect: true}, owner, &Connection.start/1) do
          if owner == self(), do: Process.put({__MODULE__, :session, session}, true)
          {:ok, session}
        end

      _ ->
        {:error, %ConnectionError{message: "not a remote conn: #{inspect(conn)}"}}
    end
  end

  @doc """
  Runs one command; `opts` may hold `timeout:` (ms) for this call.
  Called by `Ferrite.command/2` for remote conns.
  """
  @impl Ferrite.Backend
  @spec command(Ferrite.conn(), [Ferrite.arg()], keyword()) ::
          {:ok, term()} | {:error, Exception.t()}
  def command(conn, argv, opts \\ []) do
    argv = Args.normalize!(argv)

    case blocking_ms(argv) do
      0 ->
        request(conn, [argv], :command, Keyword.get(opts, :timeout), 0)

      extra ->
        with {:ok, target} <- blocking_target(conn) do
          request(target, [argv], :command, Keyword.get(opts, :timeout), extra)
        end
    end
  end

  @doc """
  Runs commands in one round trip and returns `{:ok, replies}` (error
  replies appear as `Ferrite.ResponseError` structs in the list); `opts`
  may hold `timeout:` (ms). Called by `Ferrite.pipeline/2`.
  """
  @impl Ferrite.Backend
  @spec pipeline(Ferrite.conn(), [[Ferrite.arg()]], keyword()) ::
          {:ok, [term()]} | {:error, Exception.t()}
  def pipeline(conn, cmds, opts \\ []) do
    cmds = Enum.map(cmds, &Args.normalize!/1)
    extra = Enum.reduce(cmds, 0, fn argv, acc -> add(acc, blocking_ms(argv)) end)

    # Inside MULTI nothing blocks; otherwise a blocking command would stall
    # the shared connection, so the pipeline goes to the caller's own.
    if extra == 0 or Enum.any?(cmds, &match?([name | _] when name in ["MULTI", "multi"], &1)) do
      request(conn, cmds, :pipeline, Keyword.get(opts, :timeout), extra)
    else
      with {:ok, target} <- blocking_target(conn) do
        request(target, cmds, :pipeline, Keyword.get(opts, :timeout), extra)
      end
    end
  end

  # A blocking command holds its connection until served, and replies come
  # in order, so on the shared conn it would stall every other caller. Like
  # the embedded backend (where each process blocks on its own), it runs on
  # a dedicated connection of the calling process, opened on first use and
  # closed when the process exits. A conn that is already a session (this
  # process's own, from open_session/2) is used as it is.
  defp blocking_target(conn) do
    key = {__MODULE__, :blocking, conn}

    cond do
      Process.get({__MODULE__, :session, GenServer.whereis(conn)}) ->
        {:ok, conn}

      (pid = Process.get(key)) && Process.alive?(pid) ->
        {:ok, pid}

      true ->
        with {:ok, pid} <- open_session(conn) do
          Process.put(key, pid)
          {:ok, pid}
        end
    end
  end

  defp add(:infinity, _), do: :infinity
  defp add(_, :infinity), do: :infinity
  defp add(a, b), do: a + b

  @doc false
  # Sends a request to the connection process and waits for its answer,
  # which always comes (the process runs the timer), or for its exit.
  @spec request(Ferrite.conn(), [[binary()]], :command | :pipeline, timeout() | nil, timeout()) ::
          {:ok, term()} | {:error, Exception.t()}
  def request(conn, cmds, kind, timeout, extra) do
    case GenServer.whereis(conn) do
      pid when is_pid(pid) ->
        ref = :erlang.monitor(:process, pid, alias: :reply_demonitor)
        send(pid, {:ferrite_req, ref, self(), cmds, kind, {timeout, extra}})

        receive do
          {^ref, result} ->
            Process.demonitor(ref, [:flush])
            result

          {:DOWN, ^ref, :process, _, reason} ->
            {:error, %ConnectionError{message: "connection process exited: #{inspect(reason)}"}}
        end

      _ ->
        {:error, %ConnectionError{message: "no open connection: #{inspect(conn)}"}}
    end
  end

  @doc """
  How long a blocking command may legitimately wait on the server, in ms
  (`:infinity` for a timeout of 0), or 0 for other commands. Added to the
  call's timeout.

      iex> Ferrite.Remote.blocking_ms(["BLPOP", "q", "1.5"])
      1500
      iex> Ferrite.Remote.blocking_ms(["XREAD", "BLOCK", "0", "STREAMS", "s", "$"])
      :infinity
  """
  @spec blocking_ms([binary()]) :: non_neg_integer() | :infinity
  def blocking_ms([name | args]) when byte_size(name) in 4..10 do
    case String.upcase(name) do
      n when n in ~w(BLPOP BRPOP BZPOPMIN BZPOPMAX BRPOPLPUSH BLMOVE) ->
        seconds(List.last(args))

      n when n in ~w(BLMPOP BZMPOP) ->
        seconds(List.first(args))

      n when n in ~w(XREAD XREADGROUP) ->
        xread_block(args)

      "WAIT" ->
        millis(List.last(args))

      _ ->
        0
    end
  end

  def blocking_ms(_argv), do: 0

  defp xread_block([opt, ms | rest]) do
    cond do
      String.upcase(opt) == "STREAMS" -> 0
      String.upcase(opt) == "BLOCK" -> millis(ms)
      true -> xread_block([ms | rest])
    end
  end

  defp xread_block(_), do: 0

  defp seconds(nil), do: 0

  defp seconds(arg) do
    case Float.parse(arg) do
      {s, ""} when s == 0 -> :infinity
      {s, ""} when s > 0 -> ceil(s * 1000)
      _ -> 0
    end
  end

  defp millis(nil), do: 0

  defp millis(arg) do
    case Integer.parse(arg) do
      {0, ""} -> :infinity
      {ms, ""} when ms > 0 -> ms
      _ -> 0
    end
  end
end
