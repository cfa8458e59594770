defmodule Ferrite.CorruptionError do
  @moduledoc """
  A durable database could not be opened because one of its files is
  damaged: nothing was loaded.

  `file` is the damaged file, `offset` the byte offset of the damage (for a
  checksum mismatch, the start of the checksummed region), and `message`
  what is wrong. Opening again with `repair: true` cuts a damaged log back
  to its last good command (see the "Durability" section of the README); a
  damaged snapshot cannot be repaired.
  """
  defexception [:file, :offset, :message]

  @type t :: %__MODULE__{file: String.t(), offset: non_neg_integer(), message: String.t()}

  @impl true
  def message(%__MODULE__{file: file, offset: offset, message: message}) do
    "#{file} is damaged at byte #{offset}: #{message}"
  end
end
