use std::process::ExitCode;

use clap::Parser;
use kubewiz::cli::{Cli, Command};
use kubewiz::commands;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match &cli.command {
        None => kubewiz::tui::run(cli.preset.as_deref(), cli.state_dir.as_deref(), cli.ascii),
        Some(Command::Validate { files }) => commands::validate::run(files),
        Some(Command::Render { preset, out }) => {
            commands::render::run(cli.state_dir.as_deref(), preset, out)
        }
        Some(Command::Plan { preset }) => commands::plan::run(cli.state_dir.as_deref(), preset),
        Some(Command::Apply {
            preset,
            yes,
            dry_run,
            no_tui,
            phases,
            accept_new_host_keys,
        }) => commands::apply::run(
            cli.state_dir.as_deref(),
            commands::apply::ApplyArgs {
                preset,
                yes: *yes,
                dry_run: *dry_run,
                no_tui: *no_tui,
                phases,
                accept_new_host_keys: *accept_new_host_keys,
            },
        ),
        Some(Command::Resume { name }) => commands::apply::resume(cli.state_dir.as_deref(), name),
        Some(Command::Reset {
            preset,
            yes,
            keep_data,
        }) => commands::reset::run(cli.state_dir.as_deref(), preset, *yes, *keep_data),
        Some(Command::Kvm { command }) => commands::kvm::run(command),
    }
}
