//! Poison changes (SPEC R12.6): an entry of the log that is not a valid
//! change, kept at its position and never applied, so every replica skips
//! it alike and no one is stuck behind it.

use serde_json::Value;

use crate::error::ErrorBody;

/// An entry of the log that does not decode as a change (SPEC R12.6): a
/// row another service wrote straight into the log table, or one that an
/// older or newer writer made. It holds its place in the log (its
/// `server_seq`), is never merged, and is reported to the caller, who
/// keeps it: nothing is dropped silently.
#[derive(Clone, PartialEq, Debug)]
pub struct Quarantined {
    /// The entry's position in the log: the page's `after` plus its
    /// position in the page plus one. Never read from the entry itself,
    /// which may not say.
    pub server_seq: u64,
    /// Why the entry is not a change, in the error form of SPEC R13.1: the
    /// code a batch would refuse it with (R11.5, R11.7), its message,
    /// `index` its position in the page, and the field when one is named.
    pub error: ErrorBody,
    /// The entry as read; when its own text does not read (R11.7: a number
    /// that would round, a member twice, nesting too deep, a lone
    /// surrogate), its exact text as a JSON string.
    pub entry: Value,
}
