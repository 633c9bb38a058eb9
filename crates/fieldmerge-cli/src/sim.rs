//! `fieldmerge sim`: simulation campaigns, single-seed replays with a trace
//! or a state dump, shrinking of failures. Seeds run in parallel on
//! `--jobs` threads; each seed's run is single-threaded and deterministic.

use std::io::Write as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Instant;

use fieldmerge_harness::sim::{
    regression_test, run_with, shrink, Campaign, CampaignReport, FaultKind, Mark, Mutation,
    RunOptions, Scenario, ScenarioSet, SeedResult,
};

const HELP: &str = "\
usage: fieldmerge sim [options]

Runs a simulation campaign: every seed draws its own mix of actors,
scenarios and faults, runs chaos then heal, and is checked by the oracle.

options:
  --seeds A..B            seed range (default 0..1000)
  --seed N                replay one seed and print its trace
  --until K               with --seed: stop after step K, dump every replica as JSON
  --shard I/N             run only the seeds with seed % N == I
  --jobs N                seeds in parallel (default 2)
  --scenarios a,b,...     scenarios seeds may draw (default all):
                          replay, agent, hydration, bootstrap, migration, legacy,
                          tombstones, merge
  --users N               at most N users per seed (default 3)
  --devices N             at most N devices per user (default 3)
  --faults PCT            scale every fault rate (default 100; 0 = no faults)
  --steps N               chaos steps per seed (default 300)
  --check-determinism     run every seed twice and compare trace hashes
  --mutation NAME         plant a bug: origin-only, no-hydration-rule,
                          bootstrap-timestamp, forget-outbox, forget-records,
                          forget-index, forget-clock, forget-cursor,
                          drop-reports
  --shrink-budget N       runs allowed to shrink a failure (default 4000)
  --quiet                 no progress bar
";

struct Args {
    campaign: Campaign,
    seed: Option<u64>,
    until: Option<usize>,
    jobs: usize,
    shrink_budget: usize,
    quiet: bool,
    // The flags that change a seed's configuration, for replay commands.
    config_flags: Vec<String>,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut out = Args {
        campaign: Campaign::default(),
        seed: None,
        until: None,
        jobs: 2,
        shrink_budget: 4000,
        quiet: false,
        config_flags: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let number = |name: &str, text: &str| -> Result<u64, String> {
            text.parse::<u64>()
                .map_err(|_| format!("{name}: {text:?} is not a number"))
        };
        match flag.as_str() {
            "--help" | "-h" => return Err(String::new()),
            "--seeds" => {
                let v = value(flag)?;
                let (a, b) = v
                    .split_once("..")
                    .ok_or_else(|| format!("--seeds: {v:?} is not A..B"))?;
                let (a, b) = (number(flag, a)?, number(flag, b)?);
                if a >= b {
                    return Err(format!("--seeds: {v:?} is empty"));
                }
                out.campaign.seeds = a..b;
            }
            "--seed" => out.seed = Some(number(flag, &value(flag)?)?),
            "--until" => out.until = Some(number(flag, &value(flag)?)? as usize),
            "--shard" => {
                let v = value(flag)?;
                let (i, n) = v
                    .split_once('/')
                    .ok_or_else(|| format!("--shard: {v:?} is not I/N"))?;
                let (i, n) = (number(flag, i)?, number(flag, n)?);
                if n == 0 || i >= n {
                    return Err(format!("--shard: {v:?} needs I < N"));
                }
                out.campaign.shard = (i, n);
            }
            "--jobs" => out.jobs = number(flag, &value(flag)?)?.clamp(1, 256) as usize,
            "--scenarios" => {
                let v = value(flag)?;
                let mut set = ScenarioSet::none();
                for name in v.split(',').filter(|n| !n.is_empty()) {
                    let s = Scenario::parse(name)
                        .ok_or_else(|| format!("--scenarios: unknown scenario {name:?}"))?;
                    set = set.with(s);
                }
                out.campaign.swarm.scenarios = set;
                out.config_flags.extend([flag.clone(), v]);
            }
            "--users" | "--devices" | "--steps" | "--faults" => {
                let v = value(flag)?;
                let n = number(flag, &v)?;
                let swarm = &mut out.campaign.swarm;
                match flag.as_str() {
                    "--users" => swarm.users_max = n.clamp(1, 16) as usize,
                    "--devices" => swarm.devices_max = n.clamp(1, 16) as usize,
                    "--steps" => swarm.steps = n.clamp(1, 1_000_000) as usize,
                    _ => swarm.fault_scale_pct = n.min(10_000) as u32,
                }
                out.config_flags.extend([flag.clone(), v]);
            }
            "--check-determinism" => out.campaign.check_determinism = true,
            "--mutation" => {
                let v = value(flag)?;
                out.campaign.swarm.mutation = Some(match v.as_str() {
                    "origin-only" => Mutation::ClassifyOnOriginOnly,
                    "no-hydration-rule" => Mutation::DropHydrationRule,
                    "bootstrap-timestamp" => Mutation::BootstrapRealTimestamp,
                    "forget-outbox" => Mutation::ForgetOutbox,
                    "forget-records" => Mutation::ForgetRecords,
                    "forget-index" => Mutation::ForgetShadowIndex,
                    "drop-reports" => Mutation::DropConflictReports,
                    "forget-clock" => Mutation::ForgetClock,
                    "forget-cursor" => Mutation::ForgetCursor,
                    other => return Err(format!("--mutation: unknown planted bug {other:?}")),
                });
                out.config_flags.extend([flag.clone(), v]);
            }
            "--shrink-budget" => out.shrink_budget = number(flag, &value(flag)?)? as usize,
            "--quiet" => out.quiet = true,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if out.until.is_some() && out.seed.is_none() {
        return Err("--until needs --seed".into());
    }
    Ok(out)
}

/// Runs `fieldmerge sim` with the arguments after the command name.
pub fn main(args: &[String]) -> ExitCode {
    let args = match parse(args) {
        Ok(args) => args,
        Err(message) => {
            if message.is_empty() {
                print!("{HELP}");
                return ExitCode::SUCCESS;
            }
            eprintln!("fieldmerge sim: {message}\n\n{HELP}");
            return ExitCode::from(2);
        }
    };
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
    let mut report = CampaignReport::default();
    let mut first_failure: Option<SeedResult> = None;
    for result in rx {
        if !result.outcome.violations.is_empty()
            && first_failure.as_ref().is_none_or(|f| f.seed > result.seed)
        {
            first_failure = Some(result.clone());
        }
        report.add(&result);
        if !args.quiet {
            progress(&report, total);
        }
    }
    for w in workers {
        let _ = w.join();
    }
    let seconds = started.elapsed().as_secs_f64();
    if !args.quiet {
        eprintln!();
    }
    summary(&report, seconds, args);
    let swarm = &args.campaign.swarm;
    let missing = report.never_fired(swarm);
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
    if report.passed(swarm) {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

fn progress(report: &CampaignReport, total: usize) {
    let width = 30;
    let done = report.seeds as usize;
    let filled = (done * width).checked_div(total).unwrap_or(width);
    eprint!(
        "\r[{}{}] {done}/{total} seeds, {} events, {} violations ",
        "#".repeat(filled),
        ".".repeat(width - filled),
        report.stats.events,
        report.violations
    );
    let _ = std::io::stderr().flush();
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
