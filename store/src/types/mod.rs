//! Value types: one file per type, as Redis has one `t_*.c` per type.
//!
//! A `Value` is 24 bytes. Strings of up to 22 bytes are stored inline; every
//! collection is boxed, so an entry stays small whatever it holds.

pub mod dense;
pub mod hash;
pub mod list;
pub mod set;
pub mod shared;
pub mod sso;
pub mod stream;
pub mod zindex;
pub mod zset;

pub use sso::Sso;

/// A stored value.
///
/// Invariant: every type serializes with serde and reads back equal; the
/// snapshot format (rmp-serde) depends on it, so a new type must too.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub enum Value {
    /// A string (Redis strings are binary-safe byte strings).
    Str(Sso),
    /// A list.
    List(Box<list::List>),
    /// A hash.
    Hash(Box<hash::Hash>),
    /// A set.
    Set(Box<set::Set>),
    /// A sorted set.
    ZSet(Box<zset::ZSet>),
    /// A stream.
    Stream(Box<stream::Stream>),
}

impl Value {
    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::List(_) => "list",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
            Value::Stream(_) => "stream",
        }
    }

    /// The name `OBJECT ENCODING` reports, chosen as Redis 7.0 would with its
    /// default thresholds.
    pub fn encoding(&self) -> &'static str {
        match self {
            Value::Str(s) => {
                let b = s.as_bytes();
                if b.len() <= 20 && crate::util::parse_i64_strict(b).is_some() {
                    "int"
                } else if b.len() <= 44 {
                    "embstr"
                } else {
                    "raw"
                }
            }
            Value::List(l) => l.encoding(),
            Value::Hash(h) => h.encoding(),
            Value::Set(s) => s.encoding(),
            Value::ZSet(z) => z.encoding(),
            Value::Stream(_) => "stream",
        }
    }

    /// Approximate heap bytes owned by the value beyond its 24 bytes.
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Str(s) => s.heap_size(),
            Value::List(l) => l.heap_size(),
            Value::Hash(h) => h.heap_size(),
            Value::Set(s) => s.heap_size(),
            Value::ZSet(z) => z.heap_size(),
            Value::Stream(s) => s.heap_size(),
        }
    }

    /// The string, when this is a string.
    pub fn as_str(&self) -> Option<&Sso> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }
}
