//! `kubewiz restore`: a backup archive put back onto reset or new hosts. The archive
//! is checked whole before anything else (`archive::read`); a cluster that still
//! answers is refused; the archive's PKI becomes the kept one (same CAs, so every
//! kubeconfig of the cluster works again); then an install runs in its engine process
//! whose etcd starts from the snapshot (`plan::restore`), with the journal, resume and
//! audit log (kind `restore`) of any install.

use std::path::Path;
use std::process::ExitCode;

use super::apply::{absolute, ask, confirm};
use super::follow::{self, OnCtrlC};
use super::prepare;
use super::{EXIT_FAILED, EXIT_OK};
use crate::day2::restore;
use crate::detached::job::{Job, JobKind};
use crate::state::ClusterState;

/// What `kubewiz restore` was asked to do.
pub struct RestoreArgs<'a> {
    pub preset: &'a Path,
    pub from: &'a Path,
    /// Reset a cluster that still answers first, instead of refusing.
    pub replace_running: bool,
    pub yes: bool,
    pub dry_run: bool,
    pub syslog: bool,
}

pub fn run(state_dir: Option<&Path>, args: RestoreArgs<'_>) -> ExitCode {
    if let Err(code) = prepare::can_ask("restore changes the hosts and", args.yes, args.dry_run) {
        return code;
    }
    let (spec, preset_text, cluster) = match prepare::load_cluster(state_dir, args.preset) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let layout = match prepare::layout(&spec) {
        Ok(l) => l,
        Err(code) => return code,
    };
    // The archive first, whole: nothing is touched for a damaged one, nor for another
    // cluster's.
    let checked = match restore::check(&cluster, spec.name.as_str(), args.from) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    eprintln!("kubewiz: {}", restore::describe(args.from, &checked));
    let running = restore::answers(&cluster, &layout);
    if let Some(running) = &running
        && !args.replace_running
    {
        eprintln!(
            "kubewiz: cluster {} still answers at {running}: a restore replaces its whole state. Reset it first (`kubewiz reset --preset {}` deletes etcd's data), then restore; or give --replace-running to have restore reset it",
            spec.name,
            args.preset.display()
        );
        return ExitCode::from(EXIT_FAILED);
    }
    let question = format!(
        "Restore cluster {} from {} onto {} host(s): etcd's data from the snapshot of {}, then an install with the archive's certificates?",
        spec.name,
        args.from.display(),
        spec.hosts.len(),
        checked.manifest.created
    );
    if !args.dry_run && !args.yes && !confirm(&question) {
        eprintln!("kubewiz: nothing was done");
        return ExitCode::from(EXIT_FAILED);
    }
    if let Some(running) = &running {
        if args.dry_run {
            eprintln!(
                "kubewiz: cluster {} still answers at {running}: the restore would reset its hosts first (`kubewiz reset`, etcd's data deleted); this dry run shows the restore after it",
                spec.name
            );
        } else if let Err(code) = reset_running(&cluster, &args, &spec, &preset_text, running) {
            return code;
        }
    }
    // The engine checks the archive again and, for a real run, keeps the restore in the
    // state directory before it starts.
    let job = Job {
        dry_run: args.dry_run,
        restore_from: Some(absolute(args.from)),
        ..job(JobKind::Restore, &cluster, preset_text, &args, &spec)
    };
    let code = follow::start(&job, spec.name.as_str(), OnCtrlC::for_run(args.yes));
    if code == ExitCode::from(EXIT_OK) && !args.dry_run {
        eprintln!("kubewiz: cluster {} is restored", spec.name);
        println!(
            "{}",
            super::kubeconfig::offer(spec.name.as_str(), &cluster.admin_conf())
        );
    } else if !args.dry_run {
        eprintln!(
            "kubewiz: the restore did not finish; `kubewiz resume {}` continues it from its journal",
            spec.name
        );
    }
    code
}

/// Resets the hosts of a cluster that still answers, after the operator confirmed it
/// twice: `--replace-running` and `--yes`, or at the terminal a yes and then the
/// cluster's name typed out. Every object written since the backup is lost.
fn reset_running(
    cluster: &ClusterState,
    args: &RestoreArgs<'_>,
    spec: &crate::spec::ClusterSpec,
    preset_text: &str,
    running: &str,
) -> Result<(), ExitCode> {
    let name = spec.name.as_str();
    if !args.yes {
        let question = format!(
            "Cluster {name} still answers at {running}. Reset its {} host(s) first, deleting etcd's data: everything written since the backup is lost?",
            spec.hosts.len()
        );
        let prompt = format!("Type the cluster's name ({name}) to reset it: ");
        if !confirm(&question) || ask(&prompt).is_none_or(|a| a != name) {
            eprintln!("kubewiz: nothing was done");
            return Err(ExitCode::from(EXIT_FAILED));
        }
    }
    eprintln!("kubewiz: resetting cluster {name} before the restore");
    let job = job(JobKind::Reset, cluster, preset_text.to_owned(), args, spec);
    let code = follow::start(&job, name, OnCtrlC::for_run(args.yes));
    if code != ExitCode::from(EXIT_OK) {
        eprintln!(
            "kubewiz: the reset before the restore did not finish; nothing was restored. `kubewiz resume {name}` finishes the reset, then run the restore again"
        );
        return Err(code);
    }
    Ok(())
}

/// A run of `kind` on the cluster kept in `cluster`, not a dry run, deleting etcd's data
/// where it resets. Host keys were accepted, if at all, by the install; new hosts' keys
/// are taken into known_hosts first (`kubewiz kvm import` or ssh-keyscan).
fn job(
    kind: JobKind,
    cluster: &ClusterState,
    preset_text: String,
    args: &RestoreArgs<'_>,
    spec: &crate::spec::ClusterSpec,
) -> Job {
    Job {
        kind,
        state_dir: absolute(cluster.dir().parent().unwrap_or(Path::new("."))),
        preset_text,
        dry_run: false,
        pace: 0.0,
        phases: Vec::new(),
        accept_new_host_keys: false,
        keep_data: false,
        syslog: args.syslog || spec.audit.syslog,
        libvirt_uri: crate::kvm::connect_uri(),
        terminal: crate::audit::identity::terminal(),
        restore_from: None,
        names: Vec::new(),
        removal: None,
        upgrade: None,
        backup: None,
    }
}
