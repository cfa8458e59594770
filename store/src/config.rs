//! Runtime configuration: Redis's parameter names, CONFIG GET/SET.
//!
//! Parameters that change behaviour here are typed fields. Every other Redis
//! parameter (encoding thresholds and the like) is accepted, stored and
//! returned, and changes nothing.

use crate::util::{glob_match, parse_memory};
use std::collections::BTreeMap;

/// Eviction policy (`maxmemory-policy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Policy {
    /// Refuse writes over the limit.
    NoEviction,
    /// Evict any key, least recently used first.
    AllKeysLru,
    /// Evict any key, least frequently used first.
    AllKeysLfu,
    /// Evict any key at random.
    AllKeysRandom,
    /// Evict keys with a TTL, least recently used first.
    VolatileLru,
    /// Evict keys with a TTL, least frequently used first.
    VolatileLfu,
    /// Evict keys with a TTL at random.
    VolatileRandom,
    /// Evict keys with the nearest TTL first.
    VolatileTtl,
}

impl Policy {
    const NAMES: [(Policy, &'static str); 8] = [
        (Policy::NoEviction, "noeviction"),
        (Policy::AllKeysLru, "allkeys-lru"),
        (Policy::AllKeysLfu, "allkeys-lfu"),
        (Policy::AllKeysRandom, "allkeys-random"),
        (Policy::VolatileLru, "volatile-lru"),
        (Policy::VolatileLfu, "volatile-lfu"),
        (Policy::VolatileRandom, "volatile-random"),
        (Policy::VolatileTtl, "volatile-ttl"),
    ];

    /// Parses a policy name.
    pub fn parse(s: &str) -> Option<Policy> {
        Self::NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s))
            .map(|(p, _)| *p)
    }

    /// The policy's name.
    pub fn name(self) -> &'static str {
        Self::NAMES.iter().find(|(p, _)| *p == self).unwrap().1
    }

    /// True for the LFU policies.
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }
}

/// The engine's configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// `maxmemory` in bytes; 0 means no limit.
    pub maxmemory: u64,
    /// `maxmemory-policy`.
    pub policy: Policy,
    /// `maxmemory-samples`.
    pub samples: usize,
    /// `notify-keyspace-events`, as given.
    pub notify: String,
    /// `hz`.
    pub hz: u32,
    /// Every other parameter, by name.
    pub other: BTreeMap<String, String>,
}

/// Defaults of the accepted-but-inert parameters, as Redis 7.0 reports them.
const INERT: &[(&str, &str)] = &[
    ("hash-max-listpack-entries", "128"),
    ("hash-max-listpack-value", "64"),
    ("hash-max-ziplist-entries", "128"),
    ("hash-max-ziplist-value", "64"),
    ("list-max-listpack-size", "-2"),
    ("list-max-ziplist-size", "-2"),
    ("list-compress-depth", "0"),
    ("set-max-intset-entries", "512"),
    ("zset-max-listpack-entries", "128"),
    ("zset-max-listpack-value", "64"),
    ("zset-max-ziplist-entries", "128"),
    ("zset-max-ziplist-value", "64"),
    ("stream-node-max-bytes", "4096"),
    ("stream-node-max-entries", "100"),
    ("activerehashing", "yes"),
    ("lazyfree-lazy-eviction", "no"),
    ("lazyfree-lazy-expire", "no"),
    ("lazyfree-lazy-server-del", "no"),
    ("lazyfree-lazy-user-del", "no"),
    ("lazyfree-lazy-user-flush", "no"),
    ("lfu-log-factor", "10"),
    ("lfu-decay-time", "1"),
    ("maxmemory-eviction-tenacity", "10"),
    ("maxmemory-clients", "0"),
    ("active-expire-effort", "1"),
    ("timeout", "0"),
    ("tcp-keepalive", "300"),
    ("databases", "16"),
    ("save", ""),
    ("appendonly", "no"),
    ("appendfsync", "everysec"),
    ("appendfilename", "appendonly.aof"),
    ("dbfilename", "dump.rdb"),
    ("dir", ""),
    ("auto-aof-rewrite-percentage", "100"),
    ("auto-aof-rewrite-min-size", "67108864"),
    ("lua-time-limit", "5000"),
    ("busy-reply-threshold", "5000"),
    ("slowlog-log-slower-than", "10000"),
    ("slowlog-max-len", "128"),
    ("latency-monitor-threshold", "0"),
    ("proto-max-bulk-len", "536870912"),
    ("client-query-buffer-limit", "1073741824"),
    ("maxclients", "10000"),
    ("requirepass", ""),
    ("port", "0"),
    ("bind", "127.0.0.1"),
    ("protected-mode", "yes"),
    ("loglevel", "notice"),
    ("enable-debug-command", "yes"),
];

impl Default for Config {
    fn default() -> Config {
        Config {
            maxmemory: 0,
            policy: Policy::NoEviction,
            samples: 5,
            notify: String::new(),
            hz: 10,
            other: INERT
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }
}

impl Config {
    /// Every parameter and its current value.
    pub fn all(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = vec![
            ("maxmemory".into(), self.maxmemory.to_string()),
            ("maxmemory-policy".into(), self.policy.name().into()),
            ("maxmemory-samples".into(), self.samples.to_string()),
            ("notify-keyspace-events".into(), self.notify.clone()),
            ("hz".into(), self.hz.to_string()),
        ];
        out.extend(self.other.iter().map(|(k, v)| (k.clone(), v.clone())));
        out
    }

    /// CONFIG GET with one glob pattern (case-insensitive).
    pub fn get(&self, pattern: &[u8]) -> Vec<(String, String)> {
        self.all()
            .into_iter()
            .filter(|(k, _)| glob_match(pattern, k.as_bytes(), true))
            .collect()
    }

    /// True when `name` is a known parameter.
    pub fn knows(&self, name: &str) -> bool {
        matches!(
            name,
            "maxmemory"
                | "maxmemory-policy"
                | "maxmemory-samples"
                | "notify-keyspace-events"
                | "hz"
        ) || self.other.contains_key(name)
    }

    /// CONFIG SET of one parameter. `Err` carries the reason Redis gives after
    /// `ERR CONFIG SET failed (possibly related to argument '<name>') - `.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        match name {
            "maxmemory" => {
                self.maxmemory = parse_memory(value.as_bytes())
                    .ok_or_else(|| "argument must be a memory value".to_string())?
            }
            "maxmemory-policy" => {
                self.policy = Policy::parse(value).ok_or_else(|| "argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction".to_string())?
            }
            "maxmemory-samples" => {
                self.samples = value
                    .parse::<usize>()
                    .ok()
                    .filter(|n| (1..=64).contains(n))
                    .ok_or_else(|| "argument must be between 1 and 64 inclusive".to_string())?
            }
            "notify-keyspace-events" => {
                if !value.chars().all(|c| "KEg$lshzxetmdAn".contains(c)) {
                    return Err("Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".into());
                }
                self.notify = value.to_string();
            }
            "hz" => {
                let hz = value
                    .parse::<i64>()
                    .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
                self.hz = hz.clamp(1, 500) as u32;
            }
            _ => {
                if !self.other.contains_key(name) {
                    return Err("unknown".into());
                }
                self.other.insert(name.to_string(), value.to_string());
            }
        }
        Ok(())
    }
}
