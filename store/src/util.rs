//! Parsing and formatting helpers with Redis's exact rules.

use crate::reply::{errors, Reply};

/// Parses an integer the way Redis's `string2ll` does: optional `-`, no `+`,
/// no leading zeros, no spaces, within `i64`.
pub fn parse_i64_strict(b: &[u8]) -> Option<i64> {
    if b.is_empty() || b.len() > 20 {
        return None;
    }
    if b == b"0" {
        return Some(0);
    }
    let (neg, digits) = match b[0] {
        b'-' => (true, &b[1..]),
        _ => (false, b),
    };
    if digits.is_empty() || !(b'1'..=b'9').contains(&digits[0]) {
        return None;
    }
    let mut v: u64 = 0;
    for &c in digits {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v.checked_mul(10)?.checked_add((c - b'0') as u64)?;
    }
    if neg {
        if v > i64::MAX as u64 + 1 {
            None
        } else {
            Some((v as i64).wrapping_neg())
        }
    } else if v > i64::MAX as u64 {
        None
    } else {
        Some(v as i64)
    }
}

/// Parses an integer argument, or returns Redis's error reply.
pub fn arg_i64(b: &[u8]) -> Result<i64, Reply> {
    parse_i64_strict(b).ok_or_else(|| Reply::err(errors::NOT_INT))
}

/// Parses a float the way Redis's `strtold`-based parsers do: no leading or
/// trailing space, not NaN. Accepts `inf`, `+inf`, `-inf` and friends.
///
/// Plain integers of up to 15 digits (exact in an f64; `-0` stays negative
/// zero, as strtod reads it) and the lowercase infinities take a fast path
/// with no allocation; the rest goes through [`parse_f64_general`], which
/// accepts and reads the same values.
#[inline]
pub fn parse_f64(b: &[u8]) -> Option<f64> {
    let (neg, digits) = match b.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, b),
    };
    if !digits.is_empty() && digits.len() <= 15 && digits.iter().all(u8::is_ascii_digit) {
        let v = digits
            .iter()
            .fold(0u64, |v, &d| v * 10 + u64::from(d - b'0')) as f64;
        return Some(if neg { -v } else { v });
    }
    match b {
        b"inf" | b"+inf" => Some(f64::INFINITY),
        b"-inf" => Some(f64::NEG_INFINITY),
        _ => parse_f64_general(b),
    }
}

/// The general case of [`parse_f64`]: any spelling of the infinities (case
/// ignored), decimals and exponents through Rust's parser.
fn parse_f64_general(b: &[u8]) -> Option<f64> {
    let s = std::str::from_utf8(b).ok()?;
    if s.is_empty()
        || s.starts_with(|c: char| c.is_ascii_whitespace())
        || s.ends_with(|c: char| c.is_ascii_whitespace())
    {
        return None;
    }
    let unsigned = s.strip_prefix(['+', '-']).unwrap_or(s);
    if unsigned.eq_ignore_ascii_case("inf") || unsigned.eq_ignore_ascii_case("infinity") {
        return Some(if s.starts_with('-') {
            f64::NEG_INFINITY
        } else {
            f64::INFINITY
        });
    }
    // Rust's parser rejects hex floats and the like, which Redis accepts
    // through strtold; they are not worth the surprise. It would accept
    // "nan" and other spellings of the infinities, which Redis refuses.
    if contains_ic(b, b"inf") || contains_ic(b, b"nan") {
        return None;
    }
    let v = s.parse::<f64>().ok()?;
    if v.is_nan() {
        None
    } else {
        Some(v)
    }
}

/// True when `needle` (lowercase) occurs in `hay`, ASCII case ignored.
fn contains_ic(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len())
        .any(|w| w.eq_ignore_ascii_case(needle))
}

/// Parses a float argument, or returns Redis's error reply.
pub fn arg_f64(b: &[u8]) -> Result<f64, Reply> {
    parse_f64(b).ok_or_else(|| Reply::err(errors::NOT_FLOAT))
}

/// Formats a float as Redis's `%.17g` (scores and doubles in RESP2 replies).
pub fn fmt_g17(v: f64) -> String {
    if v.is_infinite() {
        return if v > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if v == 0.0 {
        return if v.is_sign_negative() {
            "-0".into()
        } else {
            "0".into()
        };
    }
    fmt_g(v, 17)
}

/// C's `%.{prec}g` for a finite, non-zero double.
pub fn fmt_g(v: f64, prec: usize) -> String {
    let prec = prec.max(1);
    let sci = format!("{:.*e}", prec - 1, v);
    let (mant, exp) = sci.split_once('e').expect("exponent");
    let exp: i32 = exp.parse().expect("exponent digits");
    if exp < -4 || exp >= prec as i32 {
        let mant = trim_zeros(mant);
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mant}e{sign}{:02}", exp.abs())
    } else {
        let decimals = (prec as i32 - 1 - exp).max(0) as usize;
        trim_zeros(&format!("{:.*}", decimals, v)).to_string()
    }
}

fn trim_zeros(s: &str) -> &str {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.')
    } else {
        s
    }
}

/// Formats a double as the shortest text that reads back as the same
/// double, never in exponent form.
///
/// INCRBYFLOAT and HINCRBYFLOAT do not use it any more: Redis 7.0 computes
/// them in x87 `long double` and prints `%.17Lf` trimmed, which
/// `crate::longdouble` emulates exactly (66 of 66 cases of a table taken
/// from redis-server 7.0.15 match, against 17 mismatches with this
/// function). No rule on `f64` can match: `0.1 + 0.2` must give `0.3`
/// (the double sum is `0.30000000000000004`) while `1e10 + 0.1` must give
/// `10000000000.09999999962747097`, digits that only the 64-bit mantissa
/// has; integers above 2^53 (`9007199254740993`) and tiny values (`1e-18`
/// prints `0`) differ too.
pub fn fmt_human(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let s = format!("{v}");
    s
}

/// Redis's glob matcher (`stringmatchlen`): `*`, `?`, `[...]` with `^`
/// negation and ranges, and `\` escapes.
pub fn glob_match(pattern: &[u8], s: &[u8], nocase: bool) -> bool {
    glob_inner(pattern, s, nocase, 0)
}

fn glob_inner(mut p: &[u8], mut s: &[u8], nocase: bool, depth: usize) -> bool {
    // Guard against pathological patterns as Redis does (nesting limit).
    if depth > 1000 {
        return false;
    }
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    while !p.is_empty() && !s.is_empty() {
        match p[0] {
            b'*' => {
                while p.len() > 1 && p[1] == b'*' {
                    p = &p[1..];
                }
                if p.len() == 1 {
                    return true;
                }
                for i in 0..s.len() {
                    if glob_inner(&p[1..], &s[i..], nocase, depth + 1) {
                        return true;
                    }
                }
                return false;
            }
            b'?' => {
                s = &s[1..];
                p = &p[1..];
                continue;
            }
            b'[' => {
                p = &p[1..];
                let not = !p.is_empty() && p[0] == b'^';
                if not {
                    p = &p[1..];
                }
                let mut matched = false;
                loop {
                    if p.is_empty() {
                        break;
                    }
                    if p[0] == b'\\' && p.len() >= 2 {
                        p = &p[1..];
                        if eq(p[0], s[0]) {
                            matched = true;
                        }
                    } else if p[0] == b']' {
                        break;
                    } else if p.len() >= 3 && p[1] == b'-' {
                        let (mut start, mut end) = (p[0], p[2]);
                        let mut c = s[0];
                        if start > end {
                            std::mem::swap(&mut start, &mut end);
                        }
                        if nocase {
                            start = start.to_ascii_lowercase();
                            end = end.to_ascii_lowercase();
                            c = c.to_ascii_lowercase();
                        }
                        p = &p[2..];
                        if c >= start && c <= end {
                            matched = true;
                        }
                    } else if eq(p[0], s[0]) {
                        matched = true;
                    }
                    p = &p[1..];
                }
                if not {
                    matched = !matched;
                }
                if !matched {
                    return false;
                }
                s = &s[1..];
                if !p.is_empty() {
                    p = &p[1..];
                }
                continue;
            }
            b'\\' if p.len() >= 2 => {
                p = &p[1..];
                if !eq(p[0], s[0]) {
                    return false;
                }
            }
            c => {
                if !eq(c, s[0]) {
                    return false;
                }
            }
        }
        s = &s[1..];
        p = &p[1..];
    }
    if s.is_empty() {
        while !p.is_empty() && p[0] == b'*' {
            p = &p[1..];
        }
    }
    p.is_empty() && s.is_empty()
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
#[inline]
pub fn eq_ic(arg: &[u8], kw: &str) -> bool {
    arg.eq_ignore_ascii_case(kw.as_bytes())
}

/// Formats an integer as bytes.
pub fn i64_bytes(v: i64) -> Vec<u8> {
    v.to_string().into_bytes()
}

/// Reads a size with an optional unit, as in redis.conf (`100mb`, `1gb`, `5k`).
pub fn parse_memory(b: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(b).ok()?.to_ascii_lowercase();
    let units: [(&str, u64); 8] = [
        ("gb", 1 << 30),
        ("mb", 1 << 20),
        ("kb", 1 << 10),
        ("g", 1_000_000_000),
        ("m", 1_000_000),
        ("k", 1_000),
        ("b", 1),
        ("", 1),
    ];
    for (suffix, mul) in units {
        if let Some(num) = s.strip_suffix(suffix) {
            if num.is_empty() || !num.bytes().all(|c| c.is_ascii_digit()) {
                continue;
            }
            return num.parse::<u64>().ok()?.checked_mul(mul);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_integers() {
        assert_eq!(parse_i64_strict(b"0"), Some(0));
        assert_eq!(parse_i64_strict(b"-12"), Some(-12));
        assert_eq!(parse_i64_strict(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64_strict(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1 ",
            b"9223372036854775808",
            b"1a",
            b"-",
        ] {
            assert_eq!(parse_i64_strict(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn float_fast_path_reads_what_the_general_parser_reads() {
        for s in [
            "0",
            "-0",
            "7",
            "-7",
            "007",
            "999999999999999",
            "-999999999999999",
            "9999999999999999",
            "1e3",
            "+5",
            "inf",
            "+inf",
            "-inf",
            "INF",
            "-Infinity",
            "+infinity",
            "++inf",
            "1inf",
            "NaN",
            "",
            "-",
            " 1",
            "1 ",
            "nan",
            "1.5",
        ] {
            assert_eq!(
                parse_f64(s.as_bytes()).map(f64::to_bits),
                parse_f64_general(s.as_bytes()).map(f64::to_bits),
                "{s:?}"
            );
        }
        assert_eq!(parse_f64(b"-Infinity"), Some(f64::NEG_INFINITY));
        assert_eq!(
            parse_f64(b"-0").map(f64::to_bits),
            Some((-0.0f64).to_bits())
        );
        assert_eq!(parse_f64(b"1inf"), None);
    }

    proptest::proptest! {
        /// The fast path accepts and reads exactly what the general parser
        /// does (sign of zero included).
        #[test]
        fn float_fast_path_matches(s in "[-+]?[0-9]{0,18}(\\.[0-9]{0,3})?|[-+]?inf|\\PC{0,6}") {
            proptest::prop_assert_eq!(
                parse_f64(s.as_bytes()).map(f64::to_bits),
                parse_f64_general(s.as_bytes()).map(f64::to_bits)
            );
        }
    }

    #[test]
    fn floats() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"+inf"), Some(f64::INFINITY));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b"1e3"), Some(1000.0));
    }

    #[test]
    fn g17() {
        assert_eq!(fmt_g17(1.1), "1.1000000000000001");
        assert_eq!(fmt_g17(1.0), "1");
        assert_eq!(fmt_g17(-2.5), "-2.5");
        assert_eq!(fmt_g17(1e20), "1e+20");
        assert_eq!(fmt_g17(0.0001), "0.0001");
        assert_eq!(fmt_g17(0.00001), "1.0000000000000001e-05");
        assert_eq!(fmt_g17(f64::INFINITY), "inf");
    }

    #[test]
    fn globs() {
        assert!(glob_match(b"*", b"anything", false));
        assert!(glob_match(b"h?llo", b"hello", false));
        assert!(glob_match(b"h[ae]llo", b"hallo", false));
        assert!(!glob_match(b"h[^e]llo", b"hello", false));
        assert!(glob_match(b"h[a-b]llo", b"hbllo", false));
        assert!(glob_match(b"h\\*llo", b"h*llo", false));
        assert!(!glob_match(b"h\\*llo", b"hello", false));
        assert!(glob_match(b"user:*:name", b"user:42:name", false));
        assert!(glob_match(b"MAXMEMORY*", b"maxmemory-policy", true));
        assert!(!glob_match(b"a*b", b"acd", false));
    }

    #[test]
    fn memory_units() {
        assert_eq!(parse_memory(b"100mb"), Some(100 << 20));
        assert_eq!(parse_memory(b"1024"), Some(1024));
        assert_eq!(parse_memory(b"5k"), Some(5000));
        assert_eq!(parse_memory(b"x"), None);
    }
}
