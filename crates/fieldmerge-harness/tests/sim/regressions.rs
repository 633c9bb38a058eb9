//! Failures the simulator found, shrunk and pasted as literal schedules.
//! Each pins the fix of the bug its comment names.

use fieldmerge_harness::sim::{
    run_schedule, Config, Event::*, Fate, FaultRates, Mark, Scenario, ScenarioSet,
};

const OK: Fate = Fate {
    drop: false,
    dup: false,
    delay: 0,
};

/// Seed 400 (shrunk from 300 steps): SPEC R12.4. A write acked through a
/// push reply whose page did not reach it, then overwritten by a write the
/// server refused as too far ahead: the clock correction restamped the
/// second write to exactly the first one's version, a malformed twin on the
/// server. Fixed by letting acked stamps join `seen` (`Replica::ack`).
#[test]
fn r12_4_a_restamp_never_reuses_the_version_of_an_acked_write() {
    let config = Config {
        users: 1,
        devices_per_user: 1,
        tasks: 2,
        steps: 300,
        heal_rounds_max: 12,
        page_size: 2,
        scenarios: ScenarioSet(57),
        faults: FaultRates([71, 20, 113, 66, 7, 5, 14, 6, 13, 8, 0, 0]),
        mutation: None,
    };
    let schedule = vec![
        Join {
            device: 0,
            fate: OK,
        },
        Write {
            device: 0,
            key: 3,
            field: 1,
            value: 148,
        },
        Clock {
            device: 0,
            offset_ms: 97735,
            drift_ppm: 0,
        },
        Push {
            device: 0,
            fate: OK,
        },
        Write {
            device: 0,
            key: 3,
            field: 1,
            value: 149,
        },
        Push {
            device: 0,
            fate: OK,
        },
    ];
    let outcome = run_schedule(&config, &schedule);
    assert!(outcome.violations.is_empty(), "{:#?}", outcome.violations);
}

/// Seed 1103 (shrunk): SPEC R12.4, R2.2. A burst of writes acked by a push
/// whose reply page stopped short of them; a correction then restamped later
/// writes below them, so the device's own older writes came back from the
/// log and displaced its newer ones without a conflict report.
#[test]
fn r12_4_restamped_writes_stay_above_the_writers_acked_writes() {
    let config = Config {
        users: 2,
        devices_per_user: 1,
        tasks: 1,
        steps: 300,
        heal_rounds_max: 12,
        page_size: 20,
        scenarios: ScenarioSet(89),
        faults: FaultRates([36, 23, 248, 41, 7, 5, 1, 18, 4, 1, 0, 0]),
        mutation: None,
    };
    let schedule = vec![
        Join {
            device: 1,
            fate: OK,
        },
        Clock {
            device: 1,
            offset_ms: 64511,
            drift_ppm: -12481,
        },
        Burst {
            device: 1,
            key: 0,
            count: 3,
        },
        Pull {
            device: 1,
            limit: 4,
            fate: OK,
        },
        Burst {
            device: 1,
            key: 2,
            count: 7,
        },
        Push {
            device: 1,
            fate: OK,
        },
        Tick { ms: 3647 },
        Write {
            device: 1,
            key: 0,
            field: 1,
            value: 152,
        },
        Write {
            device: 1,
            key: 2,
            field: 1,
            value: 155,
        },
        Tick { ms: 1713 },
        Write {
            device: 1,
            key: 2,
            field: 0,
            value: 159,
        },
    ];
    let outcome = run_schedule(&config, &schedule);
    assert!(outcome.violations.is_empty(), "{:#?}", outcome.violations);
}

/// SPEC R12.4 (a finding of issue #4, fixed by clock epochs): a push sent
/// before the device learnt of its clock correction still carries the old,
/// far-ahead stamp. It used to be accepted once the server's clock caught
/// up: the log then held a stamp the client had replaced, and the client's
/// newer write lost to its own older one. The copy is now refused as
/// `stale_clock`; the oracle fails the run if a replaced stamp is ever
/// appended, and checks that the newer write wins everywhere.
#[test]
fn r12_4_a_pre_correction_copy_of_a_push_never_reaches_the_log() {
    let config = Config {
        users: 1,
        devices_per_user: 1,
        tasks: 1,
        page_size: 20,
        scenarios: ScenarioSet(0),
        faults: FaultRates([0; 12]),
        ..Config::default()
    };
    let schedule = vec![
        Join {
            device: 0,
            fate: OK,
        },
        Clock {
            device: 0,
            offset_ms: 70_000,
            drift_ppm: 0,
        },
        Write {
            device: 0,
            key: 0,
            field: 0,
            value: 1000,
        },
        // One push, duplicated by the network.
        Push {
            device: 0,
            fate: Fate { dup: true, ..OK },
        },
        Deliver { pick: 0, fate: OK },
        Deliver { pick: 1, fate: OK },
        Write {
            device: 0,
            key: 0,
            field: 0,
            value: 2000,
        },
        Tick { ms: 15_000 },
        Deliver { pick: 0, fate: OK },
    ];
    let outcome = run_schedule(&config, &schedule);
    assert!(outcome.violations.is_empty(), "{:#?}", outcome.violations);
    assert_eq!(outcome.stats.coverage.count(Mark::PushRefusedStaleClock), 1);
}

/// Seed 431 (shrunk from 300 steps): SPEC R12.4 with the per-record clock.
/// Two pending writes of one field past the limit: the correction restamps
/// the earlier just above the write it overwrote, and the later just above
/// that, onto the version the earlier one had before. Nobody holds that
/// replaced register, so it is no twin; the oracle had flagged the reused
/// version, and now flags only the replaced register itself reaching the
/// log.
#[test]
fn r12_4_a_restamp_may_reuse_a_replaced_version_of_its_field() {
    let config = Config {
        users: 1,
        devices_per_user: 1,
        tasks: 5,
        steps: 300,
        heal_rounds_max: 12,
        page_size: 1,
        scenarios: ScenarioSet(250),
        faults: FaultRates([37, 30, 72, 54, 11, 2, 29, 17, 1, 6, 0, 7]),
        mutation: None,
    };
    let write = |key: usize, field: usize, value: i64| Write {
        device: 0,
        key,
        field,
        value,
    };
    let clock = |offset_ms: i64, drift_ppm: i64| Clock {
        device: 0,
        offset_ms,
        drift_ppm,
    };
    let schedule = vec![
        Join {
            device: 0,
            fate: OK,
        },
        clock(18_128, 0),
        write(6, 0, 0),
        clock(652_899, 2_910),
        write(1, 0, 1),
        clock(4_420, 2_910),
        write(6, 1, 151),
        write(6, 0, 153),
        write(6, 2, 159),
    ];
    let outcome = run_schedule(&config, &schedule);
    assert!(outcome.violations.is_empty(), "{:#?}", outcome.violations);
    assert!(outcome.stats.coverage.count(Mark::ClockCorrected) > 0);
}

/// Seed 671 (shrunk from 300 steps): SPEC R12.4 with the per-record clock.
/// A burst of edits stamped at a slow device's wall time lost to an agent
/// write it then received; a far-ahead write of another record was
/// refused, and the correction restamped every change after it, the burst
/// included, above the agent's write: the order flipped, and the server
/// reported a false conflict when the device's next write (based on the
/// agent's) arrived. Fixed by restamping only the changes past the limit
/// and, after them, the later changes of their records.
#[test]
fn r12_4_a_correction_never_lifts_a_write_above_one_it_lost_to() {
    let config = Config {
        users: 1,
        devices_per_user: 1,
        tasks: 1,
        steps: 300,
        heal_rounds_max: 12,
        page_size: 8,
        scenarios: ScenarioSet(95),
        faults: FaultRates([88, 27, 76, 101, 12, 0, 28, 22, 11, 7, 5, 1]),
        mutation: None,
    };
    let schedule = vec![
        Join {
            device: 0,
            fate: OK,
        },
        Clock {
            device: 0,
            offset_ms: 112136,
            drift_ppm: 0,
        },
        Agent {
            key: 2,
            field: 0,
            value: 122,
        },
        Write {
            device: 0,
            key: 1,
            field: 2,
            value: 123,
        },
        Deliver { pick: 0, fate: OK },
        Pull {
            device: 0,
            limit: 50,
            fate: OK,
        },
        Clock {
            device: 0,
            offset_ms: -23488,
            drift_ppm: 0,
        },
        Burst {
            device: 0,
            key: 2,
            count: 6,
        },
        Deliver { pick: 0, fate: OK },
        Deliver { pick: 0, fate: OK },
        Write {
            device: 0,
            key: 2,
            field: 2,
            value: 137,
        },
    ];
    let outcome = run_schedule(&config, &schedule);
    assert!(outcome.violations.is_empty(), "{:#?}", outcome.violations);
    assert!(outcome.stats.coverage.count(Mark::ClockCorrected) > 0);
}

/// Seed 104 (shrunk from 300 steps): SPEC R12.7. A push reply cut from the
/// log before a failover arrives after it: the device, still following
/// that log, applies it (it is a page of the log it follows), and then
/// refuses the standby's pages, resets its cursor and hydrates from the
/// standby, skipping nothing. The oracle had judged the late page by the
/// standby's numbering; a retired log keeps its own.
#[test]
fn r12_7_a_failover_with_a_late_page_of_the_old_log_loses_nothing() {
    let config = Config {
        users: 2,
        devices_per_user: 1,
        tasks: 1,
        steps: 300,
        heal_rounds_max: 12,
        page_size: 3,
        scenarios: ScenarioSet(1191),
        faults: FaultRates([37, 42, 265, 90, 9, 13, 11, 12, 3, 8, 5, 6]),
        mutation: None,
    };
    let schedule = vec![
        Join {
            device: 0,
            fate: OK,
        },
        Join {
            device: 1,
            fate: OK,
        },
        Write {
            device: 1,
            key: 1,
            field: 2,
            value: 101,
        },
        Tick { ms: 1 },
        Agent {
            key: 1,
            field: 2,
            value: 104,
        },
        Burst {
            device: 1,
            key: 2,
            count: 5,
        },
        Push {
            device: 1,
            fate: Fate {
                drop: false,
                dup: false,
                delay: 13,
            },
        },
        Write {
            device: 0,
            key: 1,
            field: 1,
            value: 120,
        },
        Deliver { pick: 0, fate: OK },
        Write {
            device: 1,
            key: 3,
            field: 0,
            value: 123,
        },
        Partition {
            device: 1,
            cut: true,
        },
        Deliver { pick: 0, fate: OK },
        Write {
            device: 0,
            key: 1,
            field: 0,
            value: 1,
        },
        Tick { ms: 1 },
        Push {
            device: 0,
            fate: OK,
        },
        Partition {
            device: 1,
            cut: false,
        },
        Tick { ms: 1 },
        Push {
            device: 0,
            fate: OK,
        },
        Crash { device: 0 },
        Deliver { pick: 0, fate: OK },
        Deliver { pick: 0, fate: OK },
        Deliver { pick: 0, fate: OK },
        Deliver { pick: 0, fate: OK },
        Push {
            device: 1,
            fate: OK,
        },
        Deliver { pick: 0, fate: OK },
        Deliver { pick: 3, fate: OK },
        Failover,
    ];
    let outcome = run_schedule(&config, &schedule);
    assert!(outcome.violations.is_empty(), "{:#?}", outcome.violations);
    assert_eq!(outcome.stats.scenarios[Scenario::Failover as usize], 1);
}

/// SPEC R12.5: a device restored from a backup that holds a pending write
/// the log lacks recovers under a new client id and writes the value again;
/// the write reaches the server, and nothing else is lost or reported.
#[test]
fn r12_5_a_restored_device_writes_its_pending_values_again_under_a_new_id() {
    use fieldmerge_harness::sim::{run_schedule_with, RunOptions};
    let config = Config {
        users: 1,
        devices_per_user: 1,
        tasks: 1,
        steps: 300,
        heal_rounds_max: 12,
        page_size: 8,
        scenarios: ScenarioSet::all(),
        faults: FaultRates([0; 12]),
        mutation: None,
    };
    let schedule = vec![
        Join {
            device: 0,
            fate: OK,
        },
        Write {
            device: 0,
            key: 0,
            field: 0,
            value: 7,
        },
        Backup { device: 0 },
        RestoreBackup { device: 0 },
    ];
    let outcome = run_schedule_with(
        &config,
        &schedule,
        RunOptions {
            trace: true,
            until: None,
        },
    );
    assert!(outcome.violations.is_empty(), "{:#?}", outcome.violations);
    let trace = outcome.trace.unwrap_or_default();
    assert!(
        trace.contains("recovers as u0d0w1 from 3 pending changes the log lacks")
            && trace.contains("wrote 1 of them again"),
        "{trace}"
    );
    assert_eq!(
        outcome.stats.scenarios[Scenario::RestoredBackup as usize],
        1
    );
}
