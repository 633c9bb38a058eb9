//! The failure modes of the system this replaces, one scenario each
//! (issue #2). Every expected value is worked out from spec/SPEC.md.

use crate::support::*;
use fieldmerge::{
    derive_updated_at, Actor, ConflictRule, Delivery, Origin, RecordKey, Server, ServerConfig,
    SYSTEM_BOOTSTRAP,
};
use serde_json::json;

#[test]
fn r7_derive_updated_at_is_the_newest_field_and_legacy_rows_do_not_panic() {
    let row = json!({"title": "a", "__fieldMeta": {
        "title": {"at": "2026-04-26T10:00:00.005Z", "origin": "user"},
        "done": {"at": "2026-04-26T10:00:00.009Z", "origin": "agent"},
        "notes": {"at": "2026-04-26T10:00:00.001Z", "origin": "user"}}});
    assert_eq!(derive_updated_at(&row), Some(t(9)));
    // Legacy: no metadata, an `updatedAt` that parses.
    assert_eq!(
        derive_updated_at(&json!({"updatedAt": "2026-04-26T10:00:00.003Z"})),
        Some(t(3))
    );
    // Null, garbage and half-broken rows: none, never a panic.
    for row in [
        json!(null),
        json!(42),
        json!({"updatedAt": "yesterday"}),
        json!({"__fieldMeta": null}),
        json!({"__fieldMeta": {"a": {"at": 5}}, "updatedAt": null}),
        json!({"__fieldMeta": {"a": "x"}}),
    ] {
        assert_eq!(derive_updated_at(&row), None, "row {row}");
    }
    // A broken entry beside a good one: the good one counts.
    let mixed =
        json!({"__fieldMeta": {"a": {"at": "nope"}, "b": {"at": "2026-04-26T10:00:00.002Z"}}});
    assert_eq!(derive_updated_at(&mixed), Some(t(2)));
}

#[test]
fn r5_create_stamps_every_field_and_update_only_changed_fields_moving_the_shadow_index() {
    let mut phone = replica("phone");
    let k = key("t1");
    let created = phone
        .write(
            &k,
            &Actor::User,
            &obj(json!({"title": "a", "done": false, "tags": []})),
            t(5),
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        created.writes().map(|(f, _)| f).collect::<Vec<_>>(),
        ["done", "tags", "title"]
    );
    let record = phone.record(&k).unwrap();
    for field in ["done", "tags", "title"] {
        let reg = record.field(field).unwrap();
        assert_eq!(
            (reg.at, reg.origin, reg.by.as_str()),
            (t(5), Origin::User, "phone")
        );
    }
    assert_eq!(record.updated_at_index(), Some(t(5)));

    // The update repeats `done` and `tags` unchanged: only `title` is stamped.
    let updated = phone
        .write(
            &k,
            &Actor::User,
            &obj(json!({"title": "b", "done": false, "tags": []})),
            t(9),
        )
        .unwrap()
        .unwrap();
    assert_eq!(
        updated.writes().map(|(f, _)| f).collect::<Vec<_>>(),
        ["title"]
    );
    let record = phone.record(&k).unwrap();
    assert_eq!(record.field("title").unwrap().at, t(9));
    assert_eq!(record.field("done").unwrap().at, t(5));
    assert_eq!(record.updated_at_index(), Some(t(9)));
    assert_eq!(record.derive_updated_at(), Some(t(9)));
    assert_eq!(phone.outbox().len(), 2);
}

#[test]
fn r10_bootstrap_placeholder_has_origin_system_and_collapses_with_the_server_row_silently() {
    let singleton = RecordKey::singleton("userContext", "user-1");
    let defaults = obj(json!({"about": "", "goals": []}));
    let mut phone = replica("phone");
    let placeholder = phone.bootstrap(&singleton, &defaults).unwrap().unwrap();
    for (_, reg) in placeholder.writes() {
        assert_eq!(reg.origin, Origin::System);
        assert_eq!(reg.by.as_str(), SYSTEM_BOOTSTRAP);
        assert_eq!(reg.at.as_ms(), 0);
    }
    // The server bootstraps the same singleton at sign-up; the phone pulls it.
    let mut server = Server::new(ServerConfig::default());
    server.bootstrap(&singleton, &defaults).unwrap().unwrap();
    let report = phone.apply_page(&server.pull(0, 10)).unwrap();
    assert!(report.conflicts.is_empty());
    assert!(report.anomalies.is_empty());
    assert_eq!(report.tally.duplicate, 2);
    // And the placeholder's push is a silent duplicate on the server.
    let reply = server.push(&phone.push(), t(0)).unwrap();
    assert!(reply.report.conflicts.is_empty() && reply.report.anomalies.is_empty());
    assert_eq!(server.record(&singleton), phone.record(&singleton));
}

#[test]
fn r6_2_replay_burst_of_ten_sequential_updates_raises_no_conflict_even_twice() {
    let k = key("t1");
    // The server log: a user edit by the laptop, then ten sequential updates,
    // each overwriting the previous (each writer saw its predecessor).
    let mut server = Server::new(ServerConfig::default());
    let mut laptop = replica("laptop");
    laptop
        .write(&k, &Actor::User, &obj(json!({"title": "v0"})), t(0))
        .unwrap();
    sync(&mut laptop, &mut server, t(1));
    for i in 1..=10 {
        laptop
            .write(
                &k,
                &Actor::User,
                &obj(json!({"title": format!("v{i}")})),
                t(i * 10),
            )
            .unwrap();
        sync(&mut laptop, &mut server, t(i * 10 + 1));
    }
    // The phone holds the user-origin v0 (it pulled the first change), then
    // receives the burst, twice: the second time as a raw re-delivery.
    let mut phone = replica("phone");
    phone.apply_page(&server.pull(0, 1)).unwrap();
    assert_eq!(
        phone.record(&k).unwrap().field("title").unwrap().origin,
        Origin::User
    );
    let burst = server.pull(1, 100);
    let first = phone.apply_page(&burst).unwrap();
    assert_eq!(first.conflicts.len(), 0);
    assert_eq!(first.tally.overwrite_witnessed, 10);
    let again = phone.apply(&burst.changes, Delivery::Live);
    assert_eq!(again.conflicts.len(), 0);
    // The record holds v10: v1..v9 are history (stale), v10 is itself.
    assert_eq!((again.tally.stale, again.tally.duplicate), (9, 1));
    // Re-delivery as a page is refused: it does not start at the cursor.
    assert_eq!(
        phone.apply_page(&burst).unwrap_err().code(),
        "not_at_cursor"
    );
    assert_eq!(
        phone.record(&k).unwrap().field("title").unwrap().value,
        json!("v10")
    );
}

#[test]
fn r6_3_agent_write_overwritten_by_the_server_is_silent() {
    let k = key("t1");
    let mut server = Server::new(ServerConfig::default());
    let mut phone = replica("phone");
    phone
        .write(
            &k,
            &Actor::Ai,
            &obj(json!({"summary": "draft by agent"})),
            t(0),
        )
        .unwrap();
    // Another device's user writes the field without having seen the agent's value.
    let mut laptop = replica("laptop");
    laptop
        .write(&k, &Actor::User, &obj(json!({"summary": "mine"})), t(50))
        .unwrap();
    sync(&mut laptop, &mut server, t(51));
    let report = sync(&mut phone, &mut server, t(60));
    assert_eq!(report.conflicts.len(), 0);
    assert_eq!(report.tally.overwrite_not_user, 1);
    assert_eq!(
        phone.record(&k).unwrap().field("summary").unwrap().value,
        json!("mine")
    );
}

#[test]
fn r6_4_hydration_over_kept_user_values_in_several_pages_is_silent() {
    let (ka, kb) = (key("a"), key("b"));
    let mut server = Server::new(ServerConfig::default());
    let mut laptop = replica("laptop");
    for (i, k) in [&ka, &kb, &ka, &kb].into_iter().enumerate() {
        let i = i as i64;
        laptop
            .write(
                k,
                &Actor::User,
                &obj(json!({"title": format!("v{i}")})),
                t(i * 10),
            )
            .unwrap();
        sync(&mut laptop, &mut server, t(i * 10 + 1));
    }
    // A device that pulled everything, then lost its cursor but kept its records.
    let mut phone = replica("phone");
    pull_all(&mut phone, &server, 100);
    phone.reset_cursor();
    let report = pull_all(&mut phone, &server, 1);
    assert_eq!(report.conflicts.len(), 0);
    assert_eq!(report.tally.stale + report.tally.duplicate, 4);
    assert!(!phone.is_hydrating());
}

#[test]
fn r6_4_legacy_changes_are_suppressed_on_every_page_of_a_hydration_round() {
    let k = key("t1");
    let legacy = |seq: u64, at: &str, value: &str| {
        change(json!({"table": "tasks", "id": "t1", "op": "update",
            "data": {"title": value},
            "field_meta": {"title": {"at": at, "origin": "user"}},
            "client_id": "old-server", "server_seq": seq}))
    };
    // The phone holds a user value from an earlier copy of the log.
    let mut phone = replica("phone");
    phone.apply(
        &[legacy(1, "2026-04-26T10:00:00.000Z", "kept")],
        Delivery::Live,
    );
    // Three pages of legacy history, each overwriting the previous value.
    let pages = [
        legacy(1, "2026-04-26T10:00:00.001Z", "p1"),
        legacy(2, "2026-04-26T10:00:00.002Z", "p2"),
        legacy(3, "2026-04-26T10:00:00.003Z", "p3"),
    ];
    let mut total = 0;
    for (i, c) in pages.iter().enumerate() {
        let page = fieldmerge::Page {
            after: i as u64,
            changes: vec![c.clone()],
            head: 3,
            quarantined: Vec::new(),
            log: None,
        };
        let report = phone.apply_page(&page).unwrap();
        assert_eq!(report.conflicts.len(), 0, "page {i}");
        total += report.tally.overwrite_legacy_hydration;
    }
    assert_eq!(total, 3);
    assert_eq!(
        phone.record(&k).unwrap().field("title").unwrap().value,
        json!("p3")
    );
    // After the round, the same legacy overwrite is a conflict (R6.4).
    let live = legacy(4, "2026-04-26T10:00:00.100Z", "p4");
    phone
        .write(&k, &Actor::User, &obj(json!({"title": "mine"})), t(0))
        .unwrap();
    let mut later = phone.clone();
    let page = fieldmerge::Page {
        after: 3,
        changes: vec![live],
        head: 4,
        quarantined: Vec::new(),
        log: None,
    };
    let report = later.apply_page(&page).unwrap();
    assert_eq!(report.conflicts.len(), 1);
    assert_eq!(report.conflicts[0].rule, ConflictRule::Legacy);
}

#[test]
fn r6_9_pending_user_edit_overwritten_by_an_unseeing_hydrated_value_is_reported() {
    let k = key("t1");
    let mut server = Server::new(ServerConfig::default());
    let mut laptop = replica("laptop");
    laptop
        .write(&k, &Actor::User, &obj(json!({"title": "laptop"})), t(100))
        .unwrap();
    sync(&mut laptop, &mut server, t(101));
    // A new device writes before its first pull; its clock is behind.
    let mut phone = replica("phone");
    phone
        .write(&k, &Actor::User, &obj(json!({"title": "phone"})), t(10))
        .unwrap();
    let report = pull_all(&mut phone, &server, 1);
    assert_eq!(report.conflicts.len(), 1);
    let c = &report.conflicts[0];
    assert_eq!(
        (c.loser.value.clone(), c.winner.value.clone()),
        (json!("phone"), json!("laptop"))
    );
    assert!(c.loser_is_local);
}

#[test]
fn r6_3_real_lost_user_edit_is_one_conflict_reported_once_and_none_when_witnessed() {
    let k = key("t1");
    let mut server = Server::new(ServerConfig::default());
    let mut phone = replica("phone");
    let mut laptop = replica("laptop");
    phone
        .write(&k, &Actor::User, &obj(json!({"title": "v0"})), t(0))
        .unwrap();
    sync(&mut phone, &mut server, t(1));
    sync(&mut laptop, &mut server, t(2));
    // Offline: the phone edits; the laptop edits later without seeing it.
    phone
        .write(&k, &Actor::User, &obj(json!({"title": "phone"})), t(10))
        .unwrap();
    laptop
        .write(&k, &Actor::User, &obj(json!({"title": "laptop"})), t(20))
        .unwrap();
    sync(&mut laptop, &mut server, t(21));
    let cursor = phone.cursor().unwrap();
    let page = server.pull(cursor, 100);
    let report = phone.apply_page(&page).unwrap();
    assert_eq!(report.conflicts.len(), 1);
    assert_eq!(report.conflicts[0].rule, ConflictRule::Unwitnessed);
    assert_eq!(report.conflicts[0].field, "title");
    // Re-delivery, as raw changes and after a cursor reset: never again.
    assert!(phone
        .apply(&page.changes, Delivery::Live)
        .conflicts
        .is_empty());
    phone.reset_cursor();
    assert!(pull_all(&mut phone, &server, 1).conflicts.is_empty());

    // The same overwrite by a writer that saw the phone's edit: silent.
    let mut desk = replica("desk");
    let mut server2 = Server::new(ServerConfig::default());
    let mut phone2 = replica("phone");
    phone2
        .write(&k, &Actor::User, &obj(json!({"title": "phone"})), t(10))
        .unwrap();
    sync(&mut phone2, &mut server2, t(11));
    sync(&mut desk, &mut server2, t(12));
    desk.write(&k, &Actor::User, &obj(json!({"title": "desk"})), t(20))
        .unwrap();
    sync(&mut desk, &mut server2, t(21));
    let report = sync(&mut phone2, &mut server2, t(22));
    assert_eq!(report.conflicts.len(), 0);
    assert_eq!(report.tally.overwrite_witnessed, 1);
}

#[test]
fn r10_1_offline_edit_on_a_placeholder_survives_the_server_bootstrap_whatever_the_clocks() {
    let singleton = RecordKey::singleton("kontextDoc", "space-1");
    let defaults = obj(json!({"content": ""}));
    let mut phone = replica("phone");
    phone.bootstrap(&singleton, &defaults).unwrap();
    // The phone's clock is at the epoch's first millisecond: the worst case.
    let early = fieldmerge::Timestamp::from_ms(1).unwrap();
    phone
        .write(
            &singleton,
            &Actor::User,
            &obj(json!({"content": "my notes"})),
            early,
        )
        .unwrap();
    let mut server = Server::new(ServerConfig::default());
    // The server bootstraps late (reconciliation at boot, long after).
    server.bootstrap(&singleton, &defaults).unwrap().unwrap();
    assert!(
        server.bootstrap(&singleton, &defaults).unwrap().is_none(),
        "idempotent"
    );
    let report = sync(&mut phone, &mut server, t(0));
    assert!(report.conflicts.is_empty());
    assert_eq!(
        phone
            .record(&singleton)
            .unwrap()
            .field("content")
            .unwrap()
            .value,
        json!("my notes")
    );
    assert_eq!(
        server
            .record(&singleton)
            .unwrap()
            .field("content")
            .unwrap()
            .value,
        json!("my notes")
    );
}
