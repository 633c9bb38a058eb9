//! Workloads and peers for the fieldmerge benchmarks.
//!
//! Every workload is generated from a fixed seed by a small deterministic
//! generator, as plain data ([`Spec`]), and then built into each
//! implementation: fieldmerge, a naive `HashMap` LWW written here, the
//! `crdts` crate's `LWWReg`, and (for state merge) `automerge`. So every
//! implementation merges exactly the same registers.

use std::collections::HashMap;

use automerge::transaction::Transactable;
use automerge::{AutoCommit, ObjType, ReadDoc, ROOT};
use crdts::{CvRDT, LWWReg};
use fieldmerge::{
    Actor, Base, Change, Delivery, Op, Origin, RecordKey, Register, Replica, Timestamp, Version,
    WriterId,
};
use serde_json::{json, Map, Value};

/// Records per replica in the state-merge workload (issue #5: R).
pub const RECORDS: usize = 10_000;
/// Fields per record (issue #5: F).
pub const FIELDS: usize = 10;
/// Field writes in the change-log workload (issue #5).
pub const LOG_WRITES: usize = 1_000_000;
/// Changes per `Replica::apply` call in the change-log workload.
pub const APPLY_BATCH: usize = 1_000;

/// The table every generated record lives in.
pub const TABLE: &str = "tasks";
/// The instant every workload starts from.
pub const T0_MS: i64 = 1_777_197_600_000;

/// A tiny deterministic generator (SplitMix64): workloads are data, equal
/// from run to run and machine to machine.
#[derive(Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator from a seed.
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// True with probability `percent` / 100.
    pub fn percent(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

/// The id of record `r`.
pub fn record_id(r: usize) -> String {
    format!("rec-{r:05}")
}

/// The name of field `f`.
pub fn field_name(f: usize) -> String {
    const NAMES: [&str; 10] = [
        "title", "done", "notes", "priority", "due", "owner", "tags", "color", "position",
        "estimate",
    ];
    NAMES
        .get(f)
        .map_or_else(|| format!("field{f}"), |n| (*n).to_owned())
}

/// One register as plain data, shared by every implementation.
#[derive(Clone, Debug)]
pub struct Reg {
    /// Field index.
    pub field: usize,
    /// Milliseconds since the genesis.
    pub at_ms: i64,
    /// Index into [`Spec::writers`].
    pub by: usize,
    /// The origin.
    pub origin: Origin,
    /// What the writer saw: `None` for a first write, else `(at_ms, writer)`.
    pub base: Option<(i64, usize)>,
    /// The value: a small integer (no heap), so memory per register is all
    /// metadata.
    pub value: i64,
}

/// A replica's registers as plain data: per record, its registers.
#[derive(Clone, Debug)]
pub struct Side {
    /// `records[r]` holds the registers of record `r`.
    pub records: Vec<Vec<Reg>>,
}

/// The state-merge workload: two replicas of [`RECORDS`] x [`FIELDS`]
/// registers that diverged from one common ancestor.
#[derive(Clone, Debug)]
pub struct Spec {
    /// Writer ids; index 0 is the ancestor's writer.
    pub writers: Vec<String>,
    /// Replica A.
    pub a: Side,
    /// Replica B.
    pub b: Side,
}

/// Generates the state-merge workload.
///
/// Every field starts from an ancestor register (`at = T0`, writer `seed`,
/// origin user). Each replica then overwrote each field with probability
/// 30 % (origin user 80 %, agent 20 %), at `T0 + 1 + 0..40 ms`, having seen
/// the ancestor. So about 9 % of the fields were written on both sides (real
/// conflicts when both were user edits), and equal timestamps between the
/// two sides are common among those (1 in 40), broken by the writer id.
pub fn state_merge_spec(records: usize) -> Spec {
    let mut rng = Rng::new(0x5EED_0001);
    let writers = vec!["seed".to_owned(), "phone".to_owned(), "laptop".to_owned()];
    let side = |writer: usize, rng: &mut Rng| Side {
        records: (0..records)
            .map(|r| {
                (0..FIELDS)
                    .map(|f| {
                        let ancestor = Reg {
                            field: f,
                            at_ms: T0_MS,
                            by: 0,
                            origin: Origin::User,
                            base: None,
                            value: (r * FIELDS + f) as i64,
                        };
                        if rng.percent(30) {
                            Reg {
                                field: f,
                                at_ms: T0_MS + 1 + rng.below(40) as i64,
                                by: writer,
                                origin: if rng.percent(80) {
                                    Origin::User
                                } else {
                                    Origin::Agent
                                },
                                base: Some((T0_MS, 0)),
                                value: rng.below(1000) as i64,
                            }
                        } else {
                            ancestor
                        }
                    })
                    .collect()
            })
            .collect(),
    };
    let a = side(1, &mut rng);
    let b = side(2, &mut rng);
    Spec { writers, a, b }
}

/// The change-log workload: [`LOG_WRITES`] field writes in changes of 1 to
/// [`FIELDS`] fields, over [`RECORDS`] records that start at the ancestor.
#[derive(Clone, Debug)]
pub struct Log {
    /// Writer ids (index 0 is the ancestor's writer).
    pub writers: Vec<String>,
    /// The starting state: every record's ancestor registers.
    pub start: Side,
    /// The changes in log order: `(record, registers)`.
    pub changes: Vec<(usize, Vec<Reg>)>,
}

/// Generates the change log. Writers stamp with a hybrid logical clock, so
/// `at` rises along the log (1 ms per change, equal `at` across writers now
/// and then). 96 % of the writes saw the version they overwrote (silent
/// overwrites); 2 % are concurrent user edits that had not (conflicts); 2 %
/// are re-deliveries of an earlier change (duplicates and stale writes).
pub fn log_spec(records: usize, writes: usize) -> Log {
    let mut rng = Rng::new(0x5EED_0002);
    let writers: Vec<String> = ["seed", "phone", "laptop", "tablet", "agent"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    let start = Side {
        records: (0..records)
            .map(|r| {
                (0..FIELDS)
                    .map(|f| Reg {
                        field: f,
                        at_ms: T0_MS,
                        by: 0,
                        origin: Origin::User,
                        base: None,
                        value: (r * FIELDS + f) as i64,
                    })
                    .collect()
            })
            .collect(),
    };
    // The current version of every field, to write witnessed bases.
    let mut current: Vec<Vec<(i64, usize)>> = vec![vec![(T0_MS, 0); FIELDS]; records];
    let mut changes: Vec<(usize, Vec<Reg>)> = Vec::new();
    let mut total = 0;
    let mut now = T0_MS;
    while total < writes {
        if !changes.is_empty() && rng.percent(2) {
            let again = changes[rng.below(changes.len() as u64) as usize].clone();
            total += again.1.len();
            changes.push(again);
            continue;
        }
        now += rng.below(2) as i64;
        let r = rng.below(records as u64) as usize;
        let by = 1 + rng.below(4) as usize;
        let n = (1 + rng.below(FIELDS as u64) as usize).min(writes - total);
        let first = rng.below(FIELDS as u64) as usize;
        let concurrent = rng.percent(2);
        let mut regs: Vec<Reg> = (0..n)
            .map(|k| {
                let f = (first + k) % FIELDS;
                let seen = current[r][f];
                let base = if concurrent { (T0_MS, 0) } else { seen };
                Reg {
                    field: f,
                    at_ms: now,
                    by,
                    origin: if by == 4 { Origin::Agent } else { Origin::User },
                    base: Some(base),
                    value: rng.below(1000) as i64,
                }
            })
            .collect();
        regs.sort_by_key(|reg| field_name(reg.field));
        for reg in &regs {
            let cur = &mut current[r][reg.field];
            if (reg.at_ms, writers[reg.by].as_str()) > (cur.0, writers[cur.1].as_str()) {
                *cur = (reg.at_ms, reg.by);
            }
        }
        total += n;
        changes.push((r, regs));
    }
    Log {
        writers,
        start,
        changes,
    }
}

// ----------------------------------------------------------------------------
// fieldmerge

/// Interned names, so every implementation shares one allocation per name.
pub struct Names {
    /// Field names by index.
    pub fields: Vec<String>,
    /// Writer ids by index.
    pub writers: Vec<WriterId>,
}

impl Names {
    /// The names of a workload's writers and of [`FIELDS`] fields.
    pub fn new(writers: &[String]) -> Names {
        Names {
            fields: (0..FIELDS).map(field_name).collect(),
            writers: writers.iter().map(|w| WriterId::new(w)).collect(),
        }
    }

    /// The fieldmerge register of `reg`.
    pub fn register(&self, reg: &Reg) -> Register {
        Register {
            value: Value::from(reg.value),
            at: ts(reg.at_ms),
            by: self.writers[reg.by].clone(),
            origin: reg.origin,
            base: match reg.base {
                None => Base::First,
                Some((at_ms, by)) => Base::Saw(Version {
                    at: ts(at_ms),
                    by: self.writers[by].clone(),
                }),
            },
        }
    }

    /// The fieldmerge change writing `regs` into record `r`.
    pub fn change(&self, r: usize, regs: &[Reg], client: usize) -> Change {
        let writes = regs
            .iter()
            .map(|reg| (self.fields[reg.field].clone(), self.register(reg)))
            .collect();
        Change::new(
            RecordKey::new(TABLE, &record_id(r)),
            Op::Update,
            writes,
            self.writers[client].clone(),
            None,
        )
        .expect("generated changes are valid")
    }
}

/// A timestamp from milliseconds (generated ones are always in range).
pub fn ts(ms: i64) -> Timestamp {
    Timestamp::from_ms(ms).expect("generated instants are in range")
}

/// Builds a fieldmerge replica holding exactly `side`'s registers.
pub fn fieldmerge_replica(names: &Names, side: &Side, client: &str) -> Replica {
    let changes: Vec<Change> = side
        .records
        .iter()
        .enumerate()
        .map(|(r, regs)| names.change(r, regs, 0))
        .collect();
    let mut replica = Replica::new(WriterId::new(client));
    replica.apply(&changes, Delivery::Live);
    replica
}

/// The change log as fieldmerge changes, in batches of [`APPLY_BATCH`].
pub fn fieldmerge_log(names: &Names, log: &Log) -> Vec<Vec<Change>> {
    log.changes
        .chunks(APPLY_BATCH)
        .map(|chunk| {
            chunk
                .iter()
                .map(|(r, regs)| names.change(*r, regs, regs[0].by))
                .collect()
        })
        .collect()
}

/// A local-write workload: `(record, patch)` pairs of 3 fields each, with a
/// changed value, over the records of a replica.
pub fn local_patches(records: usize, writes: usize) -> Vec<(RecordKey, Map<String, Value>)> {
    let mut rng = Rng::new(0x5EED_0003);
    (0..writes)
        .map(|i| {
            let r = rng.below(records as u64) as usize;
            let mut patch = Map::new();
            for k in 0..3 {
                patch.insert(
                    field_name((i + k) % FIELDS),
                    json!(1_000_000 + rng.below(1_000_000)),
                );
            }
            (RecordKey::new(TABLE, &record_id(r)), patch)
        })
        .collect()
}

/// Runs the local-write workload on a fieldmerge replica: one user write per
/// patch, 1 ms apart.
pub fn fieldmerge_local_writes(
    replica: &mut Replica,
    patches: &[(RecordKey, Map<String, Value>)],
) -> usize {
    let mut stamped = 0;
    for (i, (key, patch)) in patches.iter().enumerate() {
        let now = ts(T0_MS + 1_000 + i as i64);
        if let Ok(Some(change)) = replica.write(key, &Actor::User, patch, now) {
            stamped += change.writes().count();
        }
    }
    stamped
}

// ----------------------------------------------------------------------------
// The naive baseline: the first thing anyone would write.

/// A naive LWW register: `(at, writer, value)`.
pub type NaiveReg = (i64, String, Value);
/// A naive replica: record id -> field name -> register.
pub type Naive = HashMap<String, HashMap<String, NaiveReg>>;

/// Builds the naive replica of `side`.
pub fn naive_replica(writers: &[String], side: &Side) -> Naive {
    side.records
        .iter()
        .enumerate()
        .map(|(r, regs)| {
            let fields = regs
                .iter()
                .map(|reg| {
                    (
                        field_name(reg.field),
                        (reg.at_ms, writers[reg.by].clone(), Value::from(reg.value)),
                    )
                })
                .collect();
            (record_id(r), fields)
        })
        .collect()
}

/// Naive state merge: every field of `other` into `mine` by `(at, writer)`.
pub fn naive_merge(mine: &mut Naive, other: &Naive) {
    for (id, fields) in other {
        let record = mine.entry(id.clone()).or_default();
        for (name, theirs) in fields {
            match record.get_mut(name) {
                Some(ours) => {
                    if (theirs.0, &theirs.1) > (ours.0, &ours.1) {
                        *ours = theirs.clone();
                    }
                }
                None => {
                    record.insert(name.clone(), theirs.clone());
                }
            }
        }
    }
}

/// The change log for the naive replica: `(record id, [(field, reg)])`.
pub type NaiveLog = Vec<(String, Vec<(String, NaiveReg)>)>;

/// The change log as naive writes.
pub fn naive_log(log: &Log) -> NaiveLog {
    log.changes
        .iter()
        .map(|(r, regs)| {
            let writes = regs
                .iter()
                .map(|reg| {
                    (
                        field_name(reg.field),
                        (
                            reg.at_ms,
                            log.writers[reg.by].clone(),
                            Value::from(reg.value),
                        ),
                    )
                })
                .collect();
            (record_id(*r), writes)
        })
        .collect()
}

/// Naive op-based apply of a change log (no classification at all).
pub fn naive_apply(mine: &mut Naive, log: &NaiveLog) {
    for (id, writes) in log {
        let record = match mine.get_mut(id) {
            Some(record) => record,
            None => mine.entry(id.clone()).or_default(),
        };
        for (name, theirs) in writes {
            match record.get_mut(name) {
                Some(ours) => {
                    if (theirs.0, &theirs.1) > (ours.0, &ours.1) {
                        *ours = theirs.clone();
                    }
                }
                None => {
                    record.insert(name.clone(), theirs.clone());
                }
            }
        }
    }
}

/// Naive local writes: stamp the fields whose value changes.
pub fn naive_local_writes(
    mine: &mut Naive,
    me: &str,
    patches: &[(RecordKey, Map<String, Value>)],
) -> usize {
    let mut stamped = 0;
    let mut outbox: Vec<(String, Vec<(String, NaiveReg)>)> = Vec::new();
    for (i, (key, patch)) in patches.iter().enumerate() {
        let at = T0_MS + 1_000 + i as i64;
        let record = mine.entry(key.id.clone()).or_default();
        let mut writes = Vec::new();
        for (name, value) in patch {
            if record.get(name).is_some_and(|reg| &reg.2 == value) {
                continue;
            }
            let reg = (at, me.to_owned(), value.clone());
            record.insert(name.clone(), reg.clone());
            writes.push((name.clone(), reg));
        }
        stamped += writes.len();
        outbox.push((key.id.clone(), writes));
    }
    std::hint::black_box(outbox);
    stamped
}

// ----------------------------------------------------------------------------
// crdts::LWWReg

/// The marker of a `crdts` register: `(at, writer)`, as in fieldmerge.
pub type Marker = (i64, String);
/// A replica of `crdts` registers.
pub type Crdts = HashMap<String, HashMap<String, LWWReg<Value, Marker>>>;

/// Builds the `crdts` replica of `side`.
pub fn crdts_replica(writers: &[String], side: &Side) -> Crdts {
    side.records
        .iter()
        .enumerate()
        .map(|(r, regs)| {
            let fields = regs
                .iter()
                .map(|reg| {
                    (
                        field_name(reg.field),
                        LWWReg {
                            val: Value::from(reg.value),
                            marker: (reg.at_ms, writers[reg.by].clone()),
                        },
                    )
                })
                .collect();
            (record_id(r), fields)
        })
        .collect()
}

/// State merge with `crdts`: `CvRDT::merge` per register.
pub fn crdts_merge(mine: &mut Crdts, other: &Crdts) {
    for (id, fields) in other {
        let record = mine.entry(id.clone()).or_default();
        for (name, theirs) in fields {
            match record.get_mut(name) {
                Some(ours) => ours.merge(theirs.clone()),
                None => {
                    record.insert(name.clone(), theirs.clone());
                }
            }
        }
    }
}

/// Op-based apply with `crdts`: `LWWReg::update` per write.
pub fn crdts_apply(mine: &mut Crdts, log: &NaiveLog) {
    for (id, writes) in log {
        let record = match mine.get_mut(id) {
            Some(record) => record,
            None => mine.entry(id.clone()).or_default(),
        };
        for (name, (at, by, value)) in writes {
            match record.get_mut(name) {
                Some(ours) => ours.update(value.clone(), (*at, by.clone())),
                None => {
                    record.insert(
                        name.clone(),
                        LWWReg {
                            val: value.clone(),
                            marker: (*at, by.clone()),
                        },
                    );
                }
            }
        }
    }
}

/// Local writes with `crdts`: `LWWReg::update` with a fresh marker for every
/// field whose value changes.
pub fn crdts_local_writes(
    mine: &mut Crdts,
    me: &str,
    patches: &[(RecordKey, Map<String, Value>)],
) -> usize {
    let mut stamped = 0;
    for (i, (key, patch)) in patches.iter().enumerate() {
        let at = T0_MS + 1_000 + i as i64;
        let record = mine.entry(key.id.clone()).or_default();
        for (name, value) in patch {
            match record.get_mut(name) {
                Some(reg) if &reg.val == value => continue,
                Some(reg) => reg.update(value.clone(), (at, me.to_owned())),
                None => {
                    record.insert(
                        name.clone(),
                        LWWReg {
                            val: value.clone(),
                            marker: (at, me.to_owned()),
                        },
                    );
                }
            }
            stamped += 1;
        }
    }
    stamped
}

// ----------------------------------------------------------------------------
// automerge

/// The two diverged automerge documents of the state-merge workload: one
/// ancestor document with a map per record, forked, and each fork overwrote
/// the fields its side of [`Spec`] overwrote. Automerge has its own clock
/// (Lamport counters and actor ids), so the winners may differ from the
/// other implementations'; the work is the same: every field merged once.
pub fn automerge_docs(spec: &Spec) -> (AutoCommit, AutoCommit) {
    let mut base = AutoCommit::new();
    let mut objs = Vec::with_capacity(spec.a.records.len());
    for (r, regs) in spec.a.records.iter().enumerate() {
        let obj = base
            .put_object(ROOT, record_id(r), ObjType::Map)
            .expect("put_object on a fresh doc");
        for f in 0..regs.len() {
            base.put(&obj, field_name(f), (r * FIELDS + f) as i64)
                .expect("put");
        }
        objs.push(obj);
    }
    base.commit();
    let mut a = base.fork();
    let mut b = base.fork();
    for (doc, side, writer) in [(&mut a, &spec.a, 1), (&mut b, &spec.b, 2)] {
        for (r, regs) in side.records.iter().enumerate() {
            for reg in regs.iter().filter(|reg| reg.by == writer) {
                doc.put(&objs[r], field_name(reg.field), reg.value)
                    .expect("put");
            }
        }
        doc.commit();
    }
    (a, b)
}

/// How many fields an automerge document holds (to check a merge did work).
pub fn automerge_fields(doc: &AutoCommit) -> usize {
    doc.keys(ROOT)
        .filter_map(|k| doc.get(ROOT, &k).ok().flatten())
        .map(|(_, obj)| doc.length(&obj))
        .sum()
}
