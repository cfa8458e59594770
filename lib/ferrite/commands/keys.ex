defmodule Ferrite.Commands.Keys do
  @moduledoc """
  Keyspace commands (`DEL`, `EXISTS`, `EXPIRE`, `TTL`, ...). Call them
  through `Ferrite`. Return shapes follow `Ferrite.Commands.Shape`.
  """

  import Ferrite, only: [command: 2]
  import Ferrite.Commands.Shape

  @typedoc "Condition options of `expire/4` and `pexpire/4`."
  @type expire_opt :: :nx | :xx | :gt | :lt

  @doc "`DEL key ...`: `{:ok, number_deleted}`. Takes one key or a list."
  @spec del(Ferrite.conn(), Ferrite.key() | [Ferrite.key()]) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def del(conn, keys), do: command(conn, ["DEL" | List.wrap(keys)])

  @doc "`EXISTS key ...`: `{:ok, count}`. Takes one key or a list."
  @spec exists(Ferrite.conn(), Ferrite.key() | [Ferrite.key()]) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def exists(conn, keys), do: command(conn, ["EXISTS" | List.wrap(keys)])

  @doc "`EXPIRE key seconds [NX|XX|GT|LT]`: `{:ok, 1}` when set, `{:ok, 0}` when not."
  @spec expire(Ferrite.conn(), Ferrite.key(), integer(), [expire_opt()]) ::
          {:ok, 0 | 1} | Ferrite.error()
  def expire(conn, key, seconds, opts \\ []),
    do: command(conn, ["EXPIRE", key, seconds | expire_opts(opts)])

  @doc "`PEXPIRE key ms [NX|XX|GT|LT]`: `{:ok, 1}` when set, `{:ok, 0}` when not."
  @spec pexpire(Ferrite.conn(), Ferrite.key(), integer(), [expire_opt()]) ::
          {:ok, 0 | 1} | Ferrite.error()
  def pexpire(conn, key, ms, opts \\ []),
    do: command(conn, ["PEXPIRE", key, ms | expire_opts(opts)])

  defp expire_opts(opts) do
    Enum.map(opts, fn
      opt when opt in [:nx, :xx, :gt, :lt] -> opt |> Atom.to_string() |> String.upcase()
      opt -> raise ArgumentError, "unknown EXPIRE option: #{inspect(opt)}"
    end)
  end

  @doc "`TTL key`: `{:ok, seconds}`, `{:ok, -1}` without expiry, `{:ok, -2}` when missing."
  @spec ttl(Ferrite.conn(), Ferrite.key()) :: {:ok, integer()} | Ferrite.error()
  def ttl(conn, key), do: command(conn, ["TTL", key])

  @doc "`PTTL key`: like `ttl/2` in milliseconds."
  @spec pttl(Ferrite.conn(), Ferrite.key()) :: {:ok, integer()} | Ferrite.error()
  def pttl(conn, key), do: command(conn, ["PTTL", key])

  @doc "`PERSIST key`: `{:ok, 1}` when a TTL was removed, else `{:ok, 0}`."
  @spec persist(Ferrite.conn(), Ferrite.key()) :: {:ok, 0 | 1} | Ferrite.error()
  def persist(conn, key), do: command(conn, ["PERSIST", key])

  @doc "`TYPE key`: `{:ok, \"string\" | \"list\" | ... | \"none\"}`."
  @spec type(Ferrite.conn(), Ferrite.key()) :: {:ok, binary()} | Ferrite.error()
  def type(conn, key), do: command(conn, ["TYPE", key])

  @doc "`KEYS pattern`: `{:ok, keys}` matching the glob pattern."
  @spec keys(Ferrite.conn(), binary()) :: {:ok, [binary()]} | Ferrite.error()
  def keys(conn, pattern \\ "*"), do: command(conn, ["KEYS", pattern])

  @doc "`FLUSHDB`: `:ok`."
  @spec flushdb(Ferrite.conn()) :: :ok | Ferrite.error()
  def flushdb(conn), do: ok_status(command(conn, ["FLUSHDB"]))

  @doc "`DBSIZE`: `{:ok, number_of_keys}`."
  @spec dbsize(Ferrite.conn()) :: {:ok, non_neg_integer()} | Ferrite.error()
  def dbsize(conn), do: command(conn, ["DBSIZE"])
end
