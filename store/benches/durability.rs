//! Durability figures: SET throughput per `appendfsync` against memory only,
//! open time of an N-key database, snapshot size and memory per key against
//! redis-server, and the longest write stall during a background rewrite.
//!
//! `cargo bench -p ferrite-store --bench durability` runs it with 1M keys;
//! `FERRITE_BENCH_KEYS=20000` makes a quick smoke run.

use ferrite_store::persist::{self, AppendFsync, PersistOptions};
use ferrite_store::{evict, Engine};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn keys() -> usize {
    std::env::var("FERRITE_BENCH_KEYS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000)
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ferrite-bench-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn key(i: usize) -> String {
    format!("key:{i:06}")
}

const VALUE: &[u8] = b"0123456789abcdef";

fn opts(fsync: AppendFsync) -> PersistOptions {
    PersistOptions {
        appendfsync: fsync,
        rewrite_percentage: 0,
        ..Default::default()
    }
}

fn fill(e: &Engine, n: usize) {
    let mut s = e.session();
    for i in 0..n {
        e.execute(&mut s, &[b"SET", key(i).as_bytes(), VALUE]);
    }
}

fn throughput(label: &str, e: &Engine, n: usize) {
    let mut s = e.session();
    let t = Instant::now();
    for i in 0..n {
        e.execute(&mut s, &[b"SET", key(i).as_bytes(), VALUE]);
    }
    let secs = t.elapsed().as_secs_f64();
    println!(
        "SET {label:<10} {:>10.0} ops/s  ({n} ops, {:.2} us/op)",
        n as f64 / secs,
        secs * 1e6 / n as f64
    );
}

fn dir_size(dir: &Path, ext: &str) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == ext))
        .map(|p| std::fs::metadata(p).unwrap().len())
        .sum()
}

/// Parts to run: `FERRITE_BENCH_ONLY=throughput,open,stall,redis` (all by
/// default).
fn want(part: &str) -> bool {
    match std::env::var("FERRITE_BENCH_ONLY") {
        Ok(v) => v.split(',').any(|p| p.trim() == part),
        Err(_) => true,
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// CPU time of the calling thread so far (Linux: the first field of
/// `/proc/thread-self/schedstat`, in ns), or zero elsewhere.
fn thread_cpu() -> Duration {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .map(Duration::from_nanos)
        .unwrap_or_default()
}

/// Opens `dir` `rounds` times; returns the open times (wall, and CPU of
/// the opening thread: the load runs on it alone), each sorted.
fn open_times(dir: &Path, rounds: usize) -> (Vec<Duration>, Vec<Duration>) {
    let (mut wall, mut cpu): (Vec<Duration>, Vec<Duration>) = (0..rounds)
        .map(|_| {
            let (t, c) = (Instant::now(), thread_cpu());
            let e = Engine::open(dir, opts(AppendFsync::No)).unwrap();
            let d = (t.elapsed(), thread_cpu() - c);
            e.close();
            d
        })
        .unzip();
    wall.sort();
    cpu.sort();
    (wall, cpu)
}

/// Builds (or reuses, with `FERRITE_BENCH_DIR`) a log-only database and a
/// snapshot-only one of `n` keys.
fn prepared(n: usize) -> (PathBuf, PathBuf, u64, bool) {
    let (root, keep) = match std::env::var("FERRITE_BENCH_DIR") {
        Ok(d) => (PathBuf::from(d), true),
        Err(_) => (tmp("open"), false),
    };
    let (log, snap) = (root.join("log"), root.join("snap"));
    if !(keep && log.exists() && snap.exists()) {
        let _ = std::fs::remove_dir_all(&root);
        let e = Engine::open(&log, opts(AppendFsync::No)).unwrap();
        fill(&e, n);
        e.close();
        let e = Engine::open(&snap, opts(AppendFsync::No)).unwrap();
        fill(&e, n);
        persist::save(&mut e.lock()).unwrap();
        e.close();
    }
    let size = dir_size(&snap, "snap");
    (log, snap, size, keep)
}

/// Latency summary of a writer's samples.
struct Lat {
    count: usize,
    p50: Duration,
    p999: Duration,
    max: Duration,
}

fn lat(mut v: Vec<Duration>) -> Lat {
    v.sort();
    let at = |q: f64| v[((v.len() as f64 * q) as usize).min(v.len() - 1)];
    Lat {
        count: v.len(),
        p50: at(0.5),
        p999: at(0.999),
        max: *v.last().unwrap(),
    }
}

/// A writer thread: a steady stream of SETs (one, then a 20 µs sleep: a
/// busy but not flooding client) until `stop`, timing each (lock wait
/// included). An unpaced writer would fill the new segment with millions
/// of SETs and measure the page cache's dirty-page throttling instead.
fn writer(e: &Arc<Engine>, stop: &Arc<AtomicBool>) -> std::thread::JoinHandle<Vec<Duration>> {
    let (e, stop) = (e.clone(), stop.clone());
    std::thread::spawn(move || {
        let mut s = e.session();
        let mut v = Vec::with_capacity(1 << 20);
        let mut i = 0u32;
        while !stop.load(Ordering::Relaxed) {
            let k = format!("stall-probe:{}", i % 1000);
            let t = Instant::now();
            e.execute(&mut s, &[b"SET", k.as_bytes(), VALUE]);
            v.push(t.elapsed());
            i = i.wrapping_add(1);
            std::thread::sleep(Duration::from_micros(20));
        }
        v
    })
}

fn main() {
    let n = keys();
    println!("# durability bench, {n} keys (10-byte names, 16-byte values)");

    // 1. Throughput.
    if want("throughput") {
        let e = Engine::new();
        throughput("memory", &e, n);
        for (label, policy, ops) in [
            ("no", AppendFsync::No, n),
            ("everysec", AppendFsync::EverySec, n),
            ("always", AppendFsync::Always, n.min(20_000)),
        ] {
            let dir = tmp(label);
            let e = Engine::open(&dir, opts(policy)).unwrap();
            throughput(label, &e, ops);
            e.close();
            let _ = std::fs::remove_dir_all(&dir);
        }
    }

    // 2. Open time, from the log alone and from a snapshot alone (median
    // of FERRITE_BENCH_ROUNDS opens, 3 by default).
    if want("open") {
        let rounds = std::env::var("FERRITE_BENCH_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(3);
        let (log, snap, snap_size, keep) = prepared(n);
        for (label, dir) in [("log", &log), ("snapshot", &snap)] {
            let (t, c) = open_times(dir, rounds);
            println!(
                "open from {label:<9} median {:>8.1} ms  (min {:.1}, max {:.1}; CPU median {:.1} \
                 min {:.1}; {rounds} opens)",
                ms(t[t.len() / 2]),
                ms(t[0]),
                ms(t[t.len() - 1]),
                ms(c[c.len() / 2]),
                ms(c[0])
            );
        }
        println!(
            "snapshot size:      {snap_size} bytes ({:.1} B/key)",
            snap_size as f64 / n as f64
        );
        if !keep {
            let _ = std::fs::remove_dir_all(log.parent().unwrap());
        }
    }

    // 3. Write latency during a background rewrite of n keys, against the
    // same writer with no rewrite, in the same run.
    if want("stall") {
        let dir = tmp("stall");
        let e = Engine::open(&dir, opts(AppendFsync::No)).unwrap();
        fill(&e, n);
        let used = evict::used_memory(&mut e.lock(), e.clock.now_ms());
        persist::save(&mut e.lock()).unwrap();
        fill(&e, n / 10);
        let rounds = std::env::var("FERRITE_BENCH_STALL_ROUNDS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(2);
        for round in 0..rounds {
            let stop = Arc::new(AtomicBool::new(false));
            let w = writer(&e, &stop);
            std::thread::sleep(Duration::from_millis(100));
            let t = Instant::now();
            let switch = {
                let mut st = e.lock();
                let t = Instant::now();
                persist::bgsave(&mut st, false).unwrap();
                t.elapsed()
            };
            persist::wait_rewrite(&e);
            let rewrite = t.elapsed();
            stop.store(true, Ordering::Relaxed);
            let during = lat(w.join().unwrap());
            let hold = persist::rewrite_stats(&e.lock()).max_lock_hold;
            let stop = Arc::new(AtomicBool::new(false));
            let w = writer(&e, &stop);
            std::thread::sleep(rewrite);
            stop.store(true, Ordering::Relaxed);
            let idle = lat(w.join().unwrap());
            println!(
                "rewrite {round}: {:.0} ms; engine lock held by the rewrite: max {:.3} ms \
                 (BGSAVE's segment switch {:.3} ms)",
                ms(rewrite),
                ms(hold),
                ms(switch)
            );
            for (label, l) in [("during rewrite", &during), ("no rewrite", &idle)] {
                println!(
                    "  SET {label:<15} {:>8} SETs  p50 {:.4} ms  p99.9 {:.3} ms  max {:.3} ms",
                    l.count,
                    ms(l.p50),
                    ms(l.p999),
                    ms(l.max)
                );
            }
        }
        println!("used_memory {used} ({} B/key)", used / n as u64);
        e.close();
        let _ = std::fs::remove_dir_all(&dir);
    }

    // 4. Redis side by side: RDB size and used_memory for the same data.
    if want("redis") {
        redis_side(n);
    }
}

fn redis_side(n: usize) {
    let port = 17_000 + (std::process::id() % 2000) as u16;
    let dir = tmp("redis");
    std::fs::create_dir_all(&dir).unwrap();
    let pidfile = dir.join("redis.pid");
    let started = Command::new("redis-server")
        .args([
            "--port",
            &port.to_string(),
            "--save",
            "",
            "--appendonly",
            "no",
        ])
        .arg("--dir")
        .arg(&dir)
        .args(["--daemonize", "yes", "--pidfile"])
        .arg(&pidfile)
        .stdout(Stdio::null())
        .status();
    if !started.is_ok_and(|s| s.success()) {
        println!("redis-server: not available, skipped");
        return;
    }
    std::thread::sleep(Duration::from_millis(300));
    let cli = |args: &[&str]| -> String {
        let out = Command::new("redis-cli")
            .args(["-p", &port.to_string()])
            .args(args)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let used_of = |info: &str| -> u64 {
        info.lines()
            .find_map(|l| l.strip_prefix("used_memory:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    };
    let before = used_of(&cli(&["info", "memory"]));
    let mut pipe = Command::new("redis-cli")
        .args(["-p", &port.to_string(), "--pipe"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    {
        let mut w = std::io::BufWriter::new(pipe.stdin.take().unwrap());
        for i in 0..n {
            let k = key(i);
            write!(w, "*3\r\n$3\r\nSET\r\n${}\r\n{k}\r\n$16\r\n", k.len()).unwrap();
            w.write_all(VALUE).unwrap();
            w.write_all(b"\r\n").unwrap();
        }
    }
    pipe.wait().unwrap();
    let after = used_of(&cli(&["info", "memory"]));
    cli(&["save"]);
    let rdb = std::fs::metadata(dir.join("dump.rdb"))
        .map(|m| m.len())
        .unwrap_or(0);
    println!(
        "redis-server:       RDB {rdb} bytes ({:.1} B/key); used_memory +{} ({} B/key)",
        rdb as f64 / n as f64,
        after - before,
        (after - before) / n as u64
    );
    if let Ok(pid) = std::fs::read_to_string(&pidfile) {
        let _ = Command::new("kill").arg(pid.trim()).status();
    }
    std::thread::sleep(Duration::from_millis(200));
    let _ = std::fs::remove_dir_all(&dir);
}
