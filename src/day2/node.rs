//! Taking a host out of an installed cluster, or putting a new one in its place, the
//! same way for `kubewiz node remove|replace` and the wizard's manage view: what may
//! be taken out, the cluster without it, and the cluster's record afterwards.

use std::path::Path;

use crate::audit::RunKind;
use crate::spec::layout::{Layout, LbLayout};
use crate::spec::{ClusterSpec, HostSpec, Role};
use crate::state::ClusterState;

/// Whether taking `host` out changes other hosts' files: haproxy's backends (a control
/// plane), keepalived's peers (a load balancer), the API servers' etcd servers (an
/// external etcd member).
pub fn changes_others(layout: &Layout, host: &HostSpec) -> bool {
    host.roles.contains(&Role::Etcd)
        || (matches!(layout.lb, LbLayout::HaproxyKeepalived { .. })
            && host
                .roles
                .iter()
                .any(|r| matches!(r, Role::ControlPlane | Role::LoadBalancer)))
}

/// The installed spec and the one without `host`: the host may be a worker, a control
/// plane (the first too, but with kube-vip) or a load balancer of the installed cluster, the cluster
/// without it must still be valid, and the preset must be the installed one, with or
/// without it.
pub fn check_remove(
    cluster: &ClusterState,
    given: &ClusterSpec,
    host: &str,
    preset: &Path,
) -> Result<(ClusterSpec, ClusterSpec), String> {
    let installed = super::installed(cluster, given.name.as_str(), "remove")?;
    removable(&installed, host, "remove")?;
    let mut remaining = installed.clone();
    remaining.hosts.retain(|h| h.name.as_str() != host);
    // A control plane or load balancer fewer must leave a valid topology (etcd's
    // quorum, the VIP's holders). A worker fewer may leave none: the control planes
    // run on, and a worker is added back with `apply`.
    let only_worker = installed
        .hosts
        .iter()
        .any(|h| h.name.as_str() == host && h.roles == [Role::Worker]);
    let errors: Vec<String> = if only_worker {
        Vec::new()
    } else {
        crate::spec::validate::validate(&remaining)
            .iter()
            .filter(|d| d.is_error())
            .map(|d| format!("  {}: {}", d.path, d.message))
            .collect()
    };
    if !errors.is_empty() {
        return Err(format!(
            "without {host}, cluster {} would not be valid:\n{}\nto put a new host in its place, use `kubewiz node replace {host} --preset FILE` with the new host's address",
            installed.name,
            errors.join("\n")
        ));
    }
    let mut without = given.clone();
    without.hosts.retain(|h| h.name.as_str() != host);
    same_otherwise(&installed, &remaining, &without, host, preset)?;
    Ok((installed, remaining))
}

/// The installed spec and the preset's: the preset must name `host` with the same
/// roles (at the same or a new address) and otherwise be the installed cluster.
pub fn check_replace(
    cluster: &ClusterState,
    given: &ClusterSpec,
    host: &str,
    preset: &Path,
) -> Result<(ClusterSpec, ClusterSpec), String> {
    let installed = super::installed(cluster, given.name.as_str(), "replace")?;
    removable(&installed, host, "replace")?;
    let Some(new) = given.hosts.iter().find(|h| h.name.as_str() == host) else {
        return Err(format!(
            "{} has no [[hosts]] entry named {host}: give the host that takes its place that name, with its address",
            preset.display()
        ));
    };
    let mut expected = installed.clone();
    for h in &mut expected.hosts {
        if h.name.as_str() == host {
            h.address = new.address;
        }
    }
    if let Some(other) = installed
        .hosts
        .iter()
        .find(|h| h.name.as_str() != host && h.address == new.address)
    {
        return Err(format!(
            "{host}'s new address {} is {}'s: give the new host an address of its own",
            new.address, other.name
        ));
    }
    same_otherwise(&installed, &expected, given, host, preset)?;
    Ok((installed, first_control_plane_last(given.clone(), host)))
}

/// Refuses what neither command takes out: a host not in the cluster, the first
/// control plane of a cluster behind kube-vip.
pub fn removable(installed: &ClusterSpec, host: &str, what: &str) -> Result<(), String> {
    if !installed.hosts.iter().any(|h| h.name.as_str() == host) {
        let names: Vec<&str> = installed.hosts.iter().map(|h| h.name.as_str()).collect();
        return Err(format!(
            "{host} is not a host of cluster {}; its hosts are {}",
            installed.name,
            names.join(", ")
        ));
    }
    let layout = Layout::new(installed).map_err(|e| e.to_string())?;
    if layout.first_control_plane().name.as_str() == host
        && matches!(layout.lb, LbLayout::KubeVip { .. })
    {
        return Err(format!(
            "{host} is the first control plane, and with kube-vip the first control plane's kube-vip reads super-admin.conf, which only the host that ran kubeadm init has; to {what} it is not built for kube-vip: {what} another control plane, or put the cluster behind haproxy-keepalived"
        ));
    }
    Ok(())
}

/// `spec` with `host`, when it is the first control plane, listed after the other
/// control planes: the next one becomes the first (which acts on the cluster and where
/// a fresh install would run `kubeadm init`), and the new host joins.
pub fn first_control_plane_last(mut spec: ClusterSpec, host: &str) -> ClusterSpec {
    let is_first = spec
        .hosts
        .iter()
        .find(|h| h.roles.contains(&Role::ControlPlane))
        .is_some_and(|h| h.name.as_str() == host);
    if !is_first {
        return spec;
    }
    let Some(at) = spec.hosts.iter().position(|h| h.name.as_str() == host) else {
        return spec;
    };
    let moved = spec.hosts.remove(at);
    let after = spec
        .hosts
        .iter()
        .rposition(|h| h.roles.contains(&Role::ControlPlane))
        .map_or(spec.hosts.len(), |i| i + 1);
    spec.hosts.insert(after, moved);
    spec
}

/// `given` (the preset, made comparable) must be `expected` and add nothing.
pub fn same_otherwise(
    installed: &ClusterSpec,
    expected: &ClusterSpec,
    given: &ClusterSpec,
    host: &str,
    preset: &Path,
) -> Result<(), String> {
    super::changes_only(
        expected,
        given,
        &installed.name,
        preset,
        "node remove and node replace change one host and nothing else",
        host,
    )
}

/// After the run of `kind` took `host` out: the kept preset becomes `after_text` (the
/// cluster without it, or with it at its new address) and the install's journal
/// forgets its steps.
pub fn finished(
    cluster: &ClusterState,
    kind: RunKind,
    after_text: &str,
    host: &str,
) -> Result<(), String> {
    super::finished(cluster, kind, after_text, || {
        crate::exec::journal::forget_host(&cluster.journal(), host)
    })
}

/// What taking `host` out of the installed cluster of `cluster` leaves, from its kept
/// preset `kept`: the installed spec and the one the kept preset becomes, without the
/// host or, for a replacement, with it at `address`. The preset refers to is the kept
/// one.
pub fn check(
    cluster: &ClusterState,
    kept: &ClusterSpec,
    host: &str,
    address: Option<std::net::IpAddr>,
) -> Result<(ClusterSpec, ClusterSpec), String> {
    match address {
        None => check_remove(cluster, kept, host, &cluster.preset()),
        Some(address) => check_replace(
            cluster,
            &at_address(kept, host, address),
            host,
            &cluster.preset(),
        ),
    }
}

/// The plan taking `host` (which `answers` over SSH or not) out of `installed`, with
/// the kept PKI it needs for its run's secrets.
pub fn removal_plan(
    cluster: &ClusterState,
    installed: &ClusterSpec,
    host: &str,
    answers: bool,
    libvirt_uri: &str,
) -> Result<(crate::pki::Pki, crate::plan::Plan), String> {
    let layout = Layout::new(installed).map_err(|e| e.to_string())?;
    let pki = super::kept_pki(cluster, &layout)?;
    let local = crate::generate::local(cluster, libvirt_uri);
    let plan = crate::plan::node::remove(&layout, &local, host, answers);
    Ok((pki, plan))
}

/// The preset of the installed cluster `spec` with `host` at `address`: what `node
/// replace` is given when the operator only changes that host's address.
pub fn at_address(spec: &ClusterSpec, host: &str, address: std::net::IpAddr) -> ClusterSpec {
    let mut given = spec.clone();
    for h in &mut given.hosts {
        if h.name.as_str() == host {
            h.address = address;
        }
    }
    given
}
