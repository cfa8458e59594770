//! Rustler glue between the BEAM and the Ferrite engine (`ferrite-store`).
//!
//! This crate is glue only: it turns terms into argument vectors, runs them
//! through [`ferrite_store::Engine::execute_locked`], and turns the
//! [`ferrite_store::Reply`] back into terms. It owns three things the engine
//! does not know about: handles (resources and the pid registry, in
//! [`conn`]), scheduling (in [`sched`]), and out-of-band messages to pids (in
//! [`sink`]).
//!
//! # NIFs (module `Elixir.Ferrite.Native`)
//!
//! | NIF | scheduler | returns |
//! |-----|-----------|---------|
//! | `open(owner, store, db)` | normal | `{:ok, conn_ref}` / `{:error, msg}` |
//! | `open_session(conn)` | normal | `{:ok, conn_ref}`: a side session on `conn`'s engine for the caller (WATCH, subscriptions) |
//! | `close(conn)` | normal | `:ok` |
//! | `command(conn, argv)` | normal | reply, or a marker (below) |
//! | `command_dirty(conn, argv)` | dirty CPU | reply |
//! | `get(conn, key)` | normal | as `command(conn, ["GET", key])` |
//! | `set(conn, key, value)` | normal | `:ok` for `OK`, else as `command(conn, ["SET", key, value])` |
//! | `pipeline(conn, cmds)` | normal | reply list, or a marker |
//! | `pipeline_dirty(conn, cmds)` | dirty CPU | reply list |
//! | `command_dirty_io(conn, argv)` | dirty IO | reply |
//! | `pipeline_dirty_io(conn, cmds)` | dirty IO | reply list |
//! | `open_with(owner, store, db, path, appendfsync, repair, {min, pct}, config)` | dirty IO | `{:ok, conn_ref, warnings}` / `{:error, reason}` |
//! | `close_dirty(conn)` | dirty IO | `:ok` |
//! | `fast_forward(conn, ms)` | normal | `:ok` |
//! | `store_conns(name)` | normal | number of conns on a named store |
//! | `unblock(waiter)` | normal | gives up a blocked call (see [`blocking`]) |
//!
//! `conn` is the conn's owner pid, a registered name, or the `conn_ref`.
//!
//! Replies: `{:ok, term}`, `{:error, %Ferrite.ResponseError{}}`, or
//! `{:blocked, token, waiter}` when a blocking command registered a waiter
//! (its result comes later as `{:ferrite_reply, token, reply}`, sent to the
//! process that issued it; `waiter` is the handle for `unblock`, see
//! [`blocking`]). A pipeline returns `{:ok, replies}`, or
//! `{:blocked_pipeline, replies}` when an element is `{:blocked, token, waiter}`. Markers the
//! Elixir side handles: `:dirty` (re-run with the `_dirty` NIF), `:dirty_io`
//! (re-run with the `_dirty_io` NIF: a write on an engine with
//! `appendfsync always`, which fsyncs before it replies), `:convert`
//! (an argument is not a binary: convert and retry), `:noconn` (no embedded
//! conn by that pid or name).
//!
//! # Scheduling rule
//!
//! `command` and `pipeline` run on the caller's normal scheduler when all of
//! these hold, and otherwise return `:dirty` so that Elixir re-runs the call
//! on a dirty CPU scheduler:
//!
//! 1. every command is flagged FAST in the command table, or is one of the
//!    few commands whose work is linear in their own arguments
//!    ([`sched::BOUNDED`]: SET, SETEX, PSETEX, MSET, MSETNX, DEL, ...), and
//!    none is flagged SLOW;
//! 2. the input is small: at most [`sched::MAX_NORMAL_BYTES`] (64 KiB) of
//!    arguments and, for a pipeline, at most [`sched::MAX_NORMAL_PIPELINE`]
//!    commands;
//! 3. the conn's session lock and the engine lock are free right now
//!    (`try_lock`): a normal scheduler never waits for a lock.
//!
//! A Rust panic inside a command is caught and becomes
//! `{:error, %Ferrite.ResponseError{message: "ERR internal error: ..."}}`.

pub mod blocking;
pub mod conn;
pub mod encode;
mod listener;
pub mod nifs;
pub mod open;
pub mod sched;
pub mod sink;
pub mod strbuf;

rustler::init!("Elixir.Ferrite.Native", load = load);

/// Load: long strings are allocated as resource objects from here on.
fn load(env: rustler::Env, _info: rustler::Term) -> bool {
    strbuf::install(env)
}
