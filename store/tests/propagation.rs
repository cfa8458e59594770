//! What reaches the append-only log: transactions as one MULTI/EXEC unit
//! and non-deterministic writes in their deterministic forms, each checked
//! against the AOF that redis-server 7.0.15 writes for the same commands.

use ferrite_store::engine::Session;
use ferrite_store::persist::{AppendFsync, PersistOptions};
use ferrite_store::{Engine, Reply};
use std::path::{Path, PathBuf};
use std::sync::Arc;

fn tmpdir(name: &str) -> PathBuf {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    let d = std::env::temp_dir().join(format!(
        "ferrite-propagation-{name}-{}-{nanos}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn open(dir: &Path) -> Arc<Engine> {
    let opts = PersistOptions {
        appendfsync: AppendFsync::No,
        ..Default::default()
    };
    Engine::open(dir, opts).expect("open")
}

fn run(e: &Engine, s: &mut Session, args: &[&str]) -> Reply {
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
    e.execute(s, &argv)
}

/// A durable engine and a reader of what its log gained since the last look.
struct Logged {
    dir: PathBuf,
    e: Arc<Engine>,
    s: Session,
    seen: usize,
}

impl Logged {
    fn new(name: &str) -> Logged {
        let dir = tmpdir(name);
        let e = open(&dir);
        let s = e.session();
        Logged { dir, e, s, seen: 0 }
    }

    fn run(&mut self, args: &[&str]) -> Reply {
        run(&self.e, &mut self.s, args)
    }

    fn segment(&self) -> PathBuf {
        let mut segs: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|x| x == "aof"))
            .collect();
        segs.sort();
        segs.pop().expect("a log segment")
    }

    /// The commands logged since the last call, as space-joined words.
    fn take(&mut self) -> Vec<String> {
        let bytes = std::fs::read(self.segment()).unwrap();
        let new = parse_log(&bytes[self.seen..]);
        self.seen = bytes.len();
        new
    }

    /// Runs `args` and returns what it logged.
    fn logs(&mut self, args: &[&str]) -> Vec<String> {
        self.take();
        self.run(args);
        self.take()
    }

    fn reopen(&mut self) {
        self.e.close();
        self.e = open(&self.dir);
        self.s = self.e.session();
        self.seen = std::fs::read(self.segment()).unwrap().len();
    }
}

impl Drop for Logged {
    fn drop(&mut self) {
        self.e.close();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Parses RESP command arrays, skipping `#` annotation lines.
fn parse_log(mut b: &[u8]) -> Vec<String> {
    fn line(b: &[u8]) -> (&[u8], &[u8]) {
        let i = b.windows(2).position(|w| w == b"\r\n").expect("CRLF");
        (&b[..i], &b[i + 2..])
    }
    let mut out = Vec::new();
    while !b.is_empty() {
        let (l, rest) = line(b);
        b = rest;
        if l.starts_with(b"#") {
            continue;
        }
        assert_eq!(l[0], b'*', "array expected");
        let n: usize = std::str::from_utf8(&l[1..]).unwrap().parse().unwrap();
        let mut words = Vec::new();
        for _ in 0..n {
            let (l, rest) = line(b);
            assert_eq!(l[0], b'$');
            let len: usize = std::str::from_utf8(&l[1..]).unwrap().parse().unwrap();
            words.push(String::from_utf8_lossy(&rest[..len]).into_owned());
            b = &rest[len + 2..];
        }
        out.push(words.join(" "));
    }
    out
}

#[test]
fn exec_is_logged_as_one_multi_exec_unit_without_its_reads() {
    let mut l = Logged::new("exec");
    l.run(&["SET", "warm", "1"]);
    l.take();
    l.run(&["MULTI"]);
    l.run(&["SET", "a", "1"]);
    l.run(&["GET", "a"]);
    l.run(&["INCR", "a"]);
    let reply = l.run(&["EXEC"]);
    assert_eq!(
        reply,
        Reply::Array(vec![Reply::ok(), Reply::bulk(b"1"), Reply::Int(2)])
    );
    // redis-server 7.0.15: MULTI, SET a 1, INCR a, EXEC (no GET, no EXEC
    // of the client's own).
    assert_eq!(l.take(), ["MULTI", "SET a 1", "INCR a", "EXEC"]);

    // One write: the bare command, as Redis 7.0 logs it.
    l.run(&["MULTI"]);
    l.run(&["SET", "b", "2"]);
    l.run(&["GET", "b"]);
    l.run(&["EXEC"]);
    assert_eq!(l.take(), ["SET b 2"]);

    // Only reads: nothing.
    l.run(&["MULTI"]);
    l.run(&["GET", "b"]);
    l.run(&["EXEC"]);
    assert!(l.take().is_empty());

    // SELECT inside: the database switches are logged inside the unit.
    l.run(&["SELECT", "3"]);
    l.run(&["MULTI"]);
    l.run(&["SET", "c", "1"]);
    l.run(&["SELECT", "4"]);
    l.run(&["SET", "d", "1"]);
    l.run(&["EXEC"]);
    assert_eq!(
        l.take(),
        ["SELECT 3", "MULTI", "SET c 1", "SELECT 4", "SET d 1", "EXEC"]
    );

    // A discarded or aborted transaction logs nothing.
    l.run(&["MULTI"]);
    l.run(&["SET", "e", "1"]);
    l.run(&["DISCARD"]);
    l.run(&["MULTI"]);
    l.run(&["SET", "e", "1"]);
    l.run(&["NOSUCHCOMMAND"]);
    l.run(&["EXEC"]);
    assert!(l.take().is_empty());

    // Recovery applies the unit.
    l.reopen();
    l.run(&["SELECT", "0"]);
    assert_eq!(l.run(&["GET", "a"]), Reply::bulk(b"2"));
    assert_eq!(l.run(&["GET", "b"]), Reply::bulk(b"2"));
    assert_eq!(l.run(&["GET", "e"]), Reply::Nil);
    l.run(&["SELECT", "3"]);
    assert_eq!(l.run(&["GET", "c"]), Reply::bulk(b"1"));
    l.run(&["SELECT", "4"]);
    assert_eq!(l.run(&["GET", "d"]), Reply::bulk(b"1"));
}

/// The members of a set or array reply, as strings.
fn members(r: &Reply) -> Vec<String> {
    match r {
        Reply::Set(v) | Reply::Array(v) => v
            .iter()
            .map(|m| String::from_utf8_lossy(m.as_bytes().unwrap()).into_owned())
            .collect(),
        Reply::Bulk(_) => vec![String::from_utf8_lossy(r.as_bytes().unwrap()).into_owned()],
        other => panic!("not members: {other:?}"),
    }
}

#[test]
fn spop_is_logged_as_srem_of_the_popped_members() {
    let mut l = Logged::new("spop");
    l.run(&["SADD", "s", "a", "b", "c", "d", "e"]);
    l.take();
    // One member: SREM (redis-server 7.0.15 logs `SREM s <member>`).
    let r = l.run(&["SPOP", "s"]);
    assert_eq!(l.take(), [format!("SREM s {}", members(&r)[0])]);
    // A count: one SREM per member, as one unit.
    let r = l.run(&["SPOP", "s", "2"]);
    let m = members(&r);
    assert_eq!(
        l.take(),
        [
            "MULTI".to_string(),
            format!("SREM s {}", m[0]),
            format!("SREM s {}", m[1]),
            "EXEC".to_string()
        ]
    );
    // Count 1: a bare SREM.
    let r = l.run(&["SPOP", "s", "1"]);
    assert_eq!(l.take(), [format!("SREM s {}", members(&r)[0])]);
    // The rest of the set: DEL.
    assert_eq!(l.logs(&["SPOP", "s", "5"]), ["DEL s"]);
    // Nothing popped: nothing logged.
    assert!(l.logs(&["SPOP", "s"]).is_empty());
    assert!(l.logs(&["SPOP", "s", "3"]).is_empty());
    l.run(&["SADD", "s", "a", "b", "c"]);
    assert!(l.logs(&["SPOP", "s", "0"]).is_empty());
    // The last member without a count: SREM (the key goes with it).
    l.run(&["SADD", "one", "x"]);
    assert_eq!(l.logs(&["SPOP", "one"]), ["SREM one x"]);
    assert_eq!(l.logs(&["SPOP", "s", "3"]), ["DEL s"]);

    // Inside a transaction the SREMs join the transaction's unit.
    l.run(&["SADD", "s", "a", "b", "c"]);
    l.take();
    l.run(&["MULTI"]);
    l.run(&["SPOP", "s", "2"]);
    l.run(&["SET", "z", "1"]);
    let r = l.run(&["EXEC"]);
    let Reply::Array(rs) = r else { panic!() };
    let m = members(&rs[0]);
    assert_eq!(
        l.take(),
        [
            "MULTI".to_string(),
            format!("SREM s {}", m[0]),
            format!("SREM s {}", m[1]),
            "SET z 1".to_string(),
            "EXEC".to_string()
        ]
    );
    l.run(&["MULTI"]);
    l.run(&["SPOP", "s", "2"]);
    l.run(&["EXEC"]);
    assert_eq!(l.take(), ["DEL s"]);

    // A replay removes exactly the members that were popped.
    l.run(&["SADD", "r", "1", "2", "3", "4", "5", "6", "7", "8"]);
    l.run(&["SPOP", "r", "3"]);
    l.run(&["SPOP", "r"]);
    let before = {
        let mut v = members(&l.run(&["SMEMBERS", "r"]));
        v.sort();
        v
    };
    assert_eq!(before.len(), 4);
    l.reopen();
    let mut after = members(&l.run(&["SMEMBERS", "r"]));
    after.sort();
    assert_eq!(after, before);
}

#[test]
fn float_increments_are_logged_as_their_results() {
    let mut l = Logged::new("floats");
    l.run(&["SET", "f", "10.5"]);
    assert_eq!(l.logs(&["INCRBYFLOAT", "f", "0.1"]), ["SET f 10.6 KEEPTTL"]);
    l.run(&["SET", "t", "10", "EX", "100"]);
    assert_eq!(l.logs(&["INCRBYFLOAT", "t", "1"]), ["SET t 11 KEEPTTL"]);
    assert_eq!(
        l.logs(&["INCRBYFLOAT", "new", "1e3"]),
        ["SET new 1000 KEEPTTL"]
    );
    // A refused increment logs nothing.
    l.run(&["SET", "bad", "x"]);
    assert!(l.logs(&["INCRBYFLOAT", "bad", "1"]).is_empty());
    l.run(&["HSET", "h", "x", "1.5"]);
    assert_eq!(l.logs(&["HINCRBYFLOAT", "h", "x", "0.1"]), ["HSET h x 1.6"]);
    assert_eq!(l.logs(&["HINCRBYFLOAT", "h", "y", "-2"]), ["HSET h y -2"]);
    let ttl = {
        let st = l.e.lock();
        let p = st.dbs[0].find(b"t").unwrap();
        st.dbs[0].at(p).expire_at
    };
    l.reopen();
    assert_eq!(l.run(&["GET", "f"]), Reply::bulk(b"10.6"));
    assert_eq!(l.run(&["GET", "t"]), Reply::bulk(b"11"));
    assert_eq!(l.run(&["HGET", "h", "x"]), Reply::bulk(b"1.6"));
    let st = l.e.lock();
    let p = st.dbs[0].find(b"t").unwrap();
    assert_eq!(st.dbs[0].at(p).expire_at, ttl, "KEEPTTL kept the TTL");
}

#[test]
fn relative_times_are_logged_absolute() {
    let mut l = Logged::new("times");
    let at = |l: &Logged, k: &str| {
        let st = l.e.lock();
        let p = st.dbs[0].find(k.as_bytes()).unwrap();
        st.dbs[0].at(p).expire_at
    };
    l.run(&["SET", "g", "v"]);
    l.take();
    let logged = l.logs(&["GETEX", "g", "EX", "100"]);
    assert_eq!(logged, [format!("PEXPIREAT g {}", at(&l, "g"))]);
    assert_eq!(l.logs(&["GETEX", "g", "PERSIST"]), ["PERSIST g"]);
    assert!(l.logs(&["GETEX", "g"]).is_empty());
    assert_eq!(l.logs(&["GETEX", "g", "EXAT", "1"]), ["DEL g"]);
    let logged = l.logs(&["SETEX", "k", "100", "v"]);
    assert_eq!(logged, [format!("SET k v PXAT {}", at(&l, "k"))]);
    let logged = l.logs(&["PSETEX", "k", "100000", "v"]);
    assert_eq!(logged, [format!("SET k v PXAT {}", at(&l, "k"))]);
    let logged = l.logs(&["SET", "k", "v", "EX", "100", "GET"]);
    assert_eq!(logged, [format!("SET k v PXAT {}", at(&l, "k"))]);
    let logged = l.logs(&["EXPIRE", "k", "100"]);
    assert_eq!(logged, [format!("PEXPIREAT k {}", at(&l, "k"))]);
    assert_eq!(
        l.logs(&["EXPIREAT", "k", "99999999999"]),
        ["PEXPIREAT k 99999999999000"]
    );
    assert_eq!(l.logs(&["EXPIRE", "k", "0"]), ["DEL k"]);
    // A SET with a time already past stores the key expired (redis-server
    // 7.0.15 logs it as is); its reclaim is logged as DEL.
    assert_eq!(
        l.logs(&["SET", "gone", "v", "EXAT", "1"]),
        ["SET gone v PXAT 1000"]
    );
    assert_eq!(l.logs(&["GET", "gone"]), ["DEL gone"]);
}

#[test]
fn blocking_pops_with_data_are_logged_as_plain_pops() {
    let mut l = Logged::new("bpop");
    l.run(&[
        "RPUSH", "bl", "a", "b", "c", "d", "e", "f", "g", "h", "i", "j",
    ]);
    l.take();
    // As redis-server 7.0.15 logs them.
    assert_eq!(l.logs(&["BLPOP", "bl", "0"]), ["LPOP bl"]);
    assert_eq!(l.logs(&["BRPOP", "nosuch", "bl", "0"]), ["RPOP bl"]);
    assert_eq!(
        l.logs(&["BLMOVE", "bl", "bl2", "left", "right", "0"]),
        ["LMOVE bl bl2 left right"]
    );
    assert_eq!(
        l.logs(&["BRPOPLPUSH", "bl", "bl2", "0"]),
        ["RPOPLPUSH bl bl2"]
    );
    assert_eq!(
        l.logs(&["BLMPOP", "0", "1", "bl", "left", "count", "2"]),
        ["LPOP bl 2"]
    );
    assert_eq!(
        l.logs(&["LMPOP", "2", "nosuch", "bl", "right", "count", "1"]),
        ["RPOP bl 1"]
    );
    assert_eq!(l.logs(&["LMPOP", "1", "bl", "left"]), ["LPOP bl 1"]);
    // Fewer left than asked: the number actually popped.
    assert_eq!(
        l.logs(&["BLMPOP", "0", "1", "bl", "left", "count", "10"]),
        ["LPOP bl 2"]
    );
    // Nothing to pop: nothing logged.
    assert!(l.logs(&["LMPOP", "1", "bl", "left"]).is_empty());
    // A refused move logs nothing.
    l.run(&["RPUSH", "src", "x"]);
    l.run(&["SET", "str", "v"]);
    l.take();
    assert!(l
        .logs(&["BLMOVE", "src", "str", "left", "right", "0"])
        .is_empty());
    // The replay rebuilds the same lists.
    l.reopen();
    assert_eq!(l.run(&["LLEN", "bl"]), Reply::Int(0));
    assert_eq!(
        members(&l.run(&["LRANGE", "bl2", "0", "-1"])),
        ["i".to_string(), "b".to_string()]
    );
    assert_eq!(l.run(&["LLEN", "src"]), Reply::Int(1));
}
