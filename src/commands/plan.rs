//! `kubewiz plan --preset FILE`: phases and per-host steps; nothing is contacted.

use std::path::Path;
use std::process::ExitCode;

use super::EXIT_OK;
use super::prepare::prepare;

pub fn run(state_dir: Option<&Path>, preset: &Path) -> ExitCode {
    match prepare(state_dir, preset) {
        Ok(prepared) => {
            print!("{}", prepared.plan);
            ExitCode::from(EXIT_OK)
        }
        Err(code) => code,
    }
}
