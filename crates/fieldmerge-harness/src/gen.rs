//! `arbitrary::Arbitrary` impls for the crate's types: the one set of
//! generators shared by fuzz targets and property tests (issue #3).
//!
//! Every generator is a plain function over an [`Unstructured`], so proptest
//! (bytes to `Unstructured`), quickcheck (the same, through a newtype) and
//! cargo-fuzz all draw from the same distribution. The distribution aims at
//! the edges on purpose: timestamps and writer ids come from small pools, so
//! equal `at` across writers and malformed twins (equal versions, different
//! content) are common; the genesis, the last instant, the empty writer id,
//! empty records, tombstones and restores, legacy registers without witness,
//! first writes, deep and large JSON values and equal-valued numbers with
//! different spellings (`1` and `1.0`, `-0.0` and `0.0`) all come up often.
//!
//! [`Action`] is one step of a whole-system run (replicas and a server):
//! the operation type the reference-model comparison, the fuzz targets and
//! the simulator share.
//!
//! # Example
//! ```
//! use arbitrary::Unstructured;
//! let bytes = [7u8; 256];
//! let mut u = Unstructured::new(&bytes);
//! let change = fieldmerge_harness::gen::change(&mut u).unwrap();
//! assert_eq!(fieldmerge::Change::from_wire(&change.to_wire(), 0).unwrap(), change);
//! ```

use ::arbitrary::{Arbitrary, Error, Result, Unstructured};
use serde_json::{Map, Number, Value};

use fieldmerge::Delivery;
use fieldmerge::Replica;
use fieldmerge::Timestamp;
use fieldmerge::VALUE_DEPTH_MAX;
use fieldmerge::{Actor, Origin, SYSTEM_BOOTSTRAP, SYSTEM_MIGRATION};
use fieldmerge::{Base, Register, Version, WriterId};
use fieldmerge::{Change, Op};
use fieldmerge::{Record, RecordKey, FIELD_META_KEY, SHADOW_FIELD, TOMBSTONE_FIELD};

/// `2026-04-26T10:00:00.000Z`: the start of the small pool of timestamps.
pub const EPOCH_MS: i64 = 1_777_197_600_000;

/// The small pool of writer ids: the empty id (a writer that sent none),
/// the client ids of [`CLIENTS`], an agent and the bootstrap sentinel.
pub const WRITERS: &[&str] = &["", "a", "b", "c", "agent", SYSTEM_BOOTSTRAP];

/// The client ids of the replicas in an [`Action`] run, in replica order.
pub const CLIENTS: &[&str] = &["a", "b", "c"];

/// How many replicas an [`Action`] run has.
pub const REPLICAS: usize = 3;

/// The small pool of field names; the tombstone among them.
pub const FIELDS: &[&str] = &["title", "done", "note", "a", "b", TOMBSTONE_FIELD];

/// The small pool of tables and ids.
pub const TABLES: &[&str] = &["tasks", "notes"];
/// See [`TABLES`].
pub const IDS: &[&str] = &["t1", "t2", "t3"];

/// A timestamp: mostly from a pool of a few milliseconds after
/// [`EPOCH_MS`], often the genesis, sometimes anywhere in range or at the
/// last instant.
pub fn timestamp(u: &mut Unstructured) -> Result<Timestamp> {
    let ms = match u.int_in_range(0u8..=39)? {
        0..=3 => 0,
        4..=33 => EPOCH_MS + i64::from(u.int_in_range(0u8..=6)?),
        34..=36 => EPOCH_MS + *u.choose(&[100, 59_999, 60_001, 120_000, 86_400_000])?,
        37 => Timestamp::MAX.as_ms() - i64::from(u.int_in_range(0u8..=2)?),
        _ => u.int_in_range(0..=Timestamp::MAX.as_ms())?,
    };
    Timestamp::from_ms(ms).map_err(|_| Error::IncorrectFormat)
}

/// A writer id from [`WRITERS`], or rarely any string of at most 256 bytes.
pub fn writer_id(u: &mut Unstructured) -> Result<WriterId> {
    if u.ratio(1u8, 16)? {
        let text = bounded_string(u, fieldmerge::NAME_BYTES_MAX)?;
        return Ok(WriterId::new(&text));
    }
    Ok(WriterId::new(u.choose(WRITERS)?))
}

/// A client id: a writer id that is not empty (SPEC R11.6).
pub fn client_id(u: &mut Unstructured) -> Result<WriterId> {
    Ok(WriterId::new(u.choose(&WRITERS[1..])?))
}

/// Any origin.
pub fn origin(u: &mut Unstructured) -> Result<Origin> {
    Ok(*u.choose(&[
        Origin::User,
        Origin::User,
        Origin::Agent,
        Origin::Migration,
        Origin::System,
    ])?)
}

/// An actor of a local write: user most often, the migration sentinel and
/// the bootstrap source among the system ones.
pub fn actor(u: &mut Unstructured) -> Result<Actor> {
    Ok(match u.int_in_range(0u8..=5)? {
        0..=2 => Actor::User,
        3 => Actor::Ai,
        4 => Actor::system(SYSTEM_MIGRATION),
        _ => Actor::system(u.choose(&[SYSTEM_BOOTSTRAP, "system:cron"])?),
    })
}

/// A version from the pools.
pub fn version(u: &mut Unstructured) -> Result<Version> {
    Ok(Version {
        at: timestamp(u)?,
        by: writer_id(u)?,
    })
}

/// A witness: legacy (absent), first write, or a version.
pub fn base(u: &mut Unstructured) -> Result<Base> {
    Ok(match u.int_in_range(0u8..=4)? {
        0 => Base::Legacy,
        1 => Base::First,
        _ => Base::Saw(version(u)?),
    })
}

/// A synced field name: mostly from [`FIELDS`], sometimes any name of 1 to
/// 256 bytes that is not local-only.
pub fn field_name(u: &mut Unstructured) -> Result<String> {
    if u.ratio(1u8, 12)? {
        let mut name = bounded_string(u, fieldmerge::NAME_BYTES_MAX)?;
        if name.is_empty() || name == SHADOW_FIELD || name == FIELD_META_KEY {
            name = "x".into();
        }
        return Ok(name);
    }
    Ok((*u.choose(FIELDS)?).to_owned())
}

/// A field name a local write may set: not the tombstone.
pub fn patch_field_name(u: &mut Unstructured) -> Result<String> {
    let name = field_name(u)?;
    Ok(if name == TOMBSTONE_FIELD {
        "title".into()
    } else {
        name
    })
}

/// A record key from the small pools of [`TABLES`] and [`IDS`].
pub fn record_key(u: &mut Unstructured) -> Result<RecordKey> {
    Ok(RecordKey::new(u.choose(TABLES)?, u.choose(IDS)?))
}

/// A JSON number of the value model (SPEC R4.4), often one of the edge
/// representations of one value: `1` and `1.0`, `-0.0` and `0.0`, `2^53`
/// as an integer and as a float, `2^60` as the integer of its shortest
/// decimal and as a float, the safe-integer ends, tiny and huge floats.
pub fn number(u: &mut Unstructured) -> Result<Value> {
    let f = |x: f64| {
        Number::from_f64(x)
            .map(Value::Number)
            .unwrap_or(Value::Null)
    };
    Ok(match u.int_in_range(0u8..=24)? {
        0 => Value::from(0),
        1 => f(-0.0),
        2 => f(0.0),
        3 => Value::from(1),
        4 => f(1.0),
        5 => Value::from(-1),
        6 => f(-1.0),
        7 => f(0.5),
        8 => Value::from(9_007_199_254_740_992i64),
        9 => f(9_007_199_254_740_992.0),
        10 => f(9_007_199_254_740_994.0),
        11 => Value::from(-9_007_199_254_740_992i64),
        12 => f(-9_007_199_254_740_992.0),
        13 => Value::from(1_152_921_504_606_847_000u64),
        14 => f(9_223_372_036_854_775_808.0),
        15 => f(18_446_744_073_709_551_616.0),
        16 => f(-9_223_372_036_854_775_808.0),
        17 => f(*u.choose(&[1e300, -1e300, 5e-324, -5e-324, 0.1, 1e-7, 2.5])?),
        18..=19 => Value::from(u.int_in_range(-3i64..=3)?),
        20 => Value::from(u.int_in_range(-(1i64 << 53)..=1 << 53)?),
        21 => Value::from(u.int_in_range(0u64..=1 << 53)?),
        _ => {
            let x = u.arbitrary::<f64>()?;
            if x.is_finite() {
                f(x)
            } else {
                f(0.25)
            }
        }
    })
}

/// A JSON value of any type, nested at most [`VALUE_DEPTH_MAX`] levels:
/// mostly small scalars from pools (so equal values are common), sometimes
/// large arrays and objects, sometimes nested exactly to the limit.
pub fn value(u: &mut Unstructured) -> Result<Value> {
    value_within(u, 3)
}

fn value_within(u: &mut Unstructured, depth_left: usize) -> Result<Value> {
    Ok(match u.int_in_range(0u8..=19)? {
        0..=1 => Value::Null,
        2 => Value::Bool(false),
        3 => Value::Bool(true),
        4..=8 => number(u)?,
        9..=12 => Value::String(string(u)?),
        13..=14 if depth_left > 0 => {
            let len = u.int_in_range(0usize..=3)?;
            let mut items = Vec::with_capacity(len);
            for _ in 0..len {
                items.push(value_within(u, depth_left - 1)?);
            }
            Value::Array(items)
        }
        15..=16 if depth_left > 0 => {
            let len = u.int_in_range(0usize..=3)?;
            let mut entries = Map::new();
            for _ in 0..len {
                let key = string(u)?;
                entries.insert(key, value_within(u, depth_left - 1)?);
            }
            Value::Object(entries)
        }
        17 if depth_left == 3 => {
            let depth = *u.choose(&[1, 2, 64, VALUE_DEPTH_MAX - 1, VALUE_DEPTH_MAX])?;
            nested(value_within(u, 0)?, depth, u.arbitrary()?)
        }
        18 if depth_left == 3 => large(u)?,
        _ => Value::String(string(u)?),
    })
}

/// A value nested `depth` levels (arrays or objects) around `leaf`;
/// `depth` above [`VALUE_DEPTH_MAX`] makes an invalid value.
pub fn nested(leaf: Value, depth: usize, objects: bool) -> Value {
    (0..depth).fold(leaf, |inner, _| {
        if objects {
            let mut m = Map::new();
            m.insert("k".into(), inner);
            Value::Object(m)
        } else {
            Value::Array(vec![inner])
        }
    })
}

fn large(u: &mut Unstructured) -> Result<Value> {
    let len = u.int_in_range(16usize..=300)?;
    if u.arbitrary()? {
        let mut items = Vec::with_capacity(len);
        for _ in 0..len {
            items.push(value_within(u, 0)?);
        }
        Ok(Value::Array(items))
    } else {
        let mut entries = Map::new();
        for i in 0..len {
            entries.insert(format!("k{i}"), value_within(u, 0)?);
        }
        Ok(Value::Object(entries))
    }
}

/// A string: mostly from a pool where byte order and code-point order
/// matter (`"B" < "a"`, `"é"`), sometimes any short string.
pub fn string(u: &mut Unstructured) -> Result<String> {
    if u.ratio(1u8, 6)? {
        return bounded_string(u, 24);
    }
    Ok((*u.choose(&["", "a", "b", "B", "aa", "Milk", "é", "\u{0}", "\u{10FFFF}"])?).to_owned())
}

/// Any string of at most `bytes_max` bytes.
fn bounded_string(u: &mut Unstructured, bytes_max: usize) -> Result<String> {
    let mut text: String = u.arbitrary()?;
    while text.len() > bytes_max {
        text.pop();
    }
    Ok(text)
}

/// A value for the tombstone field: null (live or restored) or a timestamp
/// string (deleted), rarely another value.
pub fn tombstone_value(u: &mut Unstructured) -> Result<Value> {
    Ok(match u.int_in_range(0u8..=7)? {
        0..=1 => Value::Null,
        // A fixed pool, so the same tombstone value is written again often.
        2..=4 => Value::String(
            Timestamp::from_ms(EPOCH_MS + i64::from(u.int_in_range(0u8..=1)?))
                .unwrap_or_default()
                .to_string(),
        ),
        5..=6 => Value::String(timestamp(u)?.to_string()),
        _ => value(u)?,
    })
}

/// A generated value in the representation a register holds (SPEC R4.4):
/// the kernel stores every value canonical, so a register built in memory
/// does too; the representations of one value meet at the write and
/// decode boundaries, which canonicalise.
fn canonical(value: Value) -> Value {
    fieldmerge::canonical_value(&value).unwrap_or(value)
}

/// A register of the field `name`, from the pools.
pub fn register_of(u: &mut Unstructured, name: &str) -> Result<Register> {
    Ok(Register {
        value: if name == TOMBSTONE_FIELD {
            tombstone_value(u)?
        } else {
            canonical(value(u)?)
        },
        at: timestamp(u)?,
        by: writer_id(u)?,
        origin: origin(u)?,
        base: base(u)?,
    })
}

/// A register, from the pools.
pub fn register(u: &mut Unstructured) -> Result<Register> {
    register_of(u, "title")
}

/// A register with the same version as `of` and, most often, other
/// content: a malformed twin (SPEC R4.3). Sometimes identical.
pub fn twin(u: &mut Unstructured, of: &Register) -> Result<Register> {
    let mut twin = of.clone();
    match u.int_in_range(0u8..=3)? {
        0 => twin.value = canonical(value(u)?),
        1 => twin.origin = origin(u)?,
        2 => twin.base = base(u)?,
        _ => {}
    }
    Ok(twin)
}

/// Two registers that often share a version, an `at` or a value.
pub fn register_pair(u: &mut Unstructured) -> Result<(Register, Register)> {
    let a = register(u)?;
    let b = match u.int_in_range(0u8..=3)? {
        0 => twin(u, &a)?,
        1 => Register {
            at: a.at,
            ..register(u)?
        },
        2 => Register {
            value: a.value.clone(),
            ..register(u)?
        },
        _ => register(u)?,
    };
    Ok((a, b))
}

/// A record: zero to six fields merged from the pools (an empty record
/// included).
pub fn record(u: &mut Unstructured) -> Result<Record> {
    let mut record = Record::new();
    for _ in 0..u.int_in_range(0u8..=6)? {
        let name = field_name(u)?;
        let reg = register_of(u, &name)?;
        record.merge_register(&name, &reg, Delivery::Live);
    }
    Ok(record)
}

/// The registers of one change: one to four fields, most often stamped as a
/// real writer stamps them (one `at`, one origin, `by` the client), the
/// tombstone among the fields now and then.
fn writes(u: &mut Unstructured, client: &WriterId) -> Result<Vec<(String, Register)>> {
    let count = u.int_in_range(1usize..=4)?;
    let shared = Register {
        value: Value::Null,
        at: timestamp(u)?,
        by: if u.ratio(1u8, 8)? {
            writer_id(u)?
        } else {
            client.clone()
        },
        origin: origin(u)?,
        base: Base::First,
    };
    let realistic = u.ratio(3u8, 4)?;
    let mut writes: Vec<(String, Register)> = Vec::with_capacity(count);
    for _ in 0..count {
        let name = field_name(u)?;
        if writes.iter().any(|(n, _)| n == &name) {
            continue;
        }
        let mut reg = register_of(u, &name)?;
        if realistic {
            reg.at = shared.at;
            reg.by = shared.by.clone();
            reg.origin = shared.origin;
        }
        writes.push((name, reg));
    }
    Ok(writes)
}

/// A change, valid by construction (SPEC R11): a key from the pools, one to
/// four registers, an op that fits (a delete sets a non-null tombstone), an
/// optional `client_seq`; no `server_seq`.
pub fn change(u: &mut Unstructured) -> Result<Change> {
    let key = record_key(u)?;
    let client = client_id(u)?;
    let mut writes = writes(u, &client)?;
    let op = *u.choose(&[Op::Insert, Op::Update, Op::Update, Op::Delete])?;
    if op == Op::Delete {
        let at = writes.first().map_or(Timestamp::GENESIS, |(_, r)| r.at);
        let tombstone = Value::String(at.to_string());
        match writes.iter_mut().find(|(n, _)| n == TOMBSTONE_FIELD) {
            Some((_, reg)) if reg.value.is_null() => reg.value = tombstone,
            Some(_) => {}
            None => {
                let reg = Register {
                    value: tombstone,
                    ..register_of(u, TOMBSTONE_FIELD)?
                };
                writes.push((TOMBSTONE_FIELD.to_owned(), reg));
            }
        }
    }
    let client_seq = if u.ratio(3u8, 4)? {
        Some(u.int_in_range(1u64..=6)?)
    } else {
        None
    };
    let change =
        Change::new(key, op, writes, client, client_seq).map_err(|_| Error::IncorrectFormat)?;
    // One change in eight carries an extension slot (SPEC R11.8), which
    // every law must show is carried and never read.
    Ok(if u.ratio(1u8, 8)? {
        change.with_ext(Some(ext(u)?))
    } else {
        change
    })
}

/// An extension slot (SPEC R11.8): a few members with any values.
pub fn ext(u: &mut Unstructured) -> Result<fieldmerge::Ext> {
    let mut members = Map::new();
    for _ in 0..u.int_in_range(0u8..=3)? {
        members.insert(string(u)?, value(u)?);
    }
    fieldmerge::Ext::new(&Value::Object(members)).map_err(|_| Error::IncorrectFormat)
}

/// A replica that has lived a little: a few local writes, deletes,
/// restores and applied batches, with one of the [`CLIENTS`] ids.
pub fn replica(u: &mut Unstructured) -> Result<Replica> {
    let mut replica = Replica::new(WriterId::new(u.choose(CLIENTS)?));
    for _ in 0..u.int_in_range(0u8..=6)? {
        // Refused operations are part of the history too: they change
        // nothing, so their errors are dropped here.
        match u.int_in_range(0u8..=5)? {
            0..=1 => {
                let _ = replica.write(&record_key(u)?, &actor(u)?, &patch(u)?, timestamp(u)?);
            }
            2..=3 => {
                replica.apply(&changes(u)?, delivery(u)?);
            }
            4 => {
                let _ = replica.delete(&record_key(u)?, &actor(u)?, timestamp(u)?);
            }
            _ => {
                let _ = replica.restore(&record_key(u)?, &actor(u)?, timestamp(u)?);
            }
        }
    }
    Ok(replica)
}

/// A batch of changes with the edges of delivery: exact duplicates,
/// malformed twins of earlier registers, and replays of older history.
pub fn changes(u: &mut Unstructured) -> Result<Vec<Change>> {
    let len = u.int_in_range(0usize..=8)?;
    let mut batch: Vec<Change> = Vec::with_capacity(len);
    for _ in 0..len {
        let next = match u.int_in_range(0u8..=5)? {
            0 if !batch.is_empty() => u.choose(&batch)?.clone(),
            1 if !batch.is_empty() => {
                let of = u.choose(&batch)?.clone();
                twin_change(u, of)?
            }
            _ => change(u)?,
        };
        batch.push(next);
    }
    Ok(batch)
}

// A change whose registers are twins of `of`'s (same versions).
fn twin_change(u: &mut Unstructured, of: Change) -> Result<Change> {
    let mut writes = Vec::new();
    for (name, reg) in of.writes() {
        let mut t = twin(u, reg)?;
        if name == TOMBSTONE_FIELD && of.op() == Op::Delete && t.value.is_null() {
            t.value = reg.value.clone();
        }
        writes.push((name.to_owned(), t));
    }
    Change::new(
        of.key().clone(),
        of.op(),
        writes,
        of.client_id().clone(),
        of.client_seq(),
    )
    .map_err(|_| Error::IncorrectFormat)
}

/// A patch for a local write: one to four fields from the pools, values
/// often equal to what was there. Never the tombstone.
pub fn patch(u: &mut Unstructured) -> Result<Map<String, Value>> {
    let mut patch = Map::new();
    for _ in 0..u.int_in_range(0u8..=4)? {
        let name = patch_field_name(u)?;
        patch.insert(name, value(u)?);
    }
    Ok(patch)
}

/// A patch that a local write must refuse (SPEC R5.5): a bad name, a
/// reserved or local-only field, a value nested too deep, or too many
/// fields; mixed into an otherwise valid patch.
pub fn bad_patch(u: &mut Unstructured) -> Result<Map<String, Value>> {
    let mut patch = patch(u)?;
    match u.int_in_range(0u8..=6)? {
        0 => {
            patch.insert(String::new(), value(u)?);
        }
        1 => {
            patch.insert("x".repeat(257), value(u)?);
        }
        2 => {
            patch.insert(TOMBSTONE_FIELD.into(), tombstone_value(u)?);
        }
        3 => {
            patch.insert(SHADOW_FIELD.into(), value(u)?);
        }
        4 => {
            patch.insert(FIELD_META_KEY.into(), value(u)?);
        }
        5 => {
            let objects = u.arbitrary()?;
            patch.insert(
                "deep".into(),
                nested(Value::Null, VALUE_DEPTH_MAX + 1, objects),
            );
        }
        _ => {
            for i in 0..=fieldmerge::FIELDS_PER_CHANGE_MAX {
                patch.insert(format!("f{i}"), Value::from(i));
            }
        }
    }
    Ok(patch)
}

/// A patch that is valid most of the time and bad now and then.
pub fn any_patch(u: &mut Unstructured) -> Result<Map<String, Value>> {
    if u.ratio(1u8, 12)? {
        bad_patch(u)
    } else {
        patch(u)
    }
}

/// Live or hydration.
pub fn delivery(u: &mut Unstructured) -> Result<Delivery> {
    Ok(if u.ratio(1u8, 4)? {
        Delivery::Hydration
    } else {
        Delivery::Live
    })
}

/// The wire JSON of a change that is often invalid (SPEC R11.5): a valid
/// change with one of many mutations applied, or any JSON value at all.
pub fn wire_change(u: &mut Unstructured) -> Result<Value> {
    let mut wire = change(u)?.to_wire();
    let Value::Object(obj) = &mut wire else {
        return Ok(wire);
    };
    let member = *u.choose(&[
        "table",
        "id",
        "op",
        "data",
        "field_meta",
        "client_id",
        "client_seq",
        "server_seq",
    ])?;
    let field = obj
        .get("data")
        .and_then(Value::as_object)
        .and_then(|d| d.keys().next().cloned())
        .unwrap_or_default();
    match u.int_in_range(0u8..=17)? {
        0 => return value(u),
        1 => {
            obj.remove(member);
        }
        2 => {
            obj.insert(member.into(), value(u)?);
        }
        3 => {
            obj.insert("extra".into(), Value::Null);
        }
        4 => {
            obj.insert("op".into(), Value::from("upsert"));
        }
        5 => {
            obj.insert(member.into(), Value::from(""));
        }
        6 => {
            obj.insert(member.into(), Value::from("x".repeat(257)));
        }
        7 => {
            obj.insert("data".into(), Value::Object(Map::new()));
            obj.insert("field_meta".into(), Value::Object(Map::new()));
        }
        8 => {
            if let Some(Value::Object(data)) = obj.get_mut("data") {
                data.insert("extra".into(), Value::Null);
            }
        }
        9 => {
            if let Some(Value::Object(meta)) = obj.get_mut("field_meta") {
                meta.insert(
                    "extra".into(),
                    serde_json::json!({"at": Timestamp::GENESIS, "origin": "user"}),
                );
            }
        }
        10 => {
            if let Some(Value::Object(data)) = obj.get_mut("data") {
                data.insert(
                    SHADOW_FIELD.into(),
                    Value::String(Timestamp::GENESIS.to_string()),
                );
            }
        }
        11 => {
            if let Some(Value::Object(data)) = obj.get_mut("data") {
                data.insert(
                    field.clone(),
                    nested(Value::Null, VALUE_DEPTH_MAX + 1, false),
                );
            }
        }
        12 => {
            obj.insert("op".into(), Value::from("delete"));
        }
        13..=16 => {
            if let Some(Value::Object(meta)) = obj.get_mut("field_meta") {
                if let Some(Value::Object(m)) = meta.get_mut(&field) {
                    let which = *u.choose(&["at", "origin", "by", "base", "extra"])?;
                    let bad = match u.int_in_range(0u8..=5)? {
                        0 => Value::from("2026-02-30T10:00:00.000Z"),
                        1 => Value::from("2026-04-26T10:00:00Z"),
                        2 => Value::from("robot"),
                        3 => serde_json::json!({"at": "never", "by": "a"}),
                        4 => serde_json::json!({"by": "a"}),
                        _ => value(u)?,
                    };
                    if u.ratio(1u8, 5)? {
                        m.remove(which);
                    } else {
                        m.insert(which.into(), bad);
                    }
                }
            }
        }
        _ => {
            let mut data = Map::new();
            let mut meta = Map::new();
            for i in 0..=fieldmerge::FIELDS_PER_CHANGE_MAX {
                data.insert(format!("f{i}"), Value::Null);
                meta.insert(
                    format!("f{i}"),
                    serde_json::json!({"at": Timestamp::GENESIS, "origin": "user"}),
                );
            }
            obj.insert("data".into(), Value::Object(data));
            obj.insert("field_meta".into(), Value::Object(meta));
        }
    }
    Ok(wire)
}

/// A batch of wire changes (a JSON array), each valid or not.
pub fn wire_batch(u: &mut Unstructured) -> Result<Value> {
    let mut items = Vec::new();
    for _ in 0..u.int_in_range(0u8..=4)? {
        items.push(if u.ratio(1u8, 2)? {
            change(u)?.to_wire()
        } else {
            wire_change(u)?
        });
    }
    Ok(Value::Array(items))
}

/// One step of a whole-system run: [`REPLICAS`] replicas (client ids
/// [`CLIENTS`]) and one server. Replica indices are below [`REPLICAS`].
#[derive(Clone, PartialEq, Debug)]
pub enum Action {
    /// `Replica::write` (SPEC R5).
    Write {
        /// Which replica.
        replica: usize,
        /// The record.
        key: RecordKey,
        /// Who writes.
        actor: Actor,
        /// The fields; sometimes a bad patch (SPEC R5.5).
        patch: Map<String, Value>,
        /// The caller's wall time.
        now: Timestamp,
    },
    /// `Replica::delete` (SPEC R9.1).
    Delete {
        /// Which replica.
        replica: usize,
        /// The record.
        key: RecordKey,
        /// Who deletes.
        actor: Actor,
        /// The caller's wall time.
        now: Timestamp,
    },
    /// `Replica::restore` (SPEC R9.1).
    Restore {
        /// Which replica.
        replica: usize,
        /// The record.
        key: RecordKey,
        /// Who restores.
        actor: Actor,
        /// The caller's wall time.
        now: Timestamp,
    },
    /// `Replica::bootstrap` (SPEC R10).
    Bootstrap {
        /// Which replica.
        replica: usize,
        /// The singleton's key.
        key: RecordKey,
        /// Its default fields.
        fields: Map<String, Value>,
    },
    /// `Replica::apply` of a generated batch (SPEC R4.5, R6).
    Apply {
        /// Which replica.
        replica: usize,
        /// The batch, with duplicates, twins and stale changes.
        changes: Vec<Change>,
        /// Live or hydration (SPEC R6.4).
        delivery: Delivery,
    },
    /// `Replica::apply` of server log entries picked by index (modulo the
    /// log's length), in the given order: out-of-order and duplicated
    /// delivery of real history.
    Replay {
        /// Which replica.
        replica: usize,
        /// Log indices, taken modulo the log's length.
        picks: Vec<usize>,
        /// Live or hydration.
        delivery: Delivery,
    },
    /// `Server::push` of the replica's outbox at server time `now`; on
    /// success the replica acks and applies the reply's page (SPEC R12.1).
    Push {
        /// Which replica.
        replica: usize,
        /// The server's time.
        now: Timestamp,
    },
    /// A push whose reply is lost: the server appends, the replica learns
    /// nothing, so its next push is a retry (SPEC R12.1 dedup).
    PushLostReply {
        /// Which replica.
        replica: usize,
        /// The server's time.
        now: Timestamp,
    },
    /// A push of the outbox without its first `skip` changes: a gap when
    /// the server has not seen them (SPEC R12.1 `seq_gap`).
    PushTail {
        /// Which replica.
        replica: usize,
        /// How many pending changes to leave out.
        skip: usize,
        /// The server's time.
        now: Timestamp,
    },
    /// A forged push of generated changes (foreign changes, missing or
    /// unordered sequence numbers).
    PushForged {
        /// The pushing client.
        client: WriterId,
        /// The changes.
        changes: Vec<Change>,
        /// The cursor.
        cursor: u64,
        /// The push's clock epoch.
        clock_epoch: u64,
        /// The server's time.
        now: Timestamp,
    },
    /// `Server::pull` at the replica's cursor, then `Replica::apply_page`
    /// (SPEC R6.5, R12.2).
    Pull {
        /// Which replica.
        replica: usize,
        /// The page size.
        limit: usize,
    },
    /// `Server::pull` at any cursor, then `Replica::apply_page`: mostly a
    /// page the replica must refuse.
    PullAt {
        /// Which replica.
        replica: usize,
        /// The cursor the page starts after.
        after: u64,
        /// The page size.
        limit: usize,
    },
    /// `Server::pull` at the replica's cursor, tampered with in transit,
    /// then `Replica::apply_page`: a page the replica must refuse (SPEC
    /// R6.5 `not_consecutive`, `head_behind`) unless the tampering left it
    /// intact (an empty page).
    PullForged {
        /// Which replica.
        replica: usize,
        /// The page size.
        limit: usize,
        /// What was done to the page.
        forgery: PageForgery,
    },
    /// `Replica::ack`.
    Ack {
        /// Which replica.
        replica: usize,
        /// Acknowledged through this `client_seq`.
        through: Option<u64>,
    },
    /// `Replica::merge` (SPEC R4.5, R6.6): `into` merges `from`'s records.
    Merge {
        /// The replica that merges.
        into: usize,
        /// The replica whose records it merges.
        from: usize,
    },
    /// `Replica::reset_cursor`.
    ResetCursor {
        /// Which replica.
        replica: usize,
    },
    /// `Replica::correct_clock` (SPEC R12.4).
    CorrectClock {
        /// Which replica.
        replica: usize,
        /// The server's time.
        server_now: Timestamp,
        /// The clock epoch the refusal demands; `None` for the replica's
        /// own plus one (a fresh refusal), a small number otherwise (often
        /// old news, which changes nothing).
        clock_epoch: Option<u64>,
        /// The replica's wall time.
        now: Timestamp,
    },
    /// `Server::write`: an agent or job writing straight into the log
    /// (SPEC R12.4).
    ServerWrite {
        /// The writer.
        writer: WriterId,
        /// Its actor.
        actor: Actor,
        /// The record.
        key: RecordKey,
        /// The fields (the tombstone allowed).
        patch: Map<String, Value>,
        /// The server's time.
        now: Timestamp,
    },
    /// `Server::bootstrap` (SPEC R10).
    ServerBootstrap {
        /// The singleton's key.
        key: RecordKey,
        /// Its default fields.
        fields: Map<String, Value>,
    },
}

/// The key of a singleton in the pools (SPEC R10.2).
pub fn singleton_key(u: &mut Unstructured) -> Result<RecordKey> {
    Ok(RecordKey::singleton(
        u.choose(&["userContext", "settings"])?,
        u.choose(&["u1", "u2"])?,
    ))
}

/// Default fields of a singleton: a few fixed sets, so a client
/// placeholder and the server row are often identical and sometimes
/// malformed twins (SPEC R10.4).
pub fn singleton_fields(u: &mut Unstructured) -> Result<Map<String, Value>> {
    Ok(match u.int_in_range(0u8..=9)? {
        0..=5 => json_object(serde_json::json!({"theme": "light", "tags": []})),
        6..=7 => json_object(serde_json::json!({"theme": "dark"})),
        8 => patch(u)?,
        _ => any_patch(u)?,
    })
}

fn json_object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn replica_index(u: &mut Unstructured) -> Result<usize> {
    u.int_in_range(0..=REPLICAS - 1)
}

/// How [`Action::PullForged`] tampers with a page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PageForgery {
    /// The page's first change is cut out: the rest no longer follow the
    /// cursor (SPEC R6.5 `not_consecutive`).
    DropFirst,
    /// The page claims the log's head is its cursor (SPEC R6.5
    /// `head_behind` when the page has changes).
    HeadAtCursor,
}

/// One [`Action`], weighted toward writes, pushes and pulls.
pub fn action(u: &mut Unstructured) -> Result<Action> {
    let replica = replica_index(u)?;
    Ok(match u.int_in_range(0u8..=40)? {
        0..=9 => Action::Write {
            replica,
            key: record_key(u)?,
            actor: actor(u)?,
            patch: any_patch(u)?,
            now: timestamp(u)?,
        },
        10..=11 => Action::Delete {
            replica,
            key: record_key(u)?,
            actor: actor(u)?,
            now: timestamp(u)?,
        },
        12 => Action::Restore {
            replica,
            key: record_key(u)?,
            actor: actor(u)?,
            now: timestamp(u)?,
        },
        13 => Action::Bootstrap {
            replica,
            key: singleton_key(u)?,
            fields: singleton_fields(u)?,
        },
        14..=15 => Action::Apply {
            replica,
            changes: changes(u)?,
            delivery: delivery(u)?,
        },
        16..=17 => Action::Replay {
            replica,
            picks: (0..u.int_in_range(1u8..=5)?)
                .map(|_| u.int_in_range(0usize..=40))
                .collect::<Result<_>>()?,
            delivery: delivery(u)?,
        },
        18..=23 => Action::Push {
            replica,
            now: timestamp(u)?,
        },
        24 => Action::PushLostReply {
            replica,
            now: timestamp(u)?,
        },
        25 => Action::PushTail {
            replica,
            skip: u.int_in_range(1usize..=2)?,
            now: timestamp(u)?,
        },
        26 => {
            let client = client_id(u)?;
            let mut changes = changes(u)?;
            // Half the time every change is the pushing client's own, so a
            // forged push reaches the checks past `foreign_change`: a
            // reused `client_seq` with other content (`seq_reused`).
            if u.arbitrary::<bool>()? {
                changes = changes
                    .into_iter()
                    .filter_map(|c| {
                        let writes = c.writes().map(|(n, r)| (n.to_owned(), r.clone())).collect();
                        Change::new(
                            c.key().clone(),
                            c.op(),
                            writes,
                            client.clone(),
                            c.client_seq(),
                        )
                        .ok()
                    })
                    .collect();
            }
            Action::PushForged {
                client,
                changes,
                cursor: u.int_in_range(0u64..=4)?,
                clock_epoch: u.int_in_range(0u64..=2)?,
                now: timestamp(u)?,
            }
        }
        27..=31 => Action::Pull {
            replica,
            limit: u.int_in_range(1usize..=4)?,
        },
        32 => Action::PullAt {
            replica,
            after: u.int_in_range(0u64..=6)?,
            limit: u.int_in_range(0usize..=4)?,
        },
        33 => Action::Ack {
            replica,
            through: if u.arbitrary()? {
                Some(u.int_in_range(0u64..=6)?)
            } else {
                None
            },
        },
        34 => Action::Merge {
            into: replica,
            from: replica_index(u)?,
        },
        35 => Action::ResetCursor { replica },
        36 => Action::CorrectClock {
            replica,
            server_now: timestamp(u)?,
            clock_epoch: if u.ratio(1u8, 4)? {
                Some(u.int_in_range(0u64..=2)?)
            } else {
                None
            },
            now: timestamp(u)?,
        },
        37..=38 => Action::ServerWrite {
            writer: writer_id(u)?,
            actor: actor(u)?,
            key: record_key(u)?,
            patch: if u.ratio(1u8, 3)? {
                let mut p = patch(u)?;
                p.insert(TOMBSTONE_FIELD.into(), tombstone_value(u)?);
                p
            } else {
                any_patch(u)?
            },
            now: timestamp(u)?,
        },
        40 => Action::PullForged {
            replica,
            limit: u.int_in_range(1usize..=4)?,
            forgery: if u.arbitrary()? {
                PageForgery::DropFirst
            } else {
                PageForgery::HeadAtCursor
            },
        },
        _ => Action::ServerBootstrap {
            key: singleton_key(u)?,
            fields: singleton_fields(u)?,
        },
    })
}

/// A run of up to `len_max` actions.
pub fn actions(u: &mut Unstructured, len_max: usize) -> Result<Vec<Action>> {
    let len = u.int_in_range(0..=len_max)?;
    let mut run = Vec::with_capacity(len);
    for _ in 0..len {
        if u.is_empty() {
            break;
        }
        run.push(action(u)?);
    }
    Ok(run)
}

impl<'a> Arbitrary<'a> for Action {
    fn arbitrary(u: &mut Unstructured<'a>) -> Result<Self> {
        action(u)
    }
}
