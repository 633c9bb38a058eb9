//! SPEC R13.1: every protocol message and result round-trips through its one
//! JSON form, for generated inputs: pushes, pages, pulls, replies, reports,
//! push refusals, and the storage boundary's contexts and plans.

use arbitrary::Unstructured;
use fieldmerge::{
    plan_push, ClientRow, ErrorBody, LogHead, Page, Pull, Push, PushContext, PushOutcome,
    PushReads, PushReply, Server, ServerConfig, Timestamp,
};
use fieldmerge_harness::gen;
use proptest::test_runner::Config as ProptestConfig;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Bit-for-bit equality through `Debug`, which spells `-0.0` and `0.0`
/// apart (derived `PartialEq` on JSON numbers does not).
fn same<T: std::fmt::Debug>(a: &T, b: &T) -> bool {
    format!("{a:?}") == format!("{b:?}")
}

/// `value` goes to JSON text and back unchanged, and its text is stable.
fn check<T: Serialize + DeserializeOwned + std::fmt::Debug>(value: &T) {
    let text = serde_json::to_string(value).expect("serializes");
    // Values may be nested 128 levels inside the form's own (R11.1), deeper
    // than serde_json's default recursion limit.
    let mut de = serde_json::Deserializer::from_str(&text);
    de.disable_recursion_limit();
    let back = T::deserialize(&mut de).unwrap_or_else(|e| panic!("{e}"));
    assert!(
        same(value, &back),
        "round trip changed {value:?}\ninto {back:?}\nvia {text}"
    );
    assert_eq!(serde_json::to_string(&back).expect("serializes"), text);
}

fn forms(u: &mut Unstructured) -> arbitrary::Result<()> {
    let mut replica = gen::replica(u)?;
    let batch = gen::changes(u)?;
    let report = replica.apply(&batch, gen::delivery(u)?);
    check(&report);
    let push = replica.push();
    check(&push);
    // A push's text decodes through the typed decoder as well as serde.
    let text = serde_json::to_vec(&push).expect("serializes");
    assert!(same(&Push::from_json(&text).expect("decodes"), &push));
    let page = Page {
        after: u.int_in_range(0..=3)?,
        changes: batch.clone(),
        head: u.int_in_range(0..=9)?,
        quarantined: Vec::new(),
        // SPEC R12.7: a named log's page carries the name.
        log: if u.arbitrary()? {
            Some(format!("log-{}", u.int_in_range(0..=9)?))
        } else {
            None
        },
    };
    check(&page);
    check(&Pull {
        cursor: u.arbitrary()?,
        limit: u.arbitrary()?,
    });
    let mut server = Server::new(ServerConfig::default());
    let now = gen::timestamp(u)?;
    match server.push(&push, now) {
        Ok(reply) => check::<PushReply>(&reply),
        Err(refusal) => {
            check(&refusal);
            // Its body names the same code.
            assert_eq!(ErrorBody::from(&refusal).code, refusal.code());
        }
    }
    // The storage boundary: the context of the push and its outcome.
    let reads = PushReads::of(&push);
    check(&reads);
    let context = PushContext {
        log: LogHead {
            head: server.head(),
            high: Timestamp::GENESIS,
        },
        client: ClientRow {
            last_seq: 0,
            clock_epoch: u.int_in_range(0..=2)?,
        },
        logged: Vec::new(),
        records: reads
            .records
            .iter()
            .map(|k| (k.clone(), replica.records().get(k).cloned()))
            .collect(),
    };
    check(&context);
    let outcome: PushOutcome =
        plan_push(&ServerConfig::default(), &context, &push, now).expect("every record read");
    check(&outcome);
    // A server-side write's plan, or its error's body.
    let key = gen::record_key(u)?;
    let patch = gen::any_patch(u)?;
    let agent = fieldmerge::WriterId::new("agent");
    let log = server.log_head();
    match fieldmerge::plan_write(
        log,
        server.record(&key),
        &agent,
        &fieldmerge::Actor::Ai,
        &key,
        &patch,
        now,
    ) {
        Ok(Some(plan)) => check(&plan),
        Ok(None) => {}
        Err(e) => check(&ErrorBody::from(&e)),
    }
    Ok(())
}

proptest::proptest! {
    #![proptest_config(ProptestConfig::default())]
    #[test]
    fn r13_1_every_message_and_result_round_trips_through_its_json_form(
        bytes in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..4096)
    ) {
        let mut u = Unstructured::new(&bytes);
        let _ = forms(&mut u);
    }
}

#[test]
fn r13_1_a_push_from_json_refuses_unknown_members_and_bad_ids_with_typed_errors() {
    let check = |text: &str, code: &str, index: usize| {
        let err = Push::from_json(text.as_bytes()).expect_err(text);
        assert_eq!((err.kind.code(), err.index), (code, index), "{text}: {err}");
    };
    check(
        r#"{"client_id": "phone", "changes": [], "extra": 1}"#,
        "unknown_member",
        0,
    );
    check(r#"{"changes": []}"#, "missing", 0);
    check(r#"{"client_id": "", "changes": []}"#, "bad_name", 0);
    check(r#"{"client_id": 7, "changes": []}"#, "wrong_type", 0);
    check(
        r#"{"client_id": "phone", "changes": [], "cursor": -1}"#,
        "wrong_type",
        0,
    );
    check(
        r#"{"client_id": "phone", "changes": [{"table": "t"}, {}]}"#,
        "missing",
        0,
    );
    check(r#"{"client_id": "phone", "changes": 5}"#, "wrong_type", 0);
    check(r#"{"client_id": "phone""#, "json", 0);
    let ok = Push::from_json(br#"{"client_id": "phone", "changes": []}"#).expect("defaults");
    assert_eq!((ok.cursor, ok.clock_epoch), (0, 0));
    let err = Page::from_json(br#"{"after": 0, "changes": []}"#).expect_err("no head");
    assert_eq!(err.kind.code(), "missing");
}

/// SPEC R13.1: an error's body names its code and, where the error has
/// them, the change's index and the field; nothing else is made up.
#[test]
fn r13_1_every_error_body_names_its_code_index_and_field() {
    fn check(body: ErrorBody, code: &str, index: Option<usize>, field: Option<&str>) {
        assert_eq!(
            (body.code.as_str(), body.index, body.field.as_deref()),
            (code, index, field),
            "{}",
            body.message
        );
        assert!(!body.message.is_empty());
    }
    // A change: its index in the batch and the field.
    let bad = serde_json::json!([{"table": "t", "id": "i", "op": "update", "data": {"a": 1},
        "field_meta": {"a": {"at": "2026-04-26T10:00:00.000Z", "origin": "user"}}, "client_id": "c"},
        {"table": "t", "id": "i", "op": "update", "data": {"a": 1},
        "field_meta": {"a": {"at": "bad", "origin": "user"}}, "client_id": "c"}]);
    let e = fieldmerge::decode_change_values(&bad).expect_err("a bad timestamp");
    check(ErrorBody::from(&e), "bad_timestamp", Some(1), Some("a"));
    // A write: the field of a reserved or too deep value, none for a name.
    let mut phone = fieldmerge::Replica::new(fieldmerge::WriterId::new("phone"));
    let key = fieldmerge::RecordKey::new("tasks", "t1");
    let patch = |v: serde_json::Value| v.as_object().cloned().unwrap_or_default();
    let now = Timestamp::GENESIS;
    let reserved = phone.write(
        &key,
        &fieldmerge::Actor::User,
        &patch(serde_json::json!({"_updatedAtIndex": 1})),
        now,
    );
    check(
        ErrorBody::from(&reserved.expect_err("reserved")),
        "reserved_field",
        None,
        Some("_updatedAtIndex"),
    );
    let named = phone.write(
        &key,
        &fieldmerge::Actor::User,
        &patch(serde_json::json!({"": 1})),
        now,
    );
    check(
        ErrorBody::from(&named.expect_err("bad name")),
        "bad_name",
        None,
        None,
    );
    // A page: the change's index for not_consecutive.
    let wire = |seq: u64| {
        serde_json::json!({"table": "t", "id": "i", "op": "update", "data": {"a": 1},
        "field_meta": {"a": {"at": "2026-04-26T10:00:00.000Z", "origin": "user"}}, "client_id": "c", "server_seq": seq})
    };
    let changes =
        fieldmerge::decode_change_values(&serde_json::json!([wire(1), wire(3)])).expect("valid");
    let e = phone
        .apply_page(&Page {
            after: 0,
            changes,
            head: 3,
            quarantined: Vec::new(),
            log: None,
        })
        .expect_err("not consecutive");
    check(ErrorBody::from(&e), "not_consecutive", Some(1), None);
    // A state: the outbox change's index and field, or a record's field.
    let state = serde_json::json!({"client_id": "phone", "outbox": [wire(1)]});
    let state: fieldmerge::ReplicaState = serde_json::from_value(state).expect("a state");
    let mut outbox = state.clone();
    outbox.outbox[0]["field_meta"]["a"]["at"] = serde_json::json!("bad");
    check(
        ErrorBody::from(&outbox.load().expect_err("bad outbox")),
        "bad_timestamp",
        Some(0),
        Some("a"),
    );
    let record = serde_json::json!({"client_id": "phone", "records": [{"table": "t", "id": "i",
        "fields": {"a": {"value": 1, "at": "bad", "origin": "user", "by": "p"}}}]});
    let record: fieldmerge::ReplicaState = serde_json::from_value(record).expect("a state");
    check(
        ErrorBody::from(&record.load().expect_err("bad record")),
        "bad_timestamp",
        None,
        Some("a"),
    );
    // A log: the entry's index.
    let mut server = Server::new(ServerConfig::default());
    let log = vec![];
    let _ = &mut server;
    let entry = fieldmerge::decode_change_values(&serde_json::json!([wire(2)])).expect("valid");
    let e = Server::from_log(ServerConfig::default(), [log, entry].concat(), [])
        .expect_err("seq 2 first");
    check(ErrorBody::from(&e), "log_inconsistent", Some(0), None);
}

/// The read-only view of a replica's records answers as the records are,
/// and a tally reads back from its own JSON form.
#[test]
fn r13_1_a_records_view_and_a_tally_say_what_they_hold() {
    let mut phone = fieldmerge::Replica::new(fieldmerge::WriterId::new("phone"));
    let (t1, t2) = (
        fieldmerge::RecordKey::new("tasks", "t1"),
        fieldmerge::RecordKey::new("tasks", "t2"),
    );
    assert!(phone.records().is_empty());
    assert_eq!(
        (phone.records().len(), phone.records().contains(&t1)),
        (0, false)
    );
    let patch = serde_json::json!({"title": "a"})
        .as_object()
        .cloned()
        .unwrap_or_default();
    phone
        .write(&t1, &fieldmerge::Actor::User, &patch, Timestamp::GENESIS)
        .expect("written");
    let view = phone.records();
    assert!(!view.is_empty());
    assert_eq!(
        (view.len(), view.contains(&t1), view.contains(&t2)),
        (1, true, false)
    );
    let tally: fieldmerge::Tally = serde_json::from_str(
        r#"{"inserted": 2, "duplicate": 0, "stale": 1, "twin": 0,
            "overwrite_not_user": 0, "overwrite_same_value": 0, "overwrite_witnessed": 3,
            "overwrite_legacy_hydration": 0, "conflict_unwitnessed": 4, "conflict_legacy": 0}"#,
    )
    .expect("a tally");
    assert_eq!(
        (
            tally.inserted,
            tally.stale,
            tally.overwrite_witnessed,
            tally.conflict_unwitnessed,
            tally.total()
        ),
        (2, 1, 3, 4, 10)
    );
}

/// SPEC R11.8: a change's extension slot is carried, never read. One slot
/// goes through a local write, the stored state's text, a push, the log, a
/// server rebuilt from its stored forms, a page's text and another
/// replica's apply, and comes out as it went in; the records it reaches
/// are the records the same write without a slot makes.
#[test]
fn r11_8_an_extension_slot_survives_state_push_log_restart_and_page() {
    use crate::support::{key, obj, replica, t};
    use fieldmerge::{Actor, Ext, Replica, ReplicaState, WriterId};
    use serde_json::json;

    let slot = json!({"actor": {"kind": "ai", "principalId": "p1"}, "spaceId": "s1", "n": 2});
    let ext = Ext::new(&slot).expect("a valid slot");
    let patch = obj(json!({"title": "Buy milk"}));
    let mut phone = replica("phone");
    let mut plain = replica("phone");
    let change = phone
        .write_ext(&key("t1"), &Actor::Ai, &patch, t(0), &ext)
        .expect("write")
        .expect("a change");
    plain
        .write(&key("t1"), &Actor::Ai, &patch, t(0))
        .expect("write");
    assert_eq!(change.ext().map(Ext::to_json), Some(slot.clone()));
    assert_eq!(phone.record(&key("t1")), plain.record(&key("t1")));

    // The stored state's text keeps the pending change's slot.
    let text = serde_json::to_vec(&ReplicaState::of(&phone)).expect("serializes");
    let mut phone = ReplicaState::load_json(&text).expect("loads");
    assert_eq!(
        phone.outbox()[0].ext().map(Ext::to_json),
        Some(slot.clone())
    );

    // Pushed, logged, rebuilt from the stored log and client table.
    let mut server = Server::new(ServerConfig::default());
    let reply = server.push(&phone.push(), t(0)).expect("accepted");
    phone.receive_reply(&reply).expect("applies");
    assert!(
        phone.outbox().is_empty(),
        "acknowledged by content, slot included"
    );
    let log = fieldmerge::encode_changes(server.log());
    let log = fieldmerge::decode_changes(&serde_json::to_vec(&log).expect("text")).expect("log");
    let clients: Vec<(WriterId, ClientRow)> = server
        .clients()
        .map(|(id, row)| (id.clone(), row))
        .collect();
    let server = Server::from_log(ServerConfig::default(), log, clients).expect("rebuilds");
    assert_eq!(server.log()[0].ext().map(Ext::to_json), Some(slot.clone()));

    // Served in a page's text, applied by another replica like any change.
    let page = server.pull(0, 10);
    let page =
        Page::from_json(fieldmerge::canonical_json(&page.to_json()).as_bytes()).expect("page");
    assert_eq!(page.changes[0].ext().map(Ext::to_json), Some(slot));
    let mut laptop: Replica = replica("laptop");
    laptop.apply_page(&page).expect("applies");
    assert_eq!(laptop.record(&key("t1")), server.record(&key("t1")));
}

/// SPEC R11.8: a bad slot is refused when it is made, with the code a wire
/// change's slot gets; 4096 bytes of canonical text is the bound.
#[test]
fn r11_8_a_slot_is_an_object_of_at_most_4096_canonical_bytes() {
    use fieldmerge::Ext;
    use serde_json::json;

    let check = |slot: serde_json::Value, code: Option<&str>| {
        assert_eq!(Ext::new(&slot).err().map(|k| k.code()), code, "{slot}");
    };
    check(json!({}), None);
    check(json!([]), Some("wrong_type"));
    check(json!("x"), Some("wrong_type"));
    // `{"a":"…"}` is 8 bytes around the string.
    check(json!({"a": "x".repeat(4088)}), None);
    check(json!({"a": "x".repeat(4089)}), Some("ext_too_large"));
    // Escapes count as written: `\n` is two bytes of canonical text.
    check(json!({"a": "\n".repeat(2044)}), None);
    check(json!({"a": "\n".repeat(2045)}), Some("ext_too_large"));
    check(
        json!({"a": fieldmerge_harness::gen::nested(json!(1), 129, false)}),
        Some("too_deep"),
    );
    check(
        json!({"a": fieldmerge_harness::gen::nested(json!(1), 128, false)}),
        None,
    );
}
