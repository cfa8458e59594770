defmodule Ferrite.Remote.Connection do
  @moduledoc """
  The process behind a remote conn: it owns one TCP (or TLS) socket to the
  server, in active-once mode, and pipelines every caller's requests on it.

  ## Requests and replies

  A caller (`Ferrite.Remote.request/5`) sends
  `{:ferrite_req, alias, caller, cmds, kind, timeout}` and waits for
  `{alias, result}` on a monitor alias. The process writes the encoded
  commands at once and appends one queue entry per command. Replies come
  back in the order the commands were written (RESP has no ids), so the
  queue head always owns the next reply.

  Invariants:

    * the queue holds exactly the commands written on the current socket
      and not yet answered, in write order; it is emptied (every waiter
      told `Ferrite.ConnectionError`) when the socket goes away;
    * every request gets exactly one answer: its replies, a
      `Ferrite.TimeoutError` when its timer fires first (the late replies
      are then read and dropped, since the waiter is gone), or a
      `Ferrite.ConnectionError`;
    * `cur` holds the confirmations received so far for the head entry
      (only pub/sub commands take more than one reply).

  ## Reconnection

  When the socket closes or fails, the process fails the waiting callers
  and tries again after `backoff_initial` ms, doubling up to `backoff_max`,
  answering new requests with `Ferrite.ConnectionError` meanwhile. Each
  connection sends `AUTH` and `SELECT` first, and subscribes again to the
  channels, patterns and shard channels it had.

  The database selected is the one the server last confirmed: a `SELECT n`
  sent through `Ferrite.command/2` (or a pipeline) that the server answers
  `OK` replaces `database:` for later reconnections, and `RESET` puts it
  back to 0, so a reconnection never silently moves the caller to another
  database. (A `SELECT` queued inside `MULTI` is not tracked.)

  ## Pub/sub

  `(P)SUBSCRIBE` and `(P)UNSUBSCRIBE` return the list of confirmations
  (`[["subscribe", "ch", 1], ...]`), as on the embedded backend; so do
  `SSUBSCRIBE` and `SUNSUBSCRIBE`. While the connection has subscriptions,
  `message`, `pmessage` and `smessage` arrays are not replies: they go to the process that last subscribed as
  `{:ferrite_push, ["message", channel, payload]}` (or
  `["pmessage", pattern, channel, payload]`), the message the embedded
  engine sends. Use a dedicated connection for it
  (`Ferrite.Remote.open_session/2`).
  """
  use GenServer

  alias Ferrite.{ConnectionError, ResponseError, TimeoutError}
  alias Ferrite.Remote.{Options, RESP}

  defstruct [
    :opts,
    :transport,
    :socket,
    :owner,
    :backoff,
    :subscriber,
    cont: nil,
    queue: :queue.new(),
    cur: [],
    waiters: %{},
    next_id: 0,
    channels: MapSet.new(),
    patterns: MapSet.new(),
    shard: MapSet.new()
  ]

  @typedoc "A connected socket and the module that drives it."
  @type sock :: {:gen_tcp | :ssl, :gen_tcp.socket() | :ssl.sslsocket()}

  @doc false
  def start_link(arg, gen_opts), do: GenServer.start_link(__MODULE__, arg, gen_opts)

  @doc false
  def start(arg), do: GenServer.start(__MODULE__, arg)

  # Connecting (also run in the caller of start_link when sync_connect).

  @doc """
  Opens a socket to the server and runs the handshake (`AUTH`, `SELECT`)
  in passive mode: `{:ok, {transport, socket}}` or `{:error, exception}`.
  """
  @spec connect(Options.t()) :: {:ok, sock()} | {:error, Exception.t()}
  def connect(o) do
    base = [:binary, active: false, packet: :raw, nodelay: true] ++ send_timeout(o.timeout)

    {transport, sock_opts} =
      if o.ssl,
        do: {:ssl, base ++ o.socket_opts ++ o.ssl_opts},
        else: {:gen_tcp, base ++ o.socket_opts}

    case transport.connect(host_arg(o.host), o.port, sock_opts, o.connect_timeout) do
      {:ok, sock} ->
        case handshake(transport, sock, o) do
          :ok ->
            {:ok, {transport, sock}}

          {:error, _} = err ->
            transport.close(sock)
            err
        end

      {:error, reason} ->
        {:error, conn_error("connect to #{o.host}:#{o.port} failed", reason)}
    end
  end

  defp send_timeout(:infinity), do: []
  defp send_timeout(ms), do: [send_timeout: ms, send_timeout_close: true]

  defp host_arg(host) when is_binary(host), do: String.to_charlist(host)
  defp host_arg(host), do: host

  defp handshake(transport, sock, o) do
    auth =
      case {o.username, o.password} do
        {_, nil} -> []
        {nil, pw} -> [["AUTH", pw]]
        {user, pw} -> [["AUTH", user, pw]]
      end

    select = if o.database == 0, do: [], else: [["SELECT", Integer.to_string(o.database)]]

    case auth ++ select do
      [] ->
        :ok

      cmds ->
        with :ok <- sock_send(transport, sock, RESP.encode_many(cmds)),
             {:ok, replies} <- recv_replies(transport, sock, length(cmds), o.connect_timeout) do
          case Enum.find(replies, &match?(%ResponseError{}, &1)) do
            nil -> :ok
            e -> {:error, e}
          end
        else
          {:error, %{__exception__: true}} = err -> err
          {:error, reason} -> {:error, conn_error("handshake failed", reason)}
        end
    end
  end

  defp recv_replies(transport, sock, n, timeout),
    do: recv_replies(transport, sock, n, timeout, &RESP.parse/1, "", [])

  defp recv_replies(_t, _s, 0, _timeout, _parse, _buf, acc), do: {:ok, Enum.reverse(acc)}

  defp recv_replies(t, s, n, timeout, parse, buf, acc) do
    case if(buf == "", do: {:continuation, parse}, else: parse.(buf)) do
      {:ok, v, rest} ->
        recv_replies(t, s, n - 1, timeout, &RESP.parse/1, rest, [v | acc])

      {:continuation, k} ->
        case t.recv(s, 0, timeout) do
          {:ok, data} -> recv_replies(t, s, n, timeout, k, data, acc)
          {:error, _} = err -> err
        end
    end
  rescue
    e in RESP.ParseError -> {:error, conn_error("protocol error", e.message)}
  end

  @doc "Makes `pid` the owner of the socket and turns on active-once mode."
  @spec hand_over(sock(), pid()) :: :ok | {:error, term()}
  def hand_over({transport, sock}, pid) do
    with :ok <- transport.controlling_process(sock, pid) do
      setopts(transport, sock, active: :once)
    end
  end

  defp setopts(:gen_tcp, sock, opts), do: :inet.setopts(sock, opts)
  defp setopts(:ssl, sock, opts), do: :ssl.setopts(sock, opts)

  defp sock_send(transport, sock, data), do: transport.send(sock, data)

  # The process.

  @impl true
  def init({o, sock, owner}) do
    :ok = Ferrite.Backend.register(self(), Ferrite.Remote)
    if owner, do: Process.monitor(owner)
    s = %__MODULE__{opts: o, owner: owner, backoff: o.backoff_initial}

    case sock do
      {transport, socket} -> {:ok, %{s | transport: transport, socket: socket}}
      nil -> {:ok, s, {:continue, :connect}}
    end
  end

  @impl true
  def handle_continue(:connect, s), do: {:noreply, reconnect(s)}

  @impl true
  def handle_call(:options, _from, s), do: {:reply, s.opts, s}

  @impl true
  def handle_info({:ferrite_req, ref, caller, cmds, kind, timeout}, s) do
    {:noreply, request(s, ref, caller, cmds, kind, timeout)}
  end

  def handle_info({tag, sock, data}, %{socket: sock} = s) when tag in [:tcp, :ssl] do
    case feed(s, data) do
      {:ok, s} ->
        case setopts(s.transport, sock, active: :once) do
          :ok -> {:noreply, s}
          {:error, reason} -> {:noreply, disconnect(s, reason)}
        end

      {:error, reason} ->
        {:noreply, disconnect(s, reason)}
    end
  end

  def handle_info({tag, sock}, %{socket: sock} = s) when tag in [:tcp_closed, :ssl_closed],
    do: {:noreply, disconnect(s, :closed)}

  def handle_info({tag, sock, reason}, %{socket: sock} = s)
      when tag in [:tcp_error, :ssl_error, :ferrite_lost],
      do: {:noreply, disconnect(s, reason)}

  def handle_info({:timeout, _tref, {:req_timeout, id}}, s) do
    case Map.pop(s.waiters, id) do
      {nil, _} ->
        {:noreply, s}

      {{ref, _tref, _kind, _acc}, waiters} ->
        answer(ref, {:error, %TimeoutError{message: "command timed out"}})
        {:noreply, %{s | waiters: waiters}}
    end
  end

  def handle_info(:reconnect, s), do: {:noreply, reconnect(s)}

  def handle_info({:DOWN, _ref, :process, pid, _reason}, %{owner: pid} = s),
    do: {:stop, :normal, s}

  # Messages of an old socket, and anything else.
  def handle_info(_msg, s), do: {:noreply, s}

  @impl true
  def terminate(_reason, s) do
    if s.socket, do: s.transport.close(s.socket)
    :ok
  end

  # Requests.

  defp request(%{socket: nil} = s, ref, _caller, _cmds, _kind, _timeout) do
    answer(ref, {:error, not_connected(s)})
    s
  end

  defp request(s, ref, _caller, [], :pipeline, _timeout) do
    answer(ref, {:ok, []})
    s
  end

  defp request(s, ref, caller, cmds, kind, {override, extra}) do
    case sock_send(s.transport, s.socket, RESP.encode_many(cmds)) do
      :ok ->
        id = s.next_id
        tref = start_timer(add_timeout(override || s.opts.timeout, extra), id)
        s = %{s | next_id: id + 1, waiters: Map.put(s.waiters, id, {ref, tref, kind, []})}
        enqueue(s, id, caller, cmds)

      {:error, reason} ->
        answer(ref, {:error, conn_error("send failed", reason)})
        disconnect(s, reason)
    end
  end

  defp add_timeout(:infinity, _), do: :infinity
  defp add_timeout(_, :infinity), do: :infinity
  defp add_timeout(a, b), do: a + b

  defp start_timer(:infinity, _id), do: nil
  # Beyond what an Erlang timer takes (~49 days): no timer, as infinity.
  defp start_timer(ms, _id) when ms > 4_294_967_295, do: nil
  defp start_timer(ms, id), do: :erlang.start_timer(ms, self(), {:req_timeout, id})

  defp enqueue(s, _id, _caller, []), do: s

  defp enqueue(s, id, caller, [argv | more]) do
    {exp, s} = expect(argv, caller, s)
    s = %{s | queue: :queue.in({id, exp, more == []}, s.queue)}
    enqueue(s, id, caller, more)
  end

  # How many replies a command takes: pub/sub commands answer once per
  # channel (or, given none, once per current subscription, at least once).
  defp expect([name, db], _caller, s) when byte_size(name) == 6 do
    case String.upcase(name) do
      "SELECT" -> {{:select, db}, s}
      _ -> {:one, s}
    end
  end

  defp expect([name], _caller, s) when byte_size(name) == 5 do
    case String.upcase(name) do
      "RESET" -> {:reset, s}
      _ -> {:one, s}
    end
  end

  defp expect([name | args], caller, s) when byte_size(name) in 9..12 do
    case String.upcase(name) do
      "SUBSCRIBE" -> {confirm(args), %{s | subscriber: caller}}
      "PSUBSCRIBE" -> {confirm(args), %{s | subscriber: caller}}
      "SSUBSCRIBE" -> {confirm(args), %{s | subscriber: caller}}
      "UNSUBSCRIBE" when args == [] -> {{:confirm_all, :channels}, s}
      "PUNSUBSCRIBE" when args == [] -> {{:confirm_all, :patterns}, s}
      "SUNSUBSCRIBE" when args == [] -> {{:confirm_all, :shard}, s}
      "UNSUBSCRIBE" -> {confirm(args), s}
      "PUNSUBSCRIBE" -> {confirm(args), s}
      "SUNSUBSCRIBE" -> {confirm(args), s}
      _ -> {:one, s}
    end
  end

  defp expect(_argv, _caller, s), do: {:one, s}

  defp confirm([]), do: :one
  defp confirm(args), do: {:confirm, length(args)}

  defp parse_db(db) when is_integer(db), do: {:ok, db}

  defp parse_db(db) do
    case Integer.parse(to_string(db)) do
      {n, ""} -> {:ok, n}
      _ -> :error
    end
  end

  # Replies.

  defp feed(%{cont: nil} = s, data), do: parse_loop(s, fn -> RESP.parse(data) end)
  defp feed(%{cont: k} = s, data), do: parse_loop(%{s | cont: nil}, fn -> k.(data) end)

  defp parse_loop(s, step) do
    case step.() do
      {:ok, v, ""} -> {:ok, reply(s, v)}
      {:ok, v, rest} -> parse_loop(reply(s, v), fn -> RESP.parse(rest) end)
      {:continuation, k} -> {:ok, %{s | cont: k}}
    end
  rescue
    e in RESP.ParseError -> {:error, {:protocol, e.message}}
  end

  defp reply(s, v) do
    if push?(v, s) do
      if s.subscriber, do: send(s.subscriber, {:ferrite_push, v})
      s
    else
      case :queue.peek(s.queue) do
        # A reply nobody asked for: not RESP2 request/response; ignore it.
        :empty -> s
        {:value, {id, exp, last}} -> take(s, v, id, exp, last)
      end
    end
  end

  defp push?(["message", _, _], s), do: subscribed?(s)
  defp push?(["pmessage", _, _, _], s), do: subscribed?(s)
  defp push?(["smessage", _, _], s), do: subscribed?(s)
  defp push?(_, _), do: false

  defp subscribed?(s),
    do: MapSet.size(s.channels) + MapSet.size(s.patterns) + MapSet.size(s.shard) > 0

  defp take(s, v, id, :one, last), do: complete(s, id, v, last)

  # SELECT and RESET: remember the database the server confirmed.
  defp take(s, v, id, {:select, db}, last) do
    s =
      case {v, parse_db(db)} do
        {"OK", {:ok, n}} -> %{s | opts: %{s.opts | database: n}}
        _ -> s
      end

    complete(s, id, v, last)
  end

  defp take(s, v, id, :reset, last) do
    s =
      if v == "RESET" do
        # RESET also drops every subscription of the connection.
        %{
          s
          | opts: %{s.opts | database: 0},
            channels: MapSet.new(),
            patterns: MapSet.new(),
            shard: MapSet.new()
        }
      else
        s
      end

    complete(s, id, v, last)
  end

  defp take(s, v, id, exp, last) do
    if confirmation?(v) do
      s = %{track(s, v) | cur: [v | s.cur]}

      done =
        case exp do
          {:confirm, n} -> length(s.cur) == n
          {:confirm_all, set} -> MapSet.size(Map.fetch!(s, set)) == 0
        end

      if done, do: complete(%{s | cur: []}, id, Enum.reverse(s.cur), last), else: s
    else
      # An error (or QUEUED inside MULTI) answers the command at once.
      complete(%{s | cur: []}, id, v, last)
    end
  end

  defp confirmation?([kind, _name, count])
       when kind in [
              "subscribe",
              "unsubscribe",
              "psubscribe",
              "punsubscribe",
              "ssubscribe",
              "sunsubscribe"
            ] and
              is_integer(count),
       do: true

  defp confirmation?(_), do: false

  defp track(s, ["subscribe", ch, _]), do: %{s | channels: MapSet.put(s.channels, ch)}
  defp track(s, ["unsubscribe", ch, _]), do: %{s | channels: MapSet.delete(s.channels, ch)}
  defp track(s, ["psubscribe", p, _]), do: %{s | patterns: MapSet.put(s.patterns, p)}
  defp track(s, ["punsubscribe", p, _]), do: %{s | patterns: MapSet.delete(s.patterns, p)}
  defp track(s, ["ssubscribe", ch, _]), do: %{s | shard: MapSet.put(s.shard, ch)}
  defp track(s, ["sunsubscribe", ch, _]), do: %{s | shard: MapSet.delete(s.shard, ch)}

  # The head command is answered: drop it from the queue and hand the reply
  # to its waiter (gone if it timed out; then the reply is dropped).
  defp complete(s, id, v, last) do
    s = %{s | queue: :queue.drop(s.queue)}

    case Map.fetch(s.waiters, id) do
      :error ->
        s

      {:ok, {ref, tref, kind, acc}} when last ->
        if tref, do: :erlang.cancel_timer(tref, async: true, info: false)
        answer(ref, result(kind, Enum.reverse(acc, [v])))
        %{s | waiters: Map.delete(s.waiters, id)}

      {:ok, {ref, tref, kind, acc}} ->
        %{s | waiters: Map.put(s.waiters, id, {ref, tref, kind, [v | acc]})}
    end
  end

  defp result(:command, [%ResponseError{} = e]), do: {:error, e}
  defp result(:command, [v]), do: {:ok, v}
  defp result(:pipeline, vs), do: {:ok, vs}

  defp answer(ref, result), do: send(ref, {ref, result})

  # Connection loss and reconnection.

  defp disconnect(s, reason) do
    if s.socket, do: s.transport.close(s.socket)
    error = conn_error("connection lost", reason)

    Enum.each(s.waiters, fn {_id, {ref, tref, _kind, _acc}} ->
      if tref, do: :erlang.cancel_timer(tref, async: true, info: false)
      answer(ref, {:error, error})
    end)

    Process.send_after(self(), :reconnect, s.backoff)

    %{
      s
      | socket: nil,
        transport: nil,
        cont: nil,
        queue: :queue.new(),
        cur: [],
        waiters: %{},
        backoff: min(s.backoff * 2, s.opts.backoff_max)
    }
  end

  defp reconnect(%{socket: nil} = s) do
    case connect(s.opts) do
      {:ok, {transport, sock}} ->
        :ok = setopts(transport, sock, active: :once)
        s = %{s | transport: transport, socket: sock, backoff: s.opts.backoff_initial}
        resubscribe(s)

      {:error, _} ->
        Process.send_after(self(), :reconnect, s.backoff)
        %{s | backoff: min(s.backoff * 2, s.opts.backoff_max)}
    end
  end

  defp reconnect(s), do: s

  defp resubscribe(s) do
    cmds =
      [{"SUBSCRIBE", s.channels}, {"PSUBSCRIBE", s.patterns}, {"SSUBSCRIBE", s.shard}]
      |> Enum.reject(fn {_, set} -> MapSet.size(set) == 0 end)
      |> Enum.map(fn {cmd, set} -> [cmd | MapSet.to_list(set)] end)

    if cmds == [] do
      s
    else
      # Internal entries: no waiter has the id -1, so the confirmations are
      # consumed and dropped.
      case sock_send(s.transport, s.socket, RESP.encode_many(cmds)) do
        :ok -> enqueue(s, -1, s.subscriber, cmds)
        {:error, reason} -> disconnect(s, reason)
      end
    end
  end

  defp not_connected(s) do
    %ConnectionError{message: "not connected to #{s.opts.host}:#{s.opts.port}"}
  end

  defp conn_error(what, reason) do
    %ConnectionError{message: "#{what}: #{format_reason(reason)}"}
  end

  defp format_reason({:protocol, msg}), do: "protocol error: #{msg}"
  defp format_reason(:closed), do: "closed by the server"
  defp format_reason(:timeout), do: "timeout"

  defp format_reason(reason) when is_atom(reason) do
    case :inet.format_error(reason) do
      ~c"unknown POSIX error" -> inspect(reason)
      text -> List.to_string(text)
    end
  end

  defp format_reason(reason) when is_binary(reason), do: reason
  defp format_reason(reason), do: inspect(reason)
end
