//! Failover between servers (issue #11, SPEC R12.7): a cursor is a position
//! in one log, so a replica refuses a page of another log instead of
//! skipping the changes that log numbers differently.

use fieldmerge::{Actor, Page, PageError, Replica, ReplicaState, Server, ServerConfig};
use serde_json::json;

use crate::support::{key, obj, pull_all, replica, t};

/// Two servers fed the same three pushes in another order: their logs
/// number the changes differently (`t2` is the main log's third change and
/// the standby's first).
fn two_servers(a: Option<&str>, b: Option<&str>) -> (Server, Server) {
    let named = |name: Option<&str>| {
        let server = Server::new(ServerConfig::default());
        match name {
            Some(name) => server.with_log_name(name).expect("a name"),
            None => server,
        }
    };
    let (mut main, mut standby) = (named(a), named(b));
    let mut writers: Vec<Replica> = ["w0", "w1", "w2"].into_iter().map(replica).collect();
    for (i, w) in writers.iter_mut().enumerate() {
        w.write(
            &key(&format!("t{i}")),
            &Actor::User,
            &obj(json!({"n": i})),
            t(i as i64),
        )
        .unwrap();
    }
    for i in [0, 1, 2] {
        main.push(&writers[i].push(), t(10)).unwrap();
    }
    for i in [2, 0, 1] {
        standby.push(&writers[i].push(), t(10)).unwrap();
    }
    (main, standby)
}

/// The failure mode of an unnamed log: after two changes from the main
/// server, the same cursor on the standby skips `t2`, silently.
#[test]
fn r12_7_an_unnamed_log_lets_a_failed_over_replica_skip_a_change() {
    let (main, standby) = two_servers(None, None);
    let mut phone = replica("phone");
    phone.apply_page(&main.pull(0, 2)).unwrap();
    pull_all(&mut phone, &standby, 10);
    assert!(
        phone.record(&key("t2")).is_none(),
        "the standby's t2 is at 1"
    );
    assert_ne!(phone.records(), standby.records());
}

/// A named log: the standby's page is refused as `other_log` and changes
/// nothing; after `reset_cursor` the replica hydrates from the standby and
/// converges with it, nothing skipped.
#[test]
fn r12_7_a_page_of_another_log_is_refused_and_a_reset_cursor_recovers() {
    let (main, standby) = two_servers(Some("main"), Some("standby"));
    let mut phone = replica("phone");
    phone.apply_page(&main.pull(0, 2)).unwrap();
    assert_eq!(phone.log_name(), Some("main"));
    let before = phone.clone();
    let refused = phone.apply_page(&standby.pull(2, 10)).unwrap_err();
    assert_eq!(
        refused,
        PageError::OtherLog {
            expected: "main".into(),
            found: Some("standby".into())
        }
    );
    assert_eq!(refused.code(), "other_log");
    assert_eq!(phone, before, "a refused page changes nothing");
    phone.reset_cursor();
    pull_all(&mut phone, &standby, 10);
    assert_eq!(phone.log_name(), Some("standby"));
    assert_eq!(phone.records(), standby.records());
}

/// A push reply of another log is refused whole, its acknowledgement too;
/// after the reset the replica finds its change in the new log and
/// acknowledges it by content (R12.2).
#[test]
fn r12_7_a_reply_of_another_log_keeps_the_outbox_until_the_new_log_acknowledges_it() {
    let (main, mut standby) = two_servers(Some("main"), Some("standby"));
    let mut phone = replica("phone");
    pull_all(&mut phone, &main, 10);
    phone
        .write(&key("mine"), &Actor::User, &obj(json!({"n": 9})), t(20))
        .unwrap();
    let reply = standby.push(&phone.push(), t(20)).unwrap();
    assert_eq!(phone.receive_reply(&reply).unwrap_err().code(), "other_log");
    assert_eq!(
        phone.outbox().len(),
        1,
        "the acknowledgement is refused too"
    );
    phone.reset_cursor();
    pull_all(&mut phone, &standby, 10);
    assert!(phone.outbox().is_empty(), "acknowledged by content");
    assert_eq!(phone.records(), standby.records());
}

/// The log a replica follows is part of its state (R12.5): it survives a
/// save and a load; a state that lost its cursor loads following no log
/// (losing the cursor is harmless); a name that is not a name is refused.
#[test]
fn r12_7_the_followed_log_is_stored_with_the_cursor() {
    let (main, _) = two_servers(Some("main"), None);
    let mut phone = replica("phone");
    pull_all(&mut phone, &main, 10);
    let state = ReplicaState::of(&phone);
    assert_eq!(state.log.as_deref(), Some("main"));
    let loaded = state.load().unwrap();
    assert_eq!(loaded.log_name(), Some("main"));
    let mut no_cursor = state.clone();
    no_cursor.cursor = None;
    assert_eq!(no_cursor.load().unwrap().log_name(), None);
    let mut too_long = state;
    too_long.log = Some("x".repeat(257));
    assert_eq!(too_long.load().unwrap_err().code(), "state_json");
}

/// A log's name is a name: 1 to 256 bytes (R12.7, R11.6); a restarted
/// server takes its name again and its pages carry it.
#[test]
fn r12_7_a_log_name_is_a_name_and_survives_a_restart() {
    let server = Server::new(ServerConfig::default());
    assert_eq!(
        server.clone().with_log_name("").unwrap_err().code(),
        "bad_config"
    );
    assert_eq!(
        server
            .clone()
            .with_log_name(&"x".repeat(257))
            .unwrap_err()
            .code(),
        "bad_config"
    );
    let (main, _) = two_servers(Some("main"), None);
    let restarted = Server::from_log(
        main.config(),
        main.log().to_vec(),
        main.clients().map(|(id, row)| (id.clone(), row)),
    )
    .unwrap()
    .with_log_name("main")
    .unwrap();
    assert_eq!(restarted.pull(0, 10), main.pull(0, 10));
    assert_eq!(restarted.pull(0, 10).log.as_deref(), Some("main"));
    assert_eq!(restarted.log_name(), Some("main"));
    assert_eq!(Server::new(ServerConfig::default()).log_name(), None);
}

/// R12.7, R11.7, R13.1: a page's `log` is read as the rest of the page: a
/// member twice is `duplicate_member`, a name that is not a string
/// `wrong_type`, an empty one `bad_name`; a named page reads back as
/// written.
#[test]
fn r12_7_a_pages_log_member_is_read_like_the_rest_of_the_page() {
    let code = |text: &str| {
        Page::from_json(text.as_bytes())
            .map(|p| p.log)
            .map_err(|e| e.kind.code())
    };
    assert_eq!(
        code(r#"{"after":0,"changes":[],"head":0,"log":"main"}"#),
        Ok(Some("main".to_owned()))
    );
    assert_eq!(
        code(r#"{"after":0,"changes":[],"head":0,"log":"a","log":"b"}"#),
        Err("duplicate_member")
    );
    assert_eq!(
        code(r#"{"after":0,"changes":[],"head":0,"log":7}"#),
        Err("wrong_type")
    );
    assert_eq!(
        code(r#"{"after":0,"changes":[],"head":0,"log":""}"#),
        Err("bad_name")
    );
    // The members in order: `head` before `log` (R13.1).
    assert_eq!(
        code(r#"{"after":0,"changes":[],"head":"x","log":""}"#),
        Err("wrong_type")
    );
    assert_eq!(code(r#"{"after":0,"changes":[],"log":""}"#), Err("missing"));
}
