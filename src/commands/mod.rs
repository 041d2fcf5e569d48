//! What each subcommand does, once the command line is parsed.

pub mod apply;
pub mod kvm;
pub mod plan;
mod prepare;
pub mod render;
pub mod validate;

use std::process::ExitCode;

/// Success.
pub const EXIT_OK: u8 = 0;
/// The work failed: an invalid preset, a host that failed.
pub const EXIT_FAILED: u8 = 1;
/// The command was used wrongly, or asks for something kubewiz does not do.
pub const EXIT_USAGE: u8 = 2;

/// Says plainly that a part of kubewiz does not exist yet, and exits with the usage code.
pub fn not_built(what: &str) -> ExitCode {
    eprintln!(
        "kubewiz: {what} is not built yet in this version; `kubewiz validate FILE...` checks presets"
    );
    ExitCode::from(EXIT_USAGE)
}
