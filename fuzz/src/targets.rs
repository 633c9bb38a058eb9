//! The body of every fuzz target, as a plain function of the input bytes, so
//! the `fuzz_targets/` binaries and the stable regression test
//! (`tests/regressions.rs`) run exactly the same checks.

use arbitrary::Unstructured;
use fieldmerge::{decode_change_values, decode_changes, encode_changes, Actor, Change, Timestamp};
use fieldmerge_harness::gen;

use crate::model::world::ModelWorld;
use crate::world::World;
use crate::{merged_as_states, page, permutation};

/// A fuzz target's check: panics on a broken law.
pub type Check = fn(&[u8]);

/// The target names, each with its check, in the order CI runs them.
pub const ALL: &[(&str, Check)] = &[
    ("decode_changes", decode_changes_target),
    ("apply_batch", apply_batch_target),
    ("differential", differential_target),
    ("sim", sim_target),
];

/// Arbitrary bytes through `decode_changes` (SPEC R11): never a panic; every
/// rejection a typed error with a stable code; every accepted change
/// round-trips through its canonical wire form (SPEC R11.4). The same bytes
/// as a page's entries (SPEC R12.6) and as a push reply: never a panic.
pub fn decode_changes_target(bytes: &[u8]) {
    // SPEC R12.6: the same bytes as a page's entries read entry by entry:
    // never a panic, and a batch that decodes is a page with no entry
    // quarantined and the same changes.
    let mut text = br#"{"after":0,"changes":"#.to_vec();
    text.extend_from_slice(bytes);
    text.extend_from_slice(br#","head":0}"#);
    let page = fieldmerge::Page::from_json(&text);
    let _ = fieldmerge::PushReply::from_json(bytes);
    if let (Ok(changes), Ok(page)) = (decode_changes(bytes), &page) {
        assert!(
            page.quarantined.is_empty(),
            "R12.6: a valid batch quarantined an entry"
        );
        assert_eq!(
            page.changes, changes,
            "R12.6: a page read other changes than the batch"
        );
    }
    match decode_changes(bytes) {
        Err(err) => {
            // SPEC R11.5: a stable code and a message that says what and where.
            assert!(!err.kind.code().is_empty(), "error without a code: {err:?}");
            assert!(!err.to_string().is_empty(), "error without a message");
        }
        Ok(changes) => {
            for (i, change) in changes.iter().enumerate() {
                let back = Change::from_wire(&change.to_wire(), i);
                assert_eq!(
                    back.as_ref(),
                    Ok(change),
                    "SPEC R11.4: decode(encode(c)) != c"
                );
            }
            // The batch as a whole, through bytes, is a fixed point too.
            let encoded = encode_changes(&changes);
            let text = serde_json::to_vec(&encoded).unwrap_or_default();
            let again = decode_changes(&text);
            assert_eq!(again.as_ref(), Ok(&changes), "SPEC R11.4: batch round trip");
            assert_eq!(decode_change_values(&encoded).as_ref(), Ok(&changes));
        }
    }
}

/// An arbitrary replica (built from an action list) and an arbitrary batch of
/// valid changes: apply never panics, a refused page leaves the replica
/// unchanged, and the merge laws hold on what is accepted (SPEC R4.5, R6.7):
/// applying twice is applying once, the order of the changes does not
/// matter, and op-based apply gives the records that state-based merge gives.
pub fn apply_batch_target(bytes: &[u8]) {
    let mut u = Unstructured::new(bytes);
    let Ok(start) = gen::replica(&mut u) else {
        return;
    };
    let Ok(changes) = gen::changes(&mut u) else {
        return;
    };
    let Ok(delivery) = gen::delivery(&mut u) else {
        return;
    };

    // SPEC R5.5: a refused local write changes nothing.
    if let (Ok(key), Ok(actor), Ok(patch)) = (
        gen::record_key(&mut u),
        gen::actor(&mut u),
        gen::any_patch(&mut u),
    ) {
        let mut written = start.clone();
        let now = Timestamp::from_ms(gen::EPOCH_MS).unwrap_or(Timestamp::GENESIS);
        if written.write(&key, &actor, &patch, now).is_err() {
            assert_eq!(
                written, start,
                "SPEC R5.5: a refused write changed the replica"
            );
        }
        let _ = (
            written.delete(&key, &Actor::User, now),
            written.restore(&key, &Actor::User, now),
        );
    }

    let mut once = start.clone();
    let first = once.apply(&changes, delivery);

    // SPEC R4.5: op-based apply equals state-based merge of the registers.
    let once_records: std::collections::BTreeMap<_, _> = once
        .records()
        .iter()
        .map(|(k, r)| (k.clone(), r.clone()))
        .collect();
    assert_eq!(
        once_records,
        merged_as_states(start.records(), &changes),
        "SPEC R4.5: apply differs from state-based merge"
    );

    // SPEC R4.5, R6.7: a second delivery changes nothing and reports no
    // conflict; every field is a duplicate, stale, or a losing twin.
    let mut twice = once.clone();
    let second = twice.apply(&changes, delivery);
    assert_eq!(
        twice.records(),
        once.records(),
        "SPEC R4.5: apply is not idempotent"
    );
    assert!(
        second.conflicts.is_empty(),
        "SPEC R6.7: a re-delivery reported a conflict"
    );
    assert!(
        second.hidden_edits.is_empty(),
        "SPEC R9.3: a re-delivery reported a hidden edit"
    );
    let t = &second.tally;
    assert_eq!(
        t.total(),
        t.duplicate + t.stale + t.twin,
        "SPEC R6.7: a re-delivered register won: {t:?}"
    );
    assert_eq!(
        first.tally.total(),
        second.tally.total(),
        "every register is decided once per apply"
    );

    // SPEC R4.5: any order of the changes gives the same records.
    if let Ok(order) = permutation(&mut u, changes.len()) {
        let shuffled: Vec<_> = order.iter().map(|&i| changes[i].clone()).collect();
        let mut other = start.clone();
        other.apply(&shuffled, delivery);
        assert_eq!(
            other.records(),
            once.records(),
            "SPEC R4.5: apply depends on order"
        );
    }

    // SPEC R6.5: a page is applied whole or refused with nothing changed.
    if let Ok(page) = page(&mut u, &changes, start.cursor()) {
        let mut paged = start.clone();
        match paged.apply_page(&page) {
            Err(_) => assert_eq!(
                paged, start,
                "SPEC R6.5: a refused page changed the replica"
            ),
            Ok(_) => assert_eq!(
                paged
                    .records()
                    .iter()
                    .map(|(k, r)| (k.clone(), r.clone()))
                    .collect::<std::collections::BTreeMap<_, _>>(),
                merged_as_states(start.records(), &page.changes),
                "SPEC R4.5: an applied page differs from state-based merge"
            ),
        }
    }
}

/// The most actions one `differential` input runs.
pub const ACTIONS_MAX: usize = 24;

/// A whole-system run (replicas and a server) from fuzzer bytes, on the
/// kernel and on the reference model of issue #3 (`tests/model/`): after
/// every step the outcomes (changes, reports, error codes) and the whole
/// states must be the same, compared as canonical JSON text: identity under
/// the value model (SPEC R4.4), where `1.0` is `1` and `-0.0` is `0`.
pub fn differential_target(bytes: &[u8]) {
    let mut u = Unstructured::new(bytes);
    let Ok(run) = gen::actions(&mut u, ACTIONS_MAX) else {
        return;
    };
    let mut kernel = World::default();
    let mut model = ModelWorld::default();
    for (i, action) in run.iter().enumerate() {
        let (k, m) = (kernel.step(action), model.step(action));
        let text = fieldmerge::canonical_json;
        assert_eq!(
            text(&k),
            text(&m),
            "kernel and model disagree on the outcome of step {i} {action:?}\nrun: {run:#?}"
        );
        let (k, m) = (kernel.state(), model.state());
        assert_eq!(
            text(&k),
            text(&m),
            "kernel and model disagree on the state after step {i} {action:?}\nrun: {run:#?}"
        );
    }
}

/// The most chaos events one `sim` input runs (after the devices join).
pub const EVENTS_MAX: usize = 120;

/// The simulator driven by fuzzer bytes instead of a seed: a chaos schedule
/// from the input, then heal, with every oracle check of issue #4; no
/// violation, and the same schedule gives the same trace, byte for byte.
pub fn sim_target(bytes: &[u8]) {
    let mut u = Unstructured::new(bytes);
    let Ok(schedule) = crate::sim::schedule(&mut u, EVENTS_MAX) else {
        return;
    };
    let config = crate::sim::config(schedule.len());
    let outcome = fieldmerge_harness::sim::run_schedule(&config, &schedule);
    assert!(
        outcome.violations.is_empty(),
        "simulator violations: {:#?}\nschedule: {schedule:?}",
        outcome.violations
    );
    let again = fieldmerge_harness::sim::run_schedule(&config, &schedule);
    assert_eq!(
        again.trace_hash, outcome.trace_hash,
        "the same schedule gave another trace"
    );
}
