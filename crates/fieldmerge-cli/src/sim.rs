//! `fieldmerge sim`: simulation campaigns, single-seed replays with a trace
//! or a state dump, shrinking of failures. Seeds run in parallel on
//! `--jobs` threads; each seed's run is single-threaded and deterministic.

use std::io::IsTerminal as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use fieldmerge_harness::sim::{
    regression_test, run_with, shrink, Campaign, CampaignReport, FaultKind, Mark, Mutation,
    RunOptions, Scenario, ScenarioSet, SeedResult,
};

/// Runs a simulation campaign: every seed draws its own mix of actors,
/// scenarios and faults, runs chaos then heal against the real replica and
/// server, and is checked by the causal oracle on every apply. A run is a
/// pure function of (seed, options). Fails on any violation and, for a
/// campaign of the default swarm, when a fault, scenario or reachable
/// decision branch never fired; the first failure is shrunk to a
/// ready-to-paste regression test.
#[derive(clap::Args)]
#[command(
    after_help = "Exit codes: 0 every seed passed, 1 a violation, a nondeterministic seed or something that never fired, 2 bad arguments."
)]
pub struct SimArgs {
    /// Seed range A..B.
    #[arg(long, value_name = "A..B", default_value = "0..1000", value_parser = seed_range)]
    seeds: std::ops::Range<u64>,
    /// Replay one seed and print its trace.
    #[arg(long, value_name = "N")]
    seed: Option<u64>,
    /// With --seed: stop after step K and dump every replica as JSON.
    #[arg(long, value_name = "K", requires = "seed")]
    until: Option<usize>,
    /// Run only the seeds with seed % N == I.
    #[arg(long, value_name = "I/N", value_parser = shard)]
    shard: Option<(u64, u64)>,
    /// Seeds in parallel; each seed's run stays single-threaded and deterministic.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=256))]
    jobs: u64,
    /// Scenarios seeds may draw, comma-separated (default all): replay, agent,
    /// hydration, bootstrap, migration, legacy, tombstones, merge,
    /// bulk-migration, server-clock-ahead, failover, restored-backup.
    #[arg(long, value_name = "a,b,...", value_parser = scenarios)]
    scenarios: Option<ScenarioSet>,
    /// At most N users per seed (1 to 16).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=16))]
    users: Option<u64>,
    /// At most N devices per user (1 to 16).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=16))]
    devices: Option<u64>,
    /// Scale every fault rate, in percent (0 = no faults, up to 10000).
    #[arg(long, value_name = "PCT", value_parser = clap::value_parser!(u64).range(0..=10_000))]
    faults: Option<u64>,
    /// Chaos steps per seed (1 to 1000000).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    steps: Option<u64>,
    /// Run every seed twice and compare trace hashes.
    #[arg(long)]
    check_determinism: bool,
    /// Plant a bug the oracle must find.
    #[arg(long, value_enum, value_name = "NAME")]
    mutation: Option<Planted>,
    /// Runs allowed to shrink a failure.
    #[arg(long, value_name = "N", default_value_t = 4000)]
    shrink_budget: usize,
    /// No progress bar (there is none anyway when stderr is not a terminal).
    #[arg(long)]
    quiet: bool,
    /// Print one JSON summary object instead of the table.
    #[arg(long)]
    json: bool,
}

/// A planted bug (`--mutation`).
#[derive(Clone, Copy, clap::ValueEnum)]
enum Planted {
    /// Every overwrite of another user value is a conflict (no witness test).
    OriginOnly,
    /// Hydration pages classified as live.
    NoHydrationRule,
    /// The server's bootstrap row gets a real timestamp.
    BootstrapTimestamp,
    /// A crashed device restarts without its outbox.
    ForgetOutbox,
    /// A crashed device restarts without its records but with its cursor.
    ForgetRecords,
    /// A crashed device restarts with its shadow index lost.
    ForgetIndex,
    /// A crashed device restarts without its clock.
    ForgetClock,
    /// A crashed device restarts without its cursor (must stay harmless).
    ForgetCursor,
    /// Conflict reports are dropped.
    DropReports,
}

impl Planted {
    fn mutation(self) -> Mutation {
        match self {
            Planted::OriginOnly => Mutation::ClassifyOnOriginOnly,
            Planted::NoHydrationRule => Mutation::DropHydrationRule,
            Planted::BootstrapTimestamp => Mutation::BootstrapRealTimestamp,
            Planted::ForgetOutbox => Mutation::ForgetOutbox,
            Planted::ForgetRecords => Mutation::ForgetRecords,
            Planted::ForgetIndex => Mutation::ForgetShadowIndex,
            Planted::ForgetClock => Mutation::ForgetClock,
            Planted::ForgetCursor => Mutation::ForgetCursor,
            Planted::DropReports => Mutation::DropConflictReports,
        }
    }
}

fn seed_range(text: &str) -> Result<std::ops::Range<u64>, String> {
    let (a, b) = text
        .split_once("..")
        .ok_or_else(|| format!("{text:?} is not A..B"))?;
    let number = |t: &str| {
        t.parse::<u64>()
            .map_err(|_| format!("{t:?} is not a number"))
    };
    let (a, b) = (number(a)?, number(b)?);
    if a >= b {
        return Err(format!("{text:?} is empty"));
    }
    Ok(a..b)
}

fn shard(text: &str) -> Result<(u64, u64), String> {
    let (i, n) = text
        .split_once('/')
        .ok_or_else(|| format!("{text:?} is not I/N"))?;
    let number = |t: &str| {
        t.parse::<u64>()
            .map_err(|_| format!("{t:?} is not a number"))
    };
    let (i, n) = (number(i)?, number(n)?);
    if n == 0 || i >= n {
        return Err(format!("{text:?} needs I < N"));
    }
    Ok((i, n))
}

fn scenarios(text: &str) -> Result<ScenarioSet, String> {
    let mut set = ScenarioSet::none();
    for name in text.split(',').filter(|n| !n.is_empty()) {
        let s = Scenario::parse(name).ok_or_else(|| format!("unknown scenario {name:?}"))?;
        set = set.with(s);
    }
    Ok(set)
}

struct Args {
    campaign: Campaign,
    seed: Option<u64>,
    until: Option<usize>,
    jobs: usize,
    shrink_budget: usize,
    progress: bool,
    json: bool,
    // The flags that change a seed's configuration, for replay commands.
    config_flags: Vec<String>,
}

impl Args {
    fn from(a: &SimArgs) -> Args {
        let mut campaign = Campaign::default();
        let mut flags = Vec::new();
        campaign.seeds = a.seeds.clone();
        if let Some(shard) = a.shard {
            campaign.shard = shard;
        }
        let swarm = &mut campaign.swarm;
        if let Some(set) = a.scenarios {
            swarm.scenarios = set;
            let names: Vec<&str> = Scenario::ALL
                .iter()
                .filter(|s| set.has(**s))
                .map(|s| s.name())
                .collect();
            flags.extend(["--scenarios".to_owned(), names.join(",")]);
        }
        for (flag, value) in [
            ("--users", a.users),
            ("--devices", a.devices),
            ("--steps", a.steps),
            ("--faults", a.faults),
        ] {
            let Some(n) = value else { continue };
            match flag {
                "--users" => swarm.users_max = n as usize,
                "--devices" => swarm.devices_max = n as usize,
                "--steps" => swarm.steps = n as usize,
                _ => swarm.fault_scale_pct = n as u32,
            }
            flags.extend([flag.to_owned(), n.to_string()]);
        }
        if let Some(planted) = a.mutation {
            swarm.mutation = Some(planted.mutation());
            let name = clap::ValueEnum::to_possible_value(&planted)
                .map(|v| v.get_name().to_owned())
                .unwrap_or_default();
            flags.extend(["--mutation".to_owned(), name]);
        }
        campaign.check_determinism = a.check_determinism;
        Args {
            campaign,
            seed: a.seed,
            until: a.until,
            jobs: a.jobs as usize,
            shrink_budget: a.shrink_budget,
            // A bar only for a person watching: never into a log or a pipe.
            progress: !a.quiet && !a.json && std::io::stderr().is_terminal(),
            json: a.json,
            config_flags: flags,
        }
    }
}

/// Runs `fieldmerge sim`.
pub fn main(args: &SimArgs) -> ExitCode {
    let args = Args::from(args);
    match args.seed {
        Some(seed) => replay(&args, seed),
        None => campaign(&args),
    }
}

fn replay_command(args: &Args, seed: u64) -> String {
    let mut cmd = format!("cargo run --release -- sim --seed {seed}");
    for f in &args.config_flags {
        cmd.push(' ');
        cmd.push_str(f);
    }
    cmd
}

fn replay(args: &Args, seed: u64) -> ExitCode {
    let config = args.campaign.swarm.config(seed);
    let options = RunOptions {
        trace: args.until.is_none(),
        until: args.until,
    };
    let outcome = run_with(seed, &config, options);
    if let Some(dump) = &outcome.dump {
        match serde_json::to_string_pretty(dump) {
            Ok(text) => println!("{text}"),
            Err(e) => eprintln!("fieldmerge sim: cannot print the dump: {e}"),
        }
    }
    if let Some(trace) = &outcome.trace {
        print!("{trace}");
    }
    println!("# seed {seed}: {config:?}");
    println!("# trace hash {:016x}", outcome.trace_hash);
    for v in &outcome.violations {
        println!("# {v}");
    }
    if outcome.violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn campaign(args: &Args) -> ExitCode {
    let seeds = Arc::new(args.campaign.seed_list());
    let total = seeds.len();
    let next = Arc::new(AtomicUsize::new(0));
    let (tx, rx) = mpsc::channel::<SeedResult>();
    let started = Instant::now();
    let mut workers = Vec::new();
    for _ in 0..args.jobs.min(total.max(1)) {
        let (seeds, next, tx) = (Arc::clone(&seeds), Arc::clone(&next), tx.clone());
        let campaign = args.campaign.clone();
        workers.push(std::thread::spawn(move || loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(&seed) = seeds.get(i) else { return };
            if tx.send(campaign.run_seed(seed)).is_err() {
                return;
            }
        }));
    }
    drop(tx);
    let bar = if args.progress {
        let bar = ProgressBar::new(total as u64);
        bar.set_style(
            ProgressStyle::with_template("[{bar:30}] {pos}/{len} seeds, {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("#."),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let mut report = CampaignReport::default();
    let mut first_failure: Option<SeedResult> = None;
    for result in rx {
        if !result.outcome.violations.is_empty()
            && first_failure.as_ref().is_none_or(|f| f.seed > result.seed)
        {
            first_failure = Some(result.clone());
        }
        report.add(&result);
        bar.set_message(format!(
            "{} events, {} violations",
            report.stats.events, report.violations
        ));
        bar.inc(1);
    }
    bar.finish_and_clear();
    for w in workers {
        let _ = w.join();
    }
    let seconds = started.elapsed().as_secs_f64();
    let swarm = &args.campaign.swarm;
    let missing = report.never_fired(swarm);
    if args.json {
        println!(
            "{}",
            summary_json(&report, seconds, &missing, report.passed(swarm))
        );
    } else {
        summary(&report, seconds, args);
        if !missing.is_empty() {
            println!("never fired: {}", missing.join(", "));
        }
        for seed in &report.nondeterministic {
            println!("NONDETERMINISTIC: seed {seed} gave two different trace hashes");
        }
        for (seed, violations) in report.failures.iter().take(10) {
            println!(
                "FAILED seed {seed}: {} ({} violations)",
                violations[0],
                violations.len()
            );
        }
        if let Some(failure) = first_failure {
            shrink_and_print(args, &failure);
        }
    }
    if report.passed(swarm) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

// The campaign as one JSON object, for CI to parse.
fn summary_json(
    report: &CampaignReport,
    seconds: f64,
    missing: &[&str],
    passed: bool,
) -> serde_json::Value {
    let s = &report.stats;
    let faults: serde_json::Map<String, serde_json::Value> = FaultKind::ALL
        .iter()
        .map(|k| (k.name().to_owned(), json!(s.faults[*k as usize])))
        .collect();
    let scenarios: serde_json::Map<String, serde_json::Value> = Scenario::ALL
        .iter()
        .map(|k| (k.name().to_owned(), json!(s.scenarios[*k as usize])))
        .collect();
    let marks: serde_json::Map<String, serde_json::Value> = Mark::ALL
        .iter()
        .filter(|m| m.simulated())
        .map(|m| (m.name().to_owned(), json!(s.coverage.count(*m))))
        .collect();
    let failures: Vec<serde_json::Value> = report
        .failures
        .iter()
        .map(|(seed, v)| json!({"seed": seed, "first": v[0].to_string(), "violations": v.len()}))
        .collect();
    json!({
        "seeds": report.seeds,
        "events": s.events,
        "wall_seconds": seconds,
        "applies": s.applies,
        "conflicts": s.conflicts,
        "agreements": s.agreements,
        "violations": report.violations,
        "nondeterministic": report.nondeterministic,
        "faults": faults,
        "scenarios": scenarios,
        "marks": marks,
        "never_fired": missing,
        "failures": failures,
        "passed": passed,
    })
}

fn summary(report: &CampaignReport, seconds: f64, args: &Args) {
    let s = &report.stats;
    let rate = s.events as f64 / seconds.max(1e-9);
    println!("{:<26} {:>14}", "seeds", report.seeds);
    println!("{:<26} {:>14}", "simulated events", s.events);
    println!("{:<26} {:>14.0}", "events/s", rate);
    println!("{:<26} {:>14.2}", "wall seconds", seconds);
    println!("{:<26} {:>14}", "applies", s.applies);
    println!("{:<26} {:>14}", "conflicts reported", s.conflicts);
    println!("{:<26} {:>14}", "oracle agreements", s.agreements);
    println!("{:<26} {:>14}", "violations", report.violations);
    if args.campaign.check_determinism {
        println!(
            "{:<26} {:>14}",
            "determinism (2 runs/seed)",
            if report.nondeterministic.is_empty() {
                "same hashes"
            } else {
                "DIFFERENT"
            }
        );
    }
    println!("{:<26} {:>14}", "pages refused (R6.5)", s.pages_refused);
    println!(
        "{:<26} {:>14}",
        "entries quarantined (R12.6)", s.quarantined
    );
    println!("{:<26} {:>14}", "hidden edits (R9.3)", s.hidden_edits);
    println!(
        "{:<26} {:>14}",
        "legacy exempt, unseen", s.legacy_exempt_unseen
    );
    println!("{:<26} {:>14}", "writes wiped by choice", s.wiped_writes);
    println!(
        "{:<26} {:>14}",
        "R6.6 merge over-reports", s.merge_false_conflicts
    );
    let faults: Vec<String> = FaultKind::ALL
        .iter()
        .map(|k| format!("{} {}", k.name(), s.faults[*k as usize]))
        .collect();
    println!("faults fired: {}", faults.join(", "));
    let scenarios: Vec<String> = Scenario::ALL
        .iter()
        .map(|k| format!("{} {}", k.name(), s.scenarios[*k as usize]))
        .collect();
    println!("scenarios fired: {}", scenarios.join(", "));
    let marks: Vec<String> = Mark::ALL
        .iter()
        .filter(|m| m.simulated())
        .map(|m| format!("{} {}", m.name(), s.coverage.count(*m)))
        .collect();
    println!("coverage marks hit: {}", marks.join(", "));
}

fn shrink_and_print(args: &Args, failure: &SeedResult) {
    let seed = failure.seed;
    let config = args.campaign.swarm.config(seed);
    let kind = failure.outcome.violations[0].kind;
    println!(
        "\nshrinking seed {seed} ({} steps, {})...",
        failure.outcome.schedule.len(),
        kind.name()
    );
    match shrink(&config, &failure.outcome.schedule, kind, args.shrink_budget) {
        Some(shrunk) => {
            println!(
                "shrunk to {} events, {} users x {} devices, {} tasks, in {} runs:\n",
                shrunk.schedule.len(),
                shrunk.config.users,
                shrunk.config.devices_per_user,
                shrunk.config.tasks,
                shrunk.runs
            );
            println!("{}", regression_test(&shrunk, &format!("sim_seed_{seed}")));
        }
        None => println!("(the failure did not reproduce from its schedule)"),
    }
    println!("replay: {}", replay_command(args, seed));
    println!("step through: {} --until K", replay_command(args, seed));
}
