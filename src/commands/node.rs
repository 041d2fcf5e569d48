//! `kubewiz node remove` and `kubewiz node replace`: a host taken out of an installed
//! cluster (`plan::node`), run in this process with line output, an audit log of kind
//! `node-remove` (or `node-replace`) and a journal of its own. Once it is through, the
//! kept preset no longer lists the host (or lists it at its new address) and the
//! install's journal has none of its steps.
//!
//! A host that does not answer over SSH (`here::answers`) is removed all the same, said
//! first: its node and the Pods still bound to it are deleted from the first control
//! plane, its etcd member is taken out, and the host itself is left as it is.
//!
//! Taking out a control plane or a load balancer changes the others' load balancer
//! configuration (haproxy's backends, keepalived's peers): an install run of the kept
//! preset follows (`apply::run`), which skips what earlier runs did and reloads haproxy
//! and keepalived where their files changed. `node replace` is the same removal
//! followed by that install run of the preset that names the host again, which joins
//! it from the start.

use std::path::Path;
use std::process::ExitCode;

use super::apply::{ApplyArgs, confirm};
use super::prepare;
use super::{EXIT_FAILED, EXIT_OK};
use crate::audit::RunKind;
use crate::cli::NodeCommand;
use crate::day2::node;
use crate::launch;
use crate::plan;
use crate::spec::layout::{Layout, LbLayout};
use crate::spec::{ClusterSpec, HostSpec, Role};

/// What `kubewiz node remove` or `node replace` was asked to do.
struct NodeArgs<'a> {
    host: &'a str,
    preset: &'a Path,
    yes: bool,
    dry_run: bool,
    syslog: bool,
    /// `node replace`: accept the new host's key on first contact.
    accept_new_host_keys: bool,
}

/// Which of the two commands runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Remove,
    Replace,
}

impl Op {
    fn kind(self) -> RunKind {
        match self {
            Op::Remove => RunKind::NodeRemove,
            Op::Replace => RunKind::NodeReplace,
        }
    }

    fn command(self) -> &'static str {
        match self {
            Op::Remove => "node remove",
            Op::Replace => "node replace",
        }
    }
}

/// `kubewiz node remove|replace ...`; `syslog`: send the run's start and head to the
/// system log.
pub fn run(state_dir: Option<&Path>, command: &NodeCommand, syslog: bool) -> ExitCode {
    let (op, args) = match command {
        NodeCommand::Remove {
            host,
            preset,
            yes,
            dry_run,
        } => (
            Op::Remove,
            NodeArgs {
                host,
                preset,
                yes: *yes,
                dry_run: *dry_run,
                syslog,
                accept_new_host_keys: false,
            },
        ),
        NodeCommand::Replace {
            host,
            preset,
            yes,
            dry_run,
            accept_new_host_keys,
        } => (
            Op::Replace,
            NodeArgs {
                host,
                preset,
                yes: *yes,
                dry_run: *dry_run,
                syslog,
                accept_new_host_keys: *accept_new_host_keys,
            },
        ),
    };
    take_out(state_dir, &args, op)
}

fn take_out(state_dir: Option<&Path>, args: &NodeArgs<'_>, op: Op) -> ExitCode {
    let what = format!("{} changes the hosts and", op.command());
    if let Err(code) = prepare::can_ask(&what, args.yes, args.dry_run) {
        return code;
    }
    let (given, _, cluster) = match prepare::load_cluster(state_dir, args.preset) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let checked = match op {
        Op::Remove => node::check_remove(&cluster, &given, args.host, args.preset),
        Op::Replace => node::check_replace(&cluster, &given, args.host, args.preset),
    };
    let (installed, after) = match checked {
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
    let host = layout
        .host(args.host)
        .expect("checked: a host of the cluster");
    let answers = match crate::day2::answers(&installed, args.host) {
        Ok(()) => true,
        Err(why) => {
            eprintln!(
                "kubewiz: {} does not answer over SSH at {} ({why}); it is taken out of the cluster without a drain, and the host is not reset",
                args.host, host.address
            );
            false
        }
    };
    let local = crate::generate::local(&cluster, &crate::kvm::connect_uri());
    let plan = plan::node::remove(&layout, &local, args.host, answers);
    let others_change = node::changes_others(&layout, host);
    let new_address = after
        .hosts
        .iter()
        .find(|h| h.name == host.name)
        .map(|h| h.address);
    let question = question(&layout, host, answers, others_change, new_address);
    if !args.dry_run && !args.yes && !confirm(&question) {
        eprintln!("kubewiz: nothing was done");
        return ExitCode::from(EXIT_FAILED);
    }
    let lock = match super::here::lock(&cluster, op.kind(), args.dry_run) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let after_text = crate::spec::to_toml(&after);
    let options = launch::day2_options(
        op.kind(),
        &installed,
        &pki,
        &cluster,
        &after_text,
        args.dry_run,
    );
    let code = super::here::run_plan(plan, &installed, options, args.dry_run, args.syslog);
    if args.dry_run {
        if op == Op::Replace || others_change {
            eprintln!(
                "kubewiz: then an install run of the cluster {} {}: `kubewiz plan` of that preset shows its steps once {} is out",
                if op == Op::Replace { "with" } else { "without" },
                args.host,
                args.host
            );
        }
        return code;
    }
    if code != ExitCode::from(EXIT_OK) {
        eprintln!(
            "kubewiz: {} was not taken out; fix the cause, then run the same `kubewiz {}` again: it continues where it stopped",
            args.host,
            op.command()
        );
        return code;
    }
    let kept = node::finished(&cluster, op.kind(), &after_text, args.host);
    if let Err(e) = kept {
        eprintln!(
            "kubewiz: {} is taken out, but the cluster's record was not updated: {e}",
            args.host
        );
        return ExitCode::from(EXIT_FAILED);
    }
    drop(lock);
    if !answers && op == Op::Remove {
        eprintln!(
            "kubewiz: {} was not reset: if it comes back, its kubelet registers the node again; run `kubeadm reset -f` on it before it is used again",
            args.host
        );
    }
    if matches!(layout.lb, LbLayout::External) && host.roles.contains(&Role::ControlPlane) {
        eprintln!(
            "kubewiz: the load balancer at {} is the operator's own: take {} out of its backends there",
            layout.control_plane_endpoint(),
            host.address
        );
    }
    let code = if op == Op::Replace || others_change {
        let then = match new_address {
            Some(address) => format!("joins {} at {address}", args.host),
            None if host.roles.contains(&Role::Etcd) => "gives the API servers the etcd hosts left".to_owned(),
            None => "reloads haproxy and keepalived on the other load balancers with their new configuration".to_owned(),
        };
        eprintln!(
            "kubewiz: {} is out of cluster {}; an install run of the cluster now {then}, skipping what earlier runs did",
            args.host, installed.name
        );
        let kept_preset = cluster.preset();
        let apply = super::apply::run(
            state_dir,
            ApplyArgs {
                preset: &kept_preset,
                yes: true,
                dry_run: false,
                no_tui: true,
                phases: &[],
                accept_new_host_keys: args.accept_new_host_keys,
                pace: 0.0,
                syslog: args.syslog,
            },
        );
        if apply != ExitCode::from(EXIT_OK) {
            eprintln!(
                "kubewiz: {} is out of the cluster, but the install run that follows did not finish; fix the cause, then `kubewiz apply --preset {}` continues it (add --accept-new-host-keys for a new host's key)",
                args.host,
                args.preset.display()
            );
            return apply;
        }
        apply
    } else {
        code
    };
    match op {
        Op::Remove => {
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
        }
        Op::Replace => {
            eprintln!(
                "kubewiz: {} is replaced in cluster {}: it runs at {}",
                args.host,
                installed.name,
                new_address.map_or_else(String::new, |a| a.to_string())
            );
            let first = |spec: &ClusterSpec| {
                spec.hosts
                    .iter()
                    .find(|h| h.roles.contains(&Role::ControlPlane))
                    .map(|h| h.name.to_string())
            };
            if let (Some(now), Some(listed)) = (first(&after), first(&given))
                && now != listed
            {
                eprintln!(
                    "kubewiz: {now} is the cluster's first control plane now ({} joined as a new one): in {}, move {}'s [[hosts]] entry after the other control planes' before the next apply",
                    args.host,
                    args.preset.display(),
                    args.host
                );
            }
        }
    }
    code
}

fn question(
    layout: &Layout,
    host: &HostSpec,
    answers: bool,
    others_change: bool,
    new_address: Option<std::net::IpAddr>,
) -> String {
    let roles: Vec<String> = host.roles.iter().map(ToString::to_string).collect();
    let what = format!("{} {}", roles.join(" + "), host.name);
    let member = if (layout.etcd.is_empty() && host.roles.contains(&Role::ControlPlane))
        || host.roles.contains(&Role::Etcd)
    {
        ", take its etcd member out (etcd's quorum checked first)"
    } else {
        ""
    };
    let out = if answers {
        format!(
            "drain it, delete its node{member}, then reset the host (kubeadm reset, its data deleted, every file kubewiz wrote put back)"
        )
    } else {
        format!(
            "delete its node and the Pods bound to it{member}, leaving the host (which does not answer) as it is"
        )
    };
    let then = match new_address {
        Some(address) => format!("; then join a new {} at {address}", roles.join(" + ")),
        None if host.roles.contains(&Role::Etcd) => {
            "; then give the API servers the etcd hosts left".to_owned()
        }
        None if others_change => {
            "; then reload haproxy and keepalived on the other load balancers".to_owned()
        }
        None => String::new(),
    };
    format!(
        "Take {what} out of cluster {}: {out}{then}?",
        layout.spec.name
    )
}
