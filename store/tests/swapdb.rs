//! SWAPDB's effects on other subsystems: WATCH (with Redis 7.0's
//! expired-key cases, checked against redis-server 7.0.15 with
//! `DEBUG SET-ACTIVE-EXPIRE 0`) and clients blocked on keys that the swap
//! brings in.

use ferrite_store::engine::{Outgoing, Sink};
use ferrite_store::{Engine, Reply, Session};
use parking_lot::Mutex;
use std::sync::Arc;

fn run(e: &Engine, s: &mut Session, args: &[&str]) -> Reply {
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    e.execute(s, &argv)
}

/// An engine without active expiry (expired keys stay until looked up),
/// and two sessions.
fn setup() -> (Arc<Engine>, Session, Session) {
    let e = Engine::new();
    let mut a = e.session();
    let b = e.session();
    assert_eq!(
        run(&e, &mut a, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]),
        Reply::ok()
    );
    (e, a, b)
}

/// WATCH k in db 0 (from `a`), run SWAPDB 0 1 (from `b`), then EXEC.
fn watch_swap_exec(e: &Engine, a: &mut Session, b: &mut Session) -> Reply {
    assert_eq!(run(e, a, &["WATCH", "k"]), Reply::ok());
    assert_eq!(run(e, b, &["SWAPDB", "0", "1"]), Reply::ok());
    run(e, a, &["MULTI"]);
    run(e, a, &["EXEC"])
}

/// Sets `k` in `db` with a TTL that has passed by the time this returns.
fn set_expired(e: &Engine, s: &mut Session, db: &str) {
    run(e, s, &["SELECT", db]);
    run(e, s, &["SET", "k", "v", "PX", "1000"]);
    run(e, s, &["SELECT", "0"]);
    e.fast_forward(2000);
}

#[test]
fn a_missing_key_swapped_for_an_expired_one_is_no_change() {
    let (e, mut a, mut b) = setup();
    set_expired(&e, &mut b, "1");
    // redis-server 7.0.15: EXEC runs (*0).
    assert_eq!(watch_swap_exec(&e, &mut a, &mut b), Reply::Array(vec![]));
    // The expired key was not reclaimed by the swap.
    assert_eq!(e.lock().dbs[0].len(), 1);
}

#[test]
fn an_expired_key_swapped_for_a_missing_one_is_no_change() {
    let (e, mut a, mut b) = setup();
    set_expired(&e, &mut b, "0");
    assert_eq!(watch_swap_exec(&e, &mut a, &mut b), Reply::Array(vec![]));
}

#[test]
fn an_expired_key_swapped_for_an_expired_one_is_no_change() {
    let (e, mut a, mut b) = setup();
    set_expired(&e, &mut b, "0");
    run(&e, &mut b, &["SELECT", "1"]);
    run(&e, &mut b, &["SET", "k", "v", "PX", "1000"]);
    run(&e, &mut b, &["SELECT", "0"]);
    e.fast_forward(2000);
    assert_eq!(watch_swap_exec(&e, &mut a, &mut b), Reply::Array(vec![]));
}

#[test]
fn live_keys_on_either_side_invalidate() {
    // A missing key swapped for a live one.
    let (e, mut a, mut b) = setup();
    run(&e, &mut b, &["SELECT", "1"]);
    run(&e, &mut b, &["SET", "k", "v"]);
    run(&e, &mut b, &["SELECT", "0"]);
    assert_eq!(watch_swap_exec(&e, &mut a, &mut b), Reply::NilArray);
    // A live key swapped for an expired one.
    let (e, mut a, mut b) = setup();
    set_expired(&e, &mut b, "1");
    run(&e, &mut b, &["SET", "k", "v"]);
    assert_eq!(watch_swap_exec(&e, &mut a, &mut b), Reply::NilArray);
    // Missing on both sides: no change.
    let (e, mut a, mut b) = setup();
    run(&e, &mut b, &["SELECT", "1"]);
    run(&e, &mut b, &["SET", "other", "v"]);
    run(&e, &mut b, &["SELECT", "0"]);
    assert_eq!(watch_swap_exec(&e, &mut a, &mut b), Reply::Array(vec![]));
}

/// A sink that keeps what it receives.
#[derive(Default)]
struct Inbox(Mutex<Vec<Outgoing>>);

impl Sink for Inbox {
    fn send(&self, msg: Outgoing) -> bool {
        self.0.lock().push(msg);
        true
    }
    fn alive(&self) -> bool {
        true
    }
}

#[test]
fn clients_blocked_on_keys_the_swap_brings_in_are_served() {
    let (e, mut a, mut b) = setup();
    let inbox = Arc::new(Inbox::default());
    a.sink = Some(inbox.clone());
    run(&e, &mut b, &["SELECT", "1"]);
    run(&e, &mut b, &["RPUSH", "q", "x", "y"]);
    run(&e, &mut b, &["SET", "s", "str"]);
    // Blocked in db 0 on q (a list in db 1) and on s (a string in db 1).
    run(&e, &mut a, &["BLPOP", "q", "0"]);
    let token = a.blocked.take().expect("blocked");
    let mut c = e.session();
    c.sink = Some(Arc::new(Inbox::default()));
    run(&e, &mut c, &["BLPOP", "s", "0"]);
    assert!(c.blocked.take().is_some());
    assert_eq!(run(&e, &mut b, &["SWAPDB", "0", "1"]), Reply::ok());
    // redis-server 7.0.15 serves the BLPOP at once: ["q", "x"].
    assert_eq!(
        inbox.0.lock().as_slice(),
        [Outgoing::Served {
            token,
            reply: Reply::Array(vec![Reply::bulk(b"q"), Reply::bulk(b"x")])
        }]
    );
    // The client blocked on a string key keeps waiting.
    assert_eq!(e.lock().blocking.blocked_clients(), 1);
    assert_eq!(run(&e, &mut a, &["LRANGE", "q", "0", "-1"]), {
        Reply::Array(vec![Reply::bulk(b"y")])
    });
}
