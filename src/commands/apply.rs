//! `kubewiz apply` and `kubewiz resume`: run the plan on the hosts (or, with
//! `--dry-run`, on no host at all), with line output and an audit log.

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use super::follow::{self, OnCtrlC};
use super::prepare::{Prepared, prepare};
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::detached::job::{Job, JobKind};
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
    /// The dry run's pace (see `DryRun`).
    pub pace: f64,
    /// Send the run's start and head to the system log.
    pub syslog: bool,
}

pub fn run(state_dir: Option<&Path>, args: ApplyArgs<'_>) -> ExitCode {
    let only = match parse_phases(args.phases) {
        Ok(only) => only,
        Err(code) => return code,
    };
    if !args.pace.is_finite() || args.pace < 0.0 {
        eprintln!(
            "kubewiz: --pace {} is not a pace; give a factor of 0 or more (1.0 is the wizard's dry run)",
            args.pace
        );
        return ExitCode::from(EXIT_USAGE);
    }
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
    if !prepared.added.is_empty() {
        eprintln!(
            "kubewiz: cluster {} is installed; this run adds {} and only checks the hosts already in it",
            prepared.spec.name,
            prepared.added.join(", ")
        );
    }
    if !args.no_tui {
        eprintln!(
            "kubewiz: the full-screen view of a run is opened from the wizard; showing the line output"
        );
    }
    if args.dry_run {
        let run = Run {
            kind: JobKind::Install,
            dry_run: true,
            pace: args.pace,
            accept_new_host_keys: false,
            phases: args.phases.to_vec(),
            syslog: args.syslog,
            on_ctrl_c: OnCtrlC::for_run(args.yes),
        };
        return execute(prepared, run);
    }
    if !args.yes && !confirm(&question(&prepared, only.as_ref())) {
        eprintln!("kubewiz: nothing was done");
        return ExitCode::from(EXIT_FAILED);
    }
    let run = Run {
        kind: JobKind::Install,
        dry_run: false,
        pace: 0.0,
        accept_new_host_keys: args.accept_new_host_keys,
        phases: args.phases.to_vec(),
        syslog: args.syslog,
        on_ctrl_c: OnCtrlC::for_run(args.yes),
    };
    execute(prepared, run)
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
        kind: JobKind::Resume,
        dry_run: false,
        pace: 0.0,
        accept_new_host_keys: false,
        phases: Vec::new(),
        syslog,
        on_ctrl_c: OnCtrlC::for_run(false),
    };
    execute(prepared, run)
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
    ask(&format!("{question} [y/N] ")).is_some_and(|a| matches!(a.as_str(), "y" | "Y" | "yes"))
}

/// Prints `prompt` and reads one answer line at the terminal, trimmed; None without a
/// terminal to ask on.
pub fn ask(prompt: &str) -> Option<String> {
    if !std::io::stdin().is_terminal() {
        return None;
    }
    eprint!("{prompt}");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    Some(answer.trim().to_owned())
}

/// What kind of run `execute` starts.
struct Run {
    kind: JobKind,
    dry_run: bool,
    pace: f64,
    accept_new_host_keys: bool,
    phases: Vec<String>,
    syslog: bool,
    on_ctrl_c: OnCtrlC,
}

/// Hands the run to its engine process and follows it with line output.
fn execute(prepared: Prepared, run: Run) -> ExitCode {
    let job = Job {
        kind: run.kind,
        state_dir: absolute(prepared.state.dir().parent().unwrap_or(Path::new("."))),
        preset_text: prepared.preset_text,
        dry_run: run.dry_run,
        pace: run.pace,
        phases: run.phases,
        accept_new_host_keys: run.accept_new_host_keys,
        keep_data: false,
        syslog: run.syslog || prepared.spec.audit.syslog,
        libvirt_uri: crate::kvm::connect_uri(),
        terminal: crate::audit::identity::terminal(),
        restore_from: None,
        names: Vec::new(),
        removal: None,
        upgrade: None,
        backup: None,
    };
    let name = prepared.spec.name.to_string();
    let admin = prepared.state.dir().join("admin.conf");
    let code = follow::start(&job, &name, run.on_ctrl_c);
    if code == ExitCode::from(EXIT_OK) && !run.dry_run && admin.is_file() {
        println!("{}", super::kubeconfig::offer(&name, &admin));
    }
    code
}

/// `path` from the root, so the engine process finds it whatever its directory.
pub(super) fn absolute(path: &Path) -> std::path::PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}
