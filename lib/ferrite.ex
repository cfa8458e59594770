defmodule Ferrite do
  @moduledoc """
  Ferrite: a Redis-compatible engine, embedded in the BEAM or remote.

      {:ok, conn} = Ferrite.start_link(embedded: true)
      :ok = Ferrite.set(conn, "greeting", "hello")
      {:ok, "hello"} = Ferrite.get(conn, "greeting")
      {:ok, ["OK", "hello"]} = Ferrite.pipeline(conn, [["SET", "a", 1], ["GET", "greeting"]])

  ## Backends

  `start_link(embedded: ...)` runs the engine in this VM (`Ferrite.Embedded`);
  `start_link(host: ..., port: ...)` talks RESP to a server
  (`Ferrite.Remote`). Every other function is the same for both: typed
  functions build an argument vector and call `command/2`, which dispatches
  on the conn.

  ## Return shapes

  * `command/2` and `pipeline/2` return the server's replies unchanged, in
    RESP2 shapes: status replies such as `"OK"` are binaries, nil is `nil`.
  * Typed functions follow one rule: a reply that is the status `OK`
    becomes `:ok`; any other reply `r` becomes `{:ok, r}`. So
    `set/4` returns `:ok`, or `{:ok, nil}` when `nx:`/`xx:` stopped it, or
    `{:ok, old}` with `get: true`.
  * Errors are `{:error, exception}`: `Ferrite.ResponseError` for an error
    reply (Redis's text), `Ferrite.ConnectionError` for a closed or unknown
    conn, `Ferrite.TimeoutError` when a call times out.

  ## Arguments

  Arguments may be binaries, integers, floats, atoms or iodata; they are
  sent as binaries (`Ferrite.Args`).
  """

  alias Ferrite.{Commands, Embedded, Native}

  @typedoc "A conn: the pid `start_link/1` returned, or its registered name."
  @type conn :: pid() | atom()

  @typedoc "A command argument (see `Ferrite.Args`)."
  @type arg :: Ferrite.Args.arg()

  @typedoc "A key."
  @type key :: binary() | atom() | integer()

  @typedoc "The error half of every result."
  @type error ::
          {:error,
           Ferrite.ResponseError.t() | Ferrite.ConnectionError.t() | Ferrite.TimeoutError.t()}

  @doc """
  Starts a conn and returns `{:ok, pid}`.

  * `embedded: true` or `embedded: [name: store]`: the embedded engine (see
    `Ferrite.Embedded`).
  * otherwise a remote conn (`host:`, `port:`, ...; see `Ferrite.Remote`).

  Common options: `name:` registers the conn, `database:` selects the db.
  """
  @spec start_link(keyword()) :: GenServer.on_start()
  def start_link(opts \\ []) when is_list(opts) do
    if Keyword.has_key?(opts, :embedded) and opts[:embedded] not in [nil, false] do
      Embedded.start_link(opts)
    else
      Ferrite.Remote.start_link(opts)
    end
  end

  @doc "A child spec, so that a conn can sit in a supervision tree."
  @spec child_spec(keyword()) :: Supervisor.child_spec()
  def child_spec(opts) do
    %{
      id: Keyword.get(opts, :name, __MODULE__),
      start: {__MODULE__, :start_link, [opts]},
      type: :worker
    }
  end

  @doc "Stops a conn. An embedded private database is freed with it."
  @spec stop(conn(), term(), timeout()) :: :ok
  def stop(conn, reason \\ :normal, timeout \\ :infinity) do
    GenServer.stop(conn, reason, timeout)
  end

  @doc """
  Runs one command, given as a list of arguments, and returns the reply
  unchanged: `{:ok, reply}` or `{:error, exception}`.

      {:ok, "OK"} = Ferrite.command(conn, ["SET", "k", "v"])
      {:ok, "v"} = Ferrite.command(conn, ["GET", "k"])
  """
  @spec command(conn(), [arg()]) :: {:ok, term()} | error()
  def command(%{__struct__: Ferrite.Tx.Stage} = stage, argv),
    do: Ferrite.Tx.Stage.command(stage, argv)

  def command(conn, argv) do
    case Native.command(conn, argv) do
      {:ok, _} = ok -> ok
      {:error, _} = err -> err
      other -> Embedded.continue_command(other, conn, argv)
    end
  end

  @doc "Like `command/2`, but returns the reply or raises the error."
  @spec command!(conn(), [arg()]) :: term()
  def command!(conn, argv) do
    case command(conn, argv) do
      {:ok, reply} -> reply
      {:error, e} -> raise e
    end
  end

  @doc """
  Runs several commands in one call and returns `{:ok, replies}`, one reply
  per command, in order. An error reply appears in the list as a
  `Ferrite.ResponseError` struct; the pipeline goes on after it.
  """
  @spec pipeline(conn(), [[arg()]]) :: {:ok, [term()]} | error()
  def pipeline(conn, cmds) do
    case Native.pipeline(conn, cmds) do
      {:ok, _} = ok -> ok
      other -> Embedded.continue_pipeline(other, conn, cmds)
    end
  end

  @doc "Like `pipeline/2`, but returns the replies or raises."
  @spec pipeline!(conn(), [[arg()]]) :: [term()]
  def pipeline!(conn, cmds) do
    case pipeline(conn, cmds) do
      {:ok, replies} -> replies
      {:error, e} -> raise e
    end
  end

  # Transactions (see Ferrite.Tx)
  defdelegate multi(conn, fun), to: Ferrite.Tx
  defdelegate watch(conn, keys, fun), to: Ferrite.Tx
  defdelegate unwatch(conn), to: Ferrite.Tx

  # Pub/sub (see Ferrite.PubSub)
  defdelegate publish(conn, channel, message), to: Ferrite.PubSub
  defdelegate spublish(conn, channel, message), to: Ferrite.PubSub
  defdelegate subscribe(conn, channels, callback), to: Ferrite.PubSub
  defdelegate unsubscribe(sub, channels), to: Ferrite.PubSub

  # Strings

  # GET and plain SET on an embedded conn (a pid or name) call the NIF's
  # own entry points directly: one match and one NIF call. Anything but a
  # plain result (a remote conn, a non-binary argument, a busy lock...)
  # comes back as a marker and takes the general path.

  @doc "`GET key`: `{:ok, value}` or `{:ok, nil}`. See `Ferrite.Commands.Strings.get/2`."
  @spec get(conn(), key()) :: {:ok, binary() | nil} | error()
  def get(conn, key) when is_pid(conn) or is_atom(conn) do
    case Native.get(conn, key) do
      {:ok, _} = ok -> ok
      {:error, _} = err -> err
      _marker -> command(conn, ["GET", key])
    end
  end

  def get(conn, key), do: Commands.Strings.get(conn, key)

  @doc """
  `SET key value [options]`: `:ok`, or `{:ok, nil}` / `{:ok, old}` as
  options decide. See `Ferrite.Commands.Strings.set/4`.
  """
  @spec set(conn(), key(), arg(), [Commands.Strings.set_opt()]) ::
          :ok | {:ok, binary() | nil} | error()
  def set(conn, key, value, opts \\ [])

  def set(conn, key, value, []) when is_pid(conn) or is_atom(conn) do
    case Native.set(conn, key, value) do
      :ok -> :ok
      {:ok, _} = ok -> Commands.Shape.ok_status(ok)
      {:error, _} = err -> err
      _marker -> Commands.Shape.ok_status(command(conn, ["SET", key, value]))
    end
  end

  def set(conn, key, value, opts), do: Commands.Strings.set(conn, key, value, opts)
  defdelegate setnx(conn, key, value), to: Commands.Strings
  defdelegate setex(conn, key, seconds, value), to: Commands.Strings
  defdelegate psetex(conn, key, ms, value), to: Commands.Strings
  defdelegate getset(conn, key, value), to: Commands.Strings
  defdelegate getdel(conn, key), to: Commands.Strings
  defdelegate getex(conn, key, opts \\ []), to: Commands.Strings
  defdelegate strlen(conn, key), to: Commands.Strings
  defdelegate append(conn, key, value), to: Commands.Strings
  defdelegate getrange(conn, key, start, stop), to: Commands.Strings
  defdelegate setrange(conn, key, offset, value), to: Commands.Strings
  defdelegate incr(conn, key), to: Commands.Strings
  defdelegate incrby(conn, key, n), to: Commands.Strings
  defdelegate incrbyfloat(conn, key, n), to: Commands.Strings
  defdelegate decr(conn, key), to: Commands.Strings
  defdelegate decrby(conn, key, n), to: Commands.Strings
  defdelegate mset(conn, pairs), to: Commands.Strings
  defdelegate msetnx(conn, pairs), to: Commands.Strings
  defdelegate mget(conn, keys), to: Commands.Strings

  # Keys
  defdelegate del(conn, keys), to: Commands.Keys
  defdelegate exists(conn, keys), to: Commands.Keys
  defdelegate expire(conn, key, seconds, opts \\ []), to: Commands.Keys
  defdelegate pexpire(conn, key, ms, opts \\ []), to: Commands.Keys
  defdelegate expireat(conn, key, unix_seconds, opts \\ []), to: Commands.Keys
  defdelegate rename(conn, key, newkey), to: Commands.Keys
  defdelegate renamenx(conn, key, newkey), to: Commands.Keys
  defdelegate unlink(conn, keys), to: Commands.Keys
  defdelegate copy(conn, source, destination, opts \\ []), to: Commands.Keys
  defdelegate scan(conn, cursor, opts \\ []), to: Commands.Keys
  defdelegate ttl(conn, key), to: Commands.Keys
  defdelegate pttl(conn, key), to: Commands.Keys
  defdelegate persist(conn, key), to: Commands.Keys
  defdelegate type(conn, key), to: Commands.Keys
  defdelegate keys(conn, pattern \\ "*"), to: Commands.Keys
  defdelegate flushdb(conn), to: Commands.Keys
  defdelegate dbsize(conn), to: Commands.Keys

  # Lists
  defdelegate lpush(conn, key, values), to: Commands.Lists
  defdelegate rpush(conn, key, values), to: Commands.Lists
  defdelegate lpop(conn, key), to: Commands.Lists
  defdelegate lpop(conn, key, count), to: Commands.Lists
  defdelegate rpop(conn, key), to: Commands.Lists
  defdelegate rpop(conn, key, count), to: Commands.Lists
  defdelegate blpop(conn, keys, timeout), to: Commands.Lists
  defdelegate brpop(conn, keys, timeout), to: Commands.Lists
  defdelegate lrange(conn, key, start, stop), to: Commands.Lists
  defdelegate ltrim(conn, key, start, stop), to: Commands.Lists
  defdelegate llen(conn, key), to: Commands.Lists
  defdelegate lindex(conn, key, index), to: Commands.Lists
  defdelegate lmove(conn, source, destination, from, to), to: Commands.Lists
  defdelegate blmove(conn, source, destination, from, to, timeout), to: Commands.Lists
  defdelegate rpoplpush(conn, source, destination), to: Commands.Lists
  defdelegate lpushx(conn, key, values), to: Commands.Lists
  defdelegate rpushx(conn, key, values), to: Commands.Lists
  defdelegate lset(conn, key, index, value), to: Commands.Lists
  defdelegate linsert(conn, key, where, pivot, value), to: Commands.Lists
  defdelegate lrem(conn, key, count, value), to: Commands.Lists
  defdelegate lpos(conn, key, element, opts \\ []), to: Commands.Lists

  # Hashes
  defdelegate hset(conn, key, pairs), to: Commands.Hashes
  defdelegate hset(conn, key, field, value), to: Commands.Hashes
  defdelegate hget(conn, key, field), to: Commands.Hashes
  defdelegate hmget(conn, key, fields), to: Commands.Hashes
  defdelegate hgetall(conn, key), to: Commands.Hashes
  defdelegate hdel(conn, key, fields), to: Commands.Hashes
  defdelegate hincrby(conn, key, field, n), to: Commands.Hashes
  defdelegate hkeys(conn, key), to: Commands.Hashes
  defdelegate hvals(conn, key), to: Commands.Hashes
  defdelegate hlen(conn, key), to: Commands.Hashes
  defdelegate hexists(conn, key, field), to: Commands.Hashes
  defdelegate hsetnx(conn, key, field, value), to: Commands.Hashes
  defdelegate hincrbyfloat(conn, key, field, n), to: Commands.Hashes
  defdelegate hstrlen(conn, key, field), to: Commands.Hashes
  defdelegate hrandfield(conn, key), to: Commands.Hashes
  defdelegate hrandfield(conn, key, count, opts \\ []), to: Commands.Hashes
  defdelegate hscan(conn, key, cursor, opts \\ []), to: Commands.Hashes

  # Sets
  defdelegate sadd(conn, key, members), to: Commands.Sets
  defdelegate srem(conn, key, members), to: Commands.Sets
  defdelegate smembers(conn, key), to: Commands.Sets
  defdelegate sismember(conn, key, member), to: Commands.Sets
  defdelegate scard(conn, key), to: Commands.Sets
  defdelegate sinter(conn, keys), to: Commands.Sets
  defdelegate sunion(conn, keys), to: Commands.Sets
  defdelegate sdiff(conn, keys), to: Commands.Sets
  defdelegate srandmember(conn, key), to: Commands.Sets
  defdelegate srandmember(conn, key, count), to: Commands.Sets
  defdelegate spop(conn, key), to: Commands.Sets
  defdelegate spop(conn, key, count), to: Commands.Sets
  defdelegate smove(conn, source, destination, member), to: Commands.Sets
  defdelegate smismember(conn, key, members), to: Commands.Sets
  defdelegate sinterstore(conn, destination, keys), to: Commands.Sets
  defdelegate sunionstore(conn, destination, keys), to: Commands.Sets
  defdelegate sdiffstore(conn, destination, keys), to: Commands.Sets
  defdelegate sintercard(conn, keys, opts \\ []), to: Commands.Sets
  defdelegate sscan(conn, key, cursor, opts \\ []), to: Commands.Sets

  # Sorted sets
  defdelegate zadd(conn, key, members, opts \\ []), to: Commands.SortedSets
  defdelegate zrem(conn, key, members), to: Commands.SortedSets
  defdelegate zscore(conn, key, member), to: Commands.SortedSets
  defdelegate zincrby(conn, key, increment, member), to: Commands.SortedSets
  defdelegate zrank(conn, key, member), to: Commands.SortedSets
  defdelegate zrevrank(conn, key, member), to: Commands.SortedSets
  defdelegate zcard(conn, key), to: Commands.SortedSets
  defdelegate zcount(conn, key, min, max), to: Commands.SortedSets
  defdelegate zrange(conn, key, start, stop, opts \\ []), to: Commands.SortedSets
  defdelegate zrevrange(conn, key, start, stop, opts \\ []), to: Commands.SortedSets
  defdelegate zrangebyscore(conn, key, min, max, opts \\ []), to: Commands.SortedSets
  defdelegate zrevrangebyscore(conn, key, max, min, opts \\ []), to: Commands.SortedSets
  defdelegate zrangebylex(conn, key, min, max, opts \\ []), to: Commands.SortedSets
  defdelegate zremrangebyrank(conn, key, start, stop), to: Commands.SortedSets
  defdelegate zremrangebyscore(conn, key, min, max), to: Commands.SortedSets
  defdelegate zpopmin(conn, key), to: Commands.SortedSets
  defdelegate zpopmin(conn, key, count), to: Commands.SortedSets
  defdelegate zpopmax(conn, key), to: Commands.SortedSets
  defdelegate zpopmax(conn, key, count), to: Commands.SortedSets
  defdelegate zmscore(conn, key, members), to: Commands.SortedSets
  defdelegate zunionstore(conn, destination, keys, opts \\ []), to: Commands.SortedSets
  defdelegate zinterstore(conn, destination, keys, opts \\ []), to: Commands.SortedSets
  defdelegate zscan(conn, key, cursor, opts \\ []), to: Commands.SortedSets

  # Streams
  defdelegate xadd(conn, key, id, fields, opts \\ []), to: Commands.Streams
  defdelegate xrange(conn, key, start \\ "-", stop \\ "+", opts \\ []), to: Commands.Streams
  defdelegate xlen(conn, key), to: Commands.Streams
  defdelegate xread(conn, opts), to: Commands.Streams
  defdelegate xreadgroup(conn, group, consumer, opts), to: Commands.Streams
  defdelegate xgroup(conn, sub, key, group, arg \\ nil, opts \\ []), to: Commands.Streams
  defdelegate xack(conn, key, group, ids), to: Commands.Streams
  defdelegate xpending(conn, key, group, opts \\ []), to: Commands.Streams
  defdelegate xrevrange(conn, key, stop \\ "+", start \\ "-", opts \\ []), to: Commands.Streams
  defdelegate xdel(conn, key, ids), to: Commands.Streams
  defdelegate xtrim(conn, key, opts), to: Commands.Streams
  defdelegate xsetid(conn, key, id, opts \\ []), to: Commands.Streams
  defdelegate xinfo_stream(conn, key), to: Commands.Streams

  defdelegate xclaim(conn, key, group, consumer, min_idle_ms, ids, opts \\ []),
    to: Commands.Streams

  defdelegate xautoclaim(conn, key, group, consumer, min_idle_ms, start, opts \\ []),
    to: Commands.Streams

  # Scripting
  defdelegate script_load(conn, script), to: Commands.Scripting
  defdelegate evalsha(conn, sha, keys \\ [], args \\ []), to: Commands.Scripting
  defdelegate eval(conn, script, keys \\ [], args \\ []), to: Commands.Scripting
end
