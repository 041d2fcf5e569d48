//! What each host's roles require of it, for the preflight checks (reference/kubeadm.md
//! §4: ports, CPU, memory) and the plan's text of them.

use crate::spec::layout::{Layout, LbLayout};
use crate::spec::{Cni, HostSpec, PackageSource};

/// What one host must offer, by its roles.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HostNeeds {
    pub control_plane: bool,
    /// Runs a kubelet (control plane or worker).
    pub node: bool,
    /// An external etcd member.
    pub etcd: bool,
    /// The first control plane of a cluster whose CNI is installed with helm, online
    /// (an install from a bundle brings helm itself).
    pub helm: bool,
    /// Ports that must be free.
    pub ports: Vec<u16>,
    /// The install puts packages on it: apt-get or dnf must be there.
    pub package_manager: bool,
}

impl HostNeeds {
    pub fn of(layout: &Layout, host: &str) -> HostNeeds {
        let is = |list: &[&HostSpec]| list.iter().any(|h| h.name.as_str() == host);
        let control_plane = is(&layout.control_planes);
        HostNeeds {
            control_plane,
            node: control_plane || is(&layout.workers),
            etcd: is(&layout.etcd),
            helm: control_plane
                && layout.first_control_plane().name.as_str() == host
                && layout.spec.kubernetes.cni == Cni::Cilium
                && layout.spec.packages.source == PackageSource::Online,
            ports: required_ports(layout, host),
            package_manager: needs_package_manager(layout, host),
        }
    }
}

/// The ports a host's roles need free (reference/kubeadm.md §4).
pub fn required_ports(layout: &Layout, host: &str) -> Vec<u16> {
    let is = |list: &[&HostSpec]| list.iter().any(|h| h.name.as_str() == host);
    let mut ports = Vec::new();
    if is(&layout.control_planes) {
        ports.extend([6443, 10250, 10257, 10259]);
        if layout.etcd.is_empty() {
            ports.extend([2379, 2380]);
        }
    } else if is(&layout.workers) {
        ports.extend([10250, 10256]);
    }
    if is(&layout.etcd) {
        ports.extend([2379, 2380]);
    }
    if let LbLayout::HaproxyKeepalived {
        hosts,
        frontend_port,
        ..
    } = &layout.lb
        && is(hosts)
    {
        ports.push(*frontend_port);
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// True when the install puts packages on `host`: Kubernetes on nodes and etcd on its
/// hosts (online source), haproxy and keepalived on load balancers.
pub fn needs_package_manager(layout: &Layout, host: &str) -> bool {
    let is = |list: &[&HostSpec]| list.iter().any(|h| h.name.as_str() == host);
    let node_or_etcd = is(&layout.control_planes) || is(&layout.workers) || is(&layout.etcd);
    let balancer = matches!(&layout.lb, LbLayout::HaproxyKeepalived { hosts, .. } if is(hosts));
    layout.spec.packages.source == PackageSource::Online && node_or_etcd || balancer
}
