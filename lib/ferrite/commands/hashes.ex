defmodule Ferrite.Commands.Hashes do
  @moduledoc """
  Hash commands (`HSET`, `HGET`, `HGETALL`, ...). Call them through
  `Ferrite` (`Ferrite.hset/4`, ...). Return shapes follow
  `Ferrite.Commands.Shape`; `hset` returns `:ok` as in the SDK document,
  `hgetall/2` a map and `hexists/3` a boolean.
  """

  import Ferrite, only: [command: 2]

  @typedoc "Field/value pairs: a map or a list of `{field, value}`."
  @type pairs :: %{optional(Ferrite.arg()) => Ferrite.arg()} | [{Ferrite.arg(), Ferrite.arg()}]

  @doc "`HSET key field value`: `:ok`."
  @spec hset(Ferrite.conn(), Ferrite.key(), Ferrite.arg(), Ferrite.arg()) :: :ok | Ferrite.error()
  def hset(conn, key, field, value), do: done(command(conn, ["HSET", key, field, value]))

  @doc """
  `HSET key field value ...` from a map or a list of `{field, value}`
  (fields may be atoms): `:ok`. An empty map is an error, as in Redis.
  """
  @spec hset(Ferrite.conn(), Ferrite.key(), pairs()) :: :ok | Ferrite.error()
  def hset(conn, key, pairs) when is_map(pairs) or is_list(pairs),
    do: done(command(conn, ["HSET", key | Ferrite.Commands.Strings.flatten_pairs(pairs)]))

  @doc "`HGET key field`: `{:ok, value}`, or `{:ok, nil}` when missing."
  @spec hget(Ferrite.conn(), Ferrite.key(), Ferrite.arg()) ::
          {:ok, binary() | nil} | Ferrite.error()
  def hget(conn, key, field), do: command(conn, ["HGET", key, field])

  @doc "`HMGET key field...`: `{:ok, values}` in order, nil for missing fields."
  @spec hmget(Ferrite.conn(), Ferrite.key(), [Ferrite.arg()]) ::
          {:ok, [binary() | nil]} | Ferrite.error()
  def hmget(conn, key, fields) when is_list(fields), do: command(conn, ["HMGET", key | fields])

  @doc "`HGETALL key`: `{:ok, %{field => value}}` (`%{}` when missing)."
  @spec hgetall(Ferrite.conn(), Ferrite.key()) ::
          {:ok, %{optional(binary()) => binary()}} | Ferrite.error()
  def hgetall(conn, key) do
    case command(conn, ["HGETALL", key]) do
      {:ok, flat} when is_list(flat) -> {:ok, to_map(flat, %{})}
      other -> other
    end
  end

  defp to_map([f, v | rest], acc), do: to_map(rest, Map.put(acc, f, v))
  defp to_map([], acc), do: acc

  @doc "`HDEL key field...`: `{:ok, removed}`; the key goes when its last field does."
  @spec hdel(Ferrite.conn(), Ferrite.key(), Ferrite.arg() | [Ferrite.arg()]) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def hdel(conn, key, fields), do: command(conn, ["HDEL", key | many(fields)])

  @doc "`HINCRBY key field n`: `{:ok, new_value}` (a missing field counts as 0)."
  @spec hincrby(Ferrite.conn(), Ferrite.key(), Ferrite.arg(), integer()) ::
          {:ok, integer()} | Ferrite.error()
  def hincrby(conn, key, field, n), do: command(conn, ["HINCRBY", key, field, n])

  @doc "`HKEYS key`: `{:ok, fields}`."
  @spec hkeys(Ferrite.conn(), Ferrite.key()) :: {:ok, [binary()]} | Ferrite.error()
  def hkeys(conn, key), do: command(conn, ["HKEYS", key])

  @doc "`HVALS key`: `{:ok, values}`, in the order of `hkeys/2`."
  @spec hvals(Ferrite.conn(), Ferrite.key()) :: {:ok, [binary()]} | Ferrite.error()
  def hvals(conn, key), do: command(conn, ["HVALS", key])

  @doc "`HLEN key`: `{:ok, number_of_fields}` (0 when missing)."
  @spec hlen(Ferrite.conn(), Ferrite.key()) :: {:ok, non_neg_integer()} | Ferrite.error()
  def hlen(conn, key), do: command(conn, ["HLEN", key])

  @doc "`HEXISTS key field`: `{:ok, true}` or `{:ok, false}`."
  @spec hexists(Ferrite.conn(), Ferrite.key(), Ferrite.arg()) ::
          {:ok, boolean()} | Ferrite.error()
  def hexists(conn, key, field), do: boolean(command(conn, ["HEXISTS", key, field]))

  @doc """
  `HSETNX key field value`: sets the field only if it is new;
  `{:ok, 1}` when set, `{:ok, 0}` when it existed (as `Ferrite.setnx/3`).
  """
  @spec hsetnx(Ferrite.conn(), Ferrite.key(), Ferrite.arg(), Ferrite.arg()) ::
          {:ok, 0 | 1} | Ferrite.error()
  def hsetnx(conn, key, field, value), do: command(conn, ["HSETNX", key, field, value])

  @doc "`HINCRBYFLOAT key field n`: `{:ok, new_value}` as a float."
  @spec hincrbyfloat(Ferrite.conn(), Ferrite.key(), Ferrite.arg(), number() | binary()) ::
          {:ok, float()} | Ferrite.error()
  def hincrbyfloat(conn, key, field, n),
    do: Ferrite.Commands.Shape.float(command(conn, ["HINCRBYFLOAT", key, field, n]))

  @doc "`HSTRLEN key field`: `{:ok, length}` of the value (0 when missing)."
  @spec hstrlen(Ferrite.conn(), Ferrite.key(), Ferrite.arg()) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def hstrlen(conn, key, field), do: command(conn, ["HSTRLEN", key, field])

  @doc "`HRANDFIELD key`: `{:ok, field}` at random, or `{:ok, nil}` when missing."
  @spec hrandfield(Ferrite.conn(), Ferrite.key()) :: {:ok, binary() | nil} | Ferrite.error()
  def hrandfield(conn, key), do: command(conn, ["HRANDFIELD", key])

  @doc """
  `HRANDFIELD key count [WITHVALUES]`: `{:ok, fields}` (a positive `count`
  gives distinct fields, a negative one exactly `-count`, maybe repeated);
  with `withvalues: true`, `{:ok, [{field, value}]}`.
  """
  @spec hrandfield(Ferrite.conn(), Ferrite.key(), integer(), [{:withvalues, boolean()}]) ::
          {:ok, [binary()] | [{binary(), binary()}]} | Ferrite.error()
  def hrandfield(conn, key, count, opts \\ []) do
    if Keyword.get(opts, :withvalues, false) do
      case command(conn, ["HRANDFIELD", key, count, "WITHVALUES"]) do
        {:ok, list} when is_list(list) -> {:ok, tuples(list)}
        other -> other
      end
    else
      command(conn, ["HRANDFIELD", key, count])
    end
  end

  @doc """
  `HSCAN key cursor [MATCH pattern] [COUNT n]`: one step of an iteration,
  `{:ok, {next_cursor, [{field, value}]}}`; the iteration is over when
  `next_cursor` is 0. Options: `match:`, `count:`.
  """
  @spec hscan(Ferrite.conn(), Ferrite.key(), non_neg_integer() | binary(), keyword()) ::
          {:ok, {non_neg_integer(), [{binary(), binary()}]}} | Ferrite.error()
  def hscan(conn, key, cursor, opts \\ []) do
    case command(conn, [
           "HSCAN",
           key,
           cursor | Ferrite.Commands.Keys.scan_opts(opts, [:match, :count])
         ]) do
      {:ok, [next, flat]} -> {:ok, {String.to_integer(next), tuples(flat)}}
      other -> other
    end
  end

  # [f, v, f, v] (RESP2) or [[f, v], ...] (RESP3) to [{f, v}].
  defp tuples([[f, v] | rest]), do: [{f, v} | tuples(rest)]
  defp tuples([f, v | rest]), do: [{f, v} | tuples(rest)]
  defp tuples([]), do: []

  defp done({:ok, n}) when is_integer(n), do: :ok
  defp done(other), do: other

  defp boolean({:ok, n}) when is_integer(n), do: {:ok, n == 1}
  defp boolean(other), do: other

  defp many(values) when is_list(values), do: values
  defp many(value), do: [value]
end
