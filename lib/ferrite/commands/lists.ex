defmodule Ferrite.Commands.Lists do
  @moduledoc """
  List commands (`LPUSH`, `LPOP`, `LRANGE`, `BLPOP`, ...). Call them through
  `Ferrite` (`Ferrite.lpush/3`, ...). Return shapes follow
  `Ferrite.Commands.Shape`.

  Blocking commands (`blpop/3`, `brpop/3`, `blmove/6`) take a timeout in
  seconds (an integer or a float; 0 waits forever) and return `{:ok, nil}`
  when it passes. They block only the calling process: on the embedded
  backend the engine serves waiters in FIFO order per key and sends the
  result to the waiting process (see `Ferrite.Embedded.Blocking`).
  """

  import Ferrite, only: [command: 2]
  import Ferrite.Commands.Shape

  @typedoc "An end of a list, for `lmove/5` and `blmove/6`."
  @type side :: :left | :right

  @typedoc "A blocking timeout in seconds; 0 waits forever."
  @type timeout_s :: non_neg_integer() | float()

  @doc """
  `LPUSH key value...`: pushes one value or a list of values at the head
  (the last one given ends up first); `{:ok, new_length}`.
  """
  @spec lpush(Ferrite.conn(), Ferrite.key(), Ferrite.arg() | [Ferrite.arg()]) ::
          {:ok, pos_integer()} | Ferrite.error()
  def lpush(conn, key, values), do: command(conn, ["LPUSH", key | many(values)])

  @doc "`RPUSH key value...`: pushes at the tail; `{:ok, new_length}`."
  @spec rpush(Ferrite.conn(), Ferrite.key(), Ferrite.arg() | [Ferrite.arg()]) ::
          {:ok, pos_integer()} | Ferrite.error()
  def rpush(conn, key, values), do: command(conn, ["RPUSH", key | many(values)])

  @doc """
  `LPOP key`: `{:ok, value}`, or `{:ok, nil}` when the list is empty or
  missing.
  """
  @spec lpop(Ferrite.conn(), Ferrite.key()) :: {:ok, binary() | nil} | Ferrite.error()
  def lpop(conn, key), do: command(conn, ["LPOP", key])

  @doc """
  `LPOP key count`: `{:ok, values}` (at most `count`, from the head), or
  `{:ok, nil}` when the key is missing.
  """
  @spec lpop(Ferrite.conn(), Ferrite.key(), non_neg_integer()) ::
          {:ok, [binary()] | nil} | Ferrite.error()
  def lpop(conn, key, count), do: command(conn, ["LPOP", key, count])

  @doc "`RPOP key`: `{:ok, value}` or `{:ok, nil}`."
  @spec rpop(Ferrite.conn(), Ferrite.key()) :: {:ok, binary() | nil} | Ferrite.error()
  def rpop(conn, key), do: command(conn, ["RPOP", key])

  @doc "`RPOP key count`: `{:ok, values}` from the tail (last first), or `{:ok, nil}`."
  @spec rpop(Ferrite.conn(), Ferrite.key(), non_neg_integer()) ::
          {:ok, [binary()] | nil} | Ferrite.error()
  def rpop(conn, key, count), do: command(conn, ["RPOP", key, count])

  @doc """
  `BLPOP key... timeout`: pops the head of the first non-empty list among
  `keys` (one key or a list), waiting up to `timeout` seconds for one.
  `{:ok, {key, value}}`, or `{:ok, nil}` on timeout.
  """
  @spec blpop(Ferrite.conn(), Ferrite.key() | [Ferrite.key()], timeout_s()) ::
          {:ok, {binary(), binary()} | nil} | Ferrite.error()
  def blpop(conn, keys, timeout),
    do: key_value(command(conn, ["BLPOP" | many(keys)] ++ [timeout]))

  @doc "`BRPOP key... timeout`: as `blpop/3`, from the tail."
  @spec brpop(Ferrite.conn(), Ferrite.key() | [Ferrite.key()], timeout_s()) ::
          {:ok, {binary(), binary()} | nil} | Ferrite.error()
  def brpop(conn, keys, timeout),
    do: key_value(command(conn, ["BRPOP" | many(keys)] ++ [timeout]))

  @doc """
  `LRANGE key start stop`: `{:ok, values}` between two indexes, inclusive
  (negative ones count from the tail; `[]` for a missing key).
  """
  @spec lrange(Ferrite.conn(), Ferrite.key(), integer(), integer()) ::
          {:ok, [binary()]} | Ferrite.error()
  def lrange(conn, key, start, stop), do: command(conn, ["LRANGE", key, start, stop])

  @doc "`LTRIM key start stop`: keeps only that range; `:ok`."
  @spec ltrim(Ferrite.conn(), Ferrite.key(), integer(), integer()) :: :ok | Ferrite.error()
  def ltrim(conn, key, start, stop), do: ok_status(command(conn, ["LTRIM", key, start, stop]))

  @doc "`LLEN key`: `{:ok, length}` (0 when missing)."
  @spec llen(Ferrite.conn(), Ferrite.key()) :: {:ok, non_neg_integer()} | Ferrite.error()
  def llen(conn, key), do: command(conn, ["LLEN", key])

  @doc "`LINDEX key index`: `{:ok, value}`, or `{:ok, nil}` out of range."
  @spec lindex(Ferrite.conn(), Ferrite.key(), integer()) ::
          {:ok, binary() | nil} | Ferrite.error()
  def lindex(conn, key, index), do: command(conn, ["LINDEX", key, index])

  @doc """
  `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`: moves one element from
  the `from` end of `source` to the `to` end of `destination`; `{:ok,
  value}`, or `{:ok, nil}` when `source` is empty.
  """
  @spec lmove(Ferrite.conn(), Ferrite.key(), Ferrite.key(), side(), side()) ::
          {:ok, binary() | nil} | Ferrite.error()
  def lmove(conn, source, destination, from, to),
    do: command(conn, ["LMOVE", source, destination, side(from), side(to)])

  @doc """
  `BLMOVE source destination LEFT|RIGHT LEFT|RIGHT timeout`: as `lmove/5`,
  waiting up to `timeout` seconds for `source` to have an element;
  `{:ok, nil}` on timeout.
  """
  @spec blmove(Ferrite.conn(), Ferrite.key(), Ferrite.key(), side(), side(), timeout_s()) ::
          {:ok, binary() | nil} | Ferrite.error()
  def blmove(conn, source, destination, from, to, timeout),
    do: command(conn, ["BLMOVE", source, destination, side(from), side(to), timeout])

  @doc "`RPOPLPUSH source destination`: as `lmove(conn, source, destination, :right, :left)`."
  @spec rpoplpush(Ferrite.conn(), Ferrite.key(), Ferrite.key()) ::
          {:ok, binary() | nil} | Ferrite.error()
  def rpoplpush(conn, source, destination),
    do: command(conn, ["RPOPLPUSH", source, destination])

  @doc """
  `LPUSHX key value...`: pushes at the head only if the list exists;
  `{:ok, new_length}` (`{:ok, 0}` when missing).
  """
  @spec lpushx(Ferrite.conn(), Ferrite.key(), Ferrite.arg() | [Ferrite.arg()]) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def lpushx(conn, key, values), do: command(conn, ["LPUSHX", key | many(values)])

  @doc "`RPUSHX key value...`: as `lpushx/3`, at the tail."
  @spec rpushx(Ferrite.conn(), Ferrite.key(), Ferrite.arg() | [Ferrite.arg()]) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def rpushx(conn, key, values), do: command(conn, ["RPUSHX", key | many(values)])

  @doc """
  `LSET key index value`: `:ok`; an error for a missing key (`ERR no such
  key`) or an index out of range.
  """
  @spec lset(Ferrite.conn(), Ferrite.key(), integer(), Ferrite.arg()) :: :ok | Ferrite.error()
  def lset(conn, key, index, value), do: ok_status(command(conn, ["LSET", key, index, value]))

  @doc """
  `LINSERT key BEFORE|AFTER pivot value`: `{:ok, new_length}`, `{:ok, -1}`
  when `pivot` is not in the list, `{:ok, 0}` when the key is missing.
  """
  @spec linsert(Ferrite.conn(), Ferrite.key(), :before | :after, Ferrite.arg(), Ferrite.arg()) ::
          {:ok, integer()} | Ferrite.error()
  def linsert(conn, key, where, pivot, value) when where in [:before, :after],
    do:
      command(conn, ["LINSERT", key, where |> Atom.to_string() |> String.upcase(), pivot, value])

  @doc """
  `LREM key count value`: removes occurrences of `value` (`count > 0`:
  the first `count` from the head, `< 0`: from the tail, `0`: all);
  `{:ok, removed}`.
  """
  @spec lrem(Ferrite.conn(), Ferrite.key(), integer(), Ferrite.arg()) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def lrem(conn, key, count, value), do: command(conn, ["LREM", key, count, value])

  @doc """
  `LPOS key element [RANK r] [COUNT n] [MAXLEN m]`: the index of
  `element`, `{:ok, index}` or `{:ok, nil}`. With `count:` (0 means all)
  the indexes, `{:ok, [index]}`. Options: `rank:`, `count:`, `maxlen:`.
  """
  @spec lpos(Ferrite.conn(), Ferrite.key(), Ferrite.arg(), keyword()) ::
          {:ok, non_neg_integer() | nil | [non_neg_integer()]} | Ferrite.error()
  def lpos(conn, key, element, opts \\ []) do
    extra =
      Enum.flat_map(opts, fn
        {:rank, r} -> ["RANK", r]
        {:count, n} -> ["COUNT", n]
        {:maxlen, m} -> ["MAXLEN", m]
        other -> raise ArgumentError, "unknown LPOS option: #{inspect(other)}"
      end)

    command(conn, ["LPOS", key, element | extra])
  end

  defp side(:left), do: "LEFT"
  defp side(:right), do: "RIGHT"
  defp side(other), do: raise(ArgumentError, "a side is :left or :right, got: #{inspect(other)}")

  defp key_value({:ok, [key, value]}), do: {:ok, {key, value}}
  defp key_value(other), do: other

  # One argument or a list of them.
  defp many(values) when is_list(values), do: values
  defp many(value), do: [value]
end
