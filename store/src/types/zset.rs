//! The sorted set type: a member → score map plus an indexable skiplist
//! ordered by (score, member), as Redis's `t_zset.c` keeps a dict and a
//! skiplist side by side.
//!
//! The skiplist lives in an arena (`Vec<Node>` with a free list), links are
//! `u32` indexes, and every forward link carries a *span* (how many level-0
//! steps it jumps), so rank lookups and access by rank are O(log n).
//!
//! Invariants kept here:
//! - `dict` and the skiplist hold exactly the same (member, score) pairs, and
//!   no score is NaN.
//! - Level-0 links visit the nodes in strictly increasing (score, member)
//!   order (scores compared numerically, so `-0` and `0` tie and fall back to
//!   the member bytes); `prev` is the reverse of the level-0 `next`.
//! - For every link at level `i` from node `a` to node `b`, `span` is the
//!   number of level-0 steps from `a` to `b`; a link to `NIL` spans the steps
//!   to the end of the list (as Redis keeps it), so the header's spans stay
//!   correct when a level grows.
//! - `big` (the "skiplist" encoding) is set once the set outgrows Redis's
//!   listpack thresholds and is never cleared, as Redis never converts back.

use super::Sso;
use hashbrown::HashTable;
use std::cmp::Ordering;
use std::hash::BuildHasher;

/// The "no node" link.
pub const NIL: u32 = u32::MAX;
const HEAD: u32 = 0;
const MAX_LEVEL: usize = 32;
/// Levels kept inside the node itself; taller nodes keep the rest in the
/// `upper` arena.
const INLINE: usize = 2;

#[derive(Clone, Copy, Debug)]
struct Level {
    next: u32,
    span: u32,
}

const UNLINKED: Level = Level { next: NIL, span: 0 };

/// One element, one cache line: score, member and the two lowest levels
/// side by side, so a step of a search costs one cache miss (the node
/// stepped to) instead of two (the node, then a separately allocated
/// level array). 15 nodes in 16 have at most `INLINE` levels; the upper
/// levels of the others are in `SkipList::upper` at `upper..upper +
/// height - INLINE`. Their nodes are few and visited by every search, so
/// they stay cached.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
struct Node {
    score: f64,
    member: Sso,
    prev: u32,
    /// Number of levels; 0 for a slot on the free list.
    height: u32,
    /// Start of the levels past `INLINE` in `upper` (unused when
    /// `height <= INLINE`).
    upper: u32,
    low: [Level; INLINE],
}

const _: () = assert!(std::mem::size_of::<Node>() == 64);

/// Compares (score, member) pairs the way the skiplist orders them.
#[inline]
pub fn cmp_entry(s1: f64, m1: &[u8], s2: f64, m2: &[u8]) -> Ordering {
    if s1 < s2 {
        Ordering::Less
    } else if s1 > s2 {
        Ordering::Greater
    } else {
        m1.cmp(m2)
    }
}

/// An indexable skiplist of (score, member), ordered ascending.
#[derive(Clone, Debug)]
pub struct SkipList {
    /// Node arena; slot `HEAD` is the header, free slots are in `free`.
    nodes: Vec<Node>,
    free: Vec<u32>,
    /// Levels `INLINE..` of tall nodes, in blocks of `height - INLINE`;
    /// the header's block is at 0.
    upper: Vec<Level>,
    /// Freed blocks of `upper`, by block length.
    upper_free: Vec<Vec<u32>>,
    level: usize,
    len: usize,
    tail: u32,
    seed: u64,
}

impl Default for SkipList {
    fn default() -> Self {
        SkipList::new()
    }
}

impl SkipList {
    /// An empty list.
    pub fn new() -> SkipList {
        SkipList {
            nodes: vec![Node {
                member: Sso::EMPTY,
                score: 0.0,
                prev: NIL,
                height: MAX_LEVEL as u32,
                upper: 0,
                low: [UNLINKED; INLINE],
            }],
            free: Vec::new(),
            upper: vec![UNLINKED; MAX_LEVEL - INLINE],
            upper_free: Vec::new(),
            level: 1,
            len: 0,
            tail: NIL,
            seed: 0x2545_F491_4F6C_DD1D,
        }
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn random_level(&mut self) -> usize {
        // xorshift64*; each extra level with probability 1/4 (Redis's p).
        let mut lvl = 1;
        loop {
            self.seed ^= self.seed >> 12;
            self.seed ^= self.seed << 25;
            self.seed ^= self.seed >> 27;
            let r = self.seed.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 32;
            if r & 3 == 0 && lvl < MAX_LEVEL {
                lvl += 1;
            } else {
                return lvl;
            }
        }
    }

    /// Level `i` of node `x` (`i < height`).
    #[inline]
    fn lv(&self, x: u32, i: usize) -> Level {
        let n = &self.nodes[x as usize];
        if i < INLINE {
            n.low[i]
        } else {
            self.upper[n.upper as usize + (i - INLINE)]
        }
    }

    #[inline]
    fn lv_mut(&mut self, x: u32, i: usize) -> &mut Level {
        let n = &mut self.nodes[x as usize];
        if i < INLINE {
            &mut n.low[i]
        } else {
            let at = n.upper as usize + (i - INLINE);
            &mut self.upper[at]
        }
    }

    #[inline]
    fn next(&self, x: u32, i: usize) -> u32 {
        self.lv(x, i).next
    }

    #[inline]
    fn before(&self, x: u32, score: f64, member: &[u8]) -> bool {
        let n = &self.nodes[x as usize];
        cmp_entry(n.score, n.member.as_bytes(), score, member) == Ordering::Less
    }

    /// For each level, the last node strictly before (score, member), and
    /// its rank (number of elements up to and including it).
    fn find_update(&self, score: f64, member: &[u8]) -> ([u32; MAX_LEVEL], [u32; MAX_LEVEL]) {
        let mut update = [HEAD; MAX_LEVEL];
        let mut rank = [0u32; MAX_LEVEL];
        let mut x = HEAD;
        let mut r = 0u32;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lv(x, i);
                if l.next != NIL && self.before(l.next, score, member) {
                    r += l.span;
                    x = l.next;
                } else {
                    break;
                }
            }
            update[i] = x;
            rank[i] = r;
        }
        (update, rank)
    }

    /// A block of `n` upper levels.
    fn alloc_upper(&mut self, n: usize) -> u32 {
        if let Some(at) = self.upper_free.get_mut(n).and_then(|f| f.pop()) {
            return at;
        }
        let at = self.upper.len() as u32;
        self.upper.resize(self.upper.len() + n, UNLINKED);
        at
    }

    /// Inserts an element known to be absent.
    pub fn insert(&mut self, score: f64, member: Sso) {
        debug_assert!(!score.is_nan());
        let (mut update, mut rank) = self.find_update(score, member.as_bytes());
        let lvl = self.random_level();
        if lvl > self.level {
            for i in self.level..lvl {
                rank[i] = 0;
                update[i] = HEAD;
                self.lv_mut(HEAD, i).span = self.len as u32;
            }
            self.level = lvl;
        }
        let upper = if lvl > INLINE {
            self.alloc_upper(lvl - INLINE)
        } else {
            0
        };
        let node = Node {
            member,
            score,
            prev: NIL,
            height: lvl as u32,
            upper,
            low: [UNLINKED; INLINE],
        };
        let x = match self.free.pop() {
            Some(slot) => {
                self.nodes[slot as usize] = node;
                slot
            }
            None => {
                crate::hugepage::push_advised(&mut self.nodes, node);
                (self.nodes.len() - 1) as u32
            }
        };
        for i in 0..lvl {
            let u = update[i];
            let un = self.lv(u, i);
            let d = rank[0] - rank[i];
            *self.lv_mut(x, i) = Level {
                next: un.next,
                span: un.span - d,
            };
            *self.lv_mut(u, i) = Level {
                next: x,
                span: d + 1,
            };
        }
        for (i, &u) in update.iter().enumerate().take(self.level).skip(lvl) {
            self.lv_mut(u, i).span += 1;
        }
        self.nodes[x as usize].prev = if update[0] == HEAD { NIL } else { update[0] };
        let n0 = self.next(x, 0);
        if n0 != NIL {
            self.nodes[n0 as usize].prev = x;
        } else {
            self.tail = x;
        }
        self.len += 1;
    }

    /// Removes (score, member); true when it was present.
    pub fn remove(&mut self, score: f64, member: &[u8]) -> bool {
        let (update, _) = self.find_update(score, member);
        let x = self.next(update[0], 0);
        if x == NIL {
            return false;
        }
        let n = &self.nodes[x as usize];
        if n.score != score || n.member.as_bytes() != member {
            return false;
        }
        for (i, &u) in update.iter().enumerate().take(self.level) {
            let ul = self.lv(u, i);
            if ul.next == x {
                let xl = self.lv(x, i);
                *self.lv_mut(u, i) = Level {
                    next: xl.next,
                    span: ul.span + xl.span - 1,
                };
            } else {
                self.lv_mut(u, i).span -= 1;
            }
        }
        let (prev, n0) = (self.nodes[x as usize].prev, self.next(x, 0));
        if n0 != NIL {
            self.nodes[n0 as usize].prev = prev;
        } else {
            self.tail = prev;
        }
        while self.level > 1 && self.next(HEAD, self.level - 1) == NIL {
            self.level -= 1;
        }
        let node = &mut self.nodes[x as usize];
        node.member = Sso::EMPTY;
        let (height, upper) = (node.height as usize, node.upper);
        node.height = 0;
        if height > INLINE {
            let n = height - INLINE;
            if self.upper_free.len() <= n {
                self.upper_free.resize_with(n + 1, Vec::new);
            }
            self.upper_free[n].push(upper);
        }
        self.free.push(x);
        self.len -= 1;
        true
    }

    /// The 0-based rank of (score, member), if present.
    pub fn rank(&self, score: f64, member: &[u8]) -> Option<usize> {
        let mut x = HEAD;
        let mut rank = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lv(x, i);
                if l.next == NIL {
                    break;
                }
                let nd = &self.nodes[l.next as usize];
                if cmp_entry(nd.score, nd.member.as_bytes(), score, member) != Ordering::Greater {
                    rank += l.span as usize;
                    x = l.next;
                } else {
                    break;
                }
            }
            if x != HEAD && self.nodes[x as usize].member.as_bytes() == member {
                return Some(rank - 1);
            }
        }
        None
    }

    /// The node at 0-based rank `r`, or `NIL`.
    pub fn at_rank(&self, r: usize) -> u32 {
        if r >= self.len {
            return NIL;
        }
        let target = r + 1;
        let mut x = HEAD;
        let mut traversed = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lv(x, i);
                if l.next != NIL && traversed + l.span as usize <= target {
                    traversed += l.span as usize;
                    x = l.next;
                } else {
                    break;
                }
            }
            if traversed == target {
                return x;
            }
        }
        NIL
    }

    /// Descends the levels, stepping forward while `advance` holds for the
    /// next node (the list must be partitioned: all `advance` nodes
    /// first). Returns the last node stepped onto (`HEAD` when none) and
    /// how many nodes that is.
    fn descend(&self, advance: impl Fn(f64, &[u8]) -> bool) -> (u32, usize) {
        let mut x = HEAD;
        let mut rank = 0usize;
        for i in (0..self.level).rev() {
            loop {
                let l = self.lv(x, i);
                if l.next == NIL {
                    break;
                }
                let nd = &self.nodes[l.next as usize];
                if advance(nd.score, nd.member.as_bytes()) {
                    rank += l.span as usize;
                    x = l.next;
                } else {
                    break;
                }
            }
        }
        (x, rank)
    }

    /// The first node for which `below` is false (the list must be
    /// partitioned: all `below` nodes first), with its 0-based rank.
    pub fn first_not_below(&self, below: impl Fn(f64, &[u8]) -> bool) -> (u32, usize) {
        let (x, rank) = self.descend(below);
        (self.next(x, 0), rank)
    }

    /// The last node for which `above` is false (all `above` nodes last),
    /// with its 0-based rank; `NIL` when every node is above.
    pub fn last_not_above(&self, above: impl Fn(f64, &[u8]) -> bool) -> (u32, usize) {
        match self.descend(|s, m| !above(s, m)) {
            (HEAD, _) => (NIL, 0),
            (x, rank) => (x, rank - 1),
        }
    }

    /// The first node, or `NIL`.
    pub fn first(&self) -> u32 {
        self.next(HEAD, 0)
    }

    /// The last node, or `NIL`.
    pub fn last(&self) -> u32 {
        self.tail
    }

    /// The node after `x` (level 0), or `NIL`.
    #[inline]
    pub fn succ(&self, x: u32) -> u32 {
        self.nodes[x as usize].low[0].next
    }

    /// The node before `x`, or `NIL`.
    #[inline]
    pub fn pred(&self, x: u32) -> u32 {
        self.nodes[x as usize].prev
    }

    /// The (member, score) of node `x`.
    #[inline]
    pub fn get(&self, x: u32) -> (&Sso, f64) {
        let n = &self.nodes[x as usize];
        (&n.member, n.score)
    }

    /// Approximate heap bytes of the list (arena capacities).
    fn heap_size(&self) -> usize {
        self.nodes.capacity() * std::mem::size_of::<Node>()
            + (self.upper.capacity() + self.free.capacity()) * 8
    }

    /// Checks every invariant (used by tests).
    pub fn check(&self) {
        let mut x = self.first();
        let mut count = 0;
        let mut prev = NIL;
        while x != NIL {
            let n = &self.nodes[x as usize];
            assert!(n.height >= 1, "linked node on the free list");
            assert_eq!(n.prev, prev, "prev link");
            if prev != NIL {
                let p = &self.nodes[prev as usize];
                assert_eq!(
                    cmp_entry(p.score, p.member.as_bytes(), n.score, n.member.as_bytes()),
                    Ordering::Less
                );
            }
            prev = x;
            x = self.succ(x);
            count += 1;
        }
        assert_eq!(self.tail, prev);
        assert_eq!(count, self.len);
        assert_eq!(self.nodes.len() - 1 - self.free.len(), self.len);
        // Spans: the rank reached by following any level equals the true rank.
        for i in 0..self.level {
            let mut x = HEAD;
            let mut r = 0usize;
            loop {
                let l = self.lv(x, i);
                if l.next == NIL {
                    assert_eq!(r + l.span as usize, self.len, "tail span at level {i}");
                    break;
                }
                assert!(
                    self.nodes[l.next as usize].height as usize > i,
                    "link above height"
                );
                r += l.span as usize;
                assert_eq!(self.at_rank_linear(r - 1), l.next, "span at level {i}");
                x = l.next;
            }
        }
        // Upper blocks of live nodes never overlap each other, the header's
        // or a freed one.
        let mut owner = vec![false; self.upper.len()];
        let mut claim = |at: usize, n: usize| {
            for o in &mut owner[at..at + n] {
                assert!(!*o, "upper block shared");
                *o = true;
            }
        };
        claim(0, MAX_LEVEL - INLINE);
        for n in &self.nodes[1..] {
            if n.height as usize > INLINE {
                claim(n.upper as usize, n.height as usize - INLINE);
            }
        }
        for (len, blocks) in self.upper_free.iter().enumerate() {
            for &at in blocks {
                claim(at as usize, len);
            }
        }
    }

    fn at_rank_linear(&self, r: usize) -> u32 {
        let mut x = self.first();
        for _ in 0..r {
            x = self.succ(x);
        }
        x
    }
}

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
/// hash table `table`, and in the skiplist `list`. The dense slots give O(1)
/// random members and a SCAN cursor that never misses a member present for
/// the whole scan: the cursor walks slots from the end toward the start, and
/// a removal only moves the last slot (already visited) into a hole.
#[derive(Clone, Debug)]
pub struct ZSet {
    table: HashTable<u32, crate::hugepage::HugeAlloc>,
    slots: Vec<(Sso, f64)>,
    hasher: foldhash::fast::RandomState,
    list: SkipList,
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
            list: SkipList::new(),
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
                let removed = self.list.remove(prev, member);
                debug_assert!(removed);
                self.list.insert(score, self.slots[i].0.clone());
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
    pub fn list(&self) -> &SkipList {
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
    pub fn walk(&self, start: u32, rev: bool) -> impl Iterator<Item = (&Sso, f64)> + '_ {
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
    list: &'a SkipList,
    front: u32,
    back: u32,
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

/// Serialized as the ordered list of (member, score) pairs; the skiplist
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
        let mut z = ZSet::new();
        for (m, score) in pairs {
            if score.is_nan() {
                return Err(serde::de::Error::custom("NaN score in sorted set"));
            }
            z.set(m.as_bytes(), score);
        }
        z.reset_encoding(LISTPACK_ENTRIES, LISTPACK_VALUE);
        Ok(z)
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

    #[test]
    fn freed_nodes_and_upper_blocks_are_reused() {
        let mut z = ZSet::new();
        for i in 0..5000u32 {
            z.set(format!("m{i}").as_bytes(), (i % 101) as f64);
        }
        let (nodes, upper) = (z.list.nodes.len(), z.list.upper.len());
        for i in (0..5000u32).filter(|i| i % 2 == 0) {
            assert!(z.remove(format!("m{i}").as_bytes()));
        }
        z.check();
        // Re-adding as many members fills the freed slots first.
        for i in 0..2500u32 {
            z.set(format!("n{i}").as_bytes(), (i % 7) as f64 - 3.0);
        }
        z.check();
        assert_eq!(z.list.nodes.len(), nodes);
        // Levels are random, so block sizes differ; most are reused.
        assert!(z.list.upper.len() < upper + upper / 2);
        // Updates move members without leaking slots.
        for i in 0..2500u32 {
            z.set(format!("n{i}").as_bytes(), i as f64);
        }
        z.check();
        assert_eq!(z.list.nodes.len(), nodes);
        assert_eq!(std::mem::size_of::<Node>(), 64);
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
