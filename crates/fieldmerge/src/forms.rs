//! The one JSON form of every protocol message, result and error (SPEC
//! R13.1), with serde: what crosses a WASM or C boundary, a network or a
//! database column. Messages from the network (a push, a page) are decoded
//! with typed errors naming the change and field; the rest with serde.

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::change::{batch_fault, check_name, decode_change_values, register_from_wire, Change};
use crate::classify::ConflictRule;
use crate::error::{
    ChangeError, ChangeErrorKind, ErrorBody, LogError, NotRead, PageError, PushError, StateError,
    WriteError,
};
use crate::protocol::{Page, Pull, Push, PushReply};
use crate::quarantine::Quarantined;
use crate::record::{Record, RecordKey};
use crate::register::{Register, WriterId};
use crate::report::{Anomaly, ApplyReport, Conflict, HiddenEdit, Tally};
use crate::server::{
    ClientRow, LogHead, PushContext, PushOutcome, PushPlan, PushRefusal, WritePlan,
};
use crate::state::{record_from_json, record_to_json, register_to_json};

impl From<&ChangeError> for ErrorBody {
    fn from(e: &ChangeError) -> ErrorBody {
        ErrorBody {
            index: Some(e.index),
            field: e.field.clone(),
            ..ErrorBody::new(e.kind.code(), e)
        }
    }
}

impl From<&WriteError> for ErrorBody {
    fn from(e: &WriteError) -> ErrorBody {
        let field = match e {
            WriteError::ReservedField { field, .. }
            | WriteError::TooDeep { field }
            | WriteError::BadNumber { field, .. } => Some(field.clone()),
            _ => None,
        };
        ErrorBody {
            field,
            ..ErrorBody::new(e.code(), e)
        }
    }
}

impl From<&PushError> for ErrorBody {
    fn from(e: &PushError) -> ErrorBody {
        let (index, field) = match e {
            PushError::ForeignChange { index, .. }
            | PushError::MissingSeq { index }
            | PushError::SeqOrder { index, .. }
            | PushError::SeqReused { index, .. } => (Some(*index), None),
            PushError::ClockAhead { index, field, .. } => (Some(*index), Some(field.clone())),
            PushError::Gap { .. } | PushError::StaleClock { .. } => (None, None),
        };
        ErrorBody {
            index,
            field,
            ..ErrorBody::new(e.code(), e)
        }
    }
}

impl From<&PageError> for ErrorBody {
    fn from(e: &PageError) -> ErrorBody {
        let index = match e {
            PageError::NotConsecutive { index, .. } => Some(*index),
            PageError::NotAtCursor { .. }
            | PageError::HeadBehind { .. }
            | PageError::OtherLog { .. } => None,
        };
        ErrorBody {
            index,
            ..ErrorBody::new(e.code(), e)
        }
    }
}

impl From<&StateError> for ErrorBody {
    fn from(e: &StateError) -> ErrorBody {
        let (index, field) = match e {
            StateError::Record { field, .. } => (None, Some(field.clone())),
            StateError::Outbox(c) => (Some(c.index), c.field.clone()),
            StateError::Json { .. } | StateError::Inconsistent { .. } => (None, None),
        };
        ErrorBody {
            index,
            field,
            ..ErrorBody::new(e.code(), e)
        }
    }
}

impl From<&NotRead> for ErrorBody {
    fn from(e: &NotRead) -> ErrorBody {
        ErrorBody::new(e.code(), e)
    }
}

impl From<&LogError> for ErrorBody {
    fn from(e: &LogError) -> ErrorBody {
        let index = match e {
            LogError::NotConsecutive { index, .. } | LogError::SeqOrder { index, .. } => {
                Some(*index)
            }
            LogError::ClientRow { .. } => None,
        };
        ErrorBody {
            index,
            ..ErrorBody::new(e.code(), e)
        }
    }
}

// ------------------------------------------------------------- push refusals

// A push refusal's JSON form is its error body plus every member of the
// refusal, named as in the spec, so a client can act on it (SPEC R12.4):
// `{code, message, index?, field?, ...members}`.
impl Serialize for PushError {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = match serde_json::to_value(ErrorBody::from(self)) {
            Ok(Value::Object(m)) => m,
            _ => Map::new(),
        };
        let mut put = |k: &str, v: Value| {
            m.insert(k.to_owned(), v);
        };
        match self {
            PushError::ForeignChange { found, .. } => put("found", Value::from(found.as_str())),
            PushError::MissingSeq { .. } => {}
            PushError::SeqOrder {
                previous, found, ..
            } => {
                put("previous", Value::from(*previous));
                put("found", Value::from(*found));
            }
            PushError::SeqReused { client_seq, .. } => put("client_seq", Value::from(*client_seq)),
            PushError::Gap { expected, found } => {
                put("expected", Value::from(*expected));
                put("found", Value::from(*found));
            }
            PushError::ClockAhead {
                at,
                server_now,
                skew_ms_max,
                log_high,
                acked_through,
                clock_epoch,
                ..
            } => {
                put("at", Value::from(at.to_string()));
                put("server_now", Value::from(server_now.to_string()));
                put("skew_ms_max", Value::from(*skew_ms_max));
                put("log_high", Value::from(log_high.to_string()));
                put(
                    "acked_through",
                    (*acked_through).map_or(Value::Null, Value::from),
                );
                put("clock_epoch", Value::from(*clock_epoch));
            }
            PushError::StaleClock {
                found,
                required,
                server_now,
                skew_ms_max,
                log_high,
                acked_through,
            } => {
                put("found", Value::from(*found));
                put("required", Value::from(*required));
                put("server_now", Value::from(server_now.to_string()));
                put("skew_ms_max", Value::from(*skew_ms_max));
                put("log_high", Value::from(log_high.to_string()));
                put(
                    "acked_through",
                    (*acked_through).map_or(Value::Null, Value::from),
                );
            }
        }
        m.serialize(s)
    }
}

impl<'de> Deserialize<'de> for PushError {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let m = Map::<String, Value>::deserialize(d)?;
        push_error_from(&m).map_err(D::Error::custom)
    }
}

fn push_error_from(m: &Map<String, Value>) -> Result<PushError, String> {
    let missing = |k: &str| format!("a push refusal needs {k}");
    let uint = |k: &str| m.get(k).and_then(Value::as_u64).ok_or_else(|| missing(k));
    let index = || uint("index").and_then(|i| usize::try_from(i).map_err(|e| e.to_string()));
    let text = |k: &str| m.get(k).and_then(Value::as_str).ok_or_else(|| missing(k));
    let time =
        |k: &str| text(k).and_then(|t| crate::Timestamp::parse(t).map_err(|e| e.to_string()));
    let skew = || {
        m.get("skew_ms_max")
            .and_then(Value::as_i64)
            .ok_or_else(|| missing("skew_ms_max"))
    };
    let acked = || match m.get("acked_through") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| missing("acked_through")),
    };
    Ok(match text("code")? {
        "foreign_change" => PushError::ForeignChange {
            index: index()?,
            found: text("found")?.to_owned(),
        },
        "missing_seq" => PushError::MissingSeq { index: index()? },
        "seq_order" => PushError::SeqOrder {
            index: index()?,
            previous: uint("previous")?,
            found: uint("found")?,
        },
        "seq_reused" => PushError::SeqReused {
            index: index()?,
            client_seq: uint("client_seq")?,
        },
        "seq_gap" => PushError::Gap {
            expected: uint("expected")?,
            found: uint("found")?,
        },
        "clock_ahead" => PushError::ClockAhead {
            index: index()?,
            field: text("field")?.to_owned(),
            at: time("at")?,
            server_now: time("server_now")?,
            skew_ms_max: skew()?,
            log_high: time("log_high")?,
            acked_through: acked()?,
            clock_epoch: uint("clock_epoch")?,
        },
        "stale_clock" => PushError::StaleClock {
            found: uint("found")?,
            required: uint("required")?,
            server_now: time("server_now")?,
            skew_ms_max: skew()?,
            log_high: time("log_high")?,
            acked_through: acked()?,
        },
        other => {
            return Err(format!(
                "unknown push refusal code {:?}",
                other.chars().take(40).collect::<String>()
            ))
        }
    })
}

// ------------------------------------------------------- registers, records

impl Serialize for Register {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        register_to_json(self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Register {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let mut m = Map::<String, Value>::deserialize(d)?;
        let value = m
            .remove("value")
            .ok_or_else(|| D::Error::custom("a register needs value"))?;
        let value = crate::json::canonical_clone(&value);
        register_from_wire(&value, &Value::Object(m), &WriterId::default())
            .map_err(D::Error::custom)
    }
}

/// A record with its key, in the record form of SPEC R12.5:
/// `{table, id, fields, updated_at_index}`.
fn keyed_record_to_json(key: &RecordKey, record: &Record) -> Value {
    record_to_json(key, record)
}

fn keyed_record_from_json<E: serde::de::Error>(v: &Value) -> Result<(RecordKey, Record), E> {
    record_from_json(v).map_err(E::custom)
}

fn keyed_records<S: Serializer>(records: &[(RecordKey, Record)], s: S) -> Result<S::Ok, S::Error> {
    let list: Vec<Value> = records
        .iter()
        .map(|(k, r)| keyed_record_to_json(k, r))
        .collect();
    list.serialize(s)
}

fn keyed_records_from<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Vec<(RecordKey, Record)>, D::Error> {
    Vec::<Value>::deserialize(d)?
        .iter()
        .map(keyed_record_from_json)
        .collect()
}

fn one_record<S: Serializer>(record: &(RecordKey, Record), s: S) -> Result<S::Ok, S::Error> {
    keyed_record_to_json(&record.0, &record.1).serialize(s)
}

fn one_record_from<'de, D: Deserializer<'de>>(d: D) -> Result<(RecordKey, Record), D::Error> {
    keyed_record_from_json(&Value::deserialize(d)?)
}

fn changes<S: Serializer>(changes: &[Change], s: S) -> Result<S::Ok, S::Error> {
    crate::change::encode_changes(changes).serialize(s)
}

fn changes_from<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Change>, D::Error> {
    decode_change_values(&Value::deserialize(d)?).map_err(D::Error::custom)
}

// ------------------------------------------------------------------ reports

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConflictForm {
    table: String,
    id: String,
    field: String,
    loser: Register,
    winner: Register,
    loser_is_local: bool,
    rule: RuleForm,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum RuleForm {
    Unwitnessed,
    Legacy,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AnomalyForm {
    table: String,
    id: String,
    field: String,
    kept: Register,
    dropped: Register,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct HiddenEditForm {
    table: String,
    id: String,
    field: String,
    edit: Register,
    tombstone: Register,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TallyForm {
    inserted: u64,
    duplicate: u64,
    stale: u64,
    twin: u64,
    overwrite_not_user: u64,
    overwrite_same_value: u64,
    overwrite_witnessed: u64,
    overwrite_legacy_hydration: u64,
    conflict_unwitnessed: u64,
    conflict_legacy: u64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReportForm {
    conflicts: Vec<ConflictForm>,
    anomalies: Vec<AnomalyForm>,
    hidden_edits: Vec<HiddenEditForm>,
    tally: TallyForm,
    changed: Vec<RecordKey>,
    // Present only when a page had an entry that is not a change (SPEC
    // R12.6), so every other report keeps its form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    quarantined: Vec<Quarantined>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuarantinedForm {
    server_seq: u64,
    error: ErrorBody,
    entry: Value,
}

impl Serialize for Quarantined {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        QuarantinedForm {
            server_seq: self.server_seq,
            error: self.error.clone(),
            entry: self.entry.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Quarantined {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = QuarantinedForm::deserialize(d)?;
        Ok(Quarantined {
            server_seq: f.server_seq,
            error: f.error,
            entry: f.entry,
        })
    }
}

impl From<&Tally> for TallyForm {
    fn from(t: &Tally) -> TallyForm {
        TallyForm {
            inserted: t.inserted,
            duplicate: t.duplicate,
            stale: t.stale,
            twin: t.twin,
            overwrite_not_user: t.overwrite_not_user,
            overwrite_same_value: t.overwrite_same_value,
            overwrite_witnessed: t.overwrite_witnessed,
            overwrite_legacy_hydration: t.overwrite_legacy_hydration,
            conflict_unwitnessed: t.conflict_unwitnessed,
            conflict_legacy: t.conflict_legacy,
        }
    }
}

impl From<TallyForm> for Tally {
    fn from(t: TallyForm) -> Tally {
        Tally {
            inserted: t.inserted,
            duplicate: t.duplicate,
            stale: t.stale,
            twin: t.twin,
            overwrite_not_user: t.overwrite_not_user,
            overwrite_same_value: t.overwrite_same_value,
            overwrite_witnessed: t.overwrite_witnessed,
            overwrite_legacy_hydration: t.overwrite_legacy_hydration,
            conflict_unwitnessed: t.conflict_unwitnessed,
            conflict_legacy: t.conflict_legacy,
        }
    }
}

impl Serialize for Tally {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        TallyForm::from(self).serialize(s)
    }
}

impl<'de> Deserialize<'de> for Tally {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(TallyForm::deserialize(d)?.into())
    }
}

impl Serialize for ApplyReport {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let conflicts = self
            .conflicts
            .iter()
            .map(|c| ConflictForm {
                table: c.key.table.clone(),
                id: c.key.id.clone(),
                field: c.field.clone(),
                loser: c.loser.clone(),
                winner: c.winner.clone(),
                loser_is_local: c.loser_is_local,
                rule: match c.rule {
                    ConflictRule::Unwitnessed => RuleForm::Unwitnessed,
                    ConflictRule::Legacy => RuleForm::Legacy,
                },
            })
            .collect();
        let anomalies = self
            .anomalies
            .iter()
            .map(|a| AnomalyForm {
                table: a.key.table.clone(),
                id: a.key.id.clone(),
                field: a.field.clone(),
                kept: a.kept.clone(),
                dropped: a.dropped.clone(),
            })
            .collect();
        let hidden_edits = self
            .hidden_edits
            .iter()
            .map(|h| HiddenEditForm {
                table: h.key.table.clone(),
                id: h.key.id.clone(),
                field: h.field.clone(),
                edit: h.edit.clone(),
                tombstone: h.tombstone.clone(),
            })
            .collect();
        ReportForm {
            conflicts,
            anomalies,
            hidden_edits,
            tally: TallyForm::from(&self.tally),
            changed: self.changed.clone(),
            quarantined: self.quarantined.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for ApplyReport {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let r = ReportForm::deserialize(d)?;
        let key = |table: String, id: String| RecordKey { table, id };
        Ok(ApplyReport {
            conflicts: r
                .conflicts
                .into_iter()
                .map(|c| Conflict {
                    key: key(c.table, c.id),
                    field: c.field,
                    loser: c.loser,
                    winner: c.winner,
                    loser_is_local: c.loser_is_local,
                    rule: match c.rule {
                        RuleForm::Unwitnessed => ConflictRule::Unwitnessed,
                        RuleForm::Legacy => ConflictRule::Legacy,
                    },
                })
                .collect(),
            anomalies: r
                .anomalies
                .into_iter()
                .map(|a| Anomaly {
                    key: key(a.table, a.id),
                    field: a.field,
                    kept: a.kept,
                    dropped: a.dropped,
                })
                .collect(),
            hidden_edits: r
                .hidden_edits
                .into_iter()
                .map(|h| HiddenEdit {
                    key: key(h.table, h.id),
                    field: h.field,
                    edit: h.edit,
                    tombstone: h.tombstone,
                })
                .collect(),
            tally: r.tally.into(),
            changed: r.changed,
            quarantined: r.quarantined,
        })
    }
}

// ----------------------------------------------------------------- messages

/// The most levels a push or page wraps a field value in: the message, its
/// `changes`, the change, its `data` (SPEC R11.1, R13.1).
const MESSAGE_WRAPPERS: usize = 4;

fn message_error(kind: ChangeErrorKind) -> ChangeError {
    ChangeError {
        index: 0,
        table: String::new(),
        id: String::new(),
        field: None,
        kind,
    }
}

fn wrong(path: &str, expected: &'static str) -> ChangeError {
    message_error(ChangeErrorKind::WrongType {
        path: path.to_owned(),
        expected,
    })
}

// The members of a message object, checked against the ones its form has.
fn members<'a>(
    value: &'a Value,
    what: &str,
    known: &[&str],
) -> Result<&'a Map<String, Value>, ChangeError> {
    let m = value.as_object().ok_or_else(|| wrong(what, "an object"))?;
    if let Some(k) = m.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(message_error(ChangeErrorKind::UnknownMember {
            path: crate::change::bounded(k),
        }));
    }
    Ok(m)
}

fn uint_member(
    m: &Map<String, Value>,
    name: &str,
    default: Option<u64>,
) -> Result<u64, ChangeError> {
    match (m.get(name), default) {
        (None, Some(d)) => Ok(d),
        (None, None) => Err(message_error(ChangeErrorKind::Missing {
            path: name.into(),
        })),
        (Some(v), _) => {
            crate::number::counter(v).ok_or_else(|| wrong(name, crate::change::COUNTER))
        }
    }
}

fn changes_member(m: &Map<String, Value>) -> Result<Vec<Change>, ChangeError> {
    let changes = m.get("changes").ok_or_else(|| {
        message_error(ChangeErrorKind::Missing {
            path: "changes".into(),
        })
    })?;
    decode_change_values(changes)
}

/// Reads any JSON form of SPEC R13.1 from text by the one reader's rules
/// (R11.7): a push reply, a push refusal ([`PushError`]), a pull, a page, a
/// push context, a plan, a server configuration, a client row. For a binding
/// that receives every message as text.
///
/// # Errors
/// A [`ChangeError`] with index 0 unless the fault lies in a change: the
/// text faults of R11.7, or `wrong_type` when the JSON is not the form.
///
/// # Example
/// ```
/// use fieldmerge::{read_form, Pull, PushReply};
/// let pull: Pull = read_form(br#"{"cursor": 3.0, "limit": 10}"#).unwrap();
/// assert_eq!((pull.cursor, pull.limit), (3, Some(10)));
/// assert_eq!(read_form::<PushReply>(b"{}").unwrap_err().kind.code(), "wrong_type");
/// assert_eq!(read_form::<Pull>(br#"{"cursor": 1, "cursor": 2}"#).unwrap_err().kind.code(), "duplicate_member");
/// ```
pub fn read_form<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> Result<T, ChangeError> {
    let value = read_message(bytes, FORM_WRAPPERS)?;
    T::deserialize(value).map_err(|e| form_error(&e))
}

// A text that reads but is not the form: `wrong_type`, with the
// deserializer's message.
fn form_error(e: &serde_json::Error) -> ChangeError {
    message_error(ChangeErrorKind::WrongType {
        path: crate::change::bounded(&e.to_string()),
        expected: "the message's JSON form (R13.1)",
    })
}

/// How deep a value sits in the deepest form [`read_form`] reads: a reply's
/// `page.changes[i].data` or `report.conflicts[i].loser.value`.
const FORM_WRAPPERS: usize = 5;

fn parse_message(bytes: &[u8]) -> Result<Value, ChangeError> {
    read_message(bytes, MESSAGE_WRAPPERS)
}

fn read_message(bytes: &[u8], wrappers: usize) -> Result<Value, ChangeError> {
    crate::text::read(bytes, wrappers).map_err(|fault| {
        // A fault inside a change names the change by its index in the
        // message's `changes` (SPEC R11.5); any other has index 0.
        let changes = crate::text::PathStep::Key("changes".to_owned());
        let at = fault
            .path
            .iter()
            .position(|step| *step == changes)
            .map_or(usize::MAX, |p| p + 1);
        crate::change::batch_fault(fault, at)
    })
}

impl Push {
    /// The push's JSON form (SPEC R13.1): `{client_id, changes, cursor,
    /// clock_epoch}`.
    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "client_id": self.client_id.as_str(),
            "changes": crate::change::encode_changes(&self.changes),
            "cursor": self.cursor,
            "clock_epoch": self.clock_epoch,
        })
    }

    /// Decodes a push from JSON text (SPEC R13.1): `client_id` and
    /// `changes` are required, `cursor` and `clock_epoch` default to 0,
    /// nothing else is allowed.
    ///
    /// # Errors
    /// A [`ChangeError`] as for a batch: a change's error names the change
    /// and field; a message-level error has index 0.
    pub fn from_json(bytes: &[u8]) -> Result<Push, ChangeError> {
        // As for a page: the common shape straight into changes, anything
        // else by the one reader, which says what is wrong.
        if let Some(push) = crate::fast::read_push(bytes) {
            return Ok(push);
        }
        Push::from_value(&parse_message(bytes)?)
    }

    /// The push's canonical text (SPEC R11.4, R13.1), written straight from
    /// its changes: `canonical_json(&push.to_json())`, byte for byte.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::with_capacity(64 + 1024 * self.changes.len());
        out.push_str("{\"changes\":[");
        for (i, change) in self.changes.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            change.write_text(&mut out);
        }
        out.push_str("],\"client_id\":");
        crate::text::write_string(self.client_id.as_str(), &mut out);
        let _ = write!(
            out,
            ",\"clock_epoch\":{},\"cursor\":{}}}",
            self.clock_epoch, self.cursor
        );
        out
    }

    /// [`Push::from_json`] over a parsed value.
    ///
    /// # Errors
    /// As [`Push::from_json`].
    pub fn from_value(value: &Value) -> Result<Push, ChangeError> {
        let m = members(
            value,
            "push",
            &["client_id", "changes", "cursor", "clock_epoch"],
        )?;
        let client_id = match m.get("client_id") {
            None => {
                return Err(message_error(ChangeErrorKind::Missing {
                    path: "client_id".into(),
                }))
            }
            Some(Value::String(s)) => {
                check_name(s, "client_id").map_err(message_error)?;
                WriterId::new(s)
            }
            Some(_) => return Err(wrong("client_id", "a string")),
        };
        Ok(Push {
            changes: changes_member(m)?,
            cursor: uint_member(m, "cursor", Some(0))?,
            clock_epoch: uint_member(m, "clock_epoch", Some(0))?,
            client_id,
        })
    }
}

impl Serialize for Push {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Push {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Push::from_value(&Value::deserialize(d)?).map_err(D::Error::custom)
    }
}

impl Page {
    /// The page's JSON form (SPEC R13.1): `{after, changes, head, log?}`,
    /// `log` exactly when the page names its log (R12.7).
    pub fn to_json(&self) -> Value {
        let mut value = serde_json::json!({
            "after": self.after,
            "changes": encode_log(&self.changes, &self.quarantined),
            "head": self.head,
        });
        if let (Some(log), Value::Object(m)) = (&self.log, &mut value) {
            m.insert("log".into(), Value::String(log.clone()));
        }
        value
    }

    /// The page's canonical text (SPEC R11.4, R13.1), written straight from
    /// its entries: `canonical_json(&page.to_json())` without building the
    /// value, byte for byte.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::with_capacity(64 + 1024 * self.changes.len());
        let _ = write!(out, "{{\"after\":{},\"changes\":[", self.after);
        let mut quarantined = self.quarantined.iter().peekable();
        let mut first = true;
        let mut comma = |out: &mut String| {
            if !std::mem::take(&mut first) {
                out.push(',');
            }
        };
        for change in &self.changes {
            let seq = change.server_seq().unwrap_or(u64::MAX);
            while let Some(q) = quarantined.next_if(|q| q.server_seq < seq) {
                comma(&mut out);
                crate::text::write_value(&q.entry, &mut out);
            }
            comma(&mut out);
            change.write_text(&mut out);
        }
        for q in quarantined {
            comma(&mut out);
            crate::text::write_value(&q.entry, &mut out);
        }
        let _ = write!(out, "],\"head\":{}", self.head);
        // Members in byte order (R11.4): `log` sorts after `head`.
        if let Some(log) = &self.log {
            out.push_str(",\"log\":");
            crate::text::write_value(&Value::String(log.clone()), &mut out);
        }
        out.push('}');
        out
    }

    /// Decodes a page from JSON text (SPEC R13.1): `after`, `changes` and
    /// `head` are required, `log` (the log's name, R12.7) optional, nothing
    /// else is allowed. An entry of `changes` that is not
    /// a valid change, by R11.5 or by a fault of its own text (R11.7), is
    /// quarantined, not refused (SPEC R12.6). Whether the page continues a
    /// replica's cursor is the replica's to decide (SPEC R6.5).
    ///
    /// # Errors
    /// A [`ChangeError`] with index 0 for text that is not JSON, or a page
    /// that is not the form.
    pub fn from_json(bytes: &[u8]) -> Result<Page, ChangeError> {
        // A page of valid changes in the common shape is read straight
        // into changes; anything else by the one reader, which says what
        // is wrong.
        if let Some(page) = crate::fast::read_page(bytes) {
            return Ok(page);
        }
        let (value, entries) = read_entries(bytes, MESSAGE_WRAPPERS, &["changes"])?;
        Page::from_parts(value, entries)
    }

    /// [`Page::from_json`] over a parsed value.
    ///
    /// # Errors
    /// As [`Page::from_json`].
    pub fn from_value(value: &Value) -> Result<Page, ChangeError> {
        Page::from_parts(value.clone(), None)
    }

    // A page from its envelope and, when they were read one by one, its
    // entries; otherwise the entries are the envelope's `changes`.
    fn from_parts(mut value: Value, entries: Option<Vec<Entry>>) -> Result<Page, ChangeError> {
        let m = members(&value, "page", &["after", "changes", "head", "log"])?;
        let after = uint_member(m, "after", None)?;
        match m.get("changes") {
            None => {
                return Err(message_error(ChangeErrorKind::Missing {
                    path: "changes".into(),
                }))
            }
            Some(Value::Array(_)) => {}
            Some(_) => return Err(wrong("batch", "an array")),
        }
        let head = uint_member(m, "head", None)?;
        // SPEC R12.7: the log's name, a name as R11.6 says, checked
        // after `after`, `changes` and `head` (R13.1).
        let log = match m.get("log") {
            None => None,
            Some(Value::String(log)) => {
                crate::change::check_name(log, "log").map_err(message_error)?;
                Some(log.clone())
            }
            Some(_) => return Err(wrong("log", "a string")),
        };
        let entries = entries.unwrap_or_else(|| {
            let list = value.get_mut("changes").map(Value::take);
            let Some(Value::Array(list)) = list else {
                return Vec::new();
            };
            list.into_iter().map(Entry::Read).collect()
        });
        let mut page = Page::new(after, Vec::with_capacity(entries.len()), head).with_log(log);
        for (index, entry) in entries.into_iter().enumerate() {
            // The entry's place in the log, whatever it says (SPEC R12.6).
            let server_seq = after.saturating_add(index as u64 + 1);
            let (error, entry) = match entry {
                Entry::Read(wire) => match Change::from_wire(&wire, index) {
                    Ok(change) => {
                        page.changes.push(change);
                        continue;
                    }
                    Err(error) => (error, wire),
                },
                Entry::Faulty { error, text } => (error, Value::String(text)),
            };
            page.quarantined.push(Quarantined {
                server_seq,
                error: ErrorBody::from(&error),
                entry,
            });
        }
        Ok(page)
    }
}

/// Reads a server's stored log (SPEC R13.2) from its JSON form, an array of
/// entries in log order, entry by entry (R12.6): entry `i` is the log's
/// `i + 1`; one that is not a valid change is quarantined there, as a page
/// would quarantine it. What [`Server::from_log_quarantined`] rebuilds from.
///
/// [`Server::from_log_quarantined`]: crate::Server::from_log_quarantined
///
/// # Errors
/// A [`ChangeError`] with index 0 for text that is not JSON or not an
/// array.
pub fn decode_log(bytes: &[u8]) -> Result<(Vec<Change>, Vec<Quarantined>), ChangeError> {
    // An entry's value sits in the log array, the change and its `data`.
    let (value, entries) = read_entries(bytes, 3, &[])?;
    let page = Page::from_parts(
        serde_json::json!({"after": 0, "changes": value, "head": 0}),
        entries,
    )?;
    Ok((page.changes, page.quarantined))
}

/// The JSON form of a server's log (SPEC R13.2, R12.6): its changes and
/// its quarantined entries, each at its place, in log order. What
/// [`decode_log`] reads.
pub fn encode_log(changes: &[Change], quarantined: &[Quarantined]) -> Value {
    // A quarantined entry goes at its place among the changes, as it was
    // read (SPEC R12.6); the same for a page's entries.
    let mut entries = Vec::with_capacity(changes.len() + quarantined.len());
    let mut quarantined = quarantined.iter().peekable();
    for change in changes {
        let seq = change.server_seq().unwrap_or(u64::MAX);
        while let Some(q) = quarantined.next_if(|q| q.server_seq < seq) {
            entries.push(q.entry.clone());
        }
        entries.push(change.to_wire());
    }
    entries.extend(quarantined.map(|q| q.entry.clone()));
    Value::Array(entries)
}

/// One entry of a message's list of changes: read, or refused by a fault
/// of its own text (SPEC R11.7), with its exact text.
enum Entry {
    Read(Value),
    Faulty { error: ChangeError, text: String },
}

/// Reads a message whose list of changes sits at `path` (SPEC R12.6): the
/// whole text by the one reader when it reads; when the only faults lie
/// inside entries of that list, the message without them (its envelope)
/// and each entry on its own, so one entry's fault refuses that entry
/// alone. `None` for the entries when the whole text read.
fn read_entries(
    bytes: &[u8],
    wrappers: usize,
    path: &[&str],
) -> Result<(Value, Option<Vec<Entry>>), ChangeError> {
    let fault = match crate::text::read(bytes, wrappers) {
        Ok(value) => return Ok((value, None)),
        Err(fault) => fault,
    };
    // A fault inside an entry: the entries may still be told apart (a
    // lone surrogate, say, breaks an entry, not the page's syntax).
    let in_entry = fault.path.len() > path.len()
        && path
            .iter()
            .zip(&fault.path)
            .all(|(name, step)| matches!(step, crate::text::PathStep::Key(k) if k == name));
    let split = match in_entry {
        true => crate::text::entries(bytes, path).map_err(|f| batch_fault(f, usize::MAX))?,
        false => None,
    };
    let Some(split) = split else {
        return Err(batch_fault(fault, usize::MAX));
    };
    // The envelope: everything but the entries, read by the same rules.
    let envelope = split.envelope(bytes);
    let value = crate::text::read(&envelope, wrappers).map_err(|mut f| {
        f.at = split.text_offset(f.at);
        batch_fault(f, usize::MAX)
    })?;
    // An entry sits inside the envelope's wrappers down to the list.
    let inner = wrappers.saturating_sub(path.len() + 1);
    let entries = split
        .elements
        .iter()
        .enumerate()
        .map(|(index, range)| {
            let text = &bytes[range.clone()];
            match crate::text::read(text, inner) {
                Ok(value) => Entry::Read(value),
                Err(mut f) => {
                    f.at += range.start;
                    f.path.insert(0, crate::text::PathStep::Index(index));
                    let mut error = batch_fault(f, 0);
                    error.index = index;
                    Entry::Faulty {
                        error,
                        // In range: `entries` checked the text is UTF-8.
                        text: String::from_utf8_lossy(text).into_owned(),
                    }
                }
            }
        })
        .collect();
    Ok((value, Some(entries)))
}

impl Serialize for Page {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_json().serialize(s)
    }
}

impl<'de> Deserialize<'de> for Page {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Page::from_value(&Value::deserialize(d)?).map_err(D::Error::custom)
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PullForm {
    cursor: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    limit: Option<usize>,
}

impl Serialize for Pull {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PullForm {
            cursor: self.cursor,
            limit: self.limit,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for Pull {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = PullForm::deserialize(d)?;
        Ok(Pull {
            cursor: f.cursor,
            limit: f.limit,
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PushReplyForm {
    acked_through: Option<u64>,
    appended: usize,
    page: Page,
    report: ApplyReport,
}

impl Serialize for PushReply {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PushReplyForm {
            acked_through: self.acked_through,
            appended: self.appended,
            page: self.page.clone(),
            report: self.report.clone(),
        }
        .serialize(s)
    }
}

impl PushReply {
    /// Reads a push reply from JSON text (SPEC R13.1, R11.7). Its page is
    /// read as [`Page::from_json`] reads one: an entry that is not a valid
    /// change is quarantined, not refused (R12.6).
    ///
    /// # Errors
    /// A [`ChangeError`] with index 0 for text that is not JSON or a reply
    /// that is not the form.
    pub fn from_json(bytes: &[u8]) -> Result<PushReply, ChangeError> {
        let (value, entries) = read_entries(bytes, FORM_WRAPPERS, &["page", "changes"])?;
        let mut reply = PushReply::deserialize(&value).map_err(|e| form_error(&e))?;
        if let (Some(entries), Some(page)) = (entries, value.get("page")) {
            reply.page = Page::from_parts(page.clone(), Some(entries))?;
        }
        Ok(reply)
    }
}

impl<'de> Deserialize<'de> for PushReply {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = PushReplyForm::deserialize(d)?;
        Ok(PushReply {
            acked_through: f.acked_through,
            appended: f.appended,
            page: f.page,
            report: f.report,
        })
    }
}

// ------------------------------------------------------ the storage boundary

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PushContextForm {
    log: LogHead,
    #[serde(default)]
    client: ClientRow,
    #[serde(default, serialize_with = "changes", deserialize_with = "changes_from")]
    logged: Vec<Change>,
    #[serde(
        default,
        serialize_with = "keyed_records",
        deserialize_with = "keyed_records_from"
    )]
    records: Vec<(RecordKey, Record)>,
    #[serde(default)]
    absent: Vec<RecordKey>,
}

// `records` holds the records read, `absent` the keys read and not found.
impl Serialize for PushContext {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut records = Vec::new();
        let mut absent = Vec::new();
        for (key, record) in &self.records {
            match record {
                Some(r) => records.push((key.clone(), r.clone())),
                None => absent.push(key.clone()),
            }
        }
        PushContextForm {
            log: self.log,
            client: self.client,
            logged: self.logged.clone(),
            records,
            absent,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for PushContext {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = PushContextForm::deserialize(d)?;
        let mut records: std::collections::BTreeMap<RecordKey, Option<Record>> =
            f.records.into_iter().map(|(k, r)| (k, Some(r))).collect();
        for key in f.absent {
            if records.insert(key.clone(), None).is_some() {
                return Err(D::Error::custom(format!(
                    "record {key} is both read and absent"
                )));
            }
        }
        Ok(PushContext {
            log: f.log,
            client: f.client,
            logged: f.logged,
            records,
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PushPlanForm {
    #[serde(serialize_with = "changes", deserialize_with = "changes_from")]
    append: Vec<Change>,
    #[serde(
        serialize_with = "keyed_records",
        deserialize_with = "keyed_records_from"
    )]
    records: Vec<(RecordKey, Record)>,
    client: ClientRow,
    log: LogHead,
    acked_through: Option<u64>,
    report: ApplyReport,
}

impl Serialize for PushPlan {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PushPlanForm {
            append: self.append.clone(),
            records: self.records.clone(),
            client: self.client,
            log: self.log,
            acked_through: self.acked_through,
            report: self.report.clone(),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for PushPlan {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = PushPlanForm::deserialize(d)?;
        Ok(PushPlan {
            append: f.append,
            records: f.records,
            client: f.client,
            log: f.log,
            acked_through: f.acked_through,
            report: f.report,
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PushRefusalForm {
    error: PushError,
    client: Option<ClientRow>,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
enum PushOutcomeForm {
    Accepted(PushPlan),
    Refused(PushRefusalForm),
}

// `{"accepted": plan}` or `{"refused": {error, client}}`.
impl Serialize for PushOutcome {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            PushOutcome::Accepted(plan) => PushOutcomeForm::Accepted(plan.clone()),
            PushOutcome::Refused(r) => PushOutcomeForm::Refused(PushRefusalForm {
                error: r.error.clone(),
                client: r.client,
            }),
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for PushOutcome {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(match PushOutcomeForm::deserialize(d)? {
            PushOutcomeForm::Accepted(plan) => PushOutcome::Accepted(plan),
            PushOutcomeForm::Refused(r) => PushOutcome::Refused(PushRefusal {
                error: r.error,
                client: r.client,
            }),
        })
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WritePlanForm {
    change: Change,
    #[serde(serialize_with = "one_record", deserialize_with = "one_record_from")]
    record: (RecordKey, Record),
    log: LogHead,
}

impl Serialize for WritePlan {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        WritePlanForm {
            change: self.change.clone(),
            record: (self.change.key().clone(), self.record.clone()),
            log: self.log,
        }
        .serialize(s)
    }
}

impl<'de> Deserialize<'de> for WritePlan {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = WritePlanForm::deserialize(d)?;
        if &f.record.0 != f.change.key() {
            return Err(D::Error::custom(
                "a write plan's record is not its change's",
            ));
        }
        Ok(WritePlan {
            change: f.change,
            record: f.record.1,
            log: f.log,
        })
    }
}
