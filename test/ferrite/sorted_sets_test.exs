defmodule Ferrite.SortedSetsTest do
  use ExUnit.Case, async: true

  alias Ferrite.ResponseError

  setup context do
    {:ok, conn} = Ferrite.TestConn.open(context)
    %{conn: conn}
  end

  @wrongtype "WRONGTYPE Operation against a key holding the wrong kind of value"

  test "zadd with a list or a map, and options", %{conn: c} do
    assert Ferrite.zadd(c, "z", [{100, "alice"}, {95, "bob"}]) == {:ok, 2}
    assert Ferrite.zadd(c, "z", %{"carol" => 110, "alice" => 101}) == {:ok, 1}
    assert Ferrite.zadd(c, "z", [{1, "alice"}], gt: true) == {:ok, 0}
    assert Ferrite.zscore(c, "z", "alice") == {:ok, 101.0}
    assert Ferrite.zadd(c, "z", [{200, "alice"}, {1, "dave"}], xx: true, ch: true) == {:ok, 1}
    assert Ferrite.zadd(c, "z", [{5, "eve"}], nx: true) == {:ok, 1}
    assert Ferrite.zcard(c, "z") == {:ok, 4}
  end

  test "zadd errors", %{conn: c} do
    assert {:error,
            %ResponseError{message: "ERR XX and NX options at the same time are not compatible"}} =
             Ferrite.zadd(c, "z", [{1, "a"}], nx: true, xx: true)

    assert {:error, %ResponseError{message: "ERR value is not a valid float"}} =
             Ferrite.zadd(c, "z", [{"abc", "a"}])

    assert_raise ArgumentError, fn -> Ferrite.zadd(c, "z", [{1, "a"}], bogus: true) end
    :ok = Ferrite.set(c, "s", "v")
    assert {:error, %ResponseError{message: @wrongtype}} = Ferrite.zadd(c, "s", [{1, "a"}])
  end

  test "zscore, zincrby, zrem, ranks", %{conn: c} do
    {:ok, 3} = Ferrite.zadd(c, "z", [{1.5, "a"}, {2, "b"}, {3, "c"}])
    assert Ferrite.zscore(c, "z", "a") == {:ok, 1.5}
    assert Ferrite.zscore(c, "z", "nope") == {:ok, nil}
    assert Ferrite.zscore(c, "missing", "a") == {:ok, nil}
    assert Ferrite.zincrby(c, "z", 1.1, "a") == {:ok, 2.6}
    assert Ferrite.zincrby(c, "z", "-inf", "c") == {:ok, :neg_infinity}

    assert {:error, %ResponseError{message: "ERR resulting score is not a number (NaN)"}} =
             Ferrite.zincrby(c, "z", "+inf", "c")

    assert Ferrite.zrank(c, "z", "c") == {:ok, 0}
    assert Ferrite.zrank(c, "z", "b") == {:ok, 1}
    assert Ferrite.zrevrank(c, "z", "b") == {:ok, 1}
    assert Ferrite.zrevrank(c, "z", "a") == {:ok, 0}
    assert Ferrite.zrank(c, "z", "nope") == {:ok, nil}
    assert Ferrite.zrem(c, "z", ["a", "nope"]) == {:ok, 1}
    assert Ferrite.zrem(c, "z", "b") == {:ok, 1}
    assert Ferrite.zrem(c, "z", "c") == {:ok, 1}
    assert Ferrite.exists(c, ["z"]) == {:ok, 0}
  end

  test "ranges with and without scores", %{conn: c} do
    {:ok, 4} = Ferrite.zadd(c, "z", %{"a" => 1, "b" => 2, "c" => 3, "d" => "inf"})
    assert Ferrite.zrange(c, "z", 0, -1) == {:ok, ["a", "b", "c", "d"]}

    assert Ferrite.zrange(c, "z", 0, 1, withscores: true) ==
             {:ok, [{"a", 1.0}, {"b", 2.0}]}

    assert Ferrite.zrevrange(c, "z", 0, 1, withscores: true) ==
             {:ok, [{"d", :infinity}, {"c", 3.0}]}

    assert Ferrite.zrange(c, "missing", 0, -1) == {:ok, []}
    assert Ferrite.zrangebyscore(c, "z", 2, "+inf") == {:ok, ["b", "c", "d"]}

    assert Ferrite.zrangebyscore(c, "z", "(1", 3, withscores: true) ==
             {:ok, [{"b", 2.0}, {"c", 3.0}]}

    assert Ferrite.zrangebyscore(c, "z", "-inf", "+inf", limit: {1, 2}) == {:ok, ["b", "c"]}

    assert {:error, %ResponseError{message: "ERR min or max is not a float"}} =
             Ferrite.zrangebyscore(c, "z", "x", 1)

    assert Ferrite.zcount(c, "z", "-inf", "+inf") == {:ok, 4}
    assert Ferrite.zcount(c, "z", "(1", 3) == {:ok, 2}

    assert {:error, %ResponseError{message: "ERR min or max is not a float"}} =
             Ferrite.zcount(c, "z", "a", 1)

    assert {:error, %ResponseError{message: "ERR value is not an integer or out of range"}} =
             Ferrite.zrange(c, "z", "x", 1)
  end

  test "the command path agrees with Redis's raw replies", %{conn: c} do
    {:ok, 1} = Ferrite.command(c, ["ZADD", "z", "1.1", "a"])
    assert Ferrite.command(c, ["ZSCORE", "z", "a"]) == {:ok, "1.1000000000000001"}
    assert Ferrite.command(c, ["ZPOPMIN", "z"]) == {:ok, ["a", "1.1000000000000001"]}
    assert Ferrite.command(c, ["ZMPOP", "1", "z", "MIN"]) == {:ok, nil}
  end

  test "bzpopmin waits in the caller and is served by a zadd", %{conn: c} do
    parent = self()

    task =
      Task.async(fn ->
        send(parent, :waiting)
        Ferrite.command(c, ["BZPOPMIN", "q", "0"])
      end)

    assert_receive :waiting
    Process.sleep(50)
    {:ok, 1} = Ferrite.zadd(c, "q", [{7, "job"}])
    assert Task.await(task) == {:ok, ["q", "job", "7"]}
    assert Ferrite.command(c, ["BZPOPMIN", "q", "0.05"]) == {:ok, nil}
  end

  defp zerr(msg), do: {:error, %ResponseError{message: msg}}

  describe "more sorted set functions" do
    setup %{conn: c} do
      {:ok, 5} = Ferrite.zadd(c, "z", [{1, "a"}, {2, "b"}, {3, "c"}, {4, "d"}, {5, "e"}])
      :ok = Ferrite.set(c, "str", "v")
      :ok
    end

    test "zrevrangebyscore", %{conn: c} do
      assert Ferrite.zrevrangebyscore(c, "z", "+inf", 3) == {:ok, ["e", "d", "c"]}

      assert Ferrite.zrevrangebyscore(c, "z", "(5", "-inf", withscores: true, limit: {1, 2}) ==
               {:ok, [{"c", 3.0}, {"b", 2.0}]}

      assert Ferrite.zrevrangebyscore(c, "z", 1, 5) == {:ok, []}
      assert Ferrite.zrevrangebyscore(c, "z", "x", 1) == zerr("ERR min or max is not a float")
      assert Ferrite.zrevrangebyscore(c, "str", 1, 0) == zerr(@wrongtype)
    end

    test "zrangebylex", %{conn: c} do
      {:ok, 4} = Ferrite.zadd(c, "lex", [{0, "apple"}, {0, "banana"}, {0, "cherry"}, {0, "date"}])

      assert Ferrite.zrangebylex(c, "lex", "-", "+") ==
               {:ok, ["apple", "banana", "cherry", "date"]}

      assert Ferrite.zrangebylex(c, "lex", "[banana", "(date") == {:ok, ["banana", "cherry"]}
      assert Ferrite.zrangebylex(c, "lex", "-", "+", limit: {1, 2}) == {:ok, ["banana", "cherry"]}

      assert Ferrite.zrangebylex(c, "lex", "banana", "+") ==
               zerr("ERR min or max not valid string range item")
    end

    test "zremrangebyrank and zremrangebyscore", %{conn: c} do
      assert Ferrite.zremrangebyrank(c, "z", 0, 1) == {:ok, 2}
      assert Ferrite.zrange(c, "z", 0, -1) == {:ok, ["c", "d", "e"]}
      assert Ferrite.zremrangebyscore(c, "z", "(3", 4) == {:ok, 1}
      assert Ferrite.zrange(c, "z", 0, -1) == {:ok, ["c", "e"]}
      assert Ferrite.zremrangebyscore(c, "z", "-inf", "+inf") == {:ok, 2}
      assert Ferrite.exists(c, "z") == {:ok, 0}
      assert Ferrite.zremrangebyrank(c, "nosuch", 0, -1) == {:ok, 0}
      assert Ferrite.zremrangebyrank(c, "str", 0, -1) == zerr(@wrongtype)
      assert Ferrite.zremrangebyscore(c, "z", "a", 1) == zerr("ERR min or max is not a float")
    end

    test "zpopmin and zpopmax, with and without a count", %{conn: c} do
      assert Ferrite.zpopmin(c, "z") == {:ok, {"a", 1.0}}
      assert Ferrite.zpopmax(c, "z") == {:ok, {"e", 5.0}}
      assert Ferrite.zpopmin(c, "z", 2) == {:ok, [{"b", 2.0}, {"c", 3.0}]}
      assert Ferrite.zpopmax(c, "z", 10) == {:ok, [{"d", 4.0}]}
      assert Ferrite.exists(c, "z") == {:ok, 0}
      assert Ferrite.zpopmin(c, "z") == {:ok, nil}
      assert Ferrite.zpopmax(c, "z", 3) == {:ok, []}
      {:ok, 1} = Ferrite.zadd(c, "inf", [{"+inf", "top"}])
      assert Ferrite.zpopmax(c, "inf") == {:ok, {"top", :infinity}}
      assert Ferrite.zpopmin(c, "z", -1) == zerr("ERR value is out of range, must be positive")
      assert Ferrite.zpopmin(c, "str") == zerr(@wrongtype)
    end

    test "zmscore", %{conn: c} do
      assert Ferrite.zmscore(c, "z", ["a", "zz", "e"]) == {:ok, [1.0, nil, 5.0]}
      assert Ferrite.zmscore(c, "nosuch", ["a"]) == {:ok, [nil]}
      assert Ferrite.zmscore(c, "str", ["a"]) == zerr(@wrongtype)
    end

    test "zunionstore and zinterstore with weights and aggregate", %{conn: c} do
      {:ok, 2} = Ferrite.zadd(c, "y", [{10, "a"}, {20, "x"}])
      assert Ferrite.zunionstore(c, "u", ["z", "y"]) == {:ok, 6}
      assert Ferrite.zscore(c, "u", "a") == {:ok, 11.0}
      assert Ferrite.zinterstore(c, "i", ["z", "y"], weights: [2, 0.5]) == {:ok, 1}
      assert Ferrite.zrange(c, "i", 0, -1, withscores: true) == {:ok, [{"a", 7.0}]}
      assert Ferrite.zunionstore(c, "m", ["z", "y"], aggregate: :max) == {:ok, 6}
      assert Ferrite.zscore(c, "m", "a") == {:ok, 10.0}
      assert Ferrite.zinterstore(c, "i", ["z", "nosuch"]) == {:ok, 0}
      assert Ferrite.exists(c, "i") == {:ok, 0}

      assert Ferrite.zunionstore(c, "u", ["z", "y"], weights: [1]) == zerr("ERR syntax error")
      assert Ferrite.zunionstore(c, "u", ["z", "str"]) == zerr(@wrongtype)
    end

    test "zscan walks every member with its score", %{conn: c} do
      assert Enum.sort(zscan_all(c, "z", 0, [])) ==
               [{"a", 1.0}, {"b", 2.0}, {"c", 3.0}, {"d", 4.0}, {"e", 5.0}]

      {:ok, {0, [{"c", 3.0}]}} = Ferrite.zscan(c, "z", 0, match: "c")
      assert Ferrite.zscan(c, "nosuch", 0) == {:ok, {0, []}}
      assert Ferrite.zscan(c, "str", 0) == zerr(@wrongtype)
    end
  end

  defp zscan_all(c, key, cursor, acc) do
    {:ok, {next, items}} = Ferrite.zscan(c, key, cursor, count: 2)
    if next == 0, do: acc ++ items, else: zscan_all(c, key, next, acc ++ items)
  end
end
