//! A day-2 plan run in this process (`certs renew`, `backup`): line output on stdout,
//! a summary at the end, Ctrl-C to stop. (Installs, resets and restores run in an
//! engine process of their own: `detached`.)

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use super::{EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, audit};
use crate::audit::{Identity, RunKind};
use crate::detached::lock::{self, Holder};
use crate::exec::Transport;
use crate::exec::dry_run::DryRun;
use crate::exec::runner;
use crate::exec::ssh::Ssh;
use crate::exec::{RunOutcome, lines};
use crate::plan::Plan;
use crate::spec::ClusterSpec;
use crate::state::ClusterState;

/// The cluster's lock for a run of `kind` in this process: one run per cluster, so no
/// install, reset or other day-2 run changes it meanwhile. A dry run changes nothing
/// and takes none.
pub(super) fn lock(
    cluster: &ClusterState,
    kind: RunKind,
    dry_run: bool,
) -> Result<Option<lock::Lock>, ExitCode> {
    if dry_run {
        return Ok(None);
    }
    let holder = Holder::this_process(&Identity::current().operator, kind.name().to_owned());
    let name = cluster
        .dir()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    lock::acquire(cluster, &name, &holder)
        .map(Some)
        .map_err(|e| {
            eprintln!("kubewiz: {e}");
            ExitCode::from(EXIT_FAILED)
        })
}

/// Runs `plan` of `spec`'s cluster with `options` in this process, over SSH (host keys
/// were accepted, if at all, by the install) or, for a dry run, printed first and run
/// on the dry-run transport; line output on stdout and a summary at the end. The exit
/// code says whether every step succeeded; options that could not be made (the audit
/// log, the journal) are said and nothing runs.
pub(super) fn run_plan(
    plan: Plan,
    spec: &ClusterSpec,
    options: Result<runner::RunOptions, String>,
    dry_run: bool,
    syslog: bool,
) -> ExitCode {
    let options = match options {
        Ok(o) => o,
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let transport: Arc<dyn Transport> = if dry_run {
        print!("{plan}");
        Arc::new(DryRun::new(0.0))
    } else {
        Arc::new(Ssh::new(false))
    };
    let log_path = options.log_path.clone();
    let syslog = syslog || spec.audit.syslog;
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
        let mut handle = runner::start(plan, transport, options);
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
