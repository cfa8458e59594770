defmodule Ferrite.SetsTest do
  # Replies checked against redis-server 7.0.15.
  use ExUnit.Case, async: true

  @wrongtype "WRONGTYPE Operation against a key holding the wrong kind of value"
  @positive "ERR value is out of range, must be positive"
  @not_int "ERR value is not an integer or out of range"

  defp err(msg), do: {:error, %Ferrite.ResponseError{message: msg}}

  defp sorted({:ok, list}) when is_list(list), do: {:ok, Enum.sort(list)}
  defp sorted(other), do: other

  setup context do
    {:ok, conn} = Ferrite.TestConn.open(context)
    :ok = Ferrite.set(conn, "str", "v")
    %{c: conn}
  end

  describe "sadd/srem/smembers/scard/sismember" do
    test "add, count, check and remove", %{c: c} do
      assert Ferrite.sadd(c, "s", ["a", "b", "a"]) == {:ok, 2}
      assert Ferrite.sadd(c, "s", "c") == {:ok, 1}
      assert Ferrite.sadd(c, "s", ["b", :c, 1]) == {:ok, 1}
      assert sorted(Ferrite.smembers(c, "s")) == {:ok, ["1", "a", "b", "c"]}
      assert Ferrite.scard(c, "s") == {:ok, 4}
      assert Ferrite.sismember(c, "s", "a") == {:ok, true}
      assert Ferrite.sismember(c, "s", 1) == {:ok, true}
      assert Ferrite.sismember(c, "s", "zz") == {:ok, false}
      assert Ferrite.srem(c, "s", ["a", "zz"]) == {:ok, 1}
      assert Ferrite.srem(c, "s", "b") == {:ok, 1}
      assert Ferrite.srem(c, "s", ["c", "1"]) == {:ok, 2}
      assert Ferrite.exists(c, ["s"]) == {:ok, 0}
    end

    test "missing keys are empty sets", %{c: c} do
      assert Ferrite.smembers(c, "missing") == {:ok, []}
      assert Ferrite.scard(c, "missing") == {:ok, 0}
      assert Ferrite.sismember(c, "missing", "a") == {:ok, false}
      assert Ferrite.srem(c, "missing", "a") == {:ok, 0}
    end

    test "errors", %{c: c} do
      assert Ferrite.sadd(c, "s", []) == err("ERR wrong number of arguments for 'sadd' command")
      assert Ferrite.srem(c, "s", []) == err("ERR wrong number of arguments for 'srem' command")
      assert Ferrite.sadd(c, "str", "a") == err(@wrongtype)
      assert Ferrite.srem(c, "str", "a") == err(@wrongtype)
      assert Ferrite.smembers(c, "str") == err(@wrongtype)
      assert Ferrite.scard(c, "str") == err(@wrongtype)
      assert Ferrite.sismember(c, "str", "a") == err(@wrongtype)
    end
  end

  describe "sinter/sunion/sdiff" do
    setup %{c: c} do
      {:ok, 4} = Ferrite.sadd(c, "s1", ["a", "b", "c", "d"])
      {:ok, 3} = Ferrite.sadd(c, "s2", ["c", "d", "e"])
      {:ok, 2} = Ferrite.sadd(c, "s3", ["d", "f"])
      :ok
    end

    test "algebra over several sets", %{c: c} do
      assert sorted(Ferrite.sinter(c, ["s1", "s2"])) == {:ok, ["c", "d"]}
      assert sorted(Ferrite.sinter(c, ["s1", "s2", "s3"])) == {:ok, ["d"]}
      assert sorted(Ferrite.sinter(c, "s3")) == {:ok, ["d", "f"]}
      assert sorted(Ferrite.sunion(c, ["s2", "s3"])) == {:ok, ["c", "d", "e", "f"]}
      assert sorted(Ferrite.sdiff(c, ["s1", "s2"])) == {:ok, ["a", "b"]}
      assert sorted(Ferrite.sdiff(c, ["s1", "s2", "s3"])) == {:ok, ["a", "b"]}
    end

    test "a missing key is an empty set", %{c: c} do
      assert Ferrite.sinter(c, ["s1", "missing"]) == {:ok, []}
      assert sorted(Ferrite.sunion(c, ["missing", "s3"])) == {:ok, ["d", "f"]}
      assert Ferrite.sdiff(c, ["missing", "s1"]) == {:ok, []}
      assert sorted(Ferrite.sdiff(c, ["s3", "missing"])) == {:ok, ["d", "f"]}
    end

    test "errors", %{c: c} do
      assert Ferrite.sinter(c, []) == err("ERR wrong number of arguments for 'sinter' command")
      assert Ferrite.sunion(c, []) == err("ERR wrong number of arguments for 'sunion' command")
      assert Ferrite.sdiff(c, []) == err("ERR wrong number of arguments for 'sdiff' command")
      assert Ferrite.sinter(c, ["s1", "str"]) == err(@wrongtype)
      assert Ferrite.sunion(c, ["str", "s1"]) == err(@wrongtype)
      assert Ferrite.sdiff(c, ["s1", "str"]) == err(@wrongtype)
    end
  end

  describe "srandmember" do
    setup %{c: c} do
      {:ok, 3} = Ferrite.sadd(c, "s", ["a", "b", "c"])
      :ok
    end

    test "one member, or nil", %{c: c} do
      assert {:ok, m} = Ferrite.srandmember(c, "s")
      assert m in ["a", "b", "c"]
      assert Ferrite.srandmember(c, "missing") == {:ok, nil}
      assert Ferrite.scard(c, "s") == {:ok, 3}
    end

    test "a positive count gives distinct members, a negative one exactly -count", %{c: c} do
      assert {:ok, two} = Ferrite.srandmember(c, "s", 2)
      assert length(two) == 2 and length(Enum.uniq(two)) == 2
      assert Enum.all?(two, &(&1 in ["a", "b", "c"]))
      assert sorted(Ferrite.srandmember(c, "s", 10)) == {:ok, ["a", "b", "c"]}
      assert {:ok, many} = Ferrite.srandmember(c, "s", -10)
      assert length(many) == 10 and Enum.all?(many, &(&1 in ["a", "b", "c"]))
      assert Ferrite.srandmember(c, "s", 0) == {:ok, []}
      assert Ferrite.srandmember(c, "missing", 2) == {:ok, []}
      assert Ferrite.srandmember(c, "missing", -2) == {:ok, []}
      assert Ferrite.scard(c, "s") == {:ok, 3}
    end

    test "errors", %{c: c} do
      assert Ferrite.srandmember(c, "s", "x") == err(@not_int)
      assert Ferrite.srandmember(c, "str") == err(@wrongtype)
      assert Ferrite.srandmember(c, "str", 2) == err(@wrongtype)
    end
  end

  describe "spop" do
    test "removes what it returns; the key goes with its last member", %{c: c} do
      {:ok, 4} = Ferrite.sadd(c, "s", ["a", "b", "c", "d"])
      assert {:ok, one} = Ferrite.spop(c, "s")
      assert {:ok, two} = Ferrite.spop(c, "s", 2)
      assert length(two) == 2
      assert {:ok, [last]} = Ferrite.spop(c, "s", 5)
      assert Enum.sort([one, last | two]) == ["a", "b", "c", "d"]
      assert Ferrite.exists(c, ["s"]) == {:ok, 0}
      assert Ferrite.spop(c, "s") == {:ok, nil}
      # With a count, a missing key gives an empty array (unlike LPOP).
      assert Ferrite.spop(c, "s", 3) == {:ok, []}
    end

    test "count 0 and errors", %{c: c} do
      {:ok, 1} = Ferrite.sadd(c, "s", "a")
      assert Ferrite.spop(c, "s", 0) == {:ok, []}
      assert Ferrite.spop(c, "s", -1) == err(@positive)
      assert Ferrite.spop(c, "str") == err(@wrongtype)
      assert Ferrite.spop(c, "str", 1) == err(@wrongtype)
      assert Ferrite.smembers(c, "s") == {:ok, ["a"]}
    end
  end

  describe "smove/smismember/s*store/sintercard/sscan" do
    test "smove moves one member", %{c: c} do
      {:ok, 2} = Ferrite.sadd(c, "a", ["x", "y"])
      assert Ferrite.smove(c, "a", "b", "x") == {:ok, 1}
      assert Ferrite.smove(c, "a", "b", "zz") == {:ok, 0}
      assert Ferrite.smove(c, "a", "b", "y") == {:ok, 1}
      assert Ferrite.exists(c, "a") == {:ok, 0}
      assert sorted(Ferrite.smembers(c, "b")) == {:ok, ["x", "y"]}
      :ok = Ferrite.set(c, "str", "v")
      assert Ferrite.smove(c, "b", "str", "x") == err(@wrongtype)
      assert Ferrite.smove(c, "str", "b", "x") == err(@wrongtype)
    end

    test "smismember answers with booleans in order", %{c: c} do
      {:ok, 2} = Ferrite.sadd(c, "s", ["a", "b"])
      assert Ferrite.smismember(c, "s", ["a", "zz", "b"]) == {:ok, [true, false, true]}
      assert Ferrite.smismember(c, "nosuch", ["a"]) == {:ok, [false]}

      assert Ferrite.smismember(c, "s", []) ==
               err("ERR wrong number of arguments for 'smismember' command")
    end

    test "sinterstore, sunionstore, sdiffstore", %{c: c} do
      {:ok, 3} = Ferrite.sadd(c, "a", ["1", "2", "3"])
      {:ok, 3} = Ferrite.sadd(c, "b", ["2", "3", "4"])
      assert Ferrite.sinterstore(c, "i", ["a", "b"]) == {:ok, 2}
      assert sorted(Ferrite.smembers(c, "i")) == {:ok, ["2", "3"]}
      assert Ferrite.sunionstore(c, "u", ["a", "b"]) == {:ok, 4}
      assert sorted(Ferrite.smembers(c, "u")) == {:ok, ["1", "2", "3", "4"]}
      assert Ferrite.sdiffstore(c, "d", ["a", "b"]) == {:ok, 1}
      assert Ferrite.smembers(c, "d") == {:ok, ["1"]}
      # An empty result deletes the destination.
      assert Ferrite.sinterstore(c, "d", ["a", "nosuch"]) == {:ok, 0}
      assert Ferrite.exists(c, "d") == {:ok, 0}
      assert Ferrite.sunionstore(c, "u2", "a") == {:ok, 3}
      :ok = Ferrite.set(c, "str", "v")
      assert Ferrite.sdiffstore(c, "d", ["a", "str"]) == err(@wrongtype)
    end

    test "sintercard with and without a limit", %{c: c} do
      {:ok, 4} = Ferrite.sadd(c, "a", ["1", "2", "3", "4"])
      {:ok, 3} = Ferrite.sadd(c, "b", ["2", "3", "4"])
      assert Ferrite.sintercard(c, ["a", "b"]) == {:ok, 3}
      assert Ferrite.sintercard(c, ["a", "b"], limit: 2) == {:ok, 2}
      assert Ferrite.sintercard(c, ["a", "b"], limit: 0) == {:ok, 3}
      assert Ferrite.sintercard(c, "a") == {:ok, 4}
      assert Ferrite.sintercard(c, ["a", "nosuch"]) == {:ok, 0}
      assert Ferrite.sintercard(c, ["a"], limit: -1) == err("ERR LIMIT can't be negative")
    end

    test "sscan walks every member", %{c: c} do
      members = for i <- 1..40, do: "m#{i}"
      {:ok, 40} = Ferrite.sadd(c, "s", members)
      assert Enum.sort(sscan_all(c, "s", 0, [])) == Enum.sort(members)
      {:ok, {_, matched}} = Ferrite.sscan(c, "s", 0, match: "m3*", count: 1000)
      assert Enum.sort(matched) == Enum.sort(["m3" | for(i <- 30..39, do: "m#{i}")])
      assert Ferrite.sscan(c, "nosuch", 0) == {:ok, {0, []}}
    end
  end

  defp sscan_all(c, key, cursor, acc) do
    {:ok, {next, items}} = Ferrite.sscan(c, key, cursor, count: 5)
    if next == 0, do: acc ++ items, else: sscan_all(c, key, next, acc ++ items)
  end
end
