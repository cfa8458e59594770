//! Pub/sub: channels, patterns, subscriber sinks and keyspace notifications.

use crate::engine::State;

/// Every channel and pattern subscription of an engine.
#[derive(Default)]
pub struct Hub {}

/// One client's subscriptions.
#[derive(Debug, Default)]
pub struct SessionSubs {}

/// Publishes a keyspace notification (`notify-keyspace-events`).
pub fn notify_keyspace(_st: &mut State, _class: char, _event: &str, _key: &[u8], _db: usize) {}
