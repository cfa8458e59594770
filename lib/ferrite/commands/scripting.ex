defmodule Ferrite.Commands.Scripting do
  @moduledoc """
  Lua scripting (`SCRIPT LOAD`, `EVALSHA`, `EVAL`). Call them through
  `Ferrite`.

  Scripts run atomically in the engine, on a dirty scheduler (the command
  table flags them slow), so a long script never holds a normal scheduler.
  Results follow Redis's Lua conversion: a Lua number becomes an integer, a
  string a binary, `true` `1`, `false` and `nil` `nil`, a table a list
  (stopping at the first `nil`), `{ok = s}` the status `s` and `{err = s}`
  an error. Errors (`NOSCRIPT`, script errors, `BUSY`) come back as
  `{:error, %Ferrite.ResponseError{}}`.
  """

  import Ferrite, only: [command: 2]

  @doc """
  `SCRIPT LOAD script`: caches `script` and returns `{:ok, sha1}` (40
  lower-case hex characters) for `evalsha/4`.
  """
  @spec script_load(Ferrite.conn(), binary()) :: {:ok, binary()} | Ferrite.error()
  def script_load(conn, script), do: command(conn, ["SCRIPT", "LOAD", script])

  @doc """
  `EVALSHA sha1 numkeys key ... arg ...`: runs a cached script with `keys`
  (its `KEYS`) and `args` (its `ARGV`); `{:ok, result}`. An unknown `sha1`
  gives `{:error, %Ferrite.ResponseError{message: "NOSCRIPT ..."}}`.
  """
  @spec evalsha(Ferrite.conn(), binary(), [Ferrite.key()], [Ferrite.arg()]) ::
          {:ok, term()} | Ferrite.error()
  def evalsha(conn, sha, keys \\ [], args \\ []),
    do: command(conn, ["EVALSHA", sha, length(keys) | keys ++ args])

  @doc """
  `EVAL script numkeys key ... arg ...`: runs `script` (caching it) with
  `keys` and `args`; `{:ok, result}`.
  """
  @spec eval(Ferrite.conn(), binary(), [Ferrite.key()], [Ferrite.arg()]) ::
          {:ok, term()} | Ferrite.error()
  def eval(conn, script, keys \\ [], args \\ []),
    do: command(conn, ["EVAL", script, length(keys) | keys ++ args])
end
