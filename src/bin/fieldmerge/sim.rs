//! `fieldmerge sim`.

use std::process::ExitCode;

/// Runs `fieldmerge sim` with the arguments after the command name.
pub fn main(_args: &[String]) -> ExitCode {
    eprintln!("fieldmerge sim: not built yet");
    ExitCode::from(2)
}
