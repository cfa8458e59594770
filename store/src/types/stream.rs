//! The stream type.

/// A stream of entries with consumer groups.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Stream {}

impl Stream {
    /// Approximate heap bytes.
    pub fn heap_size(&self) -> usize {
        0
    }
}
