//! The set type.
//!
//! Members live in a [`Dense`] index map: O(1) membership, insert and
//! remove, O(1) uniform random picks for SPOP/SRANDMEMBER, and a position
//! cursor for SSCAN.
//!
//! Encoding follows Redis 7.0 with its default thresholds: a set of at most
//! `set-max-intset-entries` (512) members that are all integers is an
//! `intset`, kept in ascending numeric order as Redis's intset is (so
//! SMEMBERS of a small integer set answers in the same order); anything else
//! is a `hashtable`. The conversion is one way, as in Redis.
//!
//! Invariant: while `hashtable` is false every member parses as an `i64`
//! (Redis's `string2ll`), there are at most `INTSET_MAX` of them, and they
//! are sorted by value.

use super::dense::Dense;
use super::Sso;
use crate::util::parse_i64_strict;

/// Largest intset (Redis's `set-max-intset-entries` default).
pub const INTSET_MAX: usize = 512;

/// A set of byte strings.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Set {
    members: Dense<Sso>,
    /// True once the set is a hashtable (never goes back).
    hashtable: bool,
}

impl Set {
    /// An empty set (intset-encoded until a non-integer arrives).
    pub fn new() -> Set {
        Set::default()
    }

    /// Builds a set from members (duplicates are ignored).
    pub fn from_members<I: IntoIterator<Item = B>, B: AsRef<[u8]>>(it: I) -> Set {
        let mut s = Set::new();
        for m in it {
            s.insert(m.as_ref());
        }
        s
    }

    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        if self.hashtable {
            "hashtable"
        } else {
            "intset"
        }
    }

    /// Number of members.
    #[inline]
    pub fn len(&self) -> usize {
        self.members.len()
    }

    /// True when the set has no members.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    /// True when `m` is a member.
    #[inline]
    pub fn contains(&self, m: &[u8]) -> bool {
        self.members.contains(m)
    }

    /// The members in storage order (numeric order for an intset).
    #[inline]
    pub fn members(&self) -> &[Sso] {
        self.members.items()
    }

    /// Iterates the members in storage order.
    pub fn iter(&self) -> impl Iterator<Item = &Sso> {
        self.members.items().iter()
    }

    /// The member at storage position `pos`.
    #[inline]
    pub fn at(&self, pos: usize) -> &Sso {
        self.members.at(pos)
    }

    /// Adds `m`; true when it was not a member.
    pub fn insert(&mut self, m: &[u8]) -> bool {
        if self.members.contains(m) {
            return false;
        }
        if !self.hashtable {
            match parse_i64_strict(m) {
                Some(v) if self.members.len() < INTSET_MAX => {
                    let pos = self
                        .members
                        .items()
                        .partition_point(|x| parse_i64_strict(x.as_bytes()).unwrap_or(0) < v);
                    self.members.insert_at(pos, Sso::new(m));
                    return true;
                }
                _ => self.hashtable = true,
            }
        }
        self.members.push_new(Sso::new(m));
        true
    }

    /// Removes `m`; true when it was a member.
    pub fn remove(&mut self, m: &[u8]) -> bool {
        match self.members.find(m) {
            Some(pos) => {
                self.remove_at(pos);
                true
            }
            None => false,
        }
    }

    /// Removes and returns the member at storage position `pos`.
    pub fn remove_at(&mut self, pos: usize) -> Sso {
        if self.hashtable {
            self.members.swap_remove(pos)
        } else {
            self.members.remove_ordered(pos)
        }
    }

    /// A uniformly random storage position (the set must not be empty).
    pub fn random_pos(&self, rng: &mut impl rand::Rng) -> usize {
        rng.gen_range(0..self.members.len())
    }

    /// Approximate heap bytes.
    pub fn heap_size(&self) -> usize {
        self.members.table_bytes() + self.iter().map(Sso::heap_size).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intset_stays_sorted_and_converts_once() {
        let mut s = Set::new();
        for m in ["5", "-3", "10", "0", "5"] {
            s.insert(m.as_bytes());
        }
        let v: Vec<&[u8]> = s.iter().map(|m| m.as_bytes()).collect();
        assert_eq!(v, [&b"-3"[..], b"0", b"5", b"10"]);
        assert_eq!(s.encoding(), "intset");
        s.insert(b"x");
        assert_eq!(s.encoding(), "hashtable");
        s.remove(b"x");
        assert_eq!(s.encoding(), "hashtable");
        assert!(s.contains(b"10") && !s.contains(b"x"));
    }

    #[test]
    fn intset_threshold() {
        let mut s = Set::new();
        for i in 0..INTSET_MAX {
            s.insert(i.to_string().as_bytes());
        }
        assert_eq!(s.encoding(), "intset");
        s.insert(b"100000");
        assert_eq!(s.encoding(), "hashtable");
        assert_eq!(s.len(), INTSET_MAX + 1);
        // "01" is not an integer in Redis's sense.
        let mut t = Set::new();
        t.insert(b"01");
        assert_eq!(t.encoding(), "hashtable");
    }
}
