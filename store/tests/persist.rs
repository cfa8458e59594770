//! Durability: snapshot, append-only log, recovery, rewrites, lock file.

use ferrite_store::command;
use ferrite_store::engine::{Ctx, Session};
use ferrite_store::persist::{self, AppendFsync, OpenError, PersistOptions};
use ferrite_store::types::Value;
use ferrite_store::{Engine, Reply};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

fn tmpdir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let d = std::env::temp_dir().join(format!(
        "ferrite-persist-{name}-{}-{nanos}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn opts(fsync: AppendFsync) -> PersistOptions {
    PersistOptions {
        appendfsync: fsync,
        ..Default::default()
    }
}

fn open(dir: &Path) -> Arc<Engine> {
    Engine::open(dir, opts(AppendFsync::Always)).expect("open")
}

fn run(e: &Engine, s: &mut Session, args: &[&str]) -> Reply {
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    e.execute(s, &argv)
}

fn get(e: &Engine, s: &mut Session, key: &str) -> Option<Vec<u8>> {
    match run(e, s, &["GET", key]) {
        Reply::Nil => None,
        r => Some(r.as_bytes().expect("bulk").to_vec()),
    }
}

fn segment(dir: &Path) -> PathBuf {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "aof"))
        .collect();
    segs.sort();
    segs.pop().expect("a log segment")
}

fn copy_dir(from: &Path, to: &Path) {
    let _ = std::fs::remove_dir_all(to);
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap() != "LOCK" {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

fn expire_of(e: &Engine, db: usize, key: &str) -> Option<u64> {
    let st = e.lock();
    st.dbs[db]
        .find(key.as_bytes())
        .map(|p| st.dbs[db].at(p).expire_at)
}

#[test]
fn writes_survive_reopen_with_absolute_ttls() {
    let dir = tmpdir("reopen");
    let e = open(&dir);
    let mut s = e.session();
    assert_eq!(run(&e, &mut s, &["SET", "a", "1"]), Reply::ok());
    assert_eq!(
        run(&e, &mut s, &["SET", "t", "x", "EX", "1000"]),
        Reply::ok()
    );
    assert_eq!(run(&e, &mut s, &["INCR", "a"]), Reply::Int(2));
    assert_eq!(run(&e, &mut s, &["APPEND", "a", "z"]), Reply::Int(2));
    s.db = 5;
    assert_eq!(run(&e, &mut s, &["SET", "in5", "five"]), Reply::ok());
    assert_eq!(run(&e, &mut s, &["SETEX", "ttl5", "500", "v"]), Reply::ok());
    let ttl_t = expire_of(&e, 0, "t").unwrap();
    let ttl5 = expire_of(&e, 5, "ttl5").unwrap();
    assert!(ttl_t > 0 && ttl5 > 0);
    e.close();
    drop(e);

    let e = open(&dir);
    let mut s = e.session();
    assert_eq!(get(&e, &mut s, "a").as_deref(), Some(&b"2z"[..]));
    assert_eq!(get(&e, &mut s, "t").as_deref(), Some(&b"x"[..]));
    assert_eq!(get(&e, &mut s, "in5"), None);
    assert_eq!(expire_of(&e, 0, "t"), Some(ttl_t), "absolute TTL kept");
    s.db = 5;
    assert_eq!(get(&e, &mut s, "in5").as_deref(), Some(&b"five"[..]));
    assert_eq!(expire_of(&e, 5, "ttl5"), Some(ttl5));
    e.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn log_records_absolute_expiries_and_deletes() {
    let dir = tmpdir("absolute");
    let e = open(&dir);
    let mut s = e.session();
    run(&e, &mut s, &["SET", "k", "v", "EX", "100"]);
    run(&e, &mut s, &["PSETEX", "p", "100000", "v"]);
    run(&e, &mut s, &["SET", "g", "v"]);
    run(&e, &mut s, &["GETEX", "g", "PX", "5000"]);
    run(&e, &mut s, &["GETEX", "g", "PERSIST"]);
    // An expiry already past deletes the key: logged as DEL.
    run(&e, &mut s, &["SET", "gone", "v", "PXAT", "1"]);
    assert_eq!(get(&e, &mut s, "gone"), None);
    let k_at = expire_of(&e, 0, "k").unwrap();
    let log = String::from_utf8(std::fs::read(segment(&dir)).unwrap()).unwrap();
    assert!(!log.contains("\r\nEX\r\n"), "relative EX logged: {log}");
    assert!(log.contains(&format!(
        "PXAT\r\n${}\r\n{k_at}\r\n",
        k_at.to_string().len()
    )));
    assert!(log.contains("$7\r\nPERSIST\r\n$1\r\ng\r\n"));
    assert!(log.contains("$9\r\nPEXPIREAT\r\n$1\r\ng\r\n"));
    assert!(log.contains("$3\r\nDEL\r\n$4\r\ngone\r\n"));
    assert!(!log.contains("PSETEX") && !log.contains("GETEX"));
    e.close();
    let e = open(&dir);
    assert_eq!(expire_of(&e, 0, "k"), Some(k_at));
    assert_eq!(expire_of(&e, 0, "g"), Some(0));
    assert_eq!(expire_of(&e, 0, "gone"), None);
    e.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn expired_keys_are_logged_as_del_and_replay_does_not_expire() {
    let dir = tmpdir("expired");
    let e = open(&dir);
    let mut s = e.session();
    run(&e, &mut s, &["SET", "short", "v", "PX", "50"]);
    run(&e, &mut s, &["SET", "long", "v", "EX", "100000"]);
    e.fast_forward(1000);
    // Lazy expiry on access: logged as DEL, then SET NX succeeds.
    assert_eq!(run(&e, &mut s, &["SET", "short", "new", "NX"]), Reply::ok());
    let log = String::from_utf8(std::fs::read(segment(&dir)).unwrap()).unwrap();
    let del = log.find("$3\r\nDEL\r\n$5\r\nshort").expect("DEL logged");
    let setnx = log.rfind("$5\r\nshort\r\n$3\r\nnew").unwrap();
    assert!(del < setnx);
    e.close();
    let e = open(&dir);
    let mut s = e.session();
    assert_eq!(get(&e, &mut s, "short").as_deref(), Some(&b"new"[..]));
    assert_eq!(get(&e, &mut s, "long").as_deref(), Some(&b"v"[..]));
    e.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn log_is_accepted_by_redis_check_aof() {
    let dir = tmpdir("checkaof");
    let e = open(&dir);
    let mut s = e.session();
    for i in 0..50 {
        run(&e, &mut s, &["SET", &format!("k{i}"), &"x".repeat(i * 7)]);
        s.db = i % 3;
    }
    run(&e, &mut s, &["SET", "bin", "a\r\nb\0c"]);
    group(&e, &mut s, &[&["SET", "m1", "1"], &["INCR", "m1"]]);
    let seg = segment(&dir);
    e.close();
    match Command::new("redis-check-aof").arg(&seg).output() {
        Ok(out) => {
            let text = String::from_utf8_lossy(&out.stdout);
            assert!(out.status.success(), "redis-check-aof refused: {text}");
            assert!(text.contains("is valid"), "{text}");
        }
        Err(_) => eprintln!("redis-check-aof not installed: skipped"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Runs `cmds` as one group, as EXEC does.
fn group(e: &Engine, s: &mut Session, cmds: &[&[&str]]) {
    let mut st = e.lock();
    let now = e.clock.now_ms();
    let mut ctx = Ctx {
        st: &mut st,
        session: s,
        now,
        engine: e,
    };
    persist::begin_group(&mut ctx);
    for c in cmds {
        let argv: Vec<&[u8]> = c.iter().map(|a| a.as_bytes()).collect();
        let spec = command::lookup(argv[0]).unwrap();
        ctx.call(spec, &argv);
    }
    persist::end_group(&mut ctx);
}

#[test]
fn groups_are_one_record_and_torn_groups_vanish_whole() {
    let dir = tmpdir("group");
    let e = open(&dir);
    let mut s = e.session();
    run(&e, &mut s, &["SET", "before", "1"]);
    let before_len = std::fs::metadata(segment(&dir)).unwrap().len();
    group(
        &e,
        &mut s,
        &[
            &["SET", "a", "1"],
            &["SET", "b", "2", "EX", "100"],
            &["INCR", "a"],
        ],
    );
    // An empty group writes nothing.
    group(&e, &mut s, &[&["GET", "a"]]);
    let seg = segment(&dir);
    let bytes = std::fs::read(&seg).unwrap();
    let text = String::from_utf8_lossy(&bytes[before_len as usize..]).into_owned();
    assert!(text.starts_with("*1\r\n$5\r\nMULTI\r\n"), "{text}");
    assert_eq!(text.matches("#C:").count(), 1, "one record: {text}");
    assert!(text.contains("*1\r\n$4\r\nEXEC\r\n#C:"));
    e.close();

    // Cut anywhere inside the group: none of it is applied.
    let copy = tmpdir("group-copy");
    for cut in [
        before_len + 1,
        before_len + 20,
        bytes.len() as u64 - 14,
        bytes.len() as u64 - 1,
    ] {
        copy_dir(&dir, &copy);
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(segment(&copy))
            .unwrap();
        f.set_len(cut).unwrap();
        let (e, report) = persist::open(&copy, opts(AppendFsync::No)).unwrap();
        let mut s = e.session();
        assert_eq!(report.warnings.len(), 1, "{:?}", report.warnings);
        assert_eq!(get(&e, &mut s, "before").as_deref(), Some(&b"1"[..]));
        assert_eq!(get(&e, &mut s, "a"), None, "cut {cut}");
        assert_eq!(get(&e, &mut s, "b"), None);
        e.close();
    }
    let e = open(&dir);
    let mut s = e.session();
    assert_eq!(get(&e, &mut s, "a").as_deref(), Some(&b"2"[..]));
    assert!(expire_of(&e, 0, "b").unwrap() > 0);
    e.close();
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&copy);
}

/// Writes k0..k{n} with values v0..; returns the log bytes.
fn history(dir: &Path, n: usize) -> Vec<u8> {
    let e = open(dir);
    let mut s = e.session();
    for i in 0..n {
        s.db = i % 2;
        run(&e, &mut s, &["SET", &format!("k{i}"), &format!("v{i}")]);
    }
    e.close();
    std::fs::read(segment(dir)).unwrap()
}

/// The number of leading keys present, checking each has its right value
/// and that no later key exists: panics on anything but a prefix.
fn prefix_len(e: &Engine, n: usize) -> usize {
    let mut s = e.session();
    let mut present = 0;
    for i in 0..n {
        s.db = i % 2;
        if let Some(v) = get(e, &mut s, &format!("k{i}")) {
            assert_eq!(v, format!("v{i}").into_bytes(), "wrong data loaded");
            assert_eq!(present, i, "a gap: not a prefix");
            present += 1;
        }
    }
    present
}

#[test]
fn torn_tail_at_every_offset_of_the_last_record() {
    let dir = tmpdir("torn");
    let n = 6;
    let full = history(&dir, n);
    // The last record starts after the second-to-last annotation.
    let body = &full[..full.len() - 13];
    let last_start = body.windows(3).rposition(|w| w == b"#C:").unwrap() + 13;
    let copy = tmpdir("torn-copy");
    for cut in last_start..full.len() {
        copy_dir(&dir, &copy);
        let seg = segment(&copy);
        std::fs::OpenOptions::new()
            .write(true)
            .open(&seg)
            .unwrap()
            .set_len(cut as u64)
            .unwrap();
        let (e, report) = persist::open(&copy, opts(AppendFsync::No)).expect("torn tail opens");
        assert_eq!(prefix_len(&e, n), n - 1, "cut at {cut}");
        assert_eq!(report.warnings.len(), usize::from(cut > last_start));
        // The writer resumes at the cut: a new write then reads back.
        let mut s = e.session();
        run(&e, &mut s, &["SET", "after", "ok"]);
        e.close();
        assert!(std::fs::metadata(&seg).unwrap().len() as usize > last_start);
        let e = Engine::open(&copy, opts(AppendFsync::No)).expect("reopen after cut");
        let mut s = e.session();
        assert_eq!(get(&e, &mut s, "after").as_deref(), Some(&b"ok"[..]));
        assert_eq!(prefix_len(&e, n), n - 1);
        e.close();
    }
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&copy);
}

#[test]
fn flipped_bytes_in_the_log_never_load_wrong_data() {
    let dir = tmpdir("fliplog");
    let n = 5;
    let full = history(&dir, n);
    let copy = tmpdir("fliplog-copy");
    let (mut refused, mut prefixes) = (0, 0);
    for at in 0..full.len() {
        for mask in [0x01u8, 0x80, 0x20] {
            copy_dir(&dir, &copy);
            let seg = segment(&copy);
            let mut bytes = full.clone();
            bytes[at] ^= mask;
            std::fs::write(&seg, &bytes).unwrap();
            match persist::open(&copy, opts(AppendFsync::No)) {
                Ok((e, _)) => {
                    prefix_len(&e, n);
                    prefixes += 1;
                    e.close();
                }
                Err(OpenError::Corrupt { file, offset, .. }) => {
                    assert_eq!(file, seg);
                    assert!(offset as usize <= full.len());
                    refused += 1;
                }
                Err(other) => panic!("unexpected error {other}"),
            }
        }
    }
    assert!(refused > 0 && prefixes > 0, "{refused} {prefixes}");
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&copy);
}

#[test]
fn damage_in_the_middle_refuses_then_repair_keeps_the_prefix() {
    let dir = tmpdir("repair");
    let n = 8;
    let full = history(&dir, n);
    let seg = segment(&dir);
    // Damage the value of the fourth SET (v3 → w3).
    let at = full.windows(2).position(|w| w == b"v3").unwrap();
    let mut bytes = full.clone();
    bytes[at] = b'w';
    std::fs::write(&seg, &bytes).unwrap();
    match Engine::open(&dir, opts(AppendFsync::No)) {
        Err(OpenError::Corrupt {
            file,
            offset,
            message,
        }) => {
            assert_eq!(file, seg);
            assert!((offset as usize) < at, "offset {offset} names the record");
            assert!(message.contains("checksum"), "{message}");
            let shown = OpenError::Corrupt {
                file: file.clone(),
                offset,
                message,
            }
            .to_string();
            assert!(
                shown.contains(&seg.display().to_string()) && shown.contains(&offset.to_string())
            );
        }
        Err(e) => panic!("unexpected {e}"),
        Ok(_) => panic!("damaged log loaded"),
    }
    let (e, report) = persist::open(
        &dir,
        PersistOptions {
            repair: true,
            ..opts(AppendFsync::No)
        },
    )
    .expect("repair opens");
    assert_eq!(prefix_len(&e, n), 3);
    assert!(
        report.warnings[0].contains("repaired"),
        "{:?}",
        report.warnings
    );
    e.close();
    // Repaired for good.
    let e = Engine::open(&dir, opts(AppendFsync::No)).unwrap();
    assert_eq!(prefix_len(&e, n), 3);
    e.close();
    let _ = std::fs::remove_dir_all(&dir);
}

/// A canonical form of a serialized value: maps and sequences sorted, so
/// two equal values compare equal whatever their hash tables' order.
/// (List order is checked separately, with LRANGE.)
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, Clone)]
enum Canon {
    Nil,
    Bool(bool),
    Int(i128),
    Float(u64),
    Bytes(Vec<u8>),
    Seq(Vec<Canon>),
    Map(Vec<(Canon, Canon)>),
}

impl<'de> serde::Deserialize<'de> for Canon {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Canon, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Canon;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("anything")
            }
            fn visit_unit<E>(self) -> Result<Canon, E> {
                Ok(Canon::Nil)
            }
            fn visit_none<E>(self) -> Result<Canon, E> {
                Ok(Canon::Nil)
            }
            fn visit_some<D2: serde::Deserializer<'de>>(self, d: D2) -> Result<Canon, D2::Error> {
                serde::Deserialize::deserialize(d)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Canon, E> {
                Ok(Canon::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Canon, E> {
                Ok(Canon::Int(v as i128))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Canon, E> {
                Ok(Canon::Int(v as i128))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Canon, E> {
                Ok(Canon::Float(v.to_bits()))
            }
            fn visit_f32<E>(self, v: f32) -> Result<Canon, E> {
                Ok(Canon::Float((v as f64).to_bits()))
            }
            fn visit_str<E>(self, v: &str) -> Result<Canon, E> {
                Ok(Canon::Bytes(v.as_bytes().to_vec()))
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<Canon, E> {
                Ok(Canon::Bytes(v.to_vec()))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Canon, A::Error> {
                let mut out = Vec::new();
                while let Some(x) = a.next_element()? {
                    out.push(x);
                }
                out.sort();
                Ok(Canon::Seq(out))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Canon, A::Error> {
                let mut out = Vec::new();
                while let Some(kv) = a.next_entry()? {
                    out.push(kv);
                }
                out.sort();
                Ok(Canon::Map(out))
            }
        }
        d.deserialize_any(V)
    }
}

fn canon(v: &Value) -> Canon {
    rmp_serde::from_slice(&rmp_serde::to_vec(v).unwrap()).unwrap()
}

/// Commands that build one key of every type that has commands on this
/// branch; types without commands yet get their default value.
fn build_every_type(e: &Engine, s: &mut Session) -> Vec<String> {
    let mut keys = Vec::new();
    let mut try_cmd = |args: Vec<String>| -> bool {
        if command::lookup(args[0].as_bytes()).is_none() {
            return false;
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(e, s, &refs);
        assert!(!r.is_error(), "{args:?}: {r:?}");
        true
    };
    let many = |prefix: &str, n: usize, pairs: bool| -> Vec<String> {
        (0..n)
            .flat_map(|i| {
                let mut v = vec![format!("{prefix}{i}-{}", "x".repeat(i))];
                if pairs {
                    v.push(format!("{}", i as f64 * 1.5 - 7.0));
                }
                v
            })
            .collect()
    };
    let str_cmds: Vec<Vec<String>> = vec![
        vec!["SET".into(), "str-inline".into(), "short".into()],
        vec!["SET".into(), "str-heap".into(), "h".repeat(1000)],
        vec!["SET".into(), "str-int".into(), "12345".into()],
        vec!["SET".into(), "str-empty".into(), "".into()],
    ];
    for c in str_cmds {
        keys.push(c[1].clone());
        assert!(try_cmd(c));
    }
    let mut coll = |name: &str, cmd: &str, args: Vec<String>| {
        let mut c = vec![cmd.to_string(), name.to_string()];
        c.extend(args);
        if try_cmd(c) {
            keys.push(name.to_string());
        }
    };
    coll("list", "RPUSH", many("item", 40, false));
    coll("hash", "HSET", many("field", 30, true));
    coll("set", "SADD", many("member", 30, false));
    coll(
        "intset",
        "SADD",
        (0..20).map(|i| (i * 7 - 50).to_string()).collect(),
    );
    let zargs: Vec<String> = (0..25)
        .flat_map(|i| vec![format!("{}", i as f64 / 3.0 - 2.0), format!("z{i}")])
        .chain(["inf".into(), "top".into(), "-inf".into(), "bottom".into()])
        .collect();
    coll("zset", "ZADD", zargs);
    for i in 1..=5 {
        let mut c = vec!["XADD".to_string(), "stream".to_string(), format!("{i}-{i}")];
        c.extend(["f".to_string(), format!("v{i}"), "g".into(), "w".into()]);
        if !try_cmd(c) {
            break;
        }
        if i == 1 {
            keys.push("stream".into());
        }
    }
    keys
}

#[test]
fn every_value_type_round_trips_through_a_snapshot() {
    use ferrite_store::types::{stream, zset};
    let dir = tmpdir("types");
    let e = open(&dir);
    let mut s = e.session();
    let mut keys = Vec::new();
    for db in [0usize, 7, 15] {
        s.db = db;
        keys = build_every_type(&e, &mut s);
        run(
            &e,
            &mut s,
            &["SET", "volatile", "v", "PXAT", "99999999999999"],
        );
    }
    // Types whose commands are not on this branch yet: default values.
    {
        let mut st = e.lock();
        for (name, v) in [
            ("zset", Value::ZSet(Box::<zset::ZSet>::default())),
            ("stream", Value::Stream(Box::<stream::Stream>::default())),
        ] {
            if st.dbs[3].find(name.as_bytes()).is_none() {
                st.dbs[3].insert_new(name.as_bytes(), v, 0);
            }
        }
    }
    let snapshot_of = |e: &Engine| -> Vec<(usize, Vec<u8>, u64, Canon)> {
        let st = e.lock();
        let mut out: Vec<_> = (0..16)
            .flat_map(|db| {
                st.dbs[db].entries().iter().map(move |en| {
                    (
                        db,
                        en.key.as_bytes().to_vec(),
                        en.expire_at,
                        canon(&en.value),
                    )
                })
            })
            .collect();
        out.sort();
        out
    };
    let before = snapshot_of(&e);
    assert!(before.len() >= 3 * 9, "{} keys", before.len());
    assert_eq!(run(&e, &mut s, &["SAVE"]), Reply::ok());
    e.close();
    let (e, report) = persist::open(&dir, opts(AppendFsync::No)).unwrap();
    assert_eq!(report.commands_replayed, 0);
    assert_eq!(report.snapshot_keys as usize, before.len());
    assert_eq!(snapshot_of(&e), before);
    // Order-sensitive check of the list.
    if command::lookup(b"lrange").is_some() {
        let mut s = e.session();
        let r = run(&e, &mut s, &["LRANGE", "list", "0", "-1"]);
        let Reply::Array(items) = r else {
            panic!("{r:?}")
        };
        assert_eq!(items.len(), 40);
        assert_eq!(items[3].as_bytes().unwrap(), b"item3-xxx");
    }
    // And through a background rewrite (snapshot rebuilt from the log).
    let mut s = e.session();
    for db in [1usize, 9] {
        s.db = db;
        build_every_type(&e, &mut s);
    }
    let before = snapshot_of(&e);
    assert_eq!(
        run(&e, &mut s, &["BGSAVE"]),
        Reply::status("Background saving started")
    );
    persist::wait_rewrite(&e);
    e.close();
    let log = std::fs::read(segment(&dir)).unwrap();
    let (e, report) = persist::open(&dir, opts(AppendFsync::No)).unwrap();
    assert_eq!(
        report.commands_replayed,
        0,
        "{}",
        String::from_utf8_lossy(&log)
    );
    assert_eq!(snapshot_of(&e), before);
    assert!(keys.len() >= 7, "{keys:?}");
    e.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn flipped_bytes_in_the_snapshot_always_refuse() {
    let dir = tmpdir("flipsnap");
    let e = open(&dir);
    let mut s = e.session();
    for i in 0..20 {
        run(
            &e,
            &mut s,
            &["SET", &format!("key{i}"), &format!("value{i}")],
        );
    }
    assert_eq!(run(&e, &mut s, &["SAVE"]), Reply::ok());
    e.close();
    let snap: PathBuf = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|x| x == "snap"))
        .expect("snapshot written");
    let good = std::fs::read(&snap).unwrap();
    for at in 0..good.len() {
        let mut bad = good.clone();
        bad[at] ^= 0x10;
        std::fs::write(&snap, &bad).unwrap();
        match Engine::open(&dir, opts(AppendFsync::No)) {
            Err(OpenError::Corrupt { file, .. }) => assert_eq!(file, snap),
            Err(e) => panic!("unexpected {e}"),
            Ok(_) => panic!("flipped byte {at} of the snapshot loaded"),
        }
    }
    // Truncations too.
    for len in [0, 5, good.len() / 2, good.len() - 1] {
        std::fs::write(&snap, &good[..len]).unwrap();
        assert!(matches!(
            Engine::open(&dir, opts(AppendFsync::No)),
            Err(OpenError::Corrupt { .. })
        ));
    }
    std::fs::write(&snap, &good).unwrap();
    let e = Engine::open(&dir, opts(AppendFsync::No)).unwrap();
    let mut s = e.session();
    assert_eq!(get(&e, &mut s, "key19").as_deref(), Some(&b"value19"[..]));
    e.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_directory_opens_once_per_process() {
    let dir = tmpdir("lock");
    let e = open(&dir);
    match Engine::open(&dir, opts(AppendFsync::No)) {
        Err(OpenError::Locked { holder, .. }) => {
            assert_eq!(holder, Some(std::process::id()));
            let text = OpenError::Locked {
                path: dir.join("LOCK"),
                holder,
            }
            .to_string();
            assert!(text.contains("already open"), "{text}");
        }
        Err(e) => panic!("unexpected {e}"),
        Ok(_) => panic!("second open allowed"),
    }
    e.close();
    let e2 = Engine::open(&dir, opts(AppendFsync::No)).expect("reopen after close");
    drop(e2);
    // Dropping releases the lock with the last reference; background
    // threads (active expiry) may hold one for a moment.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    let e3 = loop {
        match Engine::open(&dir, opts(AppendFsync::No)) {
            Ok(e) => break e,
            Err(OpenError::Locked { .. }) if std::time::Instant::now() < deadline => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            Err(e) => panic!("reopen after drop: {e}"),
        }
    };
    e3.close();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Child side of the cross-process tests (does nothing when run alone).
#[test]
fn child_process_probe() {
    let Ok(dir) = std::env::var("FERRITE_PROBE_DIR") else {
        return;
    };
    match std::env::var("FERRITE_PROBE_MODE").as_deref() {
        Ok("lock") => match Engine::open(&dir, opts(AppendFsync::No)) {
            Ok(e) => {
                println!("PROBE OPENED");
                e.close();
            }
            Err(OpenError::Locked { .. }) => println!("PROBE LOCKED"),
            Err(e) => println!("PROBE ERROR {e}"),
        },
        Ok("writer") => {
            use std::io::Write;
            let e = Engine::open(
                &dir,
                PersistOptions {
                    appendfsync: AppendFsync::Always,
                    rewrite_min_size: 4096,
                    rewrite_percentage: 50,
                    ..Default::default()
                },
            )
            .unwrap();
            let mut s = e.session();
            let mut out = std::io::stdout().lock();
            for i in 0.. {
                let key = format!("key{i}");
                let val = format!("value-{i}-{}", "p".repeat(i % 50));
                assert_eq!(run(&e, &mut s, &["SET", &key, &val]), Reply::ok());
                writeln!(out, "ACK {i}").unwrap();
                out.flush().unwrap();
                if i % 97 == 0 {
                    run(&e, &mut s, &["BGSAVE"]);
                }
            }
        }
        _ => {}
    }
}

fn spawn_probe(dir: &Path, mode: &str) -> Command {
    let mut c = Command::new(std::env::current_exe().unwrap());
    c.args([
        "--exact",
        "child_process_probe",
        "--nocapture",
        "--test-threads=1",
    ])
    .env("FERRITE_PROBE_DIR", dir)
    .env("FERRITE_PROBE_MODE", mode);
    c
}

#[test]
fn a_directory_opens_once_across_processes() {
    let dir = tmpdir("lockproc");
    let e = open(&dir);
    let out = spawn_probe(&dir, "lock").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("PROBE LOCKED"), "{text}");
    e.close();
    let out = spawn_probe(&dir, "lock").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("PROBE OPENED"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kill_9_loses_no_acknowledged_write() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = tmpdir("kill9");
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos() as u64;
    let mut acked_total = 0;
    for round in 0..4u64 {
        let mut child = spawn_probe(&dir, "writer")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        // Kill after a pseudo-random number of acknowledged writes.
        let kill_after = 50 + (seed.wrapping_mul(round + 7) % 400) as i64;
        let mut last: i64 = -1;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(n) = line.strip_prefix("ACK ") {
                last = n.parse().unwrap();
                if last >= kill_after {
                    break;
                }
            }
        }
        // SIGKILL: no destructor runs.
        child.kill().unwrap();
        let _ = child.wait();
        assert!(last >= 0, "child acknowledged nothing");
        let (e, _report) = persist::open(&dir, opts(AppendFsync::No)).expect("reopen after kill");
        let mut s = e.session();
        for i in 0..=last {
            let want = format!("value-{i}-{}", "p".repeat((i % 50) as usize));
            assert_eq!(
                get(&e, &mut s, &format!("key{i}")).as_deref(),
                Some(want.as_bytes()),
                "round {round}: acknowledged key{i} lost (last ack {last})"
            );
        }
        acked_total += last + 1;
        e.close();
    }
    assert!(acked_total > 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bgsave_compacts_while_writes_continue() {
    let dir = tmpdir("bgsave");
    let e = open(&dir);
    let mut s = e.session();
    for i in 0..300 {
        run(
            &e,
            &mut s,
            &["SET", &format!("k{}", i % 50), &i.to_string()],
        );
    }
    assert_eq!(
        run(&e, &mut s, &["BGSAVE"]),
        Reply::status("Background saving started")
    );
    // Writes during the rewrite go to the new segment.
    for i in 300..400 {
        run(
            &e,
            &mut s,
            &["SET", &format!("k{}", i % 60), &i.to_string()],
        );
    }
    persist::wait_rewrite(&e);
    let info: std::collections::HashMap<String, String> =
        persist::info_fields(&e.lock()).into_iter().collect();
    assert_eq!(info["aof_rewrites"], "1");
    assert_eq!(info["aof_last_bgrewrite_status"], "ok");
    assert_eq!(info["rdb_bgsave_in_progress"], "0");
    assert_eq!(info["aof_enabled"], "1");
    assert_eq!(info["rdb_changes_since_last_save"], "100");
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    assert!(names.contains(&"ferrite.2.snap".to_string()), "{names:?}");
    assert!(names.contains(&"ferrite.2.aof".to_string()), "{names:?}");
    assert!(!names.contains(&"ferrite.1.aof".to_string()), "{names:?}");
    let expected: Vec<Option<Vec<u8>>> =
        (0..60).map(|i| get(&e, &mut s, &format!("k{i}"))).collect();
    e.close();
    let (e, report) = persist::open(&dir, opts(AppendFsync::No)).unwrap();
    assert_eq!(report.snapshot_keys, 50);
    assert_eq!(report.commands_replayed, 100);
    let mut s = e.session();
    let got: Vec<Option<Vec<u8>>> = (0..60).map(|i| get(&e, &mut s, &format!("k{i}"))).collect();
    assert_eq!(got, expected);
    e.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn automatic_rewrite_when_the_log_outgrows_the_snapshot() {
    let dir = tmpdir("autorw");
    let e = Engine::open(
        &dir,
        PersistOptions {
            appendfsync: AppendFsync::No,
            rewrite_min_size: 2000,
            rewrite_percentage: 100,
            ..Default::default()
        },
    )
    .unwrap();
    let mut s = e.session();
    for i in 0..2000 {
        run(
            &e,
            &mut s,
            &["SET", &format!("k{}", i % 10), &i.to_string()],
        );
        if i % 100 == 0 {
            persist::wait_rewrite(&e);
        }
    }
    persist::wait_rewrite(&e);
    let rewrites: u64 = persist::info_fields(&e.lock())
        .into_iter()
        .find(|(k, _)| k == "aof_rewrites")
        .unwrap()
        .1
        .parse()
        .unwrap();
    assert!(rewrites >= 5, "rewrites {rewrites}");
    assert!(e.lock().propagation.log_size() < 8000);
    e.close();
    let e = Engine::open(&dir, opts(AppendFsync::No)).unwrap();
    let mut s = e.session();
    for k in 0..10 {
        assert_eq!(
            get(&e, &mut s, &format!("k{k}")),
            Some((1990 + k).to_string().into_bytes())
        );
    }
    e.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_crash_at_any_step_of_a_rewrite_recovers_every_write() {
    let dir = tmpdir("rwcrash");
    let e = open(&dir);
    let mut s = e.session();
    for i in 0..20 {
        run(&e, &mut s, &["SET", &format!("a{i}"), "old"]);
    }
    e.close();
    // Step 1 done (writes moved to segment 2), snapshot not yet written:
    // simulate by a second segment holding later writes, plus a half
    // written snapshot temp file and an uncommitted snapshot.
    let later = tmpdir("rwcrash-later");
    {
        let e = open(&later);
        let mut s = e.session();
        for i in 0..10 {
            run(&e, &mut s, &["SET", &format!("a{i}"), "new"]);
        }
        e.close();
    }
    std::fs::copy(later.join("ferrite.1.aof"), dir.join("ferrite.2.aof")).unwrap();
    std::fs::write(dir.join("ferrite.2.snap.tmp"), b"FRTSNAP\0half").unwrap();
    std::fs::write(dir.join("ferrite.2.snap"), b"FRTSNAP\0garbage").unwrap();
    let e = open(&dir);
    let mut s = e.session();
    for i in 0..20 {
        let want = if i < 10 { "new" } else { "old" };
        assert_eq!(
            get(&e, &mut s, &format!("a{i}")).as_deref(),
            Some(want.as_bytes())
        );
    }
    run(&e, &mut s, &["SET", "tail", "1"]);
    // Stale files outside the chain were removed.
    assert!(!dir.join("ferrite.2.snap.tmp").exists());
    assert!(!dir.join("ferrite.2.snap").exists());
    // Writes continue in the newest segment.
    assert_eq!(segment(&dir), dir.join("ferrite.2.aof"));
    // Now a full rewrite, then a crash after the manifest switch but before
    // the old files were deleted: old files are ignored and removed.
    assert_eq!(run(&e, &mut s, &["SAVE"]), Reply::ok());
    e.close();
    std::fs::write(dir.join("ferrite.1.aof"), b"garbage that must not be read").unwrap();
    std::fs::write(dir.join("ferrite.1.snap"), b"garbage").unwrap();
    let e = open(&dir);
    let mut s = e.session();
    for i in 0..20 {
        let want = if i < 10 { "new" } else { "old" };
        assert_eq!(
            get(&e, &mut s, &format!("a{i}")).as_deref(),
            Some(want.as_bytes())
        );
    }
    assert_eq!(get(&e, &mut s, "tail").as_deref(), Some(&b"1"[..]));
    assert!(!dir.join("ferrite.1.aof").exists());
    e.close();
    let _ = std::fs::remove_dir_all(&dir);
    let _ = std::fs::remove_dir_all(&later);
}

#[test]
fn appendfsync_policies() {
    let dir = tmpdir("fsync");
    let e = Engine::open(&dir, opts(AppendFsync::Always)).unwrap();
    let mut s = e.session();
    let before = e.lock().propagation.fsyncs();
    for i in 0..5 {
        run(&e, &mut s, &["SET", "k", &i.to_string()]);
    }
    assert_eq!(e.lock().propagation.fsyncs() - before, 5);
    // Reads log nothing.
    run(&e, &mut s, &["GET", "k"]);
    assert_eq!(e.lock().propagation.fsyncs() - before, 5);
    e.close();

    let e = Engine::open(&dir, opts(AppendFsync::No)).unwrap();
    let mut s = e.session();
    let before = e.lock().propagation.fsyncs();
    for i in 0..5 {
        run(&e, &mut s, &["SET", "k", &i.to_string()]);
    }
    assert_eq!(e.lock().propagation.fsyncs(), before);
    e.close();

    let e = Engine::open(&dir, opts(AppendFsync::EverySec)).unwrap();
    let mut s = e.session();
    let before = e.lock().propagation.fsyncs();
    run(&e, &mut s, &["SET", "k", "x"]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    assert!(
        e.lock().propagation.fsyncs() > before,
        "everysec thread synced"
    );
    e.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn save_commands_and_info() {
    let e = Engine::new();
    let mut s = e.session();
    for cmd in ["SAVE", "BGSAVE", "BGREWRITEAOF"] {
        let r = run(&e, &mut s, &[cmd]);
        assert!(r.is_error(), "{cmd} on an in-memory engine: {r:?}");
    }
    assert!(run(&e, &mut s, &["LASTSAVE"]).as_int().unwrap() > 1_600_000_000);
    assert_eq!(
        run(&e, &mut s, &["BGSAVE", "NOW"]),
        Reply::err("ERR syntax error")
    );
    let info: std::collections::HashMap<String, String> =
        persist::info_fields(&e.lock()).into_iter().collect();
    assert_eq!(info["aof_enabled"], "0");
    assert!(!info.contains_key("aof_current_size"));

    let dir = tmpdir("savecmds");
    let e = open(&dir);
    let mut s = e.session();
    run(&e, &mut s, &["SET", "a", "1"]);
    run(&e, &mut s, &["SET", "b", "2"]);
    let info: std::collections::HashMap<String, String> =
        persist::info_fields(&e.lock()).into_iter().collect();
    assert_eq!(info["rdb_changes_since_last_save"], "2");
    assert_eq!(info["aof_last_write_status"], "ok");
    assert_eq!(run(&e, &mut s, &["SAVE"]), Reply::ok());
    let info: std::collections::HashMap<String, String> =
        persist::info_fields(&e.lock()).into_iter().collect();
    assert_eq!(info["rdb_changes_since_last_save"], "0");
    assert!(info["aof_base_size"].parse::<u64>().unwrap() > 0);
    let last = run(&e, &mut s, &["LASTSAVE"]).as_int().unwrap();
    assert!((last - (e.clock.now_ms() / 1000) as i64).abs() <= 2);
    assert_eq!(
        run(&e, &mut s, &["BGREWRITEAOF"]),
        Reply::status("Background append only file rewriting started")
    );
    // While it runs, a second request is refused or scheduled.
    let second = run(&e, &mut s, &["BGSAVE", "SCHEDULE"]);
    assert!(
        second == Reply::status("Background saving scheduled")
            || second == Reply::status("Background saving started"),
        "{second:?}"
    );
    persist::wait_rewrite(&e);
    persist::wait_rewrite(&e);
    e.close();
    let e = open(&dir);
    let mut s = e.session();
    assert_eq!(get(&e, &mut s, "b").as_deref(), Some(&b"2"[..]));
    e.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn closing_releases_the_directory_and_refuses_calls() {
    let dir = tmpdir("close");
    let e = open(&dir);
    let mut s = e.session();
    run(&e, &mut s, &["SET", "a", "1"]);
    e.close();
    assert!(run(&e, &mut s, &["GET", "a"]).is_error());
    let e2 = open(&dir);
    let mut s2 = e2.session();
    assert_eq!(get(&e2, &mut s2, "a").as_deref(), Some(&b"1"[..]));
    e2.close();
    let _ = std::fs::remove_dir_all(&dir);
}

/// Under `always`, a read that reclaims an expired key logs its DEL without
/// an fsync of its own (the NIF runs reads on normal schedulers); the next
/// write's fsync covers it, and a reopen agrees.
#[test]
fn expiry_dels_do_not_fsync_under_always() {
    let dir = tmpdir("lazydel");
    let e = Engine::open(&dir, opts(AppendFsync::Always)).unwrap();
    let mut s = e.session();
    run(&e, &mut s, &["DEBUG", "SET-ACTIVE-EXPIRE", "0"]);
    run(&e, &mut s, &["SET", "gone", "x", "PX", "50"]);
    run(&e, &mut s, &["SET", "kept", "y"]);
    e.fast_forward(100);
    let before = e.lock().propagation.fsyncs();
    let size = e.lock().propagation.log_size();
    assert_eq!(get(&e, &mut s, "gone"), None);
    assert!(e.lock().propagation.log_size() > size, "the DEL is logged");
    assert_eq!(
        e.lock().propagation.fsyncs(),
        before,
        "no fsync for the DEL"
    );
    run(&e, &mut s, &["SET", "after", "z"]);
    assert_eq!(e.lock().propagation.fsyncs(), before + 1);
    e.close();
    let text = std::fs::read_to_string(segment(&dir)).unwrap();
    assert!(text.contains("$3\r\nDEL\r\n$4\r\ngone\r\n"));

    let e = open(&dir);
    let mut s = e.session();
    assert_eq!(get(&e, &mut s, "gone"), None);
    assert_eq!(get(&e, &mut s, "kept").as_deref(), Some(&b"y"[..]));
    assert_eq!(get(&e, &mut s, "after").as_deref(), Some(&b"z"[..]));
    e.close();
    let _ = std::fs::remove_dir_all(&dir);
}
