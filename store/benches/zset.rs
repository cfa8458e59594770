//! Sorted set cost at the engine level, through `Engine::execute`: the two
//! sorted set rows of `benches/collections.exs` without the BEAM.
//!
//! Fills `zbig` with `ZSET_BENCH_MEMBERS` (default 1,000,000) members
//! `m:<i>` with random integer scores in `1..=members`, in ZADD commands of
//! 1,000 pairs (as the Elixir bench fills it), then measures:
//! - `ZADD zbig <random score> new:<n>` (a new member each time);
//! - `ZRANGEBYSCORE zbig (<random score> +inf LIMIT 0 10`.
//!
//! Each is run `ZSET_BENCH_OPS` (default 100,000) times per round, five
//! rounds alternating, median ns/op printed. The measured loops are the
//! `#[inline(never)]` functions `measure_zadd` and `measure_zrange`, so that
//! callgrind can count only them:
//!
//! ```text
//! cargo bench -p ferrite-store --bench zset --no-run
//! ZSET_BENCH_ROUNDS=1 ZSET_BENCH_OPS=10000 valgrind --tool=callgrind \
//!   --toggle-collect='*measure_zadd*' target/release/deps/zset-<hash>
//! ```
//!
//! (instructions per op = the collected total / ZSET_BENCH_OPS).
//!
//! Smoke run: `ZSET_BENCH_MEMBERS=100000 ZSET_BENCH_OPS=10000 cargo bench
//! -p ferrite-store --bench zset`.

use ferrite_store::{Engine, Reply, Session};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// This thread's time on a CPU, in ns (`/proc/thread-self/schedstat`), 0
/// where unavailable. On a loaded machine it is a steadier figure than the
/// wall clock: time spent waiting for a core is left out.
fn cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Wall and CPU ns per op of `f` run over `ops` ops.
struct Cost {
    wall: f64,
    cpu: f64,
}

fn cost(ops: usize, f: impl FnOnce()) -> Cost {
    let (t, c) = (Instant::now(), cpu_ns());
    f();
    Cost {
        wall: t.elapsed().as_nanos() as f64 / ops as f64,
        cpu: (cpu_ns() - c) as f64 / ops as f64,
    }
}

fn median(mut xs: Vec<f64>) -> f64 {
    xs.sort_by(|a, b| a.total_cmp(b));
    xs[xs.len() / 2]
}

/// Fills `zbig` with `n` members in ZADDs of 1,000 pairs; returns ns per
/// member added.
fn fill(engine: &Engine, session: &mut Session, n: usize, rng: &mut SmallRng) -> f64 {
    let t = Instant::now();
    let mut i = 0;
    while i < n {
        let chunk = (n - i).min(1_000);
        let args: Vec<Vec<u8>> = (i..i + chunk)
            .flat_map(|j| {
                [
                    rng.gen_range(1..=n).to_string().into_bytes(),
                    format!("m:{j}").into_bytes(),
                ]
            })
            .collect();
        let mut argv: Vec<&[u8]> = vec![b"ZADD", b"zbig"];
        argv.extend(args.iter().map(|a| a.as_slice()));
        let r = engine.execute(session, &argv);
        assert_eq!(r, Reply::Int(chunk as i64));
        i += chunk;
    }
    t.elapsed().as_nanos() as f64 / n as f64
}

/// Prebuilt ZADD arguments: (score, member) per op.
fn zadd_args(rng: &mut SmallRng, n: usize, ops: usize, round: usize) -> Vec<(Vec<u8>, Vec<u8>)> {
    (0..ops)
        .map(|i| {
            (
                rng.gen_range(1..=n).to_string().into_bytes(),
                format!("new:{}", round * ops + i).into_bytes(),
            )
        })
        .collect()
}

/// Prebuilt ZRANGEBYSCORE lower bounds.
fn zrange_args(rng: &mut SmallRng, n: usize, ops: usize) -> Vec<Vec<u8>> {
    (0..ops)
        .map(|_| format!("({}", rng.gen_range(1..=n)).into_bytes())
        .collect()
}

#[inline(never)]
fn measure_zadd(engine: &Engine, session: &mut Session, args: &[(Vec<u8>, Vec<u8>)]) {
    for (score, member) in args {
        let r = engine.execute(session, &[b"ZADD", b"zbig", score, member]);
        debug_assert_eq!(r, Reply::Int(1));
        black_box(r);
    }
}

#[inline(never)]
fn measure_zrange(engine: &Engine, session: &mut Session, args: &[Vec<u8>]) {
    for min in args {
        let r = engine.execute(
            session,
            &[
                b"ZRANGEBYSCORE",
                b"zbig",
                min,
                b"+inf",
                b"LIMIT",
                b"0",
                b"10",
            ],
        );
        debug_assert!(matches!(&r, Reply::Array(v) if v.len() <= 10));
        black_box(r);
    }
}

fn main() {
    // `cargo bench` passes `--bench`; a filter argument that is not ours
    // (another bench target's) skips this one.
    if std::env::args()
        .skip(1)
        .any(|a| !a.starts_with('-') && !"zset".contains(a.as_str()))
    {
        return;
    }
    let n = env("ZSET_BENCH_MEMBERS", 1_000_000);
    let ops = env("ZSET_BENCH_OPS", 100_000);
    let rounds = env("ZSET_BENCH_ROUNDS", 5);
    let engine: Arc<Engine> = Engine::new();
    let mut session = engine.session();
    let mut rng = SmallRng::seed_from_u64(7);
    let fill_ns = fill(&engine, &mut session, n, &mut rng);
    let mem = match engine.execute(&mut session, &[b"MEMORY", b"USAGE", b"zbig"]) {
        Reply::Int(b) => b as f64 / n as f64,
        _ => f64::NAN,
    };
    let (mut za, mut zr) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let a = zadd_args(&mut rng, n, ops, round);
        za.push(cost(ops, || measure_zadd(&engine, &mut session, &a)));
        let b = zrange_args(&mut rng, n, ops);
        zr.push(cost(ops, || measure_zrange(&engine, &mut session, &b)));
    }
    println!("zset engine bench: {n} members, {ops} ops x {rounds} rounds (medians)");
    println!("fill (ZADD x1000 pairs)     {fill_ns:>10.0} wall ns/member");
    println!("MEMORY USAGE after fill     {mem:>10.1} bytes/member");
    println!("{:<27} {:>10} {:>10}", "op", "wall ns/op", "cpu ns/op");
    for (name, c) in [("ZADD new member", za), ("ZRANGEBYSCORE LIMIT 0 10", zr)] {
        let wall = median(c.iter().map(|c| c.wall).collect());
        let cpu = median(c.iter().map(|c| c.cpu).collect());
        println!("{name:<27} {wall:>10.0} {cpu:>10.0}");
    }
}
