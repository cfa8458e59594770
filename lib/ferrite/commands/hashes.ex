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

  defp done({:ok, n}) when is_integer(n), do: :ok
  defp done(other), do: other

  defp boolean({:ok, n}) when is_integer(n), do: {:ok, n == 1}
  defp boolean(other), do: other

  defp many(values) when is_list(values), do: values
  defp many(value), do: [value]
end
