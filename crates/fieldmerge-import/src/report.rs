//! What an import did with each input row (SPEC R14.5): mapped to a log
//! entry or a record, merged into an earlier row, or refused, and what it
//! had to default on the way. Nothing of the input is dropped without a
//! line here.

use fieldmerge::ErrorBody;
use serde_json::{json, Map, Value};

/// Something the import defaulted, dropped or normalised in one row, with
/// the field concerned when there is one (SPEC R14).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Note {
    /// A stable code: `origin_defaulted`, `stamped_at_created`,
    /// `stamped_at_genesis`, `tombstone_added`, `id_dropped`,
    /// `local_only_dropped`, `meta_without_data`, `fraction_truncated`,
    /// `offset_normalized`, `deferred`.
    pub code: &'static str,
    /// The field, when the note is about one.
    pub field: Option<String>,
}

impl Note {
    pub(crate) fn row(code: &'static str) -> Note {
        Note { code, field: None }
    }

    pub(crate) fn field(code: &'static str, field: &str) -> Note {
        Note {
            code,
            field: Some(field.to_owned()),
        }
    }

    fn to_json(&self) -> Value {
        match &self.field {
            None => json!({"code": self.code}),
            Some(f) => json!({"code": self.code, "field": f}),
        }
    }
}

/// What became of one input row.
#[derive(Clone, PartialEq, Debug)]
pub enum Outcome {
    /// It is the log's entry `server_seq`.
    Mapped {
        /// Its place in the log.
        server_seq: u64,
    },
    /// It repeats an earlier row exactly (a retried push the replaced
    /// server stored twice), which is the log's entry `server_seq`.
    Merged {
        /// The entry it repeats.
        server_seq: u64,
    },
    /// A device's record or pending change, in the replica state.
    Loaded,
    /// It could not be mapped: the error says why and where.
    Refused {
        /// The error, in the error form of SPEC R13.1.
        error: ErrorBody,
    },
}

/// One input row's line of the report (SPEC R14.5).
#[derive(Clone, PartialEq, Debug)]
pub struct RowReport {
    /// Which list of the input the row is in: `rows`, `served`, `records`
    /// or `pending`.
    pub list: &'static str,
    /// Its position in that list, from 0.
    pub index: usize,
    /// Its event id, when it has one.
    pub event_id: Option<String>,
    /// What became of it.
    pub outcome: Outcome,
    /// What was defaulted, dropped or normalised, in the order met.
    pub notes: Vec<Note>,
}

impl RowReport {
    /// The line's JSON form: `{list, index, event_id?, outcome, server_seq?,
    /// error?, notes}`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("list".into(), json!(self.list));
        m.insert("index".into(), json!(self.index));
        if let Some(id) = &self.event_id {
            m.insert("event_id".into(), json!(id));
        }
        let outcome = match &self.outcome {
            Outcome::Mapped { server_seq } => {
                m.insert("server_seq".into(), json!(server_seq));
                "mapped"
            }
            Outcome::Merged { server_seq } => {
                m.insert("server_seq".into(), json!(server_seq));
                "merged"
            }
            Outcome::Loaded => "loaded",
            Outcome::Refused { error } => {
                m.insert(
                    "error".into(),
                    serde_json::to_value(error).unwrap_or_default(),
                );
                "refused"
            }
        };
        m.insert("outcome".into(), json!(outcome));
        m.insert(
            "notes".into(),
            Value::Array(self.notes.iter().map(Note::to_json).collect()),
        );
        Value::Object(m)
    }
}
