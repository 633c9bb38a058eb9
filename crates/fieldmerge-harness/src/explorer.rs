//! An explicit-state explorer of the real kernel (issue #6, part 2).
//!
//! A *world* is the server, a few client replicas, the messages in flight
//! between them, a legacy writer, and the oracle's bookkeeping. From every
//! world the explorer takes every enabled action (local writes of every
//! origin, deletes and restores, bootstrap placeholders, agent writes, server
//! bootstraps, legacy pushes, sending a push, pulling a page, delivering a
//! message once or keeping a copy to deliver again later, dropping a message)
//! and visits every world reachable within the bounds, depth first, with a
//! visited set keyed by a 128-bit hash of the world's canonical encoding.
//!
//! The kernel's own types do the work (`Replica`, `Server`, `Change`,
//! `Page`, `Push`); the explorer only keeps an *oracle* beside them:
//! - a vector clock: per write, the set of writes its writer had seen; per
//!   node, the set of writes it has received;
//! - a shadow copy of every node's record, merged with the oracle's own
//!   register order (SPEC R4, written again here from the spec text).
//!
//! On every step and every reachable world it checks:
//! - the conflict rule (SPEC R6.3-R6.4, R6.9) against the vector clock: a
//!   conflict is reported exactly when a user value is displaced by a
//!   different value whose writer had not seen it (legacy writers: when the
//!   apply is live), once per displacement, with the right loser and winner;
//! - malformed twins are reported as anomalies, never conflicts (SPEC R4.4);
//! - the tombstone rule (SPEC R9.3), and that every hidden edit was really
//!   unseen by the deleter;
//! - the merged registers equal the oracle's shadow (SPEC R4.5);
//! - idempotence: re-applying a page's changes changes nothing and reports
//!   nothing, re-applying a page is refused, re-delivering a push appends
//!   nothing (SPEC R6.2, R6.7, R12.1);
//! - the shadow index equals `derive_updated_at` and the oracle's maximum
//!   (SPEC R7.1, R8.1);
//! - convergence: a replica whose outbox is empty and whose cursor is at the
//!   head holds exactly the server's records; and from every world, pushing
//!   and pulling everything makes every replica equal the server
//!   (SPEC R4.5, R12).
//!
//! The same file is the engine of `tests/exhaustive.rs` (default bounds,
//! inside `cargo test`), of `tests/coverage.rs` (coverage marks), and of
//! `examples/exhaustive.rs` (larger bounds from the command line).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};
use std::fmt;
use std::hash::{DefaultHasher, Hasher};

use crate::sim::{Coverage, Mark};
use fieldmerge::{
    Actor, ApplyReport, Base, Change, ConflictRule, Op, Origin, Page, PageError, Push, RecordKey,
    Register, Replica, Server, ServerConfig, Timestamp, WriterId, SYSTEM_MIGRATION,
    TOMBSTONE_FIELD,
};
use serde_json::{Map, Value};

/// The explored scope. Every field is a limit; the product of the choices is
/// the branching factor.
#[derive(Clone, Debug)]
pub struct Bounds {
    /// Client replicas (the server is one more node).
    pub replicas: usize,
    /// Writes of every origin in total: local writes, deletes, restores,
    /// bootstraps (client and server), agent writes, legacy writes.
    pub writes: usize,
    /// Fields of the one record: 1 (`a`) or 2 (`a`, `b`).
    pub fields: usize,
    /// Values a write may set (small integers, so equal values happen).
    pub values: Vec<i64>,
    /// Wall times offered to writers: `t0 .. t0 + nows - 1` ms, so writers
    /// stamp equal `at` (SPEC R4.2).
    pub nows: usize,
    /// Messages in flight per replica (pushes, replies, pages).
    pub in_flight: usize,
    /// Page sizes offered to a pull.
    pub page_limits: Vec<usize>,
    /// Whether a delivered push may stay in flight to arrive again later.
    pub duplicate_pushes: bool,
    /// Whether a local write may write every field at once.
    pub multi_field_writes: bool,
    /// Local writes by a migration (origin `migration`) besides the user.
    pub migration: bool,
    /// Agent writes through `Server::write` (origin `agent`).
    pub agent: bool,
    /// Pushes by a legacy writer that sends no witness (SPEC R6.4).
    pub legacy: bool,
    /// Deletes and restores (SPEC R9).
    pub tombstones: bool,
    /// Bootstrap placeholder values offered to replicas and the server
    /// (empty: no bootstrap). Two values make malformed twins (SPEC R10.4).
    pub bootstrap_values: Vec<i64>,
    /// From every world, also push and pull everything and check that every
    /// replica converges to the server.
    pub drain: bool,
    /// A guard: the exploration fails past this many worlds.
    pub worlds_max: usize,
}

impl Bounds {
    /// The first default bounds of `cargo test`: 2 client replicas and the
    /// server, 2 fields, 2 writes by users or the agent, 2 values, 2 wall
    /// times (so equal and unequal stamps across writers both happen).
    pub fn small() -> Bounds {
        Bounds {
            replicas: 2,
            writes: 2,
            fields: 2,
            values: vec![1, 2],
            nows: 2,
            in_flight: 1,
            page_limits: vec![1000],
            duplicate_pushes: true,
            multi_field_writes: false,
            migration: false,
            agent: true,
            legacy: false,
            tombstones: false,
            bootstrap_values: vec![],
            drain: true,
            worlds_max: 5_000_000,
        }
    }

    /// Every origin: user, migration, agent, legacy writer, deletes and
    /// restores, client and server bootstraps with two default values (so
    /// malformed twins happen); 2 writes in total, 1 field, 1 wall time.
    /// Convergence is checked at quiescent worlds, not by draining from
    /// every world (the other bounds do that), to keep `cargo test` short.
    pub fn every_origin() -> Bounds {
        Bounds {
            fields: 1,
            nows: 1,
            migration: true,
            legacy: true,
            tombstones: true,
            bootstrap_values: vec![0, 1],
            drain: false,
            ..Bounds::small()
        }
    }

    /// Three user writes to one field, two values (so a writer overwrites
    /// a version that another writer overwrote too: the unwitnessed
    /// overwrite whose winner saw *another* version), 1 wall time, pushes
    /// delivered at most once (the other bounds duplicate them).
    pub fn three_writes() -> Bounds {
        Bounds {
            writes: 3,
            fields: 1,
            nows: 1,
            agent: false,
            duplicate_pushes: false,
            ..Bounds::small()
        }
    }

    /// Deletes and restores with three writes by users to one field.
    pub fn tombstones() -> Bounds {
        Bounds {
            writes: 3,
            fields: 1,
            values: vec![1],
            nows: 1,
            agent: false,
            tombstones: true,
            drain: false,
            ..Bounds::small()
        }
    }
}

impl fmt::Display for Bounds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "replicas={} (+server) writes={} fields={} values={:?} nows={} in_flight={} \
             page_limits={:?} duplicate_pushes={} multi_field={} migration={} agent={} legacy={} tombstones={} \
             bootstrap={:?} drain={}",
            self.replicas,
            self.writes,
            self.fields,
            self.values,
            self.nows,
            self.in_flight,
            self.page_limits,
            self.duplicate_pushes,
            self.multi_field_writes,
            self.migration,
            self.agent,
            self.legacy,
            self.tombstones,
            self.bootstrap_values,
            self.drain
        )
    }
}

/// What an exploration saw.
#[derive(Clone, Debug, Default)]
pub struct Summary {
    /// Distinct worlds visited.
    pub worlds: u64,
    /// Transitions taken (including those into already visited worlds).
    pub transitions: u64,
    /// The longest schedule explored, in actions.
    pub depth_max: usize,
    /// Worlds where every replica was quiescent (outbox empty, at the head).
    pub quiescent: u64,
    /// How often each named coverage mark was hit.
    pub marks: Coverage,
}

/// A broken property, with the schedule that reached it.
#[derive(Clone, Debug)]
pub struct Violation {
    /// What broke.
    pub message: String,
    /// The actions from the initial world, in order.
    pub trace: Vec<Action>,
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.message)?;
        writeln!(f, "schedule ({} actions):", self.trace.len())?;
        for (i, action) in self.trace.iter().enumerate() {
            writeln!(f, "  {i:>2}. {action:?}")?;
        }
        Ok(())
    }
}

/// Who writes a local write.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Writer {
    /// A person: origin `user`.
    User,
    /// A client-side migration: origin `migration`.
    Migration,
}

/// One step of a schedule. Replicas are numbered from 0; `now` is an offset
/// in milliseconds from the explorer's `t0`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Action {
    /// `Replica::write` of `value` to the fields `fields`.
    Write {
        /// The replica.
        replica: usize,
        /// The fields written (indices into `a`, `b`).
        fields: Vec<usize>,
        /// The value written to each.
        value: i64,
        /// Who writes.
        writer: Writer,
        /// Wall time offset.
        now: i64,
    },
    /// `Replica::delete` by the user.
    Delete {
        /// The replica.
        replica: usize,
        /// Wall time offset.
        now: i64,
    },
    /// `Replica::restore` by the user.
    Restore {
        /// The replica.
        replica: usize,
        /// Wall time offset.
        now: i64,
    },
    /// `Replica::bootstrap` of every field set to `value`.
    Bootstrap {
        /// The replica.
        replica: usize,
        /// The default value.
        value: i64,
    },
    /// `Server::write` by the agent.
    Agent {
        /// The field written.
        field: usize,
        /// The value.
        value: i64,
        /// Wall time offset.
        now: i64,
    },
    /// `Server::bootstrap` of every field set to `value`.
    ServerBootstrap {
        /// The default value.
        value: i64,
    },
    /// A legacy writer (no witness) pushes one user write.
    Legacy {
        /// The field written.
        field: usize,
        /// The value.
        value: i64,
        /// Wall time offset.
        now: i64,
    },
    /// The replica sends its outbox as a push.
    SendPush {
        /// The replica.
        replica: usize,
    },
    /// The server answers a pull of the replica with one page.
    Pull {
        /// The replica.
        replica: usize,
        /// The page size asked for.
        limit: usize,
    },
    /// A message in flight arrives; `keep` leaves a copy in flight, to be
    /// delivered again later (duplicate delivery).
    Deliver {
        /// The message, by its position in the canonical order.
        message: usize,
        /// Whether a copy stays in flight.
        keep: bool,
    },
    /// A message in flight is lost.
    Drop {
        /// The message, by its position in the canonical order.
        message: usize,
    },
}

/// A message in flight.
#[derive(Clone, PartialEq, Debug)]
enum Message {
    Push {
        from: usize,
        push: Push,
    },
    Reply {
        to: usize,
        acked: Option<u64>,
        page: Page,
    },
    Page {
        to: usize,
        page: Page,
    },
}

impl Message {
    fn replica(&self) -> usize {
        match self {
            Message::Push { from, .. } => *from,
            Message::Reply { to, .. } | Message::Page { to, .. } => *to,
        }
    }
}

/// The oracle's record of one write: its version and what its writer had
/// seen (a vector clock as a bit set of write numbers).
#[derive(Clone, Debug)]
struct WriteInfo {
    at: Timestamp,
    by: WriterId,
    seen: u64,
}

#[derive(Clone, Debug)]
struct World {
    server: Server,
    replicas: Vec<Replica>,
    // Canonical order: sorted by each message's hash, no two equal.
    net: Vec<Message>,
    writes: Vec<WriteInfo>,
    // Per replica, then the server last: the writes each node has received.
    knows: Vec<u64>,
    legacy_seq: u64,
    legacy_last: Timestamp,
    // How many of `Bounds::values`, from the first, writes have used.
    values_used: usize,
    // How many of the fields, from the first, writes have used.
    fields_used: usize,
    // Not part of the world's identity: derived from the kernel state (and
    // checked equal to it), or the way here.
    shadows: Vec<BTreeMap<String, Register>>,
    trace: Vec<Action>,
}

const FIELD_NAMES: [&str; 2] = ["a", "b"];
const AGENT: &str = "agent";
const LEGACY: &str = "legacy";
// Server time for pushes: well after every wall time, well within the skew.
const SERVER_NOW_MS: i64 = 1_000;

fn t(ms: i64) -> Timestamp {
    Timestamp::from_ms(1_777_197_600_000 + ms).expect("in range")
}

fn key() -> RecordKey {
    RecordKey::singleton("settings", "u1")
}

fn replica_id(i: usize) -> WriterId {
    WriterId::new(&format!("r{i}"))
}

/// Explores every world reachable within `bounds`.
///
/// # Errors
/// The first [`Violation`] found, with its schedule.
pub fn explore(bounds: &Bounds) -> Result<Summary, Box<Violation>> {
    let mut explorer = Explorer {
        bounds: bounds.clone(),
        summary: Summary::default(),
    };
    explorer.run()
}

struct Explorer {
    bounds: Bounds,
    summary: Summary,
}

impl Explorer {
    fn run(&mut self) -> Result<Summary, Box<Violation>> {
        let start = World {
            server: Server::new(ServerConfig::default()),
            replicas: (0..self.bounds.replicas)
                .map(|i| Replica::new(replica_id(i)))
                .collect(),
            net: Vec::new(),
            writes: Vec::new(),
            knows: vec![0; self.bounds.replicas + 1],
            legacy_seq: 0,
            legacy_last: Timestamp::GENESIS,
            values_used: 0,
            fields_used: 0,
            shadows: vec![BTreeMap::new(); self.bounds.replicas + 1],
            trace: Vec::new(),
        };
        let mut visited: HashSet<u128> = HashSet::new();
        visited.insert(fingerprint(&start));
        self.check_world(&start)
            .map_err(|message| violation(&start, message))?;
        let mut stack = vec![start];
        while let Some(world) = stack.pop() {
            self.summary.worlds += 1;
            if self.summary.worlds as usize > self.bounds.worlds_max {
                return Err(violation(
                    &world,
                    format!(
                        "more than {} worlds: bounds too large",
                        self.bounds.worlds_max
                    ),
                ));
            }
            self.summary.depth_max = self.summary.depth_max.max(world.trace.len());
            for action in self.actions(&world) {
                let mut next = world.clone();
                next.trace.push(action.clone());
                if let Action::Write { value, .. }
                | Action::Agent { value, .. }
                | Action::Legacy { value, .. } = &action
                {
                    let used = self.bounds.values.iter().position(|v| v == value);
                    next.values_used = next.values_used.max(used.map_or(0, |i| i + 1));
                }
                match &action {
                    Action::Write { fields, .. } => {
                        let last = fields.iter().max().map_or(0, |f| f + 1);
                        next.fields_used = next.fields_used.max(last);
                    }
                    Action::Agent { field, .. } | Action::Legacy { field, .. } => {
                        next.fields_used = next.fields_used.max(field + 1);
                    }
                    _ => {}
                }
                let stepped = self
                    .step(&mut next, &action)
                    .map_err(|message| violation(&next, message))?;
                if !stepped {
                    continue;
                }
                self.summary.transitions += 1;
                if visited.insert(fingerprint(&next)) {
                    self.check_world(&next)
                        .map_err(|message| violation(&next, message))?;
                    stack.push(next);
                }
            }
        }
        Ok(std::mem::take(&mut self.summary))
    }

    // Every enabled action of `world`, in a fixed order.
    fn actions(&self, world: &World) -> Vec<Action> {
        let b = &self.bounds;
        let mut out = Vec::new();
        let budget = world.writes.len() < b.writes;
        // Write values are interchangeable labels (only their equality
        // matters to the rules explored), so a schedule may use a new value
        // only after every earlier one: a symmetry reduction.
        let values = &b.values[..(world.values_used + 1).min(b.values.len())];
        let nows = 0..b.nows as i64;
        // Fields too are interchangeable labels: a schedule writes `b` alone
        // only after it wrote `a`.
        let fields = (world.fields_used + 1).min(b.fields);
        let mut patches: Vec<Vec<usize>> = (0..fields).map(|f| vec![f]).collect();
        if b.multi_field_writes && b.fields > 1 {
            patches.push((0..b.fields).collect());
        }
        let mut writers = vec![Writer::User];
        if b.migration {
            writers.push(Writer::Migration);
        }
        for (r, replica) in world.replicas.iter().enumerate() {
            let record = replica.record(&key());
            if budget {
                for fields in &patches {
                    for &value in values {
                        for &writer in &writers {
                            for now in nows.clone() {
                                out.push(Action::Write {
                                    replica: r,
                                    fields: fields.clone(),
                                    value,
                                    writer,
                                    now,
                                });
                            }
                        }
                    }
                }
                if b.tombstones {
                    if let Some(record) = record {
                        for now in nows.clone() {
                            out.push(if record.is_deleted() {
                                Action::Restore { replica: r, now }
                            } else {
                                Action::Delete { replica: r, now }
                            });
                        }
                    }
                }
            }
            if budget && record.is_none() {
                for &value in &b.bootstrap_values {
                    out.push(Action::Bootstrap { replica: r, value });
                }
            }
            let in_flight = world.net.iter().filter(|m| m.replica() == r).count();
            if in_flight < b.in_flight {
                if !replica.outbox().is_empty() {
                    out.push(Action::SendPush { replica: r });
                }
                if replica.cursor().unwrap_or(0) < world.server.head() {
                    for &limit in &b.page_limits {
                        out.push(Action::Pull { replica: r, limit });
                    }
                }
            }
        }
        if budget && b.agent {
            for field in 0..fields {
                for &value in values {
                    for now in nows.clone() {
                        out.push(Action::Agent { field, value, now });
                    }
                }
            }
        }
        if budget && b.legacy {
            for field in 0..fields {
                for &value in values {
                    for now in nows.clone() {
                        out.push(Action::Legacy { field, value, now });
                    }
                }
            }
        }
        if budget && world.server.record(&key()).is_none() {
            for &value in &b.bootstrap_values {
                out.push(Action::ServerBootstrap { value });
            }
        }
        // Dropping a push or a page is the same as never sending it, and a
        // page delivered twice is refused (checked on every delivery), so
        // only a push is kept for re-delivery and only a reply is lost.
        for (message, m) in world.net.iter().enumerate() {
            out.push(Action::Deliver {
                message,
                keep: false,
            });
            match m {
                Message::Push { .. } if self.bounds.duplicate_pushes => out.push(Action::Deliver {
                    message,
                    keep: true,
                }),
                Message::Push { .. } => {}
                Message::Reply { .. } => out.push(Action::Drop { message }),
                Message::Page { .. } => {}
            }
        }
        out
    }

    // Takes one action; `Ok(false)` when it changed nothing (a no-op write).
    fn step(&mut self, w: &mut World, action: &Action) -> Result<bool, String> {
        let key = key();
        match action {
            Action::Write {
                replica,
                fields,
                value,
                writer,
                now,
            } => {
                let patch: Map<String, Value> = fields
                    .iter()
                    .map(|&f| (FIELD_NAMES[f].to_owned(), Value::from(*value)))
                    .collect();
                let actor = match writer {
                    Writer::User => Actor::User,
                    Writer::Migration => Actor::System {
                        source: SYSTEM_MIGRATION.to_owned(),
                    },
                };
                let change = w.replicas[*replica]
                    .write(&key, &actor, &patch, t(*now))
                    .map_err(|e| format!("write refused: {e}"))?;
                self.local_write(w, *replica, change)
            }
            Action::Delete { replica, now } => {
                let change = w.replicas[*replica]
                    .delete(&key, &Actor::User, t(*now))
                    .map_err(|e| format!("delete refused: {e}"))?;
                self.local_write(w, *replica, change)
            }
            Action::Restore { replica, now } => {
                let change = w.replicas[*replica]
                    .restore(&key, &Actor::User, t(*now))
                    .map_err(|e| format!("restore refused: {e}"))?;
                self.local_write(w, *replica, change)
            }
            Action::Bootstrap { replica, value } => {
                let change = w.replicas[*replica]
                    .bootstrap(&key, &self.defaults(*value))
                    .map_err(|e| format!("bootstrap refused: {e}"))?;
                let Some(change) = change else {
                    return Err("a bootstrap of an absent record made no change".into());
                };
                self.bootstrap_change(w, *replica, &change)?;
                Ok(true)
            }
            Action::ServerBootstrap { value } => {
                let change = w
                    .server
                    .bootstrap(&key, &self.defaults(*value))
                    .map_err(|e| format!("server bootstrap refused: {e}"))?;
                let Some(change) = change else {
                    return Err("a server bootstrap of an absent record made no change".into());
                };
                let node = self.bounds.replicas;
                self.bootstrap_change(w, node, &change)?;
                Ok(true)
            }
            Action::Agent { field, value, now } => {
                let patch: Map<String, Value> =
                    [(FIELD_NAMES[*field].to_owned(), Value::from(*value))]
                        .into_iter()
                        .collect();
                let high = w.server.log().iter().filter_map(Change::max_at).max();
                let change = w
                    .server
                    .write(&WriterId::new(AGENT), &Actor::Ai, &key, &patch, t(*now))
                    .map_err(|e| format!("agent write refused: {e}"))?;
                let Some(change) = change else {
                    return Ok(false);
                };
                // SPEC R12.4: stamped max(now, greatest at in the log + 1).
                let want = high
                    .and_then(Timestamp::next)
                    .map_or(t(*now), |h| h.max(t(*now)));
                self.expect_stamp(&change, want, AGENT)?;
                let node = self.bounds.replicas;
                let seen = w.knows[node];
                let id = self.new_write(w, &change, seen)?;
                w.knows[node] |= 1 << id;
                let expected = self.oracle_apply(w, node, std::slice::from_ref(&change), false)?;
                if !expected.conflicts.is_empty() || !expected.anomalies.is_empty() {
                    return Err(format!(
                        "oracle: an agent write that saw everything displaced unseen values: {expected:?}"
                    ));
                }
                self.check_shadow(w, node)?;
                Ok(true)
            }
            Action::Legacy { field, value, now } => {
                let at = t(*now).max(
                    w.legacy_last
                        .next()
                        .ok_or("legacy clock exhausted".to_owned())?,
                );
                w.legacy_seq += 1;
                w.legacy_last = at;
                let reg = Register {
                    value: Value::from(*value),
                    at,
                    by: WriterId::new(LEGACY),
                    origin: Origin::User,
                    base: Base::Legacy,
                };
                let change = Change::new(
                    key.clone(),
                    Op::Update,
                    vec![(FIELD_NAMES[*field].to_owned(), reg)],
                    WriterId::new(LEGACY),
                    Some(w.legacy_seq),
                )
                .map_err(|e| format!("legacy change invalid: {e}"))?;
                let push = Push {
                    client_id: WriterId::new(LEGACY),
                    changes: vec![change.clone()],
                    cursor: 0,
                    clock_epoch: 0,
                };
                self.new_write(w, &change, 0)?;
                self.deliver_push(w, &push)?;
                Ok(true)
            }
            Action::SendPush { replica } => {
                let push = w.replicas[*replica].push();
                add_message(
                    w,
                    Message::Push {
                        from: *replica,
                        push,
                    },
                );
                Ok(true)
            }
            Action::Pull { replica, limit } => {
                let cursor = w.replicas[*replica].cursor().unwrap_or(0);
                let page = w.server.pull(cursor, *limit);
                add_message(w, Message::Page { to: *replica, page });
                Ok(true)
            }
            Action::Deliver { message, keep } => {
                let m = if *keep {
                    w.net[*message].clone()
                } else {
                    w.net.remove(*message)
                };
                match m {
                    Message::Push { from, push } => {
                        let reply = self.deliver_push(w, &push)?;
                        add_message(
                            w,
                            Message::Reply {
                                to: from,
                                acked: reply.0,
                                page: reply.1,
                            },
                        );
                    }
                    Message::Reply { to, acked, page } => {
                        w.replicas[to].ack(acked);
                        self.deliver_page(w, to, &page)?;
                    }
                    Message::Page { to, page } => {
                        self.deliver_page(w, to, &page)?;
                    }
                }
                Ok(true)
            }
            Action::Drop { message } => {
                w.net.remove(*message);
                Ok(true)
            }
        }
    }

    fn defaults(&self, value: i64) -> Map<String, Value> {
        FIELD_NAMES[..self.bounds.fields]
            .iter()
            .map(|f| ((*f).to_owned(), Value::from(value)))
            .collect()
    }

    // A local write (write, delete, restore) of replica `r`.
    fn local_write(
        &mut self,
        w: &mut World,
        r: usize,
        change: Option<Change>,
    ) -> Result<bool, String> {
        let Some(change) = change else {
            return Ok(false);
        };
        let me = replica_id(r);
        let shadow = &w.shadows[r];
        let at = change
            .max_at()
            .ok_or("a local write with no register".to_owned())?;
        for (name, reg) in change.writes() {
            // SPEC R5.3: one `at`, by the client, base = what it overwrote.
            let want_base = shadow.get(name).map_or(Base::First, |cur| {
                Base::Saw(fieldmerge::Version {
                    at: cur.at,
                    by: cur.by.clone(),
                })
            });
            if reg.at != at || reg.by != me || reg.base != want_base {
                return Err(format!(
                    "SPEC R5.3: local write register {name} = {reg:?}, expected at {at:?}, by {me}, base {want_base:?}"
                ));
            }
            // SPEC R2.2: a local write beats every register the replica had.
            if let Some(cur) = shadow.values().max_by(|a, b| oracle_cmp(a, b)) {
                if oracle_version_cmp(reg, cur) != Ordering::Greater {
                    return Err(format!(
                        "SPEC R2.2: local write {reg:?} does not beat the replica's {cur:?}"
                    ));
                }
            }
        }
        let seen = w.knows[r];
        let id = self.new_write(w, &change, seen)?;
        w.knows[r] |= 1 << id;
        for (name, reg) in change.writes() {
            w.shadows[r].insert(name.to_owned(), reg.clone());
        }
        self.check_shadow(w, r)?;
        Ok(true)
    }

    fn bootstrap_change(
        &mut self,
        w: &mut World,
        node: usize,
        change: &Change,
    ) -> Result<bool, String> {
        for (name, reg) in change.writes() {
            // SPEC R10.1: genesis, system, system:bootstrap, first.
            if reg.at != Timestamp::GENESIS
                || reg.origin != Origin::System
                || reg.by.as_str() != fieldmerge::SYSTEM_BOOTSTRAP
                || reg.base != Base::First
            {
                return Err(format!("SPEC R10.1: bootstrap register {name} = {reg:?}"));
            }
        }
        self.new_write(w, change, 0)?;
        let expected = self.oracle_apply(w, node, std::slice::from_ref(change), false)?;
        if !expected.conflicts.is_empty() {
            return Err("oracle: a bootstrap displaced a value".into());
        }
        self.check_shadow(w, node)?;
        Ok(true)
    }

    fn expect_stamp(&self, change: &Change, want: Timestamp, by: &str) -> Result<(), String> {
        for (name, reg) in change.writes() {
            if reg.at != want || reg.by.as_str() != by {
                return Err(format!(
                    "SPEC R12.4: server-side write {name} stamped {:?} by {}, expected {want:?} by {by}",
                    reg.at, reg.by
                ));
            }
        }
        Ok(())
    }

    // Registers a new write with the oracle; returns its number.
    fn new_write(&mut self, w: &mut World, change: &Change, seen: u64) -> Result<usize, String> {
        let at = change.max_at().ok_or("a write with no register")?;
        let id = w.writes.len();
        if id >= 63 {
            return Err("more than 63 writes: the oracle's vector clock is a u64".into());
        }
        let by = change
            .writes()
            .next()
            .map(|(_, reg)| reg.by.clone())
            .ok_or("a write with no register")?;
        w.writes.push(WriteInfo { at, by, seen });
        Ok(id)
    }

    // The oracle's number of the (non-bootstrap) write with this version.
    fn write_of(&self, w: &World, reg: &Register) -> Option<usize> {
        if reg.at == Timestamp::GENESIS {
            return None;
        }
        w.writes
            .iter()
            .position(|info| info.at == reg.at && info.by == reg.by)
    }

    // Delivers a push to the server; checks the merge report and that a
    // re-delivery appends nothing. Returns the reply's ack and page.
    fn deliver_push(&mut self, w: &mut World, push: &Push) -> Result<(Option<u64>, Page), String> {
        let node = self.bounds.replicas;
        let last = w.server.last_seq(&push.client_id).unwrap_or(0);
        let new: Vec<Change> = push
            .changes
            .iter()
            .filter(|c| c.client_seq().is_some_and(|s| s > last))
            .cloned()
            .collect();
        let reply = w
            .server
            .push(push, t(SERVER_NOW_MS))
            .map_err(|e| format!("push refused: {e} ({})", e.code()))?;
        self.summary.marks.tally(&reply.report.tally);
        if reply.appended != new.len() {
            return Err(format!(
                "SPEC R12.1: push appended {}, expected {} new changes",
                reply.appended,
                new.len()
            ));
        }
        if new.is_empty() {
            self.summary.marks.hit(Mark::PushRetryDeduplicated);
        }
        let expected = self.oracle_apply(w, node, &new, false)?;
        compare_report(&expected, &reply.report, None)?;
        self.check_shadow(w, node)?;
        let mut again = w.server.clone();
        let replay = again
            .push(push, t(SERVER_NOW_MS))
            .map_err(|e| format!("SPEC R12.1: a re-delivered push was refused: {e}"))?;
        if replay.appended != 0 || again != w.server {
            return Err("SPEC R12.1: a re-delivered push changed the server".into());
        }
        Ok((reply.acked_through, reply.page))
    }

    // Delivers a page to replica `r`: applied when it continues the cursor,
    // refused (and nothing changes) otherwise.
    fn deliver_page(&mut self, w: &mut World, r: usize, page: &Page) -> Result<(), String> {
        let before = w.replicas[r].clone();
        let hydration = before.cursor().is_none() || before.is_hydrating();
        match w.replicas[r].apply_page(page) {
            Err(e @ PageError::NotAtCursor { .. }) => {
                self.summary.marks.hit(Mark::PageRefusedNotAtCursor);
                if w.replicas[r] != before {
                    return Err(format!(
                        "SPEC R6.5: a refused page ({e}) changed the replica"
                    ));
                }
                if page.after == before.cursor().unwrap_or(0) {
                    return Err(format!("SPEC R6.5: a page at the cursor was refused: {e}"));
                }
                Ok(())
            }
            Err(e) => Err(format!("SPEC R6.5: a server page was refused: {e}")),
            Ok(report) => {
                if page.after != before.cursor().unwrap_or(0) {
                    return Err("SPEC R6.5: a page off the cursor was applied".into());
                }
                self.summary.marks.tally(&report.tally);
                self.summary.marks.hit(if hydration {
                    Mark::PageAppliedHydration
                } else {
                    Mark::PageAppliedLive
                });
                let me = replica_id(r);
                let expected = self.oracle_apply(w, r, &page.changes, hydration)?;
                compare_report(&expected, &report, Some(&me))?;
                self.check_shadow(w, r)?;
                let replica = &w.replicas[r];
                let want_cursor = page.after + page.changes.len() as u64;
                if replica.cursor() != Some(want_cursor) {
                    return Err(format!(
                        "SPEC R12.2: cursor {:?} after a page ending at {want_cursor}",
                        replica.cursor()
                    ));
                }
                self.check_idempotent(replica, page)
            }
        }
    }

    // SPEC R6.2, R6.7: the page's changes again change nothing and report
    // no conflict and no hidden edit; the page itself again is refused
    // (unless it is empty). A malformed twin that lost is a twin again on
    // re-delivery, neither duplicate nor stale, and is reported again as an
    // anomaly that keeps the current register (SPEC R4.4).
    fn check_idempotent(&mut self, replica: &Replica, page: &Page) -> Result<(), String> {
        let mut again = replica.clone();
        let report = again.apply(&page.changes, fieldmerge::Delivery::Live);
        let tally = report.tally;
        let twins_kept = report.anomalies.iter().all(|a| {
            replica
                .record(&a.key)
                .and_then(|r| r.field(&a.field))
                .is_some_and(|current| *current == a.kept)
        });
        if again != *replica
            || !report.conflicts.is_empty()
            || !twins_kept
            || report.anomalies.len() as u64 != tally.twin
            || !report.hidden_edits.is_empty()
            || tally.total() != tally.duplicate + tally.stale + tally.twin
        {
            return Err(format!(
                "SPEC R6.7: re-applying a page's changes was not a no-op: {report:?}"
            ));
        }
        if tally.twin > 0 {
            self.summary.marks.hit(Mark::TwinRedelivered);
        }
        if !page.changes.is_empty() {
            let mut again = replica.clone();
            match again.apply_page(page) {
                Err(PageError::NotAtCursor { .. }) if again == *replica => {}
                other => {
                    return Err(format!(
                        "SPEC R6.5: a page applied twice was not refused: {other:?}"
                    ))
                }
            }
        }
        Ok(())
    }

    // The oracle's merge of `changes` into node `node`'s shadow, in order:
    // what the kernel must report, by the spec's rules and the vector clock.
    fn oracle_apply(
        &mut self,
        w: &mut World,
        node: usize,
        changes: &[Change],
        hydration: bool,
    ) -> Result<Expected, String> {
        let me = (node < self.bounds.replicas).then(|| replica_id(node));
        let mut expected = Expected::default();
        for change in changes {
            if let Some(id) = change
                .writes()
                .next()
                .and_then(|(_, r)| self.write_of(w, r))
            {
                w.knows[node] |= (1 << id) | w.writes[id].seen;
            }
            let was_deleted = shadow_deleted(&w.shadows[node]);
            let mut tombstone_won = false;
            for (name, incoming) in change.writes() {
                let shadow = &mut w.shadows[node];
                let Some(current) = shadow.get(name).cloned() else {
                    shadow.insert(name.to_owned(), incoming.clone());
                    tombstone_won |= name == TOMBSTONE_FIELD;
                    continue;
                };
                if name == TOMBSTONE_FIELD && !incoming.value.is_null() && was_deleted {
                    self.summary.marks.hit(Mark::TombstoneOnDeletedRecord);
                }
                match oracle_version_cmp(incoming, &current) {
                    Ordering::Less => {}
                    Ordering::Equal => {
                        if oracle_cmp(incoming, &current) != Ordering::Equal {
                            let incoming_won = oracle_cmp(incoming, &current) == Ordering::Greater;
                            self.summary.marks.hit(Mark::Anomaly);
                            self.summary.marks.hit(if incoming_won {
                                Mark::TwinIncomingWon
                            } else {
                                Mark::TwinCurrentKept
                            });
                            let (kept, dropped) = if incoming_won {
                                (incoming.clone(), current.clone())
                            } else {
                                (current.clone(), incoming.clone())
                            };
                            expected
                                .anomalies
                                .push((name.to_owned(), kept.clone(), dropped));
                            shadow.insert(name.to_owned(), kept);
                            tombstone_won |= incoming_won && name == TOMBSTONE_FIELD;
                        }
                    }
                    Ordering::Greater => {
                        shadow.insert(name.to_owned(), incoming.clone());
                        tombstone_won |= name == TOMBSTONE_FIELD;
                        let differs =
                            oracle_value_cmp(&current.value, &incoming.value) != Ordering::Equal;
                        if current.origin != Origin::User || !differs {
                            continue;
                        }
                        let rule = if incoming.base == Base::Legacy {
                            // SPEC R6.4: no witness; live applies only.
                            (!hydration).then_some(ConflictRule::Legacy)
                        } else {
                            // SPEC R6.3, R6.9 against the vector clock: had the
                            // winner's writer seen the loser?
                            let winner = self.write_of(w, incoming).ok_or_else(|| {
                                format!("oracle: unknown winning write {incoming:?}")
                            })?;
                            let loser = self.write_of(w, &current).ok_or_else(|| {
                                format!("oracle: unknown losing user write {current:?}")
                            })?;
                            (w.writes[winner].seen & (1 << loser) == 0)
                                .then_some(ConflictRule::Unwitnessed)
                        };
                        if let Some(rule) = rule {
                            self.summary.marks.hit(match incoming.base {
                                Base::Legacy => Mark::ConflictWinnerLegacy,
                                Base::First => Mark::ConflictWinnerSawNothing,
                                Base::Saw(_) => Mark::ConflictWinnerSawAnotherVersion,
                            });
                            let local = me.as_ref().is_some_and(|me| &current.by == me);
                            self.summary.marks.hit(if local {
                                Mark::ConflictLoserLocal
                            } else {
                                Mark::ConflictLoserRemote
                            });
                            expected.conflicts.push(ExpectedConflict {
                                field: name.to_owned(),
                                loser: current,
                                winner: incoming.clone(),
                                local,
                                rule,
                            });
                        }
                    }
                }
            }
            let shadow = &w.shadows[node];
            let deleted = shadow_deleted(shadow);
            if tombstone_won && !was_deleted && deleted {
                self.summary.marks.hit(Mark::DeleteApplied);
            }
            if tombstone_won && was_deleted && !deleted {
                self.summary.marks.hit(Mark::RestoreApplied);
            }
            // SPEC R9.3: the hidden-edit rule, and its soundness against the
            // vector clock.
            if let (Some(me), true, false, true) = (&me, tombstone_won, was_deleted, deleted) {
                let tombstone = shadow
                    .get(TOMBSTONE_FIELD)
                    .cloned()
                    .ok_or("oracle: deleted without a tombstone")?;
                for (name, reg) in shadow {
                    if name != TOMBSTONE_FIELD
                        && reg.origin == Origin::User
                        && &reg.by == me
                        && oracle_version_cmp(reg, &tombstone) == Ordering::Greater
                    {
                        let edit = self.write_of(w, reg).ok_or("oracle: unknown edit")?;
                        if let Some(deleter) = self.write_of(w, &tombstone) {
                            if w.writes[deleter].seen & (1 << edit) != 0 {
                                return Err(format!(
                                    "SPEC R9.3: the hidden edit {reg:?} was seen by the deleter"
                                ));
                            }
                        }
                        self.summary.marks.hit(Mark::HiddenEdit);
                        expected
                            .hidden
                            .push((name.clone(), reg.clone(), tombstone.clone()));
                    }
                }
            }
        }
        Ok(expected)
    }

    // The kernel's record of node `node` equals the oracle's shadow.
    fn check_shadow(&self, w: &World, node: usize) -> Result<(), String> {
        let record = if node < self.bounds.replicas {
            w.replicas[node].record(&key())
        } else {
            w.server.record(&key())
        };
        let kernel: BTreeMap<String, Register> = record
            .map(|r| {
                r.fields()
                    .map(|(n, reg)| (n.to_owned(), reg.clone()))
                    .collect()
            })
            .unwrap_or_default();
        if kernel != w.shadows[node] {
            return Err(format!(
                "SPEC R4: node {node} holds {kernel:?}, the oracle's merge gives {:?}",
                w.shadows[node]
            ));
        }
        Ok(())
    }

    // The checks on every reachable world.
    fn check_world(&mut self, w: &World) -> Result<(), String> {
        let server_records = w.server.records();
        for (node, records) in w
            .replicas
            .iter()
            .map(Replica::records)
            .chain(std::iter::once(server_records))
            .enumerate()
        {
            for (key, record) in records {
                // SPEC R7.1, R8.1: the shadow index is the last change.
                let oracle_max = record.fields().map(|(_, reg)| reg.at).max();
                if record.updated_at_index() != record.derive_updated_at()
                    || record.derive_updated_at() != oracle_max
                {
                    return Err(format!(
                        "SPEC R8.1: node {node} record {key}: index {:?}, derived {:?}, max at {oracle_max:?}",
                        record.updated_at_index(),
                        record.derive_updated_at()
                    ));
                }
            }
        }
        let head = w.server.head();
        let mut all_quiet = true;
        for (r, replica) in w.replicas.iter().enumerate() {
            let quiet = replica.outbox().is_empty() && replica.cursor().unwrap_or(0) == head;
            all_quiet &= quiet;
            // SPEC R4.5, R12: a replica with nothing pending that applied the
            // whole log holds exactly the server's records.
            if quiet && replica.records() != server_records {
                return Err(format!(
                    "convergence: quiescent replica r{r} holds {:?}, the server {:?}",
                    replica.records(),
                    server_records
                ));
            }
        }
        if all_quiet {
            self.summary.quiescent += 1;
        }
        if self.bounds.drain {
            self.check_drain(w)?;
        }
        Ok(())
    }

    // From `w`, every replica pushes everything and pulls to the head, with
    // every check of a normal step; then all must equal the server.
    fn check_drain(&mut self, w: &World) -> Result<(), String> {
        let marks = self.summary.marks.clone();
        let mut w = w.clone();
        for r in 0..w.replicas.len() {
            if w.replicas[r].outbox().is_empty() {
                continue;
            }
            let push = w.replicas[r].push();
            let (acked, page) = self.deliver_push(&mut w, &push)?;
            w.replicas[r].ack(acked);
            self.deliver_page(&mut w, r, &page)?;
        }
        let head = w.server.head();
        for r in 0..w.replicas.len() {
            // One page per log entry at most: a cursor that never reaches
            // the head is a failure, not a hang.
            for _ in 0..=head {
                if w.replicas[r].cursor().unwrap_or(0) >= head {
                    break;
                }
                let page = w.server.pull(w.replicas[r].cursor().unwrap_or(0), 1000);
                self.deliver_page(&mut w, r, &page)?;
            }
            if w.replicas[r].cursor().unwrap_or(0) < head {
                return Err(format!("r{r}: pulling never reached the head {head}"));
            }
            let replica = &w.replicas[r];
            if !replica.outbox().is_empty() || replica.records() != w.server.records() {
                return Err(format!(
                    "convergence after delivering everything: r{r} holds {:?} with outbox {:?}, the server {:?}",
                    replica.records(),
                    replica.outbox(),
                    w.server.records()
                ));
            }
        }
        // The drain's decisions count as marks of the worlds it reached only
        // through the explorer proper; keep the marks honest.
        self.summary.marks = marks;
        Ok(())
    }
}

fn shadow_deleted(shadow: &BTreeMap<String, Register>) -> bool {
    shadow
        .get(TOMBSTONE_FIELD)
        .is_some_and(|reg| !reg.value.is_null())
}

#[derive(Debug, Default)]
struct Expected {
    conflicts: Vec<ExpectedConflict>,
    anomalies: Vec<(String, Register, Register)>,
    hidden: Vec<(String, Register, Register)>,
}

#[derive(Debug)]
struct ExpectedConflict {
    field: String,
    loser: Register,
    winner: Register,
    local: bool,
    rule: ConflictRule,
}

// The kernel's report equals what the oracle expects, in order.
fn compare_report(
    expected: &Expected,
    report: &ApplyReport,
    me: Option<&WriterId>,
) -> Result<(), String> {
    let got: Vec<_> = report
        .conflicts
        .iter()
        .map(|c| {
            (
                c.field.as_str(),
                &c.loser,
                &c.winner,
                c.loser_is_local,
                c.rule,
            )
        })
        .collect();
    let want: Vec<_> = expected
        .conflicts
        .iter()
        .map(|c| (c.field.as_str(), &c.loser, &c.winner, c.local, c.rule))
        .collect();
    if got != want {
        return Err(format!(
            "SPEC R6.3: node {me:?} reported conflicts {got:#?}, the vector clock says {want:#?}"
        ));
    }
    let got: Vec<_> = report
        .anomalies
        .iter()
        .map(|a| (a.field.as_str(), &a.kept, &a.dropped))
        .collect();
    let want: Vec<_> = expected
        .anomalies
        .iter()
        .map(|(f, k, d)| (f.as_str(), k, d))
        .collect();
    if got != want {
        return Err(format!("SPEC R4.4: anomalies {got:#?}, expected {want:#?}"));
    }
    let got: Vec<_> = report
        .hidden_edits
        .iter()
        .map(|h| (h.field.as_str(), &h.edit, &h.tombstone))
        .collect();
    let want: Vec<_> = expected
        .hidden
        .iter()
        .map(|(f, e, t)| (f.as_str(), e, t))
        .collect();
    if got != want {
        return Err(format!(
            "SPEC R9.3: hidden edits {got:#?}, expected {want:#?}"
        ));
    }
    Ok(())
}

fn add_message(w: &mut World, message: Message) {
    if w.net.contains(&message) {
        return;
    }
    w.net.push(message);
    w.net.sort_by_key(hash_of);
}

fn violation(w: &World, message: String) -> Box<Violation> {
    Box::new(Violation {
        message,
        trace: w.trace.clone(),
    })
}

// SPEC R4.1-R4.2, written again: `at`, then the writer id's bytes.
fn oracle_version_cmp(a: &Register, b: &Register) -> Ordering {
    (a.at.as_ms(), a.by.as_str().as_bytes()).cmp(&(b.at.as_ms(), b.by.as_str().as_bytes()))
}

// SPEC R4.3, written again for the explorer's values (integers, strings,
// null): version, value, origin, base.
fn oracle_cmp(a: &Register, b: &Register) -> Ordering {
    let origin = |o: Origin| match o {
        Origin::User => 0,
        Origin::Agent => 1,
        Origin::Migration => 2,
        Origin::System => 3,
    };
    let base = |b: &Base| match b {
        Base::Legacy => (0, None),
        Base::First => (1, None),
        Base::Saw(v) => (2, Some((v.at.as_ms(), v.by.as_str().as_bytes().to_vec()))),
    };
    oracle_version_cmp(a, b)
        .then_with(|| oracle_value_cmp(&a.value, &b.value))
        .then_with(|| origin(a.origin).cmp(&origin(b.origin)))
        .then_with(|| base(&a.base).cmp(&base(&b.base)))
}

// SPEC R4.4 for null, integers and strings: the only values explored.
fn oracle_value_cmp(a: &Value, b: &Value) -> Ordering {
    let rank = |v: &Value| match v {
        Value::Null => (0, 0, String::new()),
        Value::Number(n) => (
            2,
            n.as_i64().expect("explorer values are i64"),
            String::new(),
        ),
        Value::String(s) => (3, 0, s.clone()),
        other => panic!("explorer value out of domain: {other}"),
    };
    let (ra, na, sa) = rank(a);
    let (rb, nb, sb) = rank(b);
    ra.cmp(&rb)
        .then(na.cmp(&nb))
        .then_with(|| sa.as_bytes().cmp(sb.as_bytes()))
}

// A 128-bit fingerprint of the world's identity: the kernel's state (the
// server's materialized state and clock are functions of its log), the
// messages in flight, and the oracle's vector clock. Hashed field by field
// through the public accessors; two hashers with different salts.
fn fingerprint(w: &World) -> u128 {
    let hash = |salt: u8| {
        let mut h = DefaultHasher::new();
        h.write_u8(salt);
        hash_changes(&mut h, w.server.log());
        for (r, replica) in w.replicas.iter().enumerate() {
            h.write_u64(w.server.last_seq(&replica_id(r)).unwrap_or(0));
            hash_replica(&mut h, replica);
        }
        h.write_u64(w.server.last_seq(&WriterId::new(LEGACY)).unwrap_or(0));
        h.write_usize(w.net.len());
        for m in &w.net {
            hash_message(&mut h, m);
        }
        h.write_usize(w.writes.len());
        for info in &w.writes {
            h.write_i64(info.at.as_ms());
            h.write(info.by.as_str().as_bytes());
            h.write_u64(info.seen);
        }
        for k in &w.knows {
            h.write_u64(*k);
        }
        h.write_u64(w.legacy_seq);
        h.write_i64(w.legacy_last.as_ms());
        h.write_usize(w.values_used);
        h.write_usize(w.fields_used);
        h.finish()
    };
    (u128::from(hash(1)) << 64) | u128::from(hash(2))
}

fn hash_message(h: &mut DefaultHasher, m: &Message) {
    match m {
        Message::Push { from, push } => {
            h.write_u8(1);
            h.write_usize(*from);
            h.write_u64(push.cursor);
            hash_changes(h, &push.changes);
        }
        Message::Reply { to, acked, page } => {
            h.write_u8(2);
            h.write_usize(*to);
            h.write_u64(acked.map_or(0, |a| a + 1));
            hash_page(h, page);
        }
        Message::Page { to, page } => {
            h.write_u8(3);
            h.write_usize(*to);
            hash_page(h, page);
        }
    }
}

fn hash_page(h: &mut DefaultHasher, page: &Page) {
    h.write_u64(page.after);
    h.write_u64(page.head);
    hash_changes(h, &page.changes);
}

fn hash_replica(h: &mut DefaultHasher, replica: &Replica) {
    let clock = replica.clock();
    h.write_i64(clock.seen.as_ms());
    h.write_i64(clock.stamped.as_ms());
    h.write_i64(clock.offset_ms);
    h.write_u64(replica.next_seq());
    h.write_u64(replica.cursor().map_or(0, |c| c + 1));
    h.write_u8(u8::from(replica.is_hydrating()));
    hash_changes(h, replica.outbox());
    h.write_usize(replica.records().len());
    for record in replica.records().values() {
        h.write_usize(record.len());
        for (name, reg) in record.fields() {
            h.write(name.as_bytes());
            hash_register(h, reg);
        }
        h.write_i64(record.updated_at_index().map_or(-1, Timestamp::as_ms));
    }
}

fn hash_changes(h: &mut DefaultHasher, changes: &[Change]) {
    h.write_usize(changes.len());
    for c in changes {
        h.write(c.client_id().as_str().as_bytes());
        h.write_u64(c.client_seq().map_or(0, |s| s + 1));
        h.write_u64(c.server_seq().map_or(0, |s| s + 1));
        h.write(c.op().as_str().as_bytes());
        for (name, reg) in c.writes() {
            h.write(name.as_bytes());
            hash_register(h, reg);
        }
    }
}

fn hash_register(h: &mut DefaultHasher, reg: &Register) {
    match &reg.value {
        Value::Null => h.write_u8(0),
        Value::Number(n) => {
            h.write_u8(2);
            h.write_i64(n.as_i64().expect("explorer values are i64"));
        }
        Value::String(s) => {
            h.write_u8(3);
            h.write(s.as_bytes());
        }
        other => panic!("explorer value out of domain: {other}"),
    }
    h.write_i64(reg.at.as_ms());
    h.write(reg.by.as_str().as_bytes());
    h.write_u8(reg.origin as u8);
    match &reg.base {
        Base::Legacy => h.write_u8(0),
        Base::First => h.write_u8(1),
        Base::Saw(v) => {
            h.write_u8(2);
            h.write_i64(v.at.as_ms());
            h.write(v.by.as_str().as_bytes());
        }
    }
}

fn hash_of(message: &Message) -> u64 {
    let mut h = DefaultHasher::new();
    hash_message(&mut h, message);
    h.finish()
}
