//! The sorted set type: a member → score map plus an ordered index of
//! (score, member), as Redis's `t_zset.c` keeps a dict and a skiplist side
//! by side. The index here is a counted B+tree ([`OrderIndex`], in
//! `zindex.rs`) rather than a skiplist: rank and access by rank are
//! O(log n) and a search touches a few wide nodes instead of ~25 scattered
//! skiplist nodes.
//!
//! Invariants kept here:
//! - The hash table over `slots` and the index hold exactly the same
//!   (member, score) pairs, and no score is NaN.
//! - `big` (the "skiplist" encoding, Redis's name) is set once the set
//!   outgrows Redis's listpack thresholds and is never cleared, as Redis
//!   never converts back. It is unrelated to the index's structure.

use super::Sso;
use hashbrown::HashTable;
use std::hash::BuildHasher;

pub use super::zindex::{cmp_entry, OrderIndex, Pos, NIL};

/// How an add changed the set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    /// The member was new.
    New,
    /// The member existed and its score changed.
    Updated,
    /// The member existed with the same score.
    Same,
}

/// A sorted set.
///
/// Members live in `slots` (dense, swap-remove on delete) indexed by the
/// hash table `table`, and in the ordered index `list`. The dense slots give O(1)
/// random members and a SCAN cursor that never misses a member present for
/// the whole scan: the cursor walks slots from the end toward the start, and
/// a removal only moves the last slot (already visited) into a hole.
#[derive(Clone, Debug)]
pub struct ZSet {
    table: HashTable<u32, crate::hugepage::HugeAlloc>,
    slots: Vec<(Sso, f64)>,
    hasher: foldhash::fast::RandomState,
    list: OrderIndex,
    big: bool,
    /// Heap bytes of the members' own storage (sum of `Sso::heap_size`
    /// over `slots`), kept by `insert_new` and `remove` so that
    /// `heap_size` is O(1) for the memory sampler.
    member_heap: usize,
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet {
            table: HashTable::new_in(crate::hugepage::HugeAlloc),
            slots: Vec::new(),
            hasher: foldhash::fast::RandomState::default(),
            list: OrderIndex::new(),
            big: false,
            member_heap: 0,
        }
    }
}

/// Redis 7.0's default `zset-max-listpack-entries`.
pub const LISTPACK_ENTRIES: usize = 128;
/// Redis 7.0's default `zset-max-listpack-value`.
pub const LISTPACK_VALUE: usize = 64;

impl ZSet {
    /// An empty set.
    pub fn new() -> ZSet {
        ZSet::default()
    }

    /// Number of members.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    #[inline]
    fn slot_of(&self, member: &[u8]) -> Option<usize> {
        let h = self.hasher.hash_one(member);
        let slots = &self.slots;
        self.table
            .find(h, |&i| slots[i as usize].0.as_bytes() == member)
            .map(|&i| i as usize)
    }

    /// The score of `member`.
    #[inline]
    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.slot_of(member).map(|i| self.slots[i].1)
    }

    /// Sets `member`'s score (adding it when absent). `score` must not be
    /// NaN.
    pub fn set(&mut self, member: &[u8], mut score: f64) -> Added {
        debug_assert!(!score.is_nan());
        // A listpack keeps scores as text, where -0 reads back as 0.
        if !self.big && score == 0.0 {
            score = 0.0;
        }
        match self.slot_of(member) {
            Some(i) => {
                let prev = self.slots[i].1;
                if prev == score {
                    return Added::Same;
                }
                self.slots[i].1 = score;
                let moved = self.list.update(prev, member, score);
                debug_assert!(moved);
                Added::Updated
            }
            None => {
                self.insert_new(member, score);
                Added::New
            }
        }
    }

    /// Adds `member`, known to be absent (the caller just looked it up),
    /// with `score` (not NaN): `set` without the second lookup.
    pub fn insert_new(&mut self, member: &[u8], mut score: f64) {
        debug_assert!(!score.is_nan());
        debug_assert!(self.slot_of(member).is_none());
        if !self.big && score == 0.0 {
            score = 0.0;
        }
        let m = Sso::new(member);
        self.member_heap += m.heap_size();
        self.list.insert(score, m.clone());
        let pos = self.slots.len() as u32;
        crate::hugepage::push_advised(&mut self.slots, (m, score));
        let h = self.hasher.hash_one(member);
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.table
            .insert_unique(h, pos, |&i| hasher.hash_one(slots[i as usize].0.as_bytes()));
    }

    /// Removes `member`; true when present.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        let h = self.hasher.hash_one(member);
        let slots = &self.slots;
        let Ok(e) = self
            .table
            .find_entry(h, |&i| slots[i as usize].0.as_bytes() == member)
        else {
            return false;
        };
        let (&pos, _) = (e.get(), ());
        e.remove();
        let pos = pos as usize;
        let last = self.slots.len() - 1;
        if pos != last {
            let hl = self.hasher.hash_one(self.slots[last].0.as_bytes());
            if let Some(slot) = self.table.find_mut(hl, |&i| i as usize == last) {
                *slot = pos as u32;
            }
        }
        let (m, score) = self.slots.swap_remove(pos);
        self.member_heap -= m.heap_size();
        let removed = self.list.remove(score, m.as_bytes());
        debug_assert!(removed);
        // A set that shrank a lot gives its slots and table memory back
        // (amortised O(1): it takes len removals to get here again).
        let len = self.slots.len();
        if self.slots.capacity() >= 64 && len * 4 <= self.slots.capacity() {
            self.slots.shrink_to(len * 2);
            let (slots, hasher) = (&self.slots, &self.hasher);
            self.table.shrink_to(len * 2, |&i| {
                hasher.hash_one(slots[i as usize].0.as_bytes())
            });
        }
        true
    }

    /// Notes the size and member length after a write and switches to the
    /// skiplist encoding past the thresholds, as Redis converts.
    pub fn note_encoding(&mut self, max_entries: usize, max_value: usize, member_len: usize) {
        if self.len() > max_entries || member_len > max_value {
            self.big = true;
        }
    }

    /// Picks the encoding from scratch (for sets built by a store command
    /// or loaded from a snapshot).
    pub fn reset_encoding(&mut self, max_entries: usize, max_value: usize) {
        self.big = self.len() > max_entries || self.slots.iter().any(|(m, _)| m.len() > max_value);
    }

    /// True in the skiplist encoding (a big set).
    pub fn is_big(&self) -> bool {
        self.big
    }

    /// The 0-based rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        self.list.rank(score, member)
    }

    /// The ordered index.
    pub fn list(&self) -> &OrderIndex {
        &self.list
    }

    /// The member and score at 0-based ascending rank `r`.
    pub fn at_rank(&self, r: usize) -> Option<(&Sso, f64)> {
        let x = self.list.at_rank(r);
        (x != NIL).then(|| self.list.get(x))
    }

    /// Iterates members in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = (&Sso, f64)> + '_ {
        Iter {
            list: &self.list,
            front: self.list.first(),
            back: self.list.last(),
            left: self.list.len(),
        }
    }

    /// Iterates from node `start` toward higher ranks, or toward lower ranks
    /// when `rev`.
    pub fn walk(&self, start: Pos, rev: bool) -> impl Iterator<Item = (&Sso, f64)> + '_ {
        let list = &self.list;
        let mut x = start;
        std::iter::from_fn(move || {
            if x == NIL {
                return None;
            }
            let item = list.get(x);
            x = if rev { list.pred(x) } else { list.succ(x) };
            Some(item)
        })
    }

    /// The member and score in dense slot `i` (`0..len()`), for random
    /// sampling and SCAN.
    pub fn slot(&self, i: usize) -> (&Sso, f64) {
        let (m, s) = &self.slots[i];
        (m, *s)
    }

    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        if self.big {
            "skiplist"
        } else {
            "listpack"
        }
    }

    /// Approximate heap bytes.
    pub fn heap_size(&self) -> usize {
        self.table.capacity() * 5
            + self.slots.capacity() * 32
            + self.list.heap_size()
            + self.len() * 12
            + self.member_heap
    }

    /// Checks every invariant (used by tests).
    pub fn check(&self) {
        self.list.check();
        assert_eq!(self.list.len(), self.slots.len());
        assert_eq!(self.table.len(), self.slots.len());
        let heap: usize = self.slots.iter().map(|(m, _)| m.heap_size()).sum();
        assert_eq!(self.member_heap, heap, "member_heap");
        for (i, (m, s)) in self.slots.iter().enumerate() {
            assert_eq!(self.slot_of(m.as_bytes()), Some(i));
            assert!(self.list.rank(*s, m.as_bytes()).is_some());
        }
    }
}

struct Iter<'a> {
    list: &'a OrderIndex,
    front: Pos,
    back: Pos,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a Sso, f64);
    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let x = self.front;
        self.front = self.list.succ(x);
        self.left -= 1;
        Some(self.list.get(x))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        let x = self.back;
        self.back = self.list.pred(x);
        self.left -= 1;
        Some(self.list.get(x))
    }
}

/// Serialized as the ordered list of (member, score) pairs; the index
/// and encoding are rebuilt on load.
impl serde::Serialize for ZSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeSeq;
        let mut seq = s.serialize_seq(Some(self.len()))?;
        for (m, score) in self.iter() {
            seq.serialize_element(&(m, score))?;
        }
        seq.end()
    }
}

impl<'de> serde::Deserialize<'de> for ZSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<ZSet, D::Error> {
        let pairs: Vec<(Sso, f64)> = serde::Deserialize::deserialize(d)?;
        if pairs.iter().any(|(_, s)| s.is_nan()) {
            return Err(serde::de::Error::custom("NaN score in sorted set"));
        }
        Ok(ZSet::from_pairs(pairs))
    }
}

impl ZSet {
    /// A set of `pairs` (no NaN score), as if `set` one after the other on
    /// an empty set (a later pair for the same member wins), with the
    /// encoding picked from scratch. Pairs in strictly ascending order with
    /// distinct members (what serialization writes) are bulk-loaded: the
    /// index is built in O(n) instead of n insertions.
    pub fn from_pairs(pairs: Vec<(Sso, f64)>) -> ZSet {
        let mut z = ZSet::new();
        // Loading into a fresh set: scores as `set` stores them before the
        // encoding is picked (a listpack reads -0 back as 0).
        let norm = |s: f64| if s == 0.0 { 0.0 } else { s };
        let ascending = pairs.windows(2).all(|w| {
            let ((m1, s1), (m2, s2)) = (&w[0], &w[1]);
            cmp_entry(norm(*s1), m1.as_bytes(), norm(*s2), m2.as_bytes()).is_lt()
        });
        if ascending {
            z.slots.reserve_exact(pairs.len());
            crate::hugepage::advise_vec(&z.slots);
            let mut distinct = true;
            for (m, s) in &pairs {
                if z.slot_of(m.as_bytes()).is_some() {
                    distinct = false;
                    break;
                }
                z.member_heap += m.heap_size();
                let pos = z.slots.len() as u32;
                z.slots.push((m.clone(), norm(*s)));
                let h = z.hasher.hash_one(m.as_bytes());
                let (slots, hasher) = (&z.slots, &z.hasher);
                z.table
                    .insert_unique(h, pos, |&i| hasher.hash_one(slots[i as usize].0.as_bytes()));
            }
            if distinct {
                z.list =
                    OrderIndex::from_sorted(z.slots.iter().map(|(m, s)| (*s, m.clone())).collect());
                z.reset_encoding(LISTPACK_ENTRIES, LISTPACK_VALUE);
                return z;
            }
            z = ZSet::new();
        }
        for (m, score) in pairs {
            z.set(m.as_bytes(), score);
        }
        z.reset_encoding(LISTPACK_ENTRIES, LISTPACK_VALUE);
        z
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_rank_remove() {
        let mut z = ZSet::new();
        for i in 0..1000u32 {
            z.set(format!("m{i}").as_bytes(), (i % 37) as f64);
        }
        z.check();
        let ordered: Vec<_> = z.iter().map(|(m, s)| (m.clone(), s)).collect();
        for (r, (m, _)) in ordered.iter().enumerate() {
            assert_eq!(z.rank(m.as_bytes()), Some(r));
            assert_eq!(z.at_rank(r).unwrap().0, m);
        }
        for i in (0..1000u32).step_by(3) {
            assert!(z.remove(format!("m{i}").as_bytes()));
            assert!(!z.remove(format!("m{i}").as_bytes()));
        }
        z.check();
        assert_eq!(z.len(), 666);
        let back: Vec<_> = z.iter().rev().map(|(m, _)| m.clone()).collect();
        let mut fwd: Vec<_> = z.iter().map(|(m, _)| m.clone()).collect();
        fwd.reverse();
        assert_eq!(back, fwd);
    }

    /// Score updates, removals and re-inserts against a model map, on a
    /// set big enough for a multi-level index; then a shrink to a few
    /// members gives the index memory back.
    #[test]
    fn update_remove_reinsert_against_model() {
        use std::collections::BTreeMap;
        let mut z = ZSet::new();
        let mut model: BTreeMap<Vec<u8>, f64> = BTreeMap::new();
        let mut x = 0x2545_F491_4F6C_DD1Du64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for round in 0..30_000u32 {
            let m = format!("m{}", rnd() % 3000).into_bytes();
            let score = (rnd() % 50) as f64 - 25.0;
            match rnd() % 4 {
                0 => assert_eq!(z.remove(&m), model.remove(&m).is_some()),
                _ => {
                    let want = match model.insert(m.clone(), score) {
                        None => Added::New,
                        Some(old) if old == score => Added::Same,
                        Some(_) => Added::Updated,
                    };
                    assert_eq!(z.set(&m, score), want);
                }
            }
            if round % 5000 == 0 {
                z.check();
            }
        }
        z.check();
        let mut sorted: Vec<(f64, Vec<u8>)> = model.iter().map(|(m, s)| (*s, m.clone())).collect();
        sorted.sort_by(|a, b| cmp_entry(a.0, &a.1, b.0, &b.1));
        let got: Vec<(f64, Vec<u8>)> = z.iter().map(|(m, s)| (s, m.as_bytes().to_vec())).collect();
        assert_eq!(got, sorted);
        for (r, (s, m)) in sorted.iter().enumerate() {
            assert_eq!(z.rank(m), Some(r));
            assert_eq!(z.score(m), Some(*s));
        }
        let big = z.list.heap_size();
        assert!(z.slots.capacity() >= 2000);
        let keep: Vec<Vec<u8>> = sorted.iter().take(5).map(|(_, m)| m.clone()).collect();
        for (_, m) in &sorted[5..] {
            assert!(z.remove(m));
        }
        z.check();
        assert_eq!(z.len(), 5);
        // At most the 16 leaves below which the index is not rebuilt.
        assert!(big > 100_000);
        assert!(
            z.list.heap_size() < 20_000,
            "{} of {big}",
            z.list.heap_size()
        );
        for m in &keep {
            assert!(z.remove(m));
        }
        z.check();
        assert!(z.is_empty());
    }

    /// Serialization round trip (bulk-loaded), and the per-pair fallback
    /// for input out of order or with a repeated member.
    #[test]
    fn from_pairs_bulk_and_fallback() {
        let mut z = ZSet::new();
        for i in 0..3000u32 {
            z.set(format!("m{i}").as_bytes(), (i % 17) as f64 - 8.0);
        }
        z.set(b"negzero", -0.0);
        z.note_encoding(LISTPACK_ENTRIES, LISTPACK_VALUE, 0);
        let bytes = rmp_serde::to_vec(&z).unwrap();
        let back: ZSet = rmp_serde::from_slice(&bytes).unwrap();
        back.check();
        assert!(back.is_big());
        let a: Vec<_> = z.iter().map(|(m, s)| (m.clone(), s)).collect();
        let b: Vec<_> = back.iter().map(|(m, s)| (m.clone(), s)).collect();
        assert_eq!(a, b);
        assert_eq!(back.rank(b"m5"), z.rank(b"m5"));
        // Out of order, and a repeated member (the later score wins).
        let pairs = vec![
            (Sso::new(b"b"), 2.0),
            (Sso::new(b"a"), 1.0),
            (Sso::new(b"c"), 3.0),
        ];
        let z = ZSet::from_pairs(pairs);
        z.check();
        assert_eq!(z.rank(b"a"), Some(0));
        let pairs = vec![
            (Sso::new(b"a"), 1.0),
            (Sso::new(b"b"), 2.0),
            (Sso::new(b"a"), 3.0),
        ];
        let z = ZSet::from_pairs(pairs);
        z.check();
        assert_eq!(
            (z.len(), z.score(b"a"), z.rank(b"a")),
            (2, Some(3.0), Some(1))
        );
        assert!(!z.is_big());
        // -0 loads as 0 either way, as a fresh `set` stores it.
        let z = ZSet::from_pairs(vec![(Sso::new(b"x"), -0.0), (Sso::new(b"y"), 1.0)]);
        assert!(z.score(b"x").unwrap().is_sign_positive());
        z.check();
    }

    /// A small set's index is one leaf, allocated exactly.
    #[test]
    fn small_set_index_is_small() {
        let mut z = ZSet::new();
        assert_eq!(z.list.heap_size(), 0);
        z.set(b"a", 1.0);
        let one = z.list.heap_size();
        assert!(one <= 640, "{one}");
        for i in 0..10u32 {
            z.set(format!("m{i}").as_bytes(), i as f64);
        }
        assert!(z.list.heap_size() <= 3 * one, "{}", z.list.heap_size());
    }

    #[test]
    fn update_moves_member() {
        let mut z = ZSet::new();
        assert_eq!(z.set(b"a", 1.0), Added::New);
        assert_eq!(z.set(b"b", 2.0), Added::New);
        assert_eq!(z.set(b"a", 1.0), Added::Same);
        assert_eq!(z.set(b"a", 3.0), Added::Updated);
        assert_eq!(z.rank(b"a"), Some(1));
        assert_eq!(z.rank(b"b"), Some(0));
        z.check();
    }
}
