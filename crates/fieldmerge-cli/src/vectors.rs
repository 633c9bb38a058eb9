//! `fieldmerge vectors`: runs conformance vectors against the kernel.

use std::path::PathBuf;
use std::process::ExitCode;

use fieldmerge_harness::vectors::{run_paths, FileOutcome, KernelEngine};

const HELP: &str = "\
usage: fieldmerge vectors PATH...

Runs every conformance vector under PATH (a directory, searched recursively
for *.json files in sorted order, or single vector files) against the kernel.
Prints each failing vector with the step, the expected and the actual value,
then a last line `N passed, M failed`. A file that is not a valid vector
counts as failed. Exit code: 0 when every vector passed, 1 when any failed,
2 for bad arguments. The format is documented in spec/vectors/README.md.

options:
  -h, --help   print this help";

/// Runs `fieldmerge vectors` with the arguments after the command name.
pub fn main(args: &[String]) -> ExitCode {
    let mut paths = Vec::new();
    for arg in args {
        match arg.as_str() {
            "-h" | "--help" => {
                println!("{HELP}");
                return ExitCode::SUCCESS;
            }
            flag if flag.starts_with('-') && flag.len() > 1 => {
                eprintln!("fieldmerge vectors: unknown option {flag}\n\n{HELP}");
                return ExitCode::from(2);
            }
            path => paths.push(PathBuf::from(path)),
        }
    }
    if paths.is_empty() {
        eprintln!("fieldmerge vectors: no path given\n\n{HELP}");
        return ExitCode::from(2);
    }
    let outcomes = match run_paths(&mut KernelEngine::default(), &paths) {
        Ok(outcomes) => outcomes,
        Err(e) => {
            eprintln!("fieldmerge vectors: {e}");
            return ExitCode::from(2);
        }
    };
    let (mut passed, mut failed) = (0usize, 0usize);
    for outcome in &outcomes {
        match outcome {
            FileOutcome::Ran(result) if result.passed() => passed += 1,
            FileOutcome::Ran(result) => {
                failed += 1;
                print!("{}", result.render());
            }
            FileOutcome::Error(e) => {
                failed += 1;
                println!("ERROR {e}");
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
