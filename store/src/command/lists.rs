//! List commands (Redis's `t_list.c`), including the blocking ones.
//!
//! Every write signals the key modified, fires Redis's keyspace event
//! (`lpush`, `rpush`, `lpop`, `rpop`, `linsert`, `lset`, `lrem`, `ltrim`,
//! and `del` when a list empties and its key goes), counts dirty changes,
//! and a push signals the key ready for blocked clients.

use super::{CommandSpec, Flags};
use crate::blocking::{self, Action, Serve, TimeUnit};
use crate::cmd;
use crate::engine::Ctx;
use crate::reply::{errors, Reply};
use crate::types::list::List;
use crate::types::{Sso, Value};
use crate::util::{arg_i64, eq_ic, parse_i64_strict};

use super::strings::str_reply;

const W: Flags = Flags::WRITE.or(Flags::DENYOOM).or(Flags::FAST);
const WF: Flags = Flags::WRITE.or(Flags::FAST);
const WS: Flags = Flags::WRITE;
const R: Flags = Flags::READONLY.or(Flags::FAST);
const RS: Flags = Flags::READONLY;
const B: Flags = Flags::WRITE.or(Flags::BLOCKING).or(Flags::NOSCRIPT);
const BD: Flags = B.or(Flags::DENYOOM);

/// The list family's table.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("lpush", -3, W, 1, 1, 1, lpush),
    cmd!("rpush", -3, W, 1, 1, 1, rpush),
    cmd!("lpushx", -3, W, 1, 1, 1, lpushx),
    cmd!("rpushx", -3, W, 1, 1, 1, rpushx),
    cmd!("lpop", -2, WF, 1, 1, 1, lpop),
    cmd!("rpop", -2, WF, 1, 1, 1, rpop),
    cmd!("llen", 2, R, 1, 1, 1, llen),
    cmd!("lrange", 4, RS, 1, 1, 1, lrange),
    cmd!("lindex", 3, RS, 1, 1, 1, lindex),
    cmd!("lset", 4, Flags::WRITE.or(Flags::DENYOOM), 1, 1, 1, lset),
    cmd!(
        "linsert",
        5,
        Flags::WRITE.or(Flags::DENYOOM),
        1,
        1,
        1,
        linsert
    ),
    cmd!("lrem", 4, WS, 1, 1, 1, lrem),
    cmd!("ltrim", 4, WS, 1, 1, 1, ltrim),
    cmd!("lpos", -3, RS, 1, 1, 1, lpos),
    cmd!("lmove", 5, Flags::WRITE.or(Flags::DENYOOM), 1, 2, 1, lmove),
    cmd!(
        "rpoplpush",
        3,
        Flags::WRITE.or(Flags::DENYOOM),
        1,
        2,
        1,
        rpoplpush
    ),
    cmd!("lmpop", -4, WS, 2, -2, 1, lmpop),
    cmd!("blpop", -3, B, 1, -2, 1, blpop),
    cmd!("brpop", -3, B, 1, -2, 1, brpop),
    cmd!("blmove", 6, BD, 1, 2, 1, blmove),
    cmd!("brpoplpush", 4, BD, 1, 2, 1, brpoplpush),
    cmd!("blmpop", -5, B, 3, -2, 1, blmpop),
];

/// Which end of a list.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum End {
    Left,
    Right,
}

impl End {
    fn parse(b: &[u8]) -> Option<End> {
        if eq_ic(b, "left") {
            Some(End::Left)
        } else if eq_ic(b, "right") {
            Some(End::Right)
        } else {
            None
        }
    }
    fn name(self) -> &'static str {
        match self {
            End::Left => "LEFT",
            End::Right => "RIGHT",
        }
    }
    fn pop_event(self) -> &'static str {
        match self {
            End::Left => "lpop",
            End::Right => "rpop",
        }
    }
    fn push_event(self) -> &'static str {
        match self {
            End::Left => "lpush",
            End::Right => "rpush",
        }
    }
}

/// Finds the list at `key` of the selected db for writing: `Ok(None)` when
/// missing, WRONGTYPE when another type.
fn find_list(ctx: &mut Ctx<'_>, key: &[u8], read: bool) -> Result<Option<usize>, Reply> {
    ctx.find_typed(key, read, |v| matches!(v, Value::List(_)))
}

/// The list at `pos` (already checked to be a list).
fn list_at<'c>(ctx: &'c mut Ctx<'_>, pos: usize) -> &'c mut List {
    match &mut ctx.db().at_mut(pos).value {
        Value::List(l) => l,
        _ => unreachable!("position checked to hold a list"),
    }
}

/// Deletes the list at `pos` when it became empty (Redis never keeps an
/// empty collection), firing `del`.
fn drop_if_empty(ctx: &mut Ctx<'_>, pos: usize, key: &[u8]) {
    if list_at(ctx, pos).is_empty() {
        ctx.db().remove_at(pos);
        ctx.notify('g', "del", key);
    }
}

/// Pushes `elems` onto `key` at `end`, creating the list unless `xx`.
/// Returns the new length (0 when `xx` and missing).
fn push_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], end: End, xx: bool) -> Reply {
    let key = argv[1];
    let pos = match find_list(ctx, key, false) {
        Err(e) => return e,
        Ok(Some(p)) => p,
        Ok(None) if xx => return Reply::Int(0),
        Ok(None) => {
            let stamp = ctx.lru_stamp();
            let pos = ctx.db().insert_new(key, Value::List(Box::default()), stamp);
            ctx.notify('n', "new", key);
            pos
        }
    };
    let list = list_at(ctx, pos);
    for e in &argv[2..] {
        match end {
            End::Left => list.items.push_front(Sso::new(e)),
            End::Right => list.items.push_back(Sso::new(e)),
        }
    }
    let len = list.len() as i64;
    let db = ctx.db_index();
    ctx.signal_ready(db, key);
    ctx.signal_modified(db, key);
    ctx.notify('l', end.push_event(), key);
    ctx.dirty((argv.len() - 2) as u64);
    Reply::Int(len)
}

fn lpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    push_generic(ctx, argv, End::Left, false)
}

fn rpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    push_generic(ctx, argv, End::Right, false)
}

fn lpushx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    push_generic(ctx, argv, End::Left, true)
}

fn rpushx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    push_generic(ctx, argv, End::Right, true)
}

/// Pops up to `count` elements from the list at `pos` (which must be
/// non-empty), with events, deletion and dirty counting.
fn pop_n(ctx: &mut Ctx<'_>, pos: usize, key: &[u8], end: End, count: usize) -> Vec<Sso> {
    let list = list_at(ctx, pos);
    let n = count.min(list.len());
    let out: Vec<Sso> = match end {
        End::Left => list.items.drain(..n).collect(),
        End::Right => {
            let len = list.len();
            list.items.drain(len - n..).rev().collect()
        }
    };
    let db = ctx.db_index();
    ctx.notify('l', end.pop_event(), key);
    drop_if_empty(ctx, pos, key);
    ctx.signal_modified(db, key);
    ctx.dirty(n as u64);
    out
}

fn pop_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], end: End) -> Reply {
    if argv.len() > 3 {
        return Reply::err(format!(
            "ERR wrong number of arguments for '{}' command",
            String::from_utf8_lossy(argv[0]).to_lowercase()
        ));
    }
    let count = match argv.get(2) {
        None => None,
        Some(a) => match parse_i64_strict(a) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Reply::err("ERR value is out of range, must be positive"),
        },
    };
    let key = argv[1];
    let pos = match find_list(ctx, key, false) {
        Err(e) => return e,
        Ok(None) => {
            return if count.is_some() {
                Reply::NilArray
            } else {
                Reply::Nil
            }
        }
        Ok(Some(p)) => p,
    };
    match count {
        None => {
            let v = pop_n(ctx, pos, key, end, 1);
            str_reply(&v[0])
        }
        Some(0) => Reply::Array(vec![]),
        Some(n) => {
            let v = pop_n(ctx, pos, key, end, n);
            Reply::Array(v.iter().map(str_reply).collect())
        }
    }
}

fn lpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    pop_generic(ctx, argv, End::Left)
}

fn rpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    pop_generic(ctx, argv, End::Right)
}

fn llen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    match find_list(ctx, argv[1], true) {
        Err(e) => e,
        Ok(None) => Reply::Int(0),
        Ok(Some(p)) => Reply::Int(list_at(ctx, p).len() as i64),
    }
}

fn lrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let (start, stop) = match (arg_i64(argv[2]), arg_i64(argv[3])) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    match find_list(ctx, argv[1], true) {
        Err(e) => e,
        Ok(None) => Reply::Array(vec![]),
        Ok(Some(p)) => {
            let l = list_at(ctx, p);
            match l.range(start, stop) {
                None => Reply::Array(vec![]),
                Some(r) => Reply::Array(l.items.range(r).map(str_reply).collect()),
            }
        }
    }
}

fn lindex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let idx = match arg_i64(argv[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    match find_list(ctx, argv[1], true) {
        Err(e) => e,
        Ok(None) => Reply::Nil,
        Ok(Some(p)) => {
            let l = list_at(ctx, p);
            match l.resolve(idx) {
                Some(i) => str_reply(&l.items[i]),
                None => Reply::Nil,
            }
        }
    }
}

fn lset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let idx = match arg_i64(argv[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let key = argv[1];
    let pos = match find_list(ctx, key, false) {
        Err(e) => return e,
        Ok(None) => return Reply::err(errors::NO_SUCH_KEY),
        Ok(Some(p)) => p,
    };
    let l = list_at(ctx, pos);
    let Some(i) = l.resolve(idx) else {
        return Reply::err("ERR index out of range");
    };
    l.items[i] = Sso::new(argv[3]);
    let db = ctx.db_index();
    ctx.signal_modified(db, key);
    ctx.notify('l', "lset", key);
    ctx.dirty(1);
    Reply::ok()
}

fn linsert(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let after = if eq_ic(argv[2], "after") {
        true
    } else if eq_ic(argv[2], "before") {
        false
    } else {
        return Reply::err(errors::SYNTAX);
    };
    let key = argv[1];
    let pos = match find_list(ctx, key, false) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(p)) => p,
    };
    let l = list_at(ctx, pos);
    let Some(i) = l.items.iter().position(|e| e.as_bytes() == argv[3]) else {
        return Reply::Int(-1);
    };
    l.items.insert(i + after as usize, Sso::new(argv[4]));
    let len = l.len() as i64;
    let db = ctx.db_index();
    ctx.signal_modified(db, key);
    ctx.notify('l', "linsert", key);
    ctx.dirty(1);
    Reply::Int(len)
}

fn lrem(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let count = match arg_i64(argv[2]) {
        Ok(i) => i,
        Err(e) => return e,
    };
    let key = argv[1];
    let pos = match find_list(ctx, key, false) {
        Err(e) => return e,
        Ok(None) => return Reply::Int(0),
        Ok(Some(p)) => p,
    };
    let target = argv[3];
    let l = list_at(ctx, pos);
    let limit = if count == 0 {
        usize::MAX
    } else {
        count.unsigned_abs().min(usize::MAX as u64) as usize
    };
    let mut removed = 0usize;
    if count >= 0 {
        let mut i = 0;
        while i < l.items.len() && removed < limit {
            if l.items[i].as_bytes() == target {
                l.items.remove(i);
                removed += 1;
            } else {
                i += 1;
            }
        }
    } else {
        let mut i = l.items.len();
        while i > 0 && removed < limit {
            i -= 1;
            if l.items[i].as_bytes() == target {
                l.items.remove(i);
                removed += 1;
            }
        }
    }
    if removed > 0 {
        let db = ctx.db_index();
        ctx.notify('l', "lrem", key);
        drop_if_empty(ctx, pos, key);
        ctx.signal_modified(db, key);
        ctx.dirty(removed as u64);
    }
    Reply::Int(removed as i64)
}

fn ltrim(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let (start, stop) = match (arg_i64(argv[2]), arg_i64(argv[3])) {
        (Ok(a), Ok(b)) => (a, b),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let key = argv[1];
    let pos = match find_list(ctx, key, false) {
        Err(e) => return e,
        Ok(None) => return Reply::ok(),
        Ok(Some(p)) => p,
    };
    let l = list_at(ctx, pos);
    let len = l.len();
    let removed = match l.range(start, stop) {
        None => {
            l.items.clear();
            len
        }
        Some(r) => {
            l.items.truncate(r.end);
            l.items.drain(..r.start);
            len - l.len()
        }
    };
    let db = ctx.db_index();
    ctx.notify('l', "ltrim", key);
    drop_if_empty(ctx, pos, key);
    ctx.signal_modified(db, key);
    ctx.dirty(removed as u64);
    Reply::ok()
}

fn lpos(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let mut rank: i64 = 1;
    let mut count: Option<usize> = None;
    let mut maxlen: usize = 0;
    let mut i = 3;
    while i < argv.len() {
        let opt = argv[i];
        let Some(val) = argv.get(i + 1) else {
            return Reply::err(errors::SYNTAX);
        };
        if eq_ic(opt, "rank") {
            rank = match arg_i64(val) {
                Ok(v) => v,
                Err(e) => return e,
            };
            if rank == 0 {
                return Reply::err(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                );
            }
        } else if eq_ic(opt, "count") {
            match parse_i64_strict(val) {
                Some(v) if v >= 0 => count = Some(v as usize),
                _ => return Reply::err("ERR COUNT can't be negative"),
            }
        } else if eq_ic(opt, "maxlen") {
            match parse_i64_strict(val) {
                Some(v) if v >= 0 => maxlen = v as usize,
                _ => return Reply::err("ERR MAXLEN can't be negative"),
            }
        } else {
            return Reply::err(errors::SYNTAX);
        }
        i += 2;
    }
    let pos = match find_list(ctx, argv[1], true) {
        Err(e) => return e,
        Ok(None) => {
            return if count.is_some() {
                Reply::Array(vec![])
            } else {
                Reply::Nil
            }
        }
        Ok(Some(p)) => p,
    };
    let l = list_at(ctx, pos);
    let target = argv[2];
    let from_tail = rank < 0;
    // Redis 7.0 negates LLONG_MIN into itself, so every match qualifies.
    let skip = if rank == i64::MIN {
        0
    } else {
        rank.unsigned_abs() - 1
    };
    let want = match count {
        None => 1,
        Some(0) => usize::MAX,
        Some(n) => n,
    };
    let len = l.len();
    let scan = if maxlen == 0 { len } else { maxlen.min(len) };
    let mut matches = 0u64;
    let mut out = Vec::new();
    for step in 0..scan {
        let idx = if from_tail { len - 1 - step } else { step };
        if l.items[idx].as_bytes() == target {
            matches += 1;
            if matches > skip {
                out.push(Reply::Int(idx as i64));
                if out.len() >= want {
                    break;
                }
            }
        }
    }
    match count {
        Some(_) => Reply::Array(out),
        None => out.pop().unwrap_or(Reply::Nil),
    }
}

/// LMOVE's work once `src` holds a non-empty list at `spos`: checks the
/// destination's type, moves one element and replies with it.
fn lmove_generic(ctx: &mut Ctx<'_>, src: &[u8], dst: &[u8], from: End, to: End) -> Reply {
    let spos = match find_list(ctx, src, false) {
        Err(e) => return e,
        Ok(None) => return Reply::Nil,
        Ok(Some(p)) => p,
    };
    if let Err(e) = find_list(ctx, dst, false) {
        return e;
    }
    let db = ctx.db_index();
    let l = list_at(ctx, spos);
    let v = match from {
        End::Left => l.items.pop_front(),
        End::Right => l.items.pop_back(),
    }
    .expect("stored lists are never empty");
    // Push first (the destination may be the source), as Redis does.
    let dpos = match find_list(ctx, dst, false) {
        Ok(Some(p)) => p,
        _ => {
            let stamp = ctx.lru_stamp();
            let pos = ctx.db().insert_new(dst, Value::List(Box::default()), stamp);
            ctx.notify('n', "new", dst);
            pos
        }
    };
    let dl = list_at(ctx, dpos);
    match to {
        End::Left => dl.items.push_front(v.clone()),
        End::Right => dl.items.push_back(v.clone()),
    }
    ctx.signal_ready(db, dst);
    ctx.signal_modified(db, dst);
    ctx.notify('l', to.push_event(), dst);
    ctx.notify('l', from.pop_event(), src);
    if let Some(spos) = ctx.db().find(src) {
        drop_if_empty(ctx, spos, src);
    }
    ctx.signal_modified(db, src);
    ctx.dirty(1);
    str_reply(&v)
}

fn lmove(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let (Some(from), Some(to)) = (End::parse(argv[3]), End::parse(argv[4])) else {
        return Reply::err(errors::SYNTAX);
    };
    lmove_generic(ctx, argv[1], argv[2], from, to)
}

fn rpoplpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    lmove_generic(ctx, argv[1], argv[2], End::Right, End::Left)
}

/// Parsed `numkeys key... LEFT|RIGHT [COUNT n]` of LMPOP/BLMPOP.
struct MPop<'a> {
    keys: Vec<&'a [u8]>,
    end: End,
    count: Option<usize>,
}

/// Parses LMPOP's arguments starting at `numkeys` index `at`.
fn parse_mpop<'a>(argv: &[&'a [u8]], at: usize) -> Result<MPop<'a>, Reply> {
    let numkeys = match parse_i64_strict(argv[at]) {
        Some(n) if n > 0 => n as usize,
        _ => return Err(Reply::err("ERR numkeys should be greater than 0")),
    };
    let where_idx = at.saturating_add(numkeys).saturating_add(1);
    if where_idx >= argv.len() {
        return Err(Reply::err(errors::SYNTAX));
    }
    let end = End::parse(argv[where_idx]).ok_or_else(|| Reply::err(errors::SYNTAX))?;
    let mut count = None;
    let mut i = where_idx + 1;
    while i < argv.len() {
        if eq_ic(argv[i], "count") && count.is_none() && i + 1 < argv.len() {
            match parse_i64_strict(argv[i + 1]) {
                Some(n) if n > 0 => count = Some(n as usize),
                _ => return Err(Reply::err("ERR count should be greater than 0")),
            }
            i += 2;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
    }
    Ok(MPop {
        keys: argv[at + 1..where_idx].to_vec(),
        end,
        count,
    })
}

/// Pops from the first non-empty list of `keys`: `Ok(None)` when all are
/// empty, WRONGTYPE when a key before the first non-empty list is not a list.
fn mpop_first(
    ctx: &mut Ctx<'_>,
    keys: &[&[u8]],
    end: End,
    count: usize,
) -> Result<Option<Reply>, Reply> {
    for &key in keys {
        if let Some(pos) = find_list(ctx, key, false)? {
            let v = pop_n(ctx, pos, key, end, count);
            // Logged as LPOP/RPOP key <popped>, as Redis 7.0 does.
            let pop: &[u8] = match end {
                End::Left => b"LPOP",
                End::Right => b"RPOP",
            };
            crate::persist::rewrite_command(
                ctx,
                vec![pop.to_vec(), key.to_vec(), v.len().to_string().into_bytes()],
            );
            return Ok(Some(Reply::Array(vec![
                Reply::bulk(key),
                Reply::Array(v.iter().map(str_reply).collect()),
            ])));
        }
    }
    Ok(None)
}

fn lmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let p = match parse_mpop(argv, 1) {
        Ok(p) => p,
        Err(e) => return e,
    };
    match mpop_first(ctx, &p.keys, p.end, p.count.unwrap_or(1)) {
        Ok(Some(r)) => r,
        Ok(None) => Reply::NilArray,
        Err(e) => e,
    }
}

// ---- Blocking variants ----------------------------------------------------

fn owned(keys: &[&[u8]]) -> Vec<Vec<u8>> {
    keys.iter().map(|k| k.to_vec()).collect()
}

fn bpop_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], end: End) -> Reply {
    let deadline = match blocking::parse_timeout(ctx.now, argv[argv.len() - 1], TimeUnit::Seconds) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let keys = &argv[1..argv.len() - 1];
    for &key in keys {
        match find_list(ctx, key, false) {
            Err(e) => return e,
            Ok(None) => {}
            Ok(Some(pos)) => {
                let v = pop_n(ctx, pos, key, end, 1);
                // Logged as the non-blocking pop, as Redis does.
                let pop: &[u8] = match end {
                    End::Left => b"LPOP",
                    End::Right => b"RPOP",
                };
                crate::persist::rewrite_command(ctx, vec![pop.to_vec(), key.to_vec()]);
                return Reply::Array(vec![Reply::bulk(key), str_reply(&v[0])]);
            }
        }
    }
    blocking::block(
        ctx,
        owned(keys),
        deadline,
        Action {
            serve: serve_bpop,
            args: vec![end.name().as_bytes().to_vec()],
            timeout_reply: Reply::NilArray,
        },
    )
}

/// Serves BLPOP/BRPOP: `args` = [LEFT|RIGHT].
fn serve_bpop(ctx: &mut Ctx<'_>, key: &[u8], args: &[Vec<u8>]) -> Serve {
    let left = args[0] == b"LEFT";
    let pop: &[u8] = if left { b"lpop" } else { b"rpop" };
    let reply = blocking::run_argv(ctx, &[pop.to_vec(), key.to_vec()]);
    match reply.as_bytes() {
        Some(v) if matches!(reply, Reply::Bulk(_)) => {
            let push: &[u8] = if left { b"lpush" } else { b"rpush" };
            let undo = vec![push.to_vec(), key.to_vec(), v.to_vec()];
            Serve::Served {
                reply: Reply::Array(vec![Reply::bulk(key), reply]),
                undo: Some(undo),
            }
        }
        _ => Serve::Exhausted,
    }
}

fn blpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    bpop_generic(ctx, argv, End::Left)
}

fn brpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    bpop_generic(ctx, argv, End::Right)
}

fn blmove_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], from: End, to: End, timeout: &[u8]) -> Reply {
    let deadline = match blocking::parse_timeout(ctx.now, timeout, TimeUnit::Seconds) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let (src, dst) = (argv[1], argv[2]);
    match find_list(ctx, src, false) {
        Err(e) => return e,
        Ok(Some(_)) => {
            let reply = lmove_generic(ctx, src, dst, from, to);
            if matches!(reply, Reply::Bulk(_)) {
                // Logged as the non-blocking move, as Redis does.
                let plain = if argv.len() == 4 {
                    vec![b"RPOPLPUSH".to_vec(), src.to_vec(), dst.to_vec()]
                } else {
                    vec![
                        b"LMOVE".to_vec(),
                        src.to_vec(),
                        dst.to_vec(),
                        argv[3].to_vec(),
                        argv[4].to_vec(),
                    ]
                };
                crate::persist::rewrite_command(ctx, plain);
            }
            return reply;
        }
        Ok(None) => {}
    }
    blocking::block(
        ctx,
        vec![src.to_vec()],
        deadline,
        Action {
            serve: serve_blmove,
            args: vec![
                dst.to_vec(),
                from.name().as_bytes().to_vec(),
                to.name().as_bytes().to_vec(),
            ],
            timeout_reply: Reply::NilArray,
        },
    )
}

/// Serves BLMOVE/BRPOPLPUSH: `args` = [dst, from, to].
fn serve_blmove(ctx: &mut Ctx<'_>, key: &[u8], args: &[Vec<u8>]) -> Serve {
    // A source that is not a (non-empty) list cannot serve: keep waiting.
    if !matches!(find_list(ctx, key, false), Ok(Some(_))) {
        return Serve::Exhausted;
    }
    let (dst, from, to) = (&args[0], &args[1], &args[2]);
    let reply = blocking::run_argv(
        ctx,
        &[
            b"lmove".to_vec(),
            key.to_vec(),
            dst.clone(),
            from.clone(),
            to.clone(),
        ],
    );
    // A WRONGTYPE destination is the waiter's answer, as in Redis; nothing
    // was moved then, so there is nothing to undo.
    let undo = matches!(reply, Reply::Bulk(_)).then(|| {
        vec![
            b"lmove".to_vec(),
            dst.clone(),
            key.to_vec(),
            to.clone(),
            from.clone(),
        ]
    });
    Serve::Served { reply, undo }
}

fn blmove(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let (Some(from), Some(to)) = (End::parse(argv[3]), End::parse(argv[4])) else {
        return Reply::err(errors::SYNTAX);
    };
    blmove_generic(ctx, argv, from, to, argv[5])
}

fn brpoplpush(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    blmove_generic(ctx, argv, End::Right, End::Left, argv[3])
}

fn blmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let deadline = match blocking::parse_timeout(ctx.now, argv[1], TimeUnit::Seconds) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let p = match parse_mpop(argv, 2) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let count = p.count.unwrap_or(1);
    match mpop_first(ctx, &p.keys, p.end, count) {
        Ok(Some(r)) => return r,
        Ok(None) => {}
        Err(e) => return e,
    }
    blocking::block(
        ctx,
        owned(&p.keys),
        deadline,
        Action {
            serve: serve_blmpop,
            args: vec![
                p.end.name().as_bytes().to_vec(),
                count.to_string().into_bytes(),
            ],
            timeout_reply: Reply::NilArray,
        },
    )
}

/// Serves BLMPOP: `args` = [LEFT|RIGHT, count].
fn serve_blmpop(ctx: &mut Ctx<'_>, key: &[u8], args: &[Vec<u8>]) -> Serve {
    blocking::serve_mpop(ctx, b"lmpop", key, args, |elems| {
        // Push the popped elements back in reverse, at the same end.
        let push: &[u8] = if args[0] == b"LEFT" {
            b"lpush"
        } else {
            b"rpush"
        };
        let mut undo = vec![push.to_vec(), key.to_vec()];
        undo.extend(
            elems
                .iter()
                .rev()
                .filter_map(|e| e.as_bytes())
                .map(<[u8]>::to_vec),
        );
        undo
    })
}
