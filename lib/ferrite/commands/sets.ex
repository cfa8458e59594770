defmodule Ferrite.Commands.Sets do
  @moduledoc """
  Set commands (`SADD`, `SISMEMBER`, `SINTER`, ...). Call them through
  `Ferrite` (`Ferrite.sadd/3`, ...). Return shapes follow
  `Ferrite.Commands.Shape`; `sismember/3` returns a boolean. Members come
  back in no particular order.
  """

  import Ferrite, only: [command: 2]

  @doc "`SADD key member...`: `{:ok, added}` (members already there do not count)."
  @spec sadd(Ferrite.conn(), Ferrite.key(), Ferrite.arg() | [Ferrite.arg()]) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def sadd(conn, key, members), do: command(conn, ["SADD", key | many(members)])

  @doc "`SREM key member...`: `{:ok, removed}`; the key goes with its last member."
  @spec srem(Ferrite.conn(), Ferrite.key(), Ferrite.arg() | [Ferrite.arg()]) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def srem(conn, key, members), do: command(conn, ["SREM", key | many(members)])

  @doc "`SMEMBERS key`: `{:ok, members}` (`[]` when missing)."
  @spec smembers(Ferrite.conn(), Ferrite.key()) :: {:ok, [binary()]} | Ferrite.error()
  def smembers(conn, key), do: command(conn, ["SMEMBERS", key])

  @doc "`SISMEMBER key member`: `{:ok, true}` or `{:ok, false}`."
  @spec sismember(Ferrite.conn(), Ferrite.key(), Ferrite.arg()) ::
          {:ok, boolean()} | Ferrite.error()
  def sismember(conn, key, member) do
    case command(conn, ["SISMEMBER", key, member]) do
      {:ok, n} when is_integer(n) -> {:ok, n == 1}
      other -> other
    end
  end

  @doc "`SCARD key`: `{:ok, number_of_members}` (0 when missing)."
  @spec scard(Ferrite.conn(), Ferrite.key()) :: {:ok, non_neg_integer()} | Ferrite.error()
  def scard(conn, key), do: command(conn, ["SCARD", key])

  @doc "`SINTER key...`: `{:ok, members}` in every set (a missing key is empty)."
  @spec sinter(Ferrite.conn(), Ferrite.key() | [Ferrite.key()]) ::
          {:ok, [binary()]} | Ferrite.error()
  def sinter(conn, keys), do: command(conn, ["SINTER" | many(keys)])

  @doc "`SUNION key...`: `{:ok, members}` in any of the sets."
  @spec sunion(Ferrite.conn(), Ferrite.key() | [Ferrite.key()]) ::
          {:ok, [binary()]} | Ferrite.error()
  def sunion(conn, keys), do: command(conn, ["SUNION" | many(keys)])

  @doc "`SDIFF key...`: `{:ok, members}` of the first set in none of the others."
  @spec sdiff(Ferrite.conn(), Ferrite.key() | [Ferrite.key()]) ::
          {:ok, [binary()]} | Ferrite.error()
  def sdiff(conn, keys), do: command(conn, ["SDIFF" | many(keys)])

  @doc "`SRANDMEMBER key`: `{:ok, member}`, or `{:ok, nil}` when missing."
  @spec srandmember(Ferrite.conn(), Ferrite.key()) :: {:ok, binary() | nil} | Ferrite.error()
  def srandmember(conn, key), do: command(conn, ["SRANDMEMBER", key])

  @doc """
  `SRANDMEMBER key count`: `{:ok, members}`. A positive `count` gives up to
  `count` distinct members; a negative one gives exactly `-count`, possibly
  repeated.
  """
  @spec srandmember(Ferrite.conn(), Ferrite.key(), integer()) ::
          {:ok, [binary()]} | Ferrite.error()
  def srandmember(conn, key, count), do: command(conn, ["SRANDMEMBER", key, count])

  @doc "`SPOP key`: removes and returns a random member; `{:ok, nil}` when missing."
  @spec spop(Ferrite.conn(), Ferrite.key()) :: {:ok, binary() | nil} | Ferrite.error()
  def spop(conn, key), do: command(conn, ["SPOP", key])

  @doc "`SPOP key count`: removes and returns up to `count` random members."
  @spec spop(Ferrite.conn(), Ferrite.key(), non_neg_integer()) ::
          {:ok, [binary()]} | Ferrite.error()
  def spop(conn, key, count), do: command(conn, ["SPOP", key, count])

  @doc """
  `SMOVE source destination member`: `{:ok, 1}` when moved, `{:ok, 0}`
  when `member` was not in `source`.
  """
  @spec smove(Ferrite.conn(), Ferrite.key(), Ferrite.key(), Ferrite.arg()) ::
          {:ok, 0 | 1} | Ferrite.error()
  def smove(conn, source, destination, member),
    do: command(conn, ["SMOVE", source, destination, member])

  @doc "`SMISMEMBER key member...`: `{:ok, [boolean]}`, one per member, in order."
  @spec smismember(Ferrite.conn(), Ferrite.key(), [Ferrite.arg()]) ::
          {:ok, [boolean()]} | Ferrite.error()
  def smismember(conn, key, members) when is_list(members) do
    case command(conn, ["SMISMEMBER", key | members]) do
      {:ok, list} when is_list(list) -> {:ok, Enum.map(list, &(&1 == 1))}
      other -> other
    end
  end

  @doc "`SINTERSTORE destination key...`: stores the intersection; `{:ok, size}`."
  @spec sinterstore(Ferrite.conn(), Ferrite.key(), Ferrite.key() | [Ferrite.key()]) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def sinterstore(conn, destination, keys),
    do: command(conn, ["SINTERSTORE", destination | many(keys)])

  @doc "`SUNIONSTORE destination key...`: stores the union; `{:ok, size}`."
  @spec sunionstore(Ferrite.conn(), Ferrite.key(), Ferrite.key() | [Ferrite.key()]) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def sunionstore(conn, destination, keys),
    do: command(conn, ["SUNIONSTORE", destination | many(keys)])

  @doc "`SDIFFSTORE destination key...`: stores the difference; `{:ok, size}`."
  @spec sdiffstore(Ferrite.conn(), Ferrite.key(), Ferrite.key() | [Ferrite.key()]) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def sdiffstore(conn, destination, keys),
    do: command(conn, ["SDIFFSTORE", destination | many(keys)])

  @doc """
  `SINTERCARD numkeys key... [LIMIT n]`: `{:ok, size}` of the
  intersection, counting up to `limit:` when given (0: no limit).
  """
  @spec sintercard(Ferrite.conn(), Ferrite.key() | [Ferrite.key()], [{:limit, non_neg_integer()}]) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def sintercard(conn, keys, opts \\ []) do
    keys = many(keys)
    limit = if l = opts[:limit], do: ["LIMIT", l], else: []
    command(conn, ["SINTERCARD", length(keys) | keys] ++ limit)
  end

  @doc """
  `SSCAN key cursor [MATCH pattern] [COUNT n]`: one step of an iteration,
  `{:ok, {next_cursor, members}}`; it is over when `next_cursor` is 0.
  """
  @spec sscan(Ferrite.conn(), Ferrite.key(), non_neg_integer() | binary(), keyword()) ::
          {:ok, {non_neg_integer(), [binary()]}} | Ferrite.error()
  def sscan(conn, key, cursor, opts \\ []) do
    case command(conn, [
           "SSCAN",
           key,
           cursor | Ferrite.Commands.Keys.scan_opts(opts, [:match, :count])
         ]) do
      {:ok, [next, members]} -> {:ok, {String.to_integer(next), members}}
      other -> other
    end
  end

  defp many(values) when is_list(values), do: values
  defp many(value), do: [value]
end
