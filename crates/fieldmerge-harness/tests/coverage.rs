//! Named coverage marks (issue #6, part 3): every decision branch of merge
//! and classification, every tombstone case, every page and push refusal
//! must be taken by the harness. The marks ([`Mark`], in the library's
//! `sim` module) are read from what the kernel returns (reports, tallies,
//! errors) and from the records before and after an apply; no kernel hook
//! is involved. Three drivers count them with one [`Coverage`] type:
//!
//! - the simulator: a campaign must hit every mark an honest system can
//!   reach ([`Mark::simulated`]), and never one that only forged input
//!   reaches;
//! - the property tests' action runs (`src/arbitrary.rs`'s [`Action`]s
//!   through `tests/laws/world.rs`, with forged pushes and pages) and
//!   stored rows: they must hit every mark;
//! - the exhaustive explorer: its marks are checked per bound in
//!   `tests/exhaustive.rs`.
//!
//! Each test fails naming every mark never hit, with its rule.
//!
//! Also here: tests that kill mutants `cargo mutants` found alive (see
//! `spec/HARNESS.md`), each named after the rule it pins.

use crate::differential::bytes_from_seed;
use arbitrary::Unstructured;
use fieldmerge::{derive_updated_at, Base, Origin, RecordKey, Register, Timestamp, WriterId};
use fieldmerge_harness::gen::{actions, record, timestamp, value, Action};
use fieldmerge_harness::sim::{run_campaign, Campaign, Coverage, Mark};
use fieldmerge_harness::world::World;
use serde_json::{json, Map};

// Fails naming every mark of `marks` that `coverage` never hit.
fn check_hit(driver: &str, coverage: &Coverage, marks: impl IntoIterator<Item = Mark>) {
    for mark in Mark::ALL {
        println!("{driver}: {:<36} {}", mark.name(), coverage.count(*mark));
    }
    let missed: Vec<String> = marks
        .into_iter()
        .filter(|m| coverage.count(*m) == 0)
        .map(|m| format!("{} ({})", m.name(), m.rule()))
        .collect();
    assert!(missed.is_empty(), "{driver}: marks never hit: {missed:#?}");
}

/// A campaign of the default swarm (every scenario, every fault) takes
/// every branch an honest system can reach, and no branch of forged input:
/// the simulator's nodes are the real kernel, which never sends a push or
/// a page that the server or a replica must refuse as forged.
#[test]
fn r4_r6_r9_r12_a_simulation_campaign_hits_every_simulated_mark() {
    let campaign = Campaign {
        seeds: 0..60,
        ..Campaign::default()
    };
    let report = run_campaign(&campaign, |_| {});
    assert_eq!(report.violations, 0, "{:#?}", report.failures);
    let coverage = &report.stats.coverage;
    check_hit(
        "simulator",
        coverage,
        Mark::ALL.iter().copied().filter(|m| m.simulated()),
    );
    assert_eq!(report.marks_missed(), Vec::<Mark>::new());
    for mark in Mark::ALL.iter().filter(|m| !m.simulated()) {
        assert_eq!(
            coverage.count(*mark),
            0,
            "the simulator took {mark:?}, a branch only forged input reaches"
        );
    }
}

/// Runs of generated actions (the property tests' generator, forged pushes
/// and pages included) and generated stored rows take every branch.
#[test]
fn r4_r6_r7_r9_r12_the_property_test_runs_hit_every_mark() {
    let mut coverage = Coverage::default();
    for seed in 0..400 {
        let bytes = bytes_from_seed(seed, 6000);
        let mut u = Unstructured::new(&bytes);
        let Ok(run) = actions(&mut u, 40) else {
            continue;
        };
        coverage.merge(&run_marks(&run));
        if let Ok(marks) = derive_marks(&mut u) {
            coverage.merge(&marks);
        }
    }
    check_hit("property tests", &coverage, Mark::ALL.iter().copied());
}

// The marks of one action run.
fn run_marks(run: &[Action]) -> Coverage {
    let mut world = World::default();
    for action in run {
        world.step(action);
    }
    world.coverage
}

// R7.2: how `derive_updated_at` read a stored row of the shapes the R7 law
// generates (a record's metadata, a legacy `updatedAt`, any JSON).
fn derive_marks(u: &mut Unstructured) -> arbitrary::Result<Coverage> {
    let mut marks = Coverage::default();
    let rec = record(u)?;
    let mut meta = Map::new();
    for (name, reg) in rec.fields() {
        meta.insert(name.to_owned(), json!({"at": reg.at.to_string()}));
    }
    let updated_at = timestamp(u)?;
    let rows = [
        json!({"__fieldMeta": meta, "updatedAt": updated_at.to_string()}),
        value(u)?,
    ];
    for row in &rows {
        let from_meta = rec.derive_updated_at();
        marks.hit(match derive_updated_at(row) {
            None => Mark::DeriveNone,
            Some(at) if Some(at) == from_meta && row.get("__fieldMeta").is_some() => {
                Mark::DeriveFromFieldMeta
            }
            Some(_) => Mark::DeriveLegacyUpdatedAt,
        });
    }
    Ok(marks)
}

fn t(ms: i64) -> Timestamp {
    Timestamp::from_ms(1_777_197_600_000 + ms).expect("in range")
}

// --- Tests that kill mutants `cargo mutants` found alive (spec/HARNESS.md).

/// R11.5, R11.6: the nesting guard that lets a 128-level value decode (the
/// parser's own recursion limit is lifted for guarded documents) must count
/// brackets after a string too, and names the change and the field of the
/// value that is too deep. Killed mutant: `==` to `!=` in the escape test
/// of `nesting_beyond`, which lost track of strings, let a hostile document
/// through the guard, and overflowed the stack in the parser.
#[test]
fn r11_5_a_hostile_nesting_after_a_string_is_refused_as_too_deep_without_recursing() {
    fn check(prefix: &str, index: usize, field: Option<&str>) {
        let doc = format!("{prefix}{}", "[".repeat(100_000));
        let err = fieldmerge::decode_changes(doc.as_bytes()).expect_err("hostile");
        let got = (err.kind.code(), err.index, err.field.as_deref());
        assert_eq!(got, ("too_deep", index, field), "{prefix}: {err}");
        let err = fieldmerge::ReplicaState::load_json(doc.as_bytes()).expect_err("hostile");
        assert_eq!(err.code(), "state_json", "{prefix}: {err}");
        // The message says what was wrong and where.
        let message = err.to_string();
        assert!(
            message.contains("nested deeper than 128 levels of value at byte"),
            "{message}"
        );
    }
    check(r#"["ab","#, 1, None);
    check(r#"[{"id":"t1","data":{"a":"#, 0, Some("a"));
    check(r#"[{"id":"a\"b","data":"#, 0, None);
    check(r#"[{}, {"data": {"x\"]": 1, "y":"#, 1, Some("y"));
    check(r#"[{"data": {"a": "[[[{", "b":"#, 0, Some("b"));
}

/// R11.6: brackets and escaped quotes inside strings are text, not nesting:
/// a value that is a string of 300 `[` after an escaped quote decodes.
#[test]
fn r11_6_brackets_and_escaped_quotes_inside_strings_are_not_nesting() {
    let text = format!("\"{}", "[".repeat(300));
    let wire = json!([{"table": "tasks", "id": "t\"1", "op": "update", "data": {"a": text},
        "field_meta": {"a": {"at": "2026-04-26T10:00:00.000Z", "origin": "user"}}, "client_id": "c"}]);
    let bytes = serde_json::to_vec(&wire).expect("encodes");
    let changes = fieldmerge::decode_changes(&bytes).expect("a string is not nesting");
    assert_eq!(
        changes[0].write("a").map(|r| r.value.clone()),
        Some(json!(text))
    );
}

/// R4.4: an integer and a float compare by exact value, negative fractions
/// included (the float's fraction below zero puts it under the integer it
/// truncates to). Killed mutant: `-` to `/` in `cmp_int_float`'s fraction.
#[test]
fn r4_4_an_integer_and_a_negative_fraction_compare_by_value() {
    use std::cmp::Ordering::{Greater, Less};
    for (int, float, order) in [
        (json!(-1), json!(-1.5), Greater),
        (json!(0), json!(-0.5), Greater),
        (json!(-2), json!(-1.5), Less),
        (json!(1), json!(1.5), Less),
        (json!(2), json!(1.5), Greater),
    ] {
        assert_eq!(
            fieldmerge::cmp_values(&int, &float),
            order,
            "{int} vs {float}"
        );
        assert_eq!(
            fieldmerge::cmp_values(&float, &int),
            order.reverse(),
            "{float} vs {int}"
        );
    }
}

/// R1.2, R4.2: a writer id is its text (built from `&str` or `new`, shown
/// as itself and quoted in debug output), and versions order by `at`, then
/// by the writer id's bytes, through `<` as through `cmp`. Killed mutants:
/// `WriterId`'s `From<&str>` and `Debug`, `Version`'s `partial_cmp`.
#[test]
fn r1_2_r4_2_writer_ids_are_their_text_and_versions_order_through_partial_cmp() {
    use fieldmerge::Version;
    use std::cmp::Ordering::Less;
    assert_eq!(WriterId::from("phone"), WriterId::new("phone"));
    assert_eq!(WriterId::from("phone").as_str(), "phone");
    assert_eq!(WriterId::new("phone").to_string(), "phone");
    assert_eq!(format!("{:?}", WriterId::new("phone")), "\"phone\"");
    let v = |ms: i64, by: &str| Version {
        at: t(ms),
        by: WriterId::new(by),
    };
    assert!(v(5, "a") < v(5, "b"));
    assert!(v(5, "b") < v(6, "a"));
    assert_eq!(v(5, "a").partial_cmp(&v(5, "b")), Some(Less));
    assert_eq!(
        v(5, "a").partial_cmp(&v(5, "a")),
        Some(std::cmp::Ordering::Equal)
    );
}

/// R1.1: a record key prints as `table/id` (errors and reports name records
/// this way). Killed mutant: `RecordKey`'s `Display`.
#[test]
fn r1_1_a_record_key_prints_as_table_slash_id() {
    assert_eq!(RecordKey::new("tasks", "t1").to_string(), "tasks/t1");
    assert_eq!(
        RecordKey::singleton("userContext", "u1").to_string(),
        "userContext/userContext:u1"
    );
}

/// R1.1: a record is a map of fields: an empty record has none, and each
/// newly written field adds one. Killed mutants: `Record::len` and
/// `Record::is_empty` returning constants.
#[test]
fn r1_1_a_record_counts_its_fields() {
    let mut record = fieldmerge::Record::new();
    assert!(record.is_empty());
    assert_eq!(record.len(), 0);
    let reg = |v: i64| Register {
        value: json!(v),
        at: t(v),
        by: WriterId::new("r0"),
        origin: Origin::User,
        base: Base::First,
    };
    record.merge_register("a", &reg(1), fieldmerge::Delivery::Live);
    assert!(!record.is_empty());
    assert_eq!(record.len(), 1);
    record.merge_register("b", &reg(2), fieldmerge::Delivery::Live);
    record.merge_register("a", &reg(3), fieldmerge::Delivery::Live);
    assert_eq!(record.len(), 2);
}
