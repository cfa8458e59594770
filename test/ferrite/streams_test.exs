defmodule Ferrite.StreamsTest do
  use ExUnit.Case, async: true

  alias Ferrite.ResponseError

  setup context do
    {:ok, conn} = Ferrite.TestConn.open(context)
    %{conn: conn}
  end

  test "xadd, xlen and xrange", %{conn: c} do
    {:ok, id} = Ferrite.xadd(c, "events", "*", %{type: "click", page: "/home"})
    assert [_ms, _seq] = String.split(id, "-")
    assert Ferrite.xadd(c, "events", "9999999999999-1", [{"a", 1}]) == {:ok, "9999999999999-1"}
    assert Ferrite.xlen(c, "events") == {:ok, 2}
    assert Ferrite.xlen(c, "missing") == {:ok, 0}

    assert {:ok,
            [{^id, %{"type" => "click", "page" => "/home"}}, {"9999999999999-1", %{"a" => "1"}}]} =
             Ferrite.xrange(c, "events", "-", "+")

    assert {:ok, [{^id, _}]} = Ferrite.xrange(c, "events", "-", "+", count: 1)
    assert Ferrite.xrange(c, "events", "(9999999999999-1", "+") == {:ok, []}
    assert Ferrite.xrange(c, "missing") == {:ok, []}
  end

  test "xadd errors and options", %{conn: c} do
    {:ok, "5-0"} = Ferrite.xadd(c, "s", "5-0", %{f: "v"})

    assert {:error,
            %ResponseError{
              message:
                "ERR The ID specified in XADD is equal or smaller than the target stream top item"
            }} = Ferrite.xadd(c, "s", "5-0", %{f: "v"})

    assert {:error,
            %ResponseError{message: "ERR Invalid stream ID specified as stream command argument"}} =
             Ferrite.xadd(c, "s", "bogus", %{f: "v"})

    assert Ferrite.xadd(c, "nope", "*", %{f: "v"}, nomkstream: true) == {:ok, nil}
    {:ok, "6-0"} = Ferrite.xadd(c, "s", "6-0", %{f: "v"}, maxlen: 1)
    assert Ferrite.xlen(c, "s") == {:ok, 1}
    :ok = Ferrite.set(c, "str", "v")

    assert {:error, %ResponseError{message: "WRONGTYPE" <> _}} =
             Ferrite.xadd(c, "str", "*", %{f: "v"})
  end

  test "xread, including $ and blocking", %{conn: c} do
    {:ok, _} = Ferrite.xadd(c, "s", "1-0", %{n: 1})
    {:ok, _} = Ferrite.xadd(c, "t", "1-0", %{m: 2})

    assert Ferrite.xread(c, streams: ["s", "t"], ids: ["0", "0"]) ==
             {:ok, [{"s", [{"1-0", %{"n" => "1"}}]}, {"t", [{"1-0", %{"m" => "2"}}]}]}

    assert Ferrite.xread(c, streams: ["s"], ids: ["$"]) == {:ok, nil}
    assert Ferrite.xread(c, streams: ["s"], ids: ["$"], block: 20) == {:ok, nil}

    task = Task.async(fn -> Ferrite.xread(c, streams: ["s"], ids: ["$"], block: 0) end)
    # `$` is resolved when XREAD runs: add only once the reader is blocked.
    wait_blocked(c)
    {:ok, _} = Ferrite.xadd(c, "s", "2-0", %{n: 3})
    assert Task.await(task) == {:ok, [{"s", [{"2-0", %{"n" => "3"}}]}]}
  end

  test "consumer groups: create, read, ack, pending", %{conn: c} do
    assert Ferrite.xgroup(c, :create, "events", "workers", "$", mkstream: true) == :ok

    assert {:error, %ResponseError{message: "BUSYGROUP Consumer Group name already exists"}} =
             Ferrite.xgroup(c, :create, "events", "workers", "$")

    assert {:error, %ResponseError{message: "ERR The XGROUP subcommand requires the key" <> _}} =
             Ferrite.xgroup(c, :create, "nope", "workers", "$")

    {:ok, a} = Ferrite.xadd(c, "events", "*", %{job: "a"})
    {:ok, b} = Ferrite.xadd(c, "events", "*", %{job: "b"})

    assert {:ok, [{"events", [{^a, %{"job" => "a"}}]}]} =
             Ferrite.xreadgroup(c, "workers", "w1", streams: ["events"], ids: [">"], count: 1)

    assert {:ok, [{"events", [{^b, %{"job" => "b"}}]}]} =
             Ferrite.xreadgroup(c, "workers", "w2", streams: ["events"], ids: [">"])

    assert Ferrite.xreadgroup(c, "workers", "w2", streams: ["events"], ids: [">"]) == {:ok, nil}

    assert {:ok, %{count: 2, first: ^a, last: ^b, consumers: [{"w1", 1}, {"w2", 1}]}} =
             Ferrite.xpending(c, "events", "workers")

    assert {:ok, [{^a, "w1", idle, 1}]} =
             Ferrite.xpending(c, "events", "workers",
               start: "-",
               end: "+",
               count: 10,
               consumer: "w1"
             )

    assert is_integer(idle) and idle >= 0
    assert Ferrite.xack(c, "events", "workers", [a, b, "1-1"]) == {:ok, 2}

    assert Ferrite.xpending(c, "events", "workers") ==
             {:ok, %{count: 0, first: nil, last: nil, consumers: []}}

    assert {:error, %ResponseError{message: "NOGROUP" <> _}} =
             Ferrite.xreadgroup(c, "nogroup", "w", streams: ["events"], ids: [">"])

    assert {:error, %ResponseError{message: "NOGROUP" <> _}} =
             Ferrite.xpending(c, "events", "nogroup")

    assert Ferrite.xgroup(c, :createconsumer, "events", "workers", "w3") == {:ok, 1}
    assert Ferrite.xgroup(c, :delconsumer, "events", "workers", "w3") == {:ok, 0}
    assert Ferrite.xgroup(c, :setid, "events", "workers", "0") == :ok
    assert Ferrite.xgroup(c, :destroy, "events", "workers") == {:ok, 1}
  end

  test "xreadgroup blocks until an entry arrives", %{conn: c} do
    :ok = Ferrite.xgroup(c, :create, "q", "g", "$", mkstream: true)

    task =
      Task.async(fn ->
        Ferrite.xreadgroup(c, "g", "w", streams: ["q"], ids: [">"], block: 5000, count: 1)
      end)

    Process.sleep(50)
    {:ok, id} = Ferrite.xadd(c, "q", "*", %{job: "x"})
    assert Task.await(task) == {:ok, [{"q", [{id, %{"job" => "x"}}]}]}

    assert Ferrite.xreadgroup(c, "g", "w", streams: ["q"], ids: [">"], block: 30) == {:ok, nil}
  end

  defp wait_blocked(c, tries \\ 500) do
    {:ok, info} = Ferrite.command(c, ["INFO", "clients"])

    cond do
      info =~ ~r/blocked_clients:[1-9]/ -> :ok
      tries == 0 -> flunk("the reader never blocked")
      true -> Process.sleep(10) && wait_blocked(c, tries - 1)
    end
  end

  describe "more stream functions" do
    setup %{conn: c} do
      for i <- 1..5, do: {:ok, _} = Ferrite.xadd(c, "s", "#{i}-0", %{"n" => "#{i}"})
      :ok = Ferrite.set(c, "str", "v")
      :ok
    end

    test "xrevrange", %{conn: c} do
      {:ok, entries} = Ferrite.xrevrange(c, "s")
      assert Enum.map(entries, &elem(&1, 0)) == ["5-0", "4-0", "3-0", "2-0", "1-0"]

      assert Ferrite.xrevrange(c, "s", "4", "(2-0", count: 1) ==
               {:ok, [{"4-0", %{"n" => "4"}}]}

      assert Ferrite.xrevrange(c, "nosuch") == {:ok, []}

      assert {:error,
              %ResponseError{
                message: "ERR Invalid stream ID specified as stream command argument"
              }} = Ferrite.xrevrange(c, "s", "x", "-")
    end

    test "xdel and xtrim", %{conn: c} do
      assert Ferrite.xdel(c, "s", ["1-0", "9-0"]) == {:ok, 1}
      assert Ferrite.xdel(c, "s", "2-0") == {:ok, 1}
      assert Ferrite.xlen(c, "s") == {:ok, 3}
      assert Ferrite.xtrim(c, "s", maxlen: 2) == {:ok, 1}
      assert Ferrite.xtrim(c, "s", minid: "5-0") == {:ok, 1}
      assert Ferrite.xrange(c, "s") == {:ok, [{"5-0", %{"n" => "5"}}]}
      # `~` removes whole nodes only; this one holds the last entry.
      assert Ferrite.xtrim(c, "s", maxlen: 0, approx: true) == {:ok, 1}
      assert Ferrite.xlen(c, "s") == {:ok, 0}
      assert Ferrite.xtrim(c, "nosuch", maxlen: 0) == {:ok, 0}

      assert {:error,
              %ResponseError{
                message: "ERR syntax error, LIMIT cannot be used without the special ~ option"
              }} = Ferrite.xtrim(c, "s", maxlen: 0, limit: 10)

      assert {:error, %ResponseError{message: "WRONGTYPE" <> _}} = Ferrite.xdel(c, "str", "1-0")
    end

    test "xsetid", %{conn: c} do
      assert Ferrite.xsetid(c, "s", "10-0", entriesadded: 7, maxdeletedid: "6-0") == :ok
      {:ok, info} = Ferrite.xinfo_stream(c, "s")
      assert info["last-generated-id"] == "10-0"
      assert info["entries-added"] == 7
      assert info["max-deleted-entry-id"] == "6-0"

      assert {:error,
              %ResponseError{
                message:
                  "ERR The ID specified in XSETID is smaller than the target stream top item"
              }} = Ferrite.xsetid(c, "s", "4-0")

      assert {:error, %ResponseError{message: "ERR no such key"}} =
               Ferrite.xsetid(c, "nosuch", "1-0")
    end

    test "xinfo_stream", %{conn: c} do
      {:ok, info} = Ferrite.xinfo_stream(c, "s")
      assert info["length"] == 5
      assert info["last-generated-id"] == "5-0"
      assert info["entries-added"] == 5
      assert info["groups"] == 0
      assert info["first-entry"] == {"1-0", %{"n" => "1"}}
      assert info["last-entry"] == {"5-0", %{"n" => "5"}}
      {:ok, 5} = Ferrite.xtrim(c, "s", maxlen: 0)
      {:ok, info} = Ferrite.xinfo_stream(c, "s")
      assert info["first-entry"] == nil and info["length"] == 0

      assert {:error, %ResponseError{message: "ERR no such key"}} =
               Ferrite.xinfo_stream(c, "nosuch")
    end

    test "xclaim and xautoclaim", %{conn: c} do
      :ok = Ferrite.xgroup(c, :create, "s", "g", "0")

      {:ok, [{"s", read}]} =
        Ferrite.xreadgroup(c, "g", "alice", streams: ["s"], ids: [">"], count: 3)

      assert length(read) == 3

      assert Ferrite.xclaim(c, "s", "g", "bob", 0, ["1-0", "2-0"]) ==
               {:ok, [{"1-0", %{"n" => "1"}}, {"2-0", %{"n" => "2"}}]}

      assert Ferrite.xclaim(c, "s", "g", "carol", 0, "3-0", justid: true) == {:ok, ["3-0"]}
      # Not idle long enough: nothing claimed.
      assert Ferrite.xclaim(c, "s", "g", "dave", 3_600_000, ["1-0"]) == {:ok, []}
      {:ok, 1} = Ferrite.xdel(c, "s", "2-0")

      assert Ferrite.xautoclaim(c, "s", "g", "erin", 0, "0-0", count: 10) ==
               {:ok, {"0-0", [{"1-0", %{"n" => "1"}}, {"3-0", %{"n" => "3"}}], ["2-0"]}}

      assert Ferrite.xautoclaim(c, "s", "g", "erin", 0, "0-0", justid: true) ==
               {:ok, {"0-0", ["1-0", "3-0"], []}}

      assert {:error, %ResponseError{message: "NOGROUP" <> _}} =
               Ferrite.xclaim(c, "s", "nogroup", "x", 0, ["1-0"])

      assert {:error, %ResponseError{message: "ERR COUNT must be > 0"}} =
               Ferrite.xautoclaim(c, "s", "g", "x", 0, "0-0", count: 0)
    end
  end
end
