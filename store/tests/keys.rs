//! Keyspace commands: every command and error path, with exact replies
//! (checked against redis-server 7.0.15). Time moves with
//! `Engine::fast_forward`, never with sleeps.

mod common;
use common::*;
use ferrite_store::Reply;
use std::collections::HashSet;

#[test]
fn del_unlink_exists_touch() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (&["MSET", "a", "1", "b", "2", "c", "3"], ok()),
            (&["EXISTS", "a", "a", "nokey"], int(2)),
            (&["TOUCH", "a", "b", "nokey", "a"], int(3)),
            (&["DEL", "a", "a", "nokey"], int(1)),
            (&["UNLINK", "b", "c"], int(2)),
            (&["UNLINK", "nokey"], int(0)),
            (&["EXISTS", "a", "b", "c"], int(0)),
            (
                &["DEL"],
                err("ERR wrong number of arguments for 'del' command"),
            ),
            (
                &["EXISTS"],
                err("ERR wrong number of arguments for 'exists' command"),
            ),
        ],
    );
}

#[test]
fn del_counts_dirty() {
    let (e, mut s) = setup();
    run(&e, &mut s, &["MSET", "a", "1", "b", "2"]);
    let before = e.lock().dirty;
    assert_eq!(run(&e, &mut s, &["DEL", "a", "b", "x"]), int(2));
    assert_eq!(e.lock().dirty, before + 2);
}

#[test]
fn expire_options_and_errors() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (&["SET", "k", "v"], ok()),
            (
                &["EXPIRE", "k", "10", "foo"],
                err("ERR Unsupported option foo"),
            ),
            (&["EXPIRE", "k", "abc"], err(NOT_INT)),
            (
                &["EXPIRE", "k", "10", "nx", "xx"],
                err("ERR NX and XX, GT or LT options at the same time are not compatible"),
            ),
            (
                &["EXPIRE", "k", "10", "nx", "gt"],
                err("ERR NX and XX, GT or LT options at the same time are not compatible"),
            ),
            (
                &["EXPIRE", "k", "10", "gt", "lt"],
                err("ERR GT and LT options at the same time are not compatible"),
            ),
            (
                &["EXPIRE", "k", "9223372036854775807"],
                err("ERR invalid expire time in 'expire' command"),
            ),
            (
                &["EXPIRE", "k", "-9223372036854775808"],
                err("ERR invalid expire time in 'expire' command"),
            ),
            (
                &["PEXPIRE", "k", "9223372036854775807"],
                err("ERR invalid expire time in 'pexpire' command"),
            ),
            (
                &["EXPIREAT", "k", "9223372036854775807"],
                err("ERR invalid expire time in 'expireat' command"),
            ),
            (
                &["EXPIRE", "k"],
                err("ERR wrong number of arguments for 'expire' command"),
            ),
            // No expiry yet: XX and GT refuse, LT and NX accept.
            (&["EXPIRE", "k", "10", "xx"], int(0)),
            (&["EXPIRE", "k", "100", "gt"], int(0)),
            (&["TTL", "k"], int(-1)),
            (&["EXPIRE", "k", "50", "lt"], int(1)),
            (&["TTL", "k"], int(50)),
            (&["EXPIRE", "k", "60", "NX"], int(0)),
            (&["EXPIRE", "k", "60", "XX"], int(1)),
            (&["EXPIRE", "k", "70", "LT"], int(0)),
            (&["EXPIRE", "k", "70", "GT"], int(1)),
            (&["EXPIRE", "k", "70", "GT"], int(0)),
            (&["EXPIRE", "k", "5", "XX", "LT"], int(1)),
            (&["TTL", "k"], int(5)),
            (&["EXPIRE", "nokey", "10"], int(0)),
            (
                &["EXPIRE", "nokey", "10", "foo"],
                err("ERR Unsupported option foo"),
            ),
            // A time in the past deletes the key.
            (&["EXPIRE", "k", "0"], int(1)),
            (&["EXISTS", "k"], int(0)),
            (&["SET", "k", "v"], ok()),
            (&["EXPIRE", "k", "-5"], int(1)),
            (&["EXISTS", "k"], int(0)),
            (&["SET", "k", "v"], ok()),
            (&["PEXPIREAT", "k", "1"], int(1)),
            (&["EXISTS", "k"], int(0)),
        ],
    );
}

#[test]
fn ttl_family_with_fast_forward() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (&["TTL", "nokey"], int(-2)),
            (&["PTTL", "nokey"], int(-2)),
            (&["EXPIRETIME", "nokey"], int(-2)),
            (&["PEXPIRETIME", "nokey"], int(-2)),
            (&["SET", "k", "v"], ok()),
            (&["TTL", "k"], int(-1)),
            (&["PTTL", "k"], int(-1)),
            (&["EXPIRETIME", "k"], int(-1)),
            (&["PEXPIRETIME", "k"], int(-1)),
            (&["PEXPIRE", "k", "10000"], int(1)),
            (&["PTTL", "k"], int(10000)),
        ],
    );
    e.fast_forward(2600);
    assert_eq!(run(&e, &mut s, &["PTTL", "k"]), int(7400));
    // Seconds are rounded: 7.4 s -> 7.
    assert_eq!(run(&e, &mut s, &["TTL", "k"]), int(7));
    e.fast_forward(1100);
    // 6.3 s -> 6; 6.5 s would round up.
    assert_eq!(run(&e, &mut s, &["TTL", "k"]), int(6));
    e.fast_forward(6299);
    assert_eq!(run(&e, &mut s, &["PTTL", "k"]), int(1));
    assert_eq!(run(&e, &mut s, &["GET", "k"]), bulk("v"));
    e.fast_forward(1);
    assert_eq!(run(&e, &mut s, &["GET", "k"]), Reply::Nil);
    assert_eq!(run(&e, &mut s, &["TTL", "k"]), int(-2));

    let at_ms = e.clock.now_ms() + 123_456;
    run(&e, &mut s, &["SET", "k", "v"]);
    assert_eq!(
        run(&e, &mut s, &["PEXPIREAT", "k", &at_ms.to_string()]),
        int(1)
    );
    assert_eq!(run(&e, &mut s, &["PEXPIRETIME", "k"]), int(at_ms as i64));
    assert_eq!(
        run(&e, &mut s, &["EXPIRETIME", "k"]),
        int(((at_ms + 500) / 1000) as i64)
    );
    let at_s = e.clock.now_ms() / 1000 + 100;
    assert_eq!(
        run(&e, &mut s, &["EXPIREAT", "k", &at_s.to_string()]),
        int(1)
    );
    assert_eq!(run(&e, &mut s, &["EXPIRETIME", "k"]), int(at_s as i64));
    assert_eq!(
        run(&e, &mut s, &["PEXPIRETIME", "k"]),
        int(at_s as i64 * 1000)
    );
}

#[test]
fn persist_and_type() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (&["PERSIST", "nokey"], int(0)),
            (&["SET", "k", "v", "EX", "100"], ok()),
            (&["PERSIST", "k"], int(1)),
            (&["PERSIST", "k"], int(0)),
            (&["TTL", "k"], int(-1)),
            (&["TYPE", "k"], status("string")),
            (&["TYPE", "nokey"], status("none")),
        ],
    );
    e.lock().dbs[0].insert_new(b"l", ferrite_store::types::Value::List(Box::default()), 0);
    assert_eq!(run(&e, &mut s, &["TYPE", "l"]), status("list"));
}

#[test]
fn rename_and_renamenx() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (&["RENAME", "nokey", "x"], err("ERR no such key")),
            (&["RENAMENX", "nokey", "x"], err("ERR no such key")),
            (&["SET", "a", "1", "EX", "100"], ok()),
            (&["RENAME", "a", "a"], ok()),
            (&["RENAMENX", "a", "a"], int(0)),
            (&["RENAME", "a", "b"], ok()),
            (&["EXISTS", "a"], int(0)),
            (&["GET", "b"], bulk("1")),
            (&["TTL", "b"], int(100)),
            (&["SET", "c", "3"], ok()),
            (&["RENAMENX", "b", "c"], int(0)),
            (&["RENAME", "b", "c"], ok()),
            (&["GET", "c"], bulk("1")),
            (&["TTL", "c"], int(100)),
            (&["RENAMENX", "c", "d"], int(1)),
            (&["GET", "d"], bulk("1")),
            (
                &["RENAME", "d"],
                err("ERR wrong number of arguments for 'rename' command"),
            ),
        ],
    );
    // An expired source is missing; an expired destination is free.
    run(&e, &mut s, &["SET", "old", "x", "PX", "10"]);
    run(&e, &mut s, &["SET", "live", "y"]);
    e.fast_forward(20);
    assert_eq!(
        run(&e, &mut s, &["RENAME", "old", "z"]),
        err("ERR no such key")
    );
    run(&e, &mut s, &["SET", "gone", "x", "PX", "10"]);
    e.fast_forward(20);
    assert_eq!(run(&e, &mut s, &["RENAMENX", "live", "gone"]), int(1));
    assert_eq!(run(&e, &mut s, &["GET", "gone"]), bulk("y"));
}

#[test]
fn move_between_databases() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (&["SET", "a", "1", "EX", "100"], ok()),
            (
                &["MOVE", "a", "0"],
                err("ERR source and destination objects are the same"),
            ),
            (&["MOVE", "a", "99"], err("ERR DB index is out of range")),
            (&["MOVE", "a", "-1"], err("ERR DB index is out of range")),
            (&["MOVE", "a", "x"], err(NOT_INT)),
            (&["MOVE", "nokey", "1"], int(0)),
            (&["MOVE", "a", "1"], int(1)),
            (&["EXISTS", "a"], int(0)),
            (&["SELECT", "1"], ok()),
            (&["GET", "a"], bulk("1")),
            (&["TTL", "a"], int(100)),
            (&["SELECT", "0"], ok()),
            (&["SET", "a", "2"], ok()),
            (&["MOVE", "a", "1"], int(0)),
            (&["GET", "a"], bulk("2")),
        ],
    );
}

#[test]
fn copy_with_db_and_replace() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (&["SET", "a", "1", "EX", "100"], ok()),
            (
                &["COPY", "a", "a"],
                err("ERR source and destination objects are the same"),
            ),
            (
                &["COPY", "a", "b", "DB", "99"],
                err("ERR DB index is out of range"),
            ),
            (&["COPY", "a", "b", "DB", "x"], err(NOT_INT)),
            (&["COPY", "a", "b", "FOO"], err(SYNTAX)),
            (&["COPY", "a", "b", "DB"], err(SYNTAX)),
            (&["COPY", "nokey", "b"], int(0)),
            (&["COPY", "a", "b"], int(1)),
            (&["TTL", "b"], int(100)),
            (&["COPY", "a", "b"], int(0)),
            (&["SET", "a", "2"], ok()),
            (&["COPY", "a", "b", "REPLACE"], int(1)),
            (&["GET", "b"], bulk("2")),
            (&["TTL", "b"], int(-1)),
            (&["COPY", "a", "a", "DB", "3"], int(1)),
            (&["SELECT", "3"], ok()),
            (&["GET", "a"], bulk("2")),
            (&["SELECT", "0"], ok()),
            (&["APPEND", "a", "x"], int(2)),
            (&["GET", "b"], bulk("2")),
        ],
    );
    // A copied large value is independent of its source.
    let big = "y".repeat(100);
    run(&e, &mut s, &["SET", "big", &big]);
    assert_eq!(run(&e, &mut s, &["COPY", "big", "big2"]), int(1));
    run(&e, &mut s, &["SETRANGE", "big", "0", "Z"]);
    assert_eq!(run(&e, &mut s, &["GETRANGE", "big2", "0", "0"]), bulk("y"));
    assert_eq!(run(&e, &mut s, &["GETRANGE", "big", "0", "0"]), bulk("Z"));
}

#[test]
fn keys_and_dbsize_hide_expired() {
    let (e, mut s) = setup();
    run(
        &e,
        &mut s,
        &[
            "MSET", "user:1", "a", "user:2", "b", "other", "c", "h?llo", "d",
        ],
    );
    run(&e, &mut s, &["SET", "user:3", "x", "PX", "100"]);
    assert_eq!(run(&e, &mut s, &["DBSIZE"]), int(5));
    assert_eq!(
        sorted(run(&e, &mut s, &["KEYS", "user:*"])),
        ["user:1", "user:2", "user:3"]
    );
    e.fast_forward(100);
    assert_eq!(
        sorted(run(&e, &mut s, &["KEYS", "user:*"])),
        ["user:1", "user:2"]
    );
    assert_eq!(
        sorted(run(&e, &mut s, &["KEYS", "*"])),
        ["h?llo", "other", "user:1", "user:2"]
    );
    assert_eq!(sorted(run(&e, &mut s, &["KEYS", "h\\?llo"])), ["h?llo"]);
    assert_eq!(
        sorted(run(&e, &mut s, &["KEYS", "[ou]*"])),
        ["other", "user:1", "user:2"]
    );
    assert_eq!(run(&e, &mut s, &["DBSIZE"]), int(4));
    assert_eq!(e.lock().dbs[0].len(), 4, "DBSIZE reclaims the dead key");
    assert_eq!(
        run(&e, &mut s, &["KEYS"]),
        err("ERR wrong number of arguments for 'keys' command")
    );
    assert_eq!(
        run(&e, &mut s, &["DBSIZE", "x"]),
        err("ERR wrong number of arguments for 'dbsize' command")
    );
}

#[test]
fn randomkey_skips_expired() {
    let (e, mut s) = setup();
    assert_eq!(run(&e, &mut s, &["RANDOMKEY"]), Reply::Nil);
    for i in 0..50 {
        run(&e, &mut s, &["SET", &format!("dead{i}"), "x", "PX", "10"]);
    }
    run(&e, &mut s, &["SET", "alive", "x"]);
    e.fast_forward(10);
    assert_eq!(run(&e, &mut s, &["RANDOMKEY"]), bulk("alive"));
    run(&e, &mut s, &["DEL", "alive"]);
    assert_eq!(run(&e, &mut s, &["RANDOMKEY"]), Reply::Nil);
}

#[test]
fn scan_options_and_errors() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (&["SCAN", "x"], err("ERR invalid cursor")),
            (&["SCAN", " 5"], err("ERR invalid cursor")),
            (&["SCAN", "18446744073709551616"], err("ERR invalid cursor")),
            (&["SCAN", "0", "COUNT", "0"], err(SYNTAX)),
            (&["SCAN", "0", "COUNT", "x"], err(NOT_INT)),
            (&["SCAN", "0", "MATCH"], err(SYNTAX)),
            (&["SCAN", "0", "FOO", "1"], err(SYNTAX)),
            (
                &["SCAN", "0"],
                Reply::Array(vec![bulk("0"), Reply::Array(vec![])]),
            ),
        ],
    );
    run(&e, &mut s, &["MSET", "a1", "x", "a2", "y", "b1", "z"]);
    e.lock().dbs[0].insert_new(
        b"alist",
        ferrite_store::types::Value::List(Box::default()),
        0,
    );
    let all = run(&e, &mut s, &["SCAN", "0", "COUNT", "100"]);
    let Reply::Array(parts) = all else { panic!() };
    assert_eq!(parts[0], bulk("0"));
    assert_eq!(sorted(parts[1].clone()), ["a1", "a2", "alist", "b1"]);
    let Reply::Array(parts) = run(&e, &mut s, &["SCAN", "0", "MATCH", "a*", "COUNT", "100"]) else {
        panic!()
    };
    assert_eq!(sorted(parts[1].clone()), ["a1", "a2", "alist"]);
    let Reply::Array(parts) = run(&e, &mut s, &["SCAN", "0", "TYPE", "string", "COUNT", "100"])
    else {
        panic!()
    };
    assert_eq!(sorted(parts[1].clone()), ["a1", "a2", "b1"]);
    let Reply::Array(parts) = run(
        &e,
        &mut s,
        &["scan", "0", "type", "LIST", "match", "a*", "count", "100"],
    ) else {
        panic!()
    };
    assert_eq!(sorted(parts[1].clone()), ["alist"]);
    let Reply::Array(parts) = run(&e, &mut s, &["SCAN", "0", "TYPE", "nosuchtype"]) else {
        panic!()
    };
    assert_eq!(parts[1], Reply::Array(vec![]));
}

/// Walks a full SCAN with `count`, running `between` after each step.
fn full_scan(
    e: &ferrite_store::Engine,
    s: &mut ferrite_store::Session,
    count: usize,
    mut between: impl FnMut(&ferrite_store::Engine, &mut ferrite_store::Session, usize),
) -> Vec<String> {
    let mut seen = Vec::new();
    let mut cursor = "0".to_string();
    let mut step = 0;
    loop {
        let Reply::Array(parts) = run(e, s, &["SCAN", &cursor, "COUNT", &count.to_string()]) else {
            panic!("scan reply")
        };
        seen.extend(sorted(parts[1].clone()));
        cursor = text(&parts[0]);
        between(e, s, step);
        step += 1;
        if cursor == "0" {
            return seen;
        }
        assert!(step < 100_000, "scan does not terminate");
    }
}

#[test]
fn scan_never_misses_a_key_that_lives_through_it() {
    let (e, mut s) = setup();
    for i in 0..1000 {
        run(&e, &mut s, &["SET", &format!("k{i}"), "v"]);
    }
    // Keys 0..300 with a TTL that runs out mid-scan; deletes and inserts as
    // the scan goes.
    for i in 0..300 {
        run(&e, &mut s, &["PEXPIRE", &format!("k{i}"), "50"]);
    }
    let seen = full_scan(&e, &mut s, 7, |e, s, step| {
        if step == 5 {
            e.fast_forward(50);
        }
        // Delete two odd keys above 300 per step, add one new key.
        for j in 0..2 {
            let n = 301 + 2 * (step * 2 + j);
            run(e, s, &["DEL", &format!("k{n}")]);
        }
        run(e, s, &["SET", &format!("new{step}"), "v"]);
    });
    let seen: HashSet<String> = seen.into_iter().collect();
    // Every key never deleted and never expired (the even keys from 300 up,
    // and odd ones the deletes never reached) was returned.
    let deleted: HashSet<String> = (0..1000)
        .map(|step| 301 + 2 * step)
        .map(|n| format!("k{n}"))
        .collect();
    for i in 300..1000 {
        let k = format!("k{i}");
        if !deleted.contains(&k) {
            assert!(seen.contains(&k), "SCAN missed {k}");
        }
    }
    // Expired keys are never returned once dead (at most those seen in the
    // first steps, before the clock moved).
    let dead_seen = (0..300).filter(|i| seen.contains(&format!("k{i}"))).count();
    assert!(dead_seen <= 6 * 7, "{dead_seen} dead keys returned");
}

#[test]
fn flushdb_flushall() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (&["SET", "a", "1"], ok()),
            (&["SELECT", "2"], ok()),
            (&["SET", "b", "1"], ok()),
            (&["FLUSHDB", "x"], err(SYNTAX)),
            (&["FLUSHDB", "SYNC", "foo"], err(SYNTAX)),
            (&["FLUSHDB", "ASYNC"], ok()),
            (&["DBSIZE"], int(0)),
            (&["SELECT", "0"], ok()),
            (&["DBSIZE"], int(1)),
            (&["SELECT", "2"], ok()),
            (&["SET", "b", "1"], ok()),
            (&["FLUSHALL", "x"], err(SYNTAX)),
            (&["FLUSHALL", "Sync"], ok()),
            (&["DBSIZE"], int(0)),
            (&["SELECT", "0"], ok()),
            (&["DBSIZE"], int(0)),
            (&["FLUSHDB"], ok()),
            (&["FLUSHALL"], ok()),
        ],
    );
    let before = e.lock().dirty;
    run(&e, &mut s, &["FLUSHDB"]);
    assert!(e.lock().dirty > before, "an empty FLUSHDB still propagates");
}

#[test]
fn getkeys_positions_for_keys_family() {
    let (e, mut s) = setup();
    assert_eq!(
        run(&e, &mut s, &["COMMAND", "GETKEYS", "RENAME", "a", "b"]),
        bulks(&["a", "b"])
    );
    assert_eq!(
        run(&e, &mut s, &["COMMAND", "GETKEYS", "DEL", "a", "b", "c"]),
        bulks(&["a", "b", "c"])
    );
    assert_eq!(
        run(
            &e,
            &mut s,
            &["COMMAND", "GETKEYS", "COPY", "a", "b", "REPLACE"]
        ),
        bulks(&["a", "b"])
    ); // Shard channels are not keys (Redis 7.0.15's reply).
    for argv in [
        &["COMMAND", "GETKEYS", "SPUBLISH", "ch", "msg"][..],
        &["COMMAND", "GETKEYS", "SSUBSCRIBE", "a", "b"][..],
    ] {
        assert_eq!(
            run(&e, &mut s, argv),
            Reply::err("ERR The command has no key arguments")
        );
    }
}
