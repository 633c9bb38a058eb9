//! The simulated world: the kernel's real server and replicas, the devices
//! around the replicas (clocks, disks, crashes), the network as a
//! deterministic queue of in-flight messages, and the oracle's hooks on
//! every write and apply.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde_json::{json, Map, Value};

use fieldmerge::{
    Actor, Base, Change, ClientRow, Delivery, Op, Origin, Page, Push, PushError, PushReply, Record,
    RecordKey, Records, Register, Replica, ReplicaState, Server, ServerConfig, Timestamp, WriterId,
    SYSTEM_BOOTSTRAP, SYSTEM_MIGRATION,
};

use super::config::{Config, FaultKind, Mutation, Scenario};
use super::coverage::{Before, DroppedTwins, Mark};
use super::oracle::{Applying, Expectation, Oracle, WriteSet};
use super::rng::Fnv;
use super::{Event, Fate, Outcome, RunOptions, Stats, Violation, ViolationKind};

/// `2026-04-26T10:00:00.000Z`: when every run starts.
pub(crate) const T0_MS: i64 = 1_777_197_600_000;
const TASK_FIELDS: [&str; 3] = ["title", "note", "done"];
const USER_FIELDS: [&str; 2] = ["theme", "lang"];
const SPACE_FIELDS: [&str; 2] = ["name", "color"];
/// The bound on message deliveries while draining the network in one heal
/// round: a limit on everything.
const DRAIN_MAX: usize = 100_000;

/// The name of the server's log after `generation` failovers (SPEC R12.7).
fn log_name(generation: u32) -> String {
    format!("log-{generation}")
}

/// The generation of a log name: how many failovers made it.
fn generation_of(name: Option<&str>) -> Option<u32> {
    name?.strip_prefix("log-")?.parse().ok()
}

/// A day, in milliseconds: how far ahead a wrong server-side clock runs.
const DAY_MS: i64 = 86_400_000;

/// How many kinds of poison entry [`Event::Poison`] writes (SPEC R12.6).
pub(crate) const POISON_VARIANTS: u64 = 5;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Status {
    Absent,
    Up,
    Down,
}

#[derive(Debug)]
pub(crate) struct Device {
    pub user: usize,
    slot: usize,
    pub status: Status,
    incarnation: u32,
    wipes: u32,
    pub replica: Replica,
    seen: WriteSet,
    // The twins this device's applies dropped (SPEC R4.4), to mark a losing
    // twin delivered again (coverage only; twins are rare).
    dropped_twins: DroppedTwins,
    disk: Option<ReplicaState>,
    disk_seen: WriteSet,
    pub offset_ms: i64,
    pub drift_ppm: i64,
    pub partitioned: bool,
    // Whether the replica merged another's state since its last wipe: its
    // records are no longer a log prefix, so SPEC R6.6 applies to it.
    merged: bool,
    // Every conflict this replica reported, to check "exactly once" (R6.7).
    reported: BTreeSet<ConflictKey>,
    // A backup of its stored state and what it had seen then (R12.5).
    backup: Option<(ReplicaState, WriteSet)>,
    // Restored from the backup and not yet recovered under a new client id.
    restored: bool,
}

type ConflictKey = (RecordKey, String, fieldmerge::Version, fieldmerge::Version);

impl Device {
    fn client_id(&self) -> WriterId {
        if self.wipes == 0 {
            WriterId::new(&format!("u{}d{}", self.user, self.slot))
        } else {
            WriterId::new(&format!("u{}d{}w{}", self.user, self.slot, self.wipes))
        }
    }
}

#[derive(Clone, Debug)]
enum Payload {
    Push(Push),
    Pull { cursor: u64, limit: usize },
    Boot,
    PushReply(Result<Box<PushReply>, PushError>),
    Page(Page),
}

impl Payload {
    fn to_server(&self) -> bool {
        matches!(
            self,
            Payload::Push(_) | Payload::Pull { .. } | Payload::Boot
        )
    }

    fn name(&self) -> &'static str {
        match self {
            Payload::Push(_) => "push",
            Payload::Pull { .. } => "pull",
            Payload::Boot => "boot",
            Payload::PushReply(_) => "push-reply",
            Payload::Page(_) => "page",
        }
    }
}

#[derive(Clone, Debug)]
struct Message {
    device: usize,
    incarnation: u32,
    ready_at: usize,
    payload: Payload,
}

/// The world of one run.
pub(crate) struct World {
    config: Config,
    pub step: usize,
    pub now_ms: i64,
    pub server: Server,
    pub devices: Vec<Device>,
    signed_up: Vec<bool>,
    net: Vec<Message>,
    oracle: Oracle,
    legacy_seq: u64,
    legacy_at: Timestamp,
    // How many failovers the server went through (SPEC R12.7).
    log_generation: u32,
    // The write of each entry of every log a failover retired, by name: a
    // page of an old log still in flight is judged by its own numbering.
    retired_logs: BTreeMap<String, Vec<usize>>,
    healing: bool,
    pub stats: Stats,
    violations: Vec<Violation>,
    hash: Fnv,
    trace: Option<String>,
}

impl World {
    pub(crate) fn new(config: &Config, options: RunOptions) -> World {
        let users = config.users.max(1);
        let per_user = config.devices_per_user.max(1);
        let devices = (0..users * per_user)
            .map(|d| Device {
                user: d / per_user,
                slot: d % per_user,
                status: Status::Absent,
                incarnation: 0,
                wipes: 0,
                replica: Replica::new(WriterId::new("absent")),
                seen: WriteSet::default(),
                dropped_twins: DroppedTwins::default(),
                disk: None,
                disk_seen: WriteSet::default(),
                offset_ms: 0,
                drift_ppm: 0,
                partitioned: false,
                merged: false,
                reported: BTreeSet::new(),
                backup: None,
                restored: false,
            })
            .collect();
        World {
            config: *config,
            step: 0,
            now_ms: T0_MS,
            // A named log (SPEC R12.7): a failover names the standby's.
            server: Server::new(
                ServerConfig::new(
                    ServerConfig::default().skew_ms_max(),
                    config.page_size.max(1),
                )
                .unwrap_or_default(),
            )
            .with_log_name(&log_name(0))
            .expect("a name"),
            devices,
            signed_up: vec![false; users],
            net: Vec::new(),
            oracle: Oracle::default(),
            legacy_seq: 0,
            legacy_at: Timestamp::GENESIS,
            log_generation: 0,
            retired_logs: BTreeMap::new(),
            healing: false,
            stats: Stats::default(),
            violations: Vec::new(),
            hash: Fnv::new(),
            trace: options.trace.then(String::new),
        }
    }

    // ----- the run's fixed vocabulary -----

    /// How many keys there are: the tasks, one singleton per user, the space.
    pub(crate) fn key_count(&self) -> usize {
        self.config.tasks.max(1) + self.signed_up.len() + 1
    }

    /// The key index of `user`'s singleton, and of the space's.
    pub(crate) fn user_key(&self, user: usize) -> usize {
        self.config.tasks.max(1) + user
    }

    pub(crate) fn space_key(&self) -> usize {
        self.config.tasks.max(1) + self.signed_up.len()
    }

    fn key(&self, k: usize) -> RecordKey {
        let tasks = self.config.tasks.max(1);
        if k < tasks {
            RecordKey::new("tasks", &format!("t{k}"))
        } else if k < tasks + self.signed_up.len() {
            RecordKey::singleton("userContext", &format!("u{}", k - tasks))
        } else {
            RecordKey::singleton("space", "s0")
        }
    }

    fn fields(&self, k: usize) -> &'static [&'static str] {
        let tasks = self.config.tasks.max(1);
        if k < tasks {
            &TASK_FIELDS
        } else if k < tasks + self.signed_up.len() {
            &USER_FIELDS
        } else {
            &SPACE_FIELDS
        }
    }

    fn defaults(&self, k: usize) -> Map<String, Value> {
        let tasks = self.config.tasks.max(1);
        let v = if k < tasks {
            json!({})
        } else if k < tasks + self.signed_up.len() {
            json!({"theme": "light", "lang": "en"})
        } else {
            json!({"name": "", "color": "blue"})
        };
        v.as_object().cloned().unwrap_or_default()
    }

    fn patch(&self, k: usize, f: usize, value: i64) -> Map<String, Value> {
        let fields = self.fields(k);
        let name = fields[f % fields.len()];
        let v = if name == "done" {
            Value::Bool(value % 2 == 0)
        } else {
            Value::String(format!("v{value}"))
        };
        let mut m = Map::new();
        m.insert(name.to_owned(), v);
        m
    }

    fn device_now(&self, d: usize) -> Timestamp {
        let dev = &self.devices[d];
        let elapsed = self.now_ms - T0_MS;
        let ms = self.now_ms + dev.offset_ms + dev.drift_ppm.saturating_mul(elapsed) / 1_000_000;
        Timestamp::from_ms(ms.max(0)).unwrap_or(Timestamp::GENESIS)
    }

    fn server_now(&self) -> Timestamp {
        Timestamp::from_ms(self.now_ms).unwrap_or(Timestamp::GENESIS)
    }

    pub(crate) fn is_up(&self, d: usize) -> bool {
        self.devices
            .get(d)
            .is_some_and(|dev| dev.status == Status::Up)
    }

    pub(crate) fn ready_messages(&self) -> usize {
        self.net.iter().filter(|m| m.ready_at <= self.step).count()
    }

    // ----- trace and counters -----

    fn log(&mut self, args: std::fmt::Arguments<'_>) {
        let _ = self.hash.write_fmt(args);
        self.hash.bytes(b"\n");
        if let Some(t) = &mut self.trace {
            let _ = t.write_fmt(args);
            t.push('\n');
        }
    }

    fn fault(&mut self, kind: FaultKind) {
        self.stats.faults[kind as usize] += 1;
    }

    fn scenario(&mut self, s: Scenario) {
        self.stats.scenarios[s as usize] += 1;
    }

    fn violate(&mut self, kind: ViolationKind, detail: String) {
        self.log(format_args!("  VIOLATION {}: {detail}", kind.name()));
        self.violations
            .push(Violation::new(self.step, kind, detail));
    }

    // ----- events -----

    pub(crate) fn execute(&mut self, event: &Event) {
        self.stats.events += 1;
        let (step, elapsed) = (self.step, self.now_ms - T0_MS);
        self.log(format_args!("{step} t+{elapsed} {event:?}"));
        match *event {
            Event::Tick { ms } => self.now_ms += i64::from(ms),
            Event::Join { device, fate } => self.join(device, fate),
            Event::Boot { device, fate } => self.boot(device, fate),
            Event::Crash { device } => self.crash(device),
            Event::RestartServer => self.restart_server(),
            Event::Failover => self.failover(),
            Event::Poison { variant } => self.poison(variant),
            Event::Wipe { device, fate } => self.wipe(device, fate),
            Event::Backup { device } => {
                if self.is_up(device) {
                    let dev = &mut self.devices[device];
                    dev.backup = Some((ReplicaState::of(&dev.replica), dev.seen.clone()));
                    self.log(format_args!("  backup of device {device}"));
                }
            }
            Event::RestoreBackup { device } => self.restore_backup(device),
            Event::Write {
                device,
                key,
                field,
                value,
            } => self.user_write(device, key, field, value, &Actor::User),
            Event::Migrate {
                device,
                key,
                field,
                value,
            } => {
                if self.is_up(device) && key < self.key_count() {
                    self.scenario(Scenario::Migration);
                }
                self.user_write(device, key, field, value, &Actor::system(SYSTEM_MIGRATION));
            }
            Event::Burst { device, key, count } => {
                if self.is_up(device) && key < self.key_count() {
                    self.scenario(Scenario::ReplayBurst);
                    for i in 0..i64::from(count) {
                        let value = (self.step as i64) * 1000 + i;
                        self.user_write(device, key, i as usize, value, &Actor::User);
                    }
                }
            }
            Event::Delete { device, key } => self.tombstone(device, key, true),
            Event::Restore { device, key } => self.tombstone(device, key, false),
            Event::MigrateAll {
                device,
                field,
                value,
            } => {
                if self.is_up(device) {
                    self.scenario(Scenario::BulkMigration);
                    let migration = Actor::system(SYSTEM_MIGRATION);
                    for key in 0..self.key_count() {
                        self.user_write(device, key, field, value, &migration);
                    }
                }
            }
            Event::Agent { key, field, value } => self.agent_write(key, field, value, 0),
            Event::AgentAhead { key, field, value } => {
                if key < self.key_count() {
                    self.scenario(Scenario::ServerClockAhead);
                }
                self.agent_write(key, field, value, DAY_MS);
            }
            Event::Legacy { key, field, value } => self.legacy_write(key, field, value),
            Event::Push { device, fate } => {
                if self.is_up(device) {
                    let push = self.devices[device].replica.push();
                    self.send(device, Payload::Push(push), fate);
                }
            }
            Event::Pull {
                device,
                limit,
                fate,
            } => {
                if self.is_up(device) {
                    let cursor = self.devices[device].replica.cursor().unwrap_or(0);
                    let limit = usize::from(limit.max(1));
                    self.send(device, Payload::Pull { cursor, limit }, fate);
                }
            }
            Event::Deliver { pick, fate } => self.deliver(pick, fate),
            Event::Replay { device, after } => {
                if self.is_up(device) && !self.devices[device].partitioned {
                    self.scenario(Scenario::ReplayBurst);
                    let page = self
                        .server
                        .pull(after.min(self.server.head()), self.config.page_size);
                    self.apply_page(device, &page, "replayed page");
                }
            }
            Event::Merge { device, from } => self.merge(device, from),
            Event::ResetCursor { device } => {
                if self.is_up(device) {
                    self.scenario(Scenario::ReplayBurst);
                    self.devices[device].replica.reset_cursor();
                }
            }
            Event::Clock {
                device,
                offset_ms,
                drift_ppm,
            } => {
                if device < self.devices.len() {
                    let dev = &self.devices[device];
                    let (old_offset, old_drift) = (dev.offset_ms, dev.drift_ppm);
                    if offset_ms != 0 && old_offset == 0 {
                        self.fault(FaultKind::Skew);
                    } else if offset_ms != old_offset {
                        self.fault(FaultKind::ClockStep);
                    }
                    if drift_ppm != 0 && drift_ppm != old_drift {
                        self.fault(FaultKind::Drift);
                    }
                    let dev = &mut self.devices[device];
                    dev.offset_ms = offset_ms;
                    dev.drift_ppm = drift_ppm;
                }
            }
            Event::Partition { device, cut } => {
                if device < self.devices.len() {
                    if cut && !self.devices[device].partitioned {
                        self.fault(FaultKind::Partition);
                    }
                    self.devices[device].partitioned = cut;
                }
            }
        }
        self.step += 1;
    }

    fn join(&mut self, d: usize, fate: Fate) {
        if d >= self.devices.len() || self.devices[d].status != Status::Absent {
            return;
        }
        let user = self.devices[d].user;
        if !self.signed_up[user] {
            // Sign-up: the server bootstraps the user's singletons.
            self.signed_up[user] = true;
            self.server_bootstrap(user);
        } else {
            self.scenario(Scenario::Hydration);
        }
        let dev = &mut self.devices[d];
        dev.status = Status::Up;
        dev.incarnation += 1;
        dev.replica = Replica::new(dev.client_id());
        dev.seen = WriteSet::default();
        dev.merged = false;
        dev.reported.clear();
        self.boot_sequence(d, fate);
    }

    fn boot(&mut self, d: usize, fate: Fate) {
        if d >= self.devices.len() || self.devices[d].status != Status::Down {
            return;
        }
        let Some(disk) = self.devices[d].disk.take() else {
            return;
        };
        match disk.load() {
            Ok(replica) => {
                let dev = &mut self.devices[d];
                dev.replica = replica;
                dev.seen = std::mem::take(&mut dev.disk_seen);
                dev.status = Status::Up;
                dev.incarnation += 1;
                let keys: Vec<RecordKey> = dev.replica.records().keys().cloned().collect();
                for key in &keys {
                    self.check_shadow_key(d, key);
                }
                self.boot_sequence(d, fate);
            }
            Err(e) => self.violate(
                ViolationKind::StateRoundTrip,
                format!("device {d}: persisted state does not load: {e}"),
            ),
        }
    }

    // Every boot: the client creates its singleton placeholders and asks the
    // server to bootstrap them too (idempotent, SPEC R10.3); the two race.
    fn boot_sequence(&mut self, d: usize, fate: Fate) {
        if !self.config.scenarios.has(Scenario::BootstrapRace) {
            let user = self.devices[d].user;
            self.server_bootstrap(user);
            return;
        }
        self.scenario(Scenario::BootstrapRace);
        let user = self.devices[d].user;
        for k in [self.user_key(user), self.space_key()] {
            let key = self.key(k);
            let mut defaults = self.defaults(k);
            // A device on every other slot runs an older app version whose
            // default theme differs from the server's: its placeholder and
            // the server's bootstrap row are malformed twins (SPEC R4.4),
            // which the total order settles and the kernel reports as an
            // anomaly, never as a conflict.
            if self.devices[d].slot % 2 == 1 && defaults.contains_key("theme") {
                defaults.insert("theme".to_owned(), json!("system"));
            }
            match self.devices[d].replica.bootstrap(&key, &defaults) {
                Ok(Some(change)) => {
                    let id = self.oracle.bootstrap_write(&key);
                    self.oracle.map_change(&change, id);
                    let client = (change.client_id().clone(), change.client_seq().unwrap_or(0));
                    self.oracle.by_client_seq.insert(client, id);
                    self.devices[d].seen.insert(id);
                    self.check_shadow_key(d, &key);
                }
                Ok(None) => {}
                Err(e) => self.log(format_args!("  placeholder refused: {}", e.code())),
            }
        }
        self.send(d, Payload::Boot, fate);
    }

    fn server_bootstrap(&mut self, user: usize) {
        for k in [self.user_key(user), self.space_key()] {
            let key = self.key(k);
            let defaults = self.defaults(k);
            let result = if self.config.mutation == Some(Mutation::BootstrapRealTimestamp) {
                if self.server.record(&key).is_some() {
                    Ok(None)
                } else {
                    let now = self.server_now();
                    self.server.write(
                        &WriterId::new(SYSTEM_BOOTSTRAP),
                        &Actor::system(SYSTEM_BOOTSTRAP),
                        &key,
                        &defaults,
                        now,
                    )
                }
            } else {
                self.server.bootstrap(&key, &defaults)
            };
            match result {
                Ok(Some(change)) => {
                    let id = self.oracle.bootstrap_write(&key);
                    self.oracle.map_change(&change, id);
                    self.logged(id);
                    self.log(format_args!("  server bootstrap {key}"));
                }
                Ok(None) => {}
                Err(e) => self.log(format_args!("  server bootstrap refused: {}", e.code())),
            }
        }
    }

    // SPEC R12.6: another service writes an entry that is not a change
    // straight into the log. It holds a server_seq and no write.
    fn poison(&mut self, variant: u8) {
        self.fault(FaultKind::Poison);
        let key = self.key(usize::from(variant) % self.key_count());
        let meta = json!({"title": {"at": "2026-04-26T10:00:00.000Z", "origin": "user"}});
        let entry = match variant % POISON_VARIANTS as u8 {
            // A row of the replaced system's shape (SPEC R11.1 refuses it).
            0 => json!({"eventId": "e1", "table": key.table, "id": key.id, "op": "update",
                        "fields": {"title": {"value": "x", "at": "2026-04-26T10:00:00.000Z"}}}),
            1 => json!({"table": key.table, "id": key.id, "op": "upsert",
                        "data": {"title": "x"}, "field_meta": meta, "client_id": "svc"}),
            2 => json!({"table": key.table, "id": key.id, "op": "update",
                        "data": {"title": "x"}, "client_id": "svc"}),
            3 => json!({"table": key.table, "id": key.id, "op": "update", "data": {"title": "x"},
                        "field_meta": {"title": {"at": "2026-04-26 10:00", "origin": "user"}},
                        "client_id": "svc"}),
            _ => json!("a row that is not an object"),
        };
        match self.server.append_quarantined(entry) {
            Some(q) => {
                let (seq, code) = (q.server_seq, q.error.code.clone());
                // No write of the oracle's stands at this place in the log.
                self.oracle.log_writes.push(usize::MAX);
                self.log(format_args!("  poison entry {seq} ({code})"));
            }
            None => self.violate(
                ViolationKind::PageHandling,
                "the server took a poison entry for a valid change".into(),
            ),
        }
    }

    // Write `id` was appended to the server log.
    fn logged(&mut self, id: usize) {
        self.oracle.log_writes.push(id);
        self.oracle.server_seen.insert(id);
    }

    // PROTOCOL.md P2: the server stores its log and client table; a restart
    // rebuilds it from their JSON forms alone, and the rebuilt server must
    // be the one that stored them (so it answers every push the same).
    fn restart_server(&mut self) {
        self.fault(FaultKind::ServerRestart);
        let log = fieldmerge::encode_changes(self.server.log());
        let clients: Vec<(WriterId, ClientRow)> = self
            .server
            .clients()
            .map(|(id, row)| (id.clone(), row))
            .collect();
        let clients = serde_json::to_value(&clients).unwrap_or_default();
        let quarantined = serde_json::to_value(self.server.quarantined()).unwrap_or_default();
        let rebuilt = fieldmerge::decode_change_values(&log)
            .map_err(|e| e.to_string())
            .and_then(|log| {
                let clients: Vec<(WriterId, ClientRow)> =
                    serde_json::from_value(clients).map_err(|e| e.to_string())?;
                let quarantined: Vec<fieldmerge::Quarantined> =
                    serde_json::from_value(quarantined).map_err(|e| e.to_string())?;
                let config = self.server.config();
                let name = self.server.log_name().unwrap_or_default();
                Server::from_log_quarantined(config, log, quarantined, clients)
                    .map_err(|e| e.to_string())?
                    .with_log_name(name)
                    .map_err(|e| e.to_string())
            });
        match rebuilt {
            Ok(server) if server == self.server => self.server = server,
            Ok(_) => self.violate(
                ViolationKind::ServerRestart,
                "the server rebuilt from its log differs".into(),
            ),
            Err(e) => self.violate(
                ViolationKind::ServerRestart,
                format!("rebuild refused: {e}"),
            ),
        }
    }

    // SPEC R12.7: the server fails over to a standby that holds the same
    // changes in another order, under the next log name: a server the same
    // pushes reached in another order, so its order is causal too (a change
    // comes after every change its writer had seen, R6.6) but pairs of
    // concurrent changes are swapped. The standby's state must be the same
    // (R4.5: merge does not depend on order); every device must then refuse
    // the old log's pages, reset its cursor and hydrate from the standby.
    fn failover(&mut self) {
        if !self.server.quarantined().is_empty() {
            return;
        }
        self.scenario(Scenario::Failover);
        let generation = self.log_generation + 1;
        // Adjacent entries swapped when they are concurrent writes of two
        // writers: neither had seen the other.
        let mut order: Vec<usize> = (0..self.server.log().len()).collect();
        let log = self.server.log();
        let concurrent = |a: usize, b: usize| {
            let (wa, wb) = (self.oracle.log_writes[a], self.oracle.log_writes[b]);
            log[a].client_id() != log[b].client_id()
                && wa != usize::MAX
                && wb != usize::MAX
                && !self.oracle.writes[wb].seen.contains(wa)
                && !self.oracle.writes[wa].seen.contains(wb)
        };
        let mut i = 0;
        while i + 1 < order.len() {
            if concurrent(order[i], order[i + 1]) {
                order.swap(i, i + 1);
                i += 2;
            } else {
                i += 1;
            }
        }
        // Renumbered through the wire form, as a standby would store them.
        let standby_log: Vec<Change> = order
            .iter()
            .enumerate()
            .filter_map(|(i, &j)| {
                let mut wire = log[j].to_wire();
                wire["server_seq"] = serde_json::json!(i + 1);
                Change::from_wire(&wire, i).ok()
            })
            .collect();
        let writes: Vec<usize> = order.iter().map(|&j| self.oracle.log_writes[j]).collect();
        let clients: Vec<(WriterId, ClientRow)> = self
            .server
            .clients()
            .map(|(id, row)| (id.clone(), row))
            .collect();
        let standby = Server::from_log(self.server.config(), standby_log, clients)
            .map_err(|e| e.to_string())
            .and_then(|s| {
                s.with_log_name(&log_name(generation))
                    .map_err(|e| e.to_string())
            });
        match standby {
            Ok(standby) if standby.records() == self.server.records() => {
                self.log(format_args!("  failover to {}", log_name(generation)));
                self.server = standby;
                let old = std::mem::replace(&mut self.oracle.log_writes, writes);
                self.retired_logs.insert(log_name(self.log_generation), old);
                self.log_generation = generation;
            }
            Ok(_) => self.violate(
                ViolationKind::ServerRestart,
                "the standby's state differs from the server's".into(),
            ),
            Err(e) => self.violate(
                ViolationKind::ServerRestart,
                format!("the standby refused its log: {e}"),
            ),
        }
    }

    fn crash(&mut self, d: usize) {
        if !self.is_up(d) {
            return;
        }
        self.fault(FaultKind::Crash);
        // SPEC R12.5: the whole replica is persisted atomically with each
        // operation, so the disk holds the state after the last one. What is
        // lost: memory, and every reply still in flight to this incarnation.
        let mut state = ReplicaState::of(&self.devices[d].replica);
        match self.config.mutation {
            Some(Mutation::ForgetOutbox) => state.outbox.clear(),
            Some(Mutation::ForgetRecords) => state.records.clear(),
            Some(Mutation::ForgetClock) => state.clock = None,
            Some(Mutation::ForgetCursor) => {
                state.cursor = None;
                state.hydrating = false;
            }
            Some(Mutation::ForgetShadowIndex) => {
                for record in &mut state.records {
                    if let Some(obj) = record.as_object_mut() {
                        obj.insert("updated_at_index".into(), Value::Null);
                    }
                }
            }
            _ => {}
        }
        if !matches!(
            self.config.mutation,
            Some(
                Mutation::ForgetOutbox
                    | Mutation::ForgetRecords
                    | Mutation::ForgetShadowIndex
                    | Mutation::ForgetClock
                    | Mutation::ForgetCursor
            )
        ) {
            match state.load() {
                Ok(back) if back == self.devices[d].replica => {}
                Ok(_) => self.violate(
                    ViolationKind::StateRoundTrip,
                    format!("device {d}: ReplicaState::of then load changes the replica"),
                ),
                Err(e) => self.violate(
                    ViolationKind::StateRoundTrip,
                    format!("device {d}: ReplicaState::of does not load: {e}"),
                ),
            }
        }
        let dev = &mut self.devices[d];
        dev.disk = Some(state);
        dev.disk_seen = std::mem::take(&mut dev.seen);
        dev.status = Status::Down;
        dev.incarnation += 1;
    }

    fn wipe(&mut self, d: usize, fate: Fate) {
        if d >= self.devices.len() || self.devices[d].status == Status::Absent {
            return;
        }
        self.scenario(Scenario::Hydration);
        // Pending writes die with the database: lost by the user's choice.
        let pending: Vec<(WriterId, u64)> = match &self.devices[d].disk {
            Some(state) if self.devices[d].status == Status::Down => state
                .outbox
                .iter()
                .filter_map(|v| Change::from_wire(v, 0).ok())
                .filter_map(|c| Some((c.client_id().clone(), c.client_seq()?)))
                .collect(),
            _ => self.devices[d]
                .replica
                .outbox()
                .iter()
                .filter_map(|c| Some((c.client_id().clone(), c.client_seq()?)))
                .collect(),
        };
        for client in pending {
            if let Some(&id) = self.oracle.by_client_seq.get(&client) {
                self.oracle.writes[id].wiped = true;
            }
        }
        self.start_over(d);
        let dev = &mut self.devices[d];
        dev.disk = None;
        dev.status = Status::Up;
        self.boot_sequence(d, fate);
    }

    // SPEC R12.5: the device's state is replaced by its backup. What it
    // wrote since the backup and the log lacks is lost by the user's
    // choice. The app knows it restored, so it recovers at once, as R12.5
    // says: two copies of one client id would break the rule that a writer
    // has seen its own writes (R6.3), so the copy never pushes under it.
    fn restore_backup(&mut self, d: usize) {
        if !self.is_up(d) {
            return;
        }
        let Some((state, seen)) = self.devices[d].backup.clone() else {
            return;
        };
        let Ok(replica) = state.load() else {
            self.violate(
                ViolationKind::StateRoundTrip,
                format!("device {d}: its backup does not load"),
            );
            return;
        };
        self.scenario(Scenario::RestoredBackup);
        let kept: BTreeSet<(WriterId, u64)> = replica
            .outbox()
            .iter()
            .filter_map(|c| Some((c.client_id().clone(), c.client_seq()?)))
            .collect();
        let pending: Vec<(WriterId, u64)> = self.devices[d]
            .replica
            .outbox()
            .iter()
            .filter_map(|c| Some((c.client_id().clone(), c.client_seq()?)))
            .filter(|c| !kept.contains(c))
            .collect();
        for client in pending {
            if let Some(&id) = self.oracle.by_client_seq.get(&client) {
                if !self.oracle.server_seen.contains(id) {
                    self.oracle.writes[id].wiped = true;
                }
            }
        }
        let dev = &mut self.devices[d];
        dev.replica = replica;
        dev.seen = seen;
        dev.restored = true;
        dev.incarnation += 1;
        dev.reported.clear();
        self.log(format_args!("  device {d} restored from its backup"));
        self.recover_restored(d);
    }

    // SPEC R12.5: a restored device starts a new replica under a new client
    // id and writes again the pending values the log lacks. It reads the whole log with its old
    // replica first: the log's copies of its changes are acknowledged by
    // content (R12.2), so what stays pending is exactly what the log lacks.
    fn recover_restored(&mut self, d: usize) {
        let mut old = self.devices[d].replica.clone();
        old.reset_cursor();
        let mut cursor = 0;
        while cursor < self.server.head() {
            let page = self.server.pull(cursor, 1000);
            cursor = page.after + page.len() as u64;
            if old.apply_page(&page).is_err() {
                break;
            }
        }
        let pending: Vec<Change> = old.outbox().to_vec();
        for change in &pending {
            let client = (change.client_id().clone(), change.client_seq().unwrap_or(0));
            if let Some(&id) = self.oracle.by_client_seq.get(&client) {
                // Superseded by the write below (or, for a delete or a
                // placeholder, given up by the user's restore).
                self.oracle.writes[id].wiped = true;
            }
        }
        let fate = Fate::OK;
        self.start_over(d);
        self.log(format_args!(
            "  device {d} recovers as {} from {} pending changes the log lacks",
            self.devices[d].client_id(),
            pending.len()
        ));
        self.boot_sequence(d, fate);
        let now = self.device_now(d);
        let mut again = 0;
        for change in pending {
            let origin = change.writes().next().map(|(_, r)| r.origin);
            let actor = match origin {
                Some(Origin::User) => Actor::User,
                Some(Origin::Agent) => Actor::Ai,
                Some(Origin::Migration) => Actor::system(SYSTEM_MIGRATION),
                _ => continue,
            };
            let patch: Map<String, Value> = change
                .writes()
                .filter(|(name, _)| *name != fieldmerge::TOMBSTONE_FIELD)
                .map(|(name, reg)| (name.to_owned(), reg.value.clone()))
                .collect();
            if patch.is_empty() {
                continue;
            }
            let result = self.devices[d]
                .replica
                .write(change.key(), &actor, &patch, now);
            self.local_result(d, change.key(), result);
            again += 1;
        }
        self.log(format_args!("  device {d} wrote {again} of them again"));
    }

    // A device starts a new, empty replica under a new client id (SPEC
    // R12.5): after a wipe, or to recover from a restored backup. Its
    // backup is of the old database.
    fn start_over(&mut self, d: usize) {
        let dev = &mut self.devices[d];
        dev.wipes += 1;
        dev.replica = Replica::new(dev.client_id());
        dev.seen = WriteSet::default();
        dev.merged = false;
        dev.reported.clear();
        dev.backup = None;
        dev.restored = false;
        dev.incarnation += 1;
    }

    fn user_write(&mut self, d: usize, k: usize, f: usize, value: i64, actor: &Actor) {
        if !self.is_up(d) || k >= self.key_count() {
            return;
        }
        let key = self.key(k);
        let patch = self.patch(k, f, value);
        let now = self.device_now(d);
        let result = self.devices[d].replica.write(&key, actor, &patch, now);
        self.local_result(d, &key, result);
    }

    fn tombstone(&mut self, d: usize, k: usize, delete: bool) {
        if !self.is_up(d) || k >= self.key_count() {
            return;
        }
        let key = self.key(k);
        if self.devices[d].replica.record(&key).is_none() {
            return;
        }
        self.scenario(Scenario::Tombstones);
        let now = self.device_now(d);
        let replica = &mut self.devices[d].replica;
        let result = if delete {
            replica.delete(&key, &Actor::User, now)
        } else {
            replica.restore(&key, &Actor::User, now)
        };
        self.local_result(d, &key, result);
    }

    fn local_result(
        &mut self,
        d: usize,
        key: &RecordKey,
        result: Result<Option<Change>, fieldmerge::WriteError>,
    ) {
        match result {
            Ok(Some(change)) => {
                let origin = change
                    .writes()
                    .next()
                    .map_or(Origin::User, |(_, r)| r.origin);
                let client = (change.client_id().clone(), change.client_seq().unwrap_or(0));
                let seen = self.devices[d].seen.clone();
                let id = self.oracle.new_write(origin, seen, Some(client));
                self.oracle.map_change(&change, id);
                self.devices[d].seen.insert(id);
                self.log(format_args!(
                    "  w{id} {} seq {} at {}",
                    change.key(),
                    change.client_seq().unwrap_or(0),
                    change.max_at().unwrap_or_default()
                ));
                self.check_shadow_key(d, key);
            }
            Ok(None) => self.log(format_args!("  no-op")),
            Err(e) => self.log(format_args!("  refused: {}", e.code())),
        }
    }

    // `ahead_ms`: how far the writer's clock runs ahead of the server's.
    fn agent_write(&mut self, k: usize, f: usize, value: i64, ahead_ms: i64) {
        if k >= self.key_count() {
            return;
        }
        self.scenario(Scenario::AgentRace);
        let key = self.key(k);
        let patch = self.patch(k, f, value);
        let now = self.server_now().saturating_add_ms(ahead_ms);
        match self
            .server
            .write(&WriterId::new("agent"), &Actor::Ai, &key, &patch, now)
        {
            Ok(Some(change)) => {
                let seen = self.oracle.server_seen.clone();
                let id = self.oracle.new_write(Origin::Agent, seen, None);
                self.oracle.map_change(&change, id);
                self.logged(id);
                self.log(format_args!(
                    "  w{id} agent at {}",
                    change.max_at().unwrap_or_default()
                ));
                self.check_shadow_server(&key);
            }
            Ok(None) => self.log(format_args!("  no-op")),
            Err(e) => self.log(format_args!("  refused: {}", e.code())),
        }
    }

    fn legacy_write(&mut self, k: usize, f: usize, value: i64) {
        if k >= self.key_count() {
            return;
        }
        self.scenario(Scenario::Legacy);
        let key = self.key(k);
        let patch = self.patch(k, f, value);
        let Some((name, value)) = patch.into_iter().next() else {
            return;
        };
        // The legacy importer keeps a logical clock of its own, but sends no
        // witness: `base` absent on the wire (SPEC R6.4, R11.3).
        let at = self
            .legacy_at
            .next()
            .unwrap_or(Timestamp::MAX)
            .max(self.server_now());
        self.legacy_at = at;
        self.legacy_seq += 1;
        let by = WriterId::new("legacy");
        let reg = Register {
            value,
            at,
            by: by.clone(),
            origin: Origin::User,
            base: Base::Legacy,
        };
        let Ok(change) = Change::new(
            key,
            Op::Update,
            vec![(name, reg)],
            by.clone(),
            Some(self.legacy_seq),
        ) else {
            return;
        };
        let id = self.oracle.new_write(
            Origin::User,
            WriteSet::default(),
            Some((by.clone(), self.legacy_seq)),
        );
        self.oracle.map_change(&change, id);
        let push = Push {
            client_id: by,
            changes: vec![change],
            cursor: self.server.head(),
            clock_epoch: 0,
        };
        if let Err(e) = self.server_push(&push) {
            self.violate(
                ViolationKind::PushRefused,
                format!("legacy push refused: {}", e.code()),
            );
        }
    }

    // ----- network -----

    fn send(&mut self, d: usize, payload: Payload, fate: Fate) {
        let incarnation = self.devices[d].incarnation;
        self.send_as(d, incarnation, payload, fate);
    }

    fn send_as(&mut self, d: usize, incarnation: u32, payload: Payload, fate: Fate) {
        let fate = if self.healing { Fate::OK } else { fate };
        if self.devices[d].partitioned {
            self.log(format_args!("  {} lost in partition", payload.name()));
            return;
        }
        if fate.drop {
            self.fault(FaultKind::Drop);
            self.log(format_args!("  {} dropped", payload.name()));
            return;
        }
        if fate.delay > 0 {
            self.fault(FaultKind::Delay);
        }
        let message = Message {
            device: d,
            incarnation,
            ready_at: self.step + usize::from(fate.delay),
            payload,
        };
        if fate.dup {
            self.fault(FaultKind::Duplicate);
            self.net.push(message.clone());
        }
        self.net.push(message);
    }

    fn deliver(&mut self, pick: usize, fate: Fate) {
        let ready: Vec<usize> = (0..self.net.len())
            .filter(|&i| self.net[i].ready_at <= self.step || self.healing)
            .collect();
        if ready.is_empty() {
            self.log(format_args!("  nothing to deliver"));
            return;
        }
        let which = pick % ready.len();
        if which != 0 {
            self.fault(FaultKind::Reorder);
        }
        let message = self.net.remove(ready[which]);
        let d = message.device;
        self.log(format_args!("  {} for device {d}", message.payload.name()));
        if self.devices[d].partitioned {
            self.log(format_args!("  lost in partition"));
            return;
        }
        if message.payload.to_server() {
            match message.payload {
                Payload::Push(push) => {
                    let result = self.server_push(&push);
                    self.send_as(
                        d,
                        message.incarnation,
                        Payload::PushReply(result.map(Box::new)),
                        fate,
                    );
                }
                Payload::Pull { cursor, limit } => {
                    let page = self.server.pull(cursor, limit);
                    self.send_as(d, message.incarnation, Payload::Page(page), fate);
                }
                Payload::Boot => {
                    let user = self.devices[d].user;
                    self.server_bootstrap(user);
                }
                Payload::PushReply(_) | Payload::Page(_) => {}
            }
            return;
        }
        let dev = &self.devices[d];
        if dev.status != Status::Up || dev.incarnation != message.incarnation {
            self.log(format_args!("  lost: the device restarted"));
            return;
        }
        match message.payload {
            Payload::PushReply(Ok(reply)) => {
                self.devices[d].replica.ack(reply.acked_through);
                let applied = self.apply_page(d, &reply.page, "push reply");
                if self.healing && applied && reply.page.has_more() {
                    self.follow_up(d);
                }
            }
            Payload::PushReply(Err(e)) if e.clock_correction().is_some() => {
                // SPEC R12.4: restamp what the server refuses (for a stale
                // copy's refusal, that is usually nothing); a refusal
                // acknowledges nothing (R13.4), the log's changes keep their
                // stamps and a page acknowledges them by content.
                if matches!(e, PushError::ClockAhead { .. }) {
                    self.fault(FaultKind::ClockAhead);
                }
                if let Some(correction) = e.clock_correction() {
                    self.correct_clock(d, &correction);
                }
            }
            Payload::PushReply(Err(e)) => self.violate(
                ViolationKind::PushRefused,
                format!("device {d}: push refused: {e}"),
            ),
            Payload::Page(page) => {
                let applied = self.apply_page(d, &page, "pulled page");
                if self.healing && applied && page.has_more() {
                    self.follow_up(d);
                }
            }
            Payload::Push(_) | Payload::Pull { .. } | Payload::Boot => {}
        }
    }

    // While healing, a client keeps pulling until it reaches the head.
    fn follow_up(&mut self, d: usize) {
        let cursor = self.devices[d].replica.cursor().unwrap_or(0);
        let limit = self.config.page_size.max(1);
        self.send(d, Payload::Pull { cursor, limit }, Fate::OK);
    }

    // ----- the oracle's hooks -----

    fn server_push(&mut self, push: &Push) -> Result<PushReply, PushError> {
        let last = self.server.last_seq(&push.client_id).unwrap_or(0);
        let new: Vec<Change> = push
            .changes
            .iter()
            .filter(|c| c.client_seq().is_some_and(|s| s > last))
            .cloned()
            .collect();
        let mut ids = Vec::with_capacity(new.len());
        let mut pending = Vec::new();
        for c in &new {
            let client = (c.client_id().clone(), c.client_seq().unwrap_or(0));
            match self.oracle.by_client_seq.get(&client) {
                Some(&id) => ids.push(id),
                None => pending.push(Violation::new(
                    self.step,
                    ViolationKind::UnknownRegister,
                    format!("server: pushed change {client:?} was made by no simulated write"),
                )),
            }
        }
        let expected = if ids.len() == new.len() {
            Some(self.oracle.expect(
                self.server.records(),
                &new,
                &ids,
                Applying {
                    hydration: false,
                    local: None,
                },
                self.step,
                &mut pending,
            ))
        } else {
            None
        };
        let logged_before = self.server.log().len();
        let now = self.server_now();
        let before = Before::changes(self.server.records(), &new);
        let result = self.server.push(push, now);
        match &result {
            Ok(reply) => {
                self.violations.append(&mut pending);
                let coverage = &mut self.stats.coverage;
                coverage.changes_applied(&before, &new, &reply.report, self.server.records());
                if reply.appended == 0 && !push.changes.is_empty() {
                    coverage.hit(Mark::PushRetryDeduplicated);
                }
                for i in logged_before..self.server.log().len() {
                    let c = &self.server.log()[i];
                    if let Some((field, at)) = self.oracle.disowned_in(c) {
                        self.violations.push(Violation::new(
                            self.step,
                            ViolationKind::StaleStamp,
                            format!(
                                "server: appended {}.{field} stamped {at}, a stamp its client replaced by a clock correction (R12.4)",
                                c.key()
                            ),
                        ));
                    }
                    let client = (c.client_id().clone(), c.client_seq().unwrap_or(0));
                    let id = self.oracle.by_client_seq.get(&client).copied();
                    if let Some(id) = id {
                        self.logged(id);
                    }
                }
                self.stats.applies += 1;
                self.stats.conflicts += reply.report.conflicts.len() as u64;
                if let Some(expected) = &expected {
                    let reported: Vec<_> =
                        reply.report.conflicts.iter().map(conflict_key).collect();
                    let step = self.step;
                    let compared = self.oracle.compare(
                        expected,
                        &reported,
                        &reply.report.conflicts,
                        None,
                        "server",
                        None,
                        step,
                        &mut self.violations,
                    );
                    self.stats.agreements += compared.agreed;
                    check_anomalies(
                        expected,
                        &reply.report,
                        "server",
                        step,
                        &mut self.violations,
                    );
                    Oracle::check_finals(
                        expected,
                        self.server.records(),
                        "server",
                        step,
                        &mut self.violations,
                    );
                }
                for c in &new {
                    self.check_shadow_server(c.key());
                }
                self.log(format_args!(
                    "  server appended {} (acked {:?}), {} conflicts",
                    reply.appended,
                    reply.acked_through,
                    reply.report.conflicts.len()
                ));
            }
            Err(e) => {
                self.stats.coverage.push_error(e);
                self.log(format_args!("  server refused push: {}: {e}", e.code()));
            }
        }
        result
    }

    // SPEC R12.6: a page's quarantined entries are exactly the log's poison
    // entries in its range, and reading the page's text quarantines the
    // same ones, so every replica skips them alike.
    fn check_quarantined(&mut self, d: usize, page: &Page, what: &str) -> bool {
        if page.quarantined.is_empty() {
            return true;
        }
        let logged = self.server.quarantined();
        let matches = page.quarantined.iter().all(|q| {
            logged
                .iter()
                .any(|l| l.server_seq == q.server_seq && l.entry == q.entry)
        });
        let text = fieldmerge::canonical_json(&page.to_json());
        let reread = Page::from_json(text.as_bytes());
        let same = reread.as_ref().is_ok_and(|p| p == page);
        if matches && same {
            self.stats.quarantined += page.quarantined.len() as u64;
            return true;
        }
        self.violate(
            ViolationKind::PageHandling,
            format!("device {d}: {what} quarantines what the log does not hold as poison, or its text reads otherwise ({reread:?})"),
        );
        false
    }

    // Applies a page through the oracle; whether the replica took it.
    fn apply_page(&mut self, d: usize, page: &Page, what: &str) -> bool {
        let step = self.step;
        // SPEC R12.7: a page of another log is refused and changes nothing.
        // A page of a newer log tells the device its server failed over: it
        // resets its cursor and hydrates from the new log; a late page of an
        // older log is ignored.
        let followed = self.devices[d].replica.log_name().map(str::to_owned);
        if followed.is_some() && page.log != followed {
            let before = self.devices[d].replica.clone();
            let refused = self.devices[d].replica.apply_page(page);
            if !matches!(refused, Err(fieldmerge::PageError::OtherLog { .. })) {
                self.violate(
                    ViolationKind::PageHandling,
                    format!("device {d}: a {what} of another log was not refused as other_log"),
                );
            } else if self.devices[d].replica != before {
                self.violate(
                    ViolationKind::PageHandling,
                    format!("device {d}: a refused {what} of another log changed the replica"),
                );
            }
            let newer = generation_of(page.log.as_deref()) > generation_of(followed.as_deref());
            self.log(format_args!(
                "  {what} of log {:?} refused ({})",
                page.log,
                if newer {
                    "failover: cursor reset"
                } else {
                    "stale"
                }
            ));
            if newer {
                self.devices[d].replica.reset_cursor();
            }
            return false;
        }
        let cursor = self.devices[d].replica.cursor().unwrap_or(0);
        if page.after != cursor {
            // SPEC R6.5: a page off the cursor is refused and changes nothing.
            self.stats.pages_refused += 1;
            let before = self.devices[d].replica.clone();
            let result = self.devices[d].replica.apply_page(page);
            if let Err(e) = &result {
                self.stats.coverage.page_error(e);
            }
            if result.is_ok() {
                self.violate(
                    ViolationKind::PageHandling,
                    format!(
                        "device {d}: {what} after {} accepted at cursor {cursor}",
                        page.after
                    ),
                );
            } else if self.devices[d].replica != before {
                self.violate(
                    ViolationKind::PageHandling,
                    format!("device {d}: a refused {what} changed the replica"),
                );
            }
            self.log(format_args!(
                "  {what} after {} refused at {cursor}",
                page.after
            ));
            return false;
        }
        if !self.check_quarantined(d, page, what) {
            return false;
        }
        let mut ids = Vec::with_capacity(page.changes.len());
        for c in &page.changes {
            let seq = c.server_seq().unwrap_or(0) as usize;
            let numbering = match page.log.as_ref().and_then(|l| self.retired_logs.get(l)) {
                Some(retired) => retired,
                None => &self.oracle.log_writes,
            };
            match numbering.get(seq.wrapping_sub(1)) {
                Some(&id) if id != usize::MAX => ids.push(id),
                _ => {
                    self.violate(
                        ViolationKind::UnknownRegister,
                        format!("device {d}: log entry {seq} is no simulated write"),
                    );
                    return false;
                }
            }
        }
        let replica = &self.devices[d].replica;
        let hydration = replica.cursor().is_none() || replica.is_hydrating();
        let mut found = Vec::new();
        let expected = self.oracle.expect(
            replica.records(),
            &page.changes,
            &ids,
            Applying {
                hydration,
                local: Some((replica.client_id(), replica.outbox())),
            },
            step,
            &mut found,
        );
        let live_twin = (self.config.mutation == Some(Mutation::DropHydrationRule) && hydration)
            .then(|| replica.clone());
        let before = Before::changes(replica.records(), &page.changes);
        let report = match self.devices[d].replica.apply_page(page) {
            Ok(report) => report,
            Err(e) => {
                self.violate(
                    ViolationKind::PageHandling,
                    format!("device {d}: {what} at its cursor refused: {e}"),
                );
                return false;
            }
        };
        self.violations.append(&mut found);
        let records = self.devices[d].replica.records();
        let coverage = &mut self.stats.coverage;
        coverage.changes_applied(&before, &page.changes, &report, records);
        let dropped = &mut self.devices[d].dropped_twins;
        self.stats.coverage.redelivered_twins(dropped, &report);
        self.stats.coverage.hit(if hydration {
            Mark::PageAppliedHydration
        } else {
            Mark::PageAppliedLive
        });
        // The planted bugs wrap the kernel's classification wrongly.
        let reported: Vec<_> = match (self.config.mutation, live_twin) {
            (Some(Mutation::ClassifyOnOriginOnly), _) => expected.origin_only.clone(),
            (Some(Mutation::DropConflictReports), _) => Vec::new(),
            (_, Some(mut twin)) => twin
                .apply(&page.changes, Delivery::Live)
                .conflicts
                .iter()
                .map(conflict_key)
                .collect(),
            _ => report.conflicts.iter().map(conflict_key).collect(),
        };
        let me = self.devices[d].replica.client_id().clone();
        let where_ = format!("device {d} ({me}), {what}");
        let outside = self.devices[d].merged;
        self.verify_apply(d, &expected, &reported, &report, &where_, outside);
        for &id in &ids {
            self.devices[d].seen.insert(id);
        }
        let keys: BTreeSet<RecordKey> = page.changes.iter().map(|c| c.key().clone()).collect();
        for key in &keys {
            self.check_shadow_key(d, key);
        }
        self.stats.applies += 1;
        self.stats.conflicts += report.conflicts.len() as u64;
        self.stats.hidden_edits += report.hidden_edits.len() as u64;
        self.stats.legacy_exempt_unseen += expected.legacy_exempt_unseen;
        self.log(format_args!(
            "  {what}: {} changes after {}, {} conflicts, {} hidden",
            page.changes.len(),
            page.after,
            report.conflicts.len(),
            report.hidden_edits.len()
        ));
        true
    }

    // SPEC R6.7: a replica reports each lost edit once.
    /// The checks every apply on device `d` ends with: its conflict reports
    /// against the oracle's expectation, each reported once (R6.3, R6.7,
    /// R6.8), its final registers (R4.5), its hidden edits (R9.3).
    /// `outside` says the device left the in-order delivery model by a
    /// state merge, so R6.6 over-reports are allowed.
    fn verify_apply(
        &mut self,
        d: usize,
        expected: &Expectation,
        reported: &[ConflictKey],
        report: &fieldmerge::ApplyReport,
        where_: &str,
        outside: bool,
    ) {
        let step = self.step;
        let me = self.devices[d].replica.client_id().clone();
        let outside = outside.then_some(&self.devices[d].seen);
        let compared = self.oracle.compare(
            expected,
            reported,
            &report.conflicts,
            Some(&me),
            where_,
            outside,
            step,
            &mut self.violations,
        );
        self.stats.agreements += compared.agreed;
        self.stats.merge_false_conflicts += compared.over_reported;
        self.once(d, reported, where_);
        check_anomalies(expected, report, where_, step, &mut self.violations);
        Oracle::check_finals(
            expected,
            self.devices[d].replica.records(),
            where_,
            step,
            &mut self.violations,
        );
        self.oracle.check_hidden(
            &report.hidden_edits,
            &me,
            where_,
            step,
            &mut self.violations,
        );
    }

    fn once(&mut self, d: usize, reported: &[ConflictKey], where_: &str) {
        for k in reported {
            if !self.devices[d].reported.insert(k.clone()) {
                self.violate(
                    ViolationKind::ReportedTwice,
                    format!(
                        "{where_}: the conflict at {}.{} (loser {:?}) was reported before",
                        k.0, k.1, k.2
                    ),
                );
            }
        }
    }

    // A state merge of another device's records (SPEC R4.5, R6.6). Only a
    // source whose outbox is empty: its records are all in the log, so the
    // merge cannot carry a write the server will never see.
    fn merge(&mut self, d: usize, from: usize) {
        if d == from
            || !self.is_up(d)
            || !self.is_up(from)
            || !self.devices[from].replica.outbox().is_empty()
        {
            return;
        }
        self.scenario(Scenario::StateMerge);
        let step = self.step;
        let source = self.devices[from].replica.clone();
        let mut found = Vec::new();
        let mut writes = Vec::new();
        for (key, record) in source.records() {
            for (field, reg) in record.fields() {
                match self.oracle.write_of(key, field, reg) {
                    Some(id) => writes.push((key, field, reg, id)),
                    None => found.push(Violation::new(
                        step,
                        ViolationKind::UnknownRegister,
                        format!("device {from}: {key}.{field} holds {reg:?}, which no simulated write made"),
                    )),
                }
            }
        }
        let expected = self.oracle.expect_writes(
            self.devices[d].replica.records(),
            &writes,
            false,
            step,
            &mut found,
        );
        let before = Before::merge(self.devices[d].replica.records(), source.records());
        let report = self.devices[d].replica.merge(&source);
        self.violations.append(&mut found);
        let records = self.devices[d].replica.records();
        let coverage = &mut self.stats.coverage;
        coverage.records_merged(&before, source.records(), &report, records);
        let dropped = &mut self.devices[d].dropped_twins;
        self.stats.coverage.redelivered_twins(dropped, &report);
        let reported: Vec<_> = report.conflicts.iter().map(conflict_key).collect();
        let me = self.devices[d].replica.client_id().clone();
        let where_ = format!("device {d} ({me}), merge of device {from}");
        self.verify_apply(d, &expected, &reported, &report, &where_, true);
        let seen = self.devices[from].seen.clone();
        let dev = &mut self.devices[d];
        dev.seen.union(&seen);
        dev.merged = true;
        let keys: Vec<RecordKey> = source.records().keys().cloned().collect();
        for key in &keys {
            self.check_shadow_key(d, key);
        }
        self.stats.applies += 1;
        self.stats.conflicts += report.conflicts.len() as u64;
        self.stats.hidden_edits += report.hidden_edits.len() as u64;
        self.log(format_args!(
            "  merged {} records, {} conflicts",
            keys.len(),
            report.conflicts.len()
        ));
    }

    fn correct_clock(&mut self, d: usize, correction: &fieldmerge::ClockCorrection) {
        let server_now = correction.server_now;
        let before: Vec<Change> = self.devices[d].replica.outbox().to_vec();
        let now = self.device_now(d);
        match self.devices[d].replica.correct_clock(correction, now) {
            Ok(()) => {
                self.stats.coverage.hit(Mark::ClockCorrected);
                let after: Vec<Change> = self.devices[d].replica.outbox().to_vec();
                for (old, new) in before.iter().zip(&after) {
                    let client = (old.client_id().clone(), old.client_seq().unwrap_or(0));
                    if let Some(&id) = self.oracle.by_client_seq.get(&client) {
                        self.oracle.restamped(old, new, id);
                    }
                }
                let restamped: Vec<u64> = before
                    .iter()
                    .zip(&after)
                    .filter(|(old, new)| old.max_at() != new.max_at())
                    .filter_map(|(old, _)| old.client_seq())
                    .collect();
                self.log(format_args!(
                    "  clock corrected by {} ms, restamped seq {restamped:?}",
                    server_now.as_ms() - now.as_ms(),
                ));
                let keys: Vec<RecordKey> =
                    self.devices[d].replica.records().keys().cloned().collect();
                for key in &keys {
                    self.check_shadow_key(d, key);
                }
            }
            Err(e) => self.log(format_args!("  clock correction refused: {}", e.code())),
        }
    }

    fn check_shadow_key(&mut self, d: usize, key: &RecordKey) {
        if let Some(record) = self.devices[d].replica.record(key) {
            if let Some(detail) = shadow_error(record) {
                self.violate(
                    ViolationKind::ShadowIndex,
                    format!("device {d}: {key}: {detail}"),
                );
            }
        }
    }

    fn check_shadow_server(&mut self, key: &RecordKey) {
        if let Some(record) = self.server.record(key) {
            if let Some(detail) = shadow_error(record) {
                self.violate(
                    ViolationKind::ShadowIndex,
                    format!("server: {key}: {detail}"),
                );
            }
        }
    }

    // ----- heal and final checks -----

    fn quiescent(&self) -> bool {
        let head = self.server.head();
        self.net.is_empty()
            && self.devices.iter().all(|dev| {
                dev.status != Status::Up
                    || (dev.replica.outbox().is_empty() && dev.replica.cursor() == Some(head))
            })
    }

    fn drain(&mut self) {
        for _ in 0..DRAIN_MAX {
            if self.net.is_empty() {
                return;
            }
            self.stats.events += 1;
            self.deliver(0, Fate::OK);
            self.step += 1;
        }
    }

    // Faults off, everyone syncs; convergence within the bound.
    fn heal(&mut self) {
        self.healing = true;
        let step = self.step;
        self.log(format_args!("{step} heal"));
        for d in 0..self.devices.len() {
            self.devices[d].partitioned = false;
            if self.devices[d].status == Status::Down {
                self.execute(&Event::Boot {
                    device: d,
                    fate: Fate::OK,
                });
            }
        }
        for _ in 0..self.config.heal_rounds_max {
            self.drain();
            if self.quiescent() {
                return;
            }
            for d in 0..self.devices.len() {
                if self.is_up(d) {
                    self.execute(&Event::Push {
                        device: d,
                        fate: Fate::OK,
                    });
                }
            }
            self.now_ms += 100;
        }
        self.drain();
        if !self.quiescent() {
            let stuck: Vec<String> = self
                .devices
                .iter()
                .enumerate()
                .filter(|(_, dev)| dev.status == Status::Up)
                .map(|(d, dev)| {
                    format!(
                        "device {d}: outbox {}, cursor {:?}",
                        dev.replica.outbox().len(),
                        dev.replica.cursor()
                    )
                })
                .collect();
            self.violate(
                ViolationKind::NoQuiescence,
                format!(
                    "not quiescent after {} heal rounds (head {}; {})",
                    self.config.heal_rounds_max,
                    self.server.head(),
                    stuck.join("; ")
                ),
            );
        }
    }

    fn final_checks(&mut self) {
        // The server's state is field-LWW over its log, by the oracle's own fold.
        let fold = Oracle::fold(self.server.log());
        let mut server_regs: BTreeMap<(RecordKey, String), Register> = BTreeMap::new();
        for (key, record) in self.server.records() {
            for (name, reg) in record.fields() {
                server_regs.insert((key.clone(), name.to_owned()), reg.clone());
            }
        }
        if fold != server_regs {
            let diff = fold
                .iter()
                .find(|(k, v)| server_regs.get(*k) != Some(*v))
                .map(|(k, v)| format!("{}.{}: log says {v:?}", k.0, k.1));
            self.violate(
                ViolationKind::ServerState,
                format!("the server's state is not field-LWW over its log ({diff:?})"),
            );
        }
        let keys: Vec<RecordKey> = self.server.records().keys().cloned().collect();
        for key in &keys {
            self.check_shadow_server(key);
        }
        // Convergence: every replica equals the server, values and metadata.
        for d in 0..self.devices.len() {
            if self.devices[d].status != Status::Up {
                continue;
            }
            let replica = &self.devices[d].replica;
            if replica.records() != self.server.records() {
                let detail = first_difference(replica.records(), self.server.records());
                self.violate(
                    ViolationKind::Divergence,
                    format!(
                        "device {d} ({}) differs from the server: {detail}",
                        replica.client_id()
                    ),
                );
            }
            let keys: Vec<RecordKey> = self.devices[d].replica.records().keys().cloned().collect();
            for key in &keys {
                self.check_shadow_key(d, key);
            }
        }
        // Nothing lost: every write that went through an outbox is in the log.
        let in_log: BTreeSet<(WriterId, u64)> = self
            .server
            .log()
            .iter()
            .filter_map(|c| Some((c.client_id().clone(), c.client_seq()?)))
            .collect();
        let mut lost = Vec::new();
        let mut wiped = 0;
        for (id, w) in self.oracle.writes.iter().enumerate() {
            let Some(client) = &w.client else { continue };
            if in_log.contains(client) {
                continue;
            }
            if w.wiped {
                wiped += 1;
            } else {
                lost.push(format!(
                    "w{id} ({} seq {}, {})",
                    client.0, client.1, w.origin
                ));
            }
        }
        self.stats.wiped_writes += wiped;
        if !lost.is_empty() {
            self.violate(
                ViolationKind::Lost,
                format!(
                    "{} writes never reached the server log: {}",
                    lost.len(),
                    lost.join(", ")
                ),
            );
        }
    }

    pub(crate) fn finish(mut self, schedule: Vec<Event>) -> Outcome {
        self.heal();
        self.final_checks();
        self.log(format_args!(
            "end: head {}, {} violations",
            self.server.head(),
            self.violations.len()
        ));
        Outcome {
            violations: self.violations,
            trace_hash: self.hash.finish(),
            stats: self.stats,
            schedule,
            trace: self.trace,
            dump: None,
        }
    }

    pub(crate) fn finish_early(self, schedule: Vec<Event>) -> Outcome {
        let devices: Vec<Value> = self
            .devices
            .iter()
            .enumerate()
            .map(|(d, dev)| {
                let status = match dev.status {
                    Status::Absent => "absent",
                    Status::Up => "up",
                    Status::Down => "down",
                };
                let state = match dev.status {
                    Status::Up => serde_json::to_value(ReplicaState::of(&dev.replica)).ok(),
                    Status::Down => dev.disk.as_ref().and_then(|s| serde_json::to_value(s).ok()),
                    Status::Absent => None,
                };
                json!({
                    "device": d,
                    "user": dev.user,
                    "status": status,
                    "partitioned": dev.partitioned,
                    "clock_offset_ms": dev.offset_ms,
                    "clock_drift_ppm": dev.drift_ppm,
                    "state": state,
                })
            })
            .collect();
        let records: Vec<Value> = self
            .server
            .records()
            .iter()
            .map(|(k, r)| fieldmerge::record_to_json(k, r))
            .collect();
        let in_flight: Vec<Value> = self
            .net
            .iter()
            .map(|m| json!({"device": m.device, "kind": m.payload.name(), "ready_at": m.ready_at}))
            .collect();
        let dump = json!({
            "step": self.step,
            "now": self.server_now().to_string(),
            "server": {"head": self.server.head(), "records": records},
            "devices": devices,
            "in_flight": in_flight,
        });
        Outcome {
            violations: self.violations,
            trace_hash: self.hash.finish(),
            stats: self.stats,
            schedule,
            trace: self.trace,
            dump: Some(dump),
        }
    }
}

pub(crate) fn conflict_key(
    c: &fieldmerge::Conflict,
) -> (RecordKey, String, fieldmerge::Version, fieldmerge::Version) {
    (
        c.key.clone(),
        c.field.clone(),
        c.loser.version(),
        c.winner.version(),
    )
}

fn shadow_error(record: &Record) -> Option<String> {
    let derived = record.derive_updated_at();
    (record.updated_at_index() != derived).then(|| {
        format!(
            "shadow index {:?} but derive_updated_at gives {derived:?}",
            record.updated_at_index()
        )
    })
}

fn first_difference(mine: Records<'_>, server: Records<'_>) -> String {
    for (key, record) in server {
        match mine.get(key) {
            None => return format!("{key} missing"),
            Some(r) if r != record => {
                for (name, reg) in record.fields() {
                    if r.field(name) != Some(reg) {
                        return format!(
                            "{key}.{name}: replica {:?}, server {reg:?}",
                            r.field(name)
                        );
                    }
                }
                return format!("{key}: extra fields or shadow index");
            }
            Some(_) => {}
        }
    }
    mine.keys()
        .find(|k| !server.contains(k))
        .map_or_else(String::new, |k| format!("{k} only on the replica"))
}

/// SPEC R4.4: an apply reports exactly the malformed twins it met.
fn check_anomalies(
    expected: &Expectation,
    report: &fieldmerge::ApplyReport,
    where_: &str,
    step: usize,
    violations: &mut Vec<Violation>,
) {
    if report.anomalies.len() as u64 != expected.anomalies {
        violations.push(Violation::new(
            step,
            ViolationKind::Anomaly,
            format!(
                "{where_}: {} anomalies reported, {} malformed twins met: {:?}",
                report.anomalies.len(),
                expected.anomalies,
                report.anomalies
            ),
        ));
    }
}
