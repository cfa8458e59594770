//! SORT and SORT_RO (Redis's `sort.c`) over lists, sets and sorted sets:
//! `BY` patterns (`*` substitution, `->field` hash lookups, a pattern
//! without `*` to skip sorting), `LIMIT`, `GET` (with `#` for the element
//! itself), `ASC`/`DESC`, `ALPHA` and `STORE`.

use super::{CommandSpec, Flags};
use crate::cmd;
use crate::command::strings;
use crate::engine::{wrongtype, Ctx};
use crate::reply::{errors, Reply};
use crate::types::list::List;
use crate::types::{Sso, Value};
use crate::util::{arg_i64, eq_ic};
use std::cmp::Ordering;

/// The sort family's table. Both are SLOW: sorting runs on a dirty
/// scheduler.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!(
        "sort",
        -2,
        Flags::WRITE.or(Flags::DENYOOM).or(Flags::SLOW),
        1,
        1,
        1,
        sort
    ),
    cmd!(
        "sort_ro",
        -2,
        Flags::READONLY.or(Flags::SLOW),
        1,
        1,
        1,
        sort_ro
    ),
];

fn sort(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    sort_generic(ctx, argv, false)
}

fn sort_ro(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    sort_generic(ctx, argv, true)
}

/// Redis's `lookupKeyByPattern`: `#` is the element itself; otherwise the
/// first `*` is replaced by the element and the result names a string key,
/// or with `->field` a hash field. `None` when there is nothing there.
fn lookup_by_pattern(ctx: &mut Ctx<'_>, pattern: &[u8], elem: &[u8]) -> Option<Vec<u8>> {
    if pattern == b"#" {
        return Some(elem.to_vec());
    }
    let star = pattern.iter().position(|&c| c == b'*')?;
    let rest = &pattern[star + 1..];
    let arrow = rest
        .windows(2)
        .position(|w| w == b"->")
        .filter(|&i| i + 2 < rest.len());
    let (post, field) = match arrow {
        Some(i) => (&rest[..i], Some(&rest[i + 2..])),
        None => (rest, None),
    };
    let mut key = Vec::with_capacity(pattern.len() + elem.len());
    key.extend_from_slice(&pattern[..star]);
    key.extend_from_slice(elem);
    key.extend_from_slice(post);
    let pos = ctx.lookup_read(&key)?;
    match (&ctx.db().at(pos).value, field) {
        (Value::Str(s), None) => Some(s.as_bytes().to_vec()),
        (Value::Hash(h), Some(f)) => h.get(f).map(|v| v.as_bytes().to_vec()),
        _ => None,
    }
}

/// C's `strtod` over a whole string, as SORT reads weights: leading spaces
/// allowed, an empty string reads as 0, NaN and trailing bytes fail.
fn parse_weight(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    let t = s.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    if t.is_empty() {
        return if s.is_empty() { Some(0.0) } else { None };
    }
    let lower = t.to_ascii_lowercase();
    let body = lower.trim_start_matches(['+', '-']);
    let v = if body == "inf" || body == "infinity" {
        if lower.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        }
    } else if body.starts_with("nan") {
        return None;
    } else if let Some(hex) = body.strip_prefix("0x") {
        let v = parse_hex_float(hex)?;
        if lower.starts_with('-') {
            -v
        } else {
            v
        }
    } else {
        t.parse::<f64>().ok()?
    };
    Some(v)
}

/// The digits of a C hex float after `0x`: `h[.h][p[+-]d]`.
fn parse_hex_float(s: &str) -> Option<f64> {
    let (mant, exp) = match s.find('p') {
        Some(i) => (&s[..i], s[i + 1..].parse::<i32>().ok()?),
        None => (s, 0),
    };
    let (int, frac) = mant.split_once('.').unwrap_or((mant, ""));
    if int.is_empty() && frac.is_empty() {
        return None;
    }
    let mut v = 0f64;
    for c in int.chars() {
        v = v * 16.0 + c.to_digit(16)? as f64;
    }
    let mut scale = 1.0 / 16.0;
    for c in frac.chars() {
        v += c.to_digit(16)? as f64 * scale;
        scale /= 16.0;
    }
    Some(v * 2f64.powi(exp))
}

/// One element to sort and its sort key.
struct Item {
    elem: Sso,
    score: f64,
    cmp: Option<Vec<u8>>,
}

fn sort_generic(ctx: &mut Ctx<'_>, argv: &[&[u8]], readonly: bool) -> Reply {
    let (mut desc, mut alpha, mut dontsort) = (false, false, false);
    let (mut limit_start, mut limit_count) = (0i64, -1i64);
    let mut store: Option<&[u8]> = None;
    let mut by: Option<&[u8]> = None;
    let mut gets: Vec<&[u8]> = Vec::new();
    let mut j = 2;
    while j < argv.len() {
        let left = argv.len() - j - 1;
        let a = argv[j];
        if eq_ic(a, "asc") {
            desc = false;
        } else if eq_ic(a, "desc") {
            desc = true;
        } else if eq_ic(a, "alpha") {
            alpha = true;
        } else if eq_ic(a, "limit") && left >= 2 {
            match (arg_i64(argv[j + 1]), arg_i64(argv[j + 2])) {
                (Ok(s), Ok(c)) => {
                    limit_start = s;
                    limit_count = c;
                }
                (Err(e), _) | (_, Err(e)) => return e,
            }
            j += 2;
        } else if !readonly && eq_ic(a, "store") && left >= 1 {
            store = Some(argv[j + 1]);
            j += 1;
        } else if eq_ic(a, "by") && left >= 1 {
            by = Some(argv[j + 1]);
            dontsort = !argv[j + 1].contains(&b'*');
            j += 1;
        } else if eq_ic(a, "get") && left >= 1 {
            gets.push(argv[j + 1]);
            j += 1;
        } else {
            return Reply::err(errors::SYNTAX);
        }
        j += 1;
    }
    let key = argv[1];
    let pos = if store.is_some() {
        ctx.lookup_write(key)
    } else {
        ctx.lookup_read(key)
    };
    #[derive(PartialEq)]
    enum Kind {
        List,
        Set,
        ZSet,
    }
    let kind = match pos.map(|p| &ctx.db().at(p).value) {
        None | Some(Value::List(_)) => Kind::List,
        Some(Value::Set(_)) => Kind::Set,
        Some(Value::ZSet(_)) => Kind::ZSet,
        Some(_) => return wrongtype(),
    };
    // A set has no order of its own: when storing, sort it (ALPHA) so the
    // result is deterministic, as Redis does.
    if dontsort && kind == Kind::Set && store.is_some() {
        dontsort = false;
        alpha = true;
        by = None;
    }
    let vlen = match pos.map(|p| &ctx.db().at(p).value) {
        Some(Value::List(l)) => l.len(),
        Some(Value::Set(s)) => s.len(),
        Some(Value::ZSet(z)) => z.len(),
        _ => 0,
    } as i64;
    let mut start = limit_start.max(0);
    let mut end = if limit_count < 0 {
        vlen - 1
    } else {
        start + limit_count - 1
    };
    if start >= vlen {
        start = vlen - 1;
        end = vlen - 2;
    }
    if end >= vlen {
        end = vlen - 1;
    }
    // Load the elements; an ordered type that needs no sorting loads only
    // the selected window, in the requested direction.
    let mut elems: Vec<Sso> = Vec::new();
    if let Some(p) = pos {
        let value = &ctx.db().at(p).value;
        let direct = dontsort && kind != Kind::Set;
        if direct {
            let n = (end - start + 1).max(0) as usize;
            if n > 0 {
                let s = start as usize;
                match value {
                    Value::List(l) => {
                        if desc {
                            elems.extend(l.items.iter().rev().skip(s).take(n).cloned());
                        } else {
                            elems.extend(l.items.iter().skip(s).take(n).cloned());
                        }
                    }
                    Value::ZSet(z) => {
                        let len = z.len();
                        let (from, rev) = if desc {
                            (len - 1 - s, true)
                        } else {
                            (s, false)
                        };
                        let node = z.list().at_rank(from);
                        elems.extend(z.walk(node, rev).take(n).map(|(m, _)| m.clone()));
                    }
                    _ => {}
                }
            }
            end -= start;
            start = 0;
        } else {
            match value {
                Value::List(l) => elems.extend(l.items.iter().cloned()),
                Value::Set(s) => elems.extend(s.members().iter().cloned()),
                Value::ZSet(z) => elems.extend(z.iter().map(|(m, _)| m.clone())),
                _ => {}
            }
        }
    }
    let mut items: Vec<Item> = elems
        .into_iter()
        .map(|elem| Item {
            elem,
            score: 0.0,
            cmp: None,
        })
        .collect();
    let mut conversion_error = false;
    if !dontsort {
        for it in items.iter_mut() {
            let byval = match by {
                Some(pat) => match lookup_by_pattern(ctx, pat, it.elem.as_bytes()) {
                    Some(v) => v,
                    None => continue,
                },
                None => it.elem.as_bytes().to_vec(),
            };
            if alpha {
                if by.is_some() {
                    it.cmp = Some(byval);
                }
            } else {
                match parse_weight(&byval) {
                    Some(v) => it.score = v,
                    None => conversion_error = true,
                }
            }
        }
        let bypattern = by.is_some();
        items.sort_by(|a, b| {
            let c = if !alpha {
                match a.score.partial_cmp(&b.score) {
                    Some(Ordering::Equal) | None => a.elem.as_bytes().cmp(b.elem.as_bytes()),
                    Some(o) => o,
                }
            } else if bypattern {
                match (&a.cmp, &b.cmp) {
                    (None, None) => Ordering::Equal,
                    (None, Some(_)) => Ordering::Less,
                    (Some(_), None) => Ordering::Greater,
                    (Some(x), Some(y)) => x.cmp(y),
                }
            } else {
                a.elem.as_bytes().cmp(b.elem.as_bytes())
            };
            if desc {
                c.reverse()
            } else {
                c
            }
        });
    }
    if conversion_error {
        return Reply::err("ERR One or more scores can't be converted into double");
    }
    let window: &[Item] = if end >= start && start >= 0 {
        &items[start as usize..=(end as usize).min(items.len().saturating_sub(1))]
    } else {
        &[]
    };
    let window: Vec<Sso> = window.iter().map(|i| i.elem.clone()).collect();
    match store {
        None => {
            let mut out = Vec::with_capacity(window.len() * gets.len().max(1));
            for elem in &window {
                if gets.is_empty() {
                    out.push(strings::str_reply(elem));
                }
                for g in &gets {
                    out.push(match lookup_by_pattern(ctx, g, elem.as_bytes()) {
                        Some(v) => Reply::bulk_vec(v),
                        None => Reply::Nil,
                    });
                }
            }
            Reply::Array(out)
        }
        Some(dst) => {
            let mut list = List::default();
            for elem in &window {
                if gets.is_empty() {
                    list.items.push_back(elem.clone());
                }
                for g in &gets {
                    let v = lookup_by_pattern(ctx, g, elem.as_bytes()).unwrap_or_default();
                    list.items.push_back(Sso::from_vec(v));
                }
            }
            let n = list.len();
            let db = ctx.db_index();
            if n > 0 {
                strings::store(ctx, dst, Value::List(Box::new(list)), false);
                ctx.notify('l', "sortstore", dst);
                // `store` counted one change; Redis counts the elements.
                ctx.dirty(n as u64 - 1);
                ctx.signal_ready(db, dst);
            } else if ctx.delete_in(db, dst) {
                ctx.notify('g', "del", dst);
                ctx.dirty(1);
            }
            Reply::Int(n as i64)
        }
    }
}
