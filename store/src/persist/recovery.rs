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
//! Replay runs each command through `Engine::execute_locked` on a replay
//! session, with expiry suspended (the clock reads 0 while loading, as
//! Redis never expires keys while loading), so a replay reproduces exactly
//! the state the commands built the first time.

use super::aof::{ANNOTATION, ANNOTATION_LEN};
use super::crc::Crc32;
use super::OpenError;
use crate::engine::{Engine, Session, State};
use crate::util::eq_ic;
use std::path::Path;

/// One record: its commands (each a list of argument ranges in the buffer).
pub struct Record {
    /// The commands of the record, each a list of `(start, end)` ranges.
    pub commands: Vec<Vec<(usize, usize)>>,
    /// Offset of the record's first byte.
    pub start: usize,
}

/// The outcome of parsing a segment.
pub struct Parsed {
    /// Whole, verified records.
    pub records: Vec<Record>,
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
    if line.is_empty() || line.len() > 12 || !line.iter().all(u8::is_ascii_digit) {
        return Err(Step::Bad(at, "bad length".into()));
    }
    let n: usize = std::str::from_utf8(line).unwrap().parse().unwrap();
    if n > max {
        return Err(Step::Bad(at, "length out of range".into()));
    }
    Ok(n)
}

/// Parses one command at `p`: `*N\r\n` then N bulk strings.
fn parse_command(buf: &[u8], p: usize) -> Result<(Vec<(usize, usize)>, usize), Step> {
    let (line, mut q) = read_line(buf, p)?;
    if line.first() != Some(&b'*') {
        return Err(Step::Bad(p, "expected '*'".into()));
    }
    let n = parse_len(&line[1..], p, 1 << 20)?;
    if n == 0 {
        return Err(Step::Bad(p, "empty command".into()));
    }
    let mut args = Vec::with_capacity(n);
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
    Ok((args, q))
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

/// Parses a whole segment.
pub fn parse(buf: &[u8]) -> Parsed {
    let mut records = Vec::new();
    let mut crc = Crc32::new();
    let mut good = 0usize;
    let mut pending: Vec<Vec<(usize, usize)>> = Vec::new();
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
                let want = std::str::from_utf8(&line[3..11])
                    .ok()
                    .and_then(|h| u32::from_str_radix(h, 16).ok());
                let mut next = crc;
                next.update(&buf[good..p]);
                if want != Some(next.finish()) || pending.is_empty() {
                    break End::Corrupt {
                        offset: good,
                        message: "checksum mismatch".into(),
                    };
                }
                records.push(Record {
                    commands: std::mem::take(&mut pending),
                    start: good,
                });
                crc = next;
                p += ANNOTATION_LEN;
                good = p;
            }
            b'*' => match parse_command(buf, p) {
                Ok((args, q)) => {
                    pending.push(args);
                    p = q;
                }
                Err(Step::More) => break torn_or_corrupt(good, p),
                Err(Step::Bad(at, message)) => {
                    break End::Corrupt {
                        offset: at,
                        message,
                    }
                }
            },
            _ => {
                break End::Corrupt {
                    offset: p,
                    message: "unexpected byte (not a RESP command)".into(),
                }
            }
        }
    };
    // A torn tail must be strictly shorter than one record could be, and it
    // must not end in annotation shape (checked above).
    Parsed {
        records,
        good_len: good,
        crc,
        end,
    }
}

/// Replays `records` of `buf` (one segment, file `path`) into the engine.
/// `st` is the engine's locked state; `session` the replay session.
pub fn replay(
    engine: &Engine,
    st: &mut State,
    session: &mut Session,
    buf: &[u8],
    records: &[Record],
    path: &Path,
) -> Result<u64, OpenError> {
    let mut applied = 0u64;
    let mut argv: Vec<&[u8]> = Vec::new();
    for rec in records {
        let mut in_multi = false;
        for cmd in &rec.commands {
            argv.clear();
            argv.extend(cmd.iter().map(|&(s, e)| &buf[s..e]));
            let name = argv[0];
            if eq_ic(name, "select") && argv.len() == 2 {
                let db = crate::util::parse_i64_strict(argv[1])
                    .filter(|d| (0..crate::engine::NUM_DBS as i64).contains(d));
                match db {
                    Some(d) => session.db = d as usize,
                    None => {
                        return Err(OpenError::Corrupt {
                            file: path.to_path_buf(),
                            offset: cmd[0].0 as u64,
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
            if let Err(reply) = engine.check(&argv) {
                return Err(OpenError::Corrupt {
                    file: path.to_path_buf(),
                    offset: cmd[0].0 as u64,
                    message: format!("cannot replay command: {reply:?}"),
                });
            }
            // Errors (WRONGTYPE and the like) are ignored, as Redis does
            // while loading: the command failed the first time too.
            let _ = engine.execute_locked(st, session, &argv);
            applied += 1;
        }
        if in_multi {
            // The writer never splits a MULTI block across records.
            return Err(OpenError::Corrupt {
                file: path.to_path_buf(),
                offset: rec.start as u64,
                message: "MULTI without EXEC".into(),
            });
        }
    }
    Ok(applied)
}
