//! Differential tests (issue #3): random operation sequences run on the
//! kernel and on the reference model (`tests/model.rs`); after every step
//! the outcomes (changes, reports with every field, error codes) and the
//! whole states (every replica's persisted state, the server's log,
//! materialized state, dedup table and head) must agree exactly.

use arbitrary::Unstructured;
use fieldmerge_harness::gen::{actions, Action};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use std::collections::BTreeMap;

use serde_json::Value;

use fieldmerge_harness::model::engine::ModelEngine;
use fieldmerge_harness::model::world::ModelWorld;
use fieldmerge_harness::vectors::{collect_files, run_file, FileOutcome};
use fieldmerge_harness::world::World;

/// Runs `run` on both implementations, comparing after every step, and
/// panics at the first disagreement with the shortest sub-run that still
/// disagrees: a literal action list, ready to paste as a regression test.
pub fn check_run(run: &[Action]) {
    if let Some(report) = first_disagreement(run) {
        let small = minimize(run.to_vec());
        let detail = first_disagreement(&small).unwrap_or(report);
        panic!(
            "{detail}\nminimal run ({} of {} actions): {small:#?}",
            small.len(),
            run.len()
        );
    }
}

/// The first step after which outcomes or states differ, described with
/// both sides around the first differing line; `None` when they agree.
pub fn first_disagreement(run: &[Action]) -> Option<String> {
    let mut kernel = World::default();
    let mut model = ModelWorld::default();
    for (i, action) in run.iter().enumerate() {
        let (k, m) = (kernel.step(action), model.step(action));
        if let Some(d) = difference(&k, &m) {
            return Some(format!("outcome of step {i} {action:?} differs:\n{d}"));
        }
        if let Some(d) = difference(&kernel.state(), &model.state()) {
            return Some(format!("state after step {i} {action:?} differs:\n{d}"));
        }
    }
    None
}

/// Drops actions one at a time, last to first, keeping every drop after
/// which the run still disagrees: a greedy delta-debugging pass over the
/// actions, which shrinks far better than proptest's shrinking of the
/// underlying bytes (turned off below).
fn minimize(mut run: Vec<Action>) -> Vec<Action> {
    let mut i = run.len();
    while i > 0 {
        i -= 1;
        let mut shorter = run.clone();
        shorter.remove(i);
        if first_disagreement(&shorter).is_some() {
            run = shorter;
            i = i.min(run.len());
        }
    }
    // Then the parts of each remaining action: changes of a batch, fields
    // of a patch.
    for i in 0..run.len() {
        let mut j = parts(&run[i]);
        while j > 0 {
            j -= 1;
            let mut smaller = run.clone();
            drop_part(&mut smaller[i], j);
            if first_disagreement(&smaller).is_some() {
                run = smaller;
            }
        }
    }
    run
}

fn parts(action: &Action) -> usize {
    match action {
        Action::Apply { changes, .. } | Action::PushForged { changes, .. } => changes.len(),
        Action::Write { patch, .. } | Action::ServerWrite { patch, .. } => patch.len(),
        _ => 0,
    }
}

fn drop_part(action: &mut Action, j: usize) {
    match action {
        Action::Apply { changes, .. } | Action::PushForged { changes, .. } => {
            changes.remove(j);
        }
        Action::Write { patch, .. } | Action::ServerWrite { patch, .. } => {
            if let Some(name) = patch.keys().nth(j).cloned() {
                patch.remove(&name);
            }
        }
        _ => {}
    }
}

fn difference(kernel: &Value, model: &Value) -> Option<String> {
    // Compared as canonical text: identity under the value model (R4.4),
    // where `1` and `1.0` are one value.
    let text = |v: &Value| fieldmerge::canonical_json(v);
    if text(kernel) == text(model) {
        return None;
    }
    let k = serde_json::to_string_pretty(kernel).unwrap_or_default();
    let m = serde_json::to_string_pretty(model).unwrap_or_default();
    let first = k
        .lines()
        .zip(m.lines())
        .position(|(a, b)| a != b)
        .unwrap_or(0);
    let context = |text: &str| -> String {
        text.lines()
            .skip(first.saturating_sub(12))
            .take(24)
            .collect::<Vec<_>>()
            .join("\n")
    };
    Some(format!(
        "--- kernel (around line {first}):\n{}\n--- model:\n{}",
        context(&k),
        context(&m)
    ))
}

fn config() -> ProptestConfig {
    ProptestConfig {
        failure_persistence: Some(Box::new(FileFailurePersistence::Direct(
            "proptest-regressions/differential.txt",
        ))),
        // `check_run` shrinks the failing run itself, action by action.
        max_shrink_iters: 0,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    /// R1-R12: the kernel and the model agree on every step of any run.
    #[test]
    fn r1_r12_kernel_agrees_with_the_reference_model(bytes in prop::collection::vec(any::<u8>(), 0..6000)) {
        let mut u = Unstructured::new(&bytes);
        if let Ok(run) = actions(&mut u, 40) {
            check_run(&run);
        }
    }
}

/// Deterministic pseudo-random bytes (an xorshift), for fixed runs.
pub fn bytes_from_seed(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// Sums every report inside an outcome: conflicts, anomalies, hidden
/// edits and each tally counter.
fn count_reports(outcome: &Value, counts: &mut BTreeMap<String, u64>) {
    match outcome {
        Value::Object(m) => {
            if let Some(Value::Object(tally)) = m.get("tally") {
                for (name, n) in tally {
                    *counts.entry(format!("tally {name}")).or_default() += n.as_u64().unwrap_or(0);
                }
                for list in ["conflicts", "anomalies", "hidden_edits"] {
                    let n = m.get(list).and_then(Value::as_array).map_or(0, Vec::len);
                    *counts.entry(list.to_owned()).or_default() += n as u64;
                }
            }
            for v in m.values() {
                count_reports(v, counts);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| count_reports(v, counts)),
        _ => {}
    }
}

/// The generators reach every edge the differential test is meant to
/// compare: every action, every decision of R6, conflicts, anomalies,
/// hidden edits, and every error code of writes, pages and pushes. A
/// generator change that silently stops producing one of them fails here.
#[test]
fn generators_reach_every_outcome() {
    let mut counts: BTreeMap<String, u64> = BTreeMap::new();
    for seed in 0..300 {
        let bytes = bytes_from_seed(seed, 6000);
        let mut u = Unstructured::new(&bytes);
        let Ok(run) = actions(&mut u, 40) else {
            continue;
        };
        let mut world = World::default();
        for action in &run {
            let outcome = world.step(action);
            let name = format!("{action:?}");
            let name = name.split([' ', '{']).next().unwrap_or_default();
            *counts.entry(format!("action {name}")).or_default() += 1;
            if let Some(code) = outcome.get("error").and_then(Value::as_str) {
                *counts.entry(format!("error {code}")).or_default() += 1;
            }
            count_reports(&outcome, &mut counts);
        }
    }
    let mut missing = Vec::new();
    for action in [
        "Write",
        "Delete",
        "Restore",
        "Bootstrap",
        "Apply",
        "Replay",
        "Push",
        "PushLostReply",
        "PushTail",
        "PushForged",
        "Pull",
        "PullAt",
        "PullForged",
        "Ack",
        "Merge",
        "ResetCursor",
        "CorrectClock",
        "ServerWrite",
        "ServerBootstrap",
    ] {
        missing.extend(Some(format!("action {action}")).filter(|k| !counts.contains_key(k)));
    }
    for outcome in [
        "conflicts",
        "anomalies",
        "hidden_edits",
        "tally inserted",
        "tally duplicate",
        "tally stale",
        "tally twin",
        "tally overwrite_not_user",
        "tally overwrite_same_value",
        "tally overwrite_witnessed",
        "tally overwrite_legacy_hydration",
        "tally conflict_unwitnessed",
        "tally conflict_legacy",
    ] {
        missing
            .extend(Some(outcome.to_owned()).filter(|k| counts.get(k).copied().unwrap_or(0) == 0));
    }
    for code in [
        "bad_name",
        "reserved_field",
        "too_deep",
        "too_many_fields",
        "no_such_record",
        "clock_exhausted",
        "not_at_cursor",
        "not_consecutive",
        "head_behind",
        "foreign_change",
        "missing_seq",
        "seq_order",
        "seq_gap",
        "seq_reused",
        "clock_ahead",
        "stale_clock",
    ] {
        missing.extend(Some(format!("error {code}")).filter(|k| !counts.contains_key(k)));
    }
    assert!(
        missing.is_empty(),
        "never reached: {missing:?}\ncounts: {counts:#?}"
    );
}

/// Every conformance vector of `spec/vectors/` passes against the model
/// too, so a vector cannot pin a kernel quirk the spec does not say.
#[test]
fn every_vector_in_spec_vectors_passes_against_the_model() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../spec/vectors");
    let files = collect_files(&[dir]).expect("spec/vectors exists");
    assert!(!files.is_empty(), "no vectors found");
    let mut engine = ModelEngine::default();
    let failures: Vec<String> = files
        .iter()
        .map(|f| run_file(&mut engine, f))
        .filter(|o| !o.passed())
        .map(|o| match o {
            FileOutcome::Ran(r) => r.render(),
            FileOutcome::Error(e) => format!("ERROR {e}\n"),
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} vectors failed against the model:\n{}",
        failures.len(),
        files.len(),
        failures.concat()
    );
}

/// Regression, as a literal action list (the model once missed this): an
/// acknowledged push puts the pushed stamps into `seen`, so a later clock
/// correction cannot stamp below what the log holds (R12.4).
#[test]
fn r12_4_an_acknowledged_push_counts_as_received() {
    use fieldmerge::{Actor, RecordKey, Timestamp};
    use fieldmerge_harness::gen::EPOCH_MS;
    let t = |ms: i64| Timestamp::from_ms(EPOCH_MS + ms).expect("in range");
    let key = RecordKey::new("tasks", "t1");
    let patch = |v: Value| v.as_object().cloned().unwrap_or_default();
    let run = [
        Action::Write {
            replica: 0,
            key: key.clone(),
            actor: Actor::User,
            patch: patch(serde_json::json!({"title": "a"})),
            now: t(100),
        },
        Action::Push {
            replica: 0,
            now: t(100),
        },
        Action::CorrectClock {
            replica: 0,
            server_now: t(0),
            clock_epoch: None,
            now: t(100),
        },
        Action::Write {
            replica: 0,
            key,
            actor: Actor::User,
            patch: patch(serde_json::json!({"title": "b"})),
            now: t(0),
        },
    ];
    check_run(&run);
    let mut world = World::default();
    for action in &run {
        world.step(action);
    }
    let replica = &world.replicas[0];
    assert_eq!(replica.clock().seen, t(100));
    assert_eq!(replica.outbox()[0].max_at(), Some(t(101)));
}
