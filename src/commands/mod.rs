//! What each subcommand does, once the command line is parsed.

pub mod apply;
pub mod audit;
pub mod kvm;
pub mod plan;
mod prepare;
pub mod render;
pub mod reset;
pub mod validate;

/// Success.
pub const EXIT_OK: u8 = 0;
/// The work failed: an invalid preset, a host that failed.
pub const EXIT_FAILED: u8 = 1;
/// The command was used wrongly, or asks for something kubewiz does not do.
pub const EXIT_USAGE: u8 = 2;
/// The operator stopped the run with Ctrl-C (as a shell reports SIGINT).
pub const EXIT_CANCELLED: u8 = 130;
