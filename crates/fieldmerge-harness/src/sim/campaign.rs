//! Campaigns: many seeds, each drawing its own configuration from a
//! [`Swarm`], with coverage counts and an optional determinism self-check.
//! The library runs seeds one after another; the command line spreads them
//! over threads, which cannot change any seed's result.

use std::ops::Range;

use super::config::{FaultKind, Scenario, ScenarioSet, Swarm};
use super::coverage::Mark;
use super::{run, Outcome, Stats, Violation};

/// A campaign: a seed range, a shard of it, and the swarm seeds draw from.
#[derive(Clone, Debug)]
pub struct Campaign {
    /// The seeds, before sharding.
    pub seeds: Range<u64>,
    /// `(index, count)`: this machine runs the seeds with
    /// `seed % count == index`.
    pub shard: (u64, u64),
    /// What each seed draws from.
    pub swarm: Swarm,
    /// Run every seed twice and compare trace hashes.
    pub check_determinism: bool,
}

impl Default for Campaign {
    fn default() -> Campaign {
        Campaign {
            seeds: 0..1000,
            shard: (0, 1),
            swarm: Swarm::default(),
            check_determinism: false,
        }
    }
}

/// One seed's result in a campaign.
#[derive(Clone, Debug)]
pub struct SeedResult {
    /// The seed.
    pub seed: u64,
    /// What the run found.
    pub outcome: Outcome,
    /// `false` when a second run gave another trace hash.
    pub deterministic: bool,
}

impl Campaign {
    /// The seeds of this shard, in order.
    pub fn seed_list(&self) -> Vec<u64> {
        let (index, count) = (self.shard.0, self.shard.1.max(1));
        self.seeds.clone().filter(|s| s % count == index).collect()
    }

    /// Runs one seed (twice when checking determinism).
    pub fn run_seed(&self, seed: u64) -> SeedResult {
        let config = self.swarm.config(seed);
        let outcome = run(seed, &config);
        let deterministic =
            !self.check_determinism || run(seed, &config).trace_hash == outcome.trace_hash;
        SeedResult {
            seed,
            outcome,
            deterministic,
        }
    }
}

/// What a campaign found, summed over its seeds.
#[derive(Clone, Debug, Default)]
pub struct CampaignReport {
    /// Seeds run.
    pub seeds: u64,
    /// Counts over every seed.
    pub stats: Stats,
    /// Violations found.
    pub violations: u64,
    /// The failing seeds with their violations, in seed order.
    pub failures: Vec<(u64, Vec<Violation>)>,
    /// Seeds whose two runs gave different trace hashes.
    pub nondeterministic: Vec<u64>,
}

impl CampaignReport {
    /// Adds one seed's result.
    pub fn add(&mut self, result: &SeedResult) {
        self.seeds += 1;
        self.stats.add(&result.outcome.stats);
        self.violations += result.outcome.violations.len() as u64;
        if !result.outcome.violations.is_empty() {
            let at = self.failures.partition_point(|(s, _)| *s < result.seed);
            self.failures
                .insert(at, (result.seed, result.outcome.violations.clone()));
        }
        if !result.deterministic {
            let at = self.nondeterministic.partition_point(|s| *s < result.seed);
            self.nondeterministic.insert(at, result.seed);
        }
    }

    /// The fault kinds, scenarios and coverage marks that never fired
    /// (among those the swarm allows): a campaign that misses one has not
    /// tested it. Marks count only for a swarm with every scenario and
    /// faults on, since each scenario and fault reaches its own branches.
    pub fn never_fired(&self, swarm: &Swarm) -> Vec<&'static str> {
        let mut out = Vec::new();
        if swarm.fault_scale_pct > 0 {
            for kind in FaultKind::ALL {
                if self.stats.faults[kind as usize] == 0 {
                    out.push(kind.name());
                }
            }
        }
        for s in Scenario::ALL {
            if swarm.scenarios.has(s) && self.stats.scenarios[s as usize] == 0 {
                out.push(s.name());
            }
        }
        if swarm.fault_scale_pct > 0 && swarm.scenarios == ScenarioSet::all() {
            out.extend(self.marks_missed().into_iter().map(Mark::name));
        }
        out
    }

    /// The coverage marks the simulator can reach ([`Mark::simulated`])
    /// that no seed hit.
    pub fn marks_missed(&self) -> Vec<Mark> {
        let coverage = &self.stats.coverage;
        coverage
            .missed()
            .into_iter()
            .filter(|m| m.simulated())
            .collect()
    }

    /// Whether the campaign passed: no violation, determinism held, and
    /// every allowed fault kind, scenario and coverage mark fired.
    pub fn passed(&self, swarm: &Swarm) -> bool {
        self.violations == 0
            && self.nondeterministic.is_empty()
            && self.never_fired(swarm).is_empty()
    }
}

/// Runs a whole campaign on this thread, calling `progress` after each seed.
pub fn run_campaign(campaign: &Campaign, mut progress: impl FnMut(&SeedResult)) -> CampaignReport {
    let mut report = CampaignReport::default();
    for seed in campaign.seed_list() {
        let result = campaign.run_seed(seed);
        progress(&result);
        report.add(&result);
    }
    report
}
