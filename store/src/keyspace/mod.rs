//! One database's keyspace: a dense entry vector with a hash index.
//!
//! Layout (an "index map"): `entries` holds every live entry contiguously and
//! `index` (`index.rs`) is an open-addressing table of positions into it,
//! each with 32 bits of its key's hash (8 bytes a slot). The stored hash
//! bits let the index resize without reading a single entry and skip
//! entries whose hash differs on lookup; a lookup reads one run of slots
//! (one cache miss) and then the entry. The index resizes incrementally,
//! as Redis's dict rehash: no insert or removal migrates more than a
//! bounded number of slots, so growing the keyspace never pauses a command
//! for a whole-table rehash. This keeps the cost of a key near 64 bytes of
//! entry plus 10-20 bytes of index, gives O(1) uniform random sampling
//! (RANDOMKEY, active expiry, eviction), and a SCAN cursor with Redis's
//! guarantee.
//!
//! Invariants kept here:
//! - `index` holds exactly the positions `0..entries.len()`, each with the
//!   tag (`tag_of`) of the hash of `entries[pos].key` (the index's own
//!   invariants, including those of an incremental resize, are in
//!   `index.rs`).
//! - `volatile` holds exactly the positions of entries with `expire_at != 0`,
//!   and `entries[p].vpos` is the slot of `p` in `volatile` (`NO_VPOS` when
//!   the entry has no expiry).
//! - Removal swaps the last entry into the hole. SCAN walks positions from
//!   the end toward the start, so an entry moved by a removal moves from the
//!   visited part into the unvisited part or stays where it was: a key that
//!   lives through the whole scan is always returned (perhaps twice).

mod index;

use crate::types::{Sso, Value};
use index::Index;
use std::hash::BuildHasher;

const NO_VPOS: u32 = u32::MAX;

/// The 32 hash bits an index slot keeps.
#[inline]
fn tag_of(hash: u64) -> u32 {
    (hash >> 32) as u32
}

/// One key and its value.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The key.
    pub key: Sso,
    /// The value.
    pub value: Value,
    /// Absolute expiry in Unix milliseconds; 0 means none.
    pub expire_at: u64,
    /// Access clock for LRU, or packed counter for LFU (as Redis's 24 bits).
    pub lru: u32,
    vpos: u32,
}

impl Entry {
    /// True when the entry has expired at `now`.
    #[inline]
    pub fn is_expired(&self, now: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now
    }
}

/// A database's keyspace.
pub struct Db {
    entries: Vec<Entry>,
    /// Positions of `entries` by key hash (see `index.rs`).
    index: Index,
    hasher: foldhash::fast::RandomState,
    volatile: Vec<u32>,
}

impl Default for Db {
    fn default() -> Self {
        Db::new()
    }
}

impl Db {
    /// An empty keyspace.
    pub fn new() -> Db {
        Db {
            entries: Vec::new(),
            index: Index::new(),
            hasher: foldhash::fast::RandomState::default(),
            volatile: Vec::new(),
        }
    }

    /// Number of keys, including expired keys not yet reclaimed.
    #[inline]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when the keyspace holds no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Number of keys with an expiry.
    pub fn volatile_len(&self) -> usize {
        self.volatile.len()
    }

    /// The index tag of `key` (see `tag_of`).
    #[inline]
    fn tag(&self, key: &[u8]) -> u32 {
        tag_of(self.hasher.hash_one(key))
    }

    /// The position of `key`, expired or not.
    #[inline]
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        let tag = self.tag(key);
        let entries = &self.entries;
        // A short key is compared as its fixed-size inline form (whole
        // words, no `memcmp` call): by `Sso`'s invariant a stored key of
        // that length is inline, with zeros past its length.
        if let Some(probe) = Sso::inline_form(key) {
            return self.index.find(tag, |p| entries[p].key.inline_eq(&probe));
        }
        self.index.find(tag, |p| entries[p].key.as_bytes() == key)
    }

    /// The entry at `pos`.
    #[inline]
    pub fn at(&self, pos: usize) -> &Entry {
        &self.entries[pos]
    }

    /// The entry at `pos`, mutably. Use `set_expire` to change the expiry.
    #[inline]
    pub fn at_mut(&mut self, pos: usize) -> &mut Entry {
        &mut self.entries[pos]
    }

    /// Inserts a key known to be absent; returns its position.
    pub fn insert_new(&mut self, key: &[u8], value: Value, lru: u32) -> usize {
        let pos = self.entries.len();
        // A plain push on 4 KiB pages: growth reallocates by moving pages
        // (no copy of the entries). Huge pages here measured +15-20% GET
        // throughput over 1M random keys, but with the kernel's
        // `defrag=madvise` the first touch of a grown, advised buffer
        // compacts memory synchronously: a SET stalled 50-100 ms (the
        // durability bench's write-latency check). Latency wins.
        self.entries.push(Entry {
            key: Sso::new(key),
            value,
            expire_at: 0,
            lru,
            vpos: NO_VPOS,
        });
        let tag = self.tag(key);
        self.index.insert(tag, pos);
        pos
    }

    /// Makes room for `additional` more keys without growing (snapshot
    /// and log loading pre-size the keyspace, so a large load never
    /// rehashes the index).
    pub fn reserve(&mut self, additional: usize) {
        self.entries.reserve(additional);
        self.index.reserve(self.entries.len() + additional);
    }

    /// Gives back what a [`Db::reserve`] over-estimated: shrinks the entry
    /// vector and the index when they are more than twice what they hold.
    pub fn shrink_to_fit(&mut self) {
        let len = self.entries.len();
        if self.entries.capacity() > 2 * len + 64 {
            self.entries.shrink_to_fit();
        }
        self.index.shrink_to_fit();
    }

    /// Removes the entry at `pos` and returns it (with its `expire_at`).
    pub fn remove_at(&mut self, pos: usize) -> Entry {
        let tag = self.tag(self.entries[pos].key.as_bytes());
        self.index.remove(tag, pos);
        let expire_at = self.entries[pos].expire_at;
        self.set_expire(pos, 0);
        let last = self.entries.len() - 1;
        if pos != last {
            let tl = self.tag(self.entries[last].key.as_bytes());
            self.index.repoint(tl, last, pos);
            let vp = self.entries[last].vpos;
            if vp != NO_VPOS {
                self.volatile[vp as usize] = pos as u32;
            }
        }
        let mut e = self.entries.swap_remove(pos);
        // The returned entry keeps its expiry (it is out of `volatile`).
        e.expire_at = expire_at;
        self.maybe_shrink();
        e
    }

    /// Shrinks the entry vector when it is less than 1/8 full (the index
    /// shrinks itself, incrementally, in `Index::remove`).
    fn maybe_shrink(&mut self) {
        let cap = self.entries.capacity();
        if cap > 64 && self.entries.len() * 8 < cap {
            self.entries.shrink_to(self.entries.len() * 2);
        }
    }

    /// Sets (or with 0 clears) the expiry of the entry at `pos`.
    pub fn set_expire(&mut self, pos: usize, at: u64) {
        let e = &mut self.entries[pos];
        e.expire_at = at;
        match (at != 0, e.vpos != NO_VPOS) {
            (true, false) => {
                e.vpos = self.volatile.len() as u32;
                self.volatile.push(pos as u32);
            }
            (false, true) => {
                let vp = e.vpos as usize;
                e.vpos = NO_VPOS;
                let moved = *self.volatile.last().unwrap();
                self.volatile.swap_remove(vp);
                if vp < self.volatile.len() {
                    self.entries[moved as usize].vpos = vp as u32;
                }
            }
            _ => {}
        }
    }

    /// The positions of every entry with an expiry, in no particular order.
    pub fn volatile_positions(&self) -> &[u32] {
        &self.volatile
    }

    /// The positions of entries that have expired at `now`, highest first,
    /// so that removing them in this order with `remove_at` never moves one
    /// still to be removed (removal only moves the last entry, which is above
    /// every position left to remove).
    pub fn expired_positions(&self, now: u64) -> Vec<usize> {
        let mut out: Vec<usize> = self
            .volatile
            .iter()
            .map(|&p| p as usize)
            .filter(|&p| self.entries[p].is_expired(now))
            .collect();
        out.sort_unstable_by(|a, b| b.cmp(a));
        out
    }

    /// A uniformly random position, if any.
    pub fn random_pos(&self, rng: &mut impl rand::Rng) -> Option<usize> {
        if self.entries.is_empty() {
            None
        } else {
            Some(rng.gen_range(0..self.entries.len()))
        }
    }

    /// A uniformly random position among keys with an expiry.
    pub fn random_volatile(&self, rng: &mut impl rand::Rng) -> Option<usize> {
        if self.volatile.is_empty() {
            None
        } else {
            Some(self.volatile[rng.gen_range(0..self.volatile.len())] as usize)
        }
    }

    /// Drops every key.
    pub fn clear(&mut self) {
        *self = Db {
            hasher: self.hasher.clone(),
            ..Db::new()
        };
    }

    /// All entries, in storage order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// One SCAN step: visits up to `count` positions below `cursor` (0 means
    /// start) and returns the next cursor (0 when done) and the positions.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<usize>) {
        let n = self.entries.len() as u64;
        let start = if cursor == 0 { n } else { cursor.min(n) };
        let end = start.saturating_sub(count.max(1) as u64);
        let positions = (end..start).rev().map(|p| p as usize).collect();
        (end, positions)
    }

    /// Advances an incremental resize of the index by one bounded step
    /// (at most a few microseconds); returns whether one is still under way.
    /// Inserts and removals take these steps themselves; a periodic task
    /// (as Redis's `serverCron` rehash) can call this so that a keyspace
    /// that stops changing also finishes its resize and frees the old
    /// table.
    pub fn resize_step(&mut self) -> bool {
        self.index.resize_step()
    }

    /// True while an incremental resize of the index is under way.
    pub fn resizing(&self) -> bool {
        self.index.draining()
    }

    /// Bytes the table itself occupies (entries and index), excluding values'
    /// heap memory.
    pub fn table_bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Entry>()
            + self.index.bytes()
            + self.volatile.capacity() * 4
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::HashMap;

    fn s(v: &str) -> Value {
        Value::Str(Sso::from(v))
    }

    #[test]
    fn entry_is_compact() {
        assert!(std::mem::size_of::<Entry>() <= 64);
    }

    #[test]
    fn insert_find_remove_keeps_index() {
        let mut db = Db::new();
        for i in 0..1000 {
            db.insert_new(format!("k{i}").as_bytes(), s("v"), 0);
        }
        for i in (0..1000).step_by(3) {
            let p = db.find(format!("k{i}").as_bytes()).unwrap();
            db.set_expire(p, 5);
        }
        for i in (0..1000).step_by(2) {
            let p = db.find(format!("k{i}").as_bytes()).unwrap();
            let e = db.remove_at(p);
            assert_eq!(e.key.as_bytes(), format!("k{i}").as_bytes());
        }
        assert_eq!(db.len(), 500);
        for i in 0..1000 {
            let p = db.find(format!("k{i}").as_bytes());
            assert_eq!(p.is_some(), i % 2 == 1);
            if let Some(p) = p {
                assert_eq!(db.at(p).expire_at != 0, i % 3 == 0);
            }
        }
        let vol = (0..1000).filter(|i| i % 2 == 1 && i % 3 == 0).count();
        assert_eq!(db.volatile_len(), vol);
        for &p in &db.volatile {
            assert_ne!(db.at(p as usize).expire_at, 0);
        }
    }

    #[test]
    fn scan_never_misses_survivors() {
        let mut db = Db::new();
        for i in 0..500 {
            db.insert_new(format!("k{i}").as_bytes(), s("v"), 0);
        }
        let mut seen = std::collections::HashSet::new();
        let mut cursor = 0;
        let mut deleted = 0;
        loop {
            let (next, ps) = db.scan(cursor, 10);
            for p in ps {
                seen.insert(db.at(p).key.as_bytes().to_vec());
            }
            // Delete some keys mid-scan (only odd-numbered ones).
            for _ in 0..3 {
                let k = format!("k{}", deleted * 2 + 1);
                deleted += 1;
                if let Some(p) = db.find(k.as_bytes()) {
                    db.remove_at(p);
                }
            }
            if next == 0 {
                break;
            }
            cursor = next;
        }
        for i in (0..500).step_by(2) {
            assert!(seen.contains(format!("k{i}").as_bytes()), "missed k{i}");
        }
    }

    #[derive(Clone, Debug)]
    enum Op {
        Set(u16, u32),
        Get(u16),
        Del(u16),
        RemoveAt(u16),
        Expire(u16, u8),
        Clear,
        Reserve(u16),
        Shrink,
    }

    fn op() -> impl Strategy<Value = Op> {
        let k = 0u16..400;
        prop_oneof![
            20 => (k.clone(), any::<u32>()).prop_map(|(k, v)| Op::Set(k, v)),
            6 => k.clone().prop_map(Op::Get),
            8 => k.clone().prop_map(Op::Del),
            3 => any::<u16>().prop_map(Op::RemoveAt),
            4 => (k, any::<u8>()).prop_map(|(k, t)| Op::Expire(k, t)),
            1 => (0..10).prop_map(|_| Op::Clear),
            1 => (0u16..500).prop_map(Op::Reserve),
            1 => Just(Op::Shrink),
        ]
    }

    /// Key `n`: short (inline) names, and every fifth one longer than
    /// `Sso`'s inline capacity.
    fn name(n: u16) -> Vec<u8> {
        if n.is_multiple_of(5) {
            format!("a-rather-long-key-name-number-{n}").into_bytes()
        } else {
            format!("k{n}").into_bytes()
        }
    }

    /// Asserts `db` holds exactly `model` (key -> (lru as value, expiry))
    /// and its index's invariants hold.
    fn check(db: &Db, model: &HashMap<Vec<u8>, (u32, u64)>) {
        assert_eq!(db.len(), model.len());
        let tags: Vec<u32> = db
            .entries
            .iter()
            .map(|e| db.tag(e.key.as_bytes()))
            .collect();
        db.index.check(&tags);
        for (k, &(v, exp)) in model {
            let p = db.find(k).expect("key lost");
            let e = db.at(p);
            assert_eq!(e.key.as_bytes(), &k[..]);
            assert_eq!((e.lru, e.expire_at), (v, exp));
        }
        for n in 400..410 {
            assert_eq!(db.find(&name(n)), None);
        }
        let vol = model.values().filter(|&&(_, exp)| exp != 0).count();
        assert_eq!(db.volatile_len(), vol);
        for &p in db.volatile_positions() {
            assert_ne!(db.at(p as usize).expire_at, 0);
        }
    }

    #[test]
    fn reserve_sizes_once_and_resize_steps_finish_a_drain() {
        let mut db = Db::new();
        db.reserve(5000);
        let bytes = db.table_bytes();
        for i in 0..5000 {
            db.insert_new(format!("k{i}").as_bytes(), s("v"), 0);
            assert!(!db.index.draining());
        }
        assert_eq!(db.table_bytes(), bytes);
        // The next growth drains; with no further writes, resize steps
        // finish it and every key is still found meanwhile.
        let mut i = 5000;
        while !db.index.draining() {
            db.insert_new(format!("k{i}").as_bytes(), s("v"), 0);
            i += 1;
        }
        let mut steps = 0;
        while db.resize_step() {
            steps += 1;
            for j in (0..i).step_by(97) {
                let p = db.find(format!("k{j}").as_bytes()).unwrap();
                assert_eq!(db.at(p).key.as_bytes(), format!("k{j}").as_bytes());
            }
        }
        assert!(steps > 10 && !db.index.draining());
        assert_eq!(db.find(b"absent"), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(150))]

        /// Random interleavings of every `Db` operation against a model,
        /// from an empty keyspace, so that the index grows, drains and
        /// shrinks throughout (and is checked mid-drain).
        #[test]
        fn db_matches_model(ops in proptest::collection::vec(op(), 0..700)) {
            let mut db = Db::new();
            let mut model: HashMap<Vec<u8>, (u32, u64)> = HashMap::new();
            for op in ops {
                match op {
                    Op::Set(n, v) => {
                        let k = name(n);
                        match db.find(&k) {
                            Some(p) => db.at_mut(p).lru = v,
                            None => {
                                db.insert_new(&k, s("v"), v);
                            }
                        }
                        model.entry(k).or_insert((0, 0)).0 = v;
                    }
                    Op::Get(n) => {
                        let k = name(n);
                        prop_assert_eq!(db.find(&k).is_some(), model.contains_key(&k));
                    }
                    Op::Del(n) => {
                        let k = name(n);
                        if let Some(p) = db.find(&k) {
                            let e = db.remove_at(p);
                            prop_assert_eq!(e.key.as_bytes(), &k[..]);
                            let (v, exp) = model.remove(&k).unwrap();
                            prop_assert_eq!((e.lru, e.expire_at), (v, exp));
                        } else {
                            prop_assert!(!model.contains_key(&k));
                        }
                    }
                    Op::RemoveAt(i) => {
                        if !db.is_empty() {
                            let e = db.remove_at(i as usize % db.len());
                            prop_assert!(model.remove(e.key.as_bytes()).is_some());
                        }
                    }
                    Op::Expire(n, t) => {
                        let k = name(n);
                        if let Some(p) = db.find(&k) {
                            db.set_expire(p, t as u64);
                            model.get_mut(&k).unwrap().1 = t as u64;
                        }
                    }
                    Op::Clear => {
                        db.clear();
                        model.clear();
                    }
                    Op::Reserve(n) => db.reserve(n as usize),
                    Op::Shrink => db.shrink_to_fit(),
                }
                check(&db, &model);
            }
        }
    }
}
