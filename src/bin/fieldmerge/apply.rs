//! `fieldmerge apply`.

use std::process::ExitCode;

/// Runs `fieldmerge apply` with the arguments after the command name.
pub fn main(_args: &[String]) -> ExitCode {
    eprintln!("fieldmerge apply: not built yet");
    ExitCode::from(2)
}
