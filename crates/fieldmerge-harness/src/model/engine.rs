//! The reference model as a conformance-vector [`Engine`], so every file
//! of `spec/vectors/` checks the model as well as the kernel.
//!
//! Decoding stays the kernel's (wire changes and replica states are read
//! with `decode_change_values` and `ReplicaState`, then converted field by
//! field); everything the steps then do is the model's own.

use std::collections::BTreeMap;

use crate::vectors::{Engine, Failure, KeySpec, MergeSource, Output, ServerSetup, Step};
use fieldmerge::{decode_change_values, decode_changes, Replica, ReplicaState, Timestamp};
use serde_json::{json, Map, Value};

use super::replica::{ModelPage, ModelReplica, ModelReport};
use super::server::ModelServer;
use super::world::origin_of;
use super::{
    change_json, from_kernel_change, from_kernel_register, is_deleted, last_change, record_json,
    spell, value, ModelChange, ModelRecord,
};

/// Named model replicas and a model server.
#[derive(Clone, Debug)]
pub struct ModelEngine {
    server: ModelServer,
    replicas: BTreeMap<String, ModelReplica>,
}

impl Default for ModelEngine {
    fn default() -> ModelEngine {
        let setup = ServerSetup::default();
        ModelEngine {
            server: ModelServer::new(setup.skew_ms_max, setup.page_size_max),
            replicas: BTreeMap::new(),
        }
    }
}

fn fail(code: &str) -> Failure {
    Failure {
        code: code.to_owned(),
        index: None,
        field: None,
        message: format!("model: {code}"),
    }
}

/// R11.8 as the model reads it: an object whose member values nest at most
/// 128 levels and whose canonical text is at most 4096 bytes, checked before
/// the write.
fn model_ext(ext: Option<&Value>) -> Result<Option<Value>, Failure> {
    let Some(ext) = ext else {
        return Ok(None);
    };
    let Value::Object(members) = ext else {
        return Err(fail("wrong_type"));
    };
    if members.values().any(|v| super::depth(v) > 128) {
        return Err(fail("too_deep"));
    }
    if fieldmerge::canonical_json(ext).len() > 4096 {
        return Err(fail("ext_too_large"));
    }
    Ok(Some(ext.clone()))
}

/// R11.8: the slot rides on the change a write made, and on its copy in
/// the outbox or the log (`last`); a no-op write carries nothing.
fn with_ext(
    result: Result<Option<ModelChange>, &'static str>,
    last: Option<&mut ModelChange>,
    ext: Option<Value>,
) -> Result<Option<ModelChange>, &'static str> {
    let Some(ext) = ext else {
        return result;
    };
    let mut change = result?;
    if let (Some(change), Some(last)) = (change.as_mut(), last) {
        change.ext = Some(ext.clone());
        last.ext = Some(ext);
    }
    Ok(change)
}

fn key_of(key: &KeySpec) -> (String, String) {
    match key {
        KeySpec::Key { table, id } => (table.clone(), id.clone()),
        // R10.2: table `kind`, id `kind:scope`.
        KeySpec::Singleton { kind, scope } => (kind.clone(), format!("{kind}:{scope}")),
    }
}

fn decode(changes: &Value) -> Result<Vec<ModelChange>, Failure> {
    let decoded = match changes {
        Value::String(text) => decode_changes(text.as_bytes()),
        other => decode_change_values(other),
    };
    decoded
        .map(|cs| cs.iter().map(from_kernel_change).collect())
        .map_err(|e| Failure {
            code: e.kind.code().into(),
            index: Some(e.index),
            field: e.field.clone(),
            message: e.to_string(),
        })
}

/// A page read by the kernel's page reader (R12.6: entry by entry), then
/// copied into the model: its changes, and its quarantined entries by
/// `server_seq` with their JSON form.
fn decode_page(
    after: u64,
    changes: &Value,
    head: u64,
    log: Option<&str>,
) -> Result<ModelPage, Failure> {
    let text = crate::vectors::named_page_text(after, changes, head, log);
    let page = fieldmerge::Page::from_json(text.as_bytes()).map_err(|e| Failure {
        code: e.kind.code().into(),
        index: Some(e.index),
        field: e.field.clone(),
        message: e.to_string(),
    })?;
    Ok(ModelPage {
        log: page.log.clone(),
        after: page.after,
        changes: page.changes.iter().map(from_kernel_change).collect(),
        head: page.head,
        quarantined: page
            .quarantined
            .iter()
            .map(|q| (q.server_seq, serde_json::to_value(q).unwrap_or_default()))
            .collect(),
    })
}

/// A replica state read by the kernel's loader, then copied into the model.
fn load(state: &Value) -> Result<ModelReplica, Failure> {
    let parsed: ReplicaState = serde_json::from_value(state.clone()).map_err(|e| Failure {
        code: "state_json".into(),
        index: None,
        field: None,
        message: e.to_string(),
    })?;
    let replica = parsed.load().map_err(|e| {
        let (index, field) = match &e {
            fieldmerge::StateError::Record { field, .. } => (None, Some(field.clone())),
            fieldmerge::StateError::Outbox(c) => (Some(c.index), c.field.clone()),
            _ => (None, None),
        };
        Failure {
            code: e.code().into(),
            index,
            field,
            message: e.to_string(),
        }
    })?;
    Ok(from_kernel_replica(&replica))
}

fn from_kernel_replica(r: &Replica) -> ModelReplica {
    let mut m = ModelReplica::new(r.client_id().as_str());
    for (key, record) in r.records() {
        let fields = record
            .fields()
            .map(|(name, reg)| (name.to_owned(), from_kernel_register(reg)))
            .collect();
        m.records.insert(
            (key.table.clone(), key.id.clone()),
            ModelRecord {
                fields,
                shadow: record.updated_at_index().map(Timestamp::as_ms),
            },
        );
    }
    m.outbox = r.outbox().iter().map(from_kernel_change).collect();
    m.next_seq = r.next_seq();
    m.cursor = r.cursor();
    m.hydrating = r.is_hydrating();
    m.log = r.log_name().map(str::to_owned);
    let clock = r.clock();
    m.seen = clock.seen.as_ms();
    m.stamped = clock.stamped.as_ms();
    m.offset_ms = clock.offset_ms;
    m.epoch = clock.epoch;
    m
}

/// R7.2: the greatest parseable `at` of a stored row's metadata map, else
/// its `updatedAt` when it parses.
fn derive_row(row: &Value) -> Option<i64> {
    let mut best: Option<i64> = None;
    if let Some(Value::Object(meta)) = row.get("__fieldMeta") {
        for entry in meta.values() {
            if let Some(Value::String(at)) = entry.get("at") {
                if let Ok(t) = Timestamp::parse(at) {
                    best = Some(best.map_or(t.as_ms(), |b| b.max(t.as_ms())));
                }
            }
        }
    }
    if best.is_none() {
        if let Some(Value::String(at)) = row.get("updatedAt") {
            best = Timestamp::parse(at).ok().map(Timestamp::as_ms);
        }
    }
    best
}

fn report_output(report: &ModelReport, out: &mut Output) {
    if let Value::Object(m) = report.json() {
        out.extend(m);
    }
}

impl ModelEngine {
    fn replica(&mut self, name: &str) -> Result<&mut ModelReplica, Failure> {
        self.replicas
            .get_mut(name)
            .ok_or_else(|| fail("no_such_replica"))
    }

    fn change_out(
        result: Result<Option<ModelChange>, &'static str>,
        out: &mut Output,
    ) -> Result<(), Failure> {
        let change = result.map_err(fail)?;
        out.insert(
            "change".into(),
            change.as_ref().map_or(Value::Null, change_json),
        );
        Ok(())
    }
}

impl Engine for ModelEngine {
    fn start(&mut self, server: ServerSetup) {
        self.server = ModelServer::new(server.skew_ms_max, server.page_size_max);
        self.server.name = server.log;
        self.replicas.clear();
    }

    fn load_replica(&mut self, name: &str, state: &Value) -> Result<(), Failure> {
        let replica = load(state)?;
        self.replicas.insert(name.to_owned(), replica);
        Ok(())
    }

    fn step(&mut self, step: &Step) -> Result<Output, Failure> {
        let mut out = Output::new();
        match step {
            Step::Write {
                replica,
                key,
                actor,
                patch,
                now,
                ext,
            } => {
                let ext = model_ext(ext.as_ref())?;
                let r = self.replica(replica)?;
                let result = r.write(&key_of(key), origin_of(actor), patch, now.as_ms());
                Self::change_out(with_ext(result, r.outbox.last_mut(), ext), &mut out)?;
            }
            Step::Delete {
                replica,
                key,
                actor,
                now,
                ext,
            } => {
                let ext = model_ext(ext.as_ref())?;
                let r = self.replica(replica)?;
                let result = r.delete(&key_of(key), origin_of(actor), now.as_ms());
                Self::change_out(with_ext(result, r.outbox.last_mut(), ext), &mut out)?;
            }
            Step::Restore {
                replica,
                key,
                actor,
                now,
                ext,
            } => {
                let ext = model_ext(ext.as_ref())?;
                let r = self.replica(replica)?;
                let result = r.restore(&key_of(key), origin_of(actor), now.as_ms());
                Self::change_out(with_ext(result, r.outbox.last_mut(), ext), &mut out)?;
            }
            Step::Bootstrap {
                replica,
                key,
                fields,
            } => {
                let r = self.replica(replica)?;
                Self::change_out(r.bootstrap(&key_of(key), fields), &mut out)?;
            }
            Step::Apply {
                replica,
                changes,
                delivery,
            } => {
                let batch = decode(changes)?;
                let hydration = *delivery == fieldmerge::Delivery::Hydration;
                let report = self.replica(replica)?.apply(&batch, hydration);
                report_output(&report, &mut out);
            }
            Step::Page {
                replica,
                after,
                changes,
                head,
                log,
            } => {
                let page = decode_page(*after, changes, *head, log.as_deref())?;
                let report = self.replica(replica)?.apply_page(&page).map_err(fail)?;
                report_output(&report, &mut out);
            }
            Step::ReceiveReply {
                replica,
                acked_through,
                after,
                changes,
                head,
            } => {
                // R13.4: all or nothing, on a copy.
                let page = decode_page(*after, changes, *head, None)?;
                let mut next = self.replica(replica)?.clone();
                next.ack(*acked_through);
                let report = next.apply_page(&page).map_err(fail)?;
                *self.replica(replica)? = next;
                report_output(&report, &mut out);
            }
            Step::Ack { replica, through } => self.replica(replica)?.ack(*through),
            Step::Merge { replica, from } => {
                let other = match from {
                    MergeSource::Replica(name) => self.replica(name)?.clone(),
                    MergeSource::State(state) => load(state)?,
                };
                let report = self.replica(replica)?.merge(&other);
                report_output(&report, &mut out);
            }
            Step::Push { replica, now } => {
                let r = self.replica(replica)?.clone();
                let reply = self
                    .server
                    .push(
                        &r.client_id,
                        &r.outbox,
                        r.cursor.unwrap_or(0),
                        r.epoch,
                        now.as_ms(),
                    )
                    .map_err(fail)?;
                // R13.1: the push message and the reply in their JSON forms.
                let message = json!({
                    "client_id": r.client_id,
                    "changes": r.outbox.iter().map(change_json).collect::<Vec<_>>(),
                    "cursor": r.cursor.unwrap_or(0),
                    "clock_epoch": r.epoch,
                });
                let page = json!({
                    "after": reply.page.after,
                    "changes": reply.page.changes.iter().map(change_json).collect::<Vec<_>>(),
                    "head": reply.page.head,
                });
                let reply_json = json!({
                    "acked_through": reply.acked_through,
                    "appended": reply.appended,
                    "page": page,
                    "report": reply.report.json(),
                });
                let mut next = r;
                next.ack(reply.acked_through);
                let report = next.apply_page(&reply.page).map_err(fail)?;
                *self.replica(replica)? = next;
                out.insert("acked_through".into(), json!(reply.acked_through));
                out.insert("appended".into(), json!(reply.appended));
                out.insert("message".into(), message);
                out.insert("reply".into(), reply_json);
                report_output(&report, &mut out);
            }
            Step::PushRaw {
                client_id,
                changes,
                cursor,
                clock_epoch,
                now,
            } => {
                let batch = decode(changes)?;
                let reply = self
                    .server
                    .push(client_id, &batch, *cursor, *clock_epoch, now.as_ms())
                    .map_err(fail)?;
                out.insert("acked_through".into(), json!(reply.acked_through));
                out.insert("appended".into(), json!(reply.appended));
                report_output(&reply.report, &mut out);
            }
            Step::Pull { replica, limit } => {
                let limit = limit.unwrap_or(self.server.page_size_max);
                let cursor = self.replica(replica)?.cursor.unwrap_or(0);
                let page = self.server.pull(cursor, limit);
                let report = self.replica(replica)?.apply_page(&page).map_err(fail)?;
                report_output(&report, &mut out);
            }
            Step::ServerWrite {
                writer,
                actor,
                key,
                patch,
                now,
                ext,
            } => {
                let ext = model_ext(ext.as_ref())?;
                let result =
                    self.server
                        .write(writer, origin_of(actor), &key_of(key), patch, now.as_ms());
                let last = self.server.log.last_mut();
                Self::change_out(with_ext(result, last, ext), &mut out)?;
            }
            Step::ServerBootstrap { key, fields } => {
                Self::change_out(self.server.bootstrap(&key_of(key), fields), &mut out)?;
            }
            Step::ResetCursor { replica } => self.replica(replica)?.reset_cursor(),
            Step::RestartServer => self.server = self.server.restarted(),
            Step::CorrectClock {
                replica,
                server_now,
                clock_epoch,
                log_high,
                now,
            } => {
                let skew = self.server.skew_ms_max;
                let high = log_high.map_or(self.server.log_high(), |t| t.as_ms());
                let r = self.replica(replica)?;
                let epoch = clock_epoch.unwrap_or(r.epoch + 1);
                r.correct_clock(server_now.as_ms(), skew, high, epoch, now.as_ms())
                    .map_err(fail)?;
            }
            Step::Load { replica, state } => self.load_replica(replica, state)?,
            Step::DeriveRow { row } => {
                out.insert("derived".into(), json!(derive_row(row).map(spell)));
            }
            Step::CompareValues { a, b } => {
                out.insert("order".into(), json!(value::compare(a, b) as i8));
            }
            // The model has no JSON reader of its own: text is the kernel's
            // boundary, checked independently by the JavaScript and Go
            // checks of `spec/checks/`, which recompute every expectation.
            Step::ReadJson { text } => {
                out.insert("canonical".into(), crate::vectors::read_json_step(text)?);
            }
            // The importer is a tool over the kernel's forms (SPEC R14), not a
            // rule of the merge: the model runs the same one.
            Step::Import {
                kind,
                input,
                client_id,
            } => out.extend(crate::vectors::import_step(
                kind,
                input,
                client_id.as_deref(),
            )?),
            Step::Check { .. } => {}
        }
        Ok(out)
    }

    fn observe_replica(&self, name: &str) -> Option<Map<String, Value>> {
        let r = self.replicas.get(name)?;
        let Value::Object(mut m) = r.state_json() else {
            return None;
        };
        m.remove("client_id");
        let derived: Vec<Value> = r
            .records
            .iter()
            .map(|((table, id), rec)| json!({"table": table, "id": id, "at": last_change(rec).map(spell)}))
            .collect();
        let deleted: Vec<Value> = r
            .records
            .iter()
            .map(|((table, id), rec)| json!({"table": table, "id": id, "deleted": is_deleted(rec)}))
            .collect();
        m.insert("derive_updated_at".into(), Value::Array(derived));
        m.insert("deleted".into(), Value::Array(deleted));
        Some(m)
    }

    fn observe_server(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(
            "server_records".into(),
            self.server
                .state
                .iter()
                .map(|(k, r)| record_json(k, r))
                .collect(),
        );
        m.insert(
            "server_log".into(),
            self.server.log.iter().map(change_json).collect(),
        );
        m.insert("server_head".into(), json!(self.server.log.len()));
        m
    }
}
