//! `fieldmerge vectors`.

use std::process::ExitCode;

/// Runs `fieldmerge vectors` with the arguments after the command name.
pub fn main(_args: &[String]) -> ExitCode {
    eprintln!("fieldmerge vectors: not built yet");
    ExitCode::from(2)
}
