//! The replaced server's stored change rows (its `sync_changes` table) into
//! a fieldmerge server log (SPEC R14.2, R14.3).

use std::collections::BTreeMap;

use fieldmerge::{Change, ErrorBody, Timestamp, TOMBSTONE_FIELD};
use serde_json::{json, Map, Value};

use crate::input::{error, items};
use crate::mapping::{ext, instant, local_only, meta, origin, Row};
use crate::report::{Note, Outcome, RowReport};
use crate::time::Instant;

/// A server's stored parts (SPEC R13.2) made by an import, and its report.
#[derive(Clone, PartialEq, Debug)]
pub struct LogImport {
    /// The log: changes with `server_seq` 1, 2, ..., in the replaced
    /// system's order. No change carries a `client_seq`, so the client
    /// table is empty.
    pub log: Vec<Change>,
    /// One line per input row, in input order.
    pub report: Vec<RowReport>,
}

impl LogImport {
    /// `{log, clients, report}`: the log and the client table in the forms
    /// `JsonServer::from_log` reads (R13.2), and the report.
    pub fn to_json(&self) -> Value {
        json!({
            "log": fieldmerge::encode_log(&self.log, &[]),
            "clients": {},
            "report": self.report.iter().map(RowReport::to_json).collect::<Vec<_>>(),
        })
    }
}

const ROW_MEMBERS: &[&str] = &[
    "id",
    "app_id",
    "table_name",
    "record_id",
    "user_id",
    "op",
    "data",
    "field_meta",
    "client_id",
    "created_at",
    "schema_version",
    "actor",
    "origin",
    "space_id",
];

/// Imports stored change rows (SPEC R14.2, R14.3): a JSON array of rows,
/// or JSON lines of rows (one bad line then refuses one row). Each row
/// becomes a change of legacy registers (no `base`, R6.4) written by its
/// `client_id`; the log is ordered by `created_at`, to the nanosecond,
/// then by event id; a row that repeats an earlier one exactly is merged
/// into it; a row that cannot be mapped is refused. The event id, actor,
/// space, app, user and schema version ride in the change's extension
/// slot (R11.8).
///
/// # Errors
/// An [`ErrorBody`] when the input as a whole is not a list of rows.
pub fn import_rows(bytes: &[u8]) -> Result<LogImport, ErrorBody> {
    let mut report = Vec::new();
    let mut mapped = Vec::new();
    for (index, item) in items(bytes, None)?.into_iter().enumerate() {
        let mut line = RowReport {
            list: "rows",
            index,
            event_id: None,
            outcome: Outcome::Loaded,
            notes: Vec::new(),
        };
        let result = item.and_then(|row| {
            line.event_id = row.get("id").and_then(Value::as_str).map(str::to_owned);
            map_row(&row, &mut line.notes)
        });
        match result {
            Ok(m) => mapped.push((m, index)),
            Err(error) => line.outcome = Outcome::Refused { error },
        }
        report.push(line);
    }
    // SPEC R14.3: the replaced system's order, whatever the input's.
    mapped.sort_by(|(a, i), (b, j)| (a.created, &a.event_id, i).cmp(&(b.created, &b.event_id, j)));
    let mut log = Vec::with_capacity(mapped.len());
    let mut seen: BTreeMap<String, u64> = BTreeMap::new();
    for (m, index) in mapped {
        if let Some(&server_seq) = seen.get(&m.content) {
            report[index].outcome = Outcome::Merged { server_seq };
            continue;
        }
        let server_seq = log.len() as u64 + 1;
        let mut wire = m.wire;
        wire["server_seq"] = json!(server_seq);
        match Change::from_wire(&wire, index) {
            Ok(change) => {
                seen.insert(m.content, server_seq);
                log.push(change);
                report[index].outcome = Outcome::Mapped { server_seq };
            }
            Err(e) => {
                report[index].outcome = Outcome::Refused {
                    error: ErrorBody::from(&e),
                }
            }
        }
    }
    Ok(LogImport { log, report })
}

struct Mapped {
    created: Instant,
    event_id: String,
    wire: Value,
    // What makes two rows the same write: everything but the event id and
    // the time the replaced server stored it.
    content: String,
}

fn map_row(value: &Value, notes: &mut Vec<Note>) -> Result<Mapped, ErrorBody> {
    let row = Row::new(value, ROW_MEMBERS)?;
    let event_id = row.string("id")?;
    let (table, id) = (row.string("table_name")?, row.string("record_id")?);
    let op = row.string("op")?;
    if !matches!(op, "insert" | "update" | "delete") {
        return Err(error("unknown_op", &format!("unknown op {op:?}")));
    }
    let client = row.string("client_id")?;
    let created = instant(row.string("created_at")?, notes, None)?;
    let data = row
        .object("data")?
        .ok_or_else(|| error("missing", "missing data"))?;
    let empty = Map::new();
    let field_meta = row.object("field_meta")?.unwrap_or(&empty);
    let origin = origin(row.opt_string("origin")?, row.opt("actor"), notes)?;
    let (mut wire_data, mut wire_meta) = (Map::new(), Map::new());
    for (name, value) in data {
        if local_only(name) {
            notes.push(Note::field("local_only_dropped", name));
            continue;
        }
        if op == "insert" && name == "id" && value.as_str() == Some(id) {
            notes.push(Note::field("id_dropped", name));
            continue;
        }
        // An update stamps each field as the client did; an insert or a
        // delete carries no stamp, so the server's time stands in.
        let at = match (op, field_meta.get(name)) {
            ("update", Some(Value::String(t))) => instant(t, notes, Some(name))?.at,
            ("update", Some(_)) => {
                return Err(error(
                    "wrong_type",
                    &format!("field_meta.{name} must be a time"),
                ))
            }
            ("update", None) => {
                notes.push(Note::field("stamped_at_created", name));
                created.at
            }
            _ => created.at,
        };
        wire_data.insert(name.clone(), value.clone());
        wire_meta.insert(name.clone(), meta(at, origin, client));
    }
    if op != "update" && !wire_data.is_empty() {
        notes.push(Note::row("stamped_at_created"));
    }
    for name in field_meta.keys().filter(|n| !data.contains_key(*n)) {
        notes.push(Note::field("meta_without_data", name));
    }
    let tombstone = wire_data.get(TOMBSTONE_FIELD).is_some_and(|v| !v.is_null());
    if op == "delete" && !tombstone {
        let at: Timestamp = created.at;
        wire_data.insert(TOMBSTONE_FIELD.into(), json!(at.to_string()));
        wire_meta.insert(TOMBSTONE_FIELD.into(), meta(at, origin, client));
        notes.push(Note::field("tombstone_added", TOMBSTONE_FIELD));
    }
    let event = json!(event_id);
    let mut wire = json!({
        "table": table, "id": id, "op": op, "data": wire_data, "field_meta": wire_meta,
        "client_id": client,
    });
    if let Some(slot) = ext(&[
        ("event_id", Some(&event)),
        ("actor", row.opt("actor")),
        ("space_id", row.opt("space_id")),
        ("app_id", row.opt("app_id")),
        ("user_id", row.opt("user_id")),
        ("schema_version", row.opt("schema_version")),
    ]) {
        wire["ext"] = slot;
    }
    // The change must be one fieldmerge accepts (R11): names, values, size.
    Change::from_wire(&wire, 0).map_err(|e| ErrorBody::from(&e))?;
    let content = fieldmerge::canonical_json(&json!({
        "client_id": client, "table": table, "id": id, "op": op, "data": data,
        "field_meta": field_meta,
    }));
    Ok(Mapped {
        created,
        event_id: event_id.to_owned(),
        wire,
        content,
    })
}
