//! The sorted set type.

use super::Sso;

/// A sorted set: members ordered by (score, member).
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct ZSet {
    /// Member → score.
    pub scores: hashbrown::HashMap<Sso, f64>,
}

impl ZSet {
    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        "skiplist"
    }
    /// Approximate heap bytes.
    pub fn heap_size(&self) -> usize {
        self.scores.capacity() * 33
    }
}
