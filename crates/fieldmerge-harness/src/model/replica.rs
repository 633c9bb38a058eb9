//! The model of a replica: classification (R6), op-based and state-based
//! merge (R4.5), hidden edits (R9.3), local writes and the clock (R2, R5),
//! the outbox, pages and hydration (R6.4, R6.5), and clock correction
//! (R12.4).

use std::cmp::Ordering;

use fieldmerge::Origin;
use serde_json::{json, Map, Value};

use super::{
    compare_registers, compare_versions, depth, is_deleted, last_change, local_only, name_ok,
    register_json, value, ModelBase, ModelChange, ModelRegister, Records, BOOTSTRAP, LAST_MS,
    TOMBSTONE,
};

/// What one incoming register did to a field (R6.1-R6.4).
#[derive(Clone, Copy, PartialEq, Debug)]
pub enum Outcome {
    Insert,
    Duplicate,
    Stale,
    Twin,
    SilentNotUser,
    SilentSameValue,
    SilentWitnessed,
    SilentLegacyHydration,
    ConflictUnwitnessed,
    ConflictLegacy,
}

impl Outcome {
    fn tally_name(self) -> &'static str {
        match self {
            Outcome::Insert => "inserted",
            Outcome::Duplicate => "duplicate",
            Outcome::Stale => "stale",
            Outcome::Twin => "twin",
            Outcome::SilentNotUser => "overwrite_not_user",
            Outcome::SilentSameValue => "overwrite_same_value",
            Outcome::SilentWitnessed => "overwrite_witnessed",
            Outcome::SilentLegacyHydration => "overwrite_legacy_hydration",
            Outcome::ConflictUnwitnessed => "conflict_unwitnessed",
            Outcome::ConflictLegacy => "conflict_legacy",
        }
    }
}

/// Everything one operation reported, in the JSON form the differential
/// test compares.
#[derive(Clone, Debug, Default)]
pub struct ModelReport {
    pub conflicts: Vec<Value>,
    pub anomalies: Vec<Value>,
    pub hidden_edits: Vec<Value>,
    pub tally: Vec<Outcome>,
    /// R13.3: the records whose content changed, in key order.
    pub changed: std::collections::BTreeSet<(String, String)>,
    /// R12.6: the page's entries that are not changes, in page order.
    pub quarantined: Vec<Value>,
}

impl ModelReport {
    pub fn extend(&mut self, other: ModelReport) {
        self.conflicts.extend(other.conflicts);
        self.anomalies.extend(other.anomalies);
        self.hidden_edits.extend(other.hidden_edits);
        self.tally.extend(other.tally);
        self.changed.extend(other.changed);
        self.quarantined.extend(other.quarantined);
    }

    pub fn json(&self) -> Value {
        let mut tally = Map::new();
        for name in [
            "inserted",
            "duplicate",
            "stale",
            "twin",
            "overwrite_not_user",
            "overwrite_same_value",
            "overwrite_witnessed",
            "overwrite_legacy_hydration",
            "conflict_unwitnessed",
            "conflict_legacy",
        ] {
            let count = self.tally.iter().filter(|o| o.tally_name() == name).count();
            tally.insert(name.into(), json!(count));
        }
        let mut report = json!({
            "conflicts": self.conflicts,
            "anomalies": self.anomalies,
            "hidden_edits": self.hidden_edits,
            "tally": tally,
            "changed": self.changed.iter().map(|(t, i)| json!({"table": t, "id": i})).collect::<Vec<_>>(),
        });
        // R13.1: present only when a page quarantined an entry.
        if !self.quarantined.is_empty() {
            report["quarantined"] = json!(self.quarantined);
        }
        report
    }
}

/// R6.1-R6.4: how `incoming` meets `current`.
pub fn classify(
    current: Option<&ModelRegister>,
    incoming: &ModelRegister,
    hydration: bool,
) -> Outcome {
    let Some(current) = current else {
        return Outcome::Insert;
    };
    match compare_versions(incoming.at, &incoming.by, current.at, &current.by) {
        Ordering::Less => Outcome::Stale,
        Ordering::Equal => {
            if compare_registers(incoming, current) == Ordering::Equal {
                Outcome::Duplicate
            } else {
                Outcome::Twin
            }
        }
        Ordering::Greater => {
            // R6.3: a conflict exactly when the loser is a user's, the
            // values differ, and the winner had not seen the loser.
            if current.origin != Origin::User {
                return Outcome::SilentNotUser;
            }
            if value::equal(&current.value, &incoming.value) {
                return Outcome::SilentSameValue;
            }
            match &incoming.base {
                ModelBase::Saw(at, by) if *at == current.at && *by == current.by => {
                    Outcome::SilentWitnessed
                }
                ModelBase::Saw(..) | ModelBase::First => Outcome::ConflictUnwitnessed,
                // R6.4: the legacy fallback spares initial hydration.
                ModelBase::Legacy if hydration => Outcome::SilentLegacyHydration,
                ModelBase::Legacy => Outcome::ConflictLegacy,
            }
        }
    }
}

/// R4.5, R6, R9.3: merges registers into one record and reports. `local`
/// is the replica's client id (`None` on the server: nothing there is
/// anyone's local edit).
pub fn merge_into(
    records: &mut Records,
    key: &(String, String),
    writes: &[(String, ModelRegister)],
    hydration: bool,
    local: Option<(&str, &[ModelChange])>,
    report: &mut ModelReport,
) {
    let record = records.entry(key.clone()).or_default();
    let was_deleted = is_deleted(record);
    for (name, incoming) in writes {
        let current = record.fields.get(name).cloned();
        // R6.4: hydration spares a legacy winner, except over a write of
        // this replica that is still in its outbox.
        let pending = match (&current, local) {
            (Some(loser), Some((me, outbox))) => {
                loser.by == me
                    && outbox.iter().any(|c| {
                        c.table == key.0
                            && c.id == key.1
                            && c.writes
                                .get(name)
                                .is_some_and(|r| r.at == loser.at && r.by == loser.by)
                    })
            }
            _ => false,
        };
        let outcome = classify(current.as_ref(), incoming, hydration && !pending);
        report.tally.push(outcome);
        let incoming_wins = match outcome {
            Outcome::Duplicate | Outcome::Stale => false,
            Outcome::Twin => {
                let current = current.clone().unwrap_or_else(|| incoming.clone());
                let wins = compare_registers(incoming, &current) == Ordering::Greater;
                let (kept, dropped) = if wins {
                    (incoming.clone(), current)
                } else {
                    (current, incoming.clone())
                };
                report.anomalies.push(json!({
                    "table": key.0, "id": key.1, "field": name,
                    "kept": register_json(&kept), "dropped": register_json(&dropped),
                }));
                wins
            }
            _ => true,
        };
        if let (Outcome::ConflictUnwitnessed | Outcome::ConflictLegacy, Some(loser)) =
            (outcome, &current)
        {
            report.conflicts.push(json!({
                "table": key.0, "id": key.1, "field": name,
                "loser": register_json(loser), "winner": register_json(incoming),
                "loser_is_local": local.is_some_and(|(me, _)| me == loser.by.as_str()),
                "rule": if outcome == Outcome::ConflictLegacy { "legacy" } else { "unwitnessed" },
            }));
        }
        if incoming_wins {
            record.fields.insert(name.clone(), incoming.clone());
            report.changed.insert(key.clone());
        }
    }
    record.shadow = last_change(record);
    // R9.3: this apply turned a live record into a deleted one; every local
    // user edit newer than the tombstone was provably not seen by it.
    if let Some((me, _)) = local {
        if !was_deleted && is_deleted(record) {
            let tombstone = record.fields[TOMBSTONE].clone();
            for (name, reg) in &record.fields {
                if name != TOMBSTONE
                    && reg.origin == Origin::User
                    && reg.by == me
                    && compare_versions(reg.at, &reg.by, tombstone.at, &tombstone.by)
                        == Ordering::Greater
                {
                    report.hidden_edits.push(json!({
                        "table": key.0, "id": key.1, "field": name,
                        "edit": register_json(reg), "tombstone": register_json(&tombstone),
                    }));
                }
            }
        }
    }
}

/// A page of the log (R12.2).
#[derive(Clone, Debug)]
pub struct ModelPage {
    /// R12.7: the log's name, when the server names it.
    pub log: Option<String>,
    pub after: u64,
    pub changes: Vec<ModelChange>,
    pub head: u64,
    /// R12.6: the entries that are not changes, each its `server_seq` and
    /// its JSON form (as the kernel's decoder reported it).
    pub quarantined: Vec<(u64, Value)>,
}

/// A client replica, as R12.5 lists what it keeps.
#[derive(Clone, Debug)]
pub struct ModelReplica {
    pub client_id: String,
    pub records: Records,
    pub outbox: Vec<ModelChange>,
    pub next_seq: u64,
    pub cursor: Option<u64>,
    pub hydrating: bool,
    /// R12.7: the log the cursor is into.
    pub log: Option<String>,
    pub seen: i64,
    pub stamped: i64,
    pub offset_ms: i64,
    /// R12.4: the clock epoch, raised by each correction the server demands.
    pub epoch: u64,
}

type Renamed = ((String, String), String, (i64, String), ModelRegister);

pub type WriteResult = Result<Option<ModelChange>, &'static str>;

impl ModelReplica {
    pub fn new(client_id: &str) -> ModelReplica {
        ModelReplica {
            client_id: client_id.to_owned(),
            records: Records::new(),
            outbox: Vec::new(),
            next_seq: 1,
            cursor: None,
            hydrating: false,
            log: None,
            seen: 0,
            stamped: 0,
            offset_ms: 0,
            epoch: 0,
        }
    }

    /// R2.2-R2.3: `max(now + offset, high + 1)`, where `high` is the
    /// greatest `at` of the record written (the genesis for a new one), or
    /// refused when that passes the
    /// last instant.
    fn clock(&self, key: &(String, String), now: i64) -> Result<i64, &'static str> {
        let wall = (now.saturating_add(self.offset_ms)).clamp(0, LAST_MS);
        // A record it does not hold floors at the genesis (R10.1).
        let high = self.records.get(key).and_then(last_change).unwrap_or(0);
        if high >= LAST_MS {
            return Err("clock_exhausted");
        }
        Ok(wall.max(high + 1))
    }

    /// R5: a local write.
    pub fn write(
        &mut self,
        key: &(String, String),
        origin: Origin,
        patch: &Map<String, Value>,
        now: i64,
    ) -> WriteResult {
        check_patch(key, &self.client_id, patch)?;
        let op = if self.records.contains_key(key) {
            "update"
        } else {
            "insert"
        };
        let fields: Vec<(String, Value)> =
            patch.iter().map(|(n, v)| (n.clone(), v.clone())).collect();
        self.stamp(key, op, origin, &fields, now)
    }

    /// R9.1: a soft delete.
    pub fn delete(&mut self, key: &(String, String), origin: Origin, now: i64) -> WriteResult {
        let record = self.records.get(key).ok_or("no_such_record")?;
        if is_deleted(record) {
            return Ok(None);
        }
        let at = self.clock(key, now)?;
        let fields = vec![(TOMBSTONE.to_owned(), json!(super::spell(at)))];
        self.stamp(key, "delete", origin, &fields, now)
    }

    /// R9.1: a restore.
    pub fn restore(&mut self, key: &(String, String), origin: Origin, now: i64) -> WriteResult {
        let record = self.records.get(key).ok_or("no_such_record")?;
        if !is_deleted(record) {
            return Ok(None);
        }
        self.stamp(
            key,
            "update",
            origin,
            &[(TOMBSTONE.to_owned(), Value::Null)],
            now,
        )
    }

    // R5.1-R5.4: stamps the fields whose value changes, all with one `at`.
    fn stamp(
        &mut self,
        key: &(String, String),
        op: &'static str,
        origin: Origin,
        fields: &[(String, Value)],
        now: i64,
    ) -> WriteResult {
        // R2.3, R5.2: an exhausted clock refuses only a write that stamps.
        let clock = self.clock(key, now);
        let at = *clock.as_ref().unwrap_or(&LAST_MS);
        let existing = self.records.get(key).cloned().unwrap_or_default();
        let mut writes = std::collections::BTreeMap::new();
        for (name, v) in fields {
            let base = match existing.fields.get(name) {
                Some(current) if value::equal(&current.value, v) => continue,
                Some(current) => ModelBase::Saw(current.at, current.by.clone()),
                None => ModelBase::First,
            };
            writes.insert(
                name.clone(),
                ModelRegister {
                    value: v.clone(),
                    at,
                    by: self.client_id.clone(),
                    origin,
                    base,
                },
            );
        }
        if writes.is_empty() {
            return Ok(None);
        }
        clock?;
        self.stamped = self.stamped.max(at);
        let record = self.records.entry(key.clone()).or_default();
        for (name, reg) in &writes {
            record.fields.insert(name.clone(), reg.clone());
        }
        record.shadow = last_change(record);
        Ok(Some(self.enqueue(key, op, writes)))
    }

    fn enqueue(
        &mut self,
        key: &(String, String),
        op: &'static str,
        writes: std::collections::BTreeMap<String, ModelRegister>,
    ) -> ModelChange {
        let change = ModelChange {
            table: key.0.clone(),
            id: key.1.clone(),
            op,
            writes,
            client_id: self.client_id.clone(),
            client_seq: Some(self.next_seq),
            server_seq: None,
            ext: None,
        };
        self.next_seq += 1;
        self.outbox.push(change.clone());
        change
    }

    /// R10.1, R10.3, R10.4: the client placeholder of a singleton.
    pub fn bootstrap(
        &mut self,
        key: &(String, String),
        fields: &Map<String, Value>,
    ) -> WriteResult {
        // R10.1, R10.4, R11.2: a placeholder is a pending change like any
        // write, checked as one.
        check_patch(key, &self.client_id, fields)?;
        if self.records.contains_key(key) || fields.is_empty() {
            return Ok(None);
        }
        let writes = bootstrap_registers(fields);
        let record = self.records.entry(key.clone()).or_default();
        record.fields = writes.clone();
        record.shadow = last_change(record);
        Ok(Some(self.enqueue(key, "insert", writes)))
    }

    /// R4.5, R6: op-based apply of changes, in order.
    pub fn apply(&mut self, changes: &[ModelChange], hydration: bool) -> ModelReport {
        let mut report = ModelReport::default();
        for change in changes {
            for reg in change.writes.values() {
                self.seen = self.seen.max(reg.at);
            }
            let key = (change.table.clone(), change.id.clone());
            let writes: Vec<(String, ModelRegister)> = change
                .writes
                .iter()
                .map(|(n, r)| (n.clone(), r.clone()))
                .collect();
            merge_into(
                &mut self.records,
                &key,
                &writes,
                hydration,
                Some((&self.client_id, &self.outbox)),
                &mut report,
            );
            // Our own change came back from the log: the server has it and
            // everything we sent before it. R12.2: by content; a pending
            // change of ours with that number and other content was written
            // by another copy of this client id and stays.
            if change.server_seq.is_some() && change.client_id == self.client_id {
                let mine = self
                    .outbox
                    .iter()
                    .find(|c| c.client_seq == change.client_seq);
                if mine.is_none_or(|m| super::server::same_change(m, change)) {
                    self.ack(change.client_seq);
                }
            }
        }
        report
    }

    /// R6.4, R6.5, R12.2: a page applies only at the cursor, consecutive,
    /// with a head not behind it; the first pull without a cursor is an
    /// initial hydration round until a page reaches the head.
    pub fn apply_page(&mut self, page: &ModelPage) -> Result<ModelReport, &'static str> {
        // R12.7: a page of another log than the one followed, first.
        if self.log.is_some() && page.log != self.log {
            return Err("other_log");
        }
        let cursor = self.cursor.unwrap_or(0);
        if page.after != cursor {
            return Err("not_at_cursor");
        }
        // R12.6: position i of the page is server_seq after + i + 1, held
        // by a change or by a quarantined entry.
        let total = page.changes.len() + page.quarantined.len();
        let quarantined: std::collections::BTreeSet<u64> =
            page.quarantined.iter().map(|(seq, _)| *seq).collect();
        let mut changes = page.changes.iter();
        for i in 0..total as u64 {
            let seq = page.after + 1 + i;
            if quarantined.contains(&seq) {
                continue;
            }
            if changes.next().and_then(|c| c.server_seq) != Some(seq) {
                return Err("not_consecutive");
            }
        }
        let last = page.after + total as u64;
        if page.head < last {
            return Err("head_behind");
        }
        if self.cursor.is_none() {
            self.hydrating = true;
        }
        let mut report = self.apply(&page.changes, self.hydrating);
        report.quarantined = page.quarantined.iter().map(|(_, q)| q.clone()).collect();
        self.cursor = Some(last);
        if self.log.is_none() {
            self.log = page.log.clone();
        }
        if last >= page.head {
            self.hydrating = false;
        }
        Ok(report)
    }

    /// R4.5, R6.6: state-based merge of another replica's records.
    pub fn merge(&mut self, other: &ModelReplica) -> ModelReport {
        let mut report = ModelReport::default();
        for (key, record) in &other.records {
            // R4.5: the other replica's pending writes are not merged.
            let writes: Vec<(String, ModelRegister)> = record
                .fields
                .iter()
                .filter(|(n, r)| {
                    !(r.by == other.client_id
                        && other.outbox.iter().any(|c| {
                            c.table == key.0
                                && c.id == key.1
                                && c.writes.get(*n).is_some_and(|w| w.at == r.at)
                        }))
                })
                .map(|(n, r)| (n.clone(), r.clone()))
                .collect();
            if writes.is_empty() {
                continue;
            }
            for (_, r) in &writes {
                self.seen = self.seen.max(r.at);
            }
            merge_into(
                &mut self.records,
                key,
                &writes,
                false,
                Some((&self.client_id, &self.outbox)),
                &mut report,
            );
        }
        report
    }

    /// R12.1: what the server has acknowledged leaves the outbox.
    pub fn ack(&mut self, through: Option<u64>) {
        if let Some(through) = through {
            // R12.4: acknowledged changes are in the log, so their stamps
            // count as received and floor later clock corrections.
            for change in &self.outbox {
                if matches!(change.client_seq, Some(s) if s <= through) {
                    for reg in change.writes.values() {
                        self.seen = self.seen.max(reg.at);
                    }
                }
            }
            self.outbox
                .retain(|c| matches!(c.client_seq, Some(s) if s > through));
        }
    }

    pub fn reset_cursor(&mut self) {
        self.cursor = None;
        self.log = None;
        self.hydrating = false;
    }

    /// R12.4: learns the offset and restamps the pending changes the
    /// server refuses (stamped after `server_now + skew`), oldest first.
    pub fn correct_clock(
        &mut self,
        server_now: i64,
        skew_ms_max: i64,
        log_high: i64,
        epoch: u64,
        now: i64,
    ) -> Result<(), &'static str> {
        // R12.4: a correction no newer than the last one is old news.
        if epoch <= self.epoch {
            return Ok(());
        }
        let mut next = self.clone();
        next.offset_ms = server_now - now;
        next.epoch = epoch;
        // R12.4: walking the outbox as the server walks a push (R12.3), a
        // change past the limit is restamped, and so is every later change
        // of a record already restamped; the others keep their stamps.
        let placeholder = |c: &ModelChange| c.writes.values().any(|r| r.by == "system:bootstrap");
        let wall = now.saturating_add(next.offset_ms).clamp(0, LAST_MS);
        // Per record being restamped: the floor of its next restamp.
        let mut floors: Vec<((String, String), i64)> = Vec::new();
        // (record, field, old version, restamped register) of every restamp.
        let mut renamed: Vec<Renamed> = Vec::new();
        let mut high = log_high;
        for i in 0..next.outbox.len() {
            let key = (next.outbox[i].table.clone(), next.outbox[i].id.clone());
            let stamp = next.outbox[i].writes.values().map(|r| r.at).max();
            let limit = server_now
                .saturating_add(skew_ms_max)
                .clamp(0, LAST_MS)
                .max((high + 1).min(LAST_MS));
            let cascade = floors.iter().any(|(k, _)| *k == key);
            let refused = stamp.is_some_and(|at| at > limit);
            if placeholder(&next.outbox[i]) || !(cascade || refused) {
                high = high.max(stamp.unwrap_or(0));
                continue;
            }
            if !cascade {
                // Floored by the record's registers this correction does not
                // replace: the versions of its changes from this one on.
                let replaced: Vec<(String, i64)> = next.outbox[i..]
                    .iter()
                    .filter(|c| c.table == key.0 && c.id == key.1 && !placeholder(c))
                    .flat_map(|c| c.writes.iter().map(|(n, r)| (n.clone(), r.at)))
                    .collect();
                let floor = next.records.get(&key).map_or(0, |record| {
                    record
                        .fields
                        .iter()
                        .filter(|(n, r)| {
                            r.by != next.client_id
                                || !replaced.iter().any(|(f, at)| f == *n && *at == r.at)
                        })
                        .map(|(_, r)| r.at)
                        .max()
                        .unwrap_or(0)
                });
                floors.push((key.clone(), floor));
            }
            let names: Vec<String> = next.outbox[i].writes.keys().cloned().collect();
            // Rebase first: a restamp beats the version it overwrote.
            let mut bases = 0;
            for name in &names {
                let reg = next.outbox[i]
                    .writes
                    .get_mut(name)
                    .expect("a name of the change");
                if let ModelBase::Saw(b_at, b_by) = &reg.base {
                    let earlier = renamed.iter().find(|(k, f, o, _)| {
                        *k == key && f == name && o.0 == *b_at && o.1 == *b_by
                    });
                    if let Some((_, _, _, new)) = earlier {
                        reg.base = ModelBase::Saw(new.at, new.by.clone());
                    }
                }
                if let ModelBase::Saw(b_at, _) = &reg.base {
                    bases = bases.max(*b_at);
                }
            }
            let floor = floors
                .iter()
                .find(|(k, _)| *k == key)
                .map_or(0, |(_, f)| *f);
            let below = next.seen.max(floor).max(bases);
            if below >= LAST_MS {
                return Err("clock_exhausted");
            }
            let at = wall.max(below + 1);
            if let Some(f) = floors.iter_mut().find(|(k, _)| *k == key) {
                f.1 = at;
            }
            high = high.max(at);
            for name in names {
                let reg = next.outbox[i]
                    .writes
                    .get_mut(&name)
                    .expect("a name of the change");
                let old = (reg.at, reg.by.clone());
                reg.at = at;
                renamed.push((key.clone(), name, old, reg.clone()));
            }
        }
        // Registers still holding a refused version take the new one.
        for (key, name, old, new) in &renamed {
            if let Some(record) = next.records.get_mut(key) {
                let holds_old = record
                    .fields
                    .get(name)
                    .is_some_and(|r| r.at == old.0 && r.by == old.1);
                if holds_old {
                    record.fields.insert(name.clone(), new.clone());
                }
                record.shadow = last_change(record);
            }
        }
        // R12.4: `stamped` is the greatest stamp of its own it still holds.
        let own = next
            .records
            .values()
            .flat_map(|r| r.fields.values())
            .filter(|r| r.by == next.client_id)
            .map(|r| r.at);
        let pending = next
            .outbox
            .iter()
            .flat_map(|c| c.writes.values().map(|r| r.at));
        next.stamped = own.chain(pending).max().unwrap_or(0);
        *self = next;
        Ok(())
    }

    /// R12.5: the persisted state, in the `ReplicaState` JSON form.
    pub fn state_json(&self) -> Value {
        let mut state = json!({
            "client_id": self.client_id,
            "records": self.records.iter().map(|(k, r)| super::record_json(k, r)).collect::<Vec<_>>(),
            "outbox": self.outbox.iter().map(super::change_json).collect::<Vec<_>>(),
            "next_seq": self.next_seq,
            "cursor": self.cursor,
            "hydrating": self.hydrating,
            "clock": if self.epoch == 0 {
                json!({"seen": super::spell(self.seen), "stamped": super::spell(self.stamped), "offset_ms": self.offset_ms})
            } else {
                json!({"seen": super::spell(self.seen), "stamped": super::spell(self.stamped), "offset_ms": self.offset_ms, "epoch": self.epoch})
            },
        });
        // R12.7: `log` exactly when the replica follows a named log.
        if let (Some(log), Value::Object(m)) = (&self.log, &mut state) {
            m.insert("log".into(), json!(log));
        }
        state
    }
}

/// R10.1: every field at the genesis, origin `system`, by the bootstrap
/// writer, a first write.
pub fn bootstrap_registers(
    fields: &Map<String, Value>,
) -> std::collections::BTreeMap<String, ModelRegister> {
    fields
        .iter()
        .map(|(name, v)| {
            (
                name.clone(),
                ModelRegister {
                    value: v.clone(),
                    at: 0,
                    by: BOOTSTRAP.to_owned(),
                    origin: Origin::System,
                    base: ModelBase::First,
                },
            )
        })
        .collect()
}

/// R1.3: a record key's names.
pub fn check_key(key: &(String, String)) -> Result<(), &'static str> {
    if name_ok(&key.0) && name_ok(&key.1) {
        Ok(())
    } else {
        Err("bad_name")
    }
}

/// R5.5: the checks of a write or bootstrap that may not set the tombstone,
/// in the spec's order.
pub fn check_patch(
    key: &(String, String),
    writer: &str,
    patch: &Map<String, Value>,
) -> Result<(), &'static str> {
    check_key(key)?;
    if !name_ok(writer) {
        return Err("bad_name");
    }
    if patch.len() > 1024 {
        return Err("too_many_fields");
    }
    for (name, v) in patch {
        if name == TOMBSTONE {
            return Err("reserved_field");
        }
        check_field(name, v)?;
    }
    Ok(())
}

/// R5.5: a field a write may set (the tombstone is checked by the caller).
pub fn check_field(name: &str, v: &Value) -> Result<(), &'static str> {
    if !name_ok(name) {
        return Err("bad_name");
    }
    if local_only(name) {
        return Err("reserved_field");
    }
    if depth(v) > 128 {
        return Err("too_deep");
    }
    Ok(())
}
