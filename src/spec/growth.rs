//! What an apply may change on a cluster that is installed, read by comparing its
//! preset with the one the cluster's last run applied: it may add hosts of any role
//! (the others' haproxy backends and keepalived peers follow from their files,
//! reloaded by the load-balancer phase; a stacked control plane's etcd member is added
//! by kubeadm join, an external etcd host joins the running cluster in the etcd phase
//! and the API servers' etcd servers follow), and nothing else yet. Anything that
//! would change a host already in the cluster or a setting all of them share (a pod
//! CIDR, a version, a host's address or roles, a host taken out, another control plane
//! listed first) is refused with what
//! differs and what to do, before anything is contacted: the journal would redo such
//! steps on a running cluster in an order no one has proven.

use super::{ClusterSpec, Diagnostic, HostSpec, Role};

/// A setting of a spec, as text.
type Read = fn(&ClusterSpec) -> String;

/// The settings every host of a cluster shares, as the preset names them, each read
/// the way the message shows it.
const SHARED: [(&str, Read); 10] = [
    ("topology", |s| s.topology.to_string()),
    ("kubernetes.version", |s| s.kubernetes.version.to_string()),
    ("kubernetes.pod_cidr", |s| s.kubernetes.pod_cidr.to_string()),
    ("kubernetes.service_cidr", |s| {
        s.kubernetes.service_cidr.to_string()
    }),
    ("kubernetes.dns_domain", |s| {
        s.kubernetes.dns_domain.to_string()
    }),
    ("kubernetes.cni", |s| {
        format!("{:?}", s.kubernetes.cni).to_lowercase()
    }),
    ("control_plane.endpoint", |s| {
        s.control_plane
            .endpoint
            .as_ref()
            .map_or_else(|| "unset".to_owned(), ToString::to_string)
    }),
    ("control_plane.port", |s| s.control_plane.port.to_string()),
    ("control_plane.vip", |s| {
        s.control_plane
            .vip
            .map_or_else(|| "unset".to_owned(), |v| v.to_string())
    }),
    ("control_plane.load_balancer", |s| {
        s.control_plane.load_balancer.to_string()
    }),
];

/// The hosts `new` adds to the installed cluster `installed` (a worker by its name,
/// any other with its roles: `kubemaster-4 (control-plane)`), or what it changes
/// beyond that.
pub fn check(installed: &ClusterSpec, new: &ClusterSpec) -> Result<Vec<String>, Vec<Diagnostic>> {
    let mut problems = Vec::new();
    for (path, read) in SHARED {
        let (was, is) = (read(installed), read(new));
        if was != is {
            let message = if path == "kubernetes.version"
                && new.kubernetes.version > installed.kubernetes.version
            {
                format!(
                    "differs from the installed cluster's ({was}): a version changes with `kubewiz upgrade --preset FILE --to {is}`, one minor at a time; apply keeps the installed one"
                )
            } else if path == "kubernetes.version" {
                format!(
                    "the cluster runs {was}; set it to that (kubeadm does not downgrade; a backup taken before an upgrade restores the older version)"
                )
            } else {
                format!(
                    "differs from the installed cluster's ({was}); changing it on a running cluster is not built: set it back as it was"
                )
            };
            problems.push(Diagnostic::error(path, message));
        }
    }
    let mut added = Vec::new();
    for (i, host) in new.hosts.iter().enumerate() {
        match installed.hosts.iter().find(|h| h.name == host.name) {
            Some(was) => {
                if was.address != host.address {
                    problems.push(Diagnostic::error(
                        format!("hosts[{i}].address"),
                        format!(
                            "{} was installed at {}; moving a host is not built: set it back, or reset the cluster and install it again",
                            host.name, was.address
                        ),
                    ));
                }
                if was.roles != host.roles {
                    problems.push(Diagnostic::error(
                        format!("hosts[{i}].roles"),
                        format!(
                            "{} was installed as {}; changing a host's roles is not built: set them back",
                            host.name,
                            roles(was)
                        ),
                    ));
                }
            }
            None if host.roles == [Role::Worker] => added.push(host.name.to_string()),
            None => added.push(format!("{} ({})", host.name, roles(host))),
        }
    }
    // The first control plane acts on the cluster (and ran `kubeadm init`): a preset
    // that lists another one first would have that one act, or a new host start a
    // second cluster. One taken out or replaced makes the next one the first.
    let first = |spec: &ClusterSpec| {
        spec.hosts
            .iter()
            .find(|h| h.roles.contains(&Role::ControlPlane))
            .map(|h| h.name.clone())
    };
    if let (Some(was), Some(is)) = (first(installed), first(new))
        && was != is
        && new.hosts.iter().any(|h| h.name == was)
    {
        problems.push(Diagnostic::error(
            "hosts",
            format!(
                "{was} is the installed cluster's first control plane, but the preset lists {is} first; kubewiz acts on the cluster from the first one and a new first one would run kubeadm init: move {was}'s [[hosts]] entry before the other control planes'"
            ),
        ));
    }
    for was in &installed.hosts {
        if !new.hosts.iter().any(|h| h.name == was.name) {
            problems.push(Diagnostic::error(
                "hosts",
                format!(
                    "{} ({}) is in the installed cluster but not in the preset; a host is taken out with `kubewiz node remove {}`: put its [[hosts]] entry back until then",
                    was.name, was.address, was.name
                ),
            ));
        }
    }
    if problems.is_empty() {
        Ok(added)
    } else {
        Err(problems)
    }
}

fn roles(host: &HostSpec) -> String {
    let names: Vec<String> = host.roles.iter().map(ToString::to_string).collect();
    names.join(" + ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(name: &str) -> ClusterSpec {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("presets")
            .join(name);
        crate::spec::load_file(&path).unwrap().spec
    }

    fn messages(result: Result<Vec<String>, Vec<Diagnostic>>) -> Vec<String> {
        result
            .unwrap_err()
            .into_iter()
            .map(|d| format!("{}: {}", d.path, d.message))
            .collect()
    }

    #[test]
    fn the_first_control_plane_stays_first() {
        let installed = spec("stacked-ha.toml");
        let mut swapped = installed.clone();
        let a = swapped
            .hosts
            .iter()
            .position(|h| h.name.as_str() == "kubemaster-1")
            .unwrap();
        let b = swapped
            .hosts
            .iter()
            .position(|h| h.name.as_str() == "kubemaster-2")
            .unwrap();
        swapped.hosts.swap(a, b);
        assert_eq!(
            messages(check(&installed, &swapped)),
            [
                "hosts: kubemaster-1 is the installed cluster's first control plane, but the preset lists kubemaster-2 first; kubewiz acts on the cluster from the first one and a new first one would run kubeadm init: move kubemaster-1's [[hosts]] entry before the other control planes'"
            ]
        );
        // Workers and load balancers may be listed in any order.
        let mut reordered = installed.clone();
        reordered.hosts.reverse();
        let cps: Vec<_> = installed
            .hosts
            .iter()
            .filter(|h| h.roles.contains(&Role::ControlPlane))
            .cloned()
            .collect();
        reordered
            .hosts
            .retain(|h| !h.roles.contains(&Role::ControlPlane));
        reordered.hosts.extend(cps);
        assert_eq!(check(&installed, &reordered), Ok(vec![]));
    }

    #[test]
    fn hosts_may_be_added_and_nothing_else() {
        let installed = spec("single-master.toml");
        assert_eq!(check(&installed, &installed), Ok(vec![]));

        let mut grown = installed.clone();
        let mut worker = grown.hosts.last().unwrap().clone();
        worker.name = "kubenode-9".parse().unwrap();
        worker.address = "192.168.122.29".parse().unwrap();
        grown.hosts.push(worker.clone());
        assert_eq!(check(&installed, &grown), Ok(vec!["kubenode-9".to_owned()]));

        let mut control_plane = worker.clone();
        control_plane.name = "kubemaster-2".parse().unwrap();
        control_plane.roles = vec![Role::ControlPlane];
        let mut with_cp = grown.clone();
        with_cp.hosts.push(control_plane);
        assert_eq!(
            check(&installed, &with_cp),
            Ok(vec![
                "kubenode-9".to_owned(),
                "kubemaster-2 (control-plane)".to_owned()
            ])
        );

        let mut member = worker;
        member.name = "etcd-4".parse().unwrap();
        member.roles = vec![Role::Etcd];
        let mut with_etcd = grown.clone();
        with_etcd.hosts.push(member);
        assert_eq!(
            check(&installed, &with_etcd),
            Ok(vec!["kubenode-9".to_owned(), "etcd-4 (etcd)".to_owned()])
        );

        let mut moved = installed.clone();
        moved.hosts[1].address = "192.168.122.99".parse().unwrap();
        moved.hosts.remove(3);
        moved.kubernetes.pod_cidr = "10.32.0.0/16".parse().unwrap();
        let said = messages(check(&installed, &moved));
        assert_eq!(
            said,
            [
                "kubernetes.pod_cidr: differs from the installed cluster's (10.244.0.0/16); changing it on a running cluster is not built: set it back as it was",
                "hosts[1].address: kubenode-1 was installed at 192.168.122.21; moving a host is not built: set it back, or reset the cluster and install it again",
                "hosts: kubenode-3 (192.168.122.23) is in the installed cluster but not in the preset; a host is taken out with `kubewiz node remove kubenode-3`: put its [[hosts]] entry back until then",
            ]
        );
    }
}
