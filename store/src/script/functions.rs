//! Redis 7 functions: libraries of Lua functions loaded with FUNCTION LOAD
//! and called with FCALL / FCALL_RO.
//!
//! All libraries share one Lua VM (separate from the EVAL one). Loading a
//! library runs its code with only the load-time API visible
//! (`redis.register_function`, `redis.log`, the `LOG_*` and version
//! constants), under a 500 ms timeout; the functions it registers are kept
//! as Lua function handles.
//!
//! FUNCTION DUMP writes Redis 7.0's own payload: for each library the RDB
//! opcode 0xF5 (`RDB_OPCODE_FUNCTION2`) and the library code as an RDB
//! string, then the RDB version (10, two bytes little-endian) and the
//! CRC-64 (Jones) of everything before it (eight bytes little-endian). A
//! payload dumped by redis-server 7.0 restores here, and the other way
//! round (LZF-compressed strings are read too).

use super::sandbox::{Kind, Vm};
use super::{RunCtx, ScriptFlags};
use crate::engine::Ctx;
use crate::reply::Reply;
use crate::util::glob_match;
use mlua::{Function, Table, Value};
use std::collections::BTreeMap;
use std::collections::HashMap;

/// The error a FUNCTION LOAD running too long raises.
pub const LOAD_TIMEOUT: &str = "FUNCTION LOAD timeout";
/// How long a library's load-time code may run.
const LOAD_TIMEOUT_MS: u64 = 500;
/// RDB opcode of a function library in a DUMP payload.
const RDB_OPCODE_FUNCTION2: u8 = 0xF5;
/// The RDB version Redis 7.0 writes.
const RDB_VERSION: u16 = 10;

/// One registered function.
#[derive(Clone)]
pub struct FunctionDef {
    /// Its name.
    pub name: String,
    /// The Lua callback.
    pub func: Function,
    /// Its flags.
    pub flags: ScriptFlags,
    /// Its description, if any.
    pub description: Option<String>,
}

/// One library: its code and functions (in registration order).
#[derive(Clone)]
pub struct Library {
    /// Library name (from `#!lua name=...`).
    pub name: String,
    /// The full code, shebang included.
    pub code: Vec<u8>,
    /// Its functions.
    pub functions: Vec<FunctionDef>,
}

/// The loaded libraries and the function index.
///
/// Invariant: `index` maps every function of every library in `libraries`
/// to its library's name, and nothing else.
#[derive(Default)]
pub struct Registry {
    vm: Option<Vm>,
    libraries: BTreeMap<String, Library>,
    index: HashMap<String, String>,
}

impl Registry {
    fn function_count(&self) -> usize {
        self.index.len()
    }

    fn vm(&mut self, ctx_busy: &std::sync::Arc<super::Busy>) -> Result<Vm, String> {
        if self.vm.is_none() {
            self.vm = Some(Vm::new(Kind::Function, ctx_busy.clone()).map_err(|e| e.to_string())?);
        }
        Ok(self.vm.clone().expect("created above"))
    }

    fn insert(&mut self, lib: Library) {
        for f in &lib.functions {
            self.index.insert(f.name.clone(), lib.name.clone());
        }
        self.libraries.insert(lib.name.clone(), lib);
    }

    fn remove(&mut self, name: &str) -> Option<Library> {
        let lib = self.libraries.remove(name)?;
        for f in &lib.functions {
            self.index.remove(&f.name);
        }
        Some(lib)
    }

    fn clear(&mut self) {
        self.libraries.clear();
        self.index.clear();
        self.vm = None;
    }
}

fn update_counts(ctx: &Ctx<'_>) {
    let reg = &ctx.st.scripts.functions;
    ctx.engine
        .script_busy
        .set_counts(reg.libraries.len(), reg.function_count());
}

/// Parses `#!<engine> name=<lib>` and returns the library name. Errors are
/// Redis 7.0's texts (without `ERR `).
pub fn parse_metadata(code: &[u8]) -> Result<String, String> {
    if !code.starts_with(b"#!") {
        return Err("Missing library metadata".into());
    }
    let Some(end) = code.iter().position(|&c| c == b'\n') else {
        return Err("Invalid library metadata".into());
    };
    let line = String::from_utf8_lossy(&code[..end]).into_owned();
    let mut parts = line.split([' ', '\t', '\r']).filter(|p| !p.is_empty());
    let engine = parts.next().map(|p| &p[2..]).unwrap_or("");
    let mut name: Option<String> = None;
    for part in parts {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case("name=") {
            if name.is_some() {
                return Err(
                    "Invalid metadata value, name argument was given multiple times".into(),
                );
            }
            name = Some(part[5..].to_string());
        } else {
            return Err(format!("Invalid metadata value given: {part}"));
        }
    }
    let Some(name) = name else {
        return Err("Library name was not given".into());
    };
    if !engine.eq_ignore_ascii_case("lua") {
        return Err(format!("Engine '{engine}' not found"));
    }
    if name.is_empty() || !name.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_') {
        return Err("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long".into());
    }
    Ok(name)
}

/// Runs a library's code in the functions VM and collects what it
/// registered. Errors are Redis's texts (without `ERR `).
fn compile_library(ctx: &mut Ctx<'_>, name: String, code: &[u8]) -> Result<Library, String> {
    let busy = ctx.engine.script_busy.clone();
    let vm = ctx.st.scripts.functions.vm(&busy)?;
    let mut body = code.to_vec();
    body[0] = b'-';
    body[1] = b'-';
    let func = vm
        .compile(&body, "@user_function")
        .map_err(|m| format!("Error compiling function: {m}"))?;
    let lua = vm.lua();
    let registered = lua.create_table().map_err(|e| e.to_string())?;
    let bridge = vm.bridge();
    let setup = || -> mlua::Result<Function> {
        bridge.raw_set("registered", registered.clone())?;
        bridge.raw_get::<Function>("loading")
    };
    let loading = setup().map_err(|e| e.to_string())?;
    let _ = loading.call::<()>(true);
    busy.load_deadline.store(
        busy.now() + LOAD_TIMEOUT_MS,
        std::sync::atomic::Ordering::Relaxed,
    );
    let ran = vm.protected_call(&func);
    busy.load_deadline
        .store(0, std::sync::atomic::Ordering::Relaxed);
    let _ = loading.call::<()>(false);
    let _ = bridge.raw_set("registered", Value::Nil);
    if let Err(e) = ran {
        return Err(format!("Error registering functions: {e}"));
    }
    let mut functions = Vec::new();
    for entry in registered.sequence_values::<Table>() {
        let entry = entry.map_err(|e| e.to_string())?;
        let mut flags = ScriptFlags::default();
        if let Ok(list) = entry.raw_get::<Table>("flags") {
            for f in list.sequence_values::<String>().flatten() {
                flags.set(&f);
            }
        }
        functions.push(FunctionDef {
            name: entry.raw_get("name").map_err(|e| e.to_string())?,
            func: entry.raw_get("callback").map_err(|e| e.to_string())?,
            flags,
            description: entry.raw_get("description").ok().flatten(),
        });
    }
    if functions.is_empty() {
        return Err("No functions registered".into());
    }
    Ok(Library {
        name,
        code: code.to_vec(),
        functions,
    })
}

/// Adds `libs` to the registry. `replace`: a library of the same name is
/// replaced (else it is an error). All or nothing: on error nothing
/// changes. Errors are Redis's texts (without `ERR `).
fn commit(ctx: &mut Ctx<'_>, libs: Vec<Library>, replace: bool) -> Result<(), String> {
    let reg = &mut ctx.st.scripts.functions;
    let mut names: HashMap<&str, &str> = HashMap::new();
    for lib in &libs {
        if !replace && reg.libraries.contains_key(&lib.name) {
            return Err(format!("Library '{}' already exists", lib.name));
        }
        for f in &lib.functions {
            if let Some(owner) = reg.index.get(&f.name) {
                let replaced = replace && libs.iter().any(|l| &l.name == owner);
                if owner != &lib.name && !replaced {
                    return Err(format!("Function {} already exists", f.name));
                }
            }
            if names.insert(&f.name, &lib.name).is_some() {
                return Err(format!("Function {} already exists", f.name));
            }
        }
    }
    for lib in libs {
        reg.remove(&lib.name);
        reg.insert(lib);
    }
    update_counts(ctx);
    Ok(())
}

/// FUNCTION LOAD [REPLACE] code.
pub fn load(ctx: &mut Ctx<'_>, code: &[u8], replace: bool) -> Reply {
    let name = match parse_metadata(code) {
        Ok(n) => n,
        Err(e) => return Reply::err(format!("ERR {e}")),
    };
    if !replace && ctx.st.scripts.functions.libraries.contains_key(&name) {
        return Reply::err(format!("ERR Library '{name}' already exists"));
    }
    let lib = match compile_library(ctx, name.clone(), code) {
        Ok(l) => l,
        Err(e) => return Reply::err(super::sandbox::sanitize(format!("ERR {e}"))),
    };
    match commit(ctx, vec![lib], replace) {
        Ok(()) => Reply::text(name),
        Err(e) => Reply::err(format!("ERR {e}")),
    }
}

/// FUNCTION DELETE name.
pub fn delete(ctx: &mut Ctx<'_>, name: &[u8]) -> Reply {
    let name = String::from_utf8_lossy(name);
    match ctx.st.scripts.functions.remove(&name) {
        Some(_) => {
            update_counts(ctx);
            Reply::ok()
        }
        None => Reply::err("ERR Library not found"),
    }
}

/// FUNCTION FLUSH.
pub fn flush(ctx: &mut Ctx<'_>) -> Reply {
    ctx.st.scripts.functions.clear();
    update_counts(ctx);
    Reply::ok()
}

/// FUNCTION LIST [LIBRARYNAME pattern] [WITHCODE].
pub fn list(ctx: &mut Ctx<'_>, pattern: Option<&[u8]>, with_code: bool) -> Reply {
    let reg = &ctx.st.scripts.functions;
    let mut out = Vec::new();
    for lib in reg.libraries.values() {
        if let Some(p) = pattern {
            if !glob_match(p, lib.name.as_bytes(), false) {
                continue;
            }
        }
        let functions = lib
            .functions
            .iter()
            .map(|f| {
                Reply::Map(vec![
                    (Reply::text("name"), Reply::text(f.name.clone())),
                    (
                        Reply::text("description"),
                        match &f.description {
                            Some(d) => Reply::text(d.clone()),
                            None => Reply::Nil,
                        },
                    ),
                    (
                        Reply::text("flags"),
                        Reply::Set(f.flags.names().into_iter().map(Reply::text).collect()),
                    ),
                ])
            })
            .collect();
        let mut entry = vec![
            (Reply::text("library_name"), Reply::text(lib.name.clone())),
            (Reply::text("engine"), Reply::text("LUA")),
            (Reply::text("functions"), Reply::Array(functions)),
        ];
        if with_code {
            entry.push((Reply::text("library_code"), Reply::bulk(&lib.code)));
        }
        out.push(Reply::Map(entry));
    }
    Reply::Array(out)
}

/// FUNCTION DUMP: Redis 7.0's payload (see the module docs).
pub fn dump(ctx: &mut Ctx<'_>) -> Reply {
    let mut out = Vec::new();
    for lib in ctx.st.scripts.functions.libraries.values() {
        out.push(RDB_OPCODE_FUNCTION2);
        rdb_write_len(&mut out, lib.code.len() as u64);
        out.extend_from_slice(&lib.code);
    }
    out.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(0, &out);
    out.extend_from_slice(&crc.to_le_bytes());
    Reply::bulk_vec(out)
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE].
pub fn restore(ctx: &mut Ctx<'_>, payload: &[u8], policy: Option<&[u8]>) -> Reply {
    let eq = crate::util::eq_ic;
    let (flush_first, replace) =
        match policy {
            None => (false, false),
            Some(p) if eq(p, "append") => (false, false),
            Some(p) if eq(p, "replace") => (false, true),
            Some(p) if eq(p, "flush") => (true, false),
            Some(_) => return Reply::err(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ),
        };
    let codes = match parse_payload(payload) {
        Ok(c) => c,
        Err(e) => return Reply::err(e),
    };
    let mut libs = Vec::new();
    for code in codes {
        let lib = parse_metadata(&code)
            .and_then(|name| compile_library(ctx, name, &code))
            .map_err(|e| Reply::err(super::sandbox::sanitize(format!("ERR {e}"))));
        match lib {
            Ok(l) => libs.push(l),
            Err(r) => return r,
        }
    }
    if flush_first {
        // Keep the VM: the new libraries' functions live in it.
        let reg = &mut ctx.st.scripts.functions;
        reg.libraries.clear();
        reg.index.clear();
    }
    match commit(ctx, libs, replace) {
        Ok(()) => Reply::ok(),
        Err(e) => Reply::err(format!("ERR {e}")),
    }
}

/// FCALL / FCALL_RO.
pub fn fcall(ctx: &mut Ctx<'_>, argv: &[&[u8]], ro: bool) -> Reply {
    let name = String::from_utf8_lossy(argv[1]).into_owned();
    let reg = &ctx.st.scripts.functions;
    let Some(lib) = reg.index.get(&name).and_then(|l| reg.libraries.get(l)) else {
        return Reply::err("ERR Function not found");
    };
    let Some(def) = lib.functions.iter().find(|f| f.name == name).cloned() else {
        return Reply::err("ERR Function not found");
    };
    let vm = reg.vm.clone().expect("a loaded library implies the VM");
    let numkeys = match crate::util::parse_i64_strict(argv[2]) {
        Some(n) => n,
        None => return Reply::err(crate::reply::errors::NOT_INT),
    };
    if numkeys > (argv.len() - 3) as i64 {
        return Reply::err("ERR Number of keys can't be greater than number of args");
    }
    if numkeys < 0 {
        return Reply::err("ERR Number of keys can't be negative");
    }
    if ro && !def.flags.no_writes {
        return Reply::err("ERR Can not execute a script with write flag using *_ro command.");
    }
    let split = 3 + numkeys as usize;
    let run = RunCtx {
        name: def.name.clone(),
        read_only: ro || def.flags.no_writes,
        is_eval: false,
        resp: 2,
    };
    super::execute(
        ctx,
        &vm,
        &def.func,
        Some((&argv[3..split], &argv[split..])),
        run,
        argv,
    )
}

/// Number of loaded libraries and functions.
pub fn counts(ctx: &Ctx<'_>) -> (usize, usize) {
    let reg = &ctx.st.scripts.functions;
    (reg.libraries.len(), reg.function_count())
}

// ---- the DUMP payload ----

fn rdb_write_len(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.push(0x40 | (len >> 8) as u8);
        out.push(len as u8);
    } else if len <= u32::MAX as u64 {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Reads an RDB length; `Ok((len, encoded))` where `encoded` is the
/// special-encoding type (0xC0 forms) if any.
fn rdb_read_len(p: &[u8], pos: &mut usize) -> Option<(u64, Option<u8>)> {
    let b = *p.get(*pos)?;
    *pos += 1;
    match b >> 6 {
        0 => Some(((b & 0x3f) as u64, None)),
        1 => {
            let b2 = *p.get(*pos)?;
            *pos += 1;
            Some(((((b & 0x3f) as u64) << 8) | b2 as u64, None))
        }
        2 => match b {
            0x80 => {
                let v = u32::from_be_bytes(p.get(*pos..*pos + 4)?.try_into().ok()?);
                *pos += 4;
                Some((v as u64, None))
            }
            0x81 => {
                let v = u64::from_be_bytes(p.get(*pos..*pos + 8)?.try_into().ok()?);
                *pos += 8;
                Some((v, None))
            }
            _ => None,
        },
        _ => Some((0, Some(b & 0x3f))),
    }
}

fn rdb_read_string(p: &[u8], pos: &mut usize) -> Option<Vec<u8>> {
    let (len, enc) = rdb_read_len(p, pos)?;
    match enc {
        None => {
            let s = p.get(*pos..*pos + len as usize)?.to_vec();
            *pos += len as usize;
            Some(s)
        }
        Some(0) => {
            let v = *p.get(*pos)? as i8;
            *pos += 1;
            Some(v.to_string().into_bytes())
        }
        Some(1) => {
            let v = i16::from_le_bytes(p.get(*pos..*pos + 2)?.try_into().ok()?);
            *pos += 2;
            Some(v.to_string().into_bytes())
        }
        Some(2) => {
            let v = i32::from_le_bytes(p.get(*pos..*pos + 4)?.try_into().ok()?);
            *pos += 4;
            Some(v.to_string().into_bytes())
        }
        Some(3) => {
            let (clen, _) = rdb_read_len(p, pos)?;
            let (ulen, _) = rdb_read_len(p, pos)?;
            let comp = p.get(*pos..*pos + clen as usize)?;
            *pos += clen as usize;
            lzf_decompress(comp, ulen as usize)
        }
        Some(_) => None,
    }
}

/// LZF decompression (the format RDB strings use when compressed).
fn lzf_decompress(input: &[u8], out_len: usize) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(out_len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            let n = ctrl + 1;
            out.extend_from_slice(input.get(i..i + n)?);
            i += n;
        } else {
            let mut len = ctrl >> 5;
            if len == 7 {
                len += *input.get(i)? as usize;
                i += 1;
            }
            let back = ((ctrl & 0x1f) << 8) + *input.get(i)? as usize + 1;
            i += 1;
            let start = out.len().checked_sub(back)?;
            for k in 0..len + 2 {
                let b = out[start + k];
                out.push(b);
            }
        }
    }
    (out.len() == out_len).then_some(out)
}

fn parse_payload(p: &[u8]) -> Result<Vec<Vec<u8>>, &'static str> {
    const BAD: &str = "ERR DUMP payload version or checksum are wrong";
    if p.len() < 10 {
        return Err(BAD);
    }
    let body_end = p.len() - 10;
    let version = u16::from_le_bytes([p[body_end], p[body_end + 1]]);
    let crc = u64::from_le_bytes(p[p.len() - 8..].try_into().expect("8 bytes"));
    if version > RDB_VERSION || (crc != 0 && crc != crc64(0, &p[..p.len() - 8])) {
        return Err(BAD);
    }
    let body = &p[..body_end];
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < body.len() {
        if body[pos] != RDB_OPCODE_FUNCTION2 {
            return Err("ERR given type is not a function");
        }
        pos += 1;
        match rdb_read_string(body, &mut pos) {
            Some(code) => out.push(code),
            None => return Err("ERR payload is not a valid function payload"),
        }
    }
    Ok(out)
}

/// CRC-64 with Jones' polynomial, reflected (Redis's `crc64`).
pub fn crc64(mut crc: u64, data: &[u8]) -> u64 {
    const POLY: u64 = 0x95AC_9329_AC4B_C9B5;
    for &b in data {
        crc ^= b as u64;
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ POLY
            } else {
                crc >> 1
            };
        }
    }
    crc
}
