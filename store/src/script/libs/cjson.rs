//! `cjson`: JSON encoding and decoding as Redis's bundled lua-cjson 2.1
//! does it: `cjson.encode(v)`, `cjson.decode(s)`, `cjson.null`, and the
//! configuration functions (accepted; encode/decode depth limits honoured).
//!
//! Encoding: numbers with `%.14g`, strings escaped as lua-cjson escapes
//! them (`/` included), a table whose keys are all positive integers is an
//! array (holes become `null`; an excessively sparse one is an error),
//! an empty table is `{}`, any other table an object with string or
//! number keys. Decoding: objects and arrays become tables, `null` becomes
//! `cjson.null` (a NULL light userdata).

use mlua::{LightUserData, Lua, MultiValue, Table, Value};
use std::sync::Arc;

const DEFAULT_DEPTH: usize = 1000;

fn err(msg: String) -> mlua::Error {
    mlua::Error::runtime(msg)
}

/// `cjson.null`.
pub fn null() -> Value {
    Value::LightUserData(LightUserData(std::ptr::null_mut()))
}

fn fmt_number(n: f64) -> mlua::Result<String> {
    if n.is_nan() || n.is_infinite() {
        return Err(err("Cannot serialise number: must not be NaN or Inf".into()));
    }
    Ok(crate::util::fmt_g(n, 14))
}

fn escape(out: &mut Vec<u8>, s: &[u8]) {
    out.push(b'"');
    for &c in s {
        match c {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            c if c < 0x20 || c == 0x7f => {
                out.extend_from_slice(format!("\\u{:04x}", c).as_bytes());
            }
            c => out.push(c),
        }
    }
    out.push(b'"');
}

/// The array length of `t` per lua-cjson: `Some(max)` when every key is a
/// positive integer (0 for an empty table), `None` for an object.
fn array_length(t: &Table) -> mlua::Result<Option<usize>> {
    let mut max = 0usize;
    let mut items = 0usize;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(i) if i >= 1 => i as usize,
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => n as usize,
            _ => return Ok(None),
        };
        max = max.max(n);
        items += 1;
    }
    if max > 10 && max > items * 2 {
        return Err(err(
            "Cannot serialise table: excessively sparse array".into()
        ));
    }
    Ok(Some(max))
}

fn encode_value(out: &mut Vec<u8>, v: &Value, depth: usize, max_depth: usize) -> mlua::Result<()> {
    match v {
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(p) if p.0.is_null() => out.extend_from_slice(b"null"),
        Value::Boolean(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Integer(i) => out.extend_from_slice(fmt_number(*i as f64)?.as_bytes()),
        Value::Number(n) => out.extend_from_slice(fmt_number(*n)?.as_bytes()),
        Value::String(s) => escape(out, &s.as_bytes()),
        Value::Table(t) => {
            let depth = depth + 1;
            if depth > max_depth {
                return Err(err(format!(
                    "Cannot serialise, excessive nesting ({depth})"
                )));
            }
            match array_length(t)? {
                Some(len) if len > 0 => {
                    out.push(b'[');
                    for i in 1..=len {
                        if i > 1 {
                            out.push(b',');
                        }
                        encode_value(out, &t.raw_get::<Value>(i)?, depth, max_depth)?;
                    }
                    out.push(b']');
                }
                _ => {
                    out.push(b'{');
                    let mut first = true;
                    for pair in t.pairs::<Value, Value>() {
                        let (k, val) = pair?;
                        if !first {
                            out.push(b',');
                        }
                        first = false;
                        match &k {
                            Value::String(s) => escape(out, &s.as_bytes()),
                            Value::Integer(i) => {
                                escape(out, fmt_number(*i as f64)?.as_bytes());
                            }
                            Value::Number(n) => escape(out, fmt_number(*n)?.as_bytes()),
                            _ => {
                                return Err(err(
                                    "Cannot serialise table: table key must be a number or string"
                                        .into(),
                                ))
                            }
                        }
                        out.push(b':');
                        encode_value(out, &val, depth, max_depth)?;
                    }
                    out.push(b'}');
                }
            }
        }
        other => {
            return Err(err(format!(
                "Cannot serialise {}: type not supported",
                other.type_name()
            )))
        }
    }
    Ok(())
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    lua: &'a Lua,
    max_depth: usize,
}

enum Tok {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    Str(Vec<u8>),
    Num(f64),
    Bool(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

fn tok_name(t: &Tok) -> &'static str {
    match t {
        Tok::ObjBegin => "T_OBJ_BEGIN",
        Tok::ObjEnd => "T_OBJ_END",
        Tok::ArrBegin => "T_ARR_BEGIN",
        Tok::ArrEnd => "T_ARR_END",
        Tok::Str(_) => "T_STRING",
        Tok::Num(_) => "T_NUMBER",
        Tok::Bool(_) => "T_BOOLEAN",
        Tok::Null => "T_NULL",
        Tok::Colon => "T_COLON",
        Tok::Comma => "T_COMMA",
        Tok::End => "T_END",
        Tok::Error(e) => e,
    }
}

impl<'a> Parser<'a> {
    fn next(&mut self) -> (Tok, usize) {
        while self.i < self.s.len() && matches!(self.s[self.i], b' ' | b'\t' | b'\n' | b'\r') {
            self.i += 1;
        }
        let at = self.i;
        let Some(&c) = self.s.get(self.i) else {
            return (Tok::End, at);
        };
        let tok = match c {
            b'{' => {
                self.i += 1;
                Tok::ObjBegin
            }
            b'}' => {
                self.i += 1;
                Tok::ObjEnd
            }
            b'[' => {
                self.i += 1;
                Tok::ArrBegin
            }
            b']' => {
                self.i += 1;
                Tok::ArrEnd
            }
            b':' => {
                self.i += 1;
                Tok::Colon
            }
            b',' => {
                self.i += 1;
                Tok::Comma
            }
            b'"' => self.string(),
            b'-' | b'0'..=b'9' => self.number(),
            _ => {
                let rest = &self.s[self.i..];
                if rest.starts_with(b"true") {
                    self.i += 4;
                    Tok::Bool(true)
                } else if rest.starts_with(b"false") {
                    self.i += 5;
                    Tok::Bool(false)
                } else if rest.starts_with(b"null") {
                    self.i += 4;
                    Tok::Null
                } else {
                    Tok::Error("invalid token")
                }
            }
        };
        (tok, at)
    }

    fn number(&mut self) -> Tok {
        let start = self.i;
        let mut j = self.i;
        if self.s[j] == b'-' {
            j += 1;
        }
        while j < self.s.len()
            && matches!(self.s[j], b'0'..=b'9' | b'.' | b'e' | b'E' | b'+' | b'-')
        {
            j += 1;
        }
        let text = std::str::from_utf8(&self.s[start..j]).unwrap_or("");
        match text.parse::<f64>() {
            Ok(n) => {
                self.i = j;
                Tok::Num(n)
            }
            Err(_) => Tok::Error("invalid number"),
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let h = self.s.get(at..at + 4)?;
        u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
    }

    fn string(&mut self) -> Tok {
        let mut out = Vec::new();
        let mut j = self.i + 1;
        loop {
            let Some(&c) = self.s.get(j) else {
                return Tok::Error("unexpected end of string");
            };
            match c {
                b'"' => break,
                b'\\' => {
                    let Some(&e) = self.s.get(j + 1) else {
                        return Tok::Error("unexpected end of string");
                    };
                    j += 2;
                    match e {
                        b'"' => out.push(b'"'),
                        b'\\' => out.push(b'\\'),
                        b'/' => out.push(b'/'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'u' => {
                            let Some(mut cp) = self.hex4(j) else {
                                return Tok::Error("invalid unicode escape code");
                            };
                            j += 4;
                            if (0xD800..0xDC00).contains(&cp) {
                                let low = if self.s.get(j..j + 2) == Some(b"\\u") {
                                    self.hex4(j + 2)
                                } else {
                                    None
                                };
                                match low {
                                    Some(lo) if (0xDC00..0xE000).contains(&lo) => {
                                        cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                                        j += 6;
                                    }
                                    _ => return Tok::Error("invalid unicode escape code"),
                                }
                            } else if (0xDC00..0xE000).contains(&cp) {
                                return Tok::Error("invalid unicode escape code");
                            }
                            let ch = char::from_u32(cp).unwrap_or('\u{FFFD}');
                            let mut buf = [0u8; 4];
                            out.extend_from_slice(ch.encode_utf8(&mut buf).as_bytes());
                        }
                        _ => return Tok::Error("invalid escape code"),
                    }
                }
                c => {
                    out.push(c);
                    j += 1;
                }
            }
        }
        self.i = j + 1;
        Tok::Str(out)
    }

    fn fail(&self, expected: &str, tok: &Tok, at: usize) -> mlua::Error {
        err(format!(
            "Expected {expected} but found {} at character {}",
            tok_name(tok),
            at + 1
        ))
    }

    fn value(&mut self, tok: Tok, at: usize, depth: usize) -> mlua::Result<Value> {
        match tok {
            Tok::Str(s) => Ok(Value::String(self.lua.create_string(&s)?)),
            Tok::Num(n) => Ok(Value::Number(n)),
            Tok::Bool(b) => Ok(Value::Boolean(b)),
            Tok::Null => Ok(null()),
            Tok::ObjBegin | Tok::ArrBegin => {
                let depth = depth + 1;
                if depth > self.max_depth {
                    return Err(err(format!(
                        "Found too many nested data structures ({depth}) at character {}",
                        at + 1
                    )));
                }
                let t = self.lua.create_table()?;
                if matches!(tok, Tok::ArrBegin) {
                    let (mut tk, mut tat) = self.next();
                    if matches!(tk, Tok::ArrEnd) {
                        return Ok(Value::Table(t));
                    }
                    let mut idx = 1;
                    loop {
                        let v = self.value(tk, tat, depth)?;
                        t.raw_set(idx, v)?;
                        idx += 1;
                        let (sep, sat) = self.next();
                        match sep {
                            Tok::Comma => {}
                            Tok::ArrEnd => return Ok(Value::Table(t)),
                            other => return Err(self.fail("comma or array end", &other, sat)),
                        }
                        (tk, tat) = self.next();
                    }
                } else {
                    let (mut tk, mut tat) = self.next();
                    if matches!(tk, Tok::ObjEnd) {
                        return Ok(Value::Table(t));
                    }
                    loop {
                        let Tok::Str(key) = tk else {
                            return Err(self.fail("object key string", &tk, tat));
                        };
                        let (colon, cat) = self.next();
                        if !matches!(colon, Tok::Colon) {
                            return Err(self.fail("colon", &colon, cat));
                        }
                        let (vt, vat) = self.next();
                        let v = self.value(vt, vat, depth)?;
                        t.raw_set(self.lua.create_string(&key)?, v)?;
                        let (sep, sat) = self.next();
                        match sep {
                            Tok::Comma => {}
                            Tok::ObjEnd => return Ok(Value::Table(t)),
                            other => return Err(self.fail("comma or object end", &other, sat)),
                        }
                        (tk, tat) = self.next();
                    }
                }
            }
            other => Err(self.fail("value", &other, at)),
        }
    }
}

/// `cjson.decode`.
pub fn decode(lua: &Lua, s: &[u8], max_depth: usize) -> mlua::Result<Value> {
    let mut p = Parser {
        s,
        i: 0,
        lua,
        max_depth,
    };
    let (tok, at) = p.next();
    let v = p.value(tok, at, 0)?;
    let (end, at) = p.next();
    if !matches!(end, Tok::End) {
        return Err(p.fail("the end", &end, at));
    }
    Ok(v)
}

/// `cjson.encode`.
pub fn encode(v: &Value, max_depth: usize) -> mlua::Result<Vec<u8>> {
    let mut out = Vec::new();
    encode_value(&mut out, v, 0, max_depth)?;
    Ok(out)
}

/// The `cjson` module table.
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    let cfg = Arc::new(parking_lot::Mutex::new((DEFAULT_DEPTH, DEFAULT_DEPTH)));
    let c = cfg.clone();
    t.raw_set(
        "encode",
        lua.create_function(move |lua, a: MultiValue| {
            if a.len() != 1 {
                return Err(err(
                    "bad argument #1 to 'encode' (expected 1 argument)".into()
                ));
            }
            let depth = c.lock().0;
            lua.create_string(encode(&a[0], depth)?)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "decode",
        lua.create_function(move |lua, a: MultiValue| {
            if a.len() != 1 {
                return Err(err(
                    "bad argument #1 to 'decode' (expected 1 argument)".into()
                ));
            }
            let s = super::check_bytes(&a[0], 1, "decode")?;
            let depth = c.lock().1;
            decode(lua, &s, depth)
        })?,
    )?;
    let c = cfg.clone();
    t.raw_set(
        "encode_max_depth",
        lua.create_function(move |_, n: Option<f64>| {
            let mut g = c.lock();
            if let Some(n) = n {
                g.0 = n.max(1.0) as usize;
            }
            Ok(g.0 as f64)
        })?,
    )?;
    let c = cfg;
    t.raw_set(
        "decode_max_depth",
        lua.create_function(move |_, n: Option<f64>| {
            let mut g = c.lock();
            if let Some(n) = n {
                g.1 = n.max(1.0) as usize;
            }
            Ok(g.1 as f64)
        })?,
    )?;
    for name in [
        "encode_sparse_array",
        "encode_number_precision",
        "encode_keep_buffer",
        "encode_invalid_numbers",
        "decode_invalid_numbers",
    ] {
        // Accepted for compatibility; the defaults stay in force.
        t.raw_set(name, lua.create_function(|_, a: MultiValue| Ok(a))?)?;
    }
    t.raw_set("null", null())?;
    t.raw_set("_NAME", "cjson")?;
    t.raw_set("_VERSION", "2.1.0")?;
    Ok(t)
}
