//! Sorted set commands (Redis's `t_zset.c`).
//!
//! Scores are doubles: replies carry them as RESP3 doubles, or in RESP2 as
//! bulk strings formatted like Redis's `%.17g`. Ranges accept `inf`/`-inf`
//! and `(` for exclusive score bounds, and `[`, `(`, `-`, `+` for lex
//! bounds. A set emptied by a command is deleted, as in Redis.

use super::{CommandSpec, Flags};
use crate::blocking::{self, Action, Serve, TimeUnit};
use crate::cmd;
use crate::command::strings;
use crate::engine::{wrongtype, Ctx};
use crate::reply::{errors, Reply};
use crate::types::zset::{Added, Pos, ZSet, NIL};
use crate::types::{Sso, Value};
use crate::util::{arg_f64, arg_i64, eq_ic, fmt_g17, glob_match, parse_f64, parse_i64_strict};
use rand::Rng;

const W: Flags = Flags::WRITE.or(Flags::DENYOOM);
const WF: Flags = W.or(Flags::FAST);
const R: Flags = Flags::READONLY;
const RF: Flags = R.or(Flags::FAST);
const RS: Flags = R.or(Flags::SLOW);
const WS: Flags = W.or(Flags::SLOW);
const WX: Flags = Flags::WRITE.or(Flags::FAST);
const WXS: Flags = Flags::WRITE.or(Flags::SLOW);

/// The sorted set family's table.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("zadd", -4, WF, 1, 1, 1, zadd),
    cmd!("zincrby", 4, WF, 1, 1, 1, zincrby),
    cmd!("zrem", -3, WX, 1, 1, 1, zrem),
    cmd!("zcard", 2, RF, 1, 1, 1, zcard),
    cmd!("zscore", 3, RF, 1, 1, 1, zscore),
    cmd!("zmscore", -3, RF, 1, 1, 1, zmscore),
    cmd!("zrank", 3, RF, 1, 1, 1, zrank),
    cmd!("zrevrank", 3, RF, 1, 1, 1, zrevrank),
    cmd!("zcount", 4, RF, 1, 1, 1, zcount),
    cmd!("zlexcount", 4, RF, 1, 1, 1, zlexcount),
    cmd!("zrange", -4, RS, 1, 1, 1, zrange),
    cmd!("zrangestore", -5, WS, 1, 2, 1, zrangestore),
    cmd!("zrevrange", -4, RS, 1, 1, 1, zrevrange),
    cmd!("zrangebyscore", -4, RS, 1, 1, 1, zrangebyscore),
    cmd!("zrevrangebyscore", -4, RS, 1, 1, 1, zrevrangebyscore),
    cmd!("zrangebylex", -4, RS, 1, 1, 1, zrangebylex),
    cmd!("zrevrangebylex", -4, RS, 1, 1, 1, zrevrangebylex),
    cmd!("zremrangebyrank", 4, WXS, 1, 1, 1, zremrangebyrank),
    cmd!("zremrangebyscore", 4, WXS, 1, 1, 1, zremrangebyscore),
    cmd!("zremrangebylex", 4, WXS, 1, 1, 1, zremrangebylex),
    cmd!("zpopmin", -2, WX, 1, 1, 1, zpopmin),
    cmd!("zpopmax", -2, WX, 1, 1, 1, zpopmax),
    cmd!("zmpop", -4, WXS, 0, 0, 0, zmpop),
    cmd!("zrandmember", -2, R.or(Flags::RANDOM), 1, 1, 1, zrandmember),
    cmd!("zunion", -3, RS, 0, 0, 0, zunion),
    cmd!("zinter", -3, RS, 0, 0, 0, zinter),
    cmd!("zdiff", -3, RS, 0, 0, 0, zdiff),
    cmd!("zunionstore", -4, WS, 1, 1, 1, zunionstore),
    cmd!("zinterstore", -4, WS, 1, 1, 1, zinterstore),
    cmd!("zdiffstore", -4, WS, 1, 1, 1, zdiffstore),
    cmd!("zintercard", -3, RS, 0, 0, 0, zintercard),
    cmd!("zscan", -3, R.or(Flags::RANDOM), 1, 1, 1, zscan),
    cmd!(
        "bzpopmin",
        -3,
        WX.or(Flags::BLOCKING).or(Flags::NOSCRIPT),
        1,
        -2,
        1,
        bzpopmin
    ),
    cmd!(
        "bzpopmax",
        -3,
        WX.or(Flags::BLOCKING).or(Flags::NOSCRIPT),
        1,
        -2,
        1,
        bzpopmax
    ),
    cmd!("bzmpop", -5, WXS.or(Flags::BLOCKING), 0, 0, 0, bzmpop),
];

/// `min or max is not a float`.
pub const ERR_SCORE_RANGE: &str = "ERR min or max is not a float";
/// `min or max not valid string range item`.
pub const ERR_LEX_RANGE: &str = "ERR min or max not valid string range item";
/// NaN produced by an increment.
pub const ERR_NAN: &str = "ERR resulting score is not a number (NaN)";

// ---------------------------------------------------------------------------
// Shared helpers

/// A score as Redis replies it: a RESP3 double, or a `%.17g` bulk in RESP2.
pub fn score_reply(ctx: &Ctx<'_>, v: f64) -> Reply {
    if ctx.session.is_resp3() {
        Reply::Double(v)
    } else {
        Reply::text(fmt_g17(v))
    }
}

/// The listpack thresholds from the configuration (entries, value bytes).
#[inline]
pub fn thresholds(ctx: &Ctx<'_>) -> (usize, usize) {
    ctx.st.config.zset_listpack
}

/// Finds the sorted set at `key` for reading: `Ok(None)` when missing.
pub fn read_zset<'c>(ctx: &'c mut Ctx<'_>, key: &[u8]) -> Result<Option<&'c ZSet>, Reply> {
    match ctx.find_typed(key, true, is_zset)? {
        None => Ok(None),
        Some(pos) => match &ctx.db().at(pos).value {
            Value::ZSet(z) => Ok(Some(z)),
            _ => unreachable!("checked by find_typed"),
        },
    }
}

fn is_zset(v: &Value) -> bool {
    matches!(v, Value::ZSet(_))
}

/// Finds the sorted set at `key` for writing: its position, `Ok(None)`
/// when missing.
fn write_pos(ctx: &mut Ctx<'_>, key: &[u8]) -> Result<Option<usize>, Reply> {
    ctx.find_typed(key, false, is_zset)
}

/// The sorted set at `pos` (known to be one).
fn zset_at<'c>(ctx: &'c mut Ctx<'_>, pos: usize) -> &'c mut ZSet {
    match &mut ctx.db().at_mut(pos).value {
        Value::ZSet(z) => z,
        _ => unreachable!("checked by write_pos"),
    }
}

/// Deletes the key at `pos` when its set became empty, with the `del`
/// notification. True when deleted.
fn drop_if_empty(ctx: &mut Ctx<'_>, pos: usize, key: &[u8]) -> bool {
    if zset_at(ctx, pos).is_empty() {
        ctx.db().remove_at(pos);
        ctx.notify('g', "del", key);
        true
    } else {
        false
    }
}

/// Builds the reply for a list of (member, score) results: flat in RESP2,
/// pairs in RESP3 when `withscores`.
pub fn emit(ctx: &Ctx<'_>, items: &[(Sso, f64)], withscores: bool) -> Reply {
    let resp3 = ctx.session.is_resp3();
    let mut out = Vec::with_capacity(items.len() * if withscores { 2 } else { 1 });
    for (m, s) in items {
        let mr = strings::str_reply(m);
        if !withscores {
            out.push(mr);
        } else if resp3 {
            out.push(Reply::Array(vec![mr, Reply::Double(*s)]));
        } else {
            out.push(mr);
            out.push(Reply::text(fmt_g17(*s)));
        }
    }
    Reply::Array(out)
}

/// Stores `z` at `dst` (a result of a STORE command), or deletes `dst` when
/// `z` is empty; replies the cardinality.
fn store_result(ctx: &mut Ctx<'_>, dst: &[u8], mut z: ZSet, event: &str) -> Reply {
    let n = z.len();
    if n > 0 {
        let (me, mv) = thresholds(ctx);
        z.reset_encoding(me, mv);
        strings::store(ctx, dst, Value::ZSet(Box::new(z)), false);
        ctx.notify('z', event, dst);
        let db = ctx.db_index();
        ctx.signal_ready(db, dst);
    } else {
        let db = ctx.db_index();
        if ctx.delete_in(db, dst) {
            ctx.notify('g', "del", dst);
            ctx.dirty(1);
        }
    }
    Reply::Int(n as i64)
}

// ---------------------------------------------------------------------------
// Ranges

/// A score interval with optionally exclusive ends.
#[derive(Clone, Copy, Debug)]
pub struct ScoreRange {
    /// Lower end.
    pub min: f64,
    /// Upper end.
    pub max: f64,
    /// Lower end excluded.
    pub minex: bool,
    /// Upper end excluded.
    pub maxex: bool,
}

fn parse_score_bound(b: &[u8]) -> Option<(f64, bool)> {
    if let Some(rest) = b.strip_prefix(b"(") {
        // Redis reads the rest with strtod: empty reads as 0, leading
        // spaces are allowed.
        let t = std::str::from_utf8(rest).ok()?.trim_start();
        if t.is_empty() {
            return Some((0.0, true));
        }
        parse_f64(t.as_bytes()).map(|v| (v, true))
    } else {
        parse_f64(b).map(|v| (v, false))
    }
}

impl ScoreRange {
    /// Parses Redis's `min max` score bounds.
    pub fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, Reply> {
        match (parse_score_bound(min), parse_score_bound(max)) {
            (Some((min, minex)), Some((max, maxex))) => Ok(ScoreRange {
                min,
                max,
                minex,
                maxex,
            }),
            _ => Err(Reply::err(ERR_SCORE_RANGE)),
        }
    }

    /// True when `v` is below the lower end.
    #[inline]
    pub fn below(&self, v: f64) -> bool {
        if self.minex {
            v <= self.min
        } else {
            v < self.min
        }
    }

    /// True when `v` is above the upper end.
    #[inline]
    pub fn above(&self, v: f64) -> bool {
        if self.maxex {
            v >= self.max
        } else {
            v > self.max
        }
    }
}

/// One end of a lex range.
#[derive(Clone, Debug)]
pub enum LexBound {
    /// `-`: below everything.
    Min,
    /// `+`: above everything.
    Max,
    /// `[x`.
    Incl(Vec<u8>),
    /// `(x`.
    Excl(Vec<u8>),
}

/// A lex interval.
#[derive(Clone, Debug)]
pub struct LexRange {
    /// Lower end.
    pub min: LexBound,
    /// Upper end.
    pub max: LexBound,
}

fn parse_lex_bound(b: &[u8]) -> Option<LexBound> {
    match b.first() {
        Some(b'-') if b.len() == 1 => Some(LexBound::Min),
        Some(b'+') if b.len() == 1 => Some(LexBound::Max),
        Some(b'[') => Some(LexBound::Incl(b[1..].to_vec())),
        Some(b'(') => Some(LexBound::Excl(b[1..].to_vec())),
        _ => None,
    }
}

impl LexRange {
    /// Parses Redis's `min max` lex bounds.
    pub fn parse(min: &[u8], max: &[u8]) -> Result<LexRange, Reply> {
        match (parse_lex_bound(min), parse_lex_bound(max)) {
            (Some(min), Some(max)) => Ok(LexRange { min, max }),
            _ => Err(Reply::err(ERR_LEX_RANGE)),
        }
    }

    /// True when `m` sorts below the lower end.
    pub fn below(&self, m: &[u8]) -> bool {
        match &self.min {
            LexBound::Min => false,
            LexBound::Max => true,
            LexBound::Incl(x) => m < x.as_slice(),
            LexBound::Excl(x) => m <= x.as_slice(),
        }
    }

    /// True when `m` sorts above the upper end.
    pub fn above(&self, m: &[u8]) -> bool {
        match &self.max {
            LexBound::Min => true,
            LexBound::Max => false,
            LexBound::Incl(x) => m > x.as_slice(),
            LexBound::Excl(x) => m >= x.as_slice(),
        }
    }
}

/// The ascending ranks `[lo, hi]` of the members inside a score range.
pub fn score_span(z: &ZSet, r: &ScoreRange) -> Option<(usize, usize)> {
    let (first, lo) = z.list().first_not_below(|s, _| r.below(s));
    if first == NIL || r.above(z.list().get(first).1) {
        return None;
    }
    let (last, hi) = z.list().last_not_above(|s, _| r.above(s));
    (last != NIL && hi >= lo).then_some((lo, hi))
}

/// The ascending ranks `[lo, hi]` of the members inside a lex range.
pub fn lex_span(z: &ZSet, r: &LexRange) -> Option<(usize, usize)> {
    let (first, lo) = z.list().first_not_below(|_, m| r.below(m));
    if first == NIL || r.above(z.list().get(first).0.as_bytes()) {
        return None;
    }
    let (last, hi) = z.list().last_not_above(|_, m| r.above(m));
    (last != NIL && hi >= lo).then_some((lo, hi))
}

/// Clamps Redis rank arguments to `[lo, hi]` ascending ranks of a set of
/// `len` members, or `None` when the range is empty.
pub fn rank_span(start: i64, end: i64, len: usize) -> Option<(usize, usize)> {
    let llen = len as i64;
    let mut start = if start < 0 { llen + start } else { start };
    let mut end = if end < 0 { llen + end } else { end };
    if start < 0 {
        start = 0;
    }
    if start > end || start >= llen {
        return None;
    }
    if end >= llen {
        end = llen - 1;
    }
    Some((start as usize, end as usize))
}

/// What a ZRANGE-style command selects.
enum Spec {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

/// Offsets up to this many are skipped by walking entry by entry (as
/// Redis does); larger ones jump by rank in O(log n).
const WALK_OFFSET: usize = 32;

/// Collects the members `spec` selects, in reply order.
fn select(z: &ZSet, spec: &Spec, rev: bool, offset: i64, limit: i64) -> Vec<(Sso, f64)> {
    match spec {
        Spec::Rank(start, end) => {
            let len = z.len();
            // Rank ranges count from the end in reverse.
            match rank_span(*start, *end, len) {
                None => Vec::new(),
                Some((s, e)) => {
                    let (from, rev_walk) = if rev { (len - 1 - s, true) } else { (s, false) };
                    let node = z.list().at_rank(from);
                    z.walk(node, rev_walk)
                        .take(e - s + 1)
                        .map(|(m, sc)| (m.clone(), sc))
                        .collect()
                }
            }
        }
        Spec::Score(r) => select_range(z, rev, offset, limit, |s, _| r.below(s), |s, _| r.above(s)),
        Spec::Lex(r) => select_range(z, rev, offset, limit, |_, m| r.below(m), |_, m| r.above(m)),
    }
}

/// The members between the `below` prefix and the `above` suffix of the
/// list, after skipping `offset` of them from the start (from the end when
/// `rev`), at most `limit` (negative: no limit); Redis's
/// `genericZrangebyscoreCommand`. One descent finds the first member in
/// range (the last when `rev`); the walk stops at the first member out of
/// range, so the far end of the range is never searched for.
fn select_range(
    z: &ZSet,
    rev: bool,
    offset: i64,
    limit: i64,
    below: impl Fn(f64, &[u8]) -> bool,
    above: impl Fn(f64, &[u8]) -> bool,
) -> Vec<(Sso, f64)> {
    // Redis: a negative offset selects nothing; a negative limit is no limit.
    if offset < 0 || limit == 0 {
        return Vec::new();
    }
    let list = z.list();
    let offset = offset as usize;
    // `out_far`: past the far end of the range in the walk's direction.
    let out_far = |x: Pos| {
        let (m, s) = list.get(x);
        if rev {
            below(s, m.as_bytes())
        } else {
            above(s, m.as_bytes())
        }
    };
    let (first, rank) = if rev {
        list.last_not_above(&above)
    } else {
        list.first_not_below(&below)
    };
    let mut x = first;
    if offset > WALK_OFFSET {
        // Ranks run ascending; `rank` is `first`'s.
        x = if first == NIL {
            NIL
        } else if rev {
            rank.checked_sub(offset).map_or(NIL, |r| list.at_rank(r))
        } else {
            list.at_rank(rank + offset)
        };
    } else {
        for _ in 0..offset {
            if x == NIL || out_far(x) {
                return Vec::new();
            }
            x = if rev { list.pred(x) } else { list.succ(x) };
        }
    }
    let cap = if limit < 0 {
        16
    } else {
        (limit as usize).min(64)
    };
    let mut out = Vec::with_capacity(cap);
    let max = if limit < 0 {
        usize::MAX
    } else {
        limit as usize
    };
    while x != NIL && out.len() < max && !out_far(x) {
        let (m, s) = list.get(x);
        out.push((m.clone(), s));
        x = if rev { list.pred(x) } else { list.succ(x) };
    }
    out
}

// ---------------------------------------------------------------------------
// ZADD, ZINCRBY, ZREM

fn zadd(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    zadd_generic(ctx, argv, false)
}

fn zincrby(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    zadd_generic(ctx, argv, true)
}

fn zadd_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], zincrby: bool) -> Reply {
    let (mut nx, mut xx, mut ch, mut incr, mut gt, mut lt) =
        (false, false, false, zincrby, false, false);
    let mut idx = 2;
    if !zincrby {
        while idx < argv.len() {
            let a = argv[idx];
            if eq_ic(a, "nx") {
                nx = true;
            } else if eq_ic(a, "xx") {
                xx = true;
            } else if eq_ic(a, "ch") {
                ch = true;
            } else if eq_ic(a, "incr") {
                incr = true;
            } else if eq_ic(a, "gt") {
                gt = true;
            } else if eq_ic(a, "lt") {
                lt = true;
            } else {
                break;
            }
            idx += 1;
        }
    }
    let rest = &argv[idx..];
    if rest.is_empty() || !rest.len().is_multiple_of(2) {
        return Reply::err(errors::SYNTAX);
    }
    if nx && xx {
        return Reply::err("ERR XX and NX options at the same time are not compatible");
    }
    if (nx && (gt || lt)) || (gt && lt) {
        return Reply::err("ERR GT, LT, and/or NX options at the same time are not compatible");
    }
    if incr && rest.len() > 2 {
        return Reply::err("ERR INCR option supports a single increment-element pair");
    }
    let mut scores = Vec::with_capacity(rest.len() / 2);
    for pair in rest.chunks(2) {
        match arg_f64(pair[0]) {
            Ok(s) => scores.push(s),
            Err(e) => return e,
        }
    }
    let key = argv[1];
    let pos = match write_pos(ctx, key) {
        Ok(p) => p,
        Err(e) => return e,
    };
    let pos = match pos {
        Some(p) => p,
        None => {
            if xx {
                return if incr { Reply::Nil } else { Reply::Int(0) };
            }
            let (max_entries, max_value) = thresholds(ctx);
            let mut z = ZSet::new();
            if max_entries == 0 || rest[1].len() > max_value {
                z.note_encoding(0, 0, 1);
            }
            let stamp = ctx.lru_stamp();
            ctx.db().insert_new(key, Value::ZSet(Box::new(z)), stamp)
        }
    };
    let stamp = ctx.lru_stamp();
    ctx.db().at_mut(pos).lru = stamp;
    // A big set never converts back: the thresholds matter only for a
    // small one.
    let (max_entries, max_value) = if zset_at(ctx, pos).is_big() {
        (0, 0)
    } else {
        thresholds(ctx)
    };
    let z = zset_at(ctx, pos);
    let (mut added, mut updated, mut processed) = (0i64, 0i64, 0i64);
    let mut last = 0.0;
    let mut nan = false;
    for (pair, &score) in rest.chunks(2).zip(&scores) {
        let member = pair[1];
        match z.score(member) {
            Some(cur) => {
                if nx {
                    continue;
                }
                let mut score = score;
                if incr {
                    score += cur;
                    if score.is_nan() {
                        nan = true;
                        break;
                    }
                }
                if (lt && score >= cur) || (gt && score <= cur) {
                    continue;
                }
                last = score;
                processed += 1;
                if z.set(member, score) == Added::Updated {
                    updated += 1;
                }
            }
            None => {
                if xx {
                    continue;
                }
                z.insert_new(member, score);
                z.note_encoding(max_entries, max_value, member.len());
                last = score;
                added += 1;
                processed += 1;
            }
        }
    }
    let db = ctx.db_index();
    if added + updated > 0 {
        ctx.signal_modified(db, key);
        ctx.notify('z', if incr { "zincr" } else { "zadd" }, key);
        ctx.signal_ready(db, key);
    }
    if nan {
        // The set was created by this call only when it is still empty.
        drop_if_empty(ctx, pos, key);
        return Reply::err(ERR_NAN);
    }
    ctx.dirty((added + updated) as u64);
    if incr {
        if processed > 0 {
            score_reply(ctx, last)
        } else {
            Reply::Nil
        }
    } else {
        Reply::Int(if ch { added + updated } else { added })
    }
}

fn zrem(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let key = argv[1];
    let pos = match write_pos(ctx, key) {
        Ok(Some(p)) => p,
        Ok(None) => return Reply::Int(0),
        Err(e) => return e,
    };
    let z = zset_at(ctx, pos);
    let mut deleted = 0;
    for m in &argv[2..] {
        if z.remove(m) {
            deleted += 1;
            if z.is_empty() {
                break;
            }
        }
    }
    if deleted > 0 {
        ctx.notify('z', "zrem", key);
        drop_if_empty(ctx, pos, key);
        let db = ctx.db_index();
        ctx.signal_modified(db, key);
        ctx.dirty(deleted);
    }
    Reply::Int(deleted as i64)
}

// ---------------------------------------------------------------------------
// Reads of single members

fn zcard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    match read_zset(ctx, argv[1]) {
        Ok(z) => Reply::Int(z.map_or(0, |z| z.len() as i64)),
        Err(e) => e,
    }
}

fn zscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let s = match read_zset(ctx, argv[1]) {
        Ok(z) => z.and_then(|z| z.score(argv[2])),
        Err(e) => return e,
    };
    match s {
        Some(s) => score_reply(ctx, s),
        None => Reply::Nil,
    }
}

fn zmscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let scores: Vec<Option<f64>> = match read_zset(ctx, argv[1]) {
        Ok(z) => argv[2..]
            .iter()
            .map(|m| z.and_then(|z| z.score(m)))
            .collect(),
        Err(e) => return e,
    };
    Reply::Array(
        scores
            .into_iter()
            .map(|s| s.map_or(Reply::Nil, |s| score_reply(ctx, s)))
            .collect(),
    )
}

fn rank_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], rev: bool) -> Reply {
    match read_zset(ctx, argv[1]) {
        Ok(Some(z)) => match z.rank(argv[2]) {
            Some(r) => Reply::Int(if rev { z.len() - 1 - r } else { r } as i64),
            None => Reply::Nil,
        },
        Ok(None) => Reply::Nil,
        Err(e) => e,
    }
}

fn zrank(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    rank_generic(ctx, argv, false)
}

fn zrevrank(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    rank_generic(ctx, argv, true)
}

fn zcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let r = match ScoreRange::parse(argv[2], argv[3]) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match read_zset(ctx, argv[1]) {
        Ok(Some(z)) => Reply::Int(score_span(z, &r).map_or(0, |(lo, hi)| (hi - lo + 1) as i64)),
        Ok(None) => Reply::Int(0),
        Err(e) => e,
    }
}

fn zlexcount(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let r = match LexRange::parse(argv[2], argv[3]) {
        Ok(r) => r,
        Err(e) => return e,
    };
    match read_zset(ctx, argv[1]) {
        Ok(Some(z)) => Reply::Int(lex_span(z, &r).map_or(0, |(lo, hi)| (hi - lo + 1) as i64)),
        Ok(None) => Reply::Int(0),
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------
// ZRANGE and friends

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Auto,
    Rank,
    Score,
    Lex,
}

/// Redis's `zrangeGenericCommand`: `first` is the index of the range's
/// first bound; `kind`/`rev` are preset by the legacy commands.
fn zrange_generic(
    ctx: &mut Ctx<'_>,
    argv: &[&[u8]],
    first: usize,
    store: Option<&[u8]>,
    mut kind: Kind,
    preset_rev: Option<bool>,
) -> Reply {
    let key = argv[first - 1];
    let (mut withscores, mut offset, mut limit) = (false, 0i64, -1i64);
    let mut rev = preset_rev;
    let mut j = first + 2;
    while j < argv.len() {
        let a = argv[j];
        let left = argv.len() - j - 1;
        if store.is_none() && eq_ic(a, "withscores") {
            withscores = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            match (arg_i64(argv[j + 1]), arg_i64(argv[j + 2])) {
                (Ok(o), Ok(l)) => {
                    offset = o;
                    limit = l;
                }
                (Err(e), _) | (_, Err(e)) => return e,
            }
            j += 2;
        } else if rev.is_none() && eq_ic(a, "rev") {
            rev = Some(true);
        } else if kind == Kind::Auto && eq_ic(a, "bylex") {
            kind = Kind::Lex;
        } else if kind == Kind::Auto && eq_ic(a, "byscore") {
            kind = Kind::Score;
        } else {
            return Reply::err(errors::SYNTAX);
        }
        j += 1;
    }
    let rev = rev.unwrap_or(false);
    if kind == Kind::Auto {
        kind = Kind::Rank;
    }
    if limit != -1 && kind == Kind::Rank {
        return Reply::err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX",
        );
    }
    if withscores && kind == Kind::Lex {
        return Reply::err("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    }
    let (mut lo, mut hi) = (argv[first], argv[first + 1]);
    if rev && kind != Kind::Rank {
        std::mem::swap(&mut lo, &mut hi);
    }
    let spec = match kind {
        Kind::Score => match ScoreRange::parse(lo, hi) {
            Ok(r) => Spec::Score(r),
            Err(e) => return e,
        },
        Kind::Lex => match LexRange::parse(lo, hi) {
            Ok(r) => Spec::Lex(r),
            Err(e) => return e,
        },
        _ => match (arg_i64(lo), arg_i64(hi)) {
            (Ok(s), Ok(e)) => Spec::Rank(s, e),
            (Err(e), _) | (_, Err(e)) => return e,
        },
    };
    let items = match read_zset(ctx, key) {
        Ok(Some(z)) => select(z, &spec, rev, offset, limit),
        Ok(None) => Vec::new(),
        Err(e) => return e,
    };
    match store {
        Some(dst) => {
            let mut z = ZSet::new();
            for (m, s) in &items {
                z.set(m.as_bytes(), *s);
            }
            store_result(ctx, dst, z, "zrangestore")
        }
        None => emit(ctx, &items, withscores),
    }
}

fn zrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    zrange_generic(ctx, argv, 2, None, Kind::Auto, None)
}

fn zrangestore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    zrange_generic(ctx, argv, 3, Some(argv[1]), Kind::Auto, None)
}

fn zrevrange(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    zrange_generic(ctx, argv, 2, None, Kind::Rank, Some(true))
}

fn zrangebyscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    zrange_generic(ctx, argv, 2, None, Kind::Score, Some(false))
}

fn zrevrangebyscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    zrange_generic(ctx, argv, 2, None, Kind::Score, Some(true))
}

fn zrangebylex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    zrange_generic(ctx, argv, 2, None, Kind::Lex, Some(false))
}

fn zrevrangebylex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    zrange_generic(ctx, argv, 2, None, Kind::Lex, Some(true))
}

// ---------------------------------------------------------------------------
// ZREMRANGEBY*

fn zremrange_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], kind: Kind) -> Reply {
    let key = argv[1];
    let spec = match kind {
        Kind::Score => match ScoreRange::parse(argv[2], argv[3]) {
            Ok(r) => Spec::Score(r),
            Err(e) => return e,
        },
        Kind::Lex => match LexRange::parse(argv[2], argv[3]) {
            Ok(r) => Spec::Lex(r),
            Err(e) => return e,
        },
        _ => match (arg_i64(argv[2]), arg_i64(argv[3])) {
            (Ok(s), Ok(e)) => Spec::Rank(s, e),
            (Err(e), _) | (_, Err(e)) => return e,
        },
    };
    let pos = match write_pos(ctx, key) {
        Ok(Some(p)) => p,
        Ok(None) => return Reply::Int(0),
        Err(e) => return e,
    };
    let z = zset_at(ctx, pos);
    let victims = select(z, &spec, false, 0, -1);
    for (m, _) in &victims {
        z.remove(m.as_bytes());
    }
    let n = victims.len();
    if n > 0 {
        let event = match kind {
            Kind::Score => "zremrangebyscore",
            Kind::Lex => "zremrangebylex",
            _ => "zremrangebyrank",
        };
        ctx.notify('z', event, key);
        drop_if_empty(ctx, pos, key);
        let db = ctx.db_index();
        ctx.signal_modified(db, key);
        ctx.dirty(n as u64);
    }
    Reply::Int(n as i64)
}

fn zremrangebyrank(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    zremrange_generic(ctx, argv, Kind::Rank)
}

fn zremrangebyscore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    zremrange_generic(ctx, argv, Kind::Score)
}

fn zremrangebylex(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    zremrange_generic(ctx, argv, Kind::Lex)
}

// ---------------------------------------------------------------------------
// Pops

/// Pops up to `count` members from the lowest (or highest, `max`) end of
/// the sorted set at `key` in database `db`, with notifications, deleting
/// the key once empty. `None` when the key is missing or not a sorted set
/// (the caller checks the type first). Shared with the blocking commands.
pub fn pop_in(
    ctx: &mut Ctx<'_>,
    db: usize,
    key: &[u8],
    max: bool,
    count: usize,
) -> Option<Vec<(Sso, f64)>> {
    let pos = ctx.lookup_write_in(db, key)?;
    let Value::ZSet(z) = &mut ctx.st.dbs[db].at_mut(pos).value else {
        return None;
    };
    let mut out = Vec::with_capacity(count.min(z.len()));
    while out.len() < count {
        let x = if max {
            z.list().last()
        } else {
            z.list().first()
        };
        if x == NIL {
            break;
        }
        let (m, s) = z.list().get(x);
        let m = m.clone();
        z.remove(m.as_bytes());
        out.push((m, s));
    }
    let empty = z.is_empty();
    if !out.is_empty() {
        let saved = ctx.session.db;
        ctx.session.db = db;
        ctx.notify('z', if max { "zpopmax" } else { "zpopmin" }, key);
        if empty {
            ctx.st.dbs[db].remove_at(pos);
            ctx.notify('g', "del", key);
        }
        ctx.session.db = saved;
        ctx.signal_modified(db, key);
        ctx.dirty(out.len() as u64);
    }
    Some(out)
}

fn zpop_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], max: bool) -> Reply {
    if argv.len() > 3 {
        return Reply::err(errors::SYNTAX);
    }
    let count = if argv.len() == 3 {
        match parse_i64_strict(argv[2]) {
            Some(n) if n >= 0 => Some(n as usize),
            _ => return Reply::err("ERR value is out of range, must be positive"),
        }
    } else {
        None
    };
    let key = argv[1];
    match write_pos(ctx, key) {
        Ok(Some(_)) => {}
        Ok(None) => return Reply::Array(vec![]),
        Err(e) => return e,
    }
    let db = ctx.db_index();
    let items = pop_in(ctx, db, key, max, count.unwrap_or(1)).unwrap_or_default();
    if count.is_some() {
        emit(ctx, &items, true)
    } else {
        // Without a count RESP3 replies one flat pair.
        let mut out = Vec::new();
        for (m, s) in &items {
            out.push(strings::str_reply(m));
            out.push(score_reply(ctx, *s));
        }
        Reply::Array(out)
    }
}

fn zpopmin(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    zpop_generic(ctx, argv, false)
}

fn zpopmax(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    zpop_generic(ctx, argv, true)
}

/// Parsed arguments of ZMPOP / BZMPOP.
pub struct MpopArgs<'a> {
    /// The keys, in order.
    pub keys: Vec<&'a [u8]>,
    /// Pop the highest scores.
    pub max: bool,
    /// Members to pop.
    pub count: usize,
}

/// Parses `numkeys key... MIN|MAX [COUNT n]` starting at `argv[at]`.
pub fn parse_mpop<'a>(argv: &[&'a [u8]], at: usize) -> Result<MpopArgs<'a>, Reply> {
    let numkeys = match parse_i64_strict(argv[at]) {
        Some(n) if n >= 1 => n as usize,
        _ => return Err(Reply::err("ERR numkeys should be greater than 0")),
    };
    let where_idx = at + 1 + numkeys;
    if numkeys > argv.len() || where_idx >= argv.len() {
        return Err(Reply::err(errors::SYNTAX));
    }
    let max = if eq_ic(argv[where_idx], "min") {
        false
    } else if eq_ic(argv[where_idx], "max") {
        true
    } else {
        return Err(Reply::err(errors::SYNTAX));
    };
    let mut count = None;
    let mut j = where_idx + 1;
    while j < argv.len() {
        if count.is_none() && eq_ic(argv[j], "count") && j + 1 < argv.len() {
            match parse_i64_strict(argv[j + 1]) {
                Some(n) if n >= 1 => count = Some(n as usize),
                _ => return Err(Reply::err("ERR count should be greater than 0")),
            }
            j += 2;
        } else {
            return Err(Reply::err(errors::SYNTAX));
        }
    }
    Ok(MpopArgs {
        keys: argv[at + 1..where_idx].to_vec(),
        max,
        count: count.unwrap_or(1),
    })
}

/// Pops from the first non-empty key of `keys` in database `db`: the ZMPOP
/// reply `[key, [[member, score], ...]]`, `Ok(None)` when every key is
/// missing, or WRONGTYPE for a non-zset met first.
pub fn mpop_in(
    ctx: &mut Ctx<'_>,
    db: usize,
    keys: &[&[u8]],
    max: bool,
    count: usize,
) -> Result<Option<Reply>, Reply> {
    for key in keys {
        let Some(pos) = ctx.lookup_write_in(db, key) else {
            continue;
        };
        if !matches!(ctx.st.dbs[db].at(pos).value, Value::ZSet(_)) {
            return Err(wrongtype());
        }
        let items = pop_in(ctx, db, key, max, count).unwrap_or_default();
        let resp3 = ctx.session.is_resp3();
        let pairs = items
            .iter()
            .map(|(m, s)| {
                let score = if resp3 {
                    Reply::Double(*s)
                } else {
                    Reply::text(fmt_g17(*s))
                };
                Reply::Array(vec![strings::str_reply(m), score])
            })
            .collect();
        return Ok(Some(Reply::Array(vec![
            Reply::bulk(key),
            Reply::Array(pairs),
        ])));
    }
    Ok(None)
}

fn zmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let args = match parse_mpop(argv, 1) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let db = ctx.db_index();
    match mpop_in(ctx, db, &args.keys, args.max, args.count) {
        Ok(Some(r)) => r,
        Ok(None) => Reply::NilArray,
        Err(e) => e,
    }
}

// ---------------------------------------------------------------------------
// ZRANDMEMBER

fn zrandmember(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    if argv.len() > 4 {
        return Reply::err(errors::SYNTAX);
    }
    let mut count = None;
    let mut withscores = false;
    if argv.len() >= 3 {
        let n = match arg_i64(argv[2]) {
            Ok(n) if n == i64::MIN => return Reply::err("ERR value is out of range"),
            Ok(n) => n,
            Err(e) => return e,
        };
        if argv.len() == 4 {
            if !eq_ic(argv[3], "withscores") {
                return Reply::err(errors::SYNTAX);
            }
            withscores = true;
            if n < -(i64::MAX / 2) {
                return Reply::err("ERR value is out of range");
            }
        }
        count = Some(n);
    }
    let pos = match ctx.find_typed(argv[1], true, is_zset) {
        Ok(Some(p)) => p,
        Ok(None) => {
            return if count.is_some() {
                Reply::Array(vec![])
            } else {
                Reply::Nil
            }
        }
        Err(e) => return e,
    };
    let st = &mut *ctx.st;
    let Value::ZSet(z) = &st.dbs[ctx.session.db].at(pos).value else {
        unreachable!("checked by find_typed");
    };
    let rng = &mut st.rng;
    let len = z.len();
    let items: Vec<(Sso, f64)> = match count {
        None => {
            let (m, _) = z.slot(rng.gen_range(0..len));
            return strings::str_reply(m);
        }
        Some(0) => Vec::new(),
        Some(n) if n < 0 => (0..n.unsigned_abs())
            .map(|_| {
                let (m, s) = z.slot(rng.gen_range(0..len));
                (m.clone(), s)
            })
            .collect(),
        Some(n) if n as usize >= len => z.iter().map(|(m, s)| (m.clone(), s)).collect(),
        Some(n) => {
            let n = n as usize;
            // Partial Fisher-Yates over slot indexes.
            let mut idx: Vec<usize> = (0..len).collect();
            for i in 0..n {
                let j = rng.gen_range(i..len);
                idx.swap(i, j);
            }
            idx[..n]
                .iter()
                .map(|&i| {
                    let (m, s) = z.slot(i);
                    (m.clone(), s)
                })
                .collect()
        }
    };
    emit(ctx, &items, withscores)
}

// ---------------------------------------------------------------------------
// Set algebra: ZUNION ZINTER ZDIFF (+STORE), ZINTERCARD

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Union,
    Inter,
    Diff,
}

#[derive(Clone, Copy, PartialEq)]
enum Agg {
    Sum,
    Min,
    Max,
}

fn aggregate(agg: Agg, acc: &mut f64, v: f64) {
    match agg {
        Agg::Sum => {
            *acc += v;
            if acc.is_nan() {
                *acc = 0.0;
            }
        }
        Agg::Min => {
            if v < *acc {
                *acc = v
            }
        }
        Agg::Max => {
            if v > *acc {
                *acc = v
            }
        }
    }
}

/// A source of a set operation: a sorted set, a plain set (scores 1), or
/// nothing (a missing key).
enum Src<'a> {
    Missing,
    Z(&'a ZSet),
    S(&'a crate::types::set::Set),
}

impl Src<'_> {
    fn len(&self) -> usize {
        match self {
            Src::Missing => 0,
            Src::Z(z) => z.len(),
            Src::S(s) => s.len(),
        }
    }
    fn score(&self, m: &[u8]) -> Option<f64> {
        match self {
            Src::Missing => None,
            Src::Z(z) => z.score(m),
            Src::S(s) => s.contains(m).then_some(1.0),
        }
    }
    fn for_each(&self, mut f: impl FnMut(&Sso, f64)) {
        match self {
            Src::Missing => {}
            Src::Z(z) => z.iter().for_each(|(m, s)| f(m, s)),
            Src::S(s) => s.members().iter().for_each(|m| f(m, 1.0)),
        }
    }
}

fn weighted(score: f64, w: f64) -> f64 {
    let v = score * w;
    if v.is_nan() {
        0.0
    } else {
        v
    }
}

/// Redis's `zunionInterDiffGenericCommand`.
fn setop(ctx: &mut Ctx<'_>, argv: &[&[u8]], op: Op, dst: Option<&[u8]>, card_only: bool) -> Reply {
    let nk_idx = if dst.is_some() { 2 } else { 1 };
    let name = argv[0].to_ascii_lowercase();
    let setnum = match arg_i64(argv[nk_idx]) {
        Ok(n) => n,
        Err(e) => return e,
    };
    if setnum < 1 {
        return Reply::err(format!(
            "ERR at least 1 input key is needed for '{}' command",
            String::from_utf8_lossy(&name)
        ));
    }
    let setnum = setnum as usize;
    if setnum > argv.len() - (nk_idx + 1) {
        return Reply::err(errors::SYNTAX);
    }
    let keys = &argv[nk_idx + 1..nk_idx + 1 + setnum];
    let db = ctx.db_index();
    let mut positions = Vec::with_capacity(setnum);
    for k in keys {
        let pos = match ctx.find_typed(k, dst.is_none(), |v| {
            matches!(v, Value::ZSet(_) | Value::Set(_))
        }) {
            Ok(p) => p,
            Err(e) => return e,
        };
        positions.push(pos);
    }
    let mut weights = vec![1.0; setnum];
    let mut agg = Agg::Sum;
    let mut withscores = false;
    let mut limit = 0usize;
    let mut j = nk_idx + 1 + setnum;
    while j < argv.len() {
        let remaining = argv.len() - j;
        let a = argv[j];
        if op != Op::Diff && !card_only && remaining > setnum && eq_ic(a, "weights") {
            j += 1;
            for w in weights.iter_mut() {
                match parse_f64(argv[j]) {
                    Some(v) => *w = v,
                    None => return Reply::err("ERR weight value is not a float"),
                }
                j += 1;
            }
        } else if op != Op::Diff && !card_only && remaining >= 2 && eq_ic(a, "aggregate") {
            let v = argv[j + 1];
            agg = if eq_ic(v, "sum") {
                Agg::Sum
            } else if eq_ic(v, "min") {
                Agg::Min
            } else if eq_ic(v, "max") {
                Agg::Max
            } else {
                return Reply::err(errors::SYNTAX);
            };
            j += 2;
        } else if dst.is_none() && !card_only && eq_ic(a, "withscores") {
            withscores = true;
            j += 1;
        } else if card_only && remaining >= 2 && eq_ic(a, "limit") {
            match parse_i64_strict(argv[j + 1]) {
                Some(n) if n >= 0 => limit = n as usize,
                _ => return Reply::err("ERR LIMIT can't be negative"),
            }
            j += 2;
        } else {
            return Reply::err(errors::SYNTAX);
        }
    }
    let dbr = &ctx.st.dbs[db];
    let mut srcs: Vec<(Src<'_>, f64)> = positions
        .iter()
        .zip(&weights)
        .map(|(p, &w)| {
            let src = match p.map(|p| &dbr.at(p).value) {
                Some(Value::ZSet(z)) => Src::Z(z),
                Some(Value::Set(s)) => Src::S(s),
                _ => Src::Missing,
            };
            (src, w)
        })
        .collect();
    let mut acc: hashbrown::HashMap<Sso, f64> = hashbrown::HashMap::new();
    match op {
        Op::Union => {
            srcs.sort_by_key(|(s, _)| s.len());
            for (src, w) in &srcs {
                src.for_each(|m, s| {
                    let v = weighted(s, *w);
                    match acc.get_mut(m) {
                        Some(cur) => aggregate(agg, cur, v),
                        None => {
                            acc.insert(m.clone(), v);
                        }
                    }
                });
            }
        }
        Op::Inter => {
            srcs.sort_by_key(|(s, _)| s.len());
            if srcs.iter().all(|(s, _)| s.len() > 0) {
                let (first, rest) = srcs.split_first().expect("at least one key");
                let mut count = 0usize;
                let mut done = false;
                first.0.for_each(|m, s| {
                    if done {
                        return;
                    }
                    let mut v = weighted(s, first.1);
                    for (src, w) in rest {
                        match src.score(m.as_bytes()) {
                            Some(s2) => aggregate(agg, &mut v, weighted(s2, *w)),
                            None => return,
                        }
                    }
                    count += 1;
                    if card_only {
                        if limit != 0 && count >= limit {
                            done = true;
                        }
                    } else {
                        acc.insert(m.clone(), v);
                    }
                });
                if card_only {
                    return Reply::Int(count as i64);
                }
            } else if card_only {
                return Reply::Int(0);
            }
        }
        Op::Diff => {
            let (first, rest) = srcs.split_first().expect("at least one key");
            first.0.for_each(|m, s| {
                if rest
                    .iter()
                    .all(|(src, _)| src.score(m.as_bytes()).is_none())
                {
                    acc.insert(m.clone(), s);
                }
            });
        }
    }
    let mut z = ZSet::new();
    for (m, s) in acc {
        z.set(m.as_bytes(), s);
    }
    match dst {
        Some(dst) => {
            let event = match op {
                Op::Union => "zunionstore",
                Op::Inter => "zinterstore",
                Op::Diff => "zdiffstore",
            };
            store_result(ctx, dst, z, event)
        }
        None => {
            let items: Vec<(Sso, f64)> = z.iter().map(|(m, s)| (m.clone(), s)).collect();
            emit(ctx, &items, withscores)
        }
    }
}

fn zunion(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    setop(ctx, argv, Op::Union, None, false)
}

fn zinter(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    setop(ctx, argv, Op::Inter, None, false)
}

fn zdiff(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    setop(ctx, argv, Op::Diff, None, false)
}

fn zunionstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    setop(ctx, argv, Op::Union, Some(argv[1]), false)
}

fn zinterstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    setop(ctx, argv, Op::Inter, Some(argv[1]), false)
}

fn zdiffstore(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    setop(ctx, argv, Op::Diff, Some(argv[1]), false)
}

fn zintercard(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    setop(ctx, argv, Op::Inter, None, true)
}

// ---------------------------------------------------------------------------
// ZSCAN

/// Parses a SCAN cursor as Redis does (`strtoul`: an optional sign, digits,
/// a negative value wrapping around).
pub fn parse_cursor(b: &[u8]) -> Result<u64, Reply> {
    let bad = || Reply::err("ERR invalid cursor");
    let (neg, digits) = match b.first() {
        Some(b'-') => (true, &b[1..]),
        Some(b'+') => (false, &b[1..]),
        _ => (false, b),
    };
    if b.is_empty() {
        return Ok(0);
    }
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return Err(bad());
    }
    let v = std::str::from_utf8(digits)
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
        .ok_or_else(bad)?;
    Ok(if neg { v.wrapping_neg() } else { v })
}

fn zscan(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let cursor = match parse_cursor(argv[2]) {
        Ok(c) => c,
        Err(e) => return e,
    };
    let z = match read_zset(ctx, argv[1]) {
        Ok(Some(z)) => z,
        Ok(None) => return Reply::Array(vec![Reply::text("0"), Reply::Array(vec![])]),
        Err(e) => return e,
    };
    let mut pattern: Option<&[u8]> = None;
    let mut count = 10usize;
    let mut j = 3;
    while j < argv.len() {
        if j + 1 >= argv.len() {
            return Reply::err(errors::SYNTAX);
        }
        if eq_ic(argv[j], "count") {
            match parse_i64_strict(argv[j + 1]) {
                Some(n) if n >= 1 => count = n as usize,
                Some(_) => return Reply::err(errors::SYNTAX),
                None => return Reply::err(errors::NOT_INT),
            }
        } else if eq_ic(argv[j], "match") {
            pattern = Some(argv[j + 1]);
        } else {
            return Reply::err(errors::SYNTAX);
        }
        j += 2;
    }
    let mut out = Vec::new();
    let mut push = |m: &Sso, s: f64| {
        if pattern.is_none_or(|p| glob_match(p, m.as_bytes(), false)) {
            out.push(strings::str_reply(m));
            out.push(Reply::text(fmt_g17(s)));
        }
    };
    // A small (listpack) set is returned whole, in order, as Redis does.
    // A big one is walked over its dense slots from the end toward the
    // start (see `ZSet`'s SCAN guarantee).
    let next = if !z.is_big() {
        z.iter().for_each(|(m, s)| push(m, s));
        0
    } else {
        let n = z.len() as u64;
        let start = if cursor == 0 { n } else { cursor.min(n) };
        let end = start.saturating_sub(count as u64);
        for i in (end..start).rev() {
            let (m, s) = z.slot(i as usize);
            push(m, s);
        }
        end
    };
    Reply::Array(vec![Reply::text(next.to_string()), Reply::Array(out)])
}

// ---------------------------------------------------------------------------
// Blocking pops: BZPOPMIN BZPOPMAX BZMPOP

/// The text of a score inside a reply (for undo commands).
fn score_text(r: &Reply) -> Vec<u8> {
    match r {
        Reply::Double(d) => fmt_g17(*d).into_bytes(),
        other => other.as_bytes().unwrap_or(b"0").to_vec(),
    }
}

fn bzpop_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], max: bool) -> Reply {
    let deadline = match blocking::parse_timeout(ctx.now, argv[argv.len() - 1], TimeUnit::Seconds) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let keys = &argv[1..argv.len() - 1];
    let db = ctx.db_index();
    for &key in keys {
        match write_pos(ctx, key) {
            Err(e) => return e,
            Ok(None) => {}
            Ok(Some(_)) => {
                let items = pop_in(ctx, db, key, max, 1).unwrap_or_default();
                if !items.is_empty() {
                    // Logged as its non-blocking twin, as Redis does.
                    let twin: &[u8] = if max { b"ZPOPMAX" } else { b"ZPOPMIN" };
                    crate::persist::rewrite_command(ctx, vec![twin.to_vec(), key.to_vec()]);
                }
                if let Some((m, s)) = items.first() {
                    return Reply::Array(vec![
                        Reply::bulk(key),
                        strings::str_reply(m),
                        score_reply(ctx, *s),
                    ]);
                }
            }
        }
    }
    blocking::block(
        ctx,
        keys.iter().map(|k| k.to_vec()).collect(),
        deadline,
        Action {
            serve: serve_bzpop,
            args: vec![if max {
                b"zpopmax".to_vec()
            } else {
                b"zpopmin".to_vec()
            }],
            timeout_reply: Reply::NilArray,
        },
    )
}

/// Serves BZPOPMIN/BZPOPMAX: `args` = [zpopmin|zpopmax]. Pops through the
/// non-blocking twin (so the write is logged as it), and undoes with ZADD.
fn serve_bzpop(ctx: &mut Ctx<'_>, key: &[u8], args: &[Vec<u8>]) -> Serve {
    let reply = blocking::run_argv(ctx, &[args[0].clone(), key.to_vec()]);
    match reply {
        Reply::Array(v) if v.len() == 2 => {
            let undo = vec![
                b"zadd".to_vec(),
                key.to_vec(),
                score_text(&v[1]),
                v[0].as_bytes().unwrap_or_default().to_vec(),
            ];
            let mut out = vec![Reply::bulk(key)];
            out.extend(v);
            Serve::Served {
                reply: Reply::Array(out),
                undo: Some(undo),
            }
        }
        _ => Serve::Exhausted,
    }
}

fn bzpopmin(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    bzpop_generic(ctx, argv, false)
}

fn bzpopmax(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    bzpop_generic(ctx, argv, true)
}

fn bzmpop(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let deadline = match blocking::parse_timeout(ctx.now, argv[1], TimeUnit::Seconds) {
        Ok(d) => d,
        Err(e) => return e,
    };
    let args = match parse_mpop(argv, 2) {
        Ok(a) => a,
        Err(e) => return e,
    };
    let db = ctx.db_index();
    match mpop_in(ctx, db, &args.keys, args.max, args.count) {
        Ok(Some(r)) => {
            // Logged as its non-blocking twin on the key that served.
            if let Reply::Array(parts) = &r {
                if let Some(key) = parts.first().and_then(Reply::as_bytes) {
                    let end: &[u8] = if args.max { b"MAX" } else { b"MIN" };
                    crate::persist::rewrite_command(
                        ctx,
                        vec![
                            b"ZMPOP".to_vec(),
                            b"1".to_vec(),
                            key.to_vec(),
                            end.to_vec(),
                            b"COUNT".to_vec(),
                            args.count.to_string().into_bytes(),
                        ],
                    );
                }
            }
            return r;
        }
        Ok(None) => {}
        Err(e) => return e,
    }
    blocking::block(
        ctx,
        args.keys.iter().map(|k| k.to_vec()).collect(),
        deadline,
        Action {
            serve: serve_bzmpop,
            args: vec![
                if args.max {
                    b"MAX".to_vec()
                } else {
                    b"MIN".to_vec()
                },
                args.count.to_string().into_bytes(),
            ],
            timeout_reply: Reply::NilArray,
        },
    )
}

/// Serves BZMPOP: `args` = [MIN|MAX, count], through ZMPOP on one key.
fn serve_bzmpop(ctx: &mut Ctx<'_>, key: &[u8], args: &[Vec<u8>]) -> Serve {
    blocking::serve_mpop(ctx, b"zmpop", key, args, |pairs| {
        let mut undo = vec![b"zadd".to_vec(), key.to_vec()];
        for p in pairs {
            if let Reply::Array(ms) = p {
                undo.push(score_text(&ms[1]));
                undo.push(ms[0].as_bytes().unwrap_or_default().to_vec());
            }
        }
        undo
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `select` by score or lex as a filter over the sorted members, the
    /// way Redis defines the result: in range, skip `offset`, take
    /// `limit`.
    fn model(
        items: &[(f64, Vec<u8>)],
        in_range: impl Fn(f64, &[u8]) -> bool,
        rev: bool,
        offset: i64,
        limit: i64,
    ) -> Vec<(Vec<u8>, f64)> {
        if offset < 0 {
            return Vec::new();
        }
        let mut v: Vec<(Vec<u8>, f64)> = items
            .iter()
            .filter(|(s, m)| in_range(*s, m))
            .map(|(s, m)| (m.clone(), *s))
            .collect();
        if rev {
            v.reverse();
        }
        let take = if limit < 0 {
            usize::MAX
        } else {
            limit as usize
        };
        v.into_iter().skip(offset as usize).take(take).collect()
    }

    fn bytes(v: Vec<(Sso, f64)>) -> Vec<(Vec<u8>, f64)> {
        v.into_iter()
            .map(|(m, s)| (m.as_bytes().to_vec(), s))
            .collect()
    }

    proptest! {
        /// Score and lex windows with offsets on both sides of
        /// `WALK_OFFSET` (walked or jumped by rank), both directions.
        #[test]
        fn select_matches_filter_model(
            n in 0usize..400,
            seed in any::<u64>(),
            lo in -5i32..45,
            width in -3i32..50,
            (minex, maxex) in (any::<bool>(), any::<bool>()),
            rev in any::<bool>(),
            offset in -1i64..120,
            limit in -1i64..20,
        ) {
            let mut z = ZSet::new();
            let mut x = seed | 1;
            for i in 0..n {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                // Few distinct scores: many ties ordered by member.
                z.set(format!("m{:03}", i).as_bytes(), (x % 40) as f64);
            }
            z.check();
            let items: Vec<(f64, Vec<u8>)> =
                z.iter().map(|(m, s)| (s, m.as_bytes().to_vec())).collect();
            let r = ScoreRange {
                min: lo as f64,
                max: (lo + width) as f64,
                minex,
                maxex,
            };
            let want = model(&items, |s, _| !r.below(s) && !r.above(s), rev, offset, limit);
            let got = bytes(select(&z, &Spec::Score(r), rev, offset, limit));
            prop_assert_eq!(got, want);

            let bound = |v: i32, ex: bool| {
                let m = format!("m{:03}", v.clamp(0, 999)).into_bytes();
                if v < 0 {
                    LexBound::Min
                } else if v > 420 {
                    LexBound::Max
                } else if ex {
                    LexBound::Excl(m)
                } else {
                    LexBound::Incl(m)
                }
            };
            // Lex ranges assume equal scores (Redis leaves other sets
            // unspecified): the same members, all at score 0.
            let mut z = ZSet::new();
            for (_, m) in &items {
                z.set(m, 0.0);
            }
            let mut items: Vec<(f64, Vec<u8>)> = items.into_iter().map(|(_, m)| (0.0, m)).collect();
            items.sort_by(|a, b| a.1.cmp(&b.1));
            let lr = LexRange {
                min: bound(lo * 10, minex),
                max: bound((lo + width) * 10, maxex),
            };
            let want = model(&items, |_, m| !lr.below(m) && !lr.above(m), rev, offset, limit);
            let got = bytes(select(&z, &Spec::Lex(lr), rev, offset, limit));
            prop_assert_eq!(got, want);
        }
    }
}
