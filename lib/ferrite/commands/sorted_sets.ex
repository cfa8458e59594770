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
