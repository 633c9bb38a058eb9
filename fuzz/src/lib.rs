//! Input builders and checks shared by the fuzz targets.
//!
//! Inputs are built from the fuzzer's bytes with the crate's own generators
//! (`fieldmerge_harness::gen`, the ones the property tests use), plus the few
//! builders below that only the targets need (pages, permutations, simulator
//! schedules). Every check panics with a message naming the law (SPEC rule)
//! that broke, which is what libFuzzer reports as a crash.
#![forbid(unsafe_code)]

use std::collections::BTreeMap;

use arbitrary::{Arbitrary, Result, Unstructured};
use fieldmerge::{Change, Delivery, Page, Record, RecordKey};
use serde_json::json;

pub mod sim;
pub mod targets;

/// The kernel side of a whole-system action run and the reference model,
/// from the harness crate: the `differential` target compares exactly what
/// `cargo test` compares.
pub use fieldmerge_harness::{model, world};

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
    // Now and then a page of another log (SPEC R12.7).
    let log = u.ratio(1, 8)?.then(|| "other".to_owned());
    Ok(Page::new(after, out, head).with_log(log))
}

/// The records `changes` should give when merged into `records` as states
/// (SPEC R4.5): each change's registers form a record that is merged, by
/// [`Record::merge`], into the current one.
pub fn merged_as_states(
    records: fieldmerge::Records<'_>,
    changes: &[Change],
) -> BTreeMap<RecordKey, Record> {
    let mut out: BTreeMap<RecordKey, Record> = records
        .iter()
        .map(|(k, r)| (k.clone(), r.clone()))
        .collect();
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
