defmodule Ferrite.StringsTest do
  use ExUnit.Case, async: true

  setup do
    {:ok, conn} = Ferrite.start_link(embedded: true)
    %{conn: conn}
  end

  test "set and get", %{conn: c} do
    assert Ferrite.get(c, "k") == {:ok, nil}
    assert Ferrite.set(c, "k", "v") == :ok
    assert Ferrite.get(c, "k") == {:ok, "v"}
  end
end
