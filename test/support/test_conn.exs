defmodule Ferrite.TestServer do
  @moduledoc """
  redis-server instances for tests: started on a free loopback port with
  no persistence, stopped by their pid.
  """

  @doc "A loopback port that was free a moment ago."
  @spec free_port() :: :inet.port_number()
  def free_port do
    {:ok, s} = :gen_tcp.listen(0, ip: {127, 0, 0, 1}, reuseaddr: true)
    {:ok, port} = :inet.port(s)
    :gen_tcp.close(s)
    port
  end

  @doc """
  Starts `redis-server` on `port` (a free one by default) with extra
  `args:` such as `["--requirepass", "pw"]`, or on TLS only with
  `tls: true` (its CA certificate in `dir/ca.pem`); waits until it is ready.
  Returns `%{port:, pid:, dir:}`.
  """
  @spec start_redis(keyword()) :: %{port: pos_integer(), pid: pos_integer(), dir: binary()}
  def start_redis(opts \\ []) do
    port = Keyword.get_lazy(opts, :port, &free_port/0)

    dir =
      Path.join(
        System.tmp_dir!(),
        "ferrite-test-redis-#{port}-#{System.unique_integer([:positive])}"
      )

    File.mkdir_p!(dir)
    pidfile = Path.join(dir, "redis.pid")

    log = Path.join(dir, "log")

    args =
      ~w(--bind 127.0.0.1 --save "" --appendonly no --daemonize yes --enable-debug-command local) ++
        ["--pidfile", pidfile, "--dir", dir, "--logfile", log] ++
        listen_args(port, dir, Keyword.get(opts, :tls, false)) ++
        Keyword.get(opts, :args, [])

    {_, 0} = System.cmd("redis-server", Enum.map(args, &String.replace(&1, ~s(""), "")))
    wait_until(fn -> File.exists?(pidfile) and ready?(log) end)
    pid = pidfile |> File.read!() |> String.trim() |> String.to_integer()
    %{port: port, pid: pid, dir: dir}
  end

  # With tls: a CA (ca.pem) and a server certificate for "localhost" signed
  # by it, in `dir`, and the TLS port instead of the plain one.
  defp listen_args(port, _dir, false), do: ["--port", "#{port}"]

  defp listen_args(port, dir, true) do
    f = &Path.join(dir, &1)

    openssl(
      ~w(req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=test-ca -keyout) ++
        [f.("ca.key"), "-out", f.("ca.pem")]
    )

    openssl(
      ~w(req -newkey rsa:2048 -nodes -subj /CN=localhost -keyout) ++
        [f.("key.pem"), "-out", f.("req.pem")]
    )

    File.write!(f.("ext"), "subjectAltName=DNS:localhost\n")

    openssl(
      ~w(x509 -req -days 1 -CAcreateserial -in) ++
        [
          f.("req.pem"),
          "-CA",
          f.("ca.pem"),
          "-CAkey",
          f.("ca.key"),
          "-out",
          f.("cert.pem"),
          "-extfile",
          f.("ext")
        ]
    )

    ["--port", "0", "--tls-port", "#{port}", "--tls-cert-file", f.("cert.pem")] ++
      [
        "--tls-key-file",
        f.("key.pem"),
        "--tls-ca-cert-file",
        f.("ca.pem"),
        "--tls-auth-clients",
        "no"
      ]
  end

  defp openssl(args), do: {_, 0} = System.cmd("openssl", args, stderr_to_stdout: true)

  defp ready?(log) do
    case File.read(log) do
      {:ok, text} -> String.contains?(text, "Ready to accept connections")
      _ -> false
    end
  end

  @doc "Stops a server started by `start_redis/1`, by its pid, and waits for it to exit."
  @spec stop_redis(%{pid: pos_integer(), dir: binary()}) :: :ok
  def stop_redis(%{pid: pid, dir: dir}) do
    System.cmd("kill", [Integer.to_string(pid)], stderr_to_stdout: true)
    wait_until(fn -> exited?(pid) end)
    File.rm_rf!(dir)
    :ok
  end

  # Gone, or a zombie waiting for init to reap it (its sockets are closed).
  defp exited?(pid) do
    case File.read("/proc/#{pid}/stat") do
      {:ok, stat} ->
        stat |> String.split(") ", parts: 2) |> List.last() |> String.starts_with?("Z")

      {:error, _} ->
        true
    end
  end

  @doc "Polls `fun` every 10 ms for up to 5 s; raises when it never returns true."
  @spec wait_until((() -> boolean()), non_neg_integer()) :: :ok
  def wait_until(fun, tries \\ 500) do
    cond do
      fun.() -> :ok
      tries == 0 -> raise "condition not reached in time"
      true -> Process.sleep(10) && wait_until(fun, tries - 1)
    end
  end
end

defmodule Ferrite.TestConn do
  @moduledoc """
  One API suite, three backends. Every API test module opens its conns
  here:

      setup context do
        {:ok, conn} = Ferrite.TestConn.open(context)
        %{c: conn}
      end

  `FERRITE_BACKEND` selects the backend for the whole run:

    * `embedded` (default): a fresh embedded database per test;
    * `redis`: the remote backend against a redis-server 7.0 the run starts
      on a free loopback port (and stops by its pid);
    * `listener`: the remote backend against this project's own RESP
      listener (`Ferrite.Embedded.listen/2`) on an embedded database.

  Remote runs serialise the tests (`max_cases: 1`) and start each with
  `FLUSHALL`, so every test sees an empty server as on the embedded
  backend. They exclude tests tagged `:engine_only` (fast_forward, engine
  internals, named stores) and modules tagged `:single_run` (tests that do
  not depend on the backend, such as the listener's or the remote client's
  own tests, which run in the embedded run only).
  """

  @doc "The backend of this run: `:embedded`, `:redis` or `:listener`."
  @spec backend() :: :embedded | :redis | :listener
  def backend do
    case System.get_env("FERRITE_BACKEND", "embedded") do
      "embedded" -> :embedded
      "redis" -> :redis
      "listener" -> :listener
      other -> raise "FERRITE_BACKEND must be embedded, redis or listener, got #{inspect(other)}"
    end
  end

  @doc "Whether this run talks to a server over RESP."
  @spec remote?() :: boolean()
  def remote?, do: backend() != :embedded

  @doc """
  Prepares the run (from `test_helper.exs`, before `ExUnit.start/1`):
  starts the server of a remote backend and returns ExUnit options.
  """
  @spec setup_run() :: keyword()
  def setup_run do
    case backend() do
      :embedded ->
        []

      :redis ->
        server = Ferrite.TestServer.start_redis()
        ExUnit.after_suite(fn _ -> Ferrite.TestServer.stop_redis(server) end)
        remote_run(server.port)

      :listener ->
        # The database behind the listener lives as long as the test run:
        # its conn is owned by a process that nothing links to a test.
        parent = self()

        spawn(fn ->
          {:ok, conn} = Ferrite.start_link(embedded: true)
          {:ok, port} = Ferrite.Embedded.listen(conn, port: 0)
          send(parent, {:listening, port})
          Process.sleep(:infinity)
        end)

        port = receive(do: ({:listening, port} -> port))
        ExUnit.after_suite(fn _ -> Ferrite.Embedded.unlisten(port) end)
        remote_run(port)
    end
  end

  defp remote_run(port) do
    :persistent_term.put({__MODULE__, :port}, port)
    IO.puts("Ferrite API suite on the #{backend()} backend (127.0.0.1:#{port})")
    # A message that crosses a socket (and a loaded machine) may take more
    # than ExUnit's default 100 ms to arrive.
    [max_cases: 1, exclude: [:engine_only, :single_run], assert_receive_timeout: 1000]
  end

  @doc """
  Opens the test's conn: `{:ok, conn}`, linked to the test process. On a
  remote backend the server is flushed first (the first `open/1` of a
  test).
  """
  @spec open(map(), keyword()) :: {:ok, pid()}
  def open(context \\ %{}, opts \\ []) do
    case backend() do
      :embedded ->
        store = Process.get({__MODULE__, :store}) || new_store(context)
        Ferrite.start_link([embedded: [name: store]] ++ opts)

      _remote ->
        {:ok, conn} = Ferrite.start_link([host: "127.0.0.1", port: port()] ++ opts)

        unless Process.get({__MODULE__, :flushed}) do
          Process.put({__MODULE__, :flushed}, true)

          {:ok, _} = Ferrite.pipeline(conn, reset_commands())
        end

        {:ok, conn}
    end
  end

  # What a test may change on a shared server, back to the defaults.
  defp reset_commands do
    [
      ["CONFIG", "SET", "maxmemory", "0"],
      ["CONFIG", "SET", "maxmemory-policy", "noeviction"],
      ["FLUSHALL"],
      ["SCRIPT", "FLUSH"],
      ["FUNCTION", "FLUSH"],
      ["CONFIG", "SET", "notify-keyspace-events", ""]
    ]
  end

  @doc """
  Another conn on the same data as the test's first one (a second client):
  the same named store when embedded, the same server when remote.
  `opts` such as `database: 3` are passed to `Ferrite.start_link/1`.
  """
  @spec another(map(), keyword()) :: {:ok, pid()}
  def another(context \\ %{}, opts \\ []), do: open(context, opts)

  defp new_store(context) do
    name = "test-#{inspect(context[:module])}-#{System.unique_integer([:positive])}"
    Process.put({__MODULE__, :store}, name)
    name
  end

  @doc "The port of the server of a remote run."
  @spec port() :: pos_integer()
  def port, do: :persistent_term.get({__MODULE__, :port})
end
