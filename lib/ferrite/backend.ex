defmodule Ferrite.Backend do
  @moduledoc """
  How a conn that is not an embedded one is served.

  `Ferrite.command/2` and `Ferrite.pipeline/2` first try the embedded NIF,
  which knows every embedded conn by pid and name without any lookup on the
  Elixir side. When the NIF does not know the conn, the call comes here: a
  backend process (for example the remote RESP client) registers its pid
  with `register/2` when it starts, and is looked up by pid (or registered
  name) in a public ETS table. A registration goes away when the process
  exits.

  A backend module implements the callbacks below; each receives the conn
  pid and argument vectors whose elements are already binaries.
  """
  use GenServer

  @table __MODULE__

  @doc "Runs one command: `{:ok, reply}` or `{:error, exception}`."
  @callback command(conn :: pid(), argv :: [binary()], opts :: keyword()) ::
              {:ok, term()} | {:error, Exception.t()}

  @doc "Runs a pipeline: `{:ok, replies}` or `{:error, exception}`."
  @callback pipeline(conn :: pid(), cmds :: [[binary()]], opts :: keyword()) ::
              {:ok, [term()]} | {:error, Exception.t()}

  @doc false
  @spec start_link(term()) :: GenServer.on_start()
  def start_link(_opts), do: GenServer.start_link(__MODULE__, [], name: __MODULE__)

  @doc "Registers the calling process as a conn served by `module`."
  @spec register(pid(), module()) :: :ok
  def register(pid, module) when is_pid(pid) and is_atom(module) do
    GenServer.call(__MODULE__, {:register, pid, module})
  end

  @doc "The backend module serving `conn` (a pid or a registered name), or nil."
  @spec lookup(term()) :: {pid(), module()} | nil
  def lookup(conn) when is_pid(conn) do
    case :ets.lookup(@table, conn) do
      [{^conn, module}] -> {conn, module}
      [] -> nil
    end
  end

  def lookup(conn) when is_atom(conn) do
    case Process.whereis(conn) do
      nil -> nil
      pid -> lookup(pid)
    end
  end

  def lookup(_conn), do: nil

  @impl true
  def init([]) do
    :ets.new(@table, [:named_table, :protected, :set, read_concurrency: true])
    {:ok, %{}}
  end

  @impl true
  def handle_call({:register, pid, module}, _from, refs) do
    ref = Process.monitor(pid)
    :ets.insert(@table, {pid, module})
    {:reply, :ok, Map.put(refs, ref, pid)}
  end

  @impl true
  def handle_info({:DOWN, ref, :process, pid, _reason}, refs) do
    :ets.delete(@table, pid)
    {:noreply, Map.delete(refs, ref)}
  end
end
