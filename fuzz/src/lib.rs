//! Input builders and checks shared by the fuzz targets.
//!
//! Inputs are built from the fuzzer's bytes with [`arbitrary::Unstructured`]
//! over small pools of names, writers, instants and values, so that collisions
//! (same field, same `at`, same writer, malformed twins) are common rather
//! than astronomically rare. Every check panics with a message naming the law
//! (SPEC rule) that broke, which is what libFuzzer reports as a crash.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Result, Unstructured};
use fieldmerge::{
    Actor, Base, Change, Delivery, Op, Origin, Page, Record, RecordKey, Register, Replica,
    Timestamp, Version, WriterId, SYSTEM_BOOTSTRAP, SYSTEM_MIGRATION, TOMBSTONE_FIELD,
};
use serde_json::{json, Map, Value};

pub mod targets;

/// Tables a generated change may touch.
pub const TABLES: &[&str] = &["tasks", "notes"];
/// Record ids.
pub const IDS: &[&str] = &["a", "b", "c"];
/// Field names, the tombstone and one name that sorts before it included.
pub const FIELDS: &[&str] = &["title", "done", TOMBSTONE_FIELD, "n", "Z"];
/// Writer ids: the empty id (sorts first, SPEC R4.2) and the bootstrap
/// writer included.
pub const WRITERS: &[&str] = &["", "phone", "laptop", "agent", SYSTEM_BOOTSTRAP];

/// Picks one element of a pool.
pub fn pick<'a, T: ?Sized>(u: &mut Unstructured<'_>, pool: &'a [&'a T]) -> Result<&'a T> {
    Ok(*u.choose(pool)?)
}

/// An instant from a small range (the genesis included) so equal `at`s are
/// common; now and then anything up to [`Timestamp::MAX`].
pub fn timestamp(u: &mut Unstructured<'_>) -> Result<Timestamp> {
    let ms = if u.ratio(1, 16)? {
        u.int_in_range(0..=Timestamp::MAX.as_ms())?
    } else {
        u.int_in_range(0..=12)?
    };
    Ok(Timestamp::from_ms(ms).unwrap_or(Timestamp::GENESIS))
}

/// A JSON value from a pool of tricky ones (`1` vs `1.0`, `-0.0` vs `0.0`,
/// null, strings that differ in case, nested arrays and objects), or a small
/// arbitrary one.
pub fn value(u: &mut Unstructured<'_>) -> Result<Value> {
    Ok(match u.int_in_range(0..=13)? {
        0 => Value::Null,
        1 => json!(1),
        2 => json!(1.0),
        3 => json!(-0.0),
        4 => json!(0.0),
        5 => json!("Milk"),
        6 => json!("milk"),
        7 => json!([1, [2]]),
        8 => json!({"a": 1, "b": [true]}),
        9 => json!(u64::MAX),
        10 => json!(i64::MIN),
        11 => Value::Bool(bool::arbitrary(u)?),
        12 => json!(f64::from(i32::arbitrary(u)?) / 8.0),
        _ => Value::String(String::arbitrary(u)?.chars().take(8).collect()),
    })
}

/// An origin.
pub fn origin(u: &mut Unstructured<'_>) -> Result<Origin> {
    Ok(*u.choose(&[
        Origin::User,
        Origin::Agent,
        Origin::Migration,
        Origin::System,
    ])?)
}

/// A writer id from [`WRITERS`].
pub fn writer(u: &mut Unstructured<'_>) -> Result<WriterId> {
    Ok(WriterId::new(pick(u, WRITERS)?))
}

/// A base: legacy, first, or a version from the pools.
pub fn base(u: &mut Unstructured<'_>) -> Result<Base> {
    Ok(match u.int_in_range(0..=2)? {
        0 => Base::Legacy,
        1 => Base::First,
        _ => Base::Saw(Version {
            at: timestamp(u)?,
            by: writer(u)?,
        }),
    })
}

/// A register.
pub fn register(u: &mut Unstructured<'_>) -> Result<Register> {
    Ok(Register {
        value: value(u)?,
        at: timestamp(u)?,
        by: writer(u)?,
        origin: origin(u)?,
        base: base(u)?,
    })
}

/// A record key from the pools.
pub fn key(u: &mut Unstructured<'_>) -> Result<RecordKey> {
    Ok(RecordKey::new(pick(u, TABLES)?, pick(u, IDS)?))
}

/// A valid change over the pools (a delete always carries a tombstone).
pub fn change(u: &mut Unstructured<'_>) -> Result<Change> {
    let key = key(u)?;
    let client = WriterId::new(pick(u, &WRITERS[1..])?);
    let n = u.int_in_range(1..=3)?;
    let mut writes = Vec::with_capacity(n);
    for _ in 0..n {
        writes.push((pick(u, FIELDS)?.to_owned(), register(u)?));
    }
    let op = *u.choose(&[Op::Insert, Op::Update, Op::Delete])?;
    let seq = Option::<u8>::arbitrary(u)?.map(u64::from);
    // A delete without a non-null tombstone is invalid (SPEC R11.2): fall back
    // to an update rather than throwing the input away.
    match Change::new(key.clone(), op, writes.clone(), client.clone(), seq) {
        Ok(change) => Ok(change),
        Err(_) => Change::new(key, Op::Update, writes, client, seq)
            .map_err(|_| arbitrary::Error::IncorrectFormat),
    }
}

/// A batch of 0 to 8 valid changes.
pub fn batch(u: &mut Unstructured<'_>) -> Result<Vec<Change>> {
    let n = u.int_in_range(0..=8)?;
    (0..n).map(|_| change(u)).collect()
}

/// The actor of a local write.
pub fn actor(u: &mut Unstructured<'_>) -> Result<Actor> {
    Ok(match u.int_in_range(0..=3)? {
        0 => Actor::User,
        1 => Actor::Ai,
        2 => Actor::system(SYSTEM_MIGRATION),
        _ => Actor::system("system:cron"),
    })
}

/// A patch of 0 to 3 fields; sometimes a reserved or local-only one, so the
/// write errors are exercised too.
pub fn patch(u: &mut Unstructured<'_>) -> Result<Map<String, Value>> {
    let n = u.int_in_range(0..=3)?;
    let mut m = Map::new();
    for _ in 0..n {
        let name = if u.ratio(1, 12)? {
            pick(u, &["_updatedAtIndex", "__fieldMeta", ""])?
        } else {
            pick(u, FIELDS)?
        };
        m.insert(name.to_owned(), value(u)?);
    }
    Ok(m)
}

/// A page over `changes`: usually well formed (consecutive server sequence
/// numbers from `after + 1`), sometimes not, so page rejection is exercised.
pub fn page(u: &mut Unstructured<'_>, changes: &[Change], cursor: Option<u64>) -> Result<Page> {
    let after = if u.ratio(7, 8)? {
        cursor.unwrap_or(0)
    } else {
        u64::from(u8::arbitrary(u)?)
    };
    let skew = if u.ratio(7, 8)? {
        0
    } else {
        u.int_in_range(0..=2)?
    };
    let mut out = Vec::with_capacity(changes.len());
    for (i, c) in changes.iter().enumerate() {
        let mut wire = c.to_wire();
        if let Some(obj) = wire.as_object_mut() {
            let seq = after + 1 + i as u64 + if i == 0 { 0 } else { skew };
            obj.insert("server_seq".into(), json!(seq));
        }
        if let Ok(c) = Change::from_wire(&wire, i) {
            out.push(c);
        }
    }
    let last = after + out.len() as u64;
    let head = if u.ratio(3, 4)? {
        last + u64::from(u.int_in_range(0..=2u8)?)
    } else {
        last.saturating_sub(1)
    };
    Ok(Page {
        after,
        changes: out,
        head,
    })
}

/// Builds a replica from a short action list (writes, deletes, restores,
/// bootstraps, applies, pages, acks). Every refused action is checked to
/// leave the replica unchanged (SPEC R5.5, R6.5).
pub fn replica(u: &mut Unstructured<'_>) -> Result<Replica> {
    let mut r = Replica::new(writer(u)?);
    if r.client_id().as_str().is_empty() {
        r = Replica::new(WriterId::new("phone"));
    }
    let steps = u.int_in_range(0..=12)?;
    let mut now = 1i64;
    for _ in 0..steps {
        now += i64::from(u.int_in_range(0..=3u8)?) - 1;
        let t = Timestamp::from_ms(now.max(0)).unwrap_or(Timestamp::GENESIS);
        let before = r.clone();
        let refused = match u.int_in_range(0..=6)? {
            0 | 1 => r.write(&key(u)?, &actor(u)?, &patch(u)?, t).is_err(),
            2 => r.delete(&key(u)?, &actor(u)?, t).is_err(),
            3 => r.restore(&key(u)?, &actor(u)?, t).is_err(),
            4 => r.bootstrap(&key(u)?, &patch(u)?).is_err(),
            5 => {
                let delivery = if bool::arbitrary(u)? {
                    Delivery::Live
                } else {
                    Delivery::Hydration
                };
                r.apply(&batch(u)?, delivery);
                false
            }
            _ => {
                let changes = batch(u)?;
                let page = page(u, &changes, r.cursor())?;
                r.apply_page(&page).is_err()
            }
        };
        assert!(
            !refused || r == before,
            "SPEC R5.5/R6.5: a refused write or page changed the replica"
        );
    }
    Ok(r)
}

/// The records `changes` should give when merged into `records` as states
/// (SPEC R4.5): each change's registers form a record that is merged, by
/// [`Record::merge`], into the current one.
pub fn merged_as_states(
    records: &BTreeMap<RecordKey, Record>,
    changes: &[Change],
) -> BTreeMap<RecordKey, Record> {
    let mut out = records.clone();
    for change in changes {
        let mut incoming = Record::new();
        for (name, reg) in change.writes() {
            incoming.merge_register(name, reg, Delivery::Live);
        }
        out.entry(change.key().clone())
            .or_default()
            .merge(&incoming);
    }
    out
}

/// A permutation of `0..n` chosen by the fuzzer.
pub fn permutation(u: &mut Unstructured<'_>, n: usize) -> Result<Vec<usize>> {
    let mut order: Vec<usize> = (0..n).collect();
    for i in (1..n).rev() {
        let j = u.int_in_range(0..=i)?;
        order.swap(i, j);
    }
    Ok(order)
}
