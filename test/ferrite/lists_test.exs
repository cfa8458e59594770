defmodule Ferrite.ListsTest do
  # Replies checked against redis-server 7.0.15.
  use ExUnit.Case, async: true

  @wrongtype "WRONGTYPE Operation against a key holding the wrong kind of value"
  @not_int "ERR value is not an integer or out of range"
  @positive "ERR value is out of range, must be positive"

  defp err(msg), do: {:error, %Ferrite.ResponseError{message: msg}}

  setup context do
    {:ok, conn} = Ferrite.TestConn.open(context)
    :ok = Ferrite.set(conn, "str", "v")
    %{c: conn}
  end

  describe "lpush/rpush" do
    test "push one value or a list, and return the new length", %{c: c} do
      assert Ferrite.rpush(c, "l", "a") == {:ok, 1}
      assert Ferrite.rpush(c, "l", ["b", "c"]) == {:ok, 3}
      assert Ferrite.lpush(c, "l", ["x", "y"]) == {:ok, 5}
      assert Ferrite.lpush(c, "l", "z") == {:ok, 6}
      # LPUSH inserts one by one: the last value given ends up first.
      assert Ferrite.lrange(c, "l", 0, -1) == {:ok, ["z", "y", "x", "a", "b", "c"]}
    end

    test "integers, floats and atoms are sent as text", %{c: c} do
      assert Ferrite.rpush(c, "l", [1, 2.5, :three]) == {:ok, 3}
      assert Ferrite.lrange(c, "l", 0, -1) == {:ok, ["1", "2.5", "three"]}
    end

    test "errors", %{c: c} do
      assert Ferrite.lpush(c, "l", []) == err("ERR wrong number of arguments for 'lpush' command")
      assert Ferrite.rpush(c, "l", []) == err("ERR wrong number of arguments for 'rpush' command")
      assert Ferrite.lpush(c, "str", "a") == err(@wrongtype)
      assert Ferrite.rpush(c, "str", ["a"]) == err(@wrongtype)
      assert Ferrite.get(c, "str") == {:ok, "v"}
    end
  end

  describe "lpop/rpop" do
    test "one element, nil when empty, and the key goes with its last element", %{c: c} do
      {:ok, 3} = Ferrite.rpush(c, "l", ["a", "b", "c"])
      assert Ferrite.lpop(c, "l") == {:ok, "a"}
      assert Ferrite.rpop(c, "l") == {:ok, "c"}
      assert Ferrite.rpop(c, "l") == {:ok, "b"}
      assert Ferrite.lpop(c, "l") == {:ok, nil}
      assert Ferrite.rpop(c, "l") == {:ok, nil}
      assert Ferrite.exists(c, ["l"]) == {:ok, 0}
    end

    test "with a count", %{c: c} do
      {:ok, 5} = Ferrite.rpush(c, "l", ["a", "b", "c", "d", "e"])
      assert Ferrite.lpop(c, "l", 2) == {:ok, ["a", "b"]}
      assert Ferrite.rpop(c, "l", 2) == {:ok, ["e", "d"]}
      assert Ferrite.lpop(c, "l", 0) == {:ok, []}
      assert Ferrite.rpop(c, "l", 10) == {:ok, ["c"]}
      # A missing key with a count is a nil array, not an empty one.
      assert Ferrite.lpop(c, "l", 2) == {:ok, nil}
      assert Ferrite.rpop(c, "l", 2) == {:ok, nil}
    end

    test "errors", %{c: c} do
      {:ok, 1} = Ferrite.rpush(c, "l", "a")
      assert Ferrite.lpop(c, "l", -1) == err(@positive)
      assert Ferrite.rpop(c, "l", -1) == err(@positive)
      assert Ferrite.lpop(c, "l", "x") == err(@positive)
      assert Ferrite.lpop(c, "str") == err(@wrongtype)
      assert Ferrite.rpop(c, "str", 2) == err(@wrongtype)
      assert Ferrite.lrange(c, "l", 0, -1) == {:ok, ["a"]}
    end
  end

  describe "lrange/lindex/llen/ltrim" do
    setup %{c: c} do
      {:ok, 5} = Ferrite.rpush(c, "l", ["a", "b", "c", "d", "e"])
      :ok
    end

    test "lrange with negative and out-of-range indexes", %{c: c} do
      assert Ferrite.lrange(c, "l", 1, 2) == {:ok, ["b", "c"]}
      assert Ferrite.lrange(c, "l", -2, -1) == {:ok, ["d", "e"]}
      assert Ferrite.lrange(c, "l", -100, 100) == {:ok, ["a", "b", "c", "d", "e"]}
      assert Ferrite.lrange(c, "l", 3, 1) == {:ok, []}
      assert Ferrite.lrange(c, "l", 5, 10) == {:ok, []}
      assert Ferrite.lrange(c, "missing", 0, -1) == {:ok, []}
    end

    test "lindex", %{c: c} do
      assert Ferrite.lindex(c, "l", 0) == {:ok, "a"}
      assert Ferrite.lindex(c, "l", -1) == {:ok, "e"}
      assert Ferrite.lindex(c, "l", 5) == {:ok, nil}
      assert Ferrite.lindex(c, "l", -6) == {:ok, nil}
      assert Ferrite.lindex(c, "missing", 0) == {:ok, nil}
    end

    test "llen", %{c: c} do
      assert Ferrite.llen(c, "l") == {:ok, 5}
      assert Ferrite.llen(c, "missing") == {:ok, 0}
    end

    test "ltrim keeps a range, and an empty result deletes the key", %{c: c} do
      assert Ferrite.ltrim(c, "l", 1, -2) == :ok
      assert Ferrite.lrange(c, "l", 0, -1) == {:ok, ["b", "c", "d"]}
      assert Ferrite.ltrim(c, "missing", 0, 1) == :ok
      assert Ferrite.ltrim(c, "l", 5, 10) == :ok
      assert Ferrite.exists(c, ["l"]) == {:ok, 0}
    end

    test "errors", %{c: c} do
      assert Ferrite.lrange(c, "l", "a", 1) == err(@not_int)
      assert Ferrite.lrange(c, "l", 0, 1.5) == err(@not_int)
      assert Ferrite.lindex(c, "l", "x") == err(@not_int)
      assert Ferrite.ltrim(c, "l", "x", 1) == err(@not_int)
      assert Ferrite.lrange(c, "str", 0, -1) == err(@wrongtype)
      assert Ferrite.lindex(c, "str", 0) == err(@wrongtype)
      assert Ferrite.llen(c, "str") == err(@wrongtype)
      assert Ferrite.ltrim(c, "str", 0, 1) == err(@wrongtype)
      assert Ferrite.llen(c, "l") == {:ok, 5}
    end
  end

  describe "lmove" do
    test "moves between ends and lists, nil from an empty source", %{c: c} do
      {:ok, 3} = Ferrite.rpush(c, "src", ["a", "b", "c"])
      assert Ferrite.lmove(c, "src", "dst", :left, :right) == {:ok, "a"}
      assert Ferrite.lmove(c, "src", "dst", :right, :left) == {:ok, "c"}
      assert Ferrite.lrange(c, "dst", 0, -1) == {:ok, ["c", "a"]}
      # Rotation on one list.
      assert Ferrite.lmove(c, "dst", "dst", :left, :right) == {:ok, "c"}
      assert Ferrite.lrange(c, "dst", 0, -1) == {:ok, ["a", "c"]}
      assert Ferrite.lmove(c, "src", "dst", :left, :left) == {:ok, "b"}
      assert Ferrite.lmove(c, "src", "dst", :left, :left) == {:ok, nil}
      assert Ferrite.exists(c, ["src"]) == {:ok, 0}
    end

    test "errors", %{c: c} do
      {:ok, 1} = Ferrite.rpush(c, "l", "a")
      assert Ferrite.lmove(c, "str", "l", :left, :left) == err(@wrongtype)
      # A wrong-typed destination is refused before anything is popped.
      assert Ferrite.lmove(c, "l", "str", :left, :left) == err(@wrongtype)
      assert Ferrite.lrange(c, "l", 0, -1) == {:ok, ["a"]}

      assert_raise ArgumentError, fn -> Ferrite.lmove(c, "l", "m", :up, :left) end
      assert Ferrite.command(c, ["LMOVE", "l", "m", "UP", "LEFT"]) == err("ERR syntax error")
    end
  end

  describe "non-blocking use of blpop/brpop/blmove" do
    test "serve at once from the first non-empty key", %{c: c} do
      {:ok, 2} = Ferrite.rpush(c, "b", ["b1", "b2"])
      {:ok, 1} = Ferrite.rpush(c, "c", ["c1"])
      assert Ferrite.blpop(c, ["a", "b", "c"], 1) == {:ok, {"b", "b1"}}
      assert Ferrite.brpop(c, ["a", "c", "b"], 1) == {:ok, {"c", "c1"}}
      assert Ferrite.brpop(c, "b", 0) == {:ok, {"b", "b2"}}
      {:ok, 1} = Ferrite.rpush(c, "s", "x")
      assert Ferrite.blmove(c, "s", "d", :right, :left, 0.5) == {:ok, "x"}
      assert Ferrite.lrange(c, "d", 0, -1) == {:ok, ["x"]}
    end

    test "errors come back at once", %{c: c} do
      assert Ferrite.blpop(c, "l", -1) == err("ERR timeout is negative")
      assert Ferrite.brpop(c, "l", "abc") == err("ERR timeout is not a float or out of range")
      assert Ferrite.blmove(c, "l", "m", :left, :left, -0.5) == err("ERR timeout is negative")
      assert Ferrite.blpop(c, ["str"], 1) == err(@wrongtype)
      assert Ferrite.brpop(c, ["missing", "str"], 1) == err(@wrongtype)
      {:ok, 1} = Ferrite.rpush(c, "l", "a")
      assert Ferrite.blmove(c, "l", "str", :left, :left, 1) == err(@wrongtype)
      assert Ferrite.lrange(c, "l", 0, -1) == {:ok, ["a"]}
    end
  end

  describe "lset/linsert/lrem/lpos/rpoplpush/lpushx/rpushx" do
    test "lset replaces by index, errors for a missing key or bad index", %{c: c} do
      {:ok, 3} = Ferrite.rpush(c, "l", ["a", "b", "c"])
      assert Ferrite.lset(c, "l", 1, "B") == :ok
      assert Ferrite.lset(c, "l", -1, "C") == :ok
      assert Ferrite.lrange(c, "l", 0, -1) == {:ok, ["a", "B", "C"]}
      assert Ferrite.lset(c, "l", 3, "x") == err("ERR index out of range")
      assert Ferrite.lset(c, "nosuch", 0, "x") == err("ERR no such key")
      assert Ferrite.lset(c, "str", 0, "x") == err(@wrongtype)
      assert Ferrite.lset(c, "l", "x", "x") == err(@not_int)
    end

    test "linsert before and after a pivot", %{c: c} do
      {:ok, 2} = Ferrite.rpush(c, "l", ["a", "c"])
      assert Ferrite.linsert(c, "l", :before, "c", "b") == {:ok, 3}
      assert Ferrite.linsert(c, "l", :after, "c", "d") == {:ok, 4}
      assert Ferrite.lrange(c, "l", 0, -1) == {:ok, ["a", "b", "c", "d"]}
      assert Ferrite.linsert(c, "l", :after, "zz", "x") == {:ok, -1}
      assert Ferrite.linsert(c, "nosuch", :before, "a", "x") == {:ok, 0}
      assert Ferrite.exists(c, "nosuch") == {:ok, 0}
      assert Ferrite.linsert(c, "str", :before, "a", "x") == err(@wrongtype)
    end

    test "lrem from the head, the tail, or all", %{c: c} do
      {:ok, 6} = Ferrite.rpush(c, "l", ["x", "a", "x", "b", "x", "x"])
      assert Ferrite.lrem(c, "l", 1, "x") == {:ok, 1}
      assert Ferrite.lrem(c, "l", -2, "x") == {:ok, 2}
      assert Ferrite.lrange(c, "l", 0, -1) == {:ok, ["a", "x", "b"]}
      assert Ferrite.lrem(c, "l", 0, "zz") == {:ok, 0}
      assert Ferrite.lrem(c, "l", 0, "x") == {:ok, 1}
      assert Ferrite.lrem(c, "nosuch", 0, "x") == {:ok, 0}
      assert Ferrite.lrem(c, "str", 0, "x") == err(@wrongtype)
    end

    test "lpos with rank, count and maxlen", %{c: c} do
      {:ok, 6} = Ferrite.rpush(c, "l", ["a", "b", "c", "b", "d", "b"])
      assert Ferrite.lpos(c, "l", "b") == {:ok, 1}
      assert Ferrite.lpos(c, "l", "zz") == {:ok, nil}
      assert Ferrite.lpos(c, "l", "b", rank: 2) == {:ok, 3}
      assert Ferrite.lpos(c, "l", "b", rank: -1) == {:ok, 5}
      assert Ferrite.lpos(c, "l", "b", count: 0) == {:ok, [1, 3, 5]}
      assert Ferrite.lpos(c, "l", "b", count: 2, rank: -1) == {:ok, [5, 3]}
      assert Ferrite.lpos(c, "l", "b", count: 0, maxlen: 4) == {:ok, [1, 3]}
      assert Ferrite.lpos(c, "l", "zz", count: 1) == {:ok, []}
      assert Ferrite.lpos(c, "nosuch", "b") == {:ok, nil}

      assert Ferrite.lpos(c, "l", "b", rank: 0) ==
               err(
                 "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
               )

      assert Ferrite.lpos(c, "l", "b", count: -1) == err("ERR COUNT can't be negative")
      assert Ferrite.lpos(c, "l", "b", maxlen: -1) == err("ERR MAXLEN can't be negative")
      assert Ferrite.lpos(c, "str", "b") == err(@wrongtype)
    end

    test "rpoplpush moves the tail to the head", %{c: c} do
      {:ok, 2} = Ferrite.rpush(c, "src", ["a", "b"])
      assert Ferrite.rpoplpush(c, "src", "dst") == {:ok, "b"}
      assert Ferrite.rpoplpush(c, "src", "src") == {:ok, "a"}
      assert Ferrite.rpoplpush(c, "src", "dst") == {:ok, "a"}
      assert Ferrite.lrange(c, "dst", 0, -1) == {:ok, ["a", "b"]}
      assert Ferrite.exists(c, "src") == {:ok, 0}
      assert Ferrite.rpoplpush(c, "src", "dst") == {:ok, nil}
      assert Ferrite.rpoplpush(c, "dst", "str") == err(@wrongtype)
      assert Ferrite.lrange(c, "dst", 0, -1) == {:ok, ["a", "b"]}
    end

    test "lpushx and rpushx push only onto an existing list", %{c: c} do
      assert Ferrite.lpushx(c, "l", "a") == {:ok, 0}
      assert Ferrite.exists(c, "l") == {:ok, 0}
      {:ok, 1} = Ferrite.rpush(c, "l", "m")
      assert Ferrite.lpushx(c, "l", ["b", "a"]) == {:ok, 3}
      assert Ferrite.rpushx(c, "l", ["y", "z"]) == {:ok, 5}
      assert Ferrite.lrange(c, "l", 0, -1) == {:ok, ["a", "b", "m", "y", "z"]}
      assert Ferrite.rpushx(c, "str", "a") == err(@wrongtype)
    end
  end
end
