//! `kubewiz node remove`: a worker taken out of an installed cluster (`plan::node`),
//! run in this process with line output, an audit log of kind `node-remove` and a
//! journal of its own. Once it is through, the kept preset no longer lists the host and
//! the install's journal has none of its steps, so the next `apply` of a preset that
//! still lists it joins it again from the start, as a new worker.
//!
//! A worker that does not answer over SSH (`here::answers`) is removed all
//! the same, said first: its node and the Pods still bound to it are deleted from the
//! first control plane, and the host itself is left as it is.

use std::path::Path;
use std::process::ExitCode;

use super::apply::confirm;
use super::prepare;
use super::{EXIT_FAILED, EXIT_OK};
use crate::audit::RunKind;
use crate::launch;
use crate::plan;
use crate::spec::layout::Layout;
use crate::spec::{ClusterSpec, Role};
use crate::state::ClusterState;

/// What `kubewiz node remove` was asked to do.
pub struct NodeArgs<'a> {
    pub host: &'a str,
    pub preset: &'a Path,
    pub yes: bool,
    pub dry_run: bool,
    pub syslog: bool,
}

pub fn remove(state_dir: Option<&Path>, args: NodeArgs<'_>) -> ExitCode {
    if let Err(code) = prepare::can_ask("node remove changes the hosts and", args.yes, args.dry_run)
    {
        return code;
    }
    let (given, _, cluster) = match prepare::load_cluster(state_dir, args.preset) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let (installed, remaining) = match check(&cluster, &given, args.host, args.preset) {
        Ok(specs) => specs,
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let layout = match prepare::layout(&installed) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let pki = match prepare::read_kept(&cluster, &layout) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let answers = match super::here::answers(&installed, args.host) {
        Ok(()) => true,
        Err(why) => {
            eprintln!(
                "kubewiz: {} does not answer over SSH ({why}); it is taken out of the cluster without a drain, and the host is not reset",
                args.host
            );
            false
        }
    };
    let local = crate::generate::local(&cluster, &crate::kvm::connect_uri());
    let plan = plan::node::remove(&layout, &local, args.host, answers);
    let question = question(&layout, args.host, answers);
    if !args.dry_run && !args.yes && !confirm(&question) {
        eprintln!("kubewiz: nothing was done");
        return ExitCode::from(EXIT_FAILED);
    }
    let _lock = match super::here::lock(&cluster, RunKind::NodeRemove, args.dry_run) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let remaining_text = crate::spec::to_toml(&remaining);
    let options = launch::day2_options(
        RunKind::NodeRemove,
        &installed,
        &pki,
        &cluster,
        &remaining_text,
        args.dry_run,
    );
    let code = super::here::run_plan(plan, &installed, options, args.dry_run, args.syslog);
    if args.dry_run {
        return code;
    }
    if code != ExitCode::from(EXIT_OK) {
        eprintln!(
            "kubewiz: {} was not removed; fix the cause, then run the same `kubewiz node remove` again: it continues where it stopped",
            args.host
        );
        return code;
    }
    let kept = super::here::finished(&cluster, RunKind::NodeRemove, &remaining_text, || {
        crate::exec::journal::forget_host(&cluster.journal(), args.host)
    });
    if let Err(e) = kept {
        eprintln!(
            "kubewiz: {} is removed, but the cluster's record was not updated: {e}",
            args.host
        );
        return ExitCode::from(EXIT_FAILED);
    }
    if !answers {
        eprintln!(
            "kubewiz: {} was not reset: if it comes back, its kubelet registers the node again; run `kubeadm reset -f` on it before it is used again",
            args.host
        );
    }
    let still = given.hosts.iter().any(|h| h.name.as_str() == args.host);
    eprintln!(
        "kubewiz: {} is removed from cluster {}{}",
        args.host,
        installed.name,
        if still {
            format!(
                "; take its [[hosts]] entry out of {} (an apply with it adds it back)",
                args.preset.display()
            )
        } else {
            String::new()
        }
    );
    code
}

/// The installed spec and the one without `host`: the host must be a worker of the
/// installed cluster, and the preset must be the installed one, with or without it.
fn check(
    cluster: &ClusterState,
    given: &ClusterSpec,
    host: &str,
    preset: &Path,
) -> Result<(ClusterSpec, ClusterSpec), String> {
    let installed = super::here::installed(cluster, given.name.as_str(), "remove")?;
    let Some(h) = installed.hosts.iter().find(|h| h.name.as_str() == host) else {
        let names: Vec<&str> = installed.hosts.iter().map(|h| h.name.as_str()).collect();
        return Err(format!(
            "{host} is not a host of cluster {}; its hosts are {}",
            installed.name,
            names.join(", ")
        ));
    };
    if h.roles.iter().any(|r| *r != Role::Worker) {
        return Err(format!(
            "{host} is not only a worker ({}): removing a control plane, an etcd member or a load balancer changes every other host (etcd's members, the load balancers' backends) and is not built yet",
            h.roles
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let mut remaining = installed.clone();
    remaining.hosts.retain(|h| h.name.as_str() != host);
    let mut without = given.clone();
    without.hosts.retain(|h| h.name.as_str() != host);
    match crate::spec::growth::check(&remaining, &without) {
        Ok(added) if added.is_empty() => Ok((installed, remaining)),
        Ok(added) => Err(format!(
            "{} adds {}: node remove takes one host out and changes nothing else; add them with `kubewiz apply` before or after",
            preset.display(),
            added.join(", ")
        )),
        Err(problems) => {
            let lines: Vec<String> = problems
                .iter()
                .map(|d| format!("  {}: {}", d.path, d.message))
                .collect();
            Err(format!(
                "{} differs from what cluster {} runs in more than {host}:\n{}",
                preset.display(),
                installed.name,
                lines.join("\n")
            ))
        }
    }
}

fn question(layout: &Layout, host: &str, answers: bool) -> String {
    if answers {
        format!(
            "Remove worker {host} from cluster {}: drain it, delete its node, then reset the host (kubeadm reset, its data deleted, every file kubewiz wrote put back)?",
            layout.spec.name
        )
    } else {
        format!(
            "Remove worker {host}, which does not answer, from cluster {}: delete its node and the Pods bound to it, leaving the host as it is?",
            layout.spec.name
        )
    }
}
