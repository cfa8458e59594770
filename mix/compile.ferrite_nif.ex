defmodule Mix.Tasks.Compile.FerriteNif do
  @shortdoc "Builds the Ferrite NIF (cargo) into priv/native"
  @moduledoc """
  Builds the `ferrite-nif` crate with cargo and installs the shared library
  as `priv/native/libferrite_nif.so`, where `Ferrite.Native` loads it.

  The release profile is used unless `FERRITE_NIF_PROFILE=debug`. Cargo is
  skipped when the installed library is newer than every file it is built
  from (`Cargo.toml`, `Cargo.lock`, `store/`, `nif/`; the library is stamped
  with the time its build started). The library is copied
  to a temporary file and renamed, so a running VM never sees half a file.
  """
  use Mix.Task.Compiler

  @lib "libferrite_nif.so"
  @inputs ["Cargo.toml", "Cargo.lock", "store", "nif"]

  @impl true
  def run(_args) do
    root = File.cwd!()
    dest_dir = Path.join(root, "priv/native")
    dest = Path.join(dest_dir, @lib)

    result =
      if up_to_date?(root, dest) do
        :noop
      else
        build!(root, dest_dir, dest)
        :ok
      end

    # priv/ must exist before the build structure links it into _build,
    # or a fresh clone cannot find the library.
    Mix.Project.build_structure()
    {result, []}
  end

  defp profile, do: System.get_env("FERRITE_NIF_PROFILE", "release")

  defp build!(root, dest_dir, dest) do
    cargo = cargo!()
    profile = profile()
    args = ["build", "-p", "ferrite-nif"] ++ if(profile == "release", do: ["--release"], else: [])
    Mix.shell().info("Compiling ferrite-nif (cargo #{Enum.join(args, " ")})")
    # The installed library is stamped with the time cargo started, not the
    # time of the copy: a source edited during the build is then newer than
    # the library, and the next compile builds again.
    started = System.os_time(:second)

    case System.cmd(cargo, args, cd: root, stderr_to_stdout: true, into: IO.stream(:stdio, :line)) do
      {_, 0} -> :ok
      {_, code} -> Mix.raise("cargo build failed with exit status #{code}")
    end

    target_dir = System.get_env("CARGO_TARGET_DIR", Path.join(root, "target"))
    built = Path.join([target_dir, if(profile == "release", do: "release", else: "debug"), @lib])
    File.mkdir_p!(dest_dir)
    tmp = dest <> ".tmp#{System.unique_integer([:positive])}"
    File.cp!(built, tmp)
    File.touch!(tmp, started)
    File.rename!(tmp, dest)
  end

  defp cargo! do
    System.find_executable("cargo") ||
      Enum.find(
        [Path.expand("~/.cargo/bin/cargo"), "/root/.cargo/bin/cargo"],
        &File.exists?/1
      ) ||
      Mix.raise("cargo not found: install Rust (rustup) or put cargo on PATH")
  end

  defp up_to_date?(root, dest) do
    case File.stat(dest, time: :posix) do
      {:ok, %{mtime: built}} ->
        @inputs
        |> Enum.flat_map(&files(Path.join(root, &1)))
        |> Enum.all?(fn f -> mtime(f) < built end)

      _ ->
        false
    end
  end

  defp files(path) do
    if File.dir?(path) do
      path
      |> File.ls!()
      |> Enum.reject(&(&1 in ["target", ".git"]))
      |> Enum.flat_map(&files(Path.join(path, &1)))
    else
      [path]
    end
  end

  defp mtime(f) do
    case File.stat(f, time: :posix) do
      {:ok, %{mtime: m}} -> m
      _ -> 0
    end
  end

  @impl true
  def clean do
    File.rm_rf!("priv/native")
    :ok
  end
end
