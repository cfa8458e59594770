//! The list type.

use super::Sso;
use std::collections::VecDeque;

/// A list of byte strings.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct List {
    /// The elements, head first.
    pub items: VecDeque<Sso>,
}

impl List {
    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        "quicklist"
    }
    /// Approximate heap bytes.
    pub fn heap_size(&self) -> usize {
        self.items.capacity() * 24 + self.items.iter().map(Sso::heap_size).sum::<usize>()
    }
}
