//! The command table: each command's name, arity, flags, key positions and
//! handler, as data (as in Redis's `commands.def`). One file per family.
//!
//! The dispatcher (`Engine::execute`) reads this table for arity errors,
//! OOM checks, write logging and statistics, so handlers only parse their
//! arguments and apply them.

pub mod hashes;
pub mod keys;
pub mod lists;
pub mod persist;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod sort;
pub mod streams;
pub mod strings;
pub mod tx;
pub mod zsets;

use crate::engine::Ctx;
use crate::reply::Reply;
use std::collections::HashMap;
use std::sync::OnceLock;

/// A command handler: parses `argv` (with `argv[0]` the command name) and
/// applies it.
pub type Handler = fn(&mut Ctx<'_>, &[&[u8]]) -> Reply;

/// Command flags (a subset of Redis's).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Flags(pub u32);

impl Flags {
    /// May modify the dataset.
    pub const WRITE: Flags = Flags(1);
    /// Never modifies the dataset.
    pub const READONLY: Flags = Flags(1 << 1);
    /// O(1) or O(log n): runs on a normal scheduler.
    pub const FAST: Flags = Flags(1 << 2);
    /// May take long: runs on a dirty scheduler.
    pub const SLOW: Flags = Flags(1 << 3);
    /// May block the caller.
    pub const BLOCKING: Flags = Flags(1 << 4);
    /// Not allowed from scripts.
    pub const NOSCRIPT: Flags = Flags(1 << 5);
    /// May grow memory: refused under `maxmemory` with noeviction.
    pub const DENYOOM: Flags = Flags(1 << 6);
    /// Administrative command.
    pub const ADMIN: Flags = Flags(1 << 7);
    /// Allowed while the client is in RESP2 subscribe mode.
    pub const PUBSUB: Flags = Flags(1 << 8);
    /// Not queued by MULTI (runs at once: EXEC, DISCARD, WATCH...).
    pub const NO_MULTI: Flags = Flags(1 << 9);
    /// Allowed while a script is running too long (SCRIPT KILL...).
    pub const ALLOW_BUSY: Flags = Flags(1 << 10);
    /// Depends on randomness or time: scripts log effects, not the command.
    pub const RANDOM: Flags = Flags(1 << 11);
    /// Allowed before AUTH.
    pub const NO_AUTH: Flags = Flags(1 << 12);
    /// Loading-time safe / stale-ok; informational.
    pub const LOADING: Flags = Flags(1 << 13);
    /// Ferrite's own (not a Redis flag): the dispatcher does not read the
    /// clock before the handler runs (`Ctx::now` stays 0); the handler and
    /// everything it reaches read the time only through `Ctx::now_ms()`.
    /// Set it only on handlers audited for that. (A high bit, clear of the
    /// Redis flags added below it.)
    pub const LAZY_CLOCK: Flags = Flags(1 << 31);

    /// True when every bit of `other` is set.
    #[inline]
    pub const fn contains(self, other: Flags) -> bool {
        self.0 & other.0 == other.0
    }

    /// Union.
    pub const fn or(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// Redis's flag names, for COMMAND INFO.
    pub fn names(self) -> Vec<&'static str> {
        const NAMES: [(Flags, &str); 11] = [
            (Flags::WRITE, "write"),
            (Flags::READONLY, "readonly"),
            (Flags::DENYOOM, "denyoom"),
            (Flags::ADMIN, "admin"),
            (Flags::PUBSUB, "pubsub"),
            (Flags::NOSCRIPT, "noscript"),
            (Flags::BLOCKING, "blocking"),
            (Flags::LOADING, "loading"),
            (Flags::FAST, "fast"),
            (Flags::NO_AUTH, "no_auth"),
            (Flags::ALLOW_BUSY, "allow_busy"),
        ];
        NAMES
            .iter()
            .filter(|(f, _)| self.contains(*f))
            .map(|(_, n)| *n)
            .collect()
    }
}

impl std::ops::BitOr for Flags {
    type Output = Flags;
    fn bitor(self, rhs: Flags) -> Flags {
        Flags(self.0 | rhs.0)
    }
}

/// One command's entry in the table.
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis arity: `n` exactly n arguments (with the name), `-n` at least n.
    pub arity: i32,
    /// Flags.
    pub flags: Flags,
    /// Position of the first key (0: none).
    pub first_key: i32,
    /// Position of the last key (-1: the last argument, -2: the one before).
    pub last_key: i32,
    /// Step between keys.
    pub step: i32,
    /// The handler.
    pub handler: Handler,
}

impl CommandSpec {
    /// True when `argc` (with the name) satisfies the arity.
    #[inline]
    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i32;
        if self.arity >= 0 {
            argc == self.arity
        } else {
            argc >= -self.arity
        }
    }

    /// The key arguments of `argv`, per the table's positions.
    pub fn keys<'b>(&self, argv: &[&'b [u8]]) -> Vec<&'b [u8]> {
        if self.first_key <= 0 {
            return Vec::new();
        }
        let argc = argv.len() as i32;
        let last = if self.last_key < 0 {
            argc + self.last_key
        } else {
            self.last_key.min(argc - 1)
        };
        let mut out = Vec::new();
        let mut i = self.first_key;
        while i <= last && i < argc {
            out.push(argv[i as usize]);
            i += self.step.max(1);
        }
        out
    }
}

/// Builds a `CommandSpec`: `cmd!(name, arity, flags, first, last, step, handler)`.
#[macro_export]
macro_rules! cmd {
    ($name:expr, $arity:expr, $flags:expr, $first:expr, $last:expr, $step:expr, $handler:expr) => {
        $crate::command::CommandSpec {
            name: $name,
            arity: $arity,
            flags: $flags,
            first_key: $first,
            last_key: $last,
            step: $step,
            handler: $handler,
        }
    };
}

/// Every family's table, in one list.
fn families() -> Vec<&'static [CommandSpec]> {
    vec![
        strings::COMMANDS,
        keys::COMMANDS,
        server::COMMANDS,
        lists::COMMANDS,
        hashes::COMMANDS,
        sets::COMMANDS,
        crate::resp::conn::COMMANDS,
        persist::COMMANDS,
        tx::COMMANDS,
        pubsub::COMMANDS,
        zsets::COMMANDS,
        streams::COMMANDS,
        sort::COMMANDS,
        scripting::COMMANDS,
    ]
}

/// The resolved command table: a name index plus a dense slot per command
/// (for per-command statistics without hashing).
///
/// Invariant: `specs[slot_of(s)]` is `s` for every spec `lookup` returns;
/// each family slice occupies the slots `base..base + len` in order.
struct Table {
    by_name: HashMap<&'static [u8], &'static CommandSpec, foldhash::fast::RandomState>,
    /// The same index for names of at most `PACKED_MAX` bytes (all of
    /// Redis's): open addressing over packed lower-case names, compared as
    /// integers (no lower-casing copy, byte hashing or memcmp on the hot
    /// path). `None` slots are empty; the table is at most a quarter full.
    packed: Vec<Option<(Packed, &'static CommandSpec)>>,
    specs: Vec<&'static CommandSpec>,
    /// (start address, length, first slot) of each family slice.
    ranges: Vec<(usize, usize, usize)>,
}

fn table() -> &'static Table {
    static TABLE: OnceLock<Table> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut t = Table {
            by_name: HashMap::default(),
            packed: Vec::new(),
            specs: Vec::new(),
            ranges: Vec::new(),
        };
        for fam in families() {
            t.ranges
                .push((fam.as_ptr() as usize, fam.len(), t.specs.len()));
            for spec in fam {
                let prev = t.by_name.insert(spec.name.as_bytes(), spec);
                assert!(prev.is_none(), "command {} defined twice", spec.name);
                t.specs.push(spec);
            }
        }
        let size = (t.specs.len() * 4).next_power_of_two();
        t.packed = vec![None; size];
        for spec in &t.specs {
            if let Some(p) = Packed::new(spec.name.as_bytes()) {
                let mut i = p.slot(size);
                while t.packed[i].is_some() {
                    i = (i + 1) & (size - 1);
                }
                t.packed[i] = Some((p, spec));
            }
        }
        t
    })
}

/// Longest name the packed index holds.
const PACKED_MAX: usize = 16;

/// A command name of at most `PACKED_MAX` bytes, ASCII-lower-cased, as two
/// little-endian words (zero-padded) and its length.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Packed {
    lo: u64,
    hi: u64,
    len: usize,
}

impl Packed {
    #[inline]
    fn new(name: &[u8]) -> Option<Packed> {
        if name.len() > PACKED_MAX {
            return None;
        }
        let mut buf = [0u8; PACKED_MAX];
        buf[..name.len()].copy_from_slice(name);
        buf.make_ascii_lowercase();
        let (lo, hi) = buf.split_at(8);
        Some(Packed {
            lo: u64::from_le_bytes(lo.try_into().ok()?),
            hi: u64::from_le_bytes(hi.try_into().ok()?),
            len: name.len(),
        })
    }

    /// Home slot in a table of `size` (a power of two) slots.
    #[inline]
    fn slot(&self, size: usize) -> usize {
        let h = (self.lo ^ self.hi.rotate_left(29) ^ self.len as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (h >> 32) as usize & (size - 1)
    }
}

/// Every command in the table.
pub fn all() -> impl Iterator<Item = &'static CommandSpec> {
    table().specs.iter().copied()
}

/// Number of commands in the table (slots are `0..count()`).
pub fn count() -> usize {
    table().specs.len()
}

/// The dense slot of a spec returned by `lookup` (`None` for a spec that
/// is not in the table).
#[inline]
pub fn slot_of(spec: &CommandSpec) -> Option<usize> {
    let addr = spec as *const CommandSpec as usize;
    let size = std::mem::size_of::<CommandSpec>();
    table()
        .ranges
        .iter()
        .find(|(start, len, _)| addr >= *start && addr < start + len * size)
        .map(|(start, _, base)| base + (addr - start) / size)
}

/// The spec in `slot`.
pub fn by_slot(slot: usize) -> Option<&'static CommandSpec> {
    table().specs.get(slot).copied()
}

/// Looks a command up by name, in any case.
#[inline]
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    if let Some(p) = Packed::new(name) {
        let t = table();
        let size = t.packed.len();
        let mut i = p.slot(size);
        // Ends at an empty slot: the table is never full.
        while let Some((q, spec)) = &t.packed[i] {
            if *q == p {
                return Some(spec);
            }
            i = (i + 1) & (size - 1);
        }
        return None;
    }
    let mut buf = [0u8; 32];
    if name.len() > buf.len() {
        return None;
    }
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    table().by_name.get(&*lower).copied()
}

/// Reads `NX`/`XX`-style flag arguments: helpers shared by families.
pub mod args {
    use crate::reply::{errors, Reply};
    use crate::util;

    /// Parses an integer argument.
    pub fn int(b: &[u8]) -> Result<i64, Reply> {
        util::arg_i64(b)
    }

    /// The syntax error reply.
    pub fn syntax() -> Reply {
        Reply::err(errors::SYNTAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_finds_every_command_in_any_case_and_nothing_else() {
        for spec in all() {
            let upper = spec.name.to_ascii_uppercase();
            for name in [spec.name.to_string(), upper] {
                let found = lookup(name.as_bytes()).map(|s| s.name);
                assert_eq!(found, Some(spec.name), "{name}");
            }
        }
        for bad in [
            &b""[..],
            b"ge",
            b"gett",
            b"get\0",
            b"\0get",
            b"g\xc3\xa9t",
            b"averyveryverylongcommandname",
        ] {
            assert!(lookup(bad).is_none(), "{bad:?}");
        }
    }
}
