//! Active expiry: a background thread samples keys with a TTL, as Redis's
//! `activeExpireCycle` does, so memory of dead keys is reclaimed without
//! access.
//!
//! Each cycle visits every database: it samples up to `SAMPLE` keys with a
//! TTL, reclaims the dead ones, and samples the same database again while
//! more than `REPEAT_PERCENT` of a sample had expired. A cycle holds the
//! engine lock for at most about `LOCK_SLICE` at a time (it releases and
//! re-takes it between samples), and stops after `CYCLE_PERCENT` of the
//! period `1000 / hz` ms; the next cycle resumes at the database where it
//! stopped. Each cycle first advances any unfinished index resize
//! (`finish_resizes`).
//!
//! One thread serves every engine in the process. Each engine registers a
//! weak reference; the thread drops it once the engine is gone.

use crate::engine::{Ctx, Engine, State, NUM_DBS};
use parking_lot::Mutex;
use parking_lot::MutexGuard;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

/// Keys sampled per database per loop (Redis's
/// `ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP`).
pub const SAMPLE: usize = 20;
/// A database is sampled again while more than this share (percent) of the
/// last sample had expired (Redis's `ACTIVE_EXPIRE_CYCLE_ACCEPTABLE_STALE`).
pub const REPEAT_PERCENT: usize = 10;
/// Longest time a cycle holds the engine lock in one go.
pub const LOCK_SLICE: Duration = Duration::from_micros(1000);
/// Share of each period (percent) a cycle may run (Redis's
/// `ACTIVE_EXPIRE_CYCLE_SLOW_TIME_PERC`).
pub const CYCLE_PERCENT: u64 = 25;

fn registry() -> &'static Mutex<Vec<Weak<Engine>>> {
    static REG: OnceLock<Mutex<Vec<Weak<Engine>>>> = OnceLock::new();
    REG.get_or_init(|| {
        std::thread::Builder::new()
            .name("ferrite-expire".into())
            .spawn(run)
            .expect("spawn expiry thread");
        Mutex::new(Vec::new())
    })
}

/// Registers an engine with the background thread.
pub fn register(engine: &Arc<Engine>) {
    registry().lock().push(Arc::downgrade(engine));
}

fn run() {
    let mut period_ms = 100;
    loop {
        std::thread::sleep(Duration::from_millis(period_ms));
        let engines: Vec<Arc<Engine>> = {
            let mut reg = registry().lock();
            reg.retain(|w| w.strong_count() > 0);
            reg.iter().filter_map(Weak::upgrade).collect()
        };
        period_ms = 100;
        for e in engines {
            if e.is_closed() {
                continue;
            }
            // The coarse clock (LRU/LFU stamps) lags by at most a period.
            e.clock.refresh();
            let (active, hz) = {
                let mut st = e.lock();
                // Pick up a finished background rewrite (Redis's cron
                // checks its child the same way).
                crate::persist::poll_rewrite(&mut st);
                (st.config.active_expire, st.config.hz.max(1))
            };
            period_ms = period_ms.min(1000 / hz as u64).max(2);
            if active {
                cycle(&e);
            }
        }
    }
}

/// One active-expiry cycle over the databases of `engine` (see the module
/// documentation). Returns the number of keys reclaimed. Runs whether or
/// not `DEBUG SET-ACTIVE-EXPIRE` disabled the background thread, so tests
/// can drive it directly.
pub fn cycle(engine: &Engine) -> usize {
    let start = Instant::now();
    let mut session = engine.session();
    let mut st = engine.lock();
    // The resize steps count in the first lock slice: the lock is held
    // for about `LOCK_SLICE` at a time in all.
    let mut slice = Instant::now();
    finish_resizes(&mut st);
    let budget =
        Duration::from_micros(1_000_000 * CYCLE_PERCENT / 100 / st.config.hz.max(1) as u64);
    let mut reclaimed = 0;
    let first = st.stats.expire_next_db % NUM_DBS;
    for i in 0..NUM_DBS {
        let db = (first + i) % NUM_DBS;
        loop {
            if slice.elapsed() >= LOCK_SLICE {
                if start.elapsed() >= budget {
                    st.stats.expire_time_cap_reached += 1;
                    st.stats.expire_next_db = db;
                    return reclaimed;
                }
                // Let waiting clients in before the next slice.
                MutexGuard::bump(&mut st);
                slice = Instant::now();
            }
            let now = engine.clock.now_ms();
            let mut ctx = Ctx {
                st: &mut st,
                session: &mut session,
                now,
                engine,
            };
            let (sampled, expired) = sample_db(&mut ctx, db);
            reclaimed += expired;
            if sampled == 0 || expired * 100 <= sampled * REPEAT_PERCENT {
                break;
            }
        }
    }
    st.stats.expire_next_db = first;
    reclaimed
}

/// Advances unfinished index resizes (Redis's rehash step in
/// `serverCron`) for up to `LOCK_SLICE`, so that a keyspace that stopped
/// changing mid-resize still finishes it and frees the old table. Writes
/// advance a resize themselves; this only matters for idle databases.
fn finish_resizes(st: &mut State) {
    let start = Instant::now();
    for db in st.dbs.iter_mut() {
        while db.resize_step() {
            if start.elapsed() >= LOCK_SLICE {
                return;
            }
        }
    }
}

/// Samples up to `SAMPLE` distinct keys with a TTL in `db` (consecutive
/// slots of the volatile list from a random start) and reclaims the dead
/// ones. Returns (sampled, reclaimed).
fn sample_db(ctx: &mut Ctx<'_>, db: usize) -> (usize, usize) {
    let positions = {
        let st = &mut *ctx.st;
        let vol = st.dbs[db].volatile_positions();
        if vol.is_empty() {
            return (0, 0);
        }
        let n = vol.len().min(SAMPLE);
        let start = rand::Rng::gen_range(&mut st.rng, 0..vol.len());
        let mut ps: Vec<usize> = (0..n)
            .map(|i| vol[(start + i) % vol.len()] as usize)
            .collect();
        // Highest first: removing one never moves another still to visit.
        ps.sort_unstable_by(|a, b| b.cmp(a));
        ps
    };
    let mut expired = 0;
    for &p in &positions {
        if ctx.st.dbs[db].at(p).is_expired(ctx.now) {
            ctx.expire_at(db, p);
            expired += 1;
        }
    }
    (positions.len(), expired)
}
