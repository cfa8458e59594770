defmodule Ferrite.Remote.Options do
  @moduledoc """
  The remote backend's options: defaults, validation and `url:` parsing.

  | option            | default       | meaning                                         |
  |-------------------|---------------|-------------------------------------------------|
  | `host:`           | `"localhost"` | server host name or address                     |
  | `port:`           | `6380`        | server port                                     |
  | `username:`       | `nil`         | ACL user for `AUTH user password`               |
  | `password:`       | `nil`         | sent with `AUTH` on every (re)connect           |
  | `database:`       | `0`           | selected with `SELECT` on every (re)connect     |
  | `url:`            | `nil`         | `ferrite://user:pass@host:port/db`; overrides the above |
  | `timeout:`        | `5_000`       | ms a call may take (blocking commands add their own timeout) |
  | `connect_timeout:`| `5_000`       | ms for TCP/TLS connect and the AUTH/SELECT handshake |
  | `socket_opts:`    | `[]`          | extra `:gen_tcp` (or `:ssl`) options            |
  | `ssl:`            | `false`       | TLS through `:ssl`                              |
  | `ssl_opts:`       | `[]`          | `:ssl.connect/4` options                        |
  | `backoff_initial:`| `500`         | ms before the first reconnection attempt        |
  | `backoff_max:`    | `30_000`      | ceiling of the doubling backoff                 |
  | `sync_connect:`   | `true`        | `start_link` returns only once connected        |
  | `name:`           | `nil`         | registers the conn process                      |

  URL schemes: `ferrite://`, `redis://` (plain TCP), `ferrites://`,
  `rediss://` (TLS). The user info is `user:password`, `:password`
  (password only) or `user` (user only); both are percent-decoded. The path
  `/3` selects database 3.
  """

  alias Ferrite.ConnectionError

  @defaults [
    host: "localhost",
    port: 6380,
    username: nil,
    password: nil,
    database: 0,
    timeout: 5_000,
    connect_timeout: 5_000,
    socket_opts: [],
    ssl: false,
    ssl_opts: [],
    backoff_initial: 500,
    backoff_max: 30_000,
    sync_connect: true,
    name: nil
  ]

  @typedoc "Validated options, as a map."
  @type t :: %{
          host: binary(),
          port: :inet.port_number(),
          username: binary() | nil,
          password: binary() | nil,
          database: non_neg_integer(),
          timeout: timeout(),
          connect_timeout: timeout(),
          socket_opts: keyword(),
          ssl: boolean(),
          ssl_opts: keyword(),
          backoff_initial: pos_integer(),
          backoff_max: pos_integer(),
          sync_connect: boolean(),
          name: GenServer.name() | nil
        }

  @doc "The defaults, as a keyword list."
  @spec defaults() :: keyword()
  def defaults, do: @defaults

  @doc """
  Validates `opts` (unknown keys are ignored, so that callers may pass
  their own options through) and returns `{:ok, map}` or
  `{:error, %Ferrite.ConnectionError{}}`.
  """
  @spec validate(keyword()) :: {:ok, t()} | {:error, ConnectionError.t()}
  def validate(opts) when is_list(opts) do
    given = Keyword.take(opts, Keyword.keys(@defaults))

    with {:ok, from_url} <- url(Keyword.get(opts, :url)) do
      map = @defaults |> Keyword.merge(given) |> Keyword.merge(from_url) |> Map.new()
      check(map)
    end
  end

  defp check(m) do
    cond do
      not (is_binary(m.host) or is_list(m.host) or is_tuple(m.host)) ->
        bad(:host, m.host)

      not (is_integer(m.port) and m.port in 0..65_535) ->
        bad(:port, m.port)

      not (is_integer(m.database) and m.database >= 0) ->
        bad(:database, m.database)

      not (is_nil(m.password) or is_binary(m.password)) ->
        bad(:password, m.password)

      not (is_nil(m.username) or is_binary(m.username)) ->
        bad(:username, m.username)

      not timeout?(m.timeout) ->
        bad(:timeout, m.timeout)

      not timeout?(m.connect_timeout) ->
        bad(:connect_timeout, m.connect_timeout)

      not is_boolean(m.ssl) ->
        bad(:ssl, m.ssl)

      not (is_list(m.ssl_opts) and is_list(m.socket_opts)) ->
        bad(:socket_opts, {m.socket_opts, m.ssl_opts})

      not (is_integer(m.backoff_initial) and m.backoff_initial > 0) ->
        bad(:backoff_initial, m.backoff_initial)

      not (is_integer(m.backoff_max) and m.backoff_max >= m.backoff_initial) ->
        bad(:backoff_max, m.backoff_max)

      not is_boolean(m.sync_connect) ->
        bad(:sync_connect, m.sync_connect)

      true ->
        {:ok, %{m | host: host(m.host)}}
    end
  end

  defp timeout?(t), do: t == :infinity or (is_integer(t) and t > 0)

  defp host(h) when is_list(h), do: List.to_string(h)
  defp host(h), do: h

  defp bad(key, value),
    do: {:error, %ConnectionError{message: "invalid #{inspect(key)} option: #{inspect(value)}"}}

  @doc """
  Parses a `ferrite://`/`redis://` URL into options (only the parts it
  has), or `{:error, %Ferrite.ConnectionError{}}`.

      iex> Ferrite.Remote.Options.url("redis://:pw@example.com:7000/2")
      {:ok, [ssl: false, host: "example.com", port: 7000, password: "pw", database: 2]}
  """
  @spec url(binary() | nil) :: {:ok, keyword()} | {:error, ConnectionError.t()}
  def url(nil), do: {:ok, []}

  def url(url) when is_binary(url) do
    uri = URI.parse(url)

    with {:ok, ssl} <- scheme(uri.scheme),
         {:ok, db} <- database(uri.path) do
      opts =
        [ssl: ssl]
        |> put_if(:host, if(uri.host not in [nil, ""], do: uri.host))
        |> put_if(:port, uri.port || default_port(uri.scheme))
        |> Keyword.merge(userinfo(uri.userinfo))
        |> put_if(:database, db)

      {:ok, opts}
    else
      {:error, why} -> {:error, %ConnectionError{message: "invalid url #{inspect(url)}: #{why}"}}
    end
  end

  def url(other), do: bad(:url, other)

  # URI knows no default port for these schemes: Redis's for redis://,
  # none (the option's default) for ferrite://.
  defp default_port(s) when s in ["redis", "rediss"], do: 6379
  defp default_port(_), do: nil

  defp scheme(s) when s in ["ferrite", "redis"], do: {:ok, false}
  defp scheme(s) when s in ["ferrites", "rediss"], do: {:ok, true}
  defp scheme(s), do: {:error, "unknown scheme #{inspect(s)}"}

  defp database(p) when p in [nil, "", "/"], do: {:ok, nil}

  defp database("/" <> db) do
    case Integer.parse(db) do
      {n, ""} when n >= 0 -> {:ok, n}
      _ -> {:error, "invalid database #{inspect(db)}"}
    end
  end

  defp database(p), do: {:error, "invalid path #{inspect(p)}"}

  defp userinfo(nil), do: []

  defp userinfo(info) do
    case String.split(info, ":", parts: 2) do
      [user, pass] ->
        put_if([password: URI.decode(pass)], :username, blank(URI.decode(user)))

      [user] ->
        put_if([], :username, blank(URI.decode(user)))
    end
  end

  defp blank(""), do: nil
  defp blank(s), do: s

  defp put_if(kw, _key, nil), do: kw
  defp put_if(kw, key, value), do: kw ++ [{key, value}]
end
