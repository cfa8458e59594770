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

  describe "hsetnx/hincrbyfloat/hstrlen/hrandfield/hscan" do
    test "hsetnx sets only new fields", %{c: c} do
      assert Ferrite.hsetnx(c, "h", "f", "1") == {:ok, 1}
      assert Ferrite.hsetnx(c, "h", "f", "2") == {:ok, 0}
      assert Ferrite.hget(c, "h", "f") == {:ok, "1"}
      assert Ferrite.hsetnx(c, "str", "f", "1") == err(@wrongtype)
    end

    test "hincrbyfloat returns floats", %{c: c} do
      assert Ferrite.hincrbyfloat(c, "h", "f", 10.5) == {:ok, 10.5}
      assert Ferrite.hincrbyfloat(c, "h", "f", "0.1") == {:ok, 10.6}
      assert Ferrite.hincrbyfloat(c, "h", "f", -5) == {:ok, 5.6}
      assert Ferrite.hget(c, "h", "f") == {:ok, "5.6"}
      :ok = Ferrite.hset(c, "h", "s", "abc")

      assert Ferrite.hincrbyfloat(c, "h", "s", 1) ==
               err("ERR hash value is not a float")

      assert Ferrite.hincrbyfloat(c, "h", "f", "x") ==
               err("ERR value is not a valid float")

      assert Ferrite.hincrbyfloat(c, "str", "f", 1) == err(@wrongtype)
    end

    test "hstrlen", %{c: c} do
      :ok = Ferrite.hset(c, "h", %{"f" => "hello", "n" => 12345})
      assert Ferrite.hstrlen(c, "h", "f") == {:ok, 5}
      assert Ferrite.hstrlen(c, "h", "n") == {:ok, 5}
      assert Ferrite.hstrlen(c, "h", "zz") == {:ok, 0}
      assert Ferrite.hstrlen(c, "nosuch", "f") == {:ok, 0}
      assert Ferrite.hstrlen(c, "str", "f") == err(@wrongtype)
    end

    test "hrandfield with and without count and values", %{c: c} do
      assert Ferrite.hrandfield(c, "h") == {:ok, nil}
      assert Ferrite.hrandfield(c, "h", 3) == {:ok, []}
      fields = %{"a" => "1", "b" => "2", "c" => "3"}
      :ok = Ferrite.hset(c, "h", fields)
      {:ok, f} = Ferrite.hrandfield(c, "h")
      assert Map.has_key?(fields, f)
      {:ok, fs} = Ferrite.hrandfield(c, "h", 10)
      assert Enum.sort(fs) == ["a", "b", "c"]
      {:ok, fs} = Ferrite.hrandfield(c, "h", -5)
      assert length(fs) == 5 and Enum.all?(fs, &Map.has_key?(fields, &1))
      {:ok, pairs} = Ferrite.hrandfield(c, "h", 2, withvalues: true)
      assert length(pairs) == 2
      assert Enum.all?(pairs, fn {k, v} -> fields[k] == v end)
      {:ok, pairs} = Ferrite.hrandfield(c, "h", -4, withvalues: true)
      assert length(pairs) == 4
      assert Enum.all?(pairs, fn {k, v} -> fields[k] == v end)
      assert Ferrite.hrandfield(c, "str") == err(@wrongtype)
    end

    test "hscan walks every field", %{c: c} do
      fields = Map.new(1..50, &{"f#{&1}", "v#{&1}"})
      :ok = Ferrite.hset(c, "h", fields)
      assert scan_all(c, "h", 0, [count: 7], []) |> Map.new() == fields
      {:ok, {_, matched}} = Ferrite.hscan(c, "h", 0, match: "f1?", count: 1000)
      assert Enum.sort(matched) == Enum.sort(for i <- 10..19, do: {"f#{i}", "v#{i}"})
      assert Ferrite.hscan(c, "nosuch", 0) == {:ok, {0, []}}
      assert Ferrite.hscan(c, "str", 0) == err(@wrongtype)
      assert Ferrite.hscan(c, "h", "x") == err("ERR invalid cursor")
    end
  end

  defp scan_all(c, key, cursor, opts, acc) do
    {:ok, {next, items}} = Ferrite.hscan(c, key, cursor, opts)
    if next == 0, do: acc ++ items, else: scan_all(c, key, next, opts, acc ++ items)
  end
end
