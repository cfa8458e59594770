defmodule Ferrite.Remote do
  @moduledoc """
  The remote backend: RESP over TCP to a Ferrite or Redis server.

  Placeholder until the remote backend lands: `start_link/1` refuses.
  """

  @doc "Starts a conn to a remote server (not available yet)."
  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(_opts) do
    {:error, %Ferrite.ConnectionError{message: "the remote backend is not available yet"}}
  end
end
