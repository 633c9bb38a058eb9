//! The model of the server's pure side (R10, R12): push validation and
//! dedup, the log, the materialized state, pages, agent and bootstrap
//! writes.

use std::collections::BTreeMap;

use fieldmerge::Origin;
use serde_json::{json, Map, Value};

use super::replica::{
    bootstrap_registers, check_field, check_key, check_patch, merge_into, ModelPage, ModelReport,
    WriteResult,
};
use super::{
    compare_registers, name_ok, value, ModelBase, ModelChange, ModelRegister, Records, BOOTSTRAP,
    LAST_MS, TOMBSTONE,
};

/// An accepted push (R12.1).
pub struct ModelReply {
    pub acked_through: Option<u64>,
    pub appended: usize,
    pub page: ModelPage,
    pub report: ModelReport,
}

#[derive(Clone, Debug)]
pub struct ModelServer {
    pub skew_ms_max: i64,
    pub page_size_max: usize,
    pub log: Vec<ModelChange>,
    pub state: Records,
    pub last_seq: BTreeMap<String, u64>,
    /// R12.4: the clock epoch each client's pushes must carry.
    pub clock_epoch: BTreeMap<String, u64>,
    /// R12.7: the log's name, which every page carries.
    pub name: Option<String>,
}

impl ModelServer {
    pub fn new(skew_ms_max: i64, page_size_max: usize) -> ModelServer {
        ModelServer {
            skew_ms_max,
            page_size_max,
            log: Vec::new(),
            state: Records::new(),
            last_seq: BTreeMap::new(),
            clock_epoch: BTreeMap::new(),
            name: None,
        }
    }

    /// R12.1, R12.3: validate everything, then append what is new.
    pub fn push(
        &mut self,
        client: &str,
        changes: &[ModelChange],
        cursor: u64,
        clock_epoch: u64,
        now: i64,
    ) -> Result<ModelReply, &'static str> {
        // R12.4: a push made before a demanded clock correction is stale.
        if clock_epoch < self.clock_epoch.get(client).copied().unwrap_or(0) {
            return Err("stale_clock");
        }
        let last = self.last_seq.get(client).copied().unwrap_or(0);
        // R12.3: the limit rises with the log's high stamp, which the push's
        // new changes raise as they pass.
        let mut high = self.log_high();
        let mut first_new = None;
        for (i, change) in changes.iter().enumerate() {
            if change.client_id != client {
                return Err("foreign_change");
            }
            let Some(seq) = change.client_seq else {
                return Err("missing_seq");
            };
            if i > 0 && changes[i - 1].client_seq.and_then(|p| p.checked_add(1)) != Some(seq) {
                return Err("seq_order");
            }
            // R12.1: a retry must be the change the log holds under its
            // client and sequence number.
            // R12.1: sequence numbers start at 1.
            if seq >= 1 && seq <= last {
                let logged = self
                    .log
                    .iter()
                    .find(|c| c.client_id == client && c.client_seq == Some(seq));
                let same = logged.is_some_and(|c| same_change(c, change));
                if !same {
                    return Err("seq_reused");
                }
            }
            if seq > last || seq == 0 {
                if first_new.is_none() {
                    first_new = Some(seq);
                }
                let limit = now
                    .saturating_add(self.skew_ms_max)
                    .clamp(0, LAST_MS)
                    .max((high + 1).min(LAST_MS));
                if change.writes.values().any(|r| r.at > limit) {
                    // R12.4: the client's next push must carry a newer epoch.
                    self.clock_epoch.insert(client.to_owned(), clock_epoch + 1);
                    return Err("clock_ahead");
                }
                high = change.writes.values().map(|r| r.at).fold(high, i64::max);
            }
        }
        if let Some(first) = first_new {
            if first != last + 1 {
                return Err("seq_gap");
            }
        }
        let mut report = ModelReport::default();
        let mut appended = 0;
        for change in changes {
            if change.client_seq.is_some_and(|s| s > last) {
                report.extend(self.append(change.clone()));
                appended += 1;
                self.last_seq
                    .insert(client.to_owned(), change.client_seq.unwrap_or(0));
            }
        }
        Ok(ModelReply {
            acked_through: self.last_seq.get(client).copied(),
            appended,
            page: self.pull(cursor, self.page_size_max),
            report,
        })
    }

    /// R12.3: the greatest `at` the log holds (0, the genesis, when none).
    pub fn log_high(&self) -> i64 {
        self.log
            .iter()
            .flat_map(|c| c.writes.values().map(|r| r.at))
            .max()
            .unwrap_or(0)
    }

    /// R12.2: the changes after `cursor`, at most `limit`, and the head.
    pub fn pull(&self, cursor: u64, limit: usize) -> ModelPage {
        // R12.2: a pull asks for at least one change.
        let limit = limit.max(1).min(self.page_size_max);
        let changes: Vec<ModelChange> = self
            .log
            .iter()
            .filter(|c| c.server_seq.is_some_and(|s| s > cursor))
            .take(limit)
            .cloned()
            .collect();
        ModelPage {
            log: self.name.clone(),
            quarantined: Vec::new(),
            after: cursor,
            changes,
            head: self.log.len() as u64,
        }
    }

    /// R12.4: an agent or job write, stamped after its record's registers,
    /// with the materialized version as its base.
    pub fn write(
        &mut self,
        writer: &str,
        origin: Origin,
        key: &(String, String),
        patch: &Map<String, Value>,
        now: i64,
    ) -> WriteResult {
        check_key(key)?;
        // R11.6: the writer is the change's client id, 1 to 256 bytes.
        if !name_ok(writer) {
            return Err("bad_name");
        }
        if patch.len() > 1024 {
            return Err("too_many_fields");
        }
        for (name, v) in patch {
            check_field(name, v)?;
        }
        // R12.4: the server's clock, floored by the record's registers.
        let existing = self.state.get(key);
        let high = existing
            .and_then(|r| r.fields.values().map(|f| f.at).max())
            .unwrap_or(0);
        if high >= LAST_MS {
            return Err("clock_exhausted");
        }
        let at = now.max(high + 1);
        let mut writes = BTreeMap::new();
        for (name, v) in patch {
            let base = match existing.and_then(|r| r.fields.get(name)) {
                Some(current) if value::equal(&current.value, v) => continue,
                Some(current) => ModelBase::Saw(current.at, current.by.clone()),
                None => ModelBase::First,
            };
            writes.insert(
                name.clone(),
                ModelRegister {
                    value: v.clone(),
                    at,
                    by: writer.to_owned(),
                    origin,
                    base,
                },
            );
        }
        if writes.is_empty() {
            return Ok(None);
        }
        // R11.2: a delete sets the tombstone to a non-null value.
        let deletes = writes.get(TOMBSTONE).is_some_and(|t| !t.value.is_null());
        // R12.4: a delete exactly when it stamps a non-null tombstone.
        let op = if deletes {
            "delete"
        } else if existing.is_none() {
            "insert"
        } else {
            "update"
        };
        let change = ModelChange {
            table: key.0.clone(),
            id: key.1.clone(),
            op,
            writes,
            client_id: writer.to_owned(),
            client_seq: None,
            server_seq: None,
            ext: None,
        };
        self.append(change);
        Ok(self.log.last().cloned())
    }

    /// R10.1, R10.3: the server's bootstrap row, once.
    pub fn bootstrap(
        &mut self,
        key: &(String, String),
        fields: &Map<String, Value>,
    ) -> WriteResult {
        // R10.1, R10.4, R11.2: the row is a change like any other.
        check_patch(key, "system:bootstrap", fields)?;
        if self.state.contains_key(key) || fields.is_empty() {
            return Ok(None);
        }
        let change = ModelChange {
            table: key.0.clone(),
            id: key.1.clone(),
            op: "insert",
            writes: bootstrap_registers(fields),
            client_id: BOOTSTRAP.to_owned(),
            client_seq: None,
            server_seq: None,
            ext: None,
        };
        self.append(change);
        Ok(self.log.last().cloned())
    }

    fn append(&mut self, mut change: ModelChange) -> ModelReport {
        change.server_seq = Some(self.log.len() as u64 + 1);
        let mut report = ModelReport::default();
        let key = (change.table.clone(), change.id.clone());
        let writes: Vec<(String, ModelRegister)> = change
            .writes
            .iter()
            .map(|(n, r)| (n.clone(), r.clone()))
            .collect();
        merge_into(&mut self.state, &key, &writes, false, None, &mut report);
        self.log.push(change);
        report
    }

    /// R13.2: the server restarted from what it stored, its log and its
    /// client table (the clock epochs): state and dedup keys replayed from
    /// the log.
    pub fn restarted(&self) -> ModelServer {
        let mut fresh = ModelServer::new(self.skew_ms_max, self.page_size_max);
        for change in &self.log {
            if let Some(seq) = change.client_seq {
                fresh.last_seq.insert(change.client_id.clone(), seq);
            }
            let mut change = change.clone();
            change.server_seq = None;
            fresh.append(change);
        }
        fresh.clock_epoch = self.clock_epoch.clone();
        fresh.name = self.name.clone();
        fresh
    }

    pub fn state_json(&self) -> Value {
        json!({
            "log": self.log.iter().map(super::change_json).collect::<Vec<_>>(),
            "records": self.state.iter().map(|(k, r)| super::record_json(k, r)).collect::<Vec<_>>(),
            "last_seq": self.last_seq,
            "clock_epoch": self.clock_epoch,
            "head": self.log.len(),
        })
    }
}

/// R12.1, R12.2, R11.8: two changes are the same when record, op, registers
/// and extension slot are.
pub fn same_change(a: &ModelChange, b: &ModelChange) -> bool {
    (&a.table, &a.id, a.op) == (&b.table, &b.id, b.op)
        && a.ext == b.ext
        && a.writes.len() == b.writes.len()
        && a.writes.iter().zip(&b.writes).all(|((x, rx), (y, ry))| {
            x == y && compare_registers(rx, ry) == std::cmp::Ordering::Equal
        })
}
