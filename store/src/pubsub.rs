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

/// Writes the pub/sub lines of INFO's stats section, each ending in `\r\n`.
pub fn info_lines(_st: &State, out: &mut String) {
    out.push_str("pubsub_channels:0\r\npubsub_patterns:0\r\npubsubshard_channels:0\r\n");
}
