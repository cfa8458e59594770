//! Golden-reply tests: command scripts whose expected replies were recorded
//! from a real redis-server 7.0 with `tests/golden/gen.py`.
//!
//! Format, one item a line: `COMMAND args => rendered reply`; `---` starts a
//! new scenario (a fresh engine); `@resp3` / `@resp2` switch protocol;
//! `#` lines are comments. Replies render as: `+status`, `-error`, `:int`,
//! `"bulk"`, `(nil)` (null bulk), `(nil*)` (null array), `(null)` (RESP3
//! null), `[a,b]`, `~[set]`, `{k:v}`, `,double`, `#t`.

#![allow(dead_code)]

use ferrite_store::util::fmt_g17;
use ferrite_store::{Engine, Reply, Session};
use std::sync::Arc;

/// Renders a reply as the wire would show it under `resp3` or RESP2.
pub fn render(r: &Reply, resp3: bool) -> String {
    match r {
        Reply::Status(s) => format!("+{s}"),
        Reply::Error(e) => format!("-{e}"),
        Reply::Int(i) => format!(":{i}"),
        Reply::Bulk(b) => quote(b),
        Reply::Verbatim(s) => quote(s.as_bytes()),
        Reply::Nil if resp3 => "(null)".into(),
        Reply::NilArray if resp3 => "(null)".into(),
        Reply::Nil => "(nil)".into(),
        Reply::NilArray => "(nil*)".into(),
        Reply::Array(v) => list("", v, resp3),
        Reply::Set(v) => list(if resp3 { "~" } else { "" }, v, resp3),
        Reply::Push(v) => list(if resp3 { ">" } else { "" }, v, resp3),
        Reply::Map(kv) if resp3 => {
            let items: Vec<String> = kv
                .iter()
                .map(|(k, v)| format!("{}:{}", render(k, resp3), render(v, resp3)))
                .collect();
            format!("{{{}}}", items.join(","))
        }
        Reply::Map(kv) => {
            let items: Vec<String> = kv
                .iter()
                .flat_map(|(k, v)| [render(k, resp3), render(v, resp3)])
                .collect();
            format!("[{}]", items.join(","))
        }
        Reply::Double(d) if resp3 => format!(",{}", fmt_g17(*d)),
        Reply::Double(d) => quote(fmt_g17(*d).as_bytes()),
        Reply::Bool(b) if resp3 => format!("#{}", if *b { "t" } else { "f" }),
        Reply::Bool(b) => format!(":{}", *b as i64),
    }
}

fn list(pre: &str, v: &[Reply], resp3: bool) -> String {
    let items: Vec<String> = v.iter().map(|r| render(r, resp3)).collect();
    format!("{pre}[{}]", items.join(","))
}

fn quote(b: &[u8]) -> String {
    let mut s = String::from("\"");
    for &c in b {
        match c {
            b'\\' => s.push_str("\\\\"),
            b'"' => s.push_str("\\\""),
            c => s.push(c as char),
        }
    }
    s.push('"');
    s
}

/// Splits a command line like a POSIX shell (quotes and backslashes).
pub fn split(line: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut cur = Vec::new();
    let mut has = false;
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if has {
                    out.push(std::mem::take(&mut cur));
                    has = false;
                }
            }
            '\'' => {
                has = true;
                for c in chars.by_ref() {
                    if c == '\'' {
                        break;
                    }
                    push_char(&mut cur, c);
                }
            }
            '"' => {
                has = true;
                while let Some(c) = chars.next() {
                    match c {
                        '"' => break,
                        '\\' => {
                            if let Some(n) = chars.next() {
                                push_char(&mut cur, n)
                            }
                        }
                        c => push_char(&mut cur, c),
                    }
                }
            }
            '\\' => {
                has = true;
                if let Some(n) = chars.next() {
                    push_char(&mut cur, n)
                }
            }
            c => {
                has = true;
                push_char(&mut cur, c)
            }
        }
    }
    if has {
        out.push(cur);
    }
    out
}

fn push_char(v: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    v.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// A fresh engine and session.
pub fn fresh() -> (Arc<Engine>, Session) {
    let e = Engine::new();
    let s = e.session();
    (e, s)
}

/// Runs one command line.
pub fn exec(e: &Engine, s: &mut Session, line: &str) -> Reply {
    let args = split(line);
    let argv: Vec<&[u8]> = args.iter().map(|a| a.as_slice()).collect();
    e.execute(s, &argv)
}

/// Runs a golden script and panics listing every mismatch.
pub fn run(script: &str) {
    let (mut e, mut s) = fresh();
    let mut failures = Vec::new();
    let mut n = 0;
    for line in script.lines() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if line == "---" {
            (e, s) = fresh();
            continue;
        }
        if line == "@resp3" || line == "@resp2" {
            s.resp = if line == "@resp3" { 3 } else { 2 };
            continue;
        }
        let Some((cmd, want)) = line.split_once(" => ") else {
            panic!("bad golden line: {line}");
        };
        let got = render(&exec(&e, &mut s, cmd), s.resp == 3);
        n += 1;
        if got != want {
            failures.push(format!("{cmd}\n   want {want}\n    got {got}"));
        }
    }
    assert!(n > 0, "empty golden script");
    assert!(
        failures.is_empty(),
        "{} of {n} golden replies differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A sink that forwards out-of-band messages to a channel; `fail` makes
/// sends fail while still reporting alive (a receiver dying mid-send).
pub struct ChanSink {
    tx: std::sync::Mutex<std::sync::mpsc::Sender<ferrite_store::Outgoing>>,
    /// False once the receiver is gone.
    pub alive: std::sync::atomic::AtomicBool,
    /// When true, `send` fails although `alive` is true.
    pub fail: std::sync::atomic::AtomicBool,
}

impl ferrite_store::Sink for ChanSink {
    fn send(&self, msg: ferrite_store::Outgoing) -> bool {
        use std::sync::atomic::Ordering::SeqCst;
        if !self.alive.load(SeqCst) || self.fail.load(SeqCst) {
            return false;
        }
        self.tx.lock().unwrap().send(msg).is_ok()
    }
    fn alive(&self) -> bool {
        self.alive.load(std::sync::atomic::Ordering::SeqCst)
    }
}

/// A session that can block, its sink and the receiving end.
pub fn blocking_session(
    e: &Engine,
) -> (
    Session,
    Arc<ChanSink>,
    std::sync::mpsc::Receiver<ferrite_store::Outgoing>,
) {
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = Arc::new(ChanSink {
        tx: std::sync::Mutex::new(tx),
        alive: true.into(),
        fail: false.into(),
    });
    let mut s = e.session();
    s.sink = Some(sink.clone());
    (s, sink, rx)
}

/// Waits for the served reply of a blocked session and renders it.
pub fn served(rx: &std::sync::mpsc::Receiver<ferrite_store::Outgoing>, resp3: bool) -> String {
    match rx
        .recv_timeout(std::time::Duration::from_secs(5))
        .expect("a served reply")
    {
        ferrite_store::Outgoing::Served { reply, .. } => render(&reply, resp3),
        other => panic!("unexpected {other:?}"),
    }
}
