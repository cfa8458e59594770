//! `Dense<T>`: an "index map" of items keyed by bytes, used by sets and
//! hashes.
//!
//! Items live contiguously in a `Vec`; a hash table of `u32` positions finds
//! them by key. This gives O(1) lookup, insert and (swap-)remove, O(1)
//! uniform random picks (SRANDMEMBER, SPOP, HRANDFIELD) and a position
//! cursor for SSCAN/HSCAN, for about 5 bytes of index per item on top of
//! the items themselves.
//!
//! Small collections keep a meaningful order (insertion order for a
//! listpack hash, numeric order for an intset) with `insert_at` and
//! `remove_ordered`, which shift positions in O(n); both are only used
//! while a collection is small.
//!
//! Invariants:
//! - `index` holds exactly the positions `0..items.len()`, each filed under
//!   the hash of `items[pos].key()`.
//! - No two items have equal keys.
//! - Swap-removal moves the last item into the hole, so a cursor walking
//!   positions from the end to the start returns every item that lives
//!   through the whole scan (perhaps twice), as Redis's SCAN guarantees.

use hashbrown::HashTable;
use std::hash::BuildHasher;

/// An item of a `Dense`: something with a byte-string key.
pub trait Keyed {
    /// The item's key.
    fn key(&self) -> &[u8];
}

impl Keyed for super::Sso {
    #[inline]
    fn key(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Keyed for (super::Sso, super::Sso) {
    #[inline]
    fn key(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// Items with unique keys, stored densely, indexed by key.
#[derive(Clone)]
pub struct Dense<T> {
    items: Vec<T>,
    index: HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl<T> Default for Dense<T> {
    fn default() -> Self {
        Dense {
            items: Vec::new(),
            index: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }
}

impl<T: std::fmt::Debug> std::fmt::Debug for Dense<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.items.iter()).finish()
    }
}

impl<T: Keyed> Dense<T> {
    /// Number of items.
    #[inline]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The items, in storage order.
    #[inline]
    pub fn items(&self) -> &[T] {
        &self.items
    }

    /// The item at `pos`.
    #[inline]
    pub fn at(&self, pos: usize) -> &T {
        &self.items[pos]
    }

    /// The item at `pos`, mutably. The key must not change.
    #[inline]
    pub fn at_mut(&mut self, pos: usize) -> &mut T {
        &mut self.items[pos]
    }

    /// The position of the item with key `key`.
    #[inline]
    pub fn find(&self, key: &[u8]) -> Option<usize> {
        if self.items.is_empty() {
            return None;
        }
        let h = self.hasher.hash_one(key);
        let items = &self.items;
        self.index
            .find(h, |&p| items[p as usize].key() == key)
            .map(|&p| p as usize)
    }

    /// True when an item has key `key`.
    #[inline]
    pub fn contains(&self, key: &[u8]) -> bool {
        self.find(key).is_some()
    }

    /// Appends an item whose key is known to be absent; returns its position.
    pub fn push_new(&mut self, item: T) -> usize {
        debug_assert!(!self.contains(item.key()));
        let pos = self.items.len();
        assert!(pos < u32::MAX as usize, "collection too large");
        let h = self.hasher.hash_one(item.key());
        self.items.push(item);
        let (items, hasher) = (&self.items, &self.hasher);
        self.index
            .insert_unique(h, pos as u32, |&p| hasher.hash_one(items[p as usize].key()));
        pos
    }

    /// Inserts an item whose key is known to be absent at `pos`, shifting
    /// the items after it (O(n): for small, ordered collections).
    pub fn insert_at(&mut self, pos: usize, item: T) {
        let last = self.push_new(item);
        if pos < last {
            for p in self.index.iter_mut() {
                let v = *p as usize;
                if v >= pos && v < last {
                    *p += 1;
                } else if v == last {
                    *p = pos as u32;
                }
            }
            self.items[pos..].rotate_right(1);
        }
    }

    fn unindex(&mut self, pos: usize) {
        let h = self.hasher.hash_one(self.items[pos].key());
        match self.index.find_entry(h, |&p| p as usize == pos) {
            Ok(e) => {
                e.remove();
            }
            Err(_) => unreachable!("index lost position {pos}"),
        }
    }

    /// Removes the item at `pos`, moving the last item into its place (O(1)).
    pub fn swap_remove(&mut self, pos: usize) -> T {
        self.unindex(pos);
        let last = self.items.len() - 1;
        if pos != last {
            let h = self.hasher.hash_one(self.items[last].key());
            if let Some(slot) = self.index.find_mut(h, |&p| p as usize == last) {
                *slot = pos as u32;
            }
        }
        let item = self.items.swap_remove(pos);
        self.maybe_shrink();
        item
    }

    /// Removes the item at `pos`, keeping the order of the others (O(n):
    /// for small, ordered collections).
    pub fn remove_ordered(&mut self, pos: usize) -> T {
        self.unindex(pos);
        for p in self.index.iter_mut() {
            if *p as usize > pos {
                *p -= 1;
            }
        }
        let item = self.items.remove(pos);
        self.maybe_shrink();
        item
    }

    fn maybe_shrink(&mut self) {
        let cap = self.items.capacity();
        if cap > 16 && self.items.len() * 4 < cap {
            self.items.shrink_to(self.items.len() * 2);
            let (items, hasher) = (&self.items, &self.hasher);
            self.index.shrink_to(items.len() * 2, |&p| {
                hasher.hash_one(items[p as usize].key())
            });
        }
    }

    /// Bytes of the vector and index themselves (not the items' heap).
    pub fn table_bytes(&self) -> usize {
        self.items.capacity() * std::mem::size_of::<T>() + self.index.capacity() * 5
    }

    /// Builds from items with unique keys (duplicates keep the first).
    pub fn from_items(items: Vec<T>) -> Self {
        let mut d = Dense::default();
        d.items.reserve(items.len());
        for it in items {
            if !d.contains(it.key()) {
                d.push_new(it);
            }
        }
        d
    }

    /// Takes the items out, leaving the collection empty.
    pub fn into_items(self) -> Vec<T> {
        self.items
    }
}

impl<T: serde::Serialize> serde::Serialize for Dense<T> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.items.serialize(s)
    }
}

impl<'de, T: serde::Deserialize<'de> + Keyed> serde::Deserialize<'de> for Dense<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Dense::from_items(Vec::<T>::deserialize(d)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::types::Sso;

    fn keys(d: &Dense<Sso>) -> Vec<String> {
        d.items()
            .iter()
            .map(|s| String::from_utf8(s.as_bytes().to_vec()).unwrap())
            .collect()
    }

    fn check_index(d: &Dense<Sso>) {
        for (i, it) in d.items().iter().enumerate() {
            assert_eq!(d.find(it.as_bytes()), Some(i));
        }
    }

    #[test]
    fn ordered_insert_and_remove_keep_index() {
        let mut d = Dense::default();
        for k in ["b", "d", "f"] {
            d.push_new(Sso::from(k));
        }
        d.insert_at(0, Sso::from("a"));
        d.insert_at(2, Sso::from("c"));
        d.insert_at(5, Sso::from("g"));
        assert_eq!(keys(&d), ["a", "b", "c", "d", "f", "g"]);
        check_index(&d);
        d.remove_ordered(1);
        assert_eq!(keys(&d), ["a", "c", "d", "f", "g"]);
        check_index(&d);
        d.swap_remove(0);
        assert_eq!(keys(&d), ["g", "c", "d", "f"]);
        check_index(&d);
        assert_eq!(d.find(b"a"), None);
    }
}
