//! The total order over JSON values that breaks ties between malformed twins,
//! and the equality that decides "the value actually changed" (SPEC R4.4, R5).

use std::cmp::Ordering;

use serde_json::{Number, Value};

/// The deepest nesting of arrays and objects a value may have (SPEC R11.6).
/// It matches `serde_json`'s own parser limit, so every value that decodes
/// from the wire is accepted, and it bounds the recursion of [`cmp_values`].
pub const VALUE_DEPTH_MAX: usize = 128;

/// Parses JSON text whose values sit up to `wrappers` levels deep inside
/// the document's own structure (a batch array, a change object, its `data`
/// object, ...), so that every value nested at most [`VALUE_DEPTH_MAX`]
/// levels decodes (SPEC R11.4, R11.6). `serde_json`'s own limit refuses any
/// document nested deeper than 127 levels, which would refuse valid values
/// once wrapped; so the nesting is bounded here first, without recursion,
/// and the parser's limit is lifted for the bounded document only.
pub(crate) fn parse_bounded<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    wrappers: usize,
) -> Result<T, ParseError> {
    if let Some(deep) = nesting_beyond(bytes, VALUE_DEPTH_MAX + wrappers, wrappers) {
        return Err(ParseError::TooDeep(deep));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    de.disable_recursion_limit();
    let json = |e: serde_json::Error| ParseError::Json(e.to_string());
    let value = T::deserialize(&mut de).map_err(json)?;
    de.end().map_err(json)?;
    Ok(value)
}

/// Why [`parse_bounded`] refused a text.
#[derive(Debug)]
pub(crate) enum ParseError {
    /// Nested deeper than any valid document: some value is nested deeper
    /// than [`VALUE_DEPTH_MAX`] (refused before parsing, so hostile nesting
    /// never recurses).
    TooDeep(TooDeep),
    /// Not JSON, or not of the expected shape: the parser's message.
    Json(String),
}

/// Where a text first nests deeper than its limit.
#[derive(Debug)]
pub(crate) struct TooDeep {
    /// The byte offset of the bracket that went one level too deep.
    pub at: usize,
    /// The array indexes and object keys leading to it, outermost first,
    /// for the document's own levels (the `wrappers` of [`parse_bounded`]).
    pub path: Vec<PathStep>,
}

/// One step of a [`TooDeep`] path.
#[derive(Debug, PartialEq)]
pub(crate) enum PathStep {
    /// An array element, by position.
    Index(usize),
    /// An object member, by key (`None` when its key could not be read).
    Key(Option<String>),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::TooDeep(deep) => write!(
                f,
                "nested deeper than {VALUE_DEPTH_MAX} levels of value at byte {}",
                deep.at
            ),
            ParseError::Json(message) => f.write_str(message),
        }
    }
}

// The containers open at one of the document's own levels, while scanning.
struct Frame {
    object: bool,
    index: usize,
    // In an object: whether the next string is a key, and the last key's span.
    expect_key: bool,
    key: Option<(usize, usize)>,
}

/// Where the text's nesting of arrays and objects first exceeds `limit`,
/// counting brackets outside strings, with the path through the outermost
/// `kept` levels. It never undercounts what a JSON parser would nest
/// before its first error, and it keeps at most `kept` frames.
fn nesting_beyond(bytes: &[u8], limit: usize, kept: usize) -> Option<TooDeep> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    let mut frames: Vec<Frame> = Vec::with_capacity(kept);
    let mut key_start: Option<usize> = None;
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
                if let (Some(start), Some(top)) = (key_start.take(), frames.last_mut()) {
                    top.key = Some((start, i + 1));
                }
            }
            continue;
        }
        match b {
            b'"' => {
                in_string = true;
                if let Some(top) = frames.last_mut().filter(|_| depth <= kept) {
                    if top.object && top.expect_key {
                        top.expect_key = false;
                        key_start = Some(i);
                    }
                }
            }
            b'[' | b'{' => {
                depth += 1;
                if depth > limit {
                    return Some(TooDeep {
                        at: i,
                        path: frames.iter().map(|f| step(bytes, f)).collect(),
                    });
                }
                if depth <= kept {
                    frames.push(Frame {
                        object: b == b'{',
                        index: 0,
                        expect_key: b == b'{',
                        key: None,
                    });
                }
            }
            b']' | b'}' => {
                if depth <= kept {
                    frames.pop();
                }
                depth = depth.saturating_sub(1);
            }
            b',' if depth <= kept => {
                if let Some(top) = frames.last_mut() {
                    top.index += 1;
                    top.expect_key = top.object;
                }
            }
            _ => {}
        }
    }
    None
}

fn step(bytes: &[u8], frame: &Frame) -> PathStep {
    if frame.object {
        PathStep::Key(
            frame
                .key
                .and_then(|(from, to)| serde_json::from_slice::<String>(&bytes[from..to]).ok()),
        )
    } else {
        PathStep::Index(frame.index)
    }
}

/// The total order over JSON values of SPEC R4.4.
///
/// Types rank `null < false < true < numbers < strings < arrays < objects`.
/// Numbers compare by mathematical value, exactly (no rounding through
/// `f64`); at equal value an integer spelling sorts before a float spelling
/// and `-0.0` before `0.0`. Strings compare by their UTF-8 bytes. Arrays and
/// objects compare element by element (objects as their key-sorted entries,
/// key bytes first), a proper prefix sorting first.
///
/// # Example
/// ```
/// use fieldmerge::cmp_values;
/// use serde_json::json;
/// use std::cmp::Ordering;
/// assert_eq!(cmp_values(&json!(1), &json!(1.0)), Ordering::Less);
/// assert_eq!(cmp_values(&json!(-0.0), &json!(0.0)), Ordering::Less);
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

/// Equality under [`cmp_values`]: `1` and `1.0` differ, `-0.0` and `0.0`
/// differ. This is the "deep JSON equality" of SPEC R5 and R6.
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
    match (integer(x), integer(y)) {
        (Some(i), Some(j)) => i.cmp(&j),
        (Some(i), None) => cmp_int_float(i, float(y)).then(Ordering::Less),
        (None, Some(j)) => cmp_int_float(j, float(x)).reverse().then(Ordering::Greater),
        (None, None) => {
            let (f, g) = (float(x), float(y));
            // No NaN exists in a `serde_json::Number`; `total_cmp` only
            // separates -0.0 from 0.0 once the values compare equal.
            f.partial_cmp(&g)
                .unwrap_or(Ordering::Equal)
                .then_with(|| f.total_cmp(&g))
        }
    }
}

fn integer(n: &Number) -> Option<i128> {
    n.as_i64()
        .map(i128::from)
        .or_else(|| n.as_u64().map(i128::from))
}

fn float(n: &Number) -> f64 {
    // A number that is not an integer is always an f64 in serde_json without
    // `arbitrary_precision`.
    n.as_f64().unwrap_or(0.0)
}

/// Exact comparison of an integer with a finite float, by mathematical value.
fn cmp_int_float(i: i128, f: f64) -> Ordering {
    // `as` saturates; every integer here fits in i128 with room to spare, so a
    // saturated float is strictly beyond it and the order stays exact.
    let whole = f.trunc() as i128;
    i.cmp(&whole).then_with(|| {
        let frac = f - f.trunc();
        if frac > 0.0 {
            Ordering::Less
        } else if frac < 0.0 {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    })
}
