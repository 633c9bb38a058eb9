//! Shared helpers for the integration tests: builders for keys, patches,
//! timestamps and wire changes.

#![allow(dead_code)]

use fieldmerge::{Change, Page, RecordKey, Replica, Server, Timestamp, WriterId};
use serde_json::{Map, Value};

/// `2026-04-26T10:00:00.000Z` plus `ms` milliseconds.
pub fn t(ms: i64) -> Timestamp {
    Timestamp::from_ms(1_777_197_600_000 + ms).expect("in range")
}

pub fn key(id: &str) -> RecordKey {
    RecordKey::new("tasks", id)
}

pub fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().expect("an object")
}

pub fn replica(id: &str) -> Replica {
    Replica::new(WriterId::new(id))
}

/// Decodes one wire change; panics with the error for a test typo.
pub fn change(wire: Value) -> Change {
    Change::from_wire(&wire, 0).unwrap_or_else(|e| panic!("bad test change: {e}"))
}

/// Pushes the replica's outbox, acks, and applies the reply's page.
pub fn sync(replica: &mut Replica, server: &mut Server, now: Timestamp) -> fieldmerge::ApplyReport {
    let reply = server.push(&replica.push(), now).expect("push accepted");
    replica.ack(reply.acked_through);
    let mut report = replica.apply_page(&reply.page).expect("page at cursor");
    report.extend(pull_all(replica, server, 1000));
    report
}

/// Pulls the whole log after the replica's cursor, in pages of `size`.
/// Fails, rather than loops, when the pages never reach the head (a kernel
/// whose cursor or `has_more` is broken): one page per entry is the most.
pub fn pull_all(replica: &mut Replica, server: &Server, size: usize) -> fieldmerge::ApplyReport {
    let mut report = fieldmerge::ApplyReport::default();
    for _ in 0..=server.head() {
        let page: Page = server.pull(replica.cursor().unwrap_or(0), size);
        let more = page.has_more();
        report.extend(replica.apply_page(&page).expect("page at cursor"));
        if !more {
            return report;
        }
    }
    panic!("pages never reached the head {}", server.head());
}
