//! The server's pure side: validate and deduplicate pushes, append to the
//! log, keep the materialized state, serve pages after a cursor, and write
//! agent and bootstrap changes straight into the log (SPEC R10, R12).

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use crate::change::{Change, Op};
use crate::classify::Delivery;
use crate::error::{PushError, WriteError};
use crate::merge::merge_writes;
use crate::origin::{Actor, SYSTEM_BOOTSTRAP};
use crate::patch::{bootstrap_writes, check_write, stamp_patch, Tombstone};
use crate::protocol::{Page, Push, PushReply};
use crate::record::{Record, RecordKey, TOMBSTONE_FIELD};
use crate::register::WriterId;
use crate::report::ApplyReport;
use crate::timestamp::Timestamp;

/// The server's limits.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ServerConfig {
    /// How far ahead of the server's `now` a pushed `at` may be (SPEC R12.3).
    pub skew_ms_max: i64,
    /// The most changes one page carries.
    pub page_size_max: usize,
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            skew_ms_max: 60_000,
            page_size_max: 1000,
        }
    }
}

/// The server: an append-only log and its materialized state.
#[derive(Clone, PartialEq, Debug)]
pub struct Server {
    config: ServerConfig,
    log: Vec<Change>,
    state: BTreeMap<RecordKey, Record>,
    // The last client_seq appended per client: the dedup key (SPEC R12.1).
    last_seq: BTreeMap<WriterId, u64>,
    // The greatest `at` in the log: the server's own logical clock.
    high: Timestamp,
    // Per client, the clock epoch its pushes must carry: one more than that
    // of its last push refused as `clock_ahead` (SPEC R12.4).
    clock_epoch: BTreeMap<WriterId, u64>,
    // Per client, the log index of each change it pushed: entry `s - 1` for
    // `client_seq` `s` (sequence numbers start at 1 and have no gaps), so a
    // retried change can be compared with the one the log holds (R12.1).
    pushed: BTreeMap<WriterId, Vec<usize>>,
}

impl Server {
    /// An empty server.
    pub fn new(config: ServerConfig) -> Server {
        Server {
            config,
            log: Vec::new(),
            state: BTreeMap::new(),
            last_seq: BTreeMap::new(),
            high: Timestamp::GENESIS,
            clock_epoch: BTreeMap::new(),
            pushed: BTreeMap::new(),
        }
    }

    /// The configuration.
    pub fn config(&self) -> ServerConfig {
        self.config
    }

    /// The whole log, in order; entry `i` has server sequence number `i + 1`.
    pub fn log(&self) -> &[Change] {
        &self.log
    }

    /// The server sequence number of the last change (0 for an empty log).
    pub fn head(&self) -> u64 {
        self.log.len() as u64
    }

    /// The materialized state: the log merged with field-LWW.
    pub fn records(&self) -> &BTreeMap<RecordKey, Record> {
        &self.state
    }

    /// The record at `key` in the materialized state.
    pub fn record(&self, key: &RecordKey) -> Option<&Record> {
        self.state.get(key)
    }

    /// The clock epoch the server requires of `client`'s pushes (SPEC
    /// R12.4): 0 until it refuses one as `clock_ahead`.
    pub fn clock_epoch(&self, client: &WriterId) -> u64 {
        self.clock_epoch.get(client).copied().unwrap_or(0)
    }

    /// The highest `client_seq` appended from `client`.
    pub fn last_seq(&self, client: &WriterId) -> Option<u64> {
        self.last_seq.get(client).copied()
    }

    /// Accepts a push at server time `now` (SPEC R12.1, R12.3): validates the
    /// whole push first, skips changes already appended (retries, by client
    /// id and client sequence), appends the rest with the next server
    /// sequence numbers, merges them into the materialized state, and
    /// replies with the acknowledgement and a page after the push's cursor.
    ///
    /// # Errors
    /// [`PushError`] for a push made before a clock correction the server
    /// demanded (`stale_clock`), a change of another client, a missing or
    /// non-consecutive `client_seq`, a gap after what the server has, or a
    /// stamp more than [`ServerConfig::skew_ms_max`] ahead of `now` (the
    /// error carries `now`, so the client can correct its clock). The log,
    /// the state and the dedup table are unchanged; a `clock_ahead` refusal
    /// raises the clock epoch the client's pushes must carry (SPEC R12.4).
    pub fn push(&mut self, push: &Push, now: Timestamp) -> Result<PushReply, PushError> {
        let result = self.try_push(push, now);
        if let Err(PushError::ClockAhead { clock_epoch, .. }) = &result {
            self.clock_epoch
                .insert(push.client_id.clone(), *clock_epoch);
        }
        result
    }

    fn try_push(&mut self, push: &Push, now: Timestamp) -> Result<PushReply, PushError> {
        let last = self.last_seq.get(&push.client_id).copied().unwrap_or(0);
        let required = self.clock_epoch(&push.client_id);
        if push.clock_epoch < required {
            return Err(PushError::StaleClock {
                found: push.clock_epoch,
                required,
                server_now: now,
                skew_ms_max: self.config.skew_ms_max,
                acked_through: self.last_seq.get(&push.client_id).copied(),
            });
        }
        let mut previous: Option<u64> = None;
        let mut first_new: Option<u64> = None;
        let limit = now.saturating_add_ms(self.config.skew_ms_max);
        for (index, change) in push.changes.iter().enumerate() {
            if change.client_id() != &push.client_id {
                return Err(PushError::ForeignChange {
                    index,
                    found: change.client_id().to_string(),
                });
            }
            let seq = change.client_seq().ok_or(PushError::MissingSeq { index })?;
            if let Some(prev) = previous {
                if prev.checked_add(1) != Some(seq) {
                    return Err(PushError::SeqOrder {
                        index,
                        previous: prev,
                        found: seq,
                    });
                }
            }
            previous = Some(seq);
            if seq <= last && !self.holds(change) {
                return Err(PushError::SeqReused {
                    index,
                    client_seq: seq,
                });
            }
            if seq > last {
                first_new.get_or_insert(seq);
                if let Some((field, reg)) = change.writes().find(|(_, reg)| reg.at > limit) {
                    return Err(PushError::ClockAhead {
                        index,
                        field: field.to_owned(),
                        at: reg.at,
                        server_now: now,
                        skew_ms_max: self.config.skew_ms_max,
                        acked_through: self.last_seq.get(&push.client_id).copied(),
                        clock_epoch: push.clock_epoch.saturating_add(1),
                    });
                }
            }
        }
        if let Some(found) = first_new {
            if found != last + 1 {
                return Err(PushError::Gap {
                    expected: last + 1,
                    found,
                });
            }
        }
        let mut report = ApplyReport::default();
        let mut appended = 0;
        for change in push
            .changes
            .iter()
            .filter(|c| c.client_seq().is_some_and(|s| s > last))
        {
            let index = self.log.len();
            report.extend(self.append(change.clone()));
            let pushed = self.pushed.entry(push.client_id.clone()).or_default();
            pushed.push(index);
            appended += 1;
        }
        if let Some(seq) = previous.filter(|&s| s > last) {
            self.last_seq.insert(push.client_id.clone(), seq);
        }
        Ok(PushReply {
            acked_through: self.last_seq.get(&push.client_id).copied(),
            appended,
            page: self.pull(push.cursor, self.config.page_size_max),
            report,
        })
    }

    /// One page of the log after `cursor`, at most `limit` changes (and at
    /// most [`ServerConfig::page_size_max`]) (SPEC R12.2). A cursor beyond
    /// the head gives an empty page at that cursor, which a replica refuses.
    pub fn pull(&self, cursor: u64, limit: usize) -> Page {
        let limit = limit.min(self.config.page_size_max);
        let start = usize::try_from(cursor)
            .unwrap_or(usize::MAX)
            .min(self.log.len());
        let end = start.saturating_add(limit).min(self.log.len());
        Page {
            after: cursor,
            changes: self.log[start..end].to_vec(),
            head: self.head(),
        }
    }

    /// A write straight into the log, as the AI agent and server-side jobs
    /// make them (SPEC R12.4): stamped `max(now, greatest at in the log + 1)`
    /// with the actor's origin, `by = writer`, and as base the version the
    /// materialized state holds, since the writer read it. Only changed
    /// fields are stamped; `None` for a no-op.
    ///
    /// # Errors
    /// [`WriteError`] as for [`Replica::write`](crate::Replica::write).
    pub fn write(
        &mut self,
        writer: &WriterId,
        actor: &Actor,
        key: &RecordKey,
        patch: &Map<String, Value>,
        now: Timestamp,
    ) -> Result<Option<Change>, WriteError> {
        // The writer's id names the change in the log, so it must be a wire
        // name like any client id (SPEC R11.6).
        check_write(key, ("writer", writer), patch, Tombstone::Allowed)?;
        let at = self.high.next().ok_or(WriteError::ClockExhausted)?.max(now);
        let record = self.state.get(key);
        let current = |name: &str| record.and_then(|r| r.field(name));
        let writes = stamp_patch(current, patch.iter(), at, writer, actor.origin());
        if writes.is_empty() {
            return Ok(None);
        }
        // SPEC R11.2: a delete sets the tombstone to a non-null value, so only
        // a write that stamps a non-null tombstone is a delete.
        let sets_tombstone = writes
            .iter()
            .any(|(name, reg)| &**name == TOMBSTONE_FIELD && !reg.value.is_null());
        let op = match (record, sets_tombstone) {
            (None, _) => Op::Insert,
            (Some(_), true) => Op::Delete,
            (Some(_), false) => Op::Update,
        };
        self.append(Change::stamped(
            key.clone(),
            op,
            writes,
            writer.clone(),
            None,
        ));
        Ok(self.log.last().cloned())
    }

    /// The server-side bootstrap of a singleton (SPEC R10): appends its row,
    /// stamped at the genesis by [`SYSTEM_BOOTSTRAP`], unless the record
    /// already exists; idempotent, so it can run at sign-up and again at every
    /// boot.
    ///
    /// # Errors
    /// [`WriteError`] for bad names, reserved fields or values nested too deep.
    pub fn bootstrap(
        &mut self,
        key: &RecordKey,
        fields: &Map<String, Value>,
    ) -> Result<Option<Change>, WriteError> {
        // A placeholder is a change like any other (SPEC R10.4, R11.2),
        // checked as a replica's bootstrap is; no record is born deleted.
        let by = WriterId::new(SYSTEM_BOOTSTRAP);
        check_write(key, ("writer", &by), fields, Tombstone::Refused)?;
        if self.state.contains_key(key) || fields.is_empty() {
            return Ok(None);
        }
        let writes = bootstrap_writes(fields);
        let change = Change::stamped(
            key.clone(),
            Op::Insert,
            writes,
            WriterId::new(SYSTEM_BOOTSTRAP),
            None,
        );
        self.append(change);
        Ok(self.log.last().cloned())
    }

    // Whether the log holds `change` (a retry) under its client and
    // sequence number, with the same content.
    fn holds(&self, change: &Change) -> bool {
        let logged = change.client_seq().and_then(|seq| {
            let index = usize::try_from(seq.checked_sub(1)?).ok()?;
            let at = *self.pushed.get(change.client_id())?.get(index)?;
            self.log.get(at)
        });
        logged.is_some_and(|logged| logged.same_content(change))
    }

    fn append(&mut self, change: Change) -> ApplyReport {
        let change = change.with_server_seq(self.head() + 1);
        if let Some(at) = change.max_at() {
            self.high = self.high.max(at);
        }
        let mut report = ApplyReport::default();
        merge_writes(
            &mut self.state,
            change.key(),
            change.writes(),
            Delivery::Live,
            None,
            &mut report,
        );
        self.log.push(change);
        report
    }
}
