//! Recovery: reading log segments back and replaying them.
//!
//! A segment is parsed record by record (see `aof.rs` for the format). A
//! record is applied only after its checksum annotation has been read and
//! verified, so no unverified byte ever reaches the dataset. What can be
//! found at the end of the parsed part:
//!
//! - the end of the file right after an annotation: a clean segment;
//! - the file ends inside a record (a torn write, the usual result of a
//!   power loss): the segment is cut back to the last whole record, with a
//!   warning, provided the torn part holds no complete annotation (which
//!   would mean a damaged length swallowed later records, not a torn one);
//! - anything else (a byte that is not RESP, a checksum mismatch): the
//!   segment is damaged; opening fails, naming the file and the offset,
//!   unless `repair` asks to cut the segment back to the last good record.
//!
//! Records are applied as soon as they are verified, while parsing (a
//! damaged segment fails the whole open or rebuild, so what was applied
//! before the damage is thrown away, or kept by `repair`, which keeps
//! exactly that prefix). Replay runs each command through
//! `Engine::execute_locked` on a replay session (plain `SET`s straight
//! into the keyspace, see [`Replayer`]), with expiry suspended (the clock reads 0 while loading, as
//! Redis never expires keys while loading), so a replay reproduces exactly
//! the state the commands built the first time.

use super::aof::{ANNOTATION, ANNOTATION_LEN};
use super::crc::Crc32;
use super::OpenError;
use crate::engine::{Engine, Session, State};
use crate::keyspace::Db;
use crate::types::{Sso, Value};
use crate::util::eq_ic;
use std::path::Path;

/// One verified record: its commands, each a list of argument ranges of
/// the segment's bytes. Valid only during the [`parse_with`] callback.
pub struct Record<'a, 's> {
    buf: &'a [u8],
    args: &'s [(usize, usize)],
    /// Per command: (index of its first argument in `args`, count).
    cmds: &'s [(usize, usize)],
    /// Offset of the record's first byte.
    pub start: usize,
}

impl<'a, 's> Record<'a, 's> {
    /// Number of commands in the record.
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    /// True when the record holds no command (never, for a parsed one).
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// The argument ranges of command `i`.
    pub fn command(&self, i: usize) -> &'s [(usize, usize)] {
        let (first, n) = self.cmds[i];
        &self.args[first..first + n]
    }

    /// The bytes of one argument range.
    pub fn arg(&self, r: (usize, usize)) -> &'a [u8] {
        &self.buf[r.0..r.1]
    }
}

/// The outcome of parsing a segment.
pub struct Parsed {
    /// Whole, verified records (each handed to the callback).
    pub records: u64,
    /// Bytes of whole records (where a writer resumes).
    pub good_len: usize,
    /// The running checksum at `good_len`.
    pub crc: Crc32,
    /// How the segment ended.
    pub end: End,
}

/// How a segment ended.
#[derive(Debug, PartialEq, Eq)]
pub enum End {
    /// At a record boundary.
    Clean,
    /// Inside a record: the last `len - good_len` bytes are a torn write.
    Torn,
    /// Damaged at `offset`.
    Corrupt {
        /// Where the damage was found.
        offset: usize,
        /// What was wrong.
        message: String,
    },
}

enum Step {
    /// Need more bytes than the file has.
    More,
    /// Malformed at offset.
    Bad(usize, String),
}

fn read_line(buf: &[u8], p: usize) -> Result<(&[u8], usize), Step> {
    // A RESP header line is short; anything longer is damage.
    let limit = buf.len().min(p + 24);
    match buf[p..limit].iter().position(|&b| b == b'\r') {
        Some(i) => {
            let end = p + i;
            if end + 1 >= buf.len() {
                return Err(Step::More);
            }
            if buf[end + 1] != b'\n' {
                return Err(Step::Bad(end + 1, "expected LF after CR".into()));
            }
            Ok((&buf[p..end], end + 2))
        }
        None if limit == buf.len() => Err(Step::More),
        None => Err(Step::Bad(p, "header line too long".into())),
    }
}

fn parse_len(line: &[u8], at: usize, max: usize) -> Result<usize, Step> {
    if line.is_empty() || line.len() > 12 {
        return Err(Step::Bad(at, "bad length".into()));
    }
    // At most 12 digits: no overflow.
    let mut n = 0usize;
    for &b in line {
        if !b.is_ascii_digit() {
            return Err(Step::Bad(at, "bad length".into()));
        }
        n = n * 10 + (b - b'0') as usize;
    }
    if n > max {
        return Err(Step::Bad(at, "length out of range".into()));
    }
    Ok(n)
}

/// `<prefix><1 to 9 digits>\r\n` at `p`, all inside `buf`: the number and
/// the offset after the line. `None` for anything else (the careful path
/// then says what it is).
#[inline(always)]
fn quick_len(buf: &[u8], p: usize, prefix: u8) -> Option<(usize, usize)> {
    let line = buf.get(p..buf.len().min(p + 12))?;
    if *line.first()? != prefix {
        return None;
    }
    let mut n = 0usize;
    let mut i = 1;
    while i < line.len() && line[i].is_ascii_digit() {
        n = n * 10 + (line[i] - b'0') as usize;
        i += 1;
    }
    if i == 1 || i > 10 || i + 1 >= line.len() || line[i] != b'\r' || line[i + 1] != b'\n' {
        return None;
    }
    Some((n, p + i + 2))
}

/// The common case of [`parse_command`] in one tight pass: a whole,
/// well-formed command. Whenever it returns `Some`, the careful path
/// would have returned the same (at most 9 length digits keeps every
/// length within the careful path's limits); on `None` the careful path
/// runs from the start.
#[inline(always)]
fn quick_command(buf: &[u8], p: usize, args: &mut Vec<(usize, usize)>) -> Option<(usize, usize)> {
    let (n, mut q) = quick_len(buf, p, b'*')?;
    if n == 0 || n > 1 << 20 {
        return None;
    }
    for _ in 0..n {
        let (len, r) = quick_len(buf, q, b'$')?;
        let end = r + len;
        if end + 2 > buf.len() || buf[end] != b'\r' || buf[end + 1] != b'\n' {
            return None;
        }
        args.push((r, end));
        q = end + 2;
    }
    Some((n, q))
}

/// Parses one command at `p`: `*N\r\n` then N bulk strings, whose ranges
/// are appended to `args`; returns the argument count and the next offset.
fn parse_command(
    buf: &[u8],
    p: usize,
    args: &mut Vec<(usize, usize)>,
) -> Result<(usize, usize), Step> {
    let mark = args.len();
    if let Some(done) = quick_command(buf, p, args) {
        return Ok(done);
    }
    args.truncate(mark);
    let (line, mut q) = read_line(buf, p)?;
    if line.first() != Some(&b'*') {
        return Err(Step::Bad(p, "expected '*'".into()));
    }
    let n = parse_len(&line[1..], p, 1 << 20)?;
    if n == 0 {
        return Err(Step::Bad(p, "empty command".into()));
    }
    for _ in 0..n {
        if q >= buf.len() {
            return Err(Step::More);
        }
        let (line, r) = read_line(buf, q)?;
        if line.first() != Some(&b'$') {
            return Err(Step::Bad(q, "expected '$'".into()));
        }
        let len = parse_len(&line[1..], q, 1 << 32)?;
        let end = r + len;
        if end + 2 > buf.len() {
            return Err(Step::More);
        }
        if &buf[end..end + 2] != b"\r\n" {
            return Err(Step::Bad(end, "expected CRLF after bulk".into()));
        }
        args.push((r, end));
        q = end + 2;
    }
    Ok((n, q))
}

/// The value of 8 lowercase or uppercase hex digits.
fn parse_hex8(h: &[u8]) -> Option<u32> {
    let mut v = 0u32;
    for &b in h {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => return None,
        };
        v = (v << 4) | d as u32;
    }
    Some(v)
}

/// True when `tail` holds something shaped like a whole annotation line.
fn holds_annotation(tail: &[u8]) -> bool {
    tail.windows(2 + ANNOTATION_LEN).any(|w| {
        &w[..2] == b"\r\n"
            && &w[2..5] == ANNOTATION
            && w[5..13].iter().all(u8::is_ascii_hexdigit)
            && &w[13..15] == b"\r\n"
    })
}

/// Parses a whole segment, checking every record (see [`parse_with`]).
pub fn parse(buf: &[u8]) -> Parsed {
    match parse_with(buf, |_| Ok::<(), std::convert::Infallible>(())) {
        Ok(p) => p,
        Err(never) => match never {},
    }
}

/// Parses a segment and hands each whole, verified record to `on_record`,
/// in order, as soon as its checksum annotation has been checked (so no
/// unverified byte reaches it, and nothing is kept per record). Stops at
/// the first error `on_record` returns.
pub fn parse_with<E>(
    buf: &[u8],
    mut on_record: impl FnMut(&Record<'_, '_>) -> Result<(), E>,
) -> Result<Parsed, E> {
    let mut records = 0u64;
    let mut crc = Crc32::new();
    let mut good = 0usize;
    let mut args: Vec<(usize, usize)> = Vec::new();
    let mut cmds: Vec<(usize, usize)> = Vec::new();
    let mut p = 0usize;
    let torn_or_corrupt = |good: usize, at: usize| {
        if holds_annotation(&buf[good.saturating_sub(2)..]) {
            End::Corrupt {
                offset: at,
                message: "damaged record: a length runs over later records".into(),
            }
        } else {
            End::Torn
        }
    };
    let end = loop {
        if p == buf.len() {
            break if p == good { End::Clean } else { End::Torn };
        }
        match buf[p] {
            b'#' => {
                if buf.len() - p < ANNOTATION_LEN {
                    break torn_or_corrupt(good, p);
                }
                let line = &buf[p..p + ANNOTATION_LEN];
                if &line[..3] != ANNOTATION || &line[11..] != b"\r\n" {
                    break End::Corrupt {
                        offset: p,
                        message: "bad annotation".into(),
                    };
                }
                let want = parse_hex8(&line[3..11]);
                let mut next = crc;
                next.update(&buf[good..p]);
                if want != Some(next.finish()) || cmds.is_empty() {
                    break End::Corrupt {
                        offset: good,
                        message: "checksum mismatch".into(),
                    };
                }
                on_record(&Record {
                    buf,
                    args: &args,
                    cmds: &cmds,
                    start: good,
                })?;
                records += 1;
                args.clear();
                cmds.clear();
                crc = next;
                p += ANNOTATION_LEN;
                good = p;
            }
            b'*' => {
                let first = args.len();
                match parse_command(buf, p, &mut args) {
                    Ok((n, q)) => {
                        cmds.push((first, n));
                        p = q;
                    }
                    Err(Step::More) => break torn_or_corrupt(good, p),
                    Err(Step::Bad(at, message)) => {
                        break End::Corrupt {
                            offset: at,
                            message,
                        }
                    }
                }
            }
            _ => {
                break End::Corrupt {
                    offset: p,
                    message: "unexpected byte (not a RESP command)".into(),
                }
            }
        }
    };
    Ok(Parsed {
        records,
        good_len: good,
        crc,
        end,
    })
}

/// Applies verified records to an engine being loaded (see the module
/// comment). Plain `SET key value` records, most of a typical log, are
/// applied straight to the keyspace: what the SET handler would do while
/// loading (no expiry runs, no one watches or subscribes, the LRU stamps
/// are set after loading) without the command dispatch.
pub struct Replayer<'e> {
    engine: &'e Engine,
    /// The replay session (its `db` is the log's `SELECT`ed database).
    pub session: Session,
    /// Commands applied so far.
    pub applied: u64,
}

impl<'e> Replayer<'e> {
    /// A replayer for `engine` (whose state is locked by the caller).
    pub fn new(engine: &'e Engine) -> Replayer<'e> {
        Replayer {
            engine,
            session: super::replay_session(engine),
            applied: 0,
        }
    }

    /// Applies one record of segment `path` (its bytes `rec` refers to).
    pub fn apply(
        &mut self,
        st: &mut State,
        rec: &Record<'_, '_>,
        path: &Path,
    ) -> Result<(), OpenError> {
        let session = &mut self.session;
        let mut argv: [&[u8]; 3] = [&[]; 3];
        let mut long: Vec<&[u8]> = Vec::new();
        let mut in_multi = false;
        for i in 0..rec.len() {
            let cmd = rec.command(i);
            let offset = cmd[0].0 as u64;
            let argv: &[&[u8]] = if cmd.len() <= 3 {
                for (a, &r) in argv.iter_mut().zip(cmd) {
                    *a = rec.arg(r);
                }
                &argv[..cmd.len()]
            } else {
                long.clear();
                long.extend(cmd.iter().map(|&r| rec.arg(r)));
                &long
            };
            let name = argv[0];
            if argv.len() == 3 && eq_ic(name, "set") {
                let db = &mut st.dbs[session.db];
                if db.is_empty() {
                    // Pre-size from what is left of the segment: a plain
                    // SET record takes at least ~40 bytes, 60+ with a
                    // usual key and value. An over-estimate is given back
                    // after loading (`Db::shrink_to_fit`).
                    let left = rec.buf.len() - rec.start;
                    db.reserve((left / 64).min(RESERVE_CAP));
                }
                set_plain(db, argv[1], argv[2]);
                st.dirty += 1;
                self.applied += 1;
                continue;
            }
            if eq_ic(name, "select") && argv.len() == 2 {
                let db = crate::util::parse_i64_strict(argv[1])
                    .filter(|d| (0..crate::engine::NUM_DBS as i64).contains(d));
                match db {
                    Some(d) => session.db = d as usize,
                    None => {
                        return Err(OpenError::Corrupt {
                            file: path.to_path_buf(),
                            offset,
                            message: "SELECT of an invalid database".into(),
                        })
                    }
                }
                continue;
            }
            if eq_ic(name, "multi") && argv.len() == 1 {
                in_multi = true;
                continue;
            }
            if eq_ic(name, "exec") && argv.len() == 1 && in_multi {
                in_multi = false;
                continue;
            }
            if let Err(reply) = self.engine.check(argv) {
                return Err(OpenError::Corrupt {
                    file: path.to_path_buf(),
                    offset,
                    message: format!("cannot replay command: {reply:?}"),
                });
            }
            // Errors (WRONGTYPE and the like) are ignored, as Redis does
            // while loading: the command failed the first time too.
            let _ = self.engine.execute_locked(st, session, argv);
            self.applied += 1;
        }
        if in_multi {
            // The writer never splits a MULTI block across records.
            return Err(OpenError::Corrupt {
                file: path.to_path_buf(),
                offset: rec.start as u64,
                message: "MULTI without EXEC".into(),
            });
        }
        Ok(())
    }
}

/// The most keys a log's size makes a database reserve at once.
const RESERVE_CAP: usize = 1 << 24;

/// `SET key value` while loading: the value replaces whatever the key
/// held, of any type, and its expiry is cleared (as the SET handler does;
/// no expiry runs while loading, so an existing entry is live).
fn set_plain(db: &mut Db, key: &[u8], value: &[u8]) {
    let value = Value::Str(Sso::new(value));
    match db.find(key) {
        Some(pos) => {
            db.at_mut(pos).value = value;
            db.set_expire(pos, 0);
        }
        None => {
            db.insert_new(key, value, 0);
        }
    }
}

/// Replays `buf` (one whole segment, file `path`) into the engine: parses
/// and applies each record; returns how the segment ended.
pub fn replay_segment(
    replayer: &mut Replayer<'_>,
    st: &mut State,
    buf: &[u8],
    path: &Path,
) -> Result<Parsed, OpenError> {
    parse_with(buf, |rec| replayer.apply(st, rec, path))
}
