//! Active expiry: a background thread samples keys with a TTL, as Redis's
//! `activeExpireCycle` does, so memory of dead keys is reclaimed without
//! access.
//!
//! One thread serves every engine in the process. Each engine registers a
//! weak reference; the thread drops it once the engine is gone.

use crate::engine::{Engine, NUM_DBS};
use parking_lot::Mutex;
use std::sync::{Arc, OnceLock, Weak};
use std::time::{Duration, Instant};

/// Keys sampled per database per round (Redis's
/// `ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP`).
const SAMPLE: usize = 20;
/// A round repeats while more than this share of sampled keys had expired.
const REPEAT_PERCENT: usize = 10;
/// Longest time a cycle holds the engine lock.
const BUDGET: Duration = Duration::from_micros(1000);

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
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let engines: Vec<Arc<Engine>> = {
            let mut reg = registry().lock();
            reg.retain(|w| w.strong_count() > 0);
            reg.iter().filter_map(Weak::upgrade).collect()
        };
        for e in engines {
            if !e.is_closed() {
                cycle(&e);
            }
        }
    }
}

/// One active-expiry cycle over every database of `engine`. Returns the
/// number of keys reclaimed.
pub fn cycle(engine: &Engine) -> usize {
    let start = Instant::now();
    let mut reclaimed = 0;
    let mut session = engine.session();
    for db in 0..NUM_DBS {
        loop {
            let mut st = engine.lock();
            let now = engine.clock.now_ms();
            let mut ctx = crate::engine::Ctx {
                st: &mut st,
                session: &mut session,
                now,
                engine,
            };
            let sampled = ctx.st.dbs[db].volatile_len().min(SAMPLE);
            if sampled == 0 {
                break;
            }
            let mut expired = 0;
            for _ in 0..sampled {
                let Some(pos) = ({
                    let st = &mut *ctx.st;
                    st.dbs[db].random_volatile(&mut st.rng)
                }) else {
                    break;
                };
                if ctx.st.dbs[db].at(pos).is_expired(now) {
                    ctx.expire_at(db, pos);
                    expired += 1;
                }
            }
            reclaimed += expired;
            drop(st);
            if expired * 100 <= sampled * REPEAT_PERCENT || start.elapsed() > BUDGET {
                break;
            }
        }
    }
    reclaimed
}
