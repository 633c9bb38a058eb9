//! The changes the replaced server served (its pull and push replies) into
//! a fieldmerge server log (SPEC R14.4), for a team that has them and not
//! the table they came from.

use std::collections::BTreeMap;

use fieldmerge::{Change, ErrorBody, Timestamp, TOMBSTONE_FIELD};
use serde_json::{json, Value};

use crate::input::{error, items};
use crate::mapping::{ext, instant, meta, origin, Fields, Row};
use crate::report::{Note, Outcome, RowReport};
use crate::rows::LogImport;

/// The writer of every served change: a served change names none (R6.4's
/// legacy writer).
pub const SERVED_WRITER: &str = "legacy";

const SERVED_MEMBERS: &[&str] = &[
    "eventId",
    "schemaVersion",
    "table",
    "id",
    "op",
    "fields",
    "data",
    "deletedAt",
    "spaceId",
    "actor",
    "origin",
];

/// Imports served changes (SPEC R14.4): a JSON array, JSON lines, or a
/// response `{serverChanges: [...]}`, in the order served. `fields`
/// (`{field: {value, at}}`) keep their stamps; a `deletedAt` is stamped at
/// its own time; the fields of `data` (an insert's whole record, which
/// carries no stamp) are stamped at the genesis, so any stamped write
/// beats them. Every change is written by [`SERVED_WRITER`]; a change
/// whose event id was served before (overlapping pages) is merged into it.
///
/// # Errors
/// An [`ErrorBody`] when the input as a whole is not a list of changes.
pub fn import_served(bytes: &[u8]) -> Result<LogImport, ErrorBody> {
    let mut report = Vec::new();
    let mut log: Vec<Change> = Vec::new();
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for (index, item) in items(bytes, Some("serverChanges"))?.into_iter().enumerate() {
        let mut line = RowReport {
            list: "served",
            index,
            event_id: None,
            outcome: Outcome::Loaded,
            notes: Vec::new(),
        };
        let event_id = item
            .as_ref()
            .ok()
            .and_then(|v| v.get("eventId"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        line.event_id.clone_from(&event_id);
        if let Some(&server_seq) = event_id.as_ref().and_then(|e| seen.get(e)) {
            line.outcome = Outcome::Merged { server_seq };
            report.push(line);
            continue;
        }
        let server_seq = log.len() as u64 + 1;
        let result = item.and_then(|v| map_served(&v, server_seq, index, &mut line.notes));
        match result {
            Ok(change) => {
                if let Some(e) = event_id {
                    seen.insert(e, server_seq);
                }
                log.push(change);
                line.outcome = Outcome::Mapped { server_seq };
            }
            Err(error) => line.outcome = Outcome::Refused { error },
        }
        report.push(line);
    }
    Ok(LogImport { log, report })
}

fn map_served(
    value: &Value,
    server_seq: u64,
    index: usize,
    notes: &mut Vec<Note>,
) -> Result<Change, ErrorBody> {
    let row = Row::new(value, SERVED_MEMBERS)?;
    let event_id = row.string("eventId")?;
    let (table, id) = (row.string("table")?, row.string("id")?);
    let op = row.string("op")?;
    if !matches!(op, "insert" | "update" | "delete") {
        return Err(error("unknown_op", &format!("unknown op {op:?}")));
    }
    let origin = origin(row.opt_string("origin")?, row.opt("actor"), notes)?;
    let by = SERVED_WRITER;
    let mut fields = Fields::new();
    if let Some(record) = row.object("data")? {
        fields.record(
            record,
            id,
            (Timestamp::GENESIS, "stamped_at_genesis"),
            (origin, by),
            notes,
        );
    }
    if let Some(stamped) = row.object("fields")? {
        fields.stamped(stamped, (origin, by), notes)?;
    }
    let Fields {
        mut data,
        meta: mut field_meta,
    } = fields;
    if let Some(deleted) = row.opt_string("deletedAt")? {
        let at = instant(deleted, notes, Some(TOMBSTONE_FIELD))?.at;
        data.insert(TOMBSTONE_FIELD.into(), json!(deleted));
        field_meta.insert(TOMBSTONE_FIELD.into(), meta(at, origin, by));
    }
    let event = json!(event_id);
    let mut wire = json!({
        "table": table, "id": id, "op": op, "data": data, "field_meta": field_meta,
        "client_id": by, "server_seq": server_seq,
    });
    if let Some(slot) = ext(&[
        ("event_id", Some(&event)),
        ("actor", row.opt("actor")),
        ("space_id", row.opt("spaceId")),
        ("schema_version", row.opt("schemaVersion")),
    ]) {
        wire["ext"] = slot;
    }
    Change::from_wire(&wire, index).map_err(|e| ErrorBody::from(&e))
}
