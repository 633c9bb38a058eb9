//! A device's exported records and pending changes (the replaced client's
//! IndexedDB) into a fieldmerge replica state (SPEC R14.5).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use fieldmerge::{
    Change, ErrorBody, Origin, Record, RecordKey, Register, ReplicaState, TOMBSTONE_FIELD,
};
use serde_json::{json, Map, Value};

use crate::input::error;
use crate::mapping::{ext, instant, local_only, meta, origin, Fields, Row};
use crate::report::{Note, Outcome, RowReport};

/// A device's replica state made by an import (SPEC R14.5), and its
/// report.
#[derive(Clone, Debug)]
pub struct DeviceImport {
    /// The replica state (R12.5): the records, the pending changes as its
    /// outbox, no cursor (its first pull is an initial hydration round,
    /// R6.4), the clock derived.
    pub state: ReplicaState,
    /// One line per record and per pending change, in input order.
    pub report: Vec<RowReport>,
}

impl DeviceImport {
    /// `{state, report}`.
    pub fn to_json(&self) -> Value {
        json!({
            "state": serde_json::to_value(&self.state).unwrap_or_default(),
            "report": self.report.iter().map(RowReport::to_json).collect::<Vec<_>>(),
        })
    }
}

const PENDING_MEMBERS: &[&str] = &[
    "appId",
    "collection",
    "recordId",
    "op",
    "data",
    "fields",
    "actor",
    "origin",
    "createdAt",
    "spaceId",
];

/// Imports a device's export (SPEC R14.5): `{records: {table: [record]},
/// pendingChanges?: [pending]}` and the device's client id. A field whose
/// `__fieldMeta` names a local write (origin `user`, `agent`, `system`,
/// `migration`, or an actor) keeps its stamp and is written by the device;
/// any other (origin `server-replay`, no metadata, a legacy row with only
/// `updatedAt`) came from the server or cannot be told apart from what
/// did, so it defers to the server: stamped at the genesis, writer `""`,
/// origin `system`, and the server's own register replaces it on the first
/// pull. Pending changes become the outbox, `client_seq` 1, 2, ... in
/// `createdAt` order, and their registers the records'.
///
/// # Errors
/// An [`ErrorBody`] when the export as a whole is not of that shape, or
/// the state it makes does not load (R12.5).
pub fn import_device(bytes: &[u8], client_id: &str) -> Result<DeviceImport, ErrorBody> {
    let export = fieldmerge::read_json(bytes).map_err(|e| ErrorBody::from(&e))?;
    let export = Row::new(&export, &["records", "pendingChanges"])?;
    let mut report = Vec::new();
    let mut records: BTreeMap<RecordKey, BTreeMap<String, Register>> = BTreeMap::new();
    let mut index = 0;
    for (table, list) in export.object("records")?.into_iter().flatten() {
        let Value::Array(list) = list else {
            return Err(error(
                "wrong_type",
                &format!("records.{table} must be an array"),
            ));
        };
        for record in list {
            let mut line = RowReport {
                list: "records",
                index,
                event_id: None,
                outcome: Outcome::Loaded,
                notes: Vec::new(),
            };
            index += 1;
            match map_record(table, record, client_id, &mut line.notes) {
                Ok((key, fields)) => {
                    records.entry(key).or_default().extend(fields);
                }
                Err(error) => line.outcome = Outcome::Refused { error },
            }
            report.push(line);
        }
    }
    let pending = match export.opt("pendingChanges") {
        None => Vec::new(),
        Some(Value::Array(list)) => list.iter().collect(),
        Some(_) => return Err(error("wrong_type", "pendingChanges must be an array")),
    };
    let mut outbox = Vec::new();
    let mut ordered = Vec::new();
    for (index, item) in pending.into_iter().enumerate() {
        let mut notes = Vec::new();
        let created = Row::new(item, PENDING_MEMBERS)
            .and_then(|row| instant(row.string("createdAt")?, &mut notes, None));
        ordered.push((created, index, item, notes));
    }
    // The outbox in the order the device made its changes.
    ordered.sort_by(|a, b| match (&a.0, &b.0) {
        (Ok(x), Ok(y)) => (x, a.1).cmp(&(y, b.1)),
        _ => a.1.cmp(&b.1),
    });
    let mut lines: Vec<RowReport> = Vec::new();
    for (created, index, item, mut notes) in ordered {
        let seq = outbox.len() as u64 + 1;
        let result =
            created.and_then(|created| map_pending(item, created.at, client_id, seq, &mut notes));
        let outcome = match result {
            Ok(change) => {
                // A pending write is in the record too (R5): the greater
                // register of each field stays (R4).
                let fields = records.entry(change.key().clone()).or_default();
                for (name, reg) in change.writes() {
                    let newer = fields
                        .get(name)
                        .is_none_or(|old| reg.cmp_total(old) == Ordering::Greater);
                    if newer {
                        fields.insert(name.to_owned(), reg.clone());
                    }
                }
                outbox.push(change.to_wire());
                Outcome::Loaded
            }
            Err(error) => Outcome::Refused { error },
        };
        lines.push(RowReport {
            list: "pending",
            index,
            event_id: None,
            outcome,
            notes,
        });
    }
    lines.sort_by_key(|l| l.index);
    report.extend(lines);
    let records: Vec<Value> = records
        .into_iter()
        .map(|(key, fields)| {
            let mut record = Record::new();
            for (name, reg) in &fields {
                record.merge_register(name, reg, fieldmerge::Delivery::Live);
            }
            fieldmerge::record_to_json(&key, &record)
        })
        .collect();
    let state = json!({"client_id": client_id, "records": records, "outbox": outbox});
    let state: ReplicaState =
        serde_json::from_value(state).map_err(|e| error("state_json", &e.to_string()))?;
    // The state must load (R12.5): then it is the one written out.
    let replica = state.load().map_err(|e| ErrorBody::from(&e))?;
    Ok(DeviceImport {
        state: ReplicaState::of(&replica),
        report,
    })
}

type Registers = BTreeMap<String, Register>;

fn map_record(
    table: &str,
    record: &Value,
    client_id: &str,
    notes: &mut Vec<Note>,
) -> Result<(RecordKey, Registers), ErrorBody> {
    let members = record
        .as_object()
        .ok_or_else(|| error("wrong_type", "a record must be an object"))?;
    let id = match members.get("id") {
        Some(Value::String(id)) => id,
        Some(_) => return Err(error("wrong_type", "id must be a string")),
        None => return Err(error("missing", "missing id")),
    };
    let empty = Map::new();
    let field_meta = match members.get(fieldmerge::FIELD_META_KEY) {
        None | Some(Value::Null) => &empty,
        Some(Value::Object(m)) => m,
        Some(_) => return Err(error("wrong_type", "__fieldMeta must be an object")),
    };
    let mut fields = Registers::new();
    for (name, value) in members {
        if name == "id" || name == fieldmerge::FIELD_META_KEY {
            continue;
        }
        if local_only(name) {
            notes.push(Note::field("local_only_dropped", name));
            continue;
        }
        let local = match field_meta.get(name) {
            Some(m) => local_write(m, notes, name)?,
            None => None,
        };
        let reg = match local {
            Some((at, origin)) => Register {
                value: value.clone(),
                at,
                by: fieldmerge::WriterId::new(client_id),
                origin,
                base: fieldmerge::Base::Legacy,
            },
            None => {
                notes.push(Note::field("deferred", name));
                Register {
                    value: value.clone(),
                    at: fieldmerge::Timestamp::GENESIS,
                    by: fieldmerge::WriterId::new(""),
                    origin: Origin::System,
                    base: fieldmerge::Base::Legacy,
                }
            }
        };
        fields.insert(name.clone(), reg);
    }
    let key = RecordKey::new(table, id);
    // The record must be one a state holds (R12.5): names, values.
    let mut check = Record::new();
    for (name, reg) in &fields {
        check.merge_register(name, reg, fieldmerge::Delivery::Live);
    }
    fieldmerge::record_from_json(&fieldmerge::record_to_json(&key, &check))
        .map_err(|e| ErrorBody::from(&e))?;
    Ok((key, fields))
}

// A field's `__fieldMeta` entry: its stamp and origin when it names a
// local write; `None` when the value came from the server (`server-replay`)
// or the entry says too little to tell.
fn local_write(
    m: &Value,
    notes: &mut Vec<Note>,
    name: &str,
) -> Result<Option<(fieldmerge::Timestamp, Origin)>, ErrorBody> {
    let text = |k: &str| m.get(k).and_then(Value::as_str);
    let actor = m.get("actor").filter(|a| !a.is_null());
    let origin = match text("origin") {
        Some("server-replay") => return Ok(None),
        Some(o) => Origin::parse(o)
            .map_err(|bad| error("unknown_origin", &format!("unknown origin {bad:?}")))?,
        None if actor.is_some() => origin(None, actor, notes)?,
        None => return Ok(None),
    };
    let Some(at) = text("at") else {
        return Ok(None);
    };
    Ok(Some((instant(at, notes, Some(name))?.at, origin)))
}

fn map_pending(
    item: &Value,
    created: fieldmerge::Timestamp,
    client_id: &str,
    seq: u64,
    notes: &mut Vec<Note>,
) -> Result<Change, ErrorBody> {
    let row = Row::new(item, PENDING_MEMBERS)?;
    let (table, id) = (row.string("collection")?, row.string("recordId")?);
    let op = row.string("op")?;
    if !matches!(op, "insert" | "update" | "delete") {
        return Err(error("unknown_op", &format!("unknown op {op:?}")));
    }
    let origin = origin(row.opt_string("origin")?, row.opt("actor"), notes)?;
    let mut fields = Fields::new();
    if let Some(record) = row.object("data")? {
        fields.record(
            record,
            id,
            (created, "stamped_at_created"),
            (origin, client_id),
            notes,
        );
    }
    if let Some(stamped) = row.object("fields")? {
        fields.stamped(stamped, (origin, client_id), notes)?;
    }
    let Fields {
        mut data,
        meta: mut field_meta,
    } = fields;
    if op == "delete" && data.get(TOMBSTONE_FIELD).is_none_or(Value::is_null) {
        data.insert(TOMBSTONE_FIELD.into(), json!(created.to_string()));
        field_meta.insert(TOMBSTONE_FIELD.into(), meta(created, origin, client_id));
        notes.push(Note::field("tombstone_added", TOMBSTONE_FIELD));
    }
    let mut wire = json!({
        "table": table, "id": id, "op": op, "data": data, "field_meta": field_meta,
        "client_id": client_id, "client_seq": seq,
    });
    if let Some(slot) = ext(&[
        ("actor", row.opt("actor")),
        ("space_id", row.opt("spaceId")),
        ("app_id", row.opt("appId")),
    ]) {
        wire["ext"] = slot;
    }
    Change::from_wire(&wire, 0).map_err(|e| ErrorBody::from(&e))
}
