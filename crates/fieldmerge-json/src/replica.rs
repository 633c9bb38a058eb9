//! A replica whose state the kernel holds, driven by JSON text.

use fieldmerge::{
    ApplyReport, ClockCorrection, Delivery, PushError, PushReply, Replica, ReplicaState, WriterId,
};
use serde_json::Value;

use crate::args::{form, text, Args, Error};
use crate::Result;

/// A replica (SPEC R2, R5, R6, R10, R12.4): local writes, applies, pages,
/// replies, refusals, merges, its outbox and clock, and its persisted state
/// as text ([`JsonReplica::state`], R12.5).
#[derive(Clone, Debug)]
pub struct JsonReplica {
    replica: Replica,
}

fn change_text(change: Option<fieldmerge::Change>) -> String {
    change.map_or_else(|| "null".to_owned(), |c| c.to_text())
}

fn report_text(report: &ApplyReport) -> String {
    text(report)
}

impl JsonReplica {
    /// A fresh replica with the client id `client_id` (a name, R11.6).
    ///
    /// # Errors
    /// `bad_name` for an id that is not a name.
    pub fn new(client_id: &str) -> Result<JsonReplica> {
        if client_id.is_empty() || client_id.len() > fieldmerge::NAME_BYTES_MAX {
            return Err(Error::new(
                "bad_name",
                "client_id must be 1 to 256 bytes long",
            ));
        }
        let state = ReplicaState::of(&Replica::new(WriterId::new(client_id)));
        let replica = state.load().map_err(|e| Error::from(&e))?;
        Ok(JsonReplica { replica })
    }

    /// Loads a replica from its persisted state (SPEC R12.5).
    ///
    /// # Errors
    /// `state_json`, `state_inconsistent` or the change code of a bad part.
    pub fn load(state: &[u8]) -> Result<JsonReplica> {
        let replica = ReplicaState::load_json(state).map_err(|e| Error::from(&e))?;
        Ok(JsonReplica { replica })
    }

    /// The persisted state (SPEC R12.5): what to store, atomically, after
    /// every operation.
    pub fn state(&self) -> String {
        // Written straight from the replica, byte for byte the canonical
        // text of its state (SPEC R11.4, R12.5).
        ReplicaState::text_of(&self.replica)
    }

    /// A local write: `{table, id, actor, patch, now, ext?}` (or `{kind,
    /// scope, ...}` for a singleton; `ext` the change's extension slot,
    /// R11.8). Returns the wire change, or `null` when the write changed
    /// nothing (SPEC R5).
    ///
    /// # Errors
    /// The write's error (`bad_name`, `reserved_field`, `too_deep`,
    /// `bad_number`, ...), or an argument error; the replica is unchanged.
    pub fn write(&mut self, args: &[u8]) -> Result {
        let mut a = Args::read(args)?;
        let (key, actor, patch, now) = (a.key()?, a.actor()?, a.object("patch")?, a.time("now")?);
        let ext = a.ext()?;
        a.done()?;
        let change = match &ext {
            None => self.replica.write(&key, &actor, &patch, now),
            Some(ext) => self.replica.write_ext(&key, &actor, &patch, now, ext),
        };
        Ok(change_text(change.map_err(|e| Error::from(&e))?))
    }

    /// A delete (`{table, id, actor, now, ext?}`, SPEC R9.1, R11.8): the
    /// change or `null`.
    ///
    /// # Errors
    /// As [`JsonReplica::write`] (`no_such_record` for an unknown record).
    pub fn delete(&mut self, args: &[u8]) -> Result {
        self.tombstone(args, Replica::delete, Replica::delete_ext)
    }

    /// A restore (`{table, id, actor, now, ext?}`, SPEC R9.1, R11.8): the
    /// change or `null`.
    ///
    /// # Errors
    /// As [`JsonReplica::delete`].
    pub fn restore(&mut self, args: &[u8]) -> Result {
        self.tombstone(args, Replica::restore, Replica::restore_ext)
    }

    /// A delete or restore: the same arguments, the tombstone's two writes.
    fn tombstone(&mut self, args: &[u8], op: TombstoneOp, op_ext: TombstoneExtOp) -> Result {
        let mut a = Args::read(args)?;
        let (key, actor, now) = (a.key()?, a.actor()?, a.time("now")?);
        let ext = a.ext()?;
        a.done()?;
        let change = match &ext {
            None => op(&mut self.replica, &key, &actor, now),
            Some(ext) => op_ext(&mut self.replica, &key, &actor, now, ext),
        };
        Ok(change_text(change.map_err(|e| Error::from(&e))?))
    }

    /// A bootstrap placeholder (`{kind, scope, fields}` or `{table, id,
    /// fields}`, SPEC R10): the change or `null`.
    ///
    /// # Errors
    /// As [`JsonReplica::write`].
    pub fn bootstrap(&mut self, args: &[u8]) -> Result {
        let mut a = Args::read(args)?;
        let (key, fields) = (a.key()?, a.object("fields")?);
        a.done()?;
        let change = self.replica.bootstrap(&key, &fields);
        Ok(change_text(change.map_err(|e| Error::from(&e))?))
    }

    /// Op-based apply of a batch of wire changes (SPEC R6, R11.5), as
    /// live deliveries or, with `hydration`, as an initial hydration round.
    /// Returns the report (R13.1).
    ///
    /// # Errors
    /// The batch's decode error; nothing is applied.
    pub fn apply(&mut self, batch: &[u8], hydration: bool) -> Result {
        let changes = fieldmerge::decode_changes(batch).map_err(|e| Error::from(&e))?;
        let delivery = if hydration {
            Delivery::Hydration
        } else {
            Delivery::Live
        };
        Ok(report_text(&self.replica.apply(&changes, delivery)))
    }

    /// Applies a pulled page `{after, changes, head}` (SPEC R6.5, R12.2).
    ///
    /// # Errors
    /// The page's decode error, or `not_at_cursor`, `not_consecutive`,
    /// `head_behind`; nothing changes.
    pub fn apply_page(&mut self, page: &[u8]) -> Result {
        let page = fieldmerge::Page::from_json(page).map_err(|e| Error::from(&e))?;
        let report = self
            .replica
            .apply_page(&page)
            .map_err(|e| Error::from(&e))?;
        Ok(report_text(&report))
    }

    /// Receives the reply to its push in one call (SPEC R13.4).
    ///
    /// # Errors
    /// As [`JsonReplica::apply_page`]; nothing changes.
    pub fn receive_reply(&mut self, reply: &[u8]) -> Result {
        let reply = PushReply::from_json(reply).map_err(|e| Error::from(&e))?;
        let report = self
            .replica
            .receive_reply(&reply)
            .map_err(|e| Error::from(&e))?;
        Ok(report_text(&report))
    }

    /// Receives a push refusal (its error text, R13.1) in one call (SPEC
    /// R13.4): acknowledges and corrects the clock, at the device's wall
    /// time `now` (a timestamp string). Returns `null`.
    ///
    /// # Errors
    /// `clock_exhausted`; nothing changes.
    pub fn receive_refusal(&mut self, refusal: &[u8], now: &str) -> Result {
        let refusal: PushError = form(refusal)?;
        let now = timestamp(now)?;
        self.replica
            .receive_refusal(&refusal, now)
            .map_err(|e| Error::from(&e))?;
        Ok("null".to_owned())
    }

    /// The push of its whole outbox (SPEC R12.1, R13.1).
    pub fn push(&self) -> String {
        self.replica.push().to_text()
    }

    /// Acknowledges through `client_seq` (`null`: nothing), SPEC R12.1.
    ///
    /// # Errors
    /// `wrong_type` for a text that is not a counter or `null`.
    pub fn ack(&mut self, through: &[u8]) -> Result {
        let value = fieldmerge::read_json(through).map_err(|e| Error::from(&e))?;
        let through = match value {
            Value::Null => None,
            v => Some(crate::args::counter(&v).ok_or_else(|| {
                Error::new(
                    "wrong_type",
                    "through must be an integer from 0 to 2^53 or null",
                )
            })?),
        };
        self.replica.ack(through);
        Ok("null".to_owned())
    }

    /// Forgets the cursor: the next pull is a new hydration round.
    pub fn reset_cursor(&mut self) {
        self.replica.reset_cursor();
    }

    /// Corrects the clock (SPEC R12.4): `{server_now, skew_ms_max,
    /// log_high, clock_epoch, now}`, as the refusal carries them.
    ///
    /// # Errors
    /// `clock_exhausted`, or an argument error; nothing changes.
    pub fn correct_clock(&mut self, args: &[u8]) -> Result {
        let mut a = Args::read(args)?;
        let server_now = a.time("server_now")?;
        let skew_ms_max = match a.take("skew_ms_max")? {
            Value::Number(n) if n.as_i64().is_some_and(|s| s >= 0) => n.as_i64().unwrap_or(0),
            _ => {
                return Err(Error::new(
                    "wrong_type",
                    "skew_ms_max must be an integer >= 0",
                ))
            }
        };
        let log_high = a.time("log_high")?;
        let clock_epoch = a.counter("clock_epoch")?.unwrap_or(0);
        let now = a.time("now")?;
        a.done()?;
        let correction = ClockCorrection {
            server_now,
            skew_ms_max,
            log_high,
            clock_epoch,
        };
        self.replica
            .correct_clock(&correction, now)
            .map_err(|e| Error::from(&e))?;
        Ok("null".to_owned())
    }

    /// State-based merge of another replica's persisted state (SPEC R4.5,
    /// R6.6). Returns the report.
    ///
    /// # Errors
    /// The state's load error; nothing changes.
    pub fn merge(&mut self, state: &[u8]) -> Result {
        let other = ReplicaState::load_json(state).map_err(|e| Error::from(&e))?;
        Ok(report_text(&self.replica.merge(&other)))
    }
}

/// `Replica::delete` or `Replica::restore`.
type TombstoneOp = fn(
    &mut Replica,
    &fieldmerge::RecordKey,
    &fieldmerge::Actor,
    fieldmerge::Timestamp,
) -> std::result::Result<Option<fieldmerge::Change>, fieldmerge::WriteError>;

/// `Replica::delete_ext` or `Replica::restore_ext`.
type TombstoneExtOp = fn(
    &mut Replica,
    &fieldmerge::RecordKey,
    &fieldmerge::Actor,
    fieldmerge::Timestamp,
    &fieldmerge::Ext,
)
    -> std::result::Result<Option<fieldmerge::Change>, fieldmerge::WriteError>;

pub(crate) fn timestamp(text: &str) -> Result<fieldmerge::Timestamp> {
    fieldmerge::Timestamp::parse(text).map_err(|e| Error::new("bad_timestamp", &e.to_string()))
}
