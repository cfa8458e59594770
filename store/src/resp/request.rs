//! Incremental decoding of client requests, as Redis 7.0's
//! `processInputBuffer` does it: multibulk commands (`*2\r\n$3\r\nGET\r\n...`)
//! and inline commands (`GET key\r\n`), partial frames across reads, many
//! frames per read, Redis's size limits and its exact `Protocol error` texts.
//!
//! Usage: append bytes with [`RequestDecoder::feed`] or
//! [`RequestDecoder::read_from`], then call [`RequestDecoder::parse`] to
//! decode the complete commands buffered so far into a batch, and read each
//! with [`RequestDecoder::argv`].
//!
//! Invariant: the buffer is only moved (compacted) by `feed`/`read_from`,
//! never by `parse`; a batch's argument spans therefore stay valid until the
//! next `feed`/`read_from` or `parse`.

use crate::util::parse_i64_strict;
use std::io::{self, Read};

/// Longest inline request, and longest `*`/`$` count line, before Redis
/// gives up (`PROTO_INLINE_MAX_SIZE`).
pub const INLINE_MAX: usize = 64 * 1024;
/// Longest multibulk count an unauthenticated client may send.
pub const UNAUTH_MAX_MULTIBULK: i64 = 10;
/// Longest bulk an unauthenticated client may send.
pub const UNAUTH_MAX_BULK: i64 = 16384;
/// How much a read asks for at least.
const READ_CHUNK: usize = 16 * 1024;
/// Bulks at least this large get their whole buffer reserved up front.
const BIG_ARG: usize = 32 * 1024;

/// A malformed request. The connection gets `-ERR <message>` and is closed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(what: &str) -> ProtocolError {
        ProtocolError(format!("Protocol error: {what}"))
    }

    /// The error reply text, with Redis's `ERR` prefix.
    pub fn reply_text(&self) -> String {
        format!("ERR {}", self.0)
    }
}

impl std::fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ProtocolError {}

/// Limits that apply while decoding.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// `proto-max-bulk-len`: the longest bulk argument.
    pub max_bulk: i64,
    /// True while the client must still authenticate: counts above 10 and
    /// bulks above 16 KiB are then refused (Redis's defence against
    /// unauthenticated memory use).
    pub auth_required: bool,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_bulk: 512 * 1024 * 1024,
            auth_required: false,
        }
    }
}

/// Where an argument's bytes are: in the input buffer or in the arena that
/// holds unescaped inline arguments.
#[derive(Clone, Copy, Debug)]
struct Span {
    start: usize,
    end: usize,
    arena: bool,
}

/// The multibulk command being decoded across reads.
#[derive(Clone, Copy, Debug)]
struct Partial {
    /// Where the command began in the buffer (kept on compaction).
    start: usize,
    /// Arguments still to read.
    remaining: usize,
    /// Length of the bulk whose header was read, if any.
    bulklen: Option<usize>,
    /// Index in `spans` of this command's first argument.
    first_span: usize,
}

/// Decodes client requests incrementally. See the module documentation.
#[derive(Default)]
pub struct RequestDecoder {
    buf: Vec<u8>,
    /// Start of the bytes not yet decoded.
    pos: usize,
    partial: Option<Partial>,
    spans: Vec<Span>,
    /// `(first span, argc)` of each decoded command of the batch.
    cmds: Vec<(usize, usize)>,
    arena: Vec<u8>,
    /// Bytes a pending big bulk still needs (a read-size hint).
    want: usize,
    /// Bytes after `pos` already searched for the line end in vain, so a
    /// line trickling in byte by byte is scanned once, not quadratically.
    scanned: usize,
}

impl RequestDecoder {
    /// An empty decoder.
    pub fn new() -> RequestDecoder {
        RequestDecoder::default()
    }

    /// Drops the decoded batch and moves undecoded bytes to the front.
    fn compact(&mut self) {
        self.cmds.clear();
        self.arena.clear();
        let keep = match &self.partial {
            Some(p) => p.start,
            None => self.pos,
        };
        if let Some(p) = &mut self.partial {
            // Spans of the unfinished command are rebased; earlier ones go.
            let first = p.first_span;
            self.spans.drain(..first);
            p.first_span = 0;
            p.start -= keep;
            for s in &mut self.spans {
                s.start -= keep;
                s.end -= keep;
            }
        } else {
            self.spans.clear();
        }
        if keep > 0 {
            self.buf.drain(..keep);
            self.pos -= keep;
        }
    }

    /// Appends bytes received from the client.
    pub fn feed(&mut self, data: &[u8]) {
        self.compact();
        self.buf.extend_from_slice(data);
    }

    /// Reads once from `r` into the buffer; returns the byte count (0 at end
    /// of stream).
    pub fn read_from<R: Read>(&mut self, r: &mut R) -> io::Result<usize> {
        self.compact();
        let len = self.buf.len();
        let room = READ_CHUNK.max(self.want.min(1 << 30));
        self.buf.resize(len + room, 0);
        match r.read(&mut self.buf[len..]) {
            Ok(n) => {
                self.buf.truncate(len + n);
                Ok(n)
            }
            Err(e) => {
                self.buf.truncate(len);
                Err(e)
            }
        }
    }

    /// Bytes received and not yet decoded (Redis's query buffer length).
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.partial.map_or(self.pos, |p| p.start)
    }

    /// True when nothing is buffered.
    pub fn is_drained(&self) -> bool {
        self.buffered() == 0
    }

    /// Number of commands in the current batch.
    pub fn batch_len(&self) -> usize {
        self.cmds.len()
    }

    /// Fills `argv` with the arguments of the batch's command `i`.
    pub fn argv<'a>(&'a self, i: usize, argv: &mut Vec<&'a [u8]>) {
        argv.clear();
        let (first, argc) = self.cmds[i];
        for s in &self.spans[first..first + argc] {
            let src = if s.arena { &self.arena } else { &self.buf };
            argv.push(&src[s.start..s.end]);
        }
    }

    /// The batch's command `i` as owned arguments.
    pub fn argv_owned(&self, i: usize) -> Vec<Vec<u8>> {
        let mut v = Vec::new();
        self.argv(i, &mut v);
        v.into_iter().map(|a| a.to_vec()).collect()
    }

    /// Decodes up to `max` complete commands into a new batch (the previous
    /// batch is dropped). On a protocol error the batch still holds the
    /// commands that came before it, which the caller runs before replying
    /// with the error and closing.
    pub fn parse(&mut self, limits: &Limits, max: usize) -> Result<(), ProtocolError> {
        // Keep the spans of an unfinished command; drop the rest.
        match &mut self.partial {
            Some(p) => {
                self.spans.drain(..p.first_span);
                p.first_span = 0;
            }
            None => self.spans.clear(),
        }
        self.cmds.clear();
        self.arena.clear();
        while self.cmds.len() < max {
            if self.partial.is_none() {
                if self.pos >= self.buf.len() {
                    break;
                }
                if self.buf[self.pos] == b'*' {
                    if !self.multibulk_header(limits)? {
                        break;
                    }
                    continue;
                }
                if !self.inline()? {
                    break;
                }
                continue;
            }
            if !self.multibulk_args(limits)? {
                break;
            }
        }
        Ok(())
    }

    /// Finds `c` at or after `pos`, skipping what earlier calls searched.
    fn find(&mut self, c: u8) -> Option<usize> {
        let from = self.pos + self.scanned;
        match memchr(c, &self.buf[from..]) {
            Some(i) => {
                self.scanned = 0;
                Some(from - self.pos + i)
            }
            None => {
                self.scanned = self.buf.len() - self.pos;
                None
            }
        }
    }

    /// Decodes one inline line; false when more bytes are needed.
    fn inline(&mut self) -> Result<bool, ProtocolError> {
        let found = self.find(b'\n');
        let rest = &self.buf[self.pos..];
        let Some(nl) = found else {
            if rest.len() > INLINE_MAX {
                return Err(ProtocolError::new("too big inline request"));
            }
            return Ok(false);
        };
        let mut line = &rest[..nl];
        if line.last() == Some(&b'\r') {
            line = &line[..line.len() - 1];
        }
        let args =
            split_args(line).ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))?;
        self.pos += nl + 1;
        if args.is_empty() {
            return Ok(true);
        }
        let first = self.spans.len();
        for a in &args {
            let start = self.arena.len();
            self.arena.extend_from_slice(a);
            self.spans.push(Span {
                start,
                end: self.arena.len(),
                arena: true,
            });
        }
        self.cmds.push((first, args.len()));
        Ok(true)
    }

    /// Reads a `*<n>\r\n` line; false when more bytes are needed.
    fn multibulk_header(&mut self, limits: &Limits) -> Result<bool, ProtocolError> {
        let found = self.find(b'\r');
        let rest = &self.buf[self.pos..];
        let Some(cr) = found else {
            if rest.len() > INLINE_MAX {
                return Err(ProtocolError::new("too big mbulk count string"));
            }
            return Ok(false);
        };
        // The line must be followed by its '\n' (not checked, as in Redis).
        if cr + 2 > rest.len() {
            return Ok(false);
        }
        let n = match parse_i64_strict(&rest[1..cr]) {
            Some(n) if n <= i32::MAX as i64 => n,
            _ => return Err(ProtocolError::new("invalid multibulk length")),
        };
        if n > UNAUTH_MAX_MULTIBULK && limits.auth_required {
            return Err(ProtocolError::new("unauthenticated multibulk length"));
        }
        let start = self.pos;
        self.pos += cr + 2;
        if n > 0 {
            self.partial = Some(Partial {
                start,
                remaining: n as usize,
                bulklen: None,
                first_span: self.spans.len(),
            });
        }
        Ok(true)
    }

    /// Reads the arguments of the pending multibulk command; false when more
    /// bytes are needed, true when the command is complete.
    fn multibulk_args(&mut self, limits: &Limits) -> Result<bool, ProtocolError> {
        let mut p = self.partial.expect("a multibulk command is pending");
        let result = self.read_bulks(&mut p, limits);
        match result {
            Ok(true) => {
                self.partial = None;
                self.want = 0;
                let argc = self.spans.len() - p.first_span;
                self.cmds.push((p.first_span, argc));
                Ok(true)
            }
            other => {
                self.partial = Some(p);
                other
            }
        }
    }

    fn read_bulks(&mut self, p: &mut Partial, limits: &Limits) -> Result<bool, ProtocolError> {
        while p.remaining > 0 {
            let len = match p.bulklen {
                Some(len) => len,
                None => {
                    let found = self.find(b'\r');
                    let rest = &self.buf[self.pos..];
                    let Some(cr) = found else {
                        if rest.len() > INLINE_MAX {
                            return Err(ProtocolError::new("too big bulk count string"));
                        }
                        return Ok(false);
                    };
                    if cr + 2 > rest.len() {
                        return Ok(false);
                    }
                    if rest[0] != b'$' {
                        return Err(ProtocolError(format!(
                            "Protocol error: expected '$', got '{}'",
                            rest[0] as char
                        )));
                    }
                    let n = match parse_i64_strict(&rest[1..cr]) {
                        Some(n) if n >= 0 && n <= limits.max_bulk => n,
                        _ => return Err(ProtocolError::new("invalid bulk length")),
                    };
                    if n > UNAUTH_MAX_BULK && limits.auth_required {
                        return Err(ProtocolError::new("unauthenticated bulk length"));
                    }
                    self.pos += cr + 2;
                    p.bulklen = Some(n as usize);
                    n as usize
                }
            };
            let avail = self.buf.len() - self.pos;
            if avail < len + 2 {
                if len >= BIG_ARG {
                    self.want = len + 2 - avail;
                }
                return Ok(false);
            }
            // The two bytes after the bulk are skipped unchecked, as Redis does.
            self.spans.push(Span {
                start: self.pos,
                end: self.pos + len,
                arena: false,
            });
            self.pos += len + 2;
            p.bulklen = None;
            p.remaining -= 1;
        }
        Ok(true)
    }
}

/// Position of the first `c` in `s`.
#[inline]
pub(crate) fn memchr(c: u8, s: &[u8]) -> Option<usize> {
    memchr::memchr(c, s)
}

fn is_hex(c: u8) -> bool {
    c.is_ascii_hexdigit()
}

fn hex_val(c: u8) -> u8 {
    match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => c - b'A' + 10,
    }
}

/// Whitespace as C's `isspace`.
fn is_space(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Splits an inline request line into arguments with Redis's
/// `sdssplitargs` rules: whitespace separates; `"..."` understands `\n`,
/// `\r`, `\t`, `\b`, `\a`, `\xHH` and `\<any>`; `'...'` understands `\'`; a
/// closing quote must be followed by whitespace or the end; a NUL byte ends
/// the line. `None` for unbalanced quotes.
pub fn split_args(line: &[u8]) -> Option<Vec<Vec<u8>>> {
    let line = match memchr(0, line) {
        Some(z) => &line[..z],
        None => line,
    };
    let at = |i: usize| line.get(i).copied().unwrap_or(0);
    let mut args = Vec::new();
    let mut i = 0;
    loop {
        while i < line.len() && is_space(line[i]) {
            i += 1;
        }
        if i >= line.len() {
            return Some(args);
        }
        let (mut inq, mut insq) = (false, false);
        let mut cur = Vec::new();
        loop {
            let c = at(i);
            if inq {
                if c == b'\\' && at(i + 1) == b'x' && is_hex(at(i + 2)) && is_hex(at(i + 3)) {
                    cur.push(hex_val(at(i + 2)) * 16 + hex_val(at(i + 3)));
                    i += 3;
                } else if c == b'\\' && at(i + 1) != 0 {
                    i += 1;
                    cur.push(match at(i) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 8,
                        b'a' => 7,
                        other => other,
                    });
                } else if c == b'"' {
                    if at(i + 1) != 0 && !is_space(at(i + 1)) {
                        return None;
                    }
                    i += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    cur.push(c);
                }
            } else if insq {
                if c == b'\\' && at(i + 1) == b'\'' {
                    i += 1;
                    cur.push(b'\'');
                } else if c == b'\'' {
                    if at(i + 1) != 0 && !is_space(at(i + 1)) {
                        return None;
                    }
                    i += 1;
                    break;
                } else if c == 0 {
                    return None;
                } else {
                    cur.push(c);
                }
            } else {
                match c {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => break,
                    b'"' => inq = true,
                    b'\'' => insq = true,
                    _ => cur.push(c),
                }
            }
            i += 1;
        }
        args.push(cur);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8], limits: &Limits) -> (Vec<Vec<Vec<u8>>>, Option<String>) {
        let mut d = RequestDecoder::new();
        d.feed(input);
        let r = d.parse(limits, usize::MAX);
        let cmds = (0..d.batch_len()).map(|i| d.argv_owned(i)).collect();
        (cmds, r.err().map(|e| e.0))
    }

    fn err_of(input: &[u8]) -> Option<String> {
        decode_all(input, &Limits::default()).1
    }

    #[test]
    fn multibulk_and_inline() {
        let (cmds, err) = decode_all(
            b"*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nPING\r\n\r\n  SET  'a b'  \"c\\x41\\n\"\r\n*0\r\n*-5\r\n",
            &Limits::default(),
        );
        assert_eq!(err, None);
        assert_eq!(
            cmds,
            vec![
                vec![b"ECHO".to_vec(), b"hi".to_vec()],
                vec![b"PING".to_vec()],
                vec![b"SET".to_vec(), b"a b".to_vec(), b"cA\n".to_vec()],
            ]
        );
    }

    #[test]
    fn byte_at_a_time() {
        let input = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\nGET k\n";
        let mut d = RequestDecoder::new();
        let mut got = Vec::new();
        for &b in input.iter() {
            d.feed(&[b]);
            d.parse(&Limits::default(), usize::MAX).unwrap();
            for i in 0..d.batch_len() {
                got.push(d.argv_owned(i));
            }
        }
        assert_eq!(got.len(), 2);
        assert_eq!(got[0][2], b"hello");
        assert_eq!(got[1], vec![b"GET".to_vec(), b"k".to_vec()]);
        assert!(d.is_drained());
    }

    #[test]
    fn max_per_batch() {
        let mut d = RequestDecoder::new();
        d.feed(b"PING\r\nPING\r\nPING\r\n");
        d.parse(&Limits::default(), 2).unwrap();
        assert_eq!(d.batch_len(), 2);
        d.parse(&Limits::default(), 2).unwrap();
        assert_eq!(d.batch_len(), 1);
        d.parse(&Limits::default(), 2).unwrap();
        assert_eq!(d.batch_len(), 0);
    }

    #[test]
    fn redis_protocol_errors() {
        let e = |s: &str| Some(format!("Protocol error: {s}"));
        assert_eq!(err_of(b"*3000000000\r\n"), e("invalid multibulk length"));
        assert_eq!(err_of(b"*2147483648\r\n"), e("invalid multibulk length"));
        assert_eq!(err_of(b"*2147483647\r\n"), None);
        assert_eq!(err_of(b"*x\r\n"), e("invalid multibulk length"));
        assert_eq!(err_of(b"*01\r\n"), e("invalid multibulk length"));
        assert_eq!(err_of(b"*+1\r\n"), e("invalid multibulk length"));
        assert_eq!(err_of(b"*\r\n"), e("invalid multibulk length"));
        assert_eq!(err_of(b"*1 \r\n"), e("invalid multibulk length"));
        assert_eq!(err_of(b"*1\r\n$-1\r\n"), e("invalid bulk length"));
        assert_eq!(err_of(b"*1\r\n$\r\n"), e("invalid bulk length"));
        assert_eq!(err_of(b"*1\r\n$536870913\r\n"), e("invalid bulk length"));
        assert_eq!(err_of(b"*1\r\n$536870912\r\n"), None);
        assert_eq!(err_of(b"*1\r\n+3\r\n"), e("expected '$', got '+'"));
        assert_eq!(err_of(b"PING \"a\r\n"), e("unbalanced quotes in request"));
        assert_eq!(
            err_of(b"ECHO \"a\"b\r\n"),
            e("unbalanced quotes in request")
        );
        assert_eq!(err_of(b"ECHO a\"b\r\n"), e("unbalanced quotes in request"));
        assert_eq!(err_of(b"ECHO ''x\r\n"), e("unbalanced quotes in request"));
        assert_eq!(err_of(&[b'x'; 70000]), e("too big inline request"));
        let mut big = b"*".to_vec();
        big.extend([b'1'; 70000]);
        assert_eq!(err_of(&big), e("too big mbulk count string"));
        let mut big = b"*1\r\n$".to_vec();
        big.extend([b'1'; 70000]);
        assert_eq!(err_of(&big), e("too big bulk count string"));
    }

    #[test]
    fn unauthenticated_limits() {
        let l = Limits {
            auth_required: true,
            ..Limits::default()
        };
        let e = |s: &str| Some(format!("Protocol error: {s}"));
        assert_eq!(
            decode_all(b"*11\r\n", &l).1,
            e("unauthenticated multibulk length")
        );
        assert_eq!(decode_all(b"*10\r\n", &l).1, None);
        assert_eq!(
            decode_all(b"*1\r\n$16385\r\n", &l).1,
            e("unauthenticated bulk length")
        );
        assert_eq!(decode_all(b"*1\r\n$16384\r\n", &l).1, None);
    }

    #[test]
    fn commands_before_an_error_are_kept() {
        let (cmds, err) = decode_all(b"*1\r\n$4\r\nPING\r\n*1\r\nfoo\r\n", &Limits::default());
        assert_eq!(cmds, vec![vec![b"PING".to_vec()]]);
        assert_eq!(err.unwrap(), "Protocol error: expected '$', got 'f'");
    }

    #[test]
    fn redis_quirks() {
        // The two bytes after a bulk are skipped unchecked.
        let (cmds, _) = decode_all(b"*1\r\n$4\r\nPINGxx", &Limits::default());
        assert_eq!(cmds, vec![vec![b"PING".to_vec()]]);
        // An inline line may end in a bare LF; '\r' without '\n' waits.
        let (cmds, _) = decode_all(b"ECHO a\nPING\r", &Limits::default());
        assert_eq!(cmds, vec![vec![b"ECHO".to_vec(), b"a".to_vec()]]);
        assert_eq!(split_args(b"a\0b c").unwrap(), vec![b"a".to_vec()]);
        assert_eq!(split_args(b"\"a\\zb\"").unwrap(), vec![b"azb".to_vec()]);
        assert_eq!(split_args(b"'a\\'b'").unwrap(), vec![b"a'b".to_vec()]);
        assert_eq!(split_args(b"\"\"").unwrap(), vec![Vec::<u8>::new()]);
        assert_eq!(split_args(b"a\"b c\"").unwrap(), vec![b"ab c".to_vec()]);
    }
}
