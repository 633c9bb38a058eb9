//! Reading an input list (SPEC R14.5): a JSON array, JSON lines (one value
//! per non-empty line), or, for served changes, a pull or push response
//! `{serverChanges: [...]}`. Text is read by the kernel's reader (R11.7):
//! a value that would round is refused, never changed.

use fieldmerge::ErrorBody;
use serde_json::Value;

/// Each item of the list, read, or refused on its own (a line of JSON
/// lines), in order.
pub(crate) type Items = Vec<Result<Value, ErrorBody>>;

/// Reads `bytes` as a list of items; `wrapper` names the member of an
/// object that holds the list, when one is accepted.
///
/// # Errors
/// The text of a JSON array that does not read, or an object without the
/// member: the error refuses the whole input.
pub(crate) fn items(bytes: &[u8], wrapper: Option<&str>) -> Result<Items, ErrorBody> {
    let first = bytes.iter().find(|b| !b.is_ascii_whitespace());
    if first == Some(&b'[') || (first == Some(&b'{') && wrapper.is_some() && single(bytes)) {
        let value = fieldmerge::read_json(bytes).map_err(|e| ErrorBody::from(&e))?;
        let list = match (value, wrapper) {
            (Value::Array(list), _) => list,
            (Value::Object(mut m), Some(name)) => match m.remove(name) {
                Some(Value::Array(list)) => list,
                _ => {
                    return Err(error(
                        "wrong_type",
                        &format!("the input needs {name}: [...]"),
                    ))
                }
            },
            _ => return Err(error("wrong_type", "the input must be a JSON array")),
        };
        return Ok(list.into_iter().map(Ok).collect());
    }
    // JSON lines: each line on its own, so one bad line refuses one row.
    Ok(bytes
        .split(|b| *b == b'\n')
        .filter(|line| line.iter().any(|b| !b.is_ascii_whitespace()))
        .map(|line| fieldmerge::read_json(line).map_err(|e| ErrorBody::from(&e)))
        .collect())
}

// Whether the text is one JSON value (not JSON lines of objects).
fn single(bytes: &[u8]) -> bool {
    fieldmerge::read_json(bytes).is_ok()
}

pub(crate) fn error(code: &str, message: &str) -> ErrorBody {
    ErrorBody {
        code: code.to_owned(),
        message: message.to_owned(),
        index: None,
        field: None,
    }
}
