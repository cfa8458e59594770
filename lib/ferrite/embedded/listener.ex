defmodule Ferrite.Embedded.Listener do
  @moduledoc """
  Serves an embedded database over RESP, so that any Redis client
  (`redis-cli -p PORT`, another language's test suite) can reach it.

  The listener runs on threads of the NIF, outside the schedulers. It
  binds to loopback unless told otherwise, honours `requirepass` (set it
  with `CONFIG SET requirepass ...` on the conn) and `maxclients`, and runs
  until `unlisten/1` (or until the VM exits). Once the conn that opened it
  stops, the database answers every command with `ERR database is closed`.
  """

  alias Ferrite.{ConnectionError, Native}

  @doc """
  Starts serving the embedded `conn` (a pid or a registered name).

  Options: `port:` (default 6379; 0 picks a free port) and `bind:`
  (default `"127.0.0.1"`). Returns `{:ok, port}` with the bound port.
  """
  @spec listen(Ferrite.conn(), keyword()) :: {:ok, pos_integer()} | {:error, Exception.t()}
  def listen(conn, opts \\ []) do
    port = Keyword.get(opts, :port, 6379)
    bind = Keyword.get(opts, :bind, "127.0.0.1")

    with {:ok, pid} <- owner(conn),
         {:ok, port} <- Native.listen(pid, to_string(bind), port) do
      {:ok, port}
    else
      {:error, %ConnectionError{} = e} -> {:error, e}
      {:error, msg} -> {:error, %ConnectionError{message: "listen failed: #{msg}"}}
    end
  end

  @doc "Stops the listener bound to `port` and closes its connections."
  @spec unlisten(pos_integer()) :: :ok | {:error, Exception.t()}
  def unlisten(port) when is_integer(port) do
    case Native.unlisten(port) do
      :ok -> :ok
      {:error, msg} -> {:error, %ConnectionError{message: msg}}
    end
  end

  defp owner(conn) do
    case GenServer.whereis(conn) do
      pid when is_pid(pid) -> {:ok, pid}
      _ -> {:error, %ConnectionError{message: "no embedded conn #{inspect(conn)}"}}
    end
  end
end
