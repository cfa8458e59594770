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
