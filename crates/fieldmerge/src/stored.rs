//! A replica whose records live in the caller's storage (SPEC R13.3): an
//! IndexedDB or SQLite client keeps every record in its own database and
//! hands the kernel only the records an operation touches.
//!
//! The kernel holds the replica's small parts (client id, clock, outbox,
//! sequence, cursor) and a working set of the records the caller provided.
//! Each operation names its read set; an operation whose read set the
//! caller did not provide is refused with `not_read` before anything
//! changes. The result names the records the operation changed, which are
//! exactly the ones to write back, in one transaction with [`StoredReplica::meta`].

use std::collections::BTreeSet;

use serde_json::{Map, Value};
use thiserror::Error;

use crate::change::Change;
use crate::error::{ClockCorrection, NotRead, PageError, StateError, WriteError};
use crate::ext::Ext;
use crate::origin::Actor;
use crate::protocol::{Page, Push, PushReply};
use crate::record::{Record, RecordKey};
use crate::replica::Replica;
use crate::report::ApplyReport;
use crate::state::ReplicaState;
use crate::timestamp::Timestamp;

/// A refused operation of a [`StoredReplica`]; the replica is unchanged.
#[derive(Clone, PartialEq, Debug, Error)]
#[non_exhaustive]
pub enum StoredError {
    /// The caller did not provide a record the operation reads.
    #[error(transparent)]
    NotRead(#[from] NotRead),
    /// The write was refused.
    #[error(transparent)]
    Write(#[from] WriteError),
    /// The page does not continue the cursor.
    #[error(transparent)]
    Page(#[from] PageError),
}

impl StoredError {
    /// The stable code of the underlying error.
    pub fn code(&self) -> &'static str {
        match self {
            StoredError::NotRead(e) => e.code(),
            StoredError::Write(e) => e.code(),
            StoredError::Page(e) => e.code(),
        }
    }
}

/// A replica over the caller's storage (SPEC R13.3).
///
/// # Example
/// ```
/// use fieldmerge::{Actor, RecordKey, Replica, ReplicaState, StoredReplica, WriterId, Timestamp};
/// use serde_json::json;
/// let now = Timestamp::parse("2026-04-26T10:00:00.000Z").unwrap();
/// // A new device: its stored parts, no records yet.
/// let meta = ReplicaState::of(&Replica::new(WriterId::new("phone")));
/// let mut phone = StoredReplica::open(&meta).unwrap();
/// let key = RecordKey::new("tasks", "t1");
/// let patch = json!({"title": "Buy milk"}).as_object().unwrap().clone();
/// // The write reads the record: the caller looked it up and found none.
/// assert_eq!(phone.write(&key, &Actor::User, &patch, now).unwrap_err().code(), "not_read");
/// phone.provide(key.clone(), None);
/// let change = phone.write(&key, &Actor::User, &patch, now).unwrap().unwrap();
/// // Store `phone.record(&key)` and `phone.meta()` in one transaction.
/// assert_eq!(phone.record(&key).unwrap().values()["title"], json!("Buy milk"));
/// assert_eq!(phone.meta().outbox.len(), 1);
/// # let _ = change;
/// ```
#[derive(Clone, PartialEq, Debug)]
pub struct StoredReplica {
    // The replica's parts, with the working set as its records: every
    // operation runs on the in-memory replica, whose read set the caller
    // has provided (checked first), so it means exactly what it means there.
    replica: Replica,
    // The keys the caller provided, present or known absent.
    read: BTreeSet<RecordKey>,
}

impl StoredReplica {
    /// Opens a replica from its stored parts (SPEC R12.5, R13.3): the
    /// state's records, if any, are the initial working set. The state must
    /// carry its clock, which a replica without all its records cannot
    /// derive.
    ///
    /// # Errors
    /// [`StateError`] as for [`ReplicaState::load`], and
    /// `state_inconsistent` for a state without a clock.
    pub fn open(state: &ReplicaState) -> Result<StoredReplica, StateError> {
        if state.clock.is_none() {
            return Err(StateError::Inconsistent {
                what: "a replica over the caller's storage needs its stored clock".into(),
            });
        }
        let replica = state.load()?;
        let read = replica.records().keys().cloned().collect();
        Ok(StoredReplica { replica, read })
    }

    /// The replica's stored parts without its records: what the caller
    /// stores with the changed records after each operation.
    #[must_use]
    pub fn meta(&self) -> ReplicaState {
        let mut state = ReplicaState::of(&self.replica);
        state.records = Vec::new();
        state
    }

    /// Provides the record at `key` as the caller's storage holds it
    /// (`None`: there is none). A record already in the working set is
    /// kept: the working set is newer than the caller's copy until the
    /// caller stored it.
    pub fn provide(&mut self, key: RecordKey, record: Option<Record>) {
        if self.read.insert(key.clone()) {
            if let Some(record) = record {
                self.replica.insert_record(key, record);
            }
        }
    }

    /// Forgets the working set (after the caller stored what changed).
    pub fn release(&mut self) {
        self.replica.clear_records();
        self.read.clear();
    }

    /// The record at `key` in the working set.
    pub fn record(&self, key: &RecordKey) -> Option<&Record> {
        self.replica.record(key)
    }

    /// The replica's client id.
    pub fn client_id(&self) -> &crate::register::WriterId {
        self.replica.client_id()
    }

    /// The replica's cursor.
    pub fn cursor(&self) -> Option<u64> {
        self.replica.cursor()
    }

    /// The pending changes.
    pub fn outbox(&self) -> &[Change] {
        self.replica.outbox()
    }

    /// The records applying `changes` (a batch or a page) reads, in key
    /// order.
    #[must_use]
    pub fn reads(changes: &[Change]) -> Vec<RecordKey> {
        let keys: BTreeSet<&RecordKey> = changes.iter().map(Change::key).collect();
        keys.into_iter().cloned().collect()
    }

    /// The records a clock correction reads: those of the pending changes.
    pub fn reads_for_correction(&self) -> Vec<RecordKey> {
        StoredReplica::reads(self.replica.outbox())
    }

    /// A local write (SPEC R5); reads `key`.
    ///
    /// # Errors
    /// [`StoredError::NotRead`], or the write's [`WriteError`].
    pub fn write(
        &mut self,
        key: &RecordKey,
        actor: &Actor,
        patch: &Map<String, Value>,
        now: Timestamp,
    ) -> Result<Option<Change>, StoredError> {
        self.check_read([key])?;
        Ok(self.replica.write(key, actor, patch, now)?)
    }

    /// A local write whose change carries the extension slot `ext` (SPEC
    /// R11.8); reads `key`.
    ///
    /// # Errors
    /// As [`StoredReplica::write`].
    pub fn write_ext(
        &mut self,
        key: &RecordKey,
        actor: &Actor,
        patch: &Map<String, Value>,
        now: Timestamp,
        ext: &Ext,
    ) -> Result<Option<Change>, StoredError> {
        self.check_read([key])?;
        Ok(self.replica.write_ext(key, actor, patch, now, ext)?)
    }

    /// A soft delete (SPEC R9.1); reads `key`.
    ///
    /// # Errors
    /// [`StoredError::NotRead`], or the delete's [`WriteError`].
    pub fn delete(
        &mut self,
        key: &RecordKey,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<Option<Change>, StoredError> {
        self.check_read([key])?;
        Ok(self.replica.delete(key, actor, now)?)
    }

    /// A soft delete whose change carries the extension slot `ext` (SPEC
    /// R11.8); reads `key`.
    ///
    /// # Errors
    /// As [`StoredReplica::delete`].
    pub fn delete_ext(
        &mut self,
        key: &RecordKey,
        actor: &Actor,
        now: Timestamp,
        ext: &Ext,
    ) -> Result<Option<Change>, StoredError> {
        self.check_read([key])?;
        Ok(self.replica.delete_ext(key, actor, now, ext)?)
    }

    /// A restore (SPEC R9.1); reads `key`.
    ///
    /// # Errors
    /// [`StoredError::NotRead`], or the restore's [`WriteError`].
    pub fn restore(
        &mut self,
        key: &RecordKey,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<Option<Change>, StoredError> {
        self.check_read([key])?;
        Ok(self.replica.restore(key, actor, now)?)
    }

    /// A restore whose change carries the extension slot `ext` (SPEC
    /// R11.8); reads `key`.
    ///
    /// # Errors
    /// As [`StoredReplica::restore`].
    pub fn restore_ext(
        &mut self,
        key: &RecordKey,
        actor: &Actor,
        now: Timestamp,
        ext: &Ext,
    ) -> Result<Option<Change>, StoredError> {
        self.check_read([key])?;
        Ok(self.replica.restore_ext(key, actor, now, ext)?)
    }

    /// A singleton's placeholder (SPEC R10); reads `key`.
    ///
    /// # Errors
    /// [`StoredError::NotRead`], or the bootstrap's [`WriteError`].
    pub fn bootstrap(
        &mut self,
        key: &RecordKey,
        fields: &Map<String, Value>,
    ) -> Result<Option<Change>, StoredError> {
        self.check_read([key])?;
        Ok(self.replica.bootstrap(key, fields)?)
    }

    /// Applies a pulled page (SPEC R6.5); reads [`StoredReplica::reads`] of
    /// its changes. The report's `changed` lists the records to store.
    ///
    /// # Errors
    /// [`StoredError::NotRead`] or [`StoredError::Page`].
    pub fn apply_page(&mut self, page: &Page) -> Result<ApplyReport, StoredError> {
        self.check_read(page.changes.iter().map(Change::key))?;
        Ok(self.replica.apply_page(page)?)
    }

    /// Receives the reply to a push in one call (SPEC R13.4); reads as
    /// [`StoredReplica::apply_page`] of its page.
    ///
    /// # Errors
    /// [`StoredError::NotRead`] or [`StoredError::Page`].
    pub fn receive_reply(&mut self, reply: &PushReply) -> Result<ApplyReport, StoredError> {
        self.check_read(reply.page.changes.iter().map(Change::key))?;
        Ok(self.replica.receive_reply(reply)?)
    }

    /// The push of every pending change (SPEC R12.1).
    pub fn push(&self) -> Push {
        self.replica.push()
    }

    /// Drops acknowledged changes from the outbox (SPEC R12.1).
    pub fn ack(&mut self, client_seq: Option<u64>) {
        self.replica.ack(client_seq);
    }

    /// Forgets the cursor (SPEC R6.4).
    pub fn reset_cursor(&mut self) {
        self.replica.reset_cursor();
    }

    /// The clock correction of SPEC R12.4; reads
    /// [`StoredReplica::reads_for_correction`]. Returns the records it
    /// restamped, the ones to store.
    ///
    /// # Errors
    /// [`StoredError::NotRead`], or [`WriteError::ClockExhausted`].
    pub fn correct_clock(
        &mut self,
        correction: &ClockCorrection,
        now: Timestamp,
    ) -> Result<Vec<RecordKey>, StoredError> {
        let keys = self.reads_for_correction();
        self.check_read(keys.iter())?;
        let before: Vec<Option<Record>> = keys
            .iter()
            .map(|k| self.replica.record(k).cloned())
            .collect();
        self.replica.correct_clock(correction, now)?;
        Ok(changed_since(&self.replica, keys, before))
    }

    /// Receives a push refusal in one call (SPEC R13.4); reads
    /// [`StoredReplica::reads_for_correction`] when the refusal corrects the
    /// clock. Returns the records it restamped, the ones to store.
    ///
    /// # Errors
    /// [`StoredError::NotRead`], or [`WriteError::ClockExhausted`].
    pub fn receive_refusal(
        &mut self,
        refusal: &crate::error::PushError,
        now: Timestamp,
    ) -> Result<Vec<RecordKey>, StoredError> {
        if refusal.clock_correction().is_none() {
            return Ok(Vec::new());
        }
        let keys = self.reads_for_correction();
        self.check_read(keys.iter())?;
        let before: Vec<Option<Record>> = keys
            .iter()
            .map(|k| self.replica.record(k).cloned())
            .collect();
        self.replica.receive_refusal(refusal, now)?;
        Ok(changed_since(&self.replica, keys, before))
    }

    fn check_read<'a>(&self, keys: impl IntoIterator<Item = &'a RecordKey>) -> Result<(), NotRead> {
        match keys.into_iter().find(|k| !self.read.contains(*k)) {
            Some(key) => Err(NotRead {
                table: key.table.clone(),
                id: key.id.clone(),
            }),
            None => Ok(()),
        }
    }
}

// The keys whose record differs from `before`, in order.
fn changed_since(
    replica: &Replica,
    keys: Vec<RecordKey>,
    before: Vec<Option<Record>>,
) -> Vec<RecordKey> {
    keys.into_iter()
        .zip(before)
        .filter(|(k, old)| replica.record(k) != old.as_ref())
        .map(|(k, _)| k)
        .collect()
}
