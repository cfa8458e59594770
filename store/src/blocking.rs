//! Blocking commands (BLPOP, BZPOPMIN, XREAD BLOCK, ...): waiters registered
//! per key, served in FIFO order when data arrives, with engine-side
//! deadlines.

use crate::engine::State;

/// Clients waiting on keys.
#[derive(Default)]
pub struct Registry {}

impl Registry {
    /// Number of clients currently blocked (INFO `blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        0
    }
}

/// Marks `key` in `db` as ready: waiters on it are served after the current
/// command completes.
pub fn signal_ready(_st: &mut State, _db: usize, _key: &[u8]) {}

/// Serves waiters on the keys signalled ready during the last command, in
/// FIFO order per key. Runs after each top-level command.
#[inline]
pub fn serve_ready(_ctx: &mut crate::engine::Ctx<'_>) {}
