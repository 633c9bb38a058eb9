//! Named coverage marks (issue #6): one mark per decision branch of merge
//! and classification, so a campaign can say which branches it took and a
//! test can fail when one is never taken.
//!
//! Every mark is read from what the kernel returns ([`ApplyReport`], its
//! [`Tally`], [`PushError`], [`PageError`]) and from records before and
//! after an apply: the kernel has no hooks. The simulator counts marks in
//! [`Stats::coverage`](super::Stats::coverage); the test suite's other
//! drivers (the exhaustive explorer, the property tests) count the same
//! marks with the same type.

use fieldmerge::{
    ApplyReport, Base, Change, PageError, PushError, Record, RecordKey, Records, Register, Tally,
    TOMBSTONE_FIELD,
};

macro_rules! marks {
    ($($(#[$doc:meta])* $variant:ident = $name:literal, $rule:literal, $simulated:literal;)*) => {
        /// A named decision branch. [`Mark::rule`] names the spec rule it
        /// stands for.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Mark {
            $($(#[$doc])* $variant,)*
        }

        impl Mark {
            /// Every mark, in declaration order.
            pub const ALL: &'static [Mark] = &[$(Mark::$variant,)*];

            /// The mark's name, in snake case.
            pub fn name(self) -> &'static str {
                match self { $(Mark::$variant => $name,)* }
            }

            /// The spec rule and branch the mark stands for.
            pub fn rule(self) -> &'static str {
                match self { $(Mark::$variant => $rule,)* }
            }

            /// Whether the simulator can take this branch. It cannot take
            /// the branches that only bad input reaches (forged pushes and
            /// pages: every node of a simulation is the real kernel, which
            /// never sends them) nor those of rows stored by another system
            /// (R7.2's legacy fallbacks). The property tests' forged actions
            /// and stored rows take those.
            pub fn simulated(self) -> bool {
                match self { $(Mark::$variant => $simulated,)* }
            }
        }
    };
}

marks! {
    /// [`Decision::Insert`](fieldmerge::Decision::Insert).
    DecisionInsert = "decision_insert", "R6.1 insert", true;
    /// [`Decision::Duplicate`](fieldmerge::Decision::Duplicate).
    DecisionDuplicate = "decision_duplicate", "R6.2 duplicate", true;
    /// [`Decision::Stale`](fieldmerge::Decision::Stale).
    DecisionStale = "decision_stale", "R6.2 stale", true;
    /// [`Decision::Twin`](fieldmerge::Decision::Twin).
    DecisionTwin = "decision_twin", "R4.3-R4.4 malformed twin", true;
    /// A twin that wins the total order over the stored one.
    TwinIncomingWon = "twin_incoming_won", "R4.3 the incoming twin wins the total order", true;
    /// A twin that loses the total order to the stored one.
    TwinCurrentKept = "twin_current_kept", "R4.3 the current twin wins the total order", true;
    /// An [`Anomaly`](fieldmerge::Anomaly) report.
    Anomaly = "anomaly", "R4.4 a malformed twin is reported as an anomaly", true;
    /// A losing twin delivered again.
    TwinRedelivered = "twin_redelivered", "R4.4, R6.7 a losing twin delivered again is a twin again", true;
    /// [`Silence::LoserNotUser`](fieldmerge::Silence::LoserNotUser).
    OverwriteLoserNotUser = "overwrite_loser_not_user", "R6.3 silent: the loser was not a user's", true;
    /// [`Silence::SameValue`](fieldmerge::Silence::SameValue).
    OverwriteSameValue = "overwrite_same_value", "R6.3 silent: same value", true;
    /// [`Silence::Witnessed`](fieldmerge::Silence::Witnessed).
    OverwriteWitnessed = "overwrite_witnessed", "R6.3 silent: the winner saw the loser", true;
    /// [`Silence::LegacyHydration`](fieldmerge::Silence::LegacyHydration).
    OverwriteLegacyHydration = "overwrite_legacy_hydration", "R6.4 silent: legacy winner during hydration", true;
    /// [`ConflictRule::Unwitnessed`](fieldmerge::ConflictRule::Unwitnessed).
    ConflictUnwitnessed = "conflict_unwitnessed", "R6.3 conflict: unwitnessed overwrite", true;
    /// [`ConflictRule::Legacy`](fieldmerge::ConflictRule::Legacy).
    ConflictLegacy = "conflict_legacy", "R6.4 conflict: legacy fallback, live", true;
    /// A conflict whose winner's base is [`Base::First`].
    ConflictWinnerSawNothing = "conflict_winner_saw_nothing", "R6.3 conflict: the winner's base is first", true;
    /// A conflict whose winner's base is [`Base::Saw`] of another version.
    ConflictWinnerSawAnotherVersion = "conflict_winner_saw_another_version", "R6.3 conflict: the winner saw another version", true;
    /// A conflict whose winner's base is [`Base::Legacy`].
    ConflictWinnerLegacy = "conflict_winner_legacy", "R6.4 conflict: the winner has no witness", true;
    /// A conflict whose loser this replica wrote.
    ConflictLoserLocal = "conflict_loser_local", "R6.8 the loser was this replica's", true;
    /// A conflict whose loser another writer wrote.
    ConflictLoserRemote = "conflict_loser_remote", "R6.8 the loser was another writer's", true;
    /// A [`HiddenEdit`](fieldmerge::HiddenEdit) report.
    HiddenEdit = "hidden_edit", "R9.3 a tombstone hides a local user edit", true;
    /// An apply turns a live record deleted.
    DeleteApplied = "delete_applied", "R9.1 an apply turns a live record deleted", true;
    /// An apply turns a deleted record live.
    RestoreApplied = "restore_applied", "R9.1 an apply turns a deleted record live", true;
    /// A tombstone reaches a record that is already deleted.
    TombstoneOnDeletedRecord = "tombstone_on_deleted_record", "R9.3 a tombstone reaches a deleted record", true;
    /// [`PageError::NotAtCursor`].
    PageRefusedNotAtCursor = "page_refused_not_at_cursor", "R6.5 not_at_cursor", true;
    /// [`PageError::NotConsecutive`]: a forged page.
    PageRefusedNotConsecutive = "page_refused_not_consecutive", "R6.5 not_consecutive", false;
    /// [`PageError::HeadBehind`]: a forged page.
    PageRefusedHeadBehind = "page_refused_head_behind", "R6.5 head_behind", false;
    /// A page applied while hydrating.
    PageAppliedHydration = "page_applied_hydration", "R6.4 a page of an initial hydration round", true;
    /// A page applied live.
    PageAppliedLive = "page_applied_live", "R6.4 a live page", true;
    /// A push whose every change the server had: nothing appended.
    PushRetryDeduplicated = "push_retry_deduplicated", "R12.1 a retried push appends nothing", true;
    /// [`PushError::ForeignChange`]: a forged push.
    PushRefusedForeignChange = "push_refused_foreign_change", "R12.1 foreign_change", false;
    /// [`PushError::MissingSeq`]: a forged push.
    PushRefusedMissingSeq = "push_refused_missing_seq", "R12.1 missing_seq", false;
    /// [`PushError::SeqOrder`]: a forged push.
    PushRefusedSeqOrder = "push_refused_seq_order", "R12.1 seq_order", false;
    /// [`PushError::Gap`]: a forged push.
    PushRefusedSeqGap = "push_refused_seq_gap", "R12.1 seq_gap", false;
    /// [`PushError::SeqReused`]: a forged push, or a device restored from a
    /// backup (not simulated: the simulator's devices persist atomically).
    PushRefusedSeqReused = "push_refused_seq_reused", "R12.1 seq_reused", false;
    /// [`PushError::ClockAhead`].
    PushRefusedClockAhead = "push_refused_clock_ahead", "R12.3 clock_ahead", true;
    /// [`PushError::StaleClock`]: a copy of a push made before a clock
    /// correction.
    PushRefusedStaleClock = "push_refused_stale_clock", "R12.4 stale_clock", true;
    /// [`Replica::correct_clock`](fieldmerge::Replica::correct_clock) succeeded.
    ClockCorrected = "clock_corrected", "R12.4 pending writes restamped", true;
    /// [`derive_updated_at`](fieldmerge::derive_updated_at) of a row with `__fieldMeta`.
    DeriveFromFieldMeta = "derive_from_field_meta", "R7.2 the greatest at of __fieldMeta", false;
    /// [`derive_updated_at`](fieldmerge::derive_updated_at) of a legacy row.
    DeriveLegacyUpdatedAt = "derive_legacy_updated_at", "R7.2 legacy fallback to updatedAt", false;
    /// [`derive_updated_at`](fieldmerge::derive_updated_at) of a row with nothing usable.
    DeriveNone = "derive_none", "R7.2 nothing usable", false;
}

impl Mark {
    /// The mark of this name, if any.
    pub fn from_name(name: &str) -> Option<Mark> {
        Mark::ALL.iter().copied().find(|m| m.name() == name)
    }
}

/// How often each [`Mark`] was hit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Coverage {
    counts: [u64; Mark::ALL.len()],
}

impl Default for Coverage {
    fn default() -> Coverage {
        Coverage {
            counts: [0; Mark::ALL.len()],
        }
    }
}

impl Coverage {
    /// Counts one hit of `mark`.
    pub fn hit(&mut self, mark: Mark) {
        self.add(mark, 1);
    }

    /// Counts `n` hits of `mark`.
    pub fn add(&mut self, mark: Mark, n: u64) {
        self.counts[mark as usize] += n;
    }

    /// How often `mark` was hit.
    pub fn count(&self, mark: Mark) -> u64 {
        self.counts[mark as usize]
    }

    /// Adds every count of `other`.
    pub fn merge(&mut self, other: &Coverage) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
    }

    /// The marks never hit, in declaration order.
    pub fn missed(&self) -> Vec<Mark> {
        Mark::ALL
            .iter()
            .copied()
            .filter(|m| self.count(*m) == 0)
            .collect()
    }

    /// One mark per decision and reason of the kernel's tally.
    pub fn tally(&mut self, tally: &Tally) {
        self.add(Mark::DecisionInsert, tally.inserted);
        self.add(Mark::DecisionDuplicate, tally.duplicate);
        self.add(Mark::DecisionStale, tally.stale);
        self.add(Mark::DecisionTwin, tally.twin);
        self.add(Mark::OverwriteLoserNotUser, tally.overwrite_not_user);
        self.add(Mark::OverwriteSameValue, tally.overwrite_same_value);
        self.add(Mark::OverwriteWitnessed, tally.overwrite_witnessed);
        self.add(
            Mark::OverwriteLegacyHydration,
            tally.overwrite_legacy_hydration,
        );
        self.add(Mark::ConflictUnwitnessed, tally.conflict_unwitnessed);
        self.add(Mark::ConflictLegacy, tally.conflict_legacy);
    }

    /// The marks of an apply's report: its tally, each conflict's witness
    /// and locality, anomalies and hidden edits. The twin marks that need
    /// the records before the apply are [`Coverage::changes_applied`]'s.
    pub fn report(&mut self, report: &ApplyReport) {
        self.tally(&report.tally);
        for conflict in &report.conflicts {
            self.hit(match conflict.winner.base {
                Base::Legacy => Mark::ConflictWinnerLegacy,
                Base::First => Mark::ConflictWinnerSawNothing,
                Base::Saw(_) => Mark::ConflictWinnerSawAnotherVersion,
            });
            self.hit(if conflict.loser_is_local {
                Mark::ConflictLoserLocal
            } else {
                Mark::ConflictLoserRemote
            });
        }
        self.add(Mark::Anomaly, report.anomalies.len() as u64);
        self.add(Mark::HiddenEdit, report.hidden_edits.len() as u64);
    }

    /// Every mark of an apply of `changes` (a page, a push, a batch):
    /// [`Coverage::report`], which twin each anomaly kept (the incoming one
    /// when `changes` carried it), and the deletion marks of each touched
    /// record, from `before` and the records `after` the apply.
    pub fn changes_applied(
        &mut self,
        before: &Before,
        changes: &[Change],
        report: &ApplyReport,
        after: Records<'_>,
    ) {
        self.applied(before, report, after, |key, field, reg| {
            changes
                .iter()
                .any(|c| c.key() == key && c.write(field) == Some(reg))
        });
    }

    /// Every mark of a state merge of `source`'s records: as
    /// [`Coverage::changes_applied`], with `source` as the incoming side.
    pub fn records_merged(
        &mut self,
        before: &Before,
        source: Records<'_>,
        report: &ApplyReport,
        after: Records<'_>,
    ) {
        self.applied(before, report, after, |key, field, reg| {
            source.get(key).and_then(|r| r.field(field)) == Some(reg)
        });
    }

    fn applied(
        &mut self,
        before: &Before,
        report: &ApplyReport,
        after: Records<'_>,
        mut carried: impl FnMut(&RecordKey, &str, &Register) -> bool,
    ) {
        self.report(report);
        for anomaly in &report.anomalies {
            self.hit(if carried(&anomaly.key, &anomaly.field, &anomaly.kept) {
                Mark::TwinIncomingWon
            } else {
                Mark::TwinCurrentKept
            });
        }
        for (key, was, tombstone) in &before.0 {
            match (was, Presence::of(after.get(key))) {
                (Presence::Live, Presence::Deleted) => self.hit(Mark::DeleteApplied),
                (Presence::Deleted, Presence::Live) => self.hit(Mark::RestoreApplied),
                _ => {}
            }
            if *was == Presence::Deleted && *tombstone {
                self.hit(Mark::TombstoneOnDeletedRecord);
            }
        }
    }

    /// Marks every anomaly of `report` whose dropped twin this replica had
    /// dropped before (SPEC R4.4, R6.7: delivered again, a losing twin is a
    /// twin again); `dropped` is the replica's record of them.
    pub fn redelivered_twins(&mut self, dropped: &mut DroppedTwins, report: &ApplyReport) {
        for anomaly in &report.anomalies {
            let again = (
                anomaly.key.clone(),
                anomaly.field.clone(),
                anomaly.dropped.clone(),
            );
            if dropped.0.contains(&again) {
                self.hit(Mark::TwinRedelivered);
            } else {
                dropped.0.push(again);
            }
        }
    }

    /// The mark of a refused page.
    pub fn page_error(&mut self, error: &PageError) {
        self.hit(match error {
            PageError::NotAtCursor { .. } => Mark::PageRefusedNotAtCursor,
            PageError::NotConsecutive { .. } => Mark::PageRefusedNotConsecutive,
            PageError::HeadBehind { .. } => Mark::PageRefusedHeadBehind,
            // The kernel's error enums are non-exhaustive: a refusal this
            // harness has no mark for yet marks nothing (give it one).
            _ => return,
        });
    }

    /// The mark of a refused push.
    pub fn push_error(&mut self, error: &PushError) {
        self.hit(match error {
            PushError::ForeignChange { .. } => Mark::PushRefusedForeignChange,
            PushError::MissingSeq { .. } => Mark::PushRefusedMissingSeq,
            PushError::SeqOrder { .. } => Mark::PushRefusedSeqOrder,
            PushError::Gap { .. } => Mark::PushRefusedSeqGap,
            PushError::SeqReused { .. } => Mark::PushRefusedSeqReused,
            PushError::ClockAhead { .. } => Mark::PushRefusedClockAhead,
            PushError::StaleClock { .. } => Mark::PushRefusedStaleClock,
            _ => return,
        });
    }
}

/// Whether a replica holds a record, and whether it is deleted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Presence {
    /// No such record.
    Absent,
    /// A record that is not deleted.
    Live,
    /// A deleted record (SPEC R9.1).
    Deleted,
}

impl Presence {
    /// The presence of `record`.
    fn of(record: Option<&Record>) -> Presence {
        match record {
            None => Presence::Absent,
            Some(r) if r.is_deleted() => Presence::Deleted,
            Some(_) => Presence::Live,
        }
    }
}

/// The records an apply is about to touch, as they are before it: whether
/// each is absent, live or deleted, and whether the incoming side carries
/// a tombstone for it. [`Coverage::changes_applied`] compares the records
/// after the apply with it.
#[derive(Clone, Debug, Default)]
pub struct Before(Vec<(RecordKey, Presence, bool)>);

impl Before {
    /// Before an apply of `changes` to `records`.
    pub fn changes(records: Records<'_>, changes: &[Change]) -> Before {
        let mut out: Vec<(RecordKey, Presence, bool)> = Vec::new();
        for c in changes {
            let tombstone = c
                .write(TOMBSTONE_FIELD)
                .is_some_and(|reg| !reg.value.is_null());
            match out.iter_mut().find(|(k, _, _)| k == c.key()) {
                Some(entry) => entry.2 |= tombstone,
                None => out.push((
                    c.key().clone(),
                    Presence::of(records.get(c.key())),
                    tombstone,
                )),
            }
        }
        Before(out)
    }

    /// Before a state merge of `source` into `records`.
    pub fn merge(records: Records<'_>, source: Records<'_>) -> Before {
        Before(
            source
                .iter()
                .map(|(key, record)| {
                    let tombstone = record
                        .field(TOMBSTONE_FIELD)
                        .is_some_and(|reg| !reg.value.is_null());
                    (key.clone(), Presence::of(records.get(key)), tombstone)
                })
                .collect(),
        )
    }
}

/// The twins one replica's applies dropped (SPEC R4.4), for
/// [`Coverage::redelivered_twins`]. Twins are rare, so a list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct DroppedTwins(Vec<(RecordKey, String, Register)>);
