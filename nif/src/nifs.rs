//! The NIF functions of `Ferrite.Native`. See the crate docs for the table
//! of NIFs, their replies and the scheduling rule.

use crate::conn::{self, Conn, ConnRes};
use crate::encode::{self, encode_reply, encode_result, error_tuple};
use crate::sched::{self, MAX_NORMAL_ARGS, MAX_NORMAL_BYTES, MAX_NORMAL_PIPELINE};
use crate::sink::CallerEnv;
use ferrite_store::engine::State;
use ferrite_store::{Reply, Session};
use rustler::sys::{
    enif_consume_timeslice, enif_get_list_cell, enif_get_local_pid, enif_inspect_binary,
    enif_is_atom, enif_whereis_pid, ErlNifBinary, ErlNifPid, ErlNifTerm,
};
use rustler::{Encoder, Env, LocalPid, ResourceArc, Term};
use std::mem::MaybeUninit;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

rustler::atoms! {
    /// Marker: re-run on a dirty scheduler.
    dirty,
    /// Marker: re-run on a dirty IO scheduler (a write on an engine that
    /// fsyncs every write).
    dirty_io,
    /// Marker: an argument is not a binary.
    convert,
    /// Marker: no embedded conn by that pid or name.
    noconn,
    /// Marker: the conn was closed.
    closed,
    /// `{:blocked, token, waiter}`
    blocked,
    /// `{:blocked_pipeline, replies}`
    blocked_pipeline,
}

/// Registers a NIF written against the C ABI, for the hot entry points
/// (`command`, `get`, `set`): rustler's `#[nif]` wrapper collects the
/// arguments into a `Vec` on every call (a malloc and a free, a fifth of a
/// GET). The body gets the env and the argument terms and returns a raw
/// term word (a plain register: a `Term`, or an `Option` or `Result` of
/// one, travels back through memory, and reading it back stalled on store
/// forwarding at every level of the call); a panic that
/// escapes it (none should: commands catch their own) raises `badarg`
/// instead of unwinding into the VM.
macro_rules! raw_nif {
    ($name:literal, $arity:expr, $body:path) => {
        rustler::codegen_runtime::inventory::submit!(rustler::Nif {
            name: concat!($name, "\0").as_ptr() as *const rustler::codegen_runtime::c_char,
            arity: $arity,
            flags: rustler::SchedulerFlags::Normal as rustler::codegen_runtime::c_uint,
            raw_func: {
                unsafe extern "C" fn nif_func(
                    env: *mut rustler::sys::ErlNifEnv,
                    argc: rustler::codegen_runtime::c_int,
                    argv: *const ErlNifTerm,
                ) -> ErlNifTerm {
                    let lifetime = ();
                    // SAFETY: the VM calls with a valid env and `argc`
                    // argument terms, all valid for this call.
                    let env = Env::new(&lifetime, env);
                    let args = std::slice::from_raw_parts(argv, argc as usize);
                    let args: [Term<'_>; $arity] = std::array::from_fn(|i| Term::new(env, args[i]));
                    match catch_unwind(AssertUnwindSafe(|| $body(env, args))) {
                        Ok(term) => term,
                        Err(_) => rustler::sys::enif_make_badarg(env.as_c_arg()),
                    }
                }
                nif_func
            },
        });
    };
}

/// Runs `f` on the conn named by a pid, registered name or conn resource
/// (the hot path: no reference counting for pids and names); `None` when
/// there is no such conn.
#[inline]
fn with_conn<R>(env: Env<'_>, term: Term<'_>, f: impl FnOnce(&Arc<Conn>) -> R) -> Option<R> {
    let mut pid = MaybeUninit::<ErlNifPid>::uninit();
    // SAFETY: plain term inspection in the caller's env.
    unsafe {
        let found = enif_get_local_pid(env.as_c_arg(), term.as_c_arg(), pid.as_mut_ptr()) != 0
            || (enif_is_atom(env.as_c_arg(), term.as_c_arg()) != 0
                && enif_whereis_pid(env.as_c_arg(), term.as_c_arg(), pid.as_mut_ptr()) != 0);
        if found {
            let pid = LocalPid::from_c_arg(pid.assume_init());
            return conn::with_registered(conn::pid_key(&pid), f);
        }
    }
    term.decode::<ResourceArc<ConnRes>>().ok().map(|r| f(&r.0))
}

/// Resolves a pid, registered name or conn resource to its open conn.
fn resolve(env: Env<'_>, term: Term<'_>) -> Option<Arc<Conn>> {
    let mut pid = MaybeUninit::<ErlNifPid>::uninit();
    // SAFETY: plain term inspection in the caller's env.
    unsafe {
        if enif_get_local_pid(env.as_c_arg(), term.as_c_arg(), pid.as_mut_ptr()) != 0 {
            let pid = LocalPid::from_c_arg(pid.assume_init());
            return conn::registry_get(conn::pid_key(&pid));
        }
        if enif_is_atom(env.as_c_arg(), term.as_c_arg()) != 0 {
            if enif_whereis_pid(env.as_c_arg(), term.as_c_arg(), pid.as_mut_ptr()) == 0 {
                return None;
            }
            let pid = LocalPid::from_c_arg(pid.assume_init());
            return conn::registry_get(conn::pid_key(&pid));
        }
    }
    term.decode::<ResourceArc<ConnRes>>()
        .ok()
        .map(|r| r.0.clone())
}

/// Arguments of one command, borrowed from the caller's binaries. Up to
/// eight live on the stack.
struct Argv<'a> {
    inline: [&'a [u8]; 8],
    len: usize,
    spill: Vec<&'a [u8]>,
    bytes: usize,
    class: sched::Class,
}

enum ArgvError {
    /// Not a proper list, or an element is not a binary.
    Convert,
}

impl<'a> Argv<'a> {
    #[inline(always)]
    fn new() -> Argv<'a> {
        Argv {
            inline: [&[]; 8],
            len: 0,
            spill: Vec::new(),
            bytes: 0,
            class: sched::UNKNOWN,
        }
    }

    /// Decodes a list of binaries into `self` (filled in place: an `Argv`
    /// is large, and moving it shows in profiles).
    #[inline(always)]
    fn fill(&mut self, env: Env<'a>, list: Term<'a>) -> Result<(), ArgvError> {
        let argv = self;
        let mut cell = list.as_c_arg();
        let mut head: ErlNifTerm = ErlNifTerm::default();
        let mut tail: ErlNifTerm = ErlNifTerm::default();
        // SAFETY: list cells and binaries are inspected in `env`; the bytes
        // stay valid for the NIF call, which `'a` stands for.
        unsafe {
            while enif_get_list_cell(env.as_c_arg(), cell, &mut head, &mut tail) != 0 {
                let mut bin = MaybeUninit::<ErlNifBinary>::uninit();
                if enif_inspect_binary(env.as_c_arg(), head, bin.as_mut_ptr()) == 0 {
                    return Err(ArgvError::Convert);
                }
                let bin = bin.assume_init();
                let bytes: &'a [u8] = if bin.size == 0 {
                    &[]
                } else {
                    std::slice::from_raw_parts(bin.data, bin.size)
                };
                argv.push(bytes);
                cell = tail;
            }
        }
        // A proper list ends in [].
        if !Term::is_empty_list(unsafe { Term::new(env, cell) }) {
            return Err(ArgvError::Convert);
        }
        argv.class = match argv.as_slice().first() {
            Some(name) => sched::classify(name),
            None => sched::UNKNOWN,
        };
        Ok(())
    }

    #[inline]
    fn push(&mut self, b: &'a [u8]) {
        self.bytes += b.len();
        if self.len < self.inline.len() {
            self.inline[self.len] = b;
        } else {
            if self.spill.is_empty() {
                self.spill.extend_from_slice(&self.inline);
            }
            self.spill.push(b);
        }
        self.len += 1;
    }

    #[inline]
    fn as_slice(&self) -> &[&'a [u8]] {
        if self.len <= self.inline.len() {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }

    /// The command's scheduling class (unknown and empty commands are
    /// cheap: the engine refuses them at once).
    #[inline]
    fn class(&self) -> sched::Class {
        self.class
    }

    /// True when this command may run on a normal scheduler (locks aside).
    #[inline]
    fn normal_ok(&self) -> bool {
        self.len <= MAX_NORMAL_ARGS && self.bytes <= MAX_NORMAL_BYTES && self.class().cheap
    }
}

/// The outcome of one command.
enum Outcome {
    Reply(Reply),
    /// A waiter was registered: its token, and the handle Elixir waits
    /// with (`crate::blocking`).
    Blocked(u64, ResourceArc<crate::blocking::WaiterRes>),
}

/// Runs one command with both locks held, catching panics.
fn run_locked(
    env: Env<'_>,
    conn: &Arc<Conn>,
    st: &mut State,
    sess: &mut Session,
    argv: &Argv<'_>,
) -> Outcome {
    let args = argv.as_slice();
    let class = argv.class();
    if class.targets_caller {
        conn.sink.set_target(env.pid());
    }
    let result = catch_unwind(AssertUnwindSafe(|| match class.spec {
        Some(spec) => conn.engine.execute_spec_locked(st, sess, spec, args),
        None => conn.engine.execute_locked(st, sess, args),
    }));
    match result {
        Ok(reply) => match sess.blocked.take() {
            Some(token) => {
                // Still under the engine lock: see `PidSink`'s invariant.
                conn.sink.expect(token, env.pid());
                Outcome::Blocked(token, crate::blocking::waiter(env, conn, token))
            }
            None => Outcome::Reply(reply),
        },
        Err(panic) => Outcome::Reply(panic_reply(panic)),
    }
}

fn panic_reply(panic: Box<dyn std::any::Any + Send>) -> Reply {
    let msg = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "panic".to_string());
    Reply::err(format!("ERR internal error: {msg}"))
}

fn encode_outcome<'a>(env: Env<'a>, out: &Outcome) -> Term<'a> {
    match out {
        Outcome::Reply(r) => encode_result(env, r),
        Outcome::Blocked(token, w) => (blocked(), *token, w).encode(env),
    }
}

/// Elements of a pipeline's reply list: errors stay bare structs.
fn encode_element<'a>(env: Env<'a>, out: &Outcome) -> Term<'a> {
    match out {
        Outcome::Reply(r) => encode_reply(env, r),
        Outcome::Blocked(token, w) => (blocked(), *token, w).encode(env),
    }
}

/// `{:ok, replies}`, or `{:blocked_pipeline, replies}` when some command
/// blocked (its element is `{:blocked, token, waiter}`; Elixir waits for it).
fn pipeline_result<'a>(env: Env<'a>, outs: &[Outcome]) -> Term<'a> {
    let items: Vec<Term<'a>> = outs.iter().map(|o| encode_element(env, o)).collect();
    if outs.iter().any(|o| matches!(o, Outcome::Blocked(..))) {
        (blocked_pipeline(), items).encode(env)
    } else {
        (encode::ok(), items).encode(env)
    }
}

#[rustler::nif]
fn open<'a>(env: Env<'a>, owner: LocalPid, store: Term<'a>, db: i64) -> Term<'a> {
    let name: Option<Vec<u8>> = if store.is_atom() {
        None
    } else {
        match store.decode_as_binary() {
            Ok(b) => Some(b.as_slice().to_vec()),
            Err(_) => return error_tuple(env, "ERR store name must be a binary"),
        }
    };
    if db < 0 {
        return error_tuple(env, "ERR DB index is out of range");
    }
    let conn = match conn::open(owner, name.as_deref(), db as usize) {
        Ok(c) => c,
        Err(e) => return error_tuple(env, &e),
    };
    let res = ResourceArc::new(ConnRes(conn.clone()));
    if res.monitor(Some(env), &owner).is_none() {
        conn.close();
        return error_tuple(env, "ERR owner process is not alive");
    }
    (encode::ok(), res).encode(env)
}

/// Opens a side session on `conn`'s engine for the calling process (see
/// `conn::open_side`): `{:ok, conn_ref}`. The caller is monitored; the
/// session closes when it exits or the ref is collected.
#[rustler::nif]
fn open_session<'a>(env: Env<'a>, conn: Term<'a>) -> Term<'a> {
    let Some(parent) = resolve(env, conn) else {
        return noconn().encode(env);
    };
    if parent.is_closed() {
        return closed().encode(env);
    }
    let owner = env.pid();
    let side = conn::open_side(&parent, owner);
    let res = ResourceArc::new(ConnRes(side.clone()));
    if res.monitor(Some(env), &owner).is_none() {
        side.close();
        return error_tuple(env, "ERR owner process is not alive");
    }
    (encode::ok(), res).encode(env)
}

#[rustler::nif]
fn close<'a>(env: Env<'a>, conn: Term<'a>) -> Term<'a> {
    let _guard = CallerEnv::enter(env);
    if let Some(c) = resolve(env, conn) {
        c.close();
    }
    encode::ok().encode(env)
}

raw_nif!("command", 2, command);

/// `command(conn, argv)`: one command on this normal scheduler, or a marker.
fn command<'a>(env: Env<'a>, [conn, argv]: [Term<'a>; 2]) -> ErlNifTerm {
    with_conn(env, conn, |conn| command_normal(env, conn, argv).as_c_arg())
        .unwrap_or_else(|| no_conn(env))
}

#[inline(always)]
fn command_normal<'a>(env: Env<'a>, conn: &Arc<Conn>, argv: Term<'a>) -> Term<'a> {
    let mut args = Argv::new();
    if args.fill(env, argv).is_err() {
        return convert().encode(env);
    }
    let argv = &args;
    if conn.is_closed() {
        return closed().encode(env);
    }
    if conn.io_writes && argv.class().write {
        return dirty_io().encode(env);
    }
    if !argv.normal_ok() {
        return dirty().encode(env);
    }
    let Some(mut sess) = conn.session.try_lock() else {
        return dirty().encode(env);
    };
    if is_exec(argv) && !sched::queue_is_cheap(&sess) {
        return dirty().encode(env);
    }
    let Some(mut st) = conn.engine.try_lock() else {
        return dirty().encode(env);
    };
    let _guard = CallerEnv::enter(env);
    let out = run_locked(env, conn, &mut st, &mut sess, argv);
    drop(st);
    drop(sess);
    encode_outcome(env, &out)
}

/// The bytes of a binary term, valid for the NIF call; `None` when the
/// term is not a binary.
#[inline(always)]
fn inspect<'a>(env: Env<'a>, term: Term<'a>) -> Option<&'a [u8]> {
    let mut bin = MaybeUninit::<ErlNifBinary>::uninit();
    // SAFETY: the term is inspected in `env`; the bytes stay valid for the
    // NIF call, which `'a` stands for.
    unsafe {
        if enif_inspect_binary(env.as_c_arg(), term.as_c_arg(), bin.as_mut_ptr()) == 0 {
            return None;
        }
        let bin = bin.assume_init();
        Some(if bin.size == 0 {
            &[]
        } else {
            std::slice::from_raw_parts(bin.data, bin.size)
        })
    }
}

/// Runs `body` under the conn's session and engine locks (GET and SET:
/// cheap, and never blocking), under the same rule as `command`: on this
/// normal scheduler when the input (`bytes`) is small and both locks are
/// free, else a marker term (`Err`). A panic in `body` becomes an error
/// reply. Terms are raw words (see `raw_nif!`).
#[inline(always)]
fn with_locks(
    env: Env<'_>,
    conn: &Conn,
    write: bool,
    bytes: usize,
    body: impl FnOnce(&mut State, &mut Session) -> ErlNifTerm,
) -> ErlNifTerm {
    if conn.is_closed() {
        return closed().encode(env).as_c_arg();
    }
    // The dirty IO rule: on an `appendfsync always` engine a write fsyncs
    // under the lock, so it must not run on a normal scheduler.
    if conn.io_writes && write {
        return dirty_io().encode(env).as_c_arg();
    }
    if bytes > MAX_NORMAL_BYTES {
        return dirty().encode(env).as_c_arg();
    }
    let Some(mut sess) = conn.session.try_lock() else {
        return dirty().encode(env).as_c_arg();
    };
    let Some(mut st) = conn.engine.try_lock() else {
        return dirty().encode(env).as_c_arg();
    };
    let _guard = CallerEnv::enter(env);
    let result = catch_unwind(AssertUnwindSafe(|| body(&mut st, &mut sess)));
    debug_assert!(sess.blocked.is_none(), "GET and SET never block");
    drop(st);
    drop(sess);
    result.unwrap_or_else(|p| encode_result(env, &panic_reply(p)).as_c_arg())
}

/// The reply of an entry point on a term that names no open conn.
#[cold]
fn no_conn(env: Env<'_>) -> ErlNifTerm {
    noconn().encode(env).as_c_arg()
}

/// The reply of an entry point given a non-binary argument.
#[cold]
fn not_binary(env: Env<'_>) -> ErlNifTerm {
    convert().encode(env).as_c_arg()
}

raw_nif!("get", 2, get);

/// `GET key` without an argument list: what `command(conn, ["GET", key])`
/// returns, markers included (`:convert` when `key` is not a binary). A
/// hit is encoded from the stored string under the lock (no `Reply`; a
/// long value becomes a resource binary over the stored bytes).
fn get<'a>(env: Env<'a>, [conn, key]: [Term<'a>; 2]) -> ErlNifTerm {
    with_conn(env, conn, |conn| {
        let Some(key) = inspect(env, key) else {
            return not_binary(env);
        };
        with_locks(env, conn, false, key.len(), |st, sess| {
            conn.engine.get_locked(
                st,
                sess,
                key,
                |s| {
                    let bin = encode::shared_or_copy(env, s.shared(), s.as_bytes());
                    encode::ok_tuple(env, bin).as_c_arg()
                },
                |reply| encode_result(env, &reply).as_c_arg(),
            )
        })
    })
    .unwrap_or_else(|| no_conn(env))
}

raw_nif!("set", 3, set);

/// `SET key value` without an argument list: `:ok` for the `OK` status
/// (the typed API's shape), else what `command(conn, ["SET", key, value])`
/// returns (`{:ok, "QUEUED"}` inside MULTI, errors, markers).
fn set<'a>(env: Env<'a>, [conn, key, value]: [Term<'a>; 3]) -> ErlNifTerm {
    with_conn(env, conn, |conn| {
        let (Some(key), Some(value)) = (inspect(env, key), inspect(env, value)) else {
            return not_binary(env);
        };
        let bytes = key.len() + value.len();
        with_locks(env, conn, true, bytes, |st, sess| {
            match conn.engine.set_locked(st, sess, key, value) {
                Ok(()) => encode::ok().encode(env).as_c_arg(),
                Err(reply) => set_other(env, &reply),
            }
        })
    })
    .unwrap_or_else(|| no_conn(env))
}

/// SET's answer when it is not a plain store: `:ok` for an `OK` status,
/// else `command`'s result.
#[cold]
fn set_other(env: Env<'_>, reply: &Reply) -> ErlNifTerm {
    match reply {
        Reply::Status(s) if s == "OK" => encode::ok().encode(env).as_c_arg(),
        _ => encode_result(env, reply).as_c_arg(),
    }
}

/// True when the command is EXEC (its cost is its queue's).
#[inline]
fn is_exec(argv: &Argv<'_>) -> bool {
    argv.as_slice()
        .first()
        .is_some_and(|n| n.eq_ignore_ascii_case(b"exec"))
}

#[rustler::nif(schedule = "DirtyCpu")]
fn command_dirty<'a>(env: Env<'a>, conn: Term<'a>, argv: Term<'a>) -> Term<'a> {
    command_blocking(env, conn, argv)
}

/// `command_dirty` on a dirty IO scheduler: writes that fsync.
#[rustler::nif(schedule = "DirtyIo")]
fn command_dirty_io<'a>(env: Env<'a>, conn: Term<'a>, argv: Term<'a>) -> Term<'a> {
    command_blocking(env, conn, argv)
}

/// Runs one command, waiting for the locks (dirty schedulers only).
fn command_blocking<'a>(env: Env<'a>, conn: Term<'a>, argv: Term<'a>) -> Term<'a> {
    let Some(conn) = resolve(env, conn) else {
        return noconn().encode(env);
    };
    let mut args = Argv::new();
    if args.fill(env, argv).is_err() {
        return convert().encode(env);
    }
    let argv = &args;
    if conn.is_closed() {
        return closed().encode(env);
    }
    let _guard = CallerEnv::enter(env);
    let mut sess = conn.session.lock();
    // Not a plain lock(): while a Lua script runs past the busy limit this
    // answers BUSY (or serves SCRIPT KILL) instead of waiting.
    let mut st = match conn.engine.lock_for_command(argv.as_slice()) {
        Ok(st) => st,
        Err(reply) => return encode_outcome(env, &Outcome::Reply(reply)),
    };
    let out = run_locked(env, &conn, &mut st, &mut sess, argv);
    drop(st);
    drop(sess);
    encode_outcome(env, &out)
}

fn decode_pipeline<'a>(env: Env<'a>, cmds: Term<'a>) -> Result<Vec<Argv<'a>>, ArgvError> {
    let mut out = Vec::new();
    let mut cell = cmds.as_c_arg();
    let mut head: ErlNifTerm = ErlNifTerm::default();
    let mut tail: ErlNifTerm = ErlNifTerm::default();
    // SAFETY: list cells are inspected in `env`.
    unsafe {
        while enif_get_list_cell(env.as_c_arg(), cell, &mut head, &mut tail) != 0 {
            out.push(Argv::new());
            if let Some(last) = out.last_mut() {
                last.fill(env, Term::new(env, head))?;
            }
            cell = tail;
        }
        if !Term::new(env, cell).is_empty_list() {
            return Err(ArgvError::Convert);
        }
    }
    Ok(out)
}

#[rustler::nif]
fn pipeline<'a>(env: Env<'a>, conn: Term<'a>, cmds: Term<'a>) -> Term<'a> {
    let Some(conn) = resolve(env, conn) else {
        return noconn().encode(env);
    };
    let Ok(cmds) = decode_pipeline(env, cmds) else {
        return convert().encode(env);
    };
    if conn.is_closed() {
        return closed().encode(env);
    }
    if conn.io_writes && cmds.iter().any(|a| a.class().write) {
        return dirty_io().encode(env);
    }
    let bytes: usize = cmds.iter().map(|a| a.bytes).sum();
    if cmds.len() > MAX_NORMAL_PIPELINE
        || bytes > MAX_NORMAL_BYTES
        || !cmds.iter().all(Argv::normal_ok)
    {
        return dirty().encode(env);
    }
    let Some(mut sess) = conn.session.try_lock() else {
        return dirty().encode(env);
    };
    // Commands queued by earlier calls run inside this pipeline's EXEC.
    if cmds.iter().any(is_exec) && !sched::queue_is_cheap(&sess) {
        return dirty().encode(env);
    }
    let Some(mut st) = conn.engine.try_lock() else {
        return dirty().encode(env);
    };
    let _guard = CallerEnv::enter(env);
    let outs: Vec<Outcome> = cmds
        .iter()
        .map(|a| run_locked(env, &conn, &mut st, &mut sess, a))
        .collect();
    drop(st);
    drop(sess);
    // About 1% of a timeslice per ten commands.
    // SAFETY: called from the NIF's own env.
    unsafe { enif_consume_timeslice(env.as_c_arg(), (cmds.len() / 10).clamp(1, 100) as i32) };
    pipeline_result(env, &outs)
}

#[rustler::nif(schedule = "DirtyCpu")]
fn pipeline_dirty<'a>(env: Env<'a>, conn: Term<'a>, cmds: Term<'a>) -> Term<'a> {
    pipeline_blocking(env, conn, cmds)
}

/// `pipeline_dirty` on a dirty IO scheduler: pipelines with writes that
/// fsync.
#[rustler::nif(schedule = "DirtyIo")]
fn pipeline_dirty_io<'a>(env: Env<'a>, conn: Term<'a>, cmds: Term<'a>) -> Term<'a> {
    pipeline_blocking(env, conn, cmds)
}

/// Runs a pipeline, waiting for the locks (dirty schedulers only).
fn pipeline_blocking<'a>(env: Env<'a>, conn: Term<'a>, cmds: Term<'a>) -> Term<'a> {
    let Some(conn) = resolve(env, conn) else {
        return noconn().encode(env);
    };
    let Ok(cmds) = decode_pipeline(env, cmds) else {
        return convert().encode(env);
    };
    if conn.is_closed() {
        return closed().encode(env);
    }
    let _guard = CallerEnv::enter(env);
    let mut sess = conn.session.lock();
    // The engine lock is taken per command, so a long pipeline lets other
    // clients in between its commands, as Redis does.
    let outs: Vec<Outcome> = cmds
        .iter()
        .map(|a| match conn.engine.lock_for_command(a.as_slice()) {
            Ok(mut st) => run_locked(env, &conn, &mut st, &mut sess, a),
            // A Lua script is past the busy limit: BUSY, without waiting.
            Err(reply) => Outcome::Reply(reply),
        })
        .collect();
    drop(sess);
    pipeline_result(env, &outs)
}

#[rustler::nif]
fn fast_forward<'a>(env: Env<'a>, conn: Term<'a>, ms: i64) -> Term<'a> {
    match resolve(env, conn) {
        Some(c) if !c.is_closed() => {
            c.engine.fast_forward(ms);
            encode::ok().encode(env)
        }
        Some(_) => closed().encode(env),
        None => noconn().encode(env),
    }
}

#[rustler::nif]
fn store_conns(name: rustler::Binary) -> usize {
    conn::store_conns(name.as_slice())
}

/// `close` on a dirty IO scheduler: closing a durable engine waits for a
/// running rewrite and fsyncs the log.
#[rustler::nif(schedule = "DirtyIo")]
fn close_dirty<'a>(env: Env<'a>, conn: Term<'a>) -> Term<'a> {
    let _guard = CallerEnv::enter(env);
    if let Some(c) = resolve(env, conn) {
        c.close();
    }
    encode::ok().encode(env)
}
