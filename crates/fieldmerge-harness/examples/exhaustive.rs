//! The exhaustive explorer of `fieldmerge_harness::explorer` at bounds given
//! on the command line, for runs larger than `cargo test`'s defaults:
//!
//! ```text
//! cargo run --release --example exhaustive -- --replicas 3 --writes 4
//! cargo run --release --example exhaustive -- --help
//! ```
//!
//! Prints the bounds, the worlds explored and the coverage marks; exits 1
//! with the failing schedule when a property breaks, 2 on bad arguments.

use fieldmerge_harness::explorer::{explore, Bounds};

const USAGE: &str = "usage: exhaustive [--replicas N] [--writes N] [--fields 1|2] \
[--values 1,2] [--nows N] [--in-flight N] [--page-limits 1,1000] [--no-duplicates] [--multi-field] \
[--migration] [--no-agent] [--legacy] [--tombstones] [--bootstrap 0,1] [--no-drain] \
[--worlds-max N] [--all]\n\
defaults: the bounds of `cargo test` (Bounds::small); --all turns on every origin and tombstones";

fn main() {
    let bounds = match parse(std::env::args().skip(1)) {
        Ok(Some(bounds)) => bounds,
        Ok(None) => {
            println!("{USAGE}");
            return;
        }
        Err(message) => {
            eprintln!("exhaustive: {message}\n{USAGE}");
            std::process::exit(2);
        }
    };
    println!("bounds: {bounds}");
    match explore(&bounds) {
        Ok(summary) => {
            println!(
                "ok: {} worlds, {} transitions, depth {}, {} quiescent",
                summary.worlds, summary.transitions, summary.depth_max, summary.quiescent
            );
            for mark in fieldmerge_harness::sim::Mark::ALL {
                println!("  {:<36} {}", mark.name(), summary.marks.count(*mark));
            }
        }
        Err(violation) => {
            eprintln!("VIOLATION: {violation}");
            std::process::exit(1);
        }
    }
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Option<Bounds>, String> {
    let mut b = Bounds::small();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
        match arg.as_str() {
            "--help" | "-h" => return Ok(None),
            "--replicas" => b.replicas = number(&value(&arg)?)?,
            "--writes" => b.writes = number(&value(&arg)?)?,
            "--fields" => b.fields = number(&value(&arg)?)?,
            "--values" => b.values = list(&value(&arg)?)?,
            "--nows" => b.nows = number(&value(&arg)?)?,
            "--in-flight" => b.in_flight = number(&value(&arg)?)?,
            "--page-limits" => b.page_limits = list(&value(&arg)?)?,
            "--bootstrap" => b.bootstrap_values = list(&value(&arg)?)?,
            "--worlds-max" => b.worlds_max = number(&value(&arg)?)?,
            "--multi-field" => b.multi_field_writes = true,
            "--no-duplicates" => b.duplicate_pushes = false,
            "--migration" => b.migration = true,
            "--no-agent" => b.agent = false,
            "--legacy" => b.legacy = true,
            "--tombstones" => b.tombstones = true,
            "--no-drain" => b.drain = false,
            "--all" => {
                b.migration = true;
                b.legacy = true;
                b.tombstones = true;
                b.bootstrap_values = vec![0, 1];
            }
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    if !(1..=2).contains(&b.fields) {
        return Err("--fields must be 1 or 2".into());
    }
    if b.replicas == 0 || b.values.is_empty() || b.nows == 0 || b.page_limits.is_empty() {
        return Err("--replicas, --values, --nows and --page-limits must not be empty".into());
    }
    if b.writes > 60 {
        return Err("--writes must be at most 60".into());
    }
    Ok(Some(b))
}

fn number<T: std::str::FromStr>(text: &str) -> Result<T, String> {
    text.parse()
        .map_err(|_| format!("{text:?} is not a number"))
}

fn list<T: std::str::FromStr>(text: &str) -> Result<Vec<T>, String> {
    text.split(',').map(number).collect()
}
