//! The total order over JSON values that breaks ties between malformed twins,
//! and the equality that decides "the value actually changed" (SPEC R4.4, R5).

use std::cmp::Ordering;

use serde_json::{Number, Value};

use crate::error::ChangeErrorKind;
use crate::number::{canonical, number_value};

/// The deepest nesting of arrays and objects a value may have (SPEC R11.6).
/// It bounds the recursion of [`cmp_values`] over every value the kernel
/// holds.
pub const VALUE_DEPTH_MAX: usize = 128;

/// What is wrong with a value built in memory or read from text (SPEC
/// R4.4, R11.6).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ValueFault {
    /// Nested deeper than [`VALUE_DEPTH_MAX`].
    TooDeep,
    /// A number that is no binary64 exactly: its text.
    BadNumber(String),
}

/// Checks a value in one walk, without recursion: its depth (R11.6) and
/// its numbers (R4.4). Returns the value in canonical representation
/// (R4.4) when it is not already, so equal values have one representation.
pub(crate) fn check_value(value: &Value) -> Result<Option<Value>, ValueFault> {
    // Most values are scalars: no stack to allocate.
    match value {
        Value::Number(n) => return checked_number(n),
        Value::Array(_) | Value::Object(_) => {}
        _ => return Ok(None),
    }
    let mut canonical_needed = false;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        match v {
            Value::Array(items) => {
                if depth + 1 > VALUE_DEPTH_MAX {
                    return Err(ValueFault::TooDeep);
                }
                stack.extend(items.iter().map(|item| (item, depth + 1)));
            }
            Value::Object(entries) => {
                if depth + 1 > VALUE_DEPTH_MAX {
                    return Err(ValueFault::TooDeep);
                }
                stack.extend(entries.values().map(|item| (item, depth + 1)));
            }
            Value::Number(n) => canonical_needed |= checked_number(n)?.is_some(),
            _ => {}
        }
    }
    Ok(canonical_needed.then(|| canonical_numbers(value)))
}

fn checked_number(n: &Number) -> Result<Option<Value>, ValueFault> {
    let x = number_value(n).ok_or_else(|| ValueFault::BadNumber(n.to_string()))?;
    let c = canonical(x).ok_or_else(|| ValueFault::BadNumber(n.to_string()))?;
    Ok((c != *n).then_some(Value::Number(c)))
}

/// `value` in canonical representation (SPEC R4.4): every number an integer
/// when it is one within ±2^53, else a float, `-0` as `0`, so equal values
/// are one `Value` and `==` on canonical values is R4.4's equality.
///
/// # Errors
/// `too_deep` past [`VALUE_DEPTH_MAX`] levels, `bad_number` for an integer
/// that no binary64 holds exactly.
///
/// # Example
/// ```
/// use serde_json::json;
/// let v = fieldmerge::canonical_value(&json!([1.0, -0.0, 0.5])).unwrap();
/// assert_eq!(v, json!([1, 0, 0.5]));
/// assert_eq!(fieldmerge::canonical_value(&json!(9007199254740993u64)).unwrap_err().code(), "bad_number");
/// ```
pub fn canonical_value(value: &Value) -> Result<Value, ChangeErrorKind> {
    match check_value(value) {
        Ok(Some(canonical)) => Ok(canonical),
        Ok(None) => Ok(value.clone()),
        Err(ValueFault::TooDeep) => Err(ChangeErrorKind::TooDeep),
        // A number's text is short: nothing to bound.
        Err(ValueFault::BadNumber(text)) => Err(ChangeErrorKind::BadNumber { text }),
    }
}

/// A copy of a checked value in canonical representation (R4.4).
pub(crate) fn canonical_clone(value: &Value) -> Value {
    match check_value(value) {
        Ok(Some(canonical)) => canonical,
        _ => value.clone(),
    }
}

/// `value` with every number in canonical representation; a value that
/// passed [`check_value`] (so no number fails to convert, and the depth is
/// bounded, which bounds this recursion).
fn canonical_numbers(value: &Value) -> Value {
    match value {
        Value::Number(n) => number_value(n)
            .and_then(canonical)
            .map_or_else(|| value.clone(), Value::Number),
        Value::Array(items) => Value::Array(items.iter().map(canonical_numbers).collect()),
        Value::Object(entries) => Value::Object(
            entries
                .iter()
                .map(|(k, v)| (k.clone(), canonical_numbers(v)))
                .collect(),
        ),
        _ => value.clone(),
    }
}

/// The total order over JSON values of SPEC R4.4.
///
/// Types rank `null < false < true < numbers < strings < arrays < objects`.
/// Numbers compare by their binary64 value: `1`, `1.0` and `1e0` are one
/// value, and `-0` is `0`. Strings compare by their UTF-8 bytes. Arrays and
/// objects compare element by element (objects as their key-sorted entries,
/// key bytes first), a proper prefix sorting first.
///
/// # Example
/// ```
/// use fieldmerge::cmp_values;
/// use serde_json::json;
/// use std::cmp::Ordering;
/// assert_eq!(cmp_values(&json!(1), &json!(1.0)), Ordering::Equal);
/// assert_eq!(cmp_values(&json!(-0.0), &json!(0)), Ordering::Equal);
/// assert_eq!(cmp_values(&json!(0.5), &json!(1)), Ordering::Less);
/// assert_eq!(cmp_values(&json!("B"), &json!("a")), Ordering::Less);
/// assert_eq!(cmp_values(&json!([1]), &json!([1, 0])), Ordering::Less);
/// ```
pub fn cmp_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Null, Value::Null) => Ordering::Equal,
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        (Value::Number(x), Value::Number(y)) => cmp_numbers(x, y),
        (Value::String(x), Value::String(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Value::Array(x), Value::Array(y)) => {
            for (u, v) in x.iter().zip(y) {
                let ord = cmp_values(u, v);
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            x.len().cmp(&y.len())
        }
        (Value::Object(x), Value::Object(y)) => {
            // `serde_json::Map` iterates in key order (no `preserve_order`).
            for ((ku, u), (kv, v)) in x.iter().zip(y) {
                let ord = ku
                    .as_bytes()
                    .cmp(kv.as_bytes())
                    .then_with(|| cmp_values(u, v));
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            x.len().cmp(&y.len())
        }
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

/// Equality under [`cmp_values`]: `1` and `1.0` are equal, as are `-0` and
/// `0`. This is the "deep JSON equality" of SPEC R5 and R6.
pub fn values_equal(a: &Value, b: &Value) -> bool {
    cmp_values(a, b) == Ordering::Equal
}

/// The nesting depth of `value` (a scalar has depth 0), computed without
/// recursion so a hostile value cannot overflow the stack.
pub fn value_depth(value: &Value) -> usize {
    // Most values are scalars: no stack to allocate.
    if !matches!(value, Value::Array(_) | Value::Object(_)) {
        return 0;
    }
    let mut deepest = 0;
    let mut stack = vec![(value, 0usize)];
    while let Some((v, depth)) = stack.pop() {
        match v {
            Value::Array(items) => {
                deepest = deepest.max(depth + 1);
                stack.extend(items.iter().map(|item| (item, depth + 1)));
            }
            Value::Object(entries) => {
                deepest = deepest.max(depth + 1);
                stack.extend(entries.values().map(|item| (item, depth + 1)));
            }
            _ => {}
        }
    }
    deepest
}

fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

fn cmp_numbers(x: &Number, y: &Number) -> Ordering {
    // Integers compare exactly (an integer past 2^53 built in memory is
    // refused at every entry, but the order stays total for it too).
    if let (Some(i), Some(j)) = (integer(x), integer(y)) {
        return i.cmp(&j);
    }
    // No NaN exists in a `serde_json::Number`, so this order is total, and
    // `-0.0 == 0.0` under it, as R4.4 wants.
    float(x).partial_cmp(&float(y)).unwrap_or(Ordering::Equal)
}

fn integer(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

fn float(n: &Number) -> f64 {
    n.as_f64().unwrap_or(0.0)
}
