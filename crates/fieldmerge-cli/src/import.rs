//! `fieldmerge import`: the replaced system's data into fieldmerge's forms
//! (SPEC R14), for a team that migrates. The mapping is the library's
//! (`fieldmerge-import`); this reads the files and writes the result.

use std::path::PathBuf;
use std::process::ExitCode;

use fieldmerge::ErrorBody;
use fieldmerge_import::{import_device, import_rows, import_served, Outcome, RowReport};
use serde_json::{json, Value};

use crate::apply::read_bounded;

/// Imports the replaced system's stored change rows, its served changes,
/// or a device's records (spec/SPEC.md R14), and prints one JSON object in
/// canonical form (R11.4): the same input always gives the same bytes, so
/// importing twice gives the same log.
#[derive(clap::Args)]
#[command(after_help = "\
Inputs (spec/SPEC.md R14):
  rows     the server's `sync_changes` table exported as a JSON array of rows or as
           JSON lines, one row per line (psql: \\copy (select row_to_json(t) from
           sync_changes t) to 'rows.jsonl'). A row: {id, table_name, record_id, op,
           data, field_meta, client_id, created_at, app_id?, user_id?,
           schema_version?, actor?, origin?, space_id?}.
           Prints {log, clients, report}: a server log and client table that
           `JsonServer::from_log` (or any server over storage) loads.
  served   changes as the server served them: a JSON array, JSON lines, or a pull
           reply {serverChanges: [...]}. A change: {eventId, table, id, op,
           fields? | data? | deletedAt?, schemaVersion?, spaceId?, actor?, origin?}.
           Prints {log, clients, report}.
  device   a device's IndexedDB export {records: {table: [record]},
           pendingChanges?: [...]}, with the device's client id (--client-id). A
           record: the app's object with its id, and __fieldMeta {field: {at, actor,
           origin}} (or, in an older row, only updatedAt); a field the device wrote
           keeps its stamp, one it received (server-replay) defers to the server.
           A pending change: {collection, recordId, op, data | fields, actor,
           origin, createdAt, appId, spaceId}. Prints {state, report}: a replica
           state (R12.5) whose first pull hydrates from the imported server.

Times: ISO 8601 with 0 to 9 fraction digits and Z or an offset; truncated to
milliseconds, offsets moved to UTC (R14.1). The report has one line per input row:
mapped (its server_seq), merged (a repeat of an earlier row), loaded (a device's
record or pending change) or refused (the error), with notes on what was defaulted.

Exit codes: 0 every row imported, 1 some row refused (the result is still printed)
or the input refused as a whole (the error is printed), 2 bad arguments.")]
pub struct ImportArgs {
    /// What the input is.
    #[arg(value_enum)]
    kind: Kind,
    /// The input file.
    #[arg(value_name = "FILE")]
    input: PathBuf,
    /// The device's client id (for `device`): the replaced system's clientId,
    /// kept, so the server's imported rows name the device as their writer.
    #[arg(long, value_name = "ID")]
    client_id: Option<String>,
    /// Refuse an input file larger than this many bytes (code `too_large`).
    #[arg(long, value_name = "BYTES", default_value_t = 256 << 20)]
    input_bytes_max: u64,
}

/// The three inputs of `fieldmerge import`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Kind {
    /// The server's stored change rows.
    Rows,
    /// Changes as the server served them.
    Served,
    /// A device's records and pending changes.
    Device,
}

/// Runs `fieldmerge import`.
pub fn main(args: &ImportArgs) -> ExitCode {
    let text = match read_bounded(&args.input, args.input_bytes_max) {
        Ok(t) => t,
        Err(body) => return fail(&body),
    };
    let result = match args.kind {
        Kind::Rows => import_rows(&text).map(|i| (i.to_json(), i.report)),
        Kind::Served => import_served(&text).map(|i| (i.to_json(), i.report)),
        Kind::Device => match &args.client_id {
            Some(id) => import_device(&text, id).map(|i| (i.to_json(), i.report)),
            None => {
                eprintln!("fieldmerge import device needs --client-id");
                return ExitCode::from(2);
            }
        },
    };
    match result {
        Ok((out, report)) => {
            println!("{}", fieldmerge::canonical_json(&out));
            if report.iter().any(refused) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(body) => fail(&body),
    }
}

fn refused(line: &RowReport) -> bool {
    matches!(line.outcome, Outcome::Refused { .. })
}

fn fail(body: &ErrorBody) -> ExitCode {
    let body = serde_json::to_value(body).unwrap_or(Value::Null);
    println!("{}", fieldmerge::canonical_json(&json!({ "error": body })));
    ExitCode::from(1)
}
