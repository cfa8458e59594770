defmodule Ferrite.ResponseError do
  @moduledoc """
  An error reply from the engine or server, with Redis's text, for example
  `"WRONGTYPE Operation against a key holding the wrong kind of value"`.
  """
  defexception [:message]

  @type t :: %__MODULE__{message: String.t()}
end

defmodule Ferrite.ConnectionError do
  @moduledoc """
  The conn cannot serve the call: it is closed, was never opened, or (remote
  backend) the connection to the server failed.

  `reason` tells some cases apart: `:locked` when an embedded durable
  database is already open (in this VM or another OS process), `:io` when
  its directory cannot be read or written; nil otherwise.
  """
  defexception [:message, reason: nil]

  @type t :: %__MODULE__{message: String.t(), reason: atom() | nil}
end

defmodule Ferrite.TimeoutError do
  @moduledoc "A call did not complete in time."
  defexception message: "operation timed out"

  @type t :: %__MODULE__{message: String.t()}
end
