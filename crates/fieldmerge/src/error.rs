//! One error enum per boundary: timestamps, wire changes, local writes,
//! pushes, pulled pages, stored states (SPEC R11.5). Every error says what was
//! wrong and where, and carries a stable [`code`](ChangeErrorKind::code) for
//! conformance vectors. A call that returns an error changed nothing.

use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::timestamp::{Timestamp, TimestampError};

/// A wire change that failed validation (SPEC R11.5): which change of the
/// batch, which record and field, and what was wrong.
#[derive(Clone, PartialEq, Debug, Error)]
#[error("change {index} ({table}/{id}){}: {kind}", .field.as_ref().map(|f| format!(" field {f:?}")).unwrap_or_default())]
pub struct ChangeError {
    /// The change's position in its batch (0 for a single change).
    pub index: usize,
    /// The change's table, as far as it could be read (empty otherwise).
    pub table: String,
    /// The change's record id, as far as it could be read (empty otherwise).
    pub id: String,
    /// The field concerned, when the error is about one field.
    pub field: Option<String>,
    /// What was wrong.
    pub kind: ChangeErrorKind,
}

/// What was wrong with a wire change.
#[derive(Clone, PartialEq, Debug, Error)]
#[non_exhaustive]
pub enum ChangeErrorKind {
    /// The batch is not valid JSON, or not an array of changes.
    #[error("not JSON: {message}")]
    Json {
        /// The parser's message, with line and column.
        message: String,
    },
    /// The change (or a nested part of it) has the wrong JSON type.
    #[error("{path} must be {expected}")]
    WrongType {
        /// Which member, such as `data` or `field_meta.title.at`.
        path: String,
        /// The JSON type it must have.
        expected: &'static str,
    },
    /// A required member is missing.
    #[error("missing {path}")]
    Missing {
        /// Which member.
        path: String,
    },
    /// A member that the format does not have.
    #[error("unknown member {path}")]
    UnknownMember {
        /// Which member.
        path: String,
    },
    /// `op` is not `insert`, `update` or `delete`.
    #[error("unknown op {op:?}")]
    UnknownOp {
        /// The rejected op.
        op: String,
    },
    /// `origin` is not `user`, `agent`, `migration` or `system`.
    #[error("unknown origin {origin:?}")]
    UnknownOrigin {
        /// The rejected origin.
        origin: String,
    },
    /// A timestamp (`at` or `base.at`) is malformed or out of range.
    #[error("bad timestamp: {source}")]
    Timestamp {
        /// Why it was rejected.
        #[from]
        source: TimestampError,
    },
    /// `field_meta` names a field that `data` lacks.
    #[error("field_meta for a field absent from data")]
    MetaWithoutData,
    /// `data` has a field that `field_meta` lacks.
    #[error("data for a field absent from field_meta")]
    DataWithoutMeta,
    /// The change touches no field.
    #[error("the change touches no field")]
    Empty,
    /// A table, id, field or writer name is empty or longer than
    /// [`NAME_BYTES_MAX`](crate::NAME_BYTES_MAX) bytes.
    #[error("{what} must be 1 to 256 bytes long")]
    BadName {
        /// Which name: `table`, `id`, `field` or `client_id`.
        what: &'static str,
    },
    /// The change writes a local-only field (the shadow index or the metadata map).
    #[error("the field is local-only and never travels in a change")]
    LocalOnlyField,
    /// A value is nested deeper than [`VALUE_DEPTH_MAX`](crate::VALUE_DEPTH_MAX).
    #[error("the value is nested deeper than 128 levels")]
    TooDeep,
    /// More than [`FIELDS_PER_CHANGE_MAX`](crate::FIELDS_PER_CHANGE_MAX) fields.
    #[error("the change touches more than 1024 fields")]
    TooManyFields,
    /// A `delete` that does not set the tombstone to a non-null value.
    #[error("a delete must set deletedAt to a non-null value")]
    DeleteWithoutTombstone,
    /// The same field twice in a change built in memory, or a member name
    /// twice in one object of JSON text (SPEC R11.7): one of them would be
    /// lost, and two readers would keep different ones.
    #[error("{path} appears twice")]
    DuplicateMember {
        /// The member's name (at most 256 bytes of it), or `field` for a
        /// change built in memory (the error names the field).
        path: String,
    },
    /// A number that is not a binary64 exactly (SPEC R4.4): an integer past
    /// 2^53 that is not the shortest decimal of its binary64, more digits
    /// than a binary64 holds, or out of range.
    #[error("number {text} would be rounded: write the shortest decimal of a binary64")]
    BadNumber {
        /// The number's text (at most 256 bytes of it).
        text: String,
    },
    /// A change's extension slot whose canonical text is longer than
    /// [`EXT_BYTES_MAX`](crate::EXT_BYTES_MAX) bytes (SPEC R11.8).
    #[error("ext is {bytes} bytes of canonical text; at most 4096 are allowed")]
    ExtTooLarge {
        /// The length of its canonical text.
        bytes: usize,
    },
}

impl ChangeErrorKind {
    /// A stable, language-neutral code for conformance vectors.
    pub fn code(&self) -> &'static str {
        match self {
            ChangeErrorKind::Json { .. } => "json",
            ChangeErrorKind::WrongType { .. } => "wrong_type",
            ChangeErrorKind::Missing { .. } => "missing",
            ChangeErrorKind::UnknownMember { .. } => "unknown_member",
            ChangeErrorKind::UnknownOp { .. } => "unknown_op",
            ChangeErrorKind::UnknownOrigin { .. } => "unknown_origin",
            ChangeErrorKind::Timestamp { .. } => "bad_timestamp",
            ChangeErrorKind::MetaWithoutData => "meta_without_data",
            ChangeErrorKind::DataWithoutMeta => "data_without_meta",
            ChangeErrorKind::Empty => "empty_change",
            ChangeErrorKind::BadName { .. } => "bad_name",
            ChangeErrorKind::LocalOnlyField => "local_only_field",
            ChangeErrorKind::TooDeep => "too_deep",
            ChangeErrorKind::TooManyFields => "too_many_fields",
            ChangeErrorKind::ExtTooLarge { .. } => "ext_too_large",
            ChangeErrorKind::DuplicateMember { .. } => "duplicate_member",
            ChangeErrorKind::BadNumber { .. } => "bad_number",
            ChangeErrorKind::DeleteWithoutTombstone => "delete_without_tombstone",
        }
    }
}

/// A local write that was refused; the replica is unchanged (SPEC R5).
#[derive(Clone, PartialEq, Debug, Error)]
#[non_exhaustive]
pub enum WriteError {
    /// A table, id or field name, or the writing replica's client id, is
    /// empty or too long.
    #[error("{what} {name:?} must be 1 to 256 bytes long")]
    BadName {
        /// Which name: `table`, `id`, `field`, `client_id` or `writer`.
        what: &'static str,
        /// The rejected name (at most 40 characters).
        name: String,
    },
    /// The write names a field that only the kernel writes: the tombstone
    /// (use `delete` / `restore`), the shadow index or the metadata map.
    #[error("field {field:?} is reserved: {why}")]
    ReservedField {
        /// The field.
        field: String,
        /// Why it cannot be written directly.
        why: &'static str,
    },
    /// A value is nested deeper than [`VALUE_DEPTH_MAX`](crate::VALUE_DEPTH_MAX).
    #[error("field {field:?}: the value is nested deeper than 128 levels")]
    TooDeep {
        /// The field.
        field: String,
    },
    /// A value holds a number that is not a binary64 exactly (SPEC R4.4).
    #[error("field {field:?}: number {text} would be rounded")]
    BadNumber {
        /// The field.
        field: String,
        /// The number's text.
        text: String,
    },
    /// More than [`FIELDS_PER_CHANGE_MAX`](crate::FIELDS_PER_CHANGE_MAX) fields.
    #[error("a write may touch at most 1024 fields")]
    TooManyFields,
    /// `delete` or `restore` of a record this replica does not hold.
    #[error("no record {table}/{id}")]
    NoSuchRecord {
        /// The record's table.
        table: String,
        /// The record's id.
        id: String,
    },
    /// The clock reached the last representable millisecond.
    #[error("the clock is exhausted at 9999-12-31T23:59:59.999Z")]
    ClockExhausted,
}

impl WriteError {
    /// A stable, language-neutral code for conformance vectors.
    pub fn code(&self) -> &'static str {
        match self {
            WriteError::BadName { .. } => "bad_name",
            WriteError::ReservedField { .. } => "reserved_field",
            WriteError::TooDeep { .. } => "too_deep",
            WriteError::BadNumber { .. } => "bad_number",
            WriteError::TooManyFields => "too_many_fields",
            WriteError::NoSuchRecord { .. } => "no_such_record",
            WriteError::ClockExhausted => "clock_exhausted",
        }
    }
}

/// A push the server refused as a whole; its log and state are unchanged
/// (SPEC R12).
#[derive(Clone, PartialEq, Debug, Error)]
#[non_exhaustive]
pub enum PushError {
    /// A change of the push names another client than the push.
    #[error("change {index}: client_id {found:?} is not the pushing client")]
    ForeignChange {
        /// The change's position in the push.
        index: usize,
        /// The client id it carries.
        found: String,
    },
    /// A change of the push has no `client_seq`.
    #[error("change {index}: a pushed change needs a client_seq")]
    MissingSeq {
        /// The change's position in the push.
        index: usize,
    },
    /// `client_seq` does not rise by exactly one from change to change.
    #[error("change {index}: client_seq {found} does not follow {previous}")]
    SeqOrder {
        /// The change's position in the push.
        index: usize,
        /// The sequence number before it.
        previous: u64,
        /// Its sequence number.
        found: u64,
    },
    /// A change at or below the last `client_seq` the log holds for its
    /// client is not the change the log holds under that number: the client
    /// reuses sequence numbers (a device restored from a backup), and its
    /// new change would otherwise be dropped as a retry (SPEC R12.1, R12.5).
    #[error("change {index}: client_seq {client_seq} is already in the log with other content")]
    SeqReused {
        /// The change's position in the push.
        index: usize,
        /// Its sequence number.
        client_seq: u64,
    },
    /// The push skips sequence numbers the server has not seen.
    #[error("client_seq {found} leaves a gap: the server expects {expected}")]
    Gap {
        /// The next sequence number the server accepts from this client.
        expected: u64,
        /// The first new sequence number of the push.
        found: u64,
    },
    /// A change is stamped too far ahead of the server's clock (SPEC R12.3):
    /// more than `skew_ms_max` after `server_now`, and more than 1 ms after
    /// the greatest `at` the log holds.
    #[error("change {index} field {field:?}: at {at} is more than {skew_ms_max} ms ahead of the server's {server_now} and past the log's {log_high}")]
    ClockAhead {
        /// The change's position in the push.
        index: usize,
        /// The field stamped too far ahead.
        field: String,
        /// Its stamp.
        at: Timestamp,
        /// The server's time, for the client to correct its clock.
        server_now: Timestamp,
        /// The skew the server allows.
        skew_ms_max: i64,
        /// The greatest `at` the log held before the push (SPEC R12.3).
        log_high: Timestamp,
        /// The highest `client_seq` of the pusher the log already holds, so
        /// the client can drop those from its outbox before it restamps.
        acked_through: Option<u64>,
        /// The clock epoch the server now requires of this client: the
        /// refused push's plus one (SPEC R12.4).
        clock_epoch: u64,
    },
    /// The push was made before a clock correction the server demanded of
    /// this client: a copy of a refused push still in flight, or a client
    /// that lost its correction (SPEC R12.4).
    #[error("the push's clock epoch {found} is older than the {required} the server requires")]
    StaleClock {
        /// The push's clock epoch.
        found: u64,
        /// The clock epoch the server requires of this client.
        required: u64,
        /// The server's time, for the client to correct its clock.
        server_now: Timestamp,
        /// The skew the server allows.
        skew_ms_max: i64,
        /// The greatest `at` the log holds (SPEC R12.3).
        log_high: Timestamp,
        /// The highest `client_seq` of the pusher the log already holds.
        acked_through: Option<u64>,
    },
}

impl PushError {
    /// What a `clock_ahead` or `stale_clock` refusal tells the client, for
    /// [`Replica::correct_clock`](crate::Replica::correct_clock); `None` for
    /// every other refusal.
    pub fn clock_correction(&self) -> Option<ClockCorrection> {
        match self {
            PushError::ClockAhead {
                server_now,
                skew_ms_max,
                log_high,
                clock_epoch,
                ..
            } => Some(ClockCorrection {
                server_now: *server_now,
                skew_ms_max: *skew_ms_max,
                log_high: *log_high,
                clock_epoch: *clock_epoch,
            }),
            PushError::StaleClock {
                required,
                server_now,
                skew_ms_max,
                log_high,
                ..
            } => Some(ClockCorrection {
                server_now: *server_now,
                skew_ms_max: *skew_ms_max,
                log_high: *log_high,
                clock_epoch: *required,
            }),
            _ => None,
        }
    }

    /// The highest `client_seq` of the pusher the log holds, when the
    /// refusal says (`clock_ahead`, `stale_clock`): the client acks through
    /// it before it corrects its clock (SPEC R12.4).
    pub fn acked_through(&self) -> Option<u64> {
        match self {
            PushError::ClockAhead { acked_through, .. }
            | PushError::StaleClock { acked_through, .. } => *acked_through,
            _ => None,
        }
    }

    /// A stable, language-neutral code for conformance vectors.
    pub fn code(&self) -> &'static str {
        match self {
            PushError::ForeignChange { .. } => "foreign_change",
            PushError::MissingSeq { .. } => "missing_seq",
            PushError::SeqOrder { .. } => "seq_order",
            PushError::Gap { .. } => "seq_gap",
            PushError::ClockAhead { .. } => "clock_ahead",
            PushError::StaleClock { .. } => "stale_clock",
            PushError::SeqReused { .. } => "seq_reused",
        }
    }
}

/// What a `clock_ahead` refusal tells a client about its clock (SPEC R12.4),
/// the input of [`Replica::correct_clock`](crate::Replica::correct_clock).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ClockCorrection {
    /// The server's time when it refused.
    pub server_now: Timestamp,
    /// The skew the server allows.
    pub skew_ms_max: i64,
    /// The greatest `at` the log held when the server refused: with
    /// `server_now` and `skew_ms_max` it sets the server's limit (SPEC
    /// R12.3).
    pub log_high: Timestamp,
    /// The clock epoch the server requires of the client's next push: the
    /// client takes it, so that every push it made before the correction is
    /// refused as `stale_clock` should a copy of it still be in flight.
    pub clock_epoch: u64,
}

impl ClockCorrection {
    /// The server's limit for a new change when the log's high stamp,
    /// raised by the changes before it, is `high` (SPEC R12.3).
    pub(crate) fn limit(&self, high: Timestamp) -> Timestamp {
        crate::skew::skew_limit(self.server_now, self.skew_ms_max, high)
    }
}

/// A pulled page the replica refused to apply; the replica is unchanged
/// (SPEC R6.5).
#[derive(Clone, PartialEq, Eq, Debug, Error)]
#[non_exhaustive]
pub enum PageError {
    /// The page does not start at the replica's cursor.
    #[error("the page starts after {found}, the replica's cursor is {expected}")]
    NotAtCursor {
        /// The replica's cursor (0 when it has none).
        expected: u64,
        /// Where the page starts.
        found: u64,
    },
    /// The page's changes do not carry consecutive server sequence numbers.
    #[error("change {index} of the page has server_seq {found:?}, expected {expected}")]
    NotConsecutive {
        /// The change's position in the page.
        index: usize,
        /// The sequence number it must have.
        expected: u64,
        /// The sequence number it has.
        found: Option<u64>,
    },
    /// The page claims a head before its own last change.
    #[error("the page's head {head} is before its last change {last}")]
    HeadBehind {
        /// The claimed head.
        head: u64,
        /// The last change's sequence number.
        last: u64,
    },
    /// The page comes from another log than the one the replica follows
    /// (SPEC R12.7): its sequence numbers mean other changes.
    #[error("the page is of log {found:?}, the replica follows log {expected:?}")]
    OtherLog {
        /// The log the replica follows.
        expected: String,
        /// The page's log (`None`: an unnamed log).
        found: Option<String>,
    },
}

impl PageError {
    /// A stable, language-neutral code for conformance vectors.
    pub fn code(&self) -> &'static str {
        match self {
            PageError::NotAtCursor { .. } => "not_at_cursor",
            PageError::NotConsecutive { .. } => "not_consecutive",
            PageError::HeadBehind { .. } => "head_behind",
            PageError::OtherLog { .. } => "other_log",
        }
    }
}

/// A stored replica state that cannot be loaded.
#[derive(Clone, PartialEq, Debug, Error)]
#[non_exhaustive]
pub enum StateError {
    /// The state is not valid JSON of the state format.
    #[error("not a replica state: {message}")]
    Json {
        /// The parser's message, with line and column.
        message: String,
    },
    /// A record in the state is invalid.
    #[error("record {table}/{id} field {field:?}: {kind}")]
    Record {
        /// The record's table.
        table: String,
        /// The record's id.
        id: String,
        /// The field concerned.
        field: String,
        /// What was wrong.
        kind: ChangeErrorKind,
    },
    /// A pending change in the outbox is invalid.
    #[error("outbox: {0}")]
    Outbox(ChangeError),
    /// The parts of the state contradict each other (an outbox change of
    /// another client, sequence numbers out of order or exhausted).
    #[error("inconsistent state: {what}")]
    Inconsistent {
        /// What contradicts what.
        what: String,
    },
}

impl StateError {
    /// A stable, language-neutral code for conformance vectors.
    pub fn code(&self) -> &'static str {
        match self {
            StateError::Json { .. } => "state_json",
            StateError::Record { kind, .. } => kind.code(),
            StateError::Outbox(e) => e.kind.code(),
            StateError::Inconsistent { .. } => "state_inconsistent",
        }
    }
}

/// A storage-boundary call that lacked a record it needed: the caller did
/// not read everything the operation's read set names (PROTOCOL.md P1).
/// Nothing changed. A caller's bug, never the fault of the input.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
#[error("record {table}/{id} was not read, but the operation touches it")]
pub struct NotRead {
    /// The record's table.
    pub table: String,
    /// The record's id.
    pub id: String,
}

impl NotRead {
    /// The stable code: `not_read`.
    pub fn code(&self) -> &'static str {
        "not_read"
    }
}

/// A stored log that no server could have written (PROTOCOL.md P2), found
/// while rebuilding a server from it; nothing is built.
#[derive(Clone, PartialEq, Eq, Debug, Error)]
#[non_exhaustive]
pub enum LogError {
    /// The log's server sequence numbers are not `1, 2, ...`.
    #[error("log entry {index} has server_seq {found:?}, expected {expected}")]
    NotConsecutive {
        /// The entry's position in the log.
        index: usize,
        /// The sequence number it must carry.
        expected: u64,
        /// What it carries.
        found: Option<u64>,
    },
    /// A client's pushed changes do not carry `client_seq` 1, 2, ... in log
    /// order (the server appends a client's changes in sequence, R12.1).
    #[error(
        "log entry {index} of client {client_id:?} has client_seq {found}, expected {expected}"
    )]
    SeqOrder {
        /// The entry's position in the log.
        index: usize,
        /// The client.
        client_id: String,
        /// The sequence number it must carry.
        expected: u64,
        /// What it carries.
        found: u64,
    },
    /// A stored client row's `last_seq` is not the last `client_seq` the log
    /// holds for that client.
    #[error("client {client_id:?}: the stored last_seq {stored} is not the log's {logged}")]
    ClientRow {
        /// The client.
        client_id: String,
        /// The row's `last_seq`.
        stored: u64,
        /// The last `client_seq` of the client in the log (0 for none).
        logged: u64,
    },
}

impl LogError {
    /// A stable, language-neutral code: `log_inconsistent`.
    pub fn code(&self) -> &'static str {
        "log_inconsistent"
    }
}

/// A server configuration that could not work (SPEC R12.2, R12.3).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A negative skew refuses every push.
    #[error("skew_ms_max {skew_ms_max} is negative: every push would be refused")]
    NegativeSkew {
        /// The refused skew.
        skew_ms_max: i64,
    },
    /// Pages of no change never move a cursor.
    #[error("page_size_max is 0: a pull would never move a cursor")]
    EmptyPages,
    /// A log's name is a name: 1 to 256 bytes (SPEC R12.7, R11.6).
    #[error("a log's name is 1 to 256 bytes, not {length}")]
    BadLogName {
        /// The refused name's length in bytes.
        length: usize,
    },
}

impl ConfigError {
    /// The stable code: `bad_config`.
    pub fn code(&self) -> &'static str {
        "bad_config"
    }
}

/// The JSON form of every error (SPEC R13.1): `{code, message, index?,
/// field?}`, with the stable code of the error, its message, and, where the
/// error names them, the change's position and the field.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ErrorBody {
    /// The stable code (`bad_name`, `clock_ahead`, ...).
    pub code: String,
    /// What was wrong, for people.
    pub message: String,
    /// The position of the change (in a batch, push, page or outbox).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// The field concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ErrorBody {
    pub(crate) fn new(code: &str, message: &dyn std::fmt::Display) -> ErrorBody {
        ErrorBody {
            code: code.to_owned(),
            message: message.to_string(),
            index: None,
            field: None,
        }
    }
}
