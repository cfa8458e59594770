//! Transactions (MULTI/EXEC/DISCARD, WATCH/UNWATCH) and the per-command gate
//! that runs before every command (`intercept`).
//!
//! # Model (Redis 7.0's `multi.c`)
//!
//! - A session inside MULTI queues every command except MULTI, EXEC, DISCARD,
//!   WATCH, QUIT and RESET, answering `+QUEUED`. A command rejected while
//!   queueing (unknown command, wrong arity, NOAUTH, OOM, subscribe mode)
//!   flags the transaction (`SessionTx::dirty_exec`), and EXEC then fails
//!   with `EXECABORT`.
//! - WATCH records `(db, key) → watchers` in the engine-wide [`Watches`].
//!   Every write calls [`touch`] (through `Ctx::signal_modified`); a touched
//!   watcher's client becomes *dirty* and all its watches are dropped at once
//!   (nothing more can happen to a doomed transaction). EXEC of a dirty client
//!   replies with the null array.
//! - A key that was already logically expired when WATCHed carries the
//!   `expired` mark: its deletion (lazy or active expiry, DEL, FLUSHDB) is no
//!   logical change and does not dirty the client, while any write that makes
//!   it exist again does. A key that was live at WATCH time and is logically
//!   expired at EXEC time dirties the client.
//! - FLUSHDB / FLUSHALL / SWAPDB call [`touch_all_db`] / [`touch_all`] /
//!   [`touch_swap`] *before* changing the databases, as Redis's
//!   `touchAllWatchedKeysInDb` runs while the keys are still there.
//!
//! # Invariants
//!
//! - `Watches::by_key[db][key]` holds client `c` exactly when
//!   `Watches::clients[c].keys` holds `(db, key)`; both are updated together
//!   (`watch_key`, `unwatch_all`).
//! - A dirty client has no watched keys left (only its `dirty` mark).
//! - `Watches::total` is the number of `(db, key)` entries in `by_key`, so
//!   the write path ([`touch`]) costs one load and compare when nothing is
//!   watched.
//! - A session that goes away must leave nothing behind: `Engine::forget_session`
//!   cleans up at once; a session dropped without it reports its id through a
//!   [`DropGuard`] to the [`Graveyard`], which the next command reaps.

use crate::command::{CommandSpec, Flags};
use crate::engine::{Ctx, Engine, Session, State};
use crate::reply::Reply;
use hashbrown::HashMap;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// The error EXEC returns after a command was rejected while queueing.
pub const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";

/// Sessions dropped without `Engine::forget_session`: their ids wait here
/// (outside the engine lock, so a drop never needs the lock) until the next
/// command reaps them.
#[derive(Default)]
pub struct Graveyard {
    pending: AtomicBool,
    ids: Mutex<Vec<u64>>,
}

impl Graveyard {
    fn bury(&self, id: u64) {
        self.ids.lock().push(id);
        self.pending.store(true, Ordering::Release);
    }

    fn take(&self) -> Vec<u64> {
        if !self.pending.swap(false, Ordering::AcqRel) {
            return Vec::new();
        }
        std::mem::take(&mut *self.ids.lock())
    }
}

/// Held by a session that owns engine-side state (watches, subscriptions):
/// dropping it reports the session's id to the [`Graveyard`] so the engine
/// can release that state. `disarm` drops it silently after an explicit
/// cleanup.
pub struct DropGuard {
    id: u64,
    yard: Option<Arc<Graveyard>>,
}

impl DropGuard {
    /// A guard that reports `id` to `yard` when dropped.
    pub fn new(id: u64, yard: Arc<Graveyard>) -> DropGuard {
        DropGuard {
            id,
            yard: Some(yard),
        }
    }

    /// Drops the guard without reporting (the state was released already).
    pub fn disarm(mut self) {
        self.yard = None;
    }
}

impl Drop for DropGuard {
    fn drop(&mut self) {
        if let Some(yard) = self.yard.take() {
            yard.bury(self.id);
        }
    }
}

impl std::fmt::Debug for DropGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DropGuard({})", self.id)
    }
}

/// One client watching one key.
#[derive(Clone, Copy, Debug)]
struct Watcher {
    client: u64,
    /// The key was already logically expired when WATCHed.
    expired: bool,
}

/// One client's watch state.
#[derive(Default, Debug)]
struct ClientWatch {
    /// Watched `(db, key)` pairs, in WATCH order.
    keys: Vec<(usize, Vec<u8>)>,
    /// A watched key changed (Redis's `CLIENT_DIRTY_CAS`).
    dirty: bool,
}

/// Which clients watch which keys, engine-wide.
pub struct Watches {
    /// Per database: watched key → its watchers.
    by_key: Vec<HashMap<Vec<u8>, Vec<Watcher>>>,
    /// Per client id: its watched keys and dirty mark.
    clients: HashMap<u64, ClientWatch>,
    /// Number of keys in `by_key` (all databases).
    total: usize,
    /// Ids of sessions dropped without cleanup.
    graveyard: Arc<Graveyard>,
}

impl Default for Watches {
    fn default() -> Watches {
        Watches {
            by_key: (0..crate::engine::NUM_DBS)
                .map(|_| HashMap::new())
                .collect(),
            clients: HashMap::new(),
            total: 0,
            graveyard: Arc::default(),
        }
    }
}

impl Watches {
    /// The graveyard sessions report to when dropped without cleanup.
    pub fn graveyard(&self) -> &Arc<Graveyard> {
        &self.graveyard
    }

    /// Number of distinct watched `(db, key)` pairs (INFO `watching_keys`
    /// style counters).
    pub fn watched_keys(&self) -> usize {
        self.total
    }

    /// Number of clients with watch state (watching, or dirty).
    pub fn watching_clients(&self) -> usize {
        self.clients.len()
    }

    /// Number of keys client `id` watches.
    pub fn keys_of(&self, id: u64) -> usize {
        self.clients.get(&id).map_or(0, |c| c.keys.len())
    }

    /// True when a key watched by client `id` changed since WATCH.
    pub fn is_dirty(&self, id: u64) -> bool {
        self.clients.get(&id).is_some_and(|c| c.dirty)
    }

    /// Adds `(db, key)` to client `id`'s watches (no-op when already there).
    fn watch_key(&mut self, id: u64, db: usize, key: &[u8], expired: bool) {
        let client = self.clients.entry(id).or_default();
        if client.keys.iter().any(|(d, k)| *d == db && k == key) {
            return;
        }
        client.keys.push((db, key.to_vec()));
        let watchers = self.by_key[db].entry_ref(key).or_insert_with(|| {
            self.total += 1;
            Vec::new()
        });
        watchers.push(Watcher {
            client: id,
            expired,
        });
    }

    /// Drops every watch of client `id`, keeping its dirty mark.
    fn unwatch_keys(&mut self, id: u64) {
        let Some(client) = self.clients.get_mut(&id) else {
            return;
        };
        for (db, key) in std::mem::take(&mut client.keys) {
            if let Some(ws) = self.by_key[db].get_mut(key.as_slice()) {
                ws.retain(|w| w.client != id);
                if ws.is_empty() {
                    self.by_key[db].remove(key.as_slice());
                    self.total -= 1;
                }
            }
        }
    }

    /// Drops every watch of client `id` and its dirty mark (UNWATCH, EXEC,
    /// DISCARD, client gone).
    pub fn unwatch_all(&mut self, id: u64) {
        self.unwatch_keys(id);
        self.clients.remove(&id);
    }

    /// Marks client `id` dirty and drops its watches.
    fn make_dirty(&mut self, id: u64) {
        self.unwatch_keys(id);
        self.clients.entry(id).or_default().dirty = true;
    }
}

/// One queued command.
pub struct Queued {
    /// The command's table entry (resolved and arity-checked at queue time).
    pub spec: &'static CommandSpec,
    /// Its arguments, name included.
    pub argv: Vec<Vec<u8>>,
}

/// One client's MULTI state.
#[derive(Default)]
pub struct SessionTx {
    /// Inside MULTI (Redis's `CLIENT_MULTI`).
    pub multi: bool,
    /// A command was rejected while queueing (Redis's `CLIENT_DIRTY_EXEC`).
    pub dirty_exec: bool,
    /// The queued commands, in order.
    pub queue: Vec<Queued>,
    /// Reports this session to the graveyard if it is dropped while it
    /// still watches keys.
    guard: Option<DropGuard>,
}

impl std::fmt::Debug for SessionTx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionTx")
            .field("multi", &self.multi)
            .field("dirty_exec", &self.dirty_exec)
            .field(
                "queue",
                &self.queue.iter().map(|q| q.spec.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// Marks `key` of `db` as modified for every client watching it (Redis's
/// `touchWatchedKey`). Called by `Ctx::signal_modified` after the change.
#[inline]
pub fn touch(st: &mut State, db: usize, key: &[u8]) {
    if st.watches.total == 0 {
        return;
    }
    touch_slow(st, db, key);
}

fn touch_slow(st: &mut State, db: usize, key: &[u8]) {
    let exists = st.dbs[db].find(key).is_some();
    let Some(ws) = st.watches.by_key[db].get_mut(key) else {
        return;
    };
    let mut doomed = Vec::new();
    for w in ws.iter_mut() {
        if w.expired && !exists {
            // An already expired key was deleted: no logical change. From
            // now on it is watched as a missing key.
            w.expired = false;
            continue;
        }
        doomed.push(w.client);
    }
    for id in doomed {
        st.watches.make_dirty(id);
    }
}

/// Invalidates the watches on keys of `db` before the database is emptied
/// (FLUSHDB, and FLUSHALL per database). Call it *before* removing the keys.
pub fn touch_all_db(st: &mut State, db: usize) {
    touch_db(st, db, None);
}

/// Invalidates the watches on every database before FLUSHALL empties them.
/// Call it *before* removing the keys.
pub fn touch_all(st: &mut State) {
    for db in 0..st.dbs.len() {
        touch_db(st, db, None);
    }
}

/// Invalidates watches before SWAPDB `a` `b` exchanges two databases. Call
/// it *before* the swap, with the command's time (`ctx.now`): a watch on a
/// key is invalidated when the key exists in either database (unless it
/// stays logically expired or missing).
pub fn touch_swap(st: &mut State, a: usize, b: usize, now: u64) {
    touch_db(st, a, Some((b, now)));
    touch_db(st, b, Some((a, now)));
}

/// Redis's `touchAllWatchedKeysInDb(emptied, replaced_with)`.
fn touch_db(st: &mut State, emptied: usize, replaced_with: Option<(usize, u64)>) {
    if st.watches.by_key[emptied].is_empty() {
        return;
    }
    // Logically expired in `db` at `now`: present with a past TTL.
    let expired_in = |st: &State, (db, now): (usize, u64), key: &[u8]| {
        st.dbs[db]
            .find(key)
            .is_some_and(|p| st.dbs[db].at(p).is_expired(now))
    };
    let mut doomed = Vec::new();
    let keys: Vec<Vec<u8>> = st.watches.by_key[emptied].keys().cloned().collect();
    for key in keys {
        let in_emptied = st.dbs[emptied].find(&key).is_some();
        let in_replacement = replaced_with.is_some_and(|(r, _)| st.dbs[r].find(&key).is_some());
        if !in_emptied && !in_replacement {
            continue;
        }
        let replacement_expired = replaced_with.is_some_and(|r| expired_in(st, r, &key));
        let Some(ws) = st.watches.by_key[emptied].get_mut(key.as_slice()) else {
            continue;
        };
        for w in ws.iter_mut() {
            if w.expired {
                if !in_replacement {
                    // The expired key is deleted: no logical change.
                    w.expired = false;
                    continue;
                } else if replacement_expired {
                    // Still an expired key after the swap.
                    continue;
                }
            } else if !in_emptied && replacement_expired {
                // A missing key replaced by an expired one: still missing.
                w.expired = true;
                continue;
            }
            doomed.push(w.client);
        }
    }
    for id in doomed {
        st.watches.make_dirty(id);
    }
}

/// Flags the session's transaction after a command was rejected while
/// queueing (Redis's `flagTransaction`): EXEC will fail with EXECABORT.
#[inline]
pub fn flag_transaction(session: &mut Session) {
    if session.tx.multi {
        session.tx.dirty_exec = true;
    }
}

/// Redis's `rejectCommand`: flags the transaction and returns the error,
/// except that a rejected EXEC aborts the transaction with
/// `EXECABORT Transaction discarded because of: <error>`.
///
/// `Engine::execute_locked` calls it for unknown-command and arity errors
/// (`is_exec`: the command name was EXEC); `intercept` for the rest.
pub fn reject(st: &mut State, session: &mut Session, is_exec: bool, err: Reply) -> Reply {
    flag_transaction(session);
    if is_exec && session.tx.multi {
        discard(st, session);
        let text = match &err {
            Reply::Error(e) => e.strip_prefix("ERR ").unwrap_or(e).to_string(),
            _ => String::new(),
        };
        return Reply::err(format!(
            "EXECABORT Transaction discarded because of: {text}"
        ));
    }
    err
}

/// Leaves MULTI and drops the queue and every watch (Redis's
/// `discardTransaction`).
pub fn discard(st: &mut State, session: &mut Session) {
    session.tx.multi = false;
    session.tx.dirty_exec = false;
    session.tx.queue = Vec::new();
    st.watches.unwatch_all(session.id);
}

/// Releases every piece of engine-side state a session holds: its MULTI
/// queue, watches and subscriptions. For RESET, and for clients going away
/// (see `Engine::forget_session`).
pub fn release_session(st: &mut State, session: &mut Session) {
    discard(st, session);
    crate::pubsub::unsubscribe_everything(st, session);
    if let Some(g) = session.tx.guard.take() {
        g.disarm();
    }
}

/// Releases the state of sessions dropped without `forget_session`.
pub fn reap(st: &mut State) {
    for id in st.watches.graveyard.take() {
        st.watches.unwatch_all(id);
        st.pubsub.remove_client(id);
    }
}

impl Engine {
    /// Releases everything the engine holds for `session` (MULTI queue,
    /// watches, subscriptions) at once. Call it when a client goes away;
    /// a session dropped without it is cleaned up at the next command.
    pub fn forget_session(&self, session: &mut Session) {
        let mut st = self.lock();
        release_session(&mut st, session);
    }
}

/// Commands a RESP2 client in subscribe mode may run.
const SUBSCRIBE_MODE_ALLOWED: &[&str] = &[
    "ping",
    "subscribe",
    "ssubscribe",
    "unsubscribe",
    "sunsubscribe",
    "psubscribe",
    "punsubscribe",
    "quit",
    "reset",
];

/// Commands with subcommands: Redis names them `container|sub` in errors.
const CONTAINERS: &[&str] = &[
    "acl", "client", "cluster", "command", "config", "function", "latency", "memory", "module",
    "object", "pubsub", "script", "slowlog", "xgroup", "xinfo",
];

/// Redis's `fullname` of a command: `name`, or `name|sub` for a command
/// with subcommands.
pub fn fullname(spec: &CommandSpec, argv: &[&[u8]]) -> String {
    if argv.len() >= 2 && CONTAINERS.contains(&spec.name) {
        let sub = String::from_utf8_lossy(argv[1]).to_ascii_lowercase();
        format!("{}|{}", spec.name, sub)
    } else {
        spec.name.to_string()
    }
}

/// The `requirepass` parameter.
fn requirepass(st: &State) -> &str {
    st.config
        .other
        .get("requirepass")
        .map(String::as_str)
        .unwrap_or("")
}

/// Runs before every command: enforces AUTH and RESP2 subscribe mode, and
/// queues the command when the session is inside MULTI. `Some(reply)`
/// answers the command without running it.
///
/// Order as in Redis 7.0's `processCommand`: (unknown command and arity,
/// checked by the caller), AUTH, OOM while queueing, subscribe mode, MULTI
/// queueing.
#[inline]
pub fn intercept(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, argv: &[&[u8]]) -> Option<Reply> {
    if passes_through(ctx.st, ctx.session) {
        return None;
    }
    intercept_slow(ctx, spec, argv)
}

/// The common case of `intercept`, inline: nothing to reap, authenticated,
/// not in MULTI, not subscribed (exactly when `intercept` returns None at
/// once, whatever the command).
#[inline(always)]
pub fn passes_through(st: &State, session: &Session) -> bool {
    session.authenticated
        && !session.tx.multi
        && !crate::pubsub::resp2_subscribed(session)
        && !st.watches.graveyard.pending.load(Ordering::Relaxed)
}

#[inline(never)]
fn intercept_slow(ctx: &mut Ctx<'_>, spec: &'static CommandSpec, argv: &[&[u8]]) -> Option<Reply> {
    if ctx.st.watches.graveyard.pending.load(Ordering::Relaxed) {
        reap(ctx.st);
    }
    let is_exec = spec.name == "exec";
    if !ctx.session.authenticated {
        // A session is authenticated for good once it ran a command while no
        // password was configured (Redis authenticates a connection at
        // accept time when the default user has no password).
        if requirepass(ctx.st).is_empty() {
            ctx.session.authenticated = true;
        } else if !spec.flags.contains(Flags::NO_AUTH) {
            let err = Reply::err("NOAUTH Authentication required.");
            return Some(reject(ctx.st, ctx.session, is_exec, err));
        }
    }
    if !ctx.session.tx.multi && !crate::pubsub::resp2_subscribed(ctx.session) {
        return None;
    }
    let queues = ctx.session.tx.multi
        && !spec.flags.contains(Flags::NO_MULTI)
        && spec.name != "quit"
        && spec.name != "reset";
    if queues || is_exec {
        // Queueing may take unbounded memory: Redis refuses any queued
        // command over `maxmemory`, and an EXEC holding a denyoom command.
        let oom_applies = queues
            || ctx
                .session
                .tx
                .queue
                .iter()
                .any(|q| q.spec.flags.contains(Flags::DENYOOM));
        if oom_applies && ctx.st.config.maxmemory != 0 {
            if let Err(err) = crate::evict::ensure_memory(ctx) {
                ctx.st.stats.record_rejected(spec.name);
                return Some(reject(ctx.st, ctx.session, is_exec, err));
            }
        }
    }
    if crate::pubsub::resp2_subscribed(ctx.session) && !SUBSCRIBE_MODE_ALLOWED.contains(&spec.name)
    {
        let err = Reply::err(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            fullname(spec, argv)
        ));
        return Some(reject(ctx.st, ctx.session, is_exec, err));
    }
    if !queues {
        return None;
    }
    // Subcommand errors Redis's command table catches at queue time.
    if let Some(err) = queue_time_check(spec, argv) {
        return Some(reject(ctx.st, ctx.session, false, err));
    }
    // A doomed transaction keeps nothing (Redis saves the memory too).
    if !ctx.session.tx.dirty_exec && !ctx.st.watches.is_dirty(ctx.session.id) {
        ctx.session.tx.queue.push(Queued {
            spec,
            argv: argv.iter().map(|a| a.to_vec()).collect(),
        });
    }
    Some(Reply::status("QUEUED"))
}

/// Subcommand checks that Redis's command table performs before queueing
/// (unknown subcommand, subcommand arity), for the families that have them.
fn queue_time_check(spec: &CommandSpec, argv: &[&[u8]]) -> Option<Reply> {
    if spec.name == "pubsub" {
        return crate::pubsub::subcommand_check(argv).err();
    }
    None
}

/// Runs EXEC for `ctx.session`: the whole queue under the engine lock
/// already held (so no other client observes a partial transaction), with
/// blocking commands replying at once.
pub fn exec(ctx: &mut Ctx<'_>) -> Reply {
    if !ctx.session.tx.multi {
        return Reply::err("ERR EXEC without MULTI");
    }
    let id = ctx.session.id;
    if watched_key_expired(ctx.st, id, ctx.now) {
        ctx.st.watches.make_dirty(id);
    }
    if ctx.session.tx.dirty_exec {
        discard(ctx.st, ctx.session);
        return Reply::err(EXECABORT);
    }
    if ctx.st.watches.is_dirty(id) {
        discard(ctx.st, ctx.session);
        return Reply::NilArray;
    }
    // Unwatch first: a queued write must not dirty its own transaction.
    ctx.st.watches.unwatch_all(id);
    let queue = std::mem::take(&mut ctx.session.tx.queue);
    let was_no_block = ctx.session.no_block;
    ctx.session.no_block = true;
    let mut replies = Vec::with_capacity(queue.len());
    // The effects go to the log as one MULTI ... EXEC unit (EXEC itself is
    // never logged: it is not a write).
    crate::persist::begin_group(ctx);
    for q in &queue {
        let argv: Vec<&[u8]> = q.argv.iter().map(Vec::as_slice).collect();
        replies.push(ctx.call(q.spec, &argv));
    }
    crate::persist::end_group(ctx);
    ctx.session.no_block = was_no_block;
    discard(ctx.st, ctx.session);
    Reply::Array(replies)
}

/// Redis's `isWatchedKeyExpired`: a key live at WATCH time that is
/// logically expired now.
fn watched_key_expired(st: &State, id: u64, now: u64) -> bool {
    let Some(client) = st.watches.clients.get(&id) else {
        return false;
    };
    client.keys.iter().any(|(db, key)| {
        let was_expired = st.watches.by_key[*db]
            .get(key.as_slice())
            .and_then(|ws| ws.iter().find(|w| w.client == id))
            .is_some_and(|w| w.expired);
        !was_expired
            && st.dbs[*db]
                .find(key)
                .is_some_and(|p| st.dbs[*db].at(p).is_expired(now))
    })
}

/// MULTI.
pub fn multi(ctx: &mut Ctx<'_>) -> Reply {
    if ctx.session.tx.multi {
        return Reply::err("ERR MULTI calls can not be nested");
    }
    ctx.session.tx.multi = true;
    Reply::ok()
}

/// DISCARD.
pub fn discard_cmd(ctx: &mut Ctx<'_>) -> Reply {
    if !ctx.session.tx.multi {
        return Reply::err("ERR DISCARD without MULTI");
    }
    discard(ctx.st, ctx.session);
    Reply::ok()
}

/// WATCH key [key ...] in the selected database.
pub fn watch(ctx: &mut Ctx<'_>, keys: &[&[u8]]) -> Reply {
    if ctx.session.tx.multi {
        return Reply::err("ERR WATCH inside MULTI is not allowed");
    }
    let id = ctx.session.id;
    // No point in watching once a watched key changed.
    if ctx.st.watches.is_dirty(id) {
        return Reply::ok();
    }
    let db = ctx.session.db;
    for key in keys {
        let expired = ctx.st.dbs[db]
            .find(key)
            .is_some_and(|p| ctx.st.dbs[db].at(p).is_expired(ctx.now));
        ctx.st.watches.watch_key(id, db, key, expired);
    }
    if ctx.session.tx.guard.is_none() {
        let yard = ctx.st.watches.graveyard.clone();
        ctx.session.tx.guard = Some(DropGuard::new(id, yard));
    }
    Reply::ok()
}

/// UNWATCH.
pub fn unwatch(ctx: &mut Ctx<'_>) -> Reply {
    ctx.st.watches.unwatch_all(ctx.session.id);
    Reply::ok()
}
