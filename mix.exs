# The NIF compiler must exist before `lib/` is compiled, so it lives outside
# `lib/` and is loaded here (once per VM).
unless Code.ensure_loaded?(Mix.Tasks.Compile.FerriteNif) do
  Code.require_file("mix/compile.ferrite_nif.ex", __DIR__)
end

defmodule Ferrite.MixProject do
  use Mix.Project

  def project do
    [
      app: :ferrite,
      version: "0.1.0",
      elixir: "~> 1.14",
      start_permanent: Mix.env() == :prod,
      compilers: [:ferrite_nif] ++ Mix.compilers(),
      deps: [],
      test_paths: ["test"],
      docs: [main: "Ferrite"],
      description: "Ferrite Embedded: a Redis-compatible engine inside the BEAM."
    ]
  end

  def application do
    [
      mod: {Ferrite.Application, []},
      extra_applications: [:logger, :ssl]
    ]
  end
end
