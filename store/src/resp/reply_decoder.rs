//! Incremental decoding of server replies (RESP2 and RESP3) into [`Reply`],
//! for a Rust-side client (sync with a remote node, tests).
//!
//! The decoder keeps the aggregates it has started on a stack, so a large
//! reply arriving over many reads is scanned once. Limits: nesting depth,
//! bulk length, aggregate length.
//!
//! Mapping of RESP3 types without a `Reply` variant of their own: big
//! numbers (`(`) become bulk strings, blob errors (`!`) become errors, and
//! attributes (`|`) are read and dropped. A verbatim string (`=`) loses its
//! three-letter format. `_`, `$-1` become `Nil`; `*-1` becomes `NilArray`.

use super::request::memchr;
use crate::reply::Reply;

/// Limits of the reply decoder.
#[derive(Clone, Copy, Debug)]
pub struct ReplyLimits {
    /// Deepest nesting of aggregates.
    pub max_depth: usize,
    /// Longest bulk string.
    pub max_bulk: i64,
    /// Most elements in one aggregate.
    pub max_len: i64,
}

impl Default for ReplyLimits {
    fn default() -> ReplyLimits {
        ReplyLimits {
            max_depth: 128,
            max_bulk: 512 * 1024 * 1024,
            max_len: i32::MAX as i64,
        }
    }
}

/// A malformed reply stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplyError(pub String);

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReplyError {}

fn bad(what: impl Into<String>) -> ReplyError {
    ReplyError(format!("Protocol error: {}", what.into()))
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Kind {
    Array,
    Map,
    Set,
    Push,
    Attribute,
}

struct Agg {
    kind: Kind,
    /// Elements still expected (a map counts keys and values).
    want: usize,
    items: Vec<Reply>,
}

/// Decodes a stream of server replies. Feed bytes, then call
/// [`ReplyDecoder::next_reply`] until it returns `Ok(None)`.
#[derive(Default)]
pub struct ReplyDecoder {
    buf: Vec<u8>,
    pos: usize,
    stack: Vec<Agg>,
    limits: Option<ReplyLimits>,
    /// Bytes after `pos` already searched for CR in vain.
    scanned: usize,
}

impl ReplyDecoder {
    /// A decoder with default limits.
    pub fn new() -> ReplyDecoder {
        ReplyDecoder::default()
    }

    /// A decoder with the given limits.
    pub fn with_limits(limits: ReplyLimits) -> ReplyDecoder {
        ReplyDecoder {
            limits: Some(limits),
            ..ReplyDecoder::default()
        }
    }

    /// Appends bytes received from the server.
    pub fn feed(&mut self, data: &[u8]) {
        if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(data);
    }

    /// Bytes buffered and not yet decoded.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// True when no reply is partly decoded and no bytes are waiting.
    pub fn is_idle(&self) -> bool {
        self.stack.is_empty() && self.buffered() == 0
    }

    /// The next complete reply, `Ok(None)` when more bytes are needed. After
    /// an error the stream is unusable.
    pub fn next_reply(&mut self) -> Result<Option<Reply>, ReplyError> {
        let limits = self.limits.unwrap_or_default();
        loop {
            let Some(item) = self.element(&limits)? else {
                return Ok(None);
            };
            let mut value = match item {
                Element::Value(v) => v,
                Element::Skip => continue,
                Element::Open(kind, n) => {
                    if self.stack.len() >= limits.max_depth {
                        return Err(bad("too deeply nested reply"));
                    }
                    self.stack.push(Agg {
                        kind,
                        want: n,
                        items: Vec::with_capacity(n.min(1024)),
                    });
                    continue;
                }
            };
            // Hand the value to the enclosing aggregates, closing the ones
            // that are complete.
            loop {
                let Some(top) = self.stack.last_mut() else {
                    return Ok(Some(value));
                };
                top.items.push(value);
                top.want -= 1;
                if top.want > 0 {
                    break;
                }
                let agg = self.stack.pop().expect("non-empty stack");
                match close(agg) {
                    Some(v) => value = v,
                    // An attribute is dropped: it annotates what follows.
                    None => break,
                }
            }
        }
    }

    /// Reads one scalar or aggregate header.
    fn element(&mut self, limits: &ReplyLimits) -> Result<Option<Element>, ReplyError> {
        let rest = &self.buf[self.pos..];
        if rest.is_empty() {
            return Ok(None);
        }
        let Some(cr) = memchr(b'\r', &rest[self.scanned..]).map(|i| i + self.scanned) else {
            self.scanned = rest.len();
            return Ok(None);
        };
        self.scanned = 0;
        if cr + 1 >= rest.len() {
            return Ok(None);
        }
        if rest[cr + 1] != b'\n' {
            return Err(bad("expected CRLF after a line"));
        }
        if cr == 0 {
            return Err(bad("empty reply line"));
        }
        let tag = rest[0];
        let line = &rest[1..cr];
        let after_line = self.pos + cr + 2;
        let text = |l: &[u8]| String::from_utf8_lossy(l).into_owned();
        let el = match tag {
            b'+' => Element::Value(Reply::Status(text(line).into())),
            b'-' => Element::Value(Reply::Error(text(line))),
            b':' => Element::Value(Reply::Int(parse_int(line)?)),
            b'#' => match line {
                b"t" => Element::Value(Reply::Bool(true)),
                b"f" => Element::Value(Reply::Bool(false)),
                _ => return Err(bad("invalid boolean")),
            },
            b',' => Element::Value(Reply::Double(parse_double(line)?)),
            b'_' => {
                if !line.is_empty() {
                    return Err(bad("invalid null"));
                }
                Element::Value(Reply::Nil)
            }
            b'(' => {
                let ok = !line.is_empty()
                    && line
                        .iter()
                        .enumerate()
                        .all(|(i, c)| c.is_ascii_digit() || (i == 0 && *c == b'-'));
                if !ok {
                    return Err(bad("invalid big number"));
                }
                Element::Value(Reply::Bulk(crate::reply::Bulk::Owned(line.to_vec())))
            }
            b'$' | b'=' | b'!' => {
                let n = parse_int(line)?;
                if n == -1 && tag == b'$' {
                    self.pos = after_line;
                    return Ok(Some(Element::Value(Reply::Nil)));
                }
                if n < 0 || n > limits.max_bulk {
                    return Err(bad("invalid bulk length"));
                }
                let n = n as usize;
                let body = &rest[cr + 2..];
                if body.len() < n + 2 {
                    return Ok(None);
                }
                if &body[n..n + 2] != b"\r\n" {
                    return Err(bad("bulk string not terminated by CRLF"));
                }
                let data = &body[..n];
                let v = match tag {
                    b'$' => Reply::Bulk(crate::reply::Bulk::Owned(data.to_vec())),
                    b'!' => Reply::Error(text(data)),
                    _ => {
                        if n < 4 || data[3] != b':' {
                            return Err(bad("invalid verbatim string"));
                        }
                        Reply::Verbatim(text(&data[4..]))
                    }
                };
                self.pos = after_line + n + 2;
                return Ok(Some(Element::Value(v)));
            }
            b'*' | b'%' | b'~' | b'>' | b'|' => {
                let n = parse_int(line)?;
                if n == -1 && tag == b'*' {
                    self.pos = after_line;
                    return Ok(Some(Element::Value(Reply::NilArray)));
                }
                if n < 0 || n > limits.max_len {
                    return Err(bad("invalid aggregate length"));
                }
                let kind = match tag {
                    b'*' => Kind::Array,
                    b'%' => Kind::Map,
                    b'~' => Kind::Set,
                    b'>' => Kind::Push,
                    _ => Kind::Attribute,
                };
                let count = if matches!(kind, Kind::Map | Kind::Attribute) {
                    n as usize * 2
                } else {
                    n as usize
                };
                self.pos = after_line;
                if count == 0 {
                    let empty = Agg {
                        kind,
                        want: 0,
                        items: Vec::new(),
                    };
                    return Ok(Some(match close(empty) {
                        Some(v) => Element::Value(v),
                        // An empty attribute annotates nothing.
                        None => Element::Skip,
                    }));
                }
                return Ok(Some(Element::Open(kind, count)));
            }
            other => {
                return Err(bad(format!(
                    "got '{}' as reply type byte",
                    (other as char).escape_default()
                )))
            }
        };
        self.pos = after_line;
        Ok(Some(el))
    }
}

enum Element {
    Value(Reply),
    Skip,
    Open(Kind, usize),
}

/// Builds the reply of a complete aggregate; `None` for an attribute.
fn close(agg: Agg) -> Option<Reply> {
    Some(match agg.kind {
        Kind::Array => Reply::Array(agg.items),
        Kind::Set => Reply::Set(agg.items),
        Kind::Push => Reply::Push(agg.items),
        Kind::Map => {
            let mut pairs = Vec::with_capacity(agg.items.len() / 2);
            let mut it = agg.items.into_iter();
            while let (Some(k), Some(v)) = (it.next(), it.next()) {
                pairs.push((k, v));
            }
            Reply::Map(pairs)
        }
        Kind::Attribute => return None,
    })
}

fn parse_int(line: &[u8]) -> Result<i64, ReplyError> {
    std::str::from_utf8(line)
        .ok()
        .filter(|s| !s.starts_with('+'))
        .and_then(|s| s.parse::<i64>().ok())
        .ok_or_else(|| bad("invalid integer"))
}

fn parse_double(line: &[u8]) -> Result<f64, ReplyError> {
    let s = std::str::from_utf8(line).map_err(|_| bad("invalid double"))?;
    match s {
        "inf" | "+inf" => Ok(f64::INFINITY),
        "-inf" => Ok(f64::NEG_INFINITY),
        "nan" | "-nan" => Ok(f64::NAN),
        _ => s
            .parse::<f64>()
            .ok()
            .filter(|_| {
                !s.is_empty()
                    && !s.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E')
            })
            .ok_or_else(|| bad("invalid double")),
    }
}

/// Decodes every complete reply in `bytes` (a convenience for tests).
pub fn decode_all(bytes: &[u8]) -> Result<Vec<Reply>, ReplyError> {
    let mut d = ReplyDecoder::new();
    d.feed(bytes);
    let mut out = Vec::new();
    while let Some(r) = d.next_reply()? {
        out.push(r);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resp3_types() {
        let got = decode_all(
            b"%1\r\n+a\r\n~2\r\n:1\r\n,1.5\r\n>1\r\n#t\r\n_\r\n=6\r\ntxt:hi\r\n(123\r\n!3\r\nERR\r\n|1\r\n+k\r\n+v\r\n:7\r\n*-1\r\n$-1\r\n*0\r\n",
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                Reply::Map(vec![(
                    Reply::status("a"),
                    Reply::Set(vec![Reply::Int(1), Reply::Double(1.5)])
                )]),
                Reply::Push(vec![Reply::Bool(true)]),
                Reply::Nil,
                Reply::Verbatim("hi".into()),
                Reply::text("123"),
                Reply::err("ERR"),
                Reply::Int(7),
                Reply::NilArray,
                Reply::Nil,
                Reply::Array(vec![]),
            ]
        );
    }

    #[test]
    fn partial_reads() {
        let bytes = b"*3\r\n$5\r\nhello\r\n*1\r\n:-12\r\n-ERR bad\r\n+OK\r\n";
        let mut d = ReplyDecoder::new();
        let mut got = Vec::new();
        for b in bytes.iter() {
            d.feed(&[*b]);
            while let Some(r) = d.next_reply().unwrap() {
                got.push(r);
            }
        }
        assert_eq!(
            got,
            vec![
                Reply::Array(vec![
                    Reply::text("hello"),
                    Reply::Array(vec![Reply::Int(-12)]),
                    Reply::err("ERR bad")
                ]),
                Reply::ok()
            ]
        );
        assert!(d.is_idle());
    }

    #[test]
    fn malformed() {
        assert!(decode_all(b"?x\r\n").is_err());
        assert!(decode_all(b"\r\n").is_err());
        assert!(decode_all(b":12a\r\n").is_err());
        assert!(decode_all(b"$3\r\nabcd\r\n").is_err());
        assert!(decode_all(b"$-2\r\n").is_err());
        assert!(decode_all(b"+a\rb\r\n").is_err());
        let deep = "*1\r\n".repeat(200);
        assert!(decode_all(deep.as_bytes()).is_err());
    }
}
