//! A change's extension slot (SPEC R11.8): opaque JSON that travels with
//! the change, through the outbox, a push, the log, pages and a stored
//! state, and that no rule of the merge ever reads.

use serde_json::{Map, Value};

use crate::error::ChangeErrorKind;
use crate::json::{check_value, ValueFault};
use crate::text::{bounded, canonical_json};

/// The most bytes of canonical text (SPEC R11.4) an extension slot may
/// take (R11.8): room for an actor, a space id and an event id, and a bound
/// on what one change may make every replica store.
pub const EXT_BYTES_MAX: usize = 4096;

/// A validated extension slot (SPEC R11.8): a JSON object whose member
/// values are checked as field values are (nested at most
/// [`VALUE_DEPTH_MAX`](crate::VALUE_DEPTH_MAX) levels, numbers R4.4, kept
/// canonical) and whose canonical text is at most [`EXT_BYTES_MAX`] bytes.
/// Member names are the caller's: any string.
///
/// # Example
/// ```
/// use fieldmerge::Ext;
/// use serde_json::json;
/// let ext = Ext::new(&json!({"actor": {"kind": "ai"}, "space_id": "s1"})).unwrap();
/// assert_eq!(ext.as_map()["space_id"], json!("s1"));
/// assert_eq!(Ext::new(&json!([1])).unwrap_err().code(), "wrong_type");
/// ```
#[derive(Clone, PartialEq, Debug)]
pub struct Ext(Map<String, Value>);

impl Ext {
    /// Checks `value` as an extension slot (SPEC R11.8).
    ///
    /// # Errors
    /// `wrong_type` when it is not an object; `too_deep` or `bad_number` for
    /// a member value as for a field's value; `ext_too_large` when its
    /// canonical text is longer than [`EXT_BYTES_MAX`] bytes.
    pub fn new(value: &Value) -> Result<Ext, ChangeErrorKind> {
        let Value::Object(members) = value else {
            return Err(ChangeErrorKind::WrongType {
                path: "ext".to_owned(),
                expected: "an object",
            });
        };
        let mut checked = Map::new();
        for (name, value) in members {
            let canonical = check_value(value).map_err(|fault| match fault {
                ValueFault::TooDeep => ChangeErrorKind::TooDeep,
                ValueFault::BadNumber(text) => ChangeErrorKind::BadNumber {
                    text: bounded(&text),
                },
            })?;
            checked.insert(name.clone(), canonical.unwrap_or_else(|| value.clone()));
        }
        let ext = Ext(checked);
        let bytes = canonical_json(&ext.to_json()).len();
        if bytes > EXT_BYTES_MAX {
            return Err(ChangeErrorKind::ExtTooLarge { bytes });
        }
        Ok(ext)
    }

    /// The slot's members.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }

    /// The slot as a JSON object.
    pub fn to_json(&self) -> Value {
        Value::Object(self.0.clone())
    }
}
