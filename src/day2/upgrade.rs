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
    /// What the operator is told before it runs: external etcd's version, kept or
    /// upgraded, against the one the new kubeadm goes with.
    pub notices: Vec<String>,
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
    let pki = super::kept_pki(cluster, &layout).map_err(Refused::failed)?;
    let files = crate::render::render(&target, &pki).map_err(|e| Refused::failed(e.to_string()))?;
    let (etcd, notices) = if layout.etcd.is_empty() {
        (None, Vec::new())
    } else {
        external_etcd(&installed, &target, bundle.as_deref()).map_err(Refused::failed)?
    };
    let upgrade = Upgrade {
        from,
        to,
        bundle,
        etcd,
    };
    let local = crate::generate::local(cluster, libvirt_uri);
    let plan = crate::plan::upgrade::build(&layout, &files, &local, &upgrade, max_unavailable);
    Ok(Ready {
        target,
        upgrade,
        pki,
        files,
        plan,
        notices,
    })
}

/// External etcd on an upgrade: with a bundle, the members get the new bundle's etcd
/// (the version returned) when it is another program than the installed bundle's,
/// one at a time; an older one is refused, as etcd is not downgraded. Either way the
/// notices compare the etcd the members will run with the one the new kubeadm goes
/// with (its etcd image), which kubeadm's own upgrade plan asks to be upgraded first.
fn external_etcd(
    installed: &ClusterSpec,
    target: &ClusterSpec,
    bin: Option<&Path>,
) -> Result<(Option<String>, Vec<String>), String> {
    let Some(bin) = bin else {
        return Ok((
            None,
            vec![
                "the external etcd members keep the etcd of their package repository; kubeadm's upgrade plan on the first control plane names a newer one to install first, if any"
                    .to_owned(),
            ],
        ));
    };
    let new = bin.join("etcd");
    let new_version = etcd_version(&new)?;
    let old = installed
        .packages
        .bundle_dir
        .as_ref()
        .map(|d| d.join("bin/etcd"))
        .filter(|p| p.is_file());
    let mut notices = Vec::new();
    let old_version = old.as_deref().map(etcd_version).transpose()?;
    if let Some(old_version) = &old_version
        && semver(old_version) > semver(&new_version)
    {
        return Err(format!(
            "the new bundle's etcd is {new_version} ({}), older than the {old_version} the etcd hosts run: etcd is not downgraded; put etcd {old_version} or newer there",
            new.display()
        ));
    }
    let same = match &old {
        Some(old) => sha256_file(old)? == sha256_file(&new)?,
        None => false,
    };
    let upgrade = if same {
        notices.push(format!(
            "the external etcd members keep etcd {new_version}: the new bundle's is the same program"
        ));
        None
    } else {
        notices.push(format!(
            "the external etcd members get the new bundle's etcd {new_version} (from {}), one at a time, each healthy with it before the next, before kubeadm upgrade apply",
            old_version.as_deref().unwrap_or("a program no longer at hand")
        ));
        Some(new_version.clone())
    };
    match crate::exec::bundle::kubeadm_images(target) {
        Ok(images) => {
            let wanted = images
                .iter()
                .find_map(|i| i.rsplit_once("/etcd:").map(|(_, tag)| tag.to_owned()));
            match wanted {
                Some(tag) if semver(&tag) > semver(&new_version) => notices.push(format!(
                    "warning: kubeadm {} goes with etcd {tag}, and the etcd hosts will run {new_version}: kubeadm's upgrade plan asks for etcd to be upgraded first; put etcd {tag} or newer in {} and upgrade again",
                    target.kubernetes.version,
                    bin.display()
                )),
                Some(tag) => notices.push(format!(
                    "etcd {new_version} is not older than the {tag} kubeadm {} goes with",
                    target.kubernetes.version
                )),
                None => {}
            }
        }
        Err(why) => notices.push(format!(
            "the etcd the new kubeadm goes with is not known here ({why}): kubeadm's upgrade plan on the first control plane names it"
        )),
    }
    Ok((upgrade, notices))
}

/// The version `etcd --version` of the program at `path` reports, run here.
fn etcd_version(path: &Path) -> Result<String, String> {
    let said = crate::exec::bundle::program_version(path)
        .map_err(|e| format!("the bundle's etcd: {e}"))?;
    said.split_whitespace()
        .find(|w| semver(w).is_some())
        .map(String::from)
        .ok_or_else(|| format!("{} says {said:?}: no version in it", path.display()))
}

/// The first three numbers of a version such as 3.5.30, v3.6.5 or 3.6.5-0.
fn semver(text: &str) -> Option<(u64, u64, u64)> {
    let mut parts = text
        .trim_start_matches('v')
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u64>().ok());
    Some((parts.next()??, parts.next()??, parts.next()??))
}

fn sha256_file(path: &Path) -> Result<String, String> {
    crate::digest::sha256_file_hex(path)
        .map(|(sha256, _)| sha256)
        .map_err(|e| format!("{}: {e}", path.display()))
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
