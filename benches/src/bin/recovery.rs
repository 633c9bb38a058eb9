//! The recovery paths of issue #11, timed once each at the sizes the issue
//! measured: acknowledging one's own changes pulled back after a lost push
//! reply, a clock correction over refused changes, loading a state with many
//! pending records and no stored clock, and legacy hydration over many own
//! pending writes. Each is a median of a few runs; a path that is quadratic
//! shows it at once (the issue measured 15.9 s to 23.9 s before).
//!
//! `cargo run --release --manifest-path benches/Cargo.toml --bin recovery [-- SCALE_PCT]`
//! (SCALE_PCT scales every size; CI runs 10).

use std::time::{Duration, Instant};

use fieldmerge::{
    Actor, ClockCorrection, Page, RecordKey, Replica, ReplicaState, Server, ServerConfig,
    Timestamp, WriterId,
};
use serde_json::json;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_ms(1_777_197_600_000 + ms).unwrap_or(Timestamp::GENESIS)
}

/// A replica with `n` pending writes of distinct records, stamped from `at`.
fn writer(n: usize, at: i64) -> Replica {
    let mut phone = Replica::new(WriterId::new("phone"));
    let patch = json!({"title": "x"})
        .as_object()
        .cloned()
        .unwrap_or_default();
    for i in 0..n {
        let key = RecordKey::new("tasks", &format!("t{i}"));
        let _ = phone.write(&key, &Actor::User, &patch, t(at + i as i64));
    }
    phone
}

fn median(mut runs: Vec<Duration>) -> Duration {
    runs.sort();
    runs[runs.len() / 2]
}

// The median of three runs of `run` on a fresh `setup()`; what `run`
// returns is dropped after the clock stops, so freeing the inputs and the
// results is not counted.
fn time<S, R>(setup: impl Fn() -> S, run: impl Fn(S) -> R) -> Duration {
    median(
        (0..3)
            .map(|_| {
                let state = setup();
                let start = Instant::now();
                let out = run(state);
                let elapsed = start.elapsed();
                drop(out);
                elapsed
            })
            .collect(),
    )
}

fn main() {
    let pct: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100);
    let scale = |n: usize| (n * pct / 100).max(10);
    println!("| recovery path | n | median |");
    println!("| --- | ---: | ---: |");

    // Own changes pulled back after a lost push reply: each acks its prefix.
    let n = scale(100_000);
    let phone = writer(n, 0);
    let mut server = Server::new(ServerConfig::new(60_000, n).unwrap_or_default());
    let _ = server.push(&phone.push(), t(n as i64));
    let page = server.pull(0, n);
    let d = time(
        || phone.clone(),
        |mut p| {
            let report = p.apply_page(&page);
            (p, report)
        },
    );
    println!("| pull back own changes after a lost reply | {n} | {d:.2?} |");

    // A clock correction restamping every pending change.
    let n = scale(100_000);
    let ahead = writer(n, 3_600_000);
    let correction = ClockCorrection {
        server_now: t(0),
        skew_ms_max: 60_000,
        log_high: Timestamp::default(),
        clock_epoch: 1,
    };
    let d = time(
        || ahead.clone(),
        |mut p| drop(p.correct_clock(&correction, t(3_600_000))),
    );
    println!("| correct_clock over refused changes | {n} | {d:.2?} |");

    // SPEC R12.4: a push of that many refused changes is accepted after
    // one correction; the last restamp's lag behind the server's time.
    let mut corrected = ahead.clone();
    let _ = corrected.correct_clock(&correction, t(3_600_000));
    let last = corrected.outbox().iter().filter_map(|c| c.max_at()).max();
    let mut server = Server::new(ServerConfig::new(60_000, 1000).unwrap_or_default());
    let accepted = server.push(&corrected.push(), t(0)).map(|r| r.appended);
    println!(
        "| push after one correction: appended {:?}, last restamp {} ms after the server's now | {n} | - |",
        accepted.ok(),
        last.map_or(0, |at| at.as_ms() - t(0).as_ms())
    );

    // SPEC R2.2: a bulk write of distinct records within one wall
    // millisecond, as a migration or an import makes: writes per second,
    // and how far the last stamp runs ahead of the wall clock.
    let n = scale(1_000_000);
    let patch = json!({"v": 1}).as_object().cloned().unwrap_or_default();
    let keys: Vec<RecordKey> = (0..n)
        .map(|i| RecordKey::new("tasks", &format!("t{i}")))
        .collect();
    let migration = Actor::System {
        source: fieldmerge::SYSTEM_MIGRATION.to_owned(),
    };
    let lag_ms = std::cell::Cell::new(0);
    let d = time(
        || Replica::new(WriterId::new("migration")),
        |mut p| {
            for key in &keys {
                let _ = p.write(key, &migration, &patch, t(0));
            }
            lag_ms.set(p.clock().stamped.as_ms() - t(0).as_ms());
            p
        },
    );
    let lag_ms = lag_ms.get();
    let per_s = n as f64 / d.as_secs_f64();
    println!(
        "| bulk write of distinct records in one millisecond: {per_s:.0} writes/s, last stamp {lag_ms} ms ahead of the wall clock | {n} | {d:.2?} |"
    );

    // A state with many pending records and no stored clock.
    let n = scale(300_000);
    let mut state = ReplicaState::of(&writer(n, 0));
    state.clock = None;
    let d = time(
        || state.clone(),
        |s| {
            let loaded = s.load();
            (s, loaded)
        },
    );
    println!("| load a state of pending records, no clock | {n} | {d:.2?} |");

    // Legacy hydration over own pending writes: every field asks whether the
    // loser is pending (R6.4).
    let n = scale(30_000);
    let mine = writer(n, 0);
    let legacy: Vec<fieldmerge::Change> = (0..n)
        .map(|i| {
            let wire = json!({"table": "tasks", "id": format!("t{i}"), "op": "update",
                "data": {"title": "legacy"},
                "field_meta": {"title": {"at": t(1_000_000).to_string(), "origin": "user", "by": "old"}},
                "client_id": "old", "server_seq": i as u64 + 1});
            fieldmerge::Change::from_wire(&wire, i).unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    let page = Page::new(0, legacy, n as u64);
    let d = time(
        || mine.clone(),
        |mut p| {
            let report = p.apply_page(&page);
            assert!(report.as_ref().is_ok_and(|r| r.conflicts.len() == n));
            (p, report)
        },
    );
    println!("| legacy hydration over own pending writes | {n} | {d:.2?} |");

    // A write of a new field into a record of F fields (SPEC R5.1): a
    // record keeps its registers in a sorted vector, so an insert moves
    // the fields after it (issue #13's layout). Written 1,000 fields at a
    // time (R5.5's limit is 1,024), then one new field in the middle.
    let f = scale(100_000);
    let key = RecordKey::new("tasks", "wide");
    let mut wide = Replica::new(WriterId::new("phone"));
    for chunk in 0..f.div_ceil(1000) {
        let patch: serde_json::Map<String, serde_json::Value> = (chunk * 1000
            ..((chunk + 1) * 1000).min(f))
            .map(|i| (format!("f{i:07}"), json!(i)))
            .collect();
        let _ = wide.write(&key, &Actor::User, &patch, t(0));
    }
    let one = json!({"f0000000x": 1})
        .as_object()
        .cloned()
        .unwrap_or_default();
    let d = time(
        || wide.clone(),
        |mut p| {
            let change = p.write(&key, &Actor::User, &one, t(1));
            (p, change)
        },
    );
    println!("| a new field written into a record of F fields | {f} | {d:.2?} |");
}
