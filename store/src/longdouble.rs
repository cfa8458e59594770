//! The x87 80-bit `long double` arithmetic of Redis's INCRBYFLOAT and
//! HINCRBYFLOAT, emulated exactly.
//!
//! Redis 7.0 parses both operands with `strtold`, adds them in `long
//! double` (64-bit mantissa on x86-64) and prints the sum with `%.17Lf`,
//! trailing zeros trimmed (`ld2string(.., LD_STR_HUMAN)`). That is why
//! `0.1 + 0.2` gives `0.3` but `100000.1` reads back as
//! `100000.10000000000000142`: no rule on `f64` reproduces both. This
//! module does the same three steps with exact big-integer arithmetic:
//!
//! - [`LongDouble::parse`]: Redis's `string2ld` (decimal, hexadecimal and
//!   `inf` forms; no space, no trailing bytes, no NaN; overflow and
//!   underflow to zero refused), correctly rounded to 64 bits
//!   (round-half-even), as glibc's `strtold`.
//! - [`LongDouble::sum`]: one correctly rounded addition.
//! - [`LongDouble::to_human`]: the exact decimal value rounded to 17
//!   decimals (half-even, as glibc's `printf`), zeros trimmed, `-0` as `0`.
//!
//! Known difference: subnormal results (below about 3.4e-4932) keep 64
//! bits of precision instead of losing them gradually; they print as `0`
//! either way.

use std::cmp::Ordering;

/// Mantissa bits of the x87 extended format.
const BITS: u32 = 64;
/// Largest exponent `E` of a finite value `1.f * 2^E`.
const MAX_EXP: i64 = 16383;
/// Smallest exponent of a non-zero (subnormal) value.
const MIN_EXP: i64 = -16445;
/// Redis's `MAX_LONG_DOUBLE_CHARS`: longer strings are not parsed.
const MAX_CHARS: usize = 5 * 1024;

/// A `long double` value: zero, infinite, or `m * 2^e` with the top bit of
/// `m` set (normalized).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LongDouble {
    neg: bool,
    kind: Kind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Zero,
    Inf,
    Finite { m: u64, e: i64 },
}

impl LongDouble {
    /// Positive zero.
    pub const ZERO: LongDouble = LongDouble {
        neg: false,
        kind: Kind::Zero,
    };

    /// Parses `b` as Redis's `string2ld`: `None` where Redis replies
    /// `value is not a valid float`.
    pub fn parse(b: &[u8]) -> Option<LongDouble> {
        if b.is_empty() || b.len() >= MAX_CHARS || b[0].is_ascii_whitespace() {
            return None;
        }
        let (neg, rest) = match b[0] {
            b'-' => (true, &b[1..]),
            b'+' => (false, &b[1..]),
            _ => (false, b),
        };
        let kind = if rest.eq_ignore_ascii_case(b"inf") || rest.eq_ignore_ascii_case(b"infinity") {
            Kind::Inf
        } else if rest.len() > 2 && rest[0] == b'0' && (rest[1] | 0x20) == b'x' {
            parse_hex(&rest[2..])?
        } else {
            parse_dec(rest)?
        };
        Some(LongDouble { neg, kind })
    }

    /// Whether the value is finite (not infinite).
    pub fn is_finite(&self) -> bool {
        self.kind != Kind::Inf
    }

    /// The correctly rounded sum (infinite on overflow).
    pub fn sum(self, other: LongDouble) -> LongDouble {
        match (self.kind, other.kind) {
            (Kind::Inf, Kind::Inf) if self.neg != other.neg => {
                // inf - inf is NaN in C; callers refuse non-finite sums.
                LongDouble {
                    neg: false,
                    kind: Kind::Inf,
                }
            }
            (Kind::Inf, _) => self,
            (_, Kind::Inf) => other,
            (Kind::Zero, Kind::Zero) => LongDouble {
                // -0 + -0 is -0; any other mix is +0.
                neg: self.neg && other.neg,
                kind: Kind::Zero,
            },
            (Kind::Zero, _) => other,
            (_, Kind::Zero) => self,
            (Kind::Finite { m: ma, e: ea }, Kind::Finite { m: mb, e: eb }) => {
                // Far apart: the smaller is below half an ulp of the larger.
                if ea - eb > 2 * BITS as i64 + 2 {
                    return self;
                }
                if eb - ea > 2 * BITS as i64 + 2 {
                    return other;
                }
                let e = ea.min(eb);
                let a = Big::from_u64(ma).shl((ea - e) as u32);
                let b = Big::from_u64(mb).shl((eb - e) as u32);
                let (neg, n) = if self.neg == other.neg {
                    (self.neg, a.add(&b))
                } else {
                    match a.cmp(&b) {
                        Ordering::Equal => return LongDouble::ZERO,
                        Ordering::Greater => (self.neg, a.sub(&b)),
                        Ordering::Less => (other.neg, b.sub(&a)),
                    }
                };
                LongDouble {
                    neg,
                    kind: round_exact(&n, e, false),
                }
            }
        }
    }

    /// `%.17Lf` with trailing zeros (and a trailing point) removed, `-0`
    /// printed as `0`: Redis's `ld2string(.., LD_STR_HUMAN)`. Infinities
    /// print as `inf` / `-inf`.
    pub fn to_human(&self) -> String {
        let (m, e) = match self.kind {
            Kind::Zero => return "0".into(),
            Kind::Inf => return if self.neg { "-inf" } else { "inf" }.into(),
            Kind::Finite { m, e } => (m, e),
        };
        // X = round(m * 2^e * 10^17), half to even.
        let mut n = Big::from_u64(m);
        for _ in 0..17 {
            n.mul_small(10);
        }
        let x = if e >= 0 {
            n.shl(e as u32)
        } else {
            let shift = (-e) as u64;
            if shift > n.bits() + 1 {
                Big::zero()
            } else {
                let shift = shift as u32;
                let mut q = n.shr(shift);
                let half = n.bit(shift - 1);
                let sticky = n.any_below(shift - 1);
                if half && (sticky || q.bit(0)) {
                    q.add_small(1);
                }
                q
            }
        };
        let mut digits = x.to_decimal();
        if digits.len() < 18 {
            digits = format!("{}{digits}", "0".repeat(18 - digits.len()));
        }
        let (int, frac) = digits.split_at(digits.len() - 17);
        let frac = frac.trim_end_matches('0');
        let mut out = String::with_capacity(digits.len() + 2);
        if self.neg && !(int == "0" && frac.is_empty()) {
            out.push('-');
        }
        out.push_str(int);
        if !frac.is_empty() {
            out.push('.');
            out.push_str(frac);
        }
        out
    }
}

/// Rounds the exact value `n * 2^e0` (n > 0) to 64 bits, half to even;
/// `sticky` says bits below `n` were non-zero. Overflow gives infinity,
/// underflow below the smallest subnormal gives zero.
fn round_exact(n: &Big, e0: i64, sticky: bool) -> Kind {
    let len = n.bits() as i64;
    let (m, e) = if len <= BITS as i64 {
        let m = n.shl((BITS as i64 - len) as u32).low_u64();
        (m, e0 - (BITS as i64 - len))
    } else {
        let shift = (len - BITS as i64) as u32;
        let mut m = n.shr(shift).low_u64();
        let half = n.bit(shift - 1);
        let below = sticky || n.any_below(shift - 1);
        let mut e = e0 + shift as i64;
        if half && (below || m & 1 == 1) {
            m = m.wrapping_add(1);
            if m == 0 {
                m = 1 << 63;
                e += 1;
            }
        }
        (m, e)
    };
    let exp = e + BITS as i64 - 1;
    if exp > MAX_EXP {
        Kind::Inf
    } else if exp < MIN_EXP {
        Kind::Zero
    } else {
        Kind::Finite { m, e }
    }
}

/// Decimal `digits[.digits][e[+-]digits]`, at least one mantissa digit.
fn parse_dec(s: &[u8]) -> Option<Kind> {
    let mut i = 0;
    let mut n = Big::zero();
    let mut exp10: i64 = 0;
    let mut any = false;
    let mut nonzero = false;
    // Digits past the first 800 significant ones only decide rounding (as
    // a sticky bit): 800 decimal digits exceed any tie's length.
    let mut sig = 0usize;
    let mut sticky = false;
    let mut digit = |d: u8, frac: bool, n: &mut Big| {
        if d != 0 || nonzero {
            nonzero = true;
            if sig < 800 {
                n.mul_small(10);
                n.add_small(d as u32);
                sig += 1;
                if frac {
                    exp10 -= 1;
                }
            } else {
                sticky |= d != 0;
                if !frac {
                    exp10 += 1;
                }
            }
        } else if frac {
            exp10 -= 1;
        }
    };
    while i < s.len() && s[i].is_ascii_digit() {
        digit(s[i] - b'0', false, &mut n);
        any = true;
        i += 1;
    }
    if i < s.len() && s[i] == b'.' {
        i += 1;
        while i < s.len() && s[i].is_ascii_digit() {
            digit(s[i] - b'0', true, &mut n);
            any = true;
            i += 1;
        }
    }
    if !any {
        return None;
    }
    exp10 += exponent(s, &mut i, b'e')?;
    if i != s.len() {
        return None;
    }
    if n.is_zero() {
        return Some(Kind::Zero);
    }
    // Magnitude bounds first (cheap): 10^4933 overflows, below 10^-4952
    // underflows to zero; both are refused as strtold's ERANGE.
    let magnitude = sig as i64 + exp10;
    if magnitude > 4934 {
        return None;
    }
    if magnitude < -4952 {
        return None;
    }
    let kind = if exp10 >= 0 {
        for _ in 0..exp10 {
            n.mul_small(10);
        }
        round_exact(&n, 0, sticky)
    } else {
        let mut den = Big::from_u64(1);
        for _ in 0..-exp10 {
            den.mul_small(10);
        }
        // Scale so the quotient has 66 to 67 bits, then round it to 64.
        let s = 66 + den.bits() as i64 - n.bits() as i64;
        let (num, den) = if s >= 0 {
            (n.shl(s as u32), den)
        } else {
            (n, den.shl((-s) as u32))
        };
        let (q, r) = num.divmod_small_quotient(&den);
        round_exact(&q, -s, sticky || !r.is_zero())
    };
    match kind {
        Kind::Inf | Kind::Zero => None,
        k => Some(k),
    }
}

/// Hexadecimal `h[.h][p[+-]d]` after `0x` (strtold's hex floats).
fn parse_hex(s: &[u8]) -> Option<Kind> {
    let mut i = 0;
    let mut n = Big::zero();
    let mut exp2: i64 = 0;
    let mut any = false;
    let mut sticky = false;
    let mut nibble = |d: u32, frac: bool, n: &mut Big| {
        if n.bits() < 200 {
            n.mul_small(16);
            n.add_small(d);
            if frac {
                exp2 -= 4;
            }
        } else {
            sticky |= d != 0;
            if !frac {
                exp2 += 4;
            }
        }
    };
    while i < s.len() && s[i].is_ascii_hexdigit() {
        nibble((s[i] as char).to_digit(16)?, false, &mut n);
        any = true;
        i += 1;
    }
    if i < s.len() && s[i] == b'.' {
        i += 1;
        while i < s.len() && s[i].is_ascii_hexdigit() {
            nibble((s[i] as char).to_digit(16)?, true, &mut n);
            any = true;
            i += 1;
        }
    }
    if !any {
        return None;
    }
    exp2 += exponent(s, &mut i, b'p')?;
    if i != s.len() {
        return None;
    }
    if n.is_zero() {
        return Some(Kind::Zero);
    }
    match round_exact(&n, exp2, sticky) {
        Kind::Inf | Kind::Zero => None,
        k => Some(k),
    }
}

/// A minimal unsigned big integer (little-endian 32-bit limbs, no
/// leading zero limbs) with what the conversions above need.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Big(Vec<u32>);

impl Big {
    fn zero() -> Big {
        Big(Vec::new())
    }

    fn from_u64(v: u64) -> Big {
        let mut b = Big(vec![v as u32, (v >> 32) as u32]);
        b.trim();
        b
    }

    fn trim(&mut self) {
        while self.0.last() == Some(&0) {
            self.0.pop();
        }
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }

    fn bits(&self) -> u64 {
        match self.0.last() {
            None => 0,
            Some(&top) => (self.0.len() as u64 - 1) * 32 + (32 - top.leading_zeros()) as u64,
        }
    }

    fn bit(&self, i: u32) -> bool {
        let (w, b) = ((i / 32) as usize, i % 32);
        self.0.get(w).is_some_and(|x| x >> b & 1 == 1)
    }

    /// True when any bit below bit `i` is set.
    fn any_below(&self, i: u32) -> bool {
        let (w, b) = ((i / 32) as usize, i % 32);
        self.0.iter().take(w).any(|&x| x != 0)
            || (b > 0 && self.0.get(w).is_some_and(|&x| x & ((1u32 << b) - 1) != 0))
    }

    fn low_u64(&self) -> u64 {
        let lo = self.0.first().copied().unwrap_or(0) as u64;
        let hi = self.0.get(1).copied().unwrap_or(0) as u64;
        lo | hi << 32
    }

    fn mul_small(&mut self, k: u32) {
        let mut carry = 0u64;
        for x in self.0.iter_mut() {
            let v = *x as u64 * k as u64 + carry;
            *x = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn add_small(&mut self, k: u32) {
        let mut carry = k as u64;
        for x in self.0.iter_mut() {
            if carry == 0 {
                return;
            }
            let v = *x as u64 + carry;
            *x = v as u32;
            carry = v >> 32;
        }
        if carry != 0 {
            self.0.push(carry as u32);
        }
    }

    fn shl(&self, n: u32) -> Big {
        if self.is_zero() {
            return Big::zero();
        }
        let (w, b) = ((n / 32) as usize, n % 32);
        let mut out = vec![0u32; w];
        out.reserve(self.0.len() + 1);
        let mut carry = 0u32;
        for &x in &self.0 {
            if b == 0 {
                out.push(x);
            } else {
                out.push(x << b | carry);
                carry = x >> (32 - b);
            }
        }
        if carry != 0 {
            out.push(carry);
        }
        let mut r = Big(out);
        r.trim();
        r
    }

    fn shr(&self, n: u32) -> Big {
        let (w, b) = ((n / 32) as usize, n % 32);
        if w >= self.0.len() {
            return Big::zero();
        }
        let src = &self.0[w..];
        let mut out = Vec::with_capacity(src.len());
        for i in 0..src.len() {
            let lo = src[i] >> b;
            let hi = if b == 0 {
                0
            } else {
                src.get(i + 1).map_or(0, |&x| x << (32 - b))
            };
            out.push(lo | hi);
        }
        let mut r = Big(out);
        r.trim();
        r
    }

    fn cmp(&self, o: &Big) -> Ordering {
        self.0
            .len()
            .cmp(&o.0.len())
            .then_with(|| self.0.iter().rev().cmp(o.0.iter().rev()))
    }

    fn add(&self, o: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len().max(o.0.len()) + 1);
        let mut carry = 0u64;
        for i in 0..self.0.len().max(o.0.len()) {
            let v = *self.0.get(i).unwrap_or(&0) as u64 + *o.0.get(i).unwrap_or(&0) as u64 + carry;
            out.push(v as u32);
            carry = v >> 32;
        }
        if carry != 0 {
            out.push(carry as u32);
        }
        Big(out)
    }

    /// `self - o`; requires `self >= o`.
    fn sub(&self, o: &Big) -> Big {
        let mut out = Vec::with_capacity(self.0.len());
        let mut borrow = 0i64;
        for i in 0..self.0.len() {
            let mut v = self.0[i] as i64 - *o.0.get(i).unwrap_or(&0) as i64 - borrow;
            borrow = 0;
            if v < 0 {
                v += 1 << 32;
                borrow = 1;
            }
            out.push(v as u32);
        }
        let mut r = Big(out);
        r.trim();
        r
    }

    /// Quotient and remainder of `self / d` for a quotient below 2^70
    /// (restoring division, one step per quotient bit).
    fn divmod_small_quotient(&self, d: &Big) -> (Big, Big) {
        let mut rem = self.clone();
        let mut q = Big::zero();
        let top = (self.bits() as i64 - d.bits() as i64).max(0) as u32;
        for i in (0..=top).rev() {
            let shifted = d.shl(i);
            if rem.cmp(&shifted) != Ordering::Less {
                rem = rem.sub(&shifted);
                q = q.add(&Big::from_u64(1).shl(i));
            }
        }
        (q, rem)
    }

    /// Decimal digits (`"0"` for zero).
    fn to_decimal(&self) -> String {
        if self.is_zero() {
            return "0".into();
        }
        let mut limbs = self.0.clone();
        let mut chunks = Vec::new();
        while !limbs.is_empty() {
            let mut rem = 0u64;
            for x in limbs.iter_mut().rev() {
                let v = rem << 32 | *x as u64;
                *x = (v / 1_000_000_000) as u32;
                rem = v % 1_000_000_000;
            }
            while limbs.last() == Some(&0) {
                limbs.pop();
            }
            chunks.push(rem as u32);
        }
        let mut out = chunks.pop().map(|c| c.to_string()).unwrap_or_default();
        for c in chunks.iter().rev() {
            out.push_str(&format!("{c:09}"));
        }
        out
    }
}

/// INCRBYFLOAT's arithmetic: the text Redis stores for `current + incr`,
/// or `None` when the sum is infinite or NaN (Redis's `increment would
/// produce NaN or Infinity`).
pub fn incr_text(current: LongDouble, incr: LongDouble) -> Option<String> {
    let sum = current.sum(incr);
    sum.is_finite().then(|| sum.to_human())
}

/// Reads an optional exponent at `s[*i..]`: `marker` (either case), an
/// optional sign, then at least one digit (clamped far beyond any finite
/// result). `Some(0)` when there is no marker, `None` when a marker has no
/// digits.
fn exponent(s: &[u8], i: &mut usize, marker: u8) -> Option<i64> {
    if *i >= s.len() || (s[*i] | 0x20) != marker {
        return Some(0);
    }
    *i += 1;
    let neg = match s.get(*i) {
        Some(b'-') => {
            *i += 1;
            true
        }
        Some(b'+') => {
            *i += 1;
            false
        }
        _ => false,
    };
    let start = *i;
    let mut e: i64 = 0;
    while *i < s.len() && s[*i].is_ascii_digit() {
        e = (e * 10 + (s[*i] - b'0') as i64).min(1 << 40);
        *i += 1;
    }
    if *i == start {
        return None;
    }
    Some(if neg { -e } else { e })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ld(s: &str) -> LongDouble {
        LongDouble::parse(s.as_bytes()).unwrap_or_else(|| panic!("{s} does not parse"))
    }

    #[test]
    fn parses_as_strtold() {
        assert_eq!(ld("1").kind, Kind::Finite { m: 1 << 63, e: -63 });
        assert_eq!(ld("0x1p-2").kind, Kind::Finite { m: 1 << 63, e: -65 });
        assert_eq!(ld("0.5"), ld("0x.8"));
        assert_eq!(ld("-0").to_human(), "0");
        assert_eq!(ld("+1.5e1").to_human(), "15");
        assert_eq!(ld(".5").to_human(), "0.5");
        assert_eq!(ld("5.").to_human(), "5");
        assert!(!ld("-inf").is_finite());
        for bad in [
            "", " 1", "1 ", "1e", "e5", ".", "nan", "1x", "0x", "0xp1", "1e5000", "1e-5000", "--1",
        ] {
            assert_eq!(LongDouble::parse(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(LongDouble::parse("1".repeat(5120).as_bytes()), None);
    }

    #[test]
    fn ties_round_to_even() {
        // 2^64 + 1 is exactly halfway: rounds to 2^64 (even mantissa).
        assert_eq!(
            ld("18446744073709551617").to_human(),
            "18446744073709551616"
        );
        // 2^64 + 3 is halfway between two odd/even neighbours: rounds up.
        assert_eq!(
            ld("18446744073709551619").to_human(),
            "18446744073709551620"
        );
    }
}
