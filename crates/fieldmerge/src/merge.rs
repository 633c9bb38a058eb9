//! The one merge loop (SPEC R4, R6, R9.3): the registers of a change or a
//! record merged into a record store field by field, every field decided by
//! [`decide`](crate::decide) and reported exactly as decided. Replica and
//! server both merge through here.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::change::Change;
use crate::classify::{Context, Decision, Delivery};
use crate::origin::Origin;
use crate::record::{Record, RecordKey, TOMBSTONE_FIELD};
use crate::register::{Base, Register, WriterId};
use crate::report::{Anomaly, ApplyReport, Conflict, HiddenEdit};
use crate::timestamp::Timestamp;

/// Merges the registers of one change or record into `records` and reports
/// every decision (SPEC R4, R6, R9.3). Shared by replica and server so both
/// sides merge with one rule.
pub(crate) fn merge_writes<'a>(
    records: &mut BTreeMap<RecordKey, Record>,
    key: &RecordKey,
    writes: impl Iterator<Item = (&'a str, &'a Register)>,
    delivery: Delivery,
    local: Option<Local<'_>>,
    report: &mut ApplyReport,
) {
    let writes = writes.map(|(name, reg)| (name, None, reg));
    merge_into(records, key, writes, delivery, local, report);
}

/// [`merge_writes`] of writes whose names are shared allocations (a change's
/// or a record's): a new field shares the name instead of copying it.
pub(crate) fn merge_shared(
    records: &mut BTreeMap<RecordKey, Record>,
    key: &RecordKey,
    writes: &[(Arc<str>, Register)],
    delivery: Delivery,
    local: Option<Local<'_>>,
    report: &mut ApplyReport,
) {
    let writes = writes.iter().map(|(name, reg)| (&**name, Some(name), reg));
    merge_into(records, key, writes, delivery, local, report);
}

/// The replica a merge runs on: its client id, its outbox, and an index of
/// the outbox by stamp that the merge builds the first time it needs it.
#[derive(Clone, Copy)]
pub(crate) struct Local<'a> {
    pub me: &'a WriterId,
    pub outbox: &'a [Change],
    pub index: &'a PendingIndex,
}

/// The replica's pending writes by stamp: `(at, client_seq)` for every
/// register, sorted. The changes that may hold a version are found by a
/// binary search, then looked up in the live outbox by `client_seq`; an
/// acknowledged change is gone from the outbox, so the index stays right
/// while an apply acknowledges changes.
#[derive(Default)]
pub(crate) struct PendingIndex {
    index: std::cell::OnceCell<Vec<(Timestamp, u64)>>,
    // The changes through this `client_seq` are acknowledged by the batch
    // under way, though still in the outbox until it ends.
    acked: std::cell::Cell<u64>,
}

impl PendingIndex {
    /// Marks the changes through `seq` as acknowledged.
    pub(crate) fn acknowledge_through(&self, seq: u64) {
        self.acked.set(self.acked.get().max(seq));
    }

    fn holds(&self, outbox: &[Change], current: &Register, key: &RecordKey, name: &str) -> bool {
        let acked = self.acked.get();
        let index = self.index.get_or_init(|| {
            // Every register's stamp: a local write's share one, but a
            // loaded outbox is not bound to (R12.5 checks its numbers only).
            let mut index: Vec<(Timestamp, u64)> = outbox
                .iter()
                .filter_map(|c| Some((c, c.client_seq()?)))
                .flat_map(|(c, seq)| c.writes().map(move |(_, r)| (r.at, seq)))
                .collect();
            index.sort_unstable();
            index.dedup();
            index
        });
        let from = index.partition_point(|(at, _)| *at < current.at);
        index[from..]
            .iter()
            .take_while(|(at, _)| *at == current.at)
            .filter(|(_, seq)| *seq > acked)
            .any(|(_, seq)| {
                let at = outbox.partition_point(|c| c.client_seq().is_some_and(|s| s < *seq));
                outbox.get(at).is_some_and(|c| {
                    c.client_seq() == Some(*seq)
                        && c.key() == key
                        && c.write(name)
                            .is_some_and(|r| r.cmp_version(current).is_eq())
                })
            })
    }
}

// SPEC R6.4: whether `current` is still a pending write of this replica.
fn is_pending(current: &Register, key: &RecordKey, name: &str, local: Local<'_>) -> bool {
    &current.by == local.me && local.index.holds(local.outbox, current, key, name)
}

// The one merge of SPEC R4, R6 and R9.3 behind `merge_writes` and
// `merge_shared`. The writes come sorted by name (a change's and a record's
// are), so each field is found by a search that resumes where the previous
// one ended.
fn merge_into<'a>(
    records: &mut BTreeMap<RecordKey, Record>,
    key: &RecordKey,
    writes: impl Iterator<Item = (&'a str, Option<&'a Arc<str>>, &'a Register)>,
    delivery: Delivery,
    local: Option<Local<'_>>,
    report: &mut ApplyReport,
) {
    // A new record stores its field names as the allocations its neighbour
    // in key order already holds, where they match: records of one table
    // mostly share their fields, so a name is stored once, not once per
    // record (issue #5: memory per register).
    let mut names: Vec<Arc<str>> = Vec::new();
    let record = match records.get_mut(key) {
        Some(record) => record,
        None => {
            if let Some((_, neighbour)) = records.range(..key).next_back() {
                names = neighbour
                    .fields_shared()
                    .iter()
                    .map(|(n, _)| Arc::clone(n))
                    .collect();
            }
            let record = records.entry(key.clone()).or_default();
            record.reserve_exact(writes.size_hint().0);
            record
        }
    };
    merge_into_record(record, key, writes, delivery, local, report);
    if !names.is_empty() {
        record.share_names(&names);
    }
}

// `merge_into` once the record is found.
pub(crate) fn merge_into_record<'a>(
    record: &mut Record,
    key: &RecordKey,
    writes: impl Iterator<Item = (&'a str, Option<&'a Arc<str>>, &'a Register)>,
    delivery: Delivery,
    local: Option<Local<'_>>,
    report: &mut ApplyReport,
) {
    // Whether the record was deleted before this run is read off the
    // tombstone the run replaced, so a run that does not touch the tombstone
    // never looks it up.
    let mut was_deleted = false;
    let mut tombstone_won = false;
    let mut from = 0;
    for (name, shared, incoming) in writes {
        let name_arc = || shared.map_or_else(|| Arc::from(name), Arc::clone);
        let context = |current: &Register| Context {
            delivery,
            // Only a legacy winner in hydration asks whether the current
            // register is pending (SPEC R6.4), so only then is the outbox
            // searched.
            current_pending: delivery == Delivery::Hydration
                && incoming.base == Base::Legacy
                && local.is_some_and(|local| is_pending(current, key, name, local)),
        };
        let (decision, loser) =
            record.merge_register_from(&mut from, name, name_arc, incoming, context);
        report.tally.count(decision);
        if decision.incoming_won() {
            report.note_changed(key);
        }
        if name == TOMBSTONE_FIELD && decision.incoming_won() {
            tombstone_won = true;
            was_deleted = loser.as_ref().is_some_and(|l| !l.value.is_null());
        }
        match decision {
            Decision::Conflict(rule) => {
                if let Some(loser) = loser {
                    report.conflicts.push(Conflict {
                        key: key.clone(),
                        field: name.to_owned(),
                        loser_is_local: local.is_some_and(|local| &loser.by == local.me),
                        loser,
                        winner: incoming.clone(),
                        rule,
                    });
                }
            }
            Decision::Twin { incoming_won } => {
                let (kept, dropped) = match (incoming_won, loser) {
                    (true, Some(loser)) => (incoming.clone(), loser),
                    _ => (
                        record
                            .field(name)
                            .cloned()
                            .unwrap_or_else(|| incoming.clone()),
                        incoming.clone(),
                    ),
                };
                report.anomalies.push(Anomaly {
                    key: key.clone(),
                    field: name.to_owned(),
                    kept,
                    dropped,
                });
            }
            _ => {}
        }
    }
    // SPEC R9.3: a tombstone that hides a local user edit its writer
    // provably had not seen (an edit with a greater version than the
    // tombstone, which a hybrid logical clock rules out for a seen edit).
    if let (Some(Local { me, .. }), true, false) = (local, tombstone_won, was_deleted) {
        if !record.is_deleted() {
            return;
        }
        if let Some(tombstone) = record.field(TOMBSTONE_FIELD).cloned() {
            for (name, reg) in record.fields() {
                if name != TOMBSTONE_FIELD
                    && reg.origin == Origin::User
                    && &reg.by == me
                    && reg.cmp_version(&tombstone) == std::cmp::Ordering::Greater
                {
                    report.hidden_edits.push(HiddenEdit {
                        key: key.clone(),
                        field: name.to_owned(),
                        edit: reg.clone(),
                        tombstone: tombstone.clone(),
                    });
                }
            }
        }
    }
}

/// The keys of `theirs` that `mine` lacks, in key order: one walk over both
/// sorted maps.
pub(crate) fn keys_missing(
    mine: &BTreeMap<RecordKey, Record>,
    theirs: &BTreeMap<RecordKey, Record>,
) -> Vec<RecordKey> {
    let mut missing = Vec::new();
    let mut mine = mine.keys().peekable();
    for key in theirs.keys() {
        while mine.next_if(|k| *k < key).is_some() {}
        if mine.next_if(|k| *k == key).is_none() {
            missing.push(key.clone());
        }
    }
    missing
}
