//! Blocking commands: waiters served in FIFO order, timeouts, dead waiters,
//! MULTI-like no-block sessions, and a many-threads stress test that counts
//! every element exactly once.

mod coll;

use coll::{blocking_session, q, render, run};
use ferrite_store::{Engine, Outgoing, Reply};
use std::collections::HashMap;
use std::sync::mpsc::Receiver;
use std::time::Duration;

fn served(rx: &Receiver<Outgoing>) -> (u64, String) {
    match rx
        .recv_timeout(Duration::from_secs(5))
        .expect("a served reply")
    {
        Outgoing::Served { token, reply } => (token, render(&reply)),
        other => panic!("unexpected {other:?}"),
    }
}

fn blocked_clients(e: &Engine) -> usize {
    e.lock().blocking.blocked_clients()
}

#[test]
fn blpop_serves_waiters_in_fifo_order() {
    let e = Engine::new();
    let mut waiters = Vec::new();
    for _ in 0..3 {
        let (mut s, sink, rx) = blocking_session(&e);
        let r = run(&e, &mut s, "BLPOP a b 0");
        assert_eq!(r, Reply::NilArray, "placeholder reply");
        let token = s.blocked.take().expect("blocked");
        waiters.push((token, sink, rx));
    }
    assert_eq!(blocked_clients(&e), 3);
    let mut p = e.session();
    // One push of three elements serves the three waiters in order.
    assert_eq!(q(&e, &mut p, "RPUSH b x y z"), ":3");
    for (i, (token, _, rx)) in waiters.iter().enumerate() {
        let (t, reply) = served(rx);
        assert_eq!(t, *token);
        assert_eq!(reply, format!("[$b, ${}]", ["x", "y", "z"][i]));
    }
    assert_eq!(blocked_clients(&e), 0);
    // Every element was consumed: the key is gone.
    assert_eq!(q(&e, &mut p, "LLEN b"), ":0");
}

#[test]
fn brpop_and_partial_service_leave_later_waiters_blocked() {
    let e = Engine::new();
    let (mut s1, _k1, rx1) = blocking_session(&e);
    let (mut s2, _k2, rx2) = blocking_session(&e);
    run(&e, &mut s1, "BRPOP l 0");
    run(&e, &mut s2, "BRPOP l 0");
    let t2 = s2.blocked.take().unwrap();
    let mut p = e.session();
    assert_eq!(q(&e, &mut p, "RPUSH l a b"), ":2");
    assert_eq!(served(&rx1).1, "[$l, $b]");
    assert_eq!(served(&rx2).1, "[$l, $a]");
    assert!(!e.unblock(t2), "already served");
    // A push onto a fresh list with nobody waiting keeps the data.
    assert_eq!(q(&e, &mut p, "RPUSH l c"), ":1");
    assert_eq!(q(&e, &mut p, "LRANGE l 0 -1"), "[$c]");
}

#[test]
fn timeout_sends_null_array_and_unregisters() {
    let e = Engine::new();
    let (mut s, _sink, rx) = blocking_session(&e);
    run(&e, &mut s, "BLPOP k 0.05");
    let token = s.blocked.take().unwrap();
    let (t, reply) = served(&rx);
    assert_eq!((t, reply.as_str()), (token, "nilarr"));
    assert_eq!(blocked_clients(&e), 0);
    // Data pushed after the timeout stays in the list.
    let mut p = e.session();
    q(&e, &mut p, "RPUSH k v");
    assert_eq!(q(&e, &mut p, "LLEN k"), ":1");
    assert!(rx.try_recv().is_err());
}

#[test]
fn fast_forward_expires_waiters() {
    let e = Engine::new();
    let (mut s, _sink, rx) = blocking_session(&e);
    run(&e, &mut s, "BLMOVE src dst LEFT RIGHT 100");
    let token = s.blocked.take().unwrap();
    e.fast_forward(200_000);
    assert_eq!(ferrite_store::blocking::tick(&e), 1);
    assert_eq!(served(&rx), (token, "nilarr".into()));
}

#[test]
fn timeout_zero_waits_until_unblocked() {
    let e = Engine::new();
    let (mut s, _sink, rx) = blocking_session(&e);
    run(&e, &mut s, "BLPOP k 0");
    let token = s.blocked.take().unwrap();
    e.fast_forward(10_000_000);
    assert_eq!(ferrite_store::blocking::tick(&e), 0);
    assert!(rx.recv_timeout(Duration::from_millis(50)).is_err());
    assert!(e.unblock(token), "still registered");
    assert!(!e.unblock(token));
    let mut p = e.session();
    q(&e, &mut p, "RPUSH k v");
    assert_eq!(
        q(&e, &mut p, "LLEN k"),
        ":1",
        "nothing taken for a gone waiter"
    );
    assert!(rx.try_recv().is_err());
}

#[test]
fn dead_waiter_is_skipped_and_element_goes_to_next() {
    let e = Engine::new();
    let (mut s1, sink1, rx1) = blocking_session(&e);
    let (mut s2, _sink2, rx2) = blocking_session(&e);
    run(&e, &mut s1, "BLPOP k 0");
    run(&e, &mut s2, "BLPOP k 0");
    sink1.kill();
    let mut p = e.session();
    q(&e, &mut p, "RPUSH k v");
    assert_eq!(served(&rx2).1, "[$k, $v]");
    assert!(rx1.try_recv().is_err());
    assert_eq!(blocked_clients(&e), 0);
}

#[test]
fn failed_send_puts_the_element_back() {
    // alive() says yes, but the send fails: the pop is undone and the
    // element goes to the next waiter, or stays in the list.
    let e = Engine::new();
    let (mut s1, sink1, _rx1) = blocking_session(&e);
    run(&e, &mut s1, "BRPOP k 0");
    sink1
        .fail_send
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let mut p = e.session();
    q(&e, &mut p, "RPUSH k a b c");
    assert_eq!(q(&e, &mut p, "LRANGE k 0 -1"), "[$a, $b, $c]");

    let (mut s2, sink2, _rx2) = blocking_session(&e);
    let (mut s3, _sink3, rx3) = blocking_session(&e);
    run(&e, &mut s2, "BLMOVE src dst RIGHT LEFT 0");
    run(&e, &mut s3, "BLMOVE src dst RIGHT LEFT 0");
    sink2
        .fail_send
        .store(true, std::sync::atomic::Ordering::SeqCst);
    q(&e, &mut p, "RPUSH src 1 2");
    assert_eq!(served(&rx3).1, "$2");
    assert_eq!(q(&e, &mut p, "LRANGE src 0 -1"), "[$1]");
    assert_eq!(q(&e, &mut p, "LRANGE dst 0 -1"), "[$2]");

    let (mut s4, sink4, _rx4) = blocking_session(&e);
    run(&e, &mut s4, "BLMPOP 0 1 m LEFT COUNT 2");
    sink4
        .fail_send
        .store(true, std::sync::atomic::Ordering::SeqCst);
    q(&e, &mut p, "RPUSH m a b c");
    assert_eq!(q(&e, &mut p, "LRANGE m 0 -1"), "[$a, $b, $c]");
}

#[test]
fn blmove_chains_to_waiters_on_the_destination() {
    let e = Engine::new();
    let (mut s1, _k1, rx1) = blocking_session(&e);
    let (mut s2, _k2, rx2) = blocking_session(&e);
    run(&e, &mut s1, "BLMOVE a b LEFT LEFT 0");
    run(&e, &mut s2, "BLPOP b 0");
    let mut p = e.session();
    q(&e, &mut p, "LPUSH a v");
    assert_eq!(served(&rx1).1, "$v");
    assert_eq!(served(&rx2).1, "[$b, $v]");
    assert_eq!(q(&e, &mut p, "LLEN a"), ":0");
    assert_eq!(q(&e, &mut p, "LLEN b"), ":0");
}

#[test]
fn blmove_to_wrong_type_destination_replies_wrongtype_and_keeps_element() {
    let e = Engine::new();
    let (mut s, _k, rx) = blocking_session(&e);
    run(&e, &mut s, "BLMOVE a dst LEFT LEFT 0");
    let mut p = e.session();
    q(&e, &mut p, "SET dst x");
    q(&e, &mut p, "RPUSH a v");
    assert_eq!(
        served(&rx).1,
        "!WRONGTYPE Operation against a key holding the wrong kind of value"
    );
    assert_eq!(q(&e, &mut p, "LRANGE a 0 -1"), "[$v]");
}

#[test]
fn blmpop_serves_counts() {
    let e = Engine::new();
    let (mut s, _k, rx) = blocking_session(&e);
    run(&e, &mut s, "BLMPOP 0 2 x y RIGHT COUNT 2");
    let mut p = e.session();
    q(&e, &mut p, "RPUSH y 1 2 3");
    assert_eq!(served(&rx).1, "[$y, [$3, $2]]");
    assert_eq!(q(&e, &mut p, "LRANGE y 0 -1"), "[$1]");
}

#[test]
fn wrong_type_key_does_not_serve_but_waiter_stays() {
    let e = Engine::new();
    let (mut s, _k, rx) = blocking_session(&e);
    run(&e, &mut s, "BLPOP k 0");
    let mut p = e.session();
    // A SET over the key does not signal readiness; the waiter stays.
    q(&e, &mut p, "SADD other x");
    assert_eq!(blocked_clients(&e), 1);
    q(&e, &mut p, "RPUSH k v");
    assert_eq!(served(&rx).1, "[$k, $v]");
}

#[test]
fn waiters_are_per_database() {
    let e = Engine::new();
    let (mut s, _k, rx) = blocking_session(&e);
    s.db = 3;
    run(&e, &mut s, "BLPOP k 0");
    let mut p = e.session();
    q(&e, &mut p, "RPUSH k in-db-0");
    assert!(rx.try_recv().is_err());
    p.db = 3;
    q(&e, &mut p, "RPUSH k in-db-3");
    assert_eq!(served(&rx).1, "[$k, $in-db-3]");
    p.db = 0;
    assert_eq!(q(&e, &mut p, "LRANGE k 0 -1"), "[$in-db-0]");
}

#[test]
fn no_block_sessions_reply_at_once() {
    let e = Engine::new();
    // Without a sink, and inside MULTI/scripts (no_block), a blocking
    // command replies as on timeout.
    let mut plain = e.session();
    assert_eq!(q(&e, &mut plain, "BLPOP k 0"), "nilarr");
    assert_eq!(q(&e, &mut plain, "BLMOVE k d LEFT LEFT 0"), "nilarr");
    assert!(plain.blocked.is_none());
    let (mut s, _k, _rx) = blocking_session(&e);
    s.no_block = true;
    assert_eq!(q(&e, &mut s, "BRPOPLPUSH k d 0"), "nilarr");
    assert_eq!(q(&e, &mut s, "BLMPOP 0 1 k LEFT"), "nilarr");
    assert!(s.blocked.is_none());
    assert_eq!(blocked_clients(&e), 0);
    // Argument errors come first, even when the data is there.
    q(&e, &mut s, "RPUSH k v");
    assert_eq!(q(&e, &mut s, "BLPOP k -1"), "!ERR timeout is negative");
    assert_eq!(
        q(&e, &mut s, "BLPOP k x"),
        "!ERR timeout is not a float or out of range"
    );
    assert_eq!(q(&e, &mut s, "BLPOP k 0"), "[$k, $v]");
}

#[test]
fn unblock_client_by_id() {
    let e = Engine::new();
    let (mut s, _k, rx) = blocking_session(&e);
    run(&e, &mut s, "BLPOP k 0");
    let token = s.blocked.take().unwrap();
    assert_eq!(e.unblock_client(s.id), Some(token));
    assert_eq!(e.unblock_client(s.id), None);
    run(&e, &mut s, "BLPOP k 0");
    let token = s.blocked.take().unwrap();
    {
        let mut st = e.lock();
        assert!(ferrite_store::blocking::unblock_client_with(
            &mut st, s.id, true
        ));
    }
    assert_eq!(
        served(&rx),
        (
            token,
            "!UNBLOCKED client unblocked via CLIENT UNBLOCK".to_string()
        )
    );
}

/// Many pushers and many waiters on several keys: every pushed element is
/// received exactly once, by a waiter or left in the lists, even while
/// waiters time out, give up and die.
#[test]
fn stress_every_element_exactly_once() {
    let e = Engine::new();
    const PUSHERS: usize = 4;
    const PER_PUSHER: usize = 500;
    const WAITERS: usize = 6;
    const KEYS: [&str; 3] = ["s0", "s1", "s2"];
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut handles = Vec::new();
    for w in 0..WAITERS {
        let e = e.clone();
        let stop = stop.clone();
        handles.push(std::thread::spawn(move || {
            let mut got: Vec<String> = Vec::new();
            let mut round = 0usize;
            loop {
                let (mut s, sink, rx) = blocking_session(&e);
                // Vary the timeout: some waiters time out, some give up.
                let cmd = match (w + round) % 3 {
                    0 => "BLPOP s0 s1 s2 0.02",
                    1 => "BRPOP s2 s1 0",
                    _ => "BLMPOP 0.01 2 s1 s0 LEFT COUNT 3",
                };
                round += 1;
                let r = run(&e, &mut s, cmd);
                match s.blocked.take() {
                    None => collect(&r, &mut got),
                    Some(token) => match rx.recv_timeout(Duration::from_millis(5)) {
                        Ok(Outgoing::Served { reply, .. }) => collect(&reply, &mut got),
                        Ok(_) => unreachable!(),
                        Err(_) => {
                            if round.is_multiple_of(5) {
                                // Die instead of giving up cleanly. A reply
                                // sent before the death was delivered (it is
                                // in the mailbox): count it. Sends happen
                                // under the engine lock, so after taking it
                                // no send is in flight.
                                sink.kill();
                                drop(e.lock());
                                while let Ok(Outgoing::Served { reply, .. }) = rx.try_recv() {
                                    collect(&reply, &mut got);
                                }
                            } else if !e.unblock(token) {
                                // Served meanwhile: the reply is in the channel.
                                let Outgoing::Served { reply, .. } = rx.recv().unwrap() else {
                                    unreachable!()
                                };
                                collect(&reply, &mut got);
                            }
                        }
                    },
                }
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    return got;
                }
            }
        }));
    }
    let mut pushers = Vec::new();
    for p in 0..PUSHERS {
        let e = e.clone();
        pushers.push(std::thread::spawn(move || {
            let mut s = e.session();
            for i in 0..PER_PUSHER {
                let key = KEYS[(p + i) % KEYS.len()];
                let cmd = if i.is_multiple_of(2) {
                    "LPUSH"
                } else {
                    "RPUSH"
                };
                let line = format!("{cmd} {key} p{p}-{i}");
                assert!(matches!(run(&e, &mut s, &line), Reply::Int(_)));
                if i.is_multiple_of(50) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        }));
    }
    for h in pushers {
        h.join().unwrap();
    }
    std::thread::sleep(Duration::from_millis(50));
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let mut count: HashMap<String, usize> = HashMap::new();
    let mut by_waiters = 0;
    for h in handles {
        let got = h.join().unwrap();
        by_waiters += got.len();
        for v in got {
            *count.entry(v).or_default() += 1;
        }
    }
    assert!(by_waiters > 0, "waiters received nothing");
    // What is left in the lists.
    let mut s = e.session();
    for k in KEYS {
        let Reply::Array(items) = run(&e, &mut s, &format!("LRANGE {k} 0 -1")) else {
            panic!()
        };
        for it in items {
            *count
                .entry(String::from_utf8(it.as_bytes().unwrap().to_vec()).unwrap())
                .or_default() += 1;
        }
    }
    assert_eq!(count.len(), PUSHERS * PER_PUSHER, "elements lost");
    for (v, n) in &count {
        assert_eq!(*n, 1, "{v} received {n} times");
    }
    // Killed waiters are dropped lazily, when data arrives for their keys:
    // a push to every key now reaches none of them and drops them all (every
    // live waiter resolved its last round before its thread returned).
    for k in KEYS {
        let Reply::Int(before) = run(&e, &mut s, &format!("LLEN {k}")) else {
            panic!()
        };
        assert_eq!(
            run(&e, &mut s, &format!("RPUSH {k} last")),
            Reply::Int(before + 1),
            "a dead waiter took the element pushed to {k}"
        );
    }
    assert_eq!(blocked_clients(&e), 0, "dead waiters linger");
}

/// Adds the elements of a BLPOP/BRPOP/BLMPOP reply to `got`.
fn collect(r: &Reply, got: &mut Vec<String>) {
    let text = |r: &Reply| String::from_utf8(r.as_bytes().unwrap().to_vec()).unwrap();
    match r {
        Reply::NilArray => {}
        Reply::Array(parts) => match &parts[1] {
            Reply::Array(elems) => got.extend(elems.iter().map(text)),
            v => got.push(text(v)),
        },
        other => panic!("unexpected reply {other:?}"),
    }
}
