//! The JSON form of a replica's persisted state (SPEC R12.5): what a device
//! keeps across restarts, and what conformance vectors and the `apply`
//! command read and print.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::change::{
    check_field, check_name, register_from_meta, register_meta_to_wire, Change, Members,
};
use crate::error::{ChangeErrorKind, StateError};
use crate::record::{Record, RecordKey};
use crate::register::{Register, WriterId};
use crate::replica::{Clock, Replica, ReplicaParts};
use crate::timestamp::Timestamp;

/// A replica's persisted state in JSON form. Every member but `client_id`
/// may be omitted on input; see `spec/SPEC.md` R12.5 for the format.
#[derive(Clone, PartialEq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplicaState {
    /// The stable client id.
    pub client_id: String,
    /// The records, each `{table, id, fields: {name: {value, at, origin, by, base?}}, updated_at_index}`.
    #[serde(default)]
    pub records: Vec<Value>,
    /// The pending changes, as wire changes.
    #[serde(default)]
    pub outbox: Vec<Value>,
    /// The next `client_seq`; defaults to one after the outbox's last.
    #[serde(default)]
    pub next_seq: Option<u64>,
    /// The cursor into the server log; `null` before the first pull.
    #[serde(default)]
    pub cursor: Option<u64>,
    /// Whether an initial hydration round is under way.
    #[serde(default)]
    pub hydrating: bool,
    /// The name of the log the cursor is into (SPEC R12.7); absent when the
    /// replica follows none or an unnamed one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    /// The clock; defaults to one that has seen every stored register.
    #[serde(default)]
    pub clock: Option<ClockState>,
}

/// The JSON form of a [`Clock`].
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClockState {
    /// The greatest `at` received.
    pub seen: Timestamp,
    /// The greatest `at` stamped.
    pub stamped: Timestamp,
    /// The learnt correction of the wall clock.
    #[serde(default)]
    pub offset_ms: i64,
    /// The clock epoch (SPEC R12.4); absent means 0.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub epoch: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl ReplicaState {
    /// The persisted state of `replica`.
    pub fn of(replica: &Replica) -> ReplicaState {
        let clock = replica.clock();
        ReplicaState {
            client_id: replica.client_id().to_string(),
            records: replica
                .records()
                .iter()
                .map(|(k, r)| record_to_json(k, r))
                .collect(),
            outbox: replica.outbox().iter().map(Change::to_wire).collect(),
            next_seq: Some(replica.next_seq()),
            cursor: replica.cursor(),
            hydrating: replica.is_hydrating(),
            log: replica.log_name().map(str::to_owned),
            clock: Some(ClockState {
                seen: clock.seen,
                stamped: clock.stamped,
                offset_ms: clock.offset_ms,
                epoch: clock.epoch,
            }),
        }
    }

    /// Loads the replica this state describes.
    ///
    /// # Errors
    /// [`StateError`] naming the bad record field or outbox change.
    pub fn load(&self) -> Result<Replica, StateError> {
        self.load_from(self.records.iter().map(Cow::Borrowed))
    }

    // The state's load with its records taken from `values`, one at a
    // time (`self.records` is ignored).
    fn load_from<'v>(
        &self,
        values: impl Iterator<Item = Cow<'v, Value>>,
    ) -> Result<Replica, StateError> {
        // The client id names every change this replica writes, so it must
        // be a wire name (SPEC R11.6, R12.5).
        if self.client_id.is_empty() || self.client_id.len() > crate::change::NAME_BYTES_MAX {
            return Err(StateError::Json {
                message: "client_id must be 1 to 256 bytes".into(),
            });
        }
        let client_id = WriterId::new(&self.client_id);
        // SPEC R12.7: a log's name is a name.
        if let Some(log) = &self.log {
            if crate::change::check_name(log, "log").is_err() {
                return Err(StateError::Json {
                    message: "log must be 1 to 256 bytes".into(),
                });
            }
        }
        let mut records = BTreeMap::new();
        for value in values {
            let (key, record) = record_from_json(&value)?;
            if records.contains_key(&key) {
                // Loading either copy would drop the other's registers.
                return Err(StateError::Inconsistent {
                    what: format!("record {}/{} appears twice", key.table, key.id),
                });
            }
            records.insert(key, record);
        }
        let outbox = self
            .outbox
            .iter()
            .enumerate()
            .map(|(i, v)| Change::from_wire(v, i))
            .collect::<Result<Vec<_>, _>>()
            .map_err(StateError::Outbox)?;
        let inconsistent = |what: String| StateError::Inconsistent { what };
        let mut previous: Option<u64> = None;
        for (i, change) in outbox.iter().enumerate() {
            if change.client_id() != &client_id {
                return Err(inconsistent(format!(
                    "outbox change {i} belongs to another client"
                )));
            }
            let seq = change
                .client_seq()
                .ok_or_else(|| inconsistent(format!("outbox change {i} has no client_seq")))?;
            if seq == 0 {
                return Err(inconsistent(format!(
                    "outbox change {i} has client_seq 0; sequence numbers start at 1"
                )));
            }
            if previous.is_some_and(|p| p.checked_add(1) != Some(seq)) {
                return Err(inconsistent(format!(
                    "outbox change {i}: client_seq {seq} is not consecutive"
                )));
            }
            previous = Some(seq);
        }
        let next_seq = self
            .next_seq
            .unwrap_or(previous.map_or(1, |s| s.saturating_add(1)));
        // Sequence numbers stay at most 2^53, so every one is a counter that
        // every binary64 stack holds (R11.6) and no increment overflows; the
        // outbox is the suffix of what the replica wrote, so the next number
        // follows its last change exactly (a gap would be refused by the
        // server as seq_gap forever).
        if next_seq == 0
            || next_seq > crate::number::SAFE_INTEGER_MAX
            || previous.is_some_and(|p| p.checked_add(1) != Some(next_seq))
        {
            return Err(inconsistent(format!(
                "next_seq {next_seq} does not follow the outbox"
            )));
        }
        // Without a stored clock: the replica's own pending writes count as
        // stamped, everything else as seen. Counting a far-ahead pending write
        // as seen would floor every later clock correction above it (R12.4).
        let clock = match self.clock {
            Some(c) => Clock {
                seen: c.seen,
                stamped: c.stamped,
                offset_ms: c.offset_ms,
                epoch: c.epoch,
            },
            None => derived_clock(&records, &outbox),
        };
        check_clock(&clock, &records, &outbox).map_err(inconsistent)?;
        Ok(Replica::from_parts(ReplicaParts {
            client_id,
            records,
            clock,
            outbox,
            next_seq,
            cursor: self.cursor,
            hydrating: self.hydrating,
            // A replica follows a log only through its cursor: without one
            // (a lost cursor is harmless, R12.5) it follows none, and its
            // next pull hydrates from whichever log it meets (R12.7).
            log: self.cursor.and(self.log.clone()),
        }))
    }

    /// Parses a state from JSON text and loads it.
    ///
    /// # Errors
    /// [`StateError::Json`] for text that is not a state; otherwise as [`ReplicaState::load`].
    pub fn load_json(text: &[u8]) -> Result<Replica, StateError> {
        // A state of many records is read record by record, so loading
        // holds one record's JSON at a time beside the replica it builds,
        // not a tree of the whole text. Any fault, of the text or of the
        // state, is left to the reading of the whole text below, which
        // says what is wrong exactly as it always did.
        if let Some(replica) = ReplicaState::load_by_record(text) {
            return Ok(replica);
        }
        // A value sits at most five levels deep: the state, `records`, the
        // record, its `fields`, the field (SPEC R12.5).
        let state: ReplicaState =
            crate::text::parse_bounded(text, 5).map_err(|e| StateError::Json {
                // The parser's message may quote the input (an unknown
                // member's name): bounded, like every echo of input.
                message: crate::change::bounded(&e.to_string()),
            })?;
        state.load()
    }

    // `load_json` record by record: the state without its records (its
    // envelope), then each record's text on its own, at most three levels
    // deep (the record, its `fields`, the field), as within the whole text.
    // `None` when anything does not read or load.
    fn load_by_record(text: &[u8]) -> Option<Replica> {
        let split = crate::text::entries(text, &["records"]).ok()??;
        let envelope = split.envelope(text);
        let state: ReplicaState = crate::text::parse_bounded(&envelope, 5).ok()?;
        let fault = std::cell::Cell::new(false);
        let records = split.elements.iter().map_while(|range| {
            match crate::text::read(&text[range.clone()], 3) {
                Ok(value) => Some(Cow::Owned(value)),
                Err(_) => {
                    fault.set(true);
                    None
                }
            }
        });
        let replica = state.load_from(records).ok()?;
        (!fault.get()).then_some(replica)
    }

    /// The canonical text (SPEC R11.4) of [`ReplicaState::of`]`(replica)`,
    /// written straight from the replica: byte for byte
    /// `canonical_json(&serde_json::to_value(ReplicaState::of(replica)))`,
    /// without building the state's values, so saving a replica holds
    /// little more than the text it returns.
    pub fn text_of(replica: &Replica) -> String {
        use crate::text::{write_string, write_value};
        use std::fmt::Write as _;
        let mut out = String::with_capacity(256 + 128 * replica.records().len());
        // Members in the byte order of their names (R11.4).
        out.push_str("{\"client_id\":");
        write_string(replica.client_id().as_str(), &mut out);
        let clock = replica.clock();
        out.push_str(",\"clock\":{");
        if clock.epoch != 0 {
            let _ = write!(out, "\"epoch\":{},", clock.epoch);
        }
        let _ = write!(
            out,
            "\"offset_ms\":{},\"seen\":\"{}\",\"stamped\":\"{}\"}}",
            clock.offset_ms, clock.seen, clock.stamped
        );
        match replica.cursor() {
            Some(cursor) => {
                let _ = write!(out, ",\"cursor\":{cursor}");
            }
            None => out.push_str(",\"cursor\":null"),
        }
        let _ = write!(out, ",\"hydrating\":{}", replica.is_hydrating());
        if let Some(log) = replica.log_name() {
            out.push_str(",\"log\":");
            write_string(log, &mut out);
        }
        let _ = write!(out, ",\"next_seq\":{},\"outbox\":[", replica.next_seq());
        for (i, change) in replica.outbox().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            change.write_text(&mut out);
        }
        out.push_str("],\"records\":[");
        for (i, (key, record)) in replica.records().iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            // A record: fields, id, table, updated_at_index; a register: at,
            // base?, by, origin, value.
            out.push_str("{\"fields\":{");
            for (j, (name, reg)) in record.fields().enumerate() {
                if j > 0 {
                    out.push(',');
                }
                write_string(name, &mut out);
                out.push(':');
                crate::change::write_register_meta(reg, &mut out);
                out.push_str(",\"value\":");
                write_value(&reg.value, &mut out);
                out.push('}');
            }
            out.push_str("},\"id\":");
            write_string(&key.id, &mut out);
            out.push_str(",\"table\":");
            write_string(&key.table, &mut out);
            match record.updated_at_index() {
                Some(at) => {
                    let _ = write!(out, ",\"updated_at_index\":\"{at}\"}}");
                }
                None => out.push_str(",\"updated_at_index\":null}"),
            }
        }
        out.push_str("]}");
        out
    }
}

/// A register as JSON, as a record's field holds it: `{value, at, origin, by, base?}`.
pub fn register_to_json(reg: &Register) -> Value {
    let mut entry = Map::new();
    entry.insert("value".into(), reg.value.clone());
    if let Value::Object(meta) = register_meta_to_wire(reg) {
        entry.extend(meta);
    }
    Value::Object(entry)
}

/// A record as JSON: `{table, id, fields: {name: {value, at, origin, by, base?}}, updated_at_index}`.
pub fn record_to_json(key: &RecordKey, record: &Record) -> Value {
    let mut fields = Map::new();
    for (name, reg) in record.fields() {
        fields.insert(name.to_owned(), register_to_json(reg));
    }
    let mut obj = Map::new();
    obj.insert("table".into(), Value::from(key.table.as_str()));
    obj.insert("id".into(), Value::from(key.id.as_str()));
    obj.insert("fields".into(), Value::Object(fields));
    obj.insert(
        "updated_at_index".into(),
        record
            .updated_at_index()
            .map_or(Value::Null, |t| Value::from(t.to_string())),
    );
    Value::Object(obj)
}

/// Reads a record from the JSON of [`record_to_json`]. A missing
/// `updated_at_index` is derived.
///
/// # Errors
/// [`StateError`] naming the record and field.
pub fn record_from_json(value: &Value) -> Result<(RecordKey, Record), StateError> {
    let json_err = |message: &str| StateError::Json {
        message: message.to_owned(),
    };
    let obj = value
        .as_object()
        .ok_or_else(|| json_err("a record must be an object"))?;
    let text = |name: &str| obj.get(name).and_then(Value::as_str);
    let key = RecordKey::new(
        text("table").ok_or_else(|| json_err("a record needs a string table"))?,
        text("id").ok_or_else(|| json_err("a record needs a string id"))?,
    );
    let rec_err = |field: &str, kind: ChangeErrorKind| StateError::Record {
        table: key
            .table
            .chars()
            .take(crate::change::NAME_BYTES_MAX)
            .collect(),
        id: key.id.chars().take(crate::change::NAME_BYTES_MAX).collect(),
        field: crate::change::bounded(field),
        kind,
    };
    // SPEC R12.5: a record has exactly these members; a misspelled or
    // missing `fields` would otherwise load as an empty record.
    if let Some(member) = obj
        .keys()
        .find(|k| !matches!(k.as_str(), "table" | "id" | "fields" | "updated_at_index"))
    {
        return Err(rec_err(
            "",
            ChangeErrorKind::UnknownMember {
                path: member.clone(),
            },
        ));
    }
    // Its key names a record no change could name otherwise (R11.6).
    check_name(&key.table, "table").map_err(|k| rec_err("", k))?;
    check_name(&key.id, "id").map_err(|k| rec_err("", k))?;
    let fields = match obj.get("fields") {
        None => {
            return Err(rec_err(
                "",
                ChangeErrorKind::Missing {
                    path: "fields".into(),
                },
            ))
        }
        Some(Value::Object(m)) => m,
        Some(_) => return Err(json_err("a record's fields must be an object")),
    };
    let mut registers = Vec::with_capacity(fields.len());
    for (name, entry) in fields {
        let meta = entry.as_object().ok_or_else(|| {
            rec_err(
                name,
                ChangeErrorKind::WrongType {
                    path: "field".into(),
                    expected: "an object",
                },
            )
        })?;
        let value = meta.get("value").ok_or_else(|| {
            rec_err(
                name,
                ChangeErrorKind::Missing {
                    path: "value".into(),
                },
            )
        })?;
        let canonical = check_field(name, value).map_err(|k| rec_err(name, k))?;
        let value = canonical.as_ref().unwrap_or(value);
        let reg = register_from_meta(value, meta, Members::WithValue, &WriterId::default())
            .map_err(|k| rec_err(name, k))?;
        registers.push((name.clone(), reg));
    }
    let index = match obj.get("updated_at_index") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(Value::String(s)) => Some(Some(
            Timestamp::parse(s).map_err(|e| rec_err("updated_at_index", e.into()))?,
        )),
        Some(_) => return Err(json_err("updated_at_index must be a timestamp or null")),
    };
    let mut record = Record::from_registers(registers, index.flatten());
    match index {
        None => record.refresh_index(),
        // SPEC R8.1: the stored shadow index is derived, so one that
        // disagrees is a damaged record, not a choice.
        Some(stored) if stored != record.derive_updated_at() => {
            return Err(StateError::Inconsistent {
                what: format!(
                    "record {}/{}: updated_at_index is not the greatest at of its fields",
                    key.table, key.id
                ),
            })
        }
        Some(_) => {}
    }
    Ok((key, record))
}

impl From<&Replica> for ReplicaState {
    fn from(replica: &Replica) -> ReplicaState {
        ReplicaState::of(replica)
    }
}

impl TryFrom<&ReplicaState> for Replica {
    type Error = StateError;

    fn try_from(state: &ReplicaState) -> Result<Replica, StateError> {
        state.load()
    }
}

// The clock of a state saved without one (SPEC R12.5): every register that
// is not a pending write counts as seen, the pending changes as stamped. The
// pending versions are sorted once and searched, so a state of n pending
// records loads in O(n log n).
fn derived_clock(records: &BTreeMap<RecordKey, Record>, outbox: &[Change]) -> Clock {
    let mut pending: Vec<(Timestamp, &str)> = outbox
        .iter()
        .flat_map(|c| c.writes().map(|(_, r)| (r.at, r.by.as_str())))
        .collect();
    pending.sort_unstable();
    let mut seen = Timestamp::GENESIS;
    for record in records.values() {
        for (_, reg) in record.fields() {
            if pending.binary_search(&(reg.at, reg.by.as_str())).is_err() {
                seen = seen.max(reg.at);
            }
        }
    }
    let stamped = outbox
        .iter()
        .filter_map(Change::max_at)
        .max()
        .unwrap_or_default();
    Clock {
        seen,
        stamped,
        offset_ms: 0,
        epoch: 0,
    }
}

// SPEC R12.5: a clock that can stamp again. Every register and pending
// write is at or below `max(seen, stamped)`, or the next local write could
// be stamped below a register it overwrites and be lost; and the epoch
// stays below 2^53, so the server's demand of the next one is a counter
// too (R11.6, R12.4).
fn check_clock(
    clock: &Clock,
    records: &BTreeMap<RecordKey, Record>,
    outbox: &[Change],
) -> Result<(), String> {
    if clock.epoch >= crate::number::SAFE_INTEGER_MAX {
        return Err(format!("clock epoch {} is beyond 2^53 - 1", clock.epoch));
    }
    let floor = clock.seen.max(clock.stamped);
    for (key, record) in records {
        if let Some((name, reg)) = record.fields().find(|(_, r)| r.at > floor) {
            return Err(format!(
                "the clock (seen {}, stamped {}) is behind record {}/{} field {name:?} at {}",
                clock.seen, clock.stamped, key.table, key.id, reg.at
            ));
        }
    }
    for (i, change) in outbox.iter().enumerate() {
        if let Some(at) = change.max_at().filter(|at| *at > floor) {
            return Err(format!(
                "the clock (seen {}, stamped {}) is behind outbox change {i} at {at}",
                clock.seen, clock.stamped
            ));
        }
    }
    Ok(())
}
