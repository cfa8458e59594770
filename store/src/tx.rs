//! Transactions: MULTI/EXEC/DISCARD and WATCH.

use crate::engine::State;

/// Which clients watch which keys.
#[derive(Default)]
pub struct Watches {}

/// One client's MULTI queue and watched keys.
#[derive(Debug, Default)]
pub struct SessionTx {}

/// Marks `key` of `db` as modified for every client watching it.
#[inline]
pub fn touch(_st: &mut State, _db: usize, _key: &[u8]) {}

/// Runs before every command: queues it when the session is inside MULTI,
/// and enforces subscribe-mode, AUTH and BUSY restrictions. `Some(reply)`
/// answers the command without running it.
#[inline]
pub fn intercept(
    _ctx: &mut crate::engine::Ctx<'_>,
    _spec: &'static crate::command::CommandSpec,
    _argv: &[&[u8]],
) -> Option<crate::reply::Reply> {
    None
}
