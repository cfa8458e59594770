defmodule Ferrite.Args do
  @moduledoc """
  Converts command arguments to binaries: integers and floats to their
  decimal text, atoms to their name, iodata to a binary. `nil` is refused,
  as it is almost always a bug.
  """

  @typedoc "Anything a command argument may be given as."
  @type arg :: binary() | integer() | float() | atom() | iodata()

  @doc "Converts every argument of `argv` to a binary."
  @spec normalize!([arg()]) :: [binary()]
  def normalize!(argv) when is_list(argv), do: Enum.map(argv, &to_bin/1)

  def normalize!(argv) do
    raise ArgumentError, "a command must be a list of arguments, got: #{inspect(argv)}"
  end

  @doc "Converts one argument to a binary."
  @spec to_bin(arg()) :: binary()
  def to_bin(b) when is_binary(b), do: b
  def to_bin(i) when is_integer(i), do: Integer.to_string(i)
  def to_bin(f) when is_float(f), do: :erlang.float_to_binary(f, [:short])

  def to_bin(nil) do
    raise ArgumentError, "nil is not a valid command argument"
  end

  def to_bin(a) when is_atom(a), do: Atom.to_string(a)

  def to_bin(l) when is_list(l) do
    IO.iodata_to_binary(l)
  rescue
    ArgumentError ->
      reraise ArgumentError, "not a valid command argument: #{inspect(l)}", __STACKTRACE__
  end

  def to_bin(other) do
    raise ArgumentError, "not a valid command argument: #{inspect(other)}"
  end
end
