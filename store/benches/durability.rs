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

fn main() {
    let n = keys();
    println!("# durability bench, {n} keys (10-byte names, 16-byte values)");

    // 1. Throughput.
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

    // 2. Open time, from a snapshot and from the log alone.
    let dir = tmp("open");
    let e = Engine::open(&dir, opts(AppendFsync::No)).unwrap();
    fill(&e, n);
    let used = evict::used_memory(&mut e.lock(), e.clock.now_ms());
    e.close();
    let t = Instant::now();
    let e = Engine::open(&dir, opts(AppendFsync::No)).unwrap();
    println!(
        "open from log:      {:>8.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    persist::save(&mut e.lock()).unwrap();
    e.close();
    let snap = dir_size(&dir, "snap");
    let t = Instant::now();
    let e = Engine::open(&dir, opts(AppendFsync::No)).unwrap();
    println!(
        "open from snapshot: {:>8.1} ms",
        t.elapsed().as_secs_f64() * 1e3
    );
    println!(
        "snapshot size:      {snap} bytes ({:.1} B/key); used_memory {used} ({} B/key)",
        snap as f64 / n as f64,
        used / n as u64
    );

    // 3. Longest write stall during a background rewrite of n keys.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let e = e.clone();
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut s = e.session();
            let (mut worst, mut held, mut ops) = (Duration::ZERO, Duration::ZERO, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let mut st = e.lock();
                let h = Instant::now();
                e.execute_locked(&mut st, &mut s, &[b"SET", b"stall-probe", VALUE]);
                held = held.max(h.elapsed());
                drop(st);
                worst = worst.max(t.elapsed());
                ops += 1;
            }
            (worst, held, ops)
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let t = Instant::now();
    // Time BGSAVE holds the lock, not the wait for it (the writer keeps
    // taking the lock).
    let switch = {
        let mut st = e.lock();
        let t = Instant::now();
        persist::bgsave(&mut st, false).unwrap();
        t.elapsed()
    };
    persist::wait_rewrite(&e);
    let rewrite = t.elapsed();
    stop.store(true, Ordering::Relaxed);
    let (worst, held, ops) = writer.join().unwrap();
    println!(
        "rewrite of {n} keys: {:.1} ms; BGSAVE holds the lock {:.3} ms (segment switch); \
         longest SET during the rewrite: {:.3} ms, of which under the lock {:.3} ms ({ops} SETs)",
        rewrite.as_secs_f64() * 1e3,
        switch.as_secs_f64() * 1e3,
        worst.as_secs_f64() * 1e3,
        held.as_secs_f64() * 1e3
    );
    // The same writer with no rewrite, for the machine's own jitter.
    let (worst, held, ops) = {
        let mut s = e.session();
        let (mut worst, mut held, mut ops) = (Duration::ZERO, Duration::ZERO, 0u64);
        let t0 = Instant::now();
        while t0.elapsed() < rewrite {
            let t = Instant::now();
            let mut st = e.lock();
            let h = Instant::now();
            e.execute_locked(&mut st, &mut s, &[b"SET", b"stall-probe", VALUE]);
            held = held.max(h.elapsed());
            drop(st);
            worst = worst.max(t.elapsed());
            ops += 1;
        }
        (worst, held, ops)
    };
    println!(
        "baseline, no rewrite, same duration: longest SET {:.3} ms, of which under the lock \
         {:.3} ms ({ops} SETs)",
        worst.as_secs_f64() * 1e3,
        held.as_secs_f64() * 1e3
    );
    e.close();
    let _ = std::fs::remove_dir_all(&dir);

    // 4. Redis side by side: RDB size and used_memory for the same data.
    redis_side(n);
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
