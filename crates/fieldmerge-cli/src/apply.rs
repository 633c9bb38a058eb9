//! `fieldmerge apply`: applies a batch of wire changes to a replica state and
//! prints the resulting state and the reports, so that someone debugging a
//! disagreement in another implementation can ask the kernel directly.

use std::process::ExitCode;

use fieldmerge::{decode_changes, Delivery, ReplicaState};
use fieldmerge_harness::vectors::report_json;
use serde_json::{json, Value};

const HELP: &str = "\
usage: fieldmerge apply --state STATE.json --changes CHANGES.json [--hydration]

Loads the replica state STATE.json (the ReplicaState form of spec/SPEC.md
R12.5), applies the batch of wire changes CHANGES.json (a JSON array, the
format of R11) as one op-based apply, and prints one JSON object:
  {\"state\": ReplicaState, \"conflicts\": [...], \"anomalies\": [...],
   \"hidden_edits\": [...], \"tally\": {...}}
in the forms of spec/vectors/README.md. The batch is validated whole before
anything is applied.

options:
  --state PATH     the replica state (required)
  --changes PATH   the batch of wire changes (required)
  --hydration      apply as part of an initial hydration round (R6.4);
                   the default is a live apply
  -h, --help       print this help

On bad input it prints {\"error\": {\"code\", \"message\", \"index\"?, \"field\"?}}
on stdout and exits with 1; bad arguments exit with 2.";

/// Runs `fieldmerge apply` with the arguments after the command name.
pub fn main(args: &[String]) -> ExitCode {
    let mut state_path: Option<&str> = None;
    let mut changes_path: Option<&str> = None;
    let mut delivery = Delivery::Live;
    let mut i = 0;
    while i < args.len() {
        match args[i].as_str() {
            "-h" | "--help" => {
                println!("{HELP}");
                return ExitCode::SUCCESS;
            }
            "--hydration" => delivery = Delivery::Hydration,
            flag @ ("--state" | "--changes") => {
                let Some(value) = args.get(i + 1) else {
                    return usage(&format!("{flag} needs a path"));
                };
                if flag == "--state" {
                    state_path = Some(value);
                } else {
                    changes_path = Some(value);
                }
                i += 1;
            }
            other => return usage(&format!("unknown argument {other}")),
        }
        i += 1;
    }
    let (Some(state_path), Some(changes_path)) = (state_path, changes_path) else {
        return usage("--state and --changes are required");
    };
    let state_text = match std::fs::read(state_path) {
        Ok(t) => t,
        Err(e) => return fail("io", &format!("cannot read {state_path}: {e}"), None),
    };
    let changes_text = match std::fs::read(changes_path) {
        Ok(t) => t,
        Err(e) => return fail("io", &format!("cannot read {changes_path}: {e}"), None),
    };
    let mut replica = match ReplicaState::load_json(&state_text) {
        Ok(r) => r,
        Err(e) => return fail(e.code(), &format!("{state_path}: {e}"), None),
    };
    let changes = match decode_changes(&changes_text) {
        Ok(c) => c,
        Err(e) => {
            let mut extra = serde_json::Map::new();
            extra.insert("index".into(), json!(e.index));
            if let Some(field) = &e.field {
                extra.insert("field".into(), json!(field));
            }
            return fail(e.kind.code(), &format!("{changes_path}: {e}"), Some(extra));
        }
    };
    let report = replica.apply(&changes, delivery);
    let mut out = serde_json::Map::new();
    out.insert(
        "state".into(),
        serde_json::to_value(ReplicaState::of(&replica)).unwrap_or(Value::Null),
    );
    out.extend(report_json(&report));
    println!(
        "{}",
        serde_json::to_string_pretty(&Value::Object(out)).unwrap_or_default()
    );
    ExitCode::SUCCESS
}

fn usage(message: &str) -> ExitCode {
    eprintln!("fieldmerge apply: {message}\n\n{HELP}");
    ExitCode::from(2)
}

fn fail(code: &str, message: &str, extra: Option<serde_json::Map<String, Value>>) -> ExitCode {
    let mut error = serde_json::Map::new();
    error.insert("code".into(), json!(code));
    error.insert("message".into(), json!(message));
    error.extend(extra.unwrap_or_default());
    println!("{}", json!({ "error": error }));
    ExitCode::from(1)
}
