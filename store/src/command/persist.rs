//! Persistence commands: SAVE, BGSAVE, LASTSAVE, BGREWRITEAOF.
//!
//! In Ferrite a snapshot is always the base of the log, so SAVE and BGSAVE
//! both write a new snapshot and restart the log (see `persist::rewrite`),
//! and BGREWRITEAOF is the same operation as BGSAVE. An in-memory engine
//! has nowhere to save: these commands reply with an error there, and
//! LASTSAVE reports the engine's start.

use super::{CommandSpec, Flags};
use crate::cmd;
use crate::engine::Ctx;
use crate::persist::{self, SaveError};
use crate::reply::Reply;
use crate::util::eq_ic;

const ADMIN: Flags = Flags::ADMIN.or(Flags::NOSCRIPT);

/// The persistence family's table.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("save", 1, ADMIN.or(Flags::NO_MULTI), 0, 0, 0, save),
    cmd!("bgsave", -1, ADMIN, 0, 0, 0, bgsave),
    cmd!("bgrewriteaof", 1, ADMIN, 0, 0, 0, bgrewriteaof),
    cmd!(
        "lastsave",
        1,
        Flags::RANDOM.or(Flags::FAST).or(Flags::LOADING),
        0,
        0,
        0,
        lastsave
    ),
];

/// The error for save commands on an in-memory engine.
pub const NOT_DURABLE: &str =
    "ERR this database is in memory only (open it with a path to persist it)";

fn save_error(e: SaveError, in_progress: &str) -> Reply {
    match e {
        SaveError::NotDurable => Reply::err(NOT_DURABLE),
        SaveError::InProgress => Reply::err(in_progress),
        SaveError::Failed(msg) => Reply::err(format!("ERR {msg}")),
    }
}

fn save(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> Reply {
    match persist::save(ctx.st) {
        Ok(()) => Reply::ok(),
        Err(e) => save_error(e, "ERR Background save already in progress"),
    }
}

fn bgsave(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let schedule = match argv.len() {
        1 => false,
        2 if eq_ic(argv[1], "schedule") => true,
        _ => return Reply::err(crate::reply::errors::SYNTAX),
    };
    match persist::bgsave(ctx.st, schedule) {
        Ok(true) => Reply::status("Background saving started"),
        Ok(false) => Reply::status("Background saving scheduled"),
        Err(e) => save_error(e, "ERR Background save already in progress"),
    }
}

fn bgrewriteaof(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> Reply {
    match persist::bgsave(ctx.st, false) {
        Ok(_) => Reply::status("Background append only file rewriting started"),
        Err(e) => save_error(
            e,
            "ERR Background append only file rewriting already in progress",
        ),
    }
}

fn lastsave(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> Reply {
    persist::poll_rewrite(ctx.st);
    Reply::Int(ctx.st.lastsave as i64)
}
