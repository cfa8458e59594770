# Ferrite Embedded: `make demo` runs the tour, `make test` runs every check.
# Both install what is missing first (Debian 12, as root).

SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:/root/.cargo/bin:$(PATH)

APT_PACKAGES := elixir erlang-dev erlang-nox redis-server redis-tools \
	erlang-redis-client erlang-proper erlang-poolboy

.PHONY: all setup deps compile demo test test-rust test-elixir bench-kv bench-collections bench-durability bench-engine bench-scripts-tx bench-resp clean

all: compile

# Idempotent: apt runs only when a package is missing.
setup:
	@missing=""; \
	for p in $(APT_PACKAGES); do \
	  dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "Installing:$$missing"; \
	  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi
	@command -v cargo >/dev/null || { \
	  echo "cargo not found: install Rust with rustup (https://rustup.rs)"; exit 1; }

compile: setup
	mix compile

demo: setup
	mix run examples/tour.exs

test: setup test-rust test-elixir

test-rust:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo test -p ferrite-store

# The ExUnit API suite runs three times: embedded, remote against a
# redis-server the run starts, remote against Ferrite's own listener.
test-elixir:
	mix format --check-formatted
	MIX_ENV=test mix compile --warnings-as-errors
	mix test --warnings-as-errors
	FERRITE_BACKEND=redis mix test --warnings-as-errors
	FERRITE_BACKEND=listener mix test --warnings-as-errors

# Benchmarks (not part of `make test`). KV_N sets the operations per run.
bench-kv: setup
	MIX_ENV=prod mix run benches/kv.exs

# COLL_PIPELINES, COLL_RUNS, COLL_BIG, COLL_SET size it (see the file).
# DURABILITY_KEYS sets the database size (default 1M).
bench-durability: setup
	MIX_ENV=prod mix run benches/durability.exs

bench-collections: setup
	MIX_ENV=prod mix run benches/collections.exs

bench-scripts-tx: setup
	MIX_ENV=prod mix run benches/scripts_tx.exs

bench-resp: setup
	bash benches/resp.sh

bench-engine:
	cargo bench -p ferrite-store --bench engine

clean:
	mix clean
	cargo clean
