//! `kubewiz certs renew`: the leaf certificates issued again from the kept CAs, saved
//! in the state directory, then placed by a plan (`plan::certs`) that the runner runs
//! like an install: line output, an audit log of kind `certs-renew`, a journal. A
//! renewal that did not finish is continued by running `certs renew` again.

use std::io::IsTerminal;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::apply::confirm;
use super::prepare::{self, Prepared, load_valid};
use super::{EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, EXIT_USAGE, audit};
use crate::audit::{Identity, RunKind};
use crate::detached::lock::{self, Holder};
use crate::exec::Transport;
use crate::exec::dry_run::DryRun;
use crate::exec::runner;
use crate::exec::ssh::Ssh;
use crate::exec::{RunOutcome, lines};
use crate::launch;
use crate::pki::renew;
use crate::plan;
use crate::state::{self, ClusterState};

/// What `kubewiz certs renew` was asked to do.
pub struct RenewArgs<'a> {
    pub preset: &'a Path,
    pub names: &'a [String],
    pub yes: bool,
    pub dry_run: bool,
    pub syslog: bool,
}

pub fn run(state_dir: Option<&Path>, args: RenewArgs<'_>) -> ExitCode {
    if !args.dry_run && !args.yes && !std::io::stdin().is_terminal() {
        eprintln!(
            "kubewiz: certs renew changes the hosts and asks first; without a terminal to ask on, give --yes"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let (spec, preset_text) = match load_valid(args.preset) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let layout = match prepare::layout(&spec) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let dir = state_dir.map_or_else(state::default_dir, Path::to_path_buf);
    let cluster = ClusterState::new(&dir, spec.name.as_str());
    let pki_dir = cluster.pki_dir();
    // Only read: what needs renewing is renewed below, and a dry run saves nothing.
    let mut pki = match prepare::read_kept(&cluster, &layout) {
        Ok(p) => p,
        Err(code) => return code,
    };
    // One run per cluster: no install, reset or other renewal while this one places
    // certificates (a dry run changes nothing and takes no lock).
    let _lock = if args.dry_run {
        None
    } else {
        let holder = Holder::this_process(
            &Identity::current().operator,
            RunKind::CertsRenew.name().to_owned(),
        );
        match lock::acquire(&cluster, spec.name.as_str(), &holder) {
            Ok(l) => Some(l),
            Err(e) => {
                eprintln!("kubewiz: {e}");
                return ExitCode::from(EXIT_FAILED);
            }
        }
    };
    let pending = match renew::pending(&pki_dir, &layout) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let renewed = match pending {
        // A dry run shows the continuation too, saving nothing.
        Some(pending) => {
            eprintln!(
                "kubewiz: continuing the unfinished renewal of {} certificate(s) listed in {}",
                pending.len(),
                pki_dir.join("renewal").display()
            );
            if !args.names.is_empty() {
                eprintln!(
                    "kubewiz: the names given are not used until it finishes: {}",
                    args.names.join(" ")
                );
            }
            if !args.dry_run && !args.yes && !confirm("Continue it?") {
                eprintln!("kubewiz: nothing was done");
                return ExitCode::from(EXIT_FAILED);
            }
            pending
        }
        _ => {
            let profiles = match renew::select(&layout, args.names) {
                Ok(p) => p,
                Err(e) => {
                    eprintln!("kubewiz: {e}");
                    return ExitCode::from(EXIT_USAGE);
                }
            };
            let question = format!(
                "Renew {} certificate(s) of cluster {} from its kept CAs and restart what reads them, one host at a time?",
                profiles.len(),
                spec.name
            );
            if !args.dry_run && !args.yes && !confirm(&question) {
                eprintln!("kubewiz: nothing was done");
                return ExitCode::from(EXIT_FAILED);
            }
            let now = time::OffsetDateTime::now_utc();
            let issued = match renew::reissue(&mut pki, &layout, &profiles, now) {
                Ok(i) => i,
                Err(e) => {
                    eprintln!("kubewiz: {e}");
                    return ExitCode::from(EXIT_FAILED);
                }
            };
            if !args.dry_run
                && let Err(e) = renew::save(&pki_dir, &issued)
            {
                eprintln!(
                    "kubewiz: cannot save the renewed certificates in {}: {e}",
                    pki_dir.display()
                );
                return ExitCode::from(EXIT_FAILED);
            }
            issued
        }
    };
    let files = match crate::render::render(&spec, &pki) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let local = crate::generate::local(&cluster, &crate::kvm::connect_uri());
    let prepared = Prepared {
        plan: plan::certs::build(&layout, &files, &local, &renewed),
        files,
        spec: spec.clone(),
        pki,
        state: cluster,
        preset_text,
        added: Vec::new(),
    };
    if args.dry_run {
        print!("{}", prepared.plan);
    }
    let options = match launch::renew_options(
        &spec,
        &prepared.pki,
        &prepared.state,
        &prepared.preset_text,
        args.dry_run,
    ) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let journal = launch::renew_journal(&prepared.state);
    let transport: Arc<dyn Transport> = if args.dry_run {
        Arc::new(DryRun::new(0.0))
    } else {
        // Host keys were accepted, if at all, by the install.
        Arc::new(Ssh::new(false))
    };
    let code = run_plan(prepared, transport, options, args.syslog);
    if args.dry_run || code != ExitCode::from(EXIT_OK) {
        if !args.dry_run {
            eprintln!(
                "kubewiz: the renewal did not finish; the renewed certificates are kept, and `kubewiz certs renew --preset {}` continues it",
                args.preset.display()
            );
        }
        return code;
    }
    let finished = renew::finish(&pki_dir)
        .map_err(|e| e.to_string())
        .and_then(|()| match std::fs::remove_file(&journal) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(format!("{}: {e}", journal.display()))
            }
            _ => Ok(()),
        });
    if let Err(e) = finished {
        eprintln!("kubewiz: the renewal finished, but its record could not be removed: {e}");
        return ExitCode::from(EXIT_FAILED);
    }
    eprintln!(
        "kubewiz: renewed {} certificate(s) of cluster {}",
        renewed.len(),
        spec.name
    );
    code
}

/// Runs `prepared`'s plan with `options` in this process, line output on stdout and a
/// summary at the end; the exit code says whether every step succeeded. (Installs,
/// resets and attaches run in an engine process of their own: `detached`.)
fn run_plan(
    prepared: Prepared,
    transport: Arc<dyn Transport>,
    options: runner::RunOptions,
    syslog: bool,
) -> ExitCode {
    let log_path = options.log_path.clone();
    let syslog = syslog || prepared.spec.audit.syslog;
    if let Some(log) = &log_path {
        audit::started(log, syslog);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kubewiz: cannot start: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let outcome = runtime.block_on(async move {
        let mut handle = runner::start(prepared.plan, transport, options);
        let canceller = handle.canceller();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("kubewiz: cancelling: running steps finish, nothing new starts (Ctrl-C again to leave now)");
                canceller.cancel();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(EXIT_CANCELLED.into());
                }
            }
        });
        let mut stdout = std::io::stdout().lock();
        let mut summary = lines::Summary::default();
        while let Some(stamped) = handle.events.recv().await {
            summary.add(&stamped.event);
            if let Some(line) = lines::format(&stamped.event) {
                let _ = writeln!(stdout, "{line}");
            }
        }
        let _ = write!(stdout, "{summary}");
        handle.task.await.unwrap_or(RunOutcome::Failed)
    });
    if let Some(log) = &log_path {
        audit::finished(log, syslog);
    }
    ExitCode::from(match outcome {
        RunOutcome::Succeeded => EXIT_OK,
        RunOutcome::Cancelled => EXIT_CANCELLED,
        RunOutcome::Failed => EXIT_FAILED,
    })
}
