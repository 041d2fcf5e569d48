//! Which certificates a cluster needs, with kubeadm's names, subjects, key usages and
//! SANs (reference/kubeadm.md §1), derived from the layout alone.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::spec::EndpointHost;
use crate::spec::layout::Layout;

/// The three certificate authorities of a kubeadm cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Authority {
    Kubernetes,
    FrontProxy,
    Etcd,
}

impl Authority {
    pub const ALL: [Authority; 3] = [
        Authority::Kubernetes,
        Authority::FrontProxy,
        Authority::Etcd,
    ];

    /// kubeadm's file stem under /etc/kubernetes/pki.
    pub fn stem(self) -> &'static str {
        match self {
            Authority::Kubernetes => "ca",
            Authority::FrontProxy => "front-proxy-ca",
            Authority::Etcd => "etcd/ca",
        }
    }

    /// kubeadm's CN for the CA (certlist.go; the docs' names differ from the code's).
    pub fn common_name(self) -> &'static str {
        match self {
            Authority::Kubernetes => "kubernetes",
            Authority::FrontProxy => "front-proxy-ca",
            Authority::Etcd => "etcd-ca",
        }
    }
}

/// Extended key usage.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Usage {
    Server,
    Client,
    /// etcd's member certificates are used both ways (an etcd 3.2 quirk kubeadm keeps).
    ServerAndClient,
}

/// A leaf certificate: one per host for per-node certificates, or one for the cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LeafId {
    /// The host the certificate belongs to; None for a cluster-wide certificate.
    pub host: Option<String>,
    /// kubeadm's file stem: `apiserver`, `etcd/server`, ...
    pub name: &'static str,
}

impl LeafId {
    pub fn of_host(host: &str, name: &'static str) -> Self {
        LeafId {
            host: Some(host.to_owned()),
            name,
        }
    }

    pub fn cluster(name: &'static str) -> Self {
        LeafId { host: None, name }
    }

    /// Path stem inside the state directory's pki/.
    pub fn stem(&self) -> String {
        match &self.host {
            Some(host) => format!("hosts/{host}/{}", self.name),
            None => self.name.to_owned(),
        }
    }
}

impl std::fmt::Display for LeafId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.host {
            Some(host) => write!(f, "{host}/{}", self.name),
            None => f.write_str(self.name),
        }
    }
}

/// What a leaf must look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeafProfile {
    pub id: LeafId,
    pub authority: Authority,
    pub common_name: String,
    pub organization: Option<&'static str>,
    pub usage: Usage,
    pub dns_names: Vec<String>,
    pub ips: Vec<IpAddr>,
}

/// The group kubeadm binds to cluster-admin (was system:masters before 1.29).
pub const CLUSTER_ADMINS: &str = "kubeadm:cluster-admins";
/// The operator's own client certificate for `local/admin.conf`: a user of its own in
/// the API server's audit log, with the group kubeadm binds to cluster-admin.
pub const OPERATOR_USER: &str = "kubewiz-admin";

/// Leaf names, as kubeadm spells them.
pub const APISERVER: &str = "apiserver";
pub const APISERVER_KUBELET_CLIENT: &str = "apiserver-kubelet-client";
pub const FRONT_PROXY_CLIENT: &str = "front-proxy-client";
pub const APISERVER_ETCD_CLIENT: &str = "apiserver-etcd-client";
pub const ETCD_SERVER: &str = "etcd/server";
pub const ETCD_PEER: &str = "etcd/peer";
pub const ETCD_HEALTHCHECK_CLIENT: &str = "etcd/healthcheck-client";
pub const OPERATOR_ADMIN: &str = "admin";

/// The kubeconfigs `kubeadm init` and `join` write on a control plane with a client
/// certificate embedded, as kubeadm's `certs renew` renews them: file name, CN, O.
/// kubelet.conf is not among them: the kubelet rotates its own certificate.
pub const KUBECONFIGS: [(&str, &str, Option<&str>); 4] = [
    ("admin.conf", "kubernetes-admin", Some(CLUSTER_ADMINS)),
    (
        "super-admin.conf",
        "kubernetes-super-admin",
        Some("system:masters"),
    ),
    (
        "controller-manager.conf",
        "system:kube-controller-manager",
        None,
    ),
    ("scheduler.conf", "system:kube-scheduler", None),
];

/// The client certificates of each control plane's kubeconfigs ([`KUBECONFIGS`]):
/// kubeadm makes them at install; kubewiz issues them on `certs renew` and keeps
/// them in the state directory from then on.
pub fn kubeconfig_leaves(layout: &Layout) -> Vec<LeafProfile> {
    let mut out = Vec::new();
    for cp in &layout.control_planes {
        for (file, cn, org) in KUBECONFIGS {
            out.push(client(
                LeafId::of_host(cp.name.as_str(), file),
                Authority::Kubernetes,
                cn,
                org,
            ));
        }
    }
    out
}

/// Whether `id` is the client certificate of a control plane's kubeconfig.
pub fn is_kubeconfig(id: &LeafId) -> bool {
    KUBECONFIGS.iter().any(|(file, _, _)| *file == id.name)
}

/// Every leaf the cluster needs.
pub fn leaves(layout: &Layout) -> Vec<LeafProfile> {
    let mut out = Vec::new();
    let external_etcd = !layout.etcd.is_empty();
    for cp in &layout.control_planes {
        let name = cp.name.as_str();
        out.push(apiserver(layout, name, cp.address));
        out.push(client(
            LeafId::of_host(name, APISERVER_KUBELET_CLIENT),
            Authority::Kubernetes,
            "kube-apiserver-kubelet-client",
            Some(CLUSTER_ADMINS),
        ));
        out.push(client(
            LeafId::of_host(name, FRONT_PROXY_CLIENT),
            Authority::FrontProxy,
            "front-proxy-client",
            None,
        ));
        if !external_etcd {
            out.push(etcd_member(name, cp.address, ETCD_SERVER));
            out.push(etcd_member(name, cp.address, ETCD_PEER));
            out.push(client(
                LeafId::of_host(name, ETCD_HEALTHCHECK_CLIENT),
                Authority::Etcd,
                "kube-etcd-healthcheck-client",
                None,
            ));
            out.push(client(
                LeafId::of_host(name, APISERVER_ETCD_CLIENT),
                Authority::Etcd,
                "kube-apiserver-etcd-client",
                None,
            ));
        }
    }
    if external_etcd {
        for member in &layout.etcd {
            out.push(etcd_member(
                member.name.as_str(),
                member.address,
                ETCD_SERVER,
            ));
            out.push(etcd_member(member.name.as_str(), member.address, ETCD_PEER));
        }
        out.push(client(
            LeafId::cluster(APISERVER_ETCD_CLIENT),
            Authority::Etcd,
            "kube-apiserver-etcd-client",
            None,
        ));
        out.push(client(
            LeafId::cluster(ETCD_HEALTHCHECK_CLIENT),
            Authority::Etcd,
            "kube-etcd-healthcheck-client",
            None,
        ));
    }
    out.push(client(
        LeafId::cluster(OPERATOR_ADMIN),
        Authority::Kubernetes,
        OPERATOR_USER,
        Some(CLUSTER_ADMINS),
    ));
    out
}

fn client(id: LeafId, authority: Authority, cn: &str, org: Option<&'static str>) -> LeafProfile {
    LeafProfile {
        id,
        authority,
        common_name: cn.to_owned(),
        organization: org,
        usage: Usage::Client,
        dns_names: Vec::new(),
        ips: Vec::new(),
    }
}

/// kube-apiserver's serving certificate: the node, the in-cluster names, the first
/// service address, and every name clients use for the endpoint (the VIP and the
/// endpoint name included: their absence is the most common HA failure).
fn apiserver(layout: &Layout, node: &str, address: IpAddr) -> LeafProfile {
    let domain = layout.spec.kubernetes.dns_domain.as_str();
    let mut dns_names = vec![
        node.to_owned(),
        "kubernetes".to_owned(),
        "kubernetes.default".to_owned(),
        "kubernetes.default.svc".to_owned(),
        format!("kubernetes.default.svc.{domain}"),
    ];
    let mut ips = vec![layout.first_service_ip(), address];
    match &layout.endpoint {
        EndpointHost::Ip(ip) => ips.push(*ip),
        EndpointHost::Name(name) => dns_names.push(name.to_string()),
    }
    ips.extend(layout.vip);
    dedup(&mut dns_names);
    dedup(&mut ips);
    LeafProfile {
        id: LeafId::of_host(node, APISERVER),
        authority: Authority::Kubernetes,
        common_name: "kube-apiserver".to_owned(),
        organization: None,
        usage: Usage::Server,
        dns_names,
        ips,
    }
}

/// An etcd member's server or peer certificate: CN is the member's name.
fn etcd_member(node: &str, address: IpAddr, name: &'static str) -> LeafProfile {
    let mut ips = vec![
        address,
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ];
    dedup(&mut ips);
    LeafProfile {
        id: LeafId::of_host(node, name),
        authority: Authority::Etcd,
        common_name: node.to_owned(),
        organization: None,
        usage: Usage::ServerAndClient,
        dns_names: vec![node.to_owned(), "localhost".to_owned()],
        ips,
    }
}

fn dedup<T: PartialEq + Clone>(items: &mut Vec<T>) {
    let mut seen: Vec<T> = Vec::new();
    items.retain(|i| {
        let new = !seen.contains(i);
        if new {
            seen.push(i.clone());
        }
        new
    });
}
