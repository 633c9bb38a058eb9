//! `fieldmerge apply`: applies a batch of wire changes to a replica state and
//! prints the resulting state and the report, so that someone debugging a
//! disagreement in another implementation can ask the kernel directly.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use fieldmerge::{decode_changes, Delivery, ErrorBody, ReplicaState};
use serde_json::{json, Value};

/// Loads the replica state STATE (the ReplicaState form of spec/SPEC.md
/// R12.5), applies the batch of wire changes CHANGES (a JSON array, the
/// format of R11) as one op-based apply, and prints one JSON object
/// {"state": ReplicaState, "conflicts", "anomalies", "hidden_edits",
/// "tally", "changed"} in the forms of SPEC R13.1. The batch is validated
/// whole before anything is applied. On bad input it prints
/// {"error": {"code", "message", "index"?, "field"?}} and exits with 1.
#[derive(clap::Args)]
#[command(
    after_help = "Exit codes: 0 applied, 1 the kernel refused the input (the error is printed as JSON), 2 bad arguments."
)]
pub struct ApplyArgs {
    /// The replica state.
    #[arg(long, value_name = "STATE.json")]
    state: PathBuf,
    /// The batch of wire changes.
    #[arg(long, value_name = "CHANGES.json")]
    changes: PathBuf,
    /// Apply as part of an initial hydration round (R6.4); the default is a
    /// live apply.
    #[arg(long)]
    hydration: bool,
    /// Print the result on one line instead of indented.
    #[arg(long)]
    json: bool,
    /// Refuse an input file larger than this many bytes (code `too_large`).
    #[arg(long, value_name = "BYTES", default_value_t = 64 << 20)]
    input_bytes_max: u64,
}

/// Runs `fieldmerge apply`.
pub fn main(args: &ApplyArgs) -> ExitCode {
    let state_text = match read_bounded(&args.state, args.input_bytes_max) {
        Ok(t) => t,
        Err(body) => return fail(args, body),
    };
    let changes_text = match read_bounded(&args.changes, args.input_bytes_max) {
        Ok(t) => t,
        Err(body) => return fail(args, body),
    };
    let mut replica = match ReplicaState::load_json(&state_text) {
        Ok(r) => r,
        Err(e) => return fail(args, ErrorBody::from(&e)),
    };
    let changes = match decode_changes(&changes_text) {
        Ok(c) => c,
        Err(e) => return fail(args, ErrorBody::from(&e)),
    };
    let delivery = if args.hydration {
        Delivery::Hydration
    } else {
        Delivery::Live
    };
    let report = replica.apply(&changes, delivery);
    let mut out = serde_json::Map::new();
    out.insert(
        "state".into(),
        serde_json::to_value(ReplicaState::of(&replica)).unwrap_or(Value::Null),
    );
    if let Ok(Value::Object(report)) = serde_json::to_value(&report) {
        out.extend(report);
    }
    print_json(args, &Value::Object(out));
    ExitCode::SUCCESS
}

// Reads at most `max` bytes: a larger input (or an endless one, such as
// /dev/zero) is refused, not read until memory runs out.
pub(crate) fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, ErrorBody> {
    let io = |e: std::io::Error| ErrorBody {
        code: "io".into(),
        message: format!("cannot read {}: {e}", path.display()),
        index: None,
        field: None,
    };
    let file = std::fs::File::open(path).map_err(io)?;
    let mut text = Vec::new();
    file.take(max.saturating_add(1))
        .read_to_end(&mut text)
        .map_err(io)?;
    if text.len() as u64 > max {
        return Err(ErrorBody {
            code: "too_large".into(),
            message: format!("{} is larger than {max} bytes", path.display()),
            index: None,
            field: None,
        });
    }
    Ok(text)
}

fn print_json(args: &ApplyArgs, value: &Value) {
    let text = if args.json {
        serde_json::to_string(value)
    } else {
        serde_json::to_string_pretty(value)
    };
    println!("{}", text.unwrap_or_default());
}

// An error is printed on one line, whatever `--json` says.
fn fail(_args: &ApplyArgs, body: ErrorBody) -> ExitCode {
    println!("{}", json!({ "error": body }));
    ExitCode::from(1)
}
