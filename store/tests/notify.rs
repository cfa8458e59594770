//! Keyspace notifications where subsystems meet: the `new` event of every
//! key creation (Redis's `dbAdd`), SET with a past EXAT, and the
//! `notify-keyspace-events` read-back. Every expected sequence is what
//! redis-server 7.0.15 publishes (`redis-cli psubscribe '__key*__:*'`).

use ferrite_store::engine::{Outgoing, Sink};
use ferrite_store::{Engine, Reply, Session};
use parking_lot::Mutex;
use std::sync::Arc;

fn run(e: &Engine, s: &mut Session, args: &[&str]) -> Reply {
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    e.execute(s, &argv)
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

impl Inbox {
    /// The `pmessage` pushes received since the last call, as
    /// "channel payload".
    fn take(&self) -> Vec<String> {
        let text = |r: &Reply| String::from_utf8_lossy(r.as_bytes().unwrap()).into_owned();
        std::mem::take(&mut *self.0.lock())
            .into_iter()
            .map(|m| match m {
                Outgoing::Push(Reply::Push(v)) => format!("{} {}", text(&v[2]), text(&v[3])),
                other => panic!("unexpected {other:?}"),
            })
            .collect()
    }
}

/// An engine with `notify-keyspace-events` set to `flags`, a client and a
/// subscriber to every keyspace channel.
fn setup(flags: &str) -> (Arc<Engine>, Session, Arc<Inbox>) {
    let e = Engine::new();
    let mut c = e.session();
    assert_eq!(
        run(
            &e,
            &mut c,
            &["CONFIG", "SET", "notify-keyspace-events", flags]
        ),
        Reply::ok()
    );
    assert_eq!(
        run(&e, &mut c, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]),
        Reply::ok()
    );
    let inbox = Arc::new(Inbox::default());
    let mut sub = e.session();
    sub.sink = Some(inbox.clone());
    run(&e, &mut sub, &["PSUBSCRIBE", "__key*__:*"]);
    // The subscriber must stay registered: leak its session into the hub.
    std::mem::forget(sub);
    (e, c, inbox)
}

#[test]
fn every_key_creation_publishes_new() {
    let (e, mut c, inbox) = setup("AEn");
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["SET", "newk", "v"],
            &["__keyevent@0__:new newk", "__keyevent@0__:set newk"],
        ),
        (&["SET", "newk", "v2"], &["__keyevent@0__:set newk"]),
        (
            &["RPUSH", "newl", "a"],
            &["__keyevent@0__:new newl", "__keyevent@0__:rpush newl"],
        ),
        (
            &["HSET", "newh", "a", "1"],
            &["__keyevent@0__:new newh", "__keyevent@0__:hset newh"],
        ),
        (
            &["SADD", "news", "a"],
            &["__keyevent@0__:new news", "__keyevent@0__:sadd news"],
        ),
        (
            &["INCRBYFLOAT", "newf", "1"],
            &["__keyevent@0__:new newf", "__keyevent@0__:incrbyfloat newf"],
        ),
        (
            &["SETRANGE", "newr", "2", "x"],
            &["__keyevent@0__:new newr", "__keyevent@0__:setrange newr"],
        ),
        (
            &["APPEND", "newa", "x"],
            &["__keyevent@0__:new newa", "__keyevent@0__:append newa"],
        ),
        (
            &["INCR", "newi"],
            &["__keyevent@0__:new newi", "__keyevent@0__:incrby newi"],
        ),
        (
            &["COPY", "newk", "newc"],
            &["__keyevent@0__:new newc", "__keyevent@0__:copy_to newc"],
        ),
        (
            &["RENAME", "newk", "newk2"],
            &[
                "__keyevent@0__:new newk2",
                "__keyevent@0__:rename_from newk",
                "__keyevent@0__:rename_to newk2",
            ],
        ),
        (
            &["LMOVE", "newl", "newl2", "left", "right"],
            &[
                "__keyevent@0__:new newl2",
                "__keyevent@0__:rpush newl2",
                "__keyevent@0__:lpop newl",
                "__keyevent@0__:del newl",
            ],
        ),
        (
            &["SINTERSTORE", "newss", "news"],
            &[
                "__keyevent@0__:new newss",
                "__keyevent@0__:sinterstore newss",
            ],
        ),
        (
            &["HSETNX", "newhx", "a", "b"],
            &["__keyevent@0__:new newhx", "__keyevent@0__:hset newhx"],
        ),
        (
            &["GETSET", "newgs", "a"],
            &["__keyevent@0__:new newgs", "__keyevent@0__:set newgs"],
        ),
        (
            &["MSET", "newm1", "a", "newm2", "b"],
            &[
                "__keyevent@0__:new newm1",
                "__keyevent@0__:set newm1",
                "__keyevent@0__:new newm2",
                "__keyevent@0__:set newm2",
            ],
        ),
        (
            &["MSETNX", "newm3", "a"],
            &["__keyevent@0__:new newm3", "__keyevent@0__:set newm3"],
        ),
        (
            &["SETNX", "newnx", "a"],
            &["__keyevent@0__:new newnx", "__keyevent@0__:set newnx"],
        ),
        (
            &["PSETEX", "newpx", "100000", "a"],
            &[
                "__keyevent@0__:new newpx",
                "__keyevent@0__:set newpx",
                "__keyevent@0__:expire newpx",
            ],
        ),
        (
            &["HINCRBY", "newhi", "f", "1"],
            &["__keyevent@0__:new newhi", "__keyevent@0__:hincrby newhi"],
        ),
        (
            &["HINCRBYFLOAT", "newhf", "f", "1"],
            &[
                "__keyevent@0__:new newhf",
                "__keyevent@0__:hincrbyfloat newhf",
            ],
        ),
        (
            &["LPUSH", "newlp", "a"],
            &["__keyevent@0__:new newlp", "__keyevent@0__:lpush newlp"],
        ),
        (
            &["SMOVE", "news", "newsm", "a"],
            &[
                "__keyevent@0__:srem news",
                "__keyevent@0__:del news",
                "__keyevent@0__:new newsm",
                "__keyevent@0__:sadd newsm",
            ],
        ),
    ];
    for (cmd, want) in cases {
        let r = run(&e, &mut c, cmd);
        assert!(!r.is_error(), "{cmd:?}: {r:?}");
        assert_eq!(inbox.take(), *want, "{cmd:?}");
    }
}

#[test]
fn set_with_a_past_exat_expires_instead_of_deleting() {
    let (e, mut c, inbox) = setup("KEA");
    assert_eq!(
        run(&e, &mut c, &["SET", "k", "v", "EXAT", "1"]),
        Reply::ok()
    );
    assert_eq!(
        inbox.take(),
        [
            "__keyspace@0__:k set",
            "__keyevent@0__:set k",
            "__keyspace@0__:k expire",
            "__keyevent@0__:expire k",
        ]
    );
    // The key is logically gone; its lookup reclaims it with `expired`.
    assert_eq!(run(&e, &mut c, &["GET", "k"]), Reply::Nil);
    assert_eq!(
        inbox.take(),
        ["__keyspace@0__:k expired", "__keyevent@0__:expired k"]
    );
    // PXAT and a GET argument behave the same.
    run(&e, &mut c, &["SET", "p", "old"]);
    inbox.take();
    assert_eq!(
        run(&e, &mut c, &["SET", "p", "v", "PXAT", "1", "GET"]),
        Reply::bulk(b"old")
    );
    assert_eq!(
        inbox.take(),
        [
            "__keyspace@0__:p set",
            "__keyevent@0__:set p",
            "__keyspace@0__:p expire",
            "__keyevent@0__:expire p",
        ]
    );
    assert_eq!(run(&e, &mut c, &["EXISTS", "p"]), Reply::Int(0));
    // GETEX with a past time still deletes at once, as Redis does.
    run(&e, &mut c, &["SET", "g", "v"]);
    inbox.take();
    assert_eq!(
        run(&e, &mut c, &["GETEX", "g", "EXAT", "1"]),
        Reply::bulk(b"v")
    );
    assert_eq!(
        inbox.take(),
        ["__keyspace@0__:g del", "__keyevent@0__:del g"]
    );
}

#[test]
fn notify_flags_read_back_as_redis_prints_them() {
    let e = Engine::new();
    let mut c = e.session();
    for (set, shown) in [("nmEA", "AEm"), ("AKEn", "AKE"), ("Kn", "nK")] {
        run(
            &e,
            &mut c,
            &["CONFIG", "SET", "notify-keyspace-events", set],
        );
        assert_eq!(
            run(&e, &mut c, &["CONFIG", "GET", "notify-keyspace-events"]),
            Reply::Map(vec![(
                Reply::bulk(b"notify-keyspace-events"),
                Reply::bulk(shown.as_bytes())
            )])
        );
    }
}
