//! The rules every input shares (SPEC R14.2): origin from the row or its
//! actor, the extension slot that keeps the replaced system's metadata,
//! times, and the row's members.

use fieldmerge::{ErrorBody, Origin, Timestamp};
use serde_json::{Map, Value};

use crate::input::error;
use crate::report::Note;
use crate::time::{legacy_instant, Instant};

/// A row's members, each taken once; what is left over is refused.
pub(crate) struct Row<'a> {
    members: &'a Map<String, Value>,
    allowed: &'static [&'static str],
}

impl<'a> Row<'a> {
    pub(crate) fn new(
        value: &'a Value,
        allowed: &'static [&'static str],
    ) -> Result<Row<'a>, ErrorBody> {
        let members = value
            .as_object()
            .ok_or_else(|| error("wrong_type", "a row must be a JSON object"))?;
        if let Some(name) = members.keys().find(|k| !allowed.contains(&k.as_str())) {
            return Err(error(
                "unknown_member",
                &format!(
                    "unknown member {:?}",
                    name.chars().take(64).collect::<String>()
                ),
            ));
        }
        Ok(Row { members, allowed })
    }

    /// A member that may be absent or `null`.
    pub(crate) fn opt(&self, name: &str) -> Option<&'a Value> {
        debug_assert!(self.allowed.contains(&name));
        self.members.get(name).filter(|v| !v.is_null())
    }

    pub(crate) fn string(&self, name: &str) -> Result<&'a str, ErrorBody> {
        match self.opt(name) {
            Some(Value::String(s)) => Ok(s),
            Some(_) => Err(error("wrong_type", &format!("{name} must be a string"))),
            None => Err(error("missing", &format!("missing {name}"))),
        }
    }

    pub(crate) fn opt_string(&self, name: &str) -> Result<Option<&'a str>, ErrorBody> {
        match self.opt(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(error("wrong_type", &format!("{name} must be a string"))),
        }
    }

    pub(crate) fn object(&self, name: &str) -> Result<Option<&'a Map<String, Value>>, ErrorBody> {
        match self.opt(name) {
            None => Ok(None),
            Some(Value::Object(m)) => Ok(Some(m)),
            Some(_) => Err(error("wrong_type", &format!("{name} must be an object"))),
        }
    }
}

/// SPEC R14.1: a legacy time, with the notes its normalisation needs.
pub(crate) fn instant(
    text: &str,
    notes: &mut Vec<Note>,
    field: Option<&str>,
) -> Result<Instant, ErrorBody> {
    let i = legacy_instant(text).map_err(|m| error("bad_timestamp", &m))?;
    let note = |code| match field {
        Some(f) => Note::field(code, f),
        None => Note::row(code),
    };
    if i.sub_ms_nanos != 0 {
        notes.push(note("fraction_truncated"));
    }
    if !text.ends_with('Z') {
        notes.push(note("offset_normalized"));
    }
    Ok(i)
}

/// SPEC R14.2 (R3.2): the row's `origin` when it has one; otherwise the
/// actor's kind (`user` gives user, `ai` agent, `system` migration when its
/// principal or source is `system:migration`, else system); otherwise
/// `user`, noted.
pub(crate) fn origin(
    row_origin: Option<&str>,
    actor: Option<&Value>,
    notes: &mut Vec<Note>,
) -> Result<Origin, ErrorBody> {
    if let Some(text) = row_origin {
        return Origin::parse(text)
            .map_err(|bad| error("unknown_origin", &format!("unknown origin {bad:?}")));
    }
    let kind = actor.and_then(|a| a.get("kind")).and_then(Value::as_str);
    let principal = actor.and_then(|a| {
        a.get("principalId")
            .or_else(|| a.get("source"))
            .and_then(Value::as_str)
    });
    Ok(match kind {
        Some("user") => Origin::User,
        Some("ai") => Origin::Agent,
        Some("system") if principal == Some(fieldmerge::SYSTEM_MIGRATION) => Origin::Migration,
        Some("system") => Origin::System,
        _ => {
            notes.push(Note::row("origin_defaulted"));
            Origin::User
        }
    })
}

/// SPEC R14.2, R11.8: the extension slot that keeps what the replaced
/// system knew of the row and fieldmerge's merge does not read. Members
/// in the order given, present only when not null.
pub(crate) fn ext(members: &[(&str, Option<&Value>)]) -> Option<Value> {
    let slot: Map<String, Value> = members
        .iter()
        .filter_map(|(name, v)| Some(((*name).to_owned(), (*v)?.clone())))
        .collect();
    (!slot.is_empty()).then_some(Value::Object(slot))
}

/// A register's metadata in the wire form of R11.1: a legacy writer (no
/// `base`, R6.4).
pub(crate) fn meta(at: Timestamp, origin: Origin, by: &str) -> Value {
    serde_json::json!({"at": at.to_string(), "origin": origin.as_str(), "by": by})
}

/// A change's fields and metadata as they are built (R11.1).
pub(crate) struct Fields {
    pub(crate) data: Map<String, Value>,
    pub(crate) meta: Map<String, Value>,
}

impl Fields {
    pub(crate) fn new() -> Fields {
        Fields {
            data: Map::new(),
            meta: Map::new(),
        }
    }

    /// An insert's whole record (R14.4, R14.5): each field stamped `at`,
    /// but the record's own `id` (`id_dropped`) and the local-only names
    /// (`local_only_dropped`). `stamped` notes the stamp's source.
    pub(crate) fn record(
        &mut self,
        record: &Map<String, Value>,
        id: &str,
        stamp: (Timestamp, &'static str),
        writer: (Origin, &str),
        notes: &mut Vec<Note>,
    ) {
        let before = self.data.len();
        for (name, value) in record {
            if local_only(name) {
                notes.push(Note::field("local_only_dropped", name));
            } else if name == "id" && value.as_str() == Some(id) {
                notes.push(Note::field("id_dropped", name));
            } else {
                self.data.insert(name.clone(), value.clone());
                self.meta
                    .insert(name.clone(), meta(stamp.0, writer.0, writer.1));
            }
        }
        if self.data.len() > before {
            notes.push(Note::row(stamp.1));
        }
    }

    /// `fields: {field: {value, at}}` (R14.4, R14.5), each stamped as given.
    pub(crate) fn stamped(
        &mut self,
        fields: &Map<String, Value>,
        writer: (Origin, &str),
        notes: &mut Vec<Note>,
    ) -> Result<(), ErrorBody> {
        for (name, register) in fields {
            let (Some(value), Some(Value::String(at))) =
                (register.get("value"), register.get("at"))
            else {
                return Err(error(
                    "missing",
                    &format!("fields.{name} needs value and at"),
                ));
            };
            let at = instant(at, notes, Some(name))?.at;
            self.data.insert(name.clone(), value.clone());
            self.meta.insert(name.clone(), meta(at, writer.0, writer.1));
        }
        Ok(())
    }
}

/// The local-only names a record of the replaced client carries and a
/// change never does (R1.3).
pub(crate) fn local_only(name: &str) -> bool {
    name == fieldmerge::SHADOW_FIELD || name == fieldmerge::FIELD_META_KEY
}
