use std::path::Path;
use std::process::ExitCode;

use clap::Parser;
use kubewiz::cli::{AuditCommand, CertsCommand, Cli, Command};
use kubewiz::commands;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let state_dir = cli
        .state_dir
        .clone()
        .unwrap_or_else(kubewiz::state::default_dir);
    // Held to the end, so the last diagnostics reach their file.
    let _diagnostics = match kubewiz::diagnostics::init(&state_dir, cli.log_level.as_deref()) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(commands::EXIT_USAGE);
        }
    };
    tracing::debug!(
        command = cli.command.as_ref().map_or("wizard", |c| c.name()),
        "command"
    );
    run(&cli, cli.state_dir.as_deref())
}

fn run(cli: &Cli, state_dir: Option<&Path>) -> ExitCode {
    let syslog = cli.syslog;
    match &cli.command {
        None => kubewiz::tui::run(cli.preset.as_deref(), state_dir, cli.ascii, syslog),
        Some(Command::Validate { files, json }) => commands::validate::run(files, *json),
        Some(Command::Render { preset, out }) => commands::render::run(state_dir, preset, out),
        Some(Command::Plan { preset, json }) => commands::plan::run(state_dir, preset, *json),
        Some(Command::Apply {
            preset,
            yes,
            dry_run,
            no_tui,
            phases,
            accept_new_host_keys,
            pace,
        }) => commands::apply::run(
            state_dir,
            commands::apply::ApplyArgs {
                preset,
                yes: *yes,
                dry_run: *dry_run,
                no_tui: *no_tui,
                phases,
                accept_new_host_keys: *accept_new_host_keys,
                pace: *pace,
                syslog,
            },
        ),
        Some(Command::Resume { name }) => commands::apply::resume(state_dir, name, syslog),
        Some(Command::Reset {
            preset,
            yes,
            keep_data,
        }) => commands::reset::run(state_dir, preset, *yes, *keep_data, syslog),
        Some(Command::Node { command }) => commands::node::run(state_dir, command, syslog),
        Some(Command::Upgrade {
            preset,
            to,
            bundle,
            max_unavailable,
            yes,
            dry_run,
        }) => commands::upgrade::run(
            state_dir,
            commands::upgrade::UpgradeArgs {
                preset,
                to,
                bundle: bundle.as_deref(),
                max_unavailable: *max_unavailable,
                yes: *yes,
                dry_run: *dry_run,
                syslog,
            },
        ),
        Some(Command::Backup {
            preset,
            out,
            keep,
            yes,
            dry_run,
        }) => commands::backup::run(
            state_dir,
            commands::backup::BackupArgs {
                preset,
                out: out.as_deref(),
                keep: keep.map(|k| usize::try_from(k).unwrap_or(usize::MAX)),
                yes: *yes,
                dry_run: *dry_run,
                syslog,
            },
        ),
        Some(Command::Restore {
            preset,
            from,
            replace_running,
            yes,
            dry_run,
        }) => commands::restore::run(
            state_dir,
            commands::restore::RestoreArgs {
                preset,
                from,
                replace_running: *replace_running,
                yes: *yes,
                dry_run: *dry_run,
                syslog,
            },
        ),
        Some(Command::Certs { command }) => match command {
            CertsCommand::Check { preset } => commands::certs_check::run(state_dir, preset),
            CertsCommand::Renew {
                preset,
                names,
                yes,
                dry_run,
            } => commands::certs_renew::run(
                state_dir,
                commands::certs_renew::RenewArgs {
                    preset,
                    names,
                    yes: *yes,
                    dry_run: *dry_run,
                    syslog,
                },
            ),
        },
        Some(Command::Audit { command }) => match command {
            AuditCommand::List { name } => commands::audit::list(state_dir, name),
            AuditCommand::Show {
                target,
                run,
                host,
                failed,
                json,
                timing,
            } => commands::audit::show(
                state_dir,
                commands::audit::ShowArgs {
                    target,
                    run: run.as_deref(),
                    host: host.as_deref(),
                    failed: *failed,
                    json: *json,
                    timing: *timing,
                },
            ),
            AuditCommand::Verify { files } => commands::audit::verify(files),
        },
        Some(Command::Kvm { command }) => commands::kvm::run(command),
        Some(Command::Bundle {
            command: kubewiz::cli::BundleCommand::Check { preset },
        }) => commands::bundle::check(preset),
        Some(Command::Kubeconfig { name, merge, out }) => {
            commands::kubeconfig::run(state_dir, name, *merge, out.as_deref())
        }
        Some(Command::Schema) => commands::docs::schema(),
        Some(Command::Completions { shell }) => commands::docs::completions(*shell),
        Some(Command::Man { dir }) => commands::docs::man(dir),
        Some(Command::Attach { name }) => commands::follow::attach(state_dir, name),
        Some(Command::Engine) => kubewiz::detached::server::main(),
    }
}
