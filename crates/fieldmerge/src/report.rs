//! What an apply or merge tells its caller: lost user edits, anomalies,
//! edits hidden by a tombstone, and a tally of every decision (SPEC R6, R9).

use crate::classify::{ConflictRule, Decision, Silence};
use crate::quarantine::Quarantined;
use crate::record::RecordKey;
use crate::register::Register;

/// A real user edit that lost to a write that had not seen it (SPEC R6.3).
#[derive(Clone, PartialEq, Debug)]
pub struct Conflict {
    /// The record.
    pub key: RecordKey,
    /// The field.
    pub field: String,
    /// The user's register that lost.
    pub loser: Register,
    /// The register that won.
    pub winner: Register,
    /// Whether this replica wrote the losing register.
    pub loser_is_local: bool,
    /// Which form of the rule reported it.
    pub rule: ConflictRule,
}

/// Two registers with the same version and different content: a writer
/// stamped twice in one millisecond without a logical clock (SPEC R4.4).
#[derive(Clone, PartialEq, Debug)]
pub struct Anomaly {
    /// The record.
    pub key: RecordKey,
    /// The field.
    pub field: String,
    /// The twin the total order kept.
    pub kept: Register,
    /// The twin it dropped.
    pub dropped: Register,
}

/// A local user edit hidden by an incoming tombstone whose writer provably
/// had not seen it (SPEC R9.3). The edit is not lost: it stays in the record
/// and shows again on restore.
#[derive(Clone, PartialEq, Debug)]
pub struct HiddenEdit {
    /// The record.
    pub key: RecordKey,
    /// The field of the hidden edit.
    pub field: String,
    /// The hidden user register.
    pub edit: Register,
    /// The tombstone register that hid it.
    pub tombstone: Register,
}

/// How many fields each rule decided.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Tally {
    /// [`Decision::Insert`].
    pub inserted: u64,
    /// [`Decision::Duplicate`].
    pub duplicate: u64,
    /// [`Decision::Stale`].
    pub stale: u64,
    /// [`Decision::Twin`].
    pub twin: u64,
    /// [`Silence::LoserNotUser`].
    pub overwrite_not_user: u64,
    /// [`Silence::SameValue`].
    pub overwrite_same_value: u64,
    /// [`Silence::Witnessed`].
    pub overwrite_witnessed: u64,
    /// [`Silence::LegacyHydration`].
    pub overwrite_legacy_hydration: u64,
    /// [`ConflictRule::Unwitnessed`].
    pub conflict_unwitnessed: u64,
    /// [`ConflictRule::Legacy`].
    pub conflict_legacy: u64,
}

impl Tally {
    /// Counts one decision.
    pub fn count(&mut self, decision: Decision) {
        let slot = match decision {
            Decision::Insert => &mut self.inserted,
            Decision::Duplicate => &mut self.duplicate,
            Decision::Stale => &mut self.stale,
            Decision::Twin { .. } => &mut self.twin,
            Decision::Overwrite(Silence::LoserNotUser) => &mut self.overwrite_not_user,
            Decision::Overwrite(Silence::SameValue) => &mut self.overwrite_same_value,
            Decision::Overwrite(Silence::Witnessed) => &mut self.overwrite_witnessed,
            Decision::Overwrite(Silence::LegacyHydration) => &mut self.overwrite_legacy_hydration,
            Decision::Conflict(ConflictRule::Unwitnessed) => &mut self.conflict_unwitnessed,
            Decision::Conflict(ConflictRule::Legacy) => &mut self.conflict_legacy,
        };
        *slot += 1;
    }

    /// Adds another tally to this one.
    pub fn add(&mut self, other: &Tally) {
        self.inserted += other.inserted;
        self.duplicate += other.duplicate;
        self.stale += other.stale;
        self.twin += other.twin;
        self.overwrite_not_user += other.overwrite_not_user;
        self.overwrite_same_value += other.overwrite_same_value;
        self.overwrite_witnessed += other.overwrite_witnessed;
        self.overwrite_legacy_hydration += other.overwrite_legacy_hydration;
        self.conflict_unwitnessed += other.conflict_unwitnessed;
        self.conflict_legacy += other.conflict_legacy;
    }

    /// Every field decided, whatever the rule.
    pub fn total(&self) -> u64 {
        self.inserted
            + self.duplicate
            + self.stale
            + self.twin
            + self.overwrite_not_user
            + self.overwrite_same_value
            + self.overwrite_witnessed
            + self.overwrite_legacy_hydration
            + self.conflict_unwitnessed
            + self.conflict_legacy
    }
}

/// Everything one apply, page or merge decided.
#[derive(Clone, PartialEq, Debug, Default)]
pub struct ApplyReport {
    /// Lost user edits, in apply order.
    pub conflicts: Vec<Conflict>,
    /// Malformed twins, in apply order.
    pub anomalies: Vec<Anomaly>,
    /// Local user edits hidden by an incoming tombstone, in apply order.
    pub hidden_edits: Vec<HiddenEdit>,
    /// How many fields each rule decided.
    pub tally: Tally,
    /// The records whose content the apply changed (a field inserted or
    /// overwritten, a twin replaced), in key order, each once: exactly the
    /// records a caller that owns the storage must write back (SPEC R13.3).
    pub changed: Vec<RecordKey>,
    /// The entries of a page that are not changes, in page order: skipped,
    /// never applied, kept for the caller (SPEC R12.6).
    pub quarantined: Vec<Quarantined>,
}

impl ApplyReport {
    /// Appends another report to this one.
    pub fn extend(&mut self, other: ApplyReport) {
        self.conflicts.extend(other.conflicts);
        self.anomalies.extend(other.anomalies);
        self.hidden_edits.extend(other.hidden_edits);
        self.quarantined.extend(other.quarantined);
        self.tally.add(&other.tally);
        let mut changed = std::mem::take(&mut self.changed);
        changed.extend(other.changed);
        self.changed = changed;
        self.settle_changed();
    }

    /// Notes that the record at `key` changed; [`ApplyReport::settle_changed`]
    /// puts the list in order.
    pub(crate) fn note_changed(&mut self, key: &RecordKey) {
        if self.changed.last() != Some(key) {
            self.changed.push(key.clone());
        }
    }

    /// Sorts the changed records and drops repeats.
    pub(crate) fn settle_changed(&mut self) {
        self.changed.sort();
        self.changed.dedup();
    }
}
