//! Blocking commands (BLPOP, BLMOVE, BZPOPMIN, XREAD BLOCK, ...): waiters
//! registered per key, served in FIFO order when data arrives, with
//! engine-side deadlines.
//!
//! # How a blocking command uses this module
//!
//! A blocking command first tries to answer at once, exactly like its
//! non-blocking twin. When it finds no data it calls [`block`]:
//!
//! ```ignore
//! let deadline = blocking::parse_timeout(ctx.now, argv[last], TimeUnit::Seconds)?; // before any key lookup
//! // ... no key can serve now:
//! return blocking::block(ctx, keys, deadline, Action {
//!     serve: serve_blpop,                 // fn(&mut Ctx, key, &args) -> Serve
//!     args: vec![b"left".to_vec()],       // anything serve needs, as bytes
//!     timeout_reply: Reply::NilArray,     // what the client gets on timeout
//! });
//! ```
//!
//! [`block`] replies with `timeout_reply` at once when the session cannot
//! block (no sink, or `session.no_block` inside MULTI/EXEC and scripts).
//! Otherwise it registers a [`Waiter`], sets `session.blocked =
//! Some(token)` and returns `timeout_reply` as a placeholder that the
//! caller must ignore: the real reply arrives later through the session's
//! sink as `Outgoing::Served { token, reply }`.
//!
//! When a command adds data to a key (LPUSH, ZADD, XADD, LMOVE's
//! destination...), it calls `ctx.signal_ready(db, key)`. That costs one
//! hash lookup, and only records the key when someone waits on it. After
//! every top-level command, [`serve_ready`] walks the ready keys and, for
//! each, tries the waiters on it in FIFO order by calling their `serve`
//! function with the waiter's database and protocol selected in `ctx`.
//!
//! A `serve` function performs the operation on the waiter's behalf and
//! says what happened ([`Serve`]):
//! - `Served { reply, undo }`: the data was taken; `reply` goes to the
//!   waiter. `undo` is the argv of a command that puts the data back
//!   (e.g. `RPUSH key elem` after an `RPOP`, `ZADD key score member` after
//!   a `ZPOPMIN`); it runs when the waiter's sink refuses the message
//!   (the receiver died between the liveness check and the send), so no
//!   element is ever lost. Non-destructive reads (XREAD) pass `None`.
//! - `NotReady`: this waiter cannot be served from this key now (e.g. its
//!   stream id is past the last entry); try the next waiter.
//! - `Exhausted`: nobody can be served from this key now (empty list,
//!   wrong type); stop serving this key.
//!
//! To keep propagation to the append-only log right, a serve function
//! should perform its write with the non-blocking twin through
//! `ctx.call(spec, argv)` (e.g. `LPOP key`, `LMOVE src dst LEFT RIGHT`,
//! `ZPOPMIN key`), which also counts dirty changes and fires the
//! keyspace notifications of that command.
//!
//! Before serving a waiter the engine checks `sink.alive()`; a dead waiter
//! is dropped without taking anything. The message is sent under the engine
//! lock, so once [`Engine::unblock`] returns false the reply is already in
//! the receiver's mailbox.
//!
//! # Timeouts
//!
//! Deadlines are engine milliseconds (`Clock::now_ms`, which
//! `Engine::fast_forward` moves); 0 waits forever. A background thread
//! ([`register`]) ticks every 10 ms while any engine has a waiter with a
//! deadline, and [`tick`] sends each expired waiter its `timeout_reply`.
//!
//! # Giving up
//!
//! A caller that stops waiting on its own (its receive timed out, the
//! process is going away) calls [`Engine::unblock`] with the token: true
//! means the waiter was still registered and is now gone (no message will
//! come); false means a reply (served or timeout) was already sent.
//!
//! # Invariants
//!
//! - Every registered waiter is in `waiters` and in the FIFO queue of each
//!   of its keys; a queue never holds a token absent from `waiters` for
//!   longer than one call (removal cleans the queues of all its keys).
//! - A waiter with a deadline is in `deadlines` under `(deadline, token)`.
//! - `ready` only holds keys that had waiters when they were signalled.

use crate::engine::{Ctx, Engine, Outgoing, Sink, State};
use crate::reply::{errors, Reply};
use parking_lot::Mutex;
use std::collections::{BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::time::Duration;

/// What a serve function reports (see the module documentation).
#[derive(Debug)]
pub enum Serve {
    /// The waiter was served: send `reply`; if the send fails, run `undo`
    /// (an argv in the waiter's database) to put the data back.
    Served {
        /// The blocked command's reply.
        reply: Reply,
        /// A command that restores what was taken, if anything was.
        undo: Option<Vec<Vec<u8>>>,
    },
    /// This waiter cannot be served from this key now; try the next one.
    NotReady,
    /// No waiter can be served from this key now; stop.
    Exhausted,
}

/// A serve function: performs the blocked operation on `key` (in the
/// selected database of `ctx`, which is the waiter's) with the waiter's
/// `args`. A plain function pointer, so a waiter holds no closure.
pub type ServeFn = fn(ctx: &mut Ctx<'_>, key: &[u8], args: &[Vec<u8>]) -> Serve;

/// What to do for a waiter: how to serve it and what it gets on timeout.
#[derive(Clone, Debug)]
pub struct Action {
    /// Called when one of the waiter's keys is ready.
    pub serve: ServeFn,
    /// Free-form arguments for `serve` (usually the parsed options of the
    /// blocking command: direction, count, destination, stream ids...).
    pub args: Vec<Vec<u8>>,
    /// The reply on timeout (and inside MULTI/scripts): Redis sends a null
    /// array for BLPOP/BZPOPMIN/BLMPOP/XREAD, a null bulk for BLMOVE.
    pub timeout_reply: Reply,
}

/// A client blocked on keys.
#[derive(Clone)]
pub struct Waiter {
    /// The blocked client's id.
    pub client_id: u64,
    /// The token its `Outgoing::Served` carries.
    pub token: u64,
    /// Where its reply goes.
    pub sink: Arc<dyn Sink>,
    /// The database its keys live in.
    pub db: usize,
    /// The protocol the client speaks (2 or 3); replies are built for it.
    pub resp: u8,
    /// The keys it waits on (deduplicated, in argument order).
    pub keys: Vec<Vec<u8>>,
    /// Engine-ms deadline; 0 waits forever.
    pub deadline: u64,
    /// How to serve it.
    pub action: Action,
}

/// Clients waiting on keys, per engine.
#[derive(Default)]
pub struct Registry {
    waiters: HashMap<u64, Waiter>,
    by_key: HashMap<(usize, Vec<u8>), VecDeque<u64>>,
    deadlines: BTreeSet<(u64, u64)>,
    ready: VecDeque<(usize, Vec<u8>)>,
    ready_set: HashSet<(usize, Vec<u8>)>,
    next_token: u64,
}

/// Number of waiters with a deadline, over every engine of the process:
/// the timer thread sleeps while it is zero.
static TIMED: AtomicUsize = AtomicUsize::new(0);

impl Registry {
    /// True when keys were signalled ready and waiters may be served.
    #[inline]
    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Number of clients currently blocked (INFO `blocked_clients`).
    pub fn blocked_clients(&self) -> usize {
        self.waiters.len()
    }

    /// Number of distinct keys with waiters (INFO `blocking_keys`-like).
    pub fn blocking_keys(&self) -> usize {
        self.by_key.len()
    }

    /// True when a waiter is registered under `token`.
    pub fn is_blocked(&self, token: u64) -> bool {
        self.waiters.contains_key(&token)
    }

    /// The token of the waiter of client `client_id`, if it is blocked.
    pub fn token_of(&self, client_id: u64) -> Option<u64> {
        self.waiters
            .values()
            .find(|w| w.client_id == client_id)
            .map(|w| w.token)
    }

    /// The earliest deadline of any waiter (0: none).
    pub fn next_deadline(&self) -> u64 {
        self.deadlines.first().map(|&(d, _)| d).unwrap_or(0)
    }

    /// Registers a waiter; returns its token.
    fn add(&mut self, mut w: Waiter) -> u64 {
        self.next_token += 1;
        let token = self.next_token;
        w.token = token;
        let mut keys: Vec<Vec<u8>> = Vec::with_capacity(w.keys.len());
        for k in std::mem::take(&mut w.keys) {
            if !keys.contains(&k) {
                keys.push(k);
            }
        }
        for k in &keys {
            self.by_key
                .entry((w.db, k.clone()))
                .or_default()
                .push_back(token);
        }
        w.keys = keys;
        if w.deadline != 0 {
            self.deadlines.insert((w.deadline, token));
            TIMED.fetch_add(1, Ordering::Relaxed);
            wake_timer();
        }
        self.waiters.insert(token, w);
        token
    }

    /// Removes the waiter under `token` from every index; returns it.
    pub fn remove(&mut self, token: u64) -> Option<Waiter> {
        let w = self.waiters.remove(&token)?;
        for k in &w.keys {
            let slot = (w.db, k.clone());
            if let Some(q) = self.by_key.get_mut(&slot) {
                q.retain(|&t| t != token);
                if q.is_empty() {
                    self.by_key.remove(&slot);
                }
            }
        }
        if w.deadline != 0 {
            self.deadlines.remove(&(w.deadline, token));
            TIMED.fetch_sub(1, Ordering::Relaxed);
        }
        Some(w)
    }

    /// Records `key` of `db` as ready when someone waits on it.
    #[inline]
    fn mark_ready(&mut self, db: usize, key: &[u8]) {
        if self.by_key.is_empty() {
            return;
        }
        let slot = (db, key.to_vec());
        if self.by_key.contains_key(&slot) && !self.ready_set.contains(&slot) {
            self.ready_set.insert(slot.clone());
            self.ready.push_back(slot);
        }
    }

    /// Removes every waiter whose deadline is at or before `now`.
    fn take_expired(&mut self, now: u64) -> Vec<Waiter> {
        let mut out = Vec::new();
        while let Some(&(d, token)) = self.deadlines.first() {
            if d > now {
                break;
            }
            match self.remove(token) {
                Some(w) => out.push(w),
                None => {
                    self.deadlines.remove(&(d, token));
                }
            }
        }
        out
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        TIMED.fetch_sub(self.deadlines.len(), Ordering::Relaxed);
    }
}

/// Unit of a blocking command's timeout argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeUnit {
    /// Seconds as a float (BLPOP, BZPOPMIN, BLMOVE...).
    Seconds,
    /// Integer milliseconds (XREAD/XREADGROUP BLOCK).
    Millis,
}

/// Parses a timeout argument as Redis 7.0 does and returns the absolute
/// deadline in engine ms (0: wait forever). Errors are Redis's:
/// `ERR timeout is not a float or out of range` (seconds),
/// `ERR timeout is not an integer or out of range` (milliseconds),
/// `ERR timeout is negative`.
pub fn parse_timeout(now: u64, arg: &[u8], unit: TimeUnit) -> Result<u64, Reply> {
    let ms: i64 = match unit {
        TimeUnit::Seconds => {
            let v =
                crate::util::parse_f64(arg).ok_or_else(|| Reply::err(errors::TIMEOUT_NOT_FLOAT))?;
            let ms = (v * 1000.0).ceil();
            // Redis casts the long double to long long: values out of range
            // (and infinities) come out as LLONG_MIN, hence "negative".
            if ms.is_nan() || ms >= 9.223_372_036_854_775e18 {
                return Err(Reply::err(errors::TIMEOUT_NEGATIVE));
            }
            ms as i64
        }
        TimeUnit::Millis => crate::util::parse_i64_strict(arg)
            .ok_or_else(|| Reply::err("ERR timeout is not an integer or out of range"))?,
    };
    if ms < 0 {
        return Err(Reply::err(errors::TIMEOUT_NEGATIVE));
    }
    if ms == 0 {
        return Ok(0);
    }
    Ok(now.saturating_add(ms as u64))
}

/// Blocks the calling client on `keys` until one of them can serve it, or
/// `deadline` (engine ms; 0 = forever) passes. Returns `action.timeout_reply`:
/// the real reply when the session cannot block (no sink, or inside
/// MULTI/EXEC or a script), a placeholder to ignore when it did block
/// (`ctx.session.blocked` is then `Some(token)`).
pub fn block(ctx: &mut Ctx<'_>, keys: Vec<Vec<u8>>, deadline: u64, action: Action) -> Reply {
    let sink = match &ctx.session.sink {
        Some(s) if !ctx.session.no_block => s.clone(),
        _ => return action.timeout_reply,
    };
    let timeout_reply = action.timeout_reply.clone();
    let token = ctx.st.blocking.add(Waiter {
        client_id: ctx.session.id,
        token: 0,
        sink,
        db: ctx.session.db,
        resp: ctx.session.resp,
        keys,
        deadline,
        action,
    });
    ctx.session.blocked = Some(token);
    timeout_reply
}

/// Marks `key` in `db` as ready: waiters on it are served after the current
/// command completes. Cheap when nobody waits.
#[inline]
pub fn signal_ready(st: &mut State, db: usize, key: &[u8]) {
    st.blocking.mark_ready(db, key);
}

/// Marks ready every key of `db` that a client waits on and that now holds
/// a list, sorted set or stream (Redis's `scanDatabaseForReadyKeys`, run
/// by SWAPDB): the waiters are served after the command. Costs one lookup
/// per waited-on key, however large the database.
pub fn scan_db_for_ready_keys(st: &mut State, db: usize) {
    if st.blocking.by_key.is_empty() {
        return;
    }
    let keys: Vec<Vec<u8>> = st
        .blocking
        .by_key
        .keys()
        .filter(|(d, _)| *d == db)
        .map(|(_, k)| k.clone())
        .collect();
    for key in keys {
        let serves = st.dbs[db].find(&key).is_some_and(|p| {
            matches!(
                st.dbs[db].at(p).value,
                crate::types::Value::List(_)
                    | crate::types::Value::ZSet(_)
                    | crate::types::Value::Stream(_)
            )
        });
        if serves {
            st.blocking.mark_ready(db, &key);
        }
    }
}

/// Serves waiters on the keys signalled ready during the last command, in
/// FIFO order per key. Runs after each top-level command.
#[inline]
pub fn serve_ready(ctx: &mut Ctx<'_>) {
    if ctx.st.blocking.ready.is_empty() {
        return;
    }
    serve_ready_slow(ctx);
}

fn serve_ready_slow(ctx: &mut Ctx<'_>) {
    while let Some(slot) = ctx.st.blocking.ready.pop_front() {
        ctx.st.blocking.ready_set.remove(&slot);
        let (db, key) = slot;
        let tokens: Vec<u64> = match ctx.st.blocking.by_key.get(&(db, key.clone())) {
            Some(q) => q.iter().copied().collect(),
            None => continue,
        };
        for token in tokens {
            let Some(w) = ctx.st.blocking.waiters.get(&token) else {
                continue;
            };
            if !w.sink.alive() {
                ctx.st.blocking.remove(token);
                continue;
            }
            let (serve, args, wdb, wresp) = (w.action.serve, w.action.args.clone(), w.db, w.resp);
            let outcome = as_waiter(ctx, wdb, wresp, |ctx| serve(ctx, &key, &args));
            match outcome {
                Serve::NotReady => continue,
                Serve::Exhausted => break,
                Serve::Served { reply, undo } => {
                    let w = ctx
                        .st
                        .blocking
                        .remove(token)
                        .expect("waiter registered until served");
                    if !w.sink.send(Outgoing::Served { token, reply }) {
                        if let Some(undo) = undo {
                            as_waiter(ctx, wdb, wresp, |ctx| run_argv(ctx, &undo));
                        }
                    }
                }
            }
        }
    }
}

/// Runs `f` with the session's database and protocol switched to a
/// waiter's.
fn as_waiter<R>(ctx: &mut Ctx<'_>, db: usize, resp: u8, f: impl FnOnce(&mut Ctx<'_>) -> R) -> R {
    let (sdb, sresp) = (ctx.session.db, ctx.session.resp);
    ctx.session.db = db;
    ctx.session.resp = resp;
    let r = f(ctx);
    ctx.session.db = sdb;
    ctx.session.resp = sresp;
    r
}

/// Runs a command (for serve functions and undo) through the table, so it
/// is counted and propagated like any other. Unknown commands and arity
/// errors come back as errors.
pub fn run_argv(ctx: &mut Ctx<'_>, argv: &[Vec<u8>]) -> Reply {
    let refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
    match ctx.engine.check(&refs) {
        Ok(spec) => ctx.call(spec, &refs),
        Err(e) => e,
    }
}

/// Serves a blocked LMPOP/ZMPOP-style waiter on `key`: runs
/// `<cmd> 1 <key> <args[0]> COUNT <args[1]>` and, when it popped something,
/// returns its reply with the undo command `undo` builds from the popped
/// items (the reply's second element).
pub fn serve_mpop(
    ctx: &mut Ctx<'_>,
    cmd: &[u8],
    key: &[u8],
    args: &[Vec<u8>],
    undo: impl FnOnce(&[Reply]) -> Vec<Vec<u8>>,
) -> Serve {
    let reply = run_argv(
        ctx,
        &[
            cmd.to_vec(),
            b"1".to_vec(),
            key.to_vec(),
            args[0].clone(),
            b"COUNT".to_vec(),
            args[1].clone(),
        ],
    );
    let Reply::Array(parts) = &reply else {
        return Serve::Exhausted;
    };
    let Some(Reply::Array(items)) = parts.get(1) else {
        return Serve::Exhausted;
    };
    let undo = undo(items);
    Serve::Served {
        reply,
        undo: Some(undo),
    }
}

/// Sends the timeout reply to every waiter whose deadline has passed.
/// Returns how many timed out. The background timer calls it; tests may
/// too.
pub fn tick(engine: &Engine) -> usize {
    let mut st = engine.lock();
    let now = engine.clock.now_ms();
    let next = st.blocking.next_deadline();
    if next == 0 || next > now {
        return 0;
    }
    let expired = st.blocking.take_expired(now);
    for w in &expired {
        w.sink.send(Outgoing::Served {
            token: w.token,
            reply: w.action.timeout_reply.clone(),
        });
    }
    expired.len()
}

/// Unblocks client `client_id` as CLIENT UNBLOCK does: it gets its timeout
/// reply, or with `error` Redis's `UNBLOCKED` error, through its sink.
/// True when the client was blocked.
pub fn unblock_client_with(st: &mut State, client_id: u64, error: bool) -> bool {
    let Some(token) = st.blocking.token_of(client_id) else {
        return false;
    };
    let Some(w) = st.blocking.remove(token) else {
        return false;
    };
    let reply = if error {
        Reply::err("UNBLOCKED client unblocked via CLIENT UNBLOCK")
    } else {
        w.action.timeout_reply.clone()
    };
    w.sink.send(Outgoing::Served { token, reply });
    true
}

impl Engine {
    /// Gives up waiting for the blocked command registered under `token`.
    /// True when the waiter was still registered (it is now removed and no
    /// message will come); false when its reply was already sent (it is in
    /// the receiver's mailbox) or the token is unknown.
    pub fn unblock(&self, token: u64) -> bool {
        self.lock().blocking.remove(token).is_some()
    }

    /// Removes the waiter of client `client_id` (a client going away);
    /// returns its token when it was blocked.
    pub fn unblock_client(&self, client_id: u64) -> Option<u64> {
        let mut st = self.lock();
        let token = st.blocking.token_of(client_id)?;
        st.blocking.remove(token);
        Some(token)
    }
}

/// Timer: every engine with blocking support, and the thread that times
/// their waiters out.
fn timer() -> &'static (Mutex<Vec<Weak<Engine>>>, std::thread::Thread) {
    static T: OnceLock<(Mutex<Vec<Weak<Engine>>>, std::thread::Thread)> = OnceLock::new();
    T.get_or_init(|| {
        let handle = std::thread::Builder::new()
            .name("ferrite-blocking".into())
            .spawn(run_timer)
            .expect("spawn blocking timer thread");
        (Mutex::new(Vec::new()), handle.thread().clone())
    })
}

fn wake_timer() {
    timer().1.unpark();
}

/// Registers an engine with the timeout thread (`Engine::with_config` calls
/// it).
pub fn register(engine: &Arc<Engine>) {
    timer().0.lock().push(Arc::downgrade(engine));
}

fn run_timer() {
    loop {
        if TIMED.load(Ordering::Relaxed) == 0 {
            std::thread::park_timeout(Duration::from_secs(1));
            continue;
        }
        std::thread::sleep(Duration::from_millis(10));
        let engines: Vec<Arc<Engine>> = {
            let mut reg = timer().0.lock();
            reg.retain(|w| w.strong_count() > 0);
            reg.iter().filter_map(Weak::upgrade).collect()
        };
        for e in engines {
            tick(&e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_as_redis() {
        let s = TimeUnit::Seconds;
        assert_eq!(parse_timeout(1000, b"0", s), Ok(0));
        assert_eq!(parse_timeout(1000, b"1.5", s), Ok(2500));
        // 0.0009 s rounds up to 1 ms, not to "forever".
        assert_eq!(parse_timeout(1000, b"0.0009", s), Ok(1001));
        for (arg, err) in [
            (&b"-1"[..], errors::TIMEOUT_NEGATIVE),
            (b"inf", errors::TIMEOUT_NEGATIVE),
            (b"1e16", errors::TIMEOUT_NEGATIVE),
            (b"abc", errors::TIMEOUT_NOT_FLOAT),
            (b"nan", errors::TIMEOUT_NOT_FLOAT),
            (b" 1", errors::TIMEOUT_NOT_FLOAT),
        ] {
            assert_eq!(parse_timeout(0, arg, s), Err(Reply::err(err)), "{arg:?}");
        }
        let m = TimeUnit::Millis;
        assert_eq!(parse_timeout(10, b"5", m), Ok(15));
        assert_eq!(parse_timeout(10, b"0", m), Ok(0));
        assert_eq!(
            parse_timeout(10, b"-1", m),
            Err(Reply::err(errors::TIMEOUT_NEGATIVE))
        );
        assert_eq!(
            parse_timeout(10, b"1.5", m),
            Err(Reply::err("ERR timeout is not an integer or out of range"))
        );
    }
}
