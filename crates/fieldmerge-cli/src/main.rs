//! The `fieldmerge` command line: simulation campaigns (the main job),
//! conformance vectors, and one-off applies. `fieldmerge --help` is the
//! manual; every subcommand has its own `--help`.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod apply;
mod import;
mod sim;
mod vectors;

const EXIT_CODES: &str = "\
Exit codes:
  0  success: every seed, vector or apply passed
  1  a failure: an oracle violation, a fault, scenario or branch that never
     fired, a failing vector, or input the kernel refused (apply)
  2  bad arguments";

/// The fieldmerge kernel's tools: deterministic simulation campaigns with a
/// causal oracle, conformance vectors, and one-off applies.
#[derive(Parser)]
#[command(name = "fieldmerge", version, about, after_help = EXIT_CODES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a simulation campaign, or replay one seed with its trace.
    Sim(sim::SimArgs),
    /// Run conformance vectors against the kernel.
    Vectors(vectors::VectorsArgs),
    /// Apply a batch of wire changes to a replica state and print the result.
    Apply(apply::ApplyArgs),
    /// Import the replaced system's change rows, served changes or a
    /// device's records into fieldmerge's forms (spec/SPEC.md R14).
    Import(import::ImportArgs),
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Sim(args) => sim::main(&args),
        Command::Vectors(args) => vectors::main(&args),
        Command::Apply(args) => apply::main(&args),
        Command::Import(args) => import::main(&args),
    }
}
