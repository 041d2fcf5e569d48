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
use crate::archive::{self, Checked};
use crate::detached::job::{Job, JobKind};
use crate::plan::Restore;
use crate::spec::layout::Layout;
use crate::state::{self, ClusterState};

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
    // The archive first, whole: nothing is touched for a damaged one.
    let checked = match archive::read(args.from) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let how = if checked.sidecar {
        format!("{} matched", archive::sidecar(args.from).display())
    } else {
        "no .sha256 beside it; every file matched its manifest".to_owned()
    };
    eprintln!(
        "kubewiz: {} checked ({how}): cluster {}, snapshot of {} taken on {}, sha256 {}",
        args.from.display(),
        checked.manifest.cluster,
        checked.manifest.created,
        checked.manifest.snapshot_host,
        checked.sha256
    );
    if checked.manifest.cluster != spec.name.as_str() {
        eprintln!(
            "kubewiz: the archive is of cluster {}, the preset {} is of cluster {}; restore it with a preset of cluster {}",
            checked.manifest.cluster,
            args.preset.display(),
            spec.name,
            checked.manifest.cluster
        );
        return ExitCode::from(EXIT_FAILED);
    }
    let running = answers(&cluster, &layout);
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
    if let Err(e) = same_cas(&cluster, &checked) {
        eprintln!("kubewiz: {e}");
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
    let snapshot = checked.file(archive::SNAPSHOT).unwrap_or_default();
    // A new token per archive: no member of the old cluster can talk to the new one.
    let token = format!("{}-restore-{}", spec.name, &checked.sha256[..12]);
    // A dry run keeps no restore in the state directory: its snapshot lives in a
    // temporary directory for as long as the run.
    let scratch = match tempfile::tempdir() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("kubewiz: cannot make a temporary directory: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    // The archive's PKI is the cluster's, for the dry run's rendering too (a PKI made
    // for it would be another cluster's, and refused by the restore itself).
    if let Err(e) = keep_pki(&cluster, &checked) {
        eprintln!("kubewiz: {e}");
        return ExitCode::from(EXIT_FAILED);
    }
    let restore = if args.dry_run {
        let path = scratch.path().join("snapshot.db");
        if let Err(e) = state::write_atomic(&path, snapshot, 0o600) {
            eprintln!("kubewiz: {}: {e}", path.display());
            return ExitCode::from(EXIT_FAILED);
        }
        Some(Restore {
            snapshot: path,
            sha256: crate::digest::sha256_hex(snapshot),
            token,
        })
    } else {
        let kept = set_journal_aside(&cluster)
            .and_then(|()| crate::generate::keep_restore(&cluster, snapshot, &token));
        if let Err(e) = kept {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
        None
    };
    let job = Job {
        dry_run: args.dry_run,
        restore,
        ..job(JobKind::Restore, &cluster, preset_text, &args, &spec)
    };
    let code = follow::start(&job, spec.name.as_str(), OnCtrlC::for_run(args.yes));
    drop(scratch);
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
        restore: None,
        names: Vec::new(),
        removal: None,
        upgrade: None,
        backup: None,
    }
}

/// The endpoint's address when the cluster kept in `cluster` answers there with the
/// kept admin.conf (asked once, for at most five seconds).
fn answers(cluster: &ClusterState, layout: &Layout) -> Option<String> {
    let kubeconfig = std::fs::read_to_string(cluster.admin_conf()).ok()?;
    let url = format!("{}/readyz", layout.api_url());
    let scratch = cluster
        .dir()
        .join(format!(".restore-probe-{}", std::process::id()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime
        .block_on(crate::exec::api_check::probe(&url, &kubeconfig, &scratch))
        .ok()
        .map(|_| layout.api_url())
}

/// Refuses when the state directory keeps CAs other than the archive's.
fn same_cas(cluster: &ClusterState, checked: &Checked) -> Result<(), String> {
    let kept = cluster.pki_dir();
    for (rel, _, content) in checked.pki() {
        if !rel.ends_with("ca.crt") {
            continue;
        }
        match std::fs::read(kept.join(rel)) {
            Ok(mine) if mine != content => {
                return Err(format!(
                    "{} is another CA than the archive's pki/{rel}: the state directory keeps a different cluster of the same name; move {} away first",
                    kept.join(rel).display(),
                    cluster.dir().display()
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// An earlier install's journal is set aside: on restored hosts every step runs again
/// (`kubewiz resume` continues a restore's own journal).
fn set_journal_aside(cluster: &ClusterState) -> Result<(), String> {
    let journal = cluster.journal();
    if !journal.is_file() {
        return Ok(());
    }
    let aside = journal.with_extension("before-restore");
    std::fs::rename(&journal, &aside)
        .map_err(|e| format!("cannot set the journal {} aside: {e}", journal.display()))
}

/// The archive's PKI as the kept one, file by file (atomically, with their modes).
fn keep_pki(cluster: &ClusterState, checked: &Checked) -> Result<(), String> {
    archive::extract(checked, archive::PKI_PREFIX, &cluster.pki_dir())
        .map(|_| ())
        .map_err(|e| e.to_string())
}
