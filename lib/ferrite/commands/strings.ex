defmodule Ferrite.Commands.Strings do
  @moduledoc """
  String commands (`GET`, `SET`, `INCR`, ...). Call them through `Ferrite`
  (`Ferrite.get/2`, ...). Return shapes follow `Ferrite.Commands.Shape`.
  """

  import Ferrite, only: [command: 2]
  import Ferrite.Commands.Shape

  @typedoc "Options of `set/4`."
  @type set_opt ::
          {:ex, pos_integer()}
          | {:px, pos_integer()}
          | {:exat, pos_integer()}
          | {:pxat, pos_integer()}
          | {:nx, boolean()}
          | {:xx, boolean()}
          | {:keepttl, boolean()}
          | {:get, boolean()}

  @doc "`GET key`: `{:ok, value}` or `{:ok, nil}` when the key does not exist."
  @spec get(Ferrite.conn(), Ferrite.key()) :: {:ok, binary() | nil} | Ferrite.error()
  # Embedded conns (a pid or name) take `Ferrite.get/2`'s direct NIF path.
  def get(conn, key) when is_pid(conn) or is_atom(conn), do: Ferrite.get(conn, key)
  def get(conn, key), do: command(conn, ["GET", key])

  @doc """
  `SET key value [EX s | PX ms | EXAT t | PXAT t | KEEPTTL] [NX | XX] [GET]`.

  Returns `:ok` when set; `{:ok, nil}` when `nx: true` / `xx: true` stopped
  it; with `get: true`, `{:ok, old_value}` (nil when there was none).
  """
  @spec set(Ferrite.conn(), Ferrite.key(), Ferrite.arg(), [set_opt()]) ::
          :ok | {:ok, binary() | nil} | Ferrite.error()
  def set(conn, key, value, opts \\ [])

  # As `get/2`: a plain SET on an embedded conn takes `Ferrite.set/3`.
  def set(conn, key, value, []) when is_pid(conn) or is_atom(conn),
    do: Ferrite.set(conn, key, value)

  def set(conn, key, value, opts) do
    ok_status(command(conn, ["SET", key, value | set_opts(opts)]))
  end

  defp set_opts([]), do: []
  defp set_opts([{:ex, s} | rest]), do: ["EX", s | set_opts(rest)]
  defp set_opts([{:px, ms} | rest]), do: ["PX", ms | set_opts(rest)]
  defp set_opts([{:exat, t} | rest]), do: ["EXAT", t | set_opts(rest)]
  defp set_opts([{:pxat, t} | rest]), do: ["PXAT", t | set_opts(rest)]

  defp set_opts([{flag, true} | rest]) when flag in [:nx, :xx, :keepttl, :get],
    do: [flag |> Atom.to_string() |> String.upcase() | set_opts(rest)]

  defp set_opts([{flag, false} | rest]) when flag in [:nx, :xx, :keepttl, :get],
    do: set_opts(rest)

  defp set_opts([opt | _]), do: raise(ArgumentError, "unknown SET option: #{inspect(opt)}")

  @doc "`SETNX key value`: `{:ok, 1}` when set, `{:ok, 0}` when the key existed."
  @spec setnx(Ferrite.conn(), Ferrite.key(), Ferrite.arg()) :: {:ok, 0 | 1} | Ferrite.error()
  def setnx(conn, key, value), do: command(conn, ["SETNX", key, value])

  @doc "`SETEX key seconds value`: `:ok`."
  @spec setex(Ferrite.conn(), Ferrite.key(), integer(), Ferrite.arg()) :: :ok | Ferrite.error()
  def setex(conn, key, seconds, value),
    do: ok_status(command(conn, ["SETEX", key, seconds, value]))

  @doc "`PSETEX key ms value`: `:ok`."
  @spec psetex(Ferrite.conn(), Ferrite.key(), integer(), Ferrite.arg()) :: :ok | Ferrite.error()
  def psetex(conn, key, ms, value), do: ok_status(command(conn, ["PSETEX", key, ms, value]))

  @doc "`GETSET key value`: `{:ok, old_value | nil}`."
  @spec getset(Ferrite.conn(), Ferrite.key(), Ferrite.arg()) ::
          {:ok, binary() | nil} | Ferrite.error()
  def getset(conn, key, value), do: command(conn, ["GETSET", key, value])

  @doc "`GETDEL key`: `{:ok, value | nil}`, deleting the key."
  @spec getdel(Ferrite.conn(), Ferrite.key()) :: {:ok, binary() | nil} | Ferrite.error()
  def getdel(conn, key), do: command(conn, ["GETDEL", key])

  @doc """
  `GETEX key [EX s | PX ms | EXAT t | PXAT t | PERSIST]`: `{:ok, value}`
  (or `{:ok, nil}`), changing the key's expiry as asked. Options: `ex:`,
  `px:`, `exat:`, `pxat:`, `persist: true`.
  """
  @spec getex(Ferrite.conn(), Ferrite.key(), keyword()) ::
          {:ok, binary() | nil} | Ferrite.error()
  def getex(conn, key, opts \\ []) do
    extra =
      Enum.flat_map(opts, fn
        {:ex, s} -> ["EX", s]
        {:px, ms} -> ["PX", ms]
        {:exat, t} -> ["EXAT", t]
        {:pxat, t} -> ["PXAT", t]
        {:persist, true} -> ["PERSIST"]
        {:persist, false} -> []
        other -> raise ArgumentError, "unknown GETEX option: #{inspect(other)}"
      end)

    command(conn, ["GETEX", key | extra])
  end

  @doc "`STRLEN key`: `{:ok, length}` (0 when missing)."
  @spec strlen(Ferrite.conn(), Ferrite.key()) :: {:ok, non_neg_integer()} | Ferrite.error()
  def strlen(conn, key), do: command(conn, ["STRLEN", key])

  @doc "`APPEND key value`: `{:ok, new_length}`."
  @spec append(Ferrite.conn(), Ferrite.key(), Ferrite.arg()) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def append(conn, key, value), do: command(conn, ["APPEND", key, value])

  @doc "`GETRANGE key start end`: `{:ok, substring}`."
  @spec getrange(Ferrite.conn(), Ferrite.key(), integer(), integer()) ::
          {:ok, binary()} | Ferrite.error()
  def getrange(conn, key, start, stop), do: command(conn, ["GETRANGE", key, start, stop])

  @doc "`SETRANGE key offset value`: `{:ok, new_length}`."
  @spec setrange(Ferrite.conn(), Ferrite.key(), non_neg_integer(), Ferrite.arg()) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def setrange(conn, key, offset, value), do: command(conn, ["SETRANGE", key, offset, value])

  @doc "`INCR key`: `{:ok, new_value}`."
  @spec incr(Ferrite.conn(), Ferrite.key()) :: {:ok, integer()} | Ferrite.error()
  def incr(conn, key), do: command(conn, ["INCR", key])

  @doc "`INCRBY key n`: `{:ok, new_value}`."
  @spec incrby(Ferrite.conn(), Ferrite.key(), integer()) :: {:ok, integer()} | Ferrite.error()
  def incrby(conn, key, n), do: command(conn, ["INCRBY", key, n])

  @doc "`INCRBYFLOAT key n`: `{:ok, new_value}` as a float."
  @spec incrbyfloat(Ferrite.conn(), Ferrite.key(), number() | binary()) ::
          {:ok, float()} | Ferrite.error()
  def incrbyfloat(conn, key, n), do: float(command(conn, ["INCRBYFLOAT", key, n]))

  @doc "`DECR key`: `{:ok, new_value}`."
  @spec decr(Ferrite.conn(), Ferrite.key()) :: {:ok, integer()} | Ferrite.error()
  def decr(conn, key), do: command(conn, ["DECR", key])

  @doc "`DECRBY key n`: `{:ok, new_value}`."
  @spec decrby(Ferrite.conn(), Ferrite.key(), integer()) :: {:ok, integer()} | Ferrite.error()
  def decrby(conn, key, n), do: command(conn, ["DECRBY", key, n])

  @doc "`MSET k1 v1 k2 v2 ...` from a list of `{key, value}` or a map: `:ok`."
  @spec mset(Ferrite.conn(), [{Ferrite.key(), Ferrite.arg()}] | map()) :: :ok | Ferrite.error()
  def mset(conn, pairs), do: ok_status(command(conn, ["MSET" | flatten_pairs(pairs)]))

  @doc "`MSETNX k1 v1 ...`: `{:ok, 1}` when all were set, `{:ok, 0}` when none."
  @spec msetnx(Ferrite.conn(), [{Ferrite.key(), Ferrite.arg()}] | map()) ::
          {:ok, 0 | 1} | Ferrite.error()
  def msetnx(conn, pairs), do: command(conn, ["MSETNX" | flatten_pairs(pairs)])

  @doc "`MGET k1 k2 ...`: `{:ok, values}`, nil for missing keys."
  @spec mget(Ferrite.conn(), [Ferrite.key()]) :: {:ok, [binary() | nil]} | Ferrite.error()
  def mget(conn, keys) when is_list(keys), do: command(conn, ["MGET" | keys])

  @doc false
  @spec flatten_pairs([{term(), term()}] | map()) :: list()
  def flatten_pairs(pairs) when is_map(pairs), do: pairs |> Map.to_list() |> flatten_pairs()
  def flatten_pairs(pairs) when is_list(pairs), do: Enum.flat_map(pairs, fn {k, v} -> [k, v] end)
end
