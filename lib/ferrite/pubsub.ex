defmodule Ferrite.PubSub do
  @moduledoc """
  Pub/sub subscribers, as processes.

  ## A subscriber module

      defmodule MyApp.EventSubscriber do
        use Ferrite.PubSub

        def start_link(opts), do: Ferrite.PubSub.start_link(__MODULE__, opts)

        @impl true
        def init(opts), do: {:ok, opts, subscribe: ["events"], psubscribe: ["news.*"]}

        @impl true
        def handle_message(channel, message, state), do: {:noreply, state}

        @impl true
        def handle_pmessage(pattern, channel, message, state), do: {:noreply, state}
      end

      children = [{MyApp.EventSubscriber, conn: MyApp.Ferrite}]

  `use Ferrite.PubSub` defines `child_spec/1`, so the module sits in a
  supervision tree. The process subscribes in its `init`, before
  `start_link` returns, so a message published after that is received.

  Options of `start_link/2` (the whole list is also given to `init/1`):

    * `conn:` an embedded conn (pid or name) whose engine to subscribe on;
    * otherwise the options start a conn of the subscriber's own with
      `Ferrite.start_link/1` (`embedded: [name: store]` joins a named
      store);
    * `name:` registers the subscriber.

  ## Delivery

  Each subscriber has its own engine session on the conn's engine; the
  engine sends it `{:ferrite_push, ["message", channel, payload]}` (and
  `["pmessage", pattern, channel, payload]`, and for Redis 7.0's sharded
  pub/sub `["smessage", shard_channel, payload]`) with `enif_send`, which
  never blocks the publisher. A subscriber that exits is dropped from every
  channel at once (its session is monitored), so nothing leaks.

  Callbacks return `{:noreply, state}` or `{:stop, reason, state}`. Other
  messages go to the optional `handle_info/2`; the optional
  `handle_subscription/2` receives `{:subscribe | :psubscribe |
  :unsubscribe | :punsubscribe | :ssubscribe | :sunsubscribe, name, count}`
  confirmations.

  ## Sharded pub/sub

  `init/1` may also return `ssubscribe: [shard_channel, ...]`, and
  `ssubscribe/2`, `sunsubscribe/2` and `spublish/3` mirror Redis 7.0's
  SSUBSCRIBE, SUNSUBSCRIBE and SPUBLISH. Messages on shard channels go to
  the optional `handle_smessage/3`. Shard channels are a namespace of their
  own: PUBLISH does not reach them and patterns never match them. The count
  in `:ssubscribe`/`:sunsubscribe` confirmations is the number of shard
  channels alone, as in Redis.
  """

  use GenServer

  alias Ferrite.Native

  @typedoc "A subscriber: its pid or registered name."
  @type subscriber :: GenServer.server()

  @typedoc "A subscription confirmation."
  @type confirmation ::
          {:subscribe | :psubscribe | :unsubscribe | :punsubscribe | :ssubscribe | :sunsubscribe,
           binary() | nil, non_neg_integer()}

  @doc "Starts: subscriptions to make, from `init/1`'s third element."
  @callback init(opts :: keyword()) ::
              {:ok, state :: term()}
              | {:ok, state :: term(),
                 [subscribe: [binary()], psubscribe: [binary()], ssubscribe: [binary()]]}
              | {:stop, reason :: term()}

  @doc "A message on a subscribed channel."
  @callback handle_message(channel :: binary(), message :: binary(), state :: term()) ::
              {:noreply, term()} | {:stop, term(), term()}

  @doc "A message on a channel matching a subscribed pattern."
  @callback handle_pmessage(
              pattern :: binary(),
              channel :: binary(),
              message :: binary(),
              state :: term()
            ) :: {:noreply, term()} | {:stop, term(), term()}

  @doc "A message on a subscribed shard channel (SSUBSCRIBE)."
  @callback handle_smessage(channel :: binary(), message :: binary(), state :: term()) ::
              {:noreply, term()} | {:stop, term(), term()}

  @doc "A (un)subscription confirmation."
  @callback handle_subscription(confirmation(), state :: term()) ::
              {:noreply, term()} | {:stop, term(), term()}

  @doc "Any other message."
  @callback handle_info(msg :: term(), state :: term()) ::
              {:noreply, term()} | {:stop, term(), term()}

  @optional_callbacks handle_pmessage: 4,
                      handle_smessage: 3,
                      handle_subscription: 2,
                      handle_info: 2

  defmacro __using__(_opts) do
    quote do
      @behaviour Ferrite.PubSub

      @doc false
      def child_spec(opts) do
        %{id: __MODULE__, start: {__MODULE__, :start_link, [opts]}, type: :worker}
      end

      defoverridable child_spec: 1
    end
  end

  @doc "Starts a subscriber process running `module`'s callbacks, linked."
  @spec start_link(module(), keyword()) :: GenServer.on_start()
  def start_link(module, opts) when is_atom(module) and is_list(opts) do
    case Keyword.get(opts, :name) do
      nil -> GenServer.start_link(__MODULE__, {module, opts, nil})
      name -> GenServer.start_link(__MODULE__, {module, opts, nil}, name: name)
    end
  end

  @doc "Subscribes `sub` to more channels: `:ok`."
  @spec subscribe(subscriber(), [binary()]) :: :ok | Ferrite.error()
  def subscribe(sub, channels), do: GenServer.call(sub, {:run, "SUBSCRIBE", channels})

  @doc "Subscribes `sub` to patterns: `:ok`."
  @spec psubscribe(subscriber(), [binary()]) :: :ok | Ferrite.error()
  def psubscribe(sub, patterns), do: GenServer.call(sub, {:run, "PSUBSCRIBE", patterns})

  @doc """
  Unsubscribes `sub` from `channels` (all when `[]`): `:ok`. A subscriber
  started by `Ferrite.subscribe/3` stops once it has no subscription left.
  """
  @spec unsubscribe(subscriber(), [binary()]) :: :ok | Ferrite.error()
  def unsubscribe(sub, channels), do: GenServer.call(sub, {:run, "UNSUBSCRIBE", channels})

  @doc "Unsubscribes `sub` from patterns (all when `[]`): `:ok`."
  @spec punsubscribe(subscriber(), [binary()]) :: :ok | Ferrite.error()
  def punsubscribe(sub, patterns), do: GenServer.call(sub, {:run, "PUNSUBSCRIBE", patterns})

  @doc "Subscribes `sub` to shard channels (SSUBSCRIBE): `:ok`."
  @spec ssubscribe(subscriber(), [binary()]) :: :ok | Ferrite.error()
  def ssubscribe(sub, channels), do: GenServer.call(sub, {:run, "SSUBSCRIBE", channels})

  @doc "Unsubscribes `sub` from shard channels (all when `[]`): `:ok`."
  @spec sunsubscribe(subscriber(), [binary()]) :: :ok | Ferrite.error()
  def sunsubscribe(sub, channels), do: GenServer.call(sub, {:run, "SUNSUBSCRIBE", channels})

  @doc "`SPUBLISH shard_channel message`: `{:ok, receivers}`."
  @spec spublish(Ferrite.conn(), Ferrite.arg(), Ferrite.arg()) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def spublish(conn, channel, message),
    do: Ferrite.command(conn, ["SPUBLISH", channel, message])

  @doc "`PUBLISH channel message`: `{:ok, receivers}`."
  @spec publish(Ferrite.conn(), Ferrite.arg(), Ferrite.arg()) ::
          {:ok, non_neg_integer()} | Ferrite.error()
  def publish(conn, channel, message), do: Ferrite.command(conn, ["PUBLISH", channel, message])

  @doc """
  Subscribes to `channels` on `conn` with a callback, and returns
  `{:ok, sub}`. `callback` runs in the subscriber process with
  `{:subscribe, channel, count}`, `{:message, channel, message}`, and
  `{:unsubscribe, channel, count}`. The subscriber stops when the caller
  exits or `Ferrite.unsubscribe/2` leaves it without subscriptions.
  """
  @spec subscribe(Ferrite.conn(), [binary()], (tuple() -> any())) ::
          {:ok, pid()} | {:error, term()}
  def subscribe(conn, channels, callback) when is_list(channels) and is_function(callback, 1) do
    opts = [conn: conn, callback: callback, channels: channels]
    GenServer.start(__MODULE__, {Ferrite.PubSub.Callback, opts, self()})
  end

  # The process.

  @impl true
  def init({module, opts, watcher}) do
    if watcher, do: Process.monitor(watcher)

    with {:ok, conn} <- connect(opts),
         {:ok, side} <- open_session(conn) do
      case module.init(opts) do
        {:ok, state} ->
          {:ok, %{module: module, state: state, side: side}}

        {:ok, state, subs} ->
          s = %{module: module, state: state, side: side}

          Enum.reduce_while(subs, {:ok, s}, fn {kind, names}, {:ok, s} ->
            case run(s, kind_command(kind), names) do
              {:ok, s} -> {:cont, {:ok, s}}
              {:stop, reason, _} -> {:halt, {:stop, reason}}
              {:error, e} -> {:halt, {:stop, e}}
            end
          end)

        {:stop, reason} ->
          {:stop, reason}
      end
    else
      {:error, e} -> {:stop, e}
    end
  end

  defp kind_command(:subscribe), do: "SUBSCRIBE"
  defp kind_command(:psubscribe), do: "PSUBSCRIBE"
  defp kind_command(:ssubscribe), do: "SSUBSCRIBE"

  defp kind_atom("subscribe"), do: :subscribe
  defp kind_atom("unsubscribe"), do: :unsubscribe
  defp kind_atom("psubscribe"), do: :psubscribe
  defp kind_atom("punsubscribe"), do: :punsubscribe
  defp kind_atom("ssubscribe"), do: :ssubscribe
  defp kind_atom("sunsubscribe"), do: :sunsubscribe

  defp connect(opts) do
    case Keyword.fetch(opts, :conn) do
      {:ok, conn} -> {:ok, conn}
      :error -> Ferrite.start_link(Keyword.drop(opts, [:name]))
    end
  end

  defp open_session(conn) do
    case Native.open_session(conn) do
      {:ok, ref} ->
        {:ok, ref}

      {:error, _} = err ->
        err

      # A remote conn: a dedicated connection owned by this process, which
      # sends it the same {:ferrite_push, ...} messages.
      :noconn ->
        Ferrite.Remote.open_session(conn)

      _ ->
        {:error, %Ferrite.ConnectionError{message: "pub/sub needs an open conn"}}
    end
  end

  # Runs (P)(UN)SUBSCRIBE and hands each confirmation to the module.
  defp run(s, cmd, names) do
    case Ferrite.command(s.side, [cmd | names]) do
      {:ok, confirmations} ->
        Enum.reduce_while(confirmations, {:ok, s}, fn [kind, name, count], {:ok, s} ->
          event = {kind_atom(kind), name, count}

          case callback(s, :handle_subscription, [event]) do
            {:ok, s} -> {:cont, {:ok, s}}
            stop -> {:halt, stop}
          end
        end)

      {:error, _} = err ->
        err
    end
  end

  defp callback(%{module: m, state: st} = s, fun, args) do
    if function_exported?(m, fun, length(args) + 1) do
      case apply(m, fun, args ++ [st]) do
        {:noreply, st} -> {:ok, %{s | state: st}}
        {:stop, reason, st} -> {:stop, reason, %{s | state: st}}
      end
    else
      {:ok, s}
    end
  end

  @impl true
  def handle_call({:run, cmd, names}, _from, s) do
    case run(s, cmd, names) do
      {:ok, s} -> maybe_done(s)
      {:stop, reason, s} -> {:stop, reason, :ok, s}
      {:error, _} = err -> {:reply, err, s}
    end
  end

  # A callback subscriber (Ferrite.subscribe/3) ends with its last channel.
  defp maybe_done(%{module: Ferrite.PubSub.Callback} = s) do
    if Ferrite.PubSub.Callback.done?(s.state),
      do: {:stop, :normal, :ok, s},
      else: {:reply, :ok, s}
  end

  defp maybe_done(s), do: {:reply, :ok, s}

  @impl true
  def handle_info({:ferrite_push, ["message", channel, message]}, s) do
    reply(callback(s, :handle_message, [channel, message]))
  end

  def handle_info({:ferrite_push, ["pmessage", pattern, channel, message]}, s) do
    reply(callback(s, :handle_pmessage, [pattern, channel, message]))
  end

  def handle_info({:ferrite_push, ["smessage", channel, message]}, s) do
    reply(callback(s, :handle_smessage, [channel, message]))
  end

  def handle_info({:DOWN, _ref, :process, _pid, _reason}, %{module: Ferrite.PubSub.Callback} = s) do
    {:stop, :normal, s}
  end

  def handle_info(msg, s), do: reply(callback(s, :handle_info, [msg]))

  defp reply({:ok, s}), do: {:noreply, s}
  defp reply({:stop, reason, s}), do: {:stop, reason, s}

  @impl true
  def terminate(_reason, %{side: side}) when is_pid(side), do: Ferrite.stop(side)
  def terminate(_reason, %{side: side}), do: Native.close(side)
  def terminate(_reason, _s), do: :ok
end

defmodule Ferrite.PubSub.Callback do
  @moduledoc false
  # The subscriber behind `Ferrite.subscribe/3`: forwards everything to a
  # callback and counts its subscriptions (channels and patterns in
  # `count`, shard channels in `shard`, as the confirmations count them).
  @behaviour Ferrite.PubSub

  @impl true
  def init(opts) do
    {:ok, %{callback: Keyword.fetch!(opts, :callback), count: 0, shard: 0},
     subscribe: Keyword.fetch!(opts, :channels)}
  end

  @impl true
  def handle_message(channel, message, s) do
    s.callback.({:message, channel, message})
    {:noreply, s}
  end

  @impl true
  def handle_pmessage(pattern, channel, message, s) do
    s.callback.({:pmessage, pattern, channel, message})
    {:noreply, s}
  end

  @impl true
  def handle_smessage(channel, message, s) do
    s.callback.({:smessage, channel, message})
    {:noreply, s}
  end

  @impl true
  def handle_subscription({kind, _name, count} = event, s) do
    s.callback.(event)

    case kind do
      k when k in [:ssubscribe, :sunsubscribe] -> {:noreply, %{s | shard: count}}
      _ -> {:noreply, %{s | count: count}}
    end
  end

  @doc false
  def done?(s), do: s.count == 0 and s.shard == 0
end
