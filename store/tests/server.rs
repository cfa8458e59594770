//! Server commands, INFO, CONFIG, COMMAND, OBJECT, MEMORY, DEBUG and the
//! active expiry cycle, with exact replies (checked against redis-server
//! 7.0.15).

mod common;
use common::*;
use ferrite_store::{expire, Reply};

fn info(e: &ferrite_store::Engine, s: &mut ferrite_store::Session, args: &[&str]) -> String {
    let mut argv = vec!["INFO"];
    argv.extend_from_slice(args);
    match run(e, s, &argv) {
        Reply::Verbatim(t) => t,
        r => panic!("INFO replied {r:?}"),
    }
}

fn field(info: &str, name: &str) -> String {
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("no {name} in INFO"))
        .to_string()
}

fn headers(info: &str) -> Vec<&str> {
    info.lines().filter(|l| l.starts_with('#')).collect()
}

#[test]
fn ping_echo_select_time() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (&["PING"], status("PONG")),
            (&["PING", "hi"], bulk("hi")),
            (
                &["PING", "a", "b"],
                err("ERR wrong number of arguments for 'ping' command"),
            ),
            (&["ECHO", "x"], bulk("x")),
            (
                &["ECHO"],
                err("ERR wrong number of arguments for 'echo' command"),
            ),
            (&["SELECT", "16"], err("ERR DB index is out of range")),
            (&["SELECT", "-1"], err("ERR DB index is out of range")),
            (&["SELECT", "x"], err(NOT_INT)),
            (&["SELECT", "15"], ok()),
            (&["SET", "k", "v"], ok()),
            (&["SELECT", "0"], ok()),
            (&["EXISTS", "k"], int(0)),
        ],
    );
    let Reply::Array(t) = run(&e, &mut s, &["TIME"]) else {
        panic!()
    };
    let secs: u64 = text(&t[0]).parse().unwrap();
    let us: u64 = text(&t[1]).parse().unwrap();
    assert!(us < 1_000_000);
    assert!(secs.abs_diff(e.clock.now_ms() / 1000) <= 1);
    e.fast_forward(3_600_000);
    let Reply::Array(t) = run(&e, &mut s, &["TIME"]) else {
        panic!()
    };
    assert!(text(&t[0]).parse::<u64>().unwrap() >= secs + 3600);
}

#[test]
fn swapdb() {
    let (e, mut s) = setup();
    check(
        &e,
        &mut s,
        &[
            (&["SWAPDB", "0", "x"], err("ERR invalid second DB index")),
            (&["SWAPDB", "x", "0"], err("ERR invalid first DB index")),
            (&["SWAPDB", "0", "16"], err("ERR DB index is out of range")),
            (&["SET", "a", "0"], ok()),
            (&["SELECT", "1"], ok()),
            (&["SET", "b", "1"], ok()),
            (&["SWAPDB", "0", "1"], ok()),
            (&["GET", "a"], bulk("0")),
            (&["EXISTS", "b"], int(0)),
            (&["SELECT", "0"], ok()),
            (&["GET", "b"], bulk("1")),
            (&["SWAPDB", "3", "3"], ok()),
        ],
    );
}

#[test]
fn info_sections_and_fields() {
    let (e, mut s) = setup();
    let default = info(&e, &mut s, &[]);
    assert_eq!(
        headers(&default),
        [
            "# Server",
            "# Clients",
            "# Memory",
            "# Persistence",
            "# Stats",
            "# Replication",
            "# CPU",
            "# Modules",
            "# Errorstats",
            "# Cluster",
            "# Keyspace"
        ]
    );
    assert!(
        default.contains("\r\n\r\n# Clients\r\n"),
        "sections separated by a blank line"
    );
    assert!(default.ends_with("\r\n") && !default.ends_with("\r\n\r\n"));
    assert_eq!(headers(&info(&e, &mut s, &["default"])), headers(&default));
    let all = [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# CPU",
        "# Modules",
        "# Commandstats",
        "# Errorstats",
        "# Latencystats",
        "# Cluster",
        "# Keyspace",
    ];
    assert_eq!(headers(&info(&e, &mut s, &["all"])), all);
    assert_eq!(headers(&info(&e, &mut s, &["everything"])), all);
    assert_eq!(
        headers(&info(&e, &mut s, &["keyspace", "SERVER"])),
        ["# Server", "# Keyspace"]
    );
    assert_eq!(info(&e, &mut s, &["foo"]), "");
    let server = info(&e, &mut s, &["server"]);
    assert_eq!(field(&server, "redis_version"), "7.0.15");
    assert_eq!(field(&server, "run_id"), e.run_id);
    assert_eq!(
        field(&info(&e, &mut s, &["clients"]), "blocked_clients"),
        "0"
    );
    assert_eq!(field(&info(&e, &mut s, &["persistence"]), "loading"), "0");
    assert_eq!(
        field(&info(&e, &mut s, &["memory"]), "maxmemory_policy"),
        "noeviction"
    );
}

#[test]
fn info_stats_counters() {
    let (e, mut s) = setup();
    run(&e, &mut s, &["CONFIG", "RESETSTAT"]);
    run(&e, &mut s, &["SET", "a", "1"]);
    run(&e, &mut s, &["GET", "a"]);
    run(&e, &mut s, &["GET", "nokey"]);
    run(&e, &mut s, &["EXISTS", "a"]);
    run(&e, &mut s, &["INCR", "nokey2"]);
    run(&e, &mut s, &["SET", "a", "x"]);
    run(&e, &mut s, &["INCR", "a"]);
    run(&e, &mut s, &["GET"]);
    run(&e, &mut s, &["NOSUCH"]);
    run(&e, &mut s, &["SET", "t", "v", "PX", "5"]);
    e.fast_forward(5);
    run(&e, &mut s, &["GET", "t"]);
    let st = info(&e, &mut s, &["stats"]);
    assert_eq!(field(&st, "keyspace_hits"), "2");
    assert_eq!(field(&st, "keyspace_misses"), "2");
    assert_eq!(field(&st, "expired_keys"), "1");
    assert_eq!(field(&st, "evicted_keys"), "0");
    assert_eq!(field(&st, "total_error_replies"), "3");
    assert_eq!(field(&st, "pubsub_channels"), "0");
    // CONFIG RESETSTAT (counted after it ran), INCR x2, SET x3, GET x3,
    // EXISTS: 10 processed; errors before running are not counted.
    assert_eq!(field(&st, "total_commands_processed"), "10");
    let cs = info(&e, &mut s, &["commandstats"]);
    let get = field(&cs, "cmdstat_get");
    assert!(get.starts_with("calls=3,usec="), "{get}");
    assert!(get.ends_with(",rejected_calls=1,failed_calls=0"), "{get}");
    let usec_per_call = get.split(',').nth(2).unwrap();
    assert!(
        usec_per_call.starts_with("usec_per_call=")
            && usec_per_call.split('.').nth(1).unwrap().len() == 2
    );
    assert!(field(&cs, "cmdstat_incr").ends_with("rejected_calls=0,failed_calls=1"));
    assert_eq!(
        field(&info(&e, &mut s, &["errorstats"]), "errorstat_ERR"),
        "count=3"
    );
    run(&e, &mut s, &["CONFIG", "RESETSTAT"]);
    let st = info(&e, &mut s, &["stats"]);
    assert_eq!(field(&st, "keyspace_hits"), "0");
    assert_eq!(field(&st, "total_error_replies"), "0");
    assert!(!info(&e, &mut s, &["commandstats"]).contains("cmdstat_get:"));
}

#[test]
fn info_keyspace() {
    let (e, mut s) = setup();
    assert_eq!(info(&e, &mut s, &["keyspace"]), "# Keyspace\r\n");
    run(&e, &mut s, &["SET", "a", "1"]);
    run(&e, &mut s, &["SET", "b", "1", "PX", "10000"]);
    run(&e, &mut s, &["SET", "c", "1", "PX", "10"]);
    run(&e, &mut s, &["SELECT", "3"]);
    run(&e, &mut s, &["SET", "z", "1"]);
    e.fast_forward(10);
    assert_eq!(
        info(&e, &mut s, &["keyspace"]),
        "# Keyspace\r\ndb0:keys=2,expires=1,avg_ttl=9990\r\ndb3:keys=1,expires=0,avg_ttl=0\r\n"
    );
}

#[test]
fn config_get_set() {
    let (e, mut s) = setup();
    check(&e, &mut s, &[
        (&["CONFIG"], err("ERR wrong number of arguments for 'config' command")),
        (&["CONFIG", "GET"], err("ERR wrong number of arguments for 'config|get' command")),
        (&["CONFIG", "foo"], err("ERR unknown subcommand 'foo'. Try CONFIG HELP.")),
        (&["CONFIG", "SET", "maxmemory"], err("ERR wrong number of arguments for 'config|set' command")),
        (&["CONFIG", "SET", "maxmemory", "1", "hz"], err(SYNTAX)),
        (&["CONFIG", "SET", "foo", "1"], err("ERR Unknown option or number of arguments for CONFIG SET - 'foo'")),
        (&["CONFIG", "SET", "maxmemory", "abc"], err("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value")),
        (&["CONFIG", "SET", "databases", "3"], err("ERR CONFIG SET failed (possibly related to argument 'databases') - can't set immutable config")),
        (&["CONFIG", "SET", "maxmemory", "10mb", "maxmemory", "20mb"], err("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - duplicate parameter")),
        (&["CONFIG", "SET", "hz", "5", "maxmemory-samples", "0"], err("ERR CONFIG SET failed (possibly related to argument 'maxmemory-samples') - argument must be between 1 and 2147483647 inclusive")),
        (&["CONFIG", "GET", "hz"], Reply::Map(vec![(bulk("hz"), bulk("10"))])),
        (&["CONFIG", "SET", "activerehashing", "maybe"], err("ERR CONFIG SET failed (possibly related to argument 'activerehashing') - argument must be 'yes' or 'no'")),
        (&["CONFIG", "SET", "hash-max-listpack-entries", "x"], err("ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-entries') - argument couldn't be parsed into an integer")),
        (&["CONFIG", "SET", "hash-max-listpack-entries", "-1"], err("ERR CONFIG SET failed (possibly related to argument 'hash-max-listpack-entries') - argument must be between 0 and 9223372036854775807 inclusive")),
        (&["CONFIG", "SET", "hz", "-1"], err("ERR CONFIG SET failed (possibly related to argument 'hz') - argument must be between 0 and 2147483647 inclusive")),
        (&["CONFIG", "SET", "maxmemory-policy", "foo"], err("ERR CONFIG SET failed (possibly related to argument 'maxmemory-policy') - argument(s) must be one of the following: volatile-lru, volatile-lfu, volatile-random, volatile-ttl, allkeys-lru, allkeys-lfu, allkeys-random, noeviction")),
        (&["CONFIG", "SET", "appendfsync", "foo"], err("ERR CONFIG SET failed (possibly related to argument 'appendfsync') - argument(s) must be one of the following: everysec, always, no")),
        (&["CONFIG", "SET", "loglevel", "foo"], err("ERR CONFIG SET failed (possibly related to argument 'loglevel') - argument(s) must be one of the following: debug, verbose, notice, warning")),
        (&["CONFIG", "SET", "notify-keyspace-events", "KEAq"], err("ERR CONFIG SET failed (possibly related to argument 'notify-keyspace-events') - Invalid event class character. Use 'Ag$lshzxeKEtmdn'.")),
        (&["CONFIG", "SET", "notify-keyspace-events", "KEA"], ok()),
        (&["CONFIG", "GET", "notify-keyspace-events"], Reply::Map(vec![(bulk("notify-keyspace-events"), bulk("AKE"))])),
        (&["CONFIG", "SET", "notify-keyspace-events", "Ex"], ok()),
        (&["CONFIG", "GET", "notify-keyspace-events"], Reply::Map(vec![(bulk("notify-keyspace-events"), bulk("xE"))])),
        (&["CONFIG", "SET", "hz", "1000"], ok()),
        (&["CONFIG", "GET", "hz"], Reply::Map(vec![(bulk("hz"), bulk("500"))])),
        (&["CONFIG", "SET", "MAXMEMORY", "10mb", "maxmemory-policy", "ALLKEYS-LRU"], ok()),
        (&["CONFIG", "GET", "maxmemory", "maxmemory-policy"], Reply::Map(vec![
            (bulk("maxmemory"), bulk("10485760")),
            (bulk("maxmemory-policy"), bulk("allkeys-lru")),
        ])),
        (&["CONFIG", "SET", "hash-max-ziplist-entries", "7"], ok()),
        (&["CONFIG", "GET", "hash-max-*"], Reply::Map(vec![
            (bulk("hash-max-listpack-entries"), bulk("7")),
            (bulk("hash-max-listpack-value"), bulk("64")),
            (bulk("hash-max-ziplist-entries"), bulk("7")),
            (bulk("hash-max-ziplist-value"), bulk("64")),
        ])),
        (&["CONFIG", "SET", "save", "3600 1"], ok()),
        (&["CONFIG", "GET", "save"], Reply::Map(vec![(bulk("save"), bulk("3600 1"))])),
        (&["CONFIG", "SET", "save", "3600"], err("ERR CONFIG SET failed (possibly related to argument 'save') - Invalid save parameters")),
        (&["CONFIG", "GET", "nomatch*"], Reply::Map(vec![])),
        (&["CONFIG", "RESETSTAT", "x"], err("ERR wrong number of arguments for 'config|resetstat' command")),
        (&["CONFIG", "RESETSTAT"], ok()),
    ]);
    // A failed multi-pair SET changes nothing.
    assert_eq!(
        run(&e, &mut s, &["CONFIG", "SET", "hz", "7", "maxmemory", "bad"]),
        err("ERR CONFIG SET failed (possibly related to argument 'maxmemory') - argument must be a memory value")
    );
    assert_eq!(
        run(&e, &mut s, &["CONFIG", "GET", "hz"]),
        Reply::Map(vec![(bulk("hz"), bulk("500"))])
    );
    let st = e.lock();
    assert_eq!(st.config.maxmemory, 10 << 20);
    assert!(st.config.notify_enabled('x') && !st.config.notify_enabled('g'));
}

#[test]
fn command_introspection() {
    let (e, mut s) = setup();
    let n = ferrite_store::command::count() as i64;
    check(
        &e,
        &mut s,
        &[
            (&["COMMAND", "COUNT"], int(n)),
            (
                &["COMMAND", "GETKEYS", "GET"],
                err("ERR wrong number of arguments for 'command|getkeys' command"),
            ),
            (
                &["COMMAND", "GETKEYS", "PING"],
                err("ERR wrong number of arguments for 'command|getkeys' command"),
            ),
            (
                &["COMMAND", "GETKEYS", "FOO", "a"],
                err("ERR Invalid command specified"),
            ),
            (
                &["COMMAND", "GETKEYS", "PING", "x"],
                err("ERR The command has no key arguments"),
            ),
            (
                &["COMMAND", "GETKEYS", "GET", "a", "b"],
                err("ERR Invalid number of arguments specified for command"),
            ),
            (
                &["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"],
                bulks(&["a", "b"]),
            ),
            (&["COMMAND", "GETKEYS", "SET", "a", "b"], bulks(&["a"])),
            (
                &["COMMAND", "foo"],
                err("ERR unknown subcommand 'foo'. Try COMMAND HELP."),
            ),
        ],
    );
    let Reply::Array(infos) = run(&e, &mut s, &["COMMAND", "INFO", "get", "nosuch"]) else {
        panic!()
    };
    assert_eq!(infos[1], Reply::Nil);
    let Reply::Array(get) = &infos[0] else {
        panic!()
    };
    assert_eq!(get[0], bulk("get"));
    assert_eq!(get[1], int(2));
    assert_eq!(get[2], Reply::Set(vec![status("readonly"), status("fast")]));
    assert_eq!(&get[3..6], &[int(1), int(1), int(1)]);
    assert_eq!(get.len(), 10);
    let Reply::Array(all) = run(&e, &mut s, &["COMMAND"]) else {
        panic!()
    };
    assert_eq!(all.len() as i64, n);
    let list = sorted(run(&e, &mut s, &["COMMAND", "LIST"]));
    assert_eq!(list.len() as i64, n);
    assert!(list.contains(&"getex".to_string()));
    assert_eq!(
        sorted(run(
            &e,
            &mut s,
            &["COMMAND", "LIST", "FILTERBY", "PATTERN", "getr*"]
        )),
        ["getrange"]
    );
    let Reply::Map(docs) = run(&e, &mut s, &["COMMAND", "DOCS", "get"]) else {
        panic!()
    };
    assert_eq!(docs[0].0, bulk("get"));
}

#[test]
fn object_and_memory() {
    let (e, mut s) = setup();
    run(&e, &mut s, &["SET", "n", "123"]);
    run(&e, &mut s, &["SET", "s", "hello"]);
    run(&e, &mut s, &["SET", "r", &"x".repeat(45)]);
    check(&e, &mut s, &[
        (&["OBJECT", "ENCODING", "n"], bulk("int")),
        (&["OBJECT", "ENCODING", "s"], bulk("embstr")),
        (&["OBJECT", "ENCODING", "r"], bulk("raw")),
        (&["OBJECT", "ENCODING", "nokey"], Reply::Nil),
        (&["OBJECT", "REFCOUNT", "n"], int(2147483647)),
        (&["OBJECT", "REFCOUNT", "s"], int(1)),
        (&["OBJECT", "IDLETIME", "s"], int(0)),
        (&["OBJECT", "FREQ", "s"], err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")),
        (&["OBJECT", "foo", "s"], err("ERR unknown subcommand 'foo'. Try OBJECT HELP.")),
        (&["OBJECT", "ENCODING"], err("ERR wrong number of arguments for 'object|encoding' command")),
        (&["OBJECT"], err("ERR wrong number of arguments for 'object' command")),
        (&["CONFIG", "SET", "maxmemory-policy", "allkeys-lfu"], ok()),
        (&["OBJECT", "IDLETIME", "s"], err("ERR An LFU maxmemory policy is selected, idle time not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")),
        (&["CONFIG", "SET", "maxmemory-policy", "noeviction"], ok()),
        (&["MEMORY", "USAGE", "nokey"], Reply::Nil),
        (&["MEMORY", "USAGE", "s", "SAMPLES", "x"], err(NOT_INT)),
        (&["MEMORY", "USAGE", "s", "SAMPLES"], err(SYNTAX)),
        (&["MEMORY", "USAGE", "s", "foo", "1"], err(SYNTAX)),
        (&["MEMORY", "foo"], err("ERR unknown subcommand 'foo'. Try MEMORY HELP.")),
    ]);
    let Reply::Array(h) = run(&e, &mut s, &["OBJECT", "HELP"]) else {
        panic!()
    };
    assert_eq!(
        h[0],
        status("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    );
    assert_eq!(h.last().unwrap(), &status("    Prints this help."));
    e.fast_forward(5000);
    assert_eq!(run(&e, &mut s, &["OBJECT", "IDLETIME", "s"]), int(5));
    run(&e, &mut s, &["TOUCH", "s"]);
    assert_eq!(run(&e, &mut s, &["OBJECT", "IDLETIME", "s"]), int(0));
    let small = run(&e, &mut s, &["MEMORY", "USAGE", "s"]).as_int().unwrap();
    let large = run(&e, &mut s, &["MEMORY", "USAGE", "r", "SAMPLES", "5"])
        .as_int()
        .unwrap();
    assert!(small > 0 && small <= 100, "{small}");
    assert!(large >= small + 45, "{large}");
}

#[test]
fn debug_commands() {
    let (e, mut s) = setup();
    check(&e, &mut s, &[
        (&["DEBUG", "SLEEP", "0"], ok()),
        (&["DEBUG", "SLEEP", "x"], ok()),
        (&["DEBUG", "SET-ACTIVE-EXPIRE", "0"], ok()),
        (&["DEBUG", "foo"], err("ERR unknown subcommand or wrong number of arguments for 'foo'. Try DEBUG HELP.")),
        (&["DEBUG"], err("ERR wrong number of arguments for 'debug' command")),
    ]);
    assert!(!e.lock().config.active_expire);
    run(&e, &mut s, &["DEBUG", "SET-ACTIVE-EXPIRE", "1"]);
    assert!(e.lock().config.active_expire);
    let t = std::time::Instant::now();
    assert_eq!(run(&e, &mut s, &["DEBUG", "SLEEP", "0.05"]), ok());
    assert!(t.elapsed() >= std::time::Duration::from_millis(50));
}

#[test]
fn active_expiry_reclaims_without_access() {
    let (e, mut s) = setup();
    // Only fast_forward moves time here, however slow the machine is.
    e.clock.freeze(true);
    // The background thread must not race the test's counts.
    run(&e, &mut s, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    for i in 0..2000 {
        run(&e, &mut s, &["SET", &format!("dead{i}"), "v", "PX", "100"]);
    }
    for i in 0..500 {
        run(&e, &mut s, &["SET", &format!("live{i}"), "v", "EX", "1000"]);
        run(&e, &mut s, &["SET", &format!("plain{i}"), "v"]);
    }
    run(&e, &mut s, &["SELECT", "5"]);
    for i in 0..300 {
        run(&e, &mut s, &["SET", &format!("dead{i}"), "v", "PX", "100"]);
    }
    // Nothing is due yet: a cycle samples once per database and stops.
    assert_eq!(expire::cycle(&e), 0);
    e.fast_forward(100);
    let mut reclaimed = 0;
    for _ in 0..1000 {
        reclaimed += expire::cycle(&e);
        let st = e.lock();
        if st.dbs[0].len() == 1000 && st.dbs[5].is_empty() {
            break;
        }
    }
    assert_eq!(reclaimed, 2300);
    let st = e.lock();
    assert_eq!(st.dbs[0].len(), 1000, "only live keys remain");
    assert_eq!(st.dbs[0].volatile_len(), 500);
    assert_eq!(st.stats.expired_keys, 2300);
}

#[test]
fn active_expiry_stops_sampling_a_mostly_live_db() {
    let (e, mut s) = setup();
    run(&e, &mut s, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    for i in 0..1000 {
        run(&e, &mut s, &["SET", &format!("live{i}"), "v", "EX", "1000"]);
    }
    run(&e, &mut s, &["SET", "dead", "v", "PX", "1"]);
    e.fast_forward(1);
    // One sample of 20 from 1001 keys: at most 1 expired (5% <= 10%), so a
    // single loop per cycle; the dead key goes eventually.
    let mut cycles = 0;
    while e.lock().dbs[0].len() == 1001 {
        expire::cycle(&e);
        cycles += 1;
        assert!(cycles < 10_000, "dead key never sampled");
    }
    assert_eq!(e.lock().dbs[0].len(), 1000);
}

#[test]
fn fast_commands_are_timed_on_a_sample_with_exact_call_counts() {
    let (e, mut s) = setup();
    run(&e, &mut s, &["SET", "k", "v"]);
    for _ in 0..(ferrite_store::stats::TIMING_SAMPLE * 4) {
        run(&e, &mut s, &["GET", "k"]);
    }
    let st = e.lock();
    let get = st.stats.command("get");
    assert_eq!(get.calls, ferrite_store::stats::TIMING_SAMPLE * 4);
    // Four sampled calls, each weighted: some time was accounted.
    assert!(get.ticks > 0);
    assert_eq!(st.stats.command("set").calls, 1);
}

#[test]
fn plain_set_through_the_fast_path_is_sampled_with_exact_call_counts() {
    let (e, mut s) = setup();
    // A session's first command authenticates it; the fast path then
    // takes every plain SET.
    run(&e, &mut s, &["PING"]);
    let n = ferrite_store::stats::TIMING_SAMPLE * 4;
    for i in 0..n {
        let mut st = e.lock();
        let v = format!("v{i}");
        assert_eq!(e.set_locked(&mut st, &mut s, b"k", v.as_bytes()), Ok(()));
    }
    // The general path (SET with an option) is timed on every call.
    run(&e, &mut s, &["SET", "k2", "v", "NX"]);
    let st = e.lock();
    let set = st.stats.command("set");
    assert_eq!(set.calls, n + 1);
    assert!(set.ticks > 0);
    assert_eq!(st.dbs[0].len(), 2);
}

#[test]
fn the_expiry_cycle_finishes_an_index_resize_left_by_writes() {
    let (e, mut s) = setup();
    // Write until a write leaves the index mid-resize, then stop writing.
    let mut i = 0;
    while !e.lock().dbs[0].resizing() {
        run(&e, &mut s, &["SET", &format!("k{i}"), "v"]);
        i += 1;
        assert!(i < 1_000_000, "the index never grew");
    }
    let mut cycles = 0;
    while e.lock().dbs[0].resizing() {
        expire::cycle(&e);
        cycles += 1;
        assert!(cycles < 1000, "resize never finished");
    }
    // Every key is still there after the drain.
    for k in 0..i {
        assert_eq!(
            run(&e, &mut s, &["EXISTS", &format!("k{k}")]),
            Reply::Int(1)
        );
    }
}
