defmodule Ferrite.Commands.SortedSets do
  @moduledoc """
  Sorted set commands (`ZADD`, `ZRANGE`, `ZSCORE`, ...). Call them through
  `Ferrite` (`Ferrite.zadd/4`, ...).

  Scores come back as floats; Redis's infinite scores come back as
  `:infinity` / `:neg_infinity` (the BEAM has no infinite float). Score
  bounds may be numbers or Redis's strings: `"-inf"`, `"+inf"`, and `"(5"`
  for an exclusive bound.
  """

  import Ferrite, only: [command: 2]

  @typedoc "A score as returned: a float, or an infinity."
  @type score :: float() | :infinity | :neg_infinity

  @typedoc "A score bound: a number or Redis's text (`\"+inf\"`, `\"(1.5\"`)."
  @type bound :: number() | binary()

  @typedoc "Options of `zadd/4`."
  @type zadd_opt ::
          {:nx, boolean()}
          | {:xx, boolean()}
          | {:gt, boolean()}
          | {:lt, boolean()}
          | {:ch, boolean()}

  @typedoc "Options of the range functions."
  @type range_opt :: {:withscores, boolean()} | {:limit, {integer(), integer()}}

  @doc """
  `ZADD key [NX|XX] [GT|LT] [CH] score member ...`.

  Members are given as a list of `{score, member}` or a map of
  `member => score`. Returns `{:ok, added}` (with `ch: true`, added plus
  updated).

      {:ok, 2} = Ferrite.zadd(conn, "board", [{100, "alice"}, {95, "bob"}])
      {:ok, 1} = Ferrite.zadd(conn, "board", %{"carol" => 110})
  """
  @spec zadd(Ferrite.conn(), Ferrite.key(), [{number(), Ferrite.arg()}] | map(), [zadd_opt()]) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def zadd(conn, key, members, opts \\ []) do
    command(conn, ["ZADD", key | flags(opts, [:nx, :xx, :gt, :lt, :ch])] ++ score_pairs(members))
  end

  defp score_pairs(members) when is_map(members),
    do: Enum.flat_map(members, fn {member, score} -> [score, member] end)

  defp score_pairs(members) when is_list(members),
    do: Enum.flat_map(members, fn {score, member} -> [score, member] end)

  defp flags(opts, allowed) do
    Enum.flat_map(opts, fn
      {flag, true} ->
        if flag in allowed,
          do: [flag |> Atom.to_string() |> String.upcase()],
          else: raise(ArgumentError, "unknown option: #{inspect(flag)}")

      {flag, false} ->
        if flag in allowed, do: [], else: raise(ArgumentError, "unknown option: #{inspect(flag)}")

      other ->
        raise ArgumentError, "unknown option: #{inspect(other)}"
    end)
  end

  @doc "`ZREM key member ...`: `{:ok, removed}`. Takes one member or a list."
  @spec zrem(Ferrite.conn(), Ferrite.key(), Ferrite.arg() | [Ferrite.arg()]) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def zrem(conn, key, members), do: command(conn, ["ZREM", key | List.wrap(members)])

  @doc "`ZSCORE key member`: `{:ok, score}` or `{:ok, nil}` when absent."
  @spec zscore(Ferrite.conn(), Ferrite.key(), Ferrite.arg()) ::
          {:ok, score() | nil} | Ferrite.error()
  def zscore(conn, key, member), do: ok_score(command(conn, ["ZSCORE", key, member]))

  @doc "`ZINCRBY key increment member`: `{:ok, new_score}`."
  @spec zincrby(Ferrite.conn(), Ferrite.key(), number() | binary(), Ferrite.arg()) ::
          {:ok, score()} | Ferrite.error()
  def zincrby(conn, key, increment, member),
    do: ok_score(command(conn, ["ZINCRBY", key, increment, member]))

  @doc "`ZRANK key member`: `{:ok, rank}` (0-based, lowest score first) or `{:ok, nil}`."
  @spec zrank(Ferrite.conn(), Ferrite.key(), Ferrite.arg()) ::
          {:ok, non_neg_integer() | nil} | Ferrite.error()
  def zrank(conn, key, member), do: command(conn, ["ZRANK", key, member])

  @doc "`ZREVRANK key member`: `{:ok, rank}` (0-based, highest score first) or `{:ok, nil}`."
  @spec zrevrank(Ferrite.conn(), Ferrite.key(), Ferrite.arg()) ::
          {:ok, non_neg_integer() | nil} | Ferrite.error()
  def zrevrank(conn, key, member), do: command(conn, ["ZREVRANK", key, member])

  @doc "`ZCARD key`: `{:ok, count}` (0 when missing)."
  @spec zcard(Ferrite.conn(), Ferrite.key()) :: {:ok, non_neg_integer()} | Ferrite.error()
  def zcard(conn, key), do: command(conn, ["ZCARD", key])

  @doc "`ZCOUNT key min max`: `{:ok, count}` of members with a score in the bounds."
  @spec zcount(Ferrite.conn(), Ferrite.key(), bound(), bound()) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def zcount(conn, key, min, max), do: command(conn, ["ZCOUNT", key, min, max])

  @doc """
  `ZRANGE key start stop [WITHSCORES]` by rank (negative counts from the
  end): `{:ok, members}`, or with `withscores: true` `{:ok, [{member, score}]}`.
  """
  @spec zrange(Ferrite.conn(), Ferrite.key(), integer(), integer(), [range_opt()]) ::
          {:ok, [binary()] | [{binary(), score()}]} | Ferrite.error()
  def zrange(conn, key, start, stop, opts \\ []),
    do: ranged(conn, ["ZRANGE", key, start, stop], opts)

  @doc "`ZREVRANGE key start stop [WITHSCORES]`: like `zrange/5`, highest score first."
  @spec zrevrange(Ferrite.conn(), Ferrite.key(), integer(), integer(), [range_opt()]) ::
          {:ok, [binary()] | [{binary(), score()}]} | Ferrite.error()
  def zrevrange(conn, key, start, stop, opts \\ []),
    do: ranged(conn, ["ZREVRANGE", key, start, stop], opts)

  @doc """
  `ZRANGEBYSCORE key min max [WITHSCORES] [LIMIT offset count]`: members
  with a score in the bounds, lowest first. `limit: {offset, count}`.

      {:ok, top} = Ferrite.zrangebyscore(conn, "board", 100, "+inf", withscores: true)
  """
  @spec zrangebyscore(Ferrite.conn(), Ferrite.key(), bound(), bound(), [range_opt()]) ::
          {:ok, [binary()] | [{binary(), score()}]} | Ferrite.error()
  def zrangebyscore(conn, key, min, max, opts \\ []),
    do: ranged(conn, ["ZRANGEBYSCORE", key, min, max], opts)

  @doc """
  `ZREVRANGEBYSCORE key max min [WITHSCORES] [LIMIT offset count]`: like
  `zrangebyscore/5`, highest score first (note: `max` comes first).
  """
  @spec zrevrangebyscore(Ferrite.conn(), Ferrite.key(), bound(), bound(), [range_opt()]) ::
          {:ok, [binary()] | [{binary(), score()}]} | Ferrite.error()
  def zrevrangebyscore(conn, key, max, min, opts \\ []),
    do: ranged(conn, ["ZREVRANGEBYSCORE", key, max, min], opts)

  @doc """
  `ZRANGEBYLEX key min max [LIMIT offset count]`: members between two
  lexicographic bounds (`"[a"` inclusive, `"(a"` exclusive, `"-"`, `"+"`),
  for members of equal score. `limit: {offset, count}`.
  """
  @spec zrangebylex(Ferrite.conn(), Ferrite.key(), binary(), binary(), [
          {:limit, {integer(), integer()}}
        ]) :: {:ok, [binary()]} | Ferrite.error()
  def zrangebylex(conn, key, min, max, opts \\ []),
    do: ranged(conn, ["ZRANGEBYLEX", key, min, max], opts)

  @doc "`ZREMRANGEBYRANK key start stop`: removes by rank; `{:ok, removed}`."
  @spec zremrangebyrank(Ferrite.conn(), Ferrite.key(), integer(), integer()) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def zremrangebyrank(conn, key, start, stop),
    do: command(conn, ["ZREMRANGEBYRANK", key, start, stop])

  @doc "`ZREMRANGEBYSCORE key min max`: removes by score; `{:ok, removed}`."
  @spec zremrangebyscore(Ferrite.conn(), Ferrite.key(), bound(), bound()) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def zremrangebyscore(conn, key, min, max),
    do: command(conn, ["ZREMRANGEBYSCORE", key, min, max])

  @doc """
  `ZPOPMIN key`: removes the lowest-scored member, `{:ok, {member,
  score}}`, or `{:ok, nil}` when the set is empty or missing.
  """
  @spec zpopmin(Ferrite.conn(), Ferrite.key()) ::
          {:ok, {binary(), score()} | nil} | Ferrite.error()
  def zpopmin(conn, key), do: pop_one(command(conn, ["ZPOPMIN", key]))

  @doc "`ZPOPMIN key count`: up to `count` lowest, `{:ok, [{member, score}]}`."
  @spec zpopmin(Ferrite.conn(), Ferrite.key(), non_neg_integer()) ::
          {:ok, [{binary(), score()}]} | Ferrite.error()
  def zpopmin(conn, key, count), do: pop_many(command(conn, ["ZPOPMIN", key, count]))

  @doc "`ZPOPMAX key`: as `zpopmin/2`, the highest-scored member."
  @spec zpopmax(Ferrite.conn(), Ferrite.key()) ::
          {:ok, {binary(), score()} | nil} | Ferrite.error()
  def zpopmax(conn, key), do: pop_one(command(conn, ["ZPOPMAX", key]))

  @doc "`ZPOPMAX key count`: up to `count` highest, `{:ok, [{member, score}]}`."
  @spec zpopmax(Ferrite.conn(), Ferrite.key(), non_neg_integer()) ::
          {:ok, [{binary(), score()}]} | Ferrite.error()
  def zpopmax(conn, key, count), do: pop_many(command(conn, ["ZPOPMAX", key, count]))

  defp pop_one({:ok, []}), do: {:ok, nil}
  defp pop_one({:ok, [[member, score]]}), do: {:ok, {member, to_score(score)}}
  defp pop_one({:ok, [member, score]}), do: {:ok, {member, to_score(score)}}
  defp pop_one(other), do: other

  defp pop_many({:ok, list}) when is_list(list), do: {:ok, pairs(list)}
  defp pop_many(other), do: other

  @doc """
  `ZMSCORE key member...`: `{:ok, [score | nil]}`, one per member, in order.
  """
  @spec zmscore(Ferrite.conn(), Ferrite.key(), [Ferrite.arg()]) ::
          {:ok, [score() | nil]} | Ferrite.error()
  def zmscore(conn, key, members) when is_list(members) do
    case command(conn, ["ZMSCORE", key | members]) do
      {:ok, list} when is_list(list) -> {:ok, Enum.map(list, &(&1 && to_score(&1)))}
      other -> other
    end
  end

  @typedoc "Options of `zunionstore/4` and `zinterstore/4`."
  @type store_opt :: {:weights, [number()]} | {:aggregate, :sum | :min | :max}

  @doc """
  `ZUNIONSTORE destination numkeys key... [WEIGHTS w...] [AGGREGATE
  SUM|MIN|MAX]`: stores the union; `{:ok, size}`. Options: `weights:`,
  `aggregate:`.
  """
  @spec zunionstore(Ferrite.conn(), Ferrite.key(), [Ferrite.key()], [store_opt()]) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def zunionstore(conn, destination, keys, opts \\ []),
    do: command(conn, ["ZUNIONSTORE", destination | set_op_args(keys, opts)])

  @doc "`ZINTERSTORE destination numkeys key... [WEIGHTS] [AGGREGATE]`: as `zunionstore/4`."
  @spec zinterstore(Ferrite.conn(), Ferrite.key(), [Ferrite.key()], [store_opt()]) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def zinterstore(conn, destination, keys, opts \\ []),
    do: command(conn, ["ZINTERSTORE", destination | set_op_args(keys, opts)])

  defp set_op_args(keys, opts) do
    keys = List.wrap(keys)

    extra =
      Enum.flat_map(opts, fn
        {:weights, ws} when is_list(ws) ->
          ["WEIGHTS" | ws]

        {:aggregate, a} when a in [:sum, :min, :max] ->
          ["AGGREGATE", a |> Atom.to_string() |> String.upcase()]

        other ->
          raise ArgumentError, "unknown option: #{inspect(other)}"
      end)

    [length(keys) | keys] ++ extra
  end

  @doc """
  `ZSCAN key cursor [MATCH pattern] [COUNT n]`: one step of an iteration,
  `{:ok, {next_cursor, [{member, score}]}}`; over when `next_cursor` is 0.
  """
  @spec zscan(Ferrite.conn(), Ferrite.key(), non_neg_integer() | binary(), keyword()) ::
          {:ok, {non_neg_integer(), [{binary(), score()}]}} | Ferrite.error()
  def zscan(conn, key, cursor, opts \\ []) do
    case command(conn, [
           "ZSCAN",
           key,
           cursor | Ferrite.Commands.Keys.scan_opts(opts, [:match, :count])
         ]) do
      {:ok, [next, flat]} -> {:ok, {String.to_integer(next), pairs(flat)}}
      other -> other
    end
  end

  defp ranged(conn, argv, opts) do
    withscores = Keyword.get(opts, :withscores, false)

    extra =
      Enum.flat_map(opts, fn
        {:withscores, true} -> ["WITHSCORES"]
        {:withscores, false} -> []
        {:limit, {offset, count}} -> ["LIMIT", offset, count]
        other -> raise ArgumentError, "unknown option: #{inspect(other)}"
      end)

    case command(conn, argv ++ extra) do
      {:ok, flat} when withscores -> {:ok, pairs(flat)}
      other -> other
    end
  end

  defp pairs([[member, score] | rest]), do: [{member, to_score(score)} | pairs(rest)]
  defp pairs([member, score | rest]), do: [{member, to_score(score)} | pairs(rest)]
  defp pairs([]), do: []

  defp ok_score({:ok, nil}), do: {:ok, nil}
  defp ok_score({:ok, s}), do: {:ok, to_score(s)}
  defp ok_score(other), do: other

  @doc false
  @spec to_score(binary() | float()) :: score()
  def to_score("inf"), do: :infinity
  def to_score("-inf"), do: :neg_infinity
  def to_score(f) when is_float(f), do: f

  def to_score(bin) when is_binary(bin) do
    case Float.parse(bin) do
      {f, ""} -> f
      _ -> raise ArgumentError, "not a score: #{inspect(bin)}"
    end
  end
end
