//! Keyspace commands (Redis's `db.c` and `expire.c`).

use super::CommandSpec;

/// The keyspace family's table.
pub const COMMANDS: &[CommandSpec] = &[];
