//! `bit`: the LuaBitOp API (tobit, tohex, bnot, band, bor, bxor, lshift,
//! rshift, arshift, rol, ror, bswap) on 32-bit integers, as Redis bundles
//! it. Numbers are normalised to int32 modulo 2^32 the way LuaBitOp does
//! (via the 2^52+2^51 trick, so fractions round to nearest even).

use super::check_number;
use mlua::{Lua, MultiValue, Table, Value};

/// LuaBitOp's normalisation of a Lua number to a signed 32-bit integer.
pub fn tobit(n: f64) -> i32 {
    let biased = n + 6_755_399_441_055_744.0;
    biased.to_bits() as u32 as i32
}

fn arg(args: &MultiValue, i: usize, name: &str) -> mlua::Result<i32> {
    let v = args.get(i).cloned().unwrap_or(Value::Nil);
    Ok(tobit(check_number(&v, i + 1, name)?))
}

fn out(v: i32) -> Value {
    Value::Number(v as f64)
}

/// `bit.tohex(x [, n])`.
pub fn tohex(x: i32, n: i32) -> String {
    let (upper, n) = if n < 0 { (true, -n) } else { (false, n) };
    let n = n.clamp(0, 8) as usize;
    let digits: &[u8] = if upper {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    let mut x = x as u32;
    let mut buf = vec![b'0'; n];
    for i in (0..n).rev() {
        buf[i] = digits[(x & 15) as usize];
        x >>= 4;
    }
    String::from_utf8(buf).expect("hex digits")
}

/// The `bit` module table.
pub fn module(lua: &Lua) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "tobit",
        lua.create_function(|_, a: MultiValue| Ok(out(arg(&a, 0, "tobit")?)))?,
    )?;
    t.raw_set(
        "bnot",
        lua.create_function(|_, a: MultiValue| Ok(out(!arg(&a, 0, "bnot")?)))?,
    )?;
    t.raw_set(
        "bswap",
        lua.create_function(|_, a: MultiValue| Ok(out(arg(&a, 0, "bswap")?.swap_bytes())))?,
    )?;
    t.raw_set(
        "tohex",
        lua.create_function(|lua, a: MultiValue| {
            let x = arg(&a, 0, "tohex")?;
            let n = match a.get(1) {
                None | Some(Value::Nil) => 8,
                Some(_) => arg(&a, 1, "tohex")?,
            };
            lua.create_string(tohex(x, n))
        })?,
    )?;
    type Fold = fn(i32, i32) -> i32;
    let folds: [(&str, Fold); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, f) in folds {
        t.raw_set(
            name,
            lua.create_function(move |_, a: MultiValue| {
                let mut acc = arg(&a, 0, name)?;
                for i in 1..a.len() {
                    acc = f(acc, arg(&a, i, name)?);
                }
                Ok(out(acc))
            })?,
        )?;
    }
    type Shift = fn(i32, u32) -> i32;
    let shifts: [(&str, Shift); 5] = [
        ("lshift", |x, n| ((x as u32) << n) as i32),
        ("rshift", |x, n| ((x as u32) >> n) as i32),
        ("arshift", |x, n| x >> n),
        ("rol", |x, n| (x as u32).rotate_left(n) as i32),
        ("ror", |x, n| (x as u32).rotate_right(n) as i32),
    ];
    for (name, f) in shifts {
        t.raw_set(
            name,
            lua.create_function(move |_, a: MultiValue| {
                let x = arg(&a, 0, name)?;
                let n = (arg(&a, 1, name)? as u32) & 31;
                Ok(out(f(x, n)))
            })?,
        )?;
    }
    Ok(t)
}
