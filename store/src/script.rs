//! Lua scripting and functions.

/// Cached scripts and loaded function libraries.
#[derive(Default)]
pub struct Scripts {}
