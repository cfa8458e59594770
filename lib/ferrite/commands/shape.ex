defmodule Ferrite.Commands.Shape do
  @moduledoc """
  The typed functions' return rule, in one place: the status `OK` becomes
  `:ok`, any other reply `r` becomes `{:ok, r}`, errors pass through.
  """

  @doc "Maps `{:ok, \"OK\"}` to `:ok`; everything else passes through."
  @spec ok_status({:ok, term()} | {:error, term()}) :: :ok | {:ok, term()} | {:error, term()}
  def ok_status({:ok, "OK"}), do: :ok
  def ok_status(other), do: other

  @doc "Parses a float reply (`\"11.5\"`, `\"3\"`, `\"inf\"`) into a float."
  @spec float({:ok, binary() | nil} | {:error, term()}) ::
          {:ok, float() | :infinity | :neg_infinity | nil} | {:error, term()}
  def float({:ok, nil}), do: {:ok, nil}
  def float({:ok, "inf"}), do: {:ok, :infinity}
  def float({:ok, "-inf"}), do: {:ok, :neg_infinity}

  def float({:ok, bin}) when is_binary(bin) do
    {f, ""} = Float.parse(bin)
    {:ok, f}
  end

  def float(other), do: other
end
