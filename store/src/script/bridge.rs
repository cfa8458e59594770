//! The bridge between Lua and the engine: `redis.call`/`redis.pcall`
//! through the one command path, and the type conversions both ways,
//! exactly as Redis 7.0 does them.
//!
//! Reply -> Lua (a command's reply handed to the script), RESP2 (default):
//! integer -> number, bulk -> string, nil bulk / nil array -> false,
//! array -> table, status -> `{ok=...}`, error -> `{err=...}`; RESP3-only
//! shapes are first downgraded as for a RESP2 client (map -> flat array,
//! set -> array, double -> bulk, boolean -> 1/0). After
//! `redis.setresp(3)`: map -> `{map={...}}`, set -> `{set={k=true}}`,
//! null -> nil, boolean -> boolean, double -> `{double=n}`.
//!
//! Lua -> Reply (the script's result): number -> integer (truncated),
//! string -> bulk, true -> 1 (RESP3: true), false -> nil (RESP3: false),
//! table -> `{err=}` error, `{ok=}` status, `{double=}`, `{map=}`,
//! `{set=}`..., else an array of `t[1]..` stopping at the first nil;
//! anything else -> nil.

use super::RunCtx;
use crate::command::Flags;
use crate::engine::Ctx;
use crate::reply::Reply;
use crate::util::fmt_g17;
use mlua::{Lua, MultiValue, Table, Value};

/// Deepest table nesting converted in either direction.
const MAX_DEPTH: usize = 1000;

/// The C body of the functions `bridge.raiser(f)` makes: calls `f` (its
/// upvalue) with the same arguments, expecting `(result, err)`; with `err`
/// nil returns `result`, else raises `err` (a string becomes `{err=...}`).
///
/// Why C: `redis.call`, `redis.setresp` and friends must raise an error
/// *table*, which a Rust callback cannot, and a Lua wrapper would be
/// tail-called away by `return redis.call(...)`, losing the caller's line
/// in the error. A C function keeps the caller's frame, as Redis's does.
///
/// Safety: only Lua C API calls happen here; nothing with a destructor
/// lives in this frame when `lua_call` or `lua_error` unwinds through it.
unsafe extern "C-unwind" fn raiser_c(l: *mut mlua::lua_State) -> std::os::raw::c_int {
    use mlua::ffi;
    let nargs = ffi::lua_gettop(l);
    ffi::luaL_checkstack(l, 4, std::ptr::null());
    ffi::lua_pushvalue(l, ffi::lua_upvalueindex(1));
    ffi::lua_insert(l, 1);
    ffi::lua_call(l, nargs, 2);
    if ffi::lua_type(l, -1) == ffi::LUA_TNIL {
        ffi::lua_pop(l, 1);
        return 1;
    }
    if ffi::lua_type(l, -1) == ffi::LUA_TSTRING {
        ffi::lua_createtable(l, 0, 1);
        ffi::lua_insert(l, -2);
        ffi::lua_setfield(l, -2, c"err".as_ptr());
    }
    ffi::lua_error(l)
}

/// The Rust helpers the prelude reaches through its private table.
pub(crate) fn helpers(lua: &Lua, busy: std::sync::Arc<super::Busy>) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(
        "killed",
        lua.create_function(move |_, ()| Ok(busy.kill_requested()))?,
    )?;
    t.raw_set(
        "raiser",
        lua.create_function(|lua, f: mlua::Function| {
            // SAFETY: pushes one C closure capturing the function argument
            // (the only value exec_raw pushed) as its upvalue.
            unsafe {
                lua.exec_raw::<mlua::Function>(f, |l| {
                    mlua::ffi::lua_pushcclosure(l, raiser_c, 1);
                })
            }
        })?,
    )?;
    t.raw_set(
        "errtext",
        lua.create_function(|_, v: Value| {
            Ok(match v {
                Value::Error(e) => error_text(&e),
                other => (format!("{other:?}"), false),
            })
        })?,
    )?;
    t.raw_set(
        "sha1hex",
        lua.create_function(|lua, args: MultiValue| {
            if args.len() != 1 {
                return Ok((
                    Value::Nil,
                    Some("ERR wrong number of arguments".to_string()),
                ));
            }
            let bytes = match args.front() {
                Some(Value::String(s)) => s.as_bytes().to_vec(),
                Some(Value::Integer(i)) => crate::util::fmt_g(*i as f64, 14).into_bytes(),
                Some(Value::Number(n)) => crate::util::fmt_g(*n, 14).into_bytes(),
                _ => Vec::new(),
            };
            Ok((
                Value::String(lua.create_string(super::sha1_hex(&bytes))?),
                None,
            ))
        })?,
    )?;
    t.raw_set(
        "log",
        lua.create_function(|_, args: MultiValue| {
            let err = |m: &str| Ok((Value::Nil, Some(m.to_string())));
            if args.len() < 2 {
                return err("ERR redis.log() requires two arguments or more.");
            }
            let level = match args.front() {
                Some(Value::Integer(i)) => *i as f64,
                Some(Value::Number(n)) => *n,
                _ => return err("ERR First argument must be a number (log level)."),
            };
            if !(0.0..=3.0).contains(&level) {
                return err("ERR Invalid debug level.");
            }
            // The engine has no log file: messages are dropped.
            Ok((Value::Nil, None))
        })?,
    )?;
    t.raw_set(
        "set_repl",
        lua.create_function(|_, args: MultiValue| {
            let err = |m: &str| Ok((Value::Nil, Some(m.to_string())));
            if args.len() != 1 {
                return err("ERR redis.set_repl() requires two arguments.");
            }
            let ok = match args.front() {
                Some(Value::Integer(i)) => (0..=3).contains(i),
                _ => false,
            };
            if !ok {
                return err(
                    "ERR Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
                );
            }
            // Effects are always replicated in full, as in Redis 7.0 with
            // REPL_ALL; other settings are accepted and ignored.
            Ok((Value::Nil, None))
        })?,
    )?;
    t.raw_set(
        "acl_check_cmd",
        lua.create_function(|_, args: MultiValue| {
            let argv = match lua_args(&args) {
                Ok(a) => a,
                Err(e) => return Ok((Value::Nil, Some(e.to_string()))),
            };
            match crate::command::lookup(&argv[0]) {
                // No ACLs: every known command is permitted.
                Some(_) => Ok((Value::Boolean(true), None)),
                None => Ok((
                    Value::Nil,
                    Some("ERR Invalid command passed to redis.acl_check_cmd()".into()),
                )),
            }
        })?,
    )?;
    Ok(t)
}

/// The text of an mlua error raised from Rust (the kill hook, a library
/// function), and whether the caller's position should prefix it (library
/// errors, like Lua's own `error`), which the kill error does not.
pub(crate) fn error_text(e: &mlua::Error) -> (String, bool) {
    match e {
        mlua::Error::CallbackError { cause, .. } => error_text(cause),
        mlua::Error::RuntimeError(s) if s == super::KILLED => (s.clone(), false),
        mlua::Error::RuntimeError(s) if s == super::functions::LOAD_TIMEOUT => (s.clone(), false),
        mlua::Error::RuntimeError(s) => (s.clone(), true),
        other => (other.to_string(), true),
    }
}

/// Converts `redis.call` arguments to byte strings: strings as they are,
/// numbers with `%.17g` (as Redis does), anything else refused with
/// Redis's message.
fn lua_args(args: &MultiValue) -> Result<Vec<Vec<u8>>, &'static str> {
    if args.is_empty() {
        return Err("ERR Please specify at least one argument for this redis lib call");
    }
    let mut out = Vec::with_capacity(args.len());
    for v in args.iter() {
        out.push(match v {
            Value::String(s) => s.as_bytes().to_vec(),
            Value::Integer(i) => i.to_string().into_bytes(),
            Value::Number(n) => fmt_g17(*n).into_bytes(),
            _ => return Err("ERR Lua redis lib command arguments must be strings or integers"),
        });
    }
    Ok(out)
}

/// An error reply as the `err` text Lua sees: Redis splits `CODE msg` at
/// the first space and gives a code-less message the `ERR` code.
pub fn lua_error_text(reply_text: &str) -> String {
    match reply_text.find(' ') {
        Some(_) => reply_text.trim_end_matches(['\r', '\n']).to_string(),
        None => format!("ERR {}", reply_text.trim_end_matches(['\r', '\n'])),
    }
}

fn err_table(lua: &Lua, msg: &str) -> mlua::Result<Value> {
    let t = lua.create_table()?;
    t.raw_set("err", msg)?;
    Ok(Value::Table(t))
}

/// `redis.call` (`raise`) and `redis.pcall`: runs one command through the
/// dispatcher with the engine lock already held. Returns the converted
/// reply and whether the prelude must raise it (an error under
/// `redis.call`).
pub(crate) fn dispatch(
    lua: &Lua,
    ctx: &mut Ctx<'_>,
    run: &RunCtx,
    resp: u8,
    raise: bool,
    args: MultiValue,
) -> mlua::Result<(Value, bool)> {
    let fail = |msg: &str| -> mlua::Result<(Value, bool)> { Ok((err_table(lua, msg)?, raise)) };
    let argv = match lua_args(&args) {
        Ok(a) => a,
        Err(e) => return fail(e),
    };
    let Some(spec) = crate::command::lookup(&argv[0]) else {
        return fail("ERR Unknown Redis command called from script");
    };
    if !spec.arity_ok(argv.len()) {
        return fail("ERR Wrong number of args calling Redis command from script");
    }
    if super::denied_in_scripts(spec) {
        return fail("ERR This Redis command is not allowed from script");
    }
    if spec.flags.contains(Flags::WRITE) {
        if run.read_only {
            return fail("ERR Write commands are not allowed from read-only scripts.");
        }
        super::note_write(ctx);
    }
    let refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
    let caller_resp = ctx.session.resp;
    ctx.session.resp = resp;
    let reply = ctx.call(spec, &refs);
    ctx.session.resp = caller_resp;
    if let Reply::Error(text) = &reply {
        return fail(&lua_error_text(text));
    }
    Ok((to_lua(lua, &reply, resp, 0)?, false))
}

/// A command's reply as the Lua value the script sees.
pub fn to_lua(lua: &Lua, reply: &Reply, resp: u8, depth: usize) -> mlua::Result<Value> {
    if depth > MAX_DEPTH {
        return Err(mlua::Error::runtime("reached lua stack limit"));
    }
    let resp3 = resp == 3;
    let single = |k: &str, v: Value| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        t.raw_set(k, v)?;
        Ok(Value::Table(t))
    };
    let array = |items: &mut dyn Iterator<Item = &Reply>| -> mlua::Result<Value> {
        let t = lua.create_table()?;
        for (i, it) in items.enumerate() {
            t.raw_set(i + 1, to_lua(lua, it, resp, depth + 1)?)?;
        }
        Ok(Value::Table(t))
    };
    Ok(match reply {
        Reply::Int(i) => Value::Number(*i as f64),
        Reply::Bulk(b) => Value::String(lua.create_string(&b[..])?),
        Reply::Verbatim(s) if resp3 => {
            let t = lua.create_table()?;
            t.raw_set("format", "txt")?;
            t.raw_set("string", lua.create_string(s)?)?;
            single("verbatim_string", Value::Table(t))?
        }
        Reply::Verbatim(s) => Value::String(lua.create_string(s)?),
        Reply::Status(s) => single("ok", Value::String(lua.create_string(s.as_bytes())?))?,
        Reply::Error(s) => single("err", Value::String(lua.create_string(lua_error_text(s))?))?,
        Reply::Nil | Reply::NilArray => {
            if resp3 {
                Value::Nil
            } else {
                Value::Boolean(false)
            }
        }
        Reply::Array(items) | Reply::Push(items) => array(&mut items.iter())?,
        Reply::Set(items) if resp3 => {
            let t = lua.create_table()?;
            for it in items {
                t.raw_set(to_lua(lua, it, resp, depth + 1)?, true)?;
            }
            single("set", Value::Table(t))?
        }
        Reply::Set(items) => array(&mut items.iter())?,
        Reply::Map(pairs) if resp3 => {
            let t = lua.create_table()?;
            for (k, v) in pairs {
                t.raw_set(
                    to_lua(lua, k, resp, depth + 1)?,
                    to_lua(lua, v, resp, depth + 1)?,
                )?;
            }
            single("map", Value::Table(t))?
        }
        Reply::Map(pairs) => array(&mut pairs.iter().flat_map(|(k, v)| [k, v]))?,
        Reply::Double(d) if resp3 => single("double", Value::Number(*d))?,
        Reply::Double(d) => Value::String(lua.create_string(fmt_g17(*d))?),
        Reply::Bool(b) if resp3 => Value::Boolean(*b),
        Reply::Bool(b) => Value::Number(if *b { 1.0 } else { 0.0 }),
    })
}

/// The script's result as a reply. `resp`: the protocol the script set
/// with `redis.setresp` (booleans depend on it, as in Redis).
pub fn to_reply(v: &Value, resp: u8) -> Reply {
    to_reply_depth(v, resp, 0)
}

fn to_reply_depth(v: &Value, resp: u8, depth: usize) -> Reply {
    if depth > MAX_DEPTH {
        return Reply::err("ERR reached lua stack limit");
    }
    match v {
        Value::String(s) => Reply::bulk(&s.as_bytes()),
        Value::Integer(i) => Reply::Int(*i),
        Value::Number(n) => Reply::Int(truncate(*n)),
        Value::Boolean(b) => {
            if resp == 3 {
                Reply::Bool(*b)
            } else if *b {
                Reply::Int(1)
            } else {
                Reply::Nil
            }
        }
        Value::Table(t) => table_reply(t, resp, depth),
        _ => Reply::Nil,
    }
}

/// C's `(long long)` conversion of a Lua number (saturating, NaN -> 0 on
/// the platforms Redis runs on is undefined; we pick the saturating cast).
fn truncate(n: f64) -> i64 {
    n as i64
}

fn table_reply(t: &Table, resp: u8, depth: usize) -> Reply {
    match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => {
            return Reply::err(super::sandbox::sanitize(s.to_string_lossy()));
        }
        Ok(Value::Integer(_) | Value::Number(_)) => {
            let s: String = t.raw_get("err").unwrap_or_default();
            return Reply::err(s);
        }
        _ => {}
    }
    match t.raw_get::<Value>("ok") {
        Ok(Value::String(s)) => {
            return Reply::Status(super::sandbox::sanitize(s.to_string_lossy()).into());
        }
        Ok(Value::Integer(_) | Value::Number(_)) => {
            return Reply::Status(t.raw_get::<String>("ok").unwrap_or_default().into());
        }
        _ => {}
    }
    match t.raw_get::<Value>("double") {
        Ok(Value::Integer(i)) => return Reply::Double(i as f64),
        Ok(Value::Number(n)) => return Reply::Double(n),
        _ => {}
    }
    if let Ok(Value::String(s)) = t.raw_get::<Value>("big_number") {
        return Reply::bulk(&s.as_bytes());
    }
    if let Ok(Value::Table(v)) = t.raw_get::<Value>("verbatim_string") {
        if let Ok(Value::String(s)) = v.raw_get::<Value>("string") {
            return Reply::Verbatim(s.to_string_lossy());
        }
    }
    if let Ok(Value::Table(m)) = t.raw_get::<Value>("map") {
        let mut pairs = Vec::new();
        for (k, v) in m.pairs::<Value, Value>().flatten() {
            pairs.push((
                to_reply_depth(&k, resp, depth + 1),
                to_reply_depth(&v, resp, depth + 1),
            ));
        }
        return Reply::Map(pairs);
    }
    if let Ok(Value::Table(s)) = t.raw_get::<Value>("set") {
        let mut items = Vec::new();
        for (k, _) in s.pairs::<Value, Value>().flatten() {
            items.push(to_reply_depth(&k, resp, depth + 1));
        }
        return Reply::Set(items);
    }
    let mut items = Vec::new();
    let mut i = 1;
    loop {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(to_reply_depth(&v, resp, depth + 1)),
        }
        i += 1;
    }
    Reply::Array(items)
}
