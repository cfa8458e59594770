//! Blocking commands (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK, ...) from the
//! BEAM.
//!
//! The engine does the waiting (see `ferrite_store::blocking`): a blocking
//! command that finds no data registers a waiter and the NIF returns
//! `{:blocked, token, waiter}`; the result comes later as
//! `{:ferrite_reply, token, reply}`, sent to the process that made the call.
//! This module supplies the three BEAM-side pieces:
//!
//! - **A sink per blocking call** ([`target_caller`]). One conn is shared by
//!   any number of processes, so a waiter cannot use the conn's sink (it
//!   points at one pid at a time): each blocking call gets a fresh
//!   [`PidSink`] aimed at the caller, which the waiter keeps. Subscriptions
//!   still retarget the conn's own sink.
//! - **A waiter handle** ([`waiter`]), returned with the token as
//!   `{:blocked, token, waiter}`: a resource that holds the engine and the
//!   token, and monitors the calling process. If the process dies while
//!   waiting, the monitor removes its waiter, so it no longer counts as
//!   blocked (a failed send already protects the data: the engine gives the
//!   element to the next waiter or puts it back).
//! - **Giving up** (`unblock/1`): `Engine::unblock`; true when the waiter was
//!   still registered and is now gone (no message will come), false when
//!   the reply was already sent (it is in the caller's mailbox, because the
//!   engine sends under its lock).
//!
//! | NIF | scheduler | returns |
//! |-----|-----------|---------|
//! | `unblock(waiter_ref)` | normal | `true` / `false` |

use crate::conn::Conn;
use crate::sink::{CallerEnv, PidSink};
use ferrite_store::command::Flags;
use ferrite_store::{Engine, Session, Sink};
use rustler::{Env, LocalPid, Monitor, Resource, ResourceArc};
use std::sync::Arc;

/// The session's own sink, set aside while a blocking command runs with a
/// per-call sink; [`restore`] puts it back.
pub struct SavedSink(Option<Arc<dyn Sink>>);

/// True when the command named `name` is flagged BLOCKING.
fn is_blocking(name: &[u8]) -> bool {
    Engine::lookup(name).is_some_and(|spec| spec.flags.contains(Flags::BLOCKING))
}

/// Points the out-of-band replies of this call at the calling process. A
/// blocking command gets a sink of its own (returned [`SavedSink`] must be
/// given to [`restore`] after the command); anything else (subscriptions)
/// retargets the conn's sink and returns None.
pub fn target_caller(
    env: Env<'_>,
    conn: &Conn,
    sess: &mut Session,
    name: &[u8],
) -> Option<SavedSink> {
    if is_blocking(name) {
        let own: Arc<dyn Sink> = Arc::new(PidSink::new(env.pid()));
        Some(SavedSink(sess.sink.replace(own)))
    } else {
        conn.sink.set_target(env.pid());
        None
    }
}

/// Puts back the session's sink set aside by [`target_caller`]. The waiter
/// the command may have registered keeps its own sink.
pub fn restore(sess: &mut Session, saved: Option<SavedSink>) {
    if let Some(SavedSink(sink)) = saved {
        sess.sink = sink;
    }
}

/// A blocked call, as Elixir holds it while waiting: the engine (kept alive
/// even if the conn closes meanwhile, so that `unblock` still works) and the
/// waiter's token. It monitors the waiting process.
pub struct WaiterRes {
    engine: Arc<Engine>,
    token: u64,
}

#[rustler::resource_impl]
impl Resource for WaiterRes {
    /// The waiting process died: drop its waiter. (False from `unblock`
    /// means it was already served or timed out; the engine put back what
    /// a failed send could not deliver.)
    fn down<'a>(&'a self, env: Env<'a>, _pid: LocalPid, _monitor: Monitor) {
        let _guard = CallerEnv::enter(env);
        self.engine.unblock(self.token);
    }
}

/// The handle on the caller's blocked call `token` on `conn`, made as the
/// command blocks (so there is no window in which the caller could die
/// unmonitored). It monitors the caller, whose waiter goes away if it dies.
pub fn waiter(env: Env<'_>, conn: &Conn, token: u64) -> ResourceArc<WaiterRes> {
    let res = ResourceArc::new(WaiterRes {
        engine: conn.engine.clone(),
        token,
    });
    // The caller is alive (it is making this call); should monitoring fail
    // all the same, a failed send still protects the data.
    let _ = res.monitor(Some(env), &env.pid());
    res
}

/// Gives up a blocked call: true when the waiter was still registered (now
/// removed: no reply will come), false when its reply was already sent.
#[rustler::nif]
fn unblock(env: Env<'_>, waiter: ResourceArc<WaiterRes>) -> bool {
    let _guard = CallerEnv::enter(env);
    waiter.engine.unblock(waiter.token)
}
