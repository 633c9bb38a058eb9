//! Time under bulk writes, wrong clocks and merges (issue #11): each test is
//! a scenario that lost a write or left a device stuck under the clock of
//! one global floor, and pins the rule that fixed it (SPEC R2.2, R4.5,
//! R12.3, R12.4).

use fieldmerge::{Actor, PushError, Replica, Server, ServerConfig, Timestamp, WriterId};
use serde_json::json;

use crate::support::{key, obj, replica, sync, t};

const DAY_MS: i64 = 86_400_000;

/// Writes `n` distinct records at one wall time, as a migration or an
/// import does.
fn bulk_write(r: &mut Replica, n: usize, now: Timestamp) {
    for i in 0..n {
        r.write(
            &key(&format!("r{i}")),
            &Actor::User,
            &obj(json!({"v": i})),
            now,
        )
        .expect("a valid write");
    }
}

/// The greatest stamp of the replica's pending changes.
fn last_stamp(r: &Replica) -> Option<Timestamp> {
    r.outbox().iter().filter_map(|c| c.max_at()).max()
}

/// R2.2: 10,000 writes of distinct records within one wall millisecond
/// are all stamped at it (they used to run 10 s ahead), and a user edit
/// made 4 s later on another device wins.
#[test]
fn r2_2_a_bulk_write_stays_at_the_wall_clock_and_a_later_edit_elsewhere_wins() {
    let mut server = Server::new(ServerConfig::default());
    let mut migrator = replica("migrator");
    bulk_write(&mut migrator, 10_000, t(1_000));
    assert_eq!(last_stamp(&migrator), Some(t(1_000)));
    sync(&mut migrator, &mut server, t(1_500));
    let mut phone = replica("phone");
    sync(&mut phone, &mut server, t(2_000));
    phone
        .write(
            &key("r9999"),
            &Actor::User,
            &obj(json!({"v": "mine"})),
            t(5_000),
        )
        .unwrap();
    sync(&mut phone, &mut server, t(5_000));
    sync(&mut migrator, &mut server, t(5_000));
    let value = |r: &Replica| r.record(&key("r9999")).unwrap().values()["v"].clone();
    assert_eq!(value(&phone), json!("mine"));
    assert_eq!(value(&migrator), json!("mine"));
    assert_eq!(server.records(), phone.records());
}

/// R12.3, R12.4: 70,000 changes stamped an hour ahead are refused once;
/// one correction restamps them all within the server's limit (they used
/// to be restamped one millisecond apart, 70 s on, past the 60 s skew) and
/// the next push is accepted whole.
#[test]
fn r12_4_one_correction_lets_a_large_refused_push_through() {
    let mut server = Server::new(ServerConfig::default());
    let mut phone = replica("phone");
    let an_hour_ahead = t(3_600_000);
    bulk_write(&mut phone, 70_000, an_hour_ahead);
    let refusal = server.push(&phone.push(), t(0)).unwrap_err();
    assert_eq!(refusal.code(), "clock_ahead");
    phone.receive_refusal(&refusal, an_hour_ahead).unwrap();
    assert_eq!(last_stamp(&phone), Some(t(0)));
    let reply = server
        .push(&phone.push(), t(0))
        .expect("accepted after one correction");
    assert_eq!(reply.appended, 70_000);
}

/// R12.3, R12.4: one server-side write made with a clock a day ahead no
/// longer leaves every device that pulls it refused until the day has
/// passed: a write of another record is stamped at the wall clock, a
/// write of that record just after it is within the limit (1 ms past the
/// log's high stamp), and a fast device's correction is accepted.
#[test]
fn r12_3_a_server_write_a_day_ahead_leaves_no_device_stuck() {
    let mut server = Server::new(ServerConfig::default());
    server
        .write(
            &WriterId::new("agent"),
            &Actor::Ai,
            &key("poisoned"),
            &obj(json!({"title": "from the future"})),
            t(DAY_MS),
        )
        .unwrap();
    let mut phone = replica("phone");
    sync(&mut phone, &mut server, t(0));
    let other = phone
        .write(&key("t1"), &Actor::User, &obj(json!({"a": 1})), t(10))
        .unwrap()
        .unwrap();
    assert_eq!(other.max_at(), Some(t(10)));
    let forced = phone
        .write(
            &key("poisoned"),
            &Actor::User,
            &obj(json!({"title": "mine"})),
            t(11),
        )
        .unwrap()
        .unwrap();
    assert_eq!(forced.max_at(), Some(t(DAY_MS + 1)));
    let reply = server.push(&phone.push(), t(20)).expect("within the limit");
    assert_eq!(reply.appended, 2);
    // A device an hour fast writes into the poisoned record after pulling.
    let mut fast = replica("fast");
    sync(&mut fast, &mut server, t(30));
    let an_hour = 3_600_000;
    fast.write(
        &key("poisoned"),
        &Actor::User,
        &obj(json!({"title": "fast"})),
        t(an_hour),
    )
    .unwrap();
    fast.write(&key("t2"), &Actor::User, &obj(json!({"b": 1})), t(an_hour))
        .unwrap();
    let reply = server
        .push(&fast.push(), t(40))
        .expect("within the widened limit");
    assert_eq!(reply.appended, 2);
    fast.ack(reply.acked_through);
    sync(&mut phone, &mut server, t(50));
    sync(&mut fast, &mut server, t(50));
    assert_eq!(phone.records(), server.records());
    assert_eq!(fast.records(), server.records());
}

/// R4.5 × R12.4: a replica that merges the state of a device whose clock is
/// ahead does not copy its pending writes, so the device's correction
/// cannot leave a replaced stamp behind that beats later writes; the two
/// converge with the server.
#[test]
fn r4_5_a_merge_with_a_fast_device_converges_after_its_correction() {
    let mut server = Server::new(ServerConfig::default());
    let mut fast = replica("fast");
    let an_hour_ahead = t(3_600_000);
    fast.write(
        &key("t1"),
        &Actor::User,
        &obj(json!({"title": "fast"})),
        an_hour_ahead,
    )
    .unwrap();
    let mut laptop = replica("laptop");
    let report = laptop.merge(&fast);
    assert!(
        laptop.record(&key("t1")).is_none(),
        "a pending write is not merged"
    );
    assert_eq!(report.tally.total(), 0);
    assert_eq!(laptop.clock().seen, Timestamp::default());
    let refusal = server.push(&fast.push(), t(0)).unwrap_err();
    fast.receive_refusal(&refusal, an_hour_ahead).unwrap();
    sync(&mut fast, &mut server, t(1));
    // A later edit on the laptop wins, as its wall time says it should.
    laptop
        .write(
            &key("t1"),
            &Actor::User,
            &obj(json!({"title": "later"})),
            t(10),
        )
        .unwrap();
    sync(&mut laptop, &mut server, t(10));
    sync(&mut fast, &mut server, t(10));
    assert_eq!(
        laptop.record(&key("t1")).unwrap().values()["title"],
        json!("later")
    );
    assert_eq!(laptop.records(), server.records());
    assert_eq!(fast.records(), server.records());
    // An acknowledged write is merged, and raises `seen`.
    let mut desk = replica("desk");
    desk.merge(&fast);
    assert_eq!(desk.records(), fast.records());
    assert_eq!(desk.clock().seen, t(10));
}

/// R12.3: the refusal names the first change past the limit, after the
/// log's high stamp as the changes before it raise it; the correction
/// restamps that change and keeps the stamp of every change within the
/// limit, before it or after it.
#[test]
fn r12_3_the_refusal_and_the_correction_agree_on_the_first_refused_change() {
    let mut server = Server::new(ServerConfig::new(1_000, 100).expect("valid"));
    let mut phone = replica("phone");
    phone
        .write(&key("a"), &Actor::User, &obj(json!({"x": 1})), t(1_000))
        .unwrap();
    phone
        .write(&key("b"), &Actor::User, &obj(json!({"x": 1})), t(5_000))
        .unwrap();
    phone
        .write(&key("a"), &Actor::User, &obj(json!({"x": 2})), t(1_000))
        .unwrap();
    let refusal = server.push(&phone.push(), t(0)).unwrap_err();
    assert!(
        matches!(refusal, PushError::ClockAhead { index: 1, log_high, .. } if log_high == Timestamp::default()),
        "{refusal:?}"
    );
    phone.receive_refusal(&refusal, t(5_000)).unwrap();
    let stamps: Vec<_> = phone.outbox().iter().map(|c| c.max_at()).collect();
    // `b` is restamped at corrected time; the later write of `a` keeps its
    // stamp, 1 ms past the high stamp the first write of `a` raised.
    assert_eq!(stamps, [Some(t(1_000)), Some(t(0)), Some(t(1_001))]);
    assert_eq!(server.push(&phone.push(), t(0)).unwrap().appended, 3);
}

/// R12.4, R12.5: a refusal acknowledges nothing. A copy of a client id
/// restored from a backup made before the original's clock correction
/// pushes its own edit under a number the log holds for another change;
/// the server answers `stale_clock` with the original's `acked_through`.
/// Acknowledging by that number dropped the copy's edit without a word;
/// now the copy corrects its clock, keeps the edit, and its next push is
/// refused as `seq_reused`, which calls for a new client id (R12.5).
#[test]
fn r12_4_a_refusal_acknowledges_nothing_so_a_restored_copy_keeps_its_edit() {
    let mut server = Server::new(ServerConfig::default());
    let mut phone = replica("phone");
    let write = |r: &mut Replica, id: &str, title: &str, now: Timestamp| {
        r.write(&key(id), &Actor::User, &obj(json!({ "title": title })), now)
            .unwrap();
    };
    write(&mut phone, "t1", "a", t(0));
    let backup = fieldmerge::ReplicaState::of(&phone);
    sync(&mut phone, &mut server, t(1));
    write(&mut phone, "t2", "b", t(2));
    sync(&mut phone, &mut server, t(3));
    // The original's clock runs an hour ahead once: the server demands a
    // new epoch of the client id.
    write(&mut phone, "t3", "c", t(3_600_000));
    let refusal = server.push(&phone.push(), t(4)).unwrap_err();
    assert_eq!(refusal.code(), "clock_ahead");
    // The copy, restored from the backup, edits under client_seq 2.
    let mut copy = backup.load().unwrap();
    write(&mut copy, "t9", "mine", t(5));
    assert_eq!(copy.outbox()[1].client_seq(), Some(2));
    let stale = server.push(&copy.push(), t(6)).unwrap_err();
    assert_eq!(
        (stale.code(), stale.acked_through()),
        ("stale_clock", Some(2))
    );
    copy.receive_refusal(&stale, t(6)).unwrap();
    assert!(
        copy.outbox().iter().any(|c| c.key() == &key("t9")),
        "the copy's edit is still pending"
    );
    let reused = server.push(&copy.push(), t(7)).unwrap_err();
    assert_eq!(reused.code(), "seq_reused");
}

/// R12.4: a restamp is floored by every register of its record that the
/// correction does not replace, the replica's own kept writes included: a
/// write within the skew but ahead of the server's clock stays below the
/// restamp of a later write of its record (found missing by the mutation
/// pass: nothing pinned the floor's own registers).
#[test]
fn r12_4_a_restamp_stays_above_the_kept_writes_of_its_record() {
    let mut server = Server::new(ServerConfig::default());
    let mut phone = replica("phone");
    phone
        .write(&key("t1"), &Actor::User, &obj(json!({"a": 1})), t(30_000))
        .unwrap();
    phone
        .write(
            &key("t1"),
            &Actor::User,
            &obj(json!({"b": 1})),
            t(7_200_000),
        )
        .unwrap();
    let refusal = server.push(&phone.push(), t(0)).unwrap_err();
    assert!(
        matches!(refusal, PushError::ClockAhead { index: 1, .. }),
        "{refusal:?}"
    );
    phone.receive_refusal(&refusal, t(7_200_000)).unwrap();
    let stamps: Vec<_> = phone.outbox().iter().map(|c| c.max_at()).collect();
    assert_eq!(stamps, [Some(t(30_000)), Some(t(30_001))]);
    assert_eq!(server.push(&phone.push(), t(0)).unwrap().appended, 2);
}
