//! Durability: snapshot, append-only log, recovery, rewrites, lock file.

use ferrite_store::command;
use ferrite_store::engine::{Ctx, Session};
use ferrite_store::persist::{self, AppendFsync, OpenError, PersistOptions};
use ferrite_store::types::{hash, list, set, stream, zset, Sso, Value};
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
        match get(e, &mut s, &format!("k{i}")) {
            Some(v) => {
                assert_eq!(v, format!("v{i}").into_bytes(), "wrong data loaded");
                assert_eq!(present, i, "a gap: not a prefix");
                present += 1;
            }
            None => {}
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
    let last_start = full[..full.len() - 1]
        .windows(2)
        .rposition(|w| w == b"\r\n")
        .map(|_| ())
        .and_then(|_| {
            let text = &full[..full.len() - 2];
            text.windows(3).rposition(|w| w == b"#C:").map(|p| p + 13)
        })
        .unwrap();
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
        assert_eq!(
            std::fs::metadata(&seg).unwrap().len() as usize > last_start,
            true
        );
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

fn sso(s: &str) -> Sso {
    Sso::from(s)
}

/// One value of every type, with contents.
fn every_type() -> Vec<(&'static str, Value)> {
    let mut l = list::List::default();
    for i in 0..30 {
        l.items
            .push_back(Sso::new(format!("item-{i}-{}", "x".repeat(i)).as_bytes()));
    }
    let mut h = hash::Hash::default();
    for i in 0..20 {
        h.map
            .insert(sso(&format!("f{i}")), Sso::new(&[i as u8; 40]));
    }
    let mut st = set::Set::default();
    for i in 0..25 {
        st.members.insert(sso(&format!("m{i}")));
    }
    let mut z = zset::ZSet::default();
    for (i, score) in [1.5, -0.0, f64::INFINITY, f64::NEG_INFINITY, 1e300, 3.0]
        .iter()
        .enumerate()
    {
        z.scores.insert(sso(&format!("z{i}")), *score);
    }
    vec![
        ("str-inline", Value::Str(sso("short"))),
        ("str-heap", Value::Str(Sso::new(&[0xFFu8; 1000]))),
        ("str-empty", Value::Str(Sso::EMPTY)),
        ("list", Value::List(Box::new(l))),
        ("hash", Value::Hash(Box::new(h))),
        ("set", Value::Set(Box::new(st))),
        ("zset", Value::ZSet(Box::new(z))),
        ("stream", Value::Stream(Box::new(stream::Stream::default()))),
    ]
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Str(x), Value::Str(y)) => x == y,
        (Value::List(x), Value::List(y)) => x.items == y.items,
        (Value::Hash(x), Value::Hash(y)) => x.map == y.map,
        (Value::Set(x), Value::Set(y)) => x.members == y.members,
        (Value::ZSet(x), Value::ZSet(y)) => {
            x.scores.len() == y.scores.len()
                && x.scores
                    .iter()
                    .all(|(k, v)| y.scores.get(k).is_some_and(|w| w.to_bits() == v.to_bits()))
        }
        // Types without PartialEq: compare their serialized form.
        (x, y) => {
            x.type_name() == y.type_name()
                && rmp_serde::to_vec(x).unwrap() == rmp_serde::to_vec(y).unwrap()
        }
    }
}

#[test]
fn every_value_type_round_trips_through_a_snapshot() {
    let dir = tmpdir("types");
    let e = open(&dir);
    let now = e.clock.now_ms();
    {
        let mut st = e.lock();
        for (db, (name, v)) in every_type().into_iter().enumerate() {
            for target in [0, db % 16, 15] {
                let d = &mut st.dbs[target];
                let key = format!("{name}@{db}");
                if d.find(key.as_bytes()).is_none() {
                    let pos = d.insert_new(key.as_bytes(), v.clone(), 0);
                    if db % 2 == 1 {
                        d.set_expire(pos, now + 1_000_000 + db as u64);
                    }
                }
            }
        }
        persist::save(&mut st).expect("SAVE");
    }
    e.close();
    let (e, report) = persist::open(&dir, opts(AppendFsync::No)).unwrap();
    assert_eq!(report.commands_replayed, 0);
    let st = e.lock();
    let mut checked = 0;
    for (db, (name, v)) in every_type().into_iter().enumerate() {
        for target in [0, db % 16, 15] {
            let key = format!("{name}@{db}");
            let pos = st.dbs[target].find(key.as_bytes()).expect("key loaded");
            let entry = st.dbs[target].at(pos);
            assert!(same_value(&entry.value, &v), "{key} in db {target}");
            let want = if db % 2 == 1 {
                now + 1_000_000 + db as u64
            } else {
                0
            };
            assert_eq!(entry.expire_at, want);
            checked += 1;
        }
    }
    assert!(checked >= 24);
    drop(st);
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
    let e3 = Engine::open(&dir, opts(AppendFsync::No)).expect("reopen after drop");
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
        persist::info_lines(&e.lock()).into_iter().collect();
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
    let rewrites: u64 = persist::info_lines(&e.lock())
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
        persist::info_lines(&e.lock()).into_iter().collect();
    assert_eq!(info["aof_enabled"], "0");
    assert!(!info.contains_key("aof_current_size"));

    let dir = tmpdir("savecmds");
    let e = open(&dir);
    let mut s = e.session();
    run(&e, &mut s, &["SET", "a", "1"]);
    run(&e, &mut s, &["SET", "b", "2"]);
    let info: std::collections::HashMap<String, String> =
        persist::info_lines(&e.lock()).into_iter().collect();
    assert_eq!(info["rdb_changes_since_last_save"], "2");
    assert_eq!(info["aof_last_write_status"], "ok");
    assert_eq!(run(&e, &mut s, &["SAVE"]), Reply::ok());
    let info: std::collections::HashMap<String, String> =
        persist::info_lines(&e.lock()).into_iter().collect();
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
