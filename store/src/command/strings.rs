//! String commands (Redis's `t_string.c`).

use super::{CommandSpec, Flags};
use crate::cmd;
use crate::engine::{wrongtype, Ctx};
use crate::longdouble::LongDouble;
use crate::reply::{errors, Bulk, Reply};
use crate::types::{Sso, Value};
use crate::util::{arg_i64, eq_ic, parse_i64_strict};

// Every string command is LAZY_CLOCK: its handler reads the time only
// through `Ctx::now_ms()` (expiry arguments, `apply_expire`), and the
// lookups read it only for keys that have an expiry.
const L: Flags = Flags::LAZY_CLOCK;
const W: Flags = Flags::WRITE.or(Flags::DENYOOM).or(L);
const WF: Flags = W.or(Flags::FAST);
const R: Flags = Flags::READONLY.or(Flags::FAST).or(L);

/// The string family's table.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("get", 2, R, 1, 1, 1, get),
    cmd!("set", -3, W, 1, 1, 1, set),
    cmd!("setnx", 3, WF, 1, 1, 1, setnx),
    cmd!("setex", 4, W, 1, 1, 1, setex),
    cmd!("psetex", 4, W, 1, 1, 1, psetex),
    cmd!("getset", 3, WF, 1, 1, 1, getset),
    cmd!(
        "getdel",
        2,
        Flags::WRITE.or(Flags::FAST).or(L),
        1,
        1,
        1,
        getdel
    ),
    cmd!(
        "getex",
        -2,
        Flags::WRITE.or(Flags::FAST).or(L),
        1,
        1,
        1,
        getex
    ),
    cmd!("mget", -2, R, 1, -1, 1, mget),
    cmd!("mset", -3, W, 1, -1, 2, mset),
    cmd!("msetnx", -3, W, 1, -1, 2, msetnx),
    cmd!("append", 3, WF, 1, 1, 1, append),
    cmd!("strlen", 2, R, 1, 1, 1, strlen),
    cmd!("getrange", 4, Flags::READONLY.or(L), 1, 1, 1, getrange),
    cmd!("substr", 4, Flags::READONLY.or(L), 1, 1, 1, getrange),
    cmd!("setrange", 4, W, 1, 1, 1, setrange),
    cmd!("incr", 2, WF, 1, 1, 1, incr),
    cmd!("decr", 2, WF, 1, 1, 1, decr),
    cmd!("incrby", 3, WF, 1, 1, 1, incrby),
    cmd!("decrby", 3, WF, 1, 1, 1, decrby),
    cmd!("incrbyfloat", 3, WF, 1, 1, 1, incrbyfloat),
];

/// Largest string Redis accepts by default (`proto-max-bulk-len`).
pub const MAX_STRING: usize = 512 * 1024 * 1024;

/// The table entry of `name`, resolved once into `cell`.
fn resolved(
    cell: &'static std::sync::OnceLock<&'static CommandSpec>,
    name: &[u8],
) -> &'static CommandSpec {
    cell.get_or_init(|| crate::command::lookup(name).expect("a string command in the table"))
}

/// GET's table entry, for `Ctx::get_with`.
pub fn get_spec() -> &'static CommandSpec {
    static SPEC: std::sync::OnceLock<&'static CommandSpec> = std::sync::OnceLock::new();
    resolved(&SPEC, b"get")
}

/// SET's table entry, for `Engine::set_locked`.
pub fn set_spec() -> &'static CommandSpec {
    static SPEC: std::sync::OnceLock<&'static CommandSpec> = std::sync::OnceLock::new();
    resolved(&SPEC, b"set")
}

/// Reads the string at `key` for a read command: `Ok(None)` when missing,
/// `Err(WRONGTYPE)` when the key holds another type.
pub fn read_str<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c Sso>, Reply> {
    match ctx.lookup_read(key) {
        None => Ok(None),
        Some(pos) => match &ctx.db().at(pos).value {
            Value::Str(s) => Ok(Some(s)),
            _ => Err(wrongtype()),
        },
    }
}

/// A bulk reply for a stored string, sharing large buffers instead of copying.
pub fn str_reply(s: &Sso) -> Reply {
    match s.shared() {
        Some(buf) => Reply::Bulk(Bulk::Shared(buf.clone())),
        None => Reply::bulk(s.as_bytes()),
    }
}

/// Stores `value` at `key` in the selected db, replacing any value, and
/// clears or keeps the TTL. Returns the position.
pub fn store(ctx: &mut Ctx<'_>, key: &[u8], value: Value, keepttl: bool) -> usize {
    let stamp = ctx.lru_stamp();
    let db = ctx.db_index();
    let pos = match ctx.lookup_write(key) {
        Some(pos) => {
            let d = ctx.db();
            let e = d.at_mut(pos);
            e.value = value;
            e.lru = stamp;
            // An entry without an expiry is not in the volatile set, so
            // clearing it is needed only when it has one.
            if !keepttl && e.expire_at != 0 {
                d.set_expire(pos, 0);
            }
            pos
        }
        None => {
            let pos = ctx.db().insert_new(key, value, stamp);
            ctx.notify('n', "new", key);
            pos
        }
    };
    ctx.signal_modified(db, key);
    ctx.dirty(1);
    pos
}

/// `store` of a string given as bytes. Overwriting a long string whose
/// buffer nobody else holds (no reply or resource binary still shares it)
/// and whose capacity fits the new bytes (at most twice their length, so
/// a small value never keeps a large buffer) copies the bytes into that
/// buffer: no allocation and no free. Otherwise exactly `store`.
pub fn store_bytes(ctx: &mut Ctx<'_>, key: &[u8], bytes: &[u8], keepttl: bool) -> usize {
    if bytes.len() <= crate::types::sso::INLINE_CAP {
        return store(ctx, key, Value::Str(Sso::new(bytes)), keepttl);
    }
    let stamp = ctx.lru_stamp();
    let db = ctx.db_index();
    let Some(pos) = ctx.lookup_write(key) else {
        return store(ctx, key, Value::Str(Sso::new(bytes)), keepttl);
    };
    let d = ctx.db();
    let e = d.at_mut(pos);
    let reused = match &mut e.value {
        // Invariant kept: `bytes` is longer than `INLINE_CAP`, so the
        // string stays a `Heap` one.
        Value::Str(Sso::Heap(buf)) => buf.overwrite(bytes),
        _ => false,
    };
    if !reused {
        e.value = Value::Str(Sso::new(bytes));
    }
    e.lru = stamp;
    if !keepttl && e.expire_at != 0 {
        d.set_expire(pos, 0);
    }
    ctx.signal_modified(db, key);
    ctx.dirty(1);
    pos
}

fn get(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    match read_str(ctx, argv[1]) {
        Ok(Some(s)) => str_reply(s),
        Ok(None) => Reply::Nil,
        Err(e) => e,
    }
}

/// Expiry option of SET / GETEX.
#[derive(Clone, Copy, PartialEq)]
enum Expiry {
    None,
    Keep,
    Persist,
    At(u64),
}

/// Parses the number after EX/PX/EXAT/PXAT into an absolute time.
fn parse_expiry(ctx: &mut Ctx<'_>, opt: &[u8], val: &[u8], cmd: &str) -> Result<u64, Reply> {
    let n = arg_i64(val)?;
    let invalid = || Reply::err(format!("ERR invalid expire time in '{cmd}' command"));
    if n <= 0 {
        return Err(invalid());
    }
    let (ms, absolute) = if eq_ic(opt, "ex") {
        (n.checked_mul(1000).ok_or_else(invalid)?, false)
    } else if eq_ic(opt, "px") {
        (n, false)
    } else if eq_ic(opt, "exat") {
        (n.checked_mul(1000).ok_or_else(invalid)?, true)
    } else {
        (n, true)
    };
    if absolute {
        Ok(ms as u64)
    } else {
        let at = (ctx.now_ms() as i64).checked_add(ms).ok_or_else(invalid)?;
        Ok(at as u64)
    }
}

fn set(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let (mut nx, mut xx, mut get) = (false, false, false);
    let mut expiry = Expiry::None;
    let mut i = 3;
    while i < argv.len() {
        let a = argv[i];
        let has_next = i + 1 < argv.len();
        if eq_ic(a, "nx") && !xx {
            nx = true;
        } else if eq_ic(a, "xx") && !nx {
            xx = true;
        } else if eq_ic(a, "get") {
            get = true;
        } else if eq_ic(a, "keepttl") && expiry == Expiry::None {
            expiry = Expiry::Keep;
        } else if (eq_ic(a, "ex") || eq_ic(a, "px") || eq_ic(a, "exat") || eq_ic(a, "pxat"))
            && expiry == Expiry::None
            && has_next
        {
            match parse_expiry(ctx, a, argv[i + 1], "set") {
                Ok(at) => expiry = Expiry::At(at),
                Err(e) => return e,
            }
            i += 1;
        } else {
            return Reply::err(errors::SYNTAX);
        }
        i += 1;
    }
    let key = argv[1];
    let old = if get {
        match read_str(ctx, key) {
            Ok(v) => Some(v.map(str_reply).unwrap_or(Reply::Nil)),
            Err(e) => return e,
        }
    } else {
        None
    };
    // Plain SET skips the existence check: `store` looks the key up anyway.
    if nx || xx {
        let exists = ctx.lookup_write(key).is_some();
        if (nx && exists) || (xx && !exists) {
            return old.unwrap_or(Reply::Nil);
        }
    }
    let pos = store_bytes(ctx, key, argv[2], expiry == Expiry::Keep);
    ctx.notify('$', "set", key);
    if let Expiry::At(at) = expiry {
        set_expiry(ctx, pos, at);
    }
    old.unwrap_or_else(Reply::ok)
}

/// Sets an absolute expiry on the just-written entry at `pos` and fires
/// `expire`, as Redis 7.0's SET/SETEX do. A time already past (SET ..
/// EXAT/PXAT in the past) is stored too: the key is logically expired and
/// goes (with the `expired` event and a logged DEL) when it is next looked
/// up or sampled, exactly as in Redis 7.0.
pub fn set_expiry(ctx: &mut Ctx<'_>, pos: usize, at: u64) {
    ctx.db().set_expire(pos, at);
    let key = ctx.db().at(pos).key.clone();
    ctx.notify('g', "expire", key.as_bytes());
}

/// Sets an absolute expiry on the entry at `pos`; a time already past deletes
/// the key at once, as Redis's GETEX does.
pub fn apply_expire(ctx: &mut Ctx<'_>, pos: usize, at: u64) {
    let db = ctx.db_index();
    if at <= ctx.now_ms() {
        let e = ctx.db().remove_at(pos);
        ctx.signal_modified(db, e.key.as_bytes());
        ctx.notify('g', "del", e.key.as_bytes());
    } else {
        ctx.db().set_expire(pos, at);
        let key = ctx.db().at(pos).key.clone();
        ctx.notify('g', "expire", key.as_bytes());
    }
}

fn setnx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    if ctx.lookup_write(argv[1]).is_some() {
        return Reply::Int(0);
    }
    store(ctx, argv[1], Value::Str(Sso::new(argv[2])), false);
    ctx.notify('$', "set", argv[1]);
    Reply::Int(1)
}

fn setex_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], unit: &str, name: &str) -> Reply {
    let at = match parse_expiry(ctx, unit.as_bytes(), argv[2], name) {
        Ok(at) => at,
        Err(e) => return e,
    };
    let pos = store(ctx, argv[1], Value::Str(Sso::new(argv[3])), false);
    ctx.notify('$', "set", argv[1]);
    set_expiry(ctx, pos, at);
    Reply::ok()
}

fn setex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    setex_generic(ctx, argv, "ex", "setex")
}

fn psetex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    setex_generic(ctx, argv, "px", "psetex")
}

fn getset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let old = match read_str(ctx, argv[1]) {
        Ok(v) => v.map(str_reply).unwrap_or(Reply::Nil),
        Err(e) => return e,
    };
    store(ctx, argv[1], Value::Str(Sso::new(argv[2])), false);
    ctx.notify('$', "set", argv[1]);
    old
}

fn getdel(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let old = match read_str(ctx, argv[1]) {
        Ok(Some(s)) => str_reply(s),
        Ok(None) => return Reply::Nil,
        Err(e) => return e,
    };
    let db = ctx.db_index();
    ctx.delete_in(db, argv[1]);
    ctx.notify('g', "del", argv[1]);
    ctx.dirty(1);
    old
}

fn getex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    // Redis checks the option syntax, then the key and its type, and only
    // then the expire time.
    let mut persist = false;
    let mut expire_arg: Option<(&[u8], &[u8])> = None;
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i];
        let free = !persist && expire_arg.is_none();
        if eq_ic(a, "persist") && free {
            persist = true;
        } else if (eq_ic(a, "ex") || eq_ic(a, "px") || eq_ic(a, "exat") || eq_ic(a, "pxat"))
            && free
            && i + 1 < argv.len()
        {
            expire_arg = Some((a, argv[i + 1]));
            i += 1;
        } else {
            return Reply::err(errors::SYNTAX);
        }
        i += 1;
    }
    let Some(pos) = ctx.lookup_read(argv[1]) else {
        return Reply::Nil;
    };
    let reply = match &ctx.db().at(pos).value {
        Value::Str(s) => str_reply(s),
        _ => return wrongtype(),
    };
    let expiry = match expire_arg {
        Some((opt, val)) => match parse_expiry(ctx, opt, val, "getex") {
            Ok(at) => Expiry::At(at),
            Err(e) => return e,
        },
        None if persist => Expiry::Persist,
        None => Expiry::None,
    };
    let db = ctx.db_index();
    match expiry {
        Expiry::At(at) => {
            apply_expire(ctx, pos, at);
            ctx.signal_modified(db, argv[1]);
            ctx.dirty(1);
        }
        Expiry::Persist if ctx.db().at(pos).expire_at != 0 => {
            ctx.db().set_expire(pos, 0);
            ctx.signal_modified(db, argv[1]);
            ctx.notify('g', "persist", argv[1]);
            ctx.dirty(1);
        }
        _ => {}
    }
    reply
}

fn mget(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let out = argv[1..]
        .iter()
        .map(|k| match read_str(ctx, k) {
            Ok(Some(s)) => str_reply(s),
            _ => Reply::Nil,
        })
        .collect();
    Reply::Array(out)
}

fn mset(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    if argv.len().is_multiple_of(2) {
        return Reply::err("ERR wrong number of arguments for 'mset' command");
    }
    for kv in argv[1..].chunks(2) {
        store(ctx, kv[0], Value::Str(Sso::new(kv[1])), false);
        ctx.notify('$', "set", kv[0]);
    }
    Reply::ok()
}

fn msetnx(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    if argv.len().is_multiple_of(2) {
        return Reply::err("ERR wrong number of arguments for 'msetnx' command");
    }
    if argv[1..]
        .chunks(2)
        .any(|kv| ctx.lookup_write(kv[0]).is_some())
    {
        return Reply::Int(0);
    }
    for kv in argv[1..].chunks(2) {
        store(ctx, kv[0], Value::Str(Sso::new(kv[1])), false);
        ctx.notify('$', "set", kv[0]);
    }
    Reply::Int(1)
}

/// Applies `f` to the string at `key` (created empty when missing), keeping
/// the TTL. Returns what `f` returns, or WRONGTYPE. `f` edits the stored
/// string itself, so APPEND and SETRANGE work in place.
fn modify_str<R>(
    ctx: &mut Ctx<'_>,
    key: &[u8],
    event: &str,
    f: impl FnOnce(&mut Sso, bool) -> Result<R, Reply>,
) -> Result<R, Reply> {
    let db = ctx.db_index();
    let stamp = ctx.lru_stamp();
    let pos = match ctx.lookup_write(key) {
        Some(pos) => pos,
        None => {
            let mut v = Sso::EMPTY;
            let r = f(&mut v, false)?;
            ctx.db().insert_new(key, Value::Str(v), stamp);
            ctx.notify('n', "new", key);
            ctx.signal_modified(db, key);
            ctx.notify('$', event, key);
            ctx.dirty(1);
            return Ok(r);
        }
    };
    let e = ctx.db().at_mut(pos);
    let Value::Str(s) = &mut e.value else {
        return Err(wrongtype());
    };
    e.lru = stamp;
    let r = f(s, true)?;
    ctx.signal_modified(db, key);
    ctx.notify('$', event, key);
    ctx.dirty(1);
    Ok(r)
}

fn append(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let add = argv[2];
    // Check the size first so a refused append changes nothing.
    if let Some(pos) = ctx.lookup_write(argv[1]) {
        match &ctx.db().at(pos).value {
            Value::Str(s) if s.len() + add.len() > MAX_STRING => {
                return Reply::err(errors::STRING_TOO_LONG)
            }
            Value::Str(_) => {}
            _ => return wrongtype(),
        }
    }
    match modify_str(ctx, argv[1], "append", |v, _| {
        v.append(add);
        Ok(v.len())
    }) {
        Ok(n) => Reply::Int(n as i64),
        Err(e) => e,
    }
}

fn strlen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    match read_str(ctx, argv[1]) {
        Ok(Some(s)) => Reply::Int(s.len() as i64),
        Ok(None) => Reply::Int(0),
        Err(e) => e,
    }
}

fn getrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let (start, end) = match (arg_i64(argv[2]), arg_i64(argv[3])) {
        (Ok(s), Ok(e)) => (s, e),
        _ => return Reply::err(errors::NOT_INT),
    };
    let s = match read_str(ctx, argv[1]) {
        Ok(Some(s)) => s.as_bytes(),
        Ok(None) => return Reply::bulk(b""),
        Err(e) => return e,
    };
    let len = s.len() as i64;
    if start < 0 && end < 0 && start > end {
        return Reply::bulk(b"");
    }
    let mut start = if start < 0 { len + start } else { start };
    let mut end = if end < 0 { len + end } else { end };
    start = start.max(0);
    end = end.max(0);
    if end >= len {
        end = len - 1;
    }
    if start > end || len == 0 {
        return Reply::bulk(b"");
    }
    Reply::bulk(&s[start as usize..=end as usize])
}

fn setrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let offset = match arg_i64(argv[2]) {
        Ok(o) => o,
        Err(e) => return e,
    };
    if offset < 0 {
        return Reply::err("ERR offset is out of range");
    }
    let val = argv[3];
    let exists = match ctx.lookup_write(argv[1]) {
        Some(pos) => match &ctx.db().at(pos).value {
            Value::Str(s) => {
                if val.is_empty() {
                    return Reply::Int(s.len() as i64);
                }
                true
            }
            _ => return wrongtype(),
        },
        None => false,
    };
    if !exists && val.is_empty() {
        return Reply::Int(0);
    }
    if offset as usize + val.len() > MAX_STRING {
        return Reply::err(errors::STRING_TOO_LONG);
    }
    let off = offset as usize;
    match modify_str(ctx, argv[1], "setrange", |v, _| {
        v.write_at(off, val);
        Ok(v.len())
    }) {
        Ok(n) => Reply::Int(n as i64),
        Err(e) => e,
    }
}

fn incr_generic(ctx: &mut Ctx<'_>, key: &[u8], by: i64, decr: bool) -> Reply {
    let r = modify_str(ctx, key, "incrby", |v, existed| {
        let cur = if !existed {
            0
        } else {
            parse_i64_strict(v.as_bytes()).ok_or_else(|| Reply::err(errors::NOT_INT))?
        };
        let next = cur.checked_add(by).ok_or_else(|| {
            Reply::err(if decr {
                "ERR decrement would overflow"
            } else {
                errors::OVERFLOW
            })
        })?;
        *v = Sso::new(next.to_string().as_bytes());
        Ok(next)
    });
    match r {
        Ok(n) => Reply::Int(n),
        Err(e) => e,
    }
}

fn incr(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    incr_generic(ctx, argv[1], 1, false)
}

fn decr(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    incr_generic(ctx, argv[1], -1, false)
}

fn incrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    match arg_i64(argv[2]) {
        Ok(by) => incr_generic(ctx, argv[1], by, false),
        Err(e) => e,
    }
}

fn decrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    match arg_i64(argv[2]) {
        Ok(i64::MIN) => Reply::err("ERR decrement would overflow"),
        Ok(by) => incr_generic(ctx, argv[1], -by, false),
        Err(e) => e,
    }
}

fn incrbyfloat(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    // Redis checks the key's type, then the stored value, then the increment.
    if let Some(pos) = ctx.lookup_write(argv[1]) {
        match &ctx.db().at(pos).value {
            Value::Str(s) if LongDouble::parse(s.as_bytes()).is_none() => {
                return Reply::err(errors::NOT_FLOAT)
            }
            Value::Str(_) => {}
            _ => return wrongtype(),
        }
    }
    // Redis's `long double` arithmetic and `%.17Lf` output, exactly.
    let Some(by) = LongDouble::parse(argv[2]) else {
        return Reply::err(errors::NOT_FLOAT);
    };
    let r = modify_str(ctx, argv[1], "incrbyfloat", |v, existed| {
        let cur = if !existed {
            LongDouble::ZERO
        } else {
            LongDouble::parse(v.as_bytes()).ok_or_else(|| Reply::err(errors::NOT_FLOAT))?
        };
        let Some(text) = crate::longdouble::incr_text(cur, by) else {
            return Err(Reply::err("ERR increment would produce NaN or Infinity"));
        };
        *v = Sso::new(text.as_bytes());
        Ok(text)
    });
    match r {
        Ok(text) => {
            // Logged as SET ... KEEPTTL, as Redis does, so a replay never
            // depends on float arithmetic or formatting.
            crate::persist::rewrite_command(
                ctx,
                vec![
                    b"SET".to_vec(),
                    argv[1].to_vec(),
                    text.as_bytes().to_vec(),
                    b"KEEPTTL".to_vec(),
                ],
            );
            Reply::text(text)
        }
        Err(e) => e,
    }
}

#[cfg(test)]
mod tests {
    use crate::{Engine, Reply};

    #[test]
    fn set_over_a_long_string_keeps_shared_replies_intact() {
        let e = Engine::new();
        let mut s = e.session();
        let (a, b, c) = (vec![b'a'; 1024], vec![b'b'; 1024], vec![b'c'; 700]);
        assert_eq!(e.execute(&mut s, &[b"SET", b"k", &a]), Reply::ok());
        // A reply that still shares the stored buffer: the next SET must
        // not write into it.
        let held = e.execute(&mut s, &[b"GET", b"k"]);
        assert_eq!(e.execute(&mut s, &[b"SET", b"k", &b]), Reply::ok());
        assert_eq!(held, Reply::bulk(&a));
        drop(held);
        assert_eq!(e.execute(&mut s, &[b"GET", b"k"]), Reply::bulk(&b));
        // In place (nothing shares it now), shorter, then inline.
        assert_eq!(e.execute(&mut s, &[b"SET", b"k", &c]), Reply::ok());
        assert_eq!(e.execute(&mut s, &[b"GET", b"k"]), Reply::bulk(&c));
        assert_eq!(e.execute(&mut s, &[b"STRLEN", b"k"]), Reply::Int(700));
        assert_eq!(e.execute(&mut s, &[b"SET", b"k", b"short"]), Reply::ok());
        assert_eq!(e.execute(&mut s, &[b"GET", b"k"]), Reply::bulk(b"short"));
        // A TTL is cleared by a plain SET on the in-place path too.
        assert_eq!(
            e.execute(&mut s, &[b"SET", b"k", &a, b"EX", b"100"]),
            Reply::ok()
        );
        assert_eq!(e.execute(&mut s, &[b"SET", b"k", &b]), Reply::ok());
        assert_eq!(e.execute(&mut s, &[b"TTL", b"k"]), Reply::Int(-1));
        assert_eq!(e.execute(&mut s, &[b"GET", b"k"]), Reply::bulk(&b));
    }
}
