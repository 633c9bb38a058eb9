//! Conformance vectors (issue #3): the language-neutral test format of
//! `spec/vectors/` and its runner.
//!
//! A vector file is JSON: an initial setup (named replicas, each a
//! [`ReplicaState`], and the server's limits) and a list of steps, each with
//! an optional `expect` block. `spec/vectors/README.md` documents every
//! member; this module parses that format, drives an [`Engine`] through the
//! steps and compares what the engine observes with what the vector expects.
//!
//! The runner is engine-neutral: it speaks to an implementation only through
//! the [`Engine`] trait, with JSON in and JSON out, so the same files check
//! the kernel ([`KernelEngine`]), the reference model of the test suite, and
//! (through their own runners) implementations in other languages.
//!
//! Architecture invariant: the kernel never touches the file system; the
//! directory runner [`run_paths`] here, which belongs to the harness, is the
//! only code of the crate that reads files.
//!
//! # Example
//! ```
//! use fieldmerge_harness::vectors::{run_vector, KernelEngine};
//! use serde_json::json;
//! let vector = json!({
//!     "description": "a create stamps every field",
//!     "rules": ["R5.1"],
//!     "replicas": {"phone": {"client_id": "phone"}},
//!     "steps": [{
//!         "op": "write", "replica": "phone", "table": "tasks", "id": "t1",
//!         "actor": {"kind": "user"}, "now": "2026-04-26T10:00:00.000Z",
//!         "patch": {"title": "a"},
//!         "expect": {"derive_updated_at": [
//!             {"table": "tasks", "id": "t1", "at": "2026-04-26T10:00:00.000Z"}
//!         ]}
//!     }]
//! });
//! let result = run_vector(&mut KernelEngine::default(), &vector, "inline").unwrap();
//! assert!(result.passed(), "{}", result.render());
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use fieldmerge::cmp_values;
use fieldmerge::Actor;
use fieldmerge::ApplyReport;
use fieldmerge::ClockCorrection;
use fieldmerge::Delivery;
use fieldmerge::Timestamp;
use fieldmerge::{decode_change_values, decode_changes, Change, Records};
use fieldmerge::{derive_updated_at, RecordKey};
use fieldmerge::{record_to_json, ReplicaState};
use fieldmerge::{Page, Server, ServerConfig};
use fieldmerge::{Push, Replica};
use fieldmerge::{Register, WriterId};

// ---------------------------------------------------------------------------
// The engine abstraction.
// ---------------------------------------------------------------------------

/// An implementation of the spec that vectors can drive: the kernel, a
/// reference model, or an adapter to another language.
///
/// Everything crosses this boundary as data in the JSON forms of
/// `spec/vectors/README.md`, so an engine need not share any type with the
/// kernel. The runner owns parsing and comparison; the engine only executes.
///
/// Contract: [`Engine::start`] resets the engine completely; a step that
/// returns an error must leave every replica and the server unchanged.
pub trait Engine {
    /// Forgets everything and starts a vector: an empty server with `server`'s
    /// limits, and no replica.
    fn start(&mut self, server: ServerSetup);

    /// Creates (or replaces) the replica `name` from a `ReplicaState` JSON
    /// value (SPEC R12.5).
    ///
    /// # Errors
    /// A [`Failure`] with a `StateError` code when the state cannot be loaded.
    fn load_replica(&mut self, name: &str, state: &Value) -> Result<(), Failure>;

    /// Executes one step. The runner has checked that every replica the step
    /// names exists. Returns the step's outputs: any of `change`, `conflicts`,
    /// `anomalies`, `hidden_edits`, `tally`, `acked_through`, `appended`,
    /// `derived`, `order` (see [`Output`]).
    ///
    /// # Errors
    /// A [`Failure`] carrying the implementation's stable error code.
    fn step(&mut self, step: &Step) -> Result<Output, Failure>;

    /// What the replica `name` holds now, or `None` when there is no such
    /// replica: the members `records`, `outbox`, `next_seq`, `cursor`,
    /// `hydrating`, `clock` (the `ReplicaState` form), plus
    /// `derive_updated_at` and `deleted` (one entry per record, in record
    /// order: `{table, id, at}` and `{table, id, deleted}`).
    fn observe_replica(&self, name: &str) -> Option<Map<String, Value>>;

    /// What the server holds now: `server_records` (materialized state, in
    /// the record form), `server_log` (wire changes with `server_seq`) and
    /// `server_head`.
    fn observe_server(&self) -> Map<String, Value>;
}

/// The server's limits for one vector (SPEC R12.1-R12.3) and its log's
/// name (R12.7).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ServerSetup {
    /// How far ahead of the server's `now` a pushed `at` may be.
    pub skew_ms_max: i64,
    /// The most changes one page carries.
    pub page_size_max: usize,
    /// The log's name; `None` for an unnamed log.
    pub log: Option<String>,
}

impl Default for ServerSetup {
    fn default() -> ServerSetup {
        let config = ServerConfig::default();
        ServerSetup {
            skew_ms_max: config.skew_ms_max(),
            page_size_max: config.page_size_max(),
            log: None,
        }
    }
}

/// A record key as a step names it: `table` and `id`, or a singleton's
/// `kind` and `scope` (SPEC R10.2), which the engine derives.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum KeySpec {
    /// An explicit key.
    Key {
        /// The table.
        table: String,
        /// The record id.
        id: String,
    },
    /// A singleton: table `kind`, id `kind:scope` (SPEC R10.2).
    Singleton {
        /// The singleton's kind.
        kind: String,
        /// Its scope (a user or space id).
        scope: String,
    },
}

/// One parsed step of a vector. Timestamps are parsed; wire changes, pages
/// and states stay JSON, because decoding them is part of what is tested.
#[derive(Clone, PartialEq, Debug)]
pub enum Step {
    /// A local write (SPEC R5).
    Write {
        /// The replica.
        replica: String,
        /// The record.
        key: KeySpec,
        /// The writing actor.
        actor: Actor,
        /// The fields to write.
        patch: Map<String, Value>,
        /// The wall time.
        now: Timestamp,
        /// The change's extension slot, unchecked (SPEC R11.8).
        ext: Option<Value>,
    },
    /// A soft delete (SPEC R9.1).
    Delete {
        /// The replica.
        replica: String,
        /// The record.
        key: KeySpec,
        /// The deleting actor.
        actor: Actor,
        /// The wall time.
        now: Timestamp,
        /// The change's extension slot, unchecked (SPEC R11.8).
        ext: Option<Value>,
    },
    /// A restore (SPEC R9.1).
    Restore {
        /// The replica.
        replica: String,
        /// The record.
        key: KeySpec,
        /// The restoring actor.
        actor: Actor,
        /// The wall time.
        now: Timestamp,
        /// The change's extension slot, unchecked (SPEC R11.8).
        ext: Option<Value>,
    },
    /// A client-side bootstrap placeholder (SPEC R10).
    Bootstrap {
        /// The replica.
        replica: String,
        /// The singleton.
        key: KeySpec,
        /// Its default fields.
        fields: Map<String, Value>,
    },
    /// Op-based apply of a batch of wire changes (SPEC R6, R11).
    Apply {
        /// The replica.
        replica: String,
        /// The wire changes, undecoded.
        changes: Value,
        /// Live or part of an initial hydration round.
        delivery: Delivery,
    },
    /// Applies a literal page `{after, changes, head, log?}` (SPEC R6.5,
    /// R12.7).
    Page {
        /// The replica.
        replica: String,
        /// The cursor the page continues.
        after: u64,
        /// The wire changes, undecoded, each with its `server_seq`.
        changes: Value,
        /// The log's head.
        head: u64,
        /// The log's name, when the page names it.
        log: Option<String>,
    },
    /// Receives a push reply in one call: acknowledges through
    /// `acked_through` and applies the page `{after, changes, head}`, or
    /// changes nothing when the page does not continue the cursor (SPEC
    /// R13.4).
    ReceiveReply {
        /// The replica.
        replica: String,
        /// The reply's acknowledgement.
        acked_through: Option<u64>,
        /// The cursor the reply's page continues.
        after: u64,
        /// The page's wire changes, undecoded.
        changes: Value,
        /// The log's head.
        head: u64,
    },
    /// Drops the outbox up to a `client_seq` (SPEC R12.1).
    Ack {
        /// The replica.
        replica: String,
        /// The acknowledged `client_seq`; `None` acknowledges nothing.
        through: Option<u64>,
    },
    /// State-based merge of another replica into this one (SPEC R4.5, R6.6).
    Merge {
        /// The replica that merges.
        replica: String,
        /// What it merges.
        from: MergeSource,
    },
    /// Pushes the replica's outbox at server time `now`, acknowledges, and
    /// applies the reply's page (SPEC R12.1).
    Push {
        /// The replica.
        replica: String,
        /// The server's time.
        now: Timestamp,
    },
    /// A literal push, as a (possibly misbehaving) client sends it (SPEC R12.1).
    PushRaw {
        /// The pushing client.
        client_id: String,
        /// The wire changes, undecoded.
        changes: Value,
        /// The client's cursor.
        cursor: u64,
        /// The push's clock epoch (SPEC R12.4; 0 when the step names none).
        clock_epoch: u64,
        /// The server's time.
        now: Timestamp,
    },
    /// Pulls one page after the replica's cursor and applies it (SPEC R12.2).
    Pull {
        /// The replica.
        replica: String,
        /// The most changes the page may carry; `None` for the server's limit.
        limit: Option<usize>,
    },
    /// An agent or server-side write straight into the log (SPEC R12.4).
    ServerWrite {
        /// The writer's id.
        writer: String,
        /// The writing actor.
        actor: Actor,
        /// The record.
        key: KeySpec,
        /// The fields to write.
        patch: Map<String, Value>,
        /// The server's time.
        now: Timestamp,
        /// The change's extension slot, unchecked (SPEC R11.8).
        ext: Option<Value>,
    },
    /// The server-side bootstrap of a singleton (SPEC R10.3).
    ServerBootstrap {
        /// The singleton.
        key: KeySpec,
        /// Its default fields.
        fields: Map<String, Value>,
    },
    /// The server restarts from what it stored: its log and its client
    /// table, through their JSON forms (SPEC R13.2).
    RestartServer,
    /// Forgets the replica's cursor: the next pull is an initial hydration
    /// round (SPEC R6.4).
    ResetCursor {
        /// The replica.
        replica: String,
    },
    /// The clock correction after `clock_ahead` (SPEC R12.4).
    CorrectClock {
        /// The replica.
        replica: String,
        /// The server's time from the refusal.
        server_now: Timestamp,
        /// The clock epoch the refusal demands; `None` for the replica's
        /// own plus one (a fresh refusal).
        clock_epoch: Option<u64>,
        /// The log's high stamp from the refusal; `None` for the greatest
        /// `at` the vector's server holds now.
        log_high: Option<Timestamp>,
        /// The replica's wall time.
        now: Timestamp,
    },
    /// Replaces a replica by a state (SPEC R12.5).
    Load {
        /// The replica (created when new).
        replica: String,
        /// The `ReplicaState` JSON.
        state: Value,
    },
    /// `derive_updated_at` of a stored row in the replaced system's shape
    /// (SPEC R7.2).
    DeriveRow {
        /// The row, any JSON value.
        row: Value,
    },
    /// Reads JSON text under the value model and writes it back canonical
    /// (SPEC R4.4, R11.4, R11.7).
    ReadJson {
        /// The text.
        text: String,
    },
    /// The importer (SPEC R14): the replaced system's rows, served changes
    /// or a device's export, as text.
    Import {
        /// `rows`, `served` or `device`.
        kind: String,
        /// The input text.
        input: String,
        /// The device's client id (for `device`).
        client_id: Option<String>,
    },
    /// The total order of JSON values (SPEC R4.4).
    CompareValues {
        /// The left value.
        a: Value,
        /// The right value.
        b: Value,
    },
    /// Does nothing: a place for an `expect` block about any replica.
    Check {
        /// The replica the expectations observe.
        replica: Option<String>,
    },
}

/// Where a merge step's other replica comes from.
#[derive(Clone, PartialEq, Debug)]
pub enum MergeSource {
    /// Another replica of the vector, by name.
    Replica(String),
    /// A literal `ReplicaState` JSON value.
    State(Value),
}

impl Step {
    /// The step's `op` spelling in the vector format.
    pub fn op(&self) -> &'static str {
        match self {
            Step::Write { .. } => "write",
            Step::Delete { .. } => "delete",
            Step::Restore { .. } => "restore",
            Step::Bootstrap { .. } => "bootstrap",
            Step::Apply { .. } => "apply",
            Step::Page { .. } => "page",
            Step::ReceiveReply { .. } => "receive_reply",
            Step::Ack { .. } => "ack",
            Step::Merge { .. } => "merge",
            Step::Push { .. } => "push",
            Step::PushRaw { .. } => "push_raw",
            Step::Pull { .. } => "pull",
            Step::ServerWrite { .. } => "server_write",
            Step::ServerBootstrap { .. } => "server_bootstrap",
            Step::ResetCursor { .. } => "reset_cursor",
            Step::RestartServer => "restart_server",
            Step::CorrectClock { .. } => "correct_clock",
            Step::Load { .. } => "load",
            Step::DeriveRow { .. } => "derive_row",
            Step::CompareValues { .. } => "compare_values",
            Step::ReadJson { .. } => "read_json",
            Step::Import { .. } => "import",
            Step::Check { .. } => "check",
        }
    }

    /// The replica the step acts on, if any.
    pub fn replica(&self) -> Option<&str> {
        match self {
            Step::Write { replica, .. }
            | Step::Delete { replica, .. }
            | Step::Restore { replica, .. }
            | Step::Bootstrap { replica, .. }
            | Step::Apply { replica, .. }
            | Step::Page { replica, .. }
            | Step::ReceiveReply { replica, .. }
            | Step::Ack { replica, .. }
            | Step::Merge { replica, .. }
            | Step::Push { replica, .. }
            | Step::Pull { replica, .. }
            | Step::ResetCursor { replica, .. }
            | Step::CorrectClock { replica, .. }
            | Step::Load { replica, .. } => Some(replica),
            Step::Check { replica } => replica.as_deref(),
            Step::PushRaw { .. }
            | Step::ServerWrite { .. }
            | Step::ServerBootstrap { .. }
            | Step::RestartServer
            | Step::DeriveRow { .. }
            | Step::ReadJson { .. }
            | Step::Import { .. }
            | Step::CompareValues { .. } => None,
        }
    }
}

/// What a step returned, by output name: `change` (the written wire change
/// or `null`), `conflicts`, `anomalies`, `hidden_edits`, `tally` (the report
/// of an apply, page, merge, push or pull), `acked_through` and `appended`
/// (a push), `derived` (`derive_row`), `order` (`compare_values`: -1, 0 or 1).
pub type Output = Map<String, Value>;

/// A step that the engine refused, with the implementation's stable error
/// code (SPEC R11.5: `ChangeErrorKind::code`, `WriteError::code`,
/// `PushError::code`, `PageError::code`, `StateError::code`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Failure {
    /// The stable code, such as `bad_timestamp` or `clock_ahead`.
    pub code: String,
    /// For a change error: the change's position in its batch.
    pub index: Option<usize>,
    /// For a change or state error about one field: the field.
    pub field: Option<String>,
    /// The human-readable message (never compared).
    pub message: String,
}

impl Failure {
    /// The error's JSON form: `{code, index?, field?, message}`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("code".into(), Value::from(self.code.as_str()));
        if let Some(index) = self.index {
            m.insert("index".into(), Value::from(index));
        }
        if let Some(field) = &self.field {
            m.insert("field".into(), Value::from(field.as_str()));
        }
        m.insert("message".into(), Value::from(self.message.as_str()));
        Value::Object(m)
    }
}

// ---------------------------------------------------------------------------
// The kernel as an engine.
// ---------------------------------------------------------------------------

/// The kernel ([`Replica`], [`Server`]) as an [`Engine`].
#[derive(Clone, Debug)]
pub struct KernelEngine {
    server: Server,
    replicas: BTreeMap<String, Replica>,
}

impl Default for KernelEngine {
    fn default() -> KernelEngine {
        KernelEngine {
            server: Server::new(ServerConfig::default()),
            replicas: BTreeMap::new(),
        }
    }
}

impl KernelEngine {
    /// The replica `name`, if the vector created it.
    pub fn replica(&self, name: &str) -> Option<&Replica> {
        self.replicas.get(name)
    }

    /// The server.
    pub fn server(&self) -> &Server {
        &self.server
    }

    fn replica_mut(&mut self, name: &str) -> Result<&mut Replica, Failure> {
        self.replicas.get_mut(name).ok_or_else(|| Failure {
            code: "no_such_replica".into(),
            index: None,
            field: None,
            message: format!("no replica {name:?}"),
        })
    }
}

impl Engine for KernelEngine {
    fn start(&mut self, server: ServerSetup) {
        // The runner checked the setup (`parse_server`), so it is valid.
        let config = ServerConfig::new(server.skew_ms_max, server.page_size_max);
        let fresh = Server::new(config.unwrap_or_default());
        self.server = match &server.log {
            Some(log) => fresh.clone().with_log_name(log).unwrap_or(fresh),
            None => fresh,
        };
        self.replicas.clear();
    }

    fn load_replica(&mut self, name: &str, state: &Value) -> Result<(), Failure> {
        let replica = load_state(state)?;
        self.replicas.insert(name.to_owned(), replica);
        Ok(())
    }

    fn step(&mut self, step: &Step) -> Result<Output, Failure> {
        let mut out = Output::new();
        match step {
            Step::Write {
                replica,
                key,
                actor,
                patch,
                now,
                ext,
            } => {
                let ext = checked_ext(ext.as_ref())?;
                let replica = self.replica_mut(replica)?;
                let change = match &ext {
                    None => replica.write(&record_key(key), actor, patch, *now),
                    Some(ext) => replica.write_ext(&record_key(key), actor, patch, *now, ext),
                }
                .map_err(|e| failure(e.code(), &e))?;
                out.insert("change".into(), change_json(change));
            }
            Step::Delete {
                replica,
                key,
                actor,
                now,
                ext,
            } => {
                let ext = checked_ext(ext.as_ref())?;
                let replica = self.replica_mut(replica)?;
                let change = match &ext {
                    None => replica.delete(&record_key(key), actor, *now),
                    Some(ext) => replica.delete_ext(&record_key(key), actor, *now, ext),
                }
                .map_err(|e| failure(e.code(), &e))?;
                out.insert("change".into(), change_json(change));
            }
            Step::Restore {
                replica,
                key,
                actor,
                now,
                ext,
            } => {
                let ext = checked_ext(ext.as_ref())?;
                let replica = self.replica_mut(replica)?;
                let change = match &ext {
                    None => replica.restore(&record_key(key), actor, *now),
                    Some(ext) => replica.restore_ext(&record_key(key), actor, *now, ext),
                }
                .map_err(|e| failure(e.code(), &e))?;
                out.insert("change".into(), change_json(change));
            }
            Step::Bootstrap {
                replica,
                key,
                fields,
            } => {
                let change = self
                    .replica_mut(replica)?
                    .bootstrap(&record_key(key), fields)
                    .map_err(|e| failure(e.code(), &e))?;
                out.insert("change".into(), change_json(change));
            }
            Step::Apply {
                replica,
                changes,
                delivery,
            } => {
                let changes = decode(changes)?;
                let report = self.replica_mut(replica)?.apply(&changes, *delivery);
                out.extend(report_json(&report));
            }
            Step::Page {
                replica,
                after,
                changes,
                head,
                log,
            } => {
                // SPEC R12.6: a page is read as a page, entry by entry.
                let text = named_page_text(*after, changes, *head, log.as_deref());
                let page = Page::from_json(text.as_bytes()).map_err(decode_failure)?;
                let report = self
                    .replica_mut(replica)?
                    .apply_page(&page)
                    .map_err(|e| failure(e.code(), &e))?;
                out.extend(report_json(&report));
            }
            Step::ReceiveReply {
                replica,
                acked_through,
                after,
                changes,
                head,
            } => {
                let reply = format!(
                    r#"{{"acked_through":{},"appended":0,"page":{},"report":{}}}"#,
                    acked_through.map_or("null".to_owned(), |n| n.to_string()),
                    page_text(*after, changes, *head),
                    fieldmerge::canonical_json(
                        &serde_json::to_value(ApplyReport::default()).unwrap_or_default()
                    ),
                );
                let reply =
                    fieldmerge::PushReply::from_json(reply.as_bytes()).map_err(decode_failure)?;
                let report = self
                    .replica_mut(replica)?
                    .receive_reply(&reply)
                    .map_err(|e| failure(e.code(), &e))?;
                out.extend(report_json(&report));
            }
            Step::Ack { replica, through } => self.replica_mut(replica)?.ack(*through),
            Step::Merge { replica, from } => {
                let other = match from {
                    MergeSource::Replica(name) => self.replica_mut(name)?.clone(),
                    MergeSource::State(state) => load_state(state)?,
                };
                let report = self.replica_mut(replica)?.merge(&other);
                out.extend(report_json(&report));
            }
            Step::Push { replica, now } => {
                let push = self.replica_mut(replica)?.push();
                let reply = self
                    .server
                    .push(&push, *now)
                    .map_err(|e| failure(e.code(), &e))?;
                // SPEC R13.1: the reply is received in one call.
                let report = self
                    .replica_mut(replica)?
                    .receive_reply(&reply)
                    .map_err(|e| failure(e.code(), &e))?;
                out.insert("acked_through".into(), opt_u64(reply.acked_through));
                out.insert("appended".into(), Value::from(reply.appended));
                out.insert("message".into(), push.to_json());
                out.insert(
                    "reply".into(),
                    serde_json::to_value(&reply).unwrap_or_default(),
                );
                out.extend(report_json(&report));
            }
            Step::PushRaw {
                client_id,
                changes,
                cursor,
                clock_epoch,
                now,
            } => {
                let push = Push {
                    client_id: WriterId::new(client_id),
                    changes: decode(changes)?,
                    cursor: *cursor,
                    clock_epoch: *clock_epoch,
                };
                let reply = self
                    .server
                    .push(&push, *now)
                    .map_err(|e| failure(e.code(), &e))?;
                out.insert("acked_through".into(), opt_u64(reply.acked_through));
                out.insert("appended".into(), Value::from(reply.appended));
                out.extend(report_json(&reply.report));
            }
            Step::Pull { replica, limit } => {
                let limit = limit.unwrap_or(self.server.config().page_size_max());
                let cursor = self.replica_mut(replica)?.cursor().unwrap_or(0);
                let page = self.server.pull(cursor, limit);
                let report = self
                    .replica_mut(replica)?
                    .apply_page(&page)
                    .map_err(|e| failure(e.code(), &e))?;
                out.extend(report_json(&report));
            }
            Step::ServerWrite {
                writer,
                actor,
                key,
                patch,
                now,
                ext,
            } => {
                let ext = checked_ext(ext.as_ref())?;
                let (writer, key) = (WriterId::new(writer), record_key(key));
                let change = match &ext {
                    None => self.server.write(&writer, actor, &key, patch, *now),
                    Some(ext) => self
                        .server
                        .write_ext(&writer, actor, &key, patch, *now, ext),
                }
                .map_err(|e| failure(e.code(), &e))?;
                out.insert("change".into(), change_json(change));
            }
            Step::ServerBootstrap { key, fields } => {
                let change = self
                    .server
                    .bootstrap(&record_key(key), fields)
                    .map_err(|e| failure(e.code(), &e))?;
                out.insert("change".into(), change_json(change));
            }
            Step::ResetCursor { replica } => self.replica_mut(replica)?.reset_cursor(),
            Step::RestartServer => {
                // SPEC R13.2: only the stored forms cross the restart.
                let log = fieldmerge::encode_changes(self.server.log());
                let clients: Vec<(WriterId, fieldmerge::ClientRow)> = self
                    .server
                    .clients()
                    .map(|(id, row)| (id.clone(), row))
                    .collect();
                let clients = serde_json::to_value(&clients).map_err(|e| failure("json", &e))?;
                let log = decode_change_values(&log).map_err(|e| failure(e.kind.code(), &e))?;
                let clients =
                    serde_json::from_value::<Vec<(WriterId, fieldmerge::ClientRow)>>(clients)
                        .map_err(|e| failure("json", &e))?;
                self.server = Server::from_log(self.server.config(), log, clients)
                    .map_err(|e| failure(e.code(), &e))?;
            }
            Step::CorrectClock {
                replica,
                server_now,
                clock_epoch,
                log_high,
                now,
            } => {
                // The replica corrects against the skew and the log of the
                // vector's server, the one that refused its push (SPEC R12.4).
                let skew_ms_max = self.server.config().skew_ms_max();
                let log_high = log_high.unwrap_or(self.server.log_head().high);
                let target = self.replica_mut(replica)?;
                let correction = ClockCorrection {
                    server_now: *server_now,
                    skew_ms_max,
                    log_high,
                    clock_epoch: clock_epoch.unwrap_or(target.clock().epoch + 1),
                };
                target
                    .correct_clock(&correction, *now)
                    .map_err(|e| failure(e.code(), &e))?
            }
            Step::Load { replica, state } => self.load_replica(replica, state)?,
            Step::DeriveRow { row } => {
                out.insert("derived".into(), opt_ts(derive_updated_at(row)));
            }
            Step::CompareValues { a, b } => {
                out.insert("order".into(), Value::from(cmp_values(a, b) as i8));
            }
            Step::ReadJson { text } => {
                out.insert("canonical".into(), read_json_step(text)?);
            }
            Step::Import {
                kind,
                input,
                client_id,
            } => out.extend(import_step(kind, input, client_id.as_deref())?),
            Step::Check { .. } => {}
        }
        Ok(out)
    }

    fn observe_replica(&self, name: &str) -> Option<Map<String, Value>> {
        let replica = self.replicas.get(name)?;
        let state = ReplicaState::of(replica);
        let mut m = Map::new();
        m.insert("records".into(), Value::Array(state.records));
        m.insert("outbox".into(), Value::Array(state.outbox));
        m.insert("next_seq".into(), Value::from(replica.next_seq()));
        m.insert("cursor".into(), opt_u64(replica.cursor()));
        m.insert("hydrating".into(), Value::from(replica.is_hydrating()));
        let clock = replica.clock();
        let mut clock_json = serde_json::json!({
            "seen": clock.seen.to_string(),
            "stamped": clock.stamped.to_string(),
            "offset_ms": clock.offset_ms,
        });
        // As in the persisted state: the epoch only once it is not 0.
        if clock.epoch > 0 {
            clock_json["epoch"] = Value::from(clock.epoch);
        }
        m.insert("clock".into(), clock_json);
        m.insert("derive_updated_at".into(), derived_list(replica.records()));
        m.insert("deleted".into(), deleted_list(replica.records()));
        Some(m)
    }

    fn observe_server(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert(
            "server_records".into(),
            Value::Array(
                self.server
                    .records()
                    .iter()
                    .map(|(k, r)| record_to_json(k, r))
                    .collect(),
            ),
        );
        m.insert(
            "server_log".into(),
            Value::Array(self.server.log().iter().map(Change::to_wire).collect()),
        );
        m.insert("server_head".into(), Value::from(self.server.head()));
        m
    }
}

/// A report in its JSON form (SPEC R13.1, the kernel's own serde form):
/// `conflicts`, `anomalies`, `hidden_edits`, `tally`, `changed`.
pub fn report_json(report: &ApplyReport) -> Map<String, Value> {
    match serde_json::to_value(report) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    }
}

/// The tally counters a report carries, in the order of `spec/vectors/README.md`.
pub const TALLY_NAMES: [&str; 10] = [
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
];

/// A register in the record JSON form: `{value, at, origin, by, base?}`.
pub fn register_json(reg: &Register) -> Value {
    fieldmerge::register_to_json(reg)
}

fn derived_list(records: Records<'_>) -> Value {
    records
        .iter()
        .map(|(k, r)| {
            serde_json::json!({"table": k.table, "id": k.id, "at": opt_ts(r.derive_updated_at())})
        })
        .collect()
}

fn deleted_list(records: Records<'_>) -> Value {
    records
        .iter()
        .map(|(k, r)| serde_json::json!({"table": k.table, "id": k.id, "deleted": r.is_deleted()}))
        .collect()
}

fn record_key(key: &KeySpec) -> RecordKey {
    match key {
        KeySpec::Key { table, id } => RecordKey::new(table, id),
        KeySpec::Singleton { kind, scope } => RecordKey::singleton(kind, scope),
    }
}

fn load_state(state: &Value) -> Result<Replica, Failure> {
    let parsed: ReplicaState = serde_json::from_value(state.clone()).map_err(|e| Failure {
        code: "state_json".into(),
        index: None,
        field: None,
        message: e.to_string(),
    })?;
    parsed.load().map_err(|e| {
        let (index, field) = match &e {
            fieldmerge::StateError::Record { field, .. } => (None, Some(field.clone())),
            fieldmerge::StateError::Outbox(c) => (Some(c.index), c.field.clone()),
            _ => (None, None),
        };
        Failure {
            code: e.code().into(),
            index,
            field,
            message: e.to_string(),
        }
    })
}

fn decode(changes: &Value) -> Result<Vec<Change>, Failure> {
    // A string is the raw text of the batch, so that vectors can pin the
    // `json` error of text that does not parse.
    let decoded = match changes {
        Value::String(text) => decode_changes(text.as_bytes()),
        other => decode_change_values(other),
    };
    decoded.map_err(decode_failure)
}

fn decode_failure(e: fieldmerge::ChangeError) -> Failure {
    Failure {
        code: e.kind.code().into(),
        index: Some(e.index),
        field: e.field.clone(),
        message: e.to_string(),
    }
}

/// A `page` step's page as text `{after, changes, head}`: its `changes`
/// spliced in as written when they are raw text, so a fault of an entry's
/// own text reaches the page reader (SPEC R12.6).
pub fn page_text(after: u64, changes: &Value, head: u64) -> String {
    named_page_text(after, changes, head, None)
}

/// [`page_text`] of a page that names its log (SPEC R12.7).
pub fn named_page_text(after: u64, changes: &Value, head: u64, log: Option<&str>) -> String {
    let changes = match changes {
        Value::String(text) => text.clone(),
        other => fieldmerge::canonical_json(other),
    };
    match log {
        None => format!(r#"{{"after":{after},"changes":{changes},"head":{head}}}"#),
        Some(log) => {
            let log = fieldmerge::canonical_json(&Value::String(log.to_owned()));
            format!(r#"{{"after":{after},"changes":{changes},"head":{head},"log":{log}}}"#)
        }
    }
}

/// The `import` step (SPEC R14): `import_log` and `import_report` (rows,
/// served) or `import_state` and `import_report` (device); a report line's
/// error is its code alone, since messages are never compared.
pub fn import_step(kind: &str, input: &str, client_id: Option<&str>) -> Result<Output, Failure> {
    let bytes = input.as_bytes();
    let refused = |e: fieldmerge::ErrorBody| Failure {
        code: e.code,
        index: None,
        field: None,
        message: e.message,
    };
    let (main, value, report) = match (kind, client_id) {
        ("rows", None) => {
            let i = fieldmerge_import::import_rows(bytes).map_err(refused)?;
            ("import_log", i.to_json()["log"].clone(), i.report)
        }
        ("served", None) => {
            let i = fieldmerge_import::import_served(bytes).map_err(refused)?;
            ("import_log", i.to_json()["log"].clone(), i.report)
        }
        ("device", Some(id)) => {
            let i = fieldmerge_import::import_device(bytes, id).map_err(refused)?;
            ("import_state", i.to_json()["state"].clone(), i.report)
        }
        _ => {
            return Err(failure(
                "invalid_vector",
                &"import needs kind rows or served, or device with client_id",
            ))
        }
    };
    let lines = report
        .iter()
        .map(|line| {
            let mut l = line.to_json();
            if let Some(code) = l.get("error").and_then(|e| e.get("code")).cloned() {
                l["error"] = code;
            }
            l
        })
        .collect();
    let mut out = Output::new();
    out.insert(main.into(), value);
    out.insert("import_report".into(), Value::Array(lines));
    Ok(out)
}

/// The `read_json` step (SPEC R11.7): the canonical text, or the error.
pub fn read_json_step(text: &str) -> Result<Value, Failure> {
    fieldmerge::read_json(text.as_bytes())
        .map(|v| Value::String(fieldmerge::canonical_json(&v)))
        .map_err(|e| Failure {
            code: e.kind.code().into(),
            index: Some(e.index),
            field: e.field.clone(),
            message: e.to_string(),
        })
}

/// A step's extension slot, checked as a binding checks its argument
/// (SPEC R11.8) before the write runs.
fn checked_ext(ext: Option<&Value>) -> Result<Option<fieldmerge::Ext>, Failure> {
    ext.map(|v| fieldmerge::Ext::new(v).map_err(|k| failure(k.code(), &k)))
        .transpose()
}

fn failure(code: &str, error: &dyn fmt::Display) -> Failure {
    Failure {
        code: code.into(),
        index: None,
        field: None,
        message: error.to_string(),
    }
}

fn change_json(change: Option<Change>) -> Value {
    change.map_or(Value::Null, |c| c.to_wire())
}

fn opt_u64(n: Option<u64>) -> Value {
    n.map_or(Value::Null, Value::from)
}

fn opt_ts(t: Option<Timestamp>) -> Value {
    t.map_or(Value::Null, |t| Value::from(t.to_string()))
}

// ---------------------------------------------------------------------------
// The vector format.
// ---------------------------------------------------------------------------

/// A vector file that does not follow the format: which file, which step
/// (if any), and what is wrong. The runner returns it instead of panicking.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VectorError {
    /// The file (or the name the caller gave the vector).
    pub file: String,
    /// The step's position, when the error is inside a step.
    pub step: Option<usize>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for VectorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.step {
            Some(step) => write!(f, "{}: step {}: {}", self.file, step, self.message),
            None => write!(f, "{}: {}", self.file, self.message),
        }
    }
}

impl std::error::Error for VectorError {}

/// One comparison of an expected with an observed value.
#[derive(Clone, PartialEq, Debug)]
pub struct Check {
    /// The `expect` member, such as `records` or `conflicts`.
    pub what: String,
    /// What the vector expects.
    pub expected: Value,
    /// What the engine gave (`null` with an `error` check when it failed).
    pub actual: Value,
    /// Whether they agree.
    pub passed: bool,
}

/// The outcome of one step.
#[derive(Clone, PartialEq, Debug)]
pub struct StepResult {
    /// The step's position in `steps`, from 0.
    pub index: usize,
    /// The step's `op`.
    pub op: String,
    /// Every comparison made after the step (an unexpected error is a failed
    /// `error` check).
    pub checks: Vec<Check>,
}

impl StepResult {
    /// Whether every check of the step passed.
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed)
    }
}

/// The outcome of one vector.
#[derive(Clone, PartialEq, Debug)]
pub struct VectorResult {
    /// The file (or name) of the vector.
    pub file: String,
    /// The vector's one-line description.
    pub description: String,
    /// The rules it pins.
    pub rules: Vec<String>,
    /// Every step, in order.
    pub steps: Vec<StepResult>,
}

impl VectorResult {
    /// Whether every step passed.
    pub fn passed(&self) -> bool {
        self.steps.iter().all(StepResult::passed)
    }

    /// A readable account of every failed check: the step, the expected and
    /// the actual value.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if self.passed() {
            out.push_str(&format!("PASS {}\n", self.file));
            return out;
        }
        out.push_str(&format!(
            "FAIL {} [{}] {}\n",
            self.file,
            self.rules.join(" "),
            self.description
        ));
        for step in self.steps.iter().filter(|s| !s.passed()) {
            for check in step.checks.iter().filter(|c| !c.passed) {
                out.push_str(&format!(
                    "  step {} ({}): {}\n    expected: {}\n    actual:   {}\n",
                    step.index,
                    step.op,
                    check.what,
                    compact(&check.expected),
                    compact(&check.actual)
                ));
            }
        }
        out
    }
}

fn compact(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

const TOP_MEMBERS: [&str; 5] = ["description", "rules", "server", "replicas", "steps"];

const EXPECT_REPLICA: [&str; 8] = [
    "records",
    "outbox",
    "next_seq",
    "cursor",
    "hydrating",
    "clock",
    "derive_updated_at",
    "deleted",
];
const EXPECT_SERVER: [&str; 3] = ["server_records", "server_log", "server_head"];
const EXPECT_OUTPUT: [&str; 17] = [
    "change",
    "import_log",
    "import_state",
    "import_report",
    "quarantined",
    "changed",
    "message",
    "reply",
    "conflicts",
    "anomalies",
    "hidden_edits",
    "tally",
    "acked_through",
    "appended",
    "derived",
    "order",
    "canonical",
];

/// Runs one vector (its parsed JSON) against `engine`. `file` names the
/// vector in results and errors.
///
/// # Errors
/// [`VectorError`] when the vector does not follow the format (a missing or
/// mistyped member, an unknown op or expectation, a step naming a replica
/// the vector never created). A mismatch between expected and actual values
/// is not an error: it is a failed [`Check`] in the result.
pub fn run_vector<E: Engine + ?Sized>(
    engine: &mut E,
    vector: &Value,
    file: &str,
) -> Result<VectorResult, VectorError> {
    let err = |step: Option<usize>, message: String| VectorError {
        file: file.to_owned(),
        step,
        message,
    };
    let top = vector
        .as_object()
        .ok_or_else(|| err(None, "a vector must be a JSON object".into()))?;
    if let Some(unknown) = top.keys().find(|k| !TOP_MEMBERS.contains(&k.as_str())) {
        return Err(err(None, format!("unknown member {unknown:?}")));
    }
    let description = match top.get("description") {
        Some(Value::String(s)) if !s.is_empty() && !s.contains('\n') => s.clone(),
        _ => return Err(err(None, "description must be a one-line string".into())),
    };
    let rules = match top.get("rules") {
        Some(Value::Array(items)) if !items.is_empty() => items
            .iter()
            .map(|r| r.as_str().map(str::to_owned))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| err(None, "rules must be strings such as \"R6.3\"".into()))?,
        _ => return Err(err(None, "rules must be a non-empty array".into())),
    };
    if let Some(bad) = rules.iter().find(|r| !is_rule_name(r)) {
        return Err(err(None, format!("{bad:?} is not a rule number like R6.3")));
    }
    let setup = parse_server(top.get("server")).map_err(|m| err(None, m))?;
    engine.start(setup);
    let mut names: Vec<String> = Vec::new();
    match top.get("replicas") {
        None => {}
        Some(Value::Object(replicas)) => {
            for (name, state) in replicas {
                engine.load_replica(name, state).map_err(|f| {
                    err(
                        None,
                        format!("replica {name:?}: initial state refused: {}", f.message),
                    )
                })?;
                names.push(name.clone());
            }
        }
        Some(_) => return Err(err(None, "replicas must be an object".into())),
    }
    let steps = top
        .get("steps")
        .and_then(Value::as_array)
        .ok_or_else(|| err(None, "steps must be an array".into()))?;
    if steps.is_empty() {
        return Err(err(None, "steps must not be empty".into()));
    }
    let mut results = Vec::with_capacity(steps.len());
    for (i, raw) in steps.iter().enumerate() {
        let (step, expect) = parse_step(raw, &names).map_err(|m| err(Some(i), m))?;
        let outcome = engine.step(&step);
        if let (Ok(_), Step::Load { replica, .. }) = (&outcome, &step) {
            if !names.contains(replica) {
                names.push(replica.clone());
            }
        }
        let observed = match expect.get("replica").and_then(Value::as_str) {
            Some(name) => Some(name.to_owned()),
            None => step.replica().map(str::to_owned),
        };
        let checks =
            compare(engine, &expect, &outcome, observed.as_deref()).map_err(|m| err(Some(i), m))?;
        results.push(StepResult {
            index: i,
            op: step.op().to_owned(),
            checks,
        });
    }
    Ok(VectorResult {
        file: file.to_owned(),
        description,
        rules,
        steps: results,
    })
}

fn is_rule_name(rule: &str) -> bool {
    let Some(rest) = rule.strip_prefix('R') else {
        return false;
    };
    let mut parts = rest.split('.');
    let major = parts.next().unwrap_or_default();
    let minor = parts.next();
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    digits(major) && minor.is_none_or(digits) && parts.next().is_none()
}

fn parse_server(server: Option<&Value>) -> Result<ServerSetup, String> {
    let mut setup = ServerSetup::default();
    let Some(server) = server else {
        return Ok(setup);
    };
    let obj = server
        .as_object()
        .ok_or("server must be an object".to_owned())?;
    for (k, v) in obj {
        match k.as_str() {
            "skew_ms_max" => {
                setup.skew_ms_max = v
                    .as_i64()
                    .filter(|n| *n >= 0)
                    .ok_or("server.skew_ms_max must be a non-negative integer")?
            }
            "page_size_max" => {
                setup.page_size_max = v
                    .as_u64()
                    .filter(|n| *n >= 1)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or("server.page_size_max must be a positive integer")?
            }
            "log" => {
                let log = v
                    .as_str()
                    .filter(|s| !s.is_empty() && s.len() <= 256)
                    .ok_or("server.log must be a string of 1 to 256 bytes")?;
                setup.log = Some(log.to_owned());
            }
            other => return Err(format!("unknown member server.{other}")),
        }
    }
    Ok(setup)
}

// Reads the members of one step object, remembering which were used so
// that a misspelt member is an error rather than silently ignored.
struct Members<'a> {
    obj: &'a Map<String, Value>,
    used: Vec<&'static str>,
}

impl<'a> Members<'a> {
    fn get(&mut self, name: &'static str) -> Option<&'a Value> {
        self.used.push(name);
        self.obj.get(name)
    }

    fn req(&mut self, name: &'static str) -> Result<&'a Value, String> {
        self.get(name).ok_or_else(|| format!("missing {name}"))
    }

    fn string(&mut self, name: &'static str) -> Result<String, String> {
        self.req(name)?
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{name} must be a string"))
    }

    fn time(&mut self, name: &'static str) -> Result<Timestamp, String> {
        let text = self.string(name)?;
        Timestamp::parse(&text).map_err(|e| format!("{name}: {e}"))
    }

    fn object(&mut self, name: &'static str) -> Result<Map<String, Value>, String> {
        match expand(self.req(name)?)? {
            Value::Object(m) => Ok(m),
            _ => Err(format!("{name} must be an object")),
        }
    }

    fn uint(&mut self, name: &'static str) -> Result<u64, String> {
        self.req(name)?
            .as_u64()
            .ok_or_else(|| format!("{name} must be an unsigned integer"))
    }

    fn replica(&mut self, names: &[String]) -> Result<String, String> {
        match self.get("replica") {
            Some(Value::String(name)) => Ok(name.clone()),
            Some(_) => Err("replica must be a string".into()),
            None if names.len() == 1 => Ok(names[0].clone()),
            None => Err("missing replica (the vector has not exactly one)".into()),
        }
    }

    fn key(&mut self) -> Result<KeySpec, String> {
        if self.obj.contains_key("kind") || self.obj.contains_key("scope") {
            Ok(KeySpec::Singleton {
                kind: self.string("kind")?,
                scope: self.string("scope")?,
            })
        } else {
            Ok(KeySpec::Key {
                table: self.string("table")?,
                id: self.string("id")?,
            })
        }
    }

    fn actor(&mut self) -> Result<Actor, String> {
        let actor = self.object("actor")?;
        for k in actor.keys() {
            if k != "kind" && k != "source" {
                return Err(format!("unknown member actor.{k}"));
            }
        }
        let source = actor.get("source").map(|s| {
            s.as_str()
                .map(str::to_owned)
                .ok_or("actor.source must be a string".to_owned())
        });
        match (actor.get("kind").and_then(Value::as_str), source) {
            (Some("user"), None) => Ok(Actor::User),
            (Some("ai"), None) => Ok(Actor::Ai),
            (Some("system"), Some(source)) => Ok(Actor::System { source: source? }),
            (Some("system"), None) => Err("a system actor needs a source".into()),
            (Some("user" | "ai"), Some(_)) => Err("only a system actor has a source".into()),
            _ => Err("actor.kind must be \"user\", \"ai\" or \"system\"".into()),
        }
    }

    // A batch of wire changes, kept as JSON (or raw text): decoding it is
    // what the engine is tested on, so even a batch that is not an array is
    // handed over.
    fn array(&mut self, name: &'static str) -> Result<Value, String> {
        expand(self.req(name)?)
    }

    fn finish(&self) -> Result<(), String> {
        match self
            .obj
            .keys()
            .find(|k| !self.used.contains(&k.as_str()) && k.as_str() != "op")
        {
            Some(unknown) => Err(format!("unknown member {unknown:?}")),
            None => Ok(()),
        }
    }
}

/// The deepest `{"$nested_array": N}` placeholder a vector may use.
pub const NESTED_ARRAY_MAX: u64 = 1000;

// Expands every `{"$nested_array": N}` placeholder into `N` nested arrays
// around nothing (`[]` for 1, `[[]]` for 2): values deeper than JSON parsers
// accept cannot be written in a vector file, but the depth limit of R11.6
// must be testable.
fn expand(value: &Value) -> Result<Value, String> {
    Ok(match value {
        Value::Object(m) => match (m.len(), m.get("$nested_array")) {
            (1, Some(n)) => {
                let depth = n
                    .as_u64()
                    .filter(|d| (1..=NESTED_ARRAY_MAX).contains(d))
                    .ok_or("$nested_array must be an integer from 1 to 1000")?;
                let mut v = Value::Array(Vec::new());
                for _ in 1..depth {
                    v = Value::Array(vec![v]);
                }
                v
            }
            _ => Value::Object(
                m.iter()
                    .map(|(k, v)| Ok((k.clone(), expand(v)?)))
                    .collect::<Result<_, String>>()?,
            ),
        },
        Value::Array(items) => Value::Array(items.iter().map(expand).collect::<Result<_, _>>()?),
        other => other.clone(),
    })
}

fn parse_step(raw: &Value, names: &[String]) -> Result<(Step, Map<String, Value>), String> {
    let obj = raw.as_object().ok_or("a step must be an object")?;
    let mut m = Members {
        obj,
        used: Vec::new(),
    };
    let op = match obj.get("op") {
        Some(Value::String(op)) => op.as_str(),
        _ => return Err("a step needs a string op".into()),
    };
    let expect = match m.get("expect") {
        None => Map::new(),
        Some(Value::Object(e)) => e.clone(),
        Some(_) => return Err("expect must be an object".into()),
    };
    let step = match op {
        "write" => Step::Write {
            replica: m.replica(names)?,
            key: m.key()?,
            actor: m.actor()?,
            patch: m.object("patch")?,
            now: m.time("now")?,
            ext: m.get("ext").cloned(),
        },
        "delete" => Step::Delete {
            replica: m.replica(names)?,
            key: m.key()?,
            actor: m.actor()?,
            now: m.time("now")?,
            ext: m.get("ext").cloned(),
        },
        "restore" => Step::Restore {
            replica: m.replica(names)?,
            key: m.key()?,
            actor: m.actor()?,
            now: m.time("now")?,
            ext: m.get("ext").cloned(),
        },
        "bootstrap" => Step::Bootstrap {
            replica: m.replica(names)?,
            key: m.key()?,
            fields: m.object("fields")?,
        },
        "apply" => Step::Apply {
            replica: m.replica(names)?,
            changes: m.array("changes")?,
            delivery: match m.get("delivery").map(|d| d.as_str()) {
                None | Some(Some("live")) => Delivery::Live,
                Some(Some("hydration")) => Delivery::Hydration,
                _ => return Err("delivery must be \"live\" or \"hydration\"".into()),
            },
        },
        "page" => Step::Page {
            replica: m.replica(names)?,
            after: m.uint("after")?,
            changes: m.array("changes")?,
            head: m.uint("head")?,
            log: match m.get("log") {
                None => None,
                Some(_) => Some(m.string("log")?),
            },
        },
        "receive_reply" => Step::ReceiveReply {
            replica: m.replica(names)?,
            acked_through: match m.req("acked_through")? {
                Value::Null => None,
                v => Some(
                    v.as_u64()
                        .ok_or("acked_through must be an unsigned integer or null")?,
                ),
            },
            after: m.uint("after")?,
            changes: m.array("changes")?,
            head: m.uint("head")?,
        },
        "ack" => Step::Ack {
            replica: m.replica(names)?,
            through: match m.req("through")? {
                Value::Null => None,
                v => Some(
                    v.as_u64()
                        .ok_or("through must be an unsigned integer or null")?,
                ),
            },
        },
        "merge" => {
            let replica = m.replica(names)?;
            let from = match (m.get("from"), m.get("state")) {
                (Some(Value::String(name)), None) => MergeSource::Replica(name.clone()),
                (None, Some(state)) => MergeSource::State(state.clone()),
                _ => return Err("merge needs either from (a replica name) or state".into()),
            };
            Step::Merge { replica, from }
        }
        "push" => Step::Push {
            replica: m.replica(names)?,
            now: m.time("now")?,
        },
        "push_raw" => Step::PushRaw {
            client_id: m.string("client_id")?,
            changes: m.array("changes")?,
            cursor: match m.get("cursor") {
                None => 0,
                Some(v) => v.as_u64().ok_or("cursor must be an unsigned integer")?,
            },
            clock_epoch: match m.get("clock_epoch") {
                None => 0,
                Some(_) => m.uint("clock_epoch")?,
            },
            now: m.time("now")?,
        },
        "pull" => Step::Pull {
            replica: m.replica(names)?,
            limit: match m.get("limit") {
                None => None,
                Some(v) => Some(
                    v.as_u64()
                        .and_then(|n| usize::try_from(n).ok())
                        .ok_or("limit must be an unsigned integer")?,
                ),
            },
        },
        "server_write" => Step::ServerWrite {
            writer: m.string("writer")?,
            actor: m.actor()?,
            key: m.key()?,
            patch: m.object("patch")?,
            now: m.time("now")?,
            ext: m.get("ext").cloned(),
        },
        "server_bootstrap" => Step::ServerBootstrap {
            key: m.key()?,
            fields: m.object("fields")?,
        },
        "reset_cursor" => Step::ResetCursor {
            replica: m.replica(names)?,
        },
        "restart_server" => Step::RestartServer,
        "correct_clock" => Step::CorrectClock {
            replica: m.replica(names)?,
            server_now: m.time("server_now")?,
            clock_epoch: match m.get("clock_epoch") {
                None => None,
                Some(_) => Some(m.uint("clock_epoch")?),
            },
            log_high: match m.get("log_high") {
                None => None,
                Some(_) => Some(m.time("log_high")?),
            },
            now: m.time("now")?,
        },
        "load" => Step::Load {
            replica: m.string("replica")?,
            state: m.req("state")?.clone(),
        },
        "derive_row" => Step::DeriveRow {
            row: m.req("row")?.clone(),
        },
        "read_json" => Step::ReadJson {
            text: m.string("text")?,
        },
        "import" => Step::Import {
            kind: m.string("kind")?,
            input: m.string("input")?,
            client_id: match m.get("client_id") {
                None => None,
                Some(Value::String(id)) => Some(id.clone()),
                Some(_) => return Err("client_id must be a string".into()),
            },
        },
        "compare_values" => Step::CompareValues {
            a: m.req("a")?.clone(),
            b: m.req("b")?.clone(),
        },
        "check" => Step::Check {
            replica: match m.get("replica") {
                None if names.len() == 1 => Some(names[0].clone()),
                None => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err("replica must be a string".into()),
            },
        },
        other => return Err(format!("unknown op {other:?}")),
    };
    m.finish()?;
    for name in [
        step.replica(),
        match &step {
            Step::Merge {
                from: MergeSource::Replica(from),
                ..
            } => Some(from.as_str()),
            _ => None,
        },
        expect.get("replica").and_then(Value::as_str),
    ]
    .into_iter()
    .flatten()
    {
        let creates = matches!(&step, Step::Load { replica, .. } if replica == name);
        if !creates && !names.iter().any(|n| n == name) {
            return Err(format!("no replica named {name:?} in this vector"));
        }
    }
    for k in expect.keys() {
        let k = k.as_str();
        if !(k == "replica"
            || k == "error"
            || EXPECT_REPLICA.contains(&k)
            || EXPECT_SERVER.contains(&k)
            || EXPECT_OUTPUT.contains(&k))
        {
            return Err(format!("unknown expectation {k:?}"));
        }
    }
    Ok((step, expect))
}

fn compare<E: Engine + ?Sized>(
    engine: &E,
    expect: &Map<String, Value>,
    outcome: &Result<Output, Failure>,
    replica: Option<&str>,
) -> Result<Vec<Check>, String> {
    let mut checks = Vec::new();
    let mut check = |what: &str, expected: &Value, actual: Value, passed: bool| {
        checks.push(Check {
            what: what.to_owned(),
            expected: expected.clone(),
            actual,
            passed,
        })
    };
    // The error check comes first, and is made even when the vector does not
    // mention `error`: an unexpected refusal is a failure.
    let expected_error = expect.get("error");
    match (expected_error, outcome) {
        (None | Some(Value::Null), Ok(_)) => {}
        (None | Some(Value::Null), Err(f)) => {
            check("error", &Value::Null, f.to_json(), false);
            return Ok(checks);
        }
        (Some(want), Ok(_)) => check("error", want, Value::Null, false),
        (Some(want), Err(f)) => {
            let passed = error_matches(want, f)?;
            check("error", want, f.to_json(), passed);
        }
    }
    let output = outcome.as_ref().ok();
    let replica_view = replica.and_then(|name| engine.observe_replica(name));
    let server_view = engine.observe_server();
    for (what, want) in expect {
        let what = what.as_str();
        if what == "replica" || what == "error" {
            continue;
        }
        let actual = if EXPECT_REPLICA.contains(&what) {
            let view = replica_view
                .as_ref()
                .ok_or_else(|| format!("expect.{what} needs a replica"))?;
            view.get(what).cloned().unwrap_or(Value::Null)
        } else if EXPECT_SERVER.contains(&what) {
            server_view.get(what).cloned().unwrap_or(Value::Null)
        } else {
            // A step output. A step that produced no report (a write, an
            // ack, a refused step) reported nothing.
            match output.and_then(|o| o.get(what)) {
                Some(v) => v.clone(),
                None if what == "tally" => tally_value(&Map::new()),
                None if matches!(
                    what,
                    "conflicts" | "anomalies" | "hidden_edits" | "quarantined"
                ) =>
                {
                    Value::Array(Vec::new())
                }
                None => Value::Null,
            }
        };
        let (want, actual) = if what == "tally" {
            let want_obj = want
                .as_object()
                .ok_or("expect.tally must be an object of counters")?;
            if let Some(bad) = want_obj.keys().find(|k| !TALLY_NAMES.contains(&k.as_str())) {
                return Err(format!("unknown tally counter {bad:?}"));
            }
            let actual_obj = actual.as_object().cloned().unwrap_or_default();
            (tally_value(want_obj), tally_value(&actual_obj))
        } else if what == "quarantined" {
            // Error messages are never compared (README, `expect`).
            (want.clone(), without_messages(actual))
        } else {
            (want.clone(), actual)
        };
        let passed = json_identical(&want, &actual);
        check(what, &want, actual, passed);
    }
    Ok(checks)
}

// Quarantined entries with their errors' messages left out.
fn without_messages(mut quarantined: Value) -> Value {
    if let Value::Array(items) = &mut quarantined {
        for item in items {
            if let Some(Value::Object(error)) = item.get_mut("error") {
                error.remove("message");
            }
        }
    }
    quarantined
}

// A tally with every counter present, missing ones as 0.
fn tally_value(counters: &Map<String, Value>) -> Value {
    Value::Object(
        TALLY_NAMES
            .iter()
            .map(|name| {
                let n = counters.get(*name).cloned().unwrap_or(Value::from(0));
                ((*name).to_owned(), n)
            })
            .collect(),
    )
}

fn error_matches(want: &Value, got: &Failure) -> Result<bool, String> {
    match want {
        Value::String(code) => Ok(code == &got.code),
        Value::Object(m) => {
            let mut ok = true;
            for (k, v) in m {
                ok &= match k.as_str() {
                    "code" => v.as_str() == Some(got.code.as_str()),
                    "index" => v.as_u64().map(|n| n as usize) == got.index,
                    "field" => v.as_str() == got.field.as_deref(),
                    other => return Err(format!("unknown member expect.error.{other}")),
                };
            }
            if !m.contains_key("code") {
                return Err("expect.error needs a code".into());
            }
            Ok(ok)
        }
        _ => Err("expect.error must be a code string or {code, index?, field?}".into()),
    }
}

/// Value identity, as the vector format compares values (SPEC R4.4):
/// objects as sets of members, arrays element by element, strings by bytes,
/// numbers by their binary64 value (`1` equals `1.0`, `-0` equals `0`), so
/// a runner may read the files with any parser that reads numbers as
/// binary64, JavaScript's `JSON.parse` included.
pub fn json_identical(a: &Value, b: &Value) -> bool {
    match (a, b) {
        // A number in a vector file is a binary64; the kernel's own
        // numbers are too (R4.4).
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(u, v)| json_identical(u, v))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ku, u), (kv, v))| ku == kv && json_identical(u, v))
        }
        _ => a == b,
    }
}

// ---------------------------------------------------------------------------
// Files and directories.
// ---------------------------------------------------------------------------

/// One vector file's outcome in a directory run.
#[derive(Clone, PartialEq, Debug)]
pub enum FileOutcome {
    /// The vector ran; it passed or failed.
    Ran(VectorResult),
    /// The file could not be read or does not follow the format.
    Error(VectorError),
}

impl FileOutcome {
    /// Whether the vector ran and passed.
    pub fn passed(&self) -> bool {
        matches!(self, FileOutcome::Ran(r) if r.passed())
    }
}

/// Runs one vector file against a fresh engine from `engine`.
pub fn run_file<E: Engine>(engine: &mut E, path: &Path) -> FileOutcome {
    let file = path.display().to_string();
    let text = match std::fs::read(path) {
        Ok(text) => text,
        Err(e) => {
            return FileOutcome::Error(VectorError {
                file,
                step: None,
                message: format!("cannot read: {e}"),
            })
        }
    };
    let vector: Value = match serde_json::from_slice(&text) {
        Ok(v) => v,
        Err(e) => {
            return FileOutcome::Error(VectorError {
                file,
                step: None,
                message: format!("not JSON: {e}"),
            })
        }
    };
    match run_vector(engine, &vector, &file) {
        Ok(result) => FileOutcome::Ran(result),
        Err(e) => FileOutcome::Error(e),
    }
}

/// Every `*.json` vector file under `paths`: a directory is searched
/// recursively (symbolic links to directories are not followed), files are
/// taken as given; the result is sorted by path.
///
/// # Errors
/// [`VectorError`] for a path that does not exist or a directory that cannot
/// be read.
pub fn collect_files(paths: &[PathBuf]) -> Result<Vec<PathBuf>, VectorError> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            walk(path, &mut files)?;
        } else if path.is_file() {
            files.push(path.clone());
        } else {
            return Err(VectorError {
                file: path.display().to_string(),
                step: None,
                message: "no such file or directory".into(),
            });
        }
    }
    files.sort();
    files.dedup();
    Ok(files)
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), VectorError> {
    let entries = std::fs::read_dir(dir).map_err(|e| VectorError {
        file: dir.display().to_string(),
        step: None,
        message: format!("cannot read directory: {e}"),
    })?;
    for entry in entries {
        let entry = entry.map_err(|e| VectorError {
            file: dir.display().to_string(),
            step: None,
            message: format!("cannot read directory: {e}"),
        })?;
        let path = entry.path();
        // The entry's own type, not its target's: a symbolic link to a
        // directory is not followed, so a link cycle cannot loop the walk.
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir {
            walk(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "json") && path.is_file() {
            files.push(path);
        }
    }
    Ok(())
}

/// Runs every vector file under `paths` (see [`collect_files`]), each on
/// `engine` after a fresh [`Engine::start`], in path order.
///
/// # Errors
/// As [`collect_files`]; a bad vector file is a [`FileOutcome::Error`] in the
/// result, not an error of the run.
pub fn run_paths<E: Engine>(
    engine: &mut E,
    paths: &[PathBuf],
) -> Result<Vec<FileOutcome>, VectorError> {
    let files = collect_files(paths)?;
    Ok(files.iter().map(|f| run_file(engine, f)).collect())
}
