//! Raw engine throughput and memory, side by side with the practical
//! ceiling: a `hashbrown::HashMap<Vec<u8>, Vec<u8>>` behind a
//! `std::sync::RwLock`.
//!
//! GET and SET run on one thread over `FERRITE_BENCH_KEYS` keys (default
//! 1,000,000) with 10-byte names and 16-byte values, in random order. The
//! summary prints ops/s for both (medians of five alternating rounds),
//! their ratio (median of the per-round ratios), and bytes per key measured
//! with a counting global allocator (live heap bytes after loading, divided
//! by the key count). Criterion then measures each operation on its own.
//!
//! Two engine paths are measured: `Engine::execute` (the general one: name
//! lookup, argument vector, `Reply`), and the entry points the NIF's GET
//! and SET take (`Engine::get_locked` / `set_locked` under `Engine::lock`,
//! the value copied out as the baseline clones it).
//!
//! Goals: GET >= 0.9x the baseline, SET >= 1.0x, <= 100 B/key.
//!
//! A last row measures latency while growing: `FERRITE_BENCH_GROW_KEYS`
//! (default 4,000,000; 0 skips it) SETs of fresh keys into an empty engine,
//! each timed on its own, and the same inserts into an empty baseline map;
//! it prints the worst and the 99.9th percentile of each (a one-step
//! rehash shows as the worst). Goal: engine worst < 1 ms. On a loaded
//! machine the worst wall time is a preemption (a 4 ms time slice);
//! `FERRITE_BENCH_GROW_CPU=1` times each call in thread CPU time instead
//! (kernel time such as page faults included, preemption excluded; Linux).
//!
//! Full size (the lead's run): `cargo bench -p ferrite-store --bench engine`.
//! Smoke run: `FERRITE_BENCH_KEYS=20000 FERRITE_BENCH_OPS=200000 cargo bench
//! -p ferrite-store --bench engine -- --warm-up-time 0.2 --measurement-time 0.5`.

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use ferrite_store::{Engine, Reply, Session};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// The system allocator, counting live bytes.
struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, new: usize) -> *mut u8 {
        LIVE.fetch_add(new as isize - l.size() as isize, Ordering::Relaxed);
        System.realloc(p, l, new)
    }
    unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc_zeroed(l)
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

type Baseline = RwLock<hashbrown::HashMap<Vec<u8>, Vec<u8>>>;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// 10-byte key names.
fn key(i: usize) -> [u8; 10] {
    let mut k = *b"k000000000";
    let mut n = i;
    for b in k[1..].iter_mut().rev() {
        *b = b'0' + (n % 10) as u8;
        n /= 10;
    }
    k
}

/// 16-byte values.
fn value(i: usize) -> [u8; 16] {
    let mut v = *b"v_______________";
    v[1..11].copy_from_slice(&key(i));
    v
}

struct Fixture {
    keys: Vec<[u8; 10]>,
    order: Vec<u32>,
    engine: Arc<Engine>,
    session: Session,
    baseline: Baseline,
    engine_bytes: f64,
    baseline_bytes: f64,
}

fn load(n: usize, ops: usize) -> Fixture {
    let keys: Vec<[u8; 10]> = (0..n).map(key).collect();
    let mut rng = SmallRng::seed_from_u64(42);
    let order: Vec<u32> = (0..ops).map(|_| rng.gen_range(0..n as u32)).collect();

    let before = LIVE.load(Ordering::Relaxed);
    let engine = Engine::new();
    let mut session = engine.session();
    for (i, k) in keys.iter().enumerate() {
        let r = engine.execute(&mut session, &[b"SET", k, &value(i)]);
        debug_assert_eq!(r, Reply::ok());
    }
    let engine_bytes = (LIVE.load(Ordering::Relaxed) - before) as f64 / n as f64;

    let before = LIVE.load(Ordering::Relaxed);
    let baseline: Baseline = RwLock::new(hashbrown::HashMap::new());
    for (i, k) in keys.iter().enumerate() {
        baseline
            .write()
            .unwrap()
            .insert(k.to_vec(), value(i).to_vec());
    }
    let baseline_bytes = (LIVE.load(Ordering::Relaxed) - before) as f64 / n as f64;

    Fixture {
        keys,
        order,
        engine,
        session,
        baseline,
        engine_bytes,
        baseline_bytes,
    }
}

fn engine_get(f: &mut Fixture, i: usize) -> Reply {
    let k = &f.keys[f.order[i % f.order.len()] as usize];
    f.engine.execute(&mut f.session, &[b"GET", k])
}

fn engine_set(f: &mut Fixture, i: usize) -> Reply {
    let idx = f.order[i % f.order.len()] as usize;
    let k = &f.keys[idx];
    f.engine.execute(&mut f.session, &[b"SET", k, &value(idx)])
}

fn entry_get(f: &mut Fixture, i: usize) -> Option<Vec<u8>> {
    let k = &f.keys[f.order[i % f.order.len()] as usize];
    let mut st = f.engine.lock();
    f.engine.get_locked(
        &mut st,
        &mut f.session,
        k,
        |s| Some(s.as_bytes().to_vec()),
        |_| None,
    )
}

fn entry_set(f: &mut Fixture, i: usize) -> bool {
    let idx = f.order[i % f.order.len()] as usize;
    let k = &f.keys[idx];
    let mut st = f.engine.lock();
    f.engine
        .set_locked(&mut st, &mut f.session, k, &value(idx))
        .is_ok()
}

fn baseline_get(f: &Fixture, i: usize) -> Option<Vec<u8>> {
    let k = &f.keys[f.order[i % f.order.len()] as usize];
    f.baseline.read().unwrap().get(&k[..]).cloned()
}

fn baseline_set(f: &Fixture, i: usize) -> Option<Vec<u8>> {
    let idx = f.order[i % f.order.len()] as usize;
    let k = &f.keys[idx];
    f.baseline
        .write()
        .unwrap()
        .insert(k.to_vec(), value(idx).to_vec())
}

/// Ops per second of `op` over `ops` calls.
fn rate(ops: usize, mut op: impl FnMut(usize)) -> f64 {
    let t = Instant::now();
    for i in 0..ops {
        op(i);
    }
    ops as f64 / t.elapsed().as_secs_f64()
}

/// Median of `xs`.
fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

/// Rounds of the summary: engine and baseline runs alternate, one of each
/// per round, and the ratio is the median of the per-round ratios, so that
/// load from other processes hits both sides alike.
const ROUNDS: usize = 5;

fn summary(f: &mut Fixture) {
    let ops = f.order.len();
    // Warm both once.
    rate(ops.min(100_000), |i| drop(black_box(engine_get(f, i))));
    rate(ops.min(100_000), |i| drop(black_box(baseline_get(f, i))));
    let (mut eg, mut bg, mut es, mut bs) = (vec![], vec![], vec![], vec![]);
    let (mut fg, mut fs) = (vec![], vec![]);
    for _ in 0..ROUNDS {
        eg.push(rate(ops, |i| drop(black_box(engine_get(f, i)))));
        bg.push(rate(ops, |i| drop(black_box(baseline_get(f, i)))));
        fg.push(rate(ops, |i| drop(black_box(entry_get(f, i)))));
        es.push(rate(ops, |i| drop(black_box(engine_set(f, i)))));
        bs.push(rate(ops, |i| drop(black_box(baseline_set(f, i)))));
        fs.push(rate(ops, |i| {
            black_box(entry_set(f, i));
        }));
    }
    let ratio = |a: &[f64], b: &[f64]| median(a.iter().zip(b).map(|(x, y)| x / y).collect());
    let (get_ratio, set_ratio) = (ratio(&eg, &bg), ratio(&es, &bs));
    let (fget_ratio, fset_ratio) = (ratio(&fg, &bg), ratio(&fs, &bs));
    let (eg, bg, es, bs) = (median(eg), median(bg), median(es), median(bs));
    let (fg, fs) = (median(fg), median(fs));
    println!();
    println!(
        "raw engine vs RwLock<hashbrown::HashMap>: {} keys, 10 B names, 16 B values, {} random ops",
        f.keys.len(),
        ops
    );
    println!(
        "{:<24} {:>14} {:>14} {:>8} {:>6}",
        "op", "engine ops/s", "baseline ops/s", "ratio", "goal"
    );
    let row = |op: &str, e: f64, b: f64, r: f64, goal: &str| {
        println!("{op:<24} {e:>14.0} {b:>14.0} {r:>7.2}x {goal:>6}");
    };
    row("GET (execute)", eg, bg, get_ratio, ">=0.9");
    row("GET (get_locked, NIF)", fg, bg, fget_ratio, ">=0.9");
    row("SET (execute)", es, bs, set_ratio, ">=1.0");
    row("SET (set_locked, NIF)", fs, bs, fset_ratio, ">=1.0");
    println!(
        "bytes/key: engine {:.1}, baseline {:.1} (goal <= 100)",
        f.engine_bytes, f.baseline_bytes
    );
    println!();
}

/// This thread's CPU time in ns (user and system).
#[cfg(target_os = "linux")]
fn thread_cpu_ns() -> u64 {
    #[repr(C)]
    struct Timespec {
        sec: i64,
        nsec: i64,
    }
    extern "C" {
        fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
    }
    const CLOCK_THREAD_CPUTIME_ID: i32 = 3;
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec.
    unsafe { clock_gettime(CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    ts.sec as u64 * 1_000_000_000 + ts.nsec as u64
}

#[cfg(not(target_os = "linux"))]
fn thread_cpu_ns() -> u64 {
    0
}

/// Worst and 99.9th-percentile latency (ns), the key count at the worst,
/// and how many took over 1 ms, of `n` timed calls of `op(i)`.
fn latencies(n: usize, mut op: impl FnMut(usize)) -> (u64, u64, usize, usize) {
    let cpu = env("FERRITE_BENCH_GROW_CPU", 0) != 0;
    let mut lat: Vec<u64> = Vec::with_capacity(n);
    for i in 0..n {
        if cpu {
            let t = thread_cpu_ns();
            op(i);
            lat.push(thread_cpu_ns() - t);
        } else {
            let t = Instant::now();
            op(i);
            lat.push(t.elapsed().as_nanos() as u64);
        }
    }
    // Diagnostics: FERRITE_BENCH_GROW_TOP=k prints the k worst calls.
    let top = env("FERRITE_BENCH_GROW_TOP", 0);
    if top > 0 {
        let mut worst: Vec<(u64, usize)> = lat.iter().enumerate().map(|(i, &l)| (l, i)).collect();
        worst.sort_unstable_by(|a, b| b.cmp(a));
        for (l, i) in worst.into_iter().take(top) {
            println!("  {:>10.1} us at key {i}", l as f64 / 1000.0);
        }
    }
    let (worst_at, &worst) = lat.iter().enumerate().max_by_key(|&(_, l)| *l).unwrap();
    let over = lat.iter().filter(|&&l| l > 1_000_000).count();
    lat.sort_unstable();
    let p999 = lat[(n * 999 / 1000).min(n - 1)];
    (worst, p999, worst_at, over)
}

/// The growth row: single-SET latency while inserting `n` fresh keys.
fn growth(n: usize) {
    if n == 0 {
        return;
    }
    let engine = Engine::new();
    let mut session = engine.session();
    let e = latencies(n, |i| {
        let (k, v) = (key(i), value(i));
        black_box(engine.execute(&mut session, &[b"SET", &k, &v]));
    });
    drop(session);
    drop(engine);
    let baseline: Baseline = RwLock::new(hashbrown::HashMap::new());
    let b = latencies(n, |i| {
        let (k, v) = (key(i), value(i));
        black_box(baseline.write().unwrap().insert(k.to_vec(), v.to_vec()));
    });
    drop(baseline);
    let us = |ns: u64| ns as f64 / 1000.0;
    println!();
    println!("single-SET latency while inserting {n} fresh keys (goal: engine worst < 1 ms):");
    println!(
        "{:<10} {:>12} {:>10} {:>12} {:>8}",
        "", "worst us", "at key", "p99.9 us", ">1ms"
    );
    for (name, (worst, p999, at, over)) in [("engine", e), ("baseline", b)] {
        println!(
            "{name:<10} {:>12.1} {at:>10} {:>12.2} {over:>8}",
            us(worst),
            us(p999)
        );
    }
}

fn benches(c: &mut Criterion) {
    growth(env("FERRITE_BENCH_GROW_KEYS", 4_000_000));
    let n = env("FERRITE_BENCH_KEYS", 1_000_000);
    let ops = env("FERRITE_BENCH_OPS", 2_000_000);
    let mut f = load(n, ops);
    summary(&mut f);
    let mut g = c.benchmark_group("engine_vs_rwlock_hashmap");
    let mut i = 0usize;
    g.bench_function("engine GET", |b| {
        b.iter(|| {
            i += 1;
            black_box(engine_get(&mut f, i))
        })
    });
    g.bench_function("baseline GET", |b| {
        b.iter(|| {
            i += 1;
            black_box(baseline_get(&f, i))
        })
    });
    g.bench_function("engine SET", |b| {
        b.iter(|| {
            i += 1;
            black_box(engine_set(&mut f, i))
        })
    });
    g.bench_function("baseline SET", |b| {
        b.iter(|| {
            i += 1;
            black_box(baseline_set(&f, i))
        })
    });
    g.finish();
}

criterion_group!(engine, benches);
criterion_main!(engine);
