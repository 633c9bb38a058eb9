//! The server's pure side over the caller's storage (SPEC R12, PROTOCOL.md):
//! what a push, a server-side write and a bootstrap read, and what they
//! write back. Each is a pure function from what the caller read to a plan
//! the caller stores in one transaction; the kernel reads and writes
//! nothing itself. The in-memory [`Server`](crate::Server) is these
//! functions over maps.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::change::{Change, Op};
use crate::classify::Delivery;
use crate::error::{ConfigError, NotRead, PushError, WriteError};
use crate::merge::merge_writes;
use crate::origin::{Actor, SYSTEM_BOOTSTRAP};
use crate::patch::{bootstrap_writes, check_write, stamp_patch, Tombstone};
use crate::protocol::Push;
use crate::record::{Record, RecordKey, TOMBSTONE_FIELD};
use crate::register::WriterId;
use crate::report::ApplyReport;
use crate::skew::skew_limit;
use crate::timestamp::Timestamp;

/// The server's limits, valid by construction: a skew of at least 0 ms and
/// pages of at least one change ([`ServerConfig::new`]). Its JSON form is
/// `{skew_ms_max, page_size_max}`, checked the same way.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(try_from = "ConfigForm", into = "ConfigForm")]
pub struct ServerConfig {
    skew_ms_max: i64,
    page_size_max: usize,
}

impl ServerConfig {
    /// A configuration: how far ahead of the server's `now` a pushed `at`
    /// may be (SPEC R12.3), and the most changes one page carries (R12.2).
    ///
    /// # Errors
    /// [`ConfigError`] for a negative skew (it would refuse every push) or
    /// pages of no change (a pull would never move a cursor).
    pub const fn new(skew_ms_max: i64, page_size_max: usize) -> Result<ServerConfig, ConfigError> {
        if skew_ms_max < 0 {
            return Err(ConfigError::NegativeSkew { skew_ms_max });
        }
        if page_size_max == 0 {
            return Err(ConfigError::EmptyPages);
        }
        Ok(ServerConfig {
            skew_ms_max,
            page_size_max,
        })
    }

    /// How far ahead of the server's `now` a pushed `at` may be (SPEC R12.3).
    pub const fn skew_ms_max(&self) -> i64 {
        self.skew_ms_max
    }

    /// The most changes one page carries (SPEC R12.2).
    pub const fn page_size_max(&self) -> usize {
        self.page_size_max
    }
}

impl Default for ServerConfig {
    fn default() -> ServerConfig {
        ServerConfig {
            skew_ms_max: 60_000,
            page_size_max: 1000,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ConfigForm {
    skew_ms_max: i64,
    page_size_max: usize,
}

impl TryFrom<ConfigForm> for ServerConfig {
    type Error = ConfigError;
    fn try_from(f: ConfigForm) -> Result<ServerConfig, ConfigError> {
        ServerConfig::new(f.skew_ms_max, f.page_size_max)
    }
}

impl From<ServerConfig> for ConfigForm {
    fn from(c: ServerConfig) -> ConfigForm {
        ConfigForm {
            skew_ms_max: c.skew_ms_max,
            page_size_max: c.page_size_max,
        }
    }
}

/// What the server stores of the whole log beyond its changes (PROTOCOL.md
/// P2): its head and the greatest `at` it holds, the server's own logical
/// clock for server-side writes (SPEC R12.4).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogHead {
    /// The server sequence number of the last change (0 for an empty log).
    pub head: u64,
    /// The greatest `at` of any register in the log (the genesis when empty).
    pub high: Timestamp,
}

/// What the server stores per client (SPEC R12.1, R12.4; PROTOCOL.md P2):
/// the dedup key and the clock epoch its pushes must carry. A client the
/// server never heard of has the default row.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientRow {
    /// The last `client_seq` appended from the client; 0 for none.
    pub last_seq: u64,
    /// The clock epoch the client's pushes must carry: 0 until a push is
    /// refused as `clock_ahead`.
    pub clock_epoch: u64,
}

/// What a push reads from the server's storage (PROTOCOL.md P3), as
/// [`PushReads::of`] finds it: the pushing client's row, the changes the log
/// holds under the push's `(client_id, client_seq)` pairs (a retry is
/// compared with the logged change, SPEC R12.1), and every record the push
/// touches.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PushReads {
    /// The pushing client, whose row is read.
    pub client_id: WriterId,
    /// The `client_seq`s of the push: the caller reads the changes its log
    /// holds under these of this client (there may be none).
    pub client_seqs: Vec<u64>,
    /// The records the push touches, each read or known absent.
    pub records: Vec<RecordKey>,
}

impl PushReads {
    /// The read set of `push`.
    #[must_use]
    pub fn of(push: &Push) -> PushReads {
        let mut records: Vec<RecordKey> = push.changes.iter().map(|c| c.key().clone()).collect();
        records.sort();
        records.dedup();
        PushReads {
            client_id: push.client_id.clone(),
            client_seqs: push.changes.iter().filter_map(Change::client_seq).collect(),
            records,
        }
    }
}

/// What the caller read for a push, handed to [`plan_push`].
#[derive(Clone, PartialEq, Debug, Default)]
pub struct PushContext {
    /// The log's head and high stamp.
    pub log: LogHead,
    /// The pushing client's row (the default for an unknown client).
    pub client: ClientRow,
    /// The changes the log holds under the pushing client and the push's
    /// `client_seq`s, in any order.
    pub logged: Vec<Change>,
    /// The materialized records the push touches: every key of
    /// [`PushReads::records`], `None` where the record does not exist.
    pub records: BTreeMap<RecordKey, Option<Record>>,
}

/// What an accepted push writes, in one transaction (PROTOCOL.md P4).
#[derive(Clone, PartialEq, Debug)]
#[must_use = "a push plan is what the caller must store"]
pub struct PushPlan {
    /// The new changes to append, with their server sequence numbers.
    pub append: Vec<Change>,
    /// The new content of every record the new changes touched.
    pub records: Vec<(RecordKey, Record)>,
    /// The pushing client's new row.
    pub client: ClientRow,
    /// The log's new head and high stamp.
    pub log: LogHead,
    /// The last `client_seq` the log now holds for the client.
    pub acked_through: Option<u64>,
    /// What merging the new changes into the materialized state decided.
    pub report: ApplyReport,
}

/// A refused push (PROTOCOL.md P4): the error for the client, and the
/// client row to store when the refusal changes it (a `clock_ahead` refusal
/// raises the clock epoch, SPEC R12.4); nothing else changes.
#[derive(Clone, PartialEq, Debug)]
pub struct PushRefusal {
    /// Why the push was refused.
    pub error: PushError,
    /// The client's new row, when it must be stored.
    pub client: Option<ClientRow>,
}

/// What a server-side write or bootstrap writes (PROTOCOL.md P5): one change
/// to append and the record's new content.
#[derive(Clone, PartialEq, Debug)]
#[must_use = "a write plan is what the caller must store"]
pub struct WritePlan {
    /// The change to append, with its server sequence number.
    pub change: Change,
    /// The record's new materialized content.
    pub record: Record,
    /// The log's new head and high stamp.
    pub log: LogHead,
}

/// What the server decided on a push.
#[derive(Clone, PartialEq, Debug)]
#[must_use = "an accepted push must be stored, a refusal answered"]
pub enum PushOutcome {
    /// The push is accepted: store the plan, then answer with
    /// `acked_through` and a page after the push's cursor.
    Accepted(PushPlan),
    /// The push is refused: store the client row if it changed, answer
    /// with the error.
    Refused(PushRefusal),
}

/// The decision on a push (SPEC R12.1, R12.3, R12.4): a pure function of
/// the push, the server's time and configuration, and what the caller read
/// for it. Validates the whole push first, skips retries the log holds,
/// numbers the new changes after the head and merges them into the records.
///
/// # Errors
/// [`NotRead`] when `context.records` lacks a record a new change of an
/// otherwise valid push touches: the caller did not read what
/// [`PushReads::of`] asked for. A refusal of the push itself is
/// [`PushOutcome::Refused`].
pub fn plan_push(
    config: &ServerConfig,
    context: &PushContext,
    push: &Push,
    now: Timestamp,
) -> Result<PushOutcome, NotRead> {
    let logged = |seq: u64| {
        context
            .logged
            .iter()
            .find(|l| l.client_id() == &push.client_id && l.client_seq() == Some(seq))
    };
    let record = |key: &RecordKey| match context.records.get(key) {
        Some(record) => Ok(record.as_ref()),
        None => Err(NotRead {
            table: key.table.clone(),
            id: key.id.clone(),
        }),
    };
    let read = Read {
        log: context.log,
        client: context.client,
        logged,
        record,
    };
    decide_push(config, read, push, now)
}

/// How [`decide_push`] reads the server's storage: the caller's context, or
/// the in-memory server's maps (whose reads cannot fail: `E` is
/// [`std::convert::Infallible`]).
pub(crate) struct Read<L, R> {
    pub log: LogHead,
    pub client: ClientRow,
    pub logged: L,
    pub record: R,
}

/// The one decision on a push, whoever stores the server (SPEC R12.1).
pub(crate) fn decide_push<'a, E>(
    config: &ServerConfig,
    read: Read<
        impl Fn(u64) -> Option<&'a Change>,
        impl Fn(&RecordKey) -> Result<Option<&'a Record>, E>,
    >,
    push: &Push,
    now: Timestamp,
) -> Result<PushOutcome, E> {
    if let Err(error) = check_push(config, read.client, read.log.high, &read.logged, push, now) {
        let client = match &error {
            PushError::ClockAhead { clock_epoch, .. } => Some(ClientRow {
                clock_epoch: *clock_epoch,
                ..read.client
            }),
            _ => None,
        };
        return Ok(PushOutcome::Refused(PushRefusal { error, client }));
    }
    let last = read.client.last_seq;
    let mut log = read.log;
    let mut records: BTreeMap<RecordKey, Record> = BTreeMap::new();
    let mut report = ApplyReport::default();
    let mut append = Vec::new();
    for change in push
        .changes
        .iter()
        .filter(|c| c.client_seq().is_some_and(|s| s > last))
    {
        let key = change.key();
        if !records.contains_key(key) {
            let current = (read.record)(key)?;
            records.insert(key.clone(), current.cloned().unwrap_or_default());
        }
        log.head += 1;
        let change = change.clone().with_server_seq(log.head);
        if let Some(at) = change.max_at() {
            log.high = log.high.max(at);
        }
        merge_writes(
            &mut records,
            key,
            change.writes(),
            Delivery::Live,
            None,
            &mut report,
        );
        append.push(change);
    }
    report.settle_changed();
    let client = ClientRow {
        last_seq: append.last().and_then(Change::client_seq).unwrap_or(last),
        ..read.client
    };
    Ok(PushOutcome::Accepted(PushPlan {
        append,
        records: records.into_iter().collect(),
        client,
        log,
        acked_through: (client.last_seq > 0).then_some(client.last_seq),
        report,
    }))
}

// SPEC R12.1, R12.3, R12.4: the checks of a whole push, in order.
fn check_push<'a>(
    config: &ServerConfig,
    row: ClientRow,
    log_high: Timestamp,
    logged: &impl Fn(u64) -> Option<&'a Change>,
    push: &Push,
    now: Timestamp,
) -> Result<(), PushError> {
    let last = row.last_seq;
    let acked_through = (last > 0).then_some(last);
    if push.clock_epoch < row.clock_epoch {
        return Err(PushError::StaleClock {
            found: push.clock_epoch,
            required: row.clock_epoch,
            server_now: now,
            skew_ms_max: config.skew_ms_max,
            log_high,
            acked_through,
        });
    }
    let mut previous: Option<u64> = None;
    let mut first_new: Option<u64> = None;
    // SPEC R12.3: the log's high stamp as the push's new changes raise it.
    let mut high = log_high;
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
        // SPEC R12.1: sequence numbers start at 1, so only `1..=last` can be
        // a retry; a 0 is a new change that leaves a gap.
        if (1..=last).contains(&seq) {
            if !logged(seq).is_some_and(|l| l.same_content(change)) {
                return Err(PushError::SeqReused {
                    index,
                    client_seq: seq,
                });
            }
        } else {
            first_new.get_or_insert(seq);
            let limit = skew_limit(now, config.skew_ms_max, high);
            if let Some((field, reg)) = change.writes().find(|(_, reg)| reg.at > limit) {
                return Err(PushError::ClockAhead {
                    index,
                    field: field.to_owned(),
                    at: reg.at,
                    server_now: now,
                    skew_ms_max: config.skew_ms_max,
                    log_high,
                    acked_through,
                    clock_epoch: push.clock_epoch.saturating_add(1),
                });
            }
            high = high.max(change.max_at().unwrap_or_default());
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
    Ok(())
}

/// A write straight into the log by the agent or a server-side job (SPEC
/// R12.4): stamped `max(now, record_high + 1 ms)` (`now` is the server's
/// clock, the one that judges pushes) with the actor's origin, `by =
/// writer`, and as base the version `record` holds, since the writer read
/// it. Only changed fields are stamped; `None` for a no-op. `record` is the
/// materialized record at `key` (`None` when it does not exist).
///
/// # Errors
/// [`WriteError`] as for [`Replica::write`](crate::Replica::write), checked
/// in the same order (SPEC R5.5), except that the tombstone may be set.
pub fn plan_write(
    log: LogHead,
    record: Option<&Record>,
    writer: &WriterId,
    actor: &Actor,
    key: &RecordKey,
    patch: &Map<String, Value>,
    now: Timestamp,
) -> Result<Option<WritePlan>, WriteError> {
    // The writer's id names the change in the log, so it must be a wire
    // name like any client id (SPEC R11.6).
    check_write(key, ("writer", writer), patch, Tombstone::Allowed)?;
    // SPEC R12.4: stamped by the server's clock, floored by the record's
    // registers only, as a replica's write is (R2.2).
    // A record the server does not hold floors at the genesis, which
    // every real write beats (R10.1).
    let high = record
        .and_then(Record::derive_updated_at)
        .unwrap_or_default();
    let at = high.next().ok_or(WriteError::ClockExhausted)?.max(now);
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
    // SPEC R12.4: a server-side write is a delete exactly when it stamps a
    // non-null tombstone, whether or not the record existed.
    let op = match (record, sets_tombstone) {
        (_, true) => Op::Delete,
        (None, false) => Op::Insert,
        (Some(_), false) => Op::Update,
    };
    let change = Change::stamped(key.clone(), op, writes, writer.clone(), None);
    Ok(Some(append_one(log, record, change)))
}

/// The server-side bootstrap of a singleton (SPEC R10): its row, stamped at
/// the genesis by [`SYSTEM_BOOTSTRAP`], unless the record exists (`record`
/// is the materialized record at `key`) or `fields` is empty.
///
/// # Errors
/// [`WriteError`] as for a replica's bootstrap, checked in the same order.
pub fn plan_bootstrap(
    log: LogHead,
    record: Option<&Record>,
    key: &RecordKey,
    fields: &Map<String, Value>,
) -> Result<Option<WritePlan>, WriteError> {
    // A placeholder is a change like any other (SPEC R10.4, R11.2),
    // checked as a replica's bootstrap is; no record is born deleted.
    let by = WriterId::new(SYSTEM_BOOTSTRAP);
    check_write(key, ("writer", &by), fields, Tombstone::Refused)?;
    if record.is_some() || fields.is_empty() {
        return Ok(None);
    }
    let change = Change::stamped(key.clone(), Op::Insert, bootstrap_writes(fields), by, None);
    Ok(Some(append_one(log, record, change)))
}

fn append_one(mut log: LogHead, record: Option<&Record>, change: Change) -> WritePlan {
    log.head += 1;
    let change = change.with_server_seq(log.head);
    if let Some(at) = change.max_at() {
        log.high = log.high.max(at);
    }
    let mut records = BTreeMap::new();
    records.insert(change.key().clone(), record.cloned().unwrap_or_default());
    let mut report = ApplyReport::default();
    merge_writes(
        &mut records,
        change.key(),
        change.writes(),
        Delivery::Live,
        None,
        &mut report,
    );
    let record = records.into_values().next().unwrap_or_default();
    WritePlan {
        change,
        record,
        log,
    }
}
