//! The process exit codes of the command-line contract (DESIGN.md), in a module of
//! their own so that every front end (the subcommands, the wizard) can name them
//! without depending on another front end.

/// Success.
pub const OK: u8 = 0;
/// The work failed: an invalid preset, a host that failed.
pub const FAILED: u8 = 1;
/// The command was used wrongly, or asks for something kubewiz does not do.
pub const USAGE: u8 = 2;
/// The operator stopped the run with Ctrl-C (as a shell reports SIGINT).
pub const CANCELLED: u8 = 130;
