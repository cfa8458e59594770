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
//! `old`, draining. Every insert and removal then migrates about `MIGRATE`
//! old slots, from `cursor` upward, into `live`; when the cursor reaches the
//! end, `old` is freed. A lookup probes `live`, then `old`. The cursor only
//! ever stops just past an empty slot (it finishes the cluster it is in), so
//! no probe run in `old` crosses it: a lookup in `old` never reads below the
//! cursor, and the pages below it are given back to the kernel as the
//! cursor passes (freeing a 32 MiB table of 4 KiB pages at once took 4-7
//! ms; page by page it is a few microseconds an operation).
//!
//! Invariants (asserted by `Index::check` in the tests):
//! - (I1) Every stored position is in exactly one slot: of `live`, or of
//!   `old` at or above the cursor (not counting tombstones); `live.len +
//!   old.len` counts them.
//! - (I2) `live` has no tombstones and at most `limit(cap)` (80%) full
//!   slots, so every probe ends at an empty slot. Every full slot of `live`
//!   is reached from its home bucket without crossing an empty slot;
//!   removal from `live` shifts the following slots back (no tombstones).
//! - (I3) While draining, `cursor > 0` and slot `cursor - 1` of `old` was
//!   empty when the drain began (migration stops only past an empty slot,
//!   and the first step runs as the drain starts, migrating any run that
//!   wraps around the table's end).
//! - (I4) While draining, no slot of `old` at or above the cursor becomes
//!   empty or is filled: a position leaves `old` only by migration or by
//!   becoming a tombstone (removal). So the run from a slot's home to the
//!   slot never holds an empty slot while the slot is in `old`.
//! - From (I3) and (I4): every position in `old` at slot `p` has its home
//!   `h` with `cursor <= h <= p` (a run reaching `p` from below the cursor,
//!   or wrapping, would cross the empty slot `cursor - 1`). A lookup in
//!   `old` therefore starts at `h` only when `h >= cursor`, reads upward
//!   without wrapping, and never reads a slot below the cursor (which may be
//!   stale or released). Backward-shift deletion in `old` would break (I4)
//!   and lose positions (the tests catch it).

/// An empty slot.
const EMPTY: u64 = 0;
/// The low half of a tombstone (only ever in a draining `old` table).
const TOMB: u32 = u32::MAX;
/// Positions must stay below this (`pos + 1` must not be `TOMB`).
pub(super) const MAX_POS: usize = TOMB as usize - 1;
/// Smallest table.
const MIN_CAP: usize = 8;
/// Positions migrated per insert or removal while draining (see
/// `Index::migrate`): a few microseconds of work, and a drain lasts
/// `cap / 128` operations (1.6% of the SETs while growing to 4M keys).
/// 32 measured the same worst and p99.9 SET latency. Small in the tests,
/// so that drains span many operations.
const MIGRATE: usize = if cfg!(test) { 4 } else { 128 };
/// Whether large tables are advised for transparent huge pages (see
/// `Table::new`). Off: a table's pages are first touched during ordinary
/// operations, and with the kernel's `defrag=madvise` the first touch of an
/// advised 2 MiB page costs milliseconds (zeroing and synchronous
/// compaction). Measured growing to 4M keys: 47 SETs over 1 ms of CPU
/// (3.6 ms each, right after each resize) with advice, none without.
const HUGE_PAGES: bool = false;
/// A draining table at least this large gives its pages back as the cursor
/// passes them, `RELEASE_CHUNK` bytes at a time.
const RELEASE_MIN: usize = if cfg!(test) { 16 << 10 } else { 2 << 20 };
const RELEASE_CHUNK: usize = 64 << 10;

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
    /// accepts (a live table: no tombstones).
    #[inline]
    fn find(&self, tag: u32, eq: &mut impl FnMut(usize) -> bool) -> Option<usize> {
        let mask = self.cap() - 1;
        let want = (tag as u64) << 32;
        let mut i = self.home(tag);
        loop {
            let w = self.slots[i];
            if w == EMPTY {
                return None;
            }
            if w & !0xFFFF_FFFF == want {
                let pos = (w as u32 - 1) as usize;
                if eq(pos) {
                    return Some(pos);
                }
            }
            i = (i + 1) & mask;
        }
    }

    /// The slot holding exactly word `w`, if any.
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

/// A table being drained into `live` (see the module doc).
struct Drain {
    table: Table,
    /// Slots below this have been migrated or were empty (I3).
    cursor: usize,
    /// The pages wholly below this slot have been given back to the
    /// kernel (but the allocation's first).
    released: usize,
}

impl Drain {
    /// The position tagged `tag` that `eq` accepts: a probe from the home
    /// upward, never wrapping nor reading below the cursor (see the module
    /// doc). Tombstones are skipped.
    #[inline]
    fn find(&self, tag: u32, eq: &mut impl FnMut(usize) -> bool) -> Option<usize> {
        let want = (tag as u64) << 32;
        let slots = &self.table.slots;
        let home = self.table.home(tag);
        if home < self.cursor {
            return None;
        }
        for &w in &slots[home..] {
            if w == EMPTY {
                return None;
            }
            if w & !0xFFFF_FFFF == want && w as u32 != TOMB {
                let pos = (w as u32 - 1) as usize;
                if eq(pos) {
                    return Some(pos);
                }
            }
        }
        None
    }

    /// The slot holding exactly word `w`, if any, probing as `find`.
    fn locate(&self, w: u64) -> Option<usize> {
        let home = self.table.home((w >> 32) as u32);
        if home < self.cursor {
            return None;
        }
        for (i, &s) in self.table.slots.iter().enumerate().skip(home) {
            if s == w {
                return Some(i);
            }
            if s == EMPTY {
                return None;
            }
        }
        None
    }

    /// Gives the whole pages below the cursor back to the kernel, once
    /// `RELEASE_CHUNK` bytes of them have gathered. The first page of the
    /// allocation is kept (the allocator's bookkeeping may share it).
    fn release(&mut self) {
        let bytes = self.table.cap() * 8;
        if bytes < RELEASE_MIN || (self.cursor - self.released) * 8 < RELEASE_CHUNK {
            return;
        }
        const PAGE: usize = 4096;
        let base = self.table.slots.as_mut_ptr() as usize;
        let start = (base + (self.released * 8).max(PAGE) + PAGE - 1) & !(PAGE - 1);
        let end = (base + self.cursor * 8) & !(PAGE - 1);
        if end > start {
            // SAFETY: `start..end` lies inside the table's allocation, which
            // `self` owns exclusively; no slot below the cursor is read again
            // by a lookup (module doc), and the kernel refills released
            // pages with zeros if they are touched, so the memory stays
            // valid `u64`s.
            unsafe { dontneed(start, end - start) };
            // The page holding the cursor goes in a later chunk.
            self.released = (end - base) / 8;
        }
    }
}

/// Tells the kernel the pages `start..start + len` may be dropped (they
/// read as zeros afterwards).
#[cfg(target_os = "linux")]
unsafe fn dontneed(start: usize, len: usize) {
    extern "C" {
        fn madvise(addr: *mut std::ffi::c_void, len: usize, advice: i32) -> i32;
    }
    const MADV_DONTNEED: i32 = 4;
    // A failure only keeps the pages until the table is freed.
    // SAFETY: the caller's contract.
    unsafe {
        madvise(start as *mut std::ffi::c_void, len, MADV_DONTNEED);
    }
}

#[cfg(not(target_os = "linux"))]
unsafe fn dontneed(_start: usize, _len: usize) {}

/// Where `Index::holder` found a slot.
enum Holder {
    /// Slot `i` of `live`.
    Live(usize),
    /// Slot `i` of the draining `old` table.
    Old(usize),
}

/// The index: a live table and, while resizing, the old one draining into
/// it. See the module doc for the invariants.
pub(super) struct Index {
    live: Table,
    /// The table being drained into `live`, if a resize is under way.
    old: Option<Drain>,
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
        }
    }

    /// Positions held.
    pub(super) fn len(&self) -> usize {
        self.live.len + self.old.as_ref().map_or(0, |o| o.table.len)
    }

    /// The position tagged `tag` that `eq` accepts (at most one does).
    #[inline]
    pub(super) fn find(&self, tag: u32, mut eq: impl FnMut(usize) -> bool) -> Option<usize> {
        if let Some(p) = self.live.find(tag, &mut eq) {
            return Some(p);
        }
        match &self.old {
            Some(old) => old.find(tag, &mut eq),
            None => None,
        }
    }

    /// Adds `pos` with `tag` (the position must not be present).
    pub(super) fn insert(&mut self, tag: u32, pos: usize) {
        assert!(pos < MAX_POS, "keyspace position overflow");
        if self.len() + 1 > limit(self.live.cap()) {
            // A drain always ends long before `live` fills (each insert
            // migrates `MIGRATE` slots or more, and `live` starts at most
            // half full), so finishing one here is a fallback, not a pause.
            self.finish_drain();
            let cap = self.live.cap() * 2;
            self.start_drain(cap);
        }
        self.live.insert(word(tag, pos));
        self.step();
    }

    /// Removes `pos`, filed with `tag`.
    pub(super) fn remove(&mut self, tag: u32, pos: usize) {
        match self.holder(word(tag, pos)) {
            Holder::Live(i) => self.live.remove_shift(i),
            Holder::Old(i) => {
                let old = self.old.as_mut().expect("a draining table");
                // A tombstone, never a shift (invariant I4).
                old.table.slots[i] = TOMB as u64;
                old.table.len -= 1;
            }
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
        let slot = match self.holder(word(tag, from)) {
            Holder::Live(i) => &mut self.live.slots[i],
            Holder::Old(i) => &mut self.old.as_mut().expect("a draining table").table.slots[i],
        };
        *slot = word(tag, to);
    }

    /// Which table holds slot word `w`, and where. Every stored position is
    /// in one of them (I1): a miss is a broken index, and panics.
    fn holder(&self, w: u64) -> Holder {
        if let Some(i) = self.live.locate(w) {
            return Holder::Live(i);
        }
        match self.old.as_ref().and_then(|old| old.locate(w)) {
            Some(i) => Holder::Old(i),
            None => panic!("index lost a position"),
        }
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

    /// True while a resize is draining.
    pub(super) fn draining(&self) -> bool {
        self.old.is_some()
    }

    /// One migration step of a resize under way (as an insert or removal
    /// takes); returns whether the resize is still draining. For a
    /// periodic task: a keyspace that stops changing otherwise keeps both
    /// tables (and probes both on a miss) until its next write.
    pub(super) fn resize_step(&mut self) -> bool {
        self.step();
        self.draining()
    }

    /// Bytes of the tables (a draining table counted whole, released
    /// pages included).
    pub(super) fn bytes(&self) -> usize {
        (self.live.cap() + self.old.as_ref().map_or(0, |o| o.table.cap())) * 8
    }

    /// Makes a table of `cap` slots live and the current one `old`, and
    /// takes the first migration step (invariant I3).
    fn start_drain(&mut self, cap: usize) {
        debug_assert!(self.old.is_none() && self.len() <= limit(cap));
        let table = std::mem::replace(&mut self.live, Table::new(cap));
        self.old = Some(Drain {
            table,
            cursor: 0,
            released: 0,
        });
        self.step();
    }

    /// Migrates about `MIGRATE` old slots; frees `old` once the cursor
    /// passes its end.
    #[inline]
    fn step(&mut self) {
        if self.old.is_some() {
            self.migrate(MIGRATE);
        }
    }

    /// Migrates old slots from the cursor upward until `budget` positions
    /// have moved or `8 * budget` slots have been read (a sparse table,
    /// being shrunk, drains as fast in operations as a full one), then on
    /// to the end of the cluster, and past the empty slot that ends it
    /// (I3). Clusters stay short at 80% load, so the overshoot is small.
    fn migrate(&mut self, budget: usize) {
        let Some(old) = self.old.as_mut() else {
            return;
        };
        let cap = old.table.cap();
        let scan_to = old.cursor.saturating_add(budget.saturating_mul(8));
        let mut moved = 0;
        let mut i = old.cursor;
        while i < cap {
            let w = old.table.slots[i];
            i += 1;
            if w == EMPTY {
                if moved >= budget || i >= scan_to {
                    break;
                }
            } else if w as u32 != TOMB {
                moved += 1;
                // The slot is below the cursor from now on: never read
                // again, so it needs no tombstone.
                old.table.len -= 1;
                self.live.insert(w);
            }
        }
        old.cursor = i;
        if i == cap {
            debug_assert_eq!(old.table.len, 0);
            self.old = None;
        } else {
            old.release();
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

    /// Asserts invariants I1-I4 against `tags` (position -> tag).
    #[cfg(test)]
    pub(super) fn check(&self, tags: &[u32]) {
        let mut seen = vec![false; tags.len()];
        // Slots of `t` from `from` up; `old` tables may not wrap.
        let mut count = |t: &Table, from: usize, old: bool| {
            let mut n = 0;
            let mask = t.cap() - 1;
            for (i, &w) in t.slots.iter().enumerate().skip(from) {
                if w == EMPTY || w as u32 == TOMB {
                    assert!(old || w == EMPTY, "tombstone in live");
                    continue;
                }
                n += 1;
                let pos = (w as u32 - 1) as usize;
                let tag = (w >> 32) as u32;
                assert!(pos < tags.len(), "stale position {pos}");
                assert_eq!(tag, tags[pos], "wrong tag for {pos}");
                assert!(!seen[pos], "position {pos} twice");
                seen[pos] = true;
                let mut j = t.home(tag);
                if old {
                    assert!(from <= j && j <= i, "old slot {i} home {j} cursor {from}");
                }
                while j != i {
                    assert_ne!(t.slots[j], EMPTY, "slot {i} unreachable");
                    j = (j + 1) & mask;
                }
            }
            assert_eq!(n, t.len);
        };
        count(&self.live, 0, false);
        if let Some(o) = &self.old {
            assert!(o.cursor > 0 && o.cursor < o.table.cap());
            assert_eq!(
                o.table.slots[o.cursor - 1],
                EMPTY,
                "cursor not past an empty slot"
            );
            count(&o.table, o.cursor, true);
        }
        assert!(seen.iter().all(|&s| s), "a position is missing");
        assert!(self.len() <= limit(self.live.cap()));
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
            if i.is_multiple_of(2) {
                (i % 7).wrapping_mul(0x3000_0001)
            } else {
                i.wrapping_mul(0x9E37_79B9)
            }
        };
        let mut id = 0;
        while m.index.old.as_ref().is_none_or(|o| o.table.cap() < 256) {
            m.insert(id, tag(id));
            id += 1;
        }
        let old_cap = m.index.old.as_ref().unwrap().table.cap();
        while m.index.old.as_ref().unwrap().cursor < old_cap / 4 {
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

    /// Tables large enough to give pages back while draining: every
    /// position is still found mid-drain after pages below the cursor are
    /// released (a lookup reading them would see empty slots and miss).
    #[test]
    fn release_below_cursor_keeps_lookups() {
        let mut m = Model::default();
        let mut released = 0;
        let mut x = 1u32;
        for id in 0..40_000u32 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            m.insert(id, x);
            if id % 3 == 0 {
                m.remove_at((x as usize) % m.tags.len());
            }
            if let Some(o) = &m.index.old {
                if o.released > 0 && id % 61 == 0 {
                    released += 1;
                    m.check();
                }
            }
        }
        assert!(released > 10, "{released}");
        while !m.tags.is_empty() {
            m.remove_at(0);
            if m.tags.len() % 997 == 0 {
                m.check();
            }
        }
        m.check();
        assert!(m.index.bytes() <= 8 << 10, "{}", m.index.bytes());
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
