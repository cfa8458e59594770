defmodule Ferrite.StringsTest do
  use ExUnit.Case, async: true

  setup context do
    {:ok, conn} = Ferrite.TestConn.open(context)
    %{conn: conn}
  end

  test "set and get", %{conn: c} do
    assert Ferrite.get(c, "k") == {:ok, nil}
    assert Ferrite.set(c, "k", "v") == :ok
    assert Ferrite.get(c, "k") == {:ok, "v"}
  end
end
