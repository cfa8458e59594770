defmodule Ferrite.Embedded.Blocking do
  @moduledoc """
  Waiting for a blocking command (`BLPOP`, `BLMOVE`, `BZPOPMIN`,
  `XREAD BLOCK`, ...) on the embedded backend, without blocking a scheduler.

  When a blocking command finds no data, the engine registers a waiter with
  an engine-side deadline and the NIF returns `{:blocked, token, waiter}`.
  The engine later sends the calling process exactly one
  `{:ferrite_reply, token, reply}`: the served result when data arrives
  (waiters on a key are served in FIFO order), or the command's timeout
  reply (nil) when the deadline passes. `await/4` waits for it in `receive`.

  ## Giving up, without losing an element

  The engine enforces the timeout; this side only waits a little longer
  (100 ms past the command's timeout) in case the engine's timer is
  late, and then gives up with `Ferrite.Native.unblock/1`, which either
  removes the waiter (true: no reply will ever come, the result is nil) or
  finds it gone (false: its reply was already sent, and is in the mailbox
  because the engine sends under its lock; it is received). Either way the caller
  gets each served element exactly once. The same happens if the conn
  process goes down while the caller waits: the result is then a
  `Ferrite.ConnectionError`, unless the reply was already sent.

  A timeout of 0 waits forever, as in Redis.

  If the waiting process dies, the `waiter` handle's monitor removes its
  waiter; an element served to it in the meantime is given to the next
  waiter or put back by the engine (its send fails).
  """

  alias Ferrite.{Args, ConnectionError, Native, ResponseError}

  @margin_ms 100
  @max_after 4_294_967_295

  @doc """
  Waits for the reply of the blocked call `token` (made with `argv` on
  `conn`; `waiter` is the NIF's handle) and returns it as `command/2`
  would.
  """
  @spec await(Ferrite.conn(), non_neg_integer(), reference(), [term()]) ::
          {:ok, term()} | {:error, Exception.t()}
  def await(conn, token, waiter, argv) do
    mref = monitor_conn(conn)

    timeout =
      case timeout_ms(argv) do
        # `receive ... after` takes at most 2^32 - 1 ms (49 days).
        ms when is_integer(ms) and ms < @max_after - @margin_ms -> ms + @margin_ms
        _ -> :infinity
      end

    receive do
      {:ferrite_reply, ^token, reply} ->
        demonitor(mref)
        result(reply)

      {:DOWN, ^mref, :process, _, _} ->
        give_up(
          token,
          waiter,
          {:error, %ConnectionError{message: "connection closed: #{inspect(conn)}"}}
        )
    after
      timeout ->
        demonitor(mref)
        give_up(token, waiter, {:ok, nil})
    end
  end

  # Removes the waiter, or, when the engine already sent the reply, takes
  # it from the mailbox. (The engine sends under its lock, so a sent reply
  # is there once unblock returns false; the bound covers a waiter the
  # engine dropped without a reply because its conn closed.)
  defp give_up(token, waiter, otherwise) do
    if Native.unblock(waiter) do
      otherwise
    else
      receive do
        {:ferrite_reply, ^token, reply} -> result(reply)
      after
        @margin_ms -> otherwise
      end
    end
  end

  defp result(%ResponseError{} = e), do: {:error, e}
  defp result(reply), do: {:ok, reply}

  defp monitor_conn(conn) when is_pid(conn) or is_atom(conn), do: Process.monitor(conn)
  defp monitor_conn(_conn), do: nil

  defp demonitor(nil), do: :ok
  defp demonitor(mref), do: Process.demonitor(mref, [:flush])

  @doc """
  The timeout of a blocking command, in milliseconds, read from its
  arguments as Redis reads them (seconds for `BLPOP`..., milliseconds for
  `XREAD`/`XREADGROUP BLOCK`), or `:infinity` for 0 or anything else.
  Only a fallback: the engine enforces the real deadline.
  """
  @spec timeout_ms([term()]) :: non_neg_integer() | :infinity
  def timeout_ms([name | args]) do
    case name |> Args.to_bin() |> String.upcase() do
      n when n in ~w(BLPOP BRPOP BZPOPMIN BZPOPMAX BLMOVE BRPOPLPUSH) ->
        seconds(List.last(args))

      n when n in ~w(BLMPOP BZMPOP) ->
        seconds(List.first(args))

      n when n in ~w(XREAD XREADGROUP) ->
        block_option(args)

      _ ->
        :infinity
    end
  end

  def timeout_ms(_), do: :infinity

  defp seconds(nil), do: :infinity

  defp seconds(arg) do
    case Float.parse(Args.to_bin(arg)) do
      {s, ""} when s > 0 -> ceil(s * 1000)
      _ -> :infinity
    end
  end

  defp block_option([opt, ms | rest]) do
    if String.upcase(Args.to_bin(opt)) == "BLOCK" do
      case Integer.parse(Args.to_bin(ms)) do
        {n, ""} when n > 0 -> n
        _ -> :infinity
      end
    else
      block_option([ms | rest])
    end
  end

  defp block_option(_), do: :infinity
end
