//! NIFs that serve an embedded database over RESP
//! (`Ferrite.Embedded.listen/2`), with `ferrite_store::resp::listener`.
//!
//! Listeners are kept in a table keyed by their bound port until
//! `unlisten(port)` stops them, so a caller need not hold a handle. A
//! listener keeps its engine alive; once the conn that opened it is
//! closed, the engine answers every command with `ERR database is closed`.

use crate::conn;
use ferrite_store::resp::listener::{ListenOptions, Listener};
use rustler::{Encoder, Env, LocalPid, Term};
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

rustler::atoms! {
    /// `:ok`
    ok,
    /// `:error`
    error,
}

fn listeners() -> &'static Mutex<HashMap<u16, Listener>> {
    static L: OnceLock<Mutex<HashMap<u16, Listener>>> = OnceLock::new();
    L.get_or_init(Default::default)
}

/// Starts a listener on the engine of the conn owned by `owner`, bound to
/// `bind:port` (port 0: any free port). `{:ok, port}` or `{:error, msg}`.
#[rustler::nif(schedule = "DirtyIo")]
fn listen<'a>(env: Env<'a>, owner: LocalPid, bind: String, port: u16) -> Term<'a> {
    let Some(c) = conn::registry_get(conn::pid_key(&owner)) else {
        return (error(), "no embedded conn for that pid").encode(env);
    };
    if c.is_closed() {
        return (error(), "the conn is closed").encode(env);
    }
    let opts = ListenOptions { bind, port };
    match Listener::start(c.engine.clone(), &opts) {
        Ok(l) => {
            let port = l.local_addr().port();
            let mut table = listeners().lock().unwrap_or_else(|p| p.into_inner());
            table.insert(port, l);
            (ok(), port).encode(env)
        }
        Err(e) => (error(), e.to_string()).encode(env),
    }
}

/// Stops the listener bound to `port` and closes its connections. `:ok`,
/// or `{:error, msg}` when no listener has that port.
#[rustler::nif(schedule = "DirtyIo")]
fn unlisten(env: Env<'_>, port: u16) -> Term<'_> {
    let l = listeners()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .remove(&port);
    match l {
        Some(mut l) => {
            l.stop();
            ok().encode(env)
        }
        None => (error(), "no listener on that port").encode(env),
    }
}
