defmodule Ferrite.Native do
  @moduledoc """
  The NIF stubs (crate `nif/`). Internal: use `Ferrite` instead.

  `conn` is a conn's pid, its registered name, or its `conn_ref`. Replies are
  `{:ok, term}`, `{:error, %Ferrite.ResponseError{}}` or
  `{:blocked, token, waiter}` (a pipeline: `{:blocked_pipeline, replies}`),
  or one of the markers `:dirty`, `:dirty_io`, `:convert`, `:noconn` and `:closed` that
  `Ferrite.Embedded` handles. See `nif/src/lib.rs` for the scheduling rule.
  """
  @on_load :load_nif
  @compile {:autoload, false}

  @doc false
  @spec load_nif() :: :ok | {:error, term()}
  def load_nif do
    path = :filename.join(:code.priv_dir(:ferrite), ~c"native/libferrite_nif")
    :erlang.load_nif(path, 0)
  end

  @doc "Opens a conn owned by `owner` on a private engine (`store` nil) or a named store."
  @spec open(pid(), nil | binary(), non_neg_integer()) :: {:ok, reference()} | {:error, term()}
  def open(_owner, _store, _db), do: :erlang.nif_error(:nif_not_loaded)

  @doc """
  Opens a side session on `conn`'s engine, owned by the calling process
  (its own MULTI/WATCH and subscription state; closed when the caller exits).
  """
  @spec open_session(term()) :: {:ok, reference()} | {:error, term()} | :noconn | :closed
  def open_session(_conn), do: :erlang.nif_error(:nif_not_loaded)

  @doc "Closes a conn (idempotent)."
  @spec close(term()) :: :ok
  def close(_conn), do: :erlang.nif_error(:nif_not_loaded)

  @doc "Runs one command on a normal scheduler, or returns a marker."
  @spec command(term(), [binary()]) :: term()
  def command(_conn, _argv), do: :erlang.nif_error(:nif_not_loaded)

  @doc "Runs one command on a dirty CPU scheduler."
  @spec command_dirty(term(), [binary()]) :: term()
  def command_dirty(_conn, _argv), do: :erlang.nif_error(:nif_not_loaded)

  @doc """
  `GET key` on a normal scheduler without building an argument list:
  returns what `command/2` would, markers included.
  """
  @spec get(term(), binary()) :: term()
  def get(_conn, _key), do: :erlang.nif_error(:nif_not_loaded)

  @doc """
  `SET key value` on a normal scheduler without building an argument list:
  `:ok` for the `OK` status, otherwise what `command/2` would return.
  """
  @spec set(term(), binary(), binary()) :: term()
  def set(_conn, _key, _value), do: :erlang.nif_error(:nif_not_loaded)

  @doc "Runs a pipeline on a normal scheduler, or returns a marker."
  @spec pipeline(term(), [[binary()]]) :: term()
  def pipeline(_conn, _cmds), do: :erlang.nif_error(:nif_not_loaded)

  @doc "Runs a pipeline on a dirty CPU scheduler."
  @spec pipeline_dirty(term(), [[binary()]]) :: term()
  def pipeline_dirty(_conn, _cmds), do: :erlang.nif_error(:nif_not_loaded)

  @doc """
  Opens a conn on an engine built with options (dirty IO scheduler): durable
  in `path`, or in memory when `path` is nil. `rewrite` is
  `{min_size, percentage}`; `config` holds CONFIG SET pairs.
  """
  @spec open_with(
          pid(),
          nil | binary(),
          non_neg_integer(),
          nil | binary(),
          binary(),
          boolean(),
          {non_neg_integer(), non_neg_integer()},
          [{binary(), binary()}]
        ) :: {:ok, reference(), [binary()]} | {:error, tuple()}
  def open_with(_owner, _store, _db, _path, _appendfsync, _repair, _rewrite, _config),
    do: :erlang.nif_error(:nif_not_loaded)

  @doc "Closes a conn on a dirty IO scheduler (durable engines flush on close)."
  @spec close_dirty(term()) :: :ok
  def close_dirty(_conn), do: :erlang.nif_error(:nif_not_loaded)

  @doc "Runs one command on a dirty IO scheduler (writes that fsync)."
  @spec command_dirty_io(term(), [binary()]) :: term()
  def command_dirty_io(_conn, _argv), do: :erlang.nif_error(:nif_not_loaded)

  @doc "Runs a pipeline on a dirty IO scheduler (writes that fsync)."
  @spec pipeline_dirty_io(term(), [[binary()]]) :: term()
  def pipeline_dirty_io(_conn, _cmds), do: :erlang.nif_error(:nif_not_loaded)

  @doc "Moves the conn's engine clock forward by `ms` milliseconds."
  @spec fast_forward(term(), integer()) :: :ok | :closed | :noconn
  def fast_forward(_conn, _ms), do: :erlang.nif_error(:nif_not_loaded)

  @doc """
  Gives up a blocked call: true when its waiter was removed (no reply will
  come), false when the reply was already sent to the caller.
  """
  @spec unblock(reference()) :: boolean()
  def unblock(_waiter), do: :erlang.nif_error(:nif_not_loaded)

  @doc "Number of open conns on the named store `name`."
  @spec store_conns(binary()) :: non_neg_integer()
  def store_conns(_name), do: :erlang.nif_error(:nif_not_loaded)

  @doc "Serves the engine of the conn owned by `owner` over RESP on `bind:port`."
  @spec listen(pid(), binary(), non_neg_integer()) :: {:ok, pos_integer()} | {:error, binary()}
  def listen(_owner, _bind, _port), do: :erlang.nif_error(:nif_not_loaded)

  @doc "Stops the RESP listener bound to `port`."
  @spec unlisten(non_neg_integer()) :: :ok | {:error, binary()}
  def unlisten(_port), do: :erlang.nif_error(:nif_not_loaded)
end
