//! Memory ceiling: used_memory, maxmemory policies, LRU/LFU stamps.

use ferrite_store::engine::Session;
use ferrite_store::evict;
use ferrite_store::persist::{AppendFsync, PersistOptions};
use ferrite_store::{Engine, Reply};

const OOM: &str = "OOM command not allowed when used memory > 'maxmemory'.";

fn run(e: &Engine, s: &mut Session, args: &[&str]) -> Reply {
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    e.execute(s, &argv)
}

fn used(e: &Engine) -> u64 {
    let now = e.clock.now_ms();
    evict::used_memory(&mut e.lock(), now)
}

fn exists(e: &Engine, db: usize, key: &str) -> bool {
    e.lock().dbs[db].find(key.as_bytes()).is_some()
}

fn fill(e: &Engine, s: &mut Session, prefix: &str, n: usize) {
    for i in 0..n {
        let r = run(e, s, &["SET", &format!("{prefix}{i}"), "0123456789abcdef"]);
        assert_eq!(r, Reply::ok(), "{prefix}{i}");
    }
}

fn set_limit(e: &Engine, s: &mut Session, bytes: u64, policy: &str) {
    assert_eq!(
        run(e, s, &["CONFIG", "SET", "maxmemory-policy", policy]),
        Reply::ok()
    );
    assert_eq!(
        run(e, s, &["CONFIG", "SET", "maxmemory", &bytes.to_string()]),
        Reply::ok()
    );
}

#[test]
fn noeviction_refuses_writes_and_keeps_reads() {
    let e = Engine::new();
    let mut s = e.session();
    fill(&e, &mut s, "k", 100);
    set_limit(&e, &mut s, 1000, "noeviction");
    assert_eq!(run(&e, &mut s, &["SET", "new", "v"]), Reply::err(OOM));
    assert_eq!(run(&e, &mut s, &["APPEND", "k1", "v"]), Reply::err(OOM));
    assert_eq!(
        run(&e, &mut s, &["GET", "k1"]),
        Reply::bulk(b"0123456789abcdef")
    );
    // Commands that free memory are not DENYOOM: they still run.
    assert_eq!(run(&e, &mut s, &["DEL", "k1", "k2"]), Reply::Int(2));
    assert_eq!(e.lock().stats.evicted_keys, 0);
    // Without a limit, writes work again.
    set_limit(&e, &mut s, 0, "noeviction");
    assert_eq!(run(&e, &mut s, &["SET", "new", "v"]), Reply::ok());
}

#[test]
fn allkeys_random_stays_under_the_limit() {
    let e = Engine::new();
    let mut s = e.session();
    fill(&e, &mut s, "a", 1000);
    let limit = used(&e);
    set_limit(&e, &mut s, limit, "allkeys-random");
    fill(&e, &mut s, "b", 1000);
    // Eviction runs before each write, so the last write may overshoot by
    // its own size, as in Redis.
    let one_key = evict::TABLE_BYTES_PER_KEY as u64;
    assert!(used(&e) <= limit + one_key, "{} > {limit}", used(&e));
    let evicted = e.lock().stats.evicted_keys;
    assert!(evicted >= 900, "evicted {evicted}");
    let st = e.lock();
    let len = st.dbs[0].len();
    assert!((900..=1001).contains(&len), "{len} keys");
    // Both old and new keys were candidates.
    let olds = st.dbs[0]
        .entries()
        .iter()
        .filter(|en| en.key.as_bytes()[0] == b'a')
        .count();
    assert!(olds > 100 && olds < 900, "{olds} old keys left");
}

#[test]
fn allkeys_lru_keeps_recently_used_keys() {
    let e = Engine::new();
    // Exact idle time below: only fast_forward moves a frozen clock (the
    // coarse clock behind LRU stamps could lag a second boundary otherwise).
    e.clock.freeze(true);
    let mut s = e.session();
    fill(&e, &mut s, "k", 400);
    let limit = used(&e);
    set_limit(&e, &mut s, limit, "allkeys-lru");
    e.fast_forward(100_000);
    for i in 0..50 {
        run(&e, &mut s, &["GET", &format!("k{i}")]);
    }
    e.fast_forward(2_000);
    fill(&e, &mut s, "new", 200);
    let hot = (0..50).filter(|i| exists(&e, 0, &format!("k{i}"))).count();
    assert!(hot >= 48, "only {hot} of 50 recently used keys survived");
    let cold = (50..400)
        .filter(|i| exists(&e, 0, &format!("k{i}")))
        .count();
    assert!(cold <= 170, "{cold} cold keys survived");
    let idle = {
        let st = e.lock();
        let p = st.dbs[0].find(b"k1").unwrap();
        evict::idle_secs(st.dbs[0].at(p), e.clock.now_ms())
    };
    assert_eq!(idle, 2);
}

#[test]
fn allkeys_lfu_keeps_frequently_used_keys() {
    let e = Engine::new();
    let mut s = e.session();
    assert_eq!(
        run(
            &e,
            &mut s,
            &["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"]
        ),
        Reply::ok()
    );
    // Factor 0 makes every access count (p = 1 / (0 * c + 1)), so the
    // counters below are deterministic; the default 10 left a 6% chance
    // that 29 hits at p = 1/11 never raised k0 past 6.
    assert_eq!(
        run(&e, &mut s, &["CONFIG", "SET", "lfu-log-factor", "0"]),
        Reply::ok()
    );
    fill(&e, &mut s, "k", 400);
    {
        let st = e.lock();
        let p = st.dbs[0].find(b"k0").unwrap();
        assert_eq!(evict::lfu_freq(st.dbs[0].at(p), e.clock.now_ms()), 5);
    }
    for _ in 0..30 {
        for i in 0..40 {
            run(&e, &mut s, &["GET", &format!("k{i}")]);
        }
    }
    {
        let st = e.lock();
        let p = st.dbs[0].find(b"k0").unwrap();
        assert!(evict::lfu_freq(st.dbs[0].at(p), e.clock.now_ms()) > 6);
    }
    let limit = used(&e);
    set_limit(&e, &mut s, limit, "allkeys-lfu");
    fill(&e, &mut s, "new", 200);
    let hot = (0..40).filter(|i| exists(&e, 0, &format!("k{i}"))).count();
    assert!(hot >= 38, "only {hot} of 40 frequently used keys survived");
}

#[test]
fn volatile_ttl_evicts_nearest_expiry_and_never_persistent_keys() {
    let e = Engine::new();
    let mut s = e.session();
    fill(&e, &mut s, "p", 200);
    for i in 0..200 {
        let ttl = (10_000 + i).to_string();
        run(
            &e,
            &mut s,
            &["SET", &format!("t{i}"), "0123456789abcdef", "EX", &ttl],
        );
    }
    let limit = used(&e);
    set_limit(&e, &mut s, limit, "volatile-ttl");
    fill(&e, &mut s, "q", 50);
    for i in 0..200 {
        assert!(exists(&e, 0, &format!("p{i}")), "persistent p{i} evicted");
    }
    // The nearest expiries went first (sampling: mostly).
    let early_gone = (0..50).filter(|i| !exists(&e, 0, &format!("t{i}"))).count();
    let late_gone = (150..200)
        .filter(|i| !exists(&e, 0, &format!("t{i}")))
        .count();
    assert!(early_gone > late_gone + 10, "{early_gone} vs {late_gone}");
    // Once no key has a TTL, nothing can be evicted: OOM.
    let mut refused = None;
    for i in 0..1000 {
        let r = run(&e, &mut s, &["SET", &format!("r{i}"), "0123456789abcdef"]);
        if r.is_error() {
            assert_eq!(r, Reply::err(OOM));
            refused = Some(i);
            break;
        }
    }
    assert!(refused.is_some(), "never refused");
    assert_eq!(e.lock().dbs[0].volatile_len(), 0);
    for i in 0..200 {
        assert!(exists(&e, 0, &format!("p{i}")));
    }
}

#[test]
fn volatile_policies_without_volatile_keys_refuse() {
    for policy in ["volatile-lru", "volatile-lfu", "volatile-random"] {
        let e = Engine::new();
        let mut s = e.session();
        fill(&e, &mut s, "k", 50);
        set_limit(&e, &mut s, 10, policy);
        assert_eq!(
            run(&e, &mut s, &["SET", "x", "y"]),
            Reply::err(OOM),
            "{policy}"
        );
        assert_eq!(e.lock().dbs[0].len(), 50);
    }
}

#[test]
fn evictions_span_databases_and_are_logged_as_del() {
    let dir = std::env::temp_dir().join(format!("ferrite-evict-log-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let e = Engine::open(
        &dir,
        PersistOptions {
            appendfsync: AppendFsync::No,
            ..Default::default()
        },
    )
    .unwrap();
    let mut s = e.session();
    s.db = 3;
    fill(&e, &mut s, "d3-", 100);
    s.db = 0;
    let limit = used(&e);
    set_limit(&e, &mut s, limit, "allkeys-random");
    fill(&e, &mut s, "d0-", 100);
    let evicted = e.lock().stats.evicted_keys;
    assert!(evicted >= 90);
    assert!(e.lock().dbs[3].len() < 100, "db 3 was a candidate too");
    let seg: std::path::PathBuf = std::fs::read_dir(&dir)
        .unwrap()
        .map(|x| x.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "aof"))
        .unwrap();
    let log = String::from_utf8_lossy(&std::fs::read(&seg).unwrap()).into_owned();
    assert_eq!(log.matches("$3\r\nDEL\r\n").count() as u64, evicted);
    // The log replays to the same dataset.
    let before: Vec<usize> = e.lock().dbs.iter().map(|d| d.len()).collect();
    e.close();
    let e = Engine::open(&dir, PersistOptions::default()).unwrap();
    let after: Vec<usize> = e.lock().dbs.iter().map(|d| d.len()).collect();
    assert_eq!(before, after);
    e.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn info_memory_fields() {
    let e = Engine::new();
    let mut s = e.session();
    fill(&e, &mut s, "k", 10);
    set_limit(&e, &mut s, 1 << 30, "allkeys-lru");
    let now = e.clock.now_ms();
    let _ = evict::used_memory(&mut e.lock(), now);
    let fields: std::collections::HashMap<String, String> =
        evict::info_lines(&e.lock()).into_iter().collect();
    let used: u64 = fields["used_memory"].parse().unwrap();
    assert!(used >= 10 * evict::TABLE_BYTES_PER_KEY as u64);
    assert_eq!(fields["maxmemory"], (1u64 << 30).to_string());
    assert_eq!(fields["maxmemory_human"], "1.00G");
    assert_eq!(fields["maxmemory_policy"], "allkeys-lru");
    assert_eq!(fields["used_memory_human"], evict::human(used));
}
