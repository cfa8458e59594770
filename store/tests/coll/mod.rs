//! Shared helpers for the collection tests: a reply renderer matching
//! `data/gen_expected.py`, a script replayer, and a channel-based `Sink`.
#![allow(dead_code)]

use ferrite_store::{Engine, Outgoing, Reply, Session, Sink};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

/// Renders a reply as `gen_expected.py` renders a RESP2 reply.
pub fn render(r: &Reply) -> String {
    match r {
        Reply::Status(s) => format!("+{s}"),
        Reply::Error(e) => format!("!{e}"),
        Reply::Int(i) => format!(":{i}"),
        Reply::Bulk(b) => format!("${}", String::from_utf8_lossy(b)),
        Reply::Nil => "nil".into(),
        Reply::NilArray => "nilarr".into(),
        Reply::Array(v) | Reply::Set(v) | Reply::Push(v) => {
            format!("[{}]", v.iter().map(render).collect::<Vec<_>>().join(", "))
        }
        Reply::Map(m) => format!(
            "[{}]",
            m.iter()
                .flat_map(|(k, v)| [render(k), render(v)])
                .collect::<Vec<_>>()
                .join(", ")
        ),
        Reply::Double(d) => format!("${}", ferrite_store::util::fmt_g17(*d)),
        Reply::Bool(b) => format!(":{}", *b as i64),
        Reply::Verbatim(s) => format!("${s}"),
    }
}

/// Splits a script line as `gen_expected.py` does.
pub fn split(line: &str) -> Vec<Vec<u8>> {
    line.split(' ')
        .filter(|t| !t.is_empty())
        .map(|t| {
            if t == "\"\"" {
                Vec::new()
            } else {
                t.as_bytes().to_vec()
            }
        })
        .collect()
}

/// Runs one command given as a line.
pub fn run(e: &Engine, s: &mut Session, line: &str) -> Reply {
    let argv = split(line);
    let refs: Vec<&[u8]> = argv.iter().map(|a| a.as_slice()).collect();
    e.execute(s, &refs)
}

/// Runs one command and renders its reply.
pub fn q(e: &Engine, s: &mut Session, line: &str) -> String {
    render(&run(e, s, line))
}

/// Replays an expected file (`> command` then the reply recorded from a
/// real redis-server 7.0) and fails on the first difference.
pub fn replay(expected: &str) {
    let e = Engine::new();
    let mut s = e.session();
    let mut lines = expected.lines();
    let mut n = 0;
    while let Some(cmd) = lines.next() {
        let cmd = cmd.strip_prefix("> ").expect("command line");
        let want = lines.next().expect("reply line");
        let got = q(&e, &mut s, cmd);
        assert_eq!(got, want, "command #{n}: {cmd}");
        n += 1;
    }
    assert!(n > 0);
}

/// A sink that forwards messages into a channel; can be "killed".
pub struct ChanSink {
    tx: Mutex<mpsc::Sender<Outgoing>>,
    alive: AtomicBool,
    /// When set, `alive()` says true but `send` fails (the receiver died
    /// between the check and the send).
    pub fail_send: AtomicBool,
}

impl ChanSink {
    /// A new sink and the receiving end.
    pub fn new() -> (Arc<ChanSink>, mpsc::Receiver<Outgoing>) {
        let (tx, rx) = mpsc::channel();
        (
            Arc::new(ChanSink {
                tx: Mutex::new(tx),
                alive: AtomicBool::new(true),
                fail_send: AtomicBool::new(false),
            }),
            rx,
        )
    }

    /// Marks the receiver dead.
    pub fn kill(&self) {
        self.alive.store(false, Ordering::SeqCst);
    }
}

impl Sink for ChanSink {
    fn send(&self, msg: Outgoing) -> bool {
        if !self.alive.load(Ordering::SeqCst) || self.fail_send.load(Ordering::SeqCst) {
            return false;
        }
        self.tx.lock().unwrap().send(msg).is_ok()
    }
    fn alive(&self) -> bool {
        self.alive.load(Ordering::SeqCst)
    }
}

/// A session with a channel sink.
pub fn blocking_session(e: &Engine) -> (Session, Arc<ChanSink>, mpsc::Receiver<Outgoing>) {
    let mut s = e.session();
    let (sink, rx) = ChanSink::new();
    s.sink = Some(sink.clone());
    (s, sink, rx)
}
