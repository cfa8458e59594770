//! Handles: a conn is one client session on one engine, owned by one BEAM
//! process (the conn process that `Ferrite.start_link` starts).
//!
//! Three ways lead to a conn, all cheap:
//! - the `ConnRes` resource itself (`conn_ref`);
//! - the owner's pid, through the process-wide [`registry`] (a sharded map
//!   from pid to conn), so that `Ferrite.get(pid, key)` needs no lookup on
//!   the Elixir side;
//! - a registered name, resolved with `enif_whereis_pid`, then the registry.
//!
//! Invariants:
//! - A conn is in the registry exactly while it is open. `close` (explicit,
//!   owner down, or resource destructor) removes it first, then releases
//!   the engine; later calls see `:noconn` or `closed`, never freed memory.
//! - A named store's engine lives in [`STORES`] while at least one open conn
//!   uses it; the last `close` removes it and closes the engine, which frees
//!   its data even if a stray reference remains.
//! - Lock order: a conn's session lock, then the engine lock. Nothing takes
//!   them in the other order.

use crate::sink::PidSink;
use ferrite_store::persist::{self, AppendFsync, OpenError, OpenReport, PersistOptions};
use ferrite_store::{Engine, Session};
use parking_lot::{Mutex, RwLock};
use rustler::{Env, LocalPid, Monitor, Resource};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};

/// One client session on one engine.
pub struct Conn {
    /// The engine (private, or shared by name).
    pub engine: Arc<Engine>,
    /// The session: selected db, and later MULTI/WATCH/subscription state.
    pub session: Mutex<Session>,
    /// Where out-of-band messages for this session go.
    pub sink: Arc<PidSink>,
    /// The owner pid's registry key.
    owner_key: u64,
    /// The named store this conn joined, if any.
    store: Option<Vec<u8>>,
    /// The engine fsyncs every write (`appendfsync always`): write commands
    /// run on a dirty IO scheduler (see `sched`). Fixed at open: the policy
    /// cannot change while the engine is open.
    pub io_writes: bool,
    /// A side session on another conn's engine (`open_session`): closing it
    /// releases only its own session state, never the engine.
    side: bool,
    closed: AtomicBool,
}

impl Conn {
    /// True once closed.
    #[inline]
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Closes the conn: unregisters it, and releases its engine (closing a
    /// private engine, or a named one whose last conn this was). Idempotent.
    pub fn close(&self) {
        if self.closed.swap(true, Ordering::AcqRel) {
            return;
        }
        registry_remove(self.owner_key, self);
        self.sink.close();
        // Watches and subscriptions go now, not when the session is freed.
        // Lock order: session, then engine (inside forget_session).
        self.engine.forget_session(&mut self.session.lock());
        if self.side {
            return;
        }
        match &self.store {
            None => self.engine.close(),
            Some(name) => release_store(name),
        }
    }
}

/// Opens a side session for `owner` on `parent`'s engine, with the
/// parent's current database selected: its own MULTI/WATCH and
/// subscription state, not registered under any pid (it is reached through
/// its resource only). Closing it leaves the engine open.
pub fn open_side(parent: &Conn, owner: LocalPid) -> Arc<Conn> {
    let db = parent.session.lock().db;
    let sink = Arc::new(PidSink::new(owner));
    let mut session = parent.engine.session();
    session.db = db;
    session.sink = Some(sink.clone());
    Arc::new(Conn {
        engine: parent.engine.clone(),
        session: Mutex::new(session),
        sink,
        owner_key: 0,
        store: None,
        io_writes: parent.io_writes,
        side: true,
        closed: AtomicBool::new(false),
    })
}

/// The resource Elixir holds: the conn process keeps it for its lifetime.
pub struct ConnRes(pub Arc<Conn>);

#[rustler::resource_impl]
impl Resource for ConnRes {
    fn down<'a>(&'a self, env: Env<'a>, _pid: LocalPid, _monitor: Monitor) {
        let _guard = crate::sink::CallerEnv::enter(env);
        self.0.close();
    }

    fn destructor(self, env: Env<'_>) {
        let _guard = crate::sink::CallerEnv::enter(env);
        self.0.close();
    }
}

type Fx = foldhash::fast::FixedState;
type Shard = RwLock<HashMap<u64, Arc<Conn>, Fx>>;
const SHARDS: usize = 32;

fn shards() -> &'static [Shard; SHARDS] {
    static REG: OnceLock<[Shard; SHARDS]> = OnceLock::new();
    REG.get_or_init(|| std::array::from_fn(|_| RwLock::new(HashMap::default())))
}

#[inline]
fn shard(key: u64) -> &'static Shard {
    // Pid terms differ in their high bits; fold them down.
    let h = (key ^ (key >> 17) ^ (key >> 31)) as usize;
    &shards()[h % SHARDS]
}

/// The registry key of a pid: its term, which is unique while it lives.
#[inline]
pub fn pid_key(pid: &LocalPid) -> u64 {
    const _: () = assert!(std::mem::size_of::<rustler::sys::ErlNifPid>() == 8);
    // SAFETY: `ErlNifPid` is a `repr(C)` wrapper of one term word.
    unsafe { std::mem::transmute_copy::<rustler::sys::ErlNifPid, u64>(pid.as_c_arg()) }
}

/// Looks up the open conn owned by the pid with key `key`.
#[inline]
pub fn registry_get(key: u64) -> Option<Arc<Conn>> {
    shard(key).read().get(&key).cloned()
}

const RECENT_SLOTS: usize = 16;

type Recent = [Option<(u64, Arc<Conn>)>; RECENT_SLOTS];

thread_local! {
    /// Each scheduler thread's recently used conns, so that the hot path
    /// skips the registry's lock and reference counting.
    ///
    /// Invariant: an entry is used only while its conn is open; a closed
    /// entry is dropped when seen. Pid terms are unique while their process
    /// lives, and a dead owner's conn is closed, so an open entry under a
    /// key is the registry's entry for that key.
    static RECENT: std::cell::RefCell<Recent> = const {
        std::cell::RefCell::new([const { None }; RECENT_SLOTS])
    };
}

/// Runs `f` on the open conn owned by the pid with key `key`, through the
/// thread's recent-conn cache. `f` must not call back into this function
/// (nothing in a command does); if it did, the inner call would simply
/// bypass the cache.
#[inline]
pub fn with_registered<R>(key: u64, f: impl FnOnce(&Arc<Conn>) -> R) -> Option<R> {
    RECENT.with(|cell| {
        let Ok(mut recent) = cell.try_borrow_mut() else {
            return registry_get(key).map(|c| f(&c));
        };
        let slot = &mut recent[(key ^ (key >> 7) ^ (key >> 15)) as usize % RECENT_SLOTS];
        match slot {
            Some((k, c)) if *k == key && !c.is_closed() => {}
            _ => {
                *slot = registry_get(key).map(|c| (key, c));
            }
        }
        slot.as_ref().map(|(_, c)| f(c))
    })
}

fn registry_insert(key: u64, conn: Arc<Conn>) -> Result<(), String> {
    let mut map = shard(key).write();
    if map.contains_key(&key) {
        return Err("ERR this process already owns an embedded conn".into());
    }
    map.insert(key, conn);
    Ok(())
}

fn registry_remove(key: u64, conn: &Conn) {
    let mut map = shard(key).write();
    if map
        .get(&key)
        .is_some_and(|c| std::ptr::eq(Arc::as_ptr(c), conn))
    {
        map.remove(&key);
    }
}

struct Store {
    engine: Arc<Engine>,
    conns: usize,
}

/// Named stores: several conns, one keyspace.
static STORES: Mutex<Option<HashMap<Vec<u8>, Store>>> = Mutex::new(None);

fn acquire_store(name: &[u8]) -> Arc<Engine> {
    let mut guard = STORES.lock();
    let stores = guard.get_or_insert_with(HashMap::new);
    let entry = stores.entry(name.to_vec()).or_insert_with(|| Store {
        engine: Engine::new(),
        conns: 0,
    });
    entry.conns += 1;
    entry.engine.clone()
}

fn release_store(name: &[u8]) {
    let engine = {
        let mut guard = STORES.lock();
        let Some(stores) = guard.as_mut() else { return };
        let Some(entry) = stores.get_mut(name) else {
            return;
        };
        entry.conns -= 1;
        if entry.conns > 0 {
            return;
        }
        stores.remove(name).map(|s| s.engine)
    };
    // Close outside the registry lock: it takes the engine lock.
    if let Some(engine) = engine {
        engine.close();
    }
}

/// Number of open conns on the named store `name` (0 when it is closed).
pub fn store_conns(name: &[u8]) -> usize {
    STORES
        .lock()
        .as_ref()
        .and_then(|s| s.get(name))
        .map_or(0, |s| s.conns)
}

/// Opens a conn for `owner` on a private engine (`store` None) or on the
/// named store, with database `db` selected, and registers it under the
/// owner's pid.
pub fn open(owner: LocalPid, store: Option<&[u8]>, db: usize) -> Result<Arc<Conn>, String> {
    if db >= ferrite_store::engine::NUM_DBS {
        return Err("ERR DB index is out of range".into());
    }
    let engine = match store {
        None => Engine::new(),
        Some(name) => acquire_store(name),
    };
    register(owner, store, db, engine)
}

/// Wraps `engine` (already counted in its named store, if any) in a conn
/// for `owner` and registers it; undoes the store reference on failure.
fn register(
    owner: LocalPid,
    store: Option<&[u8]>,
    db: usize,
    engine: Arc<Engine>,
) -> Result<Arc<Conn>, String> {
    let sink = Arc::new(PidSink::new(owner));
    let mut session = engine.session();
    session.db = db;
    session.sink = Some(sink.clone());
    let io_writes = engine.lock().propagation.appendfsync() == Some(AppendFsync::Always);
    let key = pid_key(&owner);
    let conn = Arc::new(Conn {
        engine,
        session: Mutex::new(session),
        sink,
        owner_key: key,
        store: store.map(<[u8]>::to_vec),
        io_writes,
        side: false,
        closed: AtomicBool::new(false),
    });
    if let Err(e) = registry_insert(key, conn.clone()) {
        // Undo the store reference without touching the registry.
        conn.closed.store(true, Ordering::Release);
        match store {
            None => conn.engine.close(),
            Some(name) => release_store(name),
        }
        return Err(e);
    }
    Ok(conn)
}

/// Why [`open_with`] failed.
#[derive(Debug)]
pub enum OpenFail {
    /// Opening the data directory failed (locked, I/O, damaged).
    Open(OpenError),
    /// Anything else, as an error reply text.
    Other(String),
}

/// Opens a conn like [`open`], on an engine made with `config` and, when
/// `dir` is given, durable in `dir` (see `ferrite_store::persist`).
///
/// A named store that is already open is joined as it is: `opts` then only
/// apply when the store is opened, and `dir` must be the store's own
/// directory (an in-memory store cannot be joined with a `dir`).
pub fn open_with(
    owner: LocalPid,
    store: Option<&[u8]>,
    db: usize,
    dir: Option<&Path>,
    opts: PersistOptions,
) -> Result<(Arc<Conn>, OpenReport), OpenFail> {
    if db >= ferrite_store::engine::NUM_DBS {
        return Err(OpenFail::Other("ERR DB index is out of range".into()));
    }
    let make = || -> Result<(Arc<Engine>, OpenReport), OpenError> {
        match dir {
            Some(dir) => persist::open(dir, opts.clone()),
            None => Ok((
                Engine::with_config(opts.config.clone()),
                OpenReport::default(),
            )),
        }
    };
    let (engine, report) = match store {
        None => make().map_err(OpenFail::Open)?,
        Some(name) => acquire_store_with(name, dir, make)?,
    };
    let conn = register(owner, store, db, engine).map_err(OpenFail::Other)?;
    Ok((conn, report))
}

/// True when `engine` is durable in `dir` (compared as canonical paths).
fn same_dir(engine: &Engine, dir: Option<&Path>) -> bool {
    let Some(dir) = dir else { return true };
    let st = engine.lock();
    let Some(own) = st.propagation.dir() else {
        return false;
    };
    match (std::fs::canonicalize(own), std::fs::canonicalize(dir)) {
        (Ok(a), Ok(b)) => a == b,
        _ => own == dir,
    }
}

/// Joins the named store `name`, or opens it with `make`. Opening (which
/// may load a large dataset) runs outside the registry lock; when another
/// open of the same name won the race, its engine is joined instead.
fn acquire_store_with(
    name: &[u8],
    dir: Option<&Path>,
    make: impl FnOnce() -> Result<(Arc<Engine>, OpenReport), OpenError>,
) -> Result<(Arc<Engine>, OpenReport), OpenFail> {
    let mismatch = || {
        OpenFail::Other(format!(
            "ERR the store '{}' is already open with another path (or in memory)",
            String::from_utf8_lossy(name)
        ))
    };
    let join = |stores: &mut HashMap<Vec<u8>, Store>| -> Option<Result<Arc<Engine>, OpenFail>> {
        let entry = stores.get_mut(name)?;
        if !same_dir(&entry.engine, dir) {
            return Some(Err(mismatch()));
        }
        entry.conns += 1;
        Some(Ok(entry.engine.clone()))
    };
    {
        let mut guard = STORES.lock();
        let stores = guard.get_or_insert_with(HashMap::new);
        if let Some(r) = join(stores) {
            return r.map(|e| (e, OpenReport::default()));
        }
    }
    let opened = make();
    let mut guard = STORES.lock();
    let stores = guard.get_or_insert_with(HashMap::new);
    if let Some(r) = join(stores) {
        drop(guard);
        // Lost the race (our open was refused by the directory lock, or
        // opened something the winner did not): use the winner's engine.
        if let Ok((ours, _)) = opened {
            ours.close();
        }
        return r.map(|e| (e, OpenReport::default()));
    }
    let (engine, report) = opened.map_err(OpenFail::Open)?;
    stores.insert(
        name.to_vec(),
        Store {
            engine: engine.clone(),
            conns: 1,
        },
    );
    Ok((engine, report))
}
