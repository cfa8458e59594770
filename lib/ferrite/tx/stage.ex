defmodule Ferrite.Tx.Stage do
  @moduledoc false
  # A stand-in conn that `Ferrite.command/2` recognises. `Ferrite.Tx` runs a
  # typed function twice against it: once in `:record` mode, where the
  # command's argument vector is thrown back (so queueing never touches the
  # engine), and once in `{:replay, result}` mode after EXEC, where the
  # command "returns" its slot of the EXEC reply, so the typed function
  # shapes it exactly as it would shape a direct call.

  defstruct mode: :record

  @type t :: %__MODULE__{mode: :record | {:replay, {:ok, term()} | {:error, term()}}}

  @doc false
  @spec command(t(), list()) :: {:ok, term()} | {:error, term()}
  def command(%__MODULE__{mode: :record}, argv), do: throw({__MODULE__, argv})
  def command(%__MODULE__{mode: {:replay, result}}, _argv), do: result
end
