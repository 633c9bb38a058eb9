//! `fieldmerge vectors`: runs conformance vectors against the kernel.

use std::path::PathBuf;
use std::process::ExitCode;

use fieldmerge_harness::vectors::{run_paths, FileOutcome, KernelEngine};
use serde_json::json;

/// Runs every conformance vector under PATH (a directory, searched
/// recursively for *.json files in sorted order without following symbolic
/// links, or single vector files) against the kernel. Prints each failing
/// vector with the step, the expected and the actual value, then a last
/// line `N passed, M failed`; a file that is not a valid vector counts as
/// failed. The format is documented in spec/vectors/README.md.
#[derive(clap::Args)]
#[command(
    after_help = "Exit codes: 0 every vector passed, 1 any failed, 2 bad arguments or a missing path."
)]
pub struct VectorsArgs {
    /// Vector files or directories.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// Print one JSON object instead: {"passed", "failed", "failures": [{"file", "detail"}]}.
    #[arg(long)]
    json: bool,
}

/// Runs `fieldmerge vectors`.
pub fn main(args: &VectorsArgs) -> ExitCode {
    let outcomes = match run_paths(&mut KernelEngine::default(), &args.paths) {
        Ok(outcomes) => outcomes,
        Err(e) => {
            eprintln!("fieldmerge vectors: {e}");
            return ExitCode::from(2);
        }
    };
    let (mut passed, mut failures) = (0usize, Vec::new());
    for outcome in &outcomes {
        match outcome {
            FileOutcome::Ran(result) if result.passed() => passed += 1,
            FileOutcome::Ran(result) => failures.push((result.file.clone(), result.render())),
            FileOutcome::Error(e) => failures.push((e.file.clone(), format!("ERROR {e}\n"))),
        }
    }
    if args.json {
        let list: Vec<_> = failures
            .iter()
            .map(|(file, detail)| json!({"file": file, "detail": detail}))
            .collect();
        println!(
            "{}",
            json!({"passed": passed, "failed": failures.len(), "failures": list})
        );
    } else {
        for (_, detail) in &failures {
            print!("{detail}");
        }
        println!("{passed} passed, {} failed", failures.len());
    }
    if failures.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}
