[
  inputs: [
    "{mix,.formatter}.exs",
    "{config,lib,test,benches,examples,mix}/**/*.{ex,exs}"
  ]
]
