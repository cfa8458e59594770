//! `Sso`: a byte string that keeps up to 22 bytes inline.
//!
//! Keys and small string values are stored in the entry itself, so a GET of a
//! short key touches no heap memory beyond the table. Longer strings live in a
//! reference-counted [`SharedBuf`], which a GET can hand out without copying
//! and which APPEND and SETRANGE edit in place when nobody else holds it.
//!
//! Invariant: a string of `INLINE_CAP` bytes or fewer is always `Inline`, so
//! equality and hashing can compare representations as bytes.

use super::shared::SharedBuf;
use std::hash::{Hash, Hasher};

/// Bytes kept inline.
pub const INLINE_CAP: usize = 22;

/// A short key in the form an inline `Sso` of its length stores it: its
/// length and the words of its zero-padded bytes at offsets 0, 8 and
/// `INLINE_CAP - 8` (see `Sso::inline_form`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InlineProbe {
    len: u8,
    words: [u64; 3],
}

/// The 8 bytes of `buf` at `at`, as a little-endian word.
#[inline(always)]
fn word_at(buf: &[u8], at: usize) -> u64 {
    u64::from_le_bytes(buf[at..at + 8].try_into().expect("8 bytes"))
}

/// The bytes `b[at..at + 8]` as a little-endian word, with the bytes at
/// or past `b.len()` read as zero (the padding of an inline buffer), from
/// at most two loads of `b`. `b.len() <= INLINE_CAP`.
#[inline(always)]
fn padded_word(b: &[u8], at: usize) -> u64 {
    let n = b.len();
    if at + 8 <= n {
        return word_at(b, at);
    }
    if at >= n {
        return 0;
    }
    let k = n - at; // 1..=7 bytes of `b` fall in this word
    if n >= 8 {
        // The last 8 bytes of `b`, shifted so that `b[at]` lands lowest.
        return word_at(b, n - 8) >> (8 * (8 - k));
    }
    // `at == 0` and `n < 8`: overlapping loads that together cover
    // `b[..n]`; where they overlap they carry the same bytes, so OR-ing
    // them is exact.
    if n >= 4 {
        let lo = u32::from_le_bytes(b[..4].try_into().expect("4 bytes")) as u64;
        let hi = u32::from_le_bytes(b[n - 4..].try_into().expect("4 bytes")) as u64;
        return lo | (hi << (8 * (n - 4)));
    }
    (b[0] as u64) | ((b[n / 2] as u64) << (8 * (n / 2))) | ((b[n - 1] as u64) << (8 * (n - 1)))
}

/// A compact, immutable-by-default byte string (24 bytes).
#[derive(Clone)]
pub enum Sso {
    /// Up to `INLINE_CAP` bytes, in place.
    Inline {
        /// Number of bytes used in `buf`.
        len: u8,
        /// The bytes; those past `len` are zero.
        buf: [u8; INLINE_CAP],
    },
    /// More than `INLINE_CAP` bytes, shared.
    Heap(SharedBuf),
}

impl Sso {
    /// The empty string.
    pub const EMPTY: Sso = Sso::Inline {
        len: 0,
        buf: [0; INLINE_CAP],
    };

    /// Copies `b` into a new string.
    #[inline]
    pub fn new(b: &[u8]) -> Sso {
        if b.len() <= INLINE_CAP {
            let mut buf = [0u8; INLINE_CAP];
            buf[..b.len()].copy_from_slice(b);
            Sso::Inline {
                len: b.len() as u8,
                buf,
            }
        } else {
            Sso::Heap(SharedBuf::from_slice(b))
        }
    }

    /// The bytes of `v` as a string (stays on the heap only when long).
    pub fn from_vec(v: Vec<u8>) -> Sso {
        Sso::new(&v)
    }

    /// The bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Sso::Inline { len, buf } => &buf[..*len as usize],
            Sso::Heap(v) => v.as_bytes(),
        }
    }

    /// `b` as the inline form a stored string of its length has (length
    /// and zero-padded bytes), when it is short enough to be inline.
    ///
    /// The form is built in registers from whole-word loads of `b` (no
    /// byte-wise copy into a stack buffer: reading such a buffer back as
    /// words stalls on store forwarding, which once cost a third of a
    /// lookup).
    #[inline]
    pub fn inline_form(b: &[u8]) -> Option<InlineProbe> {
        if b.len() > INLINE_CAP {
            return None;
        }
        Some(InlineProbe {
            len: b.len() as u8,
            words: [
                padded_word(b, 0),
                padded_word(b, 8),
                padded_word(b, INLINE_CAP - 8),
            ],
        })
    }

    /// Equality with an `inline_form`: three word compares.
    #[inline]
    pub fn inline_eq(&self, probe: &InlineProbe) -> bool {
        match self {
            Sso::Inline { len, buf } => {
                *len == probe.len
                    && word_at(buf, 0) == probe.words[0]
                    && word_at(buf, 8) == probe.words[1]
                    && word_at(buf, INLINE_CAP - 8) == probe.words[2]
            }
            Sso::Heap(_) => false,
        }
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        match self {
            Sso::Inline { len, .. } => *len as usize,
            Sso::Heap(v) => v.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes owned beyond the 24 bytes of the value itself.
    pub fn heap_size(&self) -> usize {
        match self {
            Sso::Inline { .. } => 0,
            Sso::Heap(v) => v.heap_size(),
        }
    }

    /// The shared buffer, when the bytes live on the heap.
    pub fn shared(&self) -> Option<&SharedBuf> {
        match self {
            Sso::Heap(v) => Some(v),
            Sso::Inline { .. } => None,
        }
    }

    /// Appends `add` (APPEND): in place when the bytes fit inline or the
    /// heap buffer is unshared with room, else into a buffer with room to
    /// grow, so that repeated appends cost amortised O(1) per byte.
    pub fn append(&mut self, add: &[u8]) {
        self.write_at(self.len(), add);
    }

    /// Writes `data` at `offset`, zero-padding a shorter string first
    /// (SETRANGE). The string never shrinks, so the inline invariant holds:
    /// a heap string stays longer than `INLINE_CAP`.
    pub fn write_at(&mut self, offset: usize, data: &[u8]) {
        let end = offset + data.len();
        match self {
            Sso::Heap(v) => v.write_at(offset, data),
            Sso::Inline { len, buf } if end <= INLINE_CAP => {
                buf[offset..end].copy_from_slice(data);
                *len = (*len).max(end as u8);
            }
            Sso::Inline { .. } => {
                let old = self.as_bytes();
                let new_len = end.max(old.len());
                let mut v = SharedBuf::with_capacity(old, new_len);
                v.write_at(offset, data);
                *self = Sso::Heap(v);
            }
        }
    }
}

impl Default for Sso {
    fn default() -> Self {
        Sso::EMPTY
    }
}

impl PartialEq for Sso {
    #[inline]
    fn eq(&self, other: &Sso) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Sso {}

impl Hash for Sso {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl std::fmt::Debug for Sso {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

/// Serialized as a plain byte string (MessagePack `bin`).
impl serde::Serialize for Sso {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.as_bytes())
    }
}

impl<'de> serde::Deserialize<'de> for Sso {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Sso, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Sso;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Sso, E> {
                Ok(Sso::new(v))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<Sso, E> {
                Ok(Sso::from_vec(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Sso, E> {
                Ok(Sso::new(v.as_bytes()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Sso, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = a.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(Sso::from_vec(out))
            }
        }
        d.deserialize_byte_buf(V)
    }
}

impl From<&[u8]> for Sso {
    fn from(b: &[u8]) -> Sso {
        Sso::new(b)
    }
}

impl From<&str> for Sso {
    fn from(s: &str) -> Sso {
        Sso::new(s.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_is_24_bytes() {
        assert_eq!(std::mem::size_of::<Sso>(), 24);
    }

    #[test]
    fn inline_and_heap_round_trip() {
        for n in [0, 1, 22, 23, 100] {
            let b: Vec<u8> = (0..n).map(|i| i as u8).collect();
            let s = Sso::new(&b);
            assert_eq!(s.as_bytes(), &b[..]);
            assert_eq!(matches!(s, Sso::Inline { .. }), n <= INLINE_CAP);
        }
    }

    #[test]
    fn inline_form_matches_the_stored_form() {
        for n in 0..=INLINE_CAP {
            let b: Vec<u8> = (1..=n as u8).collect();
            let form = Sso::inline_form(&b).unwrap();
            assert!(Sso::new(&b).inline_eq(&form), "length {n}");
            // Every byte counts, wherever the overlapping loads put it.
            for i in 0..n {
                let mut other = b.clone();
                other[i] ^= 0x80;
                assert!(!Sso::new(&other).inline_eq(&form), "length {n} byte {i}");
                assert_ne!(Sso::inline_form(&other), Some(form));
            }
            // A zero byte past the end is padding, not part of the key.
            let padded = [b.as_slice(), b"\0"].concat();
            assert!(!Sso::new(&padded).inline_eq(&form), "length {n} + NUL");
            assert!(!Sso::new(&[b.as_slice(), b"x"].concat()).inline_eq(&form));
        }
        assert!(Sso::inline_form(&[0u8; INLINE_CAP + 1]).is_none());
    }

    #[test]
    fn append_and_write_at_keep_invariant() {
        let mut s = Sso::new(b"abc");
        s.append(b"def");
        assert!(matches!(s, Sso::Inline { len: 6, .. }));
        s.write_at(8, b"xy");
        assert_eq!(s.as_bytes(), b"abcdef\0\0xy");
        assert!(matches!(s, Sso::Inline { .. }));
        s.append(&[1u8; 20]);
        assert!(matches!(s, Sso::Heap(_)));
        assert_eq!(s.len(), 30);
        assert_eq!(&s.as_bytes()[..10], b"abcdef\0\0xy");
        s.write_at(2, b"Q");
        assert_eq!(&s.as_bytes()[..4], b"abQd");
        assert_eq!(s.len(), 30);
    }
}
