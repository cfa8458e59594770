//! The scheduling rule: which calls may run on a normal scheduler.
//!
//! A normal scheduler must not be held for more than about a millisecond.
//! A call qualifies for the normal scheduler when every command in it is
//! cheap ([`is_cheap`]) and its input is small ([`MAX_NORMAL_BYTES`],
//! [`MAX_NORMAL_PIPELINE`]); the NIF then also only *tries* the session and
//! engine locks. Everything else runs on a dirty CPU scheduler.
//!
//! One exception: on an engine with `appendfsync always`, a write command
//! calls `fdatasync` before it returns, so every call holding a WRITE
//! command ([`Class::write`]) runs on a dirty IO scheduler instead, whatever
//! its size.

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
    "ping", "echo", "exec",
];

/// EXEC costs what its queued commands cost: it is in [`BOUNDED`] because a
/// pipeline's other commands (MULTI .. EXEC in one call) are classified
/// themselves; an EXEC sent alone is checked against the session's queue
/// with this before it runs on a normal scheduler.
pub fn queue_is_cheap(session: &ferrite_store::Session) -> bool {
    session.tx.queue.iter().all(|q| is_cheap(q.spec))
}

/// True when `spec` may run on a normal scheduler (input size aside).
#[inline]
pub fn is_cheap(spec: &CommandSpec) -> bool {
    if spec.flags.contains(Flags::SLOW) {
        return false;
    }
    spec.flags.contains(Flags::FAST) || BOUNDED.contains(&spec.name)
}

/// Commands not flagged WRITE that run writes (and so fsync under
/// `appendfsync always`).
pub const RUNS_WRITES: &[&str] = &["exec", "eval", "evalsha", "fcall"];

/// Commands that subscribe the caller to push messages.
pub const SUBSCRIBE: &[&str] = &["subscribe", "psubscribe", "ssubscribe"];

/// True when the command makes the caller the target of the conn's push
/// messages (subscriptions). Blocking results are routed by token instead.
#[inline]
pub fn targets_caller(spec: &CommandSpec) -> bool {
    SUBSCRIBE.contains(&spec.name)
}

/// What the NIF needs to know about a command before running it.
#[derive(Clone, Copy)]
pub struct Class {
    /// May run on a normal scheduler (see [`is_cheap`]).
    pub cheap: bool,
    /// Points the conn's sink at the caller (see [`targets_caller`]).
    pub targets_caller: bool,
    /// Flagged WRITE: on an engine that fsyncs every write
    /// (`appendfsync always`) it runs on a dirty IO scheduler.
    pub write: bool,
    /// The command's table entry (`None`: unknown), so that the engine
    /// need not look the name up again (`Engine::execute_spec_locked`).
    pub spec: Option<&'static CommandSpec>,
}

/// Unknown commands: the engine answers them at once with an error.
pub const UNKNOWN: Class = Class {
    cheap: true,
    targets_caller: false,
    write: false,
    spec: None,
};

const CACHE_SLOTS: usize = 64;
const CACHE_NAME: usize = 23;

#[derive(Clone, Copy)]
struct Slot {
    len: u8,
    name: [u8; CACHE_NAME],
    class: Class,
}

thread_local! {
    static CACHE: std::cell::RefCell<[Slot; CACHE_SLOTS]> = const {
        std::cell::RefCell::new([Slot { len: 0xff, name: [0; CACHE_NAME], class: UNKNOWN }; CACHE_SLOTS])
    };
}

/// Classifies the command named `name` (any case), through a small
/// per-thread cache keyed by the exact name bytes, so that the hot path
/// neither lower-cases nor hashes the name (the engine gets the spec).
#[inline]
pub fn classify(name: &[u8]) -> Class {
    if name.is_empty() || name.len() > CACHE_NAME {
        return classify_slow(name);
    }
    let idx =
        (name.len() * 31 + name[0] as usize * 7 + name[name.len() - 1] as usize) % CACHE_SLOTS;
    CACHE.with(|c| {
        let mut cache = c.borrow_mut();
        let slot = &mut cache[idx];
        if slot.len as usize == name.len() && &slot.name[..name.len()] == name {
            return slot.class;
        }
        let class = classify_slow(name);
        slot.len = name.len() as u8;
        slot.name[..name.len()].copy_from_slice(name);
        slot.class = class;
        class
    })
}

fn classify_slow(name: &[u8]) -> Class {
    match ferrite_store::Engine::lookup(name) {
        Some(spec) => Class {
            cheap: is_cheap(spec),
            targets_caller: targets_caller(spec),
            write: spec.flags.contains(Flags::WRITE) || RUNS_WRITES.contains(&spec.name),
            spec: Some(spec),
        },
        None => UNKNOWN,
    }
}
