//! `kubewiz apply` and `kubewiz resume`: run the plan on the hosts (or, with
//! `--dry-run`, on no host at all), with line output and an audit log.

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::audit;
use super::prepare::{Prepared, prepare};
use super::{EXIT_CANCELLED, EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::audit::RunKind;
use crate::exec::dry_run::DryRun;
use crate::exec::ssh::Ssh;
use crate::exec::{RunOutcome, Transport, lines, runner};
use crate::launch;
use crate::plan::phases::{INSTALL, libvirt_network};
use crate::plan::{self, PhaseId};
use crate::state::{self, ClusterState};

/// What `kubewiz apply` was asked to do.
pub struct ApplyArgs<'a> {
    pub preset: &'a Path,
    pub yes: bool,
    pub dry_run: bool,
    pub no_tui: bool,
    pub phases: &'a [String],
    pub accept_new_host_keys: bool,
    /// Send the run's start and head to the system log.
    pub syslog: bool,
}

pub fn run(state_dir: Option<&Path>, args: ApplyArgs<'_>) -> ExitCode {
    let only = match parse_phases(args.phases) {
        Ok(only) => only,
        Err(code) => return code,
    };
    if !args.dry_run && !args.yes && !std::io::stdin().is_terminal() {
        eprintln!(
            "kubewiz: apply changes the hosts and asks first; without a terminal to ask on, give --yes"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let prepared = match prepare(state_dir, args.preset) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if !args.no_tui {
        eprintln!(
            "kubewiz: the full-screen view of a run is opened from the wizard; showing the line output"
        );
    }
    if args.dry_run {
        let run = Run {
            kind: RunKind::Install,
            dry_run: true,
            syslog: args.syslog,
        };
        return execute(prepared, Arc::new(DryRun::new(0.0)), only, run);
    }
    if !args.yes && !confirm(&question(&prepared, only.as_ref())) {
        eprintln!("kubewiz: nothing was done");
        return ExitCode::from(EXIT_FAILED);
    }
    let transport = Arc::new(Ssh::new(args.accept_new_host_keys));
    let run = Run {
        kind: RunKind::Install,
        dry_run: false,
        syslog: args.syslog,
    };
    execute(prepared, transport, only, run)
}

/// `kubewiz resume NAME`: the last applied preset of cluster NAME, skipping the steps
/// its journal says finished with unchanged inputs.
pub fn resume(state_dir: Option<&Path>, name: &str, syslog: bool) -> ExitCode {
    let dir = state_dir.map_or_else(state::default_dir, Path::to_path_buf);
    let cluster = ClusterState::new(&dir, name);
    if !cluster.preset().is_file() || !cluster.journal().is_file() {
        eprintln!(
            "kubewiz: no run of cluster {name} to resume in {} (looked for {} and {}); start one with `kubewiz apply`",
            dir.display(),
            cluster.preset().display(),
            cluster.journal().display()
        );
        return ExitCode::from(EXIT_FAILED);
    }
    let prepared = match prepare(Some(&dir), &cluster.preset()) {
        Ok(p) => p,
        Err(code) => return code,
    };
    eprintln!("kubewiz: resuming cluster {name} from its journal");
    // Host keys were accepted, if at all, by the run being resumed.
    let run = Run {
        kind: RunKind::Resume,
        dry_run: false,
        syslog,
    };
    execute(prepared, Arc::new(Ssh::new(false)), None, run)
}

fn parse_phases(names: &[String]) -> Result<Option<BTreeSet<PhaseId>>, ExitCode> {
    if names.is_empty() {
        return Ok(None);
    }
    let mut only = BTreeSet::new();
    for name in names {
        match PhaseId::from_name(name) {
            Some(p) => {
                only.insert(p);
            }
            None => {
                let known: Vec<&str> = INSTALL.iter().map(|p| p.id.name()).collect();
                eprintln!(
                    "kubewiz: --phase {name} is not a phase; the phases are {}",
                    known.join(", ")
                );
                return Err(ExitCode::from(EXIT_USAGE));
            }
        }
    }
    Ok(Some(only))
}

/// What `apply` asks before it changes anything: the hosts, when a phase that runs
/// works on them, and the libvirt network, when its phase runs and has something to
/// change; those changes are listed on stderr first.
fn question(prepared: &Prepared, only: Option<&BTreeSet<PhaseId>>) -> String {
    let runs = |phase: PhaseId| only.is_none_or(|o| plan::needed(o).contains(&phase));
    let on_hosts = only.is_none_or(plan::touches_hosts);
    let libvirt = prepared
        .plan
        .libvirt()
        .filter(|_| runs(libvirt_network::PHASE.id));
    let network = libvirt.and_then(|l| l.question());
    if let Some(step) = libvirt.filter(|_| network.is_some()) {
        let changes = step.change_list();
        if !changes.is_empty() {
            eprintln!(
                "kubewiz: the changes to libvirt network {} (`kubewiz plan` shows each command):",
                step.network
            );
            for change in changes {
                eprintln!("  {change}");
            }
        }
    }
    let spec = &prepared.spec;
    let install = format!(
        "Install cluster {} ({}) on {} host(s)",
        spec.name,
        spec.topology,
        spec.hosts.len()
    );
    match (on_hosts, network) {
        (true, Some(network)) => format!("{install}, and {network}?"),
        (true, None) => format!("{install}?"),
        (false, Some(network)) => format!("For cluster {}, {network}?", spec.name),
        (false, None) => match libvirt {
            Some(step) => format!(
                "Check libvirt network {} for cluster {} (it held every entry when read)?",
                step.network, spec.name
            ),
            None => format!("Go on with cluster {}?", spec.name),
        },
    }
}

/// Asks the operator on the terminal; false unless they type yes.
pub fn confirm(question: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}

/// What kind of run `execute` starts.
struct Run {
    kind: RunKind,
    dry_run: bool,
    syslog: bool,
}

/// Runs the plan with line output; the audit log goes to the state directory.
fn execute(
    prepared: Prepared,
    transport: Arc<dyn Transport>,
    only: Option<BTreeSet<PhaseId>>,
    run: Run,
) -> ExitCode {
    let dry_run = run.dry_run;
    let options = match launch::run_options_of(
        run.kind,
        &prepared.spec,
        &prepared.pki,
        &prepared.state,
        &prepared.preset_text,
        dry_run,
    ) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let mut prepared = prepared;
    if let Some(only) = &only {
        prepared.plan = prepared.plan.only(only);
    }
    let name = prepared.spec.name.to_string();
    let admin = prepared.state.dir().join("admin.conf");
    let code = run_plan(prepared, transport, options, run.syslog);
    if code == ExitCode::from(EXIT_OK) && !dry_run && admin.is_file() {
        println!("{}", super::kubeconfig::offer(&name, &admin));
    }
    code
}

/// Runs `prepared`'s plan with `options`, line output on stdout and a summary at the
/// end; the exit code says whether every step succeeded.
pub(super) fn run_plan(
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
