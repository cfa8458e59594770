//! Hash commands (Redis's `t_hash.c`).
//!
//! Every write signals the key modified, fires Redis's keyspace event
//! (`hset`, `hdel`, `hincrby`, `hincrbyfloat`, and `del` when a hash
//! empties and its key goes) and counts dirty changes.

use super::{CommandSpec, Flags};
use crate::cmd;
use crate::engine::Ctx;
use crate::longdouble::LongDouble;
use crate::reply::{errors, Reply};
use crate::types::hash::Hash;
use crate::types::{Sso, Value};
use crate::util::{arg_i64, eq_ic, parse_i64_strict};

use super::strings::str_reply;

const W: Flags = Flags::WRITE.or(Flags::DENYOOM).or(Flags::FAST);
const R: Flags = Flags::READONLY.or(Flags::FAST);
const RS: Flags = Flags::READONLY;

/// The hash family's table.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("hset", -4, W, 1, 1, 1, hset),
    cmd!("hmset", -4, W, 1, 1, 1, hset),
    cmd!("hsetnx", 4, W, 1, 1, 1, hsetnx),
    cmd!("hget", 3, R, 1, 1, 1, hget),
    cmd!("hmget", -3, R, 1, 1, 1, hmget),
    cmd!("hgetall", 2, RS, 1, 1, 1, hgetall),
    cmd!("hdel", -3, Flags::WRITE.or(Flags::FAST), 1, 1, 1, hdel),
    cmd!("hexists", 3, R, 1, 1, 1, hexists),
    cmd!("hlen", 2, R, 1, 1, 1, hlen),
    cmd!("hkeys", 2, RS, 1, 1, 1, hkeys),
    cmd!("hvals", 2, RS, 1, 1, 1, hvals),
    cmd!("hincrby", 4, W, 1, 1, 1, hincrby),
    cmd!("hincrbyfloat", 4, W, 1, 1, 1, hincrbyfloat),
    cmd!("hstrlen", 3, R, 1, 1, 1, hstrlen),
    cmd!(
        "hrandfield",
        -2,
        Flags::READONLY.or(Flags::RANDOM),
        1,
        1,
        1,
        hrandfield
    ),
    cmd!(
        "hscan",
        -3,
        Flags::READONLY.or(Flags::RANDOM),
        1,
        1,
        1,
        hscan
    ),
];

/// Finds the hash at `key`: `Ok(None)` when missing, WRONGTYPE when another
/// type.
fn find_hash(ctx: &mut Ctx<'_>, key: &[u8], read: bool) -> Result<Option<usize>, Reply> {
    ctx.find_typed(key, read, |v| matches!(v, Value::Hash(_)))
}

/// The hash at `pos` (already checked to be a hash).
fn hash_at<'c>(ctx: &'c mut Ctx<'_>, pos: usize) -> &'c mut Hash {
    match &mut ctx.db().at_mut(pos).value {
        Value::Hash(h) => h,
        _ => unreachable!("position checked to hold a hash"),
    }
}

/// Finds or creates the hash at `key` for a write.
fn hash_for_write(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<usize, Reply> {
    match find_hash(ctx, key, false)? {
        Some(p) => Ok(p),
        None => {
            let stamp = ctx.lru_stamp();
            let pos = ctx.db().insert_new(key, Value::Hash(Box::default()), stamp);
            ctx.notify('n', "new", key);
            Ok(pos)
        }
    }
}

/// Reads the hash at `key` for a read command and maps it through `f`;
/// `missing` when the key does not exist.
fn read_hash(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    missing: Reply,
    f: impl FnOnce(&Hash) -> Reply,
) -> Reply {
    match find_hash(ctx, key, true) {
        Err(e) => e,
        Ok(None) => missing,
        Ok(Some(p)) => f(hash_at(ctx, p)),
    }
}

fn hset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    if !argv.len().is_multiple_of(2) {
        return Reply::err(format!(
            "ERR wrong number of arguments for '{}' command",
            String::from_utf8_lossy(argv[0]).to_lowercase()
        ));
    }
    let key = argv[1];
    let pos = match hash_for_write(ctx, key) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let h = hash_at(ctx, pos);
    for a in &argv[2..] {
        h.note_len(a.len());
    }
    let mut created = 0;
    for pair in argv[2..].chunks(2) {
        created += h.set(pair[0], Sso::new(pair[1])) as i64;
    }
    let db = ctx.db_index();
    ctx.signal_modified(db, key);
    ctx.notify('h', "hset", key);
    ctx.dirty(((argv.len() - 2) / 2) as u64);
    if eq_ic(argv[0], "hmset") {
        Reply::ok()
    } else {
        Reply::Int(created)
    }
}

fn hsetnx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let key = argv[1];
    let pos = match hash_for_write(ctx, key) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let h = hash_at(ctx, pos);
    if h.get(argv[2]).is_some() {
        return Reply::Int(0);
    }
    h.set(argv[2], Sso::new(argv[3]));
    let db = ctx.db_index();
    ctx.signal_modified(db, key);
    ctx.notify('h', "hset", key);
    ctx.dirty(1);
    Reply::Int(1)
}

fn hget(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    read_hash(ctx, argv[1], Reply::Nil, |h| {
        h.get(argv[2]).map(str_reply).unwrap_or(Reply::Nil)
    })
}

fn hmget(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let fields = &argv[2..];
    read_hash(
        ctx,
        argv[1],
        Reply::Array(vec![Reply::Nil; fields.len()]),
        |h| {
            Reply::Array(
                fields
                    .iter()
                    .map(|f| h.get(f).map(str_reply).unwrap_or(Reply::Nil))
                    .collect(),
            )
        },
    )
}

fn hgetall(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    read_hash(ctx, argv[1], Reply::Map(vec![]), |h| {
        Reply::Map(
            h.iter()
                .map(|(f, v)| (str_reply(f), str_reply(v)))
                .collect(),
        )
    })
}

fn hkeys(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    read_hash(ctx, argv[1], Reply::Array(vec![]), |h| {
        Reply::Array(h.iter().map(|(f, _)| str_reply(f)).collect())
    })
}

fn hvals(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    read_hash(ctx, argv[1], Reply::Array(vec![]), |h| {
        Reply::Array(h.iter().map(|(_, v)| str_reply(v)).collect())
    })
}

fn hlen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    read_hash(ctx, argv[1], Reply::Int(0), |h| Reply::Int(h.len() as i64))
}

fn hexists(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    read_hash(ctx, argv[1], Reply::Int(0), |h| {
        Reply::Int(h.get(argv[2]).is_some() as i64)
    })
}

fn hstrlen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    read_hash(ctx, argv[1], Reply::Int(0), |h| {
        Reply::Int(h.get(argv[2]).map(|v| v.len()).unwrap_or(0) as i64)
    })
}

fn hdel(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let key = argv[1];
    let pos = match find_hash(ctx, key, false) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(p)) => p,
    };
    let h = hash_at(ctx, pos);
    let mut deleted = 0;
    for f in &argv[2..] {
        if h.remove(f) {
            deleted += 1;
            if h.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        let db = ctx.db_index();
        ctx.signal_modified(db, key);
        ctx.notify('h', "hdel", key);
        if hash_at(ctx, pos).is_empty() {
            ctx.db().remove_at(pos);
            ctx.notify('g', "del", key);
        }
        ctx.dirty(deleted as u64);
    }
    Reply::Int(deleted)
}

fn hincrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let incr = match arg_i64(argv[3]) {
        Ok(v) => v,
        Err(e) => return e,
    };
    let key = argv[1];
    let pos = match hash_for_write(ctx, key) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let h = hash_at(ctx, pos);
    let old = match h.get(argv[2]) {
        None => 0,
        Some(v) => match parse_i64_strict(v.as_bytes()) {
            Some(n) => n,
            None => return Reply::err("ERR hash value is not an integer"),
        },
    };
    let Some(new) = old.checked_add(incr) else {
        return Reply::err(errors::OVERFLOW);
    };
    h.set(argv[2], Sso::new(new.to_string().as_bytes()));
    let db = ctx.db_index();
    ctx.signal_modified(db, key);
    ctx.notify('h', "hincrby", key);
    ctx.dirty(1);
    Reply::Int(new)
}

fn hincrbyfloat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    // Redis's `long double` arithmetic and `%.17Lf` output, exactly.
    let Some(incr) = LongDouble::parse(argv[3]) else {
        return Reply::err(errors::NOT_FLOAT);
    };
    if !incr.is_finite() {
        return Reply::err("ERR value is NaN or Infinity");
    }
    let key = argv[1];
    let pos = match hash_for_write(ctx, key) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let h = hash_at(ctx, pos);
    let old = match h.get(argv[2]) {
        None => LongDouble::ZERO,
        Some(v) => match LongDouble::parse(v.as_bytes()) {
            Some(n) => n,
            None => return Reply::err("ERR hash value is not a float"),
        },
    };
    let Some(text) = crate::longdouble::incr_text(old, incr) else {
        return Reply::err("ERR increment would produce NaN or Infinity");
    };
    h.set(argv[2], Sso::new(text.as_bytes()));
    let db = ctx.db_index();
    ctx.signal_modified(db, key);
    ctx.notify('h', "hincrbyfloat", key);
    ctx.dirty(1);
    // Logged as HSET, as Redis does (no float arithmetic on replay).
    crate::persist::rewrite_command(
        ctx,
        vec![
            b"HSET".to_vec(),
            key.to_vec(),
            argv[2].to_vec(),
            text.as_bytes().to_vec(),
        ],
    );
    Reply::text(text)
}

fn hrandfield(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    if argv.len() == 2 {
        let key = argv[1];
        let pos = match find_hash(ctx, key, true) {
            Err(e) => return e,
            Ok(None) => return Reply::Nil,
            Ok(Some(p)) => p,
        };
        let st = &mut *ctx.st;
        let db = ctx.session.db;
        let Value::Hash(h) = &st.dbs[db].at(pos).value else {
            unreachable!()
        };
        let i = h.random_pos(&mut st.rng);
        return str_reply(&h.at(i).0);
    }
    let count = match parse_i64_strict(argv[2]) {
        None => return Reply::err(errors::NOT_INT),
        Some(i64::MIN) => {
            return Reply::err(
                "ERR value is out of range, value must between -9223372036854775807 and \
                 9223372036854775807",
            )
        }
        Some(n) => n,
    };
    let withvalues = match argv.len() {
        3 => false,
        4 if eq_ic(argv[3], "withvalues") => true,
        _ => return Reply::err(errors::SYNTAX),
    };
    if withvalues && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
        return Reply::err("ERR value is out of range");
    }
    let pos = match find_hash(ctx, argv[1], true) {
        Err(e) => return e,
        Ok(None) => return Reply::Array(vec![]),
        Ok(Some(p)) => p,
    };
    let resp3 = ctx.session.is_resp3();
    let st = &mut *ctx.st;
    let Value::Hash(h) = &st.dbs[ctx.session.db].at(pos).value else {
        unreachable!()
    };
    let picks = super::sets::random_positions(h.len(), count, &mut st.rng);
    let mut out = Vec::with_capacity(picks.len() * (1 + withvalues as usize));
    for p in picks {
        let (f, v) = h.at(p);
        if !withvalues {
            out.push(str_reply(f));
        } else if resp3 {
            out.push(Reply::Array(vec![str_reply(f), str_reply(v)]));
        } else {
            out.push(str_reply(f));
            out.push(str_reply(v));
        }
    }
    Reply::Array(out)
}

fn hscan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    use super::sets::{empty_scan, parse_cursor, parse_scan_opts, scan_positions};
    let cursor = match parse_cursor(argv[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let pos = match find_hash(ctx, argv[1], true) {
        Err(e) => return e,
        Ok(None) => return empty_scan(),
        Ok(Some(p)) => p,
    };
    let opts = match parse_scan_opts(argv, cursor) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let h = hash_at(ctx, pos);
    let (next, positions) =
        scan_positions(h.len(), h.encoding() == "listpack", opts.cursor, opts.count);
    let mut out = Vec::new();
    for p in positions {
        let (f, v) = h.at(p);
        if opts.matches(f.as_bytes()) {
            out.push(str_reply(f));
            out.push(str_reply(v));
        }
    }
    Reply::Array(vec![Reply::text(next.to_string()), Reply::Array(out)])
}
