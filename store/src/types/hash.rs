//! The hash type.
//!
//! Fields live in a [`Dense`] index map of `(field, value)` pairs: O(1)
//! field access, O(1) random picks for HRANDFIELD and a position cursor for
//! HSCAN.
//!
//! Encoding follows Redis 7.0 with its default thresholds: up to
//! `hash-max-listpack-entries` (128) fields with every field and value at
//! most `hash-max-listpack-value` (64) bytes is a `listpack`, which keeps
//! insertion order (HGETALL answers in the order Redis would); anything
//! else is a `hashtable`. The conversion is one way, as in Redis.
//!
//! Invariant: while `hashtable` is false the pairs are in insertion order,
//! at most `LISTPACK_ENTRIES` of them, none longer than `LISTPACK_VALUE`.

use super::dense::Dense;
use super::Sso;

/// Largest listpack hash, in fields (`hash-max-listpack-entries`).
pub const LISTPACK_ENTRIES: usize = 128;
/// Longest field or value of a listpack hash (`hash-max-listpack-value`).
pub const LISTPACK_VALUE: usize = 64;

/// A hash of fields to values.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Hash {
    entries: Dense<(Sso, Sso)>,
    /// True once the hash is a hashtable (never goes back).
    hashtable: bool,
}

impl Hash {
    /// An empty hash.
    pub fn new() -> Hash {
        Hash::default()
    }

    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        if self.hashtable {
            "hashtable"
        } else {
            "listpack"
        }
    }

    /// Number of fields.
    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the hash has no fields.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The value of `field`.
    #[inline]
    pub fn get(&self, field: &[u8]) -> Option<&Sso> {
        self.entries.find(field).map(|p| &self.entries.at(p).1)
    }

    /// The `(field, value)` pairs in storage order.
    #[inline]
    pub fn entries(&self) -> &[(Sso, Sso)] {
        self.entries.items()
    }

    /// Iterates the pairs in storage order.
    pub fn iter(&self) -> impl Iterator<Item = &(Sso, Sso)> {
        self.entries.items().iter()
    }

    /// The pair at storage position `pos`.
    #[inline]
    pub fn at(&self, pos: usize) -> &(Sso, Sso) {
        self.entries.at(pos)
    }

    /// Converts to a hashtable when a field or value of `len` bytes arrives
    /// that a listpack cannot hold (Redis checks every argument of HSET
    /// before writing).
    #[inline]
    pub fn note_len(&mut self, len: usize) {
        if len > LISTPACK_VALUE {
            self.hashtable = true;
        }
    }

    /// Sets `field` to `value`; true when the field is new.
    pub fn set(&mut self, field: &[u8], value: Sso) -> bool {
        self.note_len(field.len());
        self.note_len(value.len());
        match self.entries.find(field) {
            Some(p) => {
                self.entries.at_mut(p).1 = value;
                false
            }
            None => {
                self.entries.push_new((Sso::new(field), value));
                if self.entries.len() > LISTPACK_ENTRIES {
                    self.hashtable = true;
                }
                true
            }
        }
    }

    /// Removes `field`; true when it existed.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self.entries.find(field) {
            Some(p) => {
                if self.hashtable {
                    self.entries.swap_remove(p);
                } else {
                    self.entries.remove_ordered(p);
                }
                true
            }
            None => false,
        }
    }

    /// A uniformly random storage position (the hash must not be empty).
    pub fn random_pos(&self, rng: &mut impl rand::Rng) -> usize {
        rng.gen_range(0..self.entries.len())
    }

    /// Approximate heap bytes.
    pub fn heap_size(&self) -> usize {
        self.entries.table_bytes()
            + self
                .iter()
                .map(|(k, v)| k.heap_size() + v.heap_size())
                .sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_keeps_insertion_order_and_converts() {
        let mut h = Hash::new();
        for f in ["c", "a", "b"] {
            h.set(f.as_bytes(), Sso::from("v"));
        }
        h.remove(b"c");
        h.set(b"c", Sso::from("w"));
        let order: Vec<&[u8]> = h.iter().map(|(f, _)| f.as_bytes()).collect();
        assert_eq!(order, [&b"a"[..], b"b", b"c"]);
        assert_eq!(h.encoding(), "listpack");
        h.set(b"long", Sso::new(&[b'x'; 65]));
        assert_eq!(h.encoding(), "hashtable");
        h.remove(b"long");
        assert_eq!(h.encoding(), "hashtable");
        assert_eq!(h.get(b"c").map(|v| v.as_bytes()), Some(&b"w"[..]));
    }

    #[test]
    fn listpack_entry_threshold() {
        let mut h = Hash::new();
        for i in 0..LISTPACK_ENTRIES {
            h.set(i.to_string().as_bytes(), Sso::from("v"));
        }
        assert_eq!(h.encoding(), "listpack");
        h.set(b"one-more", Sso::from("v"));
        assert_eq!(h.encoding(), "hashtable");
    }
}
