//! The wizard's "generate" step: PKI, every rendered file and the plan, made once per
//! spec for the preview to show and the install to run. Separate from the app so the
//! screens and the engine can read the result without depending on the app.

use std::path::{Path, PathBuf};

use crate::detached::job::{BackupInto, JobKind, Removal, UpgradeTo};
use crate::plan::Plan;
use crate::render::File;
use crate::spec::ClusterSpec;

/// What a prepared run does.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Operation {
    /// Install the spec, or add its new hosts to the installed cluster.
    #[default]
    Install,
    /// Renew the installed cluster's certificates from its kept CAs (`names` select
    /// them, every one when empty), or continue a renewal that did not finish.
    RenewCerts { names: Vec<String> },
    /// Take `host` out of the installed cluster as `node remove` does; `answers`:
    /// whether it answered over SSH when the removal was prepared.
    RemoveNode { host: String, answers: bool },
    /// Take `host` out as `node replace` does, then (the install run that follows)
    /// join a new host of its name and roles at `address`.
    ReplaceNode {
        host: String,
        address: std::net::IpAddr,
        answers: bool,
    },
    /// Upgrade the installed cluster to `to` as `kubewiz upgrade` does (workers one at
    /// a time), with the new version's `bundle` for a cluster installed from one.
    Upgrade {
        to: crate::spec::KubeVersion,
        bundle: Option<PathBuf>,
    },
    /// Back up the installed cluster as `kubewiz backup` does: the snapshot taken on
    /// `host`, the archive written to `archive` (both chosen by [`day2`]'s preview; the
    /// manage view asks with them empty).
    Backup { host: String, archive: PathBuf },
    /// Restore the cluster from the backup archive `from` as `kubewiz restore` does:
    /// etcd's data from its snapshot, then an install with its PKI.
    Restore { from: PathBuf },
    /// Reset the hosts of a cluster that still answers, so that the restore from
    /// `from` can follow (offered on Done), as `kubewiz restore --replace-running` does.
    ResetForRestore { from: PathBuf },
}

/// What Done offers to run once an operation went through: an install run of the
/// cluster as it is now (after a removal), or the restore a reset made way for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowUp {
    /// What it does, for Done: "reloads haproxy and keepalived on ...".
    pub what: String,
    pub operation: Operation,
}

impl Operation {
    /// The engine's kind of run.
    pub fn job_kind(&self) -> JobKind {
        match self {
            Operation::Install => JobKind::Install,
            Operation::RenewCerts { .. } => JobKind::CertsRenew,
            Operation::RemoveNode { .. } => JobKind::NodeRemove,
            Operation::ReplaceNode { .. } => JobKind::NodeReplace,
            Operation::Upgrade { .. } => JobKind::Upgrade,
            Operation::Backup { .. } => JobKind::Backup,
            Operation::Restore { .. } => JobKind::Restore,
            Operation::ResetForRestore { .. } => JobKind::Reset,
        }
    }

    /// The certificate names a renewal is given.
    pub fn names(&self) -> Vec<String> {
        match self {
            Operation::RenewCerts { names } => names.clone(),
            _ => Vec::new(),
        }
    }

    /// What an upgrade goes to.
    pub fn upgrade(&self) -> Option<UpgradeTo> {
        match self {
            Operation::Upgrade { to, bundle } => Some(UpgradeTo {
                to: to.to_string(),
                bundle: bundle.clone(),
                max_unavailable: 1,
            }),
            _ => None,
        }
    }

    /// Where a backup takes its snapshot and what it writes.
    pub fn backup(&self) -> Option<BackupInto> {
        match self {
            Operation::Backup { host, archive } => Some(BackupInto {
                host: host.clone(),
                archive: archive.clone(),
            }),
            _ => None,
        }
    }

    /// The archive a restore puts back.
    pub fn restore_from(&self) -> Option<PathBuf> {
        match self {
            Operation::Restore { from } => Some(from.clone()),
            _ => None,
        }
    }

    /// The host a removal takes out.
    pub fn removal(&self) -> Option<Removal> {
        match self {
            Operation::RemoveNode { host, answers } => Some(Removal {
                host: host.clone(),
                answers: *answers,
                address: None,
            }),
            Operation::ReplaceNode {
                host,
                address,
                answers,
            } => Some(Removal {
                host: host.clone(),
                answers: *answers,
                address: Some(*address),
            }),
            _ => None,
        }
    }

    /// The same operation from a shell, with the kept preset `preset`.
    pub fn command(&self, preset: &Path) -> String {
        match self {
            Operation::Install => format!("kubewiz apply --preset {}", preset.display()),
            Operation::RenewCerts { .. } => {
                format!("kubewiz certs renew --preset {}", preset.display())
            }
            Operation::RemoveNode { host, .. } => {
                format!("kubewiz node remove {host} --preset {}", preset.display())
            }
            Operation::ReplaceNode { host, address, .. } => format!(
                "kubewiz node replace {host} --preset FILE (a copy of {} with {host} at {address})",
                preset.display()
            ),
            Operation::Upgrade { to, bundle } => format!(
                "kubewiz upgrade --preset {} --to {to}{}",
                preset.display(),
                bundle
                    .as_ref()
                    .map(|b| format!(" --bundle {}", b.display()))
                    .unwrap_or_default()
            ),
            Operation::Backup { archive, .. } => format!(
                "kubewiz backup --preset {} --out {}",
                preset.display(),
                archive
                    .parent()
                    .map_or_else(|| ".".into(), |d| d.display().to_string())
            ),
            Operation::Restore { from } => format!(
                "kubewiz restore --preset {} --from {}",
                preset.display(),
                from.display()
            ),
            Operation::ResetForRestore { from } => format!(
                "kubewiz restore --preset {} --from {} --replace-running",
                preset.display(),
                from.display()
            ),
        }
    }

    /// What the run does, for the screens: "install", "renewal".
    pub fn noun(&self) -> &'static str {
        match self {
            Operation::Install => "install",
            Operation::RenewCerts { .. } => "renewal",
            Operation::RemoveNode { .. } => "removal",
            Operation::ReplaceNode { .. } => "replacement",
            Operation::Upgrade { .. } => "upgrade",
            Operation::Backup { .. } => "backup",
            Operation::Restore { .. } => "restore",
            Operation::ResetForRestore { .. } => "reset",
        }
    }
}

/// What the preview shows and the install runs.
#[derive(Clone)]
pub struct Prepared {
    pub files: Vec<File>,
    pub plan: Plan,
    pub plan_text: String,
    /// What the PKI step said (certificates made or renewed).
    pub notices: Vec<String>,
    /// The workers this spec adds to the installed cluster (none for a cluster not
    /// installed yet).
    pub added: Vec<String>,
    pub cluster_dir: PathBuf,
    pub operation: Operation,
    /// What must follow once this operation went through: an install run of the kept
    /// preset (the other load balancers' new configuration after a removal), or the
    /// restore a reset made way for.
    pub follow_up: Option<FollowUp>,
}

impl Prepared {
    /// The preview of day-2 `operation` on the cluster whose state directory is
    /// `cluster_dir`: `files` and `plan` (shown as `plan_text`), `notices` first; no
    /// hosts added, nothing to follow.
    fn day2(
        operation: Operation,
        cluster_dir: &Path,
        files: Vec<File>,
        plan: Plan,
        plan_text: String,
        notices: Vec<String>,
    ) -> Prepared {
        Prepared {
            files,
            plan,
            plan_text,
            notices,
            added: Vec::new(),
            cluster_dir: cluster_dir.to_path_buf(),
            operation,
            follow_up: None,
        }
    }
}

/// Loads or makes the PKI in the cluster's state directory, renders and plans, reading
/// the libvirt network on `libvirt_uri` for the plan's preview. Blocks: the event loop
/// calls it on a blocking thread.
pub fn prepare(
    spec: &ClusterSpec,
    state_dir: &Path,
    libvirt_uri: &str,
) -> Result<Prepared, String> {
    let cluster = crate::state::ClusterState::new(state_dir, spec.name.as_str());
    // An installed cluster may only gain workers; nothing is made for a spec that
    // changes more.
    let added = crate::launch::check_growth(spec, &cluster)?;
    let mut generated = crate::generate::generate(spec, &cluster, libvirt_uri)?;
    crate::generate::preview_libvirt(spec, &mut generated.plan);
    // For a cluster with a journal, the plan shows what a run would skip.
    let plan_text = plan_text(&generated.plan, &cluster.journal())?;
    Ok(Prepared {
        plan_text,
        files: generated.files,
        plan: generated.plan,
        notices: generated
            .notices
            .into_iter()
            .map(|n| n.to_string())
            .collect(),
        cluster_dir: cluster.dir().to_path_buf(),
        added,
        operation: Operation::Install,
        follow_up: None,
    })
}

/// The preview of a day-2 operation on the installed cluster `spec` (its kept preset):
/// for a renewal, the certificates issued again in memory from the kept CAs, nothing
/// saved (the engine issues and saves its own when the run starts), the files and the
/// plan placing them. Blocks, like [`prepare`].
pub fn day2(
    operation: &Operation,
    spec: &ClusterSpec,
    state_dir: &Path,
    libvirt_uri: &str,
) -> Result<Prepared, String> {
    let names = match operation {
        Operation::Install => return prepare(spec, state_dir, libvirt_uri),
        Operation::RemoveNode { host, .. } => {
            return removal(spec, state_dir, libvirt_uri, host, None);
        }
        Operation::ReplaceNode { host, address, .. } => {
            return removal(spec, state_dir, libvirt_uri, host, Some(*address));
        }
        Operation::Upgrade { to, bundle } => {
            return upgrade(spec, state_dir, libvirt_uri, *to, bundle.as_deref());
        }
        Operation::Backup { .. } => return backup(spec, state_dir, libvirt_uri),
        Operation::Restore { from } | Operation::ResetForRestore { from } => {
            return restore(spec, state_dir, libvirt_uri, from);
        }
        Operation::RenewCerts { names } => names,
    };
    let cluster = crate::state::ClusterState::new(state_dir, spec.name.as_str());
    let layout = crate::spec::layout::Layout::new(spec).map_err(|e| e.to_string())?;
    let mut pki = crate::day2::kept_pki(&cluster, &layout)?;
    let choice = crate::day2::certs::choose(&cluster, &layout, names).map_err(|r| r.message)?;
    let notice = match &choice {
        crate::day2::certs::Choice::Continue(kept) => format!(
            "continues the renewal that did not finish: {} certificate(s) kept in {}",
            kept.len(),
            cluster.pki_dir().display()
        ),
        crate::day2::certs::Choice::Renew(profiles) => format!(
            "renews {} certificate(s) from the kept CAs, one host at a time",
            profiles.len()
        ),
    };
    let renewed = crate::day2::certs::issue(choice, &mut pki, &layout, &cluster, false)?;
    let (plan, files) = crate::day2::certs::plan(&layout, &pki, &cluster, &renewed, libvirt_uri)?;
    let journal = crate::launch::day2_journal(&cluster, operation.job_kind().run_kind());
    let plan_text = plan_text(&plan, &journal)?;
    Ok(Prepared::day2(
        operation.clone(),
        cluster.dir(),
        files,
        plan,
        plan_text,
        vec![notice],
    ))
}

/// The preview of `node remove HOST` on the installed cluster `spec` (its kept preset):
/// the host checked removable, asked over SSH whether it answers (up to 15 s), and the
/// removal's plan, as the engine will make it.
fn removal(
    spec: &ClusterSpec,
    state_dir: &Path,
    libvirt_uri: &str,
    host: &str,
    replacement: Option<std::net::IpAddr>,
) -> Result<Prepared, String> {
    let cluster = crate::state::ClusterState::new(state_dir, spec.name.as_str());
    let (installed, _) = crate::day2::node::check(&cluster, spec, host, replacement)?;
    let layout = crate::spec::layout::Layout::new(&installed).map_err(|e| e.to_string())?;
    let target = layout
        .host(host)
        .ok_or_else(|| format!("{host} is not a host of the cluster"))?;
    let mut notices = Vec::new();
    let answers = match crate::day2::answers(&installed, host) {
        Ok(()) => {
            notices.push(format!(
                "takes {host} out: drains it, deletes its node, then resets the host"
            ));
            true
        }
        Err(why) => {
            notices.push(format!(
                "{host} does not answer over SSH at {} ({why}): it is taken out of the cluster without a drain, and the host is not reset",
                target.address
            ));
            false
        }
    };
    let follow_up = match replacement {
        Some(address) => Some(format!(
            "joins a new {host} at {address} with the kept CAs and brings the other hosts' configuration along"
        )),
        None if !crate::day2::node::changes_others(&layout, target) => None,
        None if target.roles.contains(&crate::spec::Role::Etcd) => {
            Some("gives the API servers the etcd hosts left".to_owned())
        }
        None => Some(
            "reloads haproxy and keepalived on the other load balancers with their new configuration"
                .to_owned(),
        ),
    };
    if let Some(what) = &follow_up {
        notices.push(format!(
            "then the install run of the cluster as it will be, which {what}: Done offers it"
        ));
    }
    let follow_up = follow_up.map(|what| FollowUp {
        what,
        operation: Operation::Install,
    });
    let (_, plan) =
        crate::day2::node::removal_plan(&cluster, &installed, host, answers, libvirt_uri)?;
    let kind = if replacement.is_some() {
        crate::audit::RunKind::NodeReplace
    } else {
        crate::audit::RunKind::NodeRemove
    };
    let journal = crate::launch::day2_journal(&cluster, kind);
    let plan_text = plan_text(&plan, &journal)?;
    let operation = match replacement {
        None => Operation::RemoveNode {
            host: host.to_owned(),
            answers,
        },
        Some(address) => Operation::ReplaceNode {
            host: host.to_owned(),
            address,
            answers,
        },
    };
    Ok(Prepared {
        follow_up,
        ..Prepared::day2(
            operation,
            cluster.dir(),
            Vec::new(),
            plan,
            plan_text,
            notices,
        )
    })
}

/// The preview of `kubewiz upgrade --to TO` on the installed cluster `spec` (its kept
/// preset): the version policy checked, the new version's files and the upgrade's plan,
/// workers one at a time.
fn upgrade(
    spec: &ClusterSpec,
    state_dir: &Path,
    libvirt_uri: &str,
    to: crate::spec::KubeVersion,
    bundle: Option<&Path>,
) -> Result<Prepared, String> {
    let cluster = crate::state::ClusterState::new(state_dir, spec.name.as_str());
    let ready = crate::day2::upgrade::prepare(
        &cluster,
        spec,
        &cluster.preset(),
        to,
        bundle,
        1,
        libvirt_uri,
    )
    .map_err(|r| r.message)?;
    let layout = crate::spec::layout::Layout::new(&ready.target).map_err(|e| e.to_string())?;
    let control_planes = layout.control_planes.len();
    let workers = layout.nodes().count() - control_planes;
    let mut notices = vec![format!(
        "upgrades from {} to {to}: {control_planes} control plane(s) one at a time, then {workers} worker(s) one at a time, each drained first",
        ready.upgrade.from
    )];
    notices.extend(ready.notices);
    let journal = crate::launch::day2_journal(&cluster, crate::audit::RunKind::Upgrade);
    let plan_text = plan_text(&ready.plan, &journal)?;
    let operation = Operation::Upgrade {
        to,
        bundle: bundle.map(Path::to_path_buf),
    };
    Ok(Prepared::day2(
        operation,
        cluster.dir(),
        ready.files,
        ready.plan,
        plan_text,
        notices,
    ))
}

/// The preview of `kubewiz backup` of the installed cluster `spec` (its kept preset):
/// the snapshot host asked over SSH (the first etcd member that answers), the archive
/// named in the cluster's `backups/`, and the plan that takes and packs it.
fn backup(spec: &ClusterSpec, state_dir: &Path, libvirt_uri: &str) -> Result<Prepared, String> {
    let cluster = crate::state::ClusterState::new(state_dir, spec.name.as_str());
    let layout = crate::spec::layout::Layout::new(spec).map_err(|e| e.to_string())?;
    let (host, mut notices) = crate::day2::backup::snapshot_host(spec, &layout, false)?;
    let archive = crate::day2::backup::archive_path(&cluster, None);
    notices.push(format!(
        "takes an etcd snapshot on {host} and writes {} with the kept PKI, the preset and admin.conf",
        archive.display()
    ));
    let preset_text = crate::spec::to_toml(spec);
    let plan = crate::day2::backup::plan(
        &cluster,
        &layout,
        libvirt_uri,
        &host,
        &archive,
        &preset_text,
    );
    let plan_text = plan.to_string();
    Ok(Prepared::day2(
        Operation::Backup { host, archive },
        cluster.dir(),
        Vec::new(),
        plan,
        plan_text,
        notices,
    ))
}

/// The preview of `kubewiz restore --from FROM` of the installed cluster `spec` (its
/// kept preset): the archive checked whole against the cluster, and the restore's
/// install generated apart from the state directory (the engine keeps it there when the
/// run starts). A cluster that still answers is reset first: its preview is the reset's,
/// and Done then offers the restore.
fn restore(
    spec: &ClusterSpec,
    state_dir: &Path,
    libvirt_uri: &str,
    from: &Path,
) -> Result<Prepared, String> {
    let cluster = crate::state::ClusterState::new(state_dir, spec.name.as_str());
    let layout = crate::spec::layout::Layout::new(spec).map_err(|e| e.to_string())?;
    let from = std::path::absolute(from).map_err(|e| format!("{}: {e}", from.display()))?;
    let checked = crate::day2::restore::check(&cluster, spec.name.as_str(), &from)?;
    let mut notices = vec![crate::day2::restore::describe(&from, &checked)];
    if let Some(running) = crate::day2::restore::answers(&cluster, &layout) {
        notices.push(format!(
            "cluster {} still answers at {running}: a restore replaces its whole state, so its {} host(s) are reset first, etcd's data deleted; everything written since the snapshot of {} is lost",
            spec.name,
            spec.hosts.len(),
            checked.manifest.created
        ));
        notices.push("then Done offers the restore from the archive, its plan first".to_owned());
        let plan = crate::plan::reset::build(
            &layout,
            &crate::generate::local(&cluster, libvirt_uri),
            crate::plan::reset::ResetOptions { delete_data: true },
        );
        let plan_text = plan.to_string();
        let reset = Operation::ResetForRestore { from: from.clone() };
        return Ok(Prepared {
            follow_up: Some(FollowUp {
                what: format!(
                    "puts back etcd's data from the snapshot of {} and installs with the archive's certificates",
                    checked.manifest.created
                ),
                operation: Operation::Restore { from },
            }),
            ..Prepared::day2(reset, cluster.dir(), Vec::new(), plan, plan_text, notices)
        });
    }
    notices.push(format!(
        "puts back etcd's data from the snapshot of {} on every member with a new cluster token, then installs with the archive's certificates (the same CAs: every kubeconfig of the cluster works again); the snapshot is kept in {} until the run finishes",
        checked.manifest.created,
        crate::generate::restore_dir(&cluster).display()
    ));
    let restoring = crate::day2::restore::generate(&cluster, spec, &checked, libvirt_uri, false)?;
    let generated = restoring.generated;
    let plan_text = generated.plan.to_string();
    Ok(Prepared::day2(
        Operation::Restore { from },
        cluster.dir(),
        generated.files,
        generated.plan,
        plan_text,
        notices,
    ))
}

/// The plan as text; with the journal at `journal` (a run that stopped), what a run
/// would skip marked as done.
fn plan_text(plan: &Plan, journal: &Path) -> Result<String, String> {
    Ok(match crate::exec::journal::finished_if_any(journal)? {
        Some(finished) => plan.against(&finished).to_string(),
        None => plan.to_string(),
    })
}
