//! What a run simulates: actors, scenarios, fault rates, run length, and the
//! planted bugs the simulator must find. A [`Config`] plus a seed is a run.

use super::rng::Rng;

/// The first-class scenarios: the seed system's trouble makers and the
/// races around them.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Scenario {
    /// The server re-sends a stretch of history (an old page again), a
    /// device's cursor is reset, or a burst of sequential updates arrives.
    ReplayBurst,
    /// An AI agent writes straight into the server log, racing user edits.
    AgentRace,
    /// A new device joins, or a device wipes its database, and pulls
    /// everything in several pages while its user keeps editing.
    Hydration,
    /// Singleton bootstrap at every device boot, racing the placeholder.
    BootstrapRace,
    /// Client-side data migrations (origin `migration`).
    Migration,
    /// A legacy importer pushes changes without a witness (SPEC R6.4).
    Legacy,
    /// Deletes and restores racing edits (SPEC R9).
    Tombstones,
    /// A device merges another device's records as state (a LAN sync or a
    /// restore from a sibling's backup): outside the delivery model, where
    /// SPEC R6.6 allows false conflicts but no missed ones.
    StateMerge,
    /// A migration rewrites every record within one millisecond (SPEC
    /// R2.2: the stamps stay at the wall clock).
    BulkMigration,
    /// A server-side write made with a clock a day ahead (SPEC R12.3: no
    /// device is left unable to push by it).
    ServerClockAhead,
    /// The server fails over to a standby that holds the same changes in
    /// another order, under another log name (SPEC R12.7): every device
    /// must refuse the old log's pages, reset its cursor and skip nothing.
    Failover,
    /// A device is restored from a backup it took earlier, its client id
    /// unchanged (SPEC R12.5): a push reusing a number the log holds is
    /// refused as `seq_reused`, and the device recovers under a new client
    /// id, writing again the pending values the log lacks.
    RestoredBackup,
}

impl Scenario {
    /// Every scenario, in report order.
    pub const ALL: [Scenario; 12] = [
        Scenario::ReplayBurst,
        Scenario::AgentRace,
        Scenario::Hydration,
        Scenario::BootstrapRace,
        Scenario::Migration,
        Scenario::Legacy,
        Scenario::Tombstones,
        Scenario::StateMerge,
        Scenario::BulkMigration,
        Scenario::ServerClockAhead,
        Scenario::Failover,
        Scenario::RestoredBackup,
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Scenario::ReplayBurst => "replay",
            Scenario::AgentRace => "agent",
            Scenario::Hydration => "hydration",
            Scenario::BootstrapRace => "bootstrap",
            Scenario::Migration => "migration",
            Scenario::Legacy => "legacy",
            Scenario::Tombstones => "tombstones",
            Scenario::StateMerge => "merge",
            Scenario::BulkMigration => "bulk-migration",
            Scenario::ServerClockAhead => "server-clock-ahead",
            Scenario::Failover => "failover",
            Scenario::RestoredBackup => "restored-backup",
        }
    }

    /// Parses a command-line name.
    pub fn parse(name: &str) -> Option<Scenario> {
        Scenario::ALL.into_iter().find(|s| s.name() == name)
    }

    fn bit(self) -> u32 {
        1 << (self as u32)
    }
}

/// A set of scenarios, as a bit mask (printable as Rust in a regression test).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ScenarioSet(pub u32);

impl ScenarioSet {
    /// Every scenario.
    pub fn all() -> ScenarioSet {
        ScenarioSet(Scenario::ALL.iter().map(|s| s.bit()).sum())
    }

    /// No scenario: plain edits and sync only.
    pub fn none() -> ScenarioSet {
        ScenarioSet(0)
    }

    /// Whether `scenario` is in the set.
    pub fn has(self, scenario: Scenario) -> bool {
        self.0 & scenario.bit() != 0
    }

    /// The set with `scenario` added.
    pub fn with(self, scenario: Scenario) -> ScenarioSet {
        ScenarioSet(self.0 | scenario.bit())
    }
}

/// The fault kinds the network, the devices and their clocks suffer.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum FaultKind {
    /// A message is lost.
    Drop,
    /// A message arrives twice.
    Duplicate,
    /// A message overtakes an older one.
    Reorder,
    /// A message is held back for a while.
    Delay,
    /// A device is cut off from the server, later healed.
    Partition,
    /// A device crashes: memory and in-flight replies lost, disk kept.
    Crash,
    /// A device's clock runs at a constant offset.
    Skew,
    /// A device's clock drifts (parts per million).
    Drift,
    /// A device's clock jumps.
    ClockStep,
    /// A device's clock runs so far ahead that the server refuses its push
    /// (SPEC R12.3) and the device corrects its clock (SPEC R12.4).
    ClockAhead,
    /// The server process restarts: it is rebuilt from what it stored (its
    /// log and client table, through their JSON forms) and must answer
    /// exactly as before (PROTOCOL.md P2).
    ServerRestart,
    /// Another service writes an entry that is not a valid change straight
    /// into the server's log (SPEC R12.6): every replica must quarantine it
    /// alike and go on.
    Poison,
}

impl FaultKind {
    /// Every fault kind, in report order.
    pub const ALL: [FaultKind; 12] = [
        FaultKind::Drop,
        FaultKind::Duplicate,
        FaultKind::Reorder,
        FaultKind::Delay,
        FaultKind::Partition,
        FaultKind::Crash,
        FaultKind::Skew,
        FaultKind::Drift,
        FaultKind::ClockStep,
        FaultKind::ClockAhead,
        FaultKind::ServerRestart,
        FaultKind::Poison,
    ];

    /// The command-line and report name.
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Drop => "drop",
            FaultKind::Duplicate => "duplicate",
            FaultKind::Reorder => "reorder",
            FaultKind::Delay => "delay",
            FaultKind::Partition => "partition",
            FaultKind::Crash => "crash",
            FaultKind::Skew => "skew",
            FaultKind::Drift => "drift",
            FaultKind::ClockStep => "clock-step",
            FaultKind::ClockAhead => "clock-ahead",
            FaultKind::ServerRestart => "server-restart",
            FaultKind::Poison => "poison",
        }
    }

    /// Parses a name.
    pub fn parse(name: &str) -> Option<FaultKind> {
        FaultKind::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Fault rates per mille, indexed by [`FaultKind`] (`rates.0[kind as usize]`).
/// Message faults apply per message; device and clock faults per step.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct FaultRates(pub [u32; 12]);

impl FaultRates {
    /// No faults at all.
    pub fn none() -> FaultRates {
        FaultRates([0; 12])
    }

    /// The rate of `kind`, per mille.
    pub fn of(&self, kind: FaultKind) -> u32 {
        self.0[kind as usize]
    }

    /// Sets the rate of `kind`.
    pub fn set(&mut self, kind: FaultKind, per_mille: u32) {
        self.0[kind as usize] = per_mille.min(1000);
    }
}

/// A planted bug: the simulator wraps the kernel wrongly in one known way,
/// and the oracle must notice. Test-only in spirit; harmless to keep in the
/// library because it only changes what the simulator does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Mutation {
    /// Report every overwrite of a different user value as a conflict,
    /// ignoring the witness (SPEC R6.3 without condition (c)).
    ClassifyOnOriginOnly,
    /// Classify hydration pages as live ones (drops the exemption of
    /// SPEC R6.4).
    DropHydrationRule,
    /// The server's bootstrap writes its row with a real timestamp
    /// (`Server::write` instead of `Server::bootstrap`; breaks SPEC R10.1).
    BootstrapRealTimestamp,
    /// A crashed device restarts without its outbox (breaks SPEC R12.5).
    ForgetOutbox,
    /// A crashed device restarts without its records but with its cursor,
    /// so it never pulls them again (breaks SPEC R12.5; replicas diverge).
    ForgetRecords,
    /// A crashed device restarts with its shadow index lost (breaks SPEC
    /// R8.1, R12.5).
    ForgetShadowIndex,
    /// A crashed device restarts without its clock; `ReplicaState::load`
    /// derives one from the records (SPEC R12.5).
    ForgetClock,
    /// A crashed device restarts without its cursor and pulls the whole log
    /// again as a hydration round (SPEC R12.5).
    ForgetCursor,
    /// The client drops the kernel's conflict reports of pulled pages
    /// (breaks SPEC R6.3: lost edits go unreported).
    DropConflictReports,
}

impl Mutation {
    /// Every planted bug.
    pub const ALL: [Mutation; 9] = [
        Mutation::ClassifyOnOriginOnly,
        Mutation::DropHydrationRule,
        Mutation::BootstrapRealTimestamp,
        Mutation::ForgetOutbox,
        Mutation::ForgetRecords,
        Mutation::ForgetShadowIndex,
        Mutation::ForgetClock,
        Mutation::ForgetCursor,
        Mutation::DropConflictReports,
    ];
}

/// One run's configuration. `run(seed, &config)` is a pure function.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Config {
    /// How many users (each with its own singleton, all sharing one space).
    pub users: usize,
    /// The most devices a user has (the first joins at sign-up, others may
    /// join later in a hydration round).
    pub devices_per_user: usize,
    /// How many shared task records.
    pub tasks: usize,
    /// How many chaos steps the generator draws.
    pub steps: usize,
    /// The bound on heal rounds before convergence is required.
    pub heal_rounds_max: usize,
    /// The server's page size, so hydration takes several pages.
    pub page_size: usize,
    /// Which scenarios the generator draws.
    pub scenarios: ScenarioSet,
    /// The fault rates.
    pub faults: FaultRates,
    /// A planted bug, or `None` for the real thing.
    pub mutation: Option<Mutation>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            users: 2,
            devices_per_user: 2,
            tasks: 4,
            steps: 300,
            heal_rounds_max: 12,
            page_size: 8,
            scenarios: ScenarioSet::all(),
            faults: FaultRates([30, 20, 100, 50, 5, 5, 10, 10, 5, 3, 3, 3]),
            mutation: None,
        }
    }
}

/// The knobs of a campaign; each seed draws its own [`Config`] from them
/// (the swarm: some seeds without faults, some with one kind turned high).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Swarm {
    /// The most users a seed may draw (at least 1).
    pub users_max: usize,
    /// The most devices per user a seed may draw (at least 1).
    pub devices_max: usize,
    /// The chaos steps per seed.
    pub steps: usize,
    /// Which scenarios seeds may draw from.
    pub scenarios: ScenarioSet,
    /// Scales every fault rate, in percent (100 = the default mix, 0 = no
    /// faults at all).
    pub fault_scale_pct: u32,
    /// A planted bug in every seed.
    pub mutation: Option<Mutation>,
}

impl Default for Swarm {
    fn default() -> Swarm {
        Swarm {
            users_max: 3,
            devices_max: 3,
            steps: 300,
            scenarios: ScenarioSet::all(),
            fault_scale_pct: 100,
            mutation: None,
        }
    }
}

impl Swarm {
    /// The configuration of `seed`: a pure function of the seed and the swarm.
    pub fn config(&self, seed: u64) -> Config {
        let mut rng = Rng::stream(seed, 1);
        let users = 1 + rng.index(self.users_max.max(1));
        let devices_per_user = 1 + rng.index(self.devices_max.max(1));
        let tasks = 1 + rng.index(6);
        let page_size = [1, 2, 3, 5, 8, 20][rng.index(6)];
        // Each scenario stays in with probability 3/4, but never all out.
        let mut scenarios = ScenarioSet::none();
        for s in Scenario::ALL {
            if self.scenarios.has(s) && rng.chance(750) {
                scenarios = scenarios.with(s);
            }
        }
        if scenarios == ScenarioSet::none() {
            scenarios = self.scenarios;
        }
        let base = Config::default().faults;
        let mut faults = FaultRates::none();
        match rng.below(10) {
            // No faults at all.
            0 | 1 => {}
            // One kind turned up high, the rest off.
            2..=4 => {
                let kind = FaultKind::ALL[rng.index(FaultKind::ALL.len())];
                faults.set(kind, base.of(kind) * 6 + 30);
            }
            // A random mix around the default.
            _ => {
                for kind in FaultKind::ALL {
                    let rate = base.of(kind) * rng.below(300) as u32 / 100;
                    faults.set(kind, rate);
                }
            }
        }
        for kind in FaultKind::ALL {
            let scaled = u64::from(faults.of(kind)) * u64::from(self.fault_scale_pct) / 100;
            faults.set(kind, scaled as u32);
        }
        Config {
            users,
            devices_per_user,
            tasks,
            steps: self.steps,
            heal_rounds_max: Config::default().heal_rounds_max,
            page_size,
            scenarios,
            faults,
            mutation: self.mutation,
        }
    }
}
