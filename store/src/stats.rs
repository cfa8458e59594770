//! Counters reported by INFO (stats, commandstats and errorstats sections).
//!
//! Per-command counters live in a vector indexed by the command's dense
//! table slot (`command::slot_of`), so recording a call costs no hashing on
//! the hot path.

use crate::command::{self, CommandSpec};
use crate::reply::Reply;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Instant;

/// A cheap monotonic tick counter for command durations: the CPU's
/// time-stamp counter on x86_64 (a few ns, where a clock read costs 25-50
/// ns), nanoseconds since the first call elsewhere. Convert with
/// `ticks_to_usec`.
#[inline]
pub fn ticks() -> u64 {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: RDTSC has no preconditions on x86_64.
        unsafe { core::arch::x86_64::_rdtsc() }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        static EPOCH: OnceLock<Instant> = OnceLock::new();
        EPOCH.get_or_init(Instant::now).elapsed().as_nanos() as u64
    }
}

/// Ticks per microsecond, measured once per process (a 2 ms calibration
/// against `Instant` on x86_64, the first time durations are reported).
pub fn ticks_per_usec() -> f64 {
    static RATE: OnceLock<f64> = OnceLock::new();
    *RATE.get_or_init(|| {
        if !cfg!(target_arch = "x86_64") {
            return 1000.0;
        }
        let (i0, t0) = (Instant::now(), ticks());
        while i0.elapsed().as_micros() < 2000 {
            std::hint::spin_loop();
        }
        let (us, t1) = (i0.elapsed().as_nanos() as f64 / 1000.0, ticks());
        (t1.wrapping_sub(t0) as f64 / us).max(1e-3)
    })
}

/// A FAST command is timed on one call in `TIMING_SAMPLE` (its 1st, 33rd,
/// 65th... call) and that duration counts `TIMING_SAMPLE` times: two
/// time-stamp reads cost 25-30 ns on a virtual machine, and at one call in
/// 8 they still took 3% of an embedded GET. Every other command is timed
/// on every call. Call counts are always exact; `usec` of a FAST command
/// is an unbiased estimate.
pub const TIMING_SAMPLE: u64 = 32;

/// Converts a tick count to microseconds.
pub fn ticks_to_usec(t: u64) -> u64 {
    (t as f64 / ticks_per_usec()) as u64
}

/// Per-command counters (`INFO commandstats`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CommandStats {
    /// Calls.
    pub calls: u64,
    /// Total run time in `ticks()` units (see `usec`).
    pub ticks: u64,
    /// Calls rejected before running (arity errors, OOM and the like).
    pub rejected_calls: u64,
    /// Calls that ran and replied with an error.
    pub failed_calls: u64,
}

/// Distinct error codes tracked by errorstats before new ones are dropped
/// (Redis's `ERRORSTATS_LIMIT`).
const ERRORSTATS_LIMIT: usize = 128;

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
    /// Active-expiry cycles that stopped at their time budget.
    pub expire_time_cap_reached: u64,
    /// Database where the next active-expiry cycle starts (a cycle cut short
    /// by its time budget resumes where it stopped, as Redis's does).
    pub expire_next_db: usize,
    /// Per-command counters, by table slot (grown on demand).
    pub by_slot: Vec<CommandStats>,
    /// Counters of commands that are not in the table, by name.
    pub by_name: BTreeMap<&'static str, CommandStats>,
    /// Error replies by error code (the first word: `ERR`, `WRONGTYPE`).
    pub errors: BTreeMap<String, u64>,
    /// Recently resolved (spec address, slot) pairs, direct-mapped by
    /// address, so that the hot path skips `command::slot_of`.
    /// Invariant: a non-zero address maps to that spec's slot.
    slot_memo: [(usize, usize); SLOT_MEMO],
}

const SLOT_MEMO: usize = 8;

impl CommandStats {
    /// Total microseconds.
    pub fn usec(&self) -> u64 {
        ticks_to_usec(self.ticks)
    }
}

impl Stats {
    /// The counters of `spec`: the memo hit inline (every command pays
    /// it), the rest out of line.
    #[inline(always)]
    fn entry(&mut self, spec: &'static CommandSpec) -> &mut CommandStats {
        let addr = spec as *const CommandSpec as usize;
        let memo = (addr / std::mem::size_of::<CommandSpec>()) % SLOT_MEMO;
        let (a, slot) = self.slot_memo[memo];
        if a == addr && slot < self.by_slot.len() {
            return &mut self.by_slot[slot];
        }
        self.entry_slow(spec, addr, memo)
    }

    #[cold]
    #[inline(never)]
    fn entry_slow(
        &mut self,
        spec: &'static CommandSpec,
        addr: usize,
        memo: usize,
    ) -> &mut CommandStats {
        match command::slot_of(spec) {
            Some(slot) => {
                if slot >= self.by_slot.len() {
                    self.by_slot
                        .resize(command::count().max(slot + 1), Default::default());
                }
                self.slot_memo[memo] = (addr, slot);
                &mut self.by_slot[slot]
            }
            None => self.by_name.entry(spec.name).or_default(),
        }
    }

    /// The weight of this call's duration in `spec`'s total time: 0 when
    /// this call is not to be timed. A call known to take constant time
    /// (`sampled`: a FAST command, or a plain SET through an embedder's
    /// fast path) is timed once in [`TIMING_SAMPLE`] calls and counts
    /// `TIMING_SAMPLE` times; any other call is timed and counts once.
    /// Pass the measured ticks times the weight to `record`.
    #[inline]
    pub fn timing_weight(&mut self, spec: &'static CommandSpec, sampled: bool) -> u64 {
        if !sampled {
            1
        } else if self.entry(spec).calls.is_multiple_of(TIMING_SAMPLE) {
            TIMING_SAMPLE
        } else {
            0
        }
    }

    /// Records one executed command, its run time in `ticks()` units, and
    /// its reply.
    #[inline]
    pub fn record(&mut self, spec: &'static CommandSpec, ticks: u64, reply: &Reply) {
        self.record_outcome(spec, ticks, reply.error_text());
    }

    /// `record` with the error text, if the command failed, instead of its
    /// reply.
    #[inline]
    pub fn record_outcome(&mut self, spec: &'static CommandSpec, ticks: u64, failed: Option<&str>) {
        self.commands += 1;
        let c = self.entry(spec);
        c.calls += 1;
        c.ticks += ticks;
        if let Some(msg) = failed {
            c.failed_calls += 1;
            self.record_error(msg);
        }
    }

    /// Records one executed command by name (slower than `record`).
    pub fn record_call(&mut self, name: &'static str, usec: u64, failed: bool) {
        let ticks = (usec as f64 * ticks_per_usec()) as u64;
        match command::lookup(name.as_bytes()) {
            Some(spec) => {
                let r = if failed {
                    Reply::err("ERR")
                } else {
                    Reply::Nil
                };
                self.record(spec, ticks, &r)
            }
            None => {
                self.commands += 1;
                let c = self.by_name.entry(name).or_default();
                c.calls += 1;
                c.ticks += ticks;
                if failed {
                    c.failed_calls += 1;
                    self.record_error("ERR");
                }
            }
        }
    }

    /// Records one command rejected before it ran (its error reply is
    /// counted separately with `record_error`).
    pub fn record_rejected_spec(&mut self, spec: &'static CommandSpec) {
        self.entry(spec).rejected_calls += 1;
    }

    /// Records one command rejected before it ran, by name.
    pub fn record_rejected(&mut self, name: &'static str) {
        match command::lookup(name.as_bytes()) {
            Some(spec) => self.record_rejected_spec(spec),
            None => self.by_name.entry(name).or_default().rejected_calls += 1,
        }
    }

    /// Counts one error reply under its code (`total_error_replies`,
    /// errorstats).
    pub fn record_error(&mut self, msg: &str) {
        self.error_replies += 1;
        let code = msg.split(' ').next().unwrap_or("ERR");
        if let Some(n) = self.errors.get_mut(code) {
            *n += 1;
        } else if self.errors.len() < ERRORSTATS_LIMIT {
            self.errors.insert(code.to_string(), 1);
        }
    }

    /// Every command with counters, as (name, counters), by name.
    pub fn commands(&self) -> Vec<(&'static str, CommandStats)> {
        let mut out: Vec<(&'static str, CommandStats)> = self
            .by_slot
            .iter()
            .enumerate()
            .filter(|(_, c)| c.calls > 0 || c.rejected_calls > 0)
            .filter_map(|(i, c)| command::by_slot(i).map(|s| (s.name, c.clone())))
            .collect();
        out.extend(
            self.by_name
                .iter()
                .filter(|(_, c)| c.calls > 0 || c.rejected_calls > 0)
                .map(|(n, c)| (*n, c.clone())),
        );
        out.sort_by_key(|(n, _)| *n);
        out
    }

    /// The counters of one command, by name.
    pub fn command(&self, name: &str) -> CommandStats {
        self.commands()
            .into_iter()
            .find(|(n, _)| *n == name)
            .map(|(_, c)| c)
            .unwrap_or_default()
    }

    /// CONFIG RESETSTAT.
    pub fn reset(&mut self) {
        *self = Stats::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sampled_calls_are_timed_once_per_sample_and_weighted() {
        let get = crate::command::strings::get_spec();
        let mut stats = Stats::default();
        let mut weights = vec![];
        for _ in 0..TIMING_SAMPLE * 3 {
            weights.push(stats.timing_weight(get, true));
            stats.record_outcome(get, 0, None);
        }
        // One timed call in each run of TIMING_SAMPLE, standing for all
        // of them: the weights add up to the call count.
        assert_eq!(weights.iter().filter(|&&w| w != 0).count(), 3);
        assert_eq!(weights.iter().sum::<u64>(), TIMING_SAMPLE * 3);
        assert_eq!(weights[0], TIMING_SAMPLE);
        // An unsampled call is always timed, once.
        assert_eq!(stats.timing_weight(get, false), 1);
    }
}
