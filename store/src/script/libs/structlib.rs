//! `struct`: Roberto Ierusalimschy's binary packing library as Redis
//! bundles it: `struct.pack(fmt, ...)`, `struct.unpack(fmt, s [, pos])`
//! (values, then the next position) and `struct.size(fmt)`.
//!
//! Format: `<` little, `>` big, `=` native (little) endian, `!n` alignment;
//! `b/B` char, `h/H` short, `l/L` long (8), `T` size_t (8), `i/I[n]` int of
//! n bytes (default 4), `f` float, `d` double, `x` pad byte, `s` zero
//! terminated string, `c[n]` n chars (`c0`: the whole string when packing,
//! the previous number as length when unpacking); spaces are ignored.

use super::{check_bytes, check_number};
use mlua::{Lua, MultiValue, Table, Value};

const MAXINTSIZE: usize = 32;
const MAXALIGN: usize = 8;

struct Header {
    little: bool,
    align: usize,
}

fn err(msg: String) -> mlua::Error {
    mlua::Error::runtime(msg)
}

fn argerr(n: usize, fname: &str, msg: &str) -> mlua::Error {
    err(format!("bad argument #{n} to '{fname}' ({msg})"))
}

fn getnum(fmt: &[u8], i: &mut usize, default: usize) -> usize {
    if *i >= fmt.len() || !fmt[*i].is_ascii_digit() {
        return default;
    }
    let mut a: usize = 0;
    while *i < fmt.len() && fmt[*i].is_ascii_digit() {
        a = a
            .saturating_mul(10)
            .saturating_add((fmt[*i] - b'0') as usize);
        *i += 1;
    }
    a
}

fn optsize(opt: u8, fmt: &[u8], i: &mut usize) -> mlua::Result<usize> {
    Ok(match opt {
        b'B' | b'b' | b'x' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'c' => getnum(fmt, i, 1),
        b'i' | b'I' => {
            let sz = getnum(fmt, i, 4);
            if sz > MAXINTSIZE {
                return Err(err(format!(
                    "integral size {sz} is larger than limit of {MAXINTSIZE}"
                )));
            }
            sz
        }
        _ => 0,
    })
}

fn toalign(len: usize, h: &Header, opt: u8, size: usize) -> mlua::Result<usize> {
    let mut align = size;
    if align <= 1 || opt == b'c' {
        return Ok(0);
    }
    if align > h.align {
        align = h.align;
    }
    if align & (align - 1) != 0 {
        return Err(err(format!("alignment {align} is not a power of 2")));
    }
    Ok((align - (len & (align - 1))) & (align - 1))
}

fn control(opt: u8, fmt: &[u8], i: &mut usize, h: &mut Header, fname: &str) -> mlua::Result<()> {
    match opt {
        b' ' => {}
        b'>' => h.little = false,
        b'<' | b'=' => h.little = true,
        b'!' => h.align = getnum(fmt, i, MAXALIGN),
        _ => {
            return Err(argerr(
                1,
                fname,
                &format!("invalid format option '{}'", opt as char),
            ))
        }
    }
    Ok(())
}

fn put_int(out: &mut Vec<u8>, n: f64, little: bool, size: usize) {
    let mut v: u64 = if n < 0.0 { n as i64 as u64 } else { n as u64 };
    let mut bytes = vec![0u8; size];
    for b in bytes.iter_mut() {
        *b = v as u8;
        v = v.checked_shr(8).unwrap_or(0);
    }
    if !little {
        bytes.reverse();
    }
    out.extend_from_slice(&bytes);
}

fn get_int(data: &[u8], little: bool, signed: bool, size: usize) -> f64 {
    let mut v: u64 = 0;
    let limit = size.min(8);
    for i in 0..limit {
        let b = if little {
            data[limit - 1 - i]
        } else {
            data[size - limit + i]
        };
        v = (v << 8) | b as u64;
    }
    if signed && size <= 8 && size > 0 {
        let shift = 64 - 8 * size as u32;
        ((v << shift) as i64 >> shift) as f64
    } else {
        v as f64
    }
}

fn arg(args: &MultiValue, i: usize) -> Value {
    args.get(i).cloned().unwrap_or(Value::Nil)
}

/// `struct.pack`.
pub fn pack(args: &MultiValue) -> mlua::Result<Vec<u8>> {
    let fmt = check_bytes(&arg(args, 0), 1, "pack")?;
    let mut h = Header {
        little: true,
        align: 1,
    };
    let mut out = Vec::new();
    let mut argi = 1;
    let mut i = 0;
    while i < fmt.len() {
        let opt = fmt[i];
        i += 1;
        let mut size = optsize(opt, &fmt, &mut i)?;
        let pad = toalign(out.len(), &h, opt, size)?;
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = check_number(&arg(args, argi), argi + 1, "pack")?;
                argi += 1;
                put_int(&mut out, n, h.little, size);
            }
            b'x' => out.push(0),
            b'f' => {
                let n = check_number(&arg(args, argi), argi + 1, "pack")? as f32;
                argi += 1;
                let b = if h.little {
                    n.to_le_bytes()
                } else {
                    n.to_be_bytes()
                };
                out.extend_from_slice(&b);
            }
            b'd' => {
                let n = check_number(&arg(args, argi), argi + 1, "pack")?;
                argi += 1;
                let b = if h.little {
                    n.to_le_bytes()
                } else {
                    n.to_be_bytes()
                };
                out.extend_from_slice(&b);
            }
            b'c' | b's' => {
                let s = check_bytes(&arg(args, argi), argi + 1, "pack")?;
                argi += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    return Err(argerr(argi, "pack", "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => control(opt, &fmt, &mut i, &mut h, "pack")?,
        }
    }
    Ok(out)
}

/// `struct.unpack`: the values, then the next position.
pub fn unpack(lua: &Lua, args: &MultiValue) -> mlua::Result<MultiValue> {
    let fmt = check_bytes(&arg(args, 0), 1, "unpack")?;
    let data = check_bytes(&arg(args, 1), 2, "unpack")?;
    let start = match arg(args, 2) {
        Value::Nil => 1.0,
        v => check_number(&v, 3, "unpack")?,
    };
    if start < 1.0 {
        return Err(argerr(3, "unpack", "offset must be 1 or greater"));
    }
    let mut pos = start as usize - 1;
    let mut h = Header {
        little: true,
        align: 1,
    };
    let mut out: Vec<Value> = Vec::new();
    let mut i = 0;
    while i < fmt.len() {
        let opt = fmt[i];
        i += 1;
        let mut size = optsize(opt, &fmt, &mut i)?;
        pos += toalign(pos, &h, opt, size)?;
        if pos + size > data.len() {
            return Err(argerr(2, "unpack", "data string too short"));
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = opt.is_ascii_lowercase();
                out.push(Value::Number(get_int(
                    &data[pos..pos + size],
                    h.little,
                    signed,
                    size,
                )));
            }
            b'x' => {}
            b'f' => {
                let b: [u8; 4] = data[pos..pos + 4].try_into().expect("4 bytes");
                let f = if h.little {
                    f32::from_le_bytes(b)
                } else {
                    f32::from_be_bytes(b)
                };
                out.push(Value::Number(f as f64));
            }
            b'd' => {
                let b: [u8; 8] = data[pos..pos + 8].try_into().expect("8 bytes");
                let f = if h.little {
                    f64::from_le_bytes(b)
                } else {
                    f64::from_be_bytes(b)
                };
                out.push(Value::Number(f));
            }
            b'c' => {
                if size == 0 {
                    let n = match out.last() {
                        Some(Value::Number(n)) => *n,
                        Some(Value::Integer(n)) => *n as f64,
                        _ => return Err(err("format 'c0' needs a previous size".into())),
                    };
                    out.pop();
                    size = n as usize;
                    if size > data.len() - pos {
                        return Err(argerr(2, "unpack", "data string too short"));
                    }
                }
                out.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(end) = data[pos..].iter().position(|&c| c == 0) else {
                    return Err(err("unfinished string in data".into()));
                };
                out.push(Value::String(lua.create_string(&data[pos..pos + end])?));
                size = end + 1;
            }
            _ => control(opt, &fmt, &mut i, &mut h, "unpack")?,
        }
        pos += size;
    }
    out.push(Value::Number((pos + 1) as f64));
    Ok(MultiValue::from_vec(out))
}

/// `struct.size`.
pub fn size(args: &MultiValue) -> mlua::Result<f64> {
    let fmt = check_bytes(&arg(args, 0), 1, "size")?;
    let mut h = Header {
        little: true,
        align: 1,
    };
    let mut pos = 0usize;
    let mut i = 0;
    while i < fmt.len() {
        let opt = fmt[i];
        i += 1;
        let size = optsize(opt, &fmt, &mut i)?;
        pos += toalign(pos, &h, opt, size)?;
        if opt == b's' {
            return Err(argerr(1, "size", "options 'c0' - 's' have undefined sizes"));
        }
        if opt == b'c' && size == 0 {
            return Err(argerr(1, "size", "options 'c0' - 's' have undefined sizes"));
        }
        if !b"bBhHlLTiIxfdc".contains(&opt) {
            control(opt, &fmt, &mut i, &mut h, "size")?;
        }
        pos += size;
    }
    Ok(pos as f64)
}

/// The `struct` module table.
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "pack",
        lua.create_function(|lua, a: MultiValue| lua.create_string(pack(&a)?))?,
    )?;
    t.raw_set(
        "unpack",
        lua.create_function(|lua, a: MultiValue| unpack(lua, &a))?,
    )?;
    t.raw_set("size", lua.create_function(|_, a: MultiValue| size(&a))?)?;
    Ok(t)
}
