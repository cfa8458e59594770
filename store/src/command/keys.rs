//! Keyspace commands (Redis's `db.c` and `expire.c`): DEL, EXISTS, the
//! EXPIRE family, TTL, TYPE, RENAME, KEYS, SCAN, FLUSHDB, COPY, MOVE, ...
//!
//! Every change calls `signal_modified` (WATCH), `notify` with Redis's event
//! names (class `g` for generic events, `n` for new keys) and `dirty`
//! (propagation), in the places Redis calls them.
//!
//! Positions returned by lookups are invalidated by any removal (a removal
//! moves the last entry), so a handler that looks up a second key re-finds
//! the first one afterwards.

use super::{CommandSpec, Flags};
use crate::cmd;
use crate::engine::{Ctx, NUM_DBS};
use crate::reply::{errors, Reply};
use crate::types::Value;
use crate::util::{arg_i64, eq_ic, glob_match};

const W: Flags = Flags::WRITE;
const WF: Flags = Flags::WRITE.or(Flags::FAST);
const R: Flags = Flags::READONLY;
const RF: Flags = Flags::READONLY.or(Flags::FAST);

/// The keyspace family's table.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("del", -2, W, 1, -1, 1, del),
    cmd!("unlink", -2, WF, 1, -1, 1, del),
    cmd!("exists", -2, RF, 1, -1, 1, exists),
    cmd!("expire", -3, WF, 1, 1, 1, expire),
    cmd!("pexpire", -3, WF, 1, 1, 1, pexpire),
    cmd!("expireat", -3, WF, 1, 1, 1, expireat),
    cmd!("pexpireat", -3, WF, 1, 1, 1, pexpireat),
    cmd!("ttl", 2, RF, 1, 1, 1, ttl),
    cmd!("pttl", 2, RF, 1, 1, 1, pttl),
    cmd!("expiretime", 2, RF, 1, 1, 1, expiretime),
    cmd!("pexpiretime", 2, RF, 1, 1, 1, pexpiretime),
    cmd!("persist", 2, WF, 1, 1, 1, persist),
    cmd!("type", 2, RF, 1, 1, 1, type_),
    cmd!("rename", 3, W, 1, 2, 1, rename),
    cmd!("renamenx", 3, WF, 1, 2, 1, renamenx),
    cmd!("keys", 2, R.or(Flags::SLOW), 0, 0, 0, keys),
    cmd!("scan", -2, R.or(Flags::RANDOM), 0, 0, 0, scan),
    cmd!("randomkey", 1, R.or(Flags::RANDOM), 0, 0, 0, randomkey),
    cmd!("dbsize", 1, RF, 0, 0, 0, dbsize),
    cmd!("flushdb", -1, W.or(Flags::SLOW), 0, 0, 0, flushdb),
    cmd!("flushall", -1, W.or(Flags::SLOW), 0, 0, 0, flushall),
    cmd!("copy", -3, W.or(Flags::DENYOOM), 1, 2, 1, copy),
    cmd!("move", 3, WF, 1, 1, 1, move_),
    cmd!("touch", -2, RF, 1, -1, 1, touch),
];

/// Publishes a keyspace notification for `key` in database `db` (which may
/// differ from the selected one).
fn notify_in(ctx: &mut Ctx<'_>, db: usize, class: char, event: &str, key: &[u8]) {
    crate::pubsub::notify_keyspace(ctx.st, class, event, key, db);
}

/// What Redis's `dbAdd` does besides inserting: wakes clients blocked on
/// the key when the value can serve them, and publishes the `new` event.
pub fn added(ctx: &mut Ctx<'_>, db: usize, key: &[u8]) {
    let blocking_type = ctx.st.dbs[db].find(key).is_some_and(|p| {
        matches!(
            ctx.st.dbs[db].at(p).value,
            Value::List(_) | Value::ZSet(_) | Value::Stream(_)
        )
    });
    if blocking_type {
        ctx.signal_ready(db, key);
    }
    notify_in(ctx, db, 'n', "new", key);
}

/// Parses a database index for MOVE and COPY: Redis's integer error, then
/// its range error.
fn parse_db(arg: &[u8]) -> Result<usize, Reply> {
    let n = arg_i64(arg)?;
    if n < i32::MIN as i64 || n > i32::MAX as i64 {
        return Err(Reply::err(errors::NOT_INT));
    }
    if n < 0 || n >= NUM_DBS as i64 {
        return Err(Reply::err(errors::DB_INDEX));
    }
    Ok(n as usize)
}

fn del(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let db = ctx.db_index();
    let mut n = 0;
    for key in &argv[1..] {
        if ctx.delete_in(db, key) {
            ctx.notify('g', "del", key);
            ctx.dirty(1);
            n += 1;
        }
    }
    Reply::Int(n)
}

fn exists(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let n = argv[1..]
        .iter()
        .filter(|k| ctx.lookup_read(k).is_some())
        .count();
    Reply::Int(n as i64)
}

fn touch(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let stamp = ctx.lru_stamp();
    let mut n = 0;
    for key in &argv[1..] {
        if let Some(pos) = ctx.lookup_read(key) {
            ctx.db().at_mut(pos).lru = stamp;
            n += 1;
        }
    }
    Reply::Int(n)
}

// ---------------------------------------------------------------- expiry

const EXPIRE_NX: u8 = 1;
const EXPIRE_XX: u8 = 2;
const EXPIRE_GT: u8 = 4;
const EXPIRE_LT: u8 = 8;

/// Parses EXPIRE's NX/XX/GT/LT options with Redis 7.0's errors.
fn expire_flags(args: &[&[u8]]) -> Result<u8, Reply> {
    let mut flags = 0;
    for a in args {
        flags |= if eq_ic(a, "nx") {
            EXPIRE_NX
        } else if eq_ic(a, "xx") {
            EXPIRE_XX
        } else if eq_ic(a, "gt") {
            EXPIRE_GT
        } else if eq_ic(a, "lt") {
            EXPIRE_LT
        } else {
            return Err(Reply::err(format!(
                "ERR Unsupported option {}",
                String::from_utf8_lossy(a)
            )));
        };
    }
    if flags & EXPIRE_NX != 0 && flags & (EXPIRE_XX | EXPIRE_GT | EXPIRE_LT) != 0 {
        return Err(Reply::err(
            "ERR NX and XX, GT or LT options at the same time are not compatible",
        ));
    }
    if flags & EXPIRE_GT != 0 && flags & EXPIRE_LT != 0 {
        return Err(Reply::err(
            "ERR GT and LT options at the same time are not compatible",
        ));
    }
    Ok(flags)
}

/// EXPIRE, PEXPIRE, EXPIREAT and PEXPIREAT (Redis's
/// `expireGenericCommand`): `relative` adds the command time, `seconds`
/// scales the argument.
fn expire_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], relative: bool, seconds: bool) -> Reply {
    let name = String::from_utf8_lossy(argv[0]).to_ascii_lowercase();
    let invalid = || Reply::err(format!("ERR invalid expire time in '{name}' command"));
    let flags = match expire_flags(&argv[3..]) {
        Ok(f) => f,
        Err(e) => return e,
    };
    let mut when = match arg_i64(argv[2]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    if seconds {
        match when.checked_mul(1000) {
            Some(ms) => when = ms,
            None => return invalid(),
        }
    }
    let base = if relative { ctx.now as i64 } else { 0 };
    when = match when.checked_add(base) {
        Some(w) => w,
        None => return invalid(),
    };
    let key = argv[1];
    let Some(pos) = ctx.lookup_write(key) else {
        return Reply::Int(0);
    };
    let current = match ctx.db().at(pos).expire_at {
        0 => -1,
        at => at as i64,
    };
    if (flags & EXPIRE_NX != 0 && current != -1)
        || (flags & EXPIRE_XX != 0 && current == -1)
        || (flags & EXPIRE_GT != 0 && (current == -1 || when <= current))
        || (flags & EXPIRE_LT != 0 && current != -1 && when >= current)
    {
        return Reply::Int(0);
    }
    let db = ctx.db_index();
    if when <= ctx.now as i64 {
        ctx.db().remove_at(pos);
        ctx.dirty(1);
        ctx.signal_modified(db, key);
        ctx.notify('g', "del", key);
    } else {
        ctx.db().set_expire(pos, when as u64);
        ctx.signal_modified(db, key);
        ctx.notify('g', "expire", key);
        ctx.dirty(1);
    }
    Reply::Int(1)
}

fn expire(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    expire_generic(ctx, argv, true, true)
}

fn pexpire(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    expire_generic(ctx, argv, true, false)
}

fn expireat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    expire_generic(ctx, argv, false, true)
}

fn pexpireat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    expire_generic(ctx, argv, false, false)
}

/// TTL, PTTL, EXPIRETIME and PEXPIRETIME (Redis's `ttlGenericCommand`):
/// -2 for a missing key, -1 for no expiry; seconds are rounded.
fn ttl_generic(ctx: &mut Ctx<'_>, key: &[u8], ms: bool, absolute: bool) -> Reply {
    let Some(pos) = ctx.lookup_read(key) else {
        return Reply::Int(-2);
    };
    let at = ctx.db().at(pos).expire_at;
    if at == 0 {
        return Reply::Int(-1);
    }
    let v = if absolute {
        at as i64
    } else {
        (at as i64 - ctx.now as i64).max(0)
    };
    Reply::Int(if ms { v } else { (v + 500) / 1000 })
}

fn ttl(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    ttl_generic(ctx, argv[1], false, false)
}

fn pttl(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    ttl_generic(ctx, argv[1], true, false)
}

fn expiretime(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    ttl_generic(ctx, argv[1], false, true)
}

fn pexpiretime(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    ttl_generic(ctx, argv[1], true, true)
}

fn persist(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let key = argv[1];
    let Some(pos) = ctx.lookup_write(key) else {
        return Reply::Int(0);
    };
    if ctx.db().at(pos).expire_at == 0 {
        return Reply::Int(0);
    }
    ctx.db().set_expire(pos, 0);
    let db = ctx.db_index();
    ctx.signal_modified(db, key);
    ctx.notify('g', "persist", key);
    ctx.dirty(1);
    Reply::Int(1)
}

fn type_(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    match ctx.lookup_read(argv[1]) {
        Some(pos) => Reply::status(ctx.db().at(pos).value.type_name()),
        None => Reply::status("none"),
    }
}

// ---------------------------------------------------------------- rename, move, copy

fn rename_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], nx: bool) -> Reply {
    let (src, dst) = (argv[1], argv[2]);
    if ctx.lookup_write(src).is_none() {
        return Reply::err(errors::NO_SUCH_KEY);
    }
    if src == dst {
        return if nx { Reply::Int(0) } else { Reply::ok() };
    }
    let db = ctx.db_index();
    if ctx.lookup_write(dst).is_some() {
        if nx {
            return Reply::Int(0);
        }
        let p = ctx.db().find(dst).expect("live destination");
        ctx.db().remove_at(p);
    }
    let p = ctx.db().find(src).expect("live source");
    // `remove_at` clears the expiry it returns, so read it first.
    let expire_at = ctx.db().at(p).expire_at;
    let e = ctx.db().remove_at(p);
    let d = ctx.db();
    let np = d.insert_new(dst, e.value, e.lru);
    d.set_expire(np, expire_at);
    added(ctx, db, dst);
    ctx.signal_modified(db, src);
    ctx.signal_modified(db, dst);
    ctx.notify('g', "rename_from", src);
    ctx.notify('g', "rename_to", dst);
    ctx.dirty(1);
    if nx {
        Reply::Int(1)
    } else {
        Reply::ok()
    }
}

fn rename(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    rename_generic(ctx, argv, false)
}

fn renamenx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    rename_generic(ctx, argv, true)
}

fn move_(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let key = argv[1];
    let dst = match parse_db(argv[2]) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let src = ctx.db_index();
    if src == dst {
        return Reply::err("ERR source and destination objects are the same");
    }
    if ctx.lookup_write_in(src, key).is_none() {
        return Reply::Int(0);
    }
    if ctx.lookup_write_in(dst, key).is_some() {
        return Reply::Int(0);
    }
    let p = ctx.st.dbs[src].find(key).expect("live source");
    let expire_at = ctx.st.dbs[src].at(p).expire_at;
    let e = ctx.st.dbs[src].remove_at(p);
    let np = ctx.st.dbs[dst].insert_new(key, e.value, e.lru);
    ctx.st.dbs[dst].set_expire(np, expire_at);
    added(ctx, dst, key);
    ctx.signal_modified(src, key);
    ctx.signal_modified(dst, key);
    notify_in(ctx, src, 'g', "move_from", key);
    notify_in(ctx, dst, 'g', "move_to", key);
    ctx.dirty(1);
    Reply::Int(1)
}

fn copy(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let (key, newkey) = (argv[1], argv[2]);
    let src = ctx.db_index();
    let mut dst = src;
    let mut replace = false;
    let mut i = 3;
    while i < argv.len() {
        if eq_ic(argv[i], "replace") {
            replace = true;
        } else if eq_ic(argv[i], "db") && i + 1 < argv.len() {
            dst = match parse_db(argv[i + 1]) {
                Ok(d) => d,
                Err(e) => return e,
            };
            i += 1;
        } else {
            return Reply::err(errors::SYNTAX);
        }
        i += 1;
    }
    if src == dst && key == newkey {
        return Reply::err("ERR source and destination objects are the same");
    }
    if ctx.lookup_read_in(src, key).is_none() {
        return Reply::Int(0);
    }
    if ctx.lookup_write_in(dst, newkey).is_some() {
        if !replace {
            return Reply::Int(0);
        }
        let p = ctx.st.dbs[dst].find(newkey).expect("live destination");
        ctx.st.dbs[dst].remove_at(p);
    }
    let p = ctx.st.dbs[src].find(key).expect("live source");
    let (value, expire_at) = {
        let e = ctx.st.dbs[src].at(p);
        (e.value.clone(), e.expire_at)
    };
    let stamp = ctx.lru_stamp();
    let np = ctx.st.dbs[dst].insert_new(newkey, value, stamp);
    ctx.st.dbs[dst].set_expire(np, expire_at);
    added(ctx, dst, newkey);
    ctx.signal_modified(dst, newkey);
    notify_in(ctx, dst, 'g', "copy_to", newkey);
    ctx.dirty(1);
    Reply::Int(1)
}

// ---------------------------------------------------------------- whole-keyspace commands

fn keys(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let pattern = argv[1];
    let all = pattern == b"*";
    let now = ctx.now;
    let out: Vec<Reply> = ctx
        .db()
        .entries()
        .iter()
        .filter(|e| !e.is_expired(now))
        .filter(|e| all || glob_match(pattern, e.key.as_bytes(), false))
        .map(|e| Reply::bulk(e.key.as_bytes()))
        .collect();
    Reply::Array(out)
}

/// Parses a SCAN cursor as C's `strtoul` does for Redis: optional sign,
/// decimal digits, nothing after; a leading space or overflow is invalid.
pub fn parse_cursor(b: &[u8]) -> Option<u64> {
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if digits.iter().any(|c| !c.is_ascii_digit()) || (b.len() > 1 && digits.is_empty()) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    Some(if neg { v.wrapping_neg() } else { v })
}

/// SCAN's options: `(count, pattern, type)`.
type ScanOpts<'a> = (usize, Option<&'a [u8]>, Option<&'a [u8]>);

/// Parses SCAN's COUNT, MATCH and TYPE options (shared with the other SCAN
/// commands, which pass `allow_type = false`).
pub fn scan_options<'a>(args: &[&'a [u8]], allow_type: bool) -> Result<ScanOpts<'a>, Reply> {
    let (mut count, mut pattern, mut typ) = (10usize, None, None);
    let mut i = 0;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if eq_ic(args[i], "count") && has_value {
            let n = arg_i64(args[i + 1])?;
            if n < 1 {
                return Err(Reply::err(errors::SYNTAX));
            }
            count = n.min(i64::from(u32::MAX)) as usize;
        } else if eq_ic(args[i], "match") && has_value {
            pattern = Some(args[i + 1]).filter(|p| *p != b"*");
        } else if allow_type && eq_ic(args[i], "type") && has_value {
            typ = Some(args[i + 1]);
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        i += 2;
    }
    Ok((count, pattern, typ))
}

/// SCAN. The cursor is a position in the database's dense entry vector,
/// walked from the top down: a removal only moves the last entry (already
/// visited) into its hole, so a key that lives through the whole scan is
/// returned at least once (see `keyspace`).
fn scan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let Some(cursor) = parse_cursor(argv[1]) else {
        return Reply::err("ERR invalid cursor");
    };
    let (count, pattern, typ) = match scan_options(&argv[2..], true) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let now = ctx.now;
    let (next, positions) = ctx.db().scan(cursor, count);
    let mut found = Vec::new();
    let mut expired = Vec::new();
    {
        let d = ctx.db();
        for p in positions {
            let e = d.at(p);
            if e.is_expired(now) {
                expired.push(e.key.as_bytes().to_vec());
                continue;
            }
            if pattern.is_some_and(|pat| !glob_match(pat, e.key.as_bytes(), false)) {
                continue;
            }
            if typ.is_some_and(|t| !t.eq_ignore_ascii_case(e.value.type_name().as_bytes())) {
                continue;
            }
            found.push(Reply::bulk(e.key.as_bytes()));
        }
    }
    // Reclaim the dead keys met on the way, as Redis's expireIfNeeded does.
    for k in expired {
        ctx.lookup_write(&k);
    }
    Reply::Array(vec![Reply::text(next.to_string()), Reply::Array(found)])
}

fn randomkey(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> Reply {
    let db = ctx.db_index();
    loop {
        let pos = {
            let st = &mut *ctx.st;
            st.dbs[db].random_pos(&mut st.rng)
        };
        let Some(pos) = pos else {
            return Reply::Nil;
        };
        let now = ctx.now;
        if ctx.db().at(pos).is_expired(now) {
            ctx.expire_at(db, pos);
            continue;
        }
        return Reply::bulk(ctx.db().at(pos).key.as_bytes());
    }
}

/// Reclaims every expired key of database `db` (highest position first, see
/// `Db::expired_positions`). Returns how many went.
pub fn reclaim_expired(ctx: &mut Ctx<'_>, db: usize) -> usize {
    let dead = ctx.st.dbs[db].expired_positions(ctx.now);
    for &p in &dead {
        ctx.expire_at(db, p);
    }
    dead.len()
}

fn dbsize(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> Reply {
    let db = ctx.db_index();
    reclaim_expired(ctx, db);
    Reply::Int(ctx.db().len() as i64)
}

/// Parses FLUSHDB/FLUSHALL's optional ASYNC or SYNC.
fn flush_flags(argv: &[&[u8]]) -> Result<(), Reply> {
    match argv.len() {
        1 => Ok(()),
        2 if eq_ic(argv[1], "async") || eq_ic(argv[1], "sync") => Ok(()),
        _ => Err(Reply::err(errors::SYNTAX)),
    }
}

/// Empties database `db`, signalling every key that was in it (WATCH).
/// Returns how many keys it held.
pub fn empty_db(ctx: &mut Ctx<'_>, db: usize) -> usize {
    let mut old = std::mem::take(&mut ctx.st.dbs[db]);
    for e in old.entries() {
        crate::tx::touch(ctx.st, db, e.key.as_bytes());
    }
    let n = old.len();
    old.clear();
    ctx.st.dbs[db] = old;
    n
}

fn flushdb(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    if let Err(e) = flush_flags(argv) {
        return e;
    }
    let db = ctx.db_index();
    let n = empty_db(ctx, db);
    // Always propagated, even when the database was already empty.
    ctx.dirty(n as u64 + 1);
    Reply::ok()
}

fn flushall(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    if let Err(e) = flush_flags(argv) {
        return e;
    }
    let n: usize = (0..NUM_DBS).map(|db| empty_db(ctx, db)).sum();
    ctx.dirty(n as u64 + 1);
    Reply::ok()
}
