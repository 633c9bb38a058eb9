//! # fieldmerge
//!
//! The merge kernel of a local-first sync system: records are maps of
//! per-field registers, merged with field-level last-writer-wins, and a
//! conflict is reported only when a real user edit loses to a write that had
//! not seen it. The kernel is pure: no I/O, no clock, no randomness, no
//! threads. Time, writer ids and seeds are arguments.
//!
//! The normative rules live in `spec/SPEC.md` (R1-R13); every item below
//! names the rule it implements.
//!
//! ## A tour
//! - [`Timestamp`] (R2): milliseconds, one canonical wire spelling.
//! - [`Actor`] and [`Origin`] (R3): who wrote a field.
//! - [`Register`], [`Version`], [`Base`] (R1, R4): one field, its total order.
//! - [`decide`], [`Context`] and [`Decision`] (R6): the one place a field's
//!   decision is made, and which rule made it.
//! - [`Record`] and [`derive_updated_at`] (R7-R9): fields, last change, shadow
//!   index, tombstone; [`Records`] a read-only view of many.
//! - [`Change`] (R11): the validated change and its wire format.
//! - [`Replica`] (R2, R5, R6, R10): local writes, applies, pages, replies,
//!   merges, the outbox, the clock.
//! - [`Server`] (R12): the in-memory server: pushes, the log, pages, agent and
//!   bootstrap writes, a restart from the log ([`Server::from_log`]).
//! - The messages [`Push`], [`Pull`], [`Page`], [`PushReply`] and every
//!   result and error ([`ErrorBody`]) have one JSON form (R13.1).
//!
//! ## Over the caller's storage (sans-IO)
//! The kernel never touches storage (`spec/PROTOCOL.md`, SPEC R13). A client
//! whose records live in IndexedDB or SQLite uses [`StoredReplica`]: it
//! provides the records an operation reads and stores the ones the result
//! lists as changed, in one transaction with [`StoredReplica::meta`]. A
//! server whose log lives in Postgres calls [`plan_push`] with what
//! [`PushReads`] says to read and stores the [`PushPlan`];
//! [`plan_write`] and [`plan_bootstrap`] do the same for server-side writes.
//!
//! ## Example: two devices and a server
//! ```
//! use fieldmerge::{Actor, RecordKey, Replica, Server, ServerConfig, Timestamp, WriterId};
//! use serde_json::json;
//!
//! let t = |ms: i64| Timestamp::from_ms(1_777_197_600_000 + ms).unwrap();
//! let obj = |v: serde_json::Value| v.as_object().unwrap().clone();
//! let key = RecordKey::new("tasks", "t1");
//! let mut server = Server::new(ServerConfig::default());
//! let mut phone = Replica::new(WriterId::new("phone"));
//! let mut laptop = Replica::new(WriterId::new("laptop"));
//!
//! // Both start from the same task.
//! phone.write(&key, &Actor::User, &obj(json!({"title": "Milk", "done": false})), t(0)).unwrap();
//! let reply = server.push(&phone.push(), t(1)).unwrap();
//! phone.receive_reply(&reply).unwrap();
//! laptop.apply_page(&server.pull(0, 100)).unwrap();
//!
//! // Offline, each edits the title; the laptop's edit is later.
//! phone.write(&key, &Actor::User, &obj(json!({"title": "Oat milk"})), t(10)).unwrap();
//! laptop.write(&key, &Actor::User, &obj(json!({"title": "Soy milk"})), t(20)).unwrap();
//!
//! // The laptop syncs first; the phone pulls before pushing.
//! let reply = server.push(&laptop.push(), t(21)).unwrap();
//! laptop.receive_reply(&reply).unwrap();
//! let report = phone.apply_page(&server.pull(phone.cursor().unwrap(), 100)).unwrap();
//!
//! // The phone's pending edit lost to a write that had not seen it: one conflict.
//! assert_eq!(report.conflicts.len(), 1);
//! assert!(report.conflicts[0].loser_is_local);
//! assert_eq!(phone.record(&key).unwrap().field("title").unwrap().value, json!("Soy milk"));
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![deny(rustdoc::broken_intra_doc_links)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod change;
mod classify;
mod error;
mod ext;
mod fast;
mod forms;
mod json;
mod memory;
mod merge;
mod number;
mod origin;
mod patch;
mod protocol;
mod quarantine;
mod record;
mod records;
mod register;
mod replica;
mod report;
mod server;
mod skew;
mod state;
mod stored;
mod text;
mod timestamp;

pub use crate::change::{
    decode_change_values, decode_changes, encode_changes, read_json, Change, Op,
    FIELDS_PER_CHANGE_MAX, NAME_BYTES_MAX,
};
pub use crate::classify::{decide, ConflictRule, Context, Decision, Delivery, Silence};
pub use crate::error::{
    ChangeError, ChangeErrorKind, ClockCorrection, ConfigError, ErrorBody, LogError, NotRead,
    PageError, PushError, StateError, WriteError,
};
pub use crate::ext::{Ext, EXT_BYTES_MAX};
pub use crate::forms::{decode_log, encode_log, read_form};
pub use crate::json::{canonical_value, cmp_values, value_depth, values_equal, VALUE_DEPTH_MAX};
pub use crate::memory::Server;
pub use crate::number::SAFE_INTEGER_MAX;
pub use crate::origin::{Actor, Origin, SYSTEM_BOOTSTRAP, SYSTEM_MIGRATION};
pub use crate::protocol::{Page, Pull, Push, PushReply};
pub use crate::quarantine::Quarantined;
pub use crate::record::{
    derive_updated_at, Record, RecordKey, FIELD_META_KEY, SHADOW_FIELD, TOMBSTONE_FIELD,
};
pub use crate::records::Records;
pub use crate::register::{Base, Register, Version, WriterId};
pub use crate::replica::{Clock, Replica};
pub use crate::report::{Anomaly, ApplyReport, Conflict, HiddenEdit, Tally};
pub use crate::server::{
    plan_bootstrap, plan_push, plan_write, ClientRow, LogHead, PushContext, PushOutcome, PushPlan,
    PushReads, PushRefusal, ServerConfig, WritePlan,
};
pub use crate::state::{
    record_from_json, record_to_json, register_to_json, ClockState, ReplicaState,
};
pub use crate::stored::{StoredError, StoredReplica};
pub use crate::text::canonical_json;
pub use crate::timestamp::{Timestamp, TimestampError};

// The README's example is compiled and run as a doctest, so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
struct ReadmeDoctests;
