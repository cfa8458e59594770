defmodule Ferrite.Remote.RESPTest do
  @moduledoc "The remote backend's RESP2 encoder and incremental reply parser."
  use ExUnit.Case, async: true

  @moduletag :single_run

  alias Ferrite.Remote.RESP
  alias Ferrite.ResponseError

  doctest RESP

  @cases [
    {"+OK\r\n", "OK"},
    {"+\r\n", ""},
    {"-ERR bad thing\r\n", %ResponseError{message: "ERR bad thing"}},
    {":0\r\n", 0},
    {":-42\r\n", -42},
    {":9223372036854775807\r\n", 9_223_372_036_854_775_807},
    {"$0\r\n\r\n", ""},
    {"$-1\r\n", nil},
    {"$4\r\na\r\nb\r\n", "a\r\nb"},
    {"*-1\r\n", nil},
    {"*0\r\n", []},
    {"*3\r\n:1\r\n$1\r\nx\r\n$-1\r\n", [1, "x", nil]},
    {"*2\r\n*1\r\n+QUEUED\r\n-WRONGTYPE no\r\n",
     [["QUEUED"], %ResponseError{message: "WRONGTYPE no"}]}
  ]

  # Feeds `bytes` in the given chunks, as a socket would deliver them.
  defp feed(chunks) do
    chunks
    |> Enum.reject(&(&1 == ""))
    |> Enum.reduce({:continuation, &RESP.parse/1}, fn chunk, {:continuation, k} ->
      k.(chunk)
    end)
  end

  test "every reply type parses whole, with the bytes after it left over" do
    for {bytes, value} <- @cases do
      assert RESP.parse(bytes <> "+next\r\n") == {:ok, value, "+next\r\n"}, bytes
    end
  end

  test "every split of every reply parses to the same value" do
    for {bytes, value} <- @cases, cut <- 0..byte_size(bytes) do
      <<a::binary-size(cut), b::binary>> = bytes
      assert feed([a, b]) == {:ok, value, ""}, "#{inspect(bytes)} cut at #{cut}"
    end
  end

  test "byte-at-a-time delivery" do
    for {bytes, value} <- @cases do
      assert feed(for <<b <- bytes>>, do: <<b>>) == {:ok, value, ""}
    end
  end

  test "a large bulk string in random chunks" do
    payload = :crypto.strong_rand_bytes(200_000)
    bytes = "$200000\r\n" <> payload <> "\r\n"
    chunks = chunk_randomly(bytes, [])
    assert feed(chunks) == {:ok, payload, ""}
  end

  defp chunk_randomly("", acc), do: Enum.reverse(acc)

  defp chunk_randomly(bin, acc) do
    n = min(byte_size(bin), :rand.uniform(5000))
    <<c::binary-size(n), rest::binary>> = bin
    chunk_randomly(rest, [c | acc])
  end

  test "a long array does not grow the stack" do
    n = 100_000
    bytes = IO.iodata_to_binary(["*#{n}\r\n" | List.duplicate(":7\r\n", n)])
    assert {:ok, list, ""} = RESP.parse(bytes)
    assert length(list) == n
  end

  test "malformed input raises ParseError" do
    for bad <- ["?x\r\n", ":12a\r\n", "$x\r\n", "$-2\r\n", "*-5\r\n", "$1\r\nab\r\n"] do
      assert_raise RESP.ParseError, fn -> RESP.parse(bad) end
    end
  end

  test "encode writes arrays of bulk strings" do
    assert IO.iodata_to_binary(RESP.encode(["SET", "k", ""])) ==
             "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n"

    assert IO.iodata_to_binary(RESP.encode_many([["PING"], ["GET", "a"]])) ==
             "*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\na\r\n"
  end
end
