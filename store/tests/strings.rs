//! String commands: every command and error path, with exact replies
//! (checked against redis-server 7.0.15).

mod common;
use common::*;
use ferrite_store::Reply;

/// Puts a list at `key` (no list commands in this family): via the keyspace.
fn make_list(e: &ferrite_store::Engine, key: &str) {
    use ferrite_store::types::{list::List, Value};
    let mut st = e.lock();
    let mut l = List::default();
    l.items.push_back("a".into());
    st.dbs[0].insert_new(key.as_bytes(), Value::List(Box::new(l)), 0);
}

#[test]
fn get_set_basics() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (&["GET", "k"], Reply::Nil),
            (&["SET", "k", "v"], ok()),
            (&["get", "k"], bulk("v")),
            (&["SET", "k", "v2", "GET"], bulk("v")),
            (&["SET", "new", "x", "GET"], Reply::Nil),
            (&["SET", "k", "v3", "NX"], Reply::Nil),
            (&["SET", "k", "v3", "NX", "GET"], bulk("v2")),
            (&["SET", "nope", "v", "XX"], Reply::Nil),
            (&["EXISTS", "nope"], int(0)),
            (&["SET", "k", "v4", "XX"], ok()),
            (&["GET", "k"], bulk("v4")),
            (
                &["GET"],
                err("ERR wrong number of arguments for 'get' command"),
            ),
            (
                &["SET", "k"],
                err("ERR wrong number of arguments for 'set' command"),
            ),
        ],
    );
}

#[test]
fn set_option_errors() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (
                &["SET", "k", "v", "EX", "0"],
                err("ERR invalid expire time in 'set' command"),
            ),
            (
                &["SET", "k", "v", "EX", "-1"],
                err("ERR invalid expire time in 'set' command"),
            ),
            (
                &["SET", "k", "v", "PX", "0"],
                err("ERR invalid expire time in 'set' command"),
            ),
            (&["SET", "k", "v", "EX", "x"], err(NOT_INT)),
            (&["SET", "k", "v", "NX", "XX"], err(SYNTAX)),
            (&["SET", "k", "v", "EX", "10", "PX", "10"], err(SYNTAX)),
            (&["SET", "k", "v", "KEEPTTL", "EX", "10"], err(SYNTAX)),
            (&["SET", "k", "v", "EX"], err(SYNTAX)),
            (&["SET", "k", "v", "FOO"], err(SYNTAX)),
            (&["EXISTS", "k"], int(0)),
        ],
    );
}

#[test]
fn set_expiry_options() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (&["SET", "k", "v", "EX", "100"], ok()),
            (&["TTL", "k"], int(100)),
            (&["SET", "k", "v", "KEEPTTL"], ok()),
            (&["TTL", "k"], int(100)),
            (&["SET", "k", "v"], ok()),
            (&["TTL", "k"], int(-1)),
            (&["SET", "k", "v", "PX", "1500"], ok()),
            (&["PTTL", "k"], int(1500)),
            (&["SET", "k", "v", "EXAT", "1"], ok()),
            (&["GET", "k"], Reply::Nil),
        ],
    );
    let at = (e.clock.now_ms() / 1000 + 1000).to_string();
    assert_eq!(run(&e, &mut s, &["SET", "k", "v", "EXAT", &at]), ok());
    assert_eq!(
        run(&e, &mut s, &["EXPIRETIME", "k"]),
        int(at.parse().unwrap())
    );
    let pat = (e.clock.now_ms() + 5000).to_string();
    assert_eq!(run(&e, &mut s, &["SET", "k", "v", "PXAT", &pat]), ok());
    assert_eq!(
        run(&e, &mut s, &["PEXPIRETIME", "k"]),
        int(pat.parse().unwrap())
    );
    e.fast_forward(5000);
    assert_eq!(run(&e, &mut s, &["GET", "k"]), Reply::Nil);
}

#[test]
fn wrongtype_everywhere() {
    let (e, mut s) = setup();
    make_list(&e, "l");
    let wt = err(WRONGTYPE);
    for cmd in [
        &["GET", "l"][..],
        &["SET", "l", "v", "GET"],
        &["GETSET", "l", "x"],
        &["GETDEL", "l"],
        &["GETEX", "l"],
        &["APPEND", "l", "x"],
        &["STRLEN", "l"],
        &["GETRANGE", "l", "0", "1"],
        &["SETRANGE", "l", "0", "x"],
        &["INCR", "l"],
        &["DECR", "l"],
        &["INCRBY", "l", "1"],
        &["DECRBY", "l", "1"],
        &["INCRBYFLOAT", "l", "1"],
        &["INCRBYFLOAT", "l", "x"],
    ] {
        assert_eq!(run(&e, &mut s, cmd), wt, "{cmd:?}");
    }
    assert_eq!(
        run(&e, &mut s, &["MGET", "l", "nokey"]),
        Reply::Array(vec![Reply::Nil, Reply::Nil])
    );
    assert_eq!(run(&e, &mut s, &["SET", "l", "v"]), ok());
    assert_eq!(run(&e, &mut s, &["GET", "l"]), bulk("v"));
}

#[test]
fn setnx_setex_psetex_getset() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (&["SETNX", "k", "a"], int(1)),
            (&["SETNX", "k", "b"], int(0)),
            (&["GET", "k"], bulk("a")),
            (&["SETEX", "k", "10", "v"], ok()),
            (&["TTL", "k"], int(10)),
            (
                &["SETEX", "k", "0", "v"],
                err("ERR invalid expire time in 'setex' command"),
            ),
            (&["SETEX", "k", "x", "v"], err(NOT_INT)),
            (
                &["PSETEX", "k", "-5", "v"],
                err("ERR invalid expire time in 'psetex' command"),
            ),
            (&["PSETEX", "k", "2000", "w"], ok()),
            (&["PTTL", "k"], int(2000)),
            (&["GETSET", "k", "z"], bulk("w")),
            (&["TTL", "k"], int(-1)),
            (&["GETSET", "nokey", "z"], Reply::Nil),
            (&["GET", "nokey"], bulk("z")),
        ],
    );
}

#[test]
fn getdel_getex() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (&["SET", "k", "v"], ok()),
            (&["GETDEL", "k"], bulk("v")),
            (&["GETDEL", "k"], Reply::Nil),
            (&["SET", "k", "v"], ok()),
            (&["GETEX", "k"], bulk("v")),
            (&["GETEX", "k", "EX", "100"], bulk("v")),
            (&["TTL", "k"], int(100)),
            (&["GETEX", "k", "PERSIST"], bulk("v")),
            (&["TTL", "k"], int(-1)),
            (&["GETEX", "k", "PX", "5000"], bulk("v")),
            (&["PTTL", "k"], int(5000)),
            (
                &["GETEX", "k", "EX", "0"],
                err("ERR invalid expire time in 'getex' command"),
            ),
            (&["GETEX", "k", "EX", "x"], err(NOT_INT)),
            (&["GETEX", "nokey", "EX", "x"], Reply::Nil),
            (&["GETEX", "nokey", "FOO"], err(SYNTAX)),
            (&["GETEX", "k", "PERSIST", "EX", "1"], err(SYNTAX)),
            (&["GETEX", "k", "PXAT", "1"], bulk("v")),
            (&["EXISTS", "k"], int(0)),
        ],
    );
}

#[test]
fn mget_mset_msetnx() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (&["MSET", "a", "1", "b", "2"], ok()),
            (
                &["MGET", "a", "b", "c"],
                Reply::Array(vec![bulk("1"), bulk("2"), Reply::Nil]),
            ),
            (
                &["MSET", "a"],
                err("ERR wrong number of arguments for 'mset' command"),
            ),
            (
                &["MSET", "a", "1", "b"],
                err("ERR wrong number of arguments for 'mset' command"),
            ),
            (
                &["MSETNX", "a", "1", "b"],
                err("ERR wrong number of arguments for 'msetnx' command"),
            ),
            (&["MSETNX", "a", "9", "c", "3"], int(0)),
            (&["EXISTS", "c"], int(0)),
            (&["MSETNX", "c", "3", "d", "4"], int(1)),
            (&["MGET", "c", "d"], bulks(&["3", "4"])),
            (
                &["MGET"],
                err("ERR wrong number of arguments for 'mget' command"),
            ),
        ],
    );
}

#[test]
fn append_strlen_getrange_setrange() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (&["APPEND", "k", "Hello"], int(5)),
            (&["APPEND", "k", " World"], int(11)),
            (&["STRLEN", "k"], int(11)),
            (&["STRLEN", "nokey"], int(0)),
            (&["GETRANGE", "k", "0", "4"], bulk("Hello")),
            (&["GETRANGE", "k", "-5", "-1"], bulk("World")),
            (&["GETRANGE", "k", "0", "-1"], bulk("Hello World")),
            (&["GETRANGE", "k", "-1", "-2"], bulk("")),
            (&["GETRANGE", "k", "5", "2"], bulk("")),
            (&["GETRANGE", "k", "0", "100"], bulk("Hello World")),
            (&["GETRANGE", "nokey", "0", "1"], bulk("")),
            (&["GETRANGE", "k", "x", "1"], err(NOT_INT)),
            (&["SUBSTR", "k", "0", "0"], bulk("H")),
            (&["SETRANGE", "k", "6", "Redis"], int(11)),
            (&["GET", "k"], bulk("Hello Redis")),
            (
                &["SETRANGE", "k", "-1", "x"],
                err("ERR offset is out of range"),
            ),
            (
                &["SETRANGE", "k", "536870912", "x"],
                err("ERR string exceeds maximum allowed size (proto-max-bulk-len)"),
            ),
            (&["SETRANGE", "k", "0", ""], int(11)),
            (&["SETRANGE", "nokey", "0", ""], int(0)),
            (&["EXISTS", "nokey"], int(0)),
            (&["SETRANGE", "pad", "3", "x"], int(4)),
            (&["GET", "pad"], Reply::bulk(b"\0\0\0x")),
            (&["SETRANGE", "k", "x", "y"], err(NOT_INT)),
        ],
    );
}

#[test]
fn incr_decr_family() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (&["INCR", "n"], int(1)),
            (&["INCRBY", "n", "10"], int(11)),
            (&["DECR", "n"], int(10)),
            (&["DECRBY", "n", "20"], int(-10)),
            (&["GET", "n"], bulk("-10")),
            (&["SET", "s", "abc"], ok()),
            (&["INCR", "s"], err(NOT_INT)),
            (&["INCRBY", "s", "1"], err(NOT_INT)),
            (&["INCRBY", "n", "x"], err(NOT_INT)),
            (&["SET", "s", " 1"], ok()),
            (&["INCR", "s"], err(NOT_INT)),
            (&["SET", "big", "9223372036854775807"], ok()),
            (
                &["INCR", "big"],
                err("ERR increment or decrement would overflow"),
            ),
            (&["SET", "sm", "-9223372036854775808"], ok()),
            (
                &["DECR", "sm"],
                err("ERR increment or decrement would overflow"),
            ),
            (
                &["DECRBY", "sm", "-9223372036854775808"],
                err("ERR decrement would overflow"),
            ),
            (&["SET", "t", "5", "EX", "100"], ok()),
            (&["INCR", "t"], int(6)),
            (&["TTL", "t"], int(100)),
        ],
    );
}

#[test]
fn incrbyfloat() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (&["INCRBYFLOAT", "f", "10.5"], bulk("10.5")),
            (&["INCRBYFLOAT", "f", "0.1"], bulk("10.6")),
            (&["SET", "f", "5"], ok()),
            (&["INCRBYFLOAT", "f", "1.5"], bulk("6.5")),
            (&["SET", "f", "1.5e3"], ok()),
            (&["INCRBYFLOAT", "f", "1"], bulk("1501")),
            (&["INCRBYFLOAT", "f", "5.0e3"], bulk("6501")),
            (&["INCRBYFLOAT", "f", "-6501"], bulk("0")),
            (
                &["INCRBYFLOAT", "f", "x"],
                err("ERR value is not a valid float"),
            ),
            (
                &["INCRBYFLOAT", "f", "inf"],
                err("ERR increment would produce NaN or Infinity"),
            ),
            (&["SET", "s", "abc"], ok()),
            (
                &["INCRBYFLOAT", "s", "1"],
                err("ERR value is not a valid float"),
            ),
            (&["SET", "s", " 1"], ok()),
            (
                &["INCRBYFLOAT", "s", "1"],
                err("ERR value is not a valid float"),
            ),
        ],
    );
}

#[test]
fn unknown_command_and_empty() {
    let (e, mut s) = setup();
    assert_eq!(
        run(&e, &mut s, &["FOO", "a", "b"]),
        err("ERR unknown command 'FOO', with args beginning with: 'a' 'b' ")
    );
    assert_eq!(
        run(&e, &mut s, &["FOO"]),
        err("ERR unknown command 'FOO', with args beginning with: ")
    );
}

#[test]
fn large_values_round_trip() {
    let (e, mut s) = setup();
    let big = "x".repeat(5000);
    assert_eq!(run(&e, &mut s, &["SET", "k", &big]), ok());
    assert!(
        run(&e, &mut s, &["GET", "k"]) == bulk(&big),
        "GET of a large value"
    );
    assert_eq!(run(&e, &mut s, &["APPEND", "k", "y"]), int(5001));
    assert_eq!(run(&e, &mut s, &["STRLEN", "k"]), int(5001));
    assert_eq!(
        run(&e, &mut s, &["GETRANGE", "k", "4999", "-1"]),
        bulk("xy")
    );
}
