defmodule Ferrite.ListenerTest do
  use ExUnit.Case, async: true

  @moduletag :single_run

  # A RESP request over a plain socket, read back until `want` bytes came.
  defp roundtrip(port, req, want) do
    {:ok, s} = :gen_tcp.connect(~c"127.0.0.1", port, [:binary, active: false])
    :ok = :gen_tcp.send(s, req)
    got = read(s, want, "")
    :gen_tcp.close(s)
    got
  end

  defp read(_s, want, acc) when byte_size(acc) >= want, do: acc

  defp read(s, want, acc) do
    case :gen_tcp.recv(s, 0, 5000) do
      {:ok, data} -> read(s, want, acc <> data)
      {:error, _} -> acc
    end
  end

  test "an embedded database is reachable over RESP" do
    {:ok, conn} = Ferrite.start_link(embedded: true)
    :ok = Ferrite.set(conn, "k", "from elixir")
    {:ok, port} = Ferrite.Embedded.listen(conn, port: 0)
    assert roundtrip(port, "GET k\r\n", 17) == "$11\r\nfrom elixir\r\n"
    assert roundtrip(port, "*3\r\n$3\r\nSET\r\n$1\r\nn\r\n$1\r\n7\r\n", 5) == "+OK\r\n"
    assert Ferrite.get(conn, "n") == {:ok, "7"}
    {out, 0} = System.cmd("redis-cli", ["-p", Integer.to_string(port), "INCR", "n"])
    assert out == "8\n"
    assert Ferrite.Embedded.unlisten(port) == :ok
    assert {:error, %Ferrite.ConnectionError{}} = Ferrite.Embedded.unlisten(port)
  end

  test "listen refuses what is not an embedded conn" do
    assert {:error, %Ferrite.ConnectionError{}} = Ferrite.Embedded.listen(:no_such_conn, port: 0)
  end
end
