defmodule Ferrite.ScriptingTest do
  use ExUnit.Case, async: true

  setup context do
    {:ok, conn} = Ferrite.TestConn.open(context)
    %{conn: conn}
  end

  test "script_load then evalsha with keys and args", %{conn: c} do
    script = "return {KEYS[1], ARGV[1], #KEYS, #ARGV}"
    assert {:ok, sha} = Ferrite.script_load(c, script)
    assert sha == :crypto.hash(:sha, script) |> Base.encode16(case: :lower)
    assert Ferrite.evalsha(c, sha, ["k"], ["a", "b"]) == {:ok, ["k", "a", 1, 2]}
  end

  test "evalsha of an unknown script is a NOSCRIPT error", %{conn: c} do
    assert {:error, %Ferrite.ResponseError{message: msg}} =
             Ferrite.evalsha(c, String.duplicate("0", 40), [], [])

    assert msg == "NOSCRIPT No matching script. Please use EVAL."
  end

  test "eval runs commands atomically and converts results", %{conn: c} do
    script = """
    redis.call('set', KEYS[1], ARGV[1])
    return {redis.call('get', KEYS[1]), 3.99, true, false, {ok = 'fine'}}
    """

    assert Ferrite.eval(c, script, ["k"], ["v"]) == {:ok, ["v", 3, 1, nil, "fine"]}
    assert Ferrite.get(c, "k") == {:ok, "v"}
  end

  test "script errors carry Redis's text", %{conn: c} do
    assert {:error, %Ferrite.ResponseError{message: msg}} =
             Ferrite.eval(c, "return redis.call('nosuch')")

    assert msg =~ "ERR Unknown Redis command called from script script: "
    assert msg =~ ", on @user_script:1."

    assert {:error, %Ferrite.ResponseError{message: "ERR x"}} =
             Ferrite.eval(c, "return redis.error_reply('x')")
  end

  test "integer arguments are accepted", %{conn: c} do
    assert Ferrite.eval(c, "return tonumber(ARGV[1]) + 1", [], [41]) == {:ok, 42}
  end
end
