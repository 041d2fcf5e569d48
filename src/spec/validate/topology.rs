//! Roles and host counts each topology needs.

use super::{host_path, name_list};
use crate::spec::{ClusterSpec, Diagnostic, LoadBalancer, Role, Topology};

pub(super) fn check(spec: &ClusterSpec, out: &mut Vec<Diagnostic>) {
    for i in 0..spec.hosts.len() {
        check_roles(spec, i, out);
    }
    if !spec.hosts.is_empty() {
        check_counts(spec, out);
    }
}

fn check_roles(spec: &ClusterSpec, i: usize, out: &mut Vec<Diagnostic>) {
    let host = &spec.hosts[i];
    if host.roles.is_empty() {
        out.push(Diagnostic::error(
            host_path(i, "roles"),
            format!(
                "{} has no role; give one or more of control-plane, worker, etcd, load-balancer",
                host.name
            ),
        ));
        return;
    }
    for (j, role) in host.roles.iter().enumerate() {
        let path = format!("{}[{j}]", host_path(i, "roles"));
        if host.roles[..j].contains(role) {
            out.push(Diagnostic::error(path, format!("{role} is listed twice")));
            continue;
        }
        match role {
            Role::Etcd if spec.topology != Topology::ExternalEtcd => {
                out.push(Diagnostic::error(
                    path,
                    format!(
                        "the etcd role belongs to the external-etcd topology; with {} etcd runs on the control planes: remove it, or choose external-etcd",
                        spec.topology
                    ),
                ));
            }
            Role::LoadBalancer if !spec.topology.is_ha() => {
                out.push(Diagnostic::error(
                    path,
                    format!(
                        "{} has no load balancer; remove the load-balancer role, or choose stacked-ha or external-etcd",
                        spec.topology
                    ),
                ));
            }
            Role::LoadBalancer
                if spec.control_plane.load_balancer != LoadBalancer::HaproxyKeepalived =>
            {
                out.push(Diagnostic::error(
                    path,
                    format!(
                        "load-balancer hosts run haproxy-keepalived, but control_plane.load_balancer is {}; remove the role, or set load_balancer = \"haproxy-keepalived\"",
                        spec.control_plane.load_balancer
                    ),
                ));
            }
            _ => {}
        }
    }
    let shares = |role: Role| host.has(role) && host.roles.iter().any(|r| *r != role);
    if spec.topology == Topology::ExternalEtcd && shares(Role::Etcd) {
        out.push(Diagnostic::error(
            host_path(i, "roles"),
            format!(
                "{} has etcd and another role; etcd hosts are dedicated in external-etcd (for etcd on the control planes choose stacked-ha)",
                host.name
            ),
        ));
    }
    if shares(Role::LoadBalancer) {
        out.push(Diagnostic::error(
            host_path(i, "roles"),
            format!(
                "{} has load-balancer and another role; load-balancer hosts are dedicated (to run haproxy on the control planes, give no host the load-balancer role)",
                host.name
            ),
        ));
    }
}

fn check_counts(spec: &ClusterSpec, out: &mut Vec<Diagnostic>) {
    let names = |role: Role| name_list(spec.hosts_with(role).map(|h| h.name.as_str()));
    let control_planes = spec.hosts_with(Role::ControlPlane).count();
    let dedicated_workers = spec
        .hosts_with(Role::Worker)
        .filter(|h| !h.has(Role::ControlPlane))
        .count();
    let etcd = spec.hosts_with(Role::Etcd).count();
    let topology = spec.topology;
    match topology {
        Topology::SingleNode => {
            if spec.hosts.len() != 1 {
                out.push(Diagnostic::error(
                    "topology",
                    format!(
                        "single-node takes exactly one host, this preset has {}; for more hosts choose single-master or stacked-ha",
                        spec.hosts.len()
                    ),
                ));
            } else if !spec.hosts[0].has(Role::ControlPlane) {
                out.push(Diagnostic::error(
                    host_path(0, "roles"),
                    "the single-node host runs the control plane: give it the control-plane role",
                ));
            }
        }
        Topology::SingleMaster => {
            if control_planes != 1 {
                out.push(Diagnostic::error(
                    "topology",
                    format!(
                        "single-master takes exactly one control plane, found {control_planes} ({}); for several choose stacked-ha",
                        names(Role::ControlPlane)
                    ),
                ));
            }
            if dedicated_workers == 0 {
                out.push(Diagnostic::error(
                    "topology",
                    "single-master needs at least one worker host; for one host that runs everything choose single-node",
                ));
            }
        }
        Topology::StackedHa => {
            quorum(
                out,
                "control planes",
                control_planes,
                &names(Role::ControlPlane),
                topology,
            );
        }
        Topology::ExternalEtcd => {
            quorum(out, "etcd hosts", etcd, &names(Role::Etcd), topology);
            if control_planes < 2 {
                out.push(Diagnostic::error(
                    "topology",
                    format!(
                        "external-etcd needs at least 2 control planes to be highly available, found {control_planes} ({})",
                        names(Role::ControlPlane)
                    ),
                ));
            }
        }
    }
    let balancers = spec.hosts_with(Role::LoadBalancer).count();
    if balancers == 1 && topology.is_ha() {
        out.push(Diagnostic::warning(
            "topology",
            format!(
                "{} is the only load-balancer host: a single point of failure; add a second for keepalived to fail over to",
                names(Role::LoadBalancer)
            ),
        ));
    }
}

/// etcd needs a majority: at least 3 members, and an even count tolerates no more
/// failures than one member fewer.
fn quorum(out: &mut Vec<Diagnostic>, what: &str, count: usize, names: &str, topology: Topology) {
    if count < 3 {
        out.push(Diagnostic::error(
            "topology",
            format!(
                "{topology} needs at least 3 {what} for etcd to keep quorum when one fails, found {count} ({names})"
            ),
        ));
    } else if count.is_multiple_of(2) {
        out.push(Diagnostic::warning(
            "topology",
            format!(
                "{count} {what}: an even number survives no more failures than {} (etcd quorum); use an odd number",
                count - 1
            ),
        ));
    }
}
