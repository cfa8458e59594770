//! Pub/sub commands: PUBLISH, SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE,
//! PUNSUBSCRIBE, the sharded SPUBLISH, SSUBSCRIBE, SUNSUBSCRIBE, and PUBSUB
//! (Redis's `pubsub.c`). The hub lives in
//! `crate::pubsub`; see there for how confirmations and messages travel.

use super::{CommandSpec, Flags};
use crate::cmd;
use crate::engine::Ctx;
use crate::pubsub::{self, Sub};
use crate::reply::Reply;

const PS: Flags = Flags::PUBSUB.or(Flags::LOADING);
const SUBS: Flags = PS.or(Flags::NOSCRIPT);

/// The pub/sub family's table.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("publish", 3, PS.or(Flags::FAST), 0, 0, 0, publish),
    cmd!("subscribe", -2, SUBS, 0, 0, 0, subscribe),
    cmd!("unsubscribe", -1, SUBS, 0, 0, 0, unsubscribe),
    cmd!("psubscribe", -2, SUBS, 0, 0, 0, psubscribe),
    cmd!("punsubscribe", -1, SUBS, 0, 0, 0, punsubscribe),
    cmd!("pubsub", -2, PS, 0, 0, 0, pubsub_cmd),
    // Redis declares the shard channels as keys (for cluster slots).
    cmd!("spublish", 3, PS.or(Flags::FAST), 1, 1, 1, spublish),
    cmd!("ssubscribe", -2, SUBS, 1, -1, 1, ssubscribe),
    cmd!("sunsubscribe", -1, SUBS, 1, -1, 1, sunsubscribe),
];

fn spublish(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    Reply::Int(pubsub::spublish(ctx.st, argv[1], argv[2]) as i64)
}

fn ssubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    pubsub::ssubscribe(ctx, &argv[1..])
}

fn sunsubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    pubsub::sunsubscribe(ctx, &argv[1..])
}

fn publish(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    Reply::Int(pubsub::publish(ctx.st, argv[1], argv[2]) as i64)
}

fn subscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    pubsub::subscribe(ctx, &argv[1..])
}

fn unsubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    pubsub::unsubscribe(ctx, &argv[1..])
}

fn psubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    pubsub::psubscribe(ctx, &argv[1..])
}

fn punsubscribe(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    pubsub::punsubscribe(ctx, &argv[1..])
}

/// Redis's reply for a subcommand given the wrong number of arguments by
/// its own parser (after the table's arity check passed).
fn subcommand_syntax(argv: &[&[u8]]) -> Reply {
    Reply::err(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
        String::from_utf8_lossy(&argv[1][..argv[1].len().min(128)])
    ))
}

fn pubsub_cmd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let sub = match pubsub::subcommand_check(argv) {
        Ok(s) => s,
        Err(e) => return e,
    };
    match sub {
        Sub::Channels => {
            if argv.len() > 3 {
                return subcommand_syntax(argv);
            }
            Reply::bulks(pubsub::channels_matching(ctx.st, argv.get(2).copied()))
        }
        Sub::Numsub => {
            let mut out = Vec::with_capacity((argv.len() - 2) * 2);
            for ch in &argv[2..] {
                out.push(Reply::bulk(ch));
                out.push(Reply::Int(pubsub::numsub(ctx.st, ch) as i64));
            }
            Reply::Array(out)
        }
        Sub::Numpat => Reply::Int(ctx.st.pubsub.pattern_count() as i64),
        Sub::ShardChannels => {
            if argv.len() > 3 {
                return subcommand_syntax(argv);
            }
            Reply::bulks(pubsub::shard_channels_matching(
                ctx.st,
                argv.get(2).copied(),
            ))
        }
        Sub::ShardNumsub => {
            let mut out = Vec::with_capacity((argv.len() - 2) * 2);
            for ch in &argv[2..] {
                out.push(Reply::bulk(ch));
                out.push(Reply::Int(pubsub::shard_numsub(ctx.st, ch) as i64));
            }
            Reply::Array(out)
        }
        Sub::Help => Reply::status_lines(pubsub::PUBSUB_HELP),
    }
}
