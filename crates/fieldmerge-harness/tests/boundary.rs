//! Issue #10: one place for each decision. `decide` is the only place a
//! field's decision is made, so an apply reports exactly what `decide` says
//! for the same registers; and every writer checks a patch through one path,
//! so `Replica::write` and `Server::write` give the same error for the same
//! bad patch.

use crate::support::*;
use fieldmerge::{
    decide, Actor, Base, ConflictRule, Context, Decision, Delivery, Origin, Page, Register,
    Replica, Server, ServerConfig, Silence, Tally, WriterId,
};
use serde_json::{json, Value};

fn reg(value: Value, ms: i64, by: &str, origin: Origin, base: Base) -> Register {
    Register {
        value,
        at: t(ms),
        by: WriterId::new(by),
        origin,
        base,
    }
}

/// A wire change of `reg` to `tasks/t1.title`, logged at `server_seq` 1.
fn logged(reg: &Register, client: &str) -> fieldmerge::Change {
    let mut meta =
        json!({"at": reg.at.to_string(), "origin": reg.origin.as_str(), "by": reg.by.as_str()});
    match &reg.base {
        Base::Legacy => {}
        Base::First => meta["base"] = Value::Null,
        Base::Saw(v) => meta["base"] = json!({"at": v.at.to_string(), "by": v.by.as_str()}),
    }
    change(json!({
        "table": "tasks", "id": "t1", "op": "update",
        "data": {"title": reg.value}, "field_meta": {"title": meta},
        "client_id": client, "server_seq": 1,
    }))
}

/// A replica named `me` holding `current` in `tasks/t1.title`: as its own
/// pending write when `pending` (then `current` must be a fresh user write
/// of `me`), else received from the log in a live page.
fn holding(current: &Register, pending: bool) -> Replica {
    let mut me = replica("me");
    if pending {
        assert_eq!(
            (current.by.as_str(), current.origin, &current.base),
            ("me", Origin::User, &Base::First)
        );
        let patch = obj(json!({"title": current.value}));
        me.write(&key("t1"), &Actor::User, &patch, current.at)
            .expect("write");
        assert_eq!(
            me.record(&key("t1")).and_then(|r| r.field("title")),
            Some(current)
        );
    } else {
        me.apply(&[logged(current, "other")], Delivery::Live);
    }
    me
}

/// `decide` gives `expected`, and a replica holding `current` that applies
/// `incoming` with `delivery` tallies exactly that decision, reports a
/// conflict exactly when it is one, and keeps the winner.
fn check(
    current: Register,
    pending: bool,
    incoming: Register,
    delivery: Delivery,
    expected: Decision,
) {
    let context = Context {
        delivery,
        current_pending: pending,
    };
    assert_eq!(
        decide(Some(&current), &incoming, context),
        expected,
        "decide"
    );
    let mut me = holding(&current, pending);
    let report = me.apply(&[logged(&incoming, "other")], delivery);
    let mut tally = Tally::default();
    tally.count(expected);
    assert_eq!(report.tally, tally, "apply's tally for {expected:?}");
    let conflicts = usize::from(matches!(expected, Decision::Conflict(_)));
    assert_eq!(
        report.conflicts.len(),
        conflicts,
        "conflicts for {expected:?}"
    );
    if let Some(c) = report.conflicts.first() {
        assert_eq!(Decision::Conflict(c.rule), expected);
    }
    assert_eq!(
        report.anomalies.len(),
        usize::from(matches!(expected, Decision::Twin { .. }))
    );
    let kept = me
        .record(&key("t1"))
        .and_then(|r| r.field("title"))
        .cloned();
    let winner = if expected.incoming_won() {
        incoming
    } else {
        current
    };
    assert_eq!(kept, Some(winner), "kept register for {expected:?}");
}

#[test]
fn r6_an_apply_reports_exactly_what_decide_says_for_every_decision_kind() {
    use Base::{First, Legacy};
    use Origin::{Agent, User};
    let mine = reg(json!("draft"), 10, "me", User, First);
    let saw_mine = Base::Saw(mine.version());
    let live = Delivery::Live;
    let hydration = Delivery::Hydration;
    check(mine.clone(), true, mine.clone(), live, Decision::Duplicate);
    check(
        mine.clone(),
        false,
        reg(json!("old"), 5, "x", User, First),
        live,
        Decision::Stale,
    );
    // Same version, other value: a twin; the greater value wins (R4.4).
    check(
        mine.clone(),
        false,
        reg(json!("zzz"), 10, "me", User, First),
        live,
        Decision::Twin { incoming_won: true },
    );
    check(
        mine.clone(),
        false,
        reg(json!("aaa"), 10, "me", User, First),
        live,
        Decision::Twin {
            incoming_won: false,
        },
    );
    let agent = reg(json!("agent"), 10, "bot", Agent, First);
    check(
        agent,
        false,
        reg(json!("x"), 20, "x", User, First),
        live,
        Decision::Overwrite(Silence::LoserNotUser),
    );
    check(
        mine.clone(),
        true,
        reg(json!("draft"), 20, "x", User, First),
        live,
        Decision::Overwrite(Silence::SameValue),
    );
    check(
        mine.clone(),
        true,
        reg(json!("x"), 20, "x", User, saw_mine),
        live,
        Decision::Overwrite(Silence::Witnessed),
    );
    check(
        mine.clone(),
        true,
        reg(json!("x"), 20, "x", User, First),
        live,
        Decision::Conflict(ConflictRule::Unwitnessed),
    );
    check(
        mine.clone(),
        false,
        reg(json!("x"), 20, "x", User, Legacy),
        live,
        Decision::Conflict(ConflictRule::Legacy),
    );
    // A legacy winner in hydration is silent over a received register, and a
    // conflict over a pending local write (R6.4): decided once, in `decide`.
    check(
        mine.clone(),
        false,
        reg(json!("x"), 20, "x", User, Legacy),
        hydration,
        Decision::Overwrite(Silence::LegacyHydration),
    );
    check(
        mine,
        true,
        reg(json!("x"), 20, "x", User, Legacy),
        hydration,
        Decision::Conflict(ConflictRule::Legacy),
    );
}

#[test]
fn r6_a_field_no_replica_held_is_an_insert_in_decide_and_in_apply() {
    let incoming = reg(json!("x"), 20, "x", Origin::User, Base::First);
    assert_eq!(decide(None, &incoming, Delivery::Live), Decision::Insert);
    let mut me = replica("me");
    let report = me.apply(&[logged(&incoming, "other")], Delivery::Live);
    assert_eq!((report.tally.inserted, report.tally.total()), (1, 1));
}

/// The same bad write through a replica and through the server: the same
/// error code, the same error, and neither side changes.
fn check_write(table: &str, writer: &str, patch: Value, code: &str) {
    let k = fieldmerge::RecordKey::new(table, "t1");
    let patch = obj(patch);
    let mut phone = Replica::new(WriterId::new(writer));
    let mut server = Server::new(ServerConfig::default());
    let (phone_before, server_before) = (phone.clone(), server.clone());
    let by_replica = phone
        .write(&k, &Actor::User, &patch, t(0))
        .expect_err("replica refuses");
    let by_server = server
        .write(&WriterId::new(writer), &Actor::User, &k, &patch, t(0))
        .expect_err("server refuses");
    assert_eq!(by_replica.code(), code, "replica, patch {patch:?}");
    assert_eq!(by_server.code(), code, "server, patch {patch:?}");
    // The writer's id is `client_id` to a replica and `writer` to the server;
    // everything else about the error is the same.
    let text = |e: &fieldmerge::WriteError| e.to_string().replace("client_id ", "writer ");
    assert_eq!(text(&by_replica), text(&by_server), "patch {patch:?}");
    assert_eq!((phone, server), (phone_before, server_before));
}

#[test]
fn r5_5_replica_and_server_writes_check_a_patch_in_one_order_with_one_error() {
    let many: serde_json::Map<String, Value> = (0..=fieldmerge::FIELDS_PER_CHANGE_MAX)
        .map(|i| (format!("f{i:04}"), json!(i)))
        .collect();
    let mut many_and_bad = many.clone();
    many_and_bad.insert(String::new(), json!(1));
    let deep = (0..=fieldmerge::VALUE_DEPTH_MAX).fold(json!(1), |v, _| json!([v]));
    check_write("", "phone", json!({"title": "x"}), "bad_name");
    check_write("tasks", "", json!({"title": "x"}), "bad_name");
    check_write("tasks", "phone", json!({"": 1}), "bad_name");
    check_write(
        "tasks",
        "phone",
        json!({"_updatedAtIndex": 1}),
        "reserved_field",
    );
    check_write(
        "tasks",
        "phone",
        json!({"__fieldMeta": {}}),
        "reserved_field",
    );
    check_write("tasks", "phone", json!({"title": deep.clone()}), "too_deep");
    check_write("tasks", "phone", Value::Object(many), "too_many_fields");
    // The order (R5.5): key, writer, field count, then each field in turn.
    check_write("", "", json!({"": 1}), "bad_name");
    check_write("tasks", "", Value::Object(many_and_bad), "bad_name");
    let mut too_many_with_a_bad_name = serde_json::Map::new();
    too_many_with_a_bad_name.insert(String::new(), json!(1));
    for i in 0..fieldmerge::FIELDS_PER_CHANGE_MAX {
        too_many_with_a_bad_name.insert(format!("f{i:04}"), json!(i));
    }
    check_write(
        "tasks",
        "phone",
        Value::Object(too_many_with_a_bad_name),
        "too_many_fields",
    );
    check_write(
        "tasks",
        "phone",
        json!({"a": deep, "b": {}, "_updatedAtIndex": 1}),
        "reserved_field",
    );
}

#[test]
fn r10_1_no_record_is_born_deleted_by_a_replica_or_a_server_bootstrap() {
    let k = fieldmerge::RecordKey::singleton("userContext", "u1");
    let fields = obj(json!({"theme": "dark", "deletedAt": "2026-04-26T10:00:00.000Z"}));
    let mut phone = replica("phone");
    let mut server = Server::new(ServerConfig::default());
    let a = phone.bootstrap(&k, &fields).expect_err("replica refuses");
    let b = server.bootstrap(&k, &fields).expect_err("server refuses");
    assert_eq!((a.code(), b.code()), ("reserved_field", "reserved_field"));
    assert_eq!((phone.records().len(), server.head()), (0, 0));
}

#[test]
fn r12_2_a_page_whose_after_is_near_the_last_u64_does_not_wrap() {
    let page = Page {
        after: u64::MAX,
        changes: Vec::new(),
        head: u64::MAX,
        quarantined: Vec::new(),
        log: None,
    };
    assert!(!page.has_more());
    // Two changes claiming the last sequence number after `u64::MAX - 1`:
    // the second has no sequence number to be, so the page is refused.
    let last = change(json!({
        "table": "tasks", "id": "t1", "op": "update", "data": {"a": 1},
        "field_meta": {"a": {"at": "2026-04-26T10:00:00.000Z", "origin": "user", "by": "x", "base": null}},
        "client_id": "x", "server_seq": fieldmerge::SAFE_INTEGER_MAX,
    }));
    let mut state = fieldmerge::ReplicaState::of(&replica("me"));
    state.cursor = Some(fieldmerge::SAFE_INTEGER_MAX - 1);
    let mut me = state.load().expect("a state at a high cursor loads");
    let forged = Page {
        after: fieldmerge::SAFE_INTEGER_MAX - 1,
        changes: vec![last.clone(), last],
        head: u64::MAX,
        quarantined: Vec::new(),
        log: None,
    };
    let err = me.apply_page(&forged).expect_err("refused");
    assert_eq!(err.code(), "not_consecutive");
}

/// The kernel's modules form a layered graph: no module imports, directly or
/// through others, a module that imports it (issue #10). Read off the
/// sources' `use crate::...` lines and paths, so a new cycle fails here.
#[test]
fn the_kernel_modules_import_each_other_without_cycles() {
    let dir = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../fieldmerge/src");
    let mut modules = std::collections::BTreeMap::new();
    for entry in std::fs::read_dir(&dir).expect("kernel sources") {
        let path = entry.expect("entry").path();
        let name = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default()
            .to_owned();
        if name == "lib" || path.extension().and_then(|e| e.to_str()) != Some("rs") {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("readable");
        modules.insert(name, text);
    }
    let names: Vec<String> = modules.keys().cloned().collect();
    let imports = |text: &str| -> Vec<String> {
        names
            .iter()
            .filter(|m| {
                let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
                code.into_iter()
                    .any(|l| l.contains(&format!("crate::{m}::")))
            })
            .cloned()
            .collect()
    };
    let graph: std::collections::BTreeMap<&String, Vec<String>> =
        modules.iter().map(|(m, text)| (m, imports(text))).collect();
    // Depth-first search for a path from a module's imports back to it.
    for start in graph.keys() {
        let mut stack: Vec<Vec<String>> = graph[start].iter().map(|m| vec![m.clone()]).collect();
        let mut seen = std::collections::BTreeSet::new();
        while let Some(path) = stack.pop() {
            let last = path.last().expect("non-empty").clone();
            assert_ne!(
                &last,
                *start,
                "import cycle: {start} -> {}",
                path.join(" -> ")
            );
            if seen.insert(last.clone()) {
                for next in graph.get(&last).into_iter().flatten() {
                    let mut longer = path.clone();
                    longer.push(next.clone());
                    stack.push(longer);
                }
            }
        }
    }
    assert!(graph.len() >= 14, "read {} kernel modules", graph.len());
}

#[test]
fn r2_3_an_exhausted_clock_is_the_same_error_from_a_replica_and_from_the_server() {
    let last = fieldmerge::Timestamp::MAX;
    let patch = obj(json!({"title": "x"}));
    let mut phone = replica("phone");
    phone
        .write(&key("t1"), &Actor::User, &patch, last)
        .expect("the last instant");
    let mut server = Server::new(ServerConfig::default());
    server.push(&phone.push(), last).expect("pushed");
    let patch = obj(json!({"title": "y"}));
    let a = phone
        .write(&key("t1"), &Actor::User, &patch, last)
        .expect_err("exhausted");
    let b = server
        .write(
            &WriterId::new("agent"),
            &Actor::Ai,
            &key("t1"),
            &patch,
            last,
        )
        .expect_err("exhausted");
    assert_eq!((a.code(), b.code()), ("clock_exhausted", "clock_exhausted"));
    assert_eq!(a.to_string(), b.to_string());
}

#[test]
fn r13_4_a_refusal_is_received_in_one_call_and_only_a_clock_refusal_changes_the_replica() {
    let mut phone = replica("phone");
    phone
        .write(&key("t1"), &Actor::User, &obj(json!({"title": "a"})), t(0))
        .unwrap();
    let before = phone.clone();
    let reused = fieldmerge::PushError::SeqReused {
        index: 0,
        client_seq: 1,
    };
    phone.receive_refusal(&reused, t(0)).expect("nothing to do");
    assert_eq!(phone, before);
    // A clock_ahead refusal read back from its JSON form corrects the clock.
    let mut ahead = replica("laptop");
    ahead
        .write(
            &key("t2"),
            &Actor::User,
            &obj(json!({"title": "b"})),
            t(3_600_000),
        )
        .unwrap();
    let mut server = Server::new(ServerConfig::default());
    let refusal = server.push(&ahead.push(), t(0)).expect_err("an hour ahead");
    let text = serde_json::to_string(&refusal).expect("serializes");
    assert!(
        text.contains(r#""code":"clock_ahead""#) && text.contains(r#""clock_epoch":1"#),
        "{text}"
    );
    let received: fieldmerge::PushError = serde_json::from_str(&text).expect("decodes");
    assert_eq!(received, refusal);
    ahead
        .receive_refusal(&received, t(3_600_000))
        .expect("corrected");
    assert_eq!(ahead.clock().epoch, 1);
    assert_eq!(
        server
            .push(&ahead.push(), t(1))
            .expect("accepted")
            .acked_through,
        Some(1)
    );
}

#[test]
fn r12_5_a_replica_and_its_state_convert_both_ways() {
    let mut phone = replica("phone");
    phone
        .write(&key("t1"), &Actor::User, &obj(json!({"title": "a"})), t(0))
        .unwrap();
    let state = fieldmerge::ReplicaState::from(&phone);
    let back = Replica::try_from(&state).expect("loads");
    assert_eq!(back, phone);
    let mut bad = state.clone();
    bad.client_id = String::new();
    assert_eq!(
        Replica::try_from(&bad).expect_err("refused").code(),
        "state_json"
    );
}

#[test]
fn r11_5_a_change_built_with_one_field_twice_is_refused_not_half_dropped() {
    let reg = |v: i64| Register {
        value: json!(v),
        at: t(0),
        by: WriterId::new("phone"),
        origin: Origin::User,
        base: Base::First,
    };
    let err = fieldmerge::Change::new(
        key("t1"),
        fieldmerge::Op::Update,
        vec![
            ("title".into(), reg(1)),
            ("done".into(), reg(2)),
            ("title".into(), reg(3)),
        ],
        WriterId::new("phone"),
        Some(1),
    )
    .expect_err("title twice");
    assert_eq!(
        (err.kind.code(), err.field.as_deref()),
        ("duplicate_member", Some("title"))
    );
}

#[test]
fn r11_5_an_error_echoes_at_most_256_bytes_of_a_huge_input() {
    let huge = "n".repeat(10 << 20);
    let mut wire = json!({"table": "tasks", "id": "t1", "op": "update",
        "data": {"title": 1}, "field_meta": {"title": {"at": "2026-04-26T10:00:00.000Z", "origin": "user"}},
        "client_id": "phone"});
    wire["data"][&huge] = json!(1);
    wire["field_meta"][&huge] = json!({"at": "2026-04-26T10:00:00.000Z", "origin": "user"});
    let err = fieldmerge::decode_change_values(&json!([wire])).expect_err("a name of 10 MB");
    assert_eq!(err.kind.code(), "bad_name");
    assert!(
        err.to_string().len() < 1024,
        "{} bytes",
        err.to_string().len()
    );
    let mut unknown = json!({"table": "tasks"});
    unknown[&huge] = json!(1);
    let err = fieldmerge::decode_change_values(&json!([unknown])).expect_err("unknown member");
    assert!(
        err.to_string().len() < 1024,
        "{} bytes",
        err.to_string().len()
    );
    let state = format!(r#"{{"client_id": "phone", "{huge}": 1}}"#);
    let err = fieldmerge::ReplicaState::load_json(state.as_bytes()).expect_err("unknown member");
    assert!(
        err.to_string().len() < 1024,
        "{} bytes",
        err.to_string().len()
    );
}

/// One reader of JSON text (SPEC R11.7): no kernel module but `text.rs`
/// parses text, so no text can be read by two sets of rules.
#[test]
fn r11_7_no_kernel_module_parses_json_text_but_the_one_reader() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fieldmerge/src");
    let mut checked = 0;
    for entry in std::fs::read_dir(&dir).expect("kernel sources") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).expect("readable");
        for (n, line) in text.lines().enumerate() {
            let code = line.trim_start();
            if code.starts_with("//") {
                continue;
            }
            for parser in [
                "serde_json::from_slice",
                "serde_json::from_str",
                "Deserializer::from_",
            ] {
                assert!(
                    !code.contains(parser),
                    "{}:{}: {parser} outside the one reader",
                    path.display(),
                    n + 1
                );
            }
        }
        checked += 1;
    }
    assert!(checked > 10, "the kernel's sources were not found");
}
