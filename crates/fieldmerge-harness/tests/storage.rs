//! Issue #10: the kernel over the caller's storage (PROTOCOL.md). The server
//! side is pure functions from what the caller read to what it must store;
//! the in-memory `Server` is those functions over maps, and a server rebuilt
//! from what it stored answers every push as before.

use std::collections::BTreeMap;

use crate::support::*;
use fieldmerge::{
    plan_bootstrap, plan_push, plan_write, Actor, ClientRow, LogHead, Page, PushContext,
    PushOutcome, PushReads, Record, RecordKey, Server, ServerConfig, WriterId,
};
use serde_json::json;

/// A server kept as a caller would keep it in its own tables: the log, the
/// records, the client rows and the log head, written only from plans.
#[derive(Default)]
struct Tables {
    log: Vec<fieldmerge::Change>,
    records: BTreeMap<RecordKey, Record>,
    clients: BTreeMap<WriterId, ClientRow>,
    head: LogHead,
}

impl Tables {
    /// One push, in one "transaction": read what `PushReads` names, plan,
    /// store the plan (or the refusal's client row).
    fn push(
        &mut self,
        push: &fieldmerge::Push,
        now: fieldmerge::Timestamp,
    ) -> Result<Option<u64>, String> {
        let reads = PushReads::of(push);
        let context = PushContext {
            log: self.head,
            client: self
                .clients
                .get(&reads.client_id)
                .copied()
                .unwrap_or_default(),
            logged: self
                .log
                .iter()
                .filter(|c| c.client_id() == &reads.client_id)
                .filter(|c| {
                    c.client_seq()
                        .is_some_and(|s| reads.client_seqs.contains(&s))
                })
                .cloned()
                .collect(),
            records: reads
                .records
                .iter()
                .map(|k| (k.clone(), self.records.get(k).cloned()))
                .collect(),
        };
        match plan_push(&ServerConfig::default(), &context, push, now).map_err(|e| e.to_string())? {
            PushOutcome::Accepted(plan) => {
                self.log.extend(plan.append);
                self.records.extend(plan.records);
                self.clients.insert(push.client_id.clone(), plan.client);
                self.head = plan.log;
                Ok(plan.acked_through)
            }
            PushOutcome::Refused(refusal) => {
                if let Some(row) = refusal.client {
                    self.clients.insert(push.client_id.clone(), row);
                }
                Err(refusal.error.code().to_owned())
            }
        }
    }
}

#[test]
fn r13_3_a_server_over_its_own_tables_stores_what_the_in_memory_server_holds() {
    let mut tables = Tables::default();
    let mut server = Server::new(ServerConfig::default());
    let (mut phone, mut laptop) = (replica("phone"), replica("laptop"));
    let push_both = |r: &fieldmerge::Replica, tables: &mut Tables, server: &mut Server, now| {
        let push = r.push();
        let a = tables.push(&push, now);
        let b = server
            .push(&push, now)
            .map(|reply| reply.acked_through)
            .map_err(|e| e.code().to_owned());
        assert_eq!(a, b, "the same answer from both servers");
        a
    };
    phone
        .write(
            &key("t1"),
            &Actor::User,
            &obj(json!({"title": "a", "done": false})),
            t(0),
        )
        .unwrap();
    laptop
        .write(&key("t1"), &Actor::User, &obj(json!({"title": "b"})), t(5))
        .unwrap();
    laptop
        .write(&key("t2"), &Actor::User, &obj(json!({"title": "c"})), t(6))
        .unwrap();
    assert_eq!(
        push_both(&phone, &mut tables, &mut server, t(10)),
        Ok(Some(1))
    );
    // A retry appends nothing; both answer it alike.
    assert_eq!(
        push_both(&phone, &mut tables, &mut server, t(11)),
        Ok(Some(1))
    );
    assert_eq!(
        push_both(&laptop, &mut tables, &mut server, t(12)),
        Ok(Some(2))
    );
    // A push an hour ahead is refused, and the refusal's epoch is stored.
    phone.ack(Some(1));
    phone
        .write(
            &key("t1"),
            &Actor::User,
            &obj(json!({"done": true})),
            t(3_600_000),
        )
        .unwrap();
    assert_eq!(
        push_both(&phone, &mut tables, &mut server, t(13)),
        Err("clock_ahead".into())
    );
    assert_eq!(tables.clients[&WriterId::new("phone")].clock_epoch, 1);
    assert_eq!(tables.log, server.log());
    assert_eq!(tables.head, server.log_head());
    let stored: Vec<_> = server
        .records()
        .iter()
        .map(|(k, r)| (k.clone(), r.clone()))
        .collect();
    assert_eq!(tables.records.into_iter().collect::<Vec<_>>(), stored);
    let clients: Vec<_> = server
        .clients()
        .map(|(id, row)| (id.clone(), row))
        .collect();
    assert_eq!(tables.clients.into_iter().collect::<Vec<_>>(), clients);
}

#[test]
fn r13_3_a_push_whose_records_were_not_read_is_refused_with_not_read_and_nothing_planned() {
    let mut phone = replica("phone");
    phone
        .write(&key("t1"), &Actor::User, &obj(json!({"title": "a"})), t(0))
        .unwrap();
    let push = phone.push();
    let context = PushContext::default();
    let err = plan_push(&ServerConfig::default(), &context, &push, t(1)).expect_err("not read");
    assert_eq!(
        (err.code(), err.table.as_str(), err.id.as_str()),
        ("not_read", "tasks", "t1")
    );
    // A push refused on its own merits needs no record: the refusal wins.
    let mut foreign = push.clone();
    foreign.client_id = WriterId::new("laptop");
    let refused = plan_push(&ServerConfig::default(), &context, &foreign, t(1)).expect("decided");
    assert!(matches!(refused, PushOutcome::Refused(r) if r.error.code() == "foreign_change"));
}

#[test]
fn r13_4_server_side_writes_and_bootstraps_plan_the_change_the_in_memory_server_appends() {
    let mut server = Server::new(ServerConfig::default());
    let agent = WriterId::new("agent-1");
    let k = key("t1");
    let patch = obj(json!({"title": "from the agent"}));
    let plan = plan_write(
        server.log_head(),
        None,
        &agent,
        &Actor::Ai,
        &k,
        &patch,
        t(0),
    )
    .unwrap()
    .unwrap();
    let change = server
        .write(&agent, &Actor::Ai, &k, &patch, t(0))
        .unwrap()
        .unwrap();
    assert_eq!(plan.change, change);
    assert_eq!(Some(&plan.record), server.record(&k));
    assert_eq!(plan.log, server.log_head());
    let singleton = RecordKey::singleton("userContext", "u1");
    let fields = obj(json!({"theme": "light"}));
    let plan = plan_bootstrap(server.log_head(), None, &singleton, &fields)
        .unwrap()
        .unwrap();
    assert_eq!(
        Some(plan.change),
        server.bootstrap(&singleton, &fields).unwrap()
    );
    // Over an existing record a bootstrap plans nothing.
    assert_eq!(
        plan_bootstrap(
            server.log_head(),
            server.record(&singleton),
            &singleton,
            &fields
        ),
        Ok(None)
    );
}

/// The in-flight push of issue #11: refused `clock_ahead`, corrected, and a
/// stale copy of the refused push still in the network.
fn server_with_a_correction() -> (Server, fieldmerge::Push) {
    let mut server = Server::new(ServerConfig::default());
    let mut phone = replica("phone");
    phone
        .write(
            &key("t1"),
            &Actor::User,
            &obj(json!({"title": "a"})),
            t(3_600_000),
        )
        .unwrap();
    let stale = phone.push();
    let refusal = server.push(&stale, t(0)).expect_err("an hour ahead");
    phone
        .correct_clock(
            &refusal.clock_correction().expect("clock_ahead"),
            t(3_600_000),
        )
        .unwrap();
    server.push(&phone.push(), t(1)).expect("corrected push");
    (server, stale)
}

#[test]
fn r13_2_a_server_rebuilt_from_its_log_and_client_table_refuses_a_stale_in_flight_push() {
    let (mut server, stale) = server_with_a_correction();
    let clients: Vec<(WriterId, ClientRow)> = server
        .clients()
        .map(|(id, row)| (id.clone(), row))
        .collect();
    let mut rebuilt = Server::from_log(server.config(), server.log().to_vec(), clients).unwrap();
    assert_eq!(rebuilt, server);
    // An hour later the stale copy arrives: both refuse it as stale_clock.
    let late = t(3_600_000);
    assert_eq!(server.push(&stale, late).unwrap_err().code(), "stale_clock");
    assert_eq!(
        rebuilt.push(&stale, late).unwrap_err().code(),
        "stale_clock"
    );
    // Without the client table the epochs are gone, so the log alone is
    // not enough (PROTOCOL.md P2): the rebuilt server is not the same.
    let (server, _) = server_with_a_correction();
    let without = Server::from_log(server.config(), server.log().to_vec(), []).unwrap();
    assert_ne!(without, server);
}

#[test]
fn r13_2_a_log_no_server_could_have_written_is_refused_with_log_inconsistent() {
    let (server, _) = server_with_a_correction();
    let log = server.log().to_vec();
    let check = |log: Vec<fieldmerge::Change>, clients: Vec<(WriterId, ClientRow)>, want: &str| {
        let err = Server::from_log(ServerConfig::default(), log, clients).expect_err("refused");
        assert_eq!(err.code(), "log_inconsistent");
        assert!(err.to_string().contains(want), "{err} lacks {want:?}");
    };
    // An entry out of place.
    check(
        vec![log[0].clone(), log[0].clone()],
        vec![],
        "log entry 1 has server_seq Some(1), expected 2",
    );
    // A client row that disagrees with the log.
    let row = ClientRow {
        last_seq: 5,
        clock_epoch: 1,
    };
    check(
        log.clone(),
        vec![(WriterId::new("phone"), row)],
        "stored last_seq 5 is not the log's 1",
    );
    // A pushed change whose client_seq skips one.
    let mut wire = log[0].to_wire();
    wire["client_seq"] = json!(2);
    check(vec![change(wire)], vec![], "client_seq 2, expected 1");
}

/// A client's database: its records and its replica's stored parts, written
/// only from what a `StoredReplica` says changed.
struct Db {
    records: BTreeMap<RecordKey, Record>,
    meta: fieldmerge::ReplicaState,
}

impl Db {
    /// The database of a device whose replica is `memory`: its records in
    /// rows, its other parts in the meta row.
    fn of(memory: &fieldmerge::Replica) -> Db {
        let mut meta = fieldmerge::ReplicaState::of(memory);
        meta.records = Vec::new();
        Db {
            records: memory
                .records()
                .iter()
                .map(|(k, r)| (k.clone(), r.clone()))
                .collect(),
            meta,
        }
    }

    fn open(&self) -> fieldmerge::StoredReplica {
        fieldmerge::StoredReplica::open(&self.meta).expect("the stored meta opens")
    }

    fn provide(&self, replica: &mut fieldmerge::StoredReplica, keys: &[RecordKey]) {
        for key in keys {
            replica.provide(key.clone(), self.records.get(key).cloned());
        }
    }

    /// One transaction: the changed records and the meta.
    fn store(&mut self, replica: &fieldmerge::StoredReplica, changed: &[RecordKey]) {
        for key in changed {
            let record = replica
                .record(key)
                .cloned()
                .expect("a changed record is in the working set");
            self.records.insert(key.clone(), record);
        }
        self.meta = replica.meta();
    }
}

fn resequenced(changes: &[fieldmerge::Change], after: u64) -> Vec<fieldmerge::Change> {
    changes
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let mut wire = c.to_wire();
            wire["server_seq"] = json!(after + 1 + i as u64);
            change(wire)
        })
        .collect()
}

fn stored_run(u: &mut arbitrary::Unstructured) -> arbitrary::Result<()> {
    use fieldmerge_harness::gen;
    let mut memory = gen::replica(u)?;
    let mut db = Db::of(&memory);
    for _ in 0..u.int_in_range(1..=4)? {
        let mut stored = db.open();
        if u.arbitrary()? {
            let key = gen::record_key(u)?;
            let patch = gen::patch(u)?;
            let now = gen::timestamp(u)?;
            let want = memory.write(&key, &Actor::User, &patch, now);
            // Not provided yet: refused, and nothing changes.
            let err = stored
                .write(&key, &Actor::User, &patch, now)
                .expect_err("not read");
            assert_eq!(err.code(), "not_read");
            assert_eq!(stored, db.open());
            db.provide(&mut stored, std::slice::from_ref(&key));
            let got = stored.write(&key, &Actor::User, &patch, now);
            assert_eq!(
                got.as_ref().map_err(|e| e.code()),
                want.as_ref().map_err(|e| e.code())
            );
            if let Ok(Some(change)) = got {
                db.store(&stored, &[change.key().clone()]);
            }
        } else {
            let after = memory.cursor().unwrap_or(0);
            let changes = resequenced(&gen::changes(u)?, after);
            let page = Page {
                after,
                head: after + changes.len() as u64 + u64::from(u.int_in_range(0u8..=2)?),
                changes,
                quarantined: Vec::new(),
                log: None,
            };
            let want = memory.apply_page(&page);
            db.provide(
                &mut stored,
                &fieldmerge::StoredReplica::reads(&page.changes),
            );
            let got = stored.apply_page(&page);
            match (want, got) {
                (Ok(want), Ok(got)) => {
                    assert_eq!(format!("{want:?}"), format!("{got:?}"), "the same report");
                    db.store(&stored, &got.changed);
                }
                (Err(a), Err(b)) => assert_eq!(a.code(), b.code()),
                (a, b) => panic!("memory {a:?}, stored {b:?}"),
            }
        }
        // The database holds exactly the in-memory replica.
        let mut expected = fieldmerge::ReplicaState::of(&memory);
        expected.records = Vec::new();
        assert_eq!(db.meta, expected);
        let memory_records: BTreeMap<_, _> = memory
            .records()
            .iter()
            .map(|(k, r)| (k.clone(), r.clone()))
            .collect();
        assert_eq!(format!("{:?}", db.records), format!("{memory_records:?}"));
    }
    Ok(())
}

proptest::proptest! {
    #[test]
    fn r13_3_a_replica_over_its_own_database_stores_exactly_what_the_in_memory_replica_holds(
        bytes in proptest::collection::vec(proptest::arbitrary::any::<u8>(), 0..4096)
    ) {
        let mut u = arbitrary::Unstructured::new(&bytes);
        let _ = stored_run(&mut u);
    }
}

#[test]
fn r13_3_a_stored_replica_needs_its_clock_and_reports_what_it_changed() {
    let mut state = fieldmerge::ReplicaState::of(&replica("phone"));
    state.clock = None;
    let err = fieldmerge::StoredReplica::open(&state).expect_err("no clock");
    assert_eq!(err.code(), "state_inconsistent");
    // A page over two records, one of them already current: only the other
    // is reported changed.
    let mut phone = replica("phone");
    let c1 = change(
        json!({"table": "tasks", "id": "t1", "op": "insert", "data": {"a": 1},
        "field_meta": {"a": {"at": "2026-04-26T10:00:00.000Z", "origin": "user", "by": "x", "base": null}},
        "client_id": "x", "server_seq": 1}),
    );
    let c2 = change(
        json!({"table": "tasks", "id": "t2", "op": "insert", "data": {"a": 1},
        "field_meta": {"a": {"at": "2026-04-26T10:00:00.000Z", "origin": "user", "by": "x", "base": null}},
        "client_id": "x", "server_seq": 2}),
    );
    phone.apply(std::slice::from_ref(&c1), fieldmerge::Delivery::Live);
    let mut stored =
        fieldmerge::StoredReplica::open(&fieldmerge::ReplicaState::of(&phone)).unwrap();
    let page = Page {
        after: 0,
        changes: vec![c1, c2],
        head: 2,
        quarantined: Vec::new(),
        log: None,
    };
    assert_eq!(
        fieldmerge::StoredReplica::reads(&page.changes),
        vec![key("t1"), key("t2")]
    );
    let err = stored.apply_page(&page).expect_err("t2 not read");
    assert_eq!(
        err.to_string(),
        "record tasks/t2 was not read, but the operation touches it"
    );
    stored.provide(key("t2"), None);
    let report = stored.apply_page(&page).unwrap();
    assert_eq!(report.changed, vec![key("t2")]);
    assert_eq!((report.tally.duplicate, report.tally.inserted), (1, 1));
}

/// The property above is not vacuous: most inputs of a fixed set of byte
/// strings run to the end.
#[test]
fn r13_3_the_stored_replica_property_runs_to_the_end_on_most_inputs() {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut completed = 0;
    for _ in 0..100 {
        let bytes: Vec<u8> = (0..2048)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        if stored_run(&mut arbitrary::Unstructured::new(&bytes)).is_ok() {
            completed += 1;
        }
    }
    assert!(completed >= 50, "only {completed} of 100 runs completed");
}

#[test]
fn r13_4_a_stored_replica_receives_a_refusal_with_the_outbox_records_read() {
    let mut memory = replica("phone");
    memory
        .write(
            &key("t1"),
            &Actor::User,
            &obj(json!({"title": "a"})),
            t(3_600_000),
        )
        .unwrap();
    let mut server = Server::new(ServerConfig::default());
    let refusal = server
        .push(&memory.push(), t(0))
        .expect_err("an hour ahead");
    let mut db = Db::of(&memory);
    let mut stored = db.open();
    let err = stored
        .receive_refusal(&refusal, t(3_600_000))
        .expect_err("outbox records not read");
    assert_eq!(err.code(), "not_read");
    let reads = stored.reads_for_correction();
    db.provide(&mut stored, &reads);
    let changed = stored
        .receive_refusal(&refusal, t(3_600_000))
        .expect("corrected");
    assert_eq!(changed, vec![key("t1")]);
    db.store(&stored, &changed);
    memory
        .receive_refusal(&refusal, t(3_600_000))
        .expect("corrected");
    assert_eq!(db.records.get(&key("t1")), memory.record(&key("t1")));
    assert_eq!(
        server
            .push(&db.open().push(), t(1))
            .expect("accepted")
            .appended,
        1
    );
}

#[test]
fn r12_3_a_server_configuration_that_could_not_work_is_refused() {
    let check = |skew: i64, page: usize, want: Option<&str>| {
        let got = ServerConfig::new(skew, page);
        match want {
            None => assert_eq!(
                got.map(|c| (c.skew_ms_max(), c.page_size_max())),
                Ok((skew, page))
            ),
            Some(message) => {
                let err = got.expect_err("refused");
                assert_eq!(
                    (err.code(), err.to_string().contains(message)),
                    ("bad_config", true),
                    "{err}"
                );
            }
        }
    };
    check(0, 1, None);
    check(60_000, 1000, None);
    check(-1, 1000, Some("negative"));
    check(60_000, 0, Some("never move a cursor"));
    // Its JSON form is checked the same way.
    let bad: Result<ServerConfig, _> =
        serde_json::from_str(r#"{"skew_ms_max": 5, "page_size_max": 0}"#);
    assert!(bad.is_err());
    let good: ServerConfig =
        serde_json::from_str(r#"{"skew_ms_max": 5, "page_size_max": 2}"#).expect("valid");
    assert_eq!(
        serde_json::to_value(good).expect("serializes"),
        json!({"skew_ms_max": 5, "page_size_max": 2})
    );
}

#[test]
fn r13_3_every_stored_write_reads_its_record_and_matches_the_in_memory_replica() {
    let k = key("t1");
    let singleton = RecordKey::singleton("userContext", "u1");
    let mut memory = replica("phone");
    let mut db = Db::of(&memory);
    // (what, key, the in-memory call, the stored call), in order.
    let steps: Vec<(&str, RecordKey)> = vec![
        ("write", k.clone()),
        ("delete", k.clone()),
        ("restore", k.clone()),
        ("bootstrap", singleton.clone()),
    ];
    for (what, key) in steps {
        let mut stored = db.open();
        let fields = obj(json!({"theme": "dark"}));
        let run_memory = |r: &mut fieldmerge::Replica| match what {
            "write" => r.write(&key, &Actor::User, &obj(json!({"title": "a"})), t(0)),
            "delete" => r.delete(&key, &Actor::User, t(1)),
            "restore" => r.restore(&key, &Actor::User, t(2)),
            _ => r.bootstrap(&key, &fields),
        };
        let run_stored = |r: &mut fieldmerge::StoredReplica| match what {
            "write" => r.write(&key, &Actor::User, &obj(json!({"title": "a"})), t(0)),
            "delete" => r.delete(&key, &Actor::User, t(1)),
            "restore" => r.restore(&key, &Actor::User, t(2)),
            _ => r.bootstrap(&key, &fields),
        };
        let before = stored.clone();
        assert_eq!(
            run_stored(&mut stored).expect_err("not read").code(),
            "not_read",
            "{what}"
        );
        assert_eq!(stored, before, "{what}: a refusal changed the replica");
        db.provide(&mut stored, std::slice::from_ref(&key));
        let want = run_memory(&mut memory).expect("the in-memory replica accepts it");
        let got = run_stored(&mut stored).expect("the stored replica accepts it");
        assert_eq!(got, want, "{what}");
        db.store(&stored, std::slice::from_ref(&key));
        assert_eq!(db.records.get(&key), memory.record(&key), "{what}");
    }
    let mut expected = fieldmerge::ReplicaState::of(&memory);
    expected.records = Vec::new();
    assert_eq!(db.meta, expected);
}

#[test]
fn r13_3_a_retry_is_compared_with_the_logged_change_of_its_own_client_and_number() {
    let mut phone = replica("phone");
    phone
        .write(&key("t1"), &Actor::User, &obj(json!({"title": "a"})), t(0))
        .unwrap();
    phone
        .write(&key("t2"), &Actor::User, &obj(json!({"title": "b"})), t(1))
        .unwrap();
    let mut server = Server::new(ServerConfig::default());
    server.push(&phone.push(), t(2)).expect("appended");
    // The caller read more than it had to: another client's change under
    // the same numbers, and both of phone's, in log order.
    let mut laptop = replica("laptop");
    laptop
        .write(&key("t3"), &Actor::User, &obj(json!({"title": "c"})), t(0))
        .unwrap();
    laptop
        .write(&key("t4"), &Actor::User, &obj(json!({"title": "d"})), t(1))
        .unwrap();
    server.push(&laptop.push(), t(2)).expect("appended");
    let push = phone.push();
    let context = PushContext {
        log: server.log_head(),
        client: server.client(&WriterId::new("phone")),
        logged: server.log().iter().rev().cloned().collect(),
        records: BTreeMap::new(),
    };
    let outcome = plan_push(&ServerConfig::default(), &context, &push, t(3)).expect("decided");
    let PushOutcome::Accepted(plan) = outcome else {
        panic!("a retry is accepted: {outcome:?}")
    };
    assert_eq!((plan.append.len(), plan.acked_through), (0, Some(2)));
}

#[test]
fn r12_3_a_refusal_of_a_clients_first_push_acknowledges_nothing() {
    let mut phone = replica("phone");
    phone
        .write(
            &key("t1"),
            &Actor::User,
            &obj(json!({"title": "a"})),
            t(3_600_000),
        )
        .unwrap();
    let mut server = Server::new(ServerConfig::default());
    let refusal = server.push(&phone.push(), t(0)).expect_err("an hour ahead");
    assert_eq!(refusal.acked_through(), None);
    let stale = server
        .push(&phone.push(), t(0))
        .expect_err("its epoch is now stale");
    assert_eq!((stale.code(), stale.acked_through()), ("stale_clock", None));
    let text = serde_json::to_value(&stale).expect("serializes");
    assert_eq!(text["acked_through"], serde_json::Value::Null);
}

#[test]
fn r13_3_a_stored_replica_shows_its_parts_and_release_forgets_the_working_set() {
    let meta = fieldmerge::ReplicaState::of(&replica("phone"));
    let mut stored = fieldmerge::StoredReplica::open(&meta).unwrap();
    assert_eq!(
        (
            stored.client_id().as_str(),
            stored.cursor(),
            stored.outbox().len()
        ),
        ("phone", None, 0)
    );
    stored.provide(key("t1"), None);
    stored
        .write(&key("t1"), &Actor::User, &obj(json!({"title": "a"})), t(0))
        .unwrap();
    assert_eq!(stored.outbox().len(), 1);
    assert_eq!(stored.outbox()[0].key(), &key("t1"));
    let page = Page {
        after: 0,
        changes: Vec::new(),
        head: 0,
        quarantined: Vec::new(),
        log: None,
    };
    stored
        .apply_page(&page)
        .expect("an empty page at the cursor");
    assert_eq!(stored.cursor(), Some(0));
    let page = Page {
        after: 3,
        changes: Vec::new(),
        head: 3,
        quarantined: Vec::new(),
        log: None,
    };
    assert_eq!(
        stored
            .apply_page(&page)
            .expect_err("not at the cursor")
            .code(),
        "not_at_cursor"
    );
    assert_eq!(stored.cursor(), Some(0));
    // After release the working set is gone: the record must be provided
    // again before the next write touches it.
    assert!(stored.record(&key("t1")).is_some());
    stored.release();
    assert!(stored.record(&key("t1")).is_none());
    let again = stored.write(&key("t1"), &Actor::User, &obj(json!({"title": "b"})), t(1));
    assert_eq!(again.expect_err("released").code(), "not_read");
}

#[test]
fn r13_4_a_stored_replica_receives_replies_acks_resets_and_corrects_like_the_in_memory_one() {
    let mut memory = replica("phone");
    memory
        .write(&key("t1"), &Actor::User, &obj(json!({"title": "a"})), t(0))
        .unwrap();
    memory
        .write(
            &key("t2"),
            &Actor::User,
            &obj(json!({"title": "b"})),
            t(3_600_000),
        )
        .unwrap();
    let mut db = Db::of(&memory);
    let same = |db: &Db, memory: &fieldmerge::Replica| {
        let mut expected = fieldmerge::ReplicaState::of(memory);
        expected.records = Vec::new();
        assert_eq!(db.meta, expected);
        for (k, r) in memory.records() {
            assert_eq!(db.records.get(k), Some(r), "{k}");
        }
    };
    // An ack drops the acknowledged prefix of the outbox.
    let mut acked = db.open();
    acked.ack(Some(1));
    assert_eq!(acked.outbox().len(), 1);
    assert_eq!(acked.outbox()[0].client_seq(), Some(2));
    // The clock correction restamps the far-ahead write and says so.
    let correction = fieldmerge::ClockCorrection {
        server_now: t(10),
        skew_ms_max: 60_000,
        log_high: fieldmerge::Timestamp::default(),
        clock_epoch: 1,
    };
    let mut stored = db.open();
    assert_eq!(
        stored
            .correct_clock(&correction, t(3_600_000))
            .expect_err("not read")
            .code(),
        "not_read"
    );
    let reads = stored.reads_for_correction();
    assert_eq!(reads, vec![key("t1"), key("t2")]);
    db.provide(&mut stored, &reads);
    let restamped = stored
        .correct_clock(&correction, t(3_600_000))
        .expect("corrected");
    assert_eq!(restamped, vec![key("t2")]);
    db.store(&stored, &restamped);
    memory
        .correct_clock(&correction, t(3_600_000))
        .expect("corrected");
    same(&db, &memory);
    // A push and its reply, received in one call.
    let mut server = Server::new(ServerConfig::default());
    let reply = server.push(&db.open().push(), t(20)).expect("accepted");
    let mut stored = db.open();
    db.provide(
        &mut stored,
        &fieldmerge::StoredReplica::reads(&reply.page.changes),
    );
    let report = stored.receive_reply(&reply).expect("received");
    assert_eq!(report.tally.duplicate, 2);
    db.store(&stored, &report.changed);
    memory.receive_reply(&reply).expect("received");
    same(&db, &memory);
    assert!(db.meta.outbox.is_empty());
    // A reset cursor and an ack are stored with the meta too.
    let mut stored = db.open();
    stored.reset_cursor();
    stored.ack(Some(2));
    db.store(&stored, &[]);
    memory.reset_cursor();
    memory.ack(Some(2));
    same(&db, &memory);
    assert_eq!(db.meta.cursor, None);
}
