//! `Reply`: the one result type of every command.
//!
//! It is shaped like RESP3 so that nothing is lost on the way out: the NIF
//! turns it into Erlang terms, the listener into RESP2 or RESP3 bytes, and the
//! script bridge into Lua values. Each consumer downgrades the RESP3-only
//! shapes (maps, sets, doubles, booleans) the way Redis does for RESP2 clients.

use crate::types::shared::SharedBuf;
use std::borrow::Cow;
use std::fmt;
use std::ops::Deref;

/// Bytes of a bulk reply: inline (short), owned, or shared with the stored
/// value (so a large GET can hand the stored bytes out without copying
/// them).
///
/// Invariant: `Inline { len, buf }` has `len <= INLINE_BULK`; the bytes past
/// `len` are unspecified. Consumers read a `Bulk` through `Deref` only, so
/// which variant holds the bytes never changes what a reply means.
#[derive(Clone, Eq)]
pub enum Bulk {
    /// Up to `INLINE_BULK` bytes kept in the reply itself: a short value
    /// (the common GET) costs no heap allocation.
    Inline {
        /// Number of bytes used in `buf`.
        len: u8,
        /// The bytes.
        buf: [u8; INLINE_BULK],
    },
    /// Bytes owned by the reply.
    Owned(Vec<u8>),
    /// Bytes shared with a stored value (or among the receivers of one
    /// pub/sub message).
    Shared(SharedBuf),
}

/// Longest bulk kept inline in a `Reply` (the same bound as a stored
/// `Sso`, so every inline stored string replies without allocating).
pub const INLINE_BULK: usize = crate::types::sso::INLINE_CAP;

impl Bulk {
    /// A copy of `b`: inline when short, else on the heap.
    #[inline]
    pub fn copy(b: &[u8]) -> Bulk {
        if b.len() <= INLINE_BULK {
            let mut buf = [0u8; INLINE_BULK];
            buf[..b.len()].copy_from_slice(b);
            Bulk::Inline {
                len: b.len() as u8,
                buf,
            }
        } else {
            Bulk::Owned(b.to_vec())
        }
    }
}

impl Deref for Bulk {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        match self {
            Bulk::Inline { len, buf } => &buf[..*len as usize],
            Bulk::Owned(v) => v,
            Bulk::Shared(a) => a.as_bytes(),
        }
    }
}

/// Equal when the bytes are equal, whichever way they are held.
impl PartialEq for Bulk {
    fn eq(&self, other: &Bulk) -> bool {
        **self == **other
    }
}

impl fmt::Debug for Bulk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self))
    }
}

/// A command's reply, RESP3-shaped.
#[derive(Clone, Debug, PartialEq)]
pub enum Reply {
    /// `+OK`-style status line. Borrowed for the fixed texts (`OK`,
    /// `QUEUED`, ...), so that the common SET reply allocates nothing.
    Status(Cow<'static, str>),
    /// `-ERR ...` error line. The text carries its own prefix (`ERR`,
    /// `WRONGTYPE`, `EXECABORT`, ...), exactly as Redis writes it.
    Error(String),
    /// `:n` integer.
    Int(i64),
    /// `$n` bulk string.
    Bulk(Bulk),
    /// The null bulk string (`$-1` in RESP2, `_` in RESP3).
    Nil,
    /// The null array (`*-1` in RESP2, `_` in RESP3).
    NilArray,
    /// `*n` array.
    Array(Vec<Reply>),
    /// RESP3 map; a flat array of key, value, ... in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 set; an array in RESP2.
    Set(Vec<Reply>),
    /// RESP3 double; a bulk string in RESP2.
    Double(f64),
    /// RESP3 boolean; the integer 1 or 0 in RESP2.
    Bool(bool),
    /// RESP3 verbatim string (`=`); a bulk string in RESP2.
    Verbatim(String),
    /// RESP3 push (`>`); an array in RESP2. Used for pub/sub messages.
    Push(Vec<Reply>),
}

impl Reply {
    /// The `+OK` reply.
    #[inline]
    pub fn ok() -> Reply {
        Reply::Status(Cow::Borrowed("OK"))
    }

    /// A status reply with the given text.
    pub fn status(s: &str) -> Reply {
        Reply::Status(Cow::Owned(s.to_string()))
    }

    /// An array of status lines: the shape of every `<CMD> HELP` reply.
    pub fn status_lines(lines: &[&'static str]) -> Reply {
        Reply::Array(
            lines
                .iter()
                .map(|l| Reply::Status(Cow::Borrowed(l)))
                .collect(),
        )
    }

    /// An error reply. `msg` must carry its prefix (`ERR ...`).
    pub fn err(msg: impl Into<String>) -> Reply {
        Reply::Error(msg.into())
    }

    /// A bulk reply copied from `b` (inline, without allocating, when
    /// short).
    #[inline]
    pub fn bulk(b: &[u8]) -> Reply {
        Reply::Bulk(Bulk::copy(b))
    }

    /// A bulk reply taking ownership of `v`.
    pub fn bulk_vec(v: Vec<u8>) -> Reply {
        Reply::Bulk(Bulk::Owned(v))
    }

    /// A bulk reply from text.
    pub fn text(s: impl Into<String>) -> Reply {
        Reply::Bulk(Bulk::Owned(s.into().into_bytes()))
    }

    /// A bulk reply or nil.
    pub fn opt_bulk(b: Option<&[u8]>) -> Reply {
        match b {
            Some(b) => Reply::bulk(b),
            None => Reply::Nil,
        }
    }

    /// An array of bulk replies.
    pub fn bulks<I, B>(items: I) -> Reply
    where
        I: IntoIterator<Item = B>,
        B: AsRef<[u8]>,
    {
        Reply::Array(items.into_iter().map(|b| Reply::bulk(b.as_ref())).collect())
    }

    /// The error text, when this is an error reply.
    #[inline]
    pub fn error_text(&self) -> Option<&str> {
        match self {
            Reply::Error(msg) => Some(msg.as_str()),
            _ => None,
        }
    }

    /// True when this reply is an error.
    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// The bytes of a bulk, status or verbatim reply.
    pub fn as_bytes(&self) -> Option<&[u8]> {
        match self {
            Reply::Bulk(b) => Some(b),
            Reply::Status(s) => Some(s.as_bytes()),
            Reply::Verbatim(s) => Some(s.as_bytes()),
            _ => None,
        }
    }

    /// The integer of an `Int` reply.
    pub fn as_int(&self) -> Option<i64> {
        match self {
            Reply::Int(i) => Some(*i),
            _ => None,
        }
    }
}

/// Redis's fixed error texts, written once.
pub mod errors {
    /// `WRONGTYPE ...`
    pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
    /// `ERR syntax error`
    pub const SYNTAX: &str = "ERR syntax error";
    /// Integer parse failure.
    pub const NOT_INT: &str = "ERR value is not an integer or out of range";
    /// Float parse failure.
    pub const NOT_FLOAT: &str = "ERR value is not a valid float";
    /// `ERR no such key`
    pub const NO_SUCH_KEY: &str = "ERR no such key";
    /// Integer overflow on INCR-style commands.
    pub const OVERFLOW: &str = "ERR increment or decrement would overflow";
    /// DB index out of range.
    pub const DB_INDEX: &str = "ERR DB index is out of range";
    /// Timeout argument parse failure.
    pub const TIMEOUT_NOT_FLOAT: &str = "ERR timeout is not a float or out of range";
    /// Negative timeout.
    pub const TIMEOUT_NEGATIVE: &str = "ERR timeout is negative";
    /// Out-of-memory under `maxmemory` with noeviction.
    pub const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";
    /// String larger than `proto-max-bulk-len`.
    pub const STRING_TOO_LONG: &str =
        "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_bulks_are_inline_and_equal_to_owned() {
        for n in [0usize, 1, 16, INLINE_BULK, INLINE_BULK + 1, 1024] {
            let b: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let r = Reply::bulk(&b);
            let Reply::Bulk(bulk) = &r else {
                panic!("not a bulk")
            };
            assert_eq!(matches!(bulk, Bulk::Inline { .. }), n <= INLINE_BULK);
            assert_eq!(&**bulk, &b[..]);
            assert_eq!(r, Reply::bulk_vec(b.clone()));
            assert_eq!(r, Reply::Bulk(Bulk::Shared(SharedBuf::from_slice(&b))));
        }
    }

    #[test]
    fn reply_stays_small() {
        // Every command returns a Reply by value: keep it four words.
        assert!(std::mem::size_of::<Reply>() <= 32);
    }
}
