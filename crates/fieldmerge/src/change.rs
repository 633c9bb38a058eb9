//! A change: one insert, update or delete of one record, as a validated value
//! and in its wire format (SPEC R11).

use std::sync::Arc;

use serde_json::{Map, Value};

use crate::error::{ChangeError, ChangeErrorKind};
use crate::ext::Ext;
use crate::json::{check_value, ValueFault};
use crate::origin::Origin;
use crate::record::{RecordKey, FIELD_META_KEY, SHADOW_FIELD, TOMBSTONE_FIELD};
use crate::register::{Base, Register, Version, WriterId};
pub(crate) use crate::text::bounded;
use crate::text::{write_string, write_value, Fault, FaultKind, PathStep};
use crate::timestamp::Timestamp;

/// The longest table, id, field or writer name, in bytes (SPEC R11.6).
pub const NAME_BYTES_MAX: usize = 256;
/// The most fields one change may touch (SPEC R11.6).
pub const FIELDS_PER_CHANGE_MAX: usize = 1024;

/// What a change does to its record. Descriptive only: applying a change is
/// field-LWW over its registers whatever the op (SPEC R11.2).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Op {
    /// The first write of a record.
    Insert,
    /// A later write of some fields (a restore included).
    Update,
    /// A soft delete: sets the tombstone (SPEC R9).
    Delete,
}

impl Op {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Insert => "insert",
            Op::Update => "update",
            Op::Delete => "delete",
        }
    }
}

/// A validated change. Only [`Change::from_wire`], [`Change::new`] and the
/// kernel build one, so a `Change` always satisfies SPEC R11: it can be
/// applied without failing.
#[derive(Clone, PartialEq, Debug)]
pub struct Change {
    key: RecordKey,
    op: Op,
    // Sorted by field name, names unique.
    writes: Vec<(Arc<str>, Register)>,
    client_id: WriterId,
    client_seq: Option<u64>,
    server_seq: Option<u64>,
    // Boxed: most changes have none, and a change stays small.
    ext: Option<Box<Ext>>,
}

impl Change {
    /// Builds and validates a change from parts.
    ///
    /// # Errors
    /// The [`ChangeError`] of SPEC R11.5 for bad names, local-only fields,
    /// values nested too deep, too many or no fields, a field written twice
    /// (`duplicate_member`), or a delete without a tombstone.
    pub fn new(
        key: RecordKey,
        op: Op,
        writes: Vec<(String, Register)>,
        client_id: WriterId,
        client_seq: Option<u64>,
    ) -> Result<Change, ChangeError> {
        let (table, id) = (key.table.clone(), key.id.clone());
        let err = |field: Option<&str>, kind| ChangeError {
            index: 0,
            table: table.clone(),
            id: id.clone(),
            field: field.map(bounded),
            kind,
        };
        check_name(&key.table, "table").map_err(|k| err(None, k))?;
        check_name(&key.id, "id").map_err(|k| err(None, k))?;
        check_name(client_id.as_str(), "client_id").map_err(|k| err(None, k))?;
        let mut sorted: Vec<(Arc<str>, Register)> = Vec::with_capacity(writes.len());
        for (name, mut reg) in writes {
            if let Some(canonical) =
                check_field(&name, &reg.value).map_err(|k| err(Some(&name), k))?
            {
                reg.value = canonical;
            }
            check_writers(&reg).map_err(|k| err(Some(&name), k))?;
            sorted.push((Arc::from(name.as_str()), reg));
        }
        sorted.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
        // Two writes to one field: refused, never one of them dropped.
        if let Some(pair) = sorted.windows(2).find(|w| w[0].0 == w[1].0) {
            let path = "field".to_owned();
            return Err(err(
                Some(&pair[0].0),
                ChangeErrorKind::DuplicateMember { path },
            ));
        }
        let change = Change {
            key,
            op,
            writes: sorted,
            client_id,
            client_seq,
            server_seq: None,
            ext: None,
        };
        change.check_shape().map_err(|k| err(None, k))?;
        Ok(change)
    }

    /// The record the change touches.
    pub fn key(&self) -> &RecordKey {
        &self.key
    }

    /// Insert, update or delete.
    pub fn op(&self) -> Op {
        self.op
    }

    /// The registers the change writes, in field-name byte order.
    pub fn writes(&self) -> impl Iterator<Item = (&str, &Register)> + '_ {
        self.writes.iter().map(|(name, reg)| (&**name, reg))
    }

    /// The registers with their shared names, for merges that share them.
    pub(crate) fn writes_shared(&self) -> &[(Arc<str>, Register)] {
        &self.writes
    }

    /// The register the change writes for `field`, if any.
    pub fn write(&self, field: &str) -> Option<&Register> {
        self.writes
            .binary_search_by(|(name, _)| name.as_bytes().cmp(field.as_bytes()))
            .ok()
            .map(|i| &self.writes[i].1)
    }

    /// The client that sent the change (for server-side writes, the writer).
    pub fn client_id(&self) -> &WriterId {
        &self.client_id
    }

    /// The sending client's sequence number: the dedup key of a retried push.
    pub fn client_seq(&self) -> Option<u64> {
        self.client_seq
    }

    /// The change's position in the server log, once appended.
    pub fn server_seq(&self) -> Option<u64> {
        self.server_seq
    }

    /// The greatest `at` the change carries.
    pub fn max_at(&self) -> Option<Timestamp> {
        self.writes.iter().map(|(_, reg)| reg.at).max()
    }

    /// Whether `other` is this change, whatever either's `server_seq`: the
    /// same record, op, registers, client, `client_seq` and extension slot
    /// (SPEC R12.1, R11.8).
    pub(crate) fn same_content(&self, other: &Change) -> bool {
        self.key == other.key
            && self.op == other.op
            && self.client_id == other.client_id
            && self.client_seq == other.client_seq
            && self.ext == other.ext
            && self.writes.len() == other.writes.len()
            && self
                .writes
                .iter()
                .zip(&other.writes)
                .all(|((a, ra), (b, rb))| a == b && ra == rb)
    }

    /// The change's extension slot (SPEC R11.8), if it has one.
    pub fn ext(&self) -> Option<&Ext> {
        self.ext.as_deref()
    }

    /// The change with the extension slot `ext` (SPEC R11.8), replacing any
    /// it had: for a change built from parts, such as an import.
    pub fn with_ext(mut self, ext: Option<Ext>) -> Change {
        self.ext = ext.map(Box::new);
        self
    }

    /// A change whose parts the page reader's fast path read and checked
    /// (names, values, writers): the shape checks of [`Change::from_wire`]
    /// run here; `None` when one fails.
    pub(crate) fn from_checked_parts(
        key: RecordKey,
        op: Op,
        writes: Vec<(Arc<str>, Register)>,
        client_id: WriterId,
        seqs: (Option<u64>, Option<u64>),
    ) -> Option<Change> {
        let change = Change {
            key,
            op,
            writes,
            client_id,
            client_seq: seqs.0,
            server_seq: seqs.1,
            ext: None,
        };
        change.check_shape().ok()?;
        Some(change)
    }

    pub(crate) fn with_server_seq(mut self, seq: u64) -> Change {
        self.server_seq = Some(seq);
        self
    }

    pub(crate) fn writes_mut(&mut self) -> impl Iterator<Item = (&str, &mut Register)> + '_ {
        self.writes.iter_mut().map(|(name, reg)| (&**name, reg))
    }

    /// Builds a change the kernel itself stamped; the caller has checked
    /// every name and value.
    pub(crate) fn stamped(
        key: RecordKey,
        op: Op,
        writes: Vec<(Arc<str>, Register)>,
        client_id: WriterId,
        client_seq: Option<u64>,
    ) -> Change {
        debug_assert!(writes
            .windows(2)
            .all(|w| w[0].0.as_bytes() < w[1].0.as_bytes()));
        Change {
            key,
            op,
            writes,
            client_id,
            client_seq,
            server_seq: None,
            ext: None,
        }
    }

    fn check_shape(&self) -> Result<(), ChangeErrorKind> {
        if self.writes.is_empty() {
            return Err(ChangeErrorKind::Empty);
        }
        if self.writes.len() > FIELDS_PER_CHANGE_MAX {
            return Err(ChangeErrorKind::TooManyFields);
        }
        if self.op == Op::Delete
            && self
                .write(TOMBSTONE_FIELD)
                .is_none_or(|r| r.value.is_null())
        {
            return Err(ChangeErrorKind::DeleteWithoutTombstone);
        }
        Ok(())
    }

    /// Decodes and validates one change from its wire JSON (SPEC R11).
    ///
    /// `index` is the change's position in its batch, reported in errors.
    ///
    /// # Errors
    /// A [`ChangeError`] naming the change, the field and what was wrong.
    ///
    /// # Example
    /// ```
    /// use fieldmerge::Change;
    /// let wire = serde_json::json!({
    ///     "table": "tasks", "id": "t1", "op": "update",
    ///     "data": {"title": "Buy milk"},
    ///     "field_meta": {"title": {"at": "2026-04-26T10:00:00.000Z", "origin": "user", "base": null}},
    ///     "client_id": "phone", "client_seq": 7
    /// });
    /// let change = Change::from_wire(&wire, 0).unwrap();
    /// assert_eq!(change.write("title").unwrap().by.as_str(), "phone"); // `by` defaults to client_id
    /// assert_eq!(Change::from_wire(&change.to_wire(), 0).unwrap(), change);
    /// ```
    pub fn from_wire(wire: &Value, index: usize) -> Result<Change, ChangeError> {
        let mut err = ChangeError {
            index,
            table: String::new(),
            id: String::new(),
            field: None,
            kind: ChangeErrorKind::Empty,
        };
        let fail = |err: &ChangeError, field: Option<&str>, kind| ChangeError {
            field: field.map(bounded),
            kind,
            ..err.clone()
        };
        let obj = wire
            .as_object()
            .ok_or_else(|| fail(&err, None, wrong_type("change", "an object")))?;
        for key in obj.keys() {
            if !matches!(
                key.as_str(),
                "table"
                    | "id"
                    | "op"
                    | "data"
                    | "field_meta"
                    | "client_id"
                    | "client_seq"
                    | "server_seq"
                    | "ext"
            ) {
                return Err(fail(
                    &err,
                    None,
                    ChangeErrorKind::UnknownMember { path: bounded(key) },
                ));
            }
        }
        let text = |name: &'static str| -> Result<&str, ChangeErrorKind> {
            match obj.get(name) {
                None => Err(ChangeErrorKind::Missing { path: name.into() }),
                Some(Value::String(s)) => Ok(s),
                Some(_) => Err(wrong_type(name, "a string")),
            }
        };
        let table = text("table").map_err(|k| fail(&err, None, k))?;
        err.table = table.chars().take(NAME_BYTES_MAX).collect();
        let id = text("id").map_err(|k| fail(&err, None, k))?;
        err.id = id.chars().take(NAME_BYTES_MAX).collect();
        check_name(table, "table").map_err(|k| fail(&err, None, k))?;
        check_name(id, "id").map_err(|k| fail(&err, None, k))?;
        let op = match text("op").map_err(|k| fail(&err, None, k))? {
            "insert" => Op::Insert,
            "update" => Op::Update,
            "delete" => Op::Delete,
            other => {
                let op = other.chars().take(40).collect();
                return Err(fail(&err, None, ChangeErrorKind::UnknownOp { op }));
            }
        };
        let client_id = text("client_id").map_err(|k| fail(&err, None, k))?;
        check_name(client_id, "client_id").map_err(|k| fail(&err, None, k))?;
        let client_id = WriterId::new(client_id);
        let seq = |name: &'static str| -> Result<Option<u64>, ChangeErrorKind> {
            match obj.get(name) {
                None => Ok(None),
                Some(v) => crate::number::counter(v)
                    .map(Some)
                    .ok_or_else(|| wrong_type(name, COUNTER)),
            }
        };
        let client_seq = seq("client_seq").map_err(|k| fail(&err, None, k))?;
        let server_seq = seq("server_seq").map_err(|k| fail(&err, None, k))?;
        let ext = match obj.get("ext") {
            None => None,
            Some(v) => Some(Box::new(Ext::new(v).map_err(|k| fail(&err, None, k))?)),
        };
        let object = |name: &'static str| -> Result<&Map<String, Value>, ChangeErrorKind> {
            match obj.get(name) {
                None => Err(ChangeErrorKind::Missing { path: name.into() }),
                Some(Value::Object(m)) => Ok(m),
                Some(_) => Err(wrong_type(name, "an object")),
            }
        };
        let data = object("data").map_err(|k| fail(&err, None, k))?;
        let meta = object("field_meta").map_err(|k| fail(&err, None, k))?;
        if data.len() > FIELDS_PER_CHANGE_MAX || meta.len() > FIELDS_PER_CHANGE_MAX {
            return Err(fail(&err, None, ChangeErrorKind::TooManyFields));
        }
        if let Some(name) = meta.keys().find(|name| !data.contains_key(*name)) {
            return Err(fail(&err, Some(name), ChangeErrorKind::MetaWithoutData));
        }
        let mut writes = Vec::with_capacity(data.len());
        // `serde_json::Map` iterates in key order, so `writes` comes out sorted
        // by name (byte order equals `String` order).
        for (name, value) in data {
            let canonical = check_field(name, value).map_err(|k| fail(&err, Some(name), k))?;
            let value = canonical.as_ref().unwrap_or(value);
            let m = meta
                .get(name)
                .ok_or_else(|| fail(&err, Some(name), ChangeErrorKind::DataWithoutMeta))?;
            let reg =
                register_from_wire(value, m, &client_id).map_err(|k| fail(&err, Some(name), k))?;
            writes.push((Arc::from(name.as_str()), reg));
        }
        let change = Change {
            key: RecordKey::new(table, id),
            op,
            writes,
            client_id,
            client_seq,
            server_seq,
            ext,
        };
        change.check_shape().map_err(|k| fail(&err, None, k))?;
        Ok(change)
    }

    /// The change's wire JSON (SPEC R11). Canonical: `by` is always written,
    /// `base` is absent exactly for a legacy register, and
    /// `Change::from_wire(&c.to_wire(), _) == Ok(c)` for every change.
    pub fn to_wire(&self) -> Value {
        let mut data = Map::new();
        let mut meta = Map::new();
        for (name, reg) in &self.writes {
            data.insert(name.to_string(), reg.value.clone());
            meta.insert(name.to_string(), register_meta_to_wire(reg));
        }
        let mut obj = Map::new();
        obj.insert("table".into(), Value::from(self.key.table.as_str()));
        obj.insert("id".into(), Value::from(self.key.id.as_str()));
        obj.insert("op".into(), Value::from(self.op.as_str()));
        obj.insert("data".into(), Value::Object(data));
        obj.insert("field_meta".into(), Value::Object(meta));
        obj.insert("client_id".into(), Value::from(self.client_id.as_str()));
        if let Some(seq) = self.client_seq {
            obj.insert("client_seq".into(), Value::from(seq));
        }
        if let Some(seq) = self.server_seq {
            obj.insert("server_seq".into(), Value::from(seq));
        }
        if let Some(ext) = &self.ext {
            obj.insert("ext".into(), ext.to_json());
        }
        Value::Object(obj)
    }
}

impl Change {
    /// The change's canonical wire text (SPEC R11.4), written straight from
    /// the change: `canonical_json(&c.to_wire())` without building the
    /// value, byte for byte.
    pub fn to_text(&self) -> String {
        let mut out = String::with_capacity(96 + 128 * self.writes.len());
        self.write_text(&mut out);
        out
    }

    /// Appends [`Change::to_text`] to `out`.
    pub(crate) fn write_text(&self, out: &mut String) {
        use std::fmt::Write as _;
        // Members in the byte order of their names (R11.4): client_id,
        // client_seq, data, ext, field_meta, id, op, server_seq, table.
        out.push_str("{\"client_id\":");
        write_string(self.client_id.as_str(), out);
        if let Some(seq) = self.client_seq {
            let _ = write!(out, ",\"client_seq\":{seq}");
        }
        // `writes` is sorted by name bytes, the canonical order.
        out.push_str(",\"data\":{");
        for (i, (name, reg)) in self.writes.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_string(name, out);
            out.push(':');
            write_value(&reg.value, out);
        }
        out.push('}');
        if let Some(ext) = &self.ext {
            out.push_str(",\"ext\":");
            write_value(&ext.to_json(), out);
        }
        out.push_str(",\"field_meta\":{");
        for (i, (name, reg)) in self.writes.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            write_string(name, out);
            out.push(':');
            write_register_meta(reg, out);
            out.push('}');
        }
        out.push_str("},\"id\":");
        write_string(&self.key.id, out);
        let _ = write!(out, ",\"op\":\"{}\"", self.op.as_str());
        if let Some(seq) = self.server_seq {
            let _ = write!(out, ",\"server_seq\":{seq}");
        }
        out.push_str(",\"table\":");
        write_string(&self.key.table, out);
        out.push('}');
    }
}

/// Appends a register's metadata members, `{"at":…,"base":…,"by":…,
/// "origin":…` in byte order (R11.4), without the closing brace, so a
/// stored register can add its `value` (R12.5).
pub(crate) fn write_register_meta(reg: &Register, out: &mut String) {
    use std::fmt::Write as _;
    let _ = write!(out, "{{\"at\":\"{}\"", reg.at);
    match &reg.base {
        Base::Legacy => {}
        Base::First => out.push_str(",\"base\":null"),
        Base::Saw(v) => {
            let _ = write!(out, ",\"base\":{{\"at\":\"{}\",\"by\":", v.at);
            write_string(v.by.as_str(), out);
            out.push('}');
        }
    }
    out.push_str(",\"by\":");
    write_string(reg.by.as_str(), out);
    let _ = write!(out, ",\"origin\":\"{}\"", reg.origin.as_str());
}

impl serde::Serialize for Change {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.to_wire().serialize(s)
    }
}

/// The serde path reads a change from whatever deserializer the caller
/// brings, so text is read by that deserializer's parser with its rules and
/// limits (serde_json's: the last of two members wins, and at most 128
/// levels for the whole document), not by the kernel's reader (SPEC R11.7).
/// The change is then checked as one built in memory: its values' depth and
/// numbers (R4.4, R11.6). To read text by the spec's rules, use
/// [`decode_changes`] or [`read_form`](crate::read_form).
impl<'de> serde::Deserialize<'de> for Change {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = Value::deserialize(d)?;
        Change::from_wire(&wire, 0).map_err(serde::de::Error::custom)
    }
}

/// Decodes a batch of wire changes: a JSON array of changes (SPEC R11).
/// All or nothing: the first bad change rejects the whole batch, so a caller
/// that validates first and applies after never applies part of a batch.
///
/// # Errors
/// A [`ChangeError`] naming the first bad change and what was wrong; an
/// input that is not a JSON array has index 0 and kind `Json` or `WrongType`.
///
/// # Example
/// ```
/// let err = fieldmerge::decode_changes(br#"[{"table": "tasks"}]"#).unwrap_err();
/// assert_eq!(err.kind.code(), "missing");
/// ```
pub fn decode_changes(bytes: &[u8]) -> Result<Vec<Change>, ChangeError> {
    // A value sits three levels deep: the batch array, the change object,
    // its `data` object (SPEC R11.1).
    let value = crate::text::read(bytes, 3).map_err(|fault| batch_fault(fault, 0))?;
    decode_change_values(&value)
}

/// Reads one JSON value from text under the value model (SPEC R4.4,
/// R11.7): I-JSON, nested at most [`VALUE_DEPTH_MAX`](crate::VALUE_DEPTH_MAX)
/// levels, numbers in canonical representation. [`canonical_json`](crate::canonical_json)
/// writes it back.
///
/// # Errors
/// A [`ChangeError`] with index 0: `json` (not JSON text, the byte offset in
/// its message), `duplicate_member`, `bad_number` or `too_deep`.
///
/// # Example
/// ```
/// let v = fieldmerge::read_json(br#"{"b": 1.0, "a": -0}"#).unwrap();
/// assert_eq!(fieldmerge::canonical_json(&v), r#"{"a":0,"b":1}"#);
/// let err = fieldmerge::read_json(br#"{"a": 1, "a": 2}"#).unwrap_err();
/// assert_eq!(err.kind.code(), "duplicate_member");
/// ```
pub fn read_json(text: &[u8]) -> Result<Value, ChangeError> {
    crate::text::read(text, 0).map_err(|fault| batch_fault(fault, usize::MAX))
}

/// The error of a batch's text fault (SPEC R11.5, R11.7), the batch sitting
/// `at` steps into the document's path: it names the change by the index
/// after the batch, and the field when the fault lies under its `data` or
/// `field_meta`; a fault outside every change has index 0.
pub(crate) fn batch_fault(fault: Fault, at: usize) -> ChangeError {
    let mut err = ChangeError {
        index: 0,
        table: String::new(),
        id: String::new(),
        field: None,
        kind: ChangeErrorKind::Json {
            message: fault.to_string(),
        },
    };
    // Text that is not JSON is a batch-level error (index 0); the byte
    // offset in its message says where.
    let rest = match fault.kind {
        FaultKind::Syntax(_) => &[][..],
        _ => fault.path.get(at..).unwrap_or_default(),
    };
    if let Some(PathStep::Index(i)) = rest.first() {
        err.index = *i;
    }
    if let [_, PathStep::Key(member), PathStep::Key(field), ..] = rest {
        if member == "data" || member == "field_meta" {
            err.field = Some(bounded(field));
        }
    }
    err.kind = match fault.kind {
        FaultKind::Syntax(_) => err.kind,
        FaultKind::TooDeep => ChangeErrorKind::TooDeep,
        FaultKind::DuplicateMember(name) => ChangeErrorKind::DuplicateMember {
            path: bounded(&name),
        },
        FaultKind::BadNumber(text) => ChangeErrorKind::BadNumber {
            text: bounded(&text),
        },
    };
    err
}

/// [`decode_changes`] over an already parsed JSON value.
///
/// # Errors
/// As [`decode_changes`].
pub fn decode_change_values(value: &Value) -> Result<Vec<Change>, ChangeError> {
    let items = value.as_array().ok_or_else(|| ChangeError {
        index: 0,
        table: String::new(),
        id: String::new(),
        field: None,
        kind: wrong_type("batch", "an array"),
    })?;
    items
        .iter()
        .enumerate()
        .map(|(i, item)| Change::from_wire(item, i))
        .collect()
}

/// Encodes a batch of changes as a JSON array of wire changes.
pub fn encode_changes(changes: &[Change]) -> Value {
    Value::Array(changes.iter().map(Change::to_wire).collect())
}

fn wrong_type(path: &str, expected: &'static str) -> ChangeErrorKind {
    ChangeErrorKind::WrongType {
        path: path.to_owned(),
        expected,
    }
}

pub(crate) fn check_name(name: &str, what: &'static str) -> Result<(), ChangeErrorKind> {
    if name.is_empty() || name.len() > NAME_BYTES_MAX {
        return Err(ChangeErrorKind::BadName { what });
    }
    Ok(())
}

/// SPEC R11.6: a register's `by` and its base's `by` fit a name (either may
/// be empty: a writer that sent none), so its wire form decodes (R11.4).
fn check_writers(reg: &Register) -> Result<(), ChangeErrorKind> {
    if reg.by.as_str().len() > NAME_BYTES_MAX {
        return Err(ChangeErrorKind::BadName { what: "by" });
    }
    match &reg.base {
        Base::Saw(v) if v.by.as_str().len() > NAME_BYTES_MAX => {
            Err(ChangeErrorKind::BadName { what: "base.by" })
        }
        _ => Ok(()),
    }
}

/// Checks a field's name and value (SPEC R5.5, R4.4, R11.6); returns the
/// value in canonical representation when it is not already.
pub(crate) fn check_field(name: &str, value: &Value) -> Result<Option<Value>, ChangeErrorKind> {
    check_name(name, "field")?;
    if name == SHADOW_FIELD || name == FIELD_META_KEY {
        return Err(ChangeErrorKind::LocalOnlyField);
    }
    check_value(value).map_err(|fault| match fault {
        ValueFault::TooDeep => ChangeErrorKind::TooDeep,
        ValueFault::BadNumber(text) => ChangeErrorKind::BadNumber {
            text: bounded(&text),
        },
    })
}

/// What a counter member must be (SPEC R11.6).
pub(crate) const COUNTER: &str = "an integer from 0 to 2^53";

/// Decodes one field's metadata `{at, origin, by?, base?}` around its value.
pub(crate) fn register_from_wire(
    value: &Value,
    meta: &Value,
    default_by: &WriterId,
) -> Result<Register, ChangeErrorKind> {
    let meta = meta
        .as_object()
        .ok_or_else(|| wrong_type("field_meta entry", "an object"))?;
    register_from_meta(value, meta, Members::Meta, default_by)
}

/// Which members a register's metadata object may have besides `at`,
/// `origin`, `by` and `base`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Members {
    /// A change's `field_meta` entry: nothing else.
    Meta,
    /// A stored record's field: also its `value` (read by the caller).
    WithValue,
}

/// [`register_from_wire`] over a borrowed metadata object, so a stored
/// record's field loads without copying it.
pub(crate) fn register_from_meta(
    value: &Value,
    meta: &Map<String, Value>,
    members: Members,
    default_by: &WriterId,
) -> Result<Register, ChangeErrorKind> {
    for key in meta.keys() {
        let value_member = members == Members::WithValue && key == "value";
        if !value_member && !matches!(key.as_str(), "at" | "origin" | "by" | "base") {
            return Err(ChangeErrorKind::UnknownMember {
                path: format!("field_meta.{}", bounded(key)),
            });
        }
    }
    let at = timestamp_member(meta, "at")?;
    let origin = match meta.get("origin") {
        None => {
            return Err(ChangeErrorKind::Missing {
                path: "origin".into(),
            })
        }
        Some(Value::String(s)) => {
            Origin::parse(s).map_err(|origin| ChangeErrorKind::UnknownOrigin { origin })?
        }
        Some(_) => return Err(wrong_type("origin", "a string")),
    };
    let by = match meta.get("by") {
        // A stored register names its writer: only a change's metadata may
        // leave `by` to the change's client id (R11.1, R12.5).
        None if members == Members::WithValue => {
            return Err(ChangeErrorKind::Missing { path: "by".into() })
        }
        None => default_by.clone(),
        Some(Value::String(s)) => {
            // An empty `by` is a writer that sent none (SPEC R4.2).
            if s.len() > NAME_BYTES_MAX {
                return Err(ChangeErrorKind::BadName { what: "by" });
            }
            WriterId::new(s)
        }
        Some(_) => return Err(wrong_type("by", "a string")),
    };
    let base = match meta.get("base") {
        None => Base::Legacy,
        Some(Value::Null) => Base::First,
        Some(Value::Object(b)) => {
            for key in b.keys() {
                if !matches!(key.as_str(), "at" | "by") {
                    return Err(ChangeErrorKind::UnknownMember {
                        path: format!("base.{key}"),
                    });
                }
            }
            let at = timestamp_member(b, "at")?;
            let by = match b.get("by") {
                Some(Value::String(s)) if s.len() <= NAME_BYTES_MAX => WriterId::new(s),
                Some(Value::String(_)) => return Err(ChangeErrorKind::BadName { what: "base.by" }),
                Some(_) => return Err(wrong_type("base.by", "a string")),
                None => {
                    return Err(ChangeErrorKind::Missing {
                        path: "base.by".into(),
                    })
                }
            };
            Base::Saw(Version { at, by })
        }
        Some(_) => return Err(wrong_type("base", "an object or null")),
    };
    Ok(Register {
        value: value.clone(),
        at,
        by,
        origin,
        base,
    })
}

/// The wire metadata of a register: `{at, origin, by, base?}`.
pub(crate) fn register_meta_to_wire(reg: &Register) -> Value {
    let mut m = Map::new();
    m.insert("at".into(), Value::from(reg.at.to_string()));
    m.insert("origin".into(), Value::from(reg.origin.as_str()));
    m.insert("by".into(), Value::from(reg.by.as_str()));
    match &reg.base {
        Base::Legacy => {}
        Base::First => {
            m.insert("base".into(), Value::Null);
        }
        Base::Saw(v) => {
            let mut b = Map::new();
            b.insert("at".into(), Value::from(v.at.to_string()));
            b.insert("by".into(), Value::from(v.by.as_str()));
            m.insert("base".into(), Value::Object(b));
        }
    }
    Value::Object(m)
}

fn timestamp_member(
    obj: &Map<String, Value>,
    name: &'static str,
) -> Result<Timestamp, ChangeErrorKind> {
    match obj.get(name) {
        None => Err(ChangeErrorKind::Missing { path: name.into() }),
        Some(Value::String(s)) => Ok(Timestamp::parse(s)?),
        Some(_) => Err(wrong_type(name, "a string")),
    }
}
