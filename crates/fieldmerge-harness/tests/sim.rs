//! The simulator (issue #4): determinism, clean campaigns, coverage of every
//! scenario and fault kind, and planted bugs it must find and shrink.

use fieldmerge_harness::sim::{
    regression_test, run, run_campaign, run_schedule, run_with, shrink, Campaign, Config,
    FaultKind, Mutation, RunOptions, Scenario, Swarm, ViolationKind,
};

mod regressions;

fn small_swarm() -> Swarm {
    Swarm {
        steps: 150,
        ..Swarm::default()
    }
}

#[test]
fn sim_same_seed_gives_the_same_trace_hash() {
    let config = Swarm::default().config(11);
    let a = run_with(
        11,
        &config,
        RunOptions {
            trace: true,
            until: None,
        },
    );
    let b = run_with(
        11,
        &config,
        RunOptions {
            trace: true,
            until: None,
        },
    );
    assert_eq!(a.trace_hash, b.trace_hash);
    assert_eq!(a.trace, b.trace);
    assert_eq!(a.schedule, b.schedule);
    assert!(a.trace.is_some_and(|t| t.lines().count() > config.steps));
}

#[test]
fn sim_different_seeds_give_different_traces() {
    let swarm = small_swarm();
    let hashes: Vec<u64> = (0..8)
        .map(|s| run(s, &swarm.config(s)).trace_hash)
        .collect();
    for i in 0..hashes.len() {
        for j in i + 1..hashes.len() {
            assert_ne!(hashes[i], hashes[j], "seeds {i} and {j}");
        }
    }
}

#[test]
fn sim_a_schedule_replays_to_the_same_run() {
    let config = Swarm::default().config(5);
    let first = run(5, &config);
    let again = run_schedule(&config, &first.schedule);
    assert_eq!(first.trace_hash, again.trace_hash);
    assert_eq!(first.stats, again.stats);
}

#[test]
fn sim_short_campaign_passes_and_fires_every_scenario_and_fault() {
    let campaign = Campaign {
        seeds: 0..60,
        swarm: small_swarm(),
        check_determinism: true,
        ..Campaign::default()
    };
    let report = run_campaign(&campaign, |_| {});
    assert_eq!(report.seeds, 60);
    assert_eq!(report.failures, vec![], "violations in a clean campaign");
    assert!(report.nondeterministic.is_empty());
    for kind in FaultKind::ALL {
        assert!(
            report.stats.faults[kind as usize] > 0,
            "fault {kind:?} never fired"
        );
    }
    for s in Scenario::ALL {
        assert!(
            report.stats.scenarios[s as usize] > 0,
            "scenario {s:?} never fired"
        );
    }
    assert!(report.never_fired(&campaign.swarm).is_empty());
    assert!(
        report.stats.conflicts > 0,
        "no conflict in 60 seeds: the oracle saw nothing"
    );
    assert!(report.stats.agreements > report.stats.conflicts);
    assert!(report.passed(&campaign.swarm));
}

/// SPEC R12.6: another service writes entries that are not changes
/// straight into the log, often. Every replica quarantines each one alike
/// (the simulator checks every quarantined entry against the log's, and a
/// page's text against the page), the cursors move past them, and every
/// replica converges with the server: 0 violations.
#[test]
fn sim_poison_entries_in_the_log_are_quarantined_and_every_replica_converges() {
    let mut swarm = small_swarm();
    swarm.fault_scale_pct = 300;
    let campaign = Campaign {
        seeds: 0..40,
        swarm,
        check_determinism: true,
        ..Campaign::default()
    };
    let report = run_campaign(&campaign, |_| {});
    assert_eq!(report.failures, vec![], "violations with poison entries");
    assert!(report.nondeterministic.is_empty());
    assert!(report.stats.faults[FaultKind::Poison as usize] > 20);
    assert!(
        report.stats.quarantined > report.stats.faults[FaultKind::Poison as usize],
        "replicas quarantined fewer entries than were written"
    );
}

#[test]
fn sim_shards_split_the_seed_range_exactly() {
    let shard = |i| Campaign {
        seeds: 10..30,
        shard: (i, 3),
        ..Campaign::default()
    };
    let mut all: Vec<u64> = (0..3).flat_map(|i| shard(i).seed_list()).collect();
    all.sort_unstable();
    assert_eq!(all, (10..30).collect::<Vec<_>>());
}

#[test]
fn sim_until_dumps_every_replica_as_json() {
    let config = Config {
        users: 2,
        devices_per_user: 2,
        ..Config::default()
    };
    let outcome = run_with(
        3,
        &config,
        RunOptions {
            trace: false,
            until: Some(40),
        },
    );
    assert_eq!(outcome.schedule.len(), 40);
    let dump = outcome.dump.expect("a dump");
    assert_eq!(dump["step"], 40);
    assert_eq!(dump["devices"].as_array().map(Vec::len), Some(4));
    let up = dump["devices"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["status"] == "up")
        .expect("a device up after 40 steps");
    let state: fieldmerge::ReplicaState =
        serde_json::from_value(up["state"].clone()).expect("a ReplicaState");
    assert!(state.load().is_ok());
}

/// Plants `mutation`, asserts some seed below `seeds_max` fails with
/// `kind`, and that shrinking keeps the failure with fewer events.
fn check_planted(mutation: Mutation, kind: ViolationKind, seeds_max: u64) {
    let swarm = Swarm {
        mutation: Some(mutation),
        ..small_swarm()
    };
    let found = (0..seeds_max).find_map(|seed| {
        let config = swarm.config(seed);
        let outcome = run(seed, &config);
        outcome
            .violations
            .iter()
            .any(|v| v.kind == kind)
            .then_some((config, outcome))
    });
    let (config, outcome) = found
        .unwrap_or_else(|| panic!("{mutation:?} not found as {kind:?} within {seeds_max} seeds"));
    let shrunk = shrink(&config, &outcome.schedule, kind, 600).expect("the failure reproduces");
    assert_eq!(shrunk.violation.kind, kind);
    assert!(
        shrunk.schedule.len() < outcome.schedule.len() / 4,
        "shrunk only to {} of {} events",
        shrunk.schedule.len(),
        outcome.schedule.len()
    );
    assert!(run_schedule(&shrunk.config, &shrunk.schedule)
        .violations
        .iter()
        .any(|v| v.kind == kind));
    // The clean kernel passes the same shrunk schedule.
    let clean = Config {
        mutation: None,
        ..shrunk.config
    };
    assert_eq!(run_schedule(&clean, &shrunk.schedule).violations, vec![]);
    let test = regression_test(&shrunk, "planted");
    assert!(test.contains("run_schedule(&config, &schedule)") && test.contains("#[test]"));
}

#[test]
fn sim_finds_and_shrinks_a_classifier_that_ignores_the_witness() {
    check_planted(
        Mutation::ClassifyOnOriginOnly,
        ViolationKind::FalseConflict,
        20,
    );
}

#[test]
fn sim_finds_and_shrinks_a_dropped_hydration_rule() {
    check_planted(
        Mutation::DropHydrationRule,
        ViolationKind::FalseConflict,
        40,
    );
}

#[test]
fn sim_finds_and_shrinks_a_bootstrap_row_with_a_real_timestamp() {
    check_planted(
        Mutation::BootstrapRealTimestamp,
        ViolationKind::Bootstrap,
        10,
    );
}

#[test]
fn sim_finds_and_shrinks_a_device_that_forgets_its_outbox() {
    check_planted(Mutation::ForgetOutbox, ViolationKind::Lost, 60);
}

#[test]
fn sim_finds_and_shrinks_a_device_that_forgets_its_records() {
    check_planted(Mutation::ForgetRecords, ViolationKind::Divergence, 60);
}

/// A device that lost its shadow index stores a record whose
/// `updated_at_index` is `null` though it has fields: the loader refuses
/// that state (R8.1, R12.5), so the boot finds it, before any apply could.
#[test]
fn sim_finds_and_shrinks_a_device_that_forgets_its_shadow_index() {
    check_planted(
        Mutation::ForgetShadowIndex,
        ViolationKind::StateRoundTrip,
        60,
    );
}

#[test]
fn sim_finds_and_shrinks_a_client_that_drops_conflict_reports() {
    check_planted(
        Mutation::DropConflictReports,
        ViolationKind::MissedConflict,
        20,
    );
}

#[test]
fn sim_a_campaign_that_never_fires_a_fault_kind_fails() {
    let tiny = Campaign {
        seeds: 0..1,
        swarm: Swarm {
            steps: 10,
            ..Swarm::default()
        },
        ..Campaign::default()
    };
    let report = run_campaign(&tiny, |_| {});
    assert_eq!(report.violations, 0);
    assert!(!report.never_fired(&tiny.swarm).is_empty());
    assert!(!report.passed(&tiny.swarm));
    // Without faults, only scenarios are required.
    let calm = Swarm {
        fault_scale_pct: 0,
        scenarios: fieldmerge_harness::sim::ScenarioSet::none().with(Scenario::AgentRace),
        steps: 100,
        ..tiny.swarm
    };
    let report = run_campaign(
        &Campaign {
            swarm: calm,
            ..tiny.clone()
        },
        |_| {},
    );
    assert_eq!(report.stats.faults, [0; 12]);
    assert!(report.passed(&calm), "{:?}", report.never_fired(&calm));
}

#[test]
fn sim_a_device_that_forgets_its_clock_rederives_it_safely() {
    // R12.5: without a stored clock, `seen` comes from the registers that are
    // not pending writes and `stamped` from the pending changes, so nothing a
    // device wrote or received is stamped over and no correction is floored
    // by its own far-ahead writes. (Before this rule, `seen` counted pending
    // far-ahead stamps and such a device never synced again.)
    let swarm = Swarm {
        mutation: Some(Mutation::ForgetClock),
        ..small_swarm()
    };
    let report = run_campaign(
        &Campaign {
            seeds: 0..300,
            swarm,
            ..Campaign::default()
        },
        |_| {},
    );
    assert!(report.stats.faults[FaultKind::Crash as usize] > 0);
    assert_eq!(report.failures, vec![]);
}

#[test]
fn sim_a_device_that_forgets_its_cursor_only_replays_the_log() {
    // R6.5, R12.5: without its cursor a device replays the whole log as a
    // hydration round; every replayed change is a duplicate or stale, so no
    // invariant breaks. The cursor saves work; it is not needed for safety.
    let swarm = Swarm {
        mutation: Some(Mutation::ForgetCursor),
        ..small_swarm()
    };
    let report = run_campaign(
        &Campaign {
            seeds: 0..40,
            swarm,
            ..Campaign::default()
        },
        |_| {},
    );
    assert!(report.stats.faults[FaultKind::Crash as usize] > 0);
    assert_eq!(report.failures, vec![]);
}
