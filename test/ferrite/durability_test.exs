defmodule Ferrite.DurabilityTest do
  @moduledoc """
  Durable embedded databases through the Elixir API: reopening, the
  directory lock, scheduling of fsyncing writes, torn and damaged files,
  repair, and the memory ceiling. (kill -9 is in `crash_test.exs`; the
  engine's own tests are in `store/tests/persist.rs` and `evict.rs`.)
  """
  use ExUnit.Case, async: true

  import ExUnit.CaptureLog

  alias Ferrite.{ConnectionError, CorruptionError, ResponseError}

  @moduletag timeout: 120_000
  # Directories of the embedded engine: one run only.
  @moduletag :single_run

  setup do
    dir = Path.join(System.tmp_dir!(), "ferrite-dur-#{System.unique_integer([:positive])}")
    File.rm_rf!(dir)
    on_exit(fn -> File.rm_rf!(dir) end)
    {:ok, dir: dir}
  end

  defp open!(dir, opts \\ []) do
    {:ok, conn} = Ferrite.start_link(embedded: [path: dir] ++ opts)
    conn
  end

  defp value(i), do: "value-#{i}"

  defp write_keys(conn, range) do
    for i <- range, do: :ok = Ferrite.set(conn, "k:#{i}", value(i))
  end

  defp values(conn, n) do
    {:ok, got} = Ferrite.mget(conn, Enum.map(0..(n - 1), &"k:#{&1}"))
    got
  end

  # The files of a closed directory, to restore between cases.
  defp snapshot_files(dir) do
    for f <- File.ls!(dir), f != "LOCK", into: %{}, do: {f, File.read!(Path.join(dir, f))}
  end

  defp restore(dir, files) do
    for f <- File.ls!(dir), f != "LOCK", do: File.rm!(Path.join(dir, f))
    for {f, bin} <- files, do: File.write!(Path.join(dir, f), bin)
  end

  defp info_field(conn, section, field) do
    {:ok, text} = Ferrite.command(conn, ["INFO", section])

    text
    |> String.split("\r\n")
    |> Enum.find_value(fn line ->
      case String.split(line, ":", parts: 2) do
        [^field, v] -> v
        _ -> nil
      end
    end)
  end

  describe "opening" do
    test "a directory is created and reopens with every db, type and expiry", %{dir: dir} do
      conn = open!(dir, appendfsync: :always)
      assert File.dir?(dir)
      :ok = Ferrite.set(conn, "s", "v")
      {:ok, 2} = Ferrite.command(conn, ["HSET", "h", "a", "1", "b", "2"])
      {:ok, 3} = Ferrite.command(conn, ["RPUSH", "l", "x", "y", "z"])
      :ok = Ferrite.set(conn, "ttl", "t", px: 600_000)
      {:ok, "OK"} = Ferrite.command(conn, ["SELECT", "3"])
      :ok = Ferrite.set(conn, "in3", "three")
      Ferrite.stop(conn)

      conn = open!(dir)
      assert {:ok, "v"} = Ferrite.get(conn, "s")
      assert {:ok, ["a", "1", "b", "2"]} = Ferrite.command(conn, ["HGETALL", "h"])
      assert {:ok, ["x", "y", "z"]} = Ferrite.command(conn, ["LRANGE", "l", "0", "-1"])
      assert {:ok, ms} = Ferrite.pttl(conn, "ttl")
      assert ms > 590_000 and ms <= 600_000
      assert {:ok, nil} = Ferrite.get(conn, "in3")
      {:ok, "OK"} = Ferrite.command(conn, ["SELECT", "3"])
      assert {:ok, "three"} = Ferrite.get(conn, "in3")
      Ferrite.stop(conn)
    end

    test "in memory stays the default: nothing is written", %{dir: dir} do
      {:ok, conn} = Ferrite.start_link(embedded: true)
      :ok = Ferrite.set(conn, "k", "v")

      assert {:error, %ResponseError{message: msg}} = Ferrite.command(conn, ["BGSAVE"])
      assert msg =~ "ERR"
      assert info_field(conn, "persistence", "aof_enabled") == "0"
      Ferrite.stop(conn)
      refute File.exists?(dir)
    end

    test "a second open of a directory is refused until the conn stops", %{dir: dir} do
      conn = open!(dir)

      assert {:error, %ConnectionError{reason: :locked, message: msg}} =
               Ferrite.start_link(embedded: [path: dir])

      assert msg =~ "already open"
      # The caller was not linked to the refused conn's exit.
      assert Process.alive?(self())
      Ferrite.stop(conn)

      # Released at once by the stop.
      conn = open!(dir)
      Ferrite.stop(conn)
    end

    test "a named durable store is shared and closed with its last conn", %{dir: dir} do
      name = "dur-#{System.unique_integer([:positive])}"
      {:ok, a} = Ferrite.start_link(embedded: [name: name, path: dir])
      {:ok, b} = Ferrite.start_link(embedded: [name: name, path: dir])
      # Joining by name alone gets the open store.
      {:ok, c} = Ferrite.start_link(embedded: [name: name])
      :ok = Ferrite.set(a, "shared", "1")
      assert {:ok, "1"} = Ferrite.get(b, "shared")
      assert {:ok, "1"} = Ferrite.get(c, "shared")

      other = dir <> "-other"
      on_exit(fn -> File.rm_rf!(other) end)

      assert {:error, %ConnectionError{message: msg}} =
               Ferrite.start_link(embedded: [name: name, path: other])

      assert msg =~ "another path"

      Ferrite.stop(a)
      Ferrite.stop(b)

      assert {:error, %ConnectionError{reason: :locked}} =
               Ferrite.start_link(embedded: [path: dir])

      Ferrite.stop(c)
      assert Ferrite.Embedded.store_conns(name) == 0

      conn = open!(dir)
      assert {:ok, "1"} = Ferrite.get(conn, "shared")
      Ferrite.stop(conn)
    end

    test "invalid options are refused", %{dir: dir} do
      for bad <- [
            [path: dir, appendfsync: :sometimes],
            [path: ""],
            [path: dir, repair: :yes],
            [path: dir, rewrite_percentage: -1],
            [maxmemory: -5],
            [path: dir, pathh: dir]
          ] do
        assert {:error, %ConnectionError{}} = Ferrite.start_link(embedded: bad), inspect(bad)
      end

      assert {:error, %ConnectionError{message: msg}} =
               Ferrite.start_link(embedded: [maxmemory_policy: "most-recent"])

      assert msg =~ "maxmemory-policy"
      refute File.exists?(dir)
    end

    test "a directory that cannot be created is an I/O error", %{dir: dir} do
      File.write!(dir, "a file, not a directory")

      assert {:error, %ConnectionError{reason: :io}} =
               Ferrite.start_link(embedded: [path: Path.join(dir, "sub")])
    end
  end

  describe "scheduling" do
    test "writes of an appendfsync always engine run on a dirty IO scheduler", %{dir: dir} do
      conn = open!(dir, appendfsync: :always)
      # The NIF sends fsyncing writes to the dirty IO variant...
      assert :dirty_io = Ferrite.Native.command(conn, ["SET", "k", "v"])
      assert :dirty_io = Ferrite.Native.pipeline(conn, [["GET", "k"], ["INCR", "n"]])
      # ...and keeps reads on the normal scheduler.
      assert {:ok, nil} = Ferrite.Native.command(conn, ["GET", "k"])
      assert {:ok, [nil]} = Ferrite.Native.pipeline(conn, [["GET", "k"]])
      # The public API follows the marker.
      assert :ok = Ferrite.set(conn, "k", "v")
      assert {:ok, ["OK", 1]} = Ferrite.pipeline(conn, [["SET", "a", "b"], ["INCR", "n"]])
      # Commands that run writes: transactions and scripts.
      script = "return redis.call('SET', KEYS[1], ARGV[1])"
      assert :dirty_io = Ferrite.Native.command(conn, ["EVAL", script, "1", "s", "v"])
      assert {:ok, "OK"} = Ferrite.command(conn, ["EVAL", script, "1", "s", "v"])
      {:ok, "OK"} = Ferrite.command(conn, ["MULTI"])
      {:ok, "QUEUED"} = Ferrite.command(conn, ["SET", "t", "x"])
      assert :dirty_io = Ferrite.Native.command(conn, ["EXEC"])
      assert {:ok, ["OK"]} = Ferrite.command(conn, ["EXEC"])
      Ferrite.stop(conn)

      conn = open!(dir)
      assert {:ok, ["v", "x"]} = Ferrite.mget(conn, ["s", "t"])
      Ferrite.stop(conn)

      conn = open!(dir, appendfsync: :everysec)
      assert {:ok, "OK"} = Ferrite.Native.command(conn, ["SET", "k", "v"])
      Ferrite.stop(conn)
    end
  end

  describe "damaged files" do
    test "a log truncated at every byte of its last record opens with the prefix", %{dir: dir} do
      conn = open!(dir, appendfsync: :no)
      write_keys(conn, 0..4)
      Ferrite.stop(conn)
      files = snapshot_files(dir)
      log = files["ferrite.1.aof"]
      # Records end with a checksum line `#C:xxxxxxxx\r\n` (13 bytes).
      ends = for {pos, 3} <- :binary.matches(log, "#C:"), do: pos + 13
      assert length(ends) == 5 and List.last(ends) == byte_size(log)
      last_start = Enum.at(ends, -2)

      for cut <- last_start..(byte_size(log) - 1) do
        restore(dir, files)
        File.write!(Path.join(dir, "ferrite.1.aof"), binary_part(log, 0, cut))

        logged =
          capture_log(fn ->
            conn = open!(dir)
            assert values(conn, 5) == Enum.map(0..3, &value/1) ++ [nil], "cut at #{cut}"
            # The log goes on from the cut.
            :ok = Ferrite.set(conn, "k:4", "again")
            Ferrite.stop(conn)
          end)

        if cut > last_start, do: assert(logged =~ "torn final command cut back", "cut at #{cut}")

        conn = open!(dir)
        assert values(conn, 5) == Enum.map(0..3, &value/1) ++ ["again"]
        Ferrite.stop(conn)
      end
    end

    test "flipped bytes in snapshot, log and manifest: the prefix or CorruptionError",
         %{dir: dir} do
      conn = open!(dir, appendfsync: :no)
      write_keys(conn, 0..5)
      {:ok, "OK"} = Ferrite.command(conn, ["SAVE"])
      write_keys(conn, 6..11)
      Ferrite.stop(conn)
      files = snapshot_files(dir)
      assert Map.keys(files) |> Enum.sort() == ["MANIFEST", "ferrite.2.aof", "ferrite.2.snap"]
      all = Enum.map(0..11, &value/1)

      outcomes =
        for {name, bin} <- files, pos <- 0..(byte_size(bin) - 1) do
          restore(dir, files)
          <<pre::binary-size(pos), b, post::binary>> = bin
          File.write!(Path.join(dir, name), [pre, Bitwise.bxor(b, 0xFF), post])
          where = "#{name} byte #{pos}"

          capture_log(fn ->
            case Ferrite.start_link(embedded: [path: dir]) do
              {:ok, conn} ->
                got = values(conn, 12)
                Ferrite.stop(conn)
                # Never wrong data: whole (snapshot, manifest) or at most
                # the last record of the log cut back as torn.
                if name == "ferrite.2.aof" do
                  assert got in [all, List.replace_at(all, 11, nil)], where
                else
                  assert got == all, where
                end

                send(self(), {:outcome, :ok})

              {:error, %CorruptionError{file: file, offset: offset} = e} ->
                assert Path.basename(file) == name, where
                assert offset >= 0 and offset <= byte_size(bin), where
                assert Exception.message(e) =~ "is damaged at byte #{offset}"
                send(self(), {:outcome, :corrupt})
            end
          end)

          assert_received {:outcome, outcome}
          {name, outcome}
        end

      # Every snapshot byte is covered by a checksum.
      assert Enum.all?(outcomes, fn {n, o} -> n != "ferrite.2.snap" or o == :corrupt end)
      assert {"ferrite.2.aof", :corrupt} in outcomes
    end

    test "repair cuts a damaged log back to its last good command", %{dir: dir} do
      conn = open!(dir, appendfsync: :no)
      write_keys(conn, 0..9)
      Ferrite.stop(conn)
      path = Path.join(dir, "ferrite.1.aof")
      log = File.read!(path)
      # Damage the value of k:6.
      {pos, _} = :binary.match(log, value(6))

      File.write!(path, [
        binary_part(log, 0, pos),
        "X",
        binary_part(log, pos + 1, byte_size(log) - pos - 1)
      ])

      assert {:error, %CorruptionError{file: ^path, offset: offset, message: message}} =
               Ferrite.start_link(embedded: [path: dir])

      assert offset < pos
      assert message =~ "checksum"

      logged =
        capture_log(fn ->
          conn = open!(dir, repair: true)
          assert values(conn, 10) == Enum.map(0..5, &value/1) ++ List.duplicate(nil, 4)
          Ferrite.stop(conn)
        end)

      assert logged =~ "repaired"
      # Repaired for good: opens without repair.
      conn = open!(dir)
      assert values(conn, 10) == Enum.map(0..5, &value/1) ++ List.duplicate(nil, 4)
      Ferrite.stop(conn)
    end
  end

  describe "saving" do
    test "SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE and INFO persistence", %{dir: dir} do
      conn = open!(dir)
      write_keys(conn, 0..99)
      assert info_field(conn, "persistence", "aof_enabled") == "1"
      assert info_field(conn, "persistence", "rdb_changes_since_last_save") == "100"
      {:ok, "OK"} = Ferrite.command(conn, ["SAVE"])
      assert info_field(conn, "persistence", "rdb_changes_since_last_save") == "0"
      {:ok, t} = Ferrite.command(conn, ["LASTSAVE"])
      assert abs(t - System.os_time(:second)) <= 2
      write_keys(conn, 100..199)
      {:ok, "Background saving started"} = Ferrite.command(conn, ["BGSAVE"])
      wait_rewrite(conn)

      {:ok, "Background append only file rewriting started"} =
        Ferrite.command(conn, ["BGREWRITEAOF"])

      wait_rewrite(conn)
      assert info_field(conn, "persistence", "aof_last_bgrewrite_status") == "ok"
      Ferrite.stop(conn)

      conn = open!(dir)
      assert values(conn, 200) == Enum.map(0..199, &value/1)
      Ferrite.stop(conn)
    end

    test "automatic rewrites keep the log small", %{dir: dir} do
      conn = open!(dir, rewrite_min_size: 4096, rewrite_percentage: 100)
      write_keys(conn, 0..499)
      wait_rewrite(conn)
      assert String.to_integer(info_field(conn, "persistence", "aof_rewrites")) >= 1
      Ferrite.stop(conn)

      conn = open!(dir)
      assert values(conn, 500) == Enum.map(0..499, &value/1)
      Ferrite.stop(conn)
    end
  end

  defp wait_rewrite(conn) do
    if info_field(conn, "persistence", "aof_rewrite_in_progress") == "1" do
      Process.sleep(5)
      wait_rewrite(conn)
    end
  end

  describe "memory ceiling" do
    test "noeviction refuses writes with Redis's OOM error; reads go on" do
      {:ok, conn} = Ferrite.start_link(embedded: [maxmemory: 100_000])

      assert {:ok, ["maxmemory", "100000"]} =
               Ferrite.command(conn, ["CONFIG", "GET", "maxmemory"])

      oom =
        Enum.find_value(0..10_000, fn i ->
          case Ferrite.set(conn, "k:#{i}", String.duplicate("x", 100)) do
            :ok -> nil
            {:error, e} -> {i, e}
          end
        end)

      assert {i,
              %ResponseError{message: "OOM command not allowed when used memory > 'maxmemory'."}} =
               oom

      assert i > 10
      assert {:ok, "xxx" <> _} = Ferrite.get(conn, "k:0")
      assert {:ok, 1} = Ferrite.del(conn, "k:0")
      # CONFIG SET at run time lifts the ceiling.
      {:ok, "OK"} = Ferrite.command(conn, ["CONFIG", "SET", "maxmemory", "0"])
      assert :ok = Ferrite.set(conn, "more", "room")
      Ferrite.stop(conn)
    end

    test "allkeys-lru stays under maxmemory while writing, durably", %{dir: dir} do
      max = 300_000
      conn = open!(dir, maxmemory: max, maxmemory_policy: :allkeys_lru)

      assert {:ok, ["maxmemory-policy", "allkeys-lru"]} =
               Ferrite.command(conn, ["CONFIG", "GET", "maxmemory-policy"])

      for batch <- 0..9 do
        for i <- 0..499 do
          :ok = Ferrite.set(conn, "k:#{batch}:#{i}", String.duplicate("x", 100))
        end

        # As in Redis, eviction runs before a write: the last write may go
        # over by its own size (about 200 bytes here), no more.
        used = String.to_integer(info_field(conn, "memory", "used_memory"))
        assert used <= max + 1024, "batch #{batch}: used_memory #{used} > #{max}"
        if batch >= 3, do: assert(used >= max * 0.8, "evicted far too much: #{used}")
      end

      evicted = String.to_integer(info_field(conn, "stats", "evicted_keys"))
      {:ok, size} = Ferrite.dbsize(conn)
      assert evicted > 0 and size + evicted == 5000
      # The newest keys survived.
      assert {:ok, "x" <> _} = Ferrite.get(conn, "k:9:499")
      Ferrite.stop(conn)

      # Evictions are logged: the reopened database has the same keys.
      conn = open!(dir)
      assert {:ok, ^size} = Ferrite.dbsize(conn)
      Ferrite.stop(conn)
    end
  end
end
