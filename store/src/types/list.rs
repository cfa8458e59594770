//! The list type.
//!
//! A ring buffer (`VecDeque`) of byte strings: O(1) push and pop at both
//! ends and O(1) LINDEX/LSET, O(n) only for LINSERT/LREM in the middle.
//! Redis 7.0 reports every list as `quicklist`, and so does this one.

use super::Sso;
use std::collections::VecDeque;

/// A list of byte strings.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct List {
    /// The elements, head first.
    pub items: VecDeque<Sso>,
}

impl List {
    /// `OBJECT ENCODING` name (Redis 7.0 lists are always quicklists).
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }

    /// Number of elements.
    #[inline]
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True when the list has no elements.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Resolves a Redis index (negative counts from the tail) to a position.
    #[inline]
    pub fn resolve(&self, index: i64) -> Option<usize> {
        let len = self.items.len() as i64;
        let i = if index < 0 { len + index } else { index };
        (0..len).contains(&i).then_some(i as usize)
    }

    /// Resolves a Redis `start stop` range (LRANGE/LTRIM rules) to a
    /// half-open range of positions; `None` when it selects nothing.
    pub fn range(&self, start: i64, stop: i64) -> Option<std::ops::Range<usize>> {
        let len = self.items.len() as i64;
        let mut start = if start < 0 {
            len.saturating_add(start)
        } else {
            start
        };
        let mut stop = if stop < 0 {
            len.saturating_add(stop)
        } else {
            stop
        };
        if start < 0 {
            start = 0;
        }
        if start > stop || start >= len {
            return None;
        }
        if stop >= len {
            stop = len - 1;
        }
        Some(start as usize..stop as usize + 1)
    }

    /// Approximate heap bytes.
    pub fn heap_size(&self) -> usize {
        self.items.capacity() * 24 + self.items.iter().map(Sso::heap_size).sum::<usize>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(n: usize) -> List {
        List {
            items: (0..n).map(|i| Sso::new(i.to_string().as_bytes())).collect(),
        }
    }

    #[test]
    fn ranges_follow_redis() {
        let l = list(5);
        assert_eq!(l.range(0, -1), Some(0..5));
        assert_eq!(l.range(-2, 100), Some(3..5));
        assert_eq!(l.range(-100, 1), Some(0..2));
        assert_eq!(l.range(3, 2), None);
        assert_eq!(l.range(5, 10), None);
        assert_eq!(l.range(i64::MIN, i64::MAX), Some(0..5));
        assert_eq!(list(0).range(0, -1), None);
    }

    #[test]
    fn indexes_follow_redis() {
        let l = list(3);
        assert_eq!(l.resolve(-1), Some(2));
        assert_eq!(l.resolve(-3), Some(0));
        assert_eq!(l.resolve(-4), None);
        assert_eq!(l.resolve(3), None);
        assert_eq!(l.resolve(i64::MIN), None);
    }
}
