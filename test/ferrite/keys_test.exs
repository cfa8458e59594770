defmodule Ferrite.KeysTest do
  @moduledoc "The typed key functions, with Redis 7.0's exact replies."
  use ExUnit.Case, async: true

  alias Ferrite.ResponseError

  setup context do
    {:ok, conn} = Ferrite.TestConn.open(context)
    %{c: conn}
  end

  defp err(msg), do: {:error, %ResponseError{message: msg}}

  test "DEL and EXISTS take one key or a list", %{c: c} do
    assert Ferrite.mset(c, a: 1, b: 2, c: 3) == :ok
    assert Ferrite.exists(c, "a") == {:ok, 1}
    assert Ferrite.exists(c, ["a", "b", "a", "zz"]) == {:ok, 3}
    assert Ferrite.del(c, "a") == {:ok, 1}
    assert Ferrite.del(c, ["a", "b", "c", "zz"]) == {:ok, 2}
    assert Ferrite.exists(c, ["a", "b", "c"]) == {:ok, 0}

    assert Ferrite.command(c, ["DEL"]) ==
             err("ERR wrong number of arguments for 'del' command")
  end

  @tag :engine_only
  test "EXPIRE, TTL, PERSIST with the injected clock", %{c: c} do
    assert Ferrite.ttl(c, "k") == {:ok, -2}
    assert Ferrite.expire(c, "k", 10) == {:ok, 0}
    assert Ferrite.set(c, "k", "v") == :ok
    assert Ferrite.ttl(c, "k") == {:ok, -1}
    assert Ferrite.expire(c, "k", 10) == {:ok, 1}
    assert Ferrite.ttl(c, "k") == {:ok, 10}
    assert Ferrite.persist(c, "k") == {:ok, 1}
    assert Ferrite.persist(c, "k") == {:ok, 0}
    assert Ferrite.ttl(c, "k") == {:ok, -1}
    assert Ferrite.expire(c, "k", 10) == {:ok, 1}
    assert Ferrite.Embedded.fast_forward(c, 9_000) == :ok
    assert Ferrite.ttl(c, "k") == {:ok, 1}
    assert Ferrite.Embedded.fast_forward(c, 1_001) == :ok
    assert Ferrite.ttl(c, "k") == {:ok, -2}
    assert Ferrite.get(c, "k") == {:ok, nil}
  end

  test "EXPIRE options NX XX GT LT", %{c: c} do
    assert Ferrite.set(c, "k", "v") == :ok
    assert Ferrite.expire(c, "k", 100, [:xx]) == {:ok, 0}
    assert Ferrite.expire(c, "k", 100, [:nx]) == {:ok, 1}
    assert Ferrite.expire(c, "k", 200, [:nx]) == {:ok, 0}
    assert Ferrite.expire(c, "k", 50, [:gt]) == {:ok, 0}
    assert Ferrite.expire(c, "k", 200, [:gt]) == {:ok, 1}
    assert Ferrite.expire(c, "k", 300, [:lt]) == {:ok, 0}
    assert Ferrite.expire(c, "k", 150, [:lt]) == {:ok, 1}
    assert Ferrite.ttl(c, "k") == {:ok, 150}

    assert Ferrite.expire(c, "k", 10, [:nx, :xx]) ==
             err("ERR NX and XX, GT or LT options at the same time are not compatible")

    assert Ferrite.expire(c, "k", "abc") == err("ERR value is not an integer or out of range")
    assert_raise ArgumentError, fn -> Ferrite.expire(c, "k", 10, [:bogus]) end
  end

  test "a zero or negative EXPIRE deletes the key", %{c: c} do
    assert Ferrite.set(c, "k", "v") == :ok
    assert Ferrite.expire(c, "k", 0) == {:ok, 1}
    assert Ferrite.exists(c, "k") == {:ok, 0}
  end

  test "PEXPIRE and PTTL", %{c: c} do
    assert Ferrite.set(c, "k", "v") == :ok
    assert Ferrite.pexpire(c, "k", 1500) == {:ok, 1}
    assert {:ok, ms} = Ferrite.pttl(c, "k")
    assert ms in 1400..1500
    assert Ferrite.pttl(c, "nope") == {:ok, -2}
  end

  test "TYPE", %{c: c} do
    assert Ferrite.set(c, "s", "v") == :ok
    assert Ferrite.type(c, "s") == {:ok, "string"}
    assert Ferrite.type(c, "nope") == {:ok, "none"}
  end

  test "KEYS with glob patterns", %{c: c} do
    assert Ferrite.mset(c, [{"user:1", "a"}, {"user:2", "b"}, {"other", "c"}]) == :ok
    assert {:ok, keys} = Ferrite.keys(c, "user:*")
    assert Enum.sort(keys) == ["user:1", "user:2"]
    assert {:ok, all} = Ferrite.keys(c)
    assert Enum.sort(all) == ["other", "user:1", "user:2"]
    assert Ferrite.keys(c, "nomatch*") == {:ok, []}
  end

  test "FLUSHDB and DBSIZE", %{c: c} do
    assert Ferrite.mset(c, %{"a" => 1, "b" => 2}) == :ok
    assert Ferrite.dbsize(c) == {:ok, 2}
    assert Ferrite.flushdb(c) == :ok
    assert Ferrite.dbsize(c) == {:ok, 0}
    assert Ferrite.command(c, ["FLUSHDB", "BOGUS"]) == err("ERR syntax error")
  end
end
