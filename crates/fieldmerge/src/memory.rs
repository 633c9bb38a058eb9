//! The in-memory server: the log, the materialized state and the client
//! table in maps, over the pure server side of `server.rs`. The default
//! store, which the simulator, the vectors, the fuzz targets and the
//! benches run; a server over its own database calls the same functions
//! (SPEC R12, PROTOCOL.md).

use std::collections::BTreeMap;
use std::convert::Infallible;

use serde_json::{Map, Value};

use crate::change::Change;
use crate::classify::Delivery;
use crate::error::ErrorBody;
use crate::error::{ConfigError, LogError, PushError, WriteError};
use crate::ext::Ext;
use crate::merge::merge_writes;
use crate::origin::Actor;
use crate::protocol::{Page, Push, PushReply};
use crate::quarantine::Quarantined;
use crate::record::{Record, RecordKey};
use crate::records::Records;
use crate::register::WriterId;
use crate::report::ApplyReport;
use crate::server::{
    decide_push, plan_bootstrap, plan_write, ClientRow, LogHead, PushOutcome, PushPlan, Read,
    ServerConfig, WritePlan,
};
use crate::timestamp::Timestamp;

/// The server: an append-only log, its materialized state and the client
/// table, in memory.
#[derive(Clone, PartialEq, Debug)]
pub struct Server {
    config: ServerConfig,
    // The log's changes and its entries that are not changes (SPEC
    // R12.6), each in `server_seq` order; together they are `1..=head`.
    log: Vec<Change>,
    quarantined: Vec<Quarantined>,
    state: BTreeMap<RecordKey, Record>,
    // The greatest `at` in the log: the server's own logical clock.
    high: Timestamp,
    // Per client: the dedup key and the clock epoch (SPEC R12.1, R12.4).
    clients: BTreeMap<WriterId, ClientRow>,
    // Per client, the log index of each change it pushed: entry `s - 1` for
    // `client_seq` `s` (sequence numbers start at 1 and have no gaps), so a
    // retried change can be compared with the one the log holds (R12.1).
    pushed: BTreeMap<WriterId, Vec<usize>>,
    // The log's name, which every page carries (SPEC R12.7).
    name: Option<String>,
}

impl Server {
    /// An empty server, of an unnamed log.
    pub fn new(config: ServerConfig) -> Server {
        Server {
            config,
            log: Vec::new(),
            quarantined: Vec::new(),
            state: BTreeMap::new(),
            high: Timestamp::GENESIS,
            clients: BTreeMap::new(),
            pushed: BTreeMap::new(),
            name: None,
        }
    }

    /// The server, its log named `name` (SPEC R12.7): every page it cuts
    /// carries the name, so a replica that follows this log refuses a page
    /// of another (a failover to a server whose log numbers the changes
    /// differently). A name is chosen once, when the log is created (a
    /// random id, say), and kept with the log: a server rebuilt from its
    /// log ([`Server::from_log`]) takes it again.
    ///
    /// # Errors
    /// [`ConfigError::BadLogName`] for a name that is not 1 to 256 bytes.
    pub fn with_log_name(mut self, name: &str) -> Result<Server, ConfigError> {
        if crate::change::check_name(name, "log").is_err() {
            return Err(ConfigError::BadLogName { length: name.len() });
        }
        self.name = Some(name.to_owned());
        Ok(self)
    }

    /// The log's name, when it has one (SPEC R12.7).
    pub fn log_name(&self) -> Option<&str> {
        self.name.as_deref()
    }

    /// Rebuilds a server from what it stored (PROTOCOL.md P2): its log, in
    /// order, and its client table. The materialized state, the high stamp
    /// and the dedup index are derived from the log; the clock epochs come
    /// from the client table, which the log does not hold (a refusal
    /// appends nothing). A restarted server answers every push exactly as
    /// the one that stored these parts.
    ///
    /// # Errors
    /// [`LogError`] for a log whose server sequence numbers are not
    /// `1, 2, ...`, whose pushed changes of one client do not have
    /// consecutive `client_seq` from 1, or a client row whose `last_seq`
    /// disagrees with the log.
    pub fn from_log(
        config: ServerConfig,
        log: Vec<Change>,
        clients: impl IntoIterator<Item = (WriterId, ClientRow)>,
    ) -> Result<Server, LogError> {
        Server::from_log_quarantined(config, log, Vec::new(), clients)
    }

    /// [`Server::from_log`] of a log that also holds entries that are not
    /// changes (SPEC R12.6): each keeps its `server_seq`, and the changes
    /// and the quarantined entries together number `1, 2, ...`.
    ///
    /// # Errors
    /// As [`Server::from_log`]; a quarantined entry whose `server_seq` is
    /// not the next is `NotConsecutive` at its place.
    pub fn from_log_quarantined(
        config: ServerConfig,
        log: Vec<Change>,
        quarantined: Vec<Quarantined>,
        clients: impl IntoIterator<Item = (WriterId, ClientRow)>,
    ) -> Result<Server, LogError> {
        let mut server = Server::new(config);
        let mut quarantined = quarantined.into_iter().peekable();
        let mut expected = 1;
        for (index, change) in log.into_iter().enumerate() {
            while let Some(q) = quarantined.next_if(|q| Some(q.server_seq) < change.server_seq()) {
                if q.server_seq != expected {
                    return Err(LogError::NotConsecutive {
                        index: index + server.quarantined.len(),
                        expected,
                        found: Some(q.server_seq),
                    });
                }
                server.quarantined.push(q);
                expected += 1;
            }
            let index = index + server.quarantined.len();
            if change.server_seq() != Some(expected) {
                return Err(LogError::NotConsecutive {
                    index,
                    expected,
                    found: change.server_seq(),
                });
            }
            if let Some(seq) = change.client_seq() {
                let row = server
                    .clients
                    .entry(change.client_id().clone())
                    .or_default();
                if seq != row.last_seq + 1 {
                    return Err(LogError::SeqOrder {
                        index,
                        client_id: change.client_id().to_string(),
                        expected: row.last_seq + 1,
                        found: seq,
                    });
                }
                row.last_seq = seq;
            }
            let mut report = ApplyReport::default();
            merge_writes(
                &mut server.state,
                change.key(),
                change.writes(),
                Delivery::Live,
                None,
                &mut report,
            );
            server.note_appended(change);
            expected += 1;
        }
        for q in quarantined {
            if q.server_seq != expected {
                return Err(LogError::NotConsecutive {
                    index: server.log.len() + server.quarantined.len(),
                    expected,
                    found: Some(q.server_seq),
                });
            }
            server.quarantined.push(q);
            expected += 1;
        }
        for (client_id, row) in clients {
            let logged = server.clients.get(&client_id).map_or(0, |r| r.last_seq);
            if row.last_seq != logged {
                return Err(LogError::ClientRow {
                    client_id: client_id.to_string(),
                    stored: row.last_seq,
                    logged,
                });
            }
            server.clients.insert(client_id, row);
        }
        Ok(server)
    }

    /// The configuration.
    pub fn config(&self) -> ServerConfig {
        self.config
    }

    /// The log's changes, in order. Without quarantined entries, entry
    /// `i` has server sequence number `i + 1`.
    pub fn log(&self) -> &[Change] {
        &self.log
    }

    /// The log's entries that are not changes, in order (SPEC R12.6).
    pub fn quarantined(&self) -> &[Quarantined] {
        &self.quarantined
    }

    /// The server sequence number of the last entry (0 for an empty log).
    pub fn head(&self) -> u64 {
        (self.log.len() + self.quarantined.len()) as u64
    }

    /// Appends an entry that another service wrote straight into the log
    /// (SPEC R12.6) and that is not a valid change: it takes the next
    /// `server_seq`, is served in pages as it is, and is never merged.
    /// An entry that is a valid change is not appended (`None`): a change
    /// reaches the log through a push or a server-side write, which check
    /// and stamp it. Nor is one that no JSON text of R4.4 holds (a number
    /// that would round, nesting deeper than 128 levels); the rest is kept
    /// in canonical representation, so a page serves it as any replica
    /// reads it back.
    pub fn append_quarantined(&mut self, entry: Value) -> Option<&Quarantined> {
        let entry = crate::json::canonical_value(&entry).ok()?;
        // Its error names its place in the log, as reading the log's JSON
        // form does (`decode_log`): entry `server_seq - 1`.
        let index = usize::try_from(self.head()).unwrap_or(usize::MAX);
        let error = Change::from_wire(&entry, index).err()?;
        self.quarantined.push(Quarantined {
            server_seq: self.head() + 1,
            error: ErrorBody::from(&error),
            entry,
        });
        self.quarantined.last()
    }

    /// The log's head and the greatest `at` it holds.
    pub fn log_head(&self) -> LogHead {
        LogHead {
            head: self.head(),
            high: self.high,
        }
    }

    /// Every record of the materialized state (the log merged with
    /// field-LWW), in key order.
    pub fn records(&self) -> Records<'_> {
        Records::new(&self.state)
    }

    /// The record at `key` in the materialized state.
    pub fn record(&self, key: &RecordKey) -> Option<&Record> {
        self.state.get(key)
    }

    /// The client table: every client the server appended from or refused,
    /// with its row, in id order (what [`Server::from_log`] needs besides
    /// the log).
    pub fn clients(&self) -> impl Iterator<Item = (&WriterId, ClientRow)> + '_ {
        self.clients.iter().map(|(id, row)| (id, *row))
    }

    /// The row of `client`: the default for a client never heard of.
    pub fn client(&self, client: &WriterId) -> ClientRow {
        self.clients.get(client).copied().unwrap_or_default()
    }

    /// The clock epoch the server requires of `client`'s pushes (SPEC
    /// R12.4): 0 until it refuses one as `clock_ahead`.
    pub fn clock_epoch(&self, client: &WriterId) -> u64 {
        self.client(client).clock_epoch
    }

    /// The highest `client_seq` appended from `client`.
    pub fn last_seq(&self, client: &WriterId) -> Option<u64> {
        Some(self.client(client).last_seq).filter(|&s| s > 0)
    }

    /// Accepts a push at server time `now` (SPEC R12.1, R12.3): validates the
    /// whole push first, skips changes already appended (retries, by client
    /// id and client sequence), appends the rest with the next server
    /// sequence numbers, merges them into the materialized state, and
    /// replies with the acknowledgement and a page after the push's cursor.
    /// The decision is [`plan_push`](crate::plan_push)'s.
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
        let pushed = self.pushed.get(&push.client_id);
        let log = &self.log;
        let logged = |seq: u64| {
            let index = usize::try_from(seq.checked_sub(1)?).ok()?;
            log.get(*pushed?.get(index)?)
        };
        let state = &self.state;
        let record = |key: &RecordKey| Ok::<_, Infallible>(state.get(key));
        let read = Read {
            log: self.log_head(),
            client: self.client(&push.client_id),
            logged,
            record,
        };
        let Ok(outcome) = decide_push(&self.config, read, push, now);
        match outcome {
            PushOutcome::Accepted(plan) => {
                let appended = plan.append.len();
                let acked_through = plan.acked_through;
                let report = self.store_push(&push.client_id, plan);
                Ok(PushReply {
                    acked_through,
                    appended,
                    page: self.pull(push.cursor, self.config.page_size_max()),
                    report,
                })
            }
            PushOutcome::Refused(refusal) => {
                if let Some(row) = refusal.client {
                    self.clients.insert(push.client_id.clone(), row);
                }
                Err(refusal.error)
            }
        }
    }

    /// One page of the log after `cursor`, at most `limit` changes (and at
    /// most [`ServerConfig::page_size_max`]), and at least one when the log
    /// holds one after the cursor: a `limit` of 0 counts as 1, so a pull
    /// always moves a cursor that is behind the head (SPEC R12.2). A cursor beyond
    /// the head gives an empty page at that cursor, which a replica refuses.
    #[must_use]
    pub fn pull(&self, cursor: u64, limit: usize) -> Page {
        let limit = limit.clamp(1, self.config.page_size_max());
        let last = cursor.saturating_add(limit as u64).min(self.head());
        // The entries numbered `cursor + 1 ..= last`, in both lists.
        let within = |seq: Option<u64>| seq.is_some_and(|seq| cursor < seq && seq <= last);
        let from = self.log.partition_point(|c| c.server_seq() <= Some(cursor));
        let changes = self.log[from..]
            .iter()
            .take_while(|c| within(c.server_seq()))
            .cloned()
            .collect();
        let from = self.quarantined.partition_point(|q| q.server_seq <= cursor);
        let quarantined = self.quarantined[from..]
            .iter()
            .take_while(|q| within(Some(q.server_seq)))
            .map(|q| {
                // In a page, an entry's error is the one a replica reading
                // the page finds: it names the entry's place in the page.
                let index = usize::try_from(q.server_seq - cursor - 1).unwrap_or(usize::MAX);
                let error = Change::from_wire(&q.entry, index)
                    .err()
                    .map_or_else(|| q.error.clone(), |e| ErrorBody::from(&e));
                Quarantined {
                    server_seq: q.server_seq,
                    error,
                    entry: q.entry.clone(),
                }
            })
            .collect();
        Page {
            after: cursor,
            changes,
            head: self.head(),
            quarantined,
            log: self.name.clone(),
        }
    }

    /// A write straight into the log, as the AI agent and server-side jobs
    /// make them (SPEC R12.4): stamped `max(now, greatest at in the log + 1)`
    /// with the actor's origin, `by = writer`, and as base the version the
    /// materialized state holds, since the writer read it. Only changed
    /// fields are stamped; `None` for a no-op. The decision is
    /// [`plan_write`](crate::plan_write)'s.
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
        self.write_with(writer, actor, key, patch, now, None)
    }

    /// [`Server::write`], the change carrying the extension slot `ext`
    /// (SPEC R11.8).
    ///
    /// # Errors
    /// As [`Server::write`].
    pub fn write_ext(
        &mut self,
        writer: &WriterId,
        actor: &Actor,
        key: &RecordKey,
        patch: &Map<String, Value>,
        now: Timestamp,
        ext: &Ext,
    ) -> Result<Option<Change>, WriteError> {
        self.write_with(writer, actor, key, patch, now, Some(ext))
    }

    fn write_with(
        &mut self,
        writer: &WriterId,
        actor: &Actor,
        key: &RecordKey,
        patch: &Map<String, Value>,
        now: Timestamp,
        ext: Option<&Ext>,
    ) -> Result<Option<Change>, WriteError> {
        let plan = plan_write(
            self.log_head(),
            self.state.get(key),
            writer,
            actor,
            key,
            patch,
            now,
        )?;
        // The slot is the caller's: planning never reads it (SPEC R11.8).
        Ok(plan.map(|mut plan| {
            plan.change = plan.change.with_ext(ext.cloned());
            self.store_write(plan)
        }))
    }

    /// The server-side bootstrap of a singleton (SPEC R10): appends its row,
    /// stamped at the genesis by [`SYSTEM_BOOTSTRAP`](crate::SYSTEM_BOOTSTRAP),
    /// unless the record already exists; idempotent, so it can run at
    /// sign-up and again at every boot.
    ///
    /// # Errors
    /// [`WriteError`] for bad names, reserved fields or values nested too deep.
    pub fn bootstrap(
        &mut self,
        key: &RecordKey,
        fields: &Map<String, Value>,
    ) -> Result<Option<Change>, WriteError> {
        let plan = plan_bootstrap(self.log_head(), self.state.get(key), key, fields)?;
        Ok(plan.map(|plan| self.store_write(plan)))
    }

    // Stores an accepted push's plan, as a caller's transaction would.
    fn store_push(&mut self, client_id: &WriterId, plan: PushPlan) -> ApplyReport {
        self.clients.insert(client_id.clone(), plan.client);
        self.state.extend(plan.records);
        for change in plan.append {
            self.note_appended(change);
        }
        debug_assert_eq!(self.log_head(), plan.log);
        plan.report
    }

    fn store_write(&mut self, plan: WritePlan) -> Change {
        self.state.insert(plan.change.key().clone(), plan.record);
        self.note_appended(plan.change.clone());
        debug_assert_eq!(self.log_head(), plan.log);
        plan.change
    }

    // Appends a change the log now holds: the high stamp and the dedup
    // index follow.
    fn note_appended(&mut self, change: Change) {
        if let Some(at) = change.max_at() {
            self.high = self.high.max(at);
        }
        if change.client_seq().is_some() {
            let index = self.log.len();
            self.pushed
                .entry(change.client_id().clone())
                .or_default()
                .push(index);
        }
        self.log.push(change);
    }
}
