defmodule Ferrite.Application do
  @moduledoc false
  use Application

  @impl true
  def start(_type, _args) do
    children = [Ferrite.Backend]
    Supervisor.start_link(children, strategy: :one_for_one, name: Ferrite.Supervisor)
  end
end
