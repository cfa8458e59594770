//! Runtime configuration: Redis 7.0's parameter names, CONFIG GET/SET.
//!
//! Parameters that change behaviour here are typed fields (`maxmemory`,
//! `maxmemory-policy`, `maxmemory-samples`, `notify-keyspace-events`, `hz`,
//! and the active-expiry switch of `DEBUG SET-ACTIVE-EXPIRE`). Every other
//! Redis parameter listed in `PARAMS` (encoding thresholds, persistence and
//! network settings and the like) is validated as Redis validates it,
//! stored, and returned; it changes nothing unless a subsystem reads it with
//! [`Config::get_str`].
//!
//! Invariant: `other` holds exactly one value for every `PARAMS` entry, under
//! the canonical name; aliases (`hash-max-ziplist-entries` for
//! `hash-max-listpack-entries`, ...) resolve to the canonical name first.

use crate::util::{glob_match, parse_i64_strict, parse_memory};
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
        (Policy::VolatileLru, "volatile-lru"),
        (Policy::VolatileLfu, "volatile-lfu"),
        (Policy::VolatileRandom, "volatile-random"),
        (Policy::VolatileTtl, "volatile-ttl"),
        (Policy::AllKeysLru, "allkeys-lru"),
        (Policy::AllKeysLfu, "allkeys-lfu"),
        (Policy::AllKeysRandom, "allkeys-random"),
        (Policy::NoEviction, "noeviction"),
    ];

    /// Parses a policy name (any case).
    pub fn parse(s: &str) -> Option<Policy> {
        Self::NAMES
            .iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(s))
            .map(|(p, _)| *p)
    }

    /// The policy's name.
    pub fn name(self) -> &'static str {
        Self::NAMES
            .iter()
            .find(|(p, _)| *p == self)
            .map(|(_, n)| *n)
            .unwrap_or("noeviction")
    }

    /// True for the LFU policies.
    pub fn is_lfu(self) -> bool {
        matches!(self, Policy::AllKeysLfu | Policy::VolatileLfu)
    }
}

/// How a stored-only parameter's value is validated.
#[derive(Clone, Copy, Debug)]
enum Kind {
    /// `yes` or `no`.
    Bool,
    /// An integer within bounds.
    Int(i64, i64),
    /// A memory size (`100mb`, `1gb`, bytes).
    Mem,
    /// One of the listed words.
    Enum(&'static [&'static str]),
    /// Any string.
    Str,
    /// Pairs of integers (`save`).
    Save,
    /// Cannot be changed at run time.
    Immutable,
}

const IMAX: i64 = i32::MAX as i64;
const IMIN: i64 = i32::MIN as i64;
const LMAX: i64 = i64::MAX;

/// Every stored-only parameter, its Redis 7.0 default and its validation.
const PARAMS: &[(&str, &str, Kind)] = &[
    ("acllog-max-len", "128", Kind::Int(0, LMAX)),
    ("active-defrag-cycle-max", "25", Kind::Int(1, 99)),
    ("active-defrag-cycle-min", "1", Kind::Int(1, 99)),
    ("active-defrag-ignore-bytes", "104857600", Kind::Mem),
    ("active-defrag-max-scan-fields", "1000", Kind::Int(1, LMAX)),
    ("active-defrag-threshold-lower", "10", Kind::Int(0, 1000)),
    ("active-defrag-threshold-upper", "100", Kind::Int(0, 1000)),
    ("active-expire-effort", "1", Kind::Int(1, 10)),
    ("activedefrag", "no", Kind::Bool),
    ("activerehashing", "yes", Kind::Bool),
    ("aof-load-truncated", "yes", Kind::Bool),
    ("aof-rewrite-incremental-fsync", "yes", Kind::Bool),
    ("aof-timestamp-enabled", "no", Kind::Bool),
    ("aof-use-rdb-preamble", "yes", Kind::Bool),
    ("appenddirname", "appendonlydir", Kind::Immutable),
    ("appendfilename", "appendonly.aof", Kind::Immutable),
    (
        "appendfsync",
        "everysec",
        Kind::Enum(&["everysec", "always", "no"]),
    ),
    ("appendonly", "no", Kind::Bool),
    ("auto-aof-rewrite-min-size", "67108864", Kind::Mem),
    ("auto-aof-rewrite-percentage", "100", Kind::Int(0, IMAX)),
    ("bind", "127.0.0.1", Kind::Str),
    ("busy-reply-threshold", "5000", Kind::Int(0, LMAX)),
    (
        "client-output-buffer-limit",
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        Kind::Str,
    ),
    ("client-query-buffer-limit", "1073741824", Kind::Mem),
    ("cluster-enabled", "no", Kind::Immutable),
    ("daemonize", "no", Kind::Immutable),
    ("databases", "16", Kind::Immutable),
    ("dbfilename", "dump.rdb", Kind::Str),
    ("dir", "", Kind::Str),
    ("dynamic-hz", "yes", Kind::Bool),
    ("enable-debug-command", "yes", Kind::Immutable),
    ("hash-max-listpack-entries", "512", Kind::Int(0, LMAX)),
    ("hash-max-listpack-value", "64", Kind::Int(0, LMAX)),
    ("hll-sparse-max-bytes", "3000", Kind::Mem),
    ("io-threads", "1", Kind::Immutable),
    ("jemalloc-bg-thread", "yes", Kind::Bool),
    ("latency-monitor-threshold", "0", Kind::Int(0, LMAX)),
    ("latency-tracking", "yes", Kind::Bool),
    ("latency-tracking-info-percentiles", "50 99 99.9", Kind::Str),
    ("lazyfree-lazy-eviction", "no", Kind::Bool),
    ("lazyfree-lazy-expire", "no", Kind::Bool),
    ("lazyfree-lazy-server-del", "no", Kind::Bool),
    ("lazyfree-lazy-user-del", "no", Kind::Bool),
    ("lazyfree-lazy-user-flush", "no", Kind::Bool),
    ("lfu-decay-time", "1", Kind::Int(0, IMAX)),
    ("lfu-log-factor", "10", Kind::Int(0, IMAX)),
    ("list-compress-depth", "0", Kind::Int(0, IMAX)),
    ("list-max-listpack-size", "-2", Kind::Int(IMIN, IMAX)),
    ("logfile", "", Kind::Immutable),
    (
        "loglevel",
        "notice",
        Kind::Enum(&["debug", "verbose", "notice", "warning"]),
    ),
    ("maxclients", "10000", Kind::Int(1, IMAX)),
    ("maxmemory-clients", "0", Kind::Mem),
    ("maxmemory-eviction-tenacity", "10", Kind::Int(0, 100)),
    ("min-replicas-max-lag", "10", Kind::Int(0, IMAX)),
    ("min-replicas-to-write", "0", Kind::Int(0, IMAX)),
    ("no-appendfsync-on-rewrite", "no", Kind::Bool),
    (
        "oom-score-adj",
        "no",
        Kind::Enum(&["no", "yes", "relative", "absolute"]),
    ),
    ("pidfile", "", Kind::Immutable),
    ("port", "0", Kind::Int(0, 65535)),
    (
        "propagation-error-behavior",
        "ignore",
        Kind::Enum(&["ignore", "panic", "panic-on-replicas"]),
    ),
    ("protected-mode", "yes", Kind::Bool),
    ("proto-max-bulk-len", "536870912", Kind::Mem),
    ("rdb-del-sync-files", "no", Kind::Bool),
    ("rdb-save-incremental-fsync", "yes", Kind::Bool),
    ("rdbchecksum", "yes", Kind::Bool),
    ("rdbcompression", "yes", Kind::Bool),
    ("repl-backlog-size", "1048576", Kind::Mem),
    ("repl-backlog-ttl", "3600", Kind::Int(0, LMAX)),
    ("repl-timeout", "60", Kind::Int(1, IMAX)),
    ("replica-lazy-flush", "no", Kind::Bool),
    ("replica-priority", "100", Kind::Int(0, IMAX)),
    ("replica-read-only", "yes", Kind::Bool),
    ("replica-serve-stale-data", "yes", Kind::Bool),
    ("replicaof", "", Kind::Immutable),
    ("requirepass", "", Kind::Str),
    (
        "sanitize-dump-payload",
        "no",
        Kind::Enum(&["no", "yes", "clients"]),
    ),
    ("save", "", Kind::Save),
    ("set-max-intset-entries", "512", Kind::Int(0, LMAX)),
    ("shutdown-timeout", "10", Kind::Int(0, IMAX)),
    ("slowlog-log-slower-than", "10000", Kind::Int(-1, LMAX)),
    ("slowlog-max-len", "128", Kind::Int(0, LMAX)),
    ("stop-writes-on-bgsave-error", "yes", Kind::Bool),
    ("stream-node-max-bytes", "4096", Kind::Mem),
    ("stream-node-max-entries", "100", Kind::Int(0, LMAX)),
    ("supervised", "no", Kind::Immutable),
    ("tcp-backlog", "511", Kind::Immutable),
    ("tcp-keepalive", "300", Kind::Int(0, IMAX)),
    ("timeout", "0", Kind::Int(0, IMAX)),
    ("tracking-table-max-keys", "1000000", Kind::Int(0, LMAX)),
    ("unixsocket", "", Kind::Immutable),
    ("zset-max-listpack-entries", "128", Kind::Int(0, LMAX)),
    ("zset-max-listpack-value", "64", Kind::Int(0, LMAX)),
];

/// Old names Redis 7.0 still accepts, and the parameter each one stands for.
const ALIASES: &[(&str, &str)] = &[
    ("hash-max-ziplist-entries", "hash-max-listpack-entries"),
    ("hash-max-ziplist-value", "hash-max-listpack-value"),
    ("list-max-ziplist-size", "list-max-listpack-size"),
    ("lua-time-limit", "busy-reply-threshold"),
    ("min-slaves-max-lag", "min-replicas-max-lag"),
    ("min-slaves-to-write", "min-replicas-to-write"),
    ("slave-lazy-flush", "replica-lazy-flush"),
    ("slave-priority", "replica-priority"),
    ("slave-read-only", "replica-read-only"),
    ("slave-serve-stale-data", "replica-serve-stale-data"),
    ("slaveof", "replicaof"),
    ("zset-max-ziplist-entries", "zset-max-listpack-entries"),
    ("zset-max-ziplist-value", "zset-max-listpack-value"),
];

/// Parameters backed by typed fields.
const TYPED: &[&str] = &[
    "hz",
    "maxmemory",
    "maxmemory-policy",
    "maxmemory-samples",
    "notify-keyspace-events",
];

/// The engine's configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// `maxmemory` in bytes; 0 means no limit.
    pub maxmemory: u64,
    /// `maxmemory-policy`.
    pub policy: Policy,
    /// `maxmemory-samples`.
    pub samples: usize,
    /// `notify-keyspace-events`: the enabled classes in Redis's order
    /// (`AKE`, `xE`, `AnKE`). With `A`, an `n` is kept here (its events are
    /// published) but CONFIG GET does not show it, as Redis 7.0 prints it
    /// (see `notify_display`).
    pub notify: String,
    /// `hz` (1..=500).
    pub hz: u32,
    /// Whether the background active-expiry cycle runs
    /// (`DEBUG SET-ACTIVE-EXPIRE`).
    pub active_expire: bool,
    /// Every stored-only parameter, by canonical name.
    pub other: BTreeMap<String, String>,
    /// `zset-max-listpack-entries` and `zset-max-listpack-value`, parsed:
    /// ZADD reads them on every call to a small set. Invariant: equal to
    /// `num` of those two names; `set` refreshes it after any change.
    pub zset_listpack: (usize, usize),
}

impl Default for Config {
    fn default() -> Config {
        Config {
            maxmemory: 0,
            policy: Policy::NoEviction,
            samples: 5,
            notify: String::new(),
            hz: 10,
            active_expire: true,
            other: PARAMS
                .iter()
                .map(|(k, v, _)| (k.to_string(), v.to_string()))
                .collect(),
            zset_listpack: (128, 64),
        }
    }
}

impl Config {
    /// A numeric stored-only parameter, or `default` when it is missing
    /// or not a number.
    pub fn num(&self, name: &str, default: u64) -> u64 {
        self.other
            .get(name)
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }
}

/// Why a CONFIG SET failed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SetError {
    /// No such parameter: `ERR Unknown option or number of arguments for
    /// CONFIG SET - '<name>'`.
    Unknown(String),
    /// A known parameter refused the value or the change:
    /// `ERR CONFIG SET failed (possibly related to argument '<name>') - <why>`.
    Failed(String, String),
}

impl SetError {
    /// Redis's error reply text.
    pub fn message(&self) -> String {
        match self {
            SetError::Unknown(n) => {
                format!("ERR Unknown option or number of arguments for CONFIG SET - '{n}'")
            }
            SetError::Failed(n, why) => {
                format!("ERR CONFIG SET failed (possibly related to argument '{n}') - {why}")
            }
        }
    }
}

/// Event classes of `notify-keyspace-events`, in the order Redis prints them.
const NOTIFY_CLASSES: &str = "g$lshzxetdn";
/// What `A` stands for.
const NOTIFY_ALL: &str = "g$lshzxetd";

/// Normalizes a `notify-keyspace-events` value as Redis does, or `None` when
/// a character is not an event class.
fn normalize_notify(v: &str) -> Option<String> {
    let mut set = std::collections::HashSet::new();
    for c in v.chars() {
        match c {
            'A' => set.extend(NOTIFY_ALL.chars()),
            c if NOTIFY_CLASSES.contains(c) || "KEm".contains(c) => {
                set.insert(c);
            }
            _ => return None,
        }
    }
    let mut out = String::new();
    if NOTIFY_ALL.chars().all(|c| set.contains(&c)) {
        out.push('A');
        if set.contains(&'n') {
            out.push('n');
        }
    } else {
        out.extend(NOTIFY_CLASSES.chars().filter(|c| set.contains(c)));
    }
    out.extend("KEm".chars().filter(|c| set.contains(c)));
    Some(out)
}

/// `notify-keyspace-events` as CONFIG GET shows it: Redis 7.0's
/// `keyspaceEventsFlagsToString` prints `A` for the `g$lshzxetd` classes
/// and then only `K`, `E` and `m`, so an `n` set with `A` is not shown
/// (`nmEA` reads back as `AEm`).
fn notify_display(stored: &str) -> String {
    if stored.starts_with('A') {
        stored.chars().filter(|&c| c != 'n').collect()
    } else {
        stored.to_string()
    }
}

impl Config {
    /// The canonical name of a parameter (lower case, aliases resolved), or
    /// `None` when unknown.
    pub fn canonical(name: &str) -> Option<&'static str> {
        let lower = name.to_ascii_lowercase();
        if let Some(t) = TYPED.iter().find(|t| **t == lower) {
            return Some(t);
        }
        if let Some((_, c)) = ALIASES.iter().find(|(a, _)| *a == lower) {
            return Some(c);
        }
        PARAMS
            .iter()
            .find(|(n, _, _)| *n == lower)
            .map(|(n, _, _)| *n)
    }

    /// The current value of one parameter (canonical name or alias).
    pub fn get_str(&self, name: &str) -> Option<String> {
        let canon = Config::canonical(name)?;
        Some(match canon {
            "maxmemory" => self.maxmemory.to_string(),
            "maxmemory-policy" => self.policy.name().into(),
            "maxmemory-samples" => self.samples.to_string(),
            "notify-keyspace-events" => notify_display(&self.notify),
            "hz" => self.hz.to_string(),
            _ => self.other.get(canon).cloned().unwrap_or_default(),
        })
    }

    /// Every parameter (aliases included) and its current value, by name.
    pub fn all(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = TYPED
            .iter()
            .chain(PARAMS.iter().map(|(n, _, _)| n))
            .chain(ALIASES.iter().map(|(a, _)| a))
            .map(|n| (n.to_string(), self.get_str(n).unwrap_or_default()))
            .collect();
        out.sort();
        out
    }

    /// CONFIG GET with one glob pattern (case-insensitive).
    pub fn get(&self, pattern: &[u8]) -> Vec<(String, String)> {
        self.all()
            .into_iter()
            .filter(|(k, _)| glob_match(pattern, k.as_bytes(), true))
            .collect()
    }

    /// True when `name` is a known parameter (or alias).
    pub fn knows(&self, name: &str) -> bool {
        Config::canonical(name).is_some()
    }

    /// True when keyspace notifications of class `class` (a flag letter
    /// such as `g`, `$`, `x`, `K`, `E`) are enabled.
    pub fn notify_enabled(&self, class: char) -> bool {
        self.notify.contains(class) || (NOTIFY_ALL.contains(class) && self.notify.contains('A'))
    }

    /// CONFIG SET of one parameter. `Err` carries the reason Redis gives after
    /// `ERR CONFIG SET failed (possibly related to argument '<name>') - `, or
    /// `"unknown"` for an unknown parameter.
    pub fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        let Some(canon) = Config::canonical(name) else {
            return Err("unknown".into());
        };
        self.set_canonical(canon, value)
    }

    /// CONFIG SET of several pairs, all or nothing, with Redis 7.0's checks
    /// in its order: unknown names, then immutable and duplicate ones, then
    /// each value in turn (restoring everything if one fails).
    pub fn set_many(&mut self, pairs: &[(&str, &str)]) -> Result<(), SetError> {
        let mut canon = Vec::with_capacity(pairs.len());
        for (name, _) in pairs {
            match Config::canonical(name) {
                Some(c) => canon.push(c),
                None => return Err(SetError::Unknown(name.to_string())),
            }
        }
        for (i, (name, _)) in pairs.iter().enumerate() {
            if Self::is_immutable(canon[i]) {
                return Err(SetError::Failed(
                    name.to_string(),
                    "can't set immutable config".into(),
                ));
            }
            if canon[..i].contains(&canon[i]) {
                return Err(SetError::Failed(
                    name.to_string(),
                    "duplicate parameter".into(),
                ));
            }
        }
        let mut next = self.clone();
        for (i, (name, value)) in pairs.iter().enumerate() {
            next.set_canonical(canon[i], value)
                .map_err(|why| SetError::Failed(name.to_string(), why))?;
        }
        *self = next;
        Ok(())
    }

    fn is_immutable(canon: &str) -> bool {
        PARAMS
            .iter()
            .any(|(n, _, k)| *n == canon && matches!(k, Kind::Immutable))
    }

    fn set_canonical(&mut self, canon: &str, value: &str) -> Result<(), String> {
        match canon {
            "maxmemory" => self.maxmemory = parse_mem(value)?,
            "maxmemory-policy" => {
                self.policy = Policy::parse(value).ok_or_else(|| {
                    "argument(s) must be one of the following: volatile-lru, volatile-lfu, \
                     volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, \
                     noeviction"
                        .to_string()
                })?
            }
            "maxmemory-samples" => self.samples = parse_int(value, 1, IMAX)? as usize,
            "notify-keyspace-events" => {
                self.notify = normalize_notify(value).ok_or_else(|| {
                    "Invalid event class character. Use 'Ag$lshzxeKEtmdn'.".to_string()
                })?
            }
            "hz" => self.hz = parse_int(value, 0, IMAX)?.clamp(1, 500) as u32,
            _ => {
                let kind = PARAMS
                    .iter()
                    .find(|(n, _, _)| *n == canon)
                    .map(|(_, _, k)| *k)
                    .ok_or_else(|| "unknown".to_string())?;
                let stored = match kind {
                    Kind::Bool => {
                        if value.eq_ignore_ascii_case("yes") {
                            "yes".to_string()
                        } else if value.eq_ignore_ascii_case("no") {
                            "no".to_string()
                        } else {
                            return Err("argument must be 'yes' or 'no'".into());
                        }
                    }
                    Kind::Int(lo, hi) => parse_int(value, lo, hi)?.to_string(),
                    Kind::Mem => parse_mem(value)?.to_string(),
                    Kind::Enum(words) => words
                        .iter()
                        .find(|w| w.eq_ignore_ascii_case(value))
                        .map(|w| w.to_string())
                        .ok_or_else(|| {
                            format!(
                                "argument(s) must be one of the following: {}",
                                words.join(", ")
                            )
                        })?,
                    Kind::Str => value.to_string(),
                    Kind::Save => {
                        let parts: Vec<&str> = value.split_whitespace().collect();
                        if !parts.len().is_multiple_of(2)
                            || parts
                                .iter()
                                .any(|p| parse_i64_strict(p.as_bytes()).is_none_or(|n| n < 0))
                        {
                            return Err("Invalid save parameters".into());
                        }
                        parts.join(" ")
                    }
                    Kind::Immutable => return Err("can't set immutable config".into()),
                };
                self.other.insert(canon.to_string(), stored);
                if canon.starts_with("zset-max-listpack") {
                    self.zset_listpack = (
                        self.num("zset-max-listpack-entries", 128) as usize,
                        self.num("zset-max-listpack-value", 64) as usize,
                    );
                }
            }
        }
        Ok(())
    }
}

fn parse_int(value: &str, lo: i64, hi: i64) -> Result<i64, String> {
    let n = parse_i64_strict(value.as_bytes())
        .ok_or_else(|| "argument couldn't be parsed into an integer".to_string())?;
    if n < lo || n > hi {
        return Err(format!("argument must be between {lo} and {hi} inclusive"));
    }
    Ok(n)
}

fn parse_mem(value: &str) -> Result<u64, String> {
    parse_memory(value.as_bytes())
        .filter(|n| *n <= i64::MAX as u64)
        .ok_or_else(|| "argument must be a memory value".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notify_is_normalized() {
        assert_eq!(normalize_notify("KEA").as_deref(), Some("AKE"));
        assert_eq!(normalize_notify("Ex").as_deref(), Some("xE"));
        assert_eq!(normalize_notify("g$lshzxetdKE").as_deref(), Some("AKE"));
        assert_eq!(normalize_notify("q"), None);
        assert_eq!(normalize_notify("").as_deref(), Some(""));
        // redis-server 7.0.15's CONFIG GET after CONFIG SET of each value.
        for (set, shown) in [
            ("nmEA", "AEm"),
            ("KEA", "AKE"),
            ("AKEn", "AKE"),
            ("An", "A"),
            ("nA", "A"),
            ("Kn", "nK"),
            ("gn", "gn"),
            ("$lshzxetdgn", "A"),
            ("g$lshzxetdK", "AK"),
            ("xE", "xE"),
            ("m", "m"),
        ] {
            let mut c = Config::default();
            c.set("notify-keyspace-events", set).unwrap();
            assert_eq!(c.get_str("notify-keyspace-events").unwrap(), shown, "{set}");
        }
        // With `A`, `n` stays enabled though not shown.
        let mut c = Config::default();
        c.set("notify-keyspace-events", "nmEA").unwrap();
        assert!(c.notify_enabled('n') && c.notify_enabled('m'));
    }

    #[test]
    fn aliases_share_a_value() {
        let mut c = Config::default();
        c.set("hash-max-ziplist-entries", "7").unwrap();
        assert_eq!(c.get_str("hash-max-listpack-entries").unwrap(), "7");
        assert!(!c.notify_enabled('E'));
        c.set("notify-keyspace-events", "KA").unwrap();
        assert!(c.notify_enabled('g') && c.notify_enabled('K') && !c.notify_enabled('E'));
    }

    #[test]
    fn every_param_has_a_valid_default() {
        for (name, default, kind) in PARAMS {
            if !matches!(kind, Kind::Immutable) {
                let mut c = Config::default();
                c.set(name, default)
                    .unwrap_or_else(|e| panic!("{name}: {e}"));
            }
        }
    }
}
