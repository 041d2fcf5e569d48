//! Upgrading an installed cluster's Kubernetes, the same way for `kubewiz upgrade` and
//! the wizard's manage view (whose run goes to the engine): the checks of kubeadm's
//! version policy and of the preset, the upgraded spec and its programs, the plan, and
//! the kept preset once it went through.

use std::path::{Path, PathBuf};

use crate::audit::RunKind;
use crate::files::File;
use crate::pki::Pki;
use crate::plan::{Plan, Upgrade};
use crate::spec::layout::Layout;
use crate::spec::{ClusterSpec, KubeVersion, PackageSource};
use crate::state::ClusterState;

use super::Refused;

/// An upgrade ready to run.
pub struct Ready {
    /// The cluster as it will be: the new version (and bundle).
    pub target: ClusterSpec,
    pub upgrade: Upgrade,
    pub pki: Pki,
    pub files: Vec<File>,
    pub plan: Plan,
}

/// The upgrade of the installed cluster of `cluster` to `to` (its new programs from
/// `bundle`'s `bin/` for a cluster installed from a bundle), with `given` (the preset
/// at `preset`) saying what the cluster is; workers `max_unavailable` at a time.
pub fn prepare(
    cluster: &ClusterState,
    given: &ClusterSpec,
    preset: &Path,
    to: KubeVersion,
    bundle: Option<&Path>,
    max_unavailable: usize,
    libvirt_uri: &str,
) -> Result<Ready, Refused> {
    let installed =
        super::installed(cluster, given.name.as_str(), "upgrade").map_err(Refused::failed)?;
    let from = installed.kubernetes.version;
    check(given, &installed, to, preset).map_err(Refused::failed)?;
    let (target, bundle) = target(given, to, bundle).map_err(Refused::usage)?;
    let layout = Layout::new(&target).map_err(|e| Refused::failed(e.to_string()))?;
    let pki = crate::pki::read_kept(&cluster.pki_dir(), &layout)
        .map_err(|e| Refused::failed(format!("the kept PKI of cluster {}: {e}", target.name)))?;
    let files = crate::render::render(&target, &pki).map_err(|e| Refused::failed(e.to_string()))?;
    let upgrade = Upgrade { from, to, bundle };
    let local = crate::generate::local(cluster, libvirt_uri);
    let plan = crate::plan::upgrade::build(&layout, &files, &local, &upgrade, max_unavailable);
    Ok(Ready {
        target,
        upgrade,
        pki,
        files,
        plan,
    })
}

/// The upgrade went through: the kept preset says the new version (and bundle), and
/// the upgrade's journal goes.
pub fn finished(cluster: &ClusterState, target: &ClusterSpec) -> Result<(), String> {
    super::finished(
        cluster,
        RunKind::Upgrade,
        &crate::spec::to_toml(target),
        || Ok(()),
    )
}

/// An upgrade changes the version and nothing else: the preset says the installed
/// version or the new one, and otherwise what the cluster runs; the version policy
/// of kubeadm holds.
pub fn check(
    given: &ClusterSpec,
    installed: &ClusterSpec,
    to: KubeVersion,
    preset: &Path,
) -> Result<(), String> {
    let from = installed.kubernetes.version;
    let said = given.kubernetes.version;
    if said != from && said != to {
        return Err(format!(
            "{} says version {said}; the cluster runs {from} and the upgrade goes to {to}: set it to either",
            preset.display()
        ));
    }
    let mut same = given.clone();
    same.kubernetes.version = from;
    // The bundle may move to the new version's; everything else must be as installed.
    same.packages.bundle_dir = installed.packages.bundle_dir.clone();
    super::changes_only(
        installed,
        &same,
        &installed.name,
        preset,
        "an upgrade changes the version only",
        "its version",
    )?;
    from.upgrade_to(to)
}

/// The spec of the upgraded cluster and the new programs' directory (a bundle's
/// `bin/`, None for packages).
pub fn target(
    given: &ClusterSpec,
    to: KubeVersion,
    bundle: Option<&Path>,
) -> Result<(ClusterSpec, Option<PathBuf>), String> {
    let mut target = given.clone();
    target.kubernetes.version = to;
    match (given.packages.source, bundle) {
        (PackageSource::Bundle, None) => Err(format!(
            "cluster {} was installed from a bundle: give the {to} bundle with --bundle DIR",
            given.name
        )),
        (PackageSource::Bundle, Some(dir)) => {
            let bin = dir.join("bin");
            let missing: Vec<&str> = ["kubeadm", "kubelet", "kubectl"]
                .into_iter()
                .filter(|p| !bin.join(p).is_file())
                .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "{} has no {}: the new bundle needs kubeadm, kubelet and kubectl of {to}",
                    bin.display(),
                    missing.join(", ")
                ));
            }
            target.packages.bundle_dir = Some(dir.to_path_buf());
            Ok((target, Some(bin)))
        }
        (PackageSource::Online, Some(_)) => Err(format!(
            "cluster {} installs from the package repository: --bundle is only for a cluster installed from a bundle",
            given.name
        )),
        (PackageSource::Online, None) => Ok((target, None)),
    }
}
