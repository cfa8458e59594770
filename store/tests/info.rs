//! INFO fields owned by other subsystems: memory (the eviction module's
//! accounting), blocked clients (the blocking registry) and pub/sub counts
//! (the hub).

use ferrite_store::engine::{Outgoing, Sink};
use ferrite_store::{evict, Engine, Reply, Session};
use std::sync::Arc;

fn run(e: &Engine, s: &mut Session, args: &[&str]) -> Reply {
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    e.execute(s, &argv)
}

fn info(e: &Engine, s: &mut Session, section: &str) -> String {
    match run(e, s, &["INFO", section]) {
        Reply::Verbatim(t) => t,
        Reply::Bulk(_) => String::new(),
        r => panic!("INFO replied {r:?}"),
    }
}

fn field(text: &str, name: &str) -> String {
    text.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in {text}"))
        .to_string()
}

struct Alive;

impl Sink for Alive {
    fn send(&self, _msg: Outgoing) -> bool {
        true
    }
    fn alive(&self) -> bool {
        true
    }
}

#[test]
fn info_memory_is_the_eviction_accounting() {
    let e = Engine::new();
    let mut s = e.session();
    for i in 0..2000 {
        run(&e, &mut s, &["SET", &format!("key:{i}"), &"v".repeat(100)]);
    }
    let text = info(&e, &mut s, "memory");
    let used: u64 = field(&text, "used_memory").parse().unwrap();
    // The same number eviction compares with maxmemory.
    assert_eq!(used, evict::used_memory_cached(&e.lock()));
    assert!(used > 2000 * 100, "{used}");
    let peak: u64 = field(&text, "used_memory_peak").parse().unwrap();
    assert!(peak >= used);
    assert_eq!(field(&text, "used_memory_human"), evict::human(used));
    assert_eq!(field(&text, "maxmemory"), "0");
    assert_eq!(field(&text, "maxmemory_policy"), "noeviction");
    // Redis 7.0's order of the fields both print.
    let pos = |f: &str| text.find(&format!("\r\n{f}:")).unwrap();
    assert!(pos("used_memory_rss") < pos("used_memory_peak"));
    assert!(pos("used_memory_peak") < pos("maxmemory"));
}

#[test]
fn info_clients_and_stats_count_blocked_clients_and_subscriptions() {
    let e = Engine::new();
    let mut s = e.session();
    let mut waiter = e.session();
    waiter.sink = Some(Arc::new(Alive));
    run(&e, &mut waiter, &["BLPOP", "q", "0"]);
    assert!(waiter.blocked.take().is_some());
    assert_eq!(field(&info(&e, &mut s, "clients"), "blocked_clients"), "1");
    let mut sub = e.session();
    sub.sink = Some(Arc::new(Alive));
    run(&e, &mut sub, &["SUBSCRIBE", "a", "b"]);
    run(&e, &mut sub, &["PSUBSCRIBE", "p*"]);
    let stats = info(&e, &mut s, "stats");
    assert_eq!(field(&stats, "pubsub_channels"), "2");
    assert_eq!(field(&stats, "pubsub_patterns"), "1");
    run(&e, &mut s, &["RPUSH", "q", "x"]);
    assert_eq!(field(&info(&e, &mut s, "clients"), "blocked_clients"), "0");
    e.forget_session(&mut sub);
    let stats = info(&e, &mut s, "stats");
    assert_eq!(field(&stats, "pubsub_channels"), "0");
    assert_eq!(field(&stats, "pubsub_patterns"), "0");
}
