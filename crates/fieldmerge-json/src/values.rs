//! Values alone: the reader, the order, the replaced system's rows.

use crate::args::Error;
use crate::Result;

/// Reads one JSON value (SPEC R11.7) and returns its canonical text (R11.4).
///
/// # Errors
/// `json`, `duplicate_member`, `bad_number`, `too_deep`.
pub fn read_json(text: &[u8]) -> Result {
    let value = fieldmerge::read_json(text).map_err(|e| Error::from(&e))?;
    Ok(fieldmerge::canonical_json(&value))
}

/// The total order of values (SPEC R4.4): -1, 0 or 1.
///
/// # Errors
/// As [`read_json`], for either text.
pub fn compare_values(a: &[u8], b: &[u8]) -> Result<i8> {
    let a = fieldmerge::read_json(a).map_err(|e| Error::from(&e))?;
    let b = fieldmerge::read_json(b).map_err(|e| Error::from(&e))?;
    Ok(fieldmerge::cmp_values(&a, &b) as i8)
}

/// `derive_updated_at` of a stored row of the replaced system (SPEC R7.2):
/// a timestamp string's JSON text, or `null`.
///
/// # Errors
/// As [`read_json`].
pub fn derive_updated_at(row: &[u8]) -> Result {
    let row = fieldmerge::read_json(row).map_err(|e| Error::from(&e))?;
    Ok(match fieldmerge::derive_updated_at(&row) {
        Some(at) => fieldmerge::canonical_json(&serde_json::Value::from(at.to_string())),
        None => "null".to_owned(),
    })
}
