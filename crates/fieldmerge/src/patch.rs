//! The one check of every write (SPEC R5.5, R10, R12.4): a replica's write
//! and bootstrap and the server's write and bootstrap all check a patch
//! here, in one order, so the same bad input gets the same error whoever
//! writes it.

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::change::{check_field, check_name, FIELDS_PER_CHANGE_MAX};
use crate::error::{ChangeErrorKind, WriteError};
use crate::origin::{Origin, SYSTEM_BOOTSTRAP};
use crate::record::{RecordKey, TOMBSTONE_FIELD};
use crate::register::{Base, Register, WriterId};
use crate::timestamp::Timestamp;

/// Whether a patch may write the tombstone directly.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Tombstone {
    /// A replica's write and every bootstrap: the tombstone changes only
    /// through `delete` and `restore`, and no record is born deleted.
    Refused,
    /// A server-side write: a job deletes or restores by writing it (R12.4).
    Allowed,
}

/// Checks a write of `patch` to `key` by `writer` (SPEC R5.5), in this order,
/// the first failure winning: the table, the id, the writer's id (`what`
/// names it: `client_id` or `writer`), the field count, then each field in
/// the patch's order (the tombstone where refused, the local-only names, the
/// name's length, the value's depth and numbers).
pub(crate) fn check_write(
    key: &RecordKey,
    writer: (&'static str, &WriterId),
    patch: &Map<String, Value>,
    tombstone: Tombstone,
) -> Result<(), WriteError> {
    check_key(key)?;
    check_writer(writer.0, writer.1)?;
    if patch.len() > FIELDS_PER_CHANGE_MAX {
        return Err(WriteError::TooManyFields);
    }
    for (name, value) in patch {
        if tombstone == Tombstone::Refused && name == TOMBSTONE_FIELD {
            return Err(WriteError::ReservedField {
                field: name.clone(),
                why: "use delete and restore",
            });
        }
        check_patch_field(name, value)?;
    }
    Ok(())
}

/// Checks the id of a writer whose changes go on the wire (SPEC R11.2,
/// R11.6): it names every change it makes, so it must be a wire name, or no
/// server could decode them.
pub(crate) fn check_writer(what: &'static str, writer: &WriterId) -> Result<(), WriteError> {
    check_name(writer.as_str(), "client_id").map_err(|_| WriteError::BadName {
        what,
        name: writer.as_str().chars().take(40).collect(),
    })
}

fn check_key(key: &RecordKey) -> Result<(), WriteError> {
    for (what, name) in [("table", &key.table), ("id", &key.id)] {
        check_name(name, what).map_err(|_| WriteError::BadName {
            what,
            name: name.chars().take(40).collect(),
        })?;
    }
    Ok(())
}

fn check_patch_field(name: &str, value: &Value) -> Result<(), WriteError> {
    match check_field(name, value) {
        Ok(_) => Ok(()),
        Err(ChangeErrorKind::LocalOnlyField) => Err(WriteError::ReservedField {
            field: name.to_owned(),
            // `check_field` refuses exactly the two local-only names so.
            why: "local-only",
        }),
        Err(ChangeErrorKind::TooDeep) => Err(WriteError::TooDeep {
            field: name.to_owned(),
        }),
        Err(ChangeErrorKind::BadNumber { text }) => Err(WriteError::BadNumber {
            field: name.to_owned(),
            text,
        }),
        Err(_) => Err(WriteError::BadName {
            what: "field",
            name: name.chars().take(40).collect(),
        }),
    }
}

/// The registers of a write of `patch` stamped `at` by `by` with `origin`
/// over `current` (SPEC R5.2): only the fields whose value changes, each
/// with the version it overwrote as its base, sorted by name.
pub(crate) fn stamp_patch<'a, 'r>(
    current: impl Fn(&str) -> Option<&'r Register>,
    fields: impl Iterator<Item = (&'a String, &'a Value)>,
    at: Timestamp,
    by: &WriterId,
    origin: Origin,
) -> Vec<(Arc<str>, Register)> {
    let mut writes: Vec<(Arc<str>, Register)> = Vec::new();
    for (name, value) in fields {
        let current = current(name);
        if current.is_some_and(|reg| crate::json::values_equal(&reg.value, value)) {
            continue;
        }
        let base = current.map_or(Base::First, |reg| Base::Saw(reg.version()));
        let reg = Register {
            value: crate::json::canonical_clone(value),
            at,
            by: by.clone(),
            origin,
            base,
        };
        writes.push((Arc::from(name.as_str()), reg));
    }
    writes.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    writes
}

/// The registers of a bootstrap write: genesis stamp, origin `system`,
/// writer [`SYSTEM_BOOTSTRAP`], first write (SPEC R10.1).
pub(crate) fn bootstrap_writes(fields: &Map<String, Value>) -> Vec<(Arc<str>, Register)> {
    let by = WriterId::new(SYSTEM_BOOTSTRAP);
    fields
        .iter()
        .map(|(name, value)| {
            let reg = Register {
                value: crate::json::canonical_clone(value),
                at: Timestamp::GENESIS,
                by: by.clone(),
                origin: Origin::System,
                base: Base::First,
            };
            (Arc::from(name.as_str()), reg)
        })
        .collect()
}
