//! Stream commands (Redis's `t_stream.c`): XADD XLEN XRANGE XREVRANGE XDEL
//! XTRIM XREAD XGROUP XREADGROUP XACK XPENDING XCLAIM XAUTOCLAIM XINFO XSETID,
//! with XREAD/XREADGROUP BLOCK on the blocking registry.
//!
//! A stream is never deleted for being empty (as in Redis). Group reads
//! keep Redis 7.0's `entries-read` counter so XINFO's `lag` matches.

use super::{CommandSpec, Flags};
use crate::blocking::{self, Action, Serve, TimeUnit};
use crate::cmd;
use crate::command::strings;
use crate::engine::Ctx;
use crate::reply::{errors, Reply};
use crate::types::stream::{Consumer, Group, Pending, Stream, StreamId, INVALID_ENTRIES_READ};
use crate::types::{Sso, Value};
use crate::util::{eq_ic, parse_i64_strict};

const W: Flags = Flags::WRITE.or(Flags::DENYOOM);
const WF: Flags = W.or(Flags::FAST);
const WX: Flags = Flags::WRITE;
const WXF: Flags = WX.or(Flags::FAST);
const R: Flags = Flags::READONLY;
const RF: Flags = R.or(Flags::FAST);

/// The stream family's table.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("xadd", -5, WF, 1, 1, 1, xadd),
    cmd!("xlen", 2, RF, 1, 1, 1, xlen),
    cmd!("xrange", -4, R, 1, 1, 1, xrange),
    cmd!("xrevrange", -4, R, 1, 1, 1, xrevrange),
    cmd!("xdel", -3, WXF, 1, 1, 1, xdel),
    cmd!("xtrim", -4, WX, 1, 1, 1, xtrim),
    cmd!("xread", -4, R.or(Flags::BLOCKING), 0, 0, 0, xread),
    cmd!(
        "xreadgroup",
        -7,
        WX.or(Flags::BLOCKING),
        0,
        0,
        0,
        xreadgroup
    ),
    cmd!("xgroup", -2, W, 2, 2, 1, xgroup),
    cmd!("xack", -4, WXF, 1, 1, 1, xack),
    cmd!("xpending", -3, R, 1, 1, 1, xpending),
    cmd!("xclaim", -6, WXF, 1, 1, 1, xclaim),
    cmd!("xautoclaim", -6, WXF, 1, 1, 1, xautoclaim),
    cmd!("xinfo", -2, R, 2, 2, 1, xinfo),
    cmd!("xsetid", -3, WF, 1, 1, 1, xsetid),
];

/// Invalid id argument.
pub const ERR_INVALID_ID: &str = "ERR Invalid stream ID specified as stream command argument";
/// XADD with an id not above the top item.
pub const ERR_XADD_SMALLER: &str =
    "ERR The ID specified in XADD is equal or smaller than the target stream top item";
const ERR_NEED_KEY: &str = "ERR The XGROUP subcommand requires the key to exist. Note that for CREATE you may want to use the MKSTREAM option to create an empty stream automatically.";

// ---------------------------------------------------------------------------
// Parsing and replies

/// Parses `ms-seq`, `ms` (seq = `missing_seq`), and unless `strict` the
/// `-`/`+` shorthands; with `allow_auto_seq`, `ms-*` gives `seq_given =
/// false`. Redis's `streamGenericParseIDOrReply`.
pub fn parse_id(
    b: &[u8],
    missing_seq: u64,
    strict: bool,
    allow_auto_seq: bool,
) -> Result<(StreamId, bool), Reply> {
    let bad = || Reply::err(ERR_INVALID_ID);
    if b.len() > 127 {
        return Err(bad());
    }
    if b == b"-" || b == b"+" {
        if strict {
            return Err(bad());
        }
        return Ok((
            if b == b"-" {
                StreamId::MIN
            } else {
                StreamId::MAX
            },
            true,
        ));
    }
    let (ms, seq) = match b.iter().position(|&c| c == b'-') {
        Some(i) => (&b[..i], Some(&b[i + 1..])),
        None => (b, None),
    };
    let ms = parse_u64(ms).ok_or_else(bad)?;
    match seq {
        None => Ok((StreamId::new(ms, missing_seq), true)),
        Some(b"*") if allow_auto_seq => Ok((StreamId::new(ms, 0), false)),
        Some(s) => Ok((StreamId::new(ms, parse_u64(s).ok_or_else(bad)?), true)),
    }
}

/// Redis's `string2ull`: a strict integer, or digits up to `u64::MAX`.
fn parse_u64(b: &[u8]) -> Option<u64> {
    if let Some(v) = parse_i64_strict(b) {
        return (v >= 0).then_some(v as u64);
    }
    if b.is_empty() || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(b).ok()?.parse().ok()
}

/// Parses an interval bound: `(id` is exclusive. Returns (id, exclusive).
fn parse_interval(b: &[u8], missing_seq: u64) -> Result<(StreamId, bool), Reply> {
    if b.len() > 1 && b[0] == b'(' {
        parse_id(&b[1..], missing_seq, true, false).map(|(id, _)| (id, true))
    } else {
        parse_id(b, missing_seq, false, false).map(|(id, _)| (id, false))
    }
}

/// A range start: inclusive id after applying `(`.
fn range_start(b: &[u8]) -> Result<StreamId, Reply> {
    let (id, ex) = parse_interval(b, 0)?;
    if ex {
        id.incr()
            .ok_or_else(|| Reply::err("ERR invalid start ID for the interval"))
    } else {
        Ok(id)
    }
}

/// A range end: inclusive id after applying `(`.
fn range_end(b: &[u8]) -> Result<StreamId, Reply> {
    let (id, ex) = parse_interval(b, u64::MAX)?;
    if ex {
        id.decr()
            .ok_or_else(|| Reply::err("ERR invalid end ID for the interval"))
    } else {
        Ok(id)
    }
}

/// An id as a bulk reply.
pub fn id_reply(id: StreamId) -> Reply {
    Reply::text(id.to_string())
}

/// An entry as `[id, [field, value, ...]]`.
pub fn entry_reply(id: StreamId, fields: &[Sso]) -> Reply {
    Reply::Array(vec![
        id_reply(id),
        Reply::Array(fields.iter().map(strings::str_reply).collect()),
    ])
}

/// Finds the stream at `key` of the selected db: its position, `Ok(None)`
/// when missing, WRONGTYPE otherwise.
fn stream_pos(ctx: &mut Ctx<'_>, key: &[u8], read: bool) -> Result<Option<usize>, Reply> {
    ctx.find_typed(key, read, |v| matches!(v, Value::Stream(_)))
}

fn stream_at<'c>(ctx: &'c mut Ctx<'_>, db: usize, pos: usize) -> &'c mut Stream {
    match &mut ctx.st.dbs[db].at_mut(pos).value {
        Value::Stream(s) => s,
        _ => unreachable!("checked by stream_pos"),
    }
}

fn node_limits(ctx: &Ctx<'_>) -> (usize, usize) {
    let config = &ctx.st.config;
    (
        config.num("stream-node-max-entries", 100) as usize,
        config.num("stream-node-max-bytes", 4096) as usize,
    )
}

fn nogroup(key: &[u8], group: &[u8]) -> Reply {
    Reply::err(format!(
        "NOGROUP No such key '{}' or consumer group '{}'",
        String::from_utf8_lossy(key),
        String::from_utf8_lossy(group)
    ))
}

/// A RESP3 map (a flat array in RESP2) with text keys.
fn map_kv(kv: Vec<(&str, Reply)>) -> Reply {
    Reply::Map(kv.into_iter().map(|(k, v)| (Reply::text(k), v)).collect())
}

// ---------------------------------------------------------------------------
// XADD / XTRIM

/// Parsed trimming options.
#[derive(Default)]
struct TrimArgs {
    /// `Some(Ok(maxlen))` or `Some(Err(minid))`.
    by: Option<Result<usize, StreamId>>,
    approx: bool,
    limit: usize,
    nomkstream: bool,
    id: Option<(StreamId, bool)>,
}

/// Redis's `streamParseAddOrTrimArgsOrReply`; returns the options and the
/// index of the id argument (XADD) or the end (XTRIM).
fn parse_add_or_trim(argv: &[&[u8]], xadd: bool) -> Result<(TrimArgs, usize), Reply> {
    let mut a = TrimArgs::default();
    let mut limit_given = false;
    let mut limit: i64 = 0;
    let mut i = 2;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = argv[i];
        if xadd && opt == b"*" {
            break;
        } else if eq_ic(opt, "maxlen") && more > 0 {
            a.approx = false;
            let next = argv[i + 1];
            if more >= 2 && (next == b"~" || next == b"=") {
                a.approx = next == b"~";
                i += 1;
            }
            let n = parse_i64_strict(argv[i + 1]).ok_or_else(|| Reply::err(errors::NOT_INT))?;
            if n < 0 {
                return Err(Reply::err("ERR The MAXLEN argument must be >= 0."));
            }
            a.by = Some(Ok(n as usize));
            i += 1;
        } else if eq_ic(opt, "minid") && more > 0 {
            a.approx = false;
            let next = argv[i + 1];
            if more >= 2 && (next == b"~" || next == b"=") {
                a.approx = next == b"~";
                i += 1;
            }
            let (id, _) = parse_id(argv[i + 1], 0, true, false)?;
            a.by = Some(Err(id));
            i += 1;
        } else if eq_ic(opt, "limit") && more > 0 {
            limit = parse_i64_strict(argv[i + 1]).ok_or_else(|| Reply::err(errors::NOT_INT))?;
            if limit < 0 {
                return Err(Reply::err("ERR The LIMIT argument must be >= 0."));
            }
            limit_given = true;
            i += 1;
        } else if xadd && eq_ic(opt, "nomkstream") {
            a.nomkstream = true;
        } else if xadd {
            a.id = Some(parse_id(opt, 0, true, true)?);
            break;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        i += 1;
    }
    if limit != 0 && a.by.is_none() {
        return Err(Reply::err(
            "ERR syntax error, LIMIT cannot be used without specifying a trimming strategy",
        ));
    }
    if !xadd && a.by.is_none() {
        return Err(Reply::err(
            "ERR syntax error, XTRIM must be called with a trimming strategy",
        ));
    }
    if limit_given {
        if !a.approx {
            return Err(Reply::err(
                "ERR syntax error, LIMIT cannot be used without the special ~ option",
            ));
        }
        a.limit = limit as usize;
    } else if a.approx {
        a.limit = 10_000;
    }
    Ok((a, i))
}

fn xadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let (args, i) = match parse_add_or_trim(argv, true) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let fpos = i + 1;
    if argv.len() < fpos + 2 || (argv.len() - fpos) % 2 == 1 {
        return Reply::err("ERR wrong number of arguments for 'xadd' command");
    }
    if let Some((id, true)) = args.id {
        if id.is_zero() {
            return Reply::err("ERR The ID specified in XADD must be greater than 0-0");
        }
    }
    let key = argv[1];
    let db = ctx.db_index();
    let pos = match stream_pos(ctx, key, false) {
        Ok(Some(p)) => p,
        Ok(None) if args.nomkstream => return Reply::Nil,
        Ok(None) => {
            let stamp = ctx.lru_stamp();
            ctx.db()
                .insert_new(key, Value::Stream(Box::default()), stamp)
        }
        Err(e) => return e,
    };
    let limits = node_limits(ctx);
    let now = ctx.now;
    let s = stream_at(ctx, db, pos);
    if s.last_id == StreamId::MAX {
        return Reply::err(
            "ERR The stream has exhausted the last possible ID, unable to add more items",
        );
    }
    let id = match args.id {
        None => s.next_auto_id(now),
        Some((id, true)) => Some(id),
        Some((id, false)) => {
            if s.last_id.ms == id.ms {
                s.last_id.incr().filter(|n| n.ms == id.ms)
            } else {
                Some(id)
            }
        }
    };
    let id = match id {
        Some(id) if id > s.last_id => id,
        _ => {
            // A stream this call created stays (Redis creates it first too,
            // but only when the id could not fail: `0-0` is refused above).
            return Reply::err(ERR_XADD_SMALLER);
        }
    };
    let fields: Vec<Sso> = argv[fpos..].iter().map(|f| Sso::new(f)).collect();
    s.append(id, fields, limits);
    let trimmed = match args.by {
        Some(by) => s.trim(by, args.approx, args.limit),
        None => 0,
    };
    // Log what happened, deterministically: the id chosen, and an exact
    // trim to the resulting length (as Redis rewrites `*` and `~`).
    let mut logged: Vec<Vec<u8>> = vec![b"XADD".to_vec(), key.to_vec()];
    if trimmed > 0 {
        logged.extend([
            b"MAXLEN".to_vec(),
            b"=".to_vec(),
            s.len().to_string().into_bytes(),
        ]);
    }
    logged.push(id.to_string().into_bytes());
    logged.extend(argv[fpos..].iter().map(|f| f.to_vec()));
    crate::persist::rewrite_command(ctx, logged);
    ctx.signal_modified(db, key);
    ctx.notify('t', "xadd", key);
    ctx.dirty(1);
    if trimmed > 0 {
        ctx.notify('t', "xtrim", key);
    }
    ctx.signal_ready(db, key);
    id_reply(id)
}

fn xtrim(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let key = argv[1];
    let db = ctx.db_index();
    let pos = match stream_pos(ctx, key, false) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let (args, _) = match parse_add_or_trim(argv, false) {
        Ok(x) => x,
        Err(e) => return e,
    };
    let Some(pos) = pos else {
        return Reply::Int(0);
    };
    let s = stream_at(ctx, db, pos);
    let n = s.trim(args.by.expect("checked"), args.approx, args.limit);
    let len = s.len();
    if n > 0 {
        crate::persist::rewrite_command(
            ctx,
            vec![
                b"XTRIM".to_vec(),
                key.to_vec(),
                b"MAXLEN".to_vec(),
                b"=".to_vec(),
                len.to_string().into_bytes(),
            ],
        );
        ctx.signal_modified(db, key);
        ctx.notify('t', "xtrim", key);
        ctx.dirty(n as u64);
    }
    Reply::Int(n as i64)
}

// ---------------------------------------------------------------------------
// XLEN XRANGE XREVRANGE XDEL

fn xlen(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let db = ctx.db_index();
    match stream_pos(ctx, argv[1], true) {
        Ok(Some(p)) => Reply::Int(stream_at(ctx, db, p).len() as i64),
        Ok(None) => Reply::Int(0),
        Err(e) => e,
    }
}

fn range_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], rev: bool) -> Reply {
    let (sa, ea) = if rev {
        (argv[3], argv[2])
    } else {
        (argv[2], argv[3])
    };
    let start = match range_start(sa) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let end = match range_end(ea) {
        Ok(e) => e,
        Err(e) => return e,
    };
    let mut count: Option<usize> = None;
    let mut j = 4;
    while j < argv.len() {
        if eq_ic(argv[j], "count") && j + 1 < argv.len() {
            match parse_i64_strict(argv[j + 1]) {
                Some(n) => count = Some(n.max(0) as usize),
                None => return Reply::err(errors::NOT_INT),
            }
            j += 2;
        } else {
            return Reply::err(errors::SYNTAX);
        }
    }
    let db = ctx.db_index();
    let pos = match stream_pos(ctx, argv[1], true) {
        Ok(Some(p)) => p,
        Ok(None) => return Reply::Array(vec![]),
        Err(e) => return e,
    };
    if count == Some(0) {
        return Reply::NilArray;
    }
    let s = stream_at(ctx, db, pos);
    if start > end {
        return Reply::Array(vec![]);
    }
    let limit = count.unwrap_or(usize::MAX);
    let range = s.entries.range(start..=end);
    let out: Vec<Reply> = if rev {
        range
            .rev()
            .take(limit)
            .map(|(id, f)| entry_reply(*id, f))
            .collect()
    } else {
        range
            .take(limit)
            .map(|(id, f)| entry_reply(*id, f))
            .collect()
    };
    Reply::Array(out)
}

fn xrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    range_generic(ctx, argv, false)
}

fn xrevrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    range_generic(ctx, argv, true)
}

fn xdel(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let key = argv[1];
    let db = ctx.db_index();
    let pos = match stream_pos(ctx, key, false) {
        Ok(Some(p)) => p,
        Ok(None) => return Reply::Int(0),
        Err(e) => return e,
    };
    let mut ids = Vec::with_capacity(argv.len() - 2);
    for a in &argv[2..] {
        match parse_id(a, 0, true, false) {
            Ok((id, _)) => ids.push(id),
            Err(e) => return e,
        }
    }
    let s = stream_at(ctx, db, pos);
    let deleted = ids.into_iter().filter(|id| s.delete(*id)).count();
    if deleted > 0 {
        ctx.signal_modified(db, key);
        ctx.notify('t', "xdel", key);
        ctx.dirty(deleted as u64);
    }
    Reply::Int(deleted as i64)
}

// ---------------------------------------------------------------------------
// XSETID

/// `XSETID key last-id [ENTRIESADDED n] [MAXDELETEDID id]`, as Redis 7.0.15
/// checks it: options first, then the key (`ERR no such key`), then against
/// the top live entry. 7.0 does not compare `last-id` with the stream's
/// current max-deleted id, so an empty stream's last id may move back.
fn xsetid(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let key = argv[1];
    let id = match parse_id(argv[2], 0, true, false) {
        Ok((id, _)) => id,
        Err(e) => return e,
    };
    let mut entries_added: Option<u64> = None;
    let mut max_deleted = StreamId::MIN;
    let mut i = 3;
    while i < argv.len() {
        let more = argv.len() - 1 - i;
        let opt = argv[i];
        if eq_ic(opt, "entriesadded") && more > 0 {
            let Some(n) = parse_i64_strict(argv[i + 1]) else {
                return Reply::err(errors::NOT_INT);
            };
            if n < 0 {
                return Reply::err("ERR entries_added must be positive");
            }
            entries_added = Some(n as u64);
        } else if eq_ic(opt, "maxdeletedid") && more > 0 {
            max_deleted = match parse_id(argv[i + 1], 0, true, false) {
                Ok((m, _)) => m,
                Err(e) => return e,
            };
            if id < max_deleted {
                return Reply::err(
                    "ERR The ID specified in XSETID is smaller than the provided max_deleted_entry_id",
                );
            }
        } else {
            return Reply::err(errors::SYNTAX);
        }
        i += 2;
    }
    let pos = match stream_pos(ctx, key, false) {
        Ok(Some(p)) => p,
        Ok(None) => return Reply::err("ERR no such key"),
        Err(e) => return e,
    };
    let db = ctx.db_index();
    let s = stream_at(ctx, db, pos);
    if let Some(top) = s.entries.keys().next_back() {
        if id < *top {
            return Reply::err(
                "ERR The ID specified in XSETID is smaller than the target stream top item",
            );
        }
        if entries_added.is_some_and(|n| n < s.len() as u64) {
            return Reply::err(
                "ERR The entries_added specified in XSETID is smaller than the target stream length",
            );
        }
    }
    s.set_id(
        id,
        entries_added,
        (!max_deleted.is_zero()).then_some(max_deleted),
    );
    ctx.signal_modified(db, key);
    ctx.notify('t', "xsetid", key);
    ctx.dirty(1);
    Reply::ok()
}

// ---------------------------------------------------------------------------
// XREAD / XREADGROUP

/// Parsed XREAD / XREADGROUP arguments.
struct ReadArgs<'a> {
    count: usize,
    block: Option<u64>,
    group: Option<(&'a [u8], &'a [u8])>,
    noack: bool,
    keys: Vec<&'a [u8]>,
    ids: Vec<&'a [u8]>,
}

fn parse_read<'a>(
    ctx: &Ctx<'_>,
    argv: &[&'a [u8]],
    xreadgroup: bool,
) -> Result<ReadArgs<'a>, Reply> {
    let mut a = ReadArgs {
        count: 0,
        block: None,
        group: None,
        noack: false,
        keys: Vec::new(),
        ids: Vec::new(),
    };
    let mut streams_at = 0;
    let mut i = 1;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        let o = argv[i];
        if eq_ic(o, "block") && more > 0 {
            i += 1;
            a.block = Some(blocking::parse_timeout(ctx.now, argv[i], TimeUnit::Millis)?);
        } else if eq_ic(o, "count") && more > 0 {
            i += 1;
            let n = parse_i64_strict(argv[i]).ok_or_else(|| Reply::err(errors::NOT_INT))?;
            a.count = n.max(0) as usize;
        } else if eq_ic(o, "streams") && more > 0 {
            streams_at = i + 1;
            let n = argv.len() - streams_at;
            if !n.is_multiple_of(2) {
                let (name, sym) = if xreadgroup {
                    ("XREADGROUP", '>')
                } else {
                    ("XREAD", '$')
                };
                return Err(Reply::err(format!("ERR Unbalanced {name} list of streams: for each stream key an ID or '{sym}' must be specified.")));
            }
            break;
        } else if eq_ic(o, "group") && more >= 2 {
            if !xreadgroup {
                return Err(Reply::err(
                    "ERR The GROUP option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            a.group = Some((argv[i + 1], argv[i + 2]));
            i += 2;
        } else if eq_ic(o, "noack") {
            if !xreadgroup {
                return Err(Reply::err(
                    "ERR The NOACK option is only supported by XREADGROUP. You called XREAD instead.",
                ));
            }
            a.noack = true;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
        i += 1;
    }
    if streams_at == 0 {
        return Err(Reply::err(errors::SYNTAX));
    }
    if xreadgroup && a.group.is_none() {
        return Err(Reply::err("ERR Missing GROUP option for XREADGROUP"));
    }
    let n = (argv.len() - streams_at) / 2;
    a.keys = argv[streams_at..streams_at + n].to_vec();
    a.ids = argv[streams_at + n..].to_vec();
    Ok(a)
}

/// One stream's position in an XREAD: the id to read after, or `None`
/// for XREADGROUP's `>`.
type After = Option<StreamId>;

/// Delivers new entries (after the group's last id) to a consumer: adds
/// them to the PELs unless `noack`, advances the group. The entries reply.
fn deliver_new(
    s: &mut Stream,
    group: &[u8],
    consumer: &[u8],
    count: usize,
    noack: bool,
    now: u64,
) -> Vec<Reply> {
    let last = s.groups[group].last_id;
    let start = match last.incr() {
        Some(x) => x,
        None => return Vec::new(),
    };
    let limit = if count == 0 { usize::MAX } else { count };
    let picked: Vec<(StreamId, Vec<Sso>)> = s
        .entries
        .range(start..)
        .take(limit)
        .map(|(id, f)| (*id, f.clone()))
        .collect();
    let mut out = Vec::with_capacity(picked.len());
    for (id, fields) in picked {
        s.advance_group(group, id);
        if !noack {
            let g = s.groups.get_mut(group).expect("group");
            if let Some(old) = g.pel.get(&id).map(|p| p.consumer.clone()) {
                if let Some(c) = g.consumers.get_mut(&old) {
                    c.pel.remove(&id);
                }
            }
            g.pel.insert(
                id,
                Pending {
                    consumer: consumer.to_vec(),
                    delivery_time: now,
                    delivery_count: 1,
                },
            );
            g.consumers
                .get_mut(consumer)
                .expect("consumer")
                .pel
                .insert(id);
        }
        out.push(entry_reply(id, &fields));
    }
    out
}

/// Replays a consumer's own pending entries from `after` (history read):
/// deleted entries come back as `[id, nil]`.
fn deliver_history(
    s: &mut Stream,
    group: &[u8],
    consumer: &[u8],
    after: StreamId,
    count: usize,
    now: u64,
) -> Vec<Reply> {
    let limit = if count == 0 { usize::MAX } else { count };
    let g = s.groups.get_mut(group).expect("group");
    let ids: Vec<StreamId> = g.consumers[consumer]
        .pel
        .range(after..)
        .take(limit)
        .copied()
        .collect();
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(p) = g.pel.get_mut(&id) {
            p.delivery_time = now;
            p.delivery_count += 1;
        }
        out.push(match s.entries.get(&id) {
            Some(f) => entry_reply(id, f),
            None => Reply::Array(vec![id_reply(id), Reply::NilArray]),
        });
    }
    out
}

/// Ensures `consumer` exists in `group` (notifying its creation) and marks
/// it seen now.
fn touch_consumer(
    ctx: &mut Ctx<'_>,
    db: usize,
    pos: usize,
    key: &[u8],
    group: &[u8],
    consumer: &[u8],
) {
    let now = ctx.now;
    let g = stream_at(ctx, db, pos)
        .groups
        .get_mut(group)
        .expect("group");
    let created = !g.consumers.contains_key(consumer);
    g.consumers.entry(consumer.to_vec()).or_default().seen_time = now;
    if created {
        notify_in(ctx, db, "xgroup-createconsumer", key);
    }
}

fn notify_in(ctx: &mut Ctx<'_>, db: usize, event: &str, key: &[u8]) {
    let saved = ctx.session.db;
    ctx.session.db = db;
    ctx.notify('t', event, key);
    ctx.session.db = saved;
}

fn wrap_streams(ctx: &Ctx<'_>, items: Vec<(Reply, Reply)>) -> Reply {
    if ctx.session.is_resp3() {
        Reply::Map(items)
    } else {
        Reply::Array(
            items
                .into_iter()
                .map(|(k, v)| Reply::Array(vec![k, v]))
                .collect(),
        )
    }
}

fn xread_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], xreadgroup: bool) -> Reply {
    let a = match parse_read(ctx, argv, xreadgroup) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let db = ctx.db_index();
    let mut afters: Vec<After> = Vec::with_capacity(a.keys.len());
    for (key, idarg) in a.keys.iter().zip(&a.ids) {
        let pos = match stream_pos(ctx, key, true) {
            Ok(p) => p,
            Err(e) => return e,
        };
        if let Some((group, _)) = a.group {
            let has = pos.is_some_and(|p| stream_at(ctx, db, p).groups.contains_key(group));
            if !has {
                return Reply::err(format!(
                    "NOGROUP No such key '{}' or consumer group '{}' in XREADGROUP with GROUP option",
                    String::from_utf8_lossy(key),
                    String::from_utf8_lossy(group)
                ));
            }
        }
        if *idarg == b"$" {
            if xreadgroup {
                return Reply::err("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.");
            }
            afters.push(Some(
                pos.map_or(StreamId::MIN, |p| stream_at(ctx, db, p).last_id),
            ));
            continue;
        }
        if *idarg == b">" {
            if !xreadgroup {
                return Reply::err("ERR The > ID can be specified only when calling XREADGROUP using the GROUP <group> <consumer> option.");
            }
            afters.push(None);
            continue;
        }
        match parse_id(idarg, 0, true, false) {
            Ok((id, _)) => afters.push(Some(id)),
            Err(e) => return e,
        }
    }
    let now = ctx.now;
    let mut served = Vec::new();
    for (i, key) in a.keys.iter().enumerate() {
        let Ok(Some(pos)) = stream_pos(ctx, key, true) else {
            continue;
        };
        match a.group {
            Some((group, consumer)) => {
                let s = stream_at(ctx, db, pos);
                let (history, go) = match afters[i] {
                    Some(_) => (true, true),
                    None => {
                        let top = s.entries.keys().next_back().copied();
                        (false, top.is_some_and(|t| t > s.groups[group].last_id))
                    }
                };
                if !go {
                    continue;
                }
                touch_consumer(ctx, db, pos, key, group, consumer);
                let s = stream_at(ctx, db, pos);
                let entries = if history {
                    deliver_history(s, group, consumer, afters[i].expect("id"), a.count, now)
                } else {
                    deliver_new(s, group, consumer, a.count, a.noack, now)
                };
                ctx.dirty(1);
                served.push((Reply::bulk(key), Reply::Array(entries)));
            }
            None => {
                let after = afters[i].expect("xread ids");
                let s = stream_at(ctx, db, pos);
                let entries = read_after(s, after, a.count);
                if !entries.is_empty() {
                    served.push((Reply::bulk(key), Reply::Array(entries)));
                }
            }
        }
    }
    if !served.is_empty() {
        return wrap_streams(ctx, served);
    }
    let Some(deadline) = a.block else {
        return Reply::NilArray;
    };
    // Block: waiters carry [count, noack, group, consumer, key, after...].
    let mut args = vec![
        a.count.to_string().into_bytes(),
        vec![a.noack as u8],
        a.group.map_or(Vec::new(), |g| g.0.to_vec()),
        a.group.map_or(Vec::new(), |g| g.1.to_vec()),
    ];
    for (key, after) in a.keys.iter().zip(&afters) {
        args.push(key.to_vec());
        args.push(match after {
            Some(id) => id.to_string().into_bytes(),
            None => b">".to_vec(),
        });
    }
    blocking::block(
        ctx,
        a.keys.iter().map(|k| k.to_vec()).collect(),
        deadline,
        Action {
            serve: if xreadgroup {
                serve_xreadgroup
            } else {
                serve_xread
            },
            args,
            timeout_reply: Reply::NilArray,
        },
    )
}

fn read_after(s: &Stream, after: StreamId, count: usize) -> Vec<Reply> {
    let Some(start) = after.incr() else {
        return Vec::new();
    };
    let limit = if count == 0 { usize::MAX } else { count };
    s.entries
        .range(start..)
        .take(limit)
        .map(|(id, f)| entry_reply(*id, f))
        .collect()
}

/// The waiter's position for `key` in its args.
fn waiter_after(key: &[u8], args: &[Vec<u8>]) -> Option<Vec<u8>> {
    args[4..]
        .chunks(2)
        .find(|kv| kv[0] == key)
        .map(|kv| kv[1].clone())
}

/// Serves a blocked XREAD from `key` when it has entries past the
/// waiter's id. Non-destructive: nothing to undo.
fn serve_xread(ctx: &mut Ctx<'_>, key: &[u8], args: &[Vec<u8>]) -> Serve {
    let db = ctx.db_index();
    let Some(after) = waiter_after(key, args) else {
        return Serve::NotReady;
    };
    let Ok((after, _)) = parse_id(&after, 0, true, false) else {
        return Serve::NotReady;
    };
    let count = std::str::from_utf8(&args[0])
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let Ok(Some(pos)) = stream_pos(ctx, key, true) else {
        return Serve::Exhausted;
    };
    let entries = read_after(stream_at(ctx, db, pos), after, count);
    if entries.is_empty() {
        return Serve::NotReady;
    }
    Serve::Served {
        reply: wrap_streams(ctx, vec![(Reply::bulk(key), Reply::Array(entries))]),
        undo: None,
    }
}

/// Serves a blocked XREADGROUP `>` from `key` through XREADGROUP itself
/// (so the PEL changes are logged as that command). Entries delivered to
/// a waiter whose send then fails stay in the group's PEL, claimable with
/// XCLAIM/XAUTOCLAIM, as in Redis when a consumer dies.
fn serve_xreadgroup(ctx: &mut Ctx<'_>, key: &[u8], args: &[Vec<u8>]) -> Serve {
    let db = ctx.db_index();
    let (group, consumer) = (&args[2], &args[3]);
    let Ok(Some(pos)) = stream_pos(ctx, key, true) else {
        return Serve::Exhausted;
    };
    let s = stream_at(ctx, db, pos);
    let Some(g) = s.groups.get(group.as_slice()) else {
        return Serve::Served {
            reply: Reply::err(
                "NOGROUP the consumer group this client was blocked on no longer exists",
            ),
            undo: None,
        };
    };
    let top = s.entries.keys().next_back().copied();
    if top.is_none_or(|t| t <= g.last_id) {
        return Serve::NotReady;
    }
    let mut argv = vec![
        b"xreadgroup".to_vec(),
        b"GROUP".to_vec(),
        group.clone(),
        consumer.clone(),
    ];
    if args[0] != b"0" {
        argv.push(b"COUNT".to_vec());
        argv.push(args[0].clone());
    }
    if args[1] == [1] {
        argv.push(b"NOACK".to_vec());
    }
    argv.extend([b"STREAMS".to_vec(), key.to_vec(), b">".to_vec()]);
    let reply = blocking::run_argv(ctx, &argv);
    match reply {
        Reply::NilArray => Serve::NotReady,
        reply => Serve::Served { reply, undo: None },
    }
}

fn xread(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    xread_generic(ctx, argv, false)
}

fn xreadgroup(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    xread_generic(ctx, argv, true)
}

// ---------------------------------------------------------------------------
// XGROUP

fn subcommand_syntax(sub: &[u8], cmd: &str) -> Reply {
    Reply::err(format!(
        "ERR unknown subcommand or wrong number of arguments for '{}'. Try {cmd} HELP.",
        String::from_utf8_lossy(sub)
    ))
}

/// Checks a container command's subcommand name and arity as Redis's
/// command table does. Returns the lower-case subcommand.
fn check_sub(argv: &[&[u8]], cmd: &str, subs: &[(&str, i32)]) -> Result<String, Reply> {
    let sub = String::from_utf8_lossy(argv[1]).to_ascii_lowercase();
    let Some(&(name, arity)) = subs.iter().find(|(n, _)| *n == sub) else {
        return Err(Reply::err(format!(
            "ERR unknown subcommand '{}'. Try {} HELP.",
            String::from_utf8_lossy(argv[1]),
            cmd.to_ascii_uppercase()
        )));
    };
    let n = argv.len() as i32;
    if (arity >= 0 && n != arity) || (arity < 0 && n < -arity) {
        return Err(Reply::err(format!(
            "ERR wrong number of arguments for '{cmd}|{name}' command"
        )));
    }
    Ok(sub)
}

fn parse_entries_read(b: &[u8]) -> Result<i64, Reply> {
    let n = parse_i64_strict(b).ok_or_else(|| Reply::err(errors::NOT_INT))?;
    if n < 0 && n != INVALID_ENTRIES_READ {
        return Err(Reply::err(
            "ERR value for ENTRIESREAD must be positive or -1",
        ));
    }
    Ok(n)
}

fn xgroup(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let sub = match check_sub(
        argv,
        "xgroup",
        &[
            ("create", -5),
            ("setid", -5),
            ("destroy", 4),
            ("createconsumer", 5),
            ("delconsumer", 5),
            ("help", 2),
        ],
    ) {
        Ok(s) => s,
        Err(e) => return e,
    };
    if sub == "help" {
        return Reply::status_lines(&[
            "XGROUP <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CREATE <key> <groupname> <id|$> [option]",
            "    Create a new consumer group. Options are:",
            "    * MKSTREAM",
            "      Create the empty stream if it does not exist.",
            "    * ENTRIESREAD entries_read",
            "      Set the group's entries_read counter (internal use).",
            "CREATECONSUMER <key> <groupname> <consumer>",
            "    Create a new consumer in the specified group.",
            "DELCONSUMER <key> <groupname> <consumer>",
            "    Remove the specified consumer.",
            "DESTROY <key> <groupname>",
            "    Remove the specified group.",
            "SETID <key> <groupname> <id|$> [ENTRIESREAD entries_read]",
            "    Set the current group ID and entries_read counter.",
            "HELP",
            "    Print this help.",
        ]);
    }
    let key = argv[2];
    let grp = argv[3];
    let mut mkstream = false;
    let mut entries_read = INVALID_ENTRIES_READ;
    if sub == "create" {
        let mut i = 5;
        while i < argv.len() {
            if eq_ic(argv[i], "mkstream") {
                mkstream = true;
                i += 1;
            } else if eq_ic(argv[i], "entriesread") && i + 1 < argv.len() {
                match parse_entries_read(argv[i + 1]) {
                    Ok(n) => entries_read = n,
                    Err(e) => return e,
                }
                i += 2;
            } else {
                return subcommand_syntax(argv[1], "XGROUP");
            }
        }
    }
    let db = ctx.db_index();
    let pos = match stream_pos(ctx, key, false) {
        Ok(p) => p,
        Err(e) => return e,
    };
    if !mkstream {
        let Some(p) = pos else {
            return Reply::err(ERR_NEED_KEY);
        };
        let exists = stream_at(ctx, db, p).groups.contains_key(grp);
        if !exists && matches!(sub.as_str(), "setid" | "createconsumer" | "delconsumer") {
            return Reply::err(format!(
                "NOGROUP No such consumer group '{}' for key name '{}'",
                String::from_utf8_lossy(grp),
                String::from_utf8_lossy(key)
            ));
        }
    }
    match sub.as_str() {
        "create" => {
            if argv.len() > 8 {
                return subcommand_syntax(argv[1], "XGROUP");
            }
            let id = if argv[4] == b"$" {
                pos.map_or(StreamId::MIN, |p| stream_at(ctx, db, p).last_id)
            } else {
                match parse_id(argv[4], 0, true, false) {
                    Ok((id, _)) => id,
                    Err(e) => return e,
                }
            };
            let pos = match pos {
                Some(p) => p,
                None => {
                    let stamp = ctx.lru_stamp();
                    let p = ctx
                        .db()
                        .insert_new(key, Value::Stream(Box::default()), stamp);
                    ctx.signal_modified(db, key);
                    p
                }
            };
            let s = stream_at(ctx, db, pos);
            if s.groups.contains_key(grp) {
                return Reply::err("BUSYGROUP Consumer Group name already exists");
            }
            s.groups.insert(
                grp.to_vec(),
                Group {
                    last_id: id,
                    entries_read,
                    ..Group::default()
                },
            );
            ctx.dirty(1);
            ctx.notify('t', "xgroup-create", key);
            Reply::ok()
        }
        "setid" => {
            if argv.len() != 5 && argv.len() != 7 {
                return subcommand_syntax(argv[1], "XGROUP");
            }
            let pos = pos.expect("checked");
            let id = if argv[4] == b"$" {
                stream_at(ctx, db, pos).last_id
            } else {
                match parse_id(argv[4], 0, false, false) {
                    Ok((id, _)) => id,
                    Err(e) => return e,
                }
            };
            if argv.len() == 7 {
                if !eq_ic(argv[5], "entriesread") {
                    return subcommand_syntax(argv[1], "XGROUP");
                }
                match parse_entries_read(argv[6]) {
                    Ok(n) => entries_read = n,
                    Err(e) => return e,
                }
            }
            let g = stream_at(ctx, db, pos).groups.get_mut(grp).expect("group");
            g.last_id = id;
            g.entries_read = entries_read;
            ctx.dirty(1);
            ctx.notify('t', "xgroup-setid", key);
            Reply::ok()
        }
        "destroy" => {
            let pos = pos.expect("checked");
            if stream_at(ctx, db, pos).groups.remove(grp).is_some() {
                ctx.dirty(1);
                ctx.notify('t', "xgroup-destroy", key);
                // Blocked XREADGROUP clients of this group get NOGROUP.
                ctx.signal_ready(db, key);
                Reply::Int(1)
            } else {
                Reply::Int(0)
            }
        }
        "createconsumer" => {
            let pos = pos.expect("checked");
            let now = ctx.now;
            let g = stream_at(ctx, db, pos).groups.get_mut(grp).expect("group");
            if g.consumers.contains_key(argv[4]) {
                return Reply::Int(0);
            }
            g.consumers.insert(
                argv[4].to_vec(),
                Consumer {
                    seen_time: now,
                    ..Consumer::default()
                },
            );
            ctx.dirty(1);
            ctx.notify('t', "xgroup-createconsumer", key);
            Reply::Int(1)
        }
        _ => {
            // delconsumer
            let pos = pos.expect("checked");
            let g = stream_at(ctx, db, pos).groups.get_mut(grp).expect("group");
            let Some(c) = g.consumers.remove(argv[4]) else {
                return Reply::Int(0);
            };
            for id in &c.pel {
                g.pel.remove(id);
            }
            ctx.dirty(1);
            ctx.notify('t', "xgroup-delconsumer", key);
            Reply::Int(c.pel.len() as i64)
        }
    }
}

// ---------------------------------------------------------------------------
// XACK XPENDING XCLAIM XAUTOCLAIM

fn xack(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let key = argv[1];
    let db = ctx.db_index();
    let pos = match stream_pos(ctx, key, true) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let mut ids = Vec::with_capacity(argv.len() - 3);
    for a in &argv[3..] {
        match parse_id(a, 0, true, false) {
            Ok((id, _)) => ids.push(id),
            Err(e) => return e,
        }
    }
    let Some(pos) = pos else {
        return Reply::Int(0);
    };
    let Some(g) = stream_at(ctx, db, pos).groups.get_mut(argv[2]) else {
        return Reply::Int(0);
    };
    let mut acked = 0;
    for id in ids {
        if let Some(p) = g.pel.remove(&id) {
            if let Some(c) = g.consumers.get_mut(&p.consumer) {
                c.pel.remove(&id);
            }
            acked += 1;
        }
    }
    if acked > 0 {
        ctx.dirty(acked);
    }
    Reply::Int(acked as i64)
}

fn xpending(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let n = argv.len();
    if n != 3 && !(6..=9).contains(&n) {
        return Reply::err(errors::SYNTAX);
    }
    let (key, grp) = (argv[1], argv[2]);
    let mut ext = None;
    if n >= 6 {
        let mut at = 3;
        let mut minidle = 0i64;
        if eq_ic(argv[3], "idle") {
            match parse_i64_strict(argv[4]) {
                Some(v) => minidle = v,
                None => return Reply::err(errors::NOT_INT),
            }
            if n < 8 {
                return Reply::err(errors::SYNTAX);
            }
            at += 2;
        }
        let count = match parse_i64_strict(argv[at + 2]) {
            Some(c) => c.max(0) as usize,
            None => return Reply::err(errors::NOT_INT),
        };
        let start = match range_start(argv[at]) {
            Ok(s) => s,
            Err(e) => return e,
        };
        let end = match range_end(argv[at + 1]) {
            Ok(e) => e,
            Err(e) => return e,
        };
        // Arguments past the consumer are ignored, as in Redis.
        let consumer = argv.get(at + 3).copied();
        ext = Some((minidle, start, end, count, consumer));
    }
    let db = ctx.db_index();
    let pos = match stream_pos(ctx, key, true) {
        Ok(Some(p)) => p,
        Ok(None) => return nogroup(key, grp),
        Err(e) => return e,
    };
    let now = ctx.now;
    let Some(g) = stream_at(ctx, db, pos).groups.get(grp) else {
        return nogroup(key, grp);
    };
    let Some((minidle, start, end, count, consumer)) = ext else {
        if g.pel.is_empty() {
            return Reply::Array(vec![Reply::Int(0), Reply::Nil, Reply::Nil, Reply::NilArray]);
        }
        let first = *g.pel.keys().next().expect("non-empty");
        let last = *g.pel.keys().next_back().expect("non-empty");
        let per: Vec<Reply> = g
            .consumers
            .iter()
            .filter(|(_, c)| !c.pel.is_empty())
            .map(|(name, c)| {
                Reply::Array(vec![
                    Reply::bulk(name),
                    Reply::text(c.pel.len().to_string()),
                ])
            })
            .collect();
        return Reply::Array(vec![
            Reply::Int(g.pel.len() as i64),
            id_reply(first),
            id_reply(last),
            Reply::Array(per),
        ]);
    };
    let ids: Box<dyn Iterator<Item = StreamId>> = match consumer {
        Some(c) => match g.consumers.get(c) {
            Some(c) => Box::new(c.pel.range(start..=end.max(start)).copied()),
            None => return Reply::Array(vec![]),
        },
        None => Box::new(g.pel.range(start..=end.max(start)).map(|(k, _)| *k)),
    };
    let mut out = Vec::new();
    if start <= end {
        for id in ids {
            if out.len() >= count {
                break;
            }
            let p = &g.pel[&id];
            let idle = now.saturating_sub(p.delivery_time) as i64;
            if minidle > 0 && idle < minidle {
                continue;
            }
            out.push(Reply::Array(vec![
                id_reply(id),
                Reply::bulk(&p.consumer),
                Reply::Int(idle),
                Reply::Int(p.delivery_count as i64),
            ]));
        }
    }
    Reply::Array(out)
}

/// Moves pending `id` of group `grp` to `consumer` (creating the consumer
/// when needed) with the given delivery time.
fn claim_one(g: &mut Group, id: StreamId, consumer: &[u8], time: u64) {
    let p = g.pel.get_mut(&id).expect("pending");
    if p.consumer != consumer {
        if let Some(c) = g.consumers.get_mut(&p.consumer) {
            c.pel.remove(&id);
        }
        p.consumer = consumer.to_vec();
        g.consumers
            .get_mut(consumer)
            .expect("consumer")
            .pel
            .insert(id);
    }
    g.pel.get_mut(&id).expect("pending").delivery_time = time;
}

/// Logs a claim as the XCLAIM that replays it exactly (Redis propagates
/// claims the same way): owner, delivery time and count, and the group's
/// last id.
fn log_claim(ctx: &mut Ctx<'_>, db: usize, pos: usize, key: &[u8], grp: &[u8], id: StreamId) {
    let g = &stream_at(ctx, db, pos).groups[grp];
    let last = g.last_id;
    let argv: Vec<Vec<u8>> = match g.pel.get(&id) {
        Some(p) => vec![
            b"XCLAIM".to_vec(),
            key.to_vec(),
            grp.to_vec(),
            p.consumer.clone(),
            b"0".to_vec(),
            id.to_string().into_bytes(),
            b"TIME".to_vec(),
            p.delivery_time.to_string().into_bytes(),
            b"RETRYCOUNT".to_vec(),
            p.delivery_count.to_string().into_bytes(),
            b"FORCE".to_vec(),
            b"JUSTID".to_vec(),
            b"LASTID".to_vec(),
            last.to_string().into_bytes(),
        ],
        // The pending entry was dropped (its stream entry was deleted).
        None => vec![
            b"XACK".to_vec(),
            key.to_vec(),
            grp.to_vec(),
            id.to_string().into_bytes(),
        ],
    };
    crate::persist::log_command(ctx, db, &argv);
}

fn ensure_consumer(ctx: &mut Ctx<'_>, db: usize, pos: usize, key: &[u8], grp: &[u8], name: &[u8]) {
    touch_consumer(ctx, db, pos, key, grp, name);
}

fn xclaim(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let (key, grp, name) = (argv[1], argv[2], argv[3]);
    let db = ctx.db_index();
    let pos = match stream_pos(ctx, key, true) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let pos = match pos {
        Some(p) if stream_at(ctx, db, p).groups.contains_key(grp) => p,
        _ => return nogroup(key, grp),
    };
    let minidle = match parse_i64_strict(argv[4]) {
        Some(v) => v.max(0) as u64,
        None => return Reply::err("ERR Invalid min-idle-time argument for XCLAIM"),
    };
    let mut j = 5;
    let mut ids = Vec::new();
    while j < argv.len() {
        match parse_id(argv[j], 0, true, false) {
            Ok((id, _)) => ids.push(id),
            Err(_) => break,
        }
        j += 1;
    }
    let now = ctx.now as i64;
    let (mut force, mut justid) = (false, false);
    let mut retry: Option<u64> = None;
    let mut time: Option<i64> = None;
    let mut lastid = StreamId::MIN;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        let o = argv[j];
        let int_opt = |b: &[u8], what: &str| {
            parse_i64_strict(b)
                .ok_or_else(|| Reply::err(format!("ERR Invalid {what} option argument for XCLAIM")))
        };
        if eq_ic(o, "force") {
            force = true;
        } else if eq_ic(o, "justid") {
            justid = true;
        } else if eq_ic(o, "idle") && more > 0 {
            j += 1;
            match int_opt(argv[j], "IDLE") {
                Ok(v) => time = Some(now - v),
                Err(e) => return e,
            }
        } else if eq_ic(o, "time") && more > 0 {
            j += 1;
            match int_opt(argv[j], "TIME") {
                Ok(v) => time = Some(v),
                Err(e) => return e,
            }
        } else if eq_ic(o, "retrycount") && more > 0 {
            j += 1;
            match int_opt(argv[j], "RETRYCOUNT") {
                Ok(v) => retry = Some(v as u64),
                Err(e) => return e,
            }
        } else if eq_ic(o, "lastid") && more > 0 {
            j += 1;
            match parse_id(argv[j], 0, true, false) {
                Ok((id, _)) => lastid = id,
                Err(e) => return e,
            }
        } else {
            return Reply::err(format!(
                "ERR Unrecognized XCLAIM option '{}'",
                String::from_utf8_lossy(o)
            ));
        }
        j += 1;
    }
    let s = stream_at(ctx, db, pos);
    let g = s.groups.get_mut(grp).expect("group");
    let mut changed = 0u64;
    if lastid > g.last_id {
        g.last_id = lastid;
        changed += 1;
    }
    let time = match time {
        Some(t) if t >= 0 && t <= now => t as u64,
        _ => now as u64,
    };
    let mut out = Vec::new();
    for id in ids {
        let s = stream_at(ctx, db, pos);
        let exists = s.entries.contains_key(&id);
        let g = s.groups.get_mut(grp).expect("group");
        if !exists {
            if let Some(p) = g.pel.remove(&id) {
                if let Some(c) = g.consumers.get_mut(&p.consumer) {
                    c.pel.remove(&id);
                }
                changed += 1;
                log_claim(ctx, db, pos, key, grp, id);
            }
            continue;
        }
        let mut fresh = false;
        if force && !g.pel.contains_key(&id) {
            g.pel.insert(
                id,
                Pending {
                    consumer: Vec::new(),
                    delivery_time: now as u64,
                    delivery_count: 1,
                },
            );
            fresh = true;
        }
        let Some(p) = g.pel.get(&id) else {
            continue;
        };
        if !fresh && minidle > 0 && (now as u64).saturating_sub(p.delivery_time) < minidle {
            continue;
        }
        ensure_consumer(ctx, db, pos, key, grp, name);
        let s = stream_at(ctx, db, pos);
        let g = s.groups.get_mut(grp).expect("group");
        claim_one(g, id, name, time);
        let p = g.pel.get_mut(&id).expect("pending");
        if let Some(r) = retry {
            p.delivery_count = r;
        } else if !justid {
            p.delivery_count += 1;
        }
        out.push(if justid {
            id_reply(id)
        } else {
            entry_reply(id, &s.entries[&id])
        });
        changed += 1;
        log_claim(ctx, db, pos, key, grp, id);
    }
    if changed > 0 {
        ctx.dirty(changed);
        // A LASTID change alone is logged as the group's new id.
        let g = &stream_at(ctx, db, pos).groups[grp];
        let (last, er) = (g.last_id, g.entries_read);
        if lastid == last && out.is_empty() {
            crate::persist::log_command(
                ctx,
                db,
                &[
                    b"XGROUP".to_vec(),
                    b"SETID".to_vec(),
                    key.to_vec(),
                    grp.to_vec(),
                    last.to_string().into_bytes(),
                    b"ENTRIESREAD".to_vec(),
                    er.to_string().into_bytes(),
                ],
            );
        }
        crate::persist::prevent_propagation(ctx);
    }
    Reply::Array(out)
}

fn xautoclaim(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let (key, grp, name) = (argv[1], argv[2], argv[3]);
    let minidle = match parse_i64_strict(argv[4]) {
        Some(v) => v.max(0) as u64,
        None => return Reply::err("ERR Invalid min-idle-time argument for XAUTOCLAIM"),
    };
    let start = match range_start(argv[5]) {
        Ok(s) => s,
        Err(e) => return e,
    };
    let mut count: usize = 100;
    let mut justid = false;
    let mut j = 6;
    while j < argv.len() {
        let more = argv.len() - 1 - j;
        if eq_ic(argv[j], "count") && more > 0 {
            match parse_i64_strict(argv[j + 1]) {
                Some(c) if (1..=i64::MAX / 16).contains(&c) => count = c as usize,
                _ => return Reply::err("ERR COUNT must be > 0"),
            }
            j += 1;
        } else if eq_ic(argv[j], "justid") {
            justid = true;
        } else {
            return Reply::err(errors::SYNTAX);
        }
        j += 1;
    }
    let db = ctx.db_index();
    let pos = match stream_pos(ctx, key, true) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let pos = match pos {
        Some(p) if stream_at(ctx, db, p).groups.contains_key(grp) => p,
        _ => return nogroup(key, grp),
    };
    let now = ctx.now;
    let mut attempts = count * 10;
    let mut claimed = Vec::new();
    let mut deleted = Vec::new();
    let mut cursor = start;
    let mut next = StreamId::MIN;
    let mut changed = 0u64;
    loop {
        let s = stream_at(ctx, db, pos);
        let g = &s.groups[grp];
        let Some((&id, p)) = g.pel.range(cursor..).next() else {
            break;
        };
        if attempts == 0 || count == 0 {
            next = id;
            break;
        }
        attempts -= 1;
        cursor = match id.incr() {
            Some(c) => c,
            None => StreamId::MAX,
        };
        let idle = now.saturating_sub(p.delivery_time);
        let exists = s.entries.contains_key(&id);
        if !exists {
            let g = s.groups.get_mut(grp).expect("group");
            let p = g.pel.remove(&id).expect("pending");
            if let Some(c) = g.consumers.get_mut(&p.consumer) {
                c.pel.remove(&id);
            }
            deleted.push(id);
            count -= 1;
            changed += 1;
            log_claim(ctx, db, pos, key, grp, id);
        } else if minidle == 0 || idle >= minidle {
            ensure_consumer(ctx, db, pos, key, grp, name);
            let s = stream_at(ctx, db, pos);
            let g = s.groups.get_mut(grp).expect("group");
            claim_one(g, id, name, now);
            if !justid {
                g.pel.get_mut(&id).expect("pending").delivery_count += 1;
            }
            claimed.push(if justid {
                id_reply(id)
            } else {
                entry_reply(id, &s.entries[&id])
            });
            count -= 1;
            changed += 1;
            log_claim(ctx, db, pos, key, grp, id);
        }
        if id == StreamId::MAX {
            break;
        }
    }
    if changed > 0 {
        ctx.dirty(changed);
        crate::persist::prevent_propagation(ctx);
    }
    Reply::Array(vec![
        id_reply(next),
        Reply::Array(claimed),
        Reply::Array(deleted.into_iter().map(id_reply).collect()),
    ])
}

// ---------------------------------------------------------------------------
// XINFO

fn entries_read_reply(n: i64) -> Reply {
    if n == INVALID_ENTRIES_READ {
        Reply::Nil
    } else {
        Reply::Int(n)
    }
}

fn xinfo(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let sub = match check_sub(
        argv,
        "xinfo",
        &[("stream", -3), ("groups", 3), ("consumers", 4), ("help", 2)],
    ) {
        Ok(s) => s,
        Err(e) => return e,
    };
    if sub == "help" {
        return Reply::status_lines(&[
            "XINFO <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CONSUMERS <key> <groupname>",
            "    Show consumers of <groupname>.",
            "GROUPS <key>",
            "    Show the stream consumer groups.",
            "STREAM <key> [FULL [COUNT <count>]",
            "    Show information about the stream.",
            "HELP",
            "    Print this help.",
        ]);
    }
    let key = argv[2];
    let db = ctx.db_index();
    let pos = match stream_pos(ctx, key, true) {
        Ok(Some(p)) => p,
        Ok(None) => return Reply::err(errors::NO_SUCH_KEY),
        Err(e) => return e,
    };
    let now = ctx.now;
    let s: &Stream = stream_at(ctx, db, pos);
    match sub.as_str() {
        "groups" => Reply::Array(
            s.groups
                .iter()
                .map(|(name, g)| {
                    map_kv(vec![
                        ("name", Reply::bulk(name)),
                        ("consumers", Reply::Int(g.consumers.len() as i64)),
                        ("pending", Reply::Int(g.pel.len() as i64)),
                        ("last-delivered-id", id_reply(g.last_id)),
                        ("entries-read", entries_read_reply(g.entries_read)),
                        ("lag", s.lag(g).map_or(Reply::Nil, Reply::Int)),
                    ])
                })
                .collect(),
        ),
        "consumers" => {
            let Some(g) = s.groups.get(argv[3]) else {
                return Reply::err(format!(
                    "NOGROUP No such consumer group '{}' for key name '{}'",
                    String::from_utf8_lossy(argv[3]),
                    String::from_utf8_lossy(key)
                ));
            };
            Reply::Array(
                g.consumers
                    .iter()
                    .map(|(name, c)| {
                        map_kv(vec![
                            ("name", Reply::bulk(name)),
                            ("pending", Reply::Int(c.pel.len() as i64)),
                            ("idle", Reply::Int(now.saturating_sub(c.seen_time) as i64)),
                        ])
                    })
                    .collect(),
            )
        }
        _ => {
            // STREAM [FULL [COUNT n]]
            let mut full = false;
            let mut count = 10usize;
            if argv.len() > 3 {
                if !eq_ic(argv[3], "full") {
                    return subcommand_syntax(argv[1], "XINFO");
                }
                full = true;
                if argv.len() > 4 {
                    if argv.len() != 6 || !eq_ic(argv[4], "count") {
                        return subcommand_syntax(argv[1], "XINFO");
                    }
                    match parse_i64_strict(argv[5]) {
                        Some(c) => count = if c <= 0 { usize::MAX } else { c as usize },
                        None => return Reply::err(errors::NOT_INT),
                    }
                }
            }
            let (keys, nodes) = s.radix_tree_size();
            let mut kv = vec![
                ("length", Reply::Int(s.len() as i64)),
                ("radix-tree-keys", Reply::Int(keys as i64)),
                ("radix-tree-nodes", Reply::Int(nodes as i64)),
                ("last-generated-id", id_reply(s.last_id)),
                ("max-deleted-entry-id", id_reply(s.max_deleted)),
                ("entries-added", Reply::Int(s.entries_added as i64)),
                ("recorded-first-entry-id", id_reply(s.first_id)),
            ];
            if !full {
                kv.push(("groups", Reply::Int(s.groups.len() as i64)));
                let first = s.entries.iter().next();
                let last = s.entries.iter().next_back();
                kv.push((
                    "first-entry",
                    first.map_or(Reply::Nil, |(id, f)| entry_reply(*id, f)),
                ));
                kv.push((
                    "last-entry",
                    last.map_or(Reply::Nil, |(id, f)| entry_reply(*id, f)),
                ));
                return map_kv(kv);
            }
            kv.push((
                "entries",
                Reply::Array(
                    s.entries
                        .iter()
                        .take(count)
                        .map(|(id, f)| entry_reply(*id, f))
                        .collect(),
                ),
            ));
            let groups = s
                .groups
                .iter()
                .map(|(name, g)| {
                    let pending = g
                        .pel
                        .iter()
                        .take(count)
                        .map(|(id, p)| {
                            Reply::Array(vec![
                                id_reply(*id),
                                Reply::bulk(&p.consumer),
                                Reply::Int(p.delivery_time as i64),
                                Reply::Int(p.delivery_count as i64),
                            ])
                        })
                        .collect();
                    let consumers = g
                        .consumers
                        .iter()
                        .map(|(cname, c)| {
                            let cp = c
                                .pel
                                .iter()
                                .take(count)
                                .map(|id| {
                                    let p = &g.pel[id];
                                    Reply::Array(vec![
                                        id_reply(*id),
                                        Reply::Int(p.delivery_time as i64),
                                        Reply::Int(p.delivery_count as i64),
                                    ])
                                })
                                .collect();
                            map_kv(vec![
                                ("name", Reply::bulk(cname)),
                                ("seen-time", Reply::Int(c.seen_time as i64)),
                                ("pel-count", Reply::Int(c.pel.len() as i64)),
                                ("pending", Reply::Array(cp)),
                            ])
                        })
                        .collect();
                    map_kv(vec![
                        ("name", Reply::bulk(name)),
                        ("last-delivered-id", id_reply(g.last_id)),
                        ("entries-read", entries_read_reply(g.entries_read)),
                        ("lag", s.lag(g).map_or(Reply::Nil, Reply::Int)),
                        ("pel-count", Reply::Int(g.pel.len() as i64)),
                        ("pending", Reply::Array(pending)),
                        ("consumers", Reply::Array(consumers)),
                    ])
                })
                .collect();
            kv.push(("groups", Reply::Array(groups)));
            map_kv(kv)
        }
    }
}
