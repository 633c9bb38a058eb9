//! The oracle's ground truth, kept apart from the kernel's bookkeeping: every
//! write gets an id and the exact set of writes its writer had received when
//! it wrote (a vector clock as a bit set). From that alone the oracle decides
//! whether an overwrite displaced a user value its winner had not seen, and
//! compares with what the kernel reported (SPEC R6).

use std::cmp::Ordering;
use std::collections::BTreeMap;

use fieldmerge::{
    Base, Change, Conflict, ConflictRule, HiddenEdit, Origin, RecordKey, Records, Register,
    Timestamp, Version, WriterId, SYSTEM_BOOTSTRAP,
};

use super::{Violation, ViolationKind};

/// A set of write ids: the ground-truth vector clock.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub(crate) struct WriteSet(Vec<u64>);

impl WriteSet {
    pub(crate) fn insert(&mut self, id: usize) {
        let (word, bit) = (id / 64, id % 64);
        if self.0.len() <= word {
            self.0.resize(word + 1, 0);
        }
        self.0[word] |= 1 << bit;
    }

    pub(crate) fn union(&mut self, other: &WriteSet) {
        if self.0.len() < other.0.len() {
            self.0.resize(other.0.len(), 0);
        }
        for (a, b) in self.0.iter_mut().zip(&other.0) {
            *a |= b;
        }
    }

    pub(crate) fn contains(&self, id: usize) -> bool {
        self.0
            .get(id / 64)
            .is_some_and(|w| w & (1 << (id % 64)) != 0)
    }
}

/// What the oracle knows about one write.
#[derive(Clone, Debug)]
pub(crate) struct WriteInfo {
    /// Every write its writer had received (or made) before it.
    pub seen: WriteSet,
    /// The `(client, client_seq)` of a write that went through an outbox.
    pub client: Option<(WriterId, u64)>,
    /// Whether the write was still pending when its device wiped its
    /// database (lost by the user's own choice, not by the system).
    pub wiped: bool,
    /// Whether a user made it (the writes "nothing lost" is about).
    pub origin: Origin,
}

type VersionKey = (RecordKey, String, Timestamp, WriterId);

/// The ground truth of one run.
#[derive(Debug, Default)]
pub(crate) struct Oracle {
    pub writes: Vec<WriteInfo>,
    by_version: BTreeMap<VersionKey, usize>,
    pub by_client_seq: BTreeMap<(WriterId, u64), usize>,
    bootstrap_of: BTreeMap<RecordKey, usize>,
    // Registers a clock correction replaced, by version: the client
    // disowned them, and the server must never append one, even from a copy
    // of a push sent before the correction (SPEC R12.4). A restamp may reuse
    // a disowned version for another register of the field (a later write
    // restamped just above an earlier one): nobody holds the disowned one,
    // so that is no twin; what must never reach the log is the disowned
    // register itself.
    disowned: BTreeMap<VersionKey, Register>,
    /// The write id of each log entry: `log_writes[server_seq - 1]`.
    pub log_writes: Vec<usize>,
    /// Every write in the server log: what a server-side writer has seen.
    pub server_seen: WriteSet,
}

/// How one apply's reports compared with ground truth.
#[derive(Debug, Default)]
pub(crate) struct Compared {
    /// User displacements the kernel and the oracle agreed on.
    pub agreed: u64,
    /// False conflicts outside the delivery model (SPEC R6.6), allowed.
    pub over_reported: u64,
}

/// What the oracle expects one apply to do.
#[derive(Debug, Default)]
pub(crate) struct Expectation {
    /// The conflicts ground truth demands: (key, field, loser, winner).
    pub conflicts: Vec<(RecordKey, String, Version, Version)>,
    /// The conflicts a classifier that looks at origins only would report
    /// (for the planted bug [`super::Mutation::ClassifyOnOriginOnly`]).
    pub origin_only: Vec<(RecordKey, String, Version, Version)>,
    /// The register each touched field must hold afterwards (field-LWW).
    pub finals: BTreeMap<(RecordKey, String), Register>,
    /// How many user values were displaced.
    pub user_displacements: u64,
    /// Legacy winners exempted by hydration although ground truth says the
    /// loser was unseen (a documented limit of SPEC R6.4, counted).
    pub legacy_exempt_unseen: u64,
    /// Malformed twins the apply must report as anomalies (SPEC R4.4):
    /// bootstrap rows of app versions whose defaults differ.
    pub anomalies: u64,
}

fn cmp_version(a: &Register, b: &Register) -> Ordering {
    a.at.cmp(&b.at)
        .then_with(|| a.by.as_str().as_bytes().cmp(b.by.as_str().as_bytes()))
}

impl Oracle {
    /// A new write by a writer that had seen `seen`.
    pub(crate) fn new_write(
        &mut self,
        origin: Origin,
        seen: WriteSet,
        client: Option<(WriterId, u64)>,
    ) -> usize {
        let id = self.writes.len();
        if let Some(c) = &client {
            self.by_client_seq.insert(c.clone(), id);
        }
        self.writes.push(WriteInfo {
            seen,
            client,
            wiped: false,
            origin,
        });
        id
    }

    /// The one write id of every bootstrap row of `key`: the server's row
    /// and every placeholder are the same identical registers (SPEC R10.4).
    pub(crate) fn bootstrap_write(&mut self, key: &RecordKey) -> usize {
        if let Some(&id) = self.bootstrap_of.get(key) {
            return id;
        }
        let id = self.new_write(Origin::System, WriteSet::default(), None);
        self.bootstrap_of.insert(key.clone(), id);
        id
    }

    /// Records that the registers of `change` belong to write `id`.
    pub(crate) fn map_change(&mut self, change: &Change, id: usize) {
        for (field, reg) in change.writes() {
            self.by_version.insert(
                (
                    change.key().clone(),
                    field.to_owned(),
                    reg.at,
                    reg.by.clone(),
                ),
                id,
            );
        }
    }

    /// Records that a clock correction replaced the versions of `old` by
    /// those of `new` (the same write, restamped).
    pub(crate) fn restamped(&mut self, old: &Change, new: &Change, id: usize) {
        for (field, reg) in old.writes() {
            if new.write(field).is_some_and(|n| n.at != reg.at) {
                self.disowned.insert(
                    (old.key().clone(), field.to_owned(), reg.at, reg.by.clone()),
                    reg.clone(),
                );
            }
        }
        self.map_change(new, id);
    }

    /// The write that stamped `reg` in `key.field`.
    pub(crate) fn write_of(&self, key: &RecordKey, field: &str, reg: &Register) -> Option<usize> {
        self.by_version
            .get(&(key.clone(), field.to_owned(), reg.at, reg.by.clone()))
            .copied()
    }

    /// Walks `changes` (with write ids `ids`) over `records` as field-LWW and
    /// decides from ground truth which overwrites lose a user edit.
    pub(crate) fn expect(
        &self,
        records: Records<'_>,
        changes: &[Change],
        ids: &[usize],
        on: Applying<'_>,
        step: usize,
        violations: &mut Vec<Violation>,
    ) -> Expectation {
        let Applying { hydration, local } = on;
        let writes: Vec<(&RecordKey, &str, &Register, usize)> = changes
            .iter()
            .zip(ids)
            .flat_map(|(c, &id)| c.writes().map(move |(f, r)| (c.key(), f, r, id)))
            .collect();
        // SPEC R6.4, R12.2: which of the replica's outbox writes are still
        // pending when each write applies (own changes in the page ack).
        let mut pending = Vec::with_capacity(writes.len());
        if let Some((me, outbox)) = local {
            let mut acked: u64 = 0;
            for c in changes {
                for (f, _) in c.writes() {
                    pending.push(
                        outbox
                            .iter()
                            .filter(|o| o.client_seq().is_some_and(|s| s > acked))
                            .filter(|o| o.key() == c.key())
                            .filter_map(|o| o.write(f))
                            .filter(|w| &w.by == me)
                            .map(|w| (w.at, w.by.clone()))
                            .collect::<Vec<_>>(),
                    );
                }
                if c.client_id() == me && c.server_seq().is_some() {
                    acked = acked.max(c.client_seq().unwrap_or(0));
                }
            }
        }
        self.expect_pending(records, &writes, hydration, &pending, step, violations)
    }

    /// [`Oracle::expect`] over registers with their write ids, in apply order.
    pub(crate) fn expect_writes(
        &self,
        records: Records<'_>,
        writes: &[(&RecordKey, &str, &Register, usize)],
        hydration: bool,
        step: usize,
        violations: &mut Vec<Violation>,
    ) -> Expectation {
        self.expect_pending(records, writes, hydration, &[], step, violations)
    }

    // `pending[i]`: the versions of the replica's pending writes to write
    // `i`'s field when it applies (empty: none known).
    fn expect_pending(
        &self,
        records: Records<'_>,
        writes: &[(&RecordKey, &str, &Register, usize)],
        hydration: bool,
        pending: &[Vec<(Timestamp, WriterId)>],
        step: usize,
        violations: &mut Vec<Violation>,
    ) -> Expectation {
        let mut out = Expectation::default();
        for (i, &(key, field, reg, id)) in writes.iter().enumerate() {
            {
                if reg.by.as_str() == SYSTEM_BOOTSTRAP
                    && (reg.at != Timestamp::GENESIS
                        || reg.origin != Origin::System
                        || reg.base != Base::First)
                {
                    violations.push(Violation::new(
                        step,
                        ViolationKind::Bootstrap,
                        format!("R10.1: bootstrap register {key}.{field} stamped {} (origin {}), not at the genesis", reg.at, reg.origin),
                    ));
                }
                let slot = (key.clone(), field.to_owned());
                let current = match out.finals.get(&slot) {
                    Some(r) => Some(r.clone()),
                    None => records.get(key).and_then(|r| r.field(field)).cloned(),
                };
                let Some(cur) = current else {
                    out.finals.insert(slot, reg.clone());
                    continue;
                };
                match cmp_version(reg, &cur) {
                    Ordering::Less => {}
                    Ordering::Equal => {
                        let bootstrap_twins = reg.by.as_str() == SYSTEM_BOOTSTRAP
                            && cur.by.as_str() == SYSTEM_BOOTSTRAP
                            && reg.origin == cur.origin
                            && reg.base == cur.base;
                        if &cur != reg && bootstrap_twins {
                            // SPEC R4.3-R4.4, R10: two app versions
                            // bootstrapped different defaults at the genesis
                            // stamp. The greater value is kept and the pair
                            // is an anomaly, never a conflict. (The value
                            // order is the kernel's own `cmp_values`, pinned
                            // by the laws, the model and the vectors.)
                            out.anomalies += 1;
                            if fieldmerge::cmp_values(&reg.value, &cur.value) == Ordering::Greater {
                                out.finals.insert(slot, reg.clone());
                            } else {
                                out.finals.insert(slot, cur);
                            }
                        } else if &cur != reg {
                            violations.push(Violation::new(
                                step,
                                ViolationKind::Anomaly,
                                format!(
                                    "malformed twin at {key}.{field}: {cur:?} vs {reg:?} (two writes share one version)"
                                ),
                            ));
                            out.finals.remove(&slot);
                        }
                    }
                    Ordering::Greater => {
                        if reg.by.as_str() == SYSTEM_BOOTSTRAP
                            && cur.by.as_str() != SYSTEM_BOOTSTRAP
                        {
                            violations.push(Violation::new(
                                step,
                                ViolationKind::Bootstrap,
                                format!("R10.1: a bootstrap row overwrote content at {key}.{field} ({:?} by {})", cur.value, cur.by),
                            ));
                        }
                        // SPEC R2.2: a write beats everything its writer had,
                        // so a winner the loser's writer had seen is an
                        // inversion of causality.
                        if let Some(loser) = self.write_of(key, field, &cur) {
                            if loser != id && self.writes[loser].seen.contains(id) {
                                violations.push(Violation::new(
                                    step,
                                    ViolationKind::CausalityInversion,
                                    format!("{key}.{field}: {reg:?} displaced {cur:?}, whose writer had seen it (R2.2)"),
                                ));
                            }
                        }
                        if cur.origin == Origin::User {
                            out.user_displacements += 1;
                            let differ = cur.value != reg.value;
                            let loser = self.write_of(key, field, &cur);
                            let unseen = match loser {
                                Some(l) => !self.writes[id].seen.contains(l),
                                None => {
                                    violations.push(Violation::new(
                                        step,
                                        ViolationKind::UnknownRegister,
                                        format!("{key}.{field}: register {cur:?} was written by no write the simulator made"),
                                    ));
                                    true
                                }
                            };
                            let conflict = differ
                                && match reg.base {
                                    // SPEC R6.4: no witness; the origin and hydration rule.
                                    // A pending write of this replica is never exempt.
                                    Base::Legacy => {
                                        let is_pending = pending.get(i).is_some_and(|p| {
                                            p.iter().any(|(at, by)| *at == cur.at && *by == cur.by)
                                        });
                                        let exempt = hydration && !is_pending;
                                        if exempt && unseen {
                                            out.legacy_exempt_unseen += 1;
                                        }
                                        !exempt
                                    }
                                    Base::First | Base::Saw(_) => unseen,
                                };
                            let k = (key.clone(), field.to_owned(), cur.version(), reg.version());
                            if differ {
                                out.origin_only.push(k.clone());
                            }
                            if conflict {
                                out.conflicts.push(k);
                            }
                        }
                        out.finals.insert(slot, reg.clone());
                    }
                }
            }
        }
        out
    }

    /// Compares the kernel's conflict reports with the expectation: no false
    /// conflicts, no missed ones, each exactly once, with the right metadata.
    /// Returns how many user displacements the two agreed on.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn compare(
        &self,
        expected: &Expectation,
        reported: &[(RecordKey, String, Version, Version)],
        kernel: &[Conflict],
        local: Option<&WriterId>,
        where_: &str,
        outside: Option<&WriteSet>,
        step: usize,
        violations: &mut Vec<Violation>,
    ) -> Compared {
        let mut got: Vec<_> = reported.to_vec();
        let mut want = expected.conflicts.clone();
        got.sort();
        want.sort();
        let mut mismatches = 0u64;
        // Outside the delivery model of SPEC R6.5 (a state merge, or a
        // replica that merged one), R6.6 allows false conflicts: counted.
        let mut over_reported = 0u64;
        if got != want {
            for g in &got {
                let n_got = got.iter().filter(|x| *x == g).count();
                let n_want = want.iter().filter(|x| *x == g).count();
                if n_got > n_want && self.r6_6_allows(g, kernel, outside) {
                    over_reported += 1;
                } else if n_got > n_want {
                    mismatches += 1;
                    violations.push(Violation::new(
                        step,
                        ViolationKind::FalseConflict,
                        format!("{where_}: reported a conflict at {}.{} (loser {:?}, winner {:?}) whose winner had seen the loser or that lost nothing", g.0, g.1, g.2, g.3),
                    ));
                }
            }
            for w in &want {
                let n_got = got.iter().filter(|x| *x == w).count();
                let n_want = want.iter().filter(|x| *x == w).count();
                if n_want > n_got {
                    mismatches += 1;
                    violations.push(Violation::new(
                        step,
                        ViolationKind::MissedConflict,
                        format!("{where_}: missed a conflict at {}.{}: user value {:?} lost to {:?}, whose writer had not seen it", w.0, w.1, w.2, w.3),
                    ));
                }
            }
        }
        for c in kernel {
            let local_ok = c.loser_is_local == local.is_some_and(|me| &c.loser.by == me);
            let rule_ok = (c.rule == ConflictRule::Legacy) == (c.winner.base == Base::Legacy);
            if !local_ok || !rule_ok || c.loser.origin != Origin::User {
                violations.push(Violation::new(
                    step,
                    ViolationKind::ConflictMetadata,
                    format!("{where_}: conflict report at {}.{} has wrong metadata (loser_is_local {}, rule {:?}, loser origin {})", c.key, c.field, c.loser_is_local, c.rule, c.loser.origin),
                ));
            }
        }
        Compared {
            agreed: expected
                .user_displacements
                .saturating_sub(mismatches + over_reported),
            over_reported,
        }
    }

    // SPEC R6.6, exactly: outside the delivery model a false conflict is
    // allowed when its winner's base names a version this replica never
    // received (`outside` holds what it had received).
    fn r6_6_allows(
        &self,
        c: &(RecordKey, String, Version, Version),
        kernel: &[Conflict],
        outside: Option<&WriteSet>,
    ) -> bool {
        let Some(received) = outside else {
            return false;
        };
        kernel.iter().any(|k| {
            k.key == c.0
                && k.field == c.1
                && k.loser.version() == c.2
                && match &k.winner.base {
                    Base::Saw(v) => self
                        .by_version
                        .get(&(c.0.clone(), c.1.clone(), v.at, v.by.clone()))
                        .is_none_or(|&b| !received.contains(b)),
                    Base::First | Base::Legacy => false,
                }
        })
    }

    /// SPEC R12.4: whether `change` carries a stamp its client replaced
    /// by a clock correction.
    pub(crate) fn disowned_in(&self, change: &Change) -> Option<(String, Timestamp)> {
        change.writes().find_map(|(field, reg)| {
            let key = (
                change.key().clone(),
                field.to_owned(),
                reg.at,
                reg.by.clone(),
            );
            (self.disowned.get(&key) == Some(reg)).then(|| (field.to_owned(), reg.at))
        })
    }

    /// Checks that every touched field holds the field-LWW winner.
    pub(crate) fn check_finals(
        expected: &Expectation,
        records: Records<'_>,
        where_: &str,
        step: usize,
        violations: &mut Vec<Violation>,
    ) {
        for ((key, field), want) in &expected.finals {
            let got = records.get(key).and_then(|r| r.field(field));
            if got != Some(want) {
                violations.push(Violation::new(
                    step,
                    ViolationKind::NotFieldLww,
                    format!("{where_}: {key}.{field} holds {got:?}, field-LWW says {want:?}"),
                ));
            }
        }
    }

    /// SPEC R9.3 is sound, not complete: every hidden-edit report must name
    /// a local user edit its tombstone's writer had not seen.
    pub(crate) fn check_hidden(
        &self,
        hidden: &[HiddenEdit],
        me: &WriterId,
        where_: &str,
        step: usize,
        violations: &mut Vec<Violation>,
    ) {
        for h in hidden {
            let edit = self.write_of(&h.key, &h.field, &h.edit);
            let tomb = self.write_of(&h.key, fieldmerge::TOMBSTONE_FIELD, &h.tombstone);
            let seen = match (edit, tomb) {
                (Some(e), Some(t)) => self.writes[t].seen.contains(e),
                _ => false,
            };
            if seen
                || &h.edit.by != me
                || h.edit.origin != Origin::User
                || cmp_version(&h.edit, &h.tombstone) != Ordering::Greater
            {
                violations.push(Violation::new(
                    step,
                    ViolationKind::HiddenEditUnsound,
                    format!("{where_}: hidden-edit report at {}.{} is unsound (edit {:?}, tombstone {:?}, seen by deleter: {seen})", h.key, h.field, h.edit, h.tombstone),
                ));
            }
        }
    }

    /// Field-LWW over the whole log, computed by the oracle itself: what the
    /// server's materialized state must be.
    pub(crate) fn fold(log: &[Change]) -> BTreeMap<(RecordKey, String), Register> {
        let mut out: BTreeMap<(RecordKey, String), Register> = BTreeMap::new();
        for change in log {
            for (field, reg) in change.writes() {
                let slot = (change.key().clone(), field.to_owned());
                // Equal versions with other content are bootstrap twins
                // (the only malformed twins a simulation makes): the
                // greater value wins (SPEC R4.3).
                let wins = |cur: &Register| match cmp_version(reg, cur) {
                    Ordering::Equal => {
                        fieldmerge::cmp_values(&reg.value, &cur.value) == Ordering::Greater
                    }
                    order => order == Ordering::Greater,
                };
                match out.get(&slot) {
                    Some(cur) if !wins(cur) => {}
                    _ => {
                        out.insert(slot, reg.clone());
                    }
                }
            }
        }
        out
    }
}

/// Where [`Oracle::expect`] applies: in a hydration round or not, and on
/// which replica (its client id and outbox), or on the server (`None`).
#[derive(Clone, Copy)]
pub(crate) struct Applying<'a> {
    /// Whether the apply is part of an initial hydration round (R6.4).
    pub(crate) hydration: bool,
    /// The replica's client id and outbox.
    pub(crate) local: Option<(&'a WriterId, &'a [Change])>,
}
