defmodule Ferrite.Remote.RESP do
  @moduledoc """
  RESP2 for the remote backend: encoding commands, and an incremental
  parser for replies.

  The parser works on whatever bytes a socket delivered: `parse/1` returns
  `{:ok, value, rest}` for a complete reply, or `{:continuation, cont}`
  when the bytes end inside a reply; `cont.(more)` resumes where it
  stopped, without rescanning what it already consumed (a large bulk string
  trickled in many packets is collected, not re-parsed).

  Reply values, in the shapes `Ferrite.command/2` returns for the embedded
  backend:

    * simple string `+OK` → `"OK"`; bulk string → binary; integer → integer;
    * null bulk / null array → `nil`; array → list;
    * error `-ERR ...` → `%Ferrite.ResponseError{message: "ERR ..."}` (at
      any depth: an EXEC reply can hold errors).

  Malformed input raises `Ferrite.Remote.RESP.ParseError`.
  """

  alias Ferrite.ResponseError

  defmodule ParseError do
    @moduledoc "The server sent bytes that are not RESP2."
    defexception [:message]
  end

  @typedoc "A parsed reply."
  @type value :: binary() | integer() | nil | [value()] | ResponseError.t()

  @typedoc "The result of parsing."
  @type result :: {:ok, value(), binary()} | {:continuation, (binary() -> result())}

  @crlf "\r\n"

  @doc """
  Encodes one command (a list of binaries) as a RESP array of bulk strings.

      iex> IO.iodata_to_binary(Ferrite.Remote.RESP.encode(["GET", "k"]))
      "*2\\r\\n$3\\r\\nGET\\r\\n$1\\r\\nk\\r\\n"
  """
  @spec encode([binary()]) :: iodata()
  def encode(argv) when is_list(argv) do
    [?*, Integer.to_string(length(argv)), @crlf | Enum.map(argv, &bulk/1)]
  end

  defp bulk(arg), do: [?$, Integer.to_string(byte_size(arg)), @crlf, arg, @crlf]

  @doc "Encodes several commands, one after the other."
  @spec encode_many([[binary()]]) :: iodata()
  def encode_many(cmds), do: Enum.map(cmds, &encode/1)

  @doc """
  Parses one reply from the start of `data`. See the module doc.

      iex> Ferrite.Remote.RESP.parse("+OK\\r\\n:1\\r\\n")
      {:ok, "OK", ":1\\r\\n"}
  """
  @spec parse(binary()) :: result()
  def parse(data) when is_binary(data), do: value(data, &done/2)

  defp done(value, rest), do: {:ok, value, rest}

  # Every function below takes the bytes and a continuation `k` that
  # receives the parsed value and the bytes after it. Running out of bytes
  # returns `{:continuation, fun}` that resumes the same function.

  defp value(<<>>, k), do: {:continuation, &value(&1, k)}
  defp value(<<?+, rest::binary>>, k), do: line(rest, "", k)

  defp value(<<?-, rest::binary>>, k),
    do: line(rest, "", fn msg, r -> k.(%ResponseError{message: msg}, r) end)

  defp value(<<?:, rest::binary>>, k), do: line(rest, "", fn l, r -> k.(int!(l), r) end)

  defp value(<<?$, rest::binary>>, k) do
    line(rest, "", fn l, r ->
      case int!(l) do
        -1 -> k.(nil, r)
        n when n >= 0 -> bulk_body(r, n + 2, [], k)
        n -> raise ParseError, "invalid bulk length #{n}"
      end
    end)
  end

  defp value(<<?*, rest::binary>>, k) do
    line(rest, "", fn l, r ->
      case int!(l) do
        -1 -> k.(nil, r)
        n when n >= 0 -> array(r, n, [], k)
        n -> raise ParseError, "invalid array length #{n}"
      end
    end)
  end

  defp value(<<byte, _::binary>>, _k),
    do: raise(ParseError, "unexpected reply type byte #{inspect(<<byte>>)}")

  # A line up to CRLF. `seen` holds the bytes of this line already received
  # (a line is short, so joining them on resume is cheap).
  defp line(data, seen, k) do
    buf = if seen == "", do: data, else: seen <> data

    case :binary.match(buf, @crlf) do
      {pos, 2} ->
        <<l::binary-size(pos), @crlf, rest::binary>> = buf
        k.(l, rest)

      :nomatch ->
        {:continuation, &line(&1, buf, k)}
    end
  end

  # A bulk payload: `need` bytes still to come, including its CRLF; `acc`
  # holds the earlier chunks, reversed.
  defp bulk_body(data, need, acc, k) do
    size = byte_size(data)

    cond do
      size >= need and acc == [] ->
        case data do
          <<payload::binary-size(need - 2), @crlf, rest::binary>> -> k.(payload, rest)
          _ -> raise ParseError, "bulk string not terminated by CRLF"
        end

      size >= need ->
        <<part::binary-size(need), rest::binary>> = data
        full = IO.iodata_to_binary(Enum.reverse(acc, [part]))

        case :binary.part(full, need_total(full), 2) do
          @crlf -> k.(:binary.part(full, 0, need_total(full)), rest)
          _ -> raise ParseError, "bulk string not terminated by CRLF"
        end

      true ->
        {:continuation, &bulk_body(&1, need - size, [data | acc], k)}
    end
  end

  defp need_total(full), do: byte_size(full) - 2

  defp array(data, 0, acc, k), do: k.(Enum.reverse(acc), data)

  defp array(data, n, acc, k) do
    value(data, fn v, rest -> array(rest, n - 1, [v | acc], k) end)
  end

  defp int!(line) do
    case Integer.parse(line) do
      {n, ""} -> n
      _ -> raise ParseError, "invalid integer #{inspect(line)}"
    end
  end
end
