//! Stream commands: golden replies recorded from redis-server 7.0, id and
//! time dependent behaviour with the engine clock, blocking reads, and
//! property tests of id ordering.

mod golden;

use ferrite_store::types::stream::{Stream, StreamId};
use ferrite_store::types::Sso;
use ferrite_store::{Engine, Reply};
use golden::{blocking_session, exec, fresh, render, served};
use proptest::prelude::*;

#[test]
fn golden_replies() {
    golden::run(include_str!("golden/streams.golden"));
}

fn q(e: &Engine, s: &mut ferrite_store::Session, line: &str) -> String {
    render(&exec(e, s, line), s.resp == 3)
}
