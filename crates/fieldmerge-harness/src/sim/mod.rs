//! The deterministic simulator (issue #4): whole-system runs as a pure
//! function of `(seed, configuration)`, checked by a causal oracle.
//!
//! A run drives the kernel's real [`Replica`](fieldmerge::Replica) and
//! [`Server`](fieldmerge::Server) through users with several devices, a shared
//! space, an AI agent, client-side migrations, a legacy importer and
//! singleton bootstrap, over a network that drops, duplicates, reorders and
//! delays messages, with partitions, crashes and skewed clocks. It has two
//! phases: chaos (a schedule of [`Event`]s drawn from the seed), then heal
//! (faults off, everyone syncs) with convergence required within a bound.
//!
//! The oracle keeps its own ground truth (which writes each writer had seen)
//! and checks on every apply, on every replica and on the server, that the
//! kernel reports exactly the lost user edits (SPEC R6), that the result is
//! field-LWW, that bootstrap rows never overwrite content (R10.1), that
//! hidden-edit reports are sound (R9.3), that the shadow index is right
//! (R8), that persisted state round-trips (R12.5); at quiescence, that every
//! replica equals the server and the server equals field-LWW over its log,
//! and that every user write reached the log.
//!
//! Nothing here reads a clock, the environment or OS randomness, spawns a
//! thread, or iterates a hash map: the same seed gives the same trace, byte
//! for byte ([`Outcome::trace_hash`]).
//!
//! # Example
//! ```
//! use fieldmerge_harness::sim::{run, Config};
//! let config = Config { steps: 60, ..Config::default() };
//! let a = run(7, &config);
//! assert!(a.violations.is_empty(), "{:?}", a.violations);
//! assert_eq!(a.trace_hash, run(7, &config).trace_hash);
//! ```

mod campaign;
mod config;
mod coverage;
mod gen;
mod oracle;
mod rng;
mod shrink;
mod world;

pub use campaign::{run_campaign, Campaign, CampaignReport, SeedResult};
pub use config::{Config, FaultKind, FaultRates, Mutation, Scenario, ScenarioSet, Swarm};
pub use coverage::{Before, Coverage, DroppedTwins, Mark};
pub use rng::{Fnv, Rng};
pub use shrink::{regression_test, shrink, Shrunk};

use std::fmt;

/// The fate of one message when it is sent: lost, doubled, or held back for
/// a number of steps. Drawn by the generator, so a schedule is plain data.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Fate {
    /// The message is lost.
    pub drop: bool,
    /// The message is delivered twice.
    pub dup: bool,
    /// The message becomes deliverable only this many steps later.
    pub delay: u8,
}

impl Fate {
    /// A message that arrives once, on time.
    pub const OK: Fate = Fate {
        drop: false,
        dup: false,
        delay: 0,
    };

    fn is_fault(self) -> bool {
        self != Fate::OK
    }
}

/// One step of a schedule. Devices are numbered `user * devices_per_user +
/// slot`; keys and fields are indexes into the run's fixed key and field
/// lists. An event whose preconditions do not hold (a device that is down, a
/// key a replica does not have) is skipped, so any sub-list of a schedule is
/// a schedule: that is what makes shrinking work.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Event {
    /// Simulated time advances.
    Tick {
        /// Milliseconds.
        ms: u32,
    },
    /// A device's first boot (signs its user up when it is the user's first).
    Join {
        /// The device.
        device: usize,
        /// The fate of its bootstrap request.
        fate: Fate,
    },
    /// A crashed device restarts from what it persisted.
    Boot {
        /// The device.
        device: usize,
        /// The fate of its bootstrap request.
        fate: Fate,
    },
    /// A device crashes: it loses its memory and every reply in flight.
    Crash {
        /// The device.
        device: usize,
    },
    /// The server restarts from its stored log and client table.
    RestartServer,
    /// The server fails over to a standby with the same changes in another
    /// order and another log name (SPEC R12.7).
    Failover,
    /// Another service writes an entry that is not a change straight into
    /// the server's log (SPEC R12.6).
    Poison {
        /// Which kind of bad entry.
        variant: u8,
    },
    /// A device keeps a backup of its stored state.
    Backup {
        /// The device.
        device: usize,
    },
    /// A device is restored from its backup, its client id unchanged.
    RestoreBackup {
        /// The device.
        device: usize,
    },
    /// A device wipes its database and starts again with a new client id.
    Wipe {
        /// The device.
        device: usize,
        /// The fate of its bootstrap request.
        fate: Fate,
    },
    /// A user edits one field.
    Write {
        /// The device.
        device: usize,
        /// The record.
        key: usize,
        /// The field.
        field: usize,
        /// The value's seed.
        value: i64,
    },
    /// A user makes a burst of sequential edits to one record.
    Burst {
        /// The device.
        device: usize,
        /// The record.
        key: usize,
        /// How many edits.
        count: u8,
    },
    /// A user deletes a record (SPEC R9).
    Delete {
        /// The device.
        device: usize,
        /// The record.
        key: usize,
    },
    /// A user restores a deleted record (SPEC R9).
    Restore {
        /// The device.
        device: usize,
        /// The record.
        key: usize,
    },
    /// A client-side migration rewrites a field (origin `migration`).
    Migrate {
        /// The device.
        device: usize,
        /// The record.
        key: usize,
        /// The field.
        field: usize,
        /// The value's seed.
        value: i64,
    },
    /// A client-side migration rewrites one field of every record within
    /// one millisecond, as a schema migration or an import does (SPEC R2.2:
    /// the stamps must stay at the wall clock, so a later user edit made
    /// elsewhere wins).
    MigrateAll {
        /// The device.
        device: usize,
        /// The field.
        field: usize,
        /// The value's seed.
        value: i64,
    },
    /// A server-side write stamped with a clock a day ahead of the server's
    /// (SPEC R12.3: no device may be left unable to push by it).
    AgentAhead {
        /// The record.
        key: usize,
        /// The field.
        field: usize,
        /// The value's seed.
        value: i64,
    },
    /// The AI agent writes straight into the server log (origin `agent`).
    Agent {
        /// The record.
        key: usize,
        /// The field.
        field: usize,
        /// The value's seed.
        value: i64,
    },
    /// The legacy importer pushes a user value without a witness (SPEC R6.4).
    Legacy {
        /// The record.
        key: usize,
        /// The field.
        field: usize,
        /// The value's seed.
        value: i64,
    },
    /// A device sends its outbox.
    Push {
        /// The device.
        device: usize,
        /// The request's fate.
        fate: Fate,
    },
    /// A device asks for a page after its cursor.
    Pull {
        /// The device.
        device: usize,
        /// The page size it asks for.
        limit: u8,
        /// The request's fate.
        fate: Fate,
    },
    /// The network delivers one deliverable message.
    Deliver {
        /// Which one: 0 is the oldest; any other overtakes older ones.
        pick: usize,
        /// The fate of the reply it provokes, if any.
        fate: Fate,
    },
    /// The server re-sends a stretch of history: the page after `after`.
    Replay {
        /// The device.
        device: usize,
        /// The cursor the replayed page continues.
        after: u64,
    },
    /// A device merges another device's records as state (SPEC R4.5, R6.6).
    Merge {
        /// The device that merges.
        device: usize,
        /// The device whose records it merges.
        from: usize,
    },
    /// A device forgets its cursor and replays the whole log.
    ResetCursor {
        /// The device.
        device: usize,
    },
    /// A device's clock changes: a constant offset and a drift.
    Clock {
        /// The device.
        device: usize,
        /// Offset from true time, in milliseconds.
        offset_ms: i64,
        /// Drift in parts per million of elapsed simulated time.
        drift_ppm: i64,
    },
    /// A device is cut off from the server (`cut`) or healed.
    Partition {
        /// The device.
        device: usize,
        /// Cut or heal.
        cut: bool,
    },
}

/// What kind of invariant a run broke.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum ViolationKind {
    /// The kernel reported a conflict ground truth does not have (SPEC R6.3).
    FalseConflict,
    /// Ground truth has a lost user edit the kernel did not report (SPEC R6.3).
    MissedConflict,
    /// A conflict report with the wrong rule, locality or loser (SPEC R6.8).
    ConflictMetadata,
    /// The same lost edit reported twice on one replica (SPEC R6.7).
    ReportedTwice,
    /// A field does not hold the field-LWW winner after an apply (SPEC R4).
    NotFieldLww,
    /// A register no simulated write made.
    UnknownRegister,
    /// A write displaced one whose writer had already seen it: the newer
    /// write lost to the older (SPEC R2.2).
    CausalityInversion,
    /// The log appended a stamp its client had replaced by a clock
    /// correction (SPEC R12.4).
    StaleStamp,
    /// A malformed twin other than two bootstrap rows of different app
    /// versions (two writes with one version: the logical clock failed), or
    /// an apply whose anomaly reports differ from the twins it met (SPEC
    /// R4.3, R4.4).
    Anomaly,
    /// A bootstrap row with a real timestamp, or one that overwrote content
    /// (SPEC R10.1).
    Bootstrap,
    /// A hidden-edit report whose deleter had seen the edit (SPEC R9.3).
    HiddenEditUnsound,
    /// A shadow index different from `derive_updated_at` (SPEC R8.1).
    ShadowIndex,
    /// A persisted state that does not load back to the same replica
    /// (SPEC R12.5).
    StateRoundTrip,
    /// A page accepted off the cursor, refused at it, or a refusal that
    /// changed the replica (SPEC R6.5).
    PageHandling,
    /// A push refused for a reason other than the clock (SPEC R12.1).
    PushRefused,
    /// After healing, a replica differs from the server (SPEC R4.5).
    Divergence,
    /// The server's state is not field-LWW over its log (SPEC R12.1).
    ServerState,
    /// The system did not become quiescent within the heal bound.
    NoQuiescence,
    /// A user write never reached the server log (SPEC R12.5).
    Lost,
    /// A server rebuilt from its stored log and client table differs from
    /// the one that stored them (PROTOCOL.md P2).
    ServerRestart,
}

impl ViolationKind {
    /// A short name for reports.
    pub fn name(self) -> &'static str {
        match self {
            ViolationKind::FalseConflict => "false-conflict",
            ViolationKind::MissedConflict => "missed-conflict",
            ViolationKind::ConflictMetadata => "conflict-metadata",
            ViolationKind::ReportedTwice => "reported-twice",
            ViolationKind::NotFieldLww => "not-field-lww",
            ViolationKind::UnknownRegister => "unknown-register",
            ViolationKind::CausalityInversion => "causality-inversion",
            ViolationKind::StaleStamp => "stale-stamp",
            ViolationKind::Anomaly => "anomaly",
            ViolationKind::Bootstrap => "bootstrap",
            ViolationKind::HiddenEditUnsound => "hidden-edit-unsound",
            ViolationKind::ShadowIndex => "shadow-index",
            ViolationKind::StateRoundTrip => "state-round-trip",
            ViolationKind::ServerRestart => "server-restart",
            ViolationKind::PageHandling => "page-handling",
            ViolationKind::PushRefused => "push-refused",
            ViolationKind::Divergence => "divergence",
            ViolationKind::ServerState => "server-state",
            ViolationKind::NoQuiescence => "no-quiescence",
            ViolationKind::Lost => "lost-write",
        }
    }
}

/// One broken invariant: at which step, what, and the details.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Violation {
    /// The schedule step (the heal phase counts after the last chaos step).
    pub step: usize,
    /// The invariant.
    pub kind: ViolationKind,
    /// What exactly was wrong.
    pub detail: String,
}

impl Violation {
    fn new(step: usize, kind: ViolationKind, detail: String) -> Violation {
        Violation { step, kind, detail }
    }
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "step {}: {}: {}",
            self.step,
            self.kind.name(),
            self.detail
        )
    }
}

/// What a run counted.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Stats {
    /// Events executed (chaos steps plus heal actions).
    pub events: u64,
    /// Pages applied by replicas plus pushes merged by the server.
    pub applies: u64,
    /// Conflicts the kernel reported.
    pub conflicts: u64,
    /// User-value displacements on which the oracle and the kernel agreed.
    pub agreements: u64,
    /// Pages a replica refused (not at its cursor).
    pub pages_refused: u64,
    /// Poison entries replicas quarantined, each time a page held one
    /// (SPEC R12.6).
    pub quarantined: u64,
    /// Hidden-edit reports (SPEC R9.3).
    pub hidden_edits: u64,
    /// Legacy winners exempted during hydration over a user value their
    /// writer had not seen (SPEC R6.4's documented blind spot).
    pub legacy_exempt_unseen: u64,
    /// Pending writes discarded by a database wipe (lost by choice).
    pub wiped_writes: u64,
    /// How often each fault fired, indexed by [`FaultKind`].
    pub faults: [u64; 12],
    /// How often each scenario fired, indexed by [`Scenario`].
    pub scenarios: [u64; 12],
    /// False conflicts SPEC R6.6 allows outside the delivery model (state
    /// merges, and replicas that merged one): counted, not violations.
    pub merge_false_conflicts: u64,
    /// The decision branches the run took (issue #6): every apply's report,
    /// refusal and clock correction, on the server and every replica.
    pub coverage: Coverage,
}

impl Stats {
    /// Adds another run's counts.
    pub fn add(&mut self, other: &Stats) {
        self.events += other.events;
        self.applies += other.applies;
        self.conflicts += other.conflicts;
        self.agreements += other.agreements;
        self.pages_refused += other.pages_refused;
        self.quarantined += other.quarantined;
        self.hidden_edits += other.hidden_edits;
        self.legacy_exempt_unseen += other.legacy_exempt_unseen;
        self.wiped_writes += other.wiped_writes;
        self.merge_false_conflicts += other.merge_false_conflicts;
        self.coverage.merge(&other.coverage);
        for (a, b) in self.faults.iter_mut().zip(other.faults) {
            *a += b;
        }
        for (a, b) in self.scenarios.iter_mut().zip(other.scenarios) {
            *a += b;
        }
    }
}

/// How to run: plain, with a trace, or stopping early with a state dump.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct RunOptions {
    /// Keep the trace text (the hash is always computed).
    pub trace: bool,
    /// Stop after this chaos step (skipping heal and the final checks) and
    /// dump every replica's state as JSON.
    pub until: Option<usize>,
}

/// The result of one run.
#[derive(Clone, Debug)]
pub struct Outcome {
    /// Every broken invariant, in order.
    pub violations: Vec<Violation>,
    /// FNV-1a over the trace text: equal for equal `(seed, config)`.
    pub trace_hash: u64,
    /// What the run counted.
    pub stats: Stats,
    /// The chaos schedule that ran, for replay and shrinking.
    pub schedule: Vec<Event>,
    /// The trace text, when asked for.
    pub trace: Option<String>,
    /// The state dump of `--until`, as JSON.
    pub dump: Option<serde_json::Value>,
}

/// Runs seed `seed` under `config`: draws the chaos schedule, executes it,
/// heals, and checks. A pure function of its arguments.
pub fn run(seed: u64, config: &Config) -> Outcome {
    run_with(seed, config, RunOptions::default())
}

/// [`run`] with options (trace text, early stop).
pub fn run_with(seed: u64, config: &Config, options: RunOptions) -> Outcome {
    let mut world = world::World::new(config, options);
    let mut generator = gen::Generator::new(seed, config);
    let mut schedule = Vec::with_capacity(config.steps);
    for step in 0..config.steps {
        if options.until.is_some_and(|k| step >= k) {
            return world.finish_early(schedule);
        }
        let event = generator.next(&world);
        world.execute(&event);
        schedule.push(event);
    }
    if options.until.is_some() {
        return world.finish_early(schedule);
    }
    world.finish(schedule)
}

/// Executes an explicit chaos schedule (from a shrink or a regression test),
/// heals, and checks.
pub fn run_schedule(config: &Config, schedule: &[Event]) -> Outcome {
    run_schedule_with(config, schedule, RunOptions::default())
}

/// [`run_schedule`] with options.
pub fn run_schedule_with(config: &Config, schedule: &[Event], options: RunOptions) -> Outcome {
    let mut world = world::World::new(config, options);
    for (step, event) in schedule.iter().enumerate() {
        if options.until.is_some_and(|k| step >= k) {
            return world.finish_early(schedule[..step].to_vec());
        }
        world.execute(event);
    }
    if options.until.is_some() {
        return world.finish_early(schedule.to_vec());
    }
    world.finish(schedule.to_vec())
}
