//! The reference model (issue #3): a second, deliberately naive
//! implementation of `spec/SPEC.md`, written to read like the rules and to
//! share no logic with the kernel.
//!
//! It consumes the kernel's validated `Change` values (read through their
//! accessors) and uses the kernel's `Timestamp` only to spell times, but its
//! register order, JSON value order, classification, clock, outbox,
//! cursor and page rules, hydration, hidden-edit rule, clock correction and
//! server dedup are its own, written from the spec text. It is slow on
//! purpose: plain maps, recomputation instead of bookkeeping.
//!
//! The fast kernel may change freely; the model changes only when the spec
//! does. `tests/differential.rs` runs both on the same operations and
//! requires the same states, reports and error codes.

pub mod engine;
pub mod replica;
pub mod server;
pub mod value;
pub mod world;

use std::cmp::Ordering;
use std::collections::BTreeMap;

use fieldmerge::{Change, Origin, Timestamp};
use serde_json::{json, Map, Value};

/// R11.3: what a writer overwrote.
#[derive(Clone, PartialEq, Debug)]
pub enum ModelBase {
    /// No witness on the wire (a legacy writer).
    Legacy,
    /// `"base": null`: the writer saw no value.
    First,
    /// The writer overwrote the version `(at, by)`.
    Saw(i64, String),
}

/// R1.1: one field's value and metadata.
#[derive(Clone, PartialEq, Debug)]
pub struct ModelRegister {
    pub value: Value,
    pub at: i64,
    pub by: String,
    pub origin: Origin,
    pub base: ModelBase,
}

/// A change as the model keeps it: the registers it writes by field name.
#[derive(Clone, PartialEq, Debug)]
pub struct ModelChange {
    pub table: String,
    pub id: String,
    pub op: &'static str,
    pub writes: BTreeMap<String, ModelRegister>,
    pub client_id: String,
    pub client_seq: Option<u64>,
    pub server_seq: Option<u64>,
    /// R11.8: the extension slot, carried and never read.
    pub ext: Option<Value>,
}

/// A record: its registers by field name, and its shadow index (R8).
#[derive(Clone, PartialEq, Debug, Default)]
pub struct ModelRecord {
    pub fields: BTreeMap<String, ModelRegister>,
    pub shadow: Option<i64>,
}

/// Records by `(table, id)`.
pub type Records = BTreeMap<(String, String), ModelRecord>;

/// R1.3 and R9: the tombstone field.
pub const TOMBSTONE: &str = "deletedAt";
/// R3.3 and R10.1: the bootstrap writer.
pub const BOOTSTRAP: &str = "system:bootstrap";
/// R2.1: the last instant.
pub const LAST_MS: i64 = 253_402_300_799_999;

/// R4.1-R4.2: versions compare by `at`, then by `by` as bytes (the empty
/// id first).
pub fn compare_versions(a_at: i64, a_by: &str, b_at: i64, b_by: &str) -> Ordering {
    if a_at != b_at {
        return a_at.cmp(&b_at);
    }
    a_by.as_bytes().cmp(b_by.as_bytes())
}

/// R4.3: `user < agent < migration < system`.
fn origin_rank(o: Origin) -> u8 {
    match o {
        Origin::User => 1,
        Origin::Agent => 2,
        Origin::Migration => 3,
        Origin::System => 4,
    }
}

/// R4.3: `legacy < first < saw`, two `saw` by their version.
fn compare_bases(a: &ModelBase, b: &ModelBase) -> Ordering {
    let rank = |x: &ModelBase| match x {
        ModelBase::Legacy => 1,
        ModelBase::First => 2,
        ModelBase::Saw(..) => 3,
    };
    match (a, b) {
        (ModelBase::Saw(x_at, x_by), ModelBase::Saw(y_at, y_by)) => {
            compare_versions(*x_at, x_by, *y_at, y_by)
        }
        _ => rank(a).cmp(&rank(b)),
    }
}

/// R4.1-R4.3: the total order of registers.
pub fn compare_registers(a: &ModelRegister, b: &ModelRegister) -> Ordering {
    let version = compare_versions(a.at, &a.by, b.at, &b.by);
    if version != Ordering::Equal {
        return version;
    }
    let value = value::compare(&a.value, &b.value);
    if value != Ordering::Equal {
        return value;
    }
    let origin = origin_rank(a.origin).cmp(&origin_rank(b.origin));
    if origin != Ordering::Equal {
        return origin;
    }
    compare_bases(&a.base, &b.base)
}

/// R7.1: the greatest `at` over a record's registers.
pub fn last_change(record: &ModelRecord) -> Option<i64> {
    let mut last: Option<i64> = None;
    for reg in record.fields.values() {
        if last.is_none() || Some(reg.at) > last {
            last = Some(reg.at);
        }
    }
    last
}

/// R9.1: deleted exactly when the tombstone holds a non-null value.
pub fn is_deleted(record: &ModelRecord) -> bool {
    match record.fields.get(TOMBSTONE) {
        Some(reg) => !reg.value.is_null(),
        None => false,
    }
}

/// R11.6: the nesting depth of a value (a scalar is 0).
pub fn depth(v: &Value) -> usize {
    match v {
        Value::Array(items) => 1 + items.iter().map(depth).max().unwrap_or(0),
        Value::Object(m) => 1 + m.values().map(depth).max().unwrap_or(0),
        _ => 0,
    }
}

/// R1.3, R11.6: names are 1 to 256 bytes.
pub fn name_ok(name: &str) -> bool {
    !name.is_empty() && name.len() <= 256
}

/// R1.3: local-only names never name a synced field.
pub fn local_only(name: &str) -> bool {
    name == "_updatedAtIndex" || name == "__fieldMeta"
}

/// A kernel register, read field by field.
pub fn from_kernel_register(reg: &fieldmerge::Register) -> ModelRegister {
    ModelRegister {
        value: reg.value.clone(),
        at: reg.at.as_ms(),
        by: reg.by.as_str().to_owned(),
        origin: reg.origin,
        base: match &reg.base {
            fieldmerge::Base::Legacy => ModelBase::Legacy,
            fieldmerge::Base::First => ModelBase::First,
            fieldmerge::Base::Saw(v) => ModelBase::Saw(v.at.as_ms(), v.by.as_str().to_owned()),
        },
    }
}

/// A kernel change, read through its accessors.
pub fn from_kernel_change(change: &Change) -> ModelChange {
    ModelChange {
        table: change.key().table.clone(),
        id: change.key().id.clone(),
        op: change.op().as_str(),
        writes: change
            .writes()
            .map(|(name, reg)| (name.to_owned(), from_kernel_register(reg)))
            .collect(),
        client_id: change.client_id().as_str().to_owned(),
        client_seq: change.client_seq(),
        server_seq: change.server_seq(),
        ext: change.ext().map(fieldmerge::Ext::to_json),
    }
}

/// R2.1: the wire spelling of a time.
pub fn spell(ms: i64) -> String {
    Timestamp::from_ms(ms).map_or_else(|_| format!("<{ms} ms>"), |t| t.to_string())
}

/// R11.1, R12.5: a register's metadata `{at, origin, by, base?}`, with the
/// value when `with_value`.
pub fn register_json(reg: &ModelRegister) -> Value {
    let mut m = register_meta(reg);
    m.insert("value".into(), reg.value.clone());
    Value::Object(m)
}

fn register_meta(reg: &ModelRegister) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("at".into(), json!(spell(reg.at)));
    m.insert("origin".into(), json!(origin_text(reg.origin)));
    m.insert("by".into(), json!(reg.by));
    match &reg.base {
        ModelBase::Legacy => {}
        ModelBase::First => {
            m.insert("base".into(), Value::Null);
        }
        ModelBase::Saw(at, by) => {
            m.insert("base".into(), json!({"at": spell(*at), "by": by}));
        }
    }
    m
}

/// R3.1.
pub fn origin_text(o: Origin) -> &'static str {
    match o {
        Origin::User => "user",
        Origin::Agent => "agent",
        Origin::Migration => "migration",
        Origin::System => "system",
    }
}

/// R11.1, R11.4: the canonical wire form of a change.
pub fn change_json(c: &ModelChange) -> Value {
    let mut data = Map::new();
    let mut meta = Map::new();
    for (name, reg) in &c.writes {
        data.insert(name.clone(), reg.value.clone());
        meta.insert(name.clone(), Value::Object(register_meta(reg)));
    }
    let mut m = Map::new();
    m.insert("table".into(), json!(c.table));
    m.insert("id".into(), json!(c.id));
    m.insert("op".into(), json!(c.op));
    m.insert("data".into(), Value::Object(data));
    m.insert("field_meta".into(), Value::Object(meta));
    m.insert("client_id".into(), json!(c.client_id));
    if let Some(seq) = c.client_seq {
        m.insert("client_seq".into(), json!(seq));
    }
    if let Some(seq) = c.server_seq {
        m.insert("server_seq".into(), json!(seq));
    }
    if let Some(ext) = &c.ext {
        m.insert("ext".into(), ext.clone());
    }
    Value::Object(m)
}

/// R12.5: the record form `{table, id, fields, updated_at_index}`.
pub fn record_json(key: &(String, String), record: &ModelRecord) -> Value {
    let fields: Map<String, Value> = record
        .fields
        .iter()
        .map(|(name, reg)| (name.clone(), register_json(reg)))
        .collect();
    json!({
        "table": key.0,
        "id": key.1,
        "fields": fields,
        "updated_at_index": record.shadow.map(spell),
    })
}
