//! `Engine` (the databases, config, clock and shared hubs) and `Session` (one
//! client's state).
//!
//! # Locking scheme
//!
//! One engine-wide mutex guards all sixteen databases and every hub. A command
//! runs start to finish under it, so every command is atomic, as in Redis's
//! single-threaded core: a reader never sees a half-applied command, and
//! MULTI/EXEC, scripts, SWAPDB and cross-database MOVE/COPY need no lock
//! ordering at all. The cost of the lock itself is one uncontended atomic
//! pair (about 20 ns). Long commands hold it for their whole run, as they
//! would block a Redis server; the NIF therefore only *tries* the lock on a
//! normal scheduler and moves a contended call to a dirty scheduler, so a
//! long command never stalls a normal scheduler behind it.
//!
//! Invariant: nothing that can block (disk I/O with fsync, sleeping) runs
//! under the lock except what Redis also does synchronously (`appendfsync
//! always`, SAVE, DEBUG SLEEP).

use crate::command::{self, CommandSpec, Flags};
use crate::config::Config;
use crate::keyspace::Db;
use crate::reply::{errors, Reply};
use crate::stats::Stats;
use crate::types::Sso;
use parking_lot::{Mutex, MutexGuard};
use rand::rngs::SmallRng;
use rand::SeedableRng;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Number of logical databases (`SELECT 0` .. `SELECT 15`).
pub const NUM_DBS: usize = 16;

/// Wall clock in Unix milliseconds, with an offset that tests can move
/// forward (`Engine::fast_forward`), and for tests that need exact times a
/// freeze (`Clock::freeze`) that stops the real part from advancing.
///
/// Two readings:
/// - [`Clock::now_ms`], exact: a system clock read (25-100 ns on a loaded
///   VM, as much as the rest of a GET). Expiry decisions, TTLs and
///   deadlines use it.
/// - [`Clock::coarse_ms`], cached: the real time of the last exact read or
///   of the last [`Clock::refresh`] (the engine thread calls it every
///   active-expiry period, `1000 / hz` ms), plus the current offset. It
///   lags real time by at most that period and never runs ahead. Only the
///   LRU/LFU access stamps use it, as Redis's cached `LRU_CLOCK()` (second
///   resolution, refreshed in `serverCron`) does.
pub struct Clock {
    offset_ms: AtomicI64,
    /// Real Unix ms (no offset) at the last exact read or refresh; only
    /// grows.
    coarse_real_ms: AtomicI64,
    /// Real Unix µs the clock is frozen at; 0 when it runs.
    frozen_us: AtomicI64,
}

impl Default for Clock {
    fn default() -> Self {
        Clock {
            offset_ms: AtomicI64::new(0),
            coarse_real_ms: AtomicI64::new(system_us() / 1000),
            frozen_us: AtomicI64::new(0),
        }
    }
}

#[inline]
fn system_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl Clock {
    /// The real part in Unix µs: the system clock, or the frozen instant.
    #[inline]
    fn real_us(&self) -> i64 {
        let frozen = self.frozen_us.load(Ordering::Relaxed);
        if frozen != 0 {
            frozen
        } else {
            system_us()
        }
    }

    /// Milliseconds since the Unix epoch, including the test offset (an
    /// exact read; it also refreshes the coarse clock).
    #[inline]
    pub fn now_ms(&self) -> u64 {
        let real = self.real_us() / 1000;
        self.note_real(real);
        (real + self.offset_ms.load(Ordering::Relaxed)).max(0) as u64
    }

    /// The coarse clock (see the type's documentation): no system call.
    #[inline]
    pub fn coarse_ms(&self) -> u64 {
        (self.coarse_real_ms.load(Ordering::Relaxed) + self.offset_ms.load(Ordering::Relaxed))
            .max(0) as u64
    }

    /// Brings the coarse clock up to the real time.
    pub fn refresh(&self) {
        self.note_real(self.real_us() / 1000);
    }

    #[inline]
    fn note_real(&self, real: i64) {
        // A racing older store can only make the coarse clock lag a little
        // more, never run ahead: acceptable for access stamps.
        if real > self.coarse_real_ms.load(Ordering::Relaxed) {
            self.coarse_real_ms.store(real, Ordering::Relaxed);
        }
    }

    /// Microseconds since the Unix epoch, including the test offset.
    pub fn now_us(&self) -> u64 {
        (self.real_us() + self.offset_ms.load(Ordering::Relaxed) * 1000).max(0) as u64
    }

    /// Moves the clock forward by `ms`.
    pub fn advance(&self, ms: i64) {
        self.offset_ms.fetch_add(ms, Ordering::Relaxed);
    }

    /// Stops the real part of the clock at the current instant (true) or
    /// lets it run again (false). Only `advance` moves a frozen clock, so a
    /// test can assert exact idle times and TTLs on a loaded machine.
    pub fn freeze(&self, on: bool) {
        let at = if on {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_micros() as i64)
                .unwrap_or(1)
                .max(1)
        } else {
            0
        };
        self.frozen_us.store(at, Ordering::Relaxed);
    }
}

/// Everything the engine lock guards.
pub struct State {
    /// The sixteen databases.
    pub dbs: Vec<Db>,
    /// Runtime configuration (`CONFIG GET/SET`).
    pub config: Config,
    /// Counters for INFO.
    pub stats: Stats,
    /// Number of changes since the last save (Redis's `server.dirty`).
    pub dirty: u64,
    /// Random source for sampling.
    pub rng: SmallRng,
    /// Unix time (seconds) of the last successful save.
    pub lastsave: u64,
    /// Clients waiting in blocking commands.
    pub blocking: crate::blocking::Registry,
    /// Pub/sub channels and patterns.
    pub pubsub: crate::pubsub::Hub,
    /// Watched keys (WATCH).
    pub watches: crate::tx::Watches,
    /// Write propagation to the append-only log and sync.
    pub propagation: crate::persist::Propagation,
    /// Script and function caches.
    pub scripts: crate::script::Scripts,
    /// Connected clients (CLIENT LIST/KILL, INFO clients).
    pub clients: crate::resp::clients::Registry,
    /// Memory accounting and the eviction pool.
    pub memory: crate::evict::Memory,
}

/// Something the engine sends to a client outside of a command's reply:
/// the result of a blocking command served later, or a push message.
#[derive(Clone, Debug, PartialEq)]
pub enum Outgoing {
    /// The reply to the blocking command registered under `token`.
    Served {
        /// The token `Session::blocked` carried.
        token: u64,
        /// The command's reply.
        reply: Reply,
    },
    /// A push message (pub/sub message, keyspace notification).
    Push(Reply),
}

/// Where the engine delivers `Outgoing` messages for one client. The NIF
/// implements it with `enif_send` to a pid; the listener with a socket
/// writer.
///
/// Invariant: `send` never blocks (a slow receiver must not stall the
/// engine), and returns false once the receiver is gone, so the engine can
/// give a served element to the next waiter instead.
pub trait Sink: Send + Sync {
    /// Delivers a message; false when the receiver is gone.
    fn send(&self, msg: Outgoing) -> bool;
    /// True while the receiver is alive.
    fn alive(&self) -> bool;
}

/// A client's state: the selected database and protocol, and (in later
/// layers) transaction, watch and subscription state.
#[derive(Debug)]
pub struct Session {
    /// Unique client id (`CLIENT ID`).
    pub id: u64,
    /// Selected database.
    pub db: usize,
    /// Protocol version: 2 or 3.
    pub resp: u8,
    /// `CLIENT SETNAME` name.
    pub name: Option<Vec<u8>>,
    /// Where out-of-band messages for this client go (blocking results,
    /// pub/sub). `None`: this client cannot block or subscribe.
    pub sink: Option<std::sync::Arc<dyn Sink>>,
    /// Set by a blocking command that registered a waiter instead of
    /// replying: the token its `Outgoing::Served` will carry. The caller
    /// takes it after `execute` returns.
    pub blocked: Option<u64>,
    /// True while the commands run inside EXEC or a script: blocking
    /// commands then reply at once as if they timed out, as in Redis.
    pub no_block: bool,
    /// MULTI/WATCH state.
    pub tx: crate::tx::SessionTx,
    /// Subscriptions of this client.
    pub subs: crate::pubsub::SessionSubs,
    /// False until AUTH succeeds when `requirepass` is set.
    pub authenticated: bool,
}

impl std::fmt::Debug for dyn Sink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Sink")
    }
}

/// The Ferrite engine: sixteen databases behind one lock, plus a clock.
pub struct Engine {
    state: Mutex<State>,
    /// The engine's clock.
    pub clock: Clock,
    next_client_id: AtomicU64,
    closed: AtomicBool,
    started: Instant,
    /// Process-unique id of this engine (for INFO `run_id` and logs).
    pub run_id: String,
    /// State of the running Lua script, readable without the lock (BUSY,
    /// SCRIPT KILL; see `crate::script::Busy`).
    pub script_busy: Arc<crate::script::Busy>,
}

/// What a command handler sees: the locked state, the calling session and
/// the time the command started.
pub struct Ctx<'a> {
    /// The locked engine state.
    pub st: &'a mut State,
    /// The calling session.
    pub session: &'a mut Session,
    /// Command start time, Unix milliseconds (Redis caches it per command).
    ///
    /// Invariant: set before the handler runs, except for commands flagged
    /// `Flags::LAZY_CLOCK`, where it is 0 until the first `now_ms()` call
    /// (their handlers read the time only through `now_ms()`).
    pub now: u64,
    /// The engine (clock, ids).
    pub engine: &'a Engine,
}

impl Engine {
    /// A new in-memory engine with default configuration.
    pub fn new() -> Arc<Engine> {
        Engine::with_config(Config::default())
    }

    /// A new in-memory engine with the given configuration.
    pub fn with_config(config: Config) -> Arc<Engine> {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(7);
        let run_id = format!(
            "{:040x}",
            (seed as u128) * 0x9E37_79B9_7F4A_7C15_u128 + 0x1234_5678
        );
        let engine = Arc::new(Engine {
            state: Mutex::new(State {
                dbs: (0..NUM_DBS).map(|_| Db::new()).collect(),
                config,
                stats: Stats::default(),
                dirty: 0,
                rng: SmallRng::seed_from_u64(seed),
                lastsave: seed / 1_000_000_000,
                blocking: Default::default(),
                pubsub: Default::default(),
                watches: Default::default(),
                propagation: Default::default(),
                scripts: Default::default(),
                clients: Default::default(),
                memory: Default::default(),
            }),
            clock: Clock::default(),
            next_client_id: AtomicU64::new(1),
            closed: AtomicBool::new(false),
            started: Instant::now(),
            run_id: run_id[run_id.len() - 40..].to_string(),
            script_busy: Default::default(),
        });
        crate::expire::register(&engine);
        crate::blocking::register(&engine);
        engine
    }

    /// A new session (client) on this engine, with database 0 selected.
    pub fn session(&self) -> Session {
        Session {
            id: self.next_client_id.fetch_add(1, Ordering::Relaxed),
            db: 0,
            resp: 2,
            name: None,
            sink: None,
            blocked: None,
            no_block: false,
            tx: Default::default(),
            subs: Default::default(),
            authenticated: false,
        }
    }

    /// Seconds since the engine started.
    pub fn uptime_secs(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Marks the engine closed: every later call fails. Memory is freed when
    /// the last reference goes.
    pub fn close(&self) {
        self.closed.store(true, Ordering::Release);
        let mut st = self.lock();
        crate::persist::on_close(&mut st);
        st.dbs.iter_mut().for_each(Db::clear);
    }

    /// True once `close` was called.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Moves this engine's clock forward by `ms` milliseconds.
    pub fn fast_forward(&self, ms: i64) {
        self.clock.advance(ms);
    }

    /// Locks the state (blocking).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock()
    }

    /// Tries to lock the state without blocking.
    pub fn try_lock(&self) -> Option<MutexGuard<'_, State>> {
        self.state.try_lock()
    }

    /// Looks up the command named by `argv[0]` (any case).
    pub fn lookup(argv0: &[u8]) -> Option<&'static CommandSpec> {
        command::lookup(argv0)
    }

    /// Runs one command and returns its reply. This is the one command path:
    /// the NIF, pipelines, transactions, scripts, the listener and log
    /// replay all come through here.
    pub fn execute(&self, session: &mut Session, argv: &[&[u8]]) -> Reply {
        let mut st = match self.lock_for_command(argv) {
            Ok(st) => st,
            Err(reply) => return reply,
        };
        self.execute_locked(&mut st, session, argv)
    }

    /// Takes the lock for running `argv`, unless a Lua script has held it
    /// past `busy-reply-threshold`: then the command is answered without
    /// the lock (`BUSY ...`, or SCRIPT KILL / FUNCTION KILL / FUNCTION
    /// STATS served; see `crate::script::intercept_busy`). Waiting callers
    /// wake up every few ms to re-check, so a caller that queued before the
    /// limit passed gets BUSY too, as in Redis. Callers that lock on their
    /// own (the NIF's dirty-scheduler path) should come through here.
    pub fn lock_for_command(&self, argv: &[&[u8]]) -> Result<MutexGuard<'_, State>, Reply> {
        const BUSY_POLL: std::time::Duration = std::time::Duration::from_millis(5);
        loop {
            if let Some(reply) = crate::script::intercept_busy(self, argv) {
                return Err(reply);
            }
            if let Some(st) = self.state.try_lock_for(BUSY_POLL) {
                return Ok(st);
            }
        }
    }

    /// Runs one command with the lock already held.
    #[inline]
    pub fn execute_locked(&self, st: &mut State, session: &mut Session, argv: &[&[u8]]) -> Reply {
        match argv.first().and_then(|name| command::lookup(name)) {
            Some(spec) => self.execute_spec_locked(st, session, spec, argv),
            None => {
                if self.is_closed() {
                    return Reply::err("ERR database is closed");
                }
                let reply = match argv.first() {
                    None => Reply::err("ERR empty command"),
                    Some(_) => unknown_command(argv),
                };
                if let Reply::Error(msg) = &reply {
                    st.stats.record_error(msg);
                }
                // A rejected command flags an open MULTI (EXEC then fails).
                crate::tx::reject(st, session, false, reply)
            }
        }
    }

    /// Runs one command already resolved to `spec` (which must be what
    /// `lookup(argv[0])` returns), with the lock held: `execute_locked`
    /// without the name lookup, for callers that resolved the name once
    /// (the NIF's per-thread cache, its GET/SET entry points). The same
    /// path in every other respect.
    pub fn execute_spec_locked(
        &self,
        st: &mut State,
        session: &mut Session,
        spec: &'static CommandSpec,
        argv: &[&[u8]],
    ) -> Reply {
        if self.is_closed() {
            return Reply::err("ERR database is closed");
        }
        if !spec.arity_ok(argv.len()) {
            let reply = arity_error(spec);
            // A known command with the wrong arity: Redis counts it as rejected.
            st.stats.record_rejected_spec(spec);
            if let Reply::Error(msg) = &reply {
                st.stats.record_error(msg);
            }
            return crate::tx::reject(st, session, spec.name == "exec", reply);
        }
        // Commands that read the time only when they need it (an expiring
        // key, an expiry argument) skip the clock read here; inside MULTI
        // the command is queued, and queueing may check memory, so the
        // time is read as usual.
        let now = if spec.flags.contains(Flags::LAZY_CLOCK) && !session.tx.multi {
            0
        } else {
            self.clock.now_ms()
        };
        let mut ctx = Ctx {
            st,
            session,
            now,
            engine: self,
        };
        // MULTI queueing, subscribe-mode and AUTH restrictions, BUSY.
        if let Some(reply) = crate::tx::intercept(&mut ctx, spec, argv) {
            return reply;
        }
        let reply = ctx.call(spec, argv);
        // Serve clients blocked on keys this command made ready.
        ctx.serve_ready_keys();
        reply
    }

    /// `GET key` under held locks, for an embedder that builds its answer
    /// straight from the stored string: `hit` runs on a hit, under the
    /// lock; `other` gets every other answer, exactly what
    /// `execute_spec_locked` with GET returns (nil, WRONGTYPE, QUEUED
    /// inside MULTI, ...). Both produce the embedder's `R` (a NIF returns a
    /// term word: no `Result` travels back through memory).
    #[inline]
    pub fn get_locked<R>(
        &self,
        st: &mut State,
        session: &mut Session,
        key: &[u8],
        hit: impl FnOnce(&Sso) -> R,
        other: impl FnOnce(Reply) -> R,
    ) -> R {
        let spec = crate::command::strings::get_spec();
        if self.is_closed() || !crate::tx::passes_through(st, session) {
            return other(self.execute_spec_locked(st, session, spec, &[b"GET", key]));
        }
        // GET is LAZY_CLOCK: the time is read only for an expiring key.
        let mut ctx = Ctx {
            st,
            session,
            now: 0,
            engine: self,
        };
        let out = ctx.get_with(key, hit, other);
        ctx.serve_ready_keys();
        out
    }

    /// Plain `SET key value` (no options) under held locks, for an
    /// embedder's fast path: `Ok(())` when it stored the value (the `OK`
    /// reply), `Err` with any other answer, exactly as `execute_spec_locked`
    /// with SET gives it (QUEUED inside MULTI, OOM, MISCONF, ...).
    pub fn set_locked(
        &self,
        st: &mut State,
        session: &mut Session,
        key: &[u8],
        value: &[u8],
    ) -> Result<(), Reply> {
        let spec = crate::command::strings::set_spec();
        // The uncommon cases (a memory limit or a failed log to check, a
        // transaction, ...) take the general path.
        if self.is_closed()
            || !crate::tx::passes_through(st, session)
            || st.config.maxmemory != 0
            || st.propagation.write_error().is_some()
        {
            return Err(self.execute_spec_locked(st, session, spec, &[b"SET", key, value]));
        }
        let mut ctx = Ctx {
            st,
            session,
            now: 0,
            engine: self,
        };
        // A plain SET takes constant time (SET is not FAST in Redis's
        // table only because of its options).
        let call = ctx.begin_call(spec, true);
        crate::command::strings::store_bytes(&mut ctx, key, value, false);
        ctx.notify('$', "set", key);
        ctx.end_call(spec, &[b"SET", key, value], call, None);
        ctx.serve_ready_keys();
        Ok(())
    }

    /// Resolves a command and checks its arity, returning Redis's errors.
    pub fn check(&self, argv: &[&[u8]]) -> Result<&'static CommandSpec, Reply> {
        let Some(name) = argv.first() else {
            return Err(Reply::err("ERR empty command"));
        };
        let Some(spec) = command::lookup(name) else {
            return Err(unknown_command(argv));
        };
        if !spec.arity_ok(argv.len()) {
            return Err(arity_error(spec));
        }
        Ok(spec)
    }
}

/// Redis's wrong-arity error for `spec`.
fn arity_error(spec: &CommandSpec) -> Reply {
    Reply::err(format!(
        "ERR wrong number of arguments for '{}' command",
        spec.name
    ))
}

/// Redis's unknown-command error, with up to 128 bytes of arguments.
pub fn unknown_command(argv: &[&[u8]]) -> Reply {
    let name = String::from_utf8_lossy(&argv[0][..argv[0].len().min(128)]).into_owned();
    let mut args = String::new();
    for a in &argv[1..] {
        if args.len() >= 128 {
            break;
        }
        let room = 128 - args.len();
        let a = String::from_utf8_lossy(&a[..a.len().min(room)]).into_owned();
        args.push('\'');
        args.push_str(&a);
        args.push_str("' ");
    }
    Reply::err(format!(
        "ERR unknown command '{name}', with args beginning with: {args}"
    ))
}

impl<'a> Ctx<'a> {
    /// The command's time in Unix milliseconds (`now`), reading the clock
    /// on first use for a `LAZY_CLOCK` command. Code reachable from such a
    /// command reads the time through this, never through the field.
    #[inline]
    pub fn now_ms(&mut self) -> u64 {
        if self.now == 0 {
            self.now = self.engine.clock.now_ms();
        }
        self.now
    }

    /// Runs `spec`'s handler with stats and bookkeeping.
    pub fn call(&mut self, spec: &'static CommandSpec, argv: &[&[u8]]) -> Reply {
        // `ensure_memory` passes at once without `maxmemory` and a log
        // write error; that common case is checked inline.
        if spec.flags.contains(Flags::DENYOOM)
            && (self.st.config.maxmemory != 0 || self.st.propagation.write_error().is_some())
        {
            if let Err(r) = crate::evict::ensure_memory(self) {
                if let Reply::Error(msg) = &r {
                    self.st.stats.record_error(msg);
                }
                self.st.stats.record_rejected_spec(spec);
                return r;
            }
        }
        let call = self.begin_call(spec, spec.flags.contains(Flags::FAST));
        let reply = (spec.handler)(self, argv);
        self.end_call(spec, argv, call, reply.error_text());
        reply
    }

    /// Serves clients blocked on keys the command just run made ready.
    #[inline]
    fn serve_ready_keys(&mut self) {
        if self.st.blocking.has_ready() {
            // Served commands read `ctx.now`.
            self.now_ms();
            crate::blocking::serve_ready(self);
        }
    }

    /// The bookkeeping before a handler runs (see `end_call`). `sampled`:
    /// the call takes constant time, so its duration is sampled (see
    /// `Stats::timing_weight`); FAST commands are.
    #[inline(always)]
    fn begin_call(&mut self, spec: &'static CommandSpec, sampled: bool) -> CallStart {
        // A tick counter, not a clock read: clock reads dominate a GET.
        let weight = self.st.stats.timing_weight(spec, sampled);
        CallStart {
            t0: if weight != 0 {
                crate::stats::ticks()
            } else {
                0
            },
            weight,
            dirty_before: self.st.dirty,
        }
    }

    /// The bookkeeping after a handler ran: propagation of a change to
    /// the log and replicas, command time and stats (`failed`: the error
    /// text when the command answered an error).
    #[inline(always)]
    fn end_call(
        &mut self,
        spec: &'static CommandSpec,
        argv: &[&[u8]],
        call: CallStart,
        failed: Option<&str>,
    ) {
        if self.st.dirty != call.dirty_before {
            crate::persist::propagate(self, spec, argv);
        }
        let ticks = if call.weight != 0 {
            crate::stats::ticks().wrapping_sub(call.t0) * call.weight
        } else {
            0
        };
        self.st.stats.record_outcome(spec, ticks, failed);
    }

    /// `GET key` for the embedder's fast path: `hit` builds the answer from
    /// the stored string itself, under the lock, so a hit makes no
    /// `Reply`; `other` gets every other answer exactly as `GET` through
    /// `call` gives it (nil, WRONGTYPE). Same bookkeeping as `call`
    /// (stats, hits and misses, lazy expiry, access stamps).
    #[inline]
    pub fn get_with<R>(
        &mut self,
        key: &[u8],
        hit: impl FnOnce(&Sso) -> R,
        other: impl FnOnce(Reply) -> R,
    ) -> R {
        let spec = crate::command::strings::get_spec();
        let call = self.begin_call(spec, true);
        let reply = match crate::command::strings::read_str(self, key) {
            Ok(Some(s)) => {
                // `s` borrows the keyspace: answer before the bookkeeping.
                let out = hit(s);
                self.end_call(spec, &[b"GET", key], call, None);
                return out;
            }
            Ok(None) => Reply::Nil,
            Err(e) => e,
        };
        self.end_call(spec, &[b"GET", key], call, reply.error_text());
        other(reply)
    }

    /// The selected database.
    #[inline]
    pub fn db(&mut self) -> &mut Db {
        &mut self.st.dbs[self.session.db]
    }

    /// The selected database's index.
    #[inline]
    pub fn db_index(&self) -> usize {
        self.session.db
    }

    /// Finds a live key in database `db` for reading, reclaiming it if it
    /// has expired (lazy expiry). Counts a keyspace hit or miss.
    pub fn lookup_read_in(&mut self, db: usize, key: &[u8]) -> Option<usize> {
        let r = self.lookup_write_in(db, key);
        if r.is_some() {
            self.st.stats.keyspace_hits += 1;
        } else {
            self.st.stats.keyspace_misses += 1;
        }
        r
    }

    /// `lookup_read_in` on the selected database.
    #[inline]
    pub fn lookup_read(&mut self, key: &[u8]) -> Option<usize> {
        self.lookup_read_in(self.session.db, key)
    }

    /// Finds a live key in database `db` for writing (no hit/miss counted),
    /// reclaiming it if it has expired.
    pub fn lookup_write_in(&mut self, db: usize, key: &[u8]) -> Option<usize> {
        let pos = self.lookup_notouch_in(db, key)?;
        // Access stamps use the coarse clock, as Redis's cached LRU clock.
        let now = self.engine.clock.coarse_ms();
        if self.st.config.policy.is_lfu() {
            crate::evict::touch(self.st, db, pos, now);
        } else {
            // `evict::touch` without LFU, inline: every GET and SET pays it.
            self.st.dbs[db].at_mut(pos).lru = crate::evict::stamp(now);
        }
        Some(pos)
    }

    /// Finds a live key in database `db` without counting an access (no
    /// LRU/LFU update, no hit/miss), reclaiming it if it has expired. For
    /// OBJECT and other introspection (Redis's `LOOKUP_NOTOUCH`).
    #[inline]
    pub fn lookup_notouch_in(&mut self, db: usize, key: &[u8]) -> Option<usize> {
        let pos = self.st.dbs[db].find(key)?;
        // The exact clock is read only for a key that has an expiry.
        if self.st.dbs[db].at(pos).expire_at != 0 && {
            let now = self.now_ms();
            self.st.dbs[db].at(pos).is_expired(now)
        } {
            self.expire_at(db, pos);
            return None;
        }
        Some(pos)
    }

    /// Finds `key` in the selected database for a command on one value
    /// type: `Ok(None)` when missing, WRONGTYPE when it holds another type.
    /// `read` counts a keyspace hit or miss (`lookup_read`); otherwise it is
    /// a write lookup.
    pub fn find_typed(
        &mut self,
        key: &[u8],
        read: bool,
        is_type: fn(&crate::types::Value) -> bool,
    ) -> Result<Option<usize>, Reply> {
        let pos = if read {
            self.lookup_read(key)
        } else {
            self.lookup_write(key)
        };
        match pos {
            Some(pos) if !is_type(&self.db().at(pos).value) => Err(wrongtype()),
            pos => Ok(pos),
        }
    }

    /// `lookup_write_in` on the selected database.
    #[inline]
    pub fn lookup_write(&mut self, key: &[u8]) -> Option<usize> {
        self.lookup_write_in(self.session.db, key)
    }

    /// Reclaims the expired entry at `pos` of database `db`.
    #[inline(never)]
    pub fn expire_at(&mut self, db: usize, pos: usize) {
        let e = self.st.dbs[db].remove_at(pos);
        self.st.stats.expired_keys += 1;
        self.signal_modified(db, e.key.as_bytes());
        crate::pubsub::notify_keyspace(self.st, 'x', "expired", e.key.as_bytes(), db);
        crate::persist::propagate_del(self, db, e.key.as_bytes());
    }

    /// Deletes a live key of database `db`; true if it existed.
    pub fn delete_in(&mut self, db: usize, key: &[u8]) -> bool {
        match self.lookup_write_in(db, key) {
            Some(pos) => {
                self.st.dbs[db].remove_at(pos);
                self.signal_modified(db, key);
                true
            }
            None => false,
        }
    }

    /// Records that `key` in `db` changed (WATCH invalidation and friends).
    /// Every write path calls it, as Redis calls `signalModifiedKey`.
    pub fn signal_modified(&mut self, db: usize, key: &[u8]) {
        crate::tx::touch(self.st, db, key);
    }

    /// Publishes a keyspace notification for `key` in the selected database
    /// (`class` is one of the `notify-keyspace-events` flag letters, `event`
    /// Redis's event name), as Redis's `notifyKeyspaceEvent`.
    #[inline]
    pub fn notify(&mut self, class: char, event: &str, key: &[u8]) {
        // Notifications off (the default): nothing to do, and no call.
        if self.st.config.notify.is_empty() {
            return;
        }
        let db = self.session.db;
        crate::pubsub::notify_keyspace(self.st, class, event, key, db);
    }

    /// Signals that `key` in `db` may now satisfy blocked clients (a push to
    /// a list, an add to a sorted set or stream), as Redis's
    /// `signalKeyAsReady`. Waiters are served after the command completes.
    pub fn signal_ready(&mut self, db: usize, key: &[u8]) {
        crate::blocking::signal_ready(self.st, db, key);
    }

    /// Counts `n` changes for persistence (`server.dirty`).
    #[inline]
    pub fn dirty(&mut self, n: u64) {
        self.st.dirty += n;
    }

    /// The LRU/LFU stamp for a newly written or touched key (from the
    /// coarse clock, as Redis's cached LRU clock).
    #[inline]
    pub fn lru_stamp(&self) -> u32 {
        crate::evict::initial_stamp(&self.st.config, self.engine.clock.coarse_ms())
    }
}

/// What `Ctx::begin_call` noted for `Ctx::end_call`.
struct CallStart {
    /// `Stats::timing_weight` of this call: 0 when it is not timed.
    weight: u64,
    t0: u64,
    dirty_before: u64,
}

impl Session {
    /// Whether this session speaks RESP3.
    pub fn is_resp3(&self) -> bool {
        self.resp == 3
    }
}

/// Returns the WRONGTYPE error reply.
pub fn wrongtype() -> Reply {
    Reply::err(errors::WRONGTYPE)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn coarse_clock_never_runs_ahead_and_follows_fast_forward() {
        let c = Clock::default();
        let exact = c.now_ms();
        assert!(c.coarse_ms() <= c.now_ms());
        assert!(c.coarse_ms() >= exact);
        c.advance(60_000);
        assert!(c.coarse_ms() >= exact + 60_000);
        assert!(c.coarse_ms() <= c.now_ms());
    }

    #[test]
    fn execute_spec_locked_is_execute_locked_without_the_lookup() {
        let e = Engine::new();
        let mut s = e.session();
        let get = Engine::lookup(b"get").unwrap();
        let mut st = e.lock();
        let r = e.execute_spec_locked(&mut st, &mut s, get, &[b"GET", b"a", b"b"]);
        assert_eq!(
            r,
            Reply::err("ERR wrong number of arguments for 'get' command")
        );
        assert_eq!(st.stats.command("get").rejected_calls, 1);
        assert_eq!(
            e.execute_locked(&mut st, &mut s, &[b"SET", b"k", b"v"]),
            Reply::ok()
        );
        let r = e.execute_spec_locked(&mut st, &mut s, get, &[b"GET", b"k"]);
        assert_eq!(r, Reply::bulk(b"v"));
        assert_eq!(st.stats.command("get").calls, 1);
        assert_eq!(st.stats.keyspace_hits, 1);
    }

    #[test]
    fn lazy_clock_commands_still_expire_exactly() {
        let e = Engine::new();
        let mut s = e.session();
        assert_eq!(
            e.execute(&mut s, &[b"SET", b"k", b"v", b"PX", b"1000"]),
            Reply::ok()
        );
        e.fast_forward(500);
        assert_eq!(e.execute(&mut s, &[b"GET", b"k"]), Reply::bulk(b"v"));
        e.fast_forward(500);
        assert_eq!(e.execute(&mut s, &[b"GET", b"k"]), Reply::Nil);
        assert_eq!(e.lock().stats.expired_keys, 1);
    }
}
