//! Named coverage marks (issue #6, part 3): every decision branch of merge
//! and classification, every tombstone case, every page and push refusal
//! must be taken by the harness. The marks come from the kernel's own
//! reports ([`Tally`], anomalies, hidden edits, errors) and from comparing a
//! record before and after an apply; two drivers feed them: the exhaustive
//! explorer (`tests/exhaustive/explorer.rs`) at a small bound, and a
//! deterministic random action run over three replicas, the server, an
//! agent and a legacy writer, with forged pushes and pages. The test fails
//! naming every mark never hit.
//!
//! Also here: tests that kill mutants `cargo mutants` found alive (see
//! `spec/HARNESS.md`), each named after the rule it pins.

use crate::exhaustive::explorer::{explore, Bounds, Marks};
use fieldmerge::{
    derive_updated_at, Actor, ApplyReport, Base, Change, Op, Origin, Page, PageError, Push,
    PushError, RecordKey, Register, Replica, Server, ServerConfig, Timestamp, WriterId,
    SYSTEM_MIGRATION, TOMBSTONE_FIELD,
};
use serde_json::{json, Map, Value};

/// Every mark the harness must hit, with the rule it stands for.
pub const MARKS: &[(&str, &str)] = &[
    ("decision_insert", "R6.1 insert"),
    ("decision_duplicate", "R6.2 duplicate"),
    ("decision_stale", "R6.2 stale"),
    ("decision_twin", "R4.3-R4.4 malformed twin"),
    (
        "twin_incoming_won",
        "R4.3 the incoming twin wins the total order",
    ),
    (
        "twin_current_kept",
        "R4.3 the current twin wins the total order",
    ),
    ("anomaly", "R4.4 a malformed twin is reported as an anomaly"),
    (
        "twin_redelivered",
        "R4.4, R6.7 a losing twin delivered again is a twin again",
    ),
    (
        "overwrite_loser_not_user",
        "R6.3 silent: the loser was not a user's",
    ),
    ("overwrite_same_value", "R6.3 silent: same value"),
    (
        "overwrite_witnessed",
        "R6.3 silent: the winner saw the loser",
    ),
    (
        "overwrite_legacy_hydration",
        "R6.4 silent: legacy winner during hydration",
    ),
    (
        "conflict_unwitnessed",
        "R6.3 conflict: unwitnessed overwrite",
    ),
    ("conflict_legacy", "R6.4 conflict: legacy fallback, live"),
    (
        "conflict_winner_saw_nothing",
        "R6.3 conflict: the winner's base is first",
    ),
    (
        "conflict_winner_saw_another_version",
        "R6.3 conflict: the winner saw another version",
    ),
    (
        "conflict_winner_legacy",
        "R6.4 conflict: the winner has no witness",
    ),
    ("conflict_loser_local", "R6.8 the loser was this replica's"),
    (
        "conflict_loser_remote",
        "R6.8 the loser was another writer's",
    ),
    ("hidden_edit", "R9.3 a tombstone hides a local user edit"),
    (
        "delete_applied",
        "R9.1 an apply turns a live record deleted",
    ),
    (
        "restore_applied",
        "R9.1 an apply turns a deleted record live",
    ),
    (
        "tombstone_on_deleted_record",
        "R9.3 a tombstone reaches a deleted record",
    ),
    ("page_refused_not_at_cursor", "R6.5 not_at_cursor"),
    ("page_refused_not_consecutive", "R6.5 not_consecutive"),
    ("page_refused_head_behind", "R6.5 head_behind"),
    (
        "page_applied_hydration",
        "R6.4 a page of an initial hydration round",
    ),
    ("page_applied_live", "R6.4 a live page"),
    (
        "push_retry_deduplicated",
        "R12.1 a retried push appends nothing",
    ),
    ("push_refused_foreign_change", "R12.1 foreign_change"),
    ("push_refused_missing_seq", "R12.1 missing_seq"),
    ("push_refused_seq_order", "R12.1 seq_order"),
    ("push_refused_seq_gap", "R12.1 seq_gap"),
    ("push_refused_clock_ahead", "R12.3 clock_ahead"),
    ("clock_corrected", "R12.4 pending writes restamped"),
    (
        "derive_from_field_meta",
        "R7.2 the greatest at of __fieldMeta",
    ),
    (
        "derive_legacy_updated_at",
        "R7.2 legacy fallback to updatedAt",
    ),
    ("derive_none", "R7.2 nothing usable"),
];

#[test]
fn every_coverage_mark_is_hit_by_the_explorer_and_the_random_run() {
    let mut marks = Marks::default();
    // The explorer at bounds small enough to run again here: one write of
    // every origin, and two bootstraps of every default (malformed twins).
    let one_write = Bounds {
        writes: 1,
        ..Bounds::every_origin()
    };
    let twins = Bounds {
        migration: false,
        agent: false,
        legacy: false,
        tombstones: false,
        ..Bounds::every_origin()
    };
    for bounds in [one_write, twins] {
        let summary = explore(&bounds).unwrap_or_else(|v| panic!("explorer: {v}"));
        marks.merge(&summary.marks);
    }
    for seed in 1..=8 {
        marks.merge(&random_run(seed, 400));
    }
    marks.merge(&derive_marks());
    let missed: Vec<String> = MARKS
        .iter()
        .filter(|(mark, _)| marks.count(mark) == 0)
        .map(|(mark, rule)| format!("{mark} ({rule})"))
        .collect();
    for (mark, n) in &marks.0 {
        println!("coverage {mark:<32} {n}");
    }
    assert!(missed.is_empty(), "coverage marks never hit: {missed:#?}");
    // Every mark a driver can hit is a named mark: a new branch gets a name.
    let unnamed: Vec<&&str> = marks
        .0
        .keys()
        .filter(|m| !MARKS.iter().any(|(name, _)| name == *m))
        .collect();
    assert!(unnamed.is_empty(), "marks without a rule: {unnamed:?}");
}

// R7.2: the three ways `derive_updated_at` reads a stored row.
fn derive_marks() -> Marks {
    let mut marks = Marks::default();
    let rows = [
        json!({"__fieldMeta": {"a": {"at": "2026-04-26T10:00:00.000Z"}}}),
        json!({"updatedAt": "2026-04-26T10:00:00.000Z"}),
        json!({"updatedAt": 7}),
    ];
    for row in &rows {
        let meta = row.get("__fieldMeta").is_some();
        marks.hit(match (derive_updated_at(row), meta) {
            (Some(_), true) => "derive_from_field_meta",
            (Some(_), false) => "derive_legacy_updated_at",
            (None, _) => "derive_none",
        });
    }
    marks
}

// A tiny deterministic generator (xorshift64*): the run depends on the seed
// only.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 33) as usize % n
    }
}

fn t(ms: i64) -> Timestamp {
    Timestamp::from_ms(1_777_197_600_000 + ms).expect("in range")
}

const REPLICAS: usize = 3;
const KEYS: [&str; 2] = ["k1", "k2"];
const FIELDS: [&str; 3] = ["a", "b", "c"];

struct Run {
    rng: Rng,
    server: Server,
    replicas: Vec<Replica>,
    legacy_seq: u64,
    now_ms: i64,
    marks: Marks,
}

// A random run of `steps` actions; returns the marks it hit. Ends by
// delivering everything and checking that every replica converged.
fn random_run(seed: u64, steps: usize) -> Marks {
    let mut run = Run {
        rng: Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1),
        server: Server::new(ServerConfig {
            skew_ms_max: 60_000,
            page_size_max: 3,
        }),
        replicas: (0..REPLICAS)
            .map(|i| Replica::new(WriterId::new(&format!("r{i}"))))
            .collect(),
        legacy_seq: 0,
        now_ms: 0,
        marks: Marks::default(),
    };
    for _ in 0..steps {
        run.step();
    }
    run.drain();
    run.marks
}

impl Run {
    fn key(&mut self) -> RecordKey {
        RecordKey::singleton("settings", KEYS[self.rng.below(KEYS.len())])
    }

    fn patch(&mut self) -> Map<String, Value> {
        let mut patch = Map::new();
        for _ in 0..=self.rng.below(2) {
            let field = FIELDS[self.rng.below(FIELDS.len())];
            patch.insert(field.to_owned(), json!(self.rng.below(3)));
        }
        patch
    }

    fn step(&mut self) {
        // Time mostly stands still, so equal stamps across writers happen.
        if self.rng.below(4) == 0 {
            self.now_ms += 1;
        }
        let now = t(self.now_ms);
        let r = self.rng.below(REPLICAS);
        match self.rng.below(20) {
            0..=4 => {
                let (key, patch) = (self.key(), self.patch());
                let actor = if self.rng.below(4) == 0 {
                    Actor::System {
                        source: SYSTEM_MIGRATION.to_owned(),
                    }
                } else {
                    Actor::User
                };
                self.replicas[r]
                    .write(&key, &actor, &patch, now)
                    .expect("a valid write");
            }
            5 => {
                let key = self.key();
                if self.replicas[r].record(&key).is_some() {
                    self.replicas[r]
                        .delete(&key, &Actor::User, now)
                        .expect("a delete");
                }
            }
            6 => {
                let key = self.key();
                if self.replicas[r].record(&key).is_some() {
                    self.replicas[r]
                        .restore(&key, &Actor::User, now)
                        .expect("a restore");
                }
            }
            7 => {
                let (key, v) = (self.key(), self.rng.below(2));
                self.replicas[r]
                    .bootstrap(&key, &defaults(v))
                    .expect("a bootstrap");
            }
            8 => {
                let (key, v) = (self.key(), self.rng.below(2));
                self.server
                    .bootstrap(&key, &defaults(v))
                    .expect("a server bootstrap");
            }
            9 => {
                let (key, patch) = (self.key(), self.patch());
                self.server
                    .write(&WriterId::new("agent"), &Actor::Ai, &key, &patch, now)
                    .expect("an agent write");
            }
            10 => self.legacy_push(now),
            11..=13 => self.push(r, now),
            14..=16 => self.pull(r),
            17 => self.forged(r, now),
            18 => {
                // A device that lost its cursor re-hydrates from the start.
                if self.rng.below(3) == 0 {
                    self.replicas[r].reset_cursor();
                }
            }
            _ => self.clock_ahead(r, now),
        }
    }

    fn legacy_push(&mut self, now: Timestamp) {
        let key = self.key();
        let field = FIELDS[self.rng.below(FIELDS.len())];
        self.legacy_seq += 1;
        let reg = Register {
            value: json!(self.rng.below(3)),
            at: now,
            by: WriterId::new("legacy"),
            origin: Origin::User,
            base: Base::Legacy,
        };
        let change = Change::new(
            key,
            Op::Update,
            vec![(field.to_owned(), reg)],
            WriterId::new("legacy"),
            Some(self.legacy_seq),
        )
        .expect("a valid legacy change");
        let push = Push {
            client_id: WriterId::new("legacy"),
            changes: vec![change],
            cursor: 0,
        };
        let reply = self.server.push(&push, now).expect("legacy push accepted");
        self.marks.tally(&reply.report.tally);
    }

    fn push(&mut self, r: usize, now: Timestamp) {
        let push = self.replicas[r].push();
        match self.server.push(&push, now) {
            Ok(reply) => {
                if reply.appended == 0 && !push.changes.is_empty() {
                    self.marks.hit("push_retry_deduplicated");
                }
                self.marks.tally(&reply.report.tally);
                // Sometimes the reply is lost; the retry is deduplicated.
                if self.rng.below(4) != 0 {
                    self.replicas[r].ack(reply.acked_through);
                    self.apply(r, &reply.page);
                }
            }
            Err(PushError::ClockAhead {
                server_now,
                skew_ms_max,
                ..
            }) => {
                self.marks.hit("push_refused_clock_ahead");
                self.replicas[r]
                    .correct_clock(server_now, skew_ms_max, now)
                    .expect("a correctable clock");
                self.marks.hit("clock_corrected");
            }
            Err(e) => panic!("an honest push was refused: {e}"),
        }
    }

    fn pull(&mut self, r: usize) {
        let cursor = self.replicas[r].cursor().unwrap_or(0);
        let page = self.server.pull(cursor, 1 + self.rng.below(3));
        self.apply(r, &page);
        // Re-delivery of the same page is refused.
        if !page.changes.is_empty() {
            self.apply(r, &page);
        }
    }

    // Applies a page and counts what it did, by comparing each record before
    // and after, and by the report.
    fn apply(&mut self, r: usize, page: &Page) {
        let replica = &mut self.replicas[r];
        let hydrating = replica.cursor().is_none() || replica.is_hydrating();
        let before = replica.clone();
        match replica.apply_page(page) {
            Ok(report) => {
                self.marks.hit(if hydrating {
                    "page_applied_hydration"
                } else {
                    "page_applied_live"
                });
                count_report(&mut self.marks, &report, r);
                for change in &page.changes {
                    if change
                        .write(TOMBSTONE_FIELD)
                        .is_some_and(|reg| !reg.value.is_null())
                        && before
                            .record(change.key())
                            .is_some_and(fieldmerge::Record::is_deleted)
                    {
                        self.marks.hit("tombstone_on_deleted_record");
                    }
                }
                for (key, record) in replica.records() {
                    let was = before
                        .record(key)
                        .is_some_and(fieldmerge::Record::is_deleted);
                    match (was, record.is_deleted()) {
                        (false, true) if before.record(key).is_some() => {
                            self.marks.hit("delete_applied")
                        }
                        (true, false) => self.marks.hit("restore_applied"),
                        _ => {}
                    }
                }
            }
            Err(e) => {
                assert_eq!(*replica, before, "a refused page changed the replica");
                self.marks.hit(match e {
                    PageError::NotAtCursor { .. } => "page_refused_not_at_cursor",
                    PageError::NotConsecutive { .. } => "page_refused_not_consecutive",
                    PageError::HeadBehind { .. } => "page_refused_head_behind",
                });
            }
        }
    }

    // Forged pushes and pages: each must be refused and change nothing.
    fn forged(&mut self, r: usize, now: Timestamp) {
        let server = self.server.clone();
        let mut push = self.replicas[r].push();
        let other = (r + 1) % REPLICAS;
        let refuse = |push: &Push, marks: &mut Marks, server: &mut Server| {
            let before = server.clone();
            match server.push(push, now) {
                Ok(_) => *server = before,
                Err(e) => {
                    assert_eq!(*server, before, "a refused push changed the server");
                    marks.hit(match e {
                        PushError::ForeignChange { .. } => "push_refused_foreign_change",
                        PushError::MissingSeq { .. } => "push_refused_missing_seq",
                        PushError::SeqOrder { .. } => "push_refused_seq_order",
                        PushError::Gap { .. } => "push_refused_seq_gap",
                        PushError::ClockAhead { .. } => "push_refused_clock_ahead",
                    });
                }
            }
        };
        let mut scratch = server.clone();
        match self.rng.below(5) {
            0 => {
                push.changes
                    .extend(self.replicas[other].outbox().iter().cloned());
                refuse(&push, &mut self.marks, &mut scratch);
            }
            1 => {
                if let Some(first) = push.changes.first() {
                    let writes: Vec<(String, Register)> = first
                        .writes()
                        .map(|(n, reg)| (n.to_owned(), reg.clone()))
                        .collect();
                    let bare = Change::new(
                        first.key().clone(),
                        first.op(),
                        writes,
                        first.client_id().clone(),
                        None,
                    )
                    .expect("valid");
                    push.changes.insert(0, bare);
                    refuse(&push, &mut self.marks, &mut scratch);
                }
            }
            2 => {
                if push.changes.len() >= 2 {
                    push.changes.swap(0, 1);
                    refuse(&push, &mut self.marks, &mut scratch);
                }
            }
            3 => {
                let last = server.last_seq(self.replicas[r].client_id()).unwrap_or(0);
                if push.changes.len() >= 2 && push.changes[0].client_seq() == Some(last + 1) {
                    push.changes.remove(0);
                    refuse(&push, &mut self.marks, &mut scratch);
                }
            }
            _ => {
                let cursor = self.replicas[r].cursor().unwrap_or(0);
                let mut page = self.server.pull(cursor, 3);
                if page.changes.len() >= 2 && self.rng.below(2) == 0 {
                    page.changes.remove(0);
                    self.apply(r, &page);
                } else if !page.changes.is_empty() {
                    page.head = cursor;
                    self.apply(r, &page);
                }
            }
        }
    }

    // SPEC R12.3-R12.4: a device whose clock runs ahead is refused, learns
    // the offset, restamps, and its push is then accepted.
    fn clock_ahead(&mut self, r: usize, now: Timestamp) {
        let key = self.key();
        let patch = self.patch();
        let ahead = now.saturating_add_ms(3_600_000);
        let replica = &mut self.replicas[r];
        if replica
            .write(&key, &Actor::User, &patch, ahead)
            .expect("a write")
            .is_none()
        {
            return;
        }
        match self.server.push(&replica.push(), now) {
            Err(PushError::ClockAhead {
                server_now,
                skew_ms_max,
                ..
            }) => {
                self.marks.hit("push_refused_clock_ahead");
                replica
                    .correct_clock(server_now, skew_ms_max, ahead)
                    .expect("a correctable clock");
                self.marks.hit("clock_corrected");
            }
            Err(e) => panic!("unexpected refusal {e}"),
            Ok(reply) => {
                // An earlier correction already covers this device.
                self.marks.tally(&reply.report.tally);
                replica.ack(reply.acked_through);
            }
        }
    }

    // Delivers everything; every replica must then equal the server.
    fn drain(&mut self) {
        let far = t(self.now_ms + 10_000_000);
        for r in 0..REPLICAS {
            let push = self.replicas[r].push();
            let reply = self.server.push(&push, far).expect("final push");
            self.replicas[r].ack(reply.acked_through);
        }
        for r in 0..REPLICAS {
            loop {
                let replica = &mut self.replicas[r];
                let page = self.server.pull(replica.cursor().unwrap_or(0), 3);
                let more = page.has_more();
                let report = replica.apply_page(&page).expect("a page at the cursor");
                count_report(&mut self.marks, &report, r);
                if !more {
                    break;
                }
            }
            assert!(self.replicas[r].outbox().is_empty());
            assert_eq!(
                self.replicas[r].records(),
                self.server.records(),
                "replica r{r} did not converge to the server"
            );
        }
        // State-based merge of converged replicas changes nothing.
        let mut merged = self.replicas[0].clone();
        let report: ApplyReport = merged.merge(&self.replicas[1]);
        assert_eq!(merged.records(), self.server.records());
        assert!(report.conflicts.is_empty());
    }
}

fn count_report(marks: &mut Marks, report: &ApplyReport, r: usize) {
    marks.tally(&report.tally);
    let me = format!("r{r}");
    for c in &report.conflicts {
        marks.hit(match c.winner.base {
            Base::Legacy => "conflict_winner_legacy",
            Base::First => "conflict_winner_saw_nothing",
            Base::Saw(_) => "conflict_winner_saw_another_version",
        });
        marks.hit(if c.loser_is_local {
            "conflict_loser_local"
        } else {
            "conflict_loser_remote"
        });
        assert_eq!(c.loser_is_local, c.loser.by.as_str() == me);
    }
    for _ in &report.anomalies {
        marks.hit("anomaly");
    }
    for _ in &report.hidden_edits {
        marks.hit("hidden_edit");
    }
}

// Bootstrap defaults; two of them differ in `a`, so twins happen (R10.4).
fn defaults(v: usize) -> Map<String, Value> {
    [("a".to_owned(), json!(v)), ("b".to_owned(), json!(0))]
        .into_iter()
        .collect()
}

// --- Tests that kill mutants `cargo mutants` found alive (spec/HARNESS.md).

/// R11.5, R11.6: the nesting guard that lets a 128-level value decode (the
/// parser's own recursion limit is lifted for guarded documents) must count
/// brackets after a string too. Killed mutant: `==` to `!=` in the escape
/// test of `nesting_beyond`, which lost track of strings, let a hostile
/// document through the guard, and overflowed the stack in the parser.
#[test]
fn r11_5_a_hostile_nesting_after_a_string_is_refused_as_json_without_recursing() {
    for prefix in [
        r#"["ab","#,
        r#"[{"id":"t1","data":{"a":"#,
        r#"[{"id":"a\"b","data":"#,
    ] {
        let doc = format!("{prefix}{}", "[".repeat(100_000));
        let err = fieldmerge::decode_changes(doc.as_bytes()).expect_err("hostile");
        assert_eq!(err.kind.code(), "json", "{prefix}: {err}");
        let err = fieldmerge::ReplicaState::load_json(doc.as_bytes()).expect_err("hostile");
        assert_eq!(err.code(), "state_json", "{prefix}: {err}");
    }
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
