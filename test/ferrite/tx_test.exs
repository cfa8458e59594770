defmodule Ferrite.TxTest do
  use ExUnit.Case, async: true

  alias Ferrite.Tx

  setup context do
    {:ok, conn} = Ferrite.TestConn.open(context)
    %{conn: conn}
  end

  test "multi returns results in typed shapes", %{conn: c} do
    assert {:ok, [:ok, :ok, "value1"]} =
             Ferrite.multi(c, fn tx ->
               Tx.set(tx, "key1", "value1")
               Tx.set(tx, "key2", "value2")
               Tx.get(tx, "key1")
             end)

    assert {:ok, [1, 11, nil, 11.5]} =
             Ferrite.multi(c, fn tx ->
               tx
               |> Tx.incr("n")
               |> Tx.incrby("n", 10)
               |> Tx.get("missing")
               |> Tx.incrbyfloat("n", 0.5)
             end)
  end

  test "a runtime error fails only its command", %{conn: c} do
    :ok = Ferrite.set(c, "s", "text")

    assert {:ok,
            [%Ferrite.ResponseError{message: "ERR value is not an integer or out of range"}, :ok]} =
             Ferrite.multi(c, fn tx ->
               Tx.incr(tx, "s")
               Tx.set(tx, "t", "1")
             end)

    assert Ferrite.get(c, "t") == {:ok, "1"}
  end

  test "a queueing error aborts the transaction", %{conn: c} do
    assert {:error, %Ferrite.ResponseError{message: "EXECABORT" <> _}} =
             Ferrite.multi(c, fn tx ->
               Tx.set(tx, "a", "1")
               Tx.command(tx, ["NOSUCHCOMMAND"])
             end)

    assert Ferrite.get(c, "a") == {:ok, nil}
    # The conn is out of MULTI again.
    assert Ferrite.get(c, "a") == {:ok, nil}
  end

  test "raw commands and an empty transaction", %{conn: c} do
    assert {:ok, []} = Ferrite.multi(c, fn _tx -> :nothing end)

    assert {:ok, ["OK", "v"]} =
             Ferrite.multi(c, fn tx ->
               Tx.command(tx, ["SET", "k", "v"])
               Tx.command(tx, ["GET", "k"])
             end)
  end

  test "Tx outside multi raises" do
    assert_raise ArgumentError, fn -> Tx.get(%Tx{ref: make_ref()}, "k") end
  end

  test "watch commits when untouched", %{conn: c} do
    :ok = Ferrite.set(c, "bal", "10")

    result =
      Ferrite.watch(c, ["bal"], fn ->
        {:ok, b} = Ferrite.get(c, "bal")
        Ferrite.multi(c, fn tx -> Tx.set(tx, "bal", String.to_integer(b) + 5) end)
      end)

    assert result == {:ok, [:ok]}
    assert Ferrite.get(c, "bal") == {:ok, "15"}
  end

  test "watch fails on a concurrent change", %{conn: c} do
    :ok = Ferrite.set(c, "bal", "10")
    parent = self()

    result =
      Ferrite.watch(c, ["bal"], fn ->
        # Another process changes the key between WATCH and EXEC.
        spawn(fn ->
          :ok = Ferrite.set(c, "bal", "99")
          send(parent, :changed)
        end)

        assert_receive :changed
        Ferrite.multi(c, fn tx -> Tx.set(tx, "bal", "11") end)
      end)

    assert result == {:error, :watch_failed}
    assert Ferrite.get(c, "bal") == {:ok, "99"}
  end

  test "watch state belongs to the calling process", %{conn: c} do
    :ok = Ferrite.set(c, "k", "1")
    parent = self()

    # Another process watches k and sees it changed; our own MULTI on the
    # same conn is unaffected by its watch.
    task =
      Task.async(fn ->
        Ferrite.watch(c, ["k"], fn ->
          send(parent, :watching)

          receive do
            :go -> Ferrite.multi(c, fn tx -> Tx.get(tx, "k") end)
          end
        end)
      end)

    assert_receive :watching
    assert {:ok, [:ok]} = Ferrite.multi(c, fn tx -> Tx.set(tx, "k", "2") end)
    send(task.pid, :go)
    assert Task.await(task) == {:error, :watch_failed}
  end

  test "unwatch releases the watch", %{conn: c} do
    :ok = Ferrite.set(c, "k", "1")

    result =
      Ferrite.watch(c, ["k"], fn ->
        :ok = Ferrite.unwatch(c)
        :ok = Ferrite.set(c, "k", "2")
        Ferrite.multi(c, fn tx -> Tx.get(tx, "k") end)
      end)

    assert result == {:ok, ["2"]}
  end

  test "watch is cleaned up when the fun raises", %{conn: c} do
    :ok = Ferrite.set(c, "k", "1")

    assert_raise RuntimeError, fn ->
      Ferrite.watch(c, ["k"], fn -> raise "boom" end)
    end

    :ok = Ferrite.set(c, "k", "2")
    # Not watching any more: a later transaction commits.
    assert {:ok, [:ok]} = Ferrite.multi(c, fn tx -> Tx.set(tx, "k", "3") end)

    assert {:ok, [:ok]} =
             Ferrite.watch(c, ["other"], fn ->
               Ferrite.multi(c, fn tx -> Tx.set(tx, "k", "4") end)
             end)
  end

  @tag :engine_only
  test "watch fails when the key expires", %{conn: c} do
    :ok = Ferrite.set(c, "k", "1", px: 1000)

    result =
      Ferrite.watch(c, ["k"], fn ->
        :ok = Ferrite.Embedded.fast_forward(c, 2000)
        Ferrite.multi(c, fn tx -> Tx.set(tx, "k", "2") end)
      end)

    assert result == {:error, :watch_failed}
  end

  test "20 processes adding 100 each through WATCH/MULTI retries make exactly 2000",
       %{conn: c} do
    :ok = Ferrite.set(c, "balance", "0")

    add_one = fn ->
      Ferrite.watch(c, ["balance"], fn ->
        {:ok, b} = Ferrite.get(c, "balance")
        Ferrite.multi(c, fn tx -> Tx.set(tx, "balance", String.to_integer(b) + 1) end)
      end)
    end

    retry = fn retry ->
      case add_one.() do
        {:ok, [:ok]} -> :ok
        {:error, :watch_failed} -> retry.(retry)
      end
    end

    1..20
    |> Enum.map(fn _ -> Task.async(fn -> Enum.each(1..100, fn _ -> retry.(retry) end) end) end)
    |> Enum.each(&Task.await(&1, 60_000))

    assert Ferrite.get(c, "balance") == {:ok, "2000"}
  end
end
