//! Server commands: PING, ECHO, SELECT, INFO, CONFIG, COMMAND, ...

use super::CommandSpec;

/// The server family's table.
pub const COMMANDS: &[CommandSpec] = &[];
