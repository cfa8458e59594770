//! The stream type: entries ordered by id, consumer groups with pending
//! entries lists (PELs), and Redis 7.0's bookkeeping (`entries-added`,
//! `max-deleted-entry-id`, `recorded-first-entry-id`, per-group
//! `entries-read` for the lag).
//!
//! Entries live in a `BTreeMap` by id. Redis stores them in listpack nodes
//! of up to `stream-node-max-entries` (100) entries or
//! `stream-node-max-bytes` (4096) bytes, indexed by a radix tree; that
//! layout is visible in two ways (approximate trimming with `~` removes
//! whole nodes only, and XINFO reports the radix tree's size), so `nodes`
//! models it: each node keeps its master id, how many entries were
//! appended to it, how many are still live, and its estimated bytes.
//!
//! Invariants kept here:
//! - Every entry id is greater than `0-0` and at most `last_id`. Appends
//!   only grow `last_id`; XSETID (`set_id`) may lower it, but never below
//!   the top live entry.
//! - `first_id` is the smallest live id, or `0-0` when the stream is empty.
//! - `nodes` are ordered by master id; each live entry belongs to the last
//!   node whose master id is at most its id; a node with no live entry is
//!   removed. The sum of `live` over nodes equals `entries.len()`.
//! - Each group's PEL and its consumers' PELs hold the same ids: an id in
//!   `pel` is in exactly one consumer's `pel`, the one it names.

use super::Sso;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// A stream entry id: milliseconds and sequence number.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct StreamId {
    /// Milliseconds part.
    pub ms: u64,
    /// Sequence part.
    pub seq: u64,
}

impl StreamId {
    /// The smallest id, `0-0`.
    pub const MIN: StreamId = StreamId { ms: 0, seq: 0 };
    /// The largest id.
    pub const MAX: StreamId = StreamId {
        ms: u64::MAX,
        seq: u64::MAX,
    };

    /// A new id.
    pub const fn new(ms: u64, seq: u64) -> StreamId {
        StreamId { ms, seq }
    }

    /// The next id, or `None` past the largest.
    pub fn incr(self) -> Option<StreamId> {
        if self.seq < u64::MAX {
            Some(StreamId::new(self.ms, self.seq + 1))
        } else if self.ms < u64::MAX {
            Some(StreamId::new(self.ms + 1, 0))
        } else {
            None
        }
    }

    /// The previous id, or `None` before `0-0`.
    pub fn decr(self) -> Option<StreamId> {
        if self.seq > 0 {
            Some(StreamId::new(self.ms, self.seq - 1))
        } else if self.ms > 0 {
            Some(StreamId::new(self.ms - 1, u64::MAX))
        } else {
            None
        }
    }

    /// True for `0-0`.
    pub fn is_zero(self) -> bool {
        self == StreamId::MIN
    }

    /// The 16 big-endian bytes Redis uses as the radix tree key.
    pub fn to_be_bytes(self) -> [u8; 16] {
        let mut b = [0u8; 16];
        b[..8].copy_from_slice(&self.ms.to_be_bytes());
        b[8..].copy_from_slice(&self.seq.to_be_bytes());
        b
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.ms, self.seq)
    }
}

/// A pending (delivered, not yet acknowledged) entry of a group.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Pending {
    /// The consumer that owns it.
    pub consumer: Vec<u8>,
    /// Unix ms of the last delivery.
    pub delivery_time: u64,
    /// How many times it was delivered.
    pub delivery_count: u64,
}

/// A consumer of a group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Consumer {
    /// Unix ms of the consumer's last interaction.
    pub seen_time: u64,
    /// The ids it owns in the group's PEL.
    pub pel: BTreeSet<StreamId>,
}

/// A consumer group.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Group {
    /// The last id delivered to the group.
    pub last_id: StreamId,
    /// Logical count of entries read, or -1 when unknown.
    pub entries_read: i64,
    /// Pending entries, by id.
    pub pel: BTreeMap<StreamId, Pending>,
    /// Consumers, by name.
    pub consumers: BTreeMap<Vec<u8>, Consumer>,
}

/// Redis's "unknown entries-read" marker.
pub const INVALID_ENTRIES_READ: i64 = -1;

/// One modelled listpack node.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Id of the first entry appended to the node.
    pub master: StreamId,
    /// Id of the last entry appended to the node.
    pub last: StreamId,
    /// Entries appended, deleted ones included.
    pub appended: u32,
    /// Entries still live.
    pub live: u32,
    /// Estimated listpack bytes.
    pub bytes: u32,
}

/// A stream.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stream {
    /// Entries by id: flat field, value, field, value...
    pub entries: BTreeMap<StreamId, Vec<Sso>>,
    /// The last id generated (or set).
    pub last_id: StreamId,
    /// The first live id, `0-0` when empty.
    pub first_id: StreamId,
    /// The largest id ever deleted by XDEL.
    pub max_deleted: StreamId,
    /// Entries ever added.
    pub entries_added: u64,
    /// Consumer groups, by name.
    pub groups: BTreeMap<Vec<u8>, Group>,
    /// The modelled listpack nodes.
    pub nodes: VecDeque<Node>,
}

/// Bytes a listpack spends on one string element.
fn lp_elem(len: usize) -> usize {
    if len < 64 {
        len + 2
    } else if len < 4096 {
        len + 4
    } else {
        len + 10
    }
}

impl Stream {
    /// An empty stream.
    pub fn new() -> Stream {
        Stream::default()
    }

    /// Number of live entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True without live entries.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The id XADD `*` generates at `now_ms`, or `None` once the last
    /// possible id was used.
    pub fn next_auto_id(&self, now_ms: u64) -> Option<StreamId> {
        if self.last_id.ms >= now_ms {
            self.last_id.incr()
        } else {
            Some(StreamId::new(now_ms, 0))
        }
    }

    /// Appends an entry with an id greater than `last_id` (checked by the
    /// caller). `node_max` is (entries, bytes) per node.
    pub fn append(&mut self, id: StreamId, fields: Vec<Sso>, node_max: (usize, usize)) {
        debug_assert!(id > self.last_id);
        let values_len: usize = fields.iter().map(Sso::len).sum();
        let entry_bytes: usize = fields.iter().map(|f| lp_elem(f.len())).sum::<usize>() + 10;
        let need_new = match self.nodes.back() {
            None => true,
            Some(n) => {
                (node_max.0 > 0 && n.live as usize >= node_max.0)
                    || (node_max.1 > 0 && n.bytes as usize + values_len >= node_max.1)
            }
        };
        if need_new {
            let header: usize = 7
                + 8
                + fields
                    .iter()
                    .step_by(2)
                    .map(|f| lp_elem(f.len()))
                    .sum::<usize>();
            self.nodes.push_back(Node {
                master: id,
                last: id,
                appended: 0,
                live: 0,
                bytes: header as u32,
            });
        }
        let node = self.nodes.back_mut().expect("a node");
        node.appended += 1;
        node.last = id;
        node.live += 1;
        node.bytes = node.bytes.saturating_add(entry_bytes as u32);
        self.entries.insert(id, fields);
        self.entries_added += 1;
        self.last_id = id;
        if self.entries.len() == 1 {
            self.first_id = id;
        }
    }

    /// XSETID's effect: the last id, and optionally `entries_added` and
    /// `max_deleted`. The caller checked that `id` is not below the top
    /// live entry (which keeps the invariant above) and that
    /// `entries_added` is at least the length.
    pub fn set_id(
        &mut self,
        id: StreamId,
        entries_added: Option<u64>,
        max_deleted: Option<StreamId>,
    ) {
        debug_assert!(self.entries.keys().next_back().is_none_or(|top| *top <= id));
        self.last_id = id;
        if let Some(n) = entries_added {
            self.entries_added = n;
        }
        if let Some(m) = max_deleted {
            self.max_deleted = m;
        }
    }

    fn node_of(&self, id: StreamId) -> Option<usize> {
        // The last node whose master id is <= id.
        let idx = self.nodes.partition_point(|n| n.master <= id);
        idx.checked_sub(1)
    }

    fn unlink(&mut self, id: StreamId) {
        if let Some(i) = self.node_of(id) {
            let n = &mut self.nodes[i];
            n.live -= 1;
            if n.live == 0 {
                self.nodes.remove(i);
            }
        }
    }

    fn refresh_first(&mut self) {
        self.first_id = self.entries.keys().next().copied().unwrap_or(StreamId::MIN);
    }

    /// XDEL of one id: true when it existed.
    pub fn delete(&mut self, id: StreamId) -> bool {
        if self.entries.remove(&id).is_none() {
            return false;
        }
        self.unlink(id);
        if id > self.max_deleted {
            self.max_deleted = id;
        }
        self.refresh_first();
        true
    }

    /// Trims by MAXLEN (`Ok(maxlen)`) or MINID (`Err(minid)`). With
    /// `approx`, only whole nodes go, and at most `limit` entries (0: no
    /// limit). Returns how many entries were removed.
    pub fn trim(&mut self, by: Result<usize, StreamId>, approx: bool, limit: usize) -> usize {
        let mut removed = 0usize;
        if matches!(by, Ok(maxlen) if self.entries.len() <= maxlen) {
            return 0;
        }
        while let Some(node) = self.nodes.front() {
            let len = self.entries.len();
            // Entries of the first node, in order.
            let next_master = self.nodes.get(1).map(|n| n.master);
            let whole = match by {
                Ok(maxlen) => len - node.live as usize >= maxlen,
                Err(minid) => node.last < minid,
            };
            if whole {
                if limit != 0 && removed + node.live as usize > limit {
                    break;
                }
                let master = node.master;
                let ids: Vec<StreamId> = match next_master {
                    Some(m) => self.entries.range(master..m).map(|(k, _)| *k).collect(),
                    None => self.entries.range(master..).map(|(k, _)| *k).collect(),
                };
                for id in &ids {
                    self.entries.remove(id);
                }
                removed += ids.len();
                self.nodes.pop_front();
                continue;
            }
            if approx {
                break;
            }
            // Exact trimming removes single entries of the first node.
            let ids: Vec<StreamId> = self
                .entries
                .keys()
                .copied()
                .take(node.live as usize)
                .collect();
            for id in ids {
                let stop = match by {
                    Ok(maxlen) => self.entries.len() <= maxlen,
                    Err(minid) => id >= minid,
                };
                if stop {
                    break;
                }
                self.entries.remove(&id);
                self.unlink(id);
                removed += 1;
            }
            break;
        }
        if removed > 0 {
            self.refresh_first();
        }
        removed
    }

    /// True when an XDEL tombstone lies in `[start, end]` (Redis's
    /// `streamRangeHasTombstones`).
    pub fn has_tombstones(&self, start: StreamId, end: StreamId) -> bool {
        if self.entries.is_empty() || self.max_deleted.is_zero() {
            return false;
        }
        if self.first_id > self.max_deleted {
            return false;
        }
        start <= self.max_deleted && self.max_deleted <= end
    }

    /// Redis's `streamEstimateDistanceFromFirstEverEntry`: the logical
    /// read counter of `id`, or -1 when it cannot be known.
    pub fn estimate_entries_read(&self, id: StreamId) -> i64 {
        if self.entries_added == 0 {
            return 0;
        }
        if self.entries.is_empty() && id <= self.last_id {
            return self.entries_added as i64;
        }
        if id == self.last_id {
            return self.entries_added as i64;
        }
        if id > self.last_id {
            return INVALID_ENTRIES_READ;
        }
        if self.max_deleted.is_zero() || self.max_deleted < self.first_id {
            let base = (self.entries_added - self.entries.len() as u64) as i64;
            if id < self.first_id {
                return base;
            }
            if id == self.first_id {
                return base + 1;
            }
        }
        INVALID_ENTRIES_READ
    }

    /// The lag of `group` as XINFO reports it, or `None` when unknown.
    pub fn lag(&self, g: &Group) -> Option<i64> {
        if self.entries_added == 0 {
            return Some(0);
        }
        if g.entries_read != INVALID_ENTRIES_READ && !self.has_tombstones(g.last_id, StreamId::MAX)
        {
            return Some(self.entries_added as i64 - g.entries_read);
        }
        let est = self.estimate_entries_read(g.last_id);
        (est != INVALID_ENTRIES_READ).then(|| self.entries_added as i64 - est)
    }

    /// Advances `group`'s last delivered id to `id` with Redis's
    /// entries-read bookkeeping.
    pub fn advance_group(&mut self, group: &[u8], id: StreamId) {
        let tomb = self.has_tombstones(id, StreamId::MAX);
        let est = self.estimate_entries_read(id);
        let added = self.entries_added;
        let g = self.groups.get_mut(group).expect("group exists");
        if id > g.last_id {
            if g.entries_read != INVALID_ENTRIES_READ && !tomb {
                g.entries_read += 1;
            } else if added != 0 {
                g.entries_read = est;
            }
            g.last_id = id;
        }
    }

    /// Number of keys and nodes of the radix tree indexing the listpack
    /// nodes (XINFO `radix-tree-keys` / `radix-tree-nodes`), computed as
    /// Redis's rax lays out the 16-byte master ids.
    pub fn radix_tree_size(&self) -> (usize, usize) {
        let keys: Vec<[u8; 16]> = self.nodes.iter().map(|n| n.master.to_be_bytes()).collect();
        let mut nodes = 1; // the root
        if !keys.is_empty() {
            count_child(&keys, 0, &mut nodes);
        }
        (keys.len(), nodes)
    }

    /// Approximate heap bytes.
    pub fn heap_size(&self) -> usize {
        self.entries
            .values()
            .map(|f| 64 + f.iter().map(|s| 24 + s.heap_size()).sum::<usize>())
            .sum::<usize>()
            + self
                .groups
                .values()
                .map(|g| 64 + g.pel.len() * 64)
                .sum::<usize>()
    }
}

/// Counts the rax nodes below a node at prefix length `depth` (already
/// counted) shared by the sorted, distinct `keys`: a node for every
/// branching prefix, for every child of one, and for every key end.
fn count_child(keys: &[[u8; 16]], depth: usize, nodes: &mut usize) {
    if depth == 16 {
        // The child node itself is the key node.
        return;
    }
    let mut d = depth;
    while d < 16 && keys.iter().all(|k| k[d] == keys[0][d]) {
        d += 1;
    }
    if d == 16 {
        *nodes += 1;
        return;
    }
    if d != depth {
        *nodes += 1;
    }
    let mut i = 0;
    while i < keys.len() {
        let b = keys[i][d];
        let j = i + keys[i..].iter().take_while(|k| k[d] == b).count();
        *nodes += 1;
        count_child(&keys[i..j], d + 1, nodes);
        i = j;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream_of(n: u64) -> Stream {
        let mut s = Stream::new();
        for i in 1..=n {
            s.append(
                StreamId::new(i, 0),
                vec![Sso::from("f"), Sso::from("v")],
                (100, 4096),
            );
        }
        s
    }

    #[test]
    fn radix_tree_size_matches_redis() {
        // Figures read from redis-server 7.0 for the same streams.
        assert_eq!(stream_of(1).radix_tree_size(), (1, 2));
        assert_eq!(stream_of(1000).radix_tree_size(), (10, 26));
        let mut s = stream_of(1000);
        assert_eq!(s.trim(Err(StreamId::new(301, 0)), false, 0), 300);
        assert_eq!(s.radix_tree_size(), (7, 19));
    }

    #[test]
    fn approximate_trim_removes_whole_nodes() {
        let mut s = stream_of(1000);
        assert_eq!(s.trim(Ok(950), true, 0), 0);
        assert_eq!(s.trim(Ok(850), true, 0), 100);
        assert_eq!(s.trim(Err(StreamId::new(301, 0)), true, 0), 200);
        assert_eq!(s.trim(Ok(10), true, 50), 0);
        assert_eq!(s.trim(Ok(690), false, 0), 10);
        assert_eq!(s.first_id, StreamId::new(311, 0));
        assert_eq!(s.len(), 690);
    }

    #[test]
    fn ids_step_across_boundaries() {
        assert_eq!(StreamId::new(1, u64::MAX).incr(), Some(StreamId::new(2, 0)));
        assert_eq!(StreamId::MAX.incr(), None);
        assert_eq!(StreamId::new(2, 0).decr(), Some(StreamId::new(1, u64::MAX)));
        assert_eq!(StreamId::MIN.decr(), None);
    }
}
