//! Transaction commands: MULTI, EXEC, DISCARD, WATCH, UNWATCH (Redis's
//! `multi.c`). The logic lives in `crate::tx`; queueing happens in
//! `tx::intercept` before a command reaches its handler.

use super::{CommandSpec, Flags};
use crate::cmd;
use crate::engine::Ctx;
use crate::reply::Reply;
use crate::tx;

/// Flags of the commands that run at once even inside MULTI.
const NOW: Flags = Flags::NOSCRIPT
    .or(Flags::LOADING)
    .or(Flags::FAST)
    .or(Flags::ALLOW_BUSY)
    .or(Flags::NO_MULTI);

/// The transaction family's table.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("multi", 1, NOW, 0, 0, 0, multi),
    cmd!(
        "exec",
        1,
        Flags::NOSCRIPT.or(Flags::LOADING).or(Flags::NO_MULTI),
        0,
        0,
        0,
        exec
    ),
    cmd!("discard", 1, NOW, 0, 0, 0, discard),
    cmd!("watch", -2, NOW, 1, -1, 1, watch),
    cmd!(
        "unwatch",
        1,
        Flags::NOSCRIPT
            .or(Flags::LOADING)
            .or(Flags::FAST)
            .or(Flags::ALLOW_BUSY),
        0,
        0,
        0,
        unwatch
    ),
];

fn multi(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> Reply {
    tx::multi(ctx)
}

fn exec(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> Reply {
    tx::exec(ctx)
}

fn discard(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> Reply {
    tx::discard_cmd(ctx)
}

fn watch(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    tx::watch(ctx, &argv[1..])
}

fn unwatch(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> Reply {
    tx::unwatch(ctx)
}
