//! placeholder

use super::CommandSpec;

/// Table.
pub const COMMANDS: &[CommandSpec] = &[];
