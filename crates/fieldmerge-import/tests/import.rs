//! SPEC R14: importing the replaced system's data, checked against values
//! worked out by hand from its shapes (`tests/data/`): the stored rows of
//! a bootstrap, user and agent writes, a retried push, a bad row and a bad
//! line; its served changes; two devices' exports with `__fieldMeta`,
//! `server-replay` values, a legacy `updatedAt` row and a pending change.
//! Then the imported devices sync through the imported server: they
//! converge, and no conflict is reported.

use fieldmerge::{ApplyReport, Replica, ReplicaState, Server, ServerConfig, Timestamp};
use fieldmerge_import::{import_device, import_rows, import_served};
use serde_json::{json, Value};

const ROWS: &[u8] = include_bytes!("data/rows.jsonl");
const SERVED: &[u8] = include_bytes!("data/served.json");
const D1: &[u8] = include_bytes!("data/device-d1.json");
const D2: &[u8] = include_bytes!("data/device-d2.json");

fn meta(at: &str, origin: &str, by: &str) -> Value {
    json!({"at": at, "origin": origin, "by": by})
}

fn ext(event: &str, actor: Value, space: Option<&str>) -> Value {
    let mut e = json!({"event_id": event, "actor": actor, "app_id": "todo", "user_id": "u1", "schema_version": 1});
    if let Some(s) = space {
        e["space_id"] = json!(s);
    }
    e
}

/// A report line as `(outcome, server_seq, error code, notes)`, notes as
/// `code` or `code:field`.
type Line = (String, Option<u64>, Option<String>, Vec<String>);

fn lines(report: &Value) -> Vec<Line> {
    report
        .as_array()
        .expect("a report")
        .iter()
        .map(|l| {
            (
                l["outcome"].as_str().unwrap_or_default().to_owned(),
                l["server_seq"].as_u64(),
                l["error"]["code"].as_str().map(str::to_owned),
                l["notes"]
                    .as_array()
                    .map(|n| {
                        n.iter()
                            .map(|n| match n["field"].as_str() {
                                Some(f) => {
                                    format!("{}:{f}", n["code"].as_str().unwrap_or_default())
                                }
                                None => n["code"].as_str().unwrap_or_default().to_owned(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
            )
        })
        .collect()
}

fn line(
    outcome: &str,
    seq: Option<u64>,
    code: Option<&str>,
    notes: &[&str],
) -> (String, Option<u64>, Option<String>, Vec<String>) {
    (
        outcome.to_owned(),
        seq,
        code.map(str::to_owned),
        notes.iter().map(|s| (*s).to_owned()).collect(),
    )
}

#[test]
fn r14_2_r14_3_stored_rows_become_a_log_in_the_replaced_systems_order() {
    let import = import_rows(ROWS).expect("a list of rows");
    let out = import.to_json();
    let user = json!({"kind": "user"});
    let expected_log = json!([
        {"table": "notes", "id": "n1", "op": "insert",
         "data": {"text": "old note", "updatedAt": "2026-04-20T08:00:00.000Z"},
         "field_meta": {"text": meta("2026-04-20T08:00:00.000Z", "user", "c-d1"),
                        "updatedAt": meta("2026-04-20T08:00:00.000Z", "user", "c-d1")},
         "client_id": "c-d1", "server_seq": 1, "ext": ext("e-011", user.clone(), None)},
        {"table": "userContext", "id": "singleton", "op": "insert",
         "data": {"lang": "en", "theme": "light"},
         "field_meta": {"lang": meta("2026-04-26T10:00:00.000Z", "system", "system:bootstrap"),
                        "theme": meta("2026-04-26T10:00:00.000Z", "system", "system:bootstrap")},
         "client_id": "system:bootstrap", "server_seq": 2,
         "ext": ext("e-001", json!({"kind": "system", "principalId": "system:bootstrap"}), None)},
        {"table": "tasks", "id": "t1", "op": "insert", "data": {"done": false, "title": "Buy milk"},
         "field_meta": {"done": meta("2026-04-26T10:00:05.123Z", "user", "c-d1"),
                        "title": meta("2026-04-26T10:00:05.123Z", "user", "c-d1")},
         "client_id": "c-d1", "server_seq": 3, "ext": ext("e-002", user.clone(), Some("s1"))},
        {"table": "tasks", "id": "t2", "op": "insert", "data": {"title": "Call mom"},
         "field_meta": {"title": meta("2026-04-26T10:00:30.000Z", "user", "c-d2")},
         "client_id": "c-d2", "server_seq": 4, "ext": ext("e-010", user.clone(), None)},
        {"table": "tasks", "id": "t1", "op": "update", "data": {"title": "Buy oat milk"},
         "field_meta": {"title": meta("2026-04-26T10:01:00.000Z", "user", "c-d1")},
         "client_id": "c-d1", "server_seq": 5, "ext": ext("e-003", user.clone(), Some("s1"))},
        {"table": "tasks", "id": "t1", "op": "update", "data": {"done": true},
         "field_meta": {"done": meta("2026-04-26T10:02:00.000Z", "agent", "mana-ai-runner")},
         "client_id": "mana-ai-runner", "server_seq": 6,
         "ext": ext("e-005", json!({"kind": "ai", "model": "m-1"}), Some("s1"))},
        {"table": "tasks", "id": "t2", "op": "delete", "data": {"deletedAt": "2026-04-26T10:03:00.000Z"},
         "field_meta": {"deletedAt": meta("2026-04-26T10:03:00.500Z", "user", "c-d2")},
         "client_id": "c-d2", "server_seq": 7, "ext": ext("e-006", user, Some("s1"))},
    ]);
    assert_eq!(out["log"], expected_log);
    assert_eq!(out["clients"], json!({}));
    assert_eq!(
        lines(&out["report"]),
        vec![
            line(
                "mapped",
                Some(2),
                None,
                &["offset_normalized", "id_dropped:id", "stamped_at_created"]
            ),
            line(
                "mapped",
                Some(3),
                None,
                &[
                    "fraction_truncated",
                    "offset_normalized",
                    "id_dropped:id",
                    "stamped_at_created"
                ]
            ),
            line(
                "mapped",
                Some(5),
                None,
                &["fraction_truncated", "offset_normalized"]
            ),
            line("merged", Some(5), None, &["offset_normalized"]),
            line("mapped", Some(6), None, &["offset_normalized"]),
            line(
                "mapped",
                Some(7),
                None,
                &["offset_normalized", "stamped_at_created"]
            ),
            line("refused", None, Some("unknown_op"), &[]),
            line("refused", None, Some("json"), &[]),
            line(
                "mapped",
                Some(4),
                None,
                &["offset_normalized", "id_dropped:id", "stamped_at_created"]
            ),
            line(
                "mapped",
                Some(1),
                None,
                &["fraction_truncated", "id_dropped:id", "stamped_at_created"]
            ),
        ]
    );
    assert_eq!(out["report"][0]["event_id"], "e-001");
    assert_eq!(out["report"][7].get("event_id"), None);
}

#[test]
fn r14_5_importing_twice_gives_the_same_bytes() {
    let text = |v: Value| fieldmerge::canonical_json(&v);
    let rows = text(import_rows(ROWS).expect("rows").to_json());
    assert_eq!(rows, text(import_rows(ROWS).expect("rows").to_json()));
    let served = text(import_served(SERVED).expect("served").to_json());
    assert_eq!(
        served,
        text(import_served(SERVED).expect("served").to_json())
    );
    let device = text(import_device(D1, "c-d1").expect("device").to_json());
    assert_eq!(
        device,
        text(import_device(D1, "c-d1").expect("device").to_json())
    );
    // The log read back by a server and written out again is the same log.
    let import = import_rows(ROWS).expect("rows");
    let server = Server::from_log(ServerConfig::default(), import.log.clone(), []).expect("a log");
    assert_eq!(
        fieldmerge::encode_log(server.log(), server.quarantined()),
        import.to_json()["log"]
    );
}

#[test]
fn r14_4_served_changes_keep_their_stamps_and_merge_a_repeated_event() {
    let out = import_served(SERVED).expect("a pull reply").to_json();
    let user = json!({"kind": "user"});
    assert_eq!(
        out["log"],
        json!([
            {"table": "tasks", "id": "t1", "op": "insert", "data": {"done": false, "title": "Buy milk"},
             "field_meta": {"done": meta("1970-01-01T00:00:00.000Z", "user", "legacy"),
                            "title": meta("1970-01-01T00:00:00.000Z", "user", "legacy")},
             "client_id": "legacy", "server_seq": 1,
             "ext": {"event_id": "e-002", "actor": user, "space_id": "s1", "schema_version": 1}},
            {"table": "tasks", "id": "t1", "op": "update", "data": {"title": "Buy oat milk"},
             "field_meta": {"title": meta("2026-04-26T10:01:00.000Z", "user", "legacy")},
             "client_id": "legacy", "server_seq": 2,
             "ext": {"event_id": "e-003", "actor": user, "space_id": "s1", "schema_version": 1}},
            {"table": "tasks", "id": "t1", "op": "update", "data": {"done": true},
             "field_meta": {"done": meta("2026-04-26T10:02:00.000Z", "agent", "legacy")},
             "client_id": "legacy", "server_seq": 3,
             "ext": {"event_id": "e-005", "actor": {"kind": "ai"}, "schema_version": 1}},
            {"table": "tasks", "id": "t2", "op": "delete", "data": {"deletedAt": "2026-04-26T10:03:00.000Z"},
             "field_meta": {"deletedAt": meta("2026-04-26T10:03:00.000Z", "user", "legacy")},
             "client_id": "legacy", "server_seq": 4,
             "ext": {"event_id": "e-006", "actor": user, "schema_version": 1}},
        ])
    );
    assert_eq!(
        lines(&out["report"]),
        vec![
            line(
                "mapped",
                Some(1),
                None,
                &["id_dropped:id", "stamped_at_genesis"]
            ),
            line("mapped", Some(2), None, &[]),
            line("mapped", Some(3), None, &[]),
            line("merged", Some(2), None, &[]),
            line("mapped", Some(4), None, &[]),
            line(
                "refused",
                None,
                Some("bad_timestamp"),
                &["origin_defaulted"]
            ),
        ]
    );
}

fn register(value: Value, at: &str, origin: &str, by: &str) -> Value {
    json!({"value": value, "at": at, "origin": origin, "by": by})
}

const GENESIS: &str = "1970-01-01T00:00:00.000Z";

#[test]
fn r14_5_a_device_keeps_its_own_writes_and_defers_the_rest_to_the_server() {
    let out = import_device(D1, "c-d1").expect("an export").to_json();
    let state = &out["state"];
    let fields = |i: usize| state["records"][i]["fields"].clone();
    let keys: Vec<(&str, &str)> = state["records"]
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            (
                r["table"].as_str().unwrap_or(""),
                r["id"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        keys,
        [
            ("notes", "n1"),
            ("tasks", "t1"),
            ("userContext", "singleton")
        ]
    );
    assert_eq!(
        fields(0),
        json!({"text": register(json!("old note"), GENESIS, "system", ""),
               "updatedAt": register(json!("2026-04-20T08:00:00.000Z"), GENESIS, "system", "")})
    );
    assert_eq!(
        fields(1),
        json!({"title": register(json!("Buy oat milk"), "2026-04-26T10:01:00.000Z", "user", "c-d1"),
               "done": register(json!(false), GENESIS, "system", "")})
    );
    assert_eq!(
        fields(2),
        json!({"theme": register(json!("dark"), "2026-04-26T10:04:00.000Z", "user", "c-d1"),
               "lang": register(json!("en"), GENESIS, "system", "")})
    );
    assert_eq!(
        state["outbox"],
        json!([{"table": "userContext", "id": "singleton", "op": "update", "data": {"theme": "dark"},
                "field_meta": {"theme": meta("2026-04-26T10:04:00.000Z", "user", "c-d1")},
                "client_id": "c-d1", "client_seq": 1,
                "ext": {"actor": {"kind": "user"}, "app_id": "todo"}}])
    );
    assert_eq!(
        (state["next_seq"].as_u64(), state["cursor"].as_u64()),
        (Some(2), None)
    );
    assert_eq!(
        lines(&out["report"]),
        vec![
            line(
                "loaded",
                None,
                None,
                &["deferred:text", "deferred:updatedAt"]
            ),
            line(
                "loaded",
                None,
                None,
                &["local_only_dropped:_updatedAtIndex", "deferred:done"]
            ),
            line("loaded", None, None, &["deferred:lang"]),
            line("loaded", None, None, &[]),
        ]
    );
}

fn pull_all(replica: &mut Replica, server: &Server) -> ApplyReport {
    let mut report = ApplyReport::default();
    for _ in 0..=server.head() {
        let page = server.pull(replica.cursor().unwrap_or(0), 2);
        let more = page.has_more();
        report.extend(replica.apply_page(&page).expect("at the cursor"));
        if !more {
            break;
        }
    }
    report
}

#[test]
fn r14_the_imported_devices_sync_through_the_imported_server_and_converge_without_a_conflict() {
    let log = import_rows(ROWS).expect("rows").log;
    let mut server = Server::from_log(ServerConfig::default(), log, []).expect("the imported log");
    let load = |bytes, id| {
        let state: ReplicaState = import_device(bytes, id).expect("an export").state;
        state.load().expect("an imported state loads")
    };
    let (mut d1, mut d2) = (load(D1, "c-d1"), load(D2, "c-d2"));
    let now = Timestamp::parse("2026-04-26T10:05:00.000Z").expect("a time");
    let mut conflicts = 0;
    for device in [&mut d1, &mut d2] {
        let reply = server
            .push(&device.push(), now)
            .expect("the push is accepted");
        conflicts += reply.report.conflicts.len();
        conflicts += device
            .receive_reply(&reply)
            .expect("the reply")
            .conflicts
            .len();
        conflicts += pull_all(device, &server).conflicts.len();
    }
    conflicts += pull_all(&mut d1, &server).conflicts.len();
    assert_eq!(conflicts, 0, "an import makes no false conflict");
    assert!(d1.outbox().is_empty() && d2.outbox().is_empty());
    assert_eq!(d1.records(), server.records());
    assert_eq!(d2.records(), server.records());
    // The device's pending edit won; everything it deferred is the server's.
    let theme = server
        .record(&fieldmerge::RecordKey::new("userContext", "singleton"))
        .and_then(|r| r.field("theme"))
        .map(|r| r.value.clone());
    assert_eq!(theme, Some(json!("dark")));
    let done = server
        .record(&fieldmerge::RecordKey::new("tasks", "t1"))
        .and_then(|r| r.field("done"))
        .map(|r| r.value.clone());
    assert_eq!(done, Some(json!(true)));
}

#[test]
fn r14_1_times_are_moved_to_utc_and_truncated_to_the_millisecond() {
    use fieldmerge_import::legacy_instant;
    let check = |text: &str, want: Option<(&str, u32)>| {
        let got = legacy_instant(text)
            .ok()
            .map(|i| (i.at.to_string(), i.sub_ms_nanos));
        assert_eq!(got, want.map(|(at, sub)| (at.to_owned(), sub)), "{text}");
    };
    check(
        "2026-04-26T12:13:47.361052+02:00",
        Some(("2026-04-26T10:13:47.361Z", 52_000)),
    );
    check(
        "2026-04-26 10:00:00Z",
        Some(("2026-04-26T10:00:00.000Z", 0)),
    );
    check(
        "2026-04-26T10:00:00.1Z",
        Some(("2026-04-26T10:00:00.100Z", 0)),
    );
    check(
        "2026-04-26T10:00:00.999999999Z",
        Some(("2026-04-26T10:00:00.999Z", 999_999)),
    );
    check(
        "2026-04-26T15:30:00+0530",
        Some(("2026-04-26T10:00:00.000Z", 0)),
    );
    check(
        "2026-04-26T02:00:00-08",
        Some(("2026-04-26T10:00:00.000Z", 0)),
    );
    check(
        "2026-04-26T00:30:00+01:00",
        Some(("2026-04-25T23:30:00.000Z", 0)),
    );
    for bad in [
        "2026-02-30T00:00:00Z",
        "2026-04-26T10:00:00.1234567891Z",
        "2026-04-26T10:00:00",
        "2026-04-26T10:00:00.Z",
        "2026-04-26T10:00:00+24:00",
        "2026-04-26T10:00:00+05:60",
        "26/04/2026",
        "1970-01-01T00:00:00+01:00",
    ] {
        check(bad, None);
    }
}
