//! Lua scripting: EVAL and friends, Redis 7 functions, and the machinery
//! both share.
//!
//! # Layout
//! - [`sandbox`]: building a Lua 5.1 VM the way Redis 7.0 does (the global
//!   set, read-only globals and library tables, the error handler).
//! - [`bridge`]: `redis.call`/`redis.pcall` and the Lua <-> [`Reply`]
//!   conversions.
//! - [`functions`]: FUNCTION LOAD/LIST/DUMP/RESTORE... and FCALL.
//! - [`libs`]: `cjson`, `cmsgpack`, `bit` and `struct`, written in Rust.
//! - this file: the script cache, running a script under the engine lock,
//!   the busy state (`BUSY`, `SCRIPT KILL`) and effects replication.
//!
//! # Atomicity and the busy state
//! A script runs inside the handler of EVAL/FCALL, so under the engine
//! lock, start to finish: nobody else observes a partial script. Other
//! callers therefore cannot take the lock while a script runs; after
//! `busy-reply-threshold` milliseconds they must get `BUSY` instead of
//! waiting. That is what [`Busy`] is for: a few atomics that the script
//! runner sets and that [`crate::Engine::execute`] reads *before* locking
//! (see [`intercept_busy`]). `SCRIPT KILL` and `FUNCTION KILL` are served
//! from there too, by raising a flag that the VM's instruction hook checks.
//!
//! # Effects replication
//! Commands a script runs go through the normal dispatcher (`Ctx::call`),
//! which propagates each command that changed the dataset, as its effect.
//! The runner opens a `persist` group around the script, so the effects are
//! logged as one MULTI ... EXEC unit, as Redis 7.0 does. EVAL/FCALL
//! themselves are never logged (`persist` treats them as containers), so
//! log replay does not depend on Lua at all.

pub mod bridge;
pub mod functions;
pub mod libs;
pub mod sandbox;

use crate::command::{CommandSpec, Flags};
use crate::engine::{Ctx, Engine, State};
use crate::reply::{errors, Reply};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// The VM's instruction hook runs every this many Lua instructions: it
/// checks the kill flag (about every millisecond of Lua work).
pub const HOOK_EVERY: u32 = 100_000;

/// Reply to every other caller while a script runs past the busy limit.
pub const BUSY_EVAL: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
/// The same, while a function (FCALL) runs.
pub const BUSY_FUNCTION: &str =
    "BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.";
/// SCRIPT KILL / FUNCTION KILL with nothing running.
pub const NOTBUSY: &str = "NOTBUSY No scripts in execution right now.";
/// SCRIPT KILL / FUNCTION KILL against a script that already wrote.
pub const UNKILLABLE: &str = "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.";
/// What a killed script raises (as `ERR ...`, with its position appended).
pub const KILLED: &str = "Script killed by user with SCRIPT KILL...";
/// EVALSHA of an unknown script.
pub const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// The running script's identity, for FUNCTION STATS.
#[derive(Clone, Debug, Default)]
struct RunningInfo {
    name: String,
    argv: Vec<Vec<u8>>,
}

/// Lock-free state of the script currently running, read by callers that
/// do not hold the engine lock.
///
/// Invariant: `started` is non-zero exactly while a script (or a function
/// library load) runs under the engine lock; it is set right before the
/// first Lua instruction and cleared after the last one.
pub struct Busy {
    epoch: Instant,
    /// Start of the running script in ms since `epoch`, plus one; 0: idle.
    started: AtomicU64,
    /// `busy-reply-threshold` captured when the script started.
    limit_ms: AtomicU64,
    /// SCRIPT KILL / FUNCTION KILL / SHUTDOWN NOSAVE asked the script to stop.
    kill: AtomicBool,
    /// The script ran a write command: it can no longer be killed.
    wrote: AtomicBool,
    /// The running script is an EVAL script (else a function).
    eval: AtomicBool,
    /// Deadline of a FUNCTION LOAD in ms since `epoch` plus one; 0: none.
    load_deadline: AtomicU64,
    /// Libraries and functions loaded (FUNCTION STATS while busy).
    counts: AtomicU64,
    info: Mutex<RunningInfo>,
}

impl Default for Busy {
    fn default() -> Busy {
        Busy {
            epoch: Instant::now(),
            started: AtomicU64::new(0),
            limit_ms: AtomicU64::new(5000),
            kill: AtomicBool::new(false),
            wrote: AtomicBool::new(false),
            eval: AtomicBool::new(true),
            load_deadline: AtomicU64::new(0),
            counts: AtomicU64::new(0),
            info: Mutex::new(RunningInfo::default()),
        }
    }
}

impl Busy {
    fn now(&self) -> u64 {
        self.epoch.elapsed().as_millis() as u64 + 1
    }

    fn begin(&self, limit_ms: u64, eval: bool, name: &str, argv: &[&[u8]]) {
        *self.info.lock() = RunningInfo {
            name: name.to_string(),
            argv: argv.iter().map(|a| a.to_vec()).collect(),
        };
        self.kill.store(false, Ordering::Relaxed);
        self.wrote.store(false, Ordering::Relaxed);
        self.eval.store(eval, Ordering::Relaxed);
        self.limit_ms.store(limit_ms, Ordering::Relaxed);
        self.started.store(self.now(), Ordering::Release);
    }

    fn end(&self) {
        self.started.store(0, Ordering::Release);
        self.kill.store(false, Ordering::Relaxed);
    }

    /// True while a script runs.
    pub fn running(&self) -> bool {
        self.started.load(Ordering::Acquire) != 0
    }

    /// Milliseconds the running script has run (0 when idle).
    pub fn elapsed_ms(&self) -> u64 {
        match self.started.load(Ordering::Acquire) {
            0 => 0,
            s => self.now().saturating_sub(s),
        }
    }

    /// True when a script has run longer than the busy limit: other callers
    /// then get `BUSY`.
    pub fn past_limit(&self) -> bool {
        self.running() && self.elapsed_ms() >= self.limit_ms.load(Ordering::Relaxed)
    }

    /// True once a kill was requested for the running script.
    pub fn kill_requested(&self) -> bool {
        self.kill.load(Ordering::Relaxed)
    }

    /// True when the running FUNCTION LOAD ran past its deadline.
    pub fn load_timed_out(&self) -> bool {
        match self.load_deadline.load(Ordering::Relaxed) {
            0 => false,
            d => self.now() >= d,
        }
    }

    fn mark_wrote(&self) {
        self.wrote.store(true, Ordering::Relaxed);
    }

    fn set_counts(&self, libraries: usize, functions: usize) {
        self.counts.store(
            ((libraries as u64) << 32) | functions as u64,
            Ordering::Relaxed,
        );
    }

    /// The `BUSY` error for the kind of script running.
    pub fn busy_error(&self) -> Reply {
        if self.eval.load(Ordering::Relaxed) {
            Reply::err(BUSY_EVAL)
        } else {
            Reply::err(BUSY_FUNCTION)
        }
    }

    /// SCRIPT KILL (`eval` true) or FUNCTION KILL, with Redis 7.0's checks
    /// in Redis's order.
    pub fn kill(&self, eval: bool) -> Reply {
        if !self.running() {
            return Reply::err(NOTBUSY);
        }
        if self.wrote.load(Ordering::Relaxed) {
            return Reply::err(UNKILLABLE);
        }
        let running_eval = self.eval.load(Ordering::Relaxed);
        if eval && !running_eval {
            return Reply::err(BUSY_FUNCTION);
        }
        if !eval && running_eval {
            return Reply::err(BUSY_EVAL);
        }
        self.kill.store(true, Ordering::Relaxed);
        Reply::ok()
    }

    /// FUNCTION STATS, answered without the engine lock.
    pub fn stats(&self) -> Reply {
        let running = if self.running() {
            let info = self.info.lock().clone();
            Reply::Map(vec![
                (Reply::text("name"), Reply::text(info.name)),
                (
                    Reply::text("command"),
                    Reply::Array(info.argv.iter().map(|a| Reply::bulk(a)).collect()),
                ),
                (
                    Reply::text("duration_ms"),
                    Reply::Int(self.elapsed_ms() as i64),
                ),
            ])
        } else {
            Reply::Nil
        };
        let counts = self.counts.load(Ordering::Relaxed);
        Reply::Map(vec![
            (Reply::text("running_script"), running),
            (
                Reply::text("engines"),
                Reply::Map(vec![(
                    Reply::text("LUA"),
                    Reply::Map(vec![
                        (
                            Reply::text("libraries_count"),
                            Reply::Int((counts >> 32) as i64),
                        ),
                        (
                            Reply::text("functions_count"),
                            Reply::Int((counts & 0xffff_ffff) as i64),
                        ),
                    ]),
                )]),
            ),
        ])
    }
}

/// Runs before the engine lock is taken, for every command: while a script
/// has run past the busy limit, answers `BUSY` (or serves SCRIPT KILL,
/// FUNCTION KILL and FUNCTION STATS) without waiting for the lock.
/// `SHUTDOWN NOSAVE` kills the script even if it wrote, then goes on to
/// wait for the lock like any command. `None`: run the command normally.
pub fn intercept_busy(engine: &Engine, argv: &[&[u8]]) -> Option<Reply> {
    let busy = &engine.script_busy;
    if !busy.past_limit() {
        return None;
    }
    let name = argv.first().copied().unwrap_or_default();
    let sub = argv.get(1).copied().unwrap_or_default();
    let eq = crate::util::eq_ic;
    if eq(name, "script") && eq(sub, "kill") && argv.len() == 2 {
        return Some(busy.kill(true));
    }
    if eq(name, "function") && eq(sub, "kill") && argv.len() == 2 {
        return Some(busy.kill(false));
    }
    if eq(name, "function") && eq(sub, "stats") && argv.len() == 2 {
        return Some(busy.stats());
    }
    if eq(name, "shutdown") && argv[1..].iter().any(|a| eq(a, "nosave")) {
        busy.kill.store(true, Ordering::Relaxed);
        return None;
    }
    Some(busy.busy_error())
}

/// Script flags, from an EVAL script's shebang or a function's `flags`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ScriptFlags {
    /// `no-writes`: the script may not run write commands.
    pub no_writes: bool,
    /// `allow-oom`.
    pub allow_oom: bool,
    /// `allow-stale`.
    pub allow_stale: bool,
    /// `no-cluster`.
    pub no_cluster: bool,
    /// `allow-cross-slot-keys`.
    pub allow_cross_slot: bool,
}

impl ScriptFlags {
    /// Sets the flag named `name`; false for an unknown name.
    pub fn set(&mut self, name: &str) -> bool {
        match name {
            "no-writes" => self.no_writes = true,
            "allow-oom" => self.allow_oom = true,
            "allow-stale" => self.allow_stale = true,
            "no-cluster" => self.no_cluster = true,
            "allow-cross-slot-keys" => self.allow_cross_slot = true,
            _ => return false,
        }
        true
    }

    /// The flag names set, in Redis's order (FUNCTION LIST).
    pub fn names(&self) -> Vec<&'static str> {
        let mut v = Vec::new();
        if self.no_writes {
            v.push("no-writes");
        }
        if self.allow_oom {
            v.push("allow-oom");
        }
        if self.allow_stale {
            v.push("allow-stale");
        }
        if self.no_cluster {
            v.push("no-cluster");
        }
        if self.allow_cross_slot {
            v.push("allow-cross-slot-keys");
        }
        v
    }
}

/// A compiled EVAL script.
struct CachedScript {
    func: mlua::Function,
    /// Flags from the shebang; `None` for a script without one (Redis's
    /// "eval compatibility mode").
    flags: Option<ScriptFlags>,
}

/// Cached scripts, loaded function libraries and the two Lua VMs.
///
/// Invariant: the VMs are only touched under the engine lock (they live in
/// `State`), so at most one script runs at a time.
#[derive(Default)]
pub struct Scripts {
    eval_vm: Option<sandbox::Vm>,
    cache: HashMap<String, CachedScript>,
    /// Function libraries (FUNCTION LOAD).
    pub(crate) functions: functions::Registry,
    running: bool,
}

impl Scripts {
    /// True while a script or function runs.
    pub fn running(&self) -> bool {
        self.running
    }

    /// Number of cached EVAL scripts (INFO `number_of_cached_scripts`).
    pub fn cached_scripts(&self) -> usize {
        self.cache.len()
    }

    /// True when the script with this SHA-1 (lower-case hex) is cached.
    pub fn exists(&self, sha: &str) -> bool {
        self.cache.contains_key(sha)
    }

    /// SCRIPT FLUSH: drops every cached script and the VM itself.
    pub fn flush(&mut self) {
        self.cache.clear();
        self.eval_vm = None;
    }
}

/// Lower-case hex SHA-1 of `data` (`redis.sha1hex`, script ids).
pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// The busy limit in ms: `busy-reply-threshold` (alias `lua-time-limit`).
fn busy_limit(st: &State) -> u64 {
    let other = &st.config.other;
    other
        .get("busy-reply-threshold")
        .or_else(|| other.get("lua-time-limit"))
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(5000)
}

/// Parses an EVAL script's `#!lua flags=...` shebang. `Ok(None)`: no
/// shebang. The error text is Redis 7.0's (without the `ERR ` prefix).
pub fn parse_shebang(body: &[u8]) -> Result<Option<ScriptFlags>, String> {
    if !body.starts_with(b"#!") {
        return Ok(None);
    }
    let line_end = body.iter().position(|&c| c == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[..line_end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    let engine = parts.next().unwrap_or("");
    if engine != "#!lua" {
        return Err(format!("Unexpected engine in script shebang: {engine}"));
    }
    let mut flags = ScriptFlags::default();
    for opt in parts {
        match opt.strip_prefix("flags=") {
            Some(list) => {
                for f in list.split(',').filter(|f| !f.is_empty()) {
                    if !flags.set(f) {
                        return Err(format!("Unexpected flag in script shebang: {f}"));
                    }
                }
            }
            None => return Err(format!("Unknown lua shebang option: {opt}")),
        }
    }
    Ok(Some(flags))
}

/// Compiles `body` into the script cache (if not there yet) and returns its
/// SHA-1. Errors are complete error replies.
pub fn load_script(ctx: &mut Ctx<'_>, body: &[u8]) -> Result<String, Reply> {
    let sha = sha1_hex(body);
    if ctx.st.scripts.cache.contains_key(&sha) {
        return Ok(sha);
    }
    let flags = parse_shebang(body).map_err(|e| Reply::err(format!("ERR {e}")))?;
    let scripts = &mut ctx.st.scripts;
    if scripts.eval_vm.is_none() {
        let vm = sandbox::Vm::new(sandbox::Kind::Eval, ctx.engine.script_busy.clone())
            .map_err(|e| Reply::err(format!("ERR failed to create the Lua VM: {e}")))?;
        scripts.eval_vm = Some(vm);
    }
    let vm = scripts.eval_vm.as_ref().expect("created above");
    // The shebang line stays in the code (as a comment) so that line
    // numbers in errors match the script's own.
    let mut code = body.to_vec();
    if flags.is_some() {
        code[0] = b'-';
        code[1] = b'-';
    }
    let func = vm
        .compile(&code, "@user_script")
        .map_err(|msg| Reply::err(format!("ERR Error compiling script (new function): {msg}")))?;
    scripts
        .cache
        .insert(sha.clone(), CachedScript { func, flags });
    Ok(sha)
}

/// The `(keys, args)` a function receives.
pub(crate) type FnArgs<'a, 'b> = Option<(&'a [&'b [u8]], &'a [&'b [u8]])>;

/// How a script is being run.
pub(crate) struct RunCtx {
    /// The name errors carry: the script's SHA-1 or the function's name.
    pub name: String,
    /// Write commands are refused (EVAL_RO, FCALL_RO, `no-writes`).
    pub read_only: bool,
    /// An EVAL script (else a function).
    pub is_eval: bool,
    /// Protocol of replies handed to Lua (`redis.setresp`).
    pub resp: u8,
}

/// EVAL, EVALSHA, EVAL_RO and EVALSHA_RO.
pub fn eval_command(ctx: &mut Ctx<'_>, argv: &[&[u8]], by_sha: bool, ro: bool) -> Reply {
    let numkeys = match crate::util::parse_i64_strict(argv[2]) {
        Some(n) => n,
        None => return Reply::err(errors::NOT_INT),
    };
    if numkeys > (argv.len() - 3) as i64 {
        return Reply::err("ERR Number of keys can't be greater than number of args");
    }
    if numkeys < 0 {
        return Reply::err("ERR Number of keys can't be negative");
    }
    let split = 3 + numkeys as usize;
    let (keys, args) = (&argv[3..split], &argv[split..]);
    let sha = if by_sha {
        let sha = String::from_utf8_lossy(argv[1]).to_ascii_lowercase();
        if sha.len() != 40 || !ctx.st.scripts.cache.contains_key(&sha) {
            return Reply::err(NOSCRIPT);
        }
        sha
    } else {
        match load_script(ctx, argv[1]) {
            Ok(sha) => sha,
            Err(r) => return r,
        }
    };
    let script = &ctx.st.scripts.cache[&sha];
    let flags = script.flags;
    let func = script.func.clone();
    let vm = ctx
        .st
        .scripts
        .eval_vm
        .as_ref()
        .expect("cached implies vm")
        .clone();
    if let Some(f) = flags {
        if !f.no_writes && ro {
            return Reply::err("ERR Can not execute a script with write flag using *_ro command.");
        }
    }
    let run = RunCtx {
        read_only: ro || flags.is_some_and(|f| f.no_writes),
        name: sha,
        is_eval: true,
        resp: 2,
    };
    if let Err(r) = vm.set_keys_args(keys, args) {
        return r;
    }
    execute(ctx, &vm, &func, None, run, argv)
}

/// Runs a compiled script or function under the engine lock: busy state,
/// effects capture, the `redis.call` bridge, and the conversion of its
/// result (or error) to a reply. `fargs`: `(keys, args)` passed to a
/// function; `None` for an EVAL script (which reads the KEYS/ARGV globals).
pub(crate) fn execute(
    ctx: &mut Ctx<'_>,
    vm: &sandbox::Vm,
    func: &mlua::Function,
    fargs: FnArgs<'_, '_>,
    mut run: RunCtx,
    argv: &[&[u8]],
) -> Reply {
    /// Clears the busy state however the run ends (a panic in a handler
    /// included), so the engine never stays BUSY.
    struct BusyGuard(Arc<Busy>);
    impl Drop for BusyGuard {
        fn drop(&mut self) {
            self.0.end();
        }
    }
    let busy = ctx.engine.script_busy.clone();
    busy.begin(busy_limit(ctx.st), run.is_eval, &run.name, argv);
    let _guard = BusyGuard(busy.clone());
    let saved_db = ctx.session.db;
    let saved_resp = ctx.session.resp;
    let saved_no_block = ctx.session.no_block;
    ctx.session.no_block = true;
    ctx.st.scripts.running = true;
    // The script's write effects are logged as one MULTI ... EXEC unit.
    crate::persist::begin_group(ctx);

    let outcome = vm.call(ctx, &mut run, func, fargs, &busy);

    ctx.session.db = saved_db;
    crate::persist::end_group(ctx);
    ctx.session.resp = saved_resp;
    ctx.session.no_block = saved_no_block;
    ctx.st.scripts.running = false;
    match outcome {
        Ok(reply) => reply,
        Err(e) => Reply::err(format!("ERR Error running script {}: {e}", run.name)),
    }
}

/// Marks the running script as having written (SCRIPT KILL then refuses).
pub(crate) fn note_write(ctx: &Ctx<'_>) {
    ctx.engine.script_busy.mark_wrote();
}

/// True for commands that must never run from a script.
pub(crate) fn denied_in_scripts(spec: &CommandSpec) -> bool {
    spec.flags.contains(Flags::NOSCRIPT)
}
