//! Counters reported by INFO (stats and commandstats sections).

use std::collections::HashMap;

/// Per-command counters (`INFO commandstats`).
#[derive(Clone, Debug, Default)]
pub struct CommandStats {
    /// Calls.
    pub calls: u64,
    /// Total microseconds.
    pub usec: u64,
    /// Calls rejected before running (OOM and the like).
    pub rejected_calls: u64,
    /// Calls that ran and replied with an error.
    pub failed_calls: u64,
}

/// Engine-wide counters.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Commands processed.
    pub commands: u64,
    /// Keys reclaimed because their TTL passed.
    pub expired_keys: u64,
    /// Keys evicted under `maxmemory`.
    pub evicted_keys: u64,
    /// Successful key lookups.
    pub keyspace_hits: u64,
    /// Failed key lookups.
    pub keyspace_misses: u64,
    /// Error replies sent.
    pub error_replies: u64,
    /// Per-command counters.
    pub per_command: HashMap<&'static str, CommandStats>,
}

impl Stats {
    /// Records one executed command.
    #[inline]
    pub fn record_call(&mut self, name: &'static str, usec: u64, failed: bool) {
        self.commands += 1;
        let c = self.per_command.entry(name).or_default();
        c.calls += 1;
        c.usec += usec;
        if failed {
            c.failed_calls += 1;
            self.error_replies += 1;
        }
    }

    /// Records one command rejected before it ran.
    pub fn record_rejected(&mut self, name: &'static str) {
        self.per_command.entry(name).or_default().rejected_calls += 1;
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&mut self) {
        *self = Stats::default();
    }
}
