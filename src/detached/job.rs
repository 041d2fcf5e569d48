//! What a client asks the engine process to run, sent on the engine's standard input
//! as one JSON document: the preset text itself (not a path that could change in the
//! meantime), the kind of run and its options.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::audit::{Identity, RunKind};
use crate::day2::{certs, node, restore, upgrade};
use crate::exec::Transport;
use crate::exec::dry_run::DryRun;
use crate::exec::runner::RunOptions;
use crate::exec::ssh::Ssh;
use crate::generate::{generate_restoring, pending_restore};
use crate::launch;
use crate::plan::phases::INSTALL;
use crate::plan::reset::{self, ResetOptions};
use crate::plan::{PhaseId, Plan};
use crate::spec::ClusterSpec;
use crate::spec::layout::Layout;
use crate::state::ClusterState;

/// The kind of run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Install,
    Resume,
    Reset,
    /// An install whose etcd starts from a backup's snapshot.
    Restore,
    /// `certs renew` of the leaves the job's `names` select (all when empty), or the
    /// continuation of one that did not finish.
    CertsRenew,
    /// `node remove` of the job's `removal`.
    NodeRemove,
    /// The removal of `node replace`: the job's `removal`, whose host comes back at its
    /// `address` in the install run that follows.
    NodeReplace,
    /// `upgrade` as the job's `upgrade` says.
    Upgrade,
    /// `backup` as the job's `backup` says.
    Backup,
}

/// Where a backup takes its snapshot and the archive it writes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupInto {
    /// The etcd member (stacked: control plane) the snapshot is taken on.
    pub host: String,
    pub archive: PathBuf,
}

/// What an upgrade goes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UpgradeTo {
    /// The version, as `--to` takes it.
    pub to: String,
    /// The new version's bundle, for a cluster installed from a bundle.
    pub bundle: Option<PathBuf>,
    /// Workers upgraded at once.
    pub max_unavailable: usize,
}

/// The host a removal takes out, and whether it answered over SSH when the removal was
/// planned (one that does not is only taken out of the cluster, not reset).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removal {
    pub host: String,
    pub answers: bool,
    /// For a replacement: the new host's address (the old one's for a VM rebuilt in
    /// place).
    #[serde(default)]
    pub address: Option<std::net::IpAddr>,
}

/// A run for the engine process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub kind: JobKind,
    /// The state directory (absolute): the cluster's directory is in it.
    pub state_dir: PathBuf,
    /// The preset as the operator gave it; saved with a real install for resume.
    pub preset_text: String,
    pub dry_run: bool,
    /// The dry run's pace (1.0 feels like a real install in fast motion, 0 is instant).
    pub pace: f64,
    /// Only these phases (an install's `--phase`); empty for all.
    pub phases: Vec<String>,
    pub accept_new_host_keys: bool,
    /// A reset keeps etcd's and the kubelet's data.
    pub keep_data: bool,
    /// The run's start and head go to the system log too.
    pub syslog: bool,
    /// The libvirt connection of the libvirt-network phase.
    pub libvirt_uri: String,
    /// The terminal the run was started from, for the audit log's operator record.
    pub terminal: String,
    /// The archive a restore puts back, checked again by the engine (a real restore is
    /// then kept in the state directory until a run finishes it:
    /// `generate::pending_restore`).
    #[serde(default)]
    pub restore_from: Option<PathBuf>,
    /// The certificates a renewal renews, as `certs renew` takes them.
    #[serde(default)]
    pub names: Vec<String>,
    /// What a node removal takes out.
    #[serde(default)]
    pub removal: Option<Removal>,
    /// What an upgrade goes to.
    #[serde(default)]
    pub upgrade: Option<UpgradeTo>,
    /// Where a backup takes its snapshot and what it writes.
    #[serde(default)]
    pub backup: Option<BackupInto>,
}

impl JobKind {
    pub fn run_kind(self) -> RunKind {
        match self {
            JobKind::Install => RunKind::Install,
            JobKind::Resume => RunKind::Resume,
            JobKind::Reset => RunKind::Reset,
            JobKind::Restore => RunKind::Restore,
            JobKind::CertsRenew => RunKind::CertsRenew,
            JobKind::NodeRemove => RunKind::NodeRemove,
            JobKind::NodeReplace => RunKind::NodeReplace,
            JobKind::Upgrade => RunKind::Upgrade,
            JobKind::Backup => RunKind::Backup,
        }
    }
}

impl Job {
    /// The spec the job runs, or what is wrong with its preset.
    pub fn spec(&self) -> Result<ClusterSpec, String> {
        crate::spec::parse(&self.preset_text).map_err(|d| {
            let first = d.first().map_or_else(String::new, |d| {
                format!(": {}: {}", d.path, d.message)
            });
            format!(
                "the preset of the run does not parse ({} problem(s)){first}; `kubewiz validate` lists them",
                d.len()
            )
        })
    }
}

/// What the engine runs: the plan, its options (audit log, journal) and transport, and
/// what the cluster's record becomes once it went through.
pub struct Ready {
    pub plan: Plan,
    pub options: RunOptions,
    pub transport: Arc<dyn Transport>,
    pub record: Record,
    /// Where a dry run's restore lives, for as long as the run.
    pub scratch: Option<tempfile::TempDir>,
}

/// What a run that went through changes in the cluster's record (a dry run: nothing).
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    Nothing,
    /// A whole install finishes a pending restore: its snapshot goes.
    RestoreFinished,
    /// A renewal forgets its pending certificates and its journal.
    RenewalFinished,
    /// A day-2 run of `kind` leaves the kept preset `preset_text` and its journal goes;
    /// the install's journal forgets `forget`'s steps (a host taken out).
    Kept {
        kind: RunKind,
        preset_text: String,
        forget: Option<String>,
    },
}

impl Record {
    /// Makes the record so in the state directory of `state`.
    pub fn keep(&self, state: &ClusterState) -> Result<(), String> {
        match self {
            Record::Nothing => Ok(()),
            Record::RestoreFinished => crate::generate::restore_finished(state),
            Record::RenewalFinished => certs::finish(state),
            Record::Kept {
                kind,
                preset_text,
                forget,
            } => crate::day2::finished(state, *kind, preset_text, || match forget {
                Some(host) => crate::exec::journal::forget_host(&state.journal(), host),
                None => Ok(()),
            }),
        }
    }
}

/// Generates the plan of `job` for `spec` and opens its records (the audit log, the
/// journal; a reset sets the journal aside). Call it with the cluster's lock held.
/// The audit log names `identity` as the operator. An install from a bundle whose plan
/// would reach outside the cluster, or needs a file its bundle lacks, is refused
/// before anything is opened (`plan::offline`).
pub fn ready(
    job: &Job,
    spec: &ClusterSpec,
    state: &ClusterState,
    identity: Identity,
) -> Result<Ready, String> {
    let transport: Arc<dyn Transport> = if job.dry_run {
        Arc::new(DryRun::new(job.pace))
    } else {
        Arc::new(Ssh::new(job.accept_new_host_keys))
    };
    let mut scratch = None;
    let (plan, options, record) = match job.kind {
        JobKind::Install | JobKind::Resume | JobKind::Restore => {
            let generated = match (&job.restore_from, job.kind) {
                // A restore starts from its archive, checked again here; an install
                // or resume from the restore kept in the state directory, if any.
                (Some(from), JobKind::Restore) => {
                    let checked = restore::check(state, spec.name.as_str(), from)?;
                    let restoring =
                        restore::generate(state, spec, &checked, &job.libvirt_uri, !job.dry_run)?;
                    scratch = restoring.scratch;
                    restoring.generated
                }
                (None, JobKind::Restore) => return Err("a restore names no archive".into()),
                _ => generate_restoring(
                    spec,
                    state,
                    &job.libvirt_uri,
                    pending_restore(state)?.as_ref(),
                )?,
            };
            let mut plan = generated.plan;
            if let Some(only) = phases(&job.phases)? {
                plan = plan.only(&only);
            }
            // Before the records: a refused plan leaves no trace but its message.
            crate::plan::offline::check(&plan)?;
            lacking_images(spec, &plan)?;
            let options = launch::run_options(
                job.kind.run_kind(),
                spec,
                &generated.pki,
                state,
                &job.preset_text,
                job.dry_run,
                identity,
            )?;
            // Only a whole install finishes a restore.
            let record = if job.phases.is_empty() {
                Record::RestoreFinished
            } else {
                Record::Nothing
            };
            (plan, options, record)
        }
        JobKind::Reset => {
            let generated = generate_restoring(
                spec,
                state,
                &job.libvirt_uri,
                pending_restore(state)?.as_ref(),
            )?;
            let layout = Layout::new(spec).map_err(|e| e.to_string())?;
            let plan = reset::build(
                &layout,
                &crate::generate::local(state, &job.libvirt_uri),
                ResetOptions {
                    delete_data: !job.keep_data,
                },
            );
            let options =
                launch::reset_options(spec, &generated.pki, state, &job.preset_text, identity)?;
            (plan, options, Record::Nothing)
        }
        // Not generated as an install is: the kept leaves stay as they are but those
        // renewed here.
        JobKind::CertsRenew => renewal(job, spec, state, identity)?,
        JobKind::NodeRemove | JobKind::NodeReplace => removal(job, spec, state, identity)?,
        JobKind::Upgrade => upgrading(job, spec, state, identity)?,
        JobKind::Backup => backing_up(job, spec, state, identity)?,
    };
    Ok(Ready {
        plan,
        options,
        transport,
        record: if job.dry_run { Record::Nothing } else { record },
        scratch,
    })
}

/// A renewal's plan and options, as `certs renew` makes them: the certificates issued
/// again from the kept CAs (and saved, unless it is a dry run), or those of the renewal
/// that did not finish.
fn renewal(
    job: &Job,
    spec: &ClusterSpec,
    state: &ClusterState,
    identity: Identity,
) -> Result<(Plan, RunOptions, Record), String> {
    let layout = Layout::new(spec).map_err(|e| e.to_string())?;
    let mut pki = crate::day2::kept_pki(state, &layout)?;
    let choice = certs::choose(state, &layout, &job.names).map_err(|r| r.message)?;
    let renewed = certs::issue(choice, &mut pki, &layout, state, !job.dry_run)?;
    let (plan, _) = certs::plan(&layout, &pki, state, &renewed, &job.libvirt_uri)?;
    let options = launch::day2_options_for(
        RunKind::CertsRenew,
        spec,
        &pki,
        state,
        &job.preset_text,
        job.dry_run,
        identity,
    )?;
    Ok((plan, options, Record::RenewalFinished))
}

/// A node removal's plan and options, as `node remove` (or the first run of `node
/// replace`) makes them for the kept preset (`spec`): the host checked, the removal's
/// plan, an audit log that names the cluster as it will be.
fn removal(
    job: &Job,
    spec: &ClusterSpec,
    state: &ClusterState,
    identity: Identity,
) -> Result<(Plan, RunOptions, Record), String> {
    let Some(removal) = &job.removal else {
        return Err("a node removal names no host".into());
    };
    let (installed, after) = node::check(state, spec, &removal.host, removal.address)?;
    let (pki, plan) = node::removal_plan(
        state,
        &installed,
        &removal.host,
        removal.answers,
        &job.libvirt_uri,
    )?;
    let after_text = crate::spec::to_toml(&after);
    let options = launch::day2_options_for(
        job.kind.run_kind(),
        &installed,
        &pki,
        state,
        &after_text,
        job.dry_run,
        identity,
    )?;
    let record = Record::Kept {
        kind: job.kind.run_kind(),
        preset_text: after_text,
        forget: Some(removal.host.clone()),
    };
    Ok((plan, options, record))
}

/// An upgrade's plan and options, as `kubewiz upgrade` makes them for the kept preset
/// (`spec`), the audit log naming the cluster as it will be.
fn upgrading(
    job: &Job,
    spec: &ClusterSpec,
    state: &ClusterState,
    identity: Identity,
) -> Result<(Plan, RunOptions, Record), String> {
    let Some(up) = &job.upgrade else {
        return Err("an upgrade names no version".into());
    };
    let to = up
        .to
        .parse()
        .map_err(|e| format!("the upgrade's version: {e}"))?;
    let ready = upgrade::prepare(
        state,
        spec,
        &state.preset(),
        to,
        up.bundle.as_deref(),
        up.max_unavailable.max(1),
        &job.libvirt_uri,
    )
    .map_err(|r| r.message)?;
    let target_text = crate::spec::to_toml(&ready.target);
    let options = launch::day2_options_for(
        RunKind::Upgrade,
        &ready.target,
        &ready.pki,
        state,
        &target_text,
        job.dry_run,
        identity,
    )?;
    let record = Record::Kept {
        kind: RunKind::Upgrade,
        preset_text: target_text,
        forget: None,
    };
    Ok((ready.plan, options, record))
}

/// A backup's plan and options, as `kubewiz backup` makes them for the kept preset
/// (`spec`): the snapshot taken on the job's host, the archive packed on the KVM host.
fn backing_up(
    job: &Job,
    spec: &ClusterSpec,
    state: &ClusterState,
    identity: Identity,
) -> Result<(Plan, RunOptions, Record), String> {
    let Some(backup) = &job.backup else {
        return Err("a backup names no host to take the snapshot on".into());
    };
    let layout = Layout::new(spec).map_err(|e| e.to_string())?;
    let pki = crate::day2::kept_pki(state, &layout)?;
    let plan = crate::day2::backup::plan(
        state,
        &layout,
        &job.libvirt_uri,
        &backup.host,
        &backup.archive,
        &job.preset_text,
    );
    let options =
        launch::backup_options(spec, &pki, state, &job.preset_text, job.dry_run, identity)?;
    Ok((plan, options, Record::Nothing))
}

/// The phases named by `--phase`, or None for every phase.
pub fn phases(names: &[String]) -> Result<Option<BTreeSet<PhaseId>>, String> {
    if names.is_empty() {
        return Ok(None);
    }
    let mut only = BTreeSet::new();
    for name in names {
        let phase = PhaseId::from_name(name).ok_or_else(|| {
            let known: Vec<&str> = INSTALL.iter().map(|p| p.id.name()).collect();
            format!(
                "--phase {name} is not a phase; the phases are {}",
                known.join(", ")
            )
        })?;
        only.insert(phase);
    }
    Ok(Some(only))
}

/// Refuses an install from a bundle whose `images/` lacks an image its nodes run, as
/// the bundle's kubeadm lists them. When that kubeadm cannot run here (a bundle for
/// another architecture), the run goes on: each node checks containerd's images after
/// the import, and stops there naming what is missing.
fn lacking_images(spec: &ClusterSpec, plan: &crate::plan::Plan) -> Result<(), String> {
    if !plan
        .phases
        .iter()
        .any(|p| p.id == crate::plan::phases::prepare::PHASE.id)
    {
        return Ok(());
    }
    let layout = Layout::new(spec).map_err(|e| e.to_string())?;
    match crate::exec::bundle::lacking_images(&layout) {
        Ok(Some(lacking)) if !lacking.is_empty() => Err(format!(
            "cluster {} installs from a bundle whose images/ lacks images its nodes run, and cannot run so (nothing was changed): {}; add archives holding them to {} (`kubewiz bundle check --preset FILE` lists what the bundle holds against what the preset needs)",
            spec.name,
            lacking.join(", "),
            crate::plan::images::bundle_images_dir(spec)
                .map(|d| d.display().to_string())
                .unwrap_or_default()
        )),
        _ => Ok(()),
    }
}
