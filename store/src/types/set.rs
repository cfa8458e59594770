//! The set type.

use super::Sso;

/// A set of byte strings.
#[derive(Clone, Debug, Default, serde::Serialize, serde::Deserialize)]
pub struct Set {
    /// The members.
    pub members: hashbrown::HashSet<Sso>,
}

impl Set {
    /// `OBJECT ENCODING` name.
    pub fn encoding(&self) -> &'static str {
        "hashtable"
    }
    /// Approximate heap bytes.
    pub fn heap_size(&self) -> usize {
        self.members.capacity() * 25 + self.members.iter().map(Sso::heap_size).sum::<usize>()
    }
}
