# Helpers shared by the benches: a private redis-server, eredis, and the
# long-schedule monitor. Load with
#   Code.require_file("support/redis_server.exs", __DIR__)

defmodule Bench.RedisServer do
  @moduledoc false

  # redis-server on a free loopback port, daemonized, stopped by its pid.
  # `extra` are more command-line arguments (`["--dir", dir]`).
  # Returns {port, os_pid, pidfile}.
  def start(tag \\ "bench", extra \\ []) do
    {:ok, sock} = :gen_tcp.listen(0, ip: {127, 0, 0, 1})
    {:ok, port} = :inet.port(sock)
    :gen_tcp.close(sock)
    pidfile = Path.join(System.tmp_dir!(), "ferrite-#{tag}-#{port}.pid")
    File.rm(pidfile)

    {_, 0} =
      System.cmd("redis-server", [
        "--port",
        "#{port}",
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--daemonize",
        "yes",
        "--pidfile",
        pidfile
        | extra
      ])

    pid = wait_pidfile(pidfile, 100)
    {port, pid, pidfile}
  end

  defp wait_pidfile(_pidfile, 0), do: raise("redis-server did not start")

  defp wait_pidfile(pidfile, tries) do
    case File.read(pidfile) do
      {:ok, s} when s != "" ->
        String.trim(s)

      _ ->
        Process.sleep(50)
        wait_pidfile(pidfile, tries - 1)
    end
  end

  def stop({_port, pid, pidfile}) do
    System.cmd("kill", [pid])
    File.rm(pidfile)
  end

  def connect_eredis(port, tries \\ 50) do
    case :eredis.start_link(~c"127.0.0.1", port) do
      {:ok, c} ->
        c

      _ when tries > 0 ->
        Process.sleep(50)
        connect_eredis(port, tries - 1)
    end
  end
end

defmodule Bench.LongSchedules do
  @moduledoc false

  # Starts watching for schedules longer than `ms` milliseconds.
  def watch(ms \\ 1), do: :erlang.system_monitor(self(), [{:long_schedule, ms}])

  # Stops watching and returns what was seen.
  def stop do
    :erlang.system_monitor(:undefined)
    drain()
  end

  def drain(acc \\ []) do
    receive do
      {:monitor, _pid, :long_schedule, info} -> drain([info | acc])
    after
      0 -> Enum.reverse(acc)
    end
  end

  # The ones that happened inside a Ferrite NIF.
  def ferrite(infos), do: Enum.filter(infos, fn info -> inspect(info) =~ "Ferrite.Native" end)
end
