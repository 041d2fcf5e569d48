//! `kubewiz upgrade`: the cluster one minor version (or one patch) further, in
//! kubeadm's order (`plan::upgrade`), run in this process with line output, an audit
//! log of kind `upgrade` and a journal of its own: running the same upgrade again
//! continues it. The installed version is the one the cluster's last run applied;
//! once the upgrade is through, the kept preset says the new version (and the new
//! bundle), so a later `apply` adds hosts at that version.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::apply::confirm;
use super::prepare;
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::audit::RunKind;
use crate::launch;
use crate::plan::{self, Upgrade};
use crate::spec::layout::Layout;
use crate::spec::{ClusterSpec, KubeVersion, PackageSource};

/// What `kubewiz upgrade` was asked to do.
pub struct UpgradeArgs<'a> {
    pub preset: &'a Path,
    pub to: &'a str,
    /// The new version's bundle (a directory with `bin/`), for a cluster installed
    /// from a bundle.
    pub bundle: Option<&'a Path>,
    pub max_unavailable: usize,
    pub yes: bool,
    pub dry_run: bool,
    pub syslog: bool,
}

pub fn run(state_dir: Option<&Path>, args: UpgradeArgs<'_>) -> ExitCode {
    if let Err(code) = prepare::can_ask("upgrade changes the hosts and", args.yes, args.dry_run) {
        return code;
    }
    let to: KubeVersion = match args.to.parse() {
        Ok(v) => v,
        Err(e) => {
            eprintln!("kubewiz: --to {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    if args.max_unavailable == 0 {
        eprintln!("kubewiz: --max-unavailable 0 would upgrade no worker; give 1 or more");
        return ExitCode::from(EXIT_USAGE);
    }
    let (given, _, cluster) = match prepare::load_cluster(state_dir, args.preset) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let installed = match crate::day2::installed(&cluster, given.name.as_str(), "upgrade") {
        Ok(spec) => spec,
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let from = installed.kubernetes.version;
    if let Err(e) = check(&given, &installed, to, args.preset) {
        eprintln!("kubewiz: {e}");
        return ExitCode::from(EXIT_FAILED);
    }
    let (target, bundle) = match target(&given, to, args.bundle) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(EXIT_USAGE);
        }
    };
    let layout = match prepare::layout(&target) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let pki = match prepare::read_kept(&cluster, &layout) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let files = match crate::render::render(&target, &pki) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let upgrade = Upgrade { from, to, bundle };
    let local = crate::generate::local(&cluster, &crate::kvm::connect_uri());
    let plan = plan::upgrade::build(&layout, &files, &local, &upgrade, args.max_unavailable);
    if !args.dry_run && !args.yes && !confirm(&question(&layout, &upgrade, args.max_unavailable)) {
        eprintln!("kubewiz: nothing was done");
        return ExitCode::from(EXIT_FAILED);
    }
    let _lock = match super::here::lock(&cluster, RunKind::Upgrade, args.dry_run) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let target_text = crate::spec::to_toml(&target);
    let options = launch::day2_options(
        RunKind::Upgrade,
        &target,
        &pki,
        &cluster,
        &target_text,
        args.dry_run,
    );
    let code = super::here::run_plan(plan, &target, options, args.dry_run, args.syslog);
    if args.dry_run {
        return code;
    }
    if code != ExitCode::from(EXIT_OK) {
        eprintln!(
            "kubewiz: the upgrade to {to} did not finish; fix the cause, then run the same `kubewiz upgrade` again: it continues where it stopped"
        );
        return code;
    }
    let kept = crate::day2::finished(&cluster, RunKind::Upgrade, &target_text, || Ok(()));
    if let Err(e) = kept {
        eprintln!("kubewiz: the cluster runs {to}, but its record was not updated: {e}");
        return ExitCode::from(EXIT_FAILED);
    }
    eprintln!(
        "kubewiz: cluster {} runs Kubernetes {to}; set version = \"{to}\"{} in {} for the next apply",
        target.name,
        if upgrade.bundle.is_some() {
            " and the new bundle_dir"
        } else {
            ""
        },
        args.preset.display()
    );
    code
}

/// An upgrade changes the version and nothing else: the preset says the installed
/// version or the new one, and otherwise what the cluster runs; the version policy
/// of kubeadm holds.
fn check(
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
    match crate::spec::growth::check(installed, &same) {
        Ok(added) if added.is_empty() => {}
        Ok(added) => {
            return Err(format!(
                "{} adds {}: an upgrade changes the version only; add them with `kubewiz apply` before or after",
                preset.display(),
                added.join(", ")
            ));
        }
        Err(problems) => {
            let lines: Vec<String> = problems
                .iter()
                .map(|d| format!("  {}: {}", d.path, d.message))
                .collect();
            return Err(format!(
                "{} differs from what cluster {} runs in more than its version:\n{}",
                preset.display(),
                installed.name,
                lines.join("\n")
            ));
        }
    }
    from.upgrade_to(to)
}

/// The spec of the upgraded cluster and the new programs' directory (a bundle's
/// `bin/`, None for packages).
fn target(
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

fn question(layout: &Layout, up: &Upgrade, max_unavailable: usize) -> String {
    let workers = layout.nodes().count() - layout.control_planes.len();
    format!(
        "Upgrade cluster {} from {} to {}: {} control plane(s) one at a time, then {workers} worker(s) {max_unavailable} at a time, each drained first?",
        layout.spec.name,
        up.from,
        up.to,
        layout.control_planes.len()
    )
}
