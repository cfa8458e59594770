//! The scheduling rule: which calls may run on a normal scheduler.
//!
//! A normal scheduler must not be held for more than about a millisecond.
//! A call qualifies for the normal scheduler when every command in it is
//! cheap ([`is_cheap`]) and its input is small ([`MAX_NORMAL_BYTES`],
//! [`MAX_NORMAL_PIPELINE`]); the NIF then also only *tries* the session and
//! engine locks. Everything else runs on a dirty CPU scheduler.

use ferrite_store::command::{CommandSpec, Flags};

/// Largest total argument size (bytes) run on a normal scheduler.
pub const MAX_NORMAL_BYTES: usize = 64 * 1024;

/// Most arguments in one command run on a normal scheduler.
pub const MAX_NORMAL_ARGS: usize = 1024;

/// Most commands in one pipeline run on a normal scheduler.
pub const MAX_NORMAL_PIPELINE: usize = 128;

/// Commands not flagged FAST whose work is linear in their own arguments
/// (so the input limit bounds them). Freeing a huge value they replace or
/// delete can still take long, as it would block Redis.
pub const BOUNDED: &[&str] = &[
    "set", "setex", "psetex", "mset", "msetnx", "del", "unlink", "rename", "renamenx", "select",
    "ping", "echo",
];

/// True when `spec` may run on a normal scheduler (input size aside).
#[inline]
pub fn is_cheap(spec: &CommandSpec) -> bool {
    if spec.flags.contains(Flags::SLOW) {
        return false;
    }
    spec.flags.contains(Flags::FAST) || BOUNDED.contains(&spec.name)
}

/// True when the command needs the caller as its out-of-band target
/// (blocking commands and subscriptions).
#[inline]
pub fn targets_caller(spec: &CommandSpec) -> bool {
    spec.flags.contains(Flags::BLOCKING) || spec.flags.contains(Flags::PUBSUB)
}
