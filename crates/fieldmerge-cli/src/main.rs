//! The `fieldmerge` command line.
//!
//! - `fieldmerge sim [options]`: a simulation campaign (the main job).
//! - `fieldmerge vectors PATH...`: runs conformance vectors.
//! - `fieldmerge apply --state STATE.json --changes CHANGES.json`: applies a
//!   batch of wire changes to a replica state and prints the result.

use std::process::ExitCode;

mod apply;
mod sim;
mod vectors;

const USAGE: &str =
    "usage: fieldmerge <sim|vectors|apply> [options]  (fieldmerge <command> --help)";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rest = args.get(1..).unwrap_or_default();
    match args.first().map(String::as_str) {
        Some("sim") => sim::main(rest),
        Some("vectors") => vectors::main(rest),
        Some("apply") => apply::main(rest),
        _ => {
            eprintln!("{USAGE}");
            ExitCode::from(2)
        }
    }
}
