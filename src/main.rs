use std::process::ExitCode;

use clap::Parser;
use kubewiz::cli::{Cli, Command};
use kubewiz::commands;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        None => commands::not_built("the wizard"),
        Some(Command::Validate { files }) => commands::validate::run(files),
        Some(other) => commands::not_built(&format!("`kubewiz {}`", other.name())),
    }
}
