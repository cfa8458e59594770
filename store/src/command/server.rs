//! Server commands: PING, ECHO, SELECT, SWAPDB, TIME, INFO, CONFIG, COMMAND,
//! OBJECT, MEMORY and DEBUG.
//!
//! INFO is built from one small function per section; sections that belong
//! to other subsystems call their hooks (`persist::info_lines`,
//! `pubsub::info_lines`, `evict::info_lines`,
//! `blocking::Registry::blocked_clients`), so those
//! subsystems extend INFO without touching this file.

use super::{CommandSpec, Flags};
use crate::cmd;
use crate::config::SetError;
use crate::engine::{Ctx, State, NUM_DBS};
use crate::reply::{errors, Reply};
use crate::types::Value;
use crate::util::{arg_i64, eq_ic};
use std::fmt::Write as _;

const F: Flags = Flags::FAST;
const ADMIN: Flags = Flags::ADMIN.or(Flags::NOSCRIPT).or(Flags::LOADING);

/// The server family's table.
pub const COMMANDS: &[CommandSpec] = &[
    cmd!("ping", -1, F.or(Flags::PUBSUB), 0, 0, 0, ping),
    cmd!("echo", 2, F, 0, 0, 0, echo),
    cmd!("select", 2, F.or(Flags::LOADING), 0, 0, 0, select),
    cmd!("swapdb", 3, Flags::WRITE.or(F), 0, 0, 0, swapdb),
    cmd!(
        "time",
        1,
        F.or(Flags::RANDOM).or(Flags::LOADING),
        0,
        0,
        0,
        time
    ),
    cmd!(
        "info",
        -1,
        Flags::SLOW.or(Flags::RANDOM).or(Flags::LOADING),
        0,
        0,
        0,
        info
    ),
    cmd!("config", -2, ADMIN, 0, 0, 0, config),
    cmd!(
        "command",
        -1,
        Flags::SLOW.or(Flags::RANDOM).or(Flags::LOADING),
        0,
        0,
        0,
        command
    ),
    cmd!("object", -2, Flags::READONLY, 2, 2, 1, object),
    cmd!("memory", -2, Flags::READONLY, 2, 2, 1, memory),
    cmd!("debug", -2, ADMIN, 0, 0, 0, debug),
];

/// `ERR wrong number of arguments for '<cmd>|<sub>' command`.
fn sub_arity_err(cmd: &str, sub: &[u8]) -> Reply {
    Reply::err(format!(
        "ERR wrong number of arguments for '{cmd}|{}' command",
        String::from_utf8_lossy(sub).to_ascii_lowercase()
    ))
}

/// `ERR unknown subcommand '<sub>'. Try <CMD> HELP.`
fn unknown_sub(cmd: &str, sub: &[u8]) -> Reply {
    Reply::err(format!(
        "ERR unknown subcommand '{}'. Try {} HELP.",
        String::from_utf8_lossy(sub),
        cmd.to_ascii_uppercase()
    ))
}

/// A HELP reply: the header line, the given lines, and the HELP entry.
fn help(cmd: &str, lines: &[&str]) -> Reply {
    let mut out = vec![Reply::status(&format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        cmd.to_ascii_uppercase()
    ))];
    out.extend(lines.iter().map(|l| Reply::status(l)));
    out.push(Reply::status("HELP"));
    out.push(Reply::status("    Prints this help."));
    Reply::Array(out)
}

/// Parses a database index as Redis's `getIntFromObjectOrReply` with a
/// custom message, then checks the range.
fn db_index(arg: &[u8], bad: &str) -> Result<usize, Reply> {
    let n = crate::util::parse_i64_strict(arg)
        .filter(|n| *n >= i32::MIN as i64 && *n <= i32::MAX as i64)
        .ok_or_else(|| Reply::err(bad.to_string()))?;
    if n < 0 || n >= NUM_DBS as i64 {
        return Err(Reply::err(errors::DB_INDEX));
    }
    Ok(n as usize)
}

fn ping(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    if argv.len() > 2 {
        return Reply::err("ERR wrong number of arguments for 'ping' command");
    }
    if crate::pubsub::resp2_subscribed(ctx.session) {
        // A RESP2 client in subscribe mode gets `["pong", message or ""]`.
        let msg: &[u8] = argv.get(1).copied().unwrap_or_default();
        return Reply::Array(vec![Reply::bulk(b"pong"), Reply::bulk(msg)]);
    }
    match argv.len() {
        1 => Reply::status("PONG"),
        _ => Reply::bulk(argv[1]),
    }
}

fn echo(_ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    Reply::bulk(argv[1])
}

fn select(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    match db_index(argv[1], errors::NOT_INT) {
        Ok(db) => {
            ctx.session.db = db;
            Reply::ok()
        }
        Err(e) => e,
    }
}

fn swapdb(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let a = match db_index(argv[1], "ERR invalid first DB index") {
        Ok(a) => a,
        Err(e) => return e,
    };
    let b = match db_index(argv[2], "ERR invalid second DB index") {
        Ok(b) => b,
        Err(e) => return e,
    };
    if a != b {
        // Watches first, while each database still holds its own keys (as
        // Redis's `touchAllWatchedKeysInDb`, with its expired-key cases).
        crate::tx::touch_swap(ctx.st, a, b, ctx.now);
        ctx.st.dbs.swap(a, b);
        // Clients blocked on a key that now exists may be served.
        crate::blocking::scan_db_for_ready_keys(ctx.st, a);
        crate::blocking::scan_db_for_ready_keys(ctx.st, b);
    }
    ctx.dirty(1);
    Reply::ok()
}

fn time(ctx: &mut Ctx<'_>, _argv: &[&[u8]]) -> Reply {
    let us = ctx.engine.clock.now_us();
    Reply::Array(vec![
        Reply::text((us / 1_000_000).to_string()),
        Reply::text((us % 1_000_000).to_string()),
    ])
}

// ---------------------------------------------------------------- INFO

/// INFO sections in Redis 7.0's output order, and whether `INFO` (default)
/// includes them.
const SECTIONS: &[(&str, bool)] = &[
    ("server", true),
    ("clients", true),
    ("memory", true),
    ("persistence", true),
    ("stats", true),
    ("replication", true),
    ("cpu", true),
    ("modules", true),
    ("commandstats", false),
    ("errorstats", true),
    ("latencystats", false),
    ("cluster", true),
    ("keyspace", true),
];

fn info(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    // A background rewrite that finished shows as finished.
    crate::persist::poll_rewrite(ctx.st);
    // used_memory is the figure eviction compares with maxmemory.
    crate::evict::used_memory(ctx.st, ctx.now);
    let mut wanted = [false; SECTIONS.len()];
    if argv.len() == 1 {
        for (i, (_, default)) in SECTIONS.iter().enumerate() {
            wanted[i] = *default;
        }
    }
    for arg in &argv[1..] {
        let a = String::from_utf8_lossy(arg).to_ascii_lowercase();
        match a.as_str() {
            "default" => SECTIONS
                .iter()
                .enumerate()
                .filter(|(_, (_, d))| *d)
                .for_each(|(i, _)| wanted[i] = true),
            "all" | "everything" => wanted = [true; SECTIONS.len()],
            name => {
                if let Some(i) = SECTIONS.iter().position(|(n, _)| *n == name) {
                    wanted[i] = true;
                }
            }
        }
    }
    let mut out = String::new();
    let mut first = true;
    for (i, (name, _)) in SECTIONS.iter().enumerate() {
        if !wanted[i] {
            continue;
        }
        if !first {
            out.push_str("\r\n");
        }
        first = false;
        info_section(ctx, name, &mut out);
    }
    Reply::Verbatim(out)
}

/// Writes one INFO section, header included.
pub fn info_section(ctx: &mut Ctx<'_>, name: &str, out: &mut String) {
    let title = match name {
        "cpu" => "CPU".to_string(),
        n => {
            let mut t = n.to_string();
            t[..1].make_ascii_uppercase();
            t
        }
    };
    let _ = write!(out, "# {title}\r\n");
    let now = ctx.now;
    if name == "memory" {
        // Refresh the sampled per-key averages eviction also uses (cheap:
        // a bounded sample per database, never a walk over every key).
        crate::evict::used_memory(ctx.st, now);
    }
    let st: &State = ctx.st;
    match name {
        "server" => info_server(ctx, out),
        "clients" => {
            let _ = write!(
                out,
                "connected_clients:{}\r\ncluster_connections:0\r\nmaxclients:{}\r\n\
                 blocked_clients:{}\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n",
                st.clients.len().max(1),
                st.config.get_str("maxclients").unwrap_or_default(),
                st.blocking.blocked_clients()
            );
        }
        "memory" => {
            for (k, v) in crate::evict::info_lines(st) {
                let _ = write!(out, "{k}:{v}\r\n");
            }
        }
        "persistence" => crate::persist::info_lines(st, out),
        "stats" => info_stats(st, out),
        "replication" => {
            let _ = write!(
                out,
                "role:master\r\nconnected_slaves:0\r\nmaster_failover_state:no-failover\r\n\
                 master_replid:{}\r\nmaster_replid2:{}\r\nmaster_repl_offset:0\r\n\
                 second_repl_offset:-1\r\nrepl_backlog_active:0\r\nrepl_backlog_size:{}\r\n\
                 repl_backlog_first_byte_offset:0\r\nrepl_backlog_histlen:0\r\n",
                ctx.engine.run_id,
                "0".repeat(40),
                st.config.get_str("repl-backlog-size").unwrap_or_default()
            );
        }
        "cpu" => {
            let (user, sys) = cpu_times();
            let _ = write!(
                out,
                "used_cpu_sys:{sys:.6}\r\nused_cpu_user:{user:.6}\r\n\
                 used_cpu_sys_children:0.000000\r\nused_cpu_user_children:0.000000\r\n"
            );
        }
        "commandstats" => {
            for (cmd, c) in st.stats.commands() {
                let per = if c.calls == 0 {
                    0.0
                } else {
                    c.usec() as f64 / c.calls as f64
                };
                let _ = write!(
                    out,
                    "cmdstat_{cmd}:calls={},usec={},usec_per_call={per:.2},rejected_calls={},failed_calls={}\r\n",
                    c.calls, c.usec(), c.rejected_calls, c.failed_calls
                );
            }
        }
        "errorstats" => {
            for (code, n) in &st.stats.errors {
                let _ = write!(out, "errorstat_{code}:count={n}\r\n");
            }
        }
        "cluster" => out.push_str("cluster_enabled:0\r\n"),
        "keyspace" => {
            for (i, db) in st.dbs.iter().enumerate() {
                let (mut expired, mut expires, mut ttl_sum) = (0u64, 0u64, 0u64);
                for &p in db.volatile_positions() {
                    let at = db.at(p as usize).expire_at;
                    if at <= now {
                        expired += 1;
                    } else {
                        expires += 1;
                        ttl_sum += at - now;
                    }
                }
                let keys = db.len() as u64 - expired;
                if keys == 0 {
                    continue;
                }
                let avg = ttl_sum.checked_div(expires).unwrap_or(0);
                let _ = write!(out, "db{i}:keys={keys},expires={expires},avg_ttl={avg}\r\n");
            }
        }
        _ => {}
    }
}

fn info_server(ctx: &Ctx<'_>, out: &mut String) {
    let e = ctx.engine;
    let up = e.uptime_secs();
    let _ = write!(
        out,
        "redis_version:7.0.15\r\nredis_git_sha1:00000000\r\nredis_git_dirty:0\r\n\
         redis_build_id:0\r\nredis_mode:standalone\r\nos:{} {}\r\narch_bits:{}\r\n\
         process_id:{}\r\nprocess_supervised:no\r\nrun_id:{}\r\ntcp_port:{}\r\n\
         server_time_usec:{}\r\nuptime_in_seconds:{up}\r\nuptime_in_days:{}\r\n\
         hz:{}\r\nconfigured_hz:{}\r\nlru_clock:{}\r\nexecutable:\r\nconfig_file:\r\n\
         io_threads_active:0\r\n",
        std::env::consts::OS,
        std::env::consts::ARCH,
        usize::BITS,
        std::process::id(),
        e.run_id,
        ctx.st.config.get_str("port").unwrap_or_default(),
        e.clock.now_us(),
        up / 86400,
        ctx.st.config.hz,
        ctx.st.config.hz,
        crate::evict::stamp(ctx.now) & 0xFF_FFFF,
    );
}

fn info_stats(st: &State, out: &mut String) {
    let s = &st.stats;
    let _ = write!(
        out,
        "total_commands_processed:{}\r\ninstantaneous_ops_per_sec:0\r\nrejected_connections:0\r\n\
         expired_keys:{}\r\nexpired_stale_perc:0.00\r\nexpired_time_cap_reached_count:{}\r\n\
         evicted_keys:{}\r\nevicted_clients:0\r\nkeyspace_hits:{}\r\nkeyspace_misses:{}\r\n",
        s.commands,
        s.expired_keys,
        s.expire_time_cap_reached,
        s.evicted_keys,
        s.keyspace_hits,
        s.keyspace_misses
    );
    crate::pubsub::info_lines(st, out);
    let _ = write!(
        out,
        "unexpected_error_replies:0\r\ntotal_error_replies:{}\r\n",
        s.error_replies
    );
}

/// User and system CPU seconds of this process (Linux `/proc`; zeros
/// elsewhere).
fn cpu_times() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // Fields after the parenthesised command name; utime and stime are the
    // 14th and 15th fields overall, in clock ticks (100 per second).
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) / 100.0;
    (tick(11), tick(12))
}

// ---------------------------------------------------------------- CONFIG

fn config(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let sub = argv[1];
    if eq_ic(sub, "get") {
        if argv.len() < 3 {
            return sub_arity_err("config", sub);
        }
        let mut seen = std::collections::BTreeMap::new();
        for pat in &argv[2..] {
            for (k, v) in ctx.st.config.get(pat) {
                seen.entry(k).or_insert(v);
            }
        }
        Reply::Map(
            seen.into_iter()
                .map(|(k, v)| (Reply::text(k), Reply::text(v)))
                .collect(),
        )
    } else if eq_ic(sub, "set") {
        if argv.len() < 4 {
            return sub_arity_err("config", sub);
        }
        if !argv.len().is_multiple_of(2) {
            return Reply::err(errors::SYNTAX);
        }
        let owned: Vec<(String, String)> = argv[2..]
            .chunks(2)
            .map(|kv| {
                (
                    String::from_utf8_lossy(kv[0]).into_owned(),
                    String::from_utf8_lossy(kv[1]).into_owned(),
                )
            })
            .collect();
        let pairs: Vec<(&str, &str)> = owned
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        match ctx.st.config.set_many(&pairs) {
            Ok(()) => Reply::ok(),
            Err(e @ (SetError::Unknown(_) | SetError::Failed(..))) => Reply::err(e.message()),
        }
    } else if eq_ic(sub, "resetstat") {
        if argv.len() != 2 {
            return sub_arity_err("config", sub);
        }
        ctx.st.stats.reset();
        Reply::ok()
    } else if eq_ic(sub, "rewrite") {
        if argv.len() != 2 {
            return sub_arity_err("config", sub);
        }
        Reply::err("ERR The server is running without a config file")
    } else if eq_ic(sub, "help") {
        help(
            "config",
            &[
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
                "REWRITE",
                "    Rewrite the configuration file.",
            ],
        )
    } else {
        unknown_sub("config", sub)
    }
}

// ---------------------------------------------------------------- COMMAND

/// COMMAND INFO's entry for one command.
fn command_info(spec: &CommandSpec) -> Reply {
    let mut cats = Vec::new();
    if spec.flags.contains(Flags::WRITE) {
        cats.push("@write");
    }
    if spec.flags.contains(Flags::READONLY) {
        cats.push("@read");
    }
    cats.push(if spec.flags.contains(Flags::FAST) {
        "@fast"
    } else {
        "@slow"
    });
    if spec.flags.contains(Flags::ADMIN) {
        cats.push("@admin");
        cats.push("@dangerous");
    }
    if spec.flags.contains(Flags::BLOCKING) {
        cats.push("@blocking");
    }
    Reply::Array(vec![
        Reply::text(spec.name),
        Reply::Int(spec.arity as i64),
        Reply::Set(spec.flags.names().into_iter().map(Reply::status).collect()),
        Reply::Int(spec.first_key as i64),
        Reply::Int(spec.last_key as i64),
        Reply::Int(spec.step as i64),
        Reply::Set(cats.into_iter().map(Reply::status).collect()),
        Reply::Set(vec![]),
        Reply::Array(vec![]),
        Reply::Array(vec![]),
    ])
}

/// Commands whose key positions hold shard channels, not keys.
const SHARD_CHANNEL_COMMANDS: &[&str] = &["spublish", "ssubscribe", "sunsubscribe"];

fn command(_ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    if argv.len() == 1 {
        return Reply::Array(super::all().map(command_info).collect());
    }
    let sub = argv[1];
    if eq_ic(sub, "count") {
        if argv.len() != 2 {
            return sub_arity_err("command", sub);
        }
        Reply::Int(super::count() as i64)
    } else if eq_ic(sub, "info") {
        if argv.len() == 2 {
            return Reply::Array(super::all().map(command_info).collect());
        }
        Reply::Array(
            argv[2..]
                .iter()
                .map(|n| super::lookup(n).map(command_info).unwrap_or(Reply::Nil))
                .collect(),
        )
    } else if eq_ic(sub, "list") {
        let mut pattern = None;
        match argv.len() {
            2 => {}
            5 if eq_ic(argv[2], "filterby") && eq_ic(argv[3], "pattern") => pattern = Some(argv[4]),
            5 if eq_ic(argv[2], "filterby") => {}
            _ => return Reply::err(errors::SYNTAX),
        }
        let mut names: Vec<&str> = super::all()
            .map(|s| s.name)
            .filter(|n| pattern.is_none_or(|p| crate::util::glob_match(p, n.as_bytes(), true)))
            .collect();
        names.sort_unstable();
        Reply::bulks(names)
    } else if eq_ic(sub, "docs") {
        let specs: Vec<&CommandSpec> = if argv.len() == 2 {
            super::all().collect()
        } else {
            argv[2..].iter().filter_map(|n| super::lookup(n)).collect()
        };
        Reply::Map(
            specs
                .into_iter()
                .map(|s| {
                    (
                        Reply::text(s.name),
                        Reply::Map(vec![(Reply::text("summary"), Reply::text(""))]),
                    )
                })
                .collect(),
        )
    } else if eq_ic(sub, "getkeys") || eq_ic(sub, "getkeysandflags") {
        // Redis 7.0's arity for these subcommands is -4.
        if argv.len() < 4 {
            return sub_arity_err("command", sub);
        }
        let args = &argv[2..];
        let Some(spec) = super::lookup(args[0]) else {
            return Reply::err("ERR Invalid command specified");
        };
        if !spec.arity_ok(args.len()) {
            return Reply::err("ERR Invalid number of arguments specified for command");
        }
        // Shard channels sit at key positions (so COMMAND INFO matches
        // Redis) but are flagged `not_key` there: GETKEYS reports none.
        let keys = if SHARD_CHANNEL_COMMANDS.contains(&spec.name) {
            Vec::new()
        } else {
            spec.keys(args)
        };
        if keys.is_empty() {
            return Reply::err("ERR The command has no key arguments");
        }
        if eq_ic(sub, "getkeys") {
            Reply::bulks(keys)
        } else {
            let flag = if spec.flags.contains(Flags::WRITE) {
                "RW"
            } else {
                "RO"
            };
            Reply::Array(
                keys.into_iter()
                    .map(|k| {
                        Reply::Array(vec![Reply::bulk(k), Reply::Set(vec![Reply::status(flag)])])
                    })
                    .collect(),
            )
        }
    } else if eq_ic(sub, "help") {
        help(
            "command",
            &[
                "(no subcommand)",
                "    Return details about all Redis commands.",
                "COUNT",
                "    Return the total number of commands in this Redis server.",
                "LIST",
                "    Return a list of all commands in this Redis server.",
                "INFO [<command-name> ...]",
                "    Return details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "DOCS [<command-name> ...]",
                "    Return documentation details about multiple Redis commands.",
                "    If no command names are given, documentation details for all",
                "    commands are returned.",
                "GETKEYS <full-command>",
                "    Return the keys from a full Redis command.",
                "GETKEYSANDFLAGS <full-command>",
                "    Return the keys and the access flags from a full Redis command.",
            ],
        )
    } else {
        unknown_sub("command", sub)
    }
}

// ---------------------------------------------------------------- OBJECT, MEMORY

const LFU_POLICY_NOT_SET: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";
const LFU_POLICY_SET: &str = "ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

/// Redis shares the integers 0..10000 between keys (reported refcount
/// `INT_MAX`) unless an LRU/LFU policy needs per-object access data.
fn is_shared_int(ctx: &Ctx<'_>, v: &Value) -> bool {
    use crate::config::Policy;
    let policy_allows = ctx.st.config.maxmemory == 0
        || matches!(
            ctx.st.config.policy,
            Policy::NoEviction
                | Policy::VolatileTtl
                | Policy::VolatileRandom
                | Policy::AllKeysRandom
        );
    policy_allows
        && v.as_str()
            .and_then(|s| crate::util::parse_i64_strict(s.as_bytes()))
            .is_some_and(|n| (0..10000).contains(&n))
}

fn object(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let sub = argv[1];
    if eq_ic(sub, "help") {
        if argv.len() != 2 {
            return sub_arity_err("object", sub);
        }
        return help(
            "object",
            &[
                "ENCODING <key>",
                "    Return the kind of internal representation used in order to store the value",
                "    associated with a <key>.",
                "FREQ <key>",
                "    Return the access frequency index of the <key>. The returned integer is",
                "    proportional to the logarithm of the recent access frequency of the key.",
                "IDLETIME <key>",
                "    Return the idle time of the <key>, that is the approximated number of",
                "    seconds elapsed since the last access to the key.",
                "REFCOUNT <key>",
                "    Return the number of references of the value associated with the specified",
                "    <key>.",
            ],
        );
    }
    let known = ["encoding", "refcount", "freq", "idletime"];
    if !known.iter().any(|k| eq_ic(sub, k)) {
        return unknown_sub("object", sub);
    }
    if argv.len() != 3 {
        return sub_arity_err("object", sub);
    }
    // OBJECT does not count as an access (Redis's LOOKUP_NOTOUCH|NONOTIFY).
    let Some(pos) = ctx.lookup_notouch_in(ctx.session.db, argv[2]) else {
        return Reply::Nil;
    };
    let now = ctx.now;
    let e = ctx.st.dbs[ctx.session.db].at(pos);
    if eq_ic(sub, "encoding") {
        Reply::text(e.value.encoding())
    } else if eq_ic(sub, "refcount") {
        Reply::Int(if is_shared_int(ctx, &e.value) {
            i32::MAX as i64
        } else {
            1
        })
    } else if eq_ic(sub, "freq") {
        if !ctx.st.config.policy.is_lfu() {
            return Reply::err(LFU_POLICY_NOT_SET);
        }
        Reply::Int(crate::evict::lfu_freq_cfg(e, now, &ctx.st.config) as i64)
    } else {
        if ctx.st.config.policy.is_lfu() {
            return Reply::err(LFU_POLICY_SET);
        }
        Reply::Int(crate::evict::idle_secs(e, now) as i64)
    }
}

/// Bytes one key costs: its share of the table (entry and index slot) plus
/// the key's and value's heap memory.
pub fn key_memory(e: &crate::keyspace::Entry) -> usize {
    std::mem::size_of::<crate::keyspace::Entry>() + 8 + e.key.heap_size() + e.value.heap_size()
}

fn memory(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let sub = argv[1];
    if eq_ic(sub, "usage") {
        if argv.len() < 3 {
            return sub_arity_err("memory", sub);
        }
        let mut i = 3;
        while i < argv.len() {
            if eq_ic(argv[i], "samples") && i + 1 < argv.len() {
                if let Err(e) = arg_i64(argv[i + 1]) {
                    return e;
                }
                i += 2;
            } else {
                return Reply::err(errors::SYNTAX);
            }
        }
        match ctx.lookup_write(argv[2]) {
            Some(pos) => Reply::Int(key_memory(ctx.db().at(pos)) as i64),
            None => Reply::Nil,
        }
    } else if eq_ic(sub, "doctor") {
        Reply::Verbatim(
            "Hi Sam, I can't find any memory issue in your instance. I can only account for what occurs on this base.".into(),
        )
    } else if eq_ic(sub, "purge") {
        Reply::ok()
    } else if eq_ic(sub, "help") {
        help(
            "memory",
            &[
                "DOCTOR",
                "    Return memory problems reports.",
                "MALLOC-STATS",
                "    Return internal statistics report from the memory allocator.",
                "PURGE",
                "    Attempt to purge dirty pages for reclamation by the allocator.",
                "STATS",
                "    Return information about the memory usage of the server.",
                "USAGE <key> [SAMPLES <count>]",
                "    Return memory in bytes used by <key> and its value. Nested values are",
                "    sampled up to <count> times (default: 5, 0 means sample all).",
            ],
        )
    } else {
        unknown_sub("memory", sub)
    }
}

// ---------------------------------------------------------------- DEBUG

/// C's `atof`/`atoi` leniency, as DEBUG uses: the longest numeric prefix,
/// or 0.
fn lenient_f64(b: &[u8]) -> f64 {
    let s = String::from_utf8_lossy(b);
    let s = s.trim_start();
    let end = s
        .char_indices()
        .take_while(|(i, c)| {
            c.is_ascii_digit() || *c == '.' || (*i == 0 && (*c == '-' || *c == '+'))
        })
        .map(|(i, c)| i + c.len_utf8())
        .last()
        .unwrap_or(0);
    s[..end].parse().unwrap_or(0.0)
}

fn debug(ctx: &mut Ctx<'_>, argv: &[&[u8]]) -> Reply {
    let sub = argv[1];
    if eq_ic(sub, "sleep") && argv.len() == 3 {
        // Holds the engine lock, as DEBUG SLEEP blocks a Redis server.
        let secs = lenient_f64(argv[2]);
        if secs > 0.0 && secs.is_finite() {
            std::thread::sleep(std::time::Duration::from_secs_f64(secs));
        }
        Reply::ok()
    } else if eq_ic(sub, "set-active-expire") && argv.len() == 3 {
        ctx.st.config.active_expire = lenient_f64(argv[2]) as i64 != 0;
        Reply::ok()
    } else if eq_ic(sub, "help") {
        help(
            "debug",
            &[
                "SET-ACTIVE-EXPIRE <0|1>",
                "    Setting it to 0 disables expiring keys in background when they are not",
                "    accessed (otherwise the Redis behavior). Setting it to 1 reenables back the",
                "    default.",
                "SLEEP <seconds>",
                "    Stop the server for <seconds>. Decimals allowed.",
            ],
        )
    } else {
        Reply::err(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try DEBUG HELP.",
            String::from_utf8_lossy(sub)
        ))
    }
}
