//! The keyspace's hash index: positions into `Db::entries`, each with 32
//! bits of its key's hash, in an open-addressing table that grows (and
//! shrinks) incrementally.
//!
//! A slot is one `u64` word: the low half is the position plus one (0 means
//! an empty slot, so a table is a fresh zeroed allocation the kernel pages
//! in lazily), the high half the key's tag. A lookup reads consecutive
//! slots from the tag's home bucket (linear probing) and only looks at an
//! entry whose tag matches: one cache miss for the probe, one for the entry.
//! The home bucket is the top bits of `table_hash(tag)`, so a slot's home in
//! a table twice (or `2^k` times) as large or small is a monotone function
//! of its home here, and migration writes the new table nearly
//! sequentially.
//!
//! Resizing is incremental, as Redis's dict rehash: a resize makes a new
//! `live` table, the target of every insert, and the former one becomes
//! `old`, "draining". Every insert and removal then migrates a bounded
//! number of old slots (`MIGRATE`), from `cursor` upward, into `live`; when
//! the cursor reaches the end `old` is freed. A lookup probes `live`, then
//! `old`. No single operation pays for more than `MIGRATE` slots.
//!
//! Invariants (checked by `Index::check` in the tests):
//! - (I1) Every stored position is in exactly one slot of `live` or `old`
//!   (not counting tombstones), and `live.len + old.len` counts them.
//! - (I2) `live` has no tombstones and at most `limit(cap)` (80%) full
//!   slots, so every probe ends at an empty slot. Every full slot of `live`
//!   is reached from its home bucket without crossing an empty slot;
//!   removal from `live` shifts the following slots back (no tombstones).
//! - (I3) While draining, no slot of `old` below `cursor` holds a position
//!   (migration leaves a tombstone behind it).
//! - (I4) While draining, no slot of `old` ever becomes empty and no empty
//!   slot of `old` is filled: a position leaves `old` only by becoming a
//!   tombstone (migration or removal). So the run from a slot's home to the
//!   slot holds no empty slot as long as the slot is in `old`, and a lookup
//!   in `old` still reaches it. Backward-shift deletion in `old` would
//!   break this *and* (I3): it can move a slot from above the cursor to
//!   below it, where it would never migrate.

/// An empty slot.
const EMPTY: u64 = 0;
/// The low half of a tombstone (only ever in a draining `old` table).
const TOMB: u32 = u32::MAX;
/// Positions must stay below this (`pos + 1` must not be `TOMB`).
pub(super) const MAX_POS: usize = TOMB as usize - 1;
/// Smallest table.
const MIN_CAP: usize = 8;
/// Old slots migrated per insert or removal while draining. Small in the
/// tests, so that drains span many operations.
const MIGRATE: usize = if cfg!(test) { 4 } else { 128 };
/// Whether large tables are advised for transparent huge pages (see
/// `Table::new`).
const HUGE_PAGES: bool = false;

/// The hash the table files a slot under: a function of the tag alone, so
/// resizing never reads an entry. The odd multiplier spreads the tag over
/// the top bits, which pick the home bucket.
#[inline]
fn table_hash(tag: u32) -> u64 {
    (tag as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)
}

/// The slot word for `pos` with `tag`.
#[inline]
fn word(tag: u32, pos: usize) -> u64 {
    debug_assert!(pos < MAX_POS);
    ((tag as u64) << 32) | (pos as u64 + 1)
}

/// The most full slots a table of `cap` slots may hold: 80%.
#[inline]
fn limit(cap: usize) -> usize {
    cap - cap / 5
}

/// The smallest table that holds `n` slots within `limit`.
fn cap_for(n: usize) -> usize {
    let mut cap = MIN_CAP;
    while limit(cap) < n {
        cap *= 2;
    }
    cap
}

/// One open-addressing table of slot words (linear probing).
struct Table {
    slots: Box<[u64]>,
    /// `64 - log2(slots.len())`: the home bucket is the top bits.
    shift: u32,
    /// Slots holding a position.
    len: usize,
}

impl Table {
    /// An empty table of `cap` (a power of two, at least `MIN_CAP`) slots.
    ///
    /// The slots come zeroed from the allocator (`calloc`: a large table is
    /// fresh `mmap` memory, paged in on first touch), so creating even a
    /// large table costs no pass over it.
    fn new(cap: usize) -> Table {
        debug_assert!(cap.is_power_of_two() && cap >= MIN_CAP);
        let v = vec![EMPTY; cap];
        if HUGE_PAGES {
            crate::hugepage::advise_vec(&v);
        }
        Table {
            slots: v.into_boxed_slice(),
            shift: 64 - cap.trailing_zeros(),
            len: 0,
        }
    }

    #[inline]
    fn cap(&self) -> usize {
        self.slots.len()
    }

    #[inline]
    fn home(&self, tag: u32) -> usize {
        (table_hash(tag) >> self.shift) as usize
    }

    /// The position among this table's slots tagged `tag` that `eq`
    /// accepts. `OLD` skips tombstones (only a draining table has them).
    #[inline]
    fn find<const OLD: bool>(&self, tag: u32, eq: &mut impl FnMut(usize) -> bool) -> Option<usize> {
        let mask = self.cap() - 1;
        let want = (tag as u64) << 32;
        let mut i = self.home(tag);
        loop {
            let w = self.slots[i];
            if w == EMPTY {
                return None;
            }
            if w & !0xFFFF_FFFF == want && (!OLD || w as u32 != TOMB) {
                let pos = (w as u32 - 1) as usize;
                if eq(pos) {
                    return Some(pos);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// The slot holding exactly word `w`, if any. A tombstone never equals
    /// a slot word, so this works in a draining table too.
    #[inline]
    fn locate(&self, w: u64) -> Option<usize> {
        let mask = self.cap() - 1;
        let mut i = self.home((w >> 32) as u32);
        loop {
            let s = self.slots[i];
            if s == w {
                return Some(i);
            }
            if s == EMPTY {
                return None;
            }
            i = (i + 1) & mask;
        }
    }

    /// Files `w` in the first empty slot from its home. The table must
    /// have no tombstones and room (`len < cap`).
    #[inline]
    fn insert(&mut self, w: u64) {
        debug_assert!(self.len < self.cap());
        let mask = self.cap() - 1;
        let mut i = self.home((w >> 32) as u32);
        while self.slots[i] != EMPTY {
            i = (i + 1) & mask;
        }
        self.slots[i] = w;
        self.len += 1;
    }

    /// Empties slot `i` by shifting back the slots after it that may move
    /// (backward-shift deletion): afterwards every slot is still reached
    /// from its home without crossing an empty slot, and no tombstone is
    /// left. Only for `live` (see invariant I4).
    fn remove_shift(&mut self, mut hole: usize) {
        let mask = self.cap() - 1;
        let mut j = (hole + 1) & mask;
        loop {
            let w = self.slots[j];
            if w == EMPTY {
                break;
            }
            let home = self.home((w >> 32) as u32);
            // `w` may fill the hole when the hole lies in its probe run,
            // i.e. cyclically within `home..=j`.
            if (j.wrapping_sub(home) & mask) >= (j.wrapping_sub(hole) & mask) {
                self.slots[hole] = w;
                hole = j;
            }
            j = (j + 1) & mask;
        }
        self.slots[hole] = EMPTY;
        self.len -= 1;
    }
}

/// The index: a live table and, while resizing, the old one draining into
/// it. See the module doc for the invariants.
pub(super) struct Index {
    live: Table,
    /// The table being drained into `live`, if a resize is under way.
    old: Option<Table>,
    /// Slots of `old` below this have been migrated (invariant I3).
    cursor: usize,
}

impl Default for Index {
    fn default() -> Self {
        Index::new()
    }
}

impl Index {
    /// An empty index.
    pub(super) fn new() -> Index {
        Index {
            live: Table::new(MIN_CAP),
            old: None,
            cursor: 0,
        }
    }

    /// Positions held.
    pub(super) fn len(&self) -> usize {
        self.live.len + self.old.as_ref().map_or(0, |o| o.len)
    }

    /// The position tagged `tag` that `eq` accepts (at most one does).
    #[inline]
    pub(super) fn find(&self, tag: u32, mut eq: impl FnMut(usize) -> bool) -> Option<usize> {
        if let Some(p) = self.live.find::<false>(tag, &mut eq) {
            return Some(p);
        }
        match &self.old {
            Some(old) => old.find::<true>(tag, &mut eq),
            None => None,
        }
    }

    /// Adds `pos` with `tag` (the position must not be present).
    pub(super) fn insert(&mut self, tag: u32, pos: usize) {
        assert!(pos < MAX_POS, "keyspace position overflow");
        if self.len() + 1 > limit(self.live.cap()) {
            // A drain always ends long before `live` fills (each insert
            // migrates `MIGRATE` slots, and `live` starts at most half
            // full), so finishing one here is a fallback, not a pause.
            self.finish_drain();
            let cap = self.live.cap() * 2;
            self.start_drain(cap);
        }
        self.live.insert(word(tag, pos));
        self.step();
    }

    /// Removes `pos`, filed with `tag`.
    pub(super) fn remove(&mut self, tag: u32, pos: usize) {
        let w = word(tag, pos);
        if let Some(i) = self.live.locate(w) {
            self.live.remove_shift(i);
        } else {
            let old = self.old.as_mut().expect("index lost a position");
            let i = old.locate(w).expect("index lost a position");
            // A tombstone, never a shift (invariant I4).
            old.slots[i] = TOMB as u64;
            old.len -= 1;
        }
        self.step();
        let len = self.len();
        if self.old.is_none() && self.live.cap() > 64 && len * 10 < self.live.cap() {
            // Shrink to at most 40% full, through the same drain.
            let cap = cap_for(len * 2);
            self.start_drain(cap);
        }
    }

    /// Changes the position of the slot for `from` (tagged `tag`) to `to`,
    /// in whichever table holds it.
    pub(super) fn repoint(&mut self, tag: u32, from: usize, to: usize) {
        let (w, nw) = (word(tag, from), word(tag, to));
        if let Some(i) = self.live.locate(w) {
            self.live.slots[i] = nw;
            return;
        }
        let old = self.old.as_mut().expect("index lost a position");
        let i = old.locate(w).expect("index lost a position");
        old.slots[i] = nw;
    }

    /// Makes room for `total` positions without resizing again: allocates
    /// the final table now and moves everything in one pass (for loading,
    /// which pre-sizes an empty keyspace).
    pub(super) fn reserve(&mut self, total: usize) {
        if total > limit(self.live.cap()) {
            self.rebuild(cap_for(total));
        }
    }

    /// Gives back what `reserve` over-estimated: when the table is more
    /// than twice the size its positions need, rebuilds it in one pass
    /// (only after loading, itself a pause).
    pub(super) fn shrink_to_fit(&mut self) {
        let cap = cap_for(self.len());
        if self.live.cap() > 2 * cap {
            self.rebuild(cap);
        }
    }

    /// Bytes of the tables.
    pub(super) fn bytes(&self) -> usize {
        (self.live.cap() + self.old.as_ref().map_or(0, Table::cap)) * 8
    }

    /// Makes a table of `cap` slots live and the current one `old`.
    fn start_drain(&mut self, cap: usize) {
        debug_assert!(self.old.is_none() && self.len() <= limit(cap));
        let old = std::mem::replace(&mut self.live, Table::new(cap));
        self.old = Some(old);
        self.cursor = 0;
    }

    /// Migrates up to `MIGRATE` old slots from the cursor upward; frees
    /// `old` once the cursor passes its end.
    #[inline]
    fn step(&mut self) {
        if self.old.is_some() {
            self.migrate(MIGRATE);
        }
    }

    fn migrate(&mut self, budget: usize) {
        let Some(old) = self.old.as_mut() else {
            return;
        };
        let end = self.cursor.saturating_add(budget).min(old.cap());
        for i in self.cursor..end {
            let w = old.slots[i];
            if w != EMPTY && w as u32 != TOMB {
                // Leave a tombstone (I3, I4).
                old.slots[i] = TOMB as u64;
                old.len -= 1;
                self.live.insert(w);
            }
        }
        self.cursor = end;
        if end == old.cap() {
            debug_assert_eq!(old.len, 0);
            self.old = None;
            self.cursor = 0;
        }
    }

    fn finish_drain(&mut self) {
        self.migrate(usize::MAX);
    }

    /// Moves every position into a fresh table of `cap` slots at once.
    fn rebuild(&mut self, cap: usize) {
        self.finish_drain();
        let mut t = Table::new(cap);
        for &w in self.live.slots.iter() {
            if w != EMPTY {
                t.insert(w);
            }
        }
        self.live = t;
    }

    /// Asserts invariants I1-I4 against `positions` (position -> tag).
    #[cfg(test)]
    pub(super) fn check(&self, tags: &[u32]) {
        let mut seen = vec![false; tags.len()];
        let mut count = |t: &Table, old: bool| {
            let mut n = 0;
            let mask = t.cap() - 1;
            for (i, &w) in t.slots.iter().enumerate() {
                if w == EMPTY || w as u32 == TOMB {
                    assert!(old || w == EMPTY, "tombstone in live");
                    continue;
                }
                if old {
                    assert!(i >= self.cursor, "unmigrated slot {i} below cursor");
                }
                n += 1;
                let pos = (w as u32 - 1) as usize;
                let tag = (w >> 32) as u32;
                assert!(pos < tags.len(), "stale position {pos}");
                assert_eq!(tag, tags[pos], "wrong tag for {pos}");
                assert!(!seen[pos], "position {pos} twice");
                seen[pos] = true;
                let mut j = t.home(tag);
                while j != i {
                    assert_ne!(t.slots[j], EMPTY, "slot {i} unreachable");
                    j = (j + 1) & mask;
                }
            }
            assert_eq!(n, t.len);
        };
        count(&self.live, false);
        if let Some(o) = &self.old {
            count(o, true);
            assert!(self.cursor < o.cap());
        }
        assert!(seen.iter().all(|&s| s), "a position is missing");
        assert!(self.live.len + self.old.as_ref().map_or(0, |o| o.len) <= limit(self.live.cap()));
    }

    /// True while a resize is draining.
    #[cfg(test)]
    fn draining(&self) -> bool {
        self.old.is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A dense model of `Db`: `tags[pos]` is the tag of position `pos`,
    /// `ids[pos]` its identity; removal swaps the last into the hole.
    #[derive(Default)]
    struct Model {
        index: Index,
        tags: Vec<u32>,
        ids: Vec<u32>,
    }

    impl Model {
        fn find(&self, id: u32, tag: u32) -> Option<usize> {
            self.index.find(tag, |p| self.ids[p] == id)
        }

        fn insert(&mut self, id: u32, tag: u32) {
            let pos = self.tags.len();
            self.tags.push(tag);
            self.ids.push(id);
            self.index.insert(tag, pos);
        }

        fn remove_at(&mut self, pos: usize) {
            self.index.remove(self.tags[pos], pos);
            let last = self.tags.len() - 1;
            if pos != last {
                self.index.repoint(self.tags[last], last, pos);
            }
            self.tags.swap_remove(pos);
            self.ids.swap_remove(pos);
        }

        fn check(&self) {
            self.index.check(&self.tags);
            for (p, (&id, &tag)) in self.ids.iter().zip(&self.tags).enumerate() {
                assert_eq!(self.find(id, tag), Some(p));
            }
        }
    }

    /// Forces a drain with long probe runs (half the keys share a few
    /// tags, so runs wrap and cross the cursor) and removes and moves
    /// slots on both sides of the cursor: every combination of the removed
    /// position and the moved last position being in `old` or `live`.
    #[test]
    fn drain_with_removals_and_moves_on_both_sides_of_cursor() {
        let mut m = Model::default();
        let tag = |i: u32| {
            if i % 2 == 0 {
                (i % 7).wrapping_mul(0x3000_0001)
            } else {
                i.wrapping_mul(0x9E37_79B9)
            }
        };
        let mut id = 0;
        while !m.index.old.as_ref().is_some_and(|o| o.cap() >= 256) {
            m.insert(id, tag(id));
            id += 1;
        }
        let old_cap = m.index.old.as_ref().unwrap().cap();
        while m.index.cursor < old_cap / 4 {
            m.insert(id, tag(id));
            id += 1;
            m.check();
        }
        let in_old = |m: &Model, p: usize| {
            m.index
                .old
                .as_ref()
                .is_some_and(|o| o.locate(word(m.tags[p], p)).is_some())
        };
        // seen[removed in old][last in old]
        let mut seen = [[0; 2]; 2];
        let mut k = 0;
        while m.index.draining() {
            let n = m.tags.len();
            let want_old = k % 2 == 0;
            k += 1;
            let Some(p) = (0..n - 1).find(|&p| in_old(&m, p) == want_old) else {
                break;
            };
            seen[in_old(&m, p) as usize][in_old(&m, n - 1) as usize] += 1;
            m.remove_at(p);
            m.check();
        }
        assert!(seen.iter().flatten().all(|&c| c > 0), "{seen:?}");
        // Finish the drain with inserts; everything is still found.
        while m.index.draining() {
            m.insert(id, tag(id));
            id += 1;
        }
        m.check();
    }

    #[derive(Clone, Debug)]
    enum Op {
        Insert(u8),
        Remove(u16),
        Reserve(u16),
        Shrink,
        Clear,
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            12 => any::<u8>().prop_map(Op::Insert),
            7 => any::<u16>().prop_map(Op::Remove),
            1 => (0u16..600).prop_map(Op::Reserve),
            1 => Just(Op::Shrink),
            1 => (0..20).prop_map(|_| Op::Clear),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Random interleavings against the dense model; `tag_bits`
        /// narrows tags so that runs are long and collide.
        #[test]
        fn matches_model(ops in proptest::collection::vec(op(), 0..600), narrow in any::<bool>()) {
            let mut m = Model::default();
            let mut id = 0u32;
            for op in ops {
                match op {
                    Op::Insert(t) => {
                        let tag = if narrow { t as u32 & 15 } else { (t as u32).wrapping_mul(0x9E37_79B9) };
                        m.insert(id, tag);
                        id += 1;
                    }
                    Op::Remove(p) => {
                        if !m.tags.is_empty() {
                            let p = p as usize % m.tags.len();
                            m.remove_at(p);
                        }
                    }
                    Op::Reserve(n) => m.index.reserve(m.tags.len() + n as usize),
                    Op::Shrink => m.index.shrink_to_fit(),
                    Op::Clear => m = Model::default(),
                }
                m.check();
                // An absent identity is absent.
                prop_assert_eq!(m.find(u32::MAX, 3), None);
            }
        }
    }
}
