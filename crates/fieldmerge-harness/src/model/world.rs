//! The model side of an [`Action`] run: the same replicas and server as
//! `laws::world::World`, each step's outcome and the whole state rendered
//! in the same JSON, by the model's own code.

use crate::gen::{Action, PageForgery, CLIENTS};
use fieldmerge::{Actor, Delivery, Origin, RecordKey};
use serde_json::{json, Value};

use super::replica::{ModelPage, ModelReplica, ModelReport, WriteResult};
use super::server::ModelServer;
use super::{change_json, from_kernel_change, ModelChange};
use crate::world::CONFIG;

#[derive(Clone, Debug)]
pub struct ModelWorld {
    pub replicas: Vec<ModelReplica>,
    pub server: ModelServer,
}

impl Default for ModelWorld {
    fn default() -> ModelWorld {
        ModelWorld {
            replicas: CLIENTS.iter().map(|id| ModelReplica::new(id)).collect(),
            server: ModelServer::new(CONFIG.skew_ms_max(), CONFIG.page_size_max()),
        }
    }
}

/// R3.2: the origin is derived from the actor.
pub fn origin_of(actor: &Actor) -> Origin {
    match actor {
        Actor::User => Origin::User,
        Actor::Ai => Origin::Agent,
        Actor::System { source } if source == "system:migration" => Origin::Migration,
        Actor::System { .. } => Origin::System,
    }
}

fn key_of(key: &RecordKey) -> (String, String) {
    (key.table.clone(), key.id.clone())
}

fn change_outcome(result: WriteResult) -> Value {
    match result {
        Ok(change) => json!({"change": change.as_ref().map(change_json)}),
        Err(code) => json!({"error": code}),
    }
}

fn page_outcome(result: Result<ModelReport, &'static str>) -> Value {
    match result {
        Ok(report) => json!({"report": report.json()}),
        Err(code) => json!({"error": code}),
    }
}

impl ModelWorld {
    pub fn step(&mut self, action: &Action) -> Value {
        match action {
            Action::Write {
                replica,
                key,
                actor,
                patch,
                now,
            } => change_outcome(self.replicas[*replica].write(
                &key_of(key),
                origin_of(actor),
                patch,
                now.as_ms(),
            )),
            Action::Delete {
                replica,
                key,
                actor,
                now,
            } => change_outcome(self.replicas[*replica].delete(
                &key_of(key),
                origin_of(actor),
                now.as_ms(),
            )),
            Action::Restore {
                replica,
                key,
                actor,
                now,
            } => change_outcome(self.replicas[*replica].restore(
                &key_of(key),
                origin_of(actor),
                now.as_ms(),
            )),
            Action::Bootstrap {
                replica,
                key,
                fields,
            } => change_outcome(self.replicas[*replica].bootstrap(&key_of(key), fields)),
            Action::Apply {
                replica,
                changes,
                delivery,
            } => {
                let batch: Vec<ModelChange> = changes.iter().map(from_kernel_change).collect();
                let report =
                    self.replicas[*replica].apply(&batch, *delivery == Delivery::Hydration);
                json!({"report": report.json()})
            }
            Action::Replay {
                replica,
                picks,
                delivery,
            } => {
                let log = &self.server.log;
                let batch: Vec<ModelChange> = if log.is_empty() {
                    Vec::new()
                } else {
                    picks.iter().map(|i| log[i % log.len()].clone()).collect()
                };
                let report =
                    self.replicas[*replica].apply(&batch, *delivery == Delivery::Hydration);
                json!({"report": report.json()})
            }
            Action::Push { replica, now } => self.push_outbox(*replica, 0, Some(*replica), *now),
            Action::PushLostReply { replica, now } => self.push_outbox(*replica, 0, None, *now),
            Action::PushTail { replica, skip, now } => {
                self.push_outbox(*replica, *skip, Some(*replica), *now)
            }
            Action::PushForged {
                client,
                changes,
                cursor,
                clock_epoch,
                now,
            } => {
                let batch: Vec<ModelChange> = changes.iter().map(from_kernel_change).collect();
                self.push(
                    None,
                    client.as_str(),
                    &batch,
                    *cursor,
                    *clock_epoch,
                    now.as_ms(),
                )
            }
            Action::Pull { replica, limit } => {
                let r = &mut self.replicas[*replica];
                let page = self.server.pull(r.cursor.unwrap_or(0), *limit);
                page_outcome(r.apply_page(&page))
            }
            Action::PullAt {
                replica,
                after,
                limit,
            } => {
                let page = self.server.pull(*after, *limit);
                page_outcome(self.replicas[*replica].apply_page(&page))
            }
            Action::PullForged {
                replica,
                limit,
                forgery,
            } => {
                let cursor = self.replicas[*replica].cursor.unwrap_or(0);
                let mut page = self.server.pull(cursor, *limit);
                match forgery {
                    PageForgery::DropFirst if !page.changes.is_empty() => {
                        page.changes.remove(0);
                    }
                    PageForgery::DropFirst => {}
                    PageForgery::HeadAtCursor => page.head = cursor,
                }
                page_outcome(self.replicas[*replica].apply_page(&page))
            }
            Action::Ack { replica, through } => {
                self.replicas[*replica].ack(*through);
                json!({})
            }
            Action::Merge { into, from } => {
                let other = self.replicas[*from].clone();
                json!({"report": self.replicas[*into].merge(&other).json()})
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
                let high = self.server.log_high();
                let r = &mut self.replicas[*replica];
                let epoch = clock_epoch.unwrap_or(r.epoch + 1);
                match r.correct_clock(
                    server_now.as_ms(),
                    self.server.skew_ms_max,
                    high,
                    epoch,
                    now.as_ms(),
                ) {
                    Ok(()) => json!({}),
                    Err(code) => json!({"error": code}),
                }
            }
            Action::ServerWrite {
                writer,
                actor,
                key,
                patch,
                now,
            } => change_outcome(self.server.write(
                writer.as_str(),
                origin_of(actor),
                &key_of(key),
                patch,
                now.as_ms(),
            )),
            Action::ServerBootstrap { key, fields } => {
                change_outcome(self.server.bootstrap(&key_of(key), fields))
            }
        }
    }

    // The replica's outbox without its first `skip` changes, pushed; the
    // reply goes to `reply_to` (`None`: the reply is lost).
    fn push_outbox(
        &mut self,
        replica: usize,
        skip: usize,
        reply_to: Option<usize>,
        now: fieldmerge::Timestamp,
    ) -> Value {
        let r = &self.replicas[replica];
        let changes: Vec<ModelChange> = r.outbox.iter().skip(skip).cloned().collect();
        let (client, cursor, epoch) = (r.client_id.clone(), r.cursor.unwrap_or(0), r.epoch);
        self.push(reply_to, &client, &changes, cursor, epoch, now.as_ms())
    }

    fn push(
        &mut self,
        replica: Option<usize>,
        client: &str,
        changes: &[ModelChange],
        cursor: u64,
        clock_epoch: u64,
        now: i64,
    ) -> Value {
        match self.server.push(client, changes, cursor, clock_epoch, now) {
            Err(code) => json!({"error": code}),
            Ok(reply) => {
                let mut out = json!({
                    "acked_through": reply.acked_through,
                    "appended": reply.appended,
                    "server_report": reply.report.json(),
                    "page": page_json(&reply.page),
                });
                if let Some(i) = replica {
                    let r = &mut self.replicas[i];
                    r.ack(reply.acked_through);
                    out["replica"] = page_outcome(r.apply_page(&reply.page));
                }
                out
            }
        }
    }

    pub fn state(&self) -> Value {
        json!({
            "replicas": self.replicas.iter().map(ModelReplica::state_json).collect::<Vec<_>>(),
            "server": self.server.state_json(),
        })
    }
}

fn page_json(page: &ModelPage) -> Value {
    json!({"after": page.after, "head": page.head, "changes": page.changes.iter().map(change_json).collect::<Vec<_>>()})
}
