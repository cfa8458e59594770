//! The libraries Redis bundles with its Lua, written in Rust: `bit`
//! (LuaBitOp), `struct` (binary packing), `cjson` (JSON) and `cmsgpack`
//! (MessagePack). Each behaves as Redis's for normal inputs.

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod structlib;

use mlua::{Lua, Table, Value};

/// Installs the four libraries as globals of `lua` (in `g`).
pub fn register(lua: &Lua, g: &Table) -> mlua::Result<()> {
    g.raw_set("bit", bit::module(lua)?)?;
    g.raw_set("struct", structlib::module(lua)?)?;
    g.raw_set("cjson", cjson::module(lua)?)?;
    g.raw_set("cmsgpack", cmsgpack::module(lua)?)?;
    Ok(())
}

/// Lua's `luaL_checknumber`: a number, or a string that converts to one.
pub(crate) fn check_number(v: &Value, argn: usize, fname: &str) -> mlua::Result<f64> {
    match v {
        Value::Integer(i) => Ok(*i as f64),
        Value::Number(n) => Ok(*n),
        Value::String(s) => s
            .to_str()
            .ok()
            .and_then(|s| parse_lua_number(s.trim()))
            .ok_or_else(|| bad_arg(argn, fname, "number", v)),
        _ => Err(bad_arg(argn, fname, "number", v)),
    }
}

/// Lua's `luaL_checklstring`: a string, or a number formatted as Lua does.
pub(crate) fn check_bytes(v: &Value, argn: usize, fname: &str) -> mlua::Result<Vec<u8>> {
    match v {
        Value::String(s) => Ok(s.as_bytes().to_vec()),
        Value::Integer(i) => Ok(i.to_string().into_bytes()),
        Value::Number(n) => Ok(crate::util::fmt_g(*n, 14).into_bytes()),
        _ => Err(bad_arg(argn, fname, "string", v)),
    }
}

/// Lua's "bad argument" error.
pub(crate) fn bad_arg(argn: usize, fname: &str, expected: &str, got: &Value) -> mlua::Error {
    let got = match got {
        Value::Nil => "no value",
        other => other.type_name(),
    };
    mlua::Error::runtime(format!(
        "bad argument #{argn} to '{fname}' ({expected} expected, got {got})"
    ))
}

/// `lua_str2number`: decimal or hexadecimal.
pub(crate) fn parse_lua_number(s: &str) -> Option<f64> {
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.strip_prefix('+').unwrap_or(s)),
    };
    if let Some(hex) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        let v = u64::from_str_radix(hex, 16).ok()? as f64;
        return Some(if neg { -v } else { v });
    }
    if s.is_empty() || s.eq_ignore_ascii_case("inf") || s.eq_ignore_ascii_case("nan") {
        return None;
    }
    s.parse::<f64>().ok()
}
