//! Helpers shared by the integration tests: run a command, build replies.
#![allow(dead_code)]

use ferrite_store::{Engine, Reply, Session};
use std::sync::Arc;

/// A fresh engine and a session on it.
pub fn setup() -> (Arc<Engine>, Session) {
    let e = Engine::new();
    let s = e.session();
    (e, s)
}

/// Runs one command given as words.
pub fn run(e: &Engine, s: &mut Session, args: &[&str]) -> Reply {
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    e.execute(s, &argv)
}

/// `+OK`.
pub fn ok() -> Reply {
    Reply::ok()
}

/// A status reply.
pub fn status(t: &str) -> Reply {
    Reply::status(t)
}

/// A bulk reply.
pub fn bulk(t: &str) -> Reply {
    Reply::bulk(t.as_bytes())
}

/// An integer reply.
pub fn int(n: i64) -> Reply {
    Reply::Int(n)
}

/// An error reply.
pub fn err(t: &str) -> Reply {
    Reply::err(t)
}

/// An array of bulk replies.
pub fn bulks(items: &[&str]) -> Reply {
    Reply::Array(items.iter().map(|i| bulk(i)).collect())
}

/// The sorted texts of an array of bulks.
pub fn sorted(r: Reply) -> Vec<String> {
    let Reply::Array(items) = r else {
        panic!("not an array: {r:?}")
    };
    let mut v: Vec<String> = items
        .iter()
        .map(|i| String::from_utf8(i.as_bytes().expect("bulk").to_vec()).unwrap())
        .collect();
    v.sort();
    v
}

/// The text of a bulk, status or verbatim reply.
pub fn text(r: &Reply) -> String {
    String::from_utf8_lossy(r.as_bytes().expect("text reply")).into_owned()
}

/// Asserts each (command, reply) pair in order.
pub fn check(e: &Engine, s: &mut Session, cases: &[(&[&str], Reply)]) {
    for (args, want) in cases {
        assert_eq!(&run(e, s, args), want, "command {args:?}");
    }
}

pub const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const NOT_INT: &str = "ERR value is not an integer or out of range";
pub const SYNTAX: &str = "ERR syntax error";
