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

  @doc "`EXPIREAT key unix_seconds [NX|XX|GT|LT]`: `{:ok, 1}` when set, `{:ok, 0}` when not."
  @spec expireat(Ferrite.conn(), Ferrite.key(), integer(), [expire_opt()]) ::
          {:ok, 0 | 1} | Ferrite.error()
  def expireat(conn, key, unix_seconds, opts \\ []),
    do: command(conn, ["EXPIREAT", key, unix_seconds | expire_opts(opts)])

  @doc "`RENAME key newkey`: `:ok`; `ERR no such key` when `key` is missing."
  @spec rename(Ferrite.conn(), Ferrite.key(), Ferrite.key()) :: :ok | Ferrite.error()
  def rename(conn, key, newkey), do: ok_status(command(conn, ["RENAME", key, newkey]))

  @doc "`RENAMENX key newkey`: `{:ok, 1}` when renamed, `{:ok, 0}` when `newkey` exists."
  @spec renamenx(Ferrite.conn(), Ferrite.key(), Ferrite.key()) ::
          {:ok, 0 | 1} | Ferrite.error()
  def renamenx(conn, key, newkey), do: command(conn, ["RENAMENX", key, newkey])

  @doc "`UNLINK key ...`: like `del/2`; `{:ok, number_removed}`."
  @spec unlink(Ferrite.conn(), Ferrite.key() | [Ferrite.key()]) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def unlink(conn, keys), do: command(conn, ["UNLINK" | List.wrap(keys)])

  @doc """
  `COPY source destination [DB db] [REPLACE]`: `{:ok, 1}` when copied,
  `{:ok, 0}` when `destination` exists (without `replace: true`) or
  `source` is missing. Options: `db:`, `replace:`.
  """
  @spec copy(Ferrite.conn(), Ferrite.key(), Ferrite.key(), keyword()) ::
          {:ok, 0 | 1} | Ferrite.error()
  def copy(conn, source, destination, opts \\ []) do
    extra =
      Enum.flat_map(opts, fn
        {:db, db} -> ["DB", db]
        {:replace, true} -> ["REPLACE"]
        {:replace, false} -> []
        other -> raise ArgumentError, "unknown COPY option: #{inspect(other)}"
      end)

    command(conn, ["COPY", source, destination | extra])
  end

  @doc """
  `SCAN cursor [MATCH pattern] [COUNT n] [TYPE type]`: one step of an
  iteration over the keys, `{:ok, {next_cursor, keys}}`; start with 0, and
  the iteration is over when `next_cursor` is 0 again. Options: `match:`,
  `count:`, `type:` (`"string"`, `"list"`, ...).
  """
  @spec scan(Ferrite.conn(), non_neg_integer() | binary(), keyword()) ::
          {:ok, {non_neg_integer(), [binary()]}} | Ferrite.error()
  def scan(conn, cursor, opts \\ []) do
    case command(conn, ["SCAN", cursor | scan_opts(opts, [:match, :count, :type])]) do
      {:ok, [next, keys]} -> {:ok, {String.to_integer(next), keys}}
      other -> other
    end
  end

  @doc false
  # The MATCH / COUNT / TYPE options of the SCAN family, in Redis's words.
  @spec scan_opts(keyword(), [atom()]) :: [term()]
  def scan_opts(opts, allowed) do
    Enum.flat_map(opts, fn {k, v} = opt ->
      unless k in allowed and k in [:match, :count, :type],
        do: raise(ArgumentError, "unknown SCAN option: #{inspect(opt)}")

      [k |> Atom.to_string() |> String.upcase(), v]
    end)
  end

  @doc "`FLUSHDB`: `:ok`."
  @spec flushdb(Ferrite.conn()) :: :ok | Ferrite.error()
  def flushdb(conn), do: ok_status(command(conn, ["FLUSHDB"]))

  @doc "`DBSIZE`: `{:ok, number_of_keys}`."
  @spec dbsize(Ferrite.conn()) :: {:ok, non_neg_integer()} | Ferrite.error()
  def dbsize(conn), do: command(conn, ["DBSIZE"])
end
