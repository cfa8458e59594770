//! The hash type.

use super::Sso;

/// A hash of fields to values.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Hash {
    /// Field → value.
    pub map: hashbrown::HashMap<Sso, Sso>,
}

impl Hash {
    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }
    /// Approximate heap bytes.
    pub fn heap_size(&self) -> usize {
        self.map.capacity() * 49
            + self
                .map
                .iter()
                .map(|(k, v)| k.heap_size() + v.heap_size())
                .sum::<usize>()
    }
}
