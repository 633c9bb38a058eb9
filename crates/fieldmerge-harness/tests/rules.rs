//! One or more tests per rule of spec/SPEC.md, named after the rule. Tables
//! of literal inputs and expected outputs go through one `check` helper per
//! behaviour.

use crate::support::*;
use fieldmerge::{
    cmp_values, decide, decode_changes, Actor, Base, ChangeError, ConflictRule, Decision, Delivery,
    Origin, Page, Push, PushError, Record, RecordKey, Register, Replica, ReplicaState, Server,
    ServerConfig, Silence, Timestamp, Version, WriterId, SYSTEM_MIGRATION,
};
use serde_json::{json, Value};
use std::cmp::Ordering;

fn reg(value: Value, ms: i64, by: &str, origin: Origin, base: Base) -> Register {
    Register {
        value,
        at: t(ms),
        by: WriterId::new(by),
        origin,
        base,
    }
}

fn user(value: Value, ms: i64, by: &str) -> Register {
    reg(value, ms, by, Origin::User, Base::First)
}

fn snapshot(replica: &Replica) -> Value {
    serde_json::to_value(ReplicaState::of(replica)).expect("state serializes")
}

// ---------------------------------------------------------------- R1, R2, R3

#[test]
fn r1_3_local_only_and_empty_names_are_refused_and_change_nothing() {
    fn check(patch: Value, code: &str) {
        let mut phone = replica("phone");
        phone
            .write(&key("t1"), &Actor::User, &obj(json!({"x": 1})), t(0))
            .unwrap();
        let before = snapshot(&phone);
        let err = phone
            .write(&key("t1"), &Actor::User, &obj(patch.clone()), t(5))
            .unwrap_err();
        assert_eq!(err.code(), code, "patch {patch}");
        // The error says why a reserved field cannot be written.
        if let fieldmerge::WriteError::ReservedField { field, why } = &err {
            let expected = if field == "deletedAt" {
                "use delete and restore"
            } else {
                "local-only"
            };
            assert_eq!(*why, expected, "patch {patch}");
        }
        assert_eq!(
            snapshot(&phone),
            before,
            "patch {patch} changed the replica"
        );
    }
    check(json!({"_updatedAtIndex": "x"}), "reserved_field");
    check(json!({"__fieldMeta": {}}), "reserved_field");
    check(
        json!({"deletedAt": "2026-01-01T00:00:00.000Z"}),
        "reserved_field",
    );
    check(json!({"": 1}), "bad_name");
    check(json!({"a": 1, "b".repeat(257): 2}), "bad_name");
}

#[test]
fn r2_1_timestamps_parse_only_the_canonical_spelling_and_format_it_back() {
    fn check(text: &str, ms: Option<i64>) {
        let parsed = Timestamp::parse(text).ok().map(Timestamp::as_ms);
        assert_eq!(parsed, ms, "{text:?}");
        if let Some(ms) = ms {
            assert_eq!(Timestamp::from_ms(ms).unwrap().to_string(), text);
        }
    }
    check("1970-01-01T00:00:00.000Z", Some(0));
    check("2026-04-26T10:00:00.000Z", Some(1_777_197_600_000));
    check("2024-02-29T23:59:59.999Z", Some(1_709_251_199_999));
    check("9999-12-31T23:59:59.999Z", Some(253_402_300_799_999));
    for bad in [
        "2026-04-26T10:00:00Z",
        "2026-04-26T10:00:00.000",
        "2026-04-26T10:00:00.000+00:00",
        "2026-04-26 10:00:00.000Z",
        "2026-04-26T10:00:00.0000Z",
        "2023-02-29T00:00:00.000Z",
        "2026-13-01T00:00:00.000Z",
        "2026-04-31T00:00:00.000Z",
        "2026-04-26T24:00:00.000Z",
        "2026-04-26T23:60:00.000Z",
        "2026-04-26T23:59:60.000Z",
        "1969-12-31T23:59:59.999Z",
        "+2026-04-26T10:00:00.000Z",
        "2026-04-26t10:00:00.000z",
        "２026-04-26T10:00:00.000Z",
        "",
    ] {
        check(bad, None);
    }
    assert!(Timestamp::from_ms(-1).is_err());
    assert!(Timestamp::from_ms(253_402_300_800_000).is_err());
    // `str::parse` is the same parser.
    let parsed: Result<Timestamp, _> = "2026-04-26T10:00:00.000Z".parse();
    assert_eq!(parsed.map(Timestamp::as_ms), Ok(1_777_197_600_000));
    assert!("2026-04-26".parse::<Timestamp>().is_err());
}

/// R2.1 for every day of the range, against a calendar walked one day at a
/// time (no date arithmetic shared with the kernel): each day's spelling
/// parses to its count of milliseconds and formats back, at a time of day
/// that moves with the day; the day after the month's last does not parse.
#[test]
fn r2_1_every_calendar_day_from_the_genesis_to_9999_parses_and_formats_back() {
    fn leap(year: i64) -> bool {
        year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
    }
    const DAYS: [i64; 12] = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    let mut day_index: i64 = 0;
    for year in 1970..=9999 {
        for month in 1..=12 {
            let days = DAYS[month as usize - 1] + i64::from(month == 2 && leap(year));
            for day in 1..=days {
                let i = day_index;
                let (h, m, sec, ms) = (i % 24, i * 7 % 60, i * 13 % 60, i * 37 % 1000);
                let text = format!("{year:04}-{month:02}-{day:02}T{h:02}:{m:02}:{sec:02}.{ms:03}Z");
                let want = i * 86_400_000 + ((h * 60 + m) * 60 + sec) * 1000 + ms;
                let parsed = Timestamp::parse(&text).map(Timestamp::as_ms);
                assert_eq!(parsed, Ok(want), "{text}");
                assert_eq!(Timestamp::from_ms(want).unwrap().to_string(), text);
                day_index += 1;
            }
            let past = format!("{year:04}-{month:02}-{:02}T00:00:00.000Z", days + 1);
            assert!(Timestamp::parse(&past).is_err(), "{past}");
        }
    }
    // The walk ends on the last representable day.
    assert_eq!(day_index * 86_400_000 - 1, Timestamp::MAX.as_ms());
}

#[test]
fn r2_2_a_local_write_beats_everything_the_replica_had_seen() {
    let mut phone = replica("phone");
    // The phone receives a register stamped far after its own wall clock.
    let remote = change(json!({"table": "tasks", "id": "t1", "op": "insert",
        "data": {"title": "remote"},
        "field_meta": {"title": {"at": "2026-04-26T10:00:00.500Z", "origin": "user", "base": null}},
        "client_id": "laptop"}));
    phone.apply(&[remote], Delivery::Live);
    let c = phone
        .write(&key("t1"), &Actor::User, &obj(json!({"done": true})), t(10))
        .unwrap()
        .unwrap();
    assert_eq!(c.max_at(), Some(t(501)), "max(now, seen + 1ms)");
    // A wall clock ahead of everything seen is used as is.
    let c = phone
        .write(
            &key("t1"),
            &Actor::User,
            &obj(json!({"done": false})),
            t(900),
        )
        .unwrap()
        .unwrap();
    assert_eq!(c.max_at(), Some(t(900)));
    // Two writes in the same millisecond get distinct stamps.
    let c = phone
        .write(
            &key("t1"),
            &Actor::User,
            &obj(json!({"done": true})),
            t(900),
        )
        .unwrap()
        .unwrap();
    assert_eq!(c.max_at(), Some(t(901)));
}

#[test]
fn r2_3_an_exhausted_clock_refuses_the_write_and_changes_nothing() {
    let mut phone = replica("phone");
    let end = change(json!({"table": "tasks", "id": "t1", "op": "insert",
        "data": {"title": "end"},
        "field_meta": {"title": {"at": "9999-12-31T23:59:59.999Z", "origin": "user", "base": null}},
        "client_id": "laptop"}));
    phone.apply(&[end], Delivery::Live);
    let before = snapshot(&phone);
    let err = phone
        .write(&key("t1"), &Actor::User, &obj(json!({"title": "x"})), t(0))
        .unwrap_err();
    assert_eq!(err.code(), "clock_exhausted");
    assert_eq!(snapshot(&phone), before);
    // A write that changes nothing is a no-op even on an exhausted clock (R5.2).
    let none = phone.write(
        &key("t1"),
        &Actor::User,
        &obj(json!({"title": "end"})),
        t(0),
    );
    assert_eq!(none, Ok(None));
}

#[test]
fn r4_3_registers_are_equal_when_their_values_are_one_value_so_minus_zero_is_zero() {
    let a = user(json!(-0.0), 5, "w");
    let b = user(json!(0), 5, "w");
    assert_eq!(a, b);
    assert_ne!(a, user(json!(0.5), 5, "w"));
    let mut ra = Record::new();
    ra.merge_register("n", &a, Delivery::Live);
    let mut rb = Record::new();
    rb.merge_register("n", &b, Delivery::Live);
    assert_eq!(ra, rb);
}

#[test]
fn r3_2_origin_is_derived_from_the_actor() {
    fn check(actor: Actor, origin: Origin) {
        assert_eq!(actor.origin(), origin, "{actor:?}");
    }
    check(Actor::User, Origin::User);
    check(Actor::Ai, Origin::Agent);
    check(Actor::system(SYSTEM_MIGRATION), Origin::Migration);
    check(Actor::system("system:bootstrap"), Origin::System);
    check(Actor::system("system:cron"), Origin::System);
    check(Actor::system("migration"), Origin::System);
    // R3.1: an origin prints as its wire spelling.
    for (origin, text) in [
        (Origin::User, "user"),
        (Origin::Agent, "agent"),
        (Origin::Migration, "migration"),
        (Origin::System, "system"),
    ] {
        assert_eq!(origin.to_string(), text);
    }
}

// ---------------------------------------------------------------- R4

#[test]
fn r4_1_and_r4_2_greater_at_wins_and_equal_at_is_broken_by_writer_bytes() {
    fn check(a: Register, b: Register, winner: &str) {
        assert_eq!(a.clone().merge(b.clone()).by.as_str(), winner);
        assert_eq!(b.merge(a).by.as_str(), winner, "commutative");
    }
    check(user(json!(1), 5, "a"), user(json!(2), 6, "b"), "b");
    check(user(json!(1), 6, "a"), user(json!(2), 5, "b"), "a");
    check(user(json!(1), 5, "a"), user(json!(2), 5, "b"), "b");
    check(user(json!(1), 5, "B"), user(json!(2), 5, "a"), "a");
    check(user(json!(1), 5, ""), user(json!(2), 5, "a"), "a");
    check(user(json!(1), 5, "ab"), user(json!(2), 5, "a"), "ab");
    // The origin never decides between different versions.
    let agent = reg(json!(1), 5, "z", Origin::Agent, Base::First);
    check(agent, user(json!(2), 5, "y"), "z");
}

#[test]
fn r4_3_malformed_twins_are_an_anomaly_decided_by_value_then_origin_then_base() {
    let a = user(json!("apple"), 5, "w");
    let b = user(json!("banana"), 5, "w");
    assert_eq!(
        decide(Some(&a), &b, Delivery::Live),
        Decision::Twin { incoming_won: true }
    );
    assert_eq!(
        decide(Some(&b), &a, Delivery::Live),
        Decision::Twin {
            incoming_won: false
        }
    );
    assert_eq!(a.clone().merge(b.clone()).value, json!("banana"));
    let sys = reg(json!("apple"), 5, "w", Origin::System, Base::First);
    assert_eq!(a.clone().merge(sys.clone()).origin, Origin::System);
    let saw = reg(
        json!("apple"),
        5,
        "w",
        Origin::User,
        Base::Saw(Version {
            at: t(1),
            by: WriterId::new("q"),
        }),
    );
    let legacy = reg(json!("apple"), 5, "w", Origin::User, Base::Legacy);
    assert_eq!(legacy.clone().merge(a.clone()).base, Base::First);
    assert_eq!(a.clone().merge(saw.clone()).base, saw.base);
    // Through a replica: reported as an anomaly, never as a conflict.
    let mut phone = replica("phone");
    let wire = |v: &str| {
        change(json!({"table": "tasks", "id": "t1", "op": "update",
        "data": {"title": v}, "field_meta": {"title": {"at": "2026-04-26T10:00:00.005Z", "origin": "user", "base": null}},
        "client_id": "w"}))
    };
    phone.apply(&[wire("apple")], Delivery::Live);
    let report = phone.apply(&[wire("banana")], Delivery::Live);
    assert_eq!((report.conflicts.len(), report.anomalies.len()), (0, 1));
    assert_eq!(report.anomalies[0].kept.value, json!("banana"));
    assert_eq!(report.anomalies[0].dropped.value, json!("apple"));
}

#[test]
fn r4_4_json_values_have_one_total_order() {
    fn check(a: Value, b: Value, ord: Ordering) {
        assert_eq!(cmp_values(&a, &b), ord, "{a} vs {b}");
        assert_eq!(cmp_values(&b, &a), ord.reverse(), "{b} vs {a}");
    }
    use Ordering::*;
    check(json!(null), json!(false), Less);
    check(json!(false), json!(true), Less);
    check(json!(true), json!(-1000), Less);
    check(json!(1e300), json!(""), Less);
    check(json!("zzz"), json!([]), Less);
    check(json!([[[]]]), json!({}), Less);
    check(json!(1), json!(1.0), Equal);
    check(json!(1), json!(1.5), Less);
    check(json!(2), json!(1.5), Greater);
    check(json!(-0.0), json!(0.0), Equal);
    check(json!(0), json!(-0.0), Equal);
    check(json!(-1), json!(1.8446744073709552e19), Less);
    check(json!(-9.223372036854776e18), json!(-9.3e18), Greater);
    check(
        json!(9007199254740992_u64),
        json!(9007199254740992.0),
        Equal,
    );
    check(json!(9007199254740992_u64), json!(9007199254740994.0), Less);
    check(json!("B"), json!("a"), Less);
    check(json!("é"), json!("z"), Greater);
    check(json!([1, 2]), json!([1, 3]), Less);
    check(json!([1]), json!([1, 0]), Less);
    check(json!({"a": 2}), json!({"b": 1}), Less);
    check(json!({"a": 1}), json!({"a": 1, "b": 0}), Less);
    check(
        json!({"a": [1, {"x": null}]}),
        json!({"a": [1, {"x": null}]}),
        Equal,
    );
}

#[test]
fn r4_5_apply_in_any_order_with_duplicates_equals_state_merge() {
    let wire = |id: &str, at: &str, by: &str, value: i64| {
        change(json!({"table": "tasks", "id": id, "op": "update",
        "data": {"n": value}, "field_meta": {"n": {"at": at, "origin": "user", "by": by}}, "client_id": "c"}))
    };
    let changes = [
        wire("a", "2026-04-26T10:00:00.001Z", "x", 1),
        wire("a", "2026-04-26T10:00:00.001Z", "y", 2),
        wire("b", "2026-04-26T10:00:00.002Z", "x", 3),
        wire("a", "2026-04-26T10:00:00.000Z", "z", 4),
    ];
    let mut forward = replica("r");
    forward.apply(&changes, Delivery::Live);
    let mut backward = replica("r");
    let mut reversed = changes.to_vec();
    reversed.reverse();
    reversed.extend(changes.iter().cloned());
    backward.apply(&reversed, Delivery::Live);
    assert_eq!(forward.records(), backward.records());
    // State merge of two halves gives the same records.
    let (mut left, mut right) = (replica("r"), replica("s"));
    left.apply(&changes[..2], Delivery::Live);
    right.apply(&changes[2..], Delivery::Live);
    left.merge(&right);
    assert_eq!(left.records(), forward.records());
    assert_eq!(
        forward.record(&key("a")).unwrap().field("n").unwrap().value,
        json!(2)
    );
    // Record merge is commutative, idempotent.
    let (ra, rb) = (
        right.record(&key("a")).unwrap().clone(),
        forward.record(&key("b")).unwrap().clone(),
    );
    let mut ab: Record = ra.clone();
    ab.merge(&rb);
    let mut ba = rb.clone();
    ba.merge(&ra);
    assert_eq!(ab, ba);
    let mut aa = ab.clone();
    aa.merge(&ab);
    assert_eq!(aa, ab);
}

#[test]
fn r4_6_the_op_is_descriptive_an_insert_over_an_existing_record_merges_per_field() {
    let mut phone = replica("phone");
    phone
        .write(
            &key("t1"),
            &Actor::User,
            &obj(json!({"title": "mine", "done": true})),
            t(50),
        )
        .unwrap();
    let insert = change(json!({"table": "tasks", "id": "t1", "op": "insert",
        "data": {"title": "theirs", "notes": "n"},
        "field_meta": {"title": {"at": "2026-04-26T10:00:00.010Z", "origin": "user", "base": null},
                       "notes": {"at": "2026-04-26T10:00:00.010Z", "origin": "user", "base": null}},
        "client_id": "laptop"}));
    phone.apply(&[insert], Delivery::Live);
    let values = phone.record(&key("t1")).unwrap().values();
    assert_eq!(
        Value::Object(values),
        json!({"title": "mine", "done": true, "notes": "n"})
    );
}

// ---------------------------------------------------------------- R5

#[test]
fn r5_2_a_no_op_write_stamps_nothing_and_does_not_move_the_clock() {
    let mut phone = replica("phone");
    phone
        .write(
            &key("t1"),
            &Actor::User,
            &obj(json!({"n": 1, "o": {"a": [1]}})),
            t(5),
        )
        .unwrap();
    let before = snapshot(&phone);
    let none = phone
        .write(
            &key("t1"),
            &Actor::User,
            &obj(json!({"n": 1, "o": {"a": [1]}})),
            t(9),
        )
        .unwrap();
    assert!(none.is_none());
    assert_eq!(snapshot(&phone), before);
    // 1.0 is 1 (R4.4): that write changes nothing either; 1.5 does.
    let none = phone
        .write(&key("t1"), &Actor::User, &obj(json!({"n": 1.0})), t(9))
        .unwrap();
    assert!(none.is_none());
    let some = phone
        .write(&key("t1"), &Actor::User, &obj(json!({"n": 1.5})), t(9))
        .unwrap();
    assert_eq!(some.unwrap().writes().count(), 1);
}

#[test]
fn r5_3_a_write_carries_the_base_it_overwrote_and_one_at() {
    let mut phone = replica("phone");
    phone
        .write(&key("t1"), &Actor::User, &obj(json!({"a": 1})), t(5))
        .unwrap();
    let c = phone
        .write(&key("t1"), &Actor::Ai, &obj(json!({"a": 2, "b": 3})), t(7))
        .unwrap()
        .unwrap();
    let a = c.write("a").unwrap();
    let b = c.write("b").unwrap();
    assert_eq!(
        a.base,
        Base::Saw(Version {
            at: t(5),
            by: WriterId::new("phone")
        })
    );
    assert_eq!(b.base, Base::First);
    assert_eq!((a.at, b.at), (t(7), t(7)));
    assert_eq!((a.origin, b.origin), (Origin::Agent, Origin::Agent));
}

#[test]
fn r5_4_each_write_is_one_pending_change_without_local_only_fields() {
    let mut phone = replica("phone");
    phone
        .write(&key("t1"), &Actor::User, &obj(json!({"a": 1})), t(5))
        .unwrap();
    phone
        .write(&key("t1"), &Actor::User, &obj(json!({"a": 2})), t(6))
        .unwrap();
    phone.delete(&key("t1"), &Actor::User, t(7)).unwrap();
    let seqs: Vec<_> = phone.outbox().iter().map(|c| c.client_seq()).collect();
    assert_eq!(seqs, [Some(1), Some(2), Some(3)]);
    for c in phone.outbox() {
        let wire = c.to_wire();
        assert!(wire["data"].get("_updatedAtIndex").is_none());
        assert!(wire["field_meta"].get("_updatedAtIndex").is_none());
    }
    assert_eq!(phone.outbox()[2].to_wire()["op"], json!("delete"));
}

// ---------------------------------------------------------------- R6

/// R6.1-R6.4: a report's tally counts every decision by its rule; two
/// tallies add field by field, and the total counts every decision once.
#[test]
fn r6_1_a_tally_adds_field_by_field_and_totals_every_decision() {
    fn tally(n: [u64; 10]) -> fieldmerge::Tally {
        fieldmerge::Tally {
            inserted: n[0],
            duplicate: n[1],
            stale: n[2],
            twin: n[3],
            overwrite_not_user: n[4],
            overwrite_same_value: n[5],
            overwrite_witnessed: n[6],
            overwrite_legacy_hydration: n[7],
            conflict_unwitnessed: n[8],
            conflict_legacy: n[9],
        }
    }
    // Distinct powers of two: any slot added to another, subtracted or
    // multiplied shows in the sums.
    let a = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512];
    let b = [
        3 << 10,
        3 << 12,
        3 << 14,
        3 << 16,
        3 << 18,
        3 << 20,
        3 << 22,
        3 << 24,
        3 << 26,
        3 << 28,
    ];
    let mut sum = tally(a);
    sum.add(&tally(b));
    let expected: Vec<u64> = a.iter().zip(&b).map(|(x, y)| x + y).collect();
    assert_eq!(sum, tally(expected.clone().try_into().unwrap()));
    assert_eq!(sum.total(), expected.iter().sum::<u64>());
    assert_eq!(tally(a).total(), 1023);
}

#[test]
fn r6_1_to_r6_3_every_decision_names_its_rule() {
    fn check(current: Option<Register>, incoming: Register, delivery: Delivery, want: Decision) {
        assert_eq!(
            decide(current.as_ref(), &incoming, delivery),
            want,
            "{current:?} <- {incoming:?}"
        );
    }
    let mine = user(json!("mine"), 10, "phone");
    let saw = Base::Saw(mine.version());
    let live = Delivery::Live;
    check(None, mine.clone(), live, Decision::Insert);
    check(Some(mine.clone()), mine.clone(), live, Decision::Duplicate);
    check(
        Some(mine.clone()),
        user(json!("old"), 9, "z"),
        live,
        Decision::Stale,
    );
    check(
        Some(reg(json!("a"), 10, "phone", Origin::Agent, Base::First)),
        user(json!("b"), 11, "x"),
        live,
        Decision::Overwrite(Silence::LoserNotUser),
    );
    check(
        Some(reg(json!("a"), 10, "phone", Origin::Migration, Base::First)),
        user(json!("b"), 11, "x"),
        live,
        Decision::Overwrite(Silence::LoserNotUser),
    );
    check(
        Some(mine.clone()),
        user(json!("mine"), 11, "x"),
        live,
        Decision::Overwrite(Silence::SameValue),
    );
    check(
        Some(mine.clone()),
        reg(json!("b"), 11, "x", Origin::Agent, saw.clone()),
        live,
        Decision::Overwrite(Silence::Witnessed),
    );
    check(
        Some(mine.clone()),
        reg(json!("b"), 11, "x", Origin::Agent, Base::First),
        live,
        Decision::Conflict(ConflictRule::Unwitnessed),
    );
    let other = Base::Saw(Version {
        at: t(9),
        by: WriterId::new("phone"),
    });
    check(
        Some(mine.clone()),
        reg(json!("b"), 11, "x", Origin::User, other),
        live,
        Decision::Conflict(ConflictRule::Unwitnessed),
    );
    check(
        Some(mine.clone()),
        reg(json!("b"), 11, "x", Origin::User, Base::Legacy),
        live,
        Decision::Conflict(ConflictRule::Legacy),
    );
    check(
        Some(mine.clone()),
        reg(json!("b"), 11, "x", Origin::User, Base::Legacy),
        Delivery::Hydration,
        Decision::Overwrite(Silence::LegacyHydration),
    );
    // Hydration exempts legacy changes only (R6.9).
    check(
        Some(mine),
        reg(json!("b"), 11, "x", Origin::User, Base::First),
        Delivery::Hydration,
        Decision::Conflict(ConflictRule::Unwitnessed),
    );
}

#[test]
fn r6_5_pages_that_do_not_continue_the_cursor_are_refused_and_change_nothing() {
    let mut server = Server::new(ServerConfig::default());
    let mut laptop = replica("laptop");
    for i in 0..3 {
        laptop
            .write(&key("t1"), &Actor::User, &obj(json!({"n": i})), t(i))
            .unwrap();
    }
    sync(&mut laptop, &mut server, t(10));
    let mut phone = replica("phone");
    phone.apply_page(&server.pull(0, 1)).unwrap();
    let before = snapshot(&phone);
    fn check(phone: &mut Replica, page: Page, code: &str, before: &Value) {
        assert_eq!(phone.apply_page(&page).unwrap_err().code(), code);
        assert_eq!(&snapshot(phone), before);
    }
    check(&mut phone, server.pull(0, 3), "not_at_cursor", &before);
    check(&mut phone, server.pull(2, 3), "not_at_cursor", &before);
    let skip = Page {
        after: 1,
        changes: vec![server.log()[2].clone()],
        head: 3,
        quarantined: Vec::new(),
        log: None,
    };
    check(&mut phone, skip, "not_consecutive", &before);
    let behind = Page {
        after: 1,
        changes: server.log()[1..3].to_vec(),
        head: 2,
        quarantined: Vec::new(),
        log: None,
    };
    check(&mut phone, behind, "head_behind", &before);
    assert!(phone.apply_page(&server.pull(1, 5)).is_ok());
    assert_eq!(phone.cursor(), Some(3));
}

#[test]
fn r6_6_state_merge_may_report_a_conflict_the_log_would_not() {
    // The desk saw the phone's v1 and wrote v2 over it; a replica holding an
    // older v0 by the phone's user merges the desk's state directly.
    let mut desk = replica("desk");
    let v1 = change(
        json!({"table": "tasks", "id": "t1", "op": "update", "data": {"t": "v1"},
        "field_meta": {"t": {"at": "2026-04-26T10:00:00.001Z", "origin": "user", "by": "phone"}}, "client_id": "phone"}),
    );
    desk.apply(&[v1], Delivery::Live);
    desk.write(&key("t1"), &Actor::User, &obj(json!({"t": "v2"})), t(2))
        .unwrap();
    // Acknowledged: a state merge copies no pending write (R4.5).
    desk.ack(Some(1));
    let mut old = replica("old");
    let v0 = change(
        json!({"table": "tasks", "id": "t1", "op": "update", "data": {"t": "v0"},
        "field_meta": {"t": {"at": "2026-04-26T10:00:00.000Z", "origin": "user", "base": null}}, "client_id": "phone"}),
    );
    old.apply(&[v0], Delivery::Live);
    let report = old.merge(&desk);
    assert_eq!(
        report.conflicts.len(),
        1,
        "v2's base names v1, which `old` never had"
    );
    assert_eq!(
        old.records(),
        desk.records(),
        "convergence holds regardless"
    );
}

#[test]
fn r6_8_a_conflict_report_names_record_field_loser_winner_and_locality() {
    let mut phone = replica("phone");
    phone
        .write(
            &key("t1"),
            &Actor::User,
            &obj(json!({"title": "mine"})),
            t(5),
        )
        .unwrap();
    let theirs = change(
        json!({"table": "tasks", "id": "t1", "op": "update", "data": {"title": "theirs"},
        "field_meta": {"title": {"at": "2026-04-26T10:00:00.009Z", "origin": "user", "base": null}}, "client_id": "laptop"}),
    );
    let report = phone.apply(std::slice::from_ref(&theirs), Delivery::Live);
    let c = &report.conflicts[0];
    assert_eq!((c.key.clone(), c.field.as_str()), (key("t1"), "title"));
    assert_eq!(
        (c.loser.value.clone(), c.loser.by.as_str()),
        (json!("mine"), "phone")
    );
    assert_eq!(&c.winner, theirs.write("title").unwrap());
    assert!(c.loser_is_local);
    assert_eq!(c.rule, ConflictRule::Unwitnessed);
    // A third replica holding the phone's value reports it as not local.
    let mut desk = replica("desk");
    desk.apply(&phone.outbox()[..1], Delivery::Live);
    let report = desk.apply(&[theirs], Delivery::Live);
    assert!(!report.conflicts[0].loser_is_local);
}

// ---------------------------------------------------------------- R8, R9

#[test]
fn r8_1_the_shadow_index_follows_tombstones_restores_and_merges() {
    let mut phone = replica("phone");
    let k = key("t1");
    phone
        .write(&k, &Actor::User, &obj(json!({"a": 1})), t(5))
        .unwrap();
    phone.delete(&k, &Actor::User, t(8)).unwrap();
    assert_eq!(phone.record(&k).unwrap().updated_at_index(), Some(t(8)));
    phone.restore(&k, &Actor::User, t(12)).unwrap();
    assert_eq!(phone.record(&k).unwrap().updated_at_index(), Some(t(12)));
    let tomb = change(
        json!({"table": "tasks", "id": "t1", "op": "delete", "data": {"deletedAt": "2026-04-26T10:00:00.020Z"},
        "field_meta": {"deletedAt": {"at": "2026-04-26T10:00:00.020Z", "origin": "user", "base": null}}, "client_id": "laptop"}),
    );
    phone.apply(&[tomb], Delivery::Live);
    let record = phone.record(&k).unwrap();
    assert_eq!(record.updated_at_index(), Some(t(20)));
    assert_eq!(record.updated_at_index(), record.derive_updated_at());
}

#[test]
fn r9_1_delete_and_restore_are_lww_writes_of_the_tombstone() {
    let mut phone = replica("phone");
    let k = key("t1");
    assert_eq!(
        phone.delete(&k, &Actor::User, t(1)).unwrap_err().code(),
        "no_such_record"
    );
    phone
        .write(&k, &Actor::User, &obj(json!({"a": 1})), t(5))
        .unwrap();
    assert!(
        phone.restore(&k, &Actor::User, t(6)).unwrap().is_none(),
        "not deleted"
    );
    let c = phone.delete(&k, &Actor::User, t(8)).unwrap().unwrap();
    assert_eq!(
        c.write("deletedAt").unwrap().value,
        json!("2026-04-26T10:00:00.008Z")
    );
    assert!(phone.record(&k).unwrap().is_deleted());
    assert!(
        phone.delete(&k, &Actor::User, t(9)).unwrap().is_none(),
        "already deleted"
    );
    phone.restore(&k, &Actor::User, t(10)).unwrap().unwrap();
    assert!(!phone.record(&k).unwrap().is_deleted());
    assert_eq!(
        phone.record(&k).unwrap().field("deletedAt").unwrap().value,
        Value::Null
    );
}

#[test]
fn r9_2_concurrent_edit_and_delete_keep_the_edit_under_a_deleted_record() {
    let mut server = Server::new(ServerConfig::default());
    let (mut phone, mut laptop) = (replica("phone"), replica("laptop"));
    let k = key("t1");
    phone
        .write(&k, &Actor::User, &obj(json!({"title": "a"})), t(0))
        .unwrap();
    sync(&mut phone, &mut server, t(1));
    sync(&mut laptop, &mut server, t(2));
    laptop.delete(&k, &Actor::User, t(10)).unwrap();
    phone
        .write(&k, &Actor::User, &obj(json!({"title": "edited"})), t(20))
        .unwrap();
    sync(&mut laptop, &mut server, t(30));
    sync(&mut phone, &mut server, t(31));
    sync(&mut laptop, &mut server, t(32));
    for r in [&phone, &laptop] {
        let record = r.record(&k).unwrap();
        assert!(record.is_deleted(), "{}", r.client_id());
        assert_eq!(record.field("title").unwrap().value, json!("edited"));
    }
    assert_eq!(phone.records(), laptop.records());
    laptop.restore(&k, &Actor::User, t(40)).unwrap();
    assert_eq!(
        laptop.record(&k).unwrap().field("title").unwrap().value,
        json!("edited")
    );
}

#[test]
fn r9_3_a_tombstone_over_a_newer_local_user_edit_is_reported_once() {
    let mut phone = replica("phone");
    let k = key("t1");
    phone
        .write(&k, &Actor::User, &obj(json!({"title": "a"})), t(50))
        .unwrap();
    let tomb = change(
        json!({"table": "tasks", "id": "t1", "op": "delete", "data": {"deletedAt": "x"},
        "field_meta": {"deletedAt": {"at": "2026-04-26T10:00:00.010Z", "origin": "user", "base": null}}, "client_id": "laptop"}),
    );
    let report = phone.apply(std::slice::from_ref(&tomb), Delivery::Live);
    assert_eq!(report.hidden_edits.len(), 1);
    assert_eq!(report.hidden_edits[0].field, "title");
    assert!(report.conflicts.is_empty());
    assert!(
        phone.apply(&[tomb], Delivery::Live).hidden_edits.is_empty(),
        "already deleted"
    );
    // An older edit (which the deleter may have seen) is not reported (R9.3).
    let mut desk = replica("desk");
    desk.write(&k, &Actor::User, &obj(json!({"title": "a"})), t(5))
        .unwrap();
    let later = change(
        json!({"table": "tasks", "id": "t1", "op": "delete", "data": {"deletedAt": "x"},
        "field_meta": {"deletedAt": {"at": "2026-04-26T10:00:00.010Z", "origin": "user", "base": null}}, "client_id": "laptop"}),
    );
    assert!(desk.apply(&[later], Delivery::Live).hidden_edits.is_empty());
}

// ---------------------------------------------------------------- R10

#[test]
fn r10_2_and_r10_3_singleton_keys_are_derived_and_bootstrap_is_a_no_op_when_the_record_exists() {
    assert_eq!(
        RecordKey::singleton("userContext", "u1"),
        RecordKey::new("userContext", "userContext:u1")
    );
    let k = RecordKey::singleton("userContext", "u1");
    let mut phone = replica("phone");
    phone
        .write(&k, &Actor::User, &obj(json!({"about": "me"})), t(0))
        .unwrap();
    let before = snapshot(&phone);
    assert!(phone
        .bootstrap(&k, &obj(json!({"about": ""})))
        .unwrap()
        .is_none());
    assert_eq!(snapshot(&phone), before);
}

// A phone's placeholder and the server's bootstrap row of one singleton,
// from app versions whose defaults differ: malformed twins (R10.4).
fn placeholder_and_server_row_with_other_defaults() -> (Replica, Server) {
    let k = RecordKey::singleton("userContext", "u1");
    let mut phone = replica("phone");
    phone
        .bootstrap(&k, &obj(json!({"about": "old default"})))
        .unwrap();
    let mut server = Server::new(ServerConfig::default());
    server.bootstrap(&k, &obj(json!({"about": ""}))).unwrap();
    (phone, server)
}

#[test]
fn r10_4_placeholders_with_different_defaults_are_an_anomaly_not_a_conflict() {
    let (mut phone, server) = placeholder_and_server_row_with_other_defaults();
    let report = phone.apply_page(&server.pull(0, 10)).unwrap();
    assert_eq!((report.conflicts.len(), report.anomalies.len()), (0, 1));
}

/// R10.4, R11.6: a placeholder is a change, so 1024 default fields are
/// accepted, on a replica and on the server, and 1025 are too many.
#[test]
fn r10_4_a_placeholder_of_1024_fields_is_accepted_and_one_more_is_too_many() {
    let fields = |n: usize| -> serde_json::Map<String, Value> {
        (0..n).map(|i| (format!("f{i:04}"), json!(i))).collect()
    };
    let k = RecordKey::singleton("userContext", "u1");
    let mut phone = replica("phone");
    let before = phone.clone();
    let err = phone.bootstrap(&k, &fields(1025)).unwrap_err();
    assert_eq!((err.code(), &phone), ("too_many_fields", &before));
    let placeholder = phone.bootstrap(&k, &fields(1024)).unwrap().unwrap();
    assert_eq!(placeholder.writes().count(), 1024);
    let mut server = Server::new(ServerConfig::default());
    assert_eq!(
        server.bootstrap(&k, &fields(1025)).unwrap_err().code(),
        "too_many_fields"
    );
    // An agent write is bound the same way (R12.4).
    let agent = WriterId::new("agent");
    let write = |server: &mut Server, n: usize| {
        server.write(&agent, &Actor::Ai, &key("t9"), &fields(n), t(0))
    };
    assert_eq!(
        write(&mut server, 1025).unwrap_err().code(),
        "too_many_fields"
    );
    assert_eq!(
        write(&mut server, 1024).unwrap().unwrap().writes().count(),
        1024
    );
    assert_eq!(
        server
            .bootstrap(&k, &fields(1024))
            .unwrap()
            .unwrap()
            .writes()
            .count(),
        1024
    );
}

#[test]
fn r6_7_a_losing_twin_delivered_again_is_an_anomaly_again_and_changes_nothing() {
    let (mut phone, server) = placeholder_and_server_row_with_other_defaults();
    let page = server.pull(0, 10);
    let first = phone.apply_page(&page).unwrap();
    // R4.4: "" sorts before "old default", so the server's twin loses.
    assert_eq!(first.anomalies.len(), 1);
    assert_eq!(first.anomalies[0].dropped.value, json!(""));
    let before = phone.clone();
    for delivery in [Delivery::Live, Delivery::Hydration] {
        let again = phone.apply(&page.changes, delivery);
        assert_eq!(again.anomalies, first.anomalies, "{delivery:?}");
        assert!(again.conflicts.is_empty(), "{delivery:?}");
        assert_eq!(again.tally.twin, 1, "{delivery:?}");
        assert_eq!(phone, before, "{delivery:?}");
    }
}

// ---------------------------------------------------------------- R11

#[test]
fn r11_3_absent_base_is_legacy_null_base_is_a_first_write_and_by_defaults_to_the_client() {
    let decode = |meta: Value| {
        change(
            json!({"table": "tasks", "id": "t1", "op": "update", "data": {"a": 1},
        "field_meta": {"a": meta}, "client_id": "phone"}),
        )
        .write("a")
        .unwrap()
        .clone()
    };
    let at = "2026-04-26T10:00:00.000Z";
    assert_eq!(
        decode(json!({"at": at, "origin": "user"})).base,
        Base::Legacy
    );
    assert_eq!(
        decode(json!({"at": at, "origin": "user", "base": null})).base,
        Base::First
    );
    let saw = decode(json!({"at": at, "origin": "user", "base": {"at": at, "by": "x"}})).base;
    assert_eq!(
        saw,
        Base::Saw(Version {
            at: t(0),
            by: WriterId::new("x")
        })
    );
    assert_eq!(
        decode(json!({"at": at, "origin": "user"})).by.as_str(),
        "phone"
    );
    assert_eq!(
        decode(json!({"at": at, "origin": "user", "by": ""}))
            .by
            .as_str(),
        ""
    );
}

#[test]
fn r11_4_encoding_is_canonical_and_round_trips() {
    let wire = json!({"table": "tasks", "id": "t1", "op": "update", "data": {"b": [1.5, -0.0], "a": null},
        "field_meta": {"a": {"at": "2026-04-26T10:00:00.000Z", "origin": "agent"},
                       "b": {"at": "2026-04-26T10:00:00.000Z", "origin": "user", "by": "x", "base": null}},
        "client_id": "phone", "client_seq": 3, "server_seq": 9});
    let c = change(wire);
    let out = c.to_wire();
    assert_eq!(
        out["field_meta"]["a"],
        json!({"at": "2026-04-26T10:00:00.000Z", "origin": "agent", "by": "phone"})
    );
    let text = serde_json::to_string(&out).unwrap();
    let back = decode_changes(format!("[{text}]").as_bytes()).unwrap();
    assert_eq!(back, vec![c]);
    // Canonical (R4.4): -0.0 is the integer 0.
    assert_eq!(back[0].write("b").unwrap().value, json!([1.5, 0]));
    assert!(back[0].write("b").unwrap().value[1].is_i64());
}

#[test]
fn r11_5_bad_changes_are_typed_errors_naming_change_and_field() {
    fn check(wire: Value, code: &str, index: usize, field: Option<&str>) {
        let batch = json!([{"table": "tasks", "id": "ok", "op": "update", "data": {"a": 1},
            "field_meta": {"a": {"at": "2026-04-26T10:00:00.000Z", "origin": "user"}}, "client_id": "c"}, wire]);
        let err = decode_changes(batch.to_string().as_bytes()).unwrap_err();
        assert_eq!(
            (err.kind.code(), err.index, err.field.as_deref()),
            (code, index, field),
            "{err}"
        );
    }
    let at = "2026-04-26T10:00:00.000Z";
    let base = |data: Value, meta: Value| json!({"table": "tasks", "id": "t1", "op": "update", "data": data, "field_meta": meta, "client_id": "c"});
    check(json!(1), "wrong_type", 1, None);
    check(json!({"table": "tasks"}), "missing", 1, None);
    check(
        json!({"table": "tasks", "id": "t1", "op": "upsert", "data": {}, "field_meta": {}, "client_id": "c"}),
        "unknown_op",
        1,
        None,
    );
    check(
        base(
            json!({"a": 1}),
            json!({"a": {"at": "2026-04-26T10:00:00Z", "origin": "user"}}),
        ),
        "bad_timestamp",
        1,
        Some("a"),
    );
    check(
        base(json!({"a": 1}), json!({"a": {"at": at, "origin": "robot"}})),
        "unknown_origin",
        1,
        Some("a"),
    );
    check(
        base(
            json!({"a": 1}),
            json!({"a": {"at": at, "origin": "user"}, "b": {"at": at, "origin": "user"}}),
        ),
        "meta_without_data",
        1,
        Some("b"),
    );
    check(
        base(
            json!({"a": 1, "b": 2}),
            json!({"a": {"at": at, "origin": "user"}}),
        ),
        "data_without_meta",
        1,
        Some("b"),
    );
    check(base(json!({}), json!({})), "empty_change", 1, None);
    check(
        base(
            json!({"_updatedAtIndex": 1}),
            json!({"_updatedAtIndex": {"at": at, "origin": "user"}}),
        ),
        "local_only_field",
        1,
        Some("_updatedAtIndex"),
    );
    check(
        base(
            json!({"a": 1}),
            json!({"a": {"at": at, "origin": "user", "colour": 1}}),
        ),
        "unknown_member",
        1,
        Some("a"),
    );
    check(
        base(json!({"a": 1}), json!({"a": {"at": 5, "origin": "user"}})),
        "wrong_type",
        1,
        Some("a"),
    );
    check(
        json!({"table": "", "id": "t1", "op": "update", "data": {"a": 1}, "field_meta": {"a": {"at": at, "origin": "user"}}, "client_id": "c"}),
        "bad_name",
        1,
        None,
    );
    check(
        json!({"table": "tasks", "id": "t1", "op": "delete", "data": {"a": 1}, "field_meta": {"a": {"at": at, "origin": "user"}}, "client_id": "c"}),
        "delete_without_tombstone",
        1,
        None,
    );
    let mut deep = json!(1);
    for _ in 0..129 {
        deep = json!([deep]);
    }
    let err = fieldmerge::Change::from_wire(
        &base(
            json!({"a": deep}),
            json!({"a": {"at": at, "origin": "user"}}),
        ),
        0,
    )
    .unwrap_err();
    assert_eq!(err.kind.code(), "too_deep");
    assert_eq!(decode_changes(b"[{").unwrap_err().kind.code(), "json");
}

#[test]
fn r5_5_a_replica_whose_client_id_is_no_name_refuses_every_local_write() {
    for id in [String::new(), "p".repeat(257)] {
        let mut phone = Replica::new(WriterId::new(&id));
        let k = key("t1");
        // The replica holds a live and a deleted record another writer made.
        let (mut laptop, gone) = (replica("laptop"), key("t2"));
        let made = [
            laptop.write(&k, &Actor::User, &obj(json!({"a": 0})), t(0)),
            laptop.write(&gone, &Actor::User, &obj(json!({"a": 0})), t(0)),
            laptop.delete(&gone, &Actor::User, t(0)),
        ];
        let made: Vec<_> = made.into_iter().map(|c| c.unwrap().unwrap()).collect();
        phone.apply(&made, Delivery::Live);
        let before = phone.clone();
        let errors = [
            phone.write(&k, &Actor::User, &obj(json!({"a": 1})), t(1)),
            phone.delete(&k, &Actor::User, t(1)),
            phone.restore(&gone, &Actor::User, t(1)),
            phone.bootstrap(
                &RecordKey::singleton("userContext", "u1"),
                &obj(json!({"a": 1})),
            ),
        ]
        .map(|r| r.map(|_| ()).map_err(|e| e.code()));
        assert_eq!(errors, [Err("bad_name"); 4], "{id:?}");
        assert_eq!(phone, before);
    }
    let mut fine = Replica::new(WriterId::new(&"p".repeat(256)));
    let c = fine.write(&key("t1"), &Actor::User, &obj(json!({"a": 1})), t(1));
    let c = c
        .expect("a 256-byte client id is a name")
        .expect("a change");
    assert_eq!(fieldmerge::Change::from_wire(&c.to_wire(), 0), Ok(c));
}

/// R11.6: each limit admits its bound and refuses one past it, from the
/// wire and in memory; too many entries are refused before any field is
/// read, whichever of `data` and `field_meta` has them.
#[test]
fn r11_6_every_limit_admits_its_bound_and_refuses_one_past_it() {
    let at = "2026-04-26T10:00:00.000Z";
    let wire = |fields: usize, metas: usize, by: &str, base_by: &str, name: &str| {
        let data: serde_json::Map<String, Value> = (0..fields)
            .map(|i| (format!("{name}{i:04}"), json!(i)))
            .collect();
        let meta: serde_json::Map<String, Value> = (0..metas)
            .map(|i| {
                let m = json!({"at": at, "origin": "user", "by": by, "base": {"at": at, "by": base_by}});
                (format!("{name}{i:04}"), m)
            })
            .collect();
        json!({"table": "tasks", "id": "t1", "op": "update", "data": data, "field_meta": meta, "client_id": "c"})
    };
    fn check(wire: Value, expected: Result<(), (&str, Option<&str>)>) {
        let got = fieldmerge::Change::from_wire(&wire, 0).map(|_| ());
        let got = got.map_err(|e| (e.kind.code(), e.field));
        let expected = expected.map_err(|(code, field)| (code, field.map(str::to_owned)));
        assert_eq!(got, expected, "{:.200}", wire.to_string());
    }
    let (w256, w257) = ("w".repeat(256), "w".repeat(257));
    let n252 = "n".repeat(252); // + 4 digits = 256 bytes
    let n253 = "n".repeat(253);
    check(wire(1024, 1024, "c", "d", "f"), Ok(()));
    check(
        wire(1025, 1025, "c", "d", "f"),
        Err(("too_many_fields", None)),
    );
    check(
        wire(1025, 1024, "c", "d", "f"),
        Err(("too_many_fields", None)),
    );
    check(
        wire(1024, 1025, "c", "d", "f"),
        Err(("too_many_fields", None)),
    );
    check(wire(1, 1, &w256, &w256, &n252), Ok(()));
    check(
        wire(1, 1, &w257, "d", "f"),
        Err(("bad_name", Some("f0000"))),
    );
    check(
        wire(1, 1, "c", &w257, "f"),
        Err(("bad_name", Some("f0000"))),
    );
    // The error names the field by its first 256 bytes (R11.5): an error
    // never echoes more of an input than that.
    let long_field = format!("{n253}000");
    check(
        wire(1, 1, "c", "d", &n253),
        Err(("bad_name", Some(long_field.as_str()))),
    );
    for (table, id, ok) in [
        (w256.as_str(), "t1", true),
        ("t", w256.as_str(), true),
        (w257.as_str(), "t1", false),
        ("t", w257.as_str(), false),
    ] {
        let w = json!({"table": table, "id": id, "op": "update", "data": {"a": 1},
            "field_meta": {"a": {"at": at, "origin": "user"}}, "client_id": "c"});
        check(w, if ok { Ok(()) } else { Err(("bad_name", None)) });
    }
    // In memory: the same bounds.
    let writes = |n: usize, by: &str| -> Vec<(String, Register)> {
        (0..n)
            .map(|i| (format!("f{i:04}"), user(json!(i), 1, by)))
            .collect()
    };
    let new = |writes: Vec<(String, Register)>| {
        fieldmerge::Change::new(
            RecordKey::new("tasks", "t1"),
            fieldmerge::Op::Update,
            writes,
            WriterId::new("c"),
            None,
        )
        .map(|_| ())
        .map_err(|e| e.kind.code())
    };
    assert_eq!(new(writes(1024, "c")), Ok(()));
    assert_eq!(new(writes(1025, "c")), Err("too_many_fields"));
    assert_eq!(new(writes(1, &w256)), Ok(()));
    assert_eq!(new(writes(1, &w257)), Err("bad_name"));
    // A register whose base names a writer past the limit: its wire form
    // could not decode (R11.4), so it is refused when built.
    let saw = |by: &str| {
        let base = Base::Saw(Version {
            at: t(0),
            by: WriterId::new(by),
        });
        vec![("a".to_owned(), reg(json!(1), 1, "c", Origin::User, base))]
    };
    assert_eq!(new(saw(&w256)), Ok(()));
    assert_eq!(new(saw(&w257)), Err("bad_name"));
}

// ---------------------------------------------------------------- R12

#[test]
fn r12_1_pushes_are_deduplicated_by_client_sequence_and_validated_whole() {
    let mut server = Server::new(ServerConfig::default());
    let mut phone = replica("phone");
    for i in 0..3 {
        phone
            .write(&key("t1"), &Actor::User, &obj(json!({"n": i})), t(i))
            .unwrap();
    }
    let push = phone.push();
    let reply = server.push(&push, t(10)).unwrap();
    assert_eq!(
        (reply.appended, reply.acked_through, server.head()),
        (3, Some(3), 3)
    );
    // A retry appends nothing and acks the same.
    let reply = server.push(&push, t(11)).unwrap();
    assert_eq!(
        (reply.appended, reply.acked_through, server.head()),
        (0, Some(3), 3)
    );
    // Invalid pushes change nothing.
    let before = server.clone();
    fn check(server: &mut Server, push: Push, code: &str, before: &Server) {
        assert_eq!(server.push(&push, t(12)).unwrap_err().code(), code);
        assert_eq!(server, before);
    }
    let mut later = phone.clone();
    later.ack(Some(3));
    later
        .write(&key("t1"), &Actor::User, &obj(json!({"n": 9})), t(20))
        .unwrap();
    later
        .write(&key("t1"), &Actor::User, &obj(json!({"n": 10})), t(21))
        .unwrap();
    let gap = Push {
        changes: later.outbox()[1..].to_vec(),
        ..later.push()
    };
    check(&mut server, gap.clone(), "seq_gap", &before);
    // The refusal says which number the server expects.
    assert_eq!(
        server.push(&gap, t(12)),
        Err(PushError::Gap {
            expected: 4,
            found: 5
        })
    );
    let mut reversed = later.push();
    reversed.changes.reverse();
    check(&mut server, reversed, "seq_order", &before);
    let foreign = Push {
        client_id: WriterId::new("laptop"),
        ..later.push()
    };
    check(&mut server, foreign, "foreign_change", &before);
    let unsequenced = Push {
        changes: vec![change(
            json!({"table": "tasks", "id": "t1", "op": "update", "data": {"a": 1},
        "field_meta": {"a": {"at": "2026-04-26T10:00:00.000Z", "origin": "user"}}, "client_id": "phone"}),
        )],
        ..later.push()
    };
    check(&mut server, unsequenced, "missing_seq", &before);
}

/// R12.3, R12.4: a pending change stamped exactly `server_now +
/// skew_ms_max` is within the server's limit, and so is one forced 1 ms
/// past the log's high stamp as the changes before it raise it; the server
/// refuses the first change past the limit, and the correction keeps every
/// stamp before it and restamps that one from corrected time.
#[test]
fn r12_4_a_change_within_the_servers_limit_keeps_its_stamp() {
    let skew_ms_max = 60_000;
    let mut phone = replica("phone");
    let at_bound = t(skew_ms_max);
    let write = |phone: &mut Replica, id: &str, p: Value, now: Timestamp| {
        phone.write(&key(id), &Actor::User, &obj(p), now).unwrap();
    };
    write(&mut phone, "t1", json!({"a": 1}), at_bound);
    // The same record in the same millisecond: forced 1 ms on (R2.2).
    write(&mut phone, "t1", json!({"b": 1}), at_bound);
    write(&mut phone, "t2", json!({"a": 1}), t(skew_ms_max + 5));
    let stamps =
        |phone: &Replica| -> Vec<_> { phone.outbox().iter().map(|c| c.max_at()).collect() };
    assert_eq!(
        stamps(&phone),
        [
            Some(at_bound),
            Some(t(skew_ms_max + 1)),
            Some(t(skew_ms_max + 5))
        ]
    );
    let mut server = Server::new(ServerConfig::new(skew_ms_max, 10).expect("valid"));
    let refusal = server.push(&phone.push(), t(0)).unwrap_err();
    assert!(
        matches!(refusal, fieldmerge::PushError::ClockAhead { index: 2, .. }),
        "{refusal:?}"
    );
    phone
        .correct_clock(&refusal.clock_correction().unwrap(), t(skew_ms_max + 5))
        .unwrap();
    assert_eq!(
        stamps(&phone),
        [Some(at_bound), Some(t(skew_ms_max + 1)), Some(t(0))]
    );
    assert_eq!(server.push(&phone.push(), t(0)).unwrap().appended, 3);
}

/// R12.4, clock epochs: a copy of a push made before a correction, still in
/// flight when the server's clock has caught up with its stamps, is refused
/// as `stale_clock`, so the client's later write is the one that wins; the
/// refusal of an old push is old news to the corrected client; a client
/// that lost its correction (reloaded from before it) corrects again.
#[test]
fn r12_4_a_push_made_before_a_clock_correction_never_reaches_the_log() {
    let mut server = Server::new(ServerConfig::default());
    let mut phone = replica("phone");
    let ahead = t(3_600_000);
    let k = key("t1");
    phone
        .write(&k, &Actor::User, &obj(json!({"title": "a"})), ahead)
        .unwrap();
    let before_correction = ReplicaState::of(&phone);
    let copy = phone.push(); // a copy the network will deliver late
    let refusal = server.push(&phone.push(), t(0)).unwrap_err();
    let correction = refusal.clock_correction().unwrap();
    phone.correct_clock(&correction, ahead).unwrap();
    phone
        .write(
            &k,
            &Actor::User,
            &obj(json!({"title": "b"})),
            ahead.saturating_add_ms(1),
        )
        .unwrap();
    // An hour later the copy arrives: its stamps are within the skew now.
    let late = server.push(&copy, ahead).unwrap_err();
    assert_eq!(late.code(), "stale_clock");
    assert_eq!(server.head(), 0);
    // Its refusal is old news to the corrected phone.
    let unchanged = phone.clone();
    phone
        .correct_clock(&late.clock_correction().unwrap(), ahead)
        .unwrap();
    assert_eq!(phone, unchanged);
    let reply = server.push(&phone.push(), ahead).unwrap();
    assert_eq!((reply.appended, server.head()), (2, 2));
    // A copy arriving even later still says what the log holds.
    let later = server.push(&copy, ahead.saturating_add_ms(1)).unwrap_err();
    assert_eq!(
        (later.code(), later.acked_through()),
        ("stale_clock", Some(2))
    );
    assert_eq!(
        server.record(&k).unwrap().field("title").unwrap().value,
        json!("b")
    );

    // A phone that lost its correction: reloaded from before it.
    let mut lost = before_correction.load().unwrap();
    let mut server = Server::new(ServerConfig::default());
    let first = server.push(&lost.push(), t(0)).unwrap_err();
    assert_eq!(first.code(), "clock_ahead");
    let again = server.push(&lost.push(), ahead).unwrap_err();
    assert_eq!(again.code(), "stale_clock");
    lost.ack(again.acked_through());
    lost.correct_clock(&again.clock_correction().unwrap(), ahead)
        .unwrap();
    assert_eq!(lost.clock().epoch, 1);
    assert_eq!(server.push(&lost.push(), ahead).unwrap().appended, 1);
}

/// R12.1, R12.5: a device restored from a backup older than its last push
/// reuses `client_seq` 1 for a new edit. Deduplicated as a retry, the edit
/// would be lost without a word; the server refuses the push instead, and a
/// new replica (new client id) carries the edit.
#[test]
fn r12_1_a_reused_client_seq_with_new_content_is_refused_not_dropped() {
    let mut server = Server::new(ServerConfig::default());
    let mut phone = replica("phone");
    let backup = ReplicaState::of(&phone);
    phone
        .write(&key("t1"), &Actor::User, &obj(json!({"title": "a"})), t(0))
        .unwrap();
    let reply = server.push(&phone.push(), t(0)).unwrap();
    assert_eq!(reply.appended, 1);
    // An identical retry is deduplicated.
    assert_eq!(server.push(&phone.push(), t(1)).unwrap().appended, 0);

    let mut restored = backup.load().unwrap();
    let edit = obj(json!({"title": "x"}));
    restored
        .write(&key("t1"), &Actor::User, &edit, t(5))
        .unwrap();
    assert_eq!(restored.outbox()[0].client_seq(), Some(1));
    let before = server.clone();
    let err = server.push(&restored.push(), t(5)).unwrap_err();
    assert_eq!(
        err,
        PushError::SeqReused {
            index: 0,
            client_seq: 1
        }
    );
    assert_eq!(server, before);
    let mut fresh = replica("phone-2");
    fresh.write(&key("t1"), &Actor::User, &edit, t(5)).unwrap();
    assert_eq!(server.push(&fresh.push(), t(5)).unwrap().appended, 1);
    assert_eq!(
        server
            .record(&key("t1"))
            .unwrap()
            .field("title")
            .unwrap()
            .value,
        json!("x")
    );
}

#[test]
fn r12_3_and_r12_4_a_fast_clock_is_refused_then_corrected_and_nothing_is_lost() {
    let mut server = Server::new(ServerConfig::default());
    let mut phone = replica("phone");
    let ahead = t(3_600_000); // one hour ahead of the server
    phone
        .write(&key("t1"), &Actor::User, &obj(json!({"title": "a"})), ahead)
        .unwrap();
    phone
        .write(
            &key("t1"),
            &Actor::User,
            &obj(json!({"title": "b", "done": true})),
            ahead,
        )
        .unwrap();
    let before = server.clone();
    let err = server.push(&phone.push(), t(0)).unwrap_err();
    let PushError::ClockAhead { server_now, .. } = err else {
        panic!("{err:?}")
    };
    assert_eq!(server_now, t(0));
    // Nothing is appended; the client's next push must carry a newer epoch.
    assert_eq!(
        (server.log(), server.records()),
        (before.log(), before.records())
    );
    assert_eq!(server.clock_epoch(phone.client_id()), 1);
    let correction = err.clock_correction().expect("a clock_ahead refusal");
    assert_eq!(correction.clock_epoch, 1);
    phone.correct_clock(&correction, ahead).unwrap();
    assert_eq!(phone.clock().epoch, 1);
    let record = phone.record(&key("t1")).unwrap();
    assert_eq!(record.field("title").unwrap().value, json!("b"));
    assert!(record.field("title").unwrap().at <= t(2));
    assert_eq!(record.updated_at_index(), record.derive_updated_at());
    // The second write's base follows the restamped first write.
    let first = phone.outbox()[0].write("title").unwrap().version();
    assert_eq!(
        phone.outbox()[1].write("title").unwrap().base,
        Base::Saw(first)
    );
    let reply = server.push(&phone.push(), t(1)).unwrap();
    assert_eq!(reply.appended, 2);
    phone.ack(reply.acked_through);
    phone.apply_page(&reply.page).unwrap();
    assert_eq!(server.records(), phone.records());
    // The corrected clock keeps stamping near the server's time.
    let c = phone
        .write(
            &key("t1"),
            &Actor::User,
            &obj(json!({"title": "c"})),
            t(3_600_100),
        )
        .unwrap()
        .unwrap();
    assert_eq!(c.max_at(), Some(t(100)));
}

#[test]
fn r12_4_server_side_writes_stamp_after_their_record_and_witness_the_state() {
    let mut server = Server::new(ServerConfig::default());
    let mut phone = replica("phone");
    phone
        .write(&key("t1"), &Actor::User, &obj(json!({"title": "a"})), t(50))
        .unwrap();
    sync(&mut phone, &mut server, t(51));
    let agent = WriterId::new("agent-1");
    let c = server
        .write(
            &agent,
            &Actor::Ai,
            &key("t1"),
            &obj(json!({"title": "b"})),
            t(10),
        )
        .unwrap()
        .unwrap();
    let w = c.write("title").unwrap();
    assert_eq!(
        (w.at, w.origin, w.by.as_str()),
        (t(51), Origin::Agent, "agent-1")
    );
    assert_eq!(
        w.base,
        Base::Saw(Version {
            at: t(50),
            by: WriterId::new("phone")
        })
    );
    let report = sync(&mut phone, &mut server, t(60));
    assert!(
        report.conflicts.is_empty(),
        "the agent saw the user's value"
    );
    assert!(server
        .write(
            &agent,
            &Actor::Ai,
            &key("t1"),
            &obj(json!({"title": "b"})),
            t(70)
        )
        .unwrap()
        .is_none());
}

#[test]
fn r12_5_the_persisted_state_round_trips_through_json() {
    let mut phone = replica("phone");
    phone
        .write(
            &key("t1"),
            &Actor::User,
            &obj(json!({"title": "a", "n": 1.5})),
            t(5),
        )
        .unwrap();
    phone.delete(&key("t1"), &Actor::User, t(6)).unwrap();
    phone
        .bootstrap(
            &RecordKey::singleton("userContext", "u"),
            &obj(json!({"about": ""})),
        )
        .unwrap();
    let text = serde_json::to_vec(&ReplicaState::of(&phone)).unwrap();
    let loaded = ReplicaState::load_json(&text).unwrap();
    assert_eq!(loaded, phone);
    assert_eq!(
        ReplicaState::load_json(b"{}").unwrap_err().code(),
        "state_json"
    );
}

#[test]
fn r12_5_a_state_whose_parts_contradict_each_other_is_refused() {
    fn check(state: Value, code: &str) {
        let err = ReplicaState::load_json(state.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.code(), code, "{state}");
    }
    let pending = |client: &str, seq: u64| {
        json!({"table": "tasks", "id": "t1", "op": "update", "data": {"a": seq},
        "field_meta": {"a": {"at": "2026-04-26T10:00:00.000Z", "origin": "user", "base": null}},
        "client_id": client, "client_seq": seq})
    };
    check(
        json!({"client_id": "phone", "outbox": [pending("laptop", 1)]}),
        "state_inconsistent",
    );
    check(
        json!({"client_id": "phone", "outbox": [pending("phone", 1), pending("phone", 3)]}),
        "state_inconsistent",
    );
    check(
        json!({"client_id": "phone", "outbox": [pending("phone", 4)], "next_seq": 4}),
        "state_inconsistent",
    );
    // A counter past 2^53 does not read from text (R11.6); in memory it is
    // refused by the load's own check.
    check(
        json!({"client_id": "phone", "next_seq": 9007199254740994_u64}),
        "state_json",
    );
    let mut past = ReplicaState::of(&replica("phone"));
    past.next_seq = Some(fieldmerge::SAFE_INTEGER_MAX + 1);
    assert_eq!(past.load().unwrap_err().code(), "state_inconsistent");
    past.next_seq = Some(fieldmerge::SAFE_INTEGER_MAX);
    assert!(past.load().is_ok());
    // Sequence numbers stay at most 2^53: the bound loads from text.
    let last = ReplicaState::load_json(
        json!({"client_id": "phone", "next_seq": fieldmerge::SAFE_INTEGER_MAX})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(last.unwrap().next_seq(), fieldmerge::SAFE_INTEGER_MAX);
    check(
        json!({"client_id": "phone", "outbox": [{"table": "tasks"}]}),
        "missing",
    );
    let ok = ReplicaState::load_json(
        json!({"client_id": "phone", "outbox": [pending("phone", 4)]})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(ok.unwrap().next_seq(), 5);
}

#[test]
fn r12_4_clock_correction_keeps_changes_the_server_may_already_hold() {
    let mut server = Server::new(ServerConfig::default());
    let mut phone = replica("phone");
    // 50 s ahead: within the skew, accepted; the acknowledgement is lost.
    phone
        .write(&key("t1"), &Actor::User, &obj(json!({"a": 1})), t(50_000))
        .unwrap();
    server.push(&phone.push(), t(0)).unwrap();
    // Then the clock jumps two hours ahead.
    phone
        .write(
            &key("t1"),
            &Actor::User,
            &obj(json!({"a": 2})),
            t(7_200_000),
        )
        .unwrap();
    let err = server.push(&phone.push(), t(1)).unwrap_err();
    let PushError::ClockAhead {
        server_now,
        skew_ms_max,
        acked_through,
        ..
    } = err
    else {
        panic!("{err:?}")
    };
    assert_eq!(
        (server_now, skew_ms_max, acked_through),
        (t(1), 60_000, Some(1))
    );
    assert_eq!(err.acked_through(), Some(1));
    let kept = phone.outbox()[0].clone();
    phone
        .correct_clock(&err.clock_correction().unwrap(), t(7_200_000))
        .unwrap();
    assert_eq!(
        phone.outbox()[0],
        kept,
        "the change within the skew is not restamped"
    );
    let second = phone.outbox()[1].write("a").unwrap().clone();
    assert_eq!(
        second.at,
        t(50_001),
        "beats the kept change, near the server's time"
    );
    assert_eq!(second.base, Base::Saw(kept.write("a").unwrap().version()));
    let report = sync(&mut phone, &mut server, t(2));
    assert!(report.conflicts.is_empty());
    assert_eq!(server.records(), phone.records());
    assert!(phone.outbox().is_empty());
}

#[test]
fn r12_2_an_own_change_found_in_the_log_acknowledges_it_and_every_earlier_one() {
    let mut server = Server::new(ServerConfig::default());
    let mut phone = replica("phone");
    for i in 0..3 {
        phone
            .write(&key("t1"), &Actor::User, &obj(json!({"n": i})), t(i))
            .unwrap();
    }
    // The push is appended but its reply is lost; a later write stays pending.
    server.push(&phone.push(), t(10)).unwrap();
    phone
        .write(&key("t1"), &Actor::User, &obj(json!({"n": 9})), t(20))
        .unwrap();
    assert_eq!(phone.outbox().len(), 4);
    // Pulling only the first two changes acknowledges seqs 1 and 2.
    phone.apply_page(&server.pull(0, 2)).unwrap();
    let pending: Vec<_> = phone.outbox().iter().map(|c| c.client_seq()).collect();
    assert_eq!(pending, [Some(3), Some(4)]);
    phone.apply_page(&server.pull(2, 10)).unwrap();
    let pending: Vec<_> = phone.outbox().iter().map(|c| c.client_seq()).collect();
    assert_eq!(pending, [Some(4)]);
    // Another client's change with the same sequence number acknowledges nothing.
    let other = change(
        json!({"table": "tasks", "id": "t2", "op": "insert", "data": {"a": 1},
        "field_meta": {"a": {"at": "2026-04-26T10:00:00.000Z", "origin": "user", "base": null}},
        "client_id": "laptop", "client_seq": 4, "server_seq": 4}),
    );
    phone
        .apply_page(&Page {
            after: 3,
            changes: vec![other],
            head: 4,
            quarantined: Vec::new(),
            log: None,
        })
        .unwrap();
    assert_eq!(phone.outbox().len(), 1);
}

#[test]
fn r4_4_a_number_is_its_binary64_and_a_spelling_that_would_round_is_refused() {
    fn decode(n: &str) -> Result<Value, ChangeError> {
        let text = format!(
            r#"[{{"table": "t", "id": "i", "op": "update", "data": {{"a": {n}}},
            "field_meta": {{"a": {{"at": "2026-04-26T10:00:00.000Z", "origin": "user"}}}}, "client_id": "c"}}]"#
        );
        decode_changes(text.as_bytes()).map(|c| c[0].write("a").unwrap().value.clone())
    }
    fn check(n: &str, canonical: &str) {
        let v = decode(n).unwrap_or_else(|e| panic!("{n}: {e}"));
        assert_eq!(fieldmerge::canonical_json(&v), canonical, "{n}");
    }
    fn refused(n: &str) {
        let err = decode(n).expect_err(n);
        assert_eq!(
            (err.kind.code(), err.field.as_deref()),
            ("bad_number", Some("a")),
            "{n}"
        );
    }
    check("-0", "0");
    check("1.0", "1");
    check("1e0", "1");
    check("10E-1", "1");
    check("100000000000000000000", "100000000000000000000");
    check("1e21", "1e+21");
    check("123456789012345680000", "123456789012345680000");
    check("0.000001", "0.000001");
    check("1e-7", "1e-7");
    check("9007199254740992", "9007199254740992");
    check("9007199254740994", "9007199254740994");
    check("1.7976931348623157e308", "1.7976931348623157e+308");
    check("5e-324", "5e-324");
    check("-0.1", "-0.1");
    refused("9007199254740993");
    refused("18446744073709551615");
    refused("-9223372036854775809");
    refused("0.30000000000000001");
    refused("1e400");
    refused("1e-400");
    refused("12345678901234567891");
    // In memory as in text: an integer is read as its decimal.
    assert_eq!(
        fieldmerge::canonical_value(&json!(u64::MAX))
            .unwrap_err()
            .code(),
        "bad_number"
    );
    assert_eq!(
        fieldmerge::canonical_value(&json!(1_152_921_504_606_847_000_u64)).unwrap(),
        json!(1.152921504606847e18)
    );
}

#[test]
fn r12_5_a_state_without_a_clock_does_not_count_its_own_pending_writes_as_seen() {
    let mut phone = replica("phone");
    phone
        .write(&key("t1"), &Actor::User, &obj(json!({"a": 1})), t(0))
        .unwrap();
    let mut server = Server::new(ServerConfig::default());
    sync(&mut phone, &mut server, t(1));
    phone
        .write(
            &key("t2"),
            &Actor::User,
            &obj(json!({"a": 2})),
            t(7_200_000),
        )
        .unwrap();
    let mut state = serde_json::to_value(ReplicaState::of(&phone)).unwrap();
    state.as_object_mut().unwrap().remove("clock");
    let mut loaded = ReplicaState::load_json(state.to_string().as_bytes()).unwrap();
    assert_eq!(loaded.clock().seen, t(0));
    assert_eq!(loaded.clock().stamped, t(7_200_000));
    let err = server.push(&loaded.push(), t(2)).unwrap_err();
    assert_eq!(err.code(), "clock_ahead");
    loaded
        .correct_clock(&err.clock_correction().unwrap(), t(7_200_001))
        .unwrap();
    assert_eq!(loaded.outbox()[0].max_at(), Some(t(2)), "the server's time");
    sync(&mut loaded, &mut server, t(4));
    assert_eq!(server.records(), loaded.records());
}

#[test]
fn r6_9_a_pending_user_edit_lost_to_a_legacy_change_in_hydration_is_reported() {
    let k = key("t1");
    let mut phone = replica("phone");
    phone
        .write(&k, &Actor::User, &obj(json!({"title": "mine"})), t(1))
        .unwrap();
    let legacy = change(json!({"table": "tasks", "id": "t1", "op": "update",
        "data": {"title": "old client"},
        "field_meta": {"title": {"at": "2026-04-26T10:00:00.050Z", "origin": "user"}},
        "client_id": "old-client", "server_seq": 1}));
    let report = phone
        .apply_page(&Page {
            after: 0,
            changes: vec![legacy.clone()],
            head: 1,
            quarantined: Vec::new(),
            log: None,
        })
        .unwrap();
    assert_eq!(report.conflicts.len(), 1, "the pending edit is lost");
    assert_eq!(report.conflicts[0].rule, ConflictRule::Legacy);
    assert!(report.conflicts[0].loser_is_local);
    // The same change over a value that is not pending stays silent (R6.4).
    let mut desk = replica("desk");
    desk.apply(
        &[change(json!({"table": "tasks", "id": "t1", "op": "update",
        "data": {"title": "kept"},
        "field_meta": {"title": {"at": "2026-04-26T10:00:00.001Z", "origin": "user", "base": null}},
        "client_id": "phone"}))],
        Delivery::Live,
    );
    let report = desk
        .apply_page(&Page {
            after: 0,
            changes: vec![legacy],
            head: 1,
            quarantined: Vec::new(),
            log: None,
        })
        .unwrap();
    assert!(report.conflicts.is_empty());
    assert_eq!(report.tally.overwrite_legacy_hydration, 1);
}

#[test]
fn r11_7_every_text_is_read_by_one_reader_that_refuses_a_member_twice() {
    fn check(code: &str, got: Option<&str>) {
        assert_eq!(got, Some(code));
    }
    // A stored state, a push, a page: the same rules as a batch.
    let state = br#"{"client_id": "phone", "client_id": "phone"}"#;
    check(
        "state_json",
        ReplicaState::load_json(state)
            .err()
            .as_ref()
            .map(|e| e.code()),
    );
    let state = br#"{"client_id": "phone", "next_seq": 1e400}"#;
    let err = ReplicaState::load_json(state).unwrap_err();
    assert!(err.to_string().contains("1e400"), "{err}");
    let push = br#"{"client_id": "p", "client_id": "q", "changes": []}"#;
    let err = Push::from_json(push).unwrap_err();
    assert_eq!((err.kind.code(), err.index), ("duplicate_member", 0));
    let page = br#"{"after": 0, "changes": [], "head": 0, "head": 1}"#;
    check(
        "duplicate_member",
        Page::from_json(page).err().as_ref().map(|e| e.kind.code()),
    );
    // A lone surrogate is not text any stack keeps.
    check(
        "json",
        fieldmerge::read_json(br#""\udfff""#)
            .err()
            .as_ref()
            .map(|e| e.kind.code()),
    );
    // The same number refused in memory, from a write (R4.4).
    let err = replica("phone")
        .write(&key("t1"), &Actor::User, &obj(json!({"n": u64::MAX})), t(0))
        .unwrap_err();
    assert_eq!(err.code(), "bad_number");
    // And canonicalised when it is a value: 1.0 is stored as 1.
    let mut phone = replica("phone");
    let change = phone
        .write(
            &key("t1"),
            &Actor::User,
            &obj(json!({"n": 1.0, "z": -0.0})),
            t(0),
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        fieldmerge::canonical_json(&change.to_wire()["data"]),
        r#"{"n":1,"z":0}"#
    );
    assert!(change.write("n").unwrap().value.is_i64());
}

#[test]
fn r11_5_an_echo_of_input_stops_at_256_bytes_on_a_character_boundary() {
    // Byte 256 falls inside the 128th "é": the echo keeps 255 bytes.
    let name = format!("a{}", "é".repeat(200));
    let text = format!(r#"[{{"table": "t", {name:?}: 1}}]"#);
    let err = decode_changes(text.as_bytes()).unwrap_err();
    match &err.kind {
        fieldmerge::ChangeErrorKind::UnknownMember { path } => {
            assert_eq!(path.len(), 255);
            assert!(name.starts_with(path.as_str()));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn r11_7_a_text_fault_names_its_byte_offset() {
    fn check(text: &[u8], code: &str, at: &str) {
        let err = fieldmerge::read_json(text).unwrap_err();
        assert_eq!(err.kind.code(), code);
        assert!(err.to_string().contains(at), "{err}");
    }
    check(b"[1, \"ab\xff\"]", "json", "invalid UTF-8 at byte 7");
    check(b"  \"\xe9\"", "json", "invalid UTF-8 at byte 3");
    check(b"[1,]", "json", "at byte 3");
    check(b"[\"a\", \"\\ud800\"]", "json", "lone surrogate at byte 7");
    check(b"\"\\ud800x\"", "json", "lone surrogate at byte 1");
    check(b"\"\\ud800\\u0041\"", "json", "lone surrogate at byte 1");
    check(b"\"\\udc00\"", "json", "lone surrogate at byte 1");
    // An integer past 2^53 built in memory is written as its binary64 is.
    assert_eq!(
        fieldmerge::canonical_json(&json!([
            1_152_921_504_606_846_976_i64,
            -9_007_199_254_740_993_i64
        ])),
        "[1152921504606847000,-9007199254740992]"
    );
    // The other faults name what they found instead.
    check(
        b"{\"a\": 1, \"a\": 2}",
        "duplicate_member",
        "a appears twice",
    );
    check(b"[0, 1e400]", "bad_number", "number 1e400 would be rounded");
}
