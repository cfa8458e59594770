//! A Lua 5.1 VM shaped like Redis 7.0's: the allowed globals, read-only
//! globals and library tables, the `redis` API, the bundled libraries, the
//! error handler and the kill hook. The Lua side of the setup is
//! `prelude.lua`; this file builds the VM around it and runs scripts.

use super::{bridge, Busy, RunCtx, HOOK_EVERY, KILLED};
use crate::engine::Ctx;
use crate::reply::Reply;
use mlua::{
    chunk::ChunkMode, Function, HookTriggers, Lua, LuaOptions, MultiValue, StdLib, Table, Value,
    VmState,
};
use std::cell::Cell;
use std::sync::Arc;

/// The Redis version scripts see (`redis.REDIS_VERSION`).
pub const REDIS_VERSION: &str = "7.0.15";
/// `redis.REDIS_VERSION_NUM`: 0x00MMmmpp.
pub const REDIS_VERSION_NUM: i64 = 0x0007_000f;

const PRELUDE: &str = include_str!("prelude.lua");

/// Which VM: the one EVAL scripts share, or the one function libraries
/// share (its globals switch to the load-time API during FUNCTION LOAD).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// EVAL / EVALSHA scripts.
    Eval,
    /// FUNCTION libraries.
    Function,
}

/// One Lua VM and the handles the runner needs. Cloning clones handles.
#[derive(Clone)]
pub struct Vm {
    lua: Lua,
    /// Private table of Rust helpers the prelude calls (`dispatch`, ...).
    bridge: Table,
    /// The message handler scripts run under.
    handler: Function,
    /// The real `xpcall` (mlua's), kept out of the user's reach.
    xpcall: Function,
    /// The real globals table, behind the read-only proxy scripts see.
    globals: Table,
    /// `invoke(f, handler, keys, args)`: xpcall with arguments.
    invoke: Function,
}

impl Vm {
    /// Builds a VM: standard libraries, the bundled libraries, the prelude,
    /// and the instruction hook that honours SCRIPT KILL and the FUNCTION
    /// LOAD timeout.
    pub fn new(kind: Kind, busy: Arc<Busy>) -> mlua::Result<Vm> {
        // SAFETY: the debug library is needed by the prelude's error
        // handler; the prelude captures it in a local and removes it from
        // the globals before any user code runs.
        let lua = unsafe {
            Lua::unsafe_new_with(
                StdLib::TABLE | StdLib::STRING | StdLib::MATH | StdLib::DEBUG,
                LuaOptions::new(),
            )
        };
        let g = lua.globals();
        super::libs::register(&lua, &g)?;
        let xpcall: Function = g.get("xpcall")?;
        let bridge = bridge::helpers(&lua, busy.clone())?;
        let kind_name = match kind {
            Kind::Eval => "eval",
            Kind::Function => "function",
        };
        let (handler, proxy, globals): (Function, Table, Table) = lua
            .load(PRELUDE)
            .set_name("=ferrite_prelude")
            .set_mode(ChunkMode::Text)
            .call((bridge.clone(), kind_name, REDIS_VERSION, REDIS_VERSION_NUM))?;
        lua.set_globals(proxy)?;
        let invoke: Function = bridge.raw_get("invoke")?;
        lua.set_hook(
            HookTriggers::new().every_nth_instruction(HOOK_EVERY),
            move |_, _| {
                if busy.kill_requested() {
                    return Err(mlua::Error::runtime(KILLED));
                }
                if busy.load_timed_out() {
                    return Err(mlua::Error::runtime(super::functions::LOAD_TIMEOUT));
                }
                Ok(VmState::Continue)
            },
        )?;
        Ok(Vm {
            lua,
            bridge,
            handler,
            xpcall,
            globals,
            invoke,
        })
    }

    /// The Lua state.
    pub fn lua(&self) -> &Lua {
        &self.lua
    }

    /// The private helper table.
    pub(crate) fn bridge(&self) -> &Table {
        &self.bridge
    }

    /// Compiles text (never bytecode) into a function named `chunk`
    /// (`@user_script`). `Err`: Lua's message, e.g.
    /// `user_script:1: unexpected symbol near '<eof>'`.
    pub fn compile(&self, code: &[u8], chunk: &str) -> Result<Function, String> {
        self.lua
            .load(code)
            .set_name(chunk)
            .set_mode(ChunkMode::Text)
            .into_function()
            .map_err(|e| match e {
                mlua::Error::SyntaxError { message, .. } => message,
                other => other.to_string(),
            })
    }

    /// Sets the KEYS and ARGV globals for the next EVAL script.
    pub fn set_keys_args(&self, keys: &[&[u8]], args: &[&[u8]]) -> Result<(), Reply> {
        let set = || -> mlua::Result<()> {
            self.globals
                .raw_set("KEYS", string_array(&self.lua, keys)?)?;
            self.globals.raw_set("ARGV", string_array(&self.lua, args)?)
        };
        set().map_err(|e| Reply::err(format!("ERR {e}")))
    }

    /// Runs `func` under the error handler with `redis.call` bound to
    /// `ctx`, and converts its result (or error) to a reply. `fargs`: the
    /// `(keys, args)` tables a function receives.
    pub(crate) fn call(
        &self,
        ctx: &mut Ctx<'_>,
        run: &mut RunCtx,
        func: &Function,
        fargs: super::FnArgs<'_, '_>,
        _busy: &Busy,
    ) -> Result<Reply, String> {
        let resp = Cell::new(run.resp);
        let run_ref: &RunCtx = run;
        let lua = &self.lua;
        let out = lua.scope(|scope| {
            let dispatch =
                scope.create_function_mut(|lua, (raise, args): (bool, MultiValue)| {
                    bridge::dispatch(lua, ctx, run_ref, resp.get(), raise, args)
                })?;
            let setresp = scope.create_function(|_, args: MultiValue| {
                let r: (Value, Option<String>) = match args.len() {
                    1 => match args.front() {
                        Some(Value::Integer(n @ (2 | 3))) => {
                            resp.set(*n as u8);
                            (Value::Nil, None)
                        }
                        _ => (Value::Nil, Some("ERR RESP version must be 2 or 3.".into())),
                    },
                    _ => (
                        Value::Nil,
                        Some("ERR redis.setresp() requires one argument.".into()),
                    ),
                };
                Ok(r)
            })?;
            self.bridge.raw_set("dispatch", dispatch)?;
            self.bridge.raw_set("setresp", setresp)?;
            let ret: MultiValue = match fargs {
                None => self.xpcall.call((func, &self.handler))?,
                Some((keys, args)) => self.invoke.call((
                    func,
                    &self.handler,
                    string_array(lua, keys)?,
                    string_array(lua, args)?,
                ))?,
            };
            self.bridge.raw_set("dispatch", Value::Nil)?;
            self.bridge.raw_set("setresp", Value::Nil)?;
            let mut it = ret.into_iter();
            let ok = matches!(it.next(), Some(Value::Boolean(true)));
            let val = it.next().unwrap_or(Value::Nil);
            Ok(if ok {
                bridge::to_reply(&val, resp.get())
            } else {
                error_reply(&val, &run_ref.name)
            })
        });
        run.resp = resp.get();
        out.map_err(|e| e.to_string())
    }
}

impl Vm {
    /// Calls `func` with no arguments in protected mode (FUNCTION LOAD).
    /// `Err`: the error as Redis reports a failed load (an error table's
    /// `err` text, or `ERR ` and the message).
    pub(crate) fn protected_call(&self, func: &Function) -> Result<(), String> {
        let identity = self.lua.create_function(|_, v: Value| Ok(v));
        let identity = identity.map_err(|e| e.to_string())?;
        let ret: MultiValue = self
            .xpcall
            .call((func, identity))
            .map_err(|e| e.to_string())?;
        let mut it = ret.into_iter();
        if matches!(it.next(), Some(Value::Boolean(true))) {
            return Ok(());
        }
        Err(match it.next().unwrap_or(Value::Nil) {
            Value::Table(t) => match t.raw_get::<Value>("err") {
                Ok(Value::String(s)) => s.to_string_lossy(),
                _ => "ERR unknown error".to_string(),
            },
            Value::String(s) => format!("ERR {}", s.to_string_lossy()),
            Value::Error(e) => format!("ERR {}", bridge::error_text(&e).0),
            other => format!("ERR {other:?}"),
        })
    }
}

/// A Lua array of strings.
pub(crate) fn string_array(lua: &Lua, items: &[&[u8]]) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for (i, it) in items.iter().enumerate() {
        t.raw_set(i + 1, lua.create_string(it)?)?;
    }
    Ok(t)
}

/// The reply for a script that raised: the handler's `{err, source, line}`
/// table becomes `<err> script: <name>, on <source>:<line>.`
fn error_reply(val: &Value, name: &str) -> Reply {
    let Value::Table(t) = val else {
        let msg = match val {
            Value::String(s) => s.to_string_lossy(),
            _ => "execution failure".to_string(),
        };
        return Reply::err(sanitize(format!("ERR Error running script {name}, {msg}")));
    };
    let msg = match t.raw_get::<Value>("err") {
        Ok(Value::String(s)) => s.to_string_lossy(),
        Ok(Value::Integer(i)) => i.to_string(),
        Ok(Value::Number(n)) => crate::util::fmt_g(n, 14),
        _ => "ERR unknown error".to_string(),
    };
    let source: Option<String> = t.raw_get::<Option<String>>("source").ok().flatten();
    let line: Option<i64> = t.raw_get::<Option<i64>>("line").ok().flatten();
    let text = match (source, line) {
        (Some(src), Some(line)) => format!("{msg} script: {name}, on {src}:{line}."),
        _ => msg,
    };
    Reply::err(sanitize(text))
}

/// Error replies are one line: CR and LF become spaces.
pub(crate) fn sanitize(s: String) -> String {
    if s.contains(['\r', '\n']) {
        s.replace(['\r', '\n'], " ")
    } else {
        s
    }
}
