//! `cmsgpack`: MessagePack as Redis's bundled lua-cmsgpack 0.4 does it:
//! `cmsgpack.pack(...)` (each argument packed, concatenated),
//! `cmsgpack.unpack(s)` (every value in `s`), `cmsgpack.unpack_one(s
//! [, offset])` and `cmsgpack.unpack_limit(s, limit [, offset])` (the next
//! offset, or -1 at the end, then the values).
//!
//! Packing: integral numbers use the smallest integer format, other numbers
//! float 32 when exact, else float 64; strings are str formats; a table
//! with keys 1..n and no holes is an array, any other a map; nesting
//! deeper than 16 packs nil.

use mlua::{Lua, MultiValue, Table, Value};

const MAX_NESTING: usize = 16;

fn err(msg: &str) -> mlua::Error {
    mlua::Error::runtime(msg.to_string())
}

fn pack_int(out: &mut Vec<u8>, n: i64) {
    if n >= 0 {
        let u = n as u64;
        if u <= 127 {
            out.push(u as u8);
        } else if u <= 0xff {
            out.extend_from_slice(&[0xcc, u as u8]);
        } else if u <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(u as u16).to_be_bytes());
        } else if u <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(u as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&u.to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_number(out: &mut Vec<u8>, n: f64) {
    if n.is_finite() && n.fract() == 0.0 && (-9.2e18..=1.8e19).contains(&n) {
        if n >= 0.0 && n > i64::MAX as f64 {
            out.push(0xcf);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        } else {
            pack_int(out, n as i64);
        }
    } else if (n as f32) as f64 == n || n.is_nan() && (n as f32).is_nan() {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

fn pack_len(out: &mut Vec<u8>, len: usize, fix: u8, fix_max: usize, b16: u8, b32: u8) {
    if len <= fix_max {
        out.push(fix | len as u8);
    } else if len <= 0xffff {
        out.push(b16);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(b32);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
}

fn pack_str(out: &mut Vec<u8>, s: &[u8]) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// `Some(n)` when `t` has exactly the keys 1..n.
fn array_len(t: &Table) -> mlua::Result<Option<usize>> {
    let mut count = 0usize;
    let mut max = 0usize;
    for pair in t.pairs::<Value, Value>() {
        let (k, _) = pair?;
        let n = match k {
            Value::Integer(i) if i >= 1 => i as usize,
            Value::Number(n) if n >= 1.0 && n.fract() == 0.0 => n as usize,
            _ => return Ok(None),
        };
        max = max.max(n);
        count += 1;
    }
    Ok((max == count).then_some(count))
}

fn pack_value(out: &mut Vec<u8>, v: &Value, level: usize) -> mlua::Result<()> {
    match v {
        Value::Nil => out.push(0xc0),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        Value::Integer(i) => pack_int(out, *i),
        Value::Number(n) => pack_number(out, *n),
        Value::String(s) => pack_str(out, &s.as_bytes()),
        Value::Table(t) if level < MAX_NESTING => match array_len(t)? {
            Some(n) => {
                pack_len(out, n, 0x90, 15, 0xdc, 0xdd);
                for i in 1..=n {
                    pack_value(out, &t.raw_get::<Value>(i)?, level + 1)?;
                }
            }
            None => {
                let pairs: Vec<(Value, Value)> =
                    t.pairs::<Value, Value>().collect::<Result<_, _>>()?;
                pack_len(out, pairs.len(), 0x80, 15, 0xde, 0xdf);
                for (k, val) in &pairs {
                    pack_value(out, k, level + 1)?;
                    pack_value(out, val, level + 1)?;
                }
            }
        },
        _ => out.push(0xc0),
    }
    Ok(())
}

/// `cmsgpack.pack(...)`.
pub fn pack(args: &MultiValue) -> mlua::Result<Vec<u8>> {
    if args.is_empty() {
        return Err(err("MessagePack pack needs input."));
    }
    let mut out = Vec::new();
    for v in args.iter() {
        pack_value(&mut out, v, 0)?;
    }
    Ok(out)
}

struct Reader<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> mlua::Result<&'a [u8]> {
        let b = self
            .s
            .get(self.i..self.i + n)
            .ok_or_else(|| err("Missing bytes in input."))?;
        self.i += n;
        Ok(b)
    }

    fn uint(&mut self, n: usize) -> mlua::Result<u64> {
        Ok(self.take(n)?.iter().fold(0u64, |a, &b| (a << 8) | b as u64))
    }

    fn value(&mut self, lua: &Lua) -> mlua::Result<Value> {
        let c = self.take(1)?[0];
        Ok(match c {
            0x00..=0x7f => Value::Number(c as f64),
            0xe0..=0xff => Value::Number(c as i8 as f64),
            0xc0 => Value::Nil,
            0xc2 => Value::Boolean(false),
            0xc3 => Value::Boolean(true),
            0xcc => Value::Number(self.uint(1)? as f64),
            0xcd => Value::Number(self.uint(2)? as f64),
            0xce => Value::Number(self.uint(4)? as f64),
            0xcf => Value::Number(self.uint(8)? as f64),
            0xd0 => Value::Number(self.uint(1)? as u8 as i8 as f64),
            0xd1 => Value::Number(self.uint(2)? as u16 as i16 as f64),
            0xd2 => Value::Number(self.uint(4)? as u32 as i32 as f64),
            0xd3 => Value::Number(self.uint(8)? as i64 as f64),
            0xca => Value::Number(f32::from_bits(self.uint(4)? as u32) as f64),
            0xcb => Value::Number(f64::from_bits(self.uint(8)?)),
            0xa0..=0xbf => self.string(lua, (c & 0x1f) as usize)?,
            0xd9 | 0xc4 => {
                let n = self.uint(1)? as usize;
                self.string(lua, n)?
            }
            0xda | 0xc5 => {
                let n = self.uint(2)? as usize;
                self.string(lua, n)?
            }
            0xdb | 0xc6 => {
                let n = self.uint(4)? as usize;
                self.string(lua, n)?
            }
            0x90..=0x9f => self.array(lua, (c & 0x0f) as usize)?,
            0xdc => {
                let n = self.uint(2)? as usize;
                self.array(lua, n)?
            }
            0xdd => {
                let n = self.uint(4)? as usize;
                self.array(lua, n)?
            }
            0x80..=0x8f => self.map(lua, (c & 0x0f) as usize)?,
            0xde => {
                let n = self.uint(2)? as usize;
                self.map(lua, n)?
            }
            0xdf => {
                let n = self.uint(4)? as usize;
                self.map(lua, n)?
            }
            _ => return Err(err("Bad data format in input.")),
        })
    }

    fn string(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        Ok(Value::String(lua.create_string(self.take(n)?)?))
    }

    fn array(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        let t = lua.create_table()?;
        for i in 1..=n {
            let v = self.value(lua)?;
            t.raw_set(i, v)?;
        }
        Ok(Value::Table(t))
    }

    fn map(&mut self, lua: &Lua, n: usize) -> mlua::Result<Value> {
        let t = lua.create_table()?;
        for _ in 0..n {
            let k = self.value(lua)?;
            let v = self.value(lua)?;
            if !matches!(k, Value::Nil) {
                t.raw_set(k, v)?;
            }
        }
        Ok(Value::Table(t))
    }
}

/// Decodes up to `limit` values (0: all) from `s` starting at `offset`;
/// returns the values and the offset after them.
pub fn unpack(
    lua: &Lua,
    s: &[u8],
    limit: usize,
    offset: usize,
) -> mlua::Result<(Vec<Value>, usize)> {
    let mut r = Reader { s, i: offset };
    let mut out = Vec::new();
    while r.i < s.len() && (limit == 0 || out.len() < limit) {
        out.push(r.value(lua)?);
    }
    Ok((out, r.i))
}

fn limited(lua: &Lua, a: &MultiValue, limit_arg: bool) -> mlua::Result<MultiValue> {
    let s = super::check_bytes(&a.front().cloned().unwrap_or(Value::Nil), 1, "unpack")?;
    let num = |i: usize| -> mlua::Result<i64> {
        match a.get(i) {
            None | Some(Value::Nil) => Ok(0),
            Some(v) => Ok(super::check_number(v, i + 1, "unpack")? as i64),
        }
    };
    let (limit, offset) = if limit_arg {
        (num(1)?, num(2)?)
    } else {
        (1, num(1)?)
    };
    if offset < 0 || limit < 0 {
        return Err(err(&format!(
            "Invalid request to unpack with offset of {offset} and limit of {limit}."
        )));
    }
    if offset as usize > s.len() {
        return Err(err(&format!(
            "Start offset {offset} greater than input length {}.",
            s.len()
        )));
    }
    let (vals, end) = unpack(lua, &s, limit as usize, offset as usize)?;
    let next = if end >= s.len() { -1.0 } else { end as f64 };
    let mut out = vec![Value::Number(next)];
    out.extend(vals);
    Ok(MultiValue::from_vec(out))
}

/// The `cmsgpack` module table.
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, a: MultiValue| lua.create_string(pack(&a)?))?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, a: MultiValue| {
            let s = super::check_bytes(&a.front().cloned().unwrap_or(Value::Nil), 1, "unpack")?;
            let (vals, _) = unpack(lua, &s, 0, 0)?;
            Ok(MultiValue::from_vec(vals))
        })?,
    )?;
    t.raw_set(
        "unpack_one",
        lua.create_function(|lua, a: MultiValue| limited(lua, &a, false))?,
    )?;
    t.raw_set(
        "unpack_limit",
        lua.create_function(|lua, a: MultiValue| limited(lua, &a, true))?,
    )?;
    t.raw_set("_NAME", "cmsgpack")?;
    t.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    Ok(t)
}
