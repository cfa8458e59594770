//! Blocking commands (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK, ...) from the
//! BEAM: the handle a waiting process holds, and giving up.
//!
//! The engine does the waiting (see `ferrite_store::blocking`): a blocking
//! command that finds no data registers a waiter, the conn's sink learns
//! that the waiter's result goes to the calling process
//! (`PidSink::expect`), and the NIF returns `{:blocked, token, waiter}`.
//! The result comes later as `{:ferrite_reply, token, reply}`. This module
//! supplies the `waiter` handle and the `unblock` NIF:
//!
//! - **The waiter handle** ([`waiter`]), made while the command still holds
//!   the engine lock: a resource that holds the conn and the token, and
//!   monitors the calling process. If the process dies while waiting, the
//!   monitor removes its waiter, so that it no longer counts as blocked
//!   (the data is safe without it: a send to a dead process fails, and the
//!   engine then gives the element to the next waiter or puts it back).
//! - **Giving up** (`unblock/1`): `Engine::unblock`. True when the waiter
//!   was still registered and is now gone (no message will come); false
//!   when it is gone already: its reply was sent (the engine sends under
//!   its lock, so the reply is in the caller's mailbox by then), or it was
//!   dropped because its conn closed.
//!
//! | NIF | scheduler | returns |
//! |-----|-----------|---------|
//! | `unblock(waiter)` | normal | `true` / `false` |

use crate::conn::Conn;
use crate::sink::CallerEnv;
use rustler::{Env, LocalPid, Monitor, Resource, ResourceArc};
use std::sync::Arc;

/// A blocked call, as Elixir holds it while waiting: the conn (kept even if
/// it closes meanwhile, so that `unblock` still works) and the waiter's
/// token. It monitors the waiting process.
pub struct WaiterRes {
    conn: Arc<Conn>,
    token: u64,
}

impl WaiterRes {
    /// Removes the waiter if it is still registered; true when it was.
    fn give_up(&self) -> bool {
        let removed = self.conn.engine.unblock(self.token);
        if removed {
            self.conn.sink.forget(self.token);
        }
        removed
    }
}

#[rustler::resource_impl]
impl Resource for WaiterRes {
    /// The waiting process died: drop its waiter (a no-op when it was
    /// already served or timed out).
    fn down<'a>(&'a self, env: Env<'a>, _pid: LocalPid, _monitor: Monitor) {
        let _guard = CallerEnv::enter(env);
        self.give_up();
    }
}

/// The handle on the caller's blocked call `token` on `conn`. Made as the
/// command blocks, so there is no window in which the caller could die
/// unmonitored.
pub fn waiter(env: Env<'_>, conn: &Arc<Conn>, token: u64) -> ResourceArc<WaiterRes> {
    let res = ResourceArc::new(WaiterRes {
        conn: conn.clone(),
        token,
    });
    // The caller is alive (it is making this call); should monitoring fail
    // all the same, a failed send still protects the data.
    let _ = res.monitor(Some(env), &env.pid());
    res
}

/// Gives up a blocked call: true when the waiter was still registered (now
/// removed: no reply will come), false when it was already gone.
#[rustler::nif]
fn unblock(env: Env<'_>, waiter: ResourceArc<WaiterRes>) -> bool {
    let _guard = CallerEnv::enter(env);
    waiter.give_up()
}
