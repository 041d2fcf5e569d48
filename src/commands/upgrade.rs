//! `kubewiz upgrade`: the cluster one minor version (or one patch) further, in
//! kubeadm's order (`plan::upgrade`), run in this process with line output, an audit
//! log of kind `upgrade` and a journal of its own: running the same upgrade again
//! continues it. The installed version is the one the cluster's last run applied;
//! once the upgrade is through, the kept preset says the new version (and the new
//! bundle), so a later `apply` adds hosts at that version.

use std::path::Path;
use std::process::ExitCode;

use super::apply::confirm;
use super::prepare;
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::audit::RunKind;
use crate::day2::upgrade;
use crate::launch;
use crate::plan::Upgrade;
use crate::spec::KubeVersion;
use crate::spec::layout::Layout;

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
    let ready = match upgrade::prepare(
        &cluster,
        &given,
        args.preset,
        to,
        args.bundle,
        args.max_unavailable,
        &crate::kvm::connect_uri(),
    ) {
        Ok(r) => r,
        Err(refused) => return prepare::refused(refused),
    };
    let upgrade::Ready {
        target,
        upgrade,
        pki,
        plan,
        notices,
        ..
    } = ready;
    for notice in notices {
        eprintln!("kubewiz: {notice}");
    }
    let layout = match prepare::layout(&target) {
        Ok(l) => l,
        Err(code) => return code,
    };
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
    let kept = upgrade::finished(&cluster, &target);
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
