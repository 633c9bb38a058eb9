//! The kernel side of an [`Action`] run: [`REPLICAS`](crate::gen::REPLICAS) replicas and one
//! server, driven step by step. Every step returns its outcome as JSON
//! (changes in wire form, reports, error codes), and [`World::state`]
//! renders everything the world holds, so the reference model can be
//! compared with it exactly and the laws can check invariants after each
//! step.

use crate::gen::{Action, PageForgery, CLIENTS, WRITERS};
use crate::sim::{Before, Coverage, DroppedTwins, Mark};
use fieldmerge::{
    record_to_json, ApplyReport, Change, Push, Register, Replica, ReplicaState, Server,
    ServerConfig, WriterId,
};
use fieldmerge::{ClockCorrection, Delivery, Page};
use serde_json::{json, Map, Value};

/// The server's limits in every run: small pages, so hydration takes
/// several pages and pushes reply with partial pages.
pub const CONFIG: ServerConfig = match ServerConfig::new(60_000, 3) {
    Ok(config) => config,
    Err(_) => panic!("a valid configuration"),
};

/// Replicas and a server, as the kernel runs them.
#[derive(Clone, Debug)]
pub struct World {
    /// The replicas, indexed as the actions name them.
    pub replicas: Vec<Replica>,
    /// The one server.
    pub server: Server,
    /// The decision branches the run took (issue #6, `tests/coverage.rs`).
    pub coverage: Coverage,
    // The twins each replica's applies dropped (SPEC R4.4), to mark a
    // losing twin delivered again (coverage only).
    dropped_twins: Vec<DroppedTwins>,
}

impl Default for World {
    fn default() -> World {
        World {
            replicas: CLIENTS
                .iter()
                .map(|id| Replica::new(WriterId::new(id)))
                .collect(),
            server: Server::new(CONFIG),
            coverage: Coverage::default(),
            dropped_twins: vec![DroppedTwins::default(); CLIENTS.len()],
        }
    }
}

impl World {
    /// Runs one action and returns its outcome.
    pub fn step(&mut self, action: &Action) -> Value {
        match action {
            Action::Write {
                replica,
                key,
                actor,
                patch,
                now,
            } => change_outcome(self.replicas[*replica].write(key, actor, patch, *now)),
            Action::Delete {
                replica,
                key,
                actor,
                now,
            } => change_outcome(self.replicas[*replica].delete(key, actor, *now)),
            Action::Restore {
                replica,
                key,
                actor,
                now,
            } => change_outcome(self.replicas[*replica].restore(key, actor, *now)),
            Action::Bootstrap {
                replica,
                key,
                fields,
            } => change_outcome(self.replicas[*replica].bootstrap(key, fields)),
            Action::Apply {
                replica,
                changes,
                delivery,
            } => self.apply(*replica, changes, *delivery),
            Action::Replay {
                replica,
                picks,
                delivery,
            } => {
                let log = self.server.log();
                let batch: Vec<Change> = if log.is_empty() {
                    Vec::new()
                } else {
                    picks.iter().map(|i| log[i % log.len()].clone()).collect()
                };
                self.apply(*replica, &batch, *delivery)
            }
            Action::Push { replica, now } => {
                let push = self.replicas[*replica].push();
                self.push(Some(*replica), &push, *now)
            }
            Action::PushLostReply { replica, now } => {
                let push = self.replicas[*replica].push();
                self.push(None, &push, *now)
            }
            Action::PushTail { replica, skip, now } => {
                let mut push = self.replicas[*replica].push();
                push.changes = push.changes.into_iter().skip(*skip).collect();
                self.push(Some(*replica), &push, *now)
            }
            Action::PushForged {
                client,
                changes,
                cursor,
                clock_epoch,
                now,
            } => {
                let push = Push {
                    client_id: client.clone(),
                    changes: changes.clone(),
                    cursor: *cursor,
                    clock_epoch: *clock_epoch,
                };
                self.push(None, &push, *now)
            }
            Action::Pull { replica, limit } => {
                let cursor = self.replicas[*replica].cursor().unwrap_or(0);
                let page = self.server.pull(cursor, *limit);
                self.apply_page(*replica, &page)
            }
            Action::PullAt {
                replica,
                after,
                limit,
            } => {
                let page = self.server.pull(*after, *limit);
                self.apply_page(*replica, &page)
            }
            Action::PullForged {
                replica,
                limit,
                forgery,
            } => {
                let cursor = self.replicas[*replica].cursor().unwrap_or(0);
                let mut page = self.server.pull(cursor, *limit);
                match forgery {
                    PageForgery::DropFirst if !page.changes.is_empty() => {
                        page.changes.remove(0);
                    }
                    PageForgery::DropFirst => {}
                    PageForgery::HeadAtCursor => page.head = cursor,
                }
                self.apply_page(*replica, &page)
            }
            Action::Ack { replica, through } => {
                self.replicas[*replica].ack(*through);
                json!({})
            }
            Action::Merge { into, from } => {
                let other = self.replicas[*from].clone();
                let r = &mut self.replicas[*into];
                let before = Before::merge(r.records(), other.records());
                let report = r.merge(&other);
                let coverage = &mut self.coverage;
                coverage.records_merged(&before, other.records(), &report, r.records());
                self.coverage
                    .redelivered_twins(&mut self.dropped_twins[*into], &report);
                json!({"report": report_json(&report)})
            }
            Action::ResetCursor { replica } => {
                self.replicas[*replica].reset_cursor();
                json!({})
            }
            Action::CorrectClock {
                replica,
                server_now,
                clock_epoch,
                now,
            } => {
                let log_high = self.server.log_head().high;
                let r = &mut self.replicas[*replica];
                let correction = ClockCorrection {
                    server_now: *server_now,
                    skew_ms_max: CONFIG.skew_ms_max(),
                    log_high,
                    clock_epoch: clock_epoch.unwrap_or(r.clock().epoch + 1),
                };
                match r.correct_clock(&correction, *now) {
                    Ok(()) => {
                        self.coverage.hit(Mark::ClockCorrected);
                        json!({})
                    }
                    Err(e) => json!({"error": e.code()}),
                }
            }
            Action::ServerWrite {
                writer,
                actor,
                key,
                patch,
                now,
            } => change_outcome(self.server.write(writer, actor, key, patch, *now)),
            Action::ServerBootstrap { key, fields } => {
                change_outcome(self.server.bootstrap(key, fields))
            }
        }
    }

    // A push; with `Some(replica)` the replica acks and applies the reply.
    fn push(&mut self, replica: Option<usize>, push: &Push, now: fieldmerge::Timestamp) -> Value {
        let before = Before::changes(self.server.records(), &push.changes);
        match self.server.push(push, now) {
            Err(e) => {
                self.coverage.push_error(&e);
                json!({"error": e.code()})
            }
            Ok(reply) => {
                let records = self.server.records();
                let coverage = &mut self.coverage;
                coverage.changes_applied(&before, &push.changes, &reply.report, records);
                if reply.appended == 0 && !push.changes.is_empty() {
                    coverage.hit(Mark::PushRetryDeduplicated);
                }
                let mut out = json!({
                    "acked_through": reply.acked_through,
                    "appended": reply.appended,
                    "server_report": report_json(&reply.report),
                    "page": {"after": reply.page.after, "head": reply.page.head,
                             "changes": reply.page.changes.iter().map(Change::to_wire).collect::<Vec<_>>()},
                });
                if let Some(i) = replica {
                    self.replicas[i].ack(reply.acked_through);
                    out["replica"] = self.apply_page(i, &reply.page);
                }
                out
            }
        }
    }

    // `Replica::apply` of a batch, counting its coverage marks.
    fn apply(&mut self, replica: usize, changes: &[Change], delivery: Delivery) -> Value {
        let r = &mut self.replicas[replica];
        let before = Before::changes(r.records(), changes);
        let report = r.apply(changes, delivery);
        let coverage = &mut self.coverage;
        coverage.changes_applied(&before, changes, &report, r.records());
        self.coverage
            .redelivered_twins(&mut self.dropped_twins[replica], &report);
        json!({"report": report_json(&report)})
    }

    // `Replica::apply_page`, counting its coverage marks.
    fn apply_page(&mut self, replica: usize, page: &Page) -> Value {
        let r = &mut self.replicas[replica];
        let hydration = r.cursor().is_none() || r.is_hydrating();
        let before = Before::changes(r.records(), &page.changes);
        let result = r.apply_page(page);
        let coverage = &mut self.coverage;
        match &result {
            Ok(report) => {
                coverage.changes_applied(&before, &page.changes, report, r.records());
                coverage.hit(if hydration {
                    Mark::PageAppliedHydration
                } else {
                    Mark::PageAppliedLive
                });
                self.coverage
                    .redelivered_twins(&mut self.dropped_twins[replica], report);
            }
            Err(e) => coverage.page_error(e),
        }
        page_outcome(result)
    }

    /// Everything the world holds: each replica's persisted state and the
    /// server's log, materialized state, dedup table and head.
    pub fn state(&self) -> Value {
        let replicas: Vec<Value> = self
            .replicas
            .iter()
            .map(|r| serde_json::to_value(ReplicaState::of(r)).unwrap_or(Value::Null))
            .collect();
        let (mut last_seq, mut clock_epoch) = (Map::new(), Map::new());
        for id in WRITERS.iter().skip(1) {
            if let Some(seq) = self.server.last_seq(&WriterId::new(id)) {
                last_seq.insert((*id).to_owned(), Value::from(seq));
            }
            let epoch = self.server.clock_epoch(&WriterId::new(id));
            if epoch > 0 {
                clock_epoch.insert((*id).to_owned(), Value::from(epoch));
            }
        }
        json!({
            "replicas": replicas,
            "server": {
                "log": self.server.log().iter().map(Change::to_wire).collect::<Vec<_>>(),
                "records": self.server.records().iter().map(|(k, r)| record_to_json(k, r)).collect::<Vec<_>>(),
                "last_seq": last_seq,
                "clock_epoch": clock_epoch,
                "head": self.server.head(),
            }
        })
    }
}

/// The outcome of a call that yields a change or an error with a code.
pub fn change_outcome<E: Coded>(result: Result<Option<Change>, E>) -> Value {
    match result {
        Ok(change) => json!({"change": change.map(|c| c.to_wire())}),
        Err(e) => json!({"error": e.code()}),
    }
}

fn page_outcome(result: Result<ApplyReport, fieldmerge::PageError>) -> Value {
    match result {
        Ok(report) => json!({"report": report_json(&report)}),
        Err(e) => json!({"error": e.code()}),
    }
}

/// Errors with a stable code.
pub trait Coded {
    /// The error's stable code.
    fn code(&self) -> &'static str;
}

impl Coded for fieldmerge::WriteError {
    fn code(&self) -> &'static str {
        fieldmerge::WriteError::code(self)
    }
}

/// A register as JSON, in the record form `{value, at, origin, by, base?}`.
pub fn register_json(reg: &Register) -> Value {
    let mut m = Map::new();
    m.insert("value".into(), reg.value.clone());
    m.insert("at".into(), Value::from(reg.at.to_string()));
    m.insert("origin".into(), Value::from(reg.origin.as_str()));
    m.insert("by".into(), Value::from(reg.by.as_str()));
    match &reg.base {
        fieldmerge::Base::Legacy => {}
        fieldmerge::Base::First => {
            m.insert("base".into(), Value::Null);
        }
        fieldmerge::Base::Saw(v) => {
            m.insert(
                "base".into(),
                json!({"at": v.at.to_string(), "by": v.by.as_str()}),
            );
        }
    }
    Value::Object(m)
}

/// A report in the kernel's JSON form (SPEC R13.1): every conflict, anomaly
/// and hidden edit with all its fields, the tally, and the changed records.
pub fn report_json(report: &ApplyReport) -> Value {
    serde_json::to_value(report).unwrap_or_default()
}
