//! Durability: snapshot and append-only log.

/// Where applied writes go (the append-only log, sync).
#[derive(Default)]
pub struct Propagation {}

/// Called after a command changed the dataset (`dirty` grew): hands the
/// command (or its rewritten effect) to the append-only log and sync.
#[inline]
pub fn propagate(
    _ctx: &mut crate::engine::Ctx<'_>,
    _spec: &'static crate::command::CommandSpec,
    _argv: &[&[u8]],
) {
}
