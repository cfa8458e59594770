//! Encoding a [`Reply`] as RESP2 or RESP3 bytes.
//!
//! RESP3 shapes are downgraded for RESP2 clients exactly as Redis 7.0 does:
//! a map becomes a flat array of key, value, ...; a set and a push become
//! arrays; a double becomes a bulk string formatted with `%.17g`
//! ([`fmt_g17`]); a boolean becomes the integer 1 or 0; a verbatim string
//! becomes a bulk string; `Nil` is `$-1` and `NilArray` is `*-1`.

use crate::reply::Reply;
use crate::util::fmt_g17;

/// Appends `reply` to `out` in protocol `proto` (2 or 3; anything other
/// than 3 is treated as 2).
pub fn encode(reply: &Reply, proto: u8, out: &mut Vec<u8>) {
    let r3 = proto == 3;
    match reply {
        Reply::Status(s) => line(out, b'+', s.as_bytes()),
        Reply::Error(s) => error(out, s.as_bytes()),
        Reply::Int(i) => int_line(out, b':', *i),
        Reply::Bulk(b) => bulk(out, b),
        Reply::Nil => out.extend_from_slice(if r3 { b"_\r\n" } else { b"$-1\r\n" }),
        Reply::NilArray => out.extend_from_slice(if r3 { b"_\r\n" } else { b"*-1\r\n" }),
        Reply::Array(items) => {
            int_line(out, b'*', items.len() as i64);
            items.iter().for_each(|r| encode(r, proto, out));
        }
        Reply::Map(pairs) => {
            if r3 {
                int_line(out, b'%', pairs.len() as i64);
            } else {
                int_line(out, b'*', 2 * pairs.len() as i64);
            }
            for (k, v) in pairs {
                encode(k, proto, out);
                encode(v, proto, out);
            }
        }
        Reply::Set(items) => {
            int_line(out, if r3 { b'~' } else { b'*' }, items.len() as i64);
            items.iter().for_each(|r| encode(r, proto, out));
        }
        Reply::Push(items) => {
            int_line(out, if r3 { b'>' } else { b'*' }, items.len() as i64);
            items.iter().for_each(|r| encode(r, proto, out));
        }
        Reply::Double(d) => {
            let text = fmt_double(*d);
            if r3 {
                line(out, b',', text.as_bytes());
            } else {
                bulk(out, text.as_bytes());
            }
        }
        Reply::Bool(b) => {
            if r3 {
                out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" });
            } else {
                out.extend_from_slice(if *b { b":1\r\n" } else { b":0\r\n" });
            }
        }
        Reply::Verbatim(s) => {
            if r3 {
                int_line(out, b'=', s.len() as i64 + 4);
                out.extend_from_slice(b"txt:");
                out.extend_from_slice(s.as_bytes());
                out.extend_from_slice(b"\r\n");
            } else {
                bulk(out, s.as_bytes());
            }
        }
    }
}

/// Encodes `reply` into a fresh buffer.
pub fn to_bytes(reply: &Reply, proto: u8) -> Vec<u8> {
    let mut out = Vec::new();
    encode(reply, proto, &mut out);
    out
}

/// Encodes a command (`argv`) as a RESP multibulk request, as clients send
/// it and as the append-only log stores it.
pub fn encode_command<A: AsRef<[u8]>>(argv: &[A], out: &mut Vec<u8>) {
    int_line(out, b'*', argv.len() as i64);
    for a in argv {
        bulk(out, a.as_ref());
    }
}

/// A double as Redis 7.0 writes it: `%.17g`, with `inf`, `-inf` and `nan`.
pub fn fmt_double(d: f64) -> String {
    if d.is_nan() {
        "nan".to_string()
    } else {
        fmt_g17(d)
    }
}

fn bulk(out: &mut Vec<u8>, b: &[u8]) {
    int_line(out, b'$', b.len() as i64);
    out.extend_from_slice(b);
    out.extend_from_slice(b"\r\n");
}

/// A `+`/`,` line. CR and LF inside would break the framing; Redis replaces
/// them with spaces in formatted errors, and so do we for every line.
fn line(out: &mut Vec<u8>, tag: u8, text: &[u8]) {
    out.push(tag);
    out.extend(
        text.iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
    );
    out.extend_from_slice(b"\r\n");
}

/// An error line. The reply text carries its prefix (`ERR ...`); one
/// without text gets `ERR`, as Redis's `addReplyError` would add.
fn error(out: &mut Vec<u8>, text: &[u8]) {
    let text = text.strip_prefix(b"-").unwrap_or(text);
    if text.is_empty() {
        out.extend_from_slice(b"-ERR\r\n");
    } else {
        line(out, b'-', text);
    }
}

fn int_line(out: &mut Vec<u8>, tag: u8, v: i64) {
    out.push(tag);
    out.extend_from_slice(itoa_buf(v).as_slice());
    out.extend_from_slice(b"\r\n");
}

/// Decimal digits of `v` without a heap allocation on the hot path.
fn itoa_buf(v: i64) -> SmallDigits {
    let mut d = SmallDigits {
        buf: [0; 20],
        start: 20,
    };
    let neg = v < 0;
    let mut n = v.unsigned_abs();
    loop {
        d.start -= 1;
        d.buf[d.start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    if neg {
        d.start -= 1;
        d.buf[d.start] = b'-';
    }
    d
}

struct SmallDigits {
    buf: [u8; 20],
    start: usize,
}

impl SmallDigits {
    fn as_slice(&self) -> &[u8] {
        &self.buf[self.start..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(r: Reply, p: u8) -> String {
        String::from_utf8(to_bytes(&r, p)).unwrap()
    }

    #[test]
    fn scalars() {
        assert_eq!(e(Reply::ok(), 2), "+OK\r\n");
        assert_eq!(e(Reply::err("ERR x\r\ny"), 2), "-ERR x  y\r\n");
        assert_eq!(e(Reply::Int(i64::MIN), 2), ":-9223372036854775808\r\n");
        assert_eq!(e(Reply::Int(0), 3), ":0\r\n");
        assert_eq!(e(Reply::bulk(b"ab"), 2), "$2\r\nab\r\n");
        assert_eq!(e(Reply::Nil, 2), "$-1\r\n");
        assert_eq!(e(Reply::NilArray, 2), "*-1\r\n");
        assert_eq!(e(Reply::Nil, 3), "_\r\n");
        assert_eq!(e(Reply::NilArray, 3), "_\r\n");
    }

    #[test]
    fn downgrades() {
        let m = Reply::Map(vec![(Reply::text("a"), Reply::Int(1))]);
        assert_eq!(e(m.clone(), 2), "*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(e(m, 3), "%1\r\n$1\r\na\r\n:1\r\n");
        let s = Reply::Set(vec![Reply::text("x")]);
        assert_eq!(e(s.clone(), 2), "*1\r\n$1\r\nx\r\n");
        assert_eq!(e(s, 3), "~1\r\n$1\r\nx\r\n");
        assert_eq!(e(Reply::Double(1.5), 2), "$3\r\n1.5\r\n");
        assert_eq!(e(Reply::Double(1.5), 3), ",1.5\r\n");
        assert_eq!(e(Reply::Double(0.1), 2), "$19\r\n0.10000000000000001\r\n");
        assert_eq!(e(Reply::Double(f64::INFINITY), 3), ",inf\r\n");
        assert_eq!(e(Reply::Double(f64::NEG_INFINITY), 2), "$4\r\n-inf\r\n");
        assert_eq!(e(Reply::Bool(true), 2), ":1\r\n");
        assert_eq!(e(Reply::Bool(false), 3), "#f\r\n");
        assert_eq!(e(Reply::Verbatim("hi".into()), 3), "=6\r\ntxt:hi\r\n");
        assert_eq!(e(Reply::Verbatim("hi".into()), 2), "$2\r\nhi\r\n");
        let p = Reply::Push(vec![Reply::text("message")]);
        assert_eq!(e(p.clone(), 2), "*1\r\n$7\r\nmessage\r\n");
        assert_eq!(e(p, 3), ">1\r\n$7\r\nmessage\r\n");
    }

    #[test]
    fn command() {
        let mut out = Vec::new();
        encode_command(&[&b"SET"[..], b"k", b""], &mut out);
        assert_eq!(out, b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
    }
}
