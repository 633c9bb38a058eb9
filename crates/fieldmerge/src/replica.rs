//! A client replica: its records, its hybrid logical clock, its outbox and
//! its cursor into the server log (SPEC R2, R5, R6, R8, R9, R10, R12.4).

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::{Map, Value};

use crate::change::{Change, Op};
use crate::classify::Delivery;
use crate::error::{ClockCorrection, PageError, PushError, WriteError};
use crate::ext::Ext;
use crate::merge::{keys_missing, merge_into_record, merge_shared, Local, PendingIndex};
use crate::origin::{Actor, Origin};
use crate::patch::{bootstrap_writes, check_write, check_writer, stamp_patch, Tombstone};
use crate::protocol::{Page, Push, PushReply};
use crate::record::{Record, RecordKey, TOMBSTONE_FIELD};
use crate::records::Records;
use crate::register::{Base, WriterId};
use crate::report::ApplyReport;
use crate::timestamp::Timestamp;

/// A replica's clock in milliseconds (SPEC R2.2).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Clock {
    /// The greatest `at` this replica has received from anyone. It floors a
    /// clock correction's restamps (SPEC R12.4), never a write.
    pub seen: Timestamp,
    /// The greatest `at` this replica has stamped.
    pub stamped: Timestamp,
    /// The correction added to the caller's `now`, learnt from the server
    /// when it refused a push as too far ahead (SPEC R12.4).
    pub offset_ms: i64,
    /// How many clock corrections the server has demanded: every push
    /// carries it, and the server refuses a push older than its last
    /// demand (SPEC R12.4).
    pub epoch: u64,
}

impl Clock {
    /// The stamp of a local write at wall time `now` into a record whose
    /// greatest `at` is `record_high` (`None` for a record the replica does
    /// not hold, which floors at the genesis): `max(now + offset,
    /// record_high + 1 ms)` (SPEC R2.2). A write beats every register of the
    /// record it writes, and the genesis (R10.1), and nothing else floors
    /// it: a bulk write of many records in one millisecond stamps them all
    /// at that millisecond. `None` when the stamp would pass the last
    /// instant (R2.3).
    #[must_use]
    pub fn stamp(&self, now: Timestamp, record_high: Option<Timestamp>) -> Option<Timestamp> {
        let floor = record_high.unwrap_or_default().next()?;
        Some(now.saturating_add_ms(self.offset_ms).max(floor))
    }
}

/// A client replica. Plain data: every operation is a method that takes time
/// and identity as arguments and never reads a clock (SPEC R2, R12.5).
///
/// # Example
/// ```
/// use fieldmerge::{Actor, Push, RecordKey, Replica, Server, ServerConfig, Timestamp, WriterId};
/// use serde_json::json;
/// let t = |ms: i64| Timestamp::from_ms(1_777_197_600_000 + ms).unwrap();
/// let key = RecordKey::new("tasks", "t1");
/// let mut server = Server::new(ServerConfig::default());
/// let (mut phone, mut laptop) = (Replica::new(WriterId::new("phone")), Replica::new(WriterId::new("laptop")));
///
/// let patch = json!({"title": "Buy milk"}).as_object().unwrap().clone();
/// phone.write(&key, &Actor::User, &patch, t(0)).unwrap();
/// let reply = server.push(&phone.push(), t(1)).unwrap();
/// phone.ack(reply.acked_through);
///
/// let report = laptop.apply_page(&server.pull(0, 100)).unwrap();
/// assert!(report.conflicts.is_empty());
/// assert_eq!(laptop.record(&key).unwrap().values(), phone.record(&key).unwrap().values());
/// ```
#[derive(Clone, PartialEq, Debug)]
pub struct Replica {
    client_id: WriterId,
    records: BTreeMap<RecordKey, Record>,
    clock: Clock,
    outbox: Vec<Change>,
    next_seq: u64,
    cursor: Option<u64>,
    hydrating: bool,
    // The name of the log the cursor is into (SPEC R12.7).
    log: Option<String>,
}

impl Replica {
    /// An empty replica with the stable client id `client_id` (SPEC R12.5).
    pub fn new(client_id: WriterId) -> Replica {
        Replica {
            client_id,
            records: BTreeMap::new(),
            clock: Clock::default(),
            outbox: Vec::new(),
            next_seq: 1,
            cursor: None,
            log: None,
            hydrating: false,
        }
    }

    /// The replica's client id.
    pub fn client_id(&self) -> &WriterId {
        &self.client_id
    }

    /// The record at `key`, if the replica holds it.
    pub fn record(&self, key: &RecordKey) -> Option<&Record> {
        self.records.get(key)
    }

    /// Every record, in key order.
    pub fn records(&self) -> Records<'_> {
        Records::new(&self.records)
    }

    /// The clock.
    pub fn clock(&self) -> Clock {
        self.clock
    }

    /// The pending changes, oldest first, not yet acknowledged by the server.
    pub fn outbox(&self) -> &[Change] {
        &self.outbox
    }

    /// The `client_seq` the next local write will carry.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The server sequence number of the last change applied from the log;
    /// `None` before the first complete page.
    pub fn cursor(&self) -> Option<u64> {
        self.cursor
    }

    /// The name of the log the replica's cursor is into, learnt from the
    /// first page of a named log it applied (SPEC R12.7).
    #[must_use]
    pub fn log_name(&self) -> Option<&str> {
        self.log.as_deref()
    }

    /// Whether the replica is inside an initial hydration round (SPEC R6.4).
    pub fn is_hydrating(&self) -> bool {
        self.hydrating
    }

    /// A local write by `actor` at wall time `now` (SPEC R5): creates the
    /// record if it is new (stamping every field of `patch`), otherwise
    /// stamps only the fields whose value changes. All stamped fields share
    /// one `at`, which beats everything the replica has seen. Returns the
    /// pending change, or `None` for a no-op write, which stamps nothing.
    ///
    /// # Errors
    /// [`WriteError`] for bad names, reserved fields (the tombstone, the
    /// shadow index, the metadata map), values nested too deep, too many
    /// fields, or an exhausted clock. The replica is unchanged.
    pub fn write(
        &mut self,
        key: &RecordKey,
        actor: &Actor,
        patch: &Map<String, Value>,
        now: Timestamp,
    ) -> Result<Option<Change>, WriteError> {
        self.write_with(key, actor, patch, now, None)
    }

    /// [`Replica::write`], the change carrying the extension slot `ext`
    /// (SPEC R11.8), which no rule reads. A no-op write carries nothing.
    ///
    /// # Errors
    /// As [`Replica::write`].
    pub fn write_ext(
        &mut self,
        key: &RecordKey,
        actor: &Actor,
        patch: &Map<String, Value>,
        now: Timestamp,
        ext: &Ext,
    ) -> Result<Option<Change>, WriteError> {
        self.write_with(key, actor, patch, now, Some(ext))
    }

    fn write_with(
        &mut self,
        key: &RecordKey,
        actor: &Actor,
        patch: &Map<String, Value>,
        now: Timestamp,
        ext: Option<&Ext>,
    ) -> Result<Option<Change>, WriteError> {
        check_write(
            key,
            ("client_id", &self.client_id),
            patch,
            Tombstone::Refused,
        )?;
        // `stamp` makes it an insert when the record is new.
        self.stamp(key, Op::Update, actor.origin(), patch.iter(), now, ext)
    }

    /// Soft-deletes the record at `key` (SPEC R9.1): an LWW write of its
    /// tombstone with the write's timestamp. `None` when it is already deleted.
    ///
    /// # Errors
    /// [`WriteError::NoSuchRecord`] when the replica does not hold the record;
    /// [`WriteError::ClockExhausted`].
    pub fn delete(
        &mut self,
        key: &RecordKey,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<Option<Change>, WriteError> {
        self.delete_with(key, actor, now, None)
    }

    /// [`Replica::delete`], the change carrying the extension slot `ext`
    /// (SPEC R11.8).
    ///
    /// # Errors
    /// As [`Replica::delete`].
    pub fn delete_ext(
        &mut self,
        key: &RecordKey,
        actor: &Actor,
        now: Timestamp,
        ext: &Ext,
    ) -> Result<Option<Change>, WriteError> {
        self.delete_with(key, actor, now, Some(ext))
    }

    fn delete_with(
        &mut self,
        key: &RecordKey,
        actor: &Actor,
        now: Timestamp,
        ext: Option<&Ext>,
    ) -> Result<Option<Change>, WriteError> {
        let record = self.records.get(key).ok_or_else(|| no_such(key))?;
        if record.is_deleted() {
            return Ok(None);
        }
        // The tombstone's value is the delete's own stamp (SPEC R9.1).
        let at = self
            .clock
            .stamp(now, record_high(record))
            .ok_or(WriteError::ClockExhausted)?;
        let tombstone = (TOMBSTONE_FIELD.to_owned(), Value::from(at.to_string()));
        self.stamp(
            key,
            Op::Delete,
            actor.origin(),
            std::iter::once((&tombstone.0, &tombstone.1)),
            now,
            ext,
        )
    }

    /// Restores a soft-deleted record (SPEC R9.1): a later write of `null` to
    /// its tombstone. `None` when it is not deleted.
    ///
    /// # Errors
    /// [`WriteError::NoSuchRecord`]; [`WriteError::ClockExhausted`].
    pub fn restore(
        &mut self,
        key: &RecordKey,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<Option<Change>, WriteError> {
        self.restore_with(key, actor, now, None)
    }

    /// [`Replica::restore`], the change carrying the extension slot `ext`
    /// (SPEC R11.8).
    ///
    /// # Errors
    /// As [`Replica::restore`].
    pub fn restore_ext(
        &mut self,
        key: &RecordKey,
        actor: &Actor,
        now: Timestamp,
        ext: &Ext,
    ) -> Result<Option<Change>, WriteError> {
        self.restore_with(key, actor, now, Some(ext))
    }

    fn restore_with(
        &mut self,
        key: &RecordKey,
        actor: &Actor,
        now: Timestamp,
        ext: Option<&Ext>,
    ) -> Result<Option<Change>, WriteError> {
        let record = self.records.get(key).ok_or_else(|| no_such(key))?;
        if !record.is_deleted() {
            return Ok(None);
        }
        let restore = (TOMBSTONE_FIELD.to_owned(), Value::Null);
        self.stamp(
            key,
            Op::Update,
            actor.origin(),
            std::iter::once((&restore.0, &restore.1)),
            now,
            ext,
        )
    }

    /// Creates the client-side placeholder of a singleton (SPEC R10): every
    /// field of `fields` stamped at the genesis, origin `system`, writer
    /// [`SYSTEM_BOOTSTRAP`](crate::SYSTEM_BOOTSTRAP), exactly as the server's bootstrap row. A no-op
    /// (`None`) when the replica already holds the record. The placeholder is
    /// pushed like any write, which is harmless: it is identical to the
    /// server's row.
    ///
    /// # Errors
    /// [`WriteError`] for bad names, reserved fields (the tombstone among
    /// them), values nested too deep or too many fields, checked as for
    /// [`Replica::write`].
    pub fn bootstrap(
        &mut self,
        key: &RecordKey,
        fields: &Map<String, Value>,
    ) -> Result<Option<Change>, WriteError> {
        // A placeholder is a pending change like any write (SPEC R10.4,
        // R11.2), checked as one; no record is born deleted.
        check_write(
            key,
            ("client_id", &self.client_id),
            fields,
            Tombstone::Refused,
        )?;
        if self.records.contains_key(key) || fields.is_empty() {
            return Ok(None);
        }
        let writes = bootstrap_writes(fields);
        let mut record = Record::new();
        for (name, reg) in &writes {
            record.merge_register(name, reg, Delivery::Live);
        }
        self.records.insert(key.clone(), record);
        let change = Change::stamped(
            key.clone(),
            Op::Insert,
            writes,
            self.client_id.clone(),
            Some(self.next_seq),
        );
        self.next_seq += 1;
        self.outbox.push(change.clone());
        Ok(Some(change))
    }

    /// Op-based apply (SPEC R4.5, R6): merges every register of every change,
    /// in order, and reports what each rule decided. Cannot fail: a
    /// [`Change`] is valid by construction.
    pub fn apply(&mut self, changes: &[Change], delivery: Delivery) -> ApplyReport {
        let mut report = ApplyReport::default();
        // Built once per apply, and only if a legacy winner in hydration
        // asks (R6.4): m own pending writes cost O(m log m), not O(m) a field.
        let index = PendingIndex::default();
        let mut acked: Option<u64> = None;
        for change in changes {
            self.observe(change.max_at());
            let local = Local {
                me: &self.client_id,
                outbox: &self.outbox,
                index: &index,
            };
            merge_shared(
                &mut self.records,
                change.key(),
                change.writes_shared(),
                delivery,
                Some(local),
                &mut report,
            );
            if let Some(seq) = self.own_acknowledged(change) {
                // From here on the changes through `seq` are acknowledged
                // (R12.2): no longer pending for the rest of the batch.
                acked = acked.max(Some(seq));
                index.acknowledge_through(seq);
            }
        }
        self.ack(acked);
        report.settle_changed();
        report
    }

    /// Applies one page of the server log (SPEC R6.5): only a page that
    /// starts exactly at the replica's cursor and carries consecutive server
    /// sequence numbers is applied. The first pull of a replica without a
    /// cursor starts an initial hydration round, which lasts until a page
    /// reaches the head of the log.
    ///
    /// # Errors
    /// [`PageError`] for a page that does not continue the cursor; the
    /// replica is unchanged.
    pub fn apply_page(&mut self, page: &Page) -> Result<ApplyReport, PageError> {
        let last = self.check_page(page)?;
        if self.cursor.is_none() {
            self.hydrating = true;
        }
        let delivery = if self.hydrating {
            Delivery::Hydration
        } else {
            Delivery::Live
        };
        let mut report = self.apply(&page.changes, delivery);
        // Skipped, never applied, and handed to the caller (SPEC R12.6).
        report.quarantined.clone_from(&page.quarantined);
        self.cursor = Some(last);
        // SPEC R12.7: the cursor is now into the page's log.
        if self.log.is_none() {
            self.log.clone_from(&page.log);
        }
        if last >= page.head {
            self.hydrating = false;
        }
        Ok(report)
    }

    /// Receives the server's reply to this replica's push (SPEC R12.1,
    /// R13.1), in one call: acknowledges `acked_through` and applies the
    /// reply's page, or, when the page does not continue the cursor,
    /// changes nothing at all (neither the outbox nor the records).
    ///
    /// # Errors
    /// [`PageError`] as for [`Replica::apply_page`]; the replica is unchanged.
    pub fn receive_reply(&mut self, reply: &PushReply) -> Result<ApplyReport, PageError> {
        self.check_page(&reply.page)?;
        self.ack(reply.acked_through);
        self.apply_page(&reply.page)
    }

    /// Receives the server's refusal of this replica's push (SPEC R12.4,
    /// R13.4): for `clock_ahead` and `stale_clock`, corrects the clock
    /// ([`Replica::correct_clock`]). It acknowledges nothing: the refusal's
    /// `acked_through` is a number, and a copy of this client id restored
    /// from a backup holds other changes under the numbers the log holds;
    /// dropping them by number would lose them silently. The changes the
    /// log holds keep their stamps (they are below its high stamp) and are
    /// acknowledged by content when a page brings them (R12.2). Any other
    /// refusal changes nothing: it is the caller's to act on (a reused
    /// `client_seq` calls for a new client id, R12.5).
    ///
    /// # Errors
    /// [`WriteError::ClockExhausted`]; the replica is unchanged.
    ///
    /// # Example
    /// ```
    /// use fieldmerge::{Actor, PushError, RecordKey, Replica, Server, ServerConfig, Timestamp, WriterId};
    /// let t = |ms: i64| Timestamp::from_ms(1_777_197_600_000 + ms).unwrap();
    /// let mut phone = Replica::new(WriterId::new("phone"));
    /// let patch = serde_json::json!({"title": "x"}).as_object().cloned().unwrap();
    /// phone.write(&RecordKey::new("tasks", "t1"), &Actor::User, &patch, t(3_600_000)).unwrap();
    /// let mut server = Server::new(ServerConfig::default());
    /// let refusal = server.push(&phone.push(), t(0)).unwrap_err();
    /// // The refusal crosses the network as JSON (SPEC R13.1).
    /// let text = serde_json::to_string(&refusal).unwrap();
    /// let received: PushError = serde_json::from_str(&text).unwrap();
    /// phone.receive_refusal(&received, t(3_600_000)).unwrap();
    /// assert_eq!(server.push(&phone.push(), t(1)).unwrap().appended, 1);
    /// ```
    pub fn receive_refusal(
        &mut self,
        refusal: &PushError,
        now: Timestamp,
    ) -> Result<(), WriteError> {
        let Some(correction) = refusal.clock_correction() else {
            return Ok(());
        };
        self.correct_clock(&correction, now)
    }

    // SPEC R6.5: a page is applied only when it continues the cursor with
    // consecutive server sequence numbers and a head not behind them; the
    // sequence number of its last change.
    fn check_page(&self, page: &Page) -> Result<u64, PageError> {
        // SPEC R12.7: first, the page's log: another log's sequence numbers
        // mean other changes, so no other check would mean anything.
        if let Some(expected) = &self.log {
            if page.log.as_ref() != Some(expected) {
                return Err(PageError::OtherLog {
                    expected: expected.clone(),
                    found: page.log.clone(),
                });
            }
        }
        let expected = self.cursor.unwrap_or(0);
        if page.after != expected {
            return Err(PageError::NotAtCursor {
                expected,
                found: page.after,
            });
        }
        // Entry `i` of the page is the log's `after + i + 1`: a change that
        // says so, or a quarantined entry in its place (SPEC R12.6).
        let mut changes = page.changes.iter();
        let mut quarantined = page.quarantined.iter().peekable();
        for i in 0..page.len() {
            // A forged `after` near `u64::MAX`: no sequence number follows
            // the last one, so the entry cannot be the one expected.
            let want = page.after.checked_add(1 + i as u64);
            if quarantined
                .next_if(|q| Some(q.server_seq) == want)
                .is_some()
            {
                continue;
            }
            let found = match changes.next() {
                Some(change) => change.server_seq(),
                None => quarantined.peek().map(|q| q.server_seq),
            };
            if found.is_none() || found != want {
                return Err(PageError::NotConsecutive {
                    index: i,
                    expected: want.unwrap_or(u64::MAX),
                    found,
                });
            }
        }
        let last = page.after.saturating_add(page.len() as u64);
        if page.head < last {
            return Err(PageError::HeadBehind {
                head: page.head,
                last,
            });
        }
        Ok(last)
    }

    /// State-based merge with another replica's records (SPEC R4.5): every
    /// field becomes the greater register. `other`'s pending writes are not
    /// merged: its clock correction may still restamp them (R12.4), and a
    /// copy of a replaced stamp would beat the restamped write for good; they
    /// reach this replica through the log. Conflicts are classified with the
    /// same rule, but the witness test is exact only for in-order log
    /// delivery (SPEC R6.6).
    pub fn merge(&mut self, other: &Replica) -> ApplyReport {
        let mut report = ApplyReport::default();
        let index = PendingIndex::default();
        // SPEC R4.5: `other`'s pending versions, sorted once and searched.
        let mut pending: Vec<(&RecordKey, &str, Timestamp)> = other
            .outbox
            .iter()
            .flat_map(|c| c.writes().map(move |(name, reg)| (c.key(), name, reg.at)))
            .collect();
        pending.sort_unstable();
        let is_pending = |key: &RecordKey, name: &str, reg: &crate::register::Register| {
            reg.by == other.client_id && pending.binary_search(&(key, name, reg.at)).is_ok()
        };
        // Records only `other` holds start out empty, exactly as a lookup
        // that misses would create them; then one walk over both maps in key
        // order reaches every record without a lookup per record.
        let added = keys_missing(&self.records, &other.records);
        for key in &added {
            self.records.insert(key.clone(), Record::new());
        }
        let mut mine = self.records.iter_mut();
        for (key, theirs) in &other.records {
            let Some(record) = mine.find_map(|(k, r)| (k == key).then_some(r)) else {
                debug_assert!(false, "every key of `other` is in `self` by now");
                break;
            };
            let merged = theirs
                .fields_shared()
                .iter()
                .filter(|(name, reg)| !is_pending(key, name, reg));
            if let Some(at) = merged.clone().map(|(_, reg)| reg.at).max() {
                self.clock.seen = self.clock.seen.max(at);
            }
            if record.is_empty() {
                record.reserve_exact(theirs.len());
            }
            let writes = merged.map(|(name, reg)| (&**name, Some(name), reg));
            let local = Local {
                me: &self.client_id,
                outbox: &self.outbox,
                index: &index,
            };
            merge_into_record(
                record,
                key,
                writes,
                Delivery::Live,
                Some(local),
                &mut report,
            );
        }
        // A record only `other` holds, all of it pending there, is not
        // created here.
        for key in added {
            if self.records.get(&key).is_some_and(Record::is_empty) {
                self.records.remove(&key);
            }
        }
        report.settle_changed();
        report
    }

    /// The push of every pending change, with the replica's cursor so the
    /// server's reply can carry the changes after it (SPEC R12.1).
    #[must_use]
    pub fn push(&self) -> Push {
        Push {
            client_id: self.client_id.clone(),
            changes: self.outbox.clone(),
            cursor: self.cursor.unwrap_or(0),
            clock_epoch: self.clock.epoch,
        }
    }

    /// Drops every pending change up to and including `client_seq`: the
    /// server has them (SPEC R12.1).
    pub fn ack(&mut self, client_seq: Option<u64>) {
        if let Some(through) = client_seq {
            // SPEC R12.4: the log holds the acked changes, so their stamps
            // join `seen` and floor every later clock correction.
            // The outbox's sequence numbers rise by one (R5.4, checked when a
            // state loads), so the acknowledged changes are a prefix: found
            // by a binary search and drained, so that acknowledging m changes
            // one at a time costs O(m log m), not O(m^2).
            let acked = |c: &Change| c.client_seq().is_some_and(|seq| seq <= through);
            let prefix = self.outbox.partition_point(acked);
            debug_assert!(self.outbox[prefix..].iter().all(|c| !acked(c)));
            let stamp = self.outbox[..prefix]
                .iter()
                .filter_map(Change::max_at)
                .max();
            self.observe(stamp);
            self.outbox.drain(..prefix);
        }
    }

    /// Forgets the cursor, so the next pull replays the whole log as an
    /// initial hydration round (a device that lost its cursor but kept its
    /// records).
    pub fn reset_cursor(&mut self) {
        self.cursor = None;
        self.log = None;
        self.hydrating = false;
    }

    /// The clock correction of SPEC R12.4, after the server refused a push
    /// with [`PushError::ClockAhead`](crate::PushError::ClockAhead) (see
    /// [`PushError::clock_correction`](crate::PushError::clock_correction)):
    /// learns the offset `server_now - now`, takes the clock epoch the
    /// server requires (so that no push made before the correction can
    /// reach the log) and restamps, oldest first, exactly the pending
    /// changes the server refuses: those stamped after
    /// `server_now + skew_ms_max`. A correction whose epoch is not newer
    /// than the replica's is the refusal of a push made before an earlier
    /// correction, and changes nothing. Changes within the skew keep their
    /// stamps, since the server may already hold them (a lost
    /// acknowledgement). The restamped writes still beat everything the
    /// replica has seen; their registers and the bases of later pending
    /// writes follow; nothing is dropped.
    ///
    /// # Errors
    /// [`WriteError::ClockExhausted`]; the replica is unchanged.
    ///
    /// # Example
    /// ```
    /// use fieldmerge::{Actor, RecordKey, Replica, Server, ServerConfig, Timestamp, WriterId};
    /// let t = |ms: i64| Timestamp::from_ms(1_777_197_600_000 + ms).unwrap();
    /// let mut phone = Replica::new(WriterId::new("phone"));
    /// let fields = serde_json::json!({"title": "x"}).as_object().cloned().unwrap();
    /// let an_hour_ahead = t(3_600_000);
    /// phone.write(&RecordKey::new("tasks", "t1"), &Actor::User, &fields, an_hour_ahead).unwrap();
    /// let mut server = Server::new(ServerConfig::default());
    /// let refusal = server.push(&phone.push(), t(0)).unwrap_err();
    /// let correction = refusal.clock_correction().expect("clock_ahead");
    /// phone.correct_clock(&correction, an_hour_ahead).unwrap();
    /// assert_eq!(server.push(&phone.push(), t(0)).unwrap().appended, 1);
    /// ```
    pub fn correct_clock(
        &mut self,
        correction: &ClockCorrection,
        now: Timestamp,
    ) -> Result<(), WriteError> {
        // A refusal of a push made before this replica's last correction is
        // old news: that correction already restamped what it refused, and
        // restamping again, now, could replace stamps of a push made since,
        // which the server would still accept (SPEC R12.4).
        if correction.clock_epoch <= self.clock.epoch {
            return Ok(());
        }
        let mut next = self.clone();
        next.clock.offset_ms = correction.server_now.as_ms() - now.as_ms();
        // Every push made before this correction is now stale: the server
        // refuses a copy still in flight, whose stamps this restamps.
        next.clock.epoch = correction.clock_epoch;
        // SPEC R12.4: walking the outbox as the server walks a push (R12.3),
        // a change past the limit is restamped, and so is every later
        // pending change of a record already restamped, so a later write of
        // a field stays above the earlier one it overwrote. Every other
        // change keeps its stamp: the server may hold it (a lost
        // acknowledgement), and it may have lost to a register the replica
        // received, an order a restamp above `seen` would flip. A restamped
        // change is in no log (the server appends a client's changes in
        // order, and a logged change is below the log's high stamp), and it
        // lost to no received register: it is past `log_high + 1`, above
        // everything the replica received, or above such a change of its
        // record.
        let placeholder = |change: &Change| {
            change
                .writes()
                .any(|(_, reg)| reg.by.as_str() == crate::origin::SYSTEM_BOOTSTRAP)
        };
        // Each record's pending changes by outbox position, built once, so
        // the whole correction is O(n log n).
        let mut positions: BTreeMap<RecordKey, Vec<usize>> = BTreeMap::new();
        for (i, change) in next.outbox.iter().enumerate() {
            positions.entry(change.key().clone()).or_default().push(i);
        }
        // Per record being restamped: the floor of its next restamp.
        let mut floors: BTreeMap<RecordKey, Timestamp> = BTreeMap::new();
        // Per (record, field, old version): the restamped register, so a
        // later pending write's base and a record still holding the old
        // version find it by one lookup.
        type Old = (RecordKey, String, Timestamp, String);
        let mut renamed: BTreeMap<Old, crate::register::Register> = BTreeMap::new();
        let seen = next.clock.seen;
        let wall = now.saturating_add_ms(next.clock.offset_ms);
        let mut high = correction.log_high;
        for i in 0..next.outbox.len() {
            let change = &next.outbox[i];
            let key = change.key().clone();
            let stamp = change.max_at();
            let cascade = floors.contains_key(&key);
            let refused = stamp.is_some_and(|at| at > correction.limit(high));
            if placeholder(change) || !(cascade || refused) {
                high = high.max(stamp.unwrap_or_default());
                continue;
            }
            if !cascade {
                // The record's first restamp: floored by every register of
                // the record this correction does not replace, the versions
                // of its pending changes from this one on.
                let mut replaced: Vec<(&str, Timestamp)> = positions[&key]
                    .iter()
                    .filter(|&&j| j >= i && !placeholder(&next.outbox[j]))
                    .flat_map(|&j| next.outbox[j].writes().map(|(name, r)| (name, r.at)))
                    .collect();
                replaced.sort_unstable();
                let floor = next
                    .records
                    .get(&key)
                    .map_or(Timestamp::default(), |record| {
                        record
                            .fields()
                            .filter(|(name, reg)| {
                                reg.by != next.client_id
                                    || replaced.binary_search(&(*name, reg.at)).is_err()
                            })
                            .map(|(_, reg)| reg.at)
                            .max()
                            .unwrap_or_default()
                    });
                floors.insert(key.clone(), floor);
            }
            let change = &mut next.outbox[i];
            // Rebase first: a restamp beats the version it overwrote.
            for (name, reg) in change.writes_mut() {
                if let Base::Saw(base) = &reg.base {
                    let was = (
                        key.clone(),
                        name.to_owned(),
                        base.at,
                        base.by.as_str().to_owned(),
                    );
                    if let Some(new) = renamed.get(&was) {
                        reg.base = Base::Saw(new.version());
                    }
                }
            }
            let bases = change
                .writes()
                .filter_map(|(_, reg)| match &reg.base {
                    Base::Saw(base) => Some(base.at),
                    _ => None,
                })
                .max()
                .unwrap_or_default();
            let floor = floors.get(&key).copied().unwrap_or_default();
            let at = wall.max(
                seen.max(floor)
                    .max(bases)
                    .next()
                    .ok_or(WriteError::ClockExhausted)?,
            );
            floors.insert(key.clone(), at);
            high = high.max(at);
            for (name, reg) in change.writes_mut() {
                let old = (
                    key.clone(),
                    name.to_owned(),
                    reg.at,
                    reg.by.as_str().to_owned(),
                );
                reg.at = at;
                renamed.insert(old, reg.clone());
            }
        }
        // Registers still holding a refused version take the restamped one.
        for ((key, name, at, by), reg) in &renamed {
            let Some(record) = next.records.get_mut(key) else {
                continue;
            };
            if record
                .field(name)
                .is_some_and(|r| r.at == *at && r.by.as_str() == by)
            {
                record.replace_register(name, reg.clone());
            }
            record.refresh_index();
        }
        // `stamped` is the greatest stamp the replica still holds of its own:
        // a far-ahead stamp the correction replaced no longer counts.
        next.clock.stamped = next
            .records
            .values()
            .flat_map(|r| r.fields().map(|(_, reg)| reg))
            .filter(|reg| reg.by == next.client_id)
            .map(|reg| reg.at)
            .chain(next.outbox.iter().filter_map(Change::max_at))
            .max()
            .unwrap_or_default();
        *self = next;
        Ok(())
    }

    /// Adds a record the caller's storage holds to the working set of a
    /// [`StoredReplica`](crate::StoredReplica).
    pub(crate) fn insert_record(&mut self, key: RecordKey, record: Record) {
        self.records.insert(key, record);
    }

    /// Empties the working set of a [`StoredReplica`](crate::StoredReplica).
    pub(crate) fn clear_records(&mut self) {
        self.records.clear();
    }

    /// Rebuilds a replica from its persisted parts (SPEC R12.5).
    pub(crate) fn from_parts(parts: ReplicaParts) -> Replica {
        Replica {
            client_id: parts.client_id,
            records: parts.records,
            clock: parts.clock,
            outbox: parts.outbox,
            next_seq: parts.next_seq,
            cursor: parts.cursor,
            hydrating: parts.hydrating,
            log: parts.log,
        }
    }

    // Stamps one local write: every field of `fields` whose value changes.
    // `op` is for an existing record; a write that creates one is an insert.
    // The record is looked up once.
    fn stamp<'a>(
        &mut self,
        key: &RecordKey,
        op: Op,
        origin: Origin,
        fields: impl Iterator<Item = (&'a String, &'a Value)>,
        now: Timestamp,
        ext: Option<&Ext>,
    ) -> Result<Option<Change>, WriteError> {
        check_writer("client_id", &self.client_id)?;
        // An exhausted clock refuses only a write that stamps something
        // (R2.3); a no-op write stays a no-op (R5.2).
        let mut record = self.records.get_mut(key);
        let stamp = self
            .clock
            .stamp(now, record.as_deref().and_then(record_high));
        let at = stamp.unwrap_or(Timestamp::MAX);
        let op = if record.is_some() { op } else { Op::Insert };
        let current = |name: &str| record.as_deref().and_then(|r| r.field(name));
        let writes = stamp_patch(current, fields, at, &self.client_id, origin);
        if writes.is_empty() {
            return Ok(None);
        }
        if stamp.is_none() {
            return Err(WriteError::ClockExhausted);
        }
        self.clock.stamped = self.clock.stamped.max(at);
        let record = match record.take() {
            Some(record) => record,
            None => {
                let record = self.records.entry(key.clone()).or_default();
                record.reserve_exact(writes.len());
                record
            }
        };
        let mut from = 0;
        for (name, reg) in &writes {
            let (decision, _) = record.merge_register_from(
                &mut from,
                name,
                || Arc::clone(name),
                reg,
                |_| Delivery::Live.into(),
            );
            debug_assert!(
                decision.incoming_won(),
                "a local write beats what the replica has"
            );
        }
        let change = Change::stamped(
            key.clone(),
            op,
            writes,
            self.client_id.clone(),
            Some(self.next_seq),
        )
        .with_ext(ext.cloned());
        self.next_seq += 1;
        self.outbox.push(change.clone());
        Ok(Some(change))
    }

    fn observe(&mut self, at: Option<Timestamp>) {
        if let Some(at) = at {
            self.clock.seen = self.clock.seen.max(at);
        }
    }

    // A change of ours that came back through the log is acknowledged: the
    // server accepts a client's changes in sequence, so every earlier one is
    // in the log too. By content (SPEC R12.2): when the pending change under
    // that number is not the logged one, another copy of this client id (a
    // device restored from a backup) wrote it, and dropping ours would lose
    // a write silently; it stays, and its push is refused as seq_reused.
    // Returns the `client_seq` to acknowledge through; the caller acks once
    // at the end of its batch (one drain of the outbox, not one per change).
    fn own_acknowledged(&self, change: &Change) -> Option<u64> {
        if change.server_seq().is_none() || change.client_id() != &self.client_id {
            return None;
        }
        let seq = change.client_seq()?;
        let at = self
            .outbox
            .partition_point(|c| c.client_seq().is_some_and(|s| s < seq));
        let pending = self.outbox.get(at).filter(|c| c.client_seq() == Some(seq));
        if pending.is_some_and(|mine| !mine.same_content(change)) {
            return None;
        }
        Some(seq)
    }
}

/// A replica's persisted parts, for [`ReplicaState`](crate::ReplicaState).
pub(crate) struct ReplicaParts {
    pub client_id: WriterId,
    pub records: BTreeMap<RecordKey, Record>,
    pub clock: Clock,
    pub outbox: Vec<Change>,
    pub next_seq: u64,
    pub cursor: Option<u64>,
    pub hydrating: bool,
    pub log: Option<String>,
}

/// The greatest `at` of a record the replica holds, which floors a write
/// into it (SPEC R2.2): its shadow index, which equals it after every
/// write, apply and load (R8.1), so a write into a record of many fields
/// does not walk them.
fn record_high(record: &Record) -> Option<Timestamp> {
    debug_assert_eq!(record.updated_at_index(), record.derive_updated_at());
    record.updated_at_index()
}

fn no_such(key: &RecordKey) -> WriteError {
    WriteError::NoSuchRecord {
        table: key.table.clone(),
        id: key.id.clone(),
    }
}
