//! used_memory against the process's real memory growth. Alone in its
//! test binary: RSS is process-wide, so no other test may run beside it.

use ferrite_store::{evict, Engine};

fn rss() -> u64 {
    let s = std::fs::read_to_string("/proc/self/statm").unwrap();
    s.split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 4096
}

/// used_memory tracks the real growth of the process for 1M small keys
/// (10-byte names, 16-byte values) within 20%.
#[test]
fn used_memory_tracks_process_growth() {
    let e = Engine::new();
    let mut s = e.session();
    let n = 1_000_000;
    let now = e.clock.now_ms();
    let used0 = evict::used_memory(&mut e.lock(), now);
    let rss0 = rss();
    let value = b"0123456789abcdef";
    for i in 0..n {
        let key = format!("key:{i:06}");
        assert_eq!(key.len(), 10);
        e.execute(&mut s, &[b"SET", key.as_bytes(), value]);
    }
    let grew_rss = rss() - rss0;
    let now = e.clock.now_ms();
    let grew_used = evict::used_memory(&mut e.lock(), now) - used0;
    let ratio = grew_used as f64 / grew_rss as f64;
    eprintln!(
        "1M keys: used_memory +{grew_used} ({} B/key), RSS +{grew_rss} ({} B/key), ratio {ratio:.3}",
        grew_used / n,
        grew_rss / n
    );
    assert!((0.8..=1.2).contains(&ratio), "ratio {ratio}");
}
