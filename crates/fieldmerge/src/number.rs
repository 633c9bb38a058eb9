//! Numbers (SPEC R4.4): a JSON number is an IEEE-754 binary64 value, read
//! from text only when the text is a closest shortest decimal of it, and
//! written as ECMAScript's `Number.prototype.toString` writes it.
//!
//! So every stack of the first users keeps a value as it is: JavaScript's
//! `JSON.parse`/`JSON.stringify`, Go's `encoding/json` and Postgres `jsonb`
//! all read such a text to the same binary64 and write it back to a text
//! that reads to it again. A spelling that would be rounded on the way in
//! (`9007199254740993`, `0.30000000000000001`, `1e400`) is refused, never
//! rounded, so no two texts that differ in meaning become one value.

use serde_json::Number;

/// The greatest integer every binary64 stack holds exactly: 2^53. An integer
/// counter (`client_seq`, `server_seq`, a cursor, an epoch) read from text
/// is at most this (SPEC R11.6).
pub const SAFE_INTEGER_MAX: u64 = 1 << 53;

/// A decimal `digits × 10^exp` with `digits` free of leading and trailing
/// zeros (empty for zero).
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    digits: Vec<u8>,
    exp: i64,
}

/// The binary64 a number token (already checked against the JSON number
/// grammar) denotes, or `None` when the token is not a closest shortest
/// decimal of its nearest binary64 (SPEC R4.4): it has more significant
/// digits than the shortest round-trip decimal, it is out of range, or it
/// is a shortest-length decimal farther from the binary64 than another.
/// Of two shortest decimals equally close (the binary64 lies exactly
/// halfway), either reads.
pub(crate) fn read_number(token: &str) -> Option<f64> {
    let x: f64 = token.parse().ok()?;
    if !x.is_finite() {
        return None;
    }
    let written = token_decimal(token);
    if x == 0.0 {
        // Only a spelling of zero reads as zero: `1e-400` would round.
        return written.digits.is_empty().then_some(0.0);
    }
    let shortest = shortest_decimal(x.abs());
    if written == shortest {
        return Some(x);
    }
    // A shortest-length decimal one unit away from the shortest, with the
    // binary64 exactly halfway between the two: a tie, which the writers
    // in use break differently (ECMAScript to even, Rust and ryu not).
    // One unit away at the shortest's scale is at most one digit longer
    // (9.9 and 10.0), so both fit a u64.
    let at_scale = written.scaled_to(shortest.exp)?;
    let s = digits_value(&shortest.digits)?;
    let t = digits_value(&at_scale)?;
    let tie = t.abs_diff(s) == 1 && halfway(x.abs(), s.min(t), shortest.exp);
    tie.then_some(x)
}

/// The number's canonical JSON representation: an integer within
/// ±[`SAFE_INTEGER_MAX`] as an integer, every other value as a float, and
/// `-0` as `0`. Equal values have one representation.
pub(crate) fn canonical(x: f64) -> Option<Number> {
    if x == x.trunc() && x.abs() <= SAFE_INTEGER_MAX as f64 {
        // Exact: the value is an integer of at most 2^53.
        return Some(Number::from(x as i64));
    }
    Number::from_f64(x)
}

/// The binary64 a number in memory denotes, or `None` when an integer
/// would round (SPEC R4.4): an integer is read as its decimal text is, so
/// `2^53 + 1` is refused in memory as in text; a float is its own value.
pub(crate) fn number_value(n: &Number) -> Option<f64> {
    if let Some(i) = n.as_i64() {
        return within_safe(i.unsigned_abs()).then_some(i as f64);
    }
    if let Some(u) = n.as_u64() {
        return within_safe(u).then_some(u as f64);
    }
    n.as_f64().filter(|f| f.is_finite())
}

/// A counter (`client_seq`, `server_seq`, a cursor, an epoch, a limit):
/// an integer from 0 to [`SAFE_INTEGER_MAX`], in any spelling of it
/// (SPEC R11.6).
pub(crate) fn counter(value: &serde_json::Value) -> Option<u64> {
    let x = number_value(value.as_number()?)?;
    (x >= 0.0 && x == x.trunc() && x <= SAFE_INTEGER_MAX as f64).then_some(x as u64)
}

fn within_safe(magnitude: u64) -> bool {
    // Beyond 2^53 an integer is exact only if it is also the shortest
    // decimal of its binary64, which its text decides.
    magnitude <= SAFE_INTEGER_MAX || read_number(&magnitude.to_string()).is_some()
}

/// Writes `x` as ECMAScript's `Number.prototype.toString` does (SPEC
/// R11.4): the shortest decimal that reads back to `x`, the closer of two
/// and the even one of two equally close; plain digits for exponents from
/// -7 to 20, else `d.ddde+N`.
pub(crate) fn write_number(x: f64, out: &mut String) {
    if x == 0.0 {
        out.push('0');
        return;
    }
    if x < 0.0 {
        out.push('-');
    }
    let Decimal { digits, exp } = even_on_tie(x.abs(), shortest_decimal(x.abs()));
    let k = digits.len() as i64;
    // ECMAScript's n: the value is 0.d1d2...dk × 10^n.
    let n = exp + k;
    let text = |d: &[u8]| d.iter().map(|&b| char::from(b'0' + b)).collect::<String>();
    if k <= n && n <= 21 {
        out.push_str(&text(&digits));
        out.extend(std::iter::repeat_n('0', (n - k) as usize));
    } else if 0 < n && n <= 21 {
        let (int, frac) = digits.split_at(n as usize);
        out.push_str(&text(int));
        out.push('.');
        out.push_str(&text(frac));
    } else if -6 < n && n <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', (-n) as usize));
        out.push_str(&text(&digits));
    } else {
        out.push_str(&text(&digits[..1]));
        if k > 1 {
            out.push('.');
            out.push_str(&text(&digits[1..]));
        }
        // The exponent of d.ddd: n - 1, never 0 here (-6 < n <= 21 is
        // written plainly).
        let exponent = n - 1;
        out.push('e');
        out.push(if exponent < 0 { '-' } else { '+' });
        out.push_str(&exponent.unsigned_abs().to_string());
    }
}

/// ECMAScript's tie rule: when a positive `x` lies exactly halfway between
/// the shortest decimal found and its neighbour one unit away, the one with
/// the even last digit is written. (Both read back to `x`: they are equally
/// close to it. It takes an exact decimal one digit longer than the
/// shortest, ending in 5: `x` in [2^50, 2^51) with a fraction of .25 or
/// .75, for example.)
fn even_on_tie(x: f64, shortest: Decimal) -> Decimal {
    let Some(s) = digits_value(&shortest.digits) else {
        return shortest;
    };
    if s % 2 == 0 {
        return shortest;
    }
    for t in [s - 1, s + 1] {
        if t > 0 && halfway(x, s.min(t), shortest.exp) {
            return strip(
                t.to_string().bytes().map(|b| b - b'0').collect(),
                shortest.exp,
            );
        }
    }
    shortest
}

/// Whether `x` is exactly `(lo + 0.5) × 10^exp`.
fn halfway(x: f64, lo: u64, exp: i64) -> bool {
    match exact_decimal(x) {
        Some(Decimal { digits, exp: e }) => {
            let mid = u128::from(lo) * 10 + 5;
            e == exp - 1 && digits_value(&digits).map(u128::from) == Some(mid)
        }
        None => false,
    }
}

/// The exact decimal expansion of a positive finite `x` that is not an
/// integer, when it has at most 19 significant digits; `None` otherwise.
/// That is all [`halfway`] needs: a midpoint between two shortest decimals
/// ends in 5 one digit below the shortest's last, which no integer binary64
/// does (one of at most 2^53 is its own shortest decimal, one past it is
/// even), and has at most 18 digits.
fn exact_decimal(x: f64) -> Option<Decimal> {
    let bits = x.to_bits();
    let exponent = ((bits >> 52) & 0x7ff) as i64;
    let fraction = bits & ((1 << 52) - 1);
    let (mut m, mut e) = if exponent == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1 << 52), exponent - 1075)
    };
    if m == 0 {
        return None; // zero: callers pass a positive x
    }
    let zeros = m.trailing_zeros();
    m >>= zeros;
    e += i64::from(zeros);
    if e >= 0 {
        return None; // an integer
    }
    // x = m × 2^e with m odd, and e < 0 for a fraction: m × 5^-e × 10^e,
    // with no factor 10 left in m × 5^-e. Past 128 bits it has more than 38
    // digits.
    let five = 5u128.checked_pow(u32::try_from(-e).ok()?)?;
    let value = u128::from(m).checked_mul(five)?;
    let decimal = strip(value.to_string().bytes().map(|b| b - b'0').collect(), e);
    (decimal.digits.len() <= 19).then_some(decimal)
}

/// The shortest decimal that reads back to a positive finite `x`, as Rust
/// writes it (the closer of two; on a tie either may come).
fn shortest_decimal(x: f64) -> Decimal {
    scientific(&format!("{x:e}"))
}

/// The decimal of Rust's `{:e}` text `d.ddde±N`.
fn scientific(text: &str) -> Decimal {
    let (mantissa, exponent) = text.split_once('e').unwrap_or((text, "0"));
    let digits: Vec<u8> = mantissa
        .bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| b - b'0')
        .collect();
    let point = exponent.parse::<i64>().unwrap_or(0);
    let exp = point - (digits.len() as i64 - 1);
    strip(digits, exp)
}

/// The decimal a token spells, exactly (no rounding): its significant
/// digits and the exponent of the last one.
fn token_decimal(token: &str) -> Decimal {
    let unsigned = token.strip_prefix('-').unwrap_or(token);
    let (mantissa, exponent) = match unsigned.find(['e', 'E']) {
        Some(i) => (&unsigned[..i], &unsigned[i + 1..]),
        None => (unsigned, "0"),
    };
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits: Vec<u8> = int.bytes().chain(frac.bytes()).map(|b| b - b'0').collect();
    // A huge exponent saturates: a nonzero token with it parses to 0 or
    // infinity and is refused before its decimal is compared.
    let e = exponent.strip_prefix('+').unwrap_or(exponent);
    let e = e.parse::<i64>().unwrap_or(if e.starts_with('-') {
        i64::MIN / 4
    } else {
        i64::MAX / 4
    });
    strip(digits, e.saturating_sub(frac.len() as i64))
}

fn strip(mut digits: Vec<u8>, mut exp: i64) -> Decimal {
    let lead = digits.iter().take_while(|&&d| d == 0).count();
    digits.drain(..lead);
    while digits.last() == Some(&0) {
        digits.pop();
        exp += 1;
    }
    if digits.is_empty() {
        exp = 0;
    }
    Decimal { digits, exp }
}

impl Decimal {
    /// The digits of the same value written with its last digit at
    /// `10^exp`, or `None` when it has a digit below that.
    fn scaled_to(&self, exp: i64) -> Option<Vec<u8>> {
        let pad = usize::try_from(self.exp.checked_sub(exp)?).ok()?;
        if pad > 20 {
            return None;
        }
        let mut digits = self.digits.clone();
        digits.extend(std::iter::repeat_n(0, pad));
        Some(digits)
    }
}

fn digits_value(digits: &[u8]) -> Option<u64> {
    if digits.len() > 19 {
        return None;
    }
    Some(digits.iter().fold(0u64, |v, &d| v * 10 + u64::from(d)))
}
