//! Memory ceiling: `used_memory` accounting, `maxmemory` and the eviction
//! policies, and the LRU/LFU stamps kept in each entry.
//!
//! # The stamp (`Entry::lru`)
//!
//! As in Redis, one field means two things depending on the policy:
//! - LRU policies (and no policy): the access time in seconds, wrapping in
//!   32 bits.
//! - LFU policies: `minutes << 8 | counter`, with the access time in
//!   minutes (16 bits, wrapping) and an 8-bit logarithmic counter that
//!   starts at 5, grows with probability `1 / ((counter - 5) *
//!   lfu-log-factor + 1)` on each access, and loses one per
//!   `lfu-decay-time` minutes without access.
//!
//! Switching policy at run time reinterprets the field; it adjusts as keys
//! are accessed (Redis says the same in its OBJECT FREQ error).
//!
//! # used_memory
//!
//! Exact accounting would need every type to report each change of size.
//! Instead each database's memory is its table (entries and index, per
//! key) plus its number of keys times an average heap size per key, the
//! average refreshed by sampling (every key when there are few) at most
//! every 100 ms or when the database's size changed by a quarter. That is
//! O(1) per check, exact for uniform data and close for mixed data.
//!
//! # Eviction
//!
//! As Redis's `performEvictions`: sample `maxmemory-samples` keys per
//! database into a pool of the 16 best candidates (idle time for LRU,
//! 255 - frequency for LFU, nearest expiry for volatile-ttl) and evict the
//! best, until memory is under the limit. Random policies pick uniformly.
//! Each eviction counts in `evicted_keys`, fires the `evicted` keyspace
//! event and is logged as `DEL`.

use crate::config::{Config, Policy};
use crate::engine::{Ctx, State, NUM_DBS};
use crate::keyspace::{Db, Entry};
use crate::reply::{errors, Reply};
use rand::Rng;

/// Initial LFU counter of a new key (Redis's `LFU_INIT_VAL`).
pub const LFU_INIT_VAL: u8 = 5;
/// Size of the eviction pool (Redis's `EVPOOL_SIZE`).
const POOL_SIZE: usize = 16;
/// Table bytes per key: the entry plus its share of the index.
pub const TABLE_BYTES_PER_KEY: usize = std::mem::size_of::<Entry>() + 8;

/// The LRU clock for an access at `now_ms`: seconds, wrapping in 32 bits.
#[inline]
pub fn stamp(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32
}

#[inline]
fn minutes(now_ms: u64) -> u32 {
    ((now_ms / 60_000) & 0xFFFF) as u32
}

/// The stamp of a newly created key under `config`'s policy.
#[inline]
pub fn initial_stamp(config: &Config, now_ms: u64) -> u32 {
    if config.policy.is_lfu() {
        (minutes(now_ms) << 8) | LFU_INIT_VAL as u32
    } else {
        stamp(now_ms)
    }
}

/// Seconds since the entry was last accessed (OBJECT IDLETIME under LRU
/// policies).
pub fn idle_secs(entry: &Entry, now_ms: u64) -> u64 {
    stamp(now_ms).wrapping_sub(entry.lru) as u64
}

/// The entry's LFU counter after decay at `now_ms`, with the default
/// `lfu-decay-time` of 1 minute (OBJECT FREQ under LFU policies).
pub fn lfu_freq(entry: &Entry, now_ms: u64) -> u64 {
    lfu_decayed(entry.lru, now_ms, 1) as u64
}

/// [`lfu_freq`] with `config`'s `lfu-decay-time`.
pub fn lfu_freq_cfg(entry: &Entry, now_ms: u64, config: &Config) -> u64 {
    lfu_decayed(entry.lru, now_ms, config.num("lfu-decay-time", 1)) as u64
}

fn lfu_decayed(lru: u32, now_ms: u64, decay: u64) -> u8 {
    let ldt = (lru >> 8) & 0xFFFF;
    let counter = (lru & 0xFF) as u8;
    if decay == 0 {
        return counter;
    }
    let now = minutes(now_ms);
    let elapsed = if now >= ldt {
        now - ldt
    } else {
        65535 - ldt + now
    };
    let periods = elapsed as u64 / decay;
    counter.saturating_sub(periods.min(255) as u8)
}

fn lfu_log_incr(counter: u8, factor: u64, rng: &mut impl Rng) -> u8 {
    if counter == 255 {
        return 255;
    }
    let base = counter.saturating_sub(LFU_INIT_VAL) as f64;
    let p = 1.0 / (base * factor as f64 + 1.0);
    if rng.gen::<f64>() < p {
        counter + 1
    } else {
        counter
    }
}

/// Updates the stamp of the entry at `pos` of `db` for an access at
/// `now_ms` (called by every key lookup).
pub fn touch(st: &mut State, db: usize, pos: usize, now_ms: u64) {
    let policy = st.config.policy;
    if policy.is_lfu() {
        let decay = st.config.num("lfu-decay-time", 1);
        let factor = st.config.num("lfu-log-factor", 10);
        let e = st.dbs[db].at_mut(pos);
        let c = lfu_decayed(e.lru, now_ms, decay);
        let c = lfu_log_incr(c, factor, &mut st.rng);
        e.lru = (minutes(now_ms) << 8) | c as u32;
    } else {
        st.dbs[db].at_mut(pos).lru = stamp(now_ms);
    }
}

/// Memory accounting and the eviction pool of one engine.
#[derive(Debug)]
pub struct Memory {
    avg: [f64; NUM_DBS],
    sampled_len: [usize; NUM_DBS],
    sampled_at: [u64; NUM_DBS],
    peak: u64,
    pool: Vec<Candidate>,
    next_db: usize,
}

impl Default for Memory {
    fn default() -> Self {
        Memory {
            avg: [0.0; NUM_DBS],
            sampled_len: [0; NUM_DBS],
            sampled_at: [0; NUM_DBS],
            peak: 0,
            pool: Vec::with_capacity(POOL_SIZE),
            next_db: 0,
        }
    }
}

#[derive(Clone, Debug)]
struct Candidate {
    db: usize,
    key: Vec<u8>,
    score: u64,
}

/// Heap bytes owned by an entry beyond its table slot.
#[inline]
pub fn entry_heap(e: &Entry) -> usize {
    e.key.heap_size() + e.value.heap_size()
}

fn refresh_db(mem: &mut Memory, db: &Db, i: usize, rng: &mut impl Rng, now_ms: u64) {
    let len = db.len();
    let stale_len = len.abs_diff(mem.sampled_len[i]) * 4 > mem.sampled_len[i].max(16);
    let stale_time = now_ms.saturating_sub(mem.sampled_at[i]) >= 100;
    if !stale_len && !stale_time {
        return;
    }
    mem.avg[i] = if len == 0 {
        0.0
    } else if len <= 256 {
        db.entries().iter().map(entry_heap).sum::<usize>() as f64 / len as f64
    } else {
        let n = 64;
        let total: usize = (0..n)
            .filter_map(|_| db.random_pos(rng))
            .map(|p| entry_heap(db.at(p)))
            .sum();
        total as f64 / n as f64
    };
    mem.sampled_len[i] = len;
    mem.sampled_at[i] = now_ms;
}

fn db_bytes(mem: &Memory, db: &Db, i: usize) -> u64 {
    (db.len() * TABLE_BYTES_PER_KEY + db.volatile_len() * 4) as u64
        + (db.len() as f64 * mem.avg[i]) as u64
}

/// The engine's memory use in bytes (INFO `used_memory`), refreshing the
/// sampled averages when they are stale.
pub fn used_memory(st: &mut State, now_ms: u64) -> u64 {
    let State {
        dbs, memory, rng, ..
    } = st;
    let mut total = 0;
    for (i, db) in dbs.iter().enumerate() {
        refresh_db(memory, db, i, rng, now_ms);
        total += db_bytes(memory, db, i);
    }
    memory.peak = memory.peak.max(total);
    total
}

/// `used_memory` from the cached averages, without refreshing.
pub fn used_memory_cached(st: &State) -> u64 {
    st.dbs
        .iter()
        .enumerate()
        .map(|(i, db)| db_bytes(&st.memory, db, i))
        .sum()
}

/// Redis's `bytesToHuman`.
pub fn human(n: u64) -> String {
    let n_f = n as f64;
    const K: f64 = 1024.0;
    if n < 1024 {
        format!("{n}B")
    } else if n_f < K * K {
        format!("{:.2}K", n_f / K)
    } else if n_f < K * K * K {
        format!("{:.2}M", n_f / (K * K))
    } else if n_f < K * K * K * K {
        format!("{:.2}G", n_f / (K * K * K))
    } else if n_f < K * K * K * K * K {
        format!("{:.2}T", n_f / (K * K * K * K))
    } else {
        format!("{:.2}P", n_f / (K * K * K * K * K))
    }
}

fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map(|pages| pages * 4096)
        .unwrap_or(0)
}

/// The `INFO memory` fields.
pub fn info_lines(st: &State) -> Vec<(String, String)> {
    let used = used_memory_cached(st);
    let peak = st.memory.peak.max(used);
    let rss = rss_bytes();
    let max = st.config.maxmemory;
    let v: Vec<(&str, String)> = vec![
        ("used_memory", used.to_string()),
        ("used_memory_human", human(used)),
        ("used_memory_rss", rss.to_string()),
        ("used_memory_rss_human", human(rss)),
        ("used_memory_peak", peak.to_string()),
        ("used_memory_peak_human", human(peak)),
        (
            "used_memory_peak_perc",
            format!(
                "{:.2}%",
                if peak == 0 {
                    100.0
                } else {
                    used as f64 * 100.0 / peak as f64
                }
            ),
        ),
        ("used_memory_dataset", used.to_string()),
        ("maxmemory", max.to_string()),
        ("maxmemory_human", human(max)),
        ("maxmemory_policy", st.config.policy.name().to_string()),
        ("mem_allocator", "libc".to_string()),
    ];
    v.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// Makes room under `maxmemory` before a command that may grow memory, or
/// returns the OOM error. With no limit set this is one branch.
///
/// It also refuses such commands with Redis's MISCONF error while the
/// append-only log cannot be written.
pub fn ensure_memory(ctx: &mut Ctx<'_>) -> Result<(), Reply> {
    if ctx.st.propagation.loading {
        return Ok(());
    }
    if let Some(e) = ctx.st.propagation.write_error() {
        return Err(Reply::err(format!(
            "MISCONF Errors writing to the AOF file: {e}"
        )));
    }
    let max = ctx.st.config.maxmemory;
    if max == 0 {
        return Ok(());
    }
    let now = ctx.now_ms();
    let mut used = used_memory(ctx.st, now);
    if used <= max {
        return Ok(());
    }
    if ctx.st.config.policy == Policy::NoEviction {
        return Err(Reply::err(errors::OOM));
    }
    while used > max {
        if !evict_one(ctx) {
            return Err(Reply::err(errors::OOM));
        }
        used = used_memory_cached(ctx.st);
    }
    Ok(())
}

fn volatile_only(p: Policy) -> bool {
    matches!(
        p,
        Policy::VolatileLru | Policy::VolatileLfu | Policy::VolatileRandom | Policy::VolatileTtl
    )
}

fn score(policy: Policy, e: &Entry, now_ms: u64, config: &Config) -> u64 {
    match policy {
        Policy::AllKeysLru | Policy::VolatileLru => idle_secs(e, now_ms) * 1000,
        Policy::AllKeysLfu | Policy::VolatileLfu => 255 - lfu_freq_cfg(e, now_ms, config),
        Policy::VolatileTtl => u64::MAX - e.expire_at,
        _ => 0,
    }
}

/// Evicts one key per the policy; false when no key can be evicted.
fn evict_one(ctx: &mut Ctx<'_>) -> bool {
    let policy = ctx.st.config.policy;
    let volatile = volatile_only(policy);
    let now = ctx.now_ms();
    let candidates = |db: &Db| {
        if volatile {
            db.volatile_len()
        } else {
            db.len()
        }
    };
    let victim: Option<(usize, usize)> = match policy {
        Policy::NoEviction => None,
        Policy::AllKeysRandom | Policy::VolatileRandom => {
            let st = &mut *ctx.st;
            let mut found = None;
            for k in 0..NUM_DBS {
                let i = (st.memory.next_db + k) % NUM_DBS;
                if candidates(&st.dbs[i]) > 0 {
                    st.memory.next_db = i + 1;
                    let pos = if volatile {
                        st.dbs[i].random_volatile(&mut st.rng)
                    } else {
                        st.dbs[i].random_pos(&mut st.rng)
                    };
                    found = pos.map(|p| (i, p));
                    break;
                }
            }
            found
        }
        _ => {
            let st = &mut *ctx.st;
            let samples = st.config.samples.max(1);
            for i in 0..NUM_DBS {
                if candidates(&st.dbs[i]) == 0 {
                    continue;
                }
                for _ in 0..samples {
                    let pos = if volatile {
                        st.dbs[i].random_volatile(&mut st.rng)
                    } else {
                        st.dbs[i].random_pos(&mut st.rng)
                    };
                    let Some(pos) = pos else { break };
                    let e = st.dbs[i].at(pos);
                    let s = score(policy, e, now, &st.config);
                    let pool = &mut st.memory.pool;
                    if pool.iter().any(|c| c.db == i && c.key == e.key.as_bytes()) {
                        continue;
                    }
                    if pool.len() < POOL_SIZE || pool[0].score < s {
                        if pool.len() == POOL_SIZE {
                            pool.remove(0);
                        }
                        let at = pool.partition_point(|c| c.score < s);
                        pool.insert(
                            at,
                            Candidate {
                                db: i,
                                key: e.key.as_bytes().to_vec(),
                                score: s,
                            },
                        );
                    }
                }
            }
            // Best candidate first; skip the ones that went away.
            let mut found = None;
            while let Some(c) = st.memory.pool.pop() {
                if let Some(pos) = st.dbs[c.db].find(&c.key) {
                    if !volatile || st.dbs[c.db].at(pos).expire_at != 0 {
                        found = Some((c.db, pos));
                        break;
                    }
                }
            }
            found
        }
    };
    let Some((db, pos)) = victim else {
        return false;
    };
    let e = ctx.st.dbs[db].remove_at(pos);
    let key = e.key.as_bytes();
    ctx.st.stats.evicted_keys += 1;
    ctx.signal_modified(db, key);
    crate::pubsub::notify_keyspace(ctx.st, 'e', "evicted", key, db);
    crate::persist::propagate_del(ctx, db, key);
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lfu_counter_grows_logarithmically_and_decays() {
        let mut rng = rand::rngs::mock::StepRng::new(0, 0);
        // Below the init value every access counts.
        assert_eq!(lfu_log_incr(5, 10, &mut rng), 6);
        assert_eq!(lfu_log_incr(255, 10, &mut rng), 255);
        let mut r = rand::rngs::SmallRng::seed_from_u64(1);
        let mut c = LFU_INIT_VAL;
        for _ in 0..1000 {
            c = lfu_log_incr(c, 10, &mut r);
        }
        // 1000 hits with factor 10 land around 18 in Redis's table.
        assert!((12..=25).contains(&c), "counter {c}");
        let now = 10 * 60_000;
        let lru = (minutes(now) << 8) | 20;
        assert_eq!(lfu_decayed(lru, now, 1), 20);
        assert_eq!(lfu_decayed(lru, now + 3 * 60_000, 1), 17);
        assert_eq!(lfu_decayed(lru, now + 300 * 60_000, 1), 0);
        assert_eq!(lfu_decayed(lru, now + 3 * 60_000, 0), 20);
    }

    use rand::SeedableRng;

    #[test]
    fn human_matches_redis() {
        assert_eq!(human(0), "0B");
        assert_eq!(human(1023), "1023B");
        assert_eq!(human(2176440), "2.08M");
        assert_eq!(human(1024), "1.00K");
    }
}
