//! Exhaustive small-scope checks of the real kernel (issue #6, part 2):
//! every schedule of two client replicas, the server and a few writes, with
//! duplicated, reordered and dropped delivery, checked on every reachable
//! world against a vector-clock oracle (see `tests/exhaustive/explorer.rs`
//! for the model and the list of checks). Larger bounds:
//! `cargo run --release --example exhaustive -- --help`.

use fieldmerge_harness::explorer::{explore, Bounds, Summary};
use fieldmerge_harness::sim::Mark;

// Explores `bounds`, prints what it saw, and checks that it explored: a
// bound that silently disabled every action would pass every property.
fn check(name: &str, bounds: &Bounds, worlds_min: u64, marks: &[Mark]) -> Summary {
    let summary = explore(bounds).unwrap_or_else(|v| panic!("{name}: {v}"));
    println!(
        "exhaustive {name}: {} worlds, {} transitions, depth {}, {} quiescent; bounds: {bounds}",
        summary.worlds, summary.transitions, summary.depth_max, summary.quiescent
    );
    assert!(
        summary.worlds >= worlds_min,
        "{name}: only {} worlds",
        summary.worlds
    );
    assert!(summary.quiescent > 0, "{name}: no quiescent world");
    for mark in marks {
        assert!(summary.marks.count(*mark) > 0, "{name}: never hit {mark:?}");
    }
    summary
}

#[test]
fn r4_r6_r12_every_schedule_of_two_replicas_and_two_user_or_agent_writes() {
    check(
        "user+agent",
        &Bounds::small(),
        40_000,
        &[
            Mark::ConflictUnwitnessed,
            Mark::ConflictLoserLocal,
            Mark::ConflictLoserRemote,
            Mark::OverwriteWitnessed,
            Mark::OverwriteLoserNotUser,
            Mark::OverwriteSameValue,
            Mark::PageRefusedNotAtCursor,
            Mark::PushRetryDeduplicated,
        ],
    );
}

#[test]
fn r3_r6_4_r9_r10_every_schedule_with_every_origin() {
    check(
        "every origin",
        &Bounds::every_origin(),
        40_000,
        &[
            Mark::ConflictLegacy,
            Mark::OverwriteLegacyHydration,
            Mark::TwinIncomingWon,
            Mark::TwinCurrentKept,
            Mark::DeleteApplied,
            Mark::TombstoneOnDeletedRecord,
        ],
    );
}

#[test]
fn r5_2_r6_3_every_schedule_of_three_user_writes_to_one_field() {
    check(
        "three writes",
        &Bounds::three_writes(),
        15_000,
        &[
            Mark::ConflictWinnerSawAnotherVersion,
            Mark::ConflictWinnerSawNothing,
            Mark::OverwriteWitnessed,
            Mark::OverwriteSameValue,
            Mark::DecisionStale,
        ],
    );
}

#[test]
fn r9_every_schedule_of_three_writes_with_deletes_and_restores() {
    check(
        "tombstones",
        &Bounds::tombstones(),
        40_000,
        &[Mark::DeleteApplied, Mark::RestoreApplied],
    );
}
