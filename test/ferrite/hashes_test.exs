defmodule Ferrite.HashesTest do
  # Replies checked against redis-server 7.0.15.
  use ExUnit.Case, async: true

  @wrongtype "WRONGTYPE Operation against a key holding the wrong kind of value"

  defp err(msg), do: {:error, %Ferrite.ResponseError{message: msg}}

  setup context do
    {:ok, conn} = Ferrite.TestConn.open(context)
    :ok = Ferrite.set(conn, "str", "v")
    %{c: conn}
  end

  describe "hset/hget/hgetall" do
    test "one field, a map, or a list of pairs", %{c: c} do
      assert Ferrite.hset(c, "h", "name", "Alice") == :ok
      assert Ferrite.hset(c, "h", %{email: "a@example.com", age: 30}) == :ok
      assert Ferrite.hset(c, "h", [{"name", "Bob"}, {"x", 1.5}]) == :ok
      assert Ferrite.hget(c, "h", "name") == {:ok, "Bob"}
      assert Ferrite.hget(c, "h", :age) == {:ok, "30"}
      assert Ferrite.hget(c, "h", "nope") == {:ok, nil}
      assert Ferrite.hget(c, "missing", "f") == {:ok, nil}

      assert Ferrite.hgetall(c, "h") ==
               {:ok, %{"name" => "Bob", "email" => "a@example.com", "age" => "30", "x" => "1.5"}}

      assert Ferrite.hgetall(c, "missing") == {:ok, %{}}
    end

    test "errors", %{c: c} do
      assert Ferrite.hset(c, "h", %{}) == err("ERR wrong number of arguments for 'hset' command")
      assert Ferrite.hset(c, "str", "f", "v") == err(@wrongtype)
      assert Ferrite.hset(c, "str", %{f: 1}) == err(@wrongtype)
      assert Ferrite.hget(c, "str", "f") == err(@wrongtype)
      assert Ferrite.hgetall(c, "str") == err(@wrongtype)
      assert Ferrite.get(c, "str") == {:ok, "v"}
    end
  end

  describe "hmget/hkeys/hvals/hlen/hexists" do
    setup %{c: c} do
      :ok = Ferrite.hset(c, "h", [{"a", "1"}, {"b", "2"}, {"c", "3"}])
      :ok
    end

    test "hmget keeps order and gives nil for missing fields", %{c: c} do
      assert Ferrite.hmget(c, "h", ["c", "zz", "a"]) == {:ok, ["3", nil, "1"]}
      assert Ferrite.hmget(c, "missing", ["a", "b"]) == {:ok, [nil, nil]}
    end

    test "hkeys and hvals line up", %{c: c} do
      {:ok, keys} = Ferrite.hkeys(c, "h")
      {:ok, vals} = Ferrite.hvals(c, "h")
      assert Enum.sort(keys) == ["a", "b", "c"]
      assert Enum.zip(keys, vals) |> Map.new() == %{"a" => "1", "b" => "2", "c" => "3"}
      assert Ferrite.hkeys(c, "missing") == {:ok, []}
      assert Ferrite.hvals(c, "missing") == {:ok, []}
    end

    test "hlen and hexists", %{c: c} do
      assert Ferrite.hlen(c, "h") == {:ok, 3}
      assert Ferrite.hlen(c, "missing") == {:ok, 0}
      assert Ferrite.hexists(c, "h", "a") == {:ok, true}
      assert Ferrite.hexists(c, "h", "zz") == {:ok, false}
      assert Ferrite.hexists(c, "missing", "a") == {:ok, false}
    end

    test "errors", %{c: c} do
      assert Ferrite.hmget(c, "h", []) == err("ERR wrong number of arguments for 'hmget' command")
      assert Ferrite.hmget(c, "str", ["a"]) == err(@wrongtype)
      assert Ferrite.hkeys(c, "str") == err(@wrongtype)
      assert Ferrite.hvals(c, "str") == err(@wrongtype)
      assert Ferrite.hlen(c, "str") == err(@wrongtype)
      assert Ferrite.hexists(c, "str", "a") == err(@wrongtype)
    end
  end

  describe "hdel" do
    test "counts removed fields; the key goes with its last field", %{c: c} do
      :ok = Ferrite.hset(c, "h", %{"a" => 1, "b" => 2, "c" => 3})
      assert Ferrite.hdel(c, "h", "a") == {:ok, 1}
      assert Ferrite.hdel(c, "h", ["a", "b", "zz"]) == {:ok, 1}
      assert Ferrite.hdel(c, "missing", "a") == {:ok, 0}
      assert Ferrite.hdel(c, "h", ["c"]) == {:ok, 1}
      assert Ferrite.exists(c, ["h"]) == {:ok, 0}
    end

    test "errors", %{c: c} do
      assert Ferrite.hdel(c, "h", []) == err("ERR wrong number of arguments for 'hdel' command")
      assert Ferrite.hdel(c, "str", "a") == err(@wrongtype)
    end
  end

  describe "hincrby" do
    test "counts from 0 and returns the new value", %{c: c} do
      assert Ferrite.hincrby(c, "h", "n", 5) == {:ok, 5}
      assert Ferrite.hincrby(c, "h", "n", -7) == {:ok, -2}
      assert Ferrite.hget(c, "h", "n") == {:ok, "-2"}
    end

    test "errors", %{c: c} do
      :ok = Ferrite.hset(c, "h", %{"s" => "abc", "big" => "9223372036854775807"})

      assert Ferrite.hincrby(c, "h", "n", 1.5) ==
               err("ERR value is not an integer or out of range")

      assert Ferrite.hincrby(c, "h", "s", 1) == err("ERR hash value is not an integer")

      assert Ferrite.hincrby(c, "h", "big", 1) ==
               err("ERR increment or decrement would overflow")

      assert Ferrite.hincrby(c, "str", "n", 1) == err(@wrongtype)
      assert Ferrite.hget(c, "h", "big") == {:ok, "9223372036854775807"}
    end
  end
end
