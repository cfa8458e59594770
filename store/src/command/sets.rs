//! Set commands (Redis's `t_set.c`), and the random-pick and SCAN helpers
//! that hashes share.
//!
//! Every write signals the key modified, fires Redis's keyspace event
//! (`sadd`, `srem`, `spop`, `sinterstore`, `sunionstore`, `sdiffstore`, and
//! `del` when a set empties and its key goes) and counts dirty changes.

use super::{CommandSpec, Flags};
use crate::cmd;
use crate::engine::{wrongtype, Ctx};
use crate::reply::{errors, Reply};
use crate::types::set::Set;
use crate::types::{Sso, Value};
use crate::util::{eq_ic, glob_match, parse_i64_strict};

use super::strings::str_reply;

const W: Flags = Flags::WRITE.or(Flags::DENYOOM).or(Flags::FAST);
const WF: Flags = Flags::WRITE.or(Flags::FAST);
const R: Flags = Flags::READONLY.or(Flags::FAST);
const RS: Flags = Flags::READONLY;

/// The set family's table.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("sadd", -3, W, 1, 1, 1, sadd),
    cmd!("srem", -3, WF, 1, 1, 1, srem),
    cmd!("smembers", 2, RS, 1, 1, 1, smembers),
    cmd!("sismember", 3, R, 1, 1, 1, sismember),
    cmd!("smismember", -3, R, 1, 1, 1, smismember),
    cmd!("scard", 2, R, 1, 1, 1, scard),
    cmd!("spop", -2, WF.or(Flags::RANDOM), 1, 1, 1, spop),
    cmd!(
        "srandmember",
        -2,
        RS.or(Flags::RANDOM),
        1,
        1,
        1,
        srandmember
    ),
    cmd!("smove", 4, WF, 1, 2, 1, smove),
    cmd!("sinter", -2, RS, 1, -1, 1, sinter),
    cmd!("sintercard", -3, RS, 2, -2, 1, sintercard),
    cmd!("sunion", -2, RS, 1, -1, 1, sunion),
    cmd!("sdiff", -2, RS, 1, -1, 1, sdiff),
    cmd!(
        "sinterstore",
        -3,
        Flags::WRITE.or(Flags::DENYOOM),
        1,
        -1,
        1,
        sinterstore
    ),
    cmd!(
        "sunionstore",
        -3,
        Flags::WRITE.or(Flags::DENYOOM),
        1,
        -1,
        1,
        sunionstore
    ),
    cmd!(
        "sdiffstore",
        -3,
        Flags::WRITE.or(Flags::DENYOOM),
        1,
        -1,
        1,
        sdiffstore
    ),
    cmd!("sscan", -3, RS.or(Flags::RANDOM), 1, 1, 1, sscan),
];

// ---- Helpers shared with hashes --------------------------------------------

/// Positions picked by SRANDMEMBER/HRANDFIELD with a count, over a
/// collection of `len` items: `count >= len` gives every position in
/// storage order, a positive count distinct random positions, a negative
/// count `-count` positions with repetition.
pub fn random_positions(len: usize, count: i64, rng: &mut impl rand::Rng) -> Vec<usize> {
    if count == 0 || len == 0 {
        return Vec::new();
    }
    if count < 0 {
        let n = count.unsigned_abs() as usize;
        return (0..n).map(|_| rng.gen_range(0..len)).collect();
    }
    let n = count as u64;
    if n >= len as u64 {
        return (0..len).collect();
    }
    rand::seq::index::sample(rng, len, n as usize).into_vec()
}

/// Options of SSCAN/HSCAN.
pub struct ScanOpts<'a> {
    /// The cursor.
    pub cursor: u64,
    /// COUNT (default 10).
    pub count: usize,
    /// MATCH pattern.
    pub pattern: Option<&'a [u8]>,
}

impl ScanOpts<'_> {
    /// True when `item` passes the MATCH filter.
    pub fn matches(&self, item: &[u8]) -> bool {
        match self.pattern {
            None => true,
            Some(p) if p == b"*" => true,
            Some(p) => glob_match(p, item, false),
        }
    }
}

/// Parses a SCAN cursor as Redis's `strtoul` does (`-1` wraps around).
pub fn parse_cursor(b: &[u8]) -> Result<u64, Reply> {
    let invalid = || Reply::err("ERR invalid cursor");
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if !digits.iter().all(u8::is_ascii_digit) || (digits.is_empty() && !b.is_empty()) {
        return Err(invalid());
    }
    let mut v: u64 = 0;
    for &d in digits {
        v = v
            .checked_mul(10)
            .and_then(|v| v.checked_add((d - b'0') as u64))
            .ok_or_else(invalid)?;
    }
    Ok(if neg { v.wrapping_neg() } else { v })
}

/// Parses the options after `key cursor` (argv[3..]) of SSCAN/HSCAN; the
/// cursor is `cursor`. Redis parses them only once the key exists and has
/// the right type.
pub fn parse_scan_opts<'a>(argv: &[&'a [u8]], cursor: u64) -> Result<ScanOpts<'a>, Reply> {
    let mut o = ScanOpts {
        cursor,
        count: 10,
        pattern: None,
    };
    let mut i = 3;
    while i < argv.len() {
        let Some(val) = argv.get(i + 1) else {
            return Err(Reply::err(errors::SYNTAX));
        };
        if eq_ic(argv[i], "count") {
            match parse_i64_strict(val) {
                None => return Err(Reply::err(errors::NOT_INT)),
                Some(n) if n < 1 => return Err(Reply::err(errors::SYNTAX)),
                Some(n) => o.count = n.min(usize::MAX as i64) as usize,
            }
        } else if eq_ic(argv[i], "match") {
            o.pattern = Some(val);
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        i += 2;
    }
    Ok(o)
}

/// One SCAN step over a collection of `len` items stored densely: a small
/// (listpack/intset) collection returns everything at once with cursor 0,
/// as Redis does; a large one walks positions from the end toward the
/// start, `count` at a time (see `types::dense` for the guarantee).
pub fn scan_positions(len: usize, small: bool, cursor: u64, count: usize) -> (u64, Vec<usize>) {
    if small {
        return (0, (0..len).collect());
    }
    let n = len as u64;
    let start = if cursor == 0 { n } else { cursor.min(n) };
    let end = start.saturating_sub(count.max(1) as u64);
    ((end), (end..start).rev().map(|p| p as usize).collect())
}

/// The empty SCAN reply.
pub fn empty_scan() -> Reply {
    Reply::Array(vec![Reply::text("0"), Reply::Array(vec![])])
}

// ---- Set access ---------------------------------------------------------------

/// Finds the set at `key`: `Ok(None)` when missing, WRONGTYPE when another
/// type.
fn find_set(ctx: &mut Ctx<'_>, key: &[u8], read: bool) -> Result<Option<usize>, Reply> {
    ctx.find_typed(key, read, |v| matches!(v, Value::Set(_)))
}

/// The set at `pos` (already checked to be a set).
fn set_at<'c>(ctx: &'c mut Ctx<'_>, pos: usize) -> &'c mut Set {
    match &mut ctx.db().at_mut(pos).value {
        Value::Set(s) => s,
        _ => unreachable!("position checked to hold a set"),
    }
}

/// Deletes the set at `pos` if it became empty, firing `del`.
fn drop_if_empty(ctx: &mut Ctx<'_>, pos: usize, key: &[u8]) {
    if set_at(ctx, pos).is_empty() {
        ctx.db().remove_at(pos);
        ctx.notify('g', "del", key);
    }
}

fn read_set(ctx: &mut Ctx<'_>, key: &[u8], missing: Reply, f: impl FnOnce(&Set) -> Reply) -> Reply {
    match find_set(ctx, key, true) {
        Err(e) => e,
        Ok(None) => missing,
        Ok(Some(p)) => f(set_at(ctx, p)),
    }
}

fn members_reply(s: &Set) -> Reply {
    Reply::Set(s.iter().map(str_reply).collect())
}

// ---- Commands -------------------------------------------------------------------

fn sadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let key = argv[1];
    let pos = match find_set(ctx, key, false) {
        Err(e) => return e,
        Ok(Some(p)) => p,
        Ok(None) => {
            let stamp = ctx.lru_stamp();
            let pos = ctx.db().insert_new(key, Value::Set(Box::default()), stamp);
            ctx.notify('n', "new", key);
            pos
        }
    };
    let s = set_at(ctx, pos);
    let added = argv[2..].iter().filter(|m| s.insert(m)).count();
    if added > 0 {
        let db = ctx.db_index();
        ctx.signal_modified(db, key);
        ctx.notify('s', "sadd", key);
        ctx.dirty(added as u64);
    }
    Reply::Int(added as i64)
}

fn srem(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let key = argv[1];
    let pos = match find_set(ctx, key, false) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(p)) => p,
    };
    let s = set_at(ctx, pos);
    let mut removed = 0;
    for m in &argv[2..] {
        if s.remove(m) {
            removed += 1;
            if s.is_empty() {
                break;
            }
        }
    }
    if removed > 0 {
        let db = ctx.db_index();
        ctx.signal_modified(db, key);
        ctx.notify('s', "srem", key);
        drop_if_empty(ctx, pos, key);
        ctx.dirty(removed as u64);
    }
    Reply::Int(removed)
}

fn smembers(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    read_set(ctx, argv[1], Reply::Set(vec![]), members_reply)
}

fn sismember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    read_set(ctx, argv[1], Reply::Int(0), |s| {
        Reply::Int(s.contains(argv[2]) as i64)
    })
}

fn smismember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let ms = &argv[2..];
    read_set(
        ctx,
        argv[1],
        Reply::Array(vec![Reply::Int(0); ms.len()]),
        |s| {
            Reply::Array(
                ms.iter()
                    .map(|m| Reply::Int(s.contains(m) as i64))
                    .collect(),
            )
        },
    )
}

fn scard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    read_set(ctx, argv[1], Reply::Int(0), |s| Reply::Int(s.len() as i64))
}

fn spop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let count = match argv.len() {
        2 => None,
        3 => match parse_i64_strict(argv[2]) {
            Some(n) if n >= 0 => Some(n as u64),
            _ => return Reply::err("ERR value is out of range, must be positive"),
        },
        _ => return Reply::err(errors::SYNTAX),
    };
    let key = argv[1];
    let pos = match find_set(ctx, key, false) {
        Err(e) => return e,
        Ok(None) => {
            return match count {
                None => Reply::Nil,
                Some(_) => Reply::Set(vec![]),
            }
        }
        Ok(Some(p)) => p,
    };
    let db = ctx.db_index();
    match count {
        Some(0) => Reply::Set(vec![]),
        Some(n) if n >= set_at(ctx, pos).len() as u64 => {
            // The whole set: reply with it and delete the key.
            let e = ctx.db().remove_at(pos);
            let Value::Set(s) = e.value else {
                unreachable!()
            };
            ctx.signal_modified(db, key);
            ctx.notify('g', "del", key);
            ctx.dirty(1);
            // Logged as DEL, as Redis does: the popped members are random.
            crate::persist::rewrite_command(ctx, vec![b"DEL".to_vec(), key.to_vec()]);
            members_reply(&s)
        }
        n => {
            let n = n.unwrap_or(1) as usize;
            let mut out = Vec::with_capacity(n);
            {
                let st = &mut *ctx.st;
                let Value::Set(s) = &mut st.dbs[db].at_mut(pos).value else {
                    unreachable!()
                };
                for _ in 0..n {
                    let p = s.random_pos(&mut st.rng);
                    out.push(s.remove_at(p));
                }
            }
            ctx.signal_modified(db, key);
            ctx.notify('s', "spop", key);
            drop_if_empty(ctx, pos, key);
            ctx.dirty(n as u64);
            log_spop(ctx, key, &out, count.is_none());
            if count.is_none() {
                str_reply(&out[0])
            } else {
                Reply::Set(out.iter().map(str_reply).collect())
            }
        }
    }
}

/// Logs an SPOP by the members it took, as Redis 7.0 does: one
/// `SREM key member` per member (a MULTI/EXEC unit when there are several),
/// so a replay removes exactly these members whatever the random source.
fn log_spop(ctx: &mut Ctx<'_>, key: &[u8], popped: &[Sso], single: bool) {
    let srem = |m: &Sso| vec![b"SREM".to_vec(), key.to_vec(), m.as_bytes().to_vec()];
    if single {
        crate::persist::rewrite_command(ctx, srem(&popped[0]));
        return;
    }
    let db = ctx.db_index();
    crate::persist::begin_group(ctx);
    for m in popped {
        crate::persist::log_command(ctx, db, &srem(m));
    }
    crate::persist::end_group(ctx);
    crate::persist::prevent_propagation(ctx);
}

fn srandmember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let count = match argv.len() {
        2 => None,
        3 => match parse_i64_strict(argv[2]) {
            None => return Reply::err(errors::NOT_INT),
            Some(i64::MIN) => {
                return Reply::err(
                    "ERR value is out of range, value must between -9223372036854775807 and \
                     9223372036854775807",
                )
            }
            Some(n) => Some(n),
        },
        _ => return Reply::err(errors::SYNTAX),
    };
    let pos = match find_set(ctx, argv[1], true) {
        Err(e) => return e,
        Ok(None) => {
            return match count {
                None => Reply::Nil,
                Some(_) => Reply::Array(vec![]),
            }
        }
        Ok(Some(p)) => p,
    };
    let st = &mut *ctx.st;
    let Value::Set(s) = &st.dbs[ctx.session.db].at(pos).value else {
        unreachable!()
    };
    match count {
        None => str_reply(s.at(s.random_pos(&mut st.rng))),
        Some(c) => {
            let picks = random_positions(s.len(), c, &mut st.rng);
            let items = picks.into_iter().map(|p| str_reply(s.at(p))).collect();
            // Redis replies with a set only when members are distinct.
            if c >= 0 {
                Reply::Set(items)
            } else {
                Reply::Array(items)
            }
        }
    }
}

fn smove(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let (src, dst, m) = (argv[1], argv[2], argv[3]);
    let spos = ctx.lookup_write(src);
    let dpos = ctx.lookup_write(dst);
    let Some(spos) = spos else {
        return Reply::Int(0);
    };
    if !matches!(ctx.db().at(spos).value, Value::Set(_)) {
        return wrongtype();
    }
    if let Some(d) = dpos {
        if !matches!(ctx.db().at(d).value, Value::Set(_)) {
            return wrongtype();
        }
    }
    if src == dst {
        return Reply::Int(set_at(ctx, spos).contains(m) as i64);
    }
    if !set_at(ctx, spos).remove(m) {
        return Reply::Int(0);
    }
    let db = ctx.db_index();
    ctx.notify('s', "srem", src);
    drop_if_empty(ctx, spos, src);
    ctx.signal_modified(db, src);
    // Positions may have moved with the removal: find the destination again.
    let dpos = match find_set(ctx, dst, false) {
        Ok(Some(p)) => p,
        _ => {
            let stamp = ctx.lru_stamp();
            let pos = ctx.db().insert_new(dst, Value::Set(Box::default()), stamp);
            ctx.notify('n', "new", dst);
            pos
        }
    };
    if set_at(ctx, dpos).insert(m) {
        ctx.dirty(1);
        ctx.signal_modified(db, dst);
        ctx.notify('s', "sadd", dst);
    }
    ctx.dirty(1);
    Reply::Int(1)
}

/// Looks up every key as a set (missing keys are `None`), failing with
/// WRONGTYPE on the first key of another type.
fn collect_sets(ctx: &mut Ctx<'_>, keys: &[&[u8]]) -> Result<Vec<Option<usize>>, Reply> {
    keys.iter().map(|k| find_set(ctx, k, true)).collect()
}

fn sets_at<'c>(ctx: &'c mut Ctx<'_>, positions: &[Option<usize>]) -> Vec<Option<&'c Set>> {
    let db = ctx.session.db;
    let d = &ctx.st.dbs[db];
    positions
        .iter()
        .map(|p| {
            p.map(|p| match &d.at(p).value {
                Value::Set(s) => &**s,
                _ => unreachable!(),
            })
        })
        .collect()
}

/// Set algebra over the sets at `keys`.
#[derive(Clone, Copy, PartialEq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// Computes `op` over `keys`; `limit` stops an intersection early
/// (SINTERCARD). The result keeps Redis's encodings and order.
fn compute(ctx: &mut Ctx<'_>, keys: &[&[u8]], op: Op, limit: usize) -> Result<Set, Reply> {
    let positions = collect_sets(ctx, keys)?;
    let sets = sets_at(ctx, &positions);
    let mut out = Set::new();
    match op {
        Op::Inter => {
            if sets.iter().any(Option::is_none) {
                return Ok(out);
            }
            let mut sets: Vec<&Set> = sets.into_iter().flatten().collect();
            sets.sort_by_key(|s| s.len());
            let (first, rest) = sets.split_first().expect("at least one key");
            for m in first.iter() {
                if rest.iter().all(|s| s.contains(m.as_bytes())) {
                    out.insert(m.as_bytes());
                    if limit != 0 && out.len() >= limit {
                        break;
                    }
                }
            }
        }
        Op::Union => {
            for s in sets.into_iter().flatten() {
                for m in s.iter() {
                    out.insert(m.as_bytes());
                }
            }
        }
        Op::Diff => {
            let Some(first) = sets[0] else {
                return Ok(out);
            };
            let rest: Vec<&Set> = sets[1..].iter().flatten().copied().collect();
            for m in first.iter() {
                if !rest.iter().any(|s| s.contains(m.as_bytes())) {
                    out.insert(m.as_bytes());
                }
            }
        }
    }
    Ok(out)
}

fn algebra(ctx: &mut Ctx<'_>, argv: &[&[u8]], op: Op) -> Reply {
    match compute(ctx, &argv[1..], op, 0) {
        Ok(s) => members_reply(&s),
        Err(e) => e,
    }
}

fn sinter(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    algebra(ctx, argv, Op::Inter)
}

fn sunion(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    algebra(ctx, argv, Op::Union)
}

fn sdiff(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    algebra(ctx, argv, Op::Diff)
}

fn store_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], op: Op, event: &str) -> Reply {
    let dst = argv[1];
    let result = match compute(ctx, &argv[2..], op, 0) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let len = result.len() as i64;
    let db = ctx.db_index();
    if result.is_empty() {
        if ctx.delete_in(db, dst) {
            ctx.notify('g', "del", dst);
            ctx.dirty(1);
        }
    } else {
        super::strings::store(ctx, dst, Value::Set(Box::new(result)), false);
        ctx.notify('s', event, dst);
    }
    Reply::Int(len)
}

fn sinterstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    store_generic(ctx, argv, Op::Inter, "sinterstore")
}

fn sunionstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    store_generic(ctx, argv, Op::Union, "sunionstore")
}

fn sdiffstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    store_generic(ctx, argv, Op::Diff, "sdiffstore")
}

fn sintercard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let numkeys = match parse_i64_strict(argv[1]) {
        Some(n) if n > 0 => n as u64,
        _ => return Reply::err("ERR numkeys should be greater than 0"),
    };
    if numkeys > (argv.len() - 2) as u64 {
        return Reply::err("ERR Number of keys can't be greater than number of args");
    }
    let numkeys = numkeys as usize;
    let mut limit = 0usize;
    let mut i = 2 + numkeys;
    while i < argv.len() {
        if eq_ic(argv[i], "limit") && i + 1 < argv.len() {
            match parse_i64_strict(argv[i + 1]) {
                Some(n) if n >= 0 => limit = n as usize,
                _ => return Reply::err("ERR LIMIT can't be negative"),
            }
            i += 2;
        } else {
            return Reply::err(errors::SYNTAX);
        }
    }
    match compute(ctx, &argv[2..2 + numkeys], Op::Inter, limit) {
        Ok(s) => Reply::Int(s.len() as i64),
        Err(e) => e,
    }
}

fn sscan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let cursor = match parse_cursor(argv[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let pos = match find_set(ctx, argv[1], true) {
        Err(e) => return e,
        Ok(None) => return empty_scan(),
        Ok(Some(p)) => p,
    };
    let opts = match parse_scan_opts(argv, cursor) {
        Ok(o) => o,
        Err(e) => return e,
    };
    let s = set_at(ctx, pos);
    let (next, positions) =
        scan_positions(s.len(), s.encoding() == "intset", opts.cursor, opts.count);
    let items = positions
        .into_iter()
        .map(|p| s.at(p))
        .filter(|m| opts.matches(m.as_bytes()))
        .map(str_reply)
        .collect();
    Reply::Array(vec![Reply::text(next.to_string()), Reply::Array(items)])
}
