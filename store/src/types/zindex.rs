//! The ordered index of a sorted set: a counted B+tree of (score, member)
//! entries (order statistics: rank and access by rank in O(log n)).
//!
//! Why a B+tree: a 1M-member skiplist costs ~20–30 dependent cache misses
//! per search (one per node stepped onto). Here a search reads one wide
//! node per level, its scores laid out contiguously (a few adjacent cache
//! lines, which the prefetcher fetches together), and a 1M set is four or
//! five levels deep.
//!
//! Layout:
//! - Leaves hold up to `L` entries, struct-of-arrays: `scores` (searched
//!   first) and `members` (compared only on a score tie). Leaves are linked
//!   both ways, in order, for range walks.
//! - Internal nodes hold up to `I` children, each with the number of
//!   entries under it (`Kid::count`), and `len - 1` separator keys: key `i`
//!   is the smallest entry under child `i + 1`.
//! - Nodes live in two arenas (chunked vectors, see `Arena`) and link by
//!   `u32` index; freed nodes go to a free list and are reused first.
//!
//! Sizes: `L = 16`, `I = 32` (576- and 1344-byte nodes). On the 1M-member
//! engine bench, leaves of 16, 24, 32 and 64 entries and internal nodes of
//! 32 and 64 children measured the same within noise (ZADD ~1.5–2 µs,
//! CPU time); 16-entry leaves keep a small set's index at one 576-byte
//! leaf. Tests run the same code with nodes of 4 to 8 so that every split,
//! merge and redistribution path runs constantly.
//!
//! Invariants (checked by [`OrderIndex::check`]):
//! - Entries are in strictly increasing [`cmp_entry`] order along the leaf
//!   chain; no score is NaN.
//! - Every leaf is at depth `height`; a leaf holds `1..=L` entries and,
//!   unless it is the root, at least `MIN_LEAF`. An internal node holds
//!   `2..=I` children and, unless it is the root, at least `MIN_INNER`.
//! - Separator key `i` of an internal node *equals* the first entry under
//!   child `i + 1` (kept exact on removal too, so a range predicate is only
//!   ever evaluated on keys that are entries of the set: lex ranges over
//!   equal scores depend on that).
//! - `Kid::count` is the number of entries under that child.
//! - Unused array slots hold `+inf` scores and empty members (the
//!   vectorised "count scores below" search relies on the `+inf` padding:
//!   a `+inf` is never below anything, so padding never counts).
//! - Every arena slot is either reachable from the root exactly once or on
//!   its free list.
//!
//! Underflow policy: a node that drops below its minimum (a quarter of its
//! capacity) is merged with an adjacent sibling when both fit in three
//! quarters of a node, else the two share their entries evenly. Merging
//! only to three quarters means a merged node needs a quarter of a node of
//! inserts before it splits again, so alternating inserts and removals at a
//! boundary cannot split and merge on every operation. A root with one
//! child is replaced by the child.
//!
//! Memory reclaim: when three quarters of the leaf arena are free slots
//! (a set that shrank), the whole index is rebuilt compactly into new,
//! exactly sized arenas (O(n), amortised O(1) per removal since the arena
//! only shrinks to the live size).

use super::Sso;
use std::cmp::Ordering;

/// Compares (score, member) pairs the way the index orders them: scores
/// numerically (so `-0` and `0` tie), ties by member bytes.
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

/// A position in the index (a leaf and a slot in it). Valid only until the
/// index is next modified.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pos {
    leaf: u32,
    slot: u32,
}

/// The "no entry" position.
pub const NIL: Pos = Pos {
    leaf: NONE,
    slot: 0,
};

/// The "no node" link.
const NONE: u32 = u32::MAX;
/// Longest root-to-leaf path: internal nodes have at least two children,
/// so a `u32`-counted tree is at most 32 levels deep.
const MAX_DEPTH: usize = 40;

/// log2 of the nodes per arena chunk for nodes of `size` bytes: the
/// smallest power of two whose chunk is big enough to be advised for huge
/// pages (4096 internal nodes, 8192 leaves). Tests use chunks of 8 nodes so
/// that nodes in different chunks are exercised.
const fn chunk_shift(size: usize) -> usize {
    if cfg!(test) {
        return 3;
    }
    let mut s = 0;
    while (size << s) < crate::hugepage::MIN_BYTES && s < 24 {
        s += 1;
    }
    s
}

/// A node arena: a vector of chunks of up to `CHUNK` nodes, indexed by
/// `u32`. Unlike one big `Vec`, growing never copies more than one chunk
/// (no multi-megabyte copy under the engine lock when a big set grows) and
/// the spare capacity is at most half a chunk (a doubling `Vec` keeps up to
/// half its size spare, which `MEMORY USAGE` would report). Only the last
/// chunk is partly filled; each chunk grows by doubling up to `CHUNK` (so a
/// small set stays small), and is advised for huge pages once large.
#[derive(Clone, Debug)]
struct Arena<T> {
    chunks: Vec<Vec<T>>,
    len: usize,
}

impl<T> Arena<T> {
    const SHIFT: usize = chunk_shift(std::mem::size_of::<T>());
    const CHUNK: usize = 1 << Self::SHIFT;

    const fn new() -> Self {
        Arena {
            chunks: Vec::new(),
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    /// Heap bytes held.
    fn heap_size(&self) -> usize {
        self.chunks.iter().map(|c| c.capacity()).sum::<usize>() * std::mem::size_of::<T>()
            + self.chunks.capacity() * std::mem::size_of::<Vec<T>>()
    }

    /// Appends `x`, returning its index.
    fn push(&mut self, x: T) -> u32 {
        if self.len & (Self::CHUNK - 1) == 0 {
            if self.chunks.is_empty() {
                // Most sets are small: one chunk, no spare headers.
                self.chunks.reserve_exact(1);
            }
            self.chunks.push(Vec::new());
        }
        let last = self.chunks.last_mut().expect("a chunk");
        if last.len() == last.capacity() {
            // Exact doubling from one node (a plain `Vec` starts at four
            // nodes of this size), to `CHUNK`.
            crate::hugepage::grow_advised(last, (last.capacity() * 2).clamp(1, Self::CHUNK));
        }
        last.push(x);
        self.len += 1;
        (self.len - 1) as u32
    }

    /// Two distinct nodes, mutably.
    fn pair_mut(&mut self, a: u32, b: u32) -> (&mut T, &mut T) {
        let (a, b) = (a as usize, b as usize);
        assert_ne!(a, b);
        let (ca, cb) = (a >> Self::SHIFT, b >> Self::SHIFT);
        let (ia, ib) = (a & (Self::CHUNK - 1), b & (Self::CHUNK - 1));
        if ca == cb {
            let c = &mut self.chunks[ca];
            if ia < ib {
                let (x, y) = c.split_at_mut(ib);
                (&mut x[ia], &mut y[0])
            } else {
                let (x, y) = c.split_at_mut(ia);
                (&mut y[0], &mut x[ib])
            }
        } else if ca < cb {
            let (x, y) = self.chunks.split_at_mut(cb);
            (&mut x[ca][ia], &mut y[0][ib])
        } else {
            let (x, y) = self.chunks.split_at_mut(ca);
            (&mut y[0][ia], &mut x[cb][ib])
        }
    }
}

impl<T> std::ops::Index<u32> for Arena<T> {
    type Output = T;
    #[inline]
    fn index(&self, i: u32) -> &T {
        let i = i as usize;
        &self.chunks[i >> Self::SHIFT][i & (Self::CHUNK - 1)]
    }
}

impl<T> std::ops::IndexMut<u32> for Arena<T> {
    #[inline]
    fn index_mut(&mut self, i: u32) -> &mut T {
        let i = i as usize;
        &mut self.chunks[i >> Self::SHIFT][i & (Self::CHUNK - 1)]
    }
}

/// A leaf: up to `L` entries in order, struct-of-arrays.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
struct Leaf<const L: usize> {
    /// Scores of `len` entries, then `+inf` padding.
    scores: [f64; L],
    len: u32,
    next: u32,
    prev: u32,
    /// Members of `len` entries, then empty strings.
    members: [Sso; L],
}

impl<const L: usize> Leaf<L> {
    fn empty() -> Self {
        Leaf {
            scores: [f64::INFINITY; L],
            len: 0,
            next: NONE,
            prev: NONE,
            members: [const { Sso::EMPTY }; L],
        }
    }

    /// Number of entries strictly below (s, m): where (s, m) goes.
    #[inline]
    fn lower_bound(&self, s: f64, m: &[u8]) -> usize {
        let mut p = count_below(&self.scores, s);
        let n = self.len as usize;
        if p < n && self.scores[p] == s {
            let q = p + self.scores[p..n].iter().take_while(|&&x| x == s).count();
            p += self.members[p..q].partition_point(|k| k.as_bytes() < m);
        }
        p
    }

    /// Inserts at slot `p` (the leaf is not full).
    #[inline]
    fn insert_at(&mut self, p: usize, s: f64, m: Sso) {
        let n = self.len as usize;
        debug_assert!(n < L && p <= n);
        self.scores.copy_within(p..n, p + 1);
        self.scores[p] = s;
        self.members[p..=n].rotate_right(1);
        self.members[p] = m;
        self.len += 1;
    }

    /// Removes slot `p`, returning its member.
    #[inline]
    fn remove_at(&mut self, p: usize) -> Sso {
        let n = self.len as usize;
        self.scores.copy_within(p + 1..n, p);
        self.scores[n - 1] = f64::INFINITY;
        let m = std::mem::replace(&mut self.members[p], Sso::EMPTY);
        self.members[p..n].rotate_left(1);
        self.len -= 1;
        m
    }

    /// Takes every entry out, leaving the leaf empty (links unchanged).
    fn drain_into(&mut self, out: &mut Vec<(f64, Sso)>) {
        for i in 0..self.len as usize {
            let m = std::mem::replace(&mut self.members[i], Sso::EMPTY);
            out.push((std::mem::replace(&mut self.scores[i], f64::INFINITY), m));
        }
        self.len = 0;
    }

    /// Appends entries (they sort after the present ones and fit).
    fn extend(&mut self, items: impl Iterator<Item = (f64, Sso)>) {
        for (s, m) in items {
            let n = self.len as usize;
            self.scores[n] = s;
            self.members[n] = m;
            self.len += 1;
        }
    }
}

/// A child of an internal node and the number of entries under it.
#[derive(Clone, Copy, Debug)]
struct Kid {
    node: u32,
    count: u32,
}

const NO_KID: Kid = Kid {
    node: NONE,
    count: 0,
};

/// An internal node: `len` children and `len - 1` separator keys.
#[derive(Clone, Debug)]
#[repr(C, align(64))]
struct Inner<const I: usize> {
    /// Score of key `i` (the first entry under child `i + 1`), then `+inf`.
    key_scores: [f64; I],
    kids: [Kid; I],
    len: u32,
    /// Member of key `i`, then empty strings.
    key_members: [Sso; I],
}

impl<const I: usize> Inner<I> {
    fn empty() -> Self {
        Inner {
            key_scores: [f64::INFINITY; I],
            kids: [NO_KID; I],
            len: 0,
            key_members: [const { Sso::EMPTY }; I],
        }
    }

    /// The child whose range holds (s, m): the number of keys <= (s, m).
    #[inline]
    fn child_for(&self, s: f64, m: &[u8]) -> usize {
        let mut p = count_below(&self.key_scores, s);
        let n = self.len as usize - 1;
        if p < n && self.key_scores[p] == s {
            let q = p + self.key_scores[p..n]
                .iter()
                .take_while(|&&x| x == s)
                .count();
            p += self.key_members[p..q].partition_point(|k| k.as_bytes() <= m);
        }
        p
    }

    fn take_key(&mut self, i: usize) -> (f64, Sso) {
        (
            std::mem::replace(&mut self.key_scores[i], f64::INFINITY),
            std::mem::replace(&mut self.key_members[i], Sso::EMPTY),
        )
    }

    fn set_key(&mut self, i: usize, (s, m): (f64, Sso)) {
        self.key_scores[i] = s;
        self.key_members[i] = m;
    }

    /// Inserts `kid` as child `c` (`c >= 1`) with key `key` before it (the
    /// node is not full).
    fn insert_kid(&mut self, c: usize, key: (f64, Sso), kid: Kid) {
        let n = self.len as usize;
        debug_assert!(n < I && c >= 1 && c <= n);
        self.kids.copy_within(c..n, c + 1);
        self.kids[c] = kid;
        self.key_scores.copy_within(c - 1..n - 1, c);
        self.key_members[c - 1..n].rotate_right(1);
        self.set_key(c - 1, key);
        self.len += 1;
    }

    /// Takes every child and key out, leaving the node empty.
    fn drain_into(&mut self, keys: &mut Vec<(f64, Sso)>, kids: &mut Vec<Kid>) {
        let n = self.len as usize;
        for i in 0..n.saturating_sub(1) {
            keys.push(self.take_key(i));
        }
        kids.extend_from_slice(&self.kids[..n]);
        self.kids[..n].fill(NO_KID);
        self.len = 0;
    }

    /// Fills an empty node with `kids` and their `kids.len() - 1` keys;
    /// returns the entries under it.
    fn fill(&mut self, keys: impl Iterator<Item = (f64, Sso)>, kids: &[Kid]) -> u32 {
        debug_assert_eq!(self.len, 0);
        for (i, k) in keys.enumerate() {
            self.set_key(i, k);
        }
        self.kids[..kids.len()].copy_from_slice(kids);
        self.len = kids.len() as u32;
        kids.iter().map(|k| k.count).sum()
    }
}

/// How many of `a` are below `s`; branch-free so that it vectorises.
#[inline]
fn count_below<const N: usize>(a: &[f64; N], s: f64) -> usize {
    let mut c = 0u32;
    for &x in a {
        c += (x < s) as u32;
    }
    c as usize
}

/// The ordered (score, member) index of a sorted set: a counted B+tree with
/// leaves of up to `L` entries and internal nodes of up to `I` children
/// (see the module documentation for the invariants).
#[derive(Clone, Debug)]
pub struct OrderIndex<const L: usize = 16, const I: usize = 32> {
    leaves: Arena<Leaf<L>>,
    inners: Arena<Inner<I>>,
    free_leaves: Vec<u32>,
    free_inners: Vec<u32>,
    /// The root (a leaf when `height == 0`), `NONE` when empty.
    root: u32,
    /// Internal levels above the leaves.
    height: u32,
    /// First and last leaf, `NONE` when empty.
    head: u32,
    tail: u32,
    len: usize,
}

impl<const L: usize, const I: usize> Default for OrderIndex<L, I> {
    fn default() -> Self {
        OrderIndex::new()
    }
}

/// A root-to-leaf path: the internal node and the child taken per level.
struct Path {
    node: [u32; MAX_DEPTH],
    child: [u32; MAX_DEPTH],
}

impl<const L: usize, const I: usize> OrderIndex<L, I> {
    const MIN_LEAF: usize = if L / 4 > 1 { L / 4 } else { 1 };
    const MIN_INNER: usize = if I / 4 > 2 { I / 4 } else { 2 };
    /// Siblings merge when their entries fit in this many.
    const MERGE_LEAF: usize = L * 3 / 4;
    const MERGE_INNER: usize = I * 3 / 4;
    const SHAPE_OK: () = assert!(L >= 4 && I >= 4 && L < 65536 && I < 65536);

    /// An empty index (allocates nothing).
    pub fn new() -> Self {
        let () = Self::SHAPE_OK;
        OrderIndex {
            leaves: Arena::new(),
            inners: Arena::new(),
            free_leaves: Vec::new(),
            free_inners: Vec::new(),
            root: NONE,
            height: 0,
            head: NONE,
            tail: NONE,
            len: 0,
        }
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn alloc_leaf(&mut self) -> u32 {
        match self.free_leaves.pop() {
            Some(i) => i,
            None => self.leaves.push(Leaf::empty()),
        }
    }

    fn alloc_inner(&mut self) -> u32 {
        match self.free_inners.pop() {
            Some(i) => i,
            None => self.inners.push(Inner::empty()),
        }
    }

    /// Frees an emptied leaf (its entries already moved out).
    fn free_leaf(&mut self, x: u32) {
        let lf = &mut self.leaves[x];
        debug_assert_eq!(lf.len, 0);
        lf.next = NONE;
        lf.prev = NONE;
        self.free_leaves.push(x);
    }

    /// Frees an emptied internal node.
    fn free_inner(&mut self, x: u32) {
        debug_assert_eq!(self.inners[x].len, 0);
        self.free_inners.push(x);
    }

    /// Inserts (s, m), which must be absent; `s` must not be NaN.
    pub fn insert(&mut self, s: f64, m: Sso) {
        debug_assert!(!s.is_nan());
        self.len += 1;
        if self.root == NONE {
            let x = self.alloc_leaf();
            self.leaves[x].insert_at(0, s, m);
            (self.root, self.head, self.tail, self.height) = (x, x, x, 0);
            return;
        }
        let h = self.height as usize;
        let mut path = Path {
            node: [0; MAX_DEPTH],
            child: [0; MAX_DEPTH],
        };
        let mut x = self.root;
        for d in 0..h {
            let nd = &mut self.inners[x];
            let c = nd.child_for(s, m.as_bytes());
            // Counted on the way down: the insert cannot fail.
            nd.kids[c].count += 1;
            path.node[d] = x;
            path.child[d] = c as u32;
            x = nd.kids[c].node;
        }
        let lf = &mut self.leaves[x];
        let p = lf.lower_bound(s, m.as_bytes());
        debug_assert!(
            p >= lf.len as usize
                || cmp_entry(lf.scores[p], lf.members[p].as_bytes(), s, m.as_bytes())
                    != Ordering::Equal,
            "insert of a present entry"
        );
        if (lf.len as usize) < L {
            lf.insert_at(p, s, m);
            return;
        }
        // Split the full leaf, then carry (key, new right node, its count)
        // up while parents are full.
        let (mut right, mut rcount, mut key) = self.split_leaf(x, p, s, m);
        for d in (0..h).rev() {
            let pn = path.node[d];
            let c = path.child[d] as usize;
            self.inners[pn].kids[c].count -= rcount;
            let kid = Kid {
                node: right,
                count: rcount,
            };
            if (self.inners[pn].len as usize) < I {
                self.inners[pn].insert_kid(c + 1, key, kid);
                return;
            }
            (right, rcount, key) = self.split_inner(pn, c + 1, key, kid);
        }
        // The root split: a new root above the two halves.
        let old = self.root;
        let r = self.alloc_inner();
        let lcount = (self.len as u32) - rcount;
        let nd = &mut self.inners[r];
        nd.kids[0] = Kid {
            node: old,
            count: lcount,
        };
        nd.kids[1] = Kid {
            node: right,
            count: rcount,
        };
        nd.set_key(0, key);
        nd.len = 2;
        self.root = r;
        self.height += 1;
        debug_assert!((self.height as usize) < MAX_DEPTH);
    }

    /// Splits full leaf `x` while inserting (s, m) at slot `p`; returns the
    /// new right leaf, its entry count and its first entry.
    ///
    /// Halves, except for an entry past the end of the last leaf (or
    /// before the start of the first): then the new leaf gets just enough
    /// entries (`MIN_LEAF`), so that ever-increasing scores (timestamps,
    /// the commonest sorted set) leave leaves nearly full, not half empty.
    fn split_leaf(&mut self, x: u32, p: usize, s: f64, m: Sso) -> (u32, u32, (f64, Sso)) {
        let r = self.alloc_leaf();
        let (a, b) = self.leaves.pair_mut(x, r);
        // `a` keeps `h` of the old entries; the entry goes to `a` when
        // `p <= h`.
        let h = if p == L && a.next == NONE {
            (L + 1 - Self::MIN_LEAF).min(L - 1)
        } else if p == 0 && a.prev == NONE {
            Self::MIN_LEAF - 1
        } else {
            L / 2
        };
        for i in h..L {
            b.scores[i - h] = std::mem::replace(&mut a.scores[i], f64::INFINITY);
            b.members[i - h] = std::mem::replace(&mut a.members[i], Sso::EMPTY);
        }
        a.len = h as u32;
        b.len = (L - h) as u32;
        if p <= h {
            a.insert_at(p, s, m);
        } else {
            b.insert_at(p - h, s, m);
        }
        b.prev = x;
        b.next = a.next;
        a.next = r;
        match b.next {
            NONE => self.tail = r,
            n => self.leaves[n].prev = r,
        }
        let b = &self.leaves[r];
        (r, b.len, (b.scores[0], b.members[0].clone()))
    }

    /// Splits full internal node `x` while inserting `kid` as child `c`
    /// with `key` before it; returns the new right node, its entry count
    /// and the key separating it from `x`.
    fn split_inner(
        &mut self,
        x: u32,
        c: usize,
        key: (f64, Sso),
        kid: Kid,
    ) -> (u32, u32, (f64, Sso)) {
        let r = self.alloc_inner();
        let (a, b) = self.inners.pair_mut(x, r);
        let h = I / 2;
        // `b` takes children h..I and the keys after child h; key h - 1
        // (the first entry under child h) separates `b` from `a`.
        for i in h..I {
            b.kids[i - h] = std::mem::replace(&mut a.kids[i], NO_KID);
        }
        for i in h..I - 1 {
            let k = a.take_key(i);
            b.set_key(i - h, k);
        }
        let up = a.take_key(h - 1);
        a.len = h as u32;
        b.len = (I - h) as u32;
        // A new child at `h` or before goes left (at `h` it is the last
        // child of `a`), so `b`'s first child, and `up`, stay as they are.
        if c <= h {
            a.insert_kid(c, key, kid);
        } else {
            b.insert_kid(c - h, key, kid);
        }
        let count = b.kids[..b.len as usize].iter().map(|k| k.count).sum();
        (r, count, up)
    }

    /// Finds (s, m): the path to its leaf, the leaf and the slot, or `None`.
    fn locate(&self, s: f64, m: &[u8], path: &mut Path) -> Option<(u32, usize)> {
        if self.root == NONE {
            return None;
        }
        let mut x = self.root;
        for d in 0..self.height as usize {
            let nd = &self.inners[x];
            let c = nd.child_for(s, m);
            path.node[d] = x;
            path.child[d] = c as u32;
            x = nd.kids[c].node;
        }
        let lf = &self.leaves[x];
        let p = lf.lower_bound(s, m);
        (p < lf.len as usize && lf.scores[p] == s && lf.members[p].as_bytes() == m)
            .then_some((x, p))
    }

    /// Removes (s, m); true when it was present.
    pub fn remove(&mut self, s: f64, m: &[u8]) -> bool {
        let mut path = Path {
            node: [0; MAX_DEPTH],
            child: [0; MAX_DEPTH],
        };
        let Some((x, p)) = self.locate(s, m, &mut path) else {
            return false;
        };
        let h = self.height as usize;
        for d in 0..h {
            let c = path.child[d] as usize;
            self.inners[path.node[d]].kids[c].count -= 1;
        }
        self.len -= 1;
        self.leaves[x].remove_at(p);
        if h == 0 {
            if self.leaves[x].len == 0 {
                self.free_leaf(x);
                (self.root, self.head, self.tail) = (NONE, NONE, NONE);
                self.reclaim();
            }
            return true;
        }
        if p == 0 {
            // The removed entry was the first under the subtree of the
            // deepest child taken other than a first child: its separator
            // becomes the next entry (when there is none, the separator
            // goes with the leaf's merge below).
            if let Some(d) = (0..h).rev().find(|&d| path.child[d] > 0) {
                let lf = &self.leaves[x];
                let next = if lf.len > 0 {
                    Some((lf.scores[0], lf.members[0].clone()))
                } else if lf.next != NONE {
                    let n = &self.leaves[lf.next];
                    Some((n.scores[0], n.members[0].clone()))
                } else {
                    None
                };
                if let Some(k) = next {
                    let c = path.child[d] as usize;
                    self.inners[path.node[d]].set_key(c - 1, k);
                }
            }
        }
        if (self.leaves[x].len as usize) < Self::MIN_LEAF {
            let mut d = h - 1;
            let mut shrunk = self.rebalance_leaves(path.node[d], path.child[d] as usize);
            // A merge takes a child from the parent, which may underflow in
            // turn.
            while shrunk && d > 0 && (self.inners[path.node[d]].len as usize) < Self::MIN_INNER {
                d -= 1;
                shrunk = self.rebalance_inners(path.node[d], path.child[d] as usize);
            }
            while self.height > 0 && self.inners[self.root].len == 1 {
                let old = self.root;
                let nd = &mut self.inners[old];
                self.root = nd.kids[0].node;
                nd.kids[0] = NO_KID;
                nd.len = 0;
                self.free_inner(old);
                self.height -= 1;
            }
            self.reclaim();
        }
        true
    }

    /// Moves (s, m) to score `to` (not NaN); true when (s, m) was present.
    /// When the new position is strictly inside the same leaf and the
    /// entry is not the leaf's first (so no count or separator changes),
    /// the entry moves within the leaf; otherwise this is a removal and an
    /// insertion.
    pub fn update(&mut self, s: f64, m: &[u8], to: f64) -> bool {
        debug_assert!(!to.is_nan());
        let mut path = Path {
            node: [0; MAX_DEPTH],
            child: [0; MAX_DEPTH],
        };
        let Some((x, p)) = self.locate(s, m, &mut path) else {
            return false;
        };
        let lf = &mut self.leaves[x];
        let n = lf.len as usize;
        let hi = if p == n - 1 { n.wrapping_sub(2) } else { n - 1 };
        let inside = p > 0
            && n >= 3
            && cmp_entry(lf.scores[0], lf.members[0].as_bytes(), to, m) == Ordering::Less
            && cmp_entry(to, m, lf.scores[hi], lf.members[hi].as_bytes()) == Ordering::Less;
        if inside {
            let member = lf.remove_at(p);
            let q = lf.lower_bound(to, m);
            lf.insert_at(q, to, member);
            return true;
        }
        let member = lf.members[p].clone();
        let removed = self.remove(s, m);
        debug_assert!(removed);
        self.insert(to, member);
        true
    }

    /// The siblings to rebalance for child `c` of `parent`: (left, right)
    /// child positions.
    fn sibling_pair(&self, parent: u32, c: usize) -> (usize, usize) {
        debug_assert!(self.inners[parent].len >= 2);
        if c > 0 {
            (c - 1, c)
        } else {
            (0, 1)
        }
    }

    /// Removes child `ri` (just emptied into child `ri - 1`) and its key
    /// from internal node `parent`.
    fn drop_kid(&mut self, parent: u32, ri: usize) {
        let nd = &mut self.inners[parent];
        let n = nd.len as usize;
        nd.kids[ri - 1].count += nd.kids[ri].count;
        nd.kids.copy_within(ri + 1..n, ri);
        nd.kids[n - 1] = NO_KID;
        nd.take_key(ri - 1);
        nd.key_scores.copy_within(ri..n - 1, ri - 1);
        nd.key_scores[n - 2] = f64::INFINITY;
        nd.key_members[ri - 1..n - 1].rotate_left(1);
        nd.len -= 1;
    }

    /// Merges underfull leaf child `c` of `parent` with a sibling, or
    /// shares entries evenly with it; true when a merge took a child from
    /// `parent`.
    fn rebalance_leaves(&mut self, parent: u32, c: usize) -> bool {
        let (li, ri) = self.sibling_pair(parent, c);
        let nd = &self.inners[parent];
        let (a, b) = (nd.kids[li].node, nd.kids[ri].node);
        let mut items = Vec::with_capacity(L * 2);
        self.leaves[a].drain_into(&mut items);
        self.leaves[b].drain_into(&mut items);
        if items.len() <= Self::MERGE_LEAF {
            self.leaves[a].extend(items.into_iter());
            let next = self.leaves[b].next;
            self.leaves[a].next = next;
            match next {
                NONE => self.tail = a,
                n => self.leaves[n].prev = a,
            }
            self.free_leaf(b);
            self.drop_kid(parent, ri);
            true
        } else {
            let half = items.len() / 2;
            let total = items.len() as u32;
            let mut it = items.into_iter();
            self.leaves[a].extend(it.by_ref().take(half));
            self.leaves[b].extend(it);
            let lb = &self.leaves[b];
            let key = (lb.scores[0], lb.members[0].clone());
            let nd = &mut self.inners[parent];
            nd.set_key(ri - 1, key);
            nd.kids[li].count = half as u32;
            nd.kids[ri].count = total - half as u32;
            false
        }
    }

    /// `rebalance_leaves` for underfull internal child `c` of `parent`.
    fn rebalance_inners(&mut self, parent: u32, c: usize) -> bool {
        let (li, ri) = self.sibling_pair(parent, c);
        let (a, b, mid) = {
            let nd = &mut self.inners[parent];
            let mid = nd.take_key(ri - 1);
            (nd.kids[li].node, nd.kids[ri].node, mid)
        };
        let mut keys = Vec::with_capacity(I * 2);
        let mut kids = Vec::with_capacity(I * 2);
        self.inners[a].drain_into(&mut keys, &mut kids);
        keys.push(mid);
        self.inners[b].drain_into(&mut keys, &mut kids);
        if kids.len() <= Self::MERGE_INNER {
            // Put the separator back for `drop_kid` to take.
            let nd = &mut self.inners[parent];
            nd.set_key(ri - 1, (f64::INFINITY, Sso::EMPTY));
            self.inners[a].fill(keys.into_iter(), &kids);
            self.free_inner(b);
            self.drop_kid(parent, ri);
            true
        } else {
            let half = kids.len() / 2;
            let mut it = keys.into_iter();
            let ca = self.inners[a].fill(it.by_ref().take(half - 1), &kids[..half]);
            let up = it.next().expect("separator");
            let cb = self.inners[b].fill(it, &kids[half..]);
            let nd = &mut self.inners[parent];
            nd.set_key(ri - 1, up);
            nd.kids[li].count = ca;
            nd.kids[ri].count = cb;
            false
        }
    }

    /// Rebuilds the index compactly when most of the leaf arena is free.
    fn reclaim(&mut self) {
        let cap = self.leaves.len();
        if cap >= 16 && self.free_leaves.len() * 4 >= cap * 3 {
            let mut items = Vec::with_capacity(self.len);
            let mut x = self.head;
            while x != NONE {
                let lf = &mut self.leaves[x];
                lf.drain_into(&mut items);
                x = lf.next;
            }
            *self = Self::from_sorted(items);
        }
    }

    /// Builds an index from entries in strictly increasing order, nodes
    /// three quarters full.
    pub fn from_sorted(items: Vec<(f64, Sso)>) -> Self {
        let mut t = Self::new();
        let n = items.len();
        if n == 0 {
            return t;
        }
        let groups = |n: usize, per: usize| -> Vec<usize> {
            let k = n.div_ceil(per);
            (0..k).map(|i| n / k + usize::from(i < n % k)).collect()
        };
        let sizes = groups(n, Self::MERGE_LEAF.max(1));
        // (node, count, first entry) of the current level.
        let mut level: Vec<(u32, u32, (f64, Sso))> = Vec::with_capacity(sizes.len());
        let mut it = items.into_iter();
        let mut prev = NONE;
        for sz in sizes {
            let x = t.alloc_leaf();
            let lf = &mut t.leaves[x];
            lf.extend(it.by_ref().take(sz));
            lf.prev = prev;
            if prev != NONE {
                t.leaves[prev].next = x;
            }
            let lf = &t.leaves[x];
            level.push((x, sz as u32, (lf.scores[0], lf.members[0].clone())));
            prev = x;
        }
        t.head = level[0].0;
        t.tail = prev;
        t.len = n;
        while level.len() > 1 {
            let sizes = groups(level.len(), Self::MERGE_INNER);
            let mut up = Vec::with_capacity(sizes.len());
            let mut it = level.into_iter();
            for sz in sizes {
                let group: Vec<_> = it.by_ref().take(sz).collect();
                let x = t.alloc_inner();
                let kids: Vec<Kid> = group
                    .iter()
                    .map(|&(node, count, _)| Kid { node, count })
                    .collect();
                let mut g = group.into_iter();
                let (_, _, first) = g.next().expect("non-empty group");
                let count = t.inners[x].fill(g.map(|(_, _, k)| k), &kids);
                up.push((x, count, first));
            }
            level = up;
            t.height += 1;
        }
        t.root = level[0].0;
        t
    }

    /// Descends toward the first entry for which `pred` is false (entries
    /// must be partitioned: all `pred` entries first). Returns that leaf,
    /// the slot in it (possibly its length: the entry is then the first of
    /// the next leaf) and the number of `pred` entries.
    fn partition(&self, pred: impl Fn(f64, &[u8]) -> bool) -> (u32, usize, usize) {
        if self.root == NONE {
            return (NONE, 0, 0);
        }
        let mut x = self.root;
        let mut rank = 0usize;
        for _ in 0..self.height {
            let nd = &self.inners[x];
            let n = nd.len as usize - 1;
            let c = partition_point(n, |i| pred(nd.key_scores[i], nd.key_members[i].as_bytes()));
            rank += nd.kids[..c].iter().map(|k| k.count as usize).sum::<usize>();
            x = nd.kids[c].node;
        }
        let lf = &self.leaves[x];
        let p = partition_point(lf.len as usize, |i| {
            pred(lf.scores[i], lf.members[i].as_bytes())
        });
        (x, p, rank + p)
    }

    /// The position of slot `p` of leaf `x`, where `p` may be the leaf's
    /// length (then: the next leaf's first entry).
    fn pos_at(&self, x: u32, p: usize) -> Pos {
        if x == NONE {
            return NIL;
        }
        let lf = &self.leaves[x];
        if p < lf.len as usize {
            Pos {
                leaf: x,
                slot: p as u32,
            }
        } else if lf.next != NONE {
            Pos {
                leaf: lf.next,
                slot: 0,
            }
        } else {
            NIL
        }
    }

    /// The first entry for which `below` is false (entries must be
    /// partitioned: all `below` entries first), with its 0-based rank (the
    /// number of `below` entries); `NIL` when every entry is below.
    pub fn first_not_below(&self, below: impl Fn(f64, &[u8]) -> bool) -> (Pos, usize) {
        let (x, p, rank) = self.partition(below);
        (self.pos_at(x, p), rank)
    }

    /// The last entry for which `above` is false (all `above` entries
    /// last), with its 0-based rank; `NIL` when every entry is above.
    pub fn last_not_above(&self, above: impl Fn(f64, &[u8]) -> bool) -> (Pos, usize) {
        let (x, p, rank) = self.partition(|s, m| !above(s, m));
        if rank == 0 {
            return (NIL, 0);
        }
        let at = if p > 0 {
            Pos {
                leaf: x,
                slot: p as u32 - 1,
            }
        } else {
            let prev = self.leaves[x].prev;
            Pos {
                leaf: prev,
                slot: self.leaves[prev].len - 1,
            }
        };
        (at, rank - 1)
    }

    /// The 0-based rank of (s, m), if present.
    pub fn rank(&self, s: f64, m: &[u8]) -> Option<usize> {
        if self.root == NONE {
            return None;
        }
        let mut x = self.root;
        let mut rank = 0usize;
        for _ in 0..self.height {
            let nd = &self.inners[x];
            let c = nd.child_for(s, m);
            rank += nd.kids[..c].iter().map(|k| k.count as usize).sum::<usize>();
            x = nd.kids[c].node;
        }
        let lf = &self.leaves[x];
        let p = lf.lower_bound(s, m);
        (p < lf.len as usize && lf.scores[p] == s && lf.members[p].as_bytes() == m)
            .then_some(rank + p)
    }

    /// The entry at 0-based rank `r`, or `NIL`.
    pub fn at_rank(&self, r: usize) -> Pos {
        if r >= self.len {
            return NIL;
        }
        let mut r = r;
        let mut x = self.root;
        for _ in 0..self.height {
            let nd = &self.inners[x];
            let mut c = 0;
            while r >= nd.kids[c].count as usize {
                r -= nd.kids[c].count as usize;
                c += 1;
            }
            x = nd.kids[c].node;
        }
        Pos {
            leaf: x,
            slot: r as u32,
        }
    }

    /// The first entry, or `NIL`.
    pub fn first(&self) -> Pos {
        self.pos_at(self.head, 0)
    }

    /// The last entry, or `NIL`.
    pub fn last(&self) -> Pos {
        if self.tail == NONE {
            return NIL;
        }
        Pos {
            leaf: self.tail,
            slot: self.leaves[self.tail].len - 1,
        }
    }

    /// The entry after `x`, or `NIL`.
    #[inline]
    pub fn succ(&self, x: Pos) -> Pos {
        self.pos_at(x.leaf, x.slot as usize + 1)
    }

    /// The entry before `x`, or `NIL`.
    #[inline]
    pub fn pred(&self, x: Pos) -> Pos {
        if x.slot > 0 {
            return Pos {
                leaf: x.leaf,
                slot: x.slot - 1,
            };
        }
        match self.leaves[x.leaf].prev {
            NONE => NIL,
            p => Pos {
                leaf: p,
                slot: self.leaves[p].len - 1,
            },
        }
    }

    /// The (member, score) at `x` (not `NIL`).
    #[inline]
    pub fn get(&self, x: Pos) -> (&Sso, f64) {
        let lf = &self.leaves[x.leaf];
        (&lf.members[x.slot as usize], lf.scores[x.slot as usize])
    }

    /// Heap bytes of the index (arena capacities).
    pub fn heap_size(&self) -> usize {
        self.leaves.heap_size()
            + self.inners.heap_size()
            + (self.free_leaves.capacity() + self.free_inners.capacity()) * 4
    }

    /// Checks every invariant (used by tests); panics on a violation.
    pub fn check(&self) {
        let mut seen_leaves = vec![false; self.leaves.len()];
        let mut seen_inners = vec![false; self.inners.len()];
        let mut order = Vec::new();
        if self.root == NONE {
            assert_eq!(self.len, 0);
            assert_eq!((self.head, self.tail, self.height), (NONE, NONE, 0));
        } else {
            let (count, _) = self.check_node(
                self.root,
                self.height,
                true,
                &mut seen_leaves,
                &mut seen_inners,
                &mut order,
            );
            assert_eq!(count, self.len, "root count");
        }
        // The leaf chain visits the leaves in tree order, both ways.
        let mut chain = Vec::new();
        let mut x = self.head;
        let mut prev = NONE;
        while x != NONE {
            assert_eq!(self.leaves[x].prev, prev, "prev link");
            chain.push(x);
            prev = x;
            x = self.leaves[x].next;
        }
        assert_eq!(self.tail, prev, "tail");
        assert_eq!(chain, order, "leaf chain");
        // Entries strictly increase across leaves.
        let mut it = self.first();
        let mut n = 0;
        let mut last: Option<(f64, Sso)> = None;
        while it != NIL {
            let (m, s) = self.get(it);
            assert!(!s.is_nan());
            if let Some((ps, pm)) = &last {
                assert_eq!(
                    cmp_entry(*ps, pm.as_bytes(), s, m.as_bytes()),
                    Ordering::Less,
                    "order"
                );
            }
            last = Some((s, m.clone()));
            n += 1;
            it = self.succ(it);
        }
        assert_eq!(n, self.len);
        // Arena accounting: every slot reachable once or free.
        for &f in &self.free_leaves {
            assert!(!seen_leaves[f as usize], "free leaf in use");
            assert_eq!(self.leaves[f].len, 0);
            seen_leaves[f as usize] = true;
        }
        for &f in &self.free_inners {
            assert!(!seen_inners[f as usize], "free inner in use");
            assert_eq!(self.inners[f].len, 0);
            seen_inners[f as usize] = true;
        }
        assert!(seen_leaves.iter().all(|&s| s), "leaked leaf");
        assert!(seen_inners.iter().all(|&s| s), "leaked inner node");
    }

    /// Checks the subtree at `x` (`depth` levels above the leaves); returns
    /// its entry count and first entry.
    fn check_node(
        &self,
        x: u32,
        depth: u32,
        root: bool,
        seen_leaves: &mut [bool],
        seen_inners: &mut [bool],
        order: &mut Vec<u32>,
    ) -> (usize, (f64, Sso)) {
        if depth == 0 {
            assert!(!seen_leaves[x as usize], "leaf reached twice");
            seen_leaves[x as usize] = true;
            order.push(x);
            let lf = &self.leaves[x];
            let n = lf.len as usize;
            assert!(n >= 1 && n <= L, "leaf size {n}");
            assert!(root || n >= Self::MIN_LEAF, "leaf underfull: {n}");
            for i in 1..n {
                assert_eq!(
                    cmp_entry(
                        lf.scores[i - 1],
                        lf.members[i - 1].as_bytes(),
                        lf.scores[i],
                        lf.members[i].as_bytes()
                    ),
                    Ordering::Less
                );
            }
            for i in n..L {
                assert_eq!(lf.scores[i], f64::INFINITY, "leaf padding");
                assert!(lf.members[i].is_empty(), "leaf padding");
            }
            return (n, (lf.scores[0], lf.members[0].clone()));
        }
        assert!(!seen_inners[x as usize], "inner node reached twice");
        seen_inners[x as usize] = true;
        let nd = &self.inners[x];
        let n = nd.len as usize;
        assert!(n >= 2 && n <= I, "inner size {n}");
        assert!(root || n >= Self::MIN_INNER, "inner underfull: {n}");
        let mut total = 0;
        let mut first = None;
        for c in 0..n {
            let (count, min) = self.check_node(
                nd.kids[c].node,
                depth - 1,
                false,
                seen_leaves,
                seen_inners,
                order,
            );
            assert_eq!(nd.kids[c].count as usize, count, "kid count");
            total += count;
            if c == 0 {
                first = Some(min);
            } else {
                assert_eq!(nd.key_scores[c - 1], min.0, "separator score");
                assert_eq!(nd.key_members[c - 1], min.1, "separator member");
            }
        }
        for i in n - 1..I {
            assert_eq!(nd.key_scores[i], f64::INFINITY, "key padding");
            assert!(nd.key_members[i].is_empty(), "key padding");
        }
        (total, first.expect("children"))
    }
}

/// The first index in `0..n` for which `pred` is false (`pred` true on a
/// prefix).
#[inline]
fn partition_point(n: usize, pred: impl Fn(usize) -> bool) -> usize {
    let (mut lo, mut hi) = (0, n);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        if pred(mid) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    lo
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Sorted model: (score, member) in `cmp_entry` order.
    type Model = Vec<(f64, Vec<u8>)>;

    fn find(model: &Model, s: f64, m: &[u8]) -> Result<usize, usize> {
        model.binary_search_by(|(ms, mm)| cmp_entry(*ms, mm, s, m))
    }

    fn entries<const L: usize, const I: usize>(t: &OrderIndex<L, I>) -> Model {
        let mut out = Vec::new();
        let mut x = t.first();
        while x != NIL {
            let (m, s) = t.get(x);
            out.push((s, m.as_bytes().to_vec()));
            x = t.succ(x);
        }
        out
    }

    /// Compares every query of `t` with the model.
    fn agree<const L: usize, const I: usize>(t: &OrderIndex<L, I>, model: &Model, probes: &[f64]) {
        t.check();
        assert_eq!(t.len(), model.len());
        assert_eq!(entries(t), *model);
        // Backward walk.
        let mut back = Vec::new();
        let mut x = t.last();
        while x != NIL {
            let (m, s) = t.get(x);
            back.push((s, m.as_bytes().to_vec()));
            x = t.pred(x);
        }
        back.reverse();
        assert_eq!(back, *model);
        for (r, (s, m)) in model.iter().enumerate() {
            assert_eq!(t.rank(*s, m), Some(r));
            let (gm, gs) = t.get(t.at_rank(r));
            assert_eq!((gs, gm.as_bytes()), (*s, m.as_slice()));
        }
        assert_eq!(t.at_rank(model.len()), NIL);
        for &p in probes {
            // Score bounds: first entry with score >= p, last with <= p.
            let lo = model.partition_point(|(s, _)| *s < p);
            let (x, r) = t.first_not_below(|s, _| s < p);
            assert_eq!(r, lo);
            assert_eq!(x, if lo < model.len() { t.at_rank(lo) } else { NIL });
            let hi = model.partition_point(|(s, _)| *s <= p);
            let (y, r) = t.last_not_above(|s, _| s > p);
            if hi == 0 {
                assert_eq!(y, NIL);
            } else {
                assert_eq!((y, r), (t.at_rank(hi - 1), hi - 1));
            }
            // A member bound within a score: exercises ties in the keys.
            let mb = b"m3".as_slice();
            let lo = model.partition_point(|(s, m)| cmp_entry(*s, m, p, mb) == Ordering::Less);
            let (x, r) = t.first_not_below(|s, m| cmp_entry(s, m, p, mb) == Ordering::Less);
            assert_eq!((x, r), (t.at_rank(lo), lo));
        }
        // A member-only bound over mixed scores is not a partition (Redis
        // leaves such lex ranges unspecified): whatever the answer, the
        // position and the rank must agree.
        let (x, r) = t.first_not_below(|_, m| m < b"m3".as_slice());
        assert_eq!(x, t.at_rank(r));
        let (y, r) = t.last_not_above(|_, m| m > b"m3".as_slice());
        if y != NIL {
            assert_eq!(y, t.at_rank(r));
        }
        for (s, m) in [
            (0.5, b"zz".as_slice()),
            (f64::NEG_INFINITY, b""),
            (9.0, b"m1"),
        ] {
            if find(model, s, m).is_err() {
                assert_eq!(t.rank(s, m), None);
            }
        }
    }

    const SCORES: [f64; 8] = [
        f64::NEG_INFINITY,
        -1.0,
        -0.0,
        0.0,
        1.0,
        2.5,
        3.0,
        f64::INFINITY,
    ];

    #[derive(Clone, Debug)]
    enum Op {
        Insert(usize, u8),
        Remove(usize, u8),
        /// Remove the entry at this rank (mod len): a removal that hits.
        RemoveRank(usize),
        /// Move the entry at this rank (mod len) to another score.
        Update(usize, usize),
    }

    fn op() -> impl Strategy<Value = Op> {
        prop_oneof![
            3 => (0..SCORES.len(), 0u8..60).prop_map(|(s, m)| Op::Insert(s, m)),
            1 => (0..SCORES.len(), 0u8..60).prop_map(|(s, m)| Op::Remove(s, m)),
            2 => any::<usize>().prop_map(Op::RemoveRank),
            2 => (any::<usize>(), 0..SCORES.len()).prop_map(|(r, s)| Op::Update(r, s)),
        ]
    }

    fn run<const L: usize, const I: usize>(ops: &[Op]) {
        let mut t = OrderIndex::<L, I>::new();
        let mut model = Model::new();
        for (i, o) in ops.iter().enumerate() {
            match *o {
                Op::Insert(s, m) => {
                    let (s, m) = (SCORES[s], format!("m{m}").into_bytes());
                    if let Err(at) = find(&model, s, &m) {
                        t.insert(s, Sso::new(&m));
                        model.insert(at, (s, m));
                    }
                }
                Op::Remove(s, m) => {
                    let (s, m) = (SCORES[s], format!("m{m}").into_bytes());
                    let want = find(&model, s, &m).map(|at| model.remove(at)).is_ok();
                    assert_eq!(t.remove(s, &m), want);
                }
                Op::RemoveRank(r) => {
                    if !model.is_empty() {
                        let (s, m) = model.remove(r % model.len());
                        assert!(t.remove(s, &m));
                    }
                }
                Op::Update(r, to) => {
                    if !model.is_empty() {
                        let (s, m) = model.remove(r % model.len());
                        let to = SCORES[to];
                        match find(&model, to, &m) {
                            // (to, m) is another entry: leave both alone.
                            Ok(_) => model.insert(find(&model, s, &m).unwrap_err(), (s, m)),
                            Err(at) => {
                                assert!(t.update(s, &m, to));
                                model.insert(at, (to, m));
                            }
                        }
                    }
                }
            }
            if i % 16 == 0 {
                t.check();
            }
        }
        agree(&t, &model, &SCORES);
        // Drain completely: every node is freed or reclaimed.
        while let Some((s, m)) = model.pop() {
            assert!(t.remove(s, &m));
        }
        t.check();
        assert_eq!(t.root, NONE);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// Smallest nodes: splits and merges on nearly every operation.
        #[test]
        fn matches_model_b4(ops in proptest::collection::vec(op(), 0..400)) {
            run::<4, 4>(&ops);
        }

        /// Odd capacities (uneven halves) and a production-sized shape.
        #[test]
        fn matches_model_odd_and_wide(ops in proptest::collection::vec(op(), 0..400)) {
            run::<5, 7>(&ops);
            run::<32, 32>(&ops);
        }

        /// Bulk building gives a valid tree for any size.
        #[test]
        fn from_sorted_is_valid(n in 0usize..700) {
            let model: Model = (0..n).map(|i| ((i / 3) as f64, format!("m{i:04}").into_bytes())).collect();
            let items = model.iter().map(|(s, m)| (*s, Sso::new(m))).collect();
            let t = OrderIndex::<4, 5>::from_sorted(items);
            agree(&t, &model, &[0.0, 7.0, 1e9]);
            let t = OrderIndex::<32, 32>::from_sorted(model.iter().map(|(s, m)| (*s, Sso::new(m))).collect());
            agree(&t, &model, &[0.0, 7.0, 1e9]);
        }
    }

    /// Ascending, descending and shuffled fills, then removals in a
    /// different order; the arenas shrink back once the set is small.
    #[test]
    fn fill_and_drain_patterns() {
        let n = 5000u32;
        let mut x = 0x9E37_79B9_7F4A_7C15u64;
        let mut shuffled: Vec<u32> = (0..n).collect();
        for i in (1..shuffled.len()).rev() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            shuffled.swap(i, (x % (i as u64 + 1)) as usize);
        }
        let asc: Vec<u32> = (0..n).collect();
        let desc: Vec<u32> = (0..n).rev().collect();
        for (fill, drain) in [(&asc, &shuffled), (&desc, &asc), (&shuffled, &desc)] {
            let mut t = OrderIndex::<8, 6>::new();
            for &i in fill.iter() {
                t.insert((i % 97) as f64, Sso::new(format!("k{i}").as_bytes()));
            }
            t.check();
            assert!(t.height >= 3);
            let full = t.leaves.len();
            for (j, &i) in drain.iter().enumerate() {
                assert!(t.remove((i % 97) as f64, format!("k{i}").as_bytes()));
                if j % 500 == 0 {
                    t.check();
                }
                if t.len() == 10 {
                    t.check();
                    // Rebuilt compactly: nothing like the full arena kept.
                    assert!(t.leaves.len() <= full / 4, "{} of {full}", t.leaves.len());
                    assert!(t.leaves.len() < 16);
                }
            }
            t.check();
            assert!(t.is_empty());
        }
    }

    /// Ever-increasing (or decreasing) entries fill leaves nearly full.
    #[test]
    fn sequential_inserts_fill_leaves() {
        for desc in [false, true] {
            let mut t = OrderIndex::<16, 8>::new();
            for i in 0..10_000u32 {
                let s = if desc { -(i as f64) } else { i as f64 };
                t.insert(s, Sso::new(b"m"));
            }
            t.check();
            let leaves = t.leaves.len() - t.free_leaves.len();
            // 13 of 16 entries per leaf (the new leaf takes MIN_LEAF = 4).
            assert!(leaves * 13 <= 10_000 + 13, "{leaves} leaves");
        }
    }

    /// The node sizes the module documentation states.
    #[test]
    fn node_sizes() {
        assert_eq!(std::mem::size_of::<Leaf<16>>(), 576);
        assert_eq!(std::mem::size_of::<Inner<32>>(), 1344);
    }

    /// Freed nodes are reused before the arenas grow.
    #[test]
    fn freed_nodes_are_reused() {
        let mut t = OrderIndex::<8, 8>::new();
        for i in 0..4000u32 {
            t.insert(i as f64, Sso::new(format!("m{i}").as_bytes()));
        }
        let (leaves, inners) = (t.leaves.len(), t.inners.len());
        for i in 1000..2000u32 {
            assert!(t.remove(i as f64, format!("m{i}").as_bytes()));
        }
        t.check();
        assert!(!t.free_leaves.is_empty());
        for i in 1000..2000u32 {
            t.insert(i as f64 + 0.5, Sso::new(format!("n{i}").as_bytes()));
        }
        t.check();
        // The arenas grew only once their free lists ran out.
        assert!(t.leaves.len() == leaves || t.free_leaves.is_empty());
        assert!(t.inners.len() == inners || t.free_inners.is_empty());
        assert!(t.leaves.len() > leaves, "the middle refills half-full");
    }
}
