//! SPEC R4.4, written out naively: the total order of JSON values.
//!
//! Numbers are compared through their exact decimal expansion (every
//! finite binary float has one), so an integer and a float compare by
//! mathematical value without any rounding, and no code is shared with the
//! kernel's `cmp_values`.

use std::cmp::Ordering;

use serde_json::Value;

/// `null < false < true < numbers < strings < arrays < objects`.
fn kind(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(false) => 1,
        Value::Bool(true) => 2,
        Value::Number(_) => 3,
        Value::String(_) => 4,
        Value::Array(_) => 5,
        Value::Object(_) => 6,
    }
}

/// The order of R4.4.
pub fn compare(a: &Value, b: &Value) -> Ordering {
    if kind(a) != kind(b) {
        return kind(a).cmp(&kind(b));
    }
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => compare_numbers(&Num::of(x), &Num::of(y)),
        (Value::String(x), Value::String(y)) => compare_bytes(x.as_bytes(), y.as_bytes()),
        (Value::Array(x), Value::Array(y)) => {
            let mut i = 0;
            loop {
                match (x.get(i), y.get(i)) {
                    (None, None) => return Ordering::Equal,
                    (None, Some(_)) => return Ordering::Less,
                    (Some(_), None) => return Ordering::Greater,
                    (Some(u), Some(v)) => {
                        let ord = compare(u, v);
                        if ord != Ordering::Equal {
                            return ord;
                        }
                    }
                }
                i += 1;
            }
        }
        (Value::Object(x), Value::Object(y)) => {
            let mut xs: Vec<(&String, &Value)> = x.iter().collect();
            let mut ys: Vec<(&String, &Value)> = y.iter().collect();
            xs.sort_by(|p, q| compare_bytes(p.0.as_bytes(), q.0.as_bytes()));
            ys.sort_by(|p, q| compare_bytes(p.0.as_bytes(), q.0.as_bytes()));
            let mut i = 0;
            loop {
                match (xs.get(i), ys.get(i)) {
                    (None, None) => return Ordering::Equal,
                    (None, Some(_)) => return Ordering::Less,
                    (Some(_), None) => return Ordering::Greater,
                    (Some((ku, u)), Some((kv, v))) => {
                        let ord = compare_bytes(ku.as_bytes(), kv.as_bytes());
                        if ord != Ordering::Equal {
                            return ord;
                        }
                        let ord = compare(u, v);
                        if ord != Ordering::Equal {
                            return ord;
                        }
                    }
                }
                i += 1;
            }
        }
        // Same kind and a scalar without content: null, false, true.
        _ => Ordering::Equal,
    }
}

/// Two values are equal exactly when the order says so.
pub fn equal(a: &Value, b: &Value) -> bool {
    compare(a, b) == Ordering::Equal
}

fn compare_bytes(a: &[u8], b: &[u8]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// A JSON number as an exact decimal: sign, integer digits (no leading
/// zeros), fraction digits (no trailing zeros).
struct Num {
    negative: bool,
    whole: Vec<u8>,
    fraction: Vec<u8>,
}

impl Num {
    fn of(n: &serde_json::Number) -> Num {
        if let Some(i) = n.as_i64() {
            return Num::decimal(i < 0, i.unsigned_abs().to_string().into_bytes(), Vec::new());
        }
        if let Some(u) = n.as_u64() {
            return Num::decimal(false, u.to_string().into_bytes(), Vec::new());
        }
        let f = n.as_f64().unwrap_or(0.0);
        let (whole, fraction) = exact_decimal(f.abs());
        Num::decimal(f < 0.0, whole, fraction)
    }

    fn decimal(negative: bool, mut whole: Vec<u8>, mut fraction: Vec<u8>) -> Num {
        while whole.first() == Some(&b'0') {
            whole.remove(0);
        }
        while fraction.last() == Some(&b'0') {
            fraction.pop();
        }
        let zero = whole.is_empty() && fraction.is_empty();
        Num {
            negative: negative && !zero,
            whole,
            fraction,
        }
    }
}

fn compare_numbers(a: &Num, b: &Num) -> Ordering {
    let by_value = match (a.negative, b.negative) {
        (false, true) => Ordering::Greater,
        (true, false) => Ordering::Less,
        (false, false) => compare_magnitudes(a, b),
        (true, true) => compare_magnitudes(b, a),
    };
    // R4.4: a number is its value; its spelling (`1` or `1.0`, `-0` or
    // `0`) never orders.
    by_value
}

fn compare_magnitudes(a: &Num, b: &Num) -> Ordering {
    a.whole
        .len()
        .cmp(&b.whole.len())
        .then_with(|| a.whole.cmp(&b.whole))
        .then_with(|| compare_bytes(&a.fraction, &b.fraction))
}

/// The exact decimal expansion of a finite, non-negative `f64`: integer
/// digits and fraction digits, as ASCII. `f = mantissa * 2^exponent`;
/// for a negative exponent, `mantissa * 5^-exponent` shifted `-exponent`
/// decimal places.
fn exact_decimal(f: f64) -> (Vec<u8>, Vec<u8>) {
    let bits = f.to_bits();
    let exponent_bits = ((bits >> 52) & 0x7ff) as i32;
    let fraction_bits = bits & ((1u64 << 52) - 1);
    let (mantissa, exponent) = if exponent_bits == 0 {
        (fraction_bits, -1074)
    } else {
        (fraction_bits | (1u64 << 52), exponent_bits - 1075)
    };
    // Little-endian decimal digits of the mantissa.
    let mut digits: Vec<u8> = mantissa
        .to_string()
        .bytes()
        .rev()
        .map(|d| d - b'0')
        .collect();
    let multiply = |digits: &mut Vec<u8>, by: u8| {
        let mut carry = 0u8;
        for d in digits.iter_mut() {
            let x = *d * by + carry;
            *d = x % 10;
            carry = x / 10;
        }
        while carry > 0 {
            digits.push(carry % 10);
            carry /= 10;
        }
    };
    if exponent >= 0 {
        for _ in 0..exponent {
            multiply(&mut digits, 2);
        }
        let whole = digits.iter().rev().map(|d| d + b'0').collect();
        return (whole, Vec::new());
    }
    let places = (-exponent) as usize;
    for _ in 0..places {
        multiply(&mut digits, 5);
    }
    while digits.len() <= places {
        digits.push(0);
    }
    let fraction = digits[..places].iter().rev().map(|d| d + b'0').collect();
    let whole = digits[places..].iter().rev().map(|d| d + b'0').collect();
    (whole, fraction)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn r4_4_model_value_order_examples() {
        let ordered = [
            json!(null),
            json!(false),
            json!(true),
            json!(i64::MIN),
            json!(-1),
            json!(-5e-324),
            json!(0),
            json!(5e-324),
            json!(0.1),
            json!(1),
            json!(9_007_199_254_740_992i64),
            json!(9_007_199_254_740_993i64),
            json!(i64::MAX),
            json!(9_223_372_036_854_775_808.0),
            json!(u64::MAX),
            json!(18_446_744_073_709_551_616.0),
            json!(1e300),
            json!(""),
            json!("B"),
            json!("a"),
            json!("\u{e9}"),
            json!([]),
            json!([1]),
            json!([1, 0]),
            json!([2]),
            json!({}),
            json!({"a": 2}),
            json!({"a": 2, "b": 0}),
            json!({"b": 0}),
        ];
        for (i, a) in ordered.iter().enumerate() {
            for (j, b) in ordered.iter().enumerate() {
                assert_eq!(compare(a, b), i.cmp(&j), "{a} vs {b}");
            }
        }
        // R4.4: one value, whatever its spelling.
        for (a, b) in [
            (json!(1), json!(1.0)),
            (json!(0), json!(-0.0)),
            (json!(-1), json!(-1.0)),
        ] {
            assert_eq!(compare(&a, &b), Ordering::Equal, "{a} vs {b}");
        }
    }

    #[test]
    fn exact_decimal_of_small_floats() {
        let text = |f: f64| {
            let (w, fr) = exact_decimal(f);
            let (w, fr) = (
                String::from_utf8(w).unwrap(),
                String::from_utf8(fr).unwrap(),
            );
            format!("{}.{}", w.trim_start_matches('0'), fr.trim_end_matches('0'))
        };
        assert_eq!(text(0.5), ".5");
        assert_eq!(text(2.25), "2.25");
        assert_eq!(
            text(0.1),
            ".1000000000000000055511151231257827021181583404541015625"
        );
        assert_eq!(text(9_223_372_036_854_775_808.0), "9223372036854775808.");
    }
}
