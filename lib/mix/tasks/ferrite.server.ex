defmodule Mix.Tasks.Ferrite.Server do
  @shortdoc "Serves an embedded Ferrite database over RESP"
  @moduledoc """
  Serves an embedded Ferrite database over RESP until interrupted, so that
  `redis-cli -p PORT` (or any Redis client) can reach it.

      mix ferrite.server [--port 6379] [--bind 127.0.0.1] [--requirepass PW] [--dir D]

  `--dir` is accepted for the persistent mode; until persistence is wired
  into the conn options, the database is in memory.
  """
  use Mix.Task

  @switches [port: :integer, bind: :string, requirepass: :string, dir: :string]

  @impl true
  def run(argv) do
    {opts, _rest, invalid} = OptionParser.parse(argv, strict: @switches)
    if invalid != [], do: Mix.raise("unknown options: #{inspect(invalid)}")
    Mix.Task.run("app.start")

    {:ok, conn} = Ferrite.start_link(embedded: true)

    if pw = opts[:requirepass] do
      {:ok, "OK"} = Ferrite.command(conn, ["CONFIG", "SET", "requirepass", pw])
    end

    case Ferrite.Embedded.listen(conn,
           port: Keyword.get(opts, :port, 6379),
           bind: Keyword.get(opts, :bind, "127.0.0.1")
         ) do
      {:ok, port} ->
        Mix.shell().info("Ferrite listening on #{Keyword.get(opts, :bind, "127.0.0.1")}:#{port}")
        Process.sleep(:infinity)

      {:error, e} ->
        Mix.raise(Exception.message(e))
    end
  end
end
