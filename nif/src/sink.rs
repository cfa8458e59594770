//! Out-of-band messages to a pid: the engine's [`Sink`] for the BEAM.
//!
//! The engine calls [`Sink::send`] from two kinds of threads:
//! - a scheduler thread, inside some process's NIF call (a command that made
//!   a key ready serves another client blocked on it). `enif_send` must
//!   then be given *that caller's* env. [`CallerEnv::enter`] records it in a
//!   thread-local for the duration of the call;
//! - an engine thread (expiry, timers), which is not a scheduler thread:
//!   `enif_send` gets no caller env.
//!
//! In both cases the message is built in a fresh process-independent env,
//! which `enif_send` consumes.
//!
//! Message shapes:
//! - `{:ferrite_reply, token, reply}` for [`Outgoing::Served`];
//! - `{:ferrite_push, push}` for [`Outgoing::Push`].

use crate::encode::encode_reply;
use ferrite_store::{Outgoing, Sink};
use parking_lot::Mutex;
use rustler::sys::{enif_alloc_env, enif_clear_env, enif_free_env, enif_send, ErlNifEnv};
use rustler::{Encoder, Env, LocalPid};
use std::cell::Cell;
use std::collections::HashMap;
use std::ptr;
use std::sync::atomic::{AtomicBool, Ordering};

rustler::atoms! {
    /// Tag of a served blocking reply.
    ferrite_reply,
    /// Tag of a push message.
    ferrite_push,
}

thread_local! {
    static CALLER_ENV: Cell<*mut ErlNifEnv> = const { Cell::new(ptr::null_mut()) };
    /// This thread's message env (see [`with_msg_env`]); null until first
    /// used. Never freed: it lives as long as the thread (a scheduler or an
    /// engine thread), and freeing it in a thread-exit destructor could run
    /// after the VM is gone.
    static MSG_ENV: Cell<*mut ErlNifEnv> = const { Cell::new(ptr::null_mut()) };
}

/// Runs `f` with this thread's process-independent env for building one
/// message: allocated once per thread and cleared after each message,
/// instead of allocated and freed per message (a PUBLISH to a thousand
/// subscribers builds a thousand messages). `f` must leave the env empty
/// (clear it after `enif_send`). A nested call (not expected: building a
/// message does not send one) gets a fresh env of its own.
fn with_msg_env<R>(f: impl FnOnce(*mut ErlNifEnv) -> R) -> R {
    let menv = MSG_ENV.with(|c| c.replace(ptr::null_mut()));
    // SAFETY: enif_alloc_env has no preconditions; the env is ours.
    let menv = if menv.is_null() {
        unsafe { enif_alloc_env() }
    } else {
        menv
    };
    let r = f(menv);
    // Put it back for the next message; a nested call's env is freed.
    let prev = MSG_ENV.with(|c| c.replace(menv));
    if !prev.is_null() {
        // SAFETY: `prev` came from enif_alloc_env and nothing refers to it.
        unsafe { enif_free_env(prev) };
    }
    r
}

/// Records the calling process's env for the duration of a NIF call (or a
/// resource callback), restoring the previous value when dropped.
pub struct CallerEnv {
    prev: *mut ErlNifEnv,
}

impl CallerEnv {
    /// Enters `env` as the current caller env.
    #[inline]
    pub fn enter(env: Env<'_>) -> CallerEnv {
        let prev = CALLER_ENV.with(|c| c.replace(env.as_c_arg()));
        CallerEnv { prev }
    }
}

impl Drop for CallerEnv {
    #[inline]
    fn drop(&mut self) {
        CALLER_ENV.with(|c| c.set(self.prev));
    }
}

fn on_scheduler_thread() -> bool {
    // enif_thread_type: > 0 for normal and dirty schedulers.
    unsafe { rustler::sys::enif_thread_type() > 0 }
}

/// A [`Sink`] that sends to a pid. The target pid can be changed: a
/// subscription points it at the calling process. The result of a blocking
/// command goes to the process that issued it, found by its token, so
/// several processes sharing one conn each get their own results.
///
/// Invariant: `waiters` gains a token while the engine lock is still held
/// by the command that registered it, so the engine cannot serve the token
/// before the sink knows where it goes.
pub struct PidSink {
    pid: Mutex<LocalPid>,
    waiters: Mutex<HashMap<u64, LocalPid>>,
    alive: AtomicBool,
}

impl PidSink {
    /// A sink sending to `pid`.
    pub fn new(pid: LocalPid) -> PidSink {
        PidSink {
            pid: Mutex::new(pid),
            waiters: Mutex::new(HashMap::new()),
            alive: AtomicBool::new(true),
        }
    }

    /// Points the sink at `pid` (and marks it alive again).
    pub fn set_target(&self, pid: LocalPid) {
        *self.pid.lock() = pid;
        self.alive.store(true, Ordering::Release);
    }

    /// Routes the result of the blocking command registered under `token`
    /// to `pid`. Call with the engine lock held.
    pub fn expect(&self, token: u64, pid: LocalPid) {
        self.waiters.lock().insert(token, pid);
    }

    /// Forgets the route of `token`, whose waiter was given up (no result
    /// will be sent for it).
    pub fn forget(&self, token: u64) {
        self.waiters.lock().remove(&token);
    }

    /// Marks the sink dead: later sends fail.
    pub fn close(&self) {
        self.alive.store(false, Ordering::Release);
    }

    fn deliver(
        &self,
        to: Option<LocalPid>,
        build: impl for<'a> FnOnce(Env<'a>) -> rustler::Term<'a>,
    ) -> bool {
        if !self.alive.load(Ordering::Acquire) {
            return false;
        }
        let pid = to.unwrap_or_else(|| *self.pid.lock());
        let caller = CALLER_ENV.with(Cell::get);
        if caller.is_null() && on_scheduler_thread() {
            // A scheduler thread outside any NIF call cannot send safely.
            return false;
        }
        let sent = with_msg_env(|menv| {
            // SAFETY: `menv` is this thread's process-independent env,
            // empty on entry; the message term lives in it, and enif_send
            // consumes it; `caller` is this thread's caller env or null on
            // a non-scheduler thread, as enif_send requires. The env is
            // cleared afterwards whatever the outcome, so the next message
            // starts from an empty env.
            unsafe {
                let env = Env::new(&(), menv);
                let msg = build(env);
                let ok = enif_send(caller, pid.as_c_arg(), menv, msg.as_c_arg()) == 1;
                enif_clear_env(menv);
                ok
            }
        });
        if !sent && to.is_none() {
            self.alive.store(false, Ordering::Release);
        }
        sent
    }
}

impl Sink for PidSink {
    fn send(&self, msg: Outgoing) -> bool {
        match msg {
            Outgoing::Served { token, reply } => {
                let to = self.waiters.lock().remove(&token);
                self.deliver(to, |env| {
                    (ferrite_reply(), token, encode_reply(env, &reply)).encode(env)
                })
            }
            Outgoing::Push(reply) => self.deliver(None, |env| {
                (ferrite_push(), encode_reply(env, &reply)).encode(env)
            }),
        }
    }

    fn alive(&self) -> bool {
        self.alive.load(Ordering::Acquire)
    }
}
