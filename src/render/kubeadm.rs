//! kubeadm's v1beta4 configuration, from serde types: the first control plane's
//! Init + Cluster + Kubelet + KubeProxy configuration, and a join configuration for
//! every other control plane and every worker.
//!
//! Both carry the bootstrap token, so both are 0600.

use std::net::IpAddr;

use serde::Serialize;

use super::pki::K8S_PKI_DIR;
use super::{API_SERVER_PORT, File, Layout, LbLayout, MODE_PRIVATE, Purpose};
use crate::pki::Pki;
use crate::spec::{EndpointHost, HostSpec, Role};

/// Where the first control plane's configuration goes.
pub const INIT_CONFIG: &str = "/etc/kubewiz/kubeadm-init.yaml";
/// Where every joining host's configuration goes.
pub const JOIN_CONFIG: &str = "/etc/kubewiz/kubeadm-join.yaml";

pub const API_VERSION: &str = "kubeadm.k8s.io/v1beta4";
pub const CRI_SOCKET: &str = "unix:///var/run/containerd/containerd.sock";

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InitConfiguration<'a> {
    api_version: &'a str,
    kind: &'a str,
    bootstrap_tokens: Vec<BootstrapToken<'a>>,
    #[serde(rename = "localAPIEndpoint")]
    local_api_endpoint: ApiEndpoint,
    node_registration: NodeRegistration<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BootstrapToken<'a> {
    token: &'a str,
    description: &'a str,
    ttl: &'a str,
    usages: [&'a str; 2],
    groups: [&'a str; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiEndpoint {
    advertise_address: IpAddr,
    bind_port: u16,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct NodeRegistration<'a> {
    name: &'a str,
    cri_socket: &'a str,
    /// None keeps kubeadm's control-plane taint; an empty list removes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    taints: Option<Vec<()>>,
    kubelet_extra_args: Vec<Arg>,
}

/// kube-apiserver's arguments beyond kubeadm's. Behind haproxy, a stopping API server
/// serves on until haproxy's checks have taken it out of rotation
/// ([`super::lb::apiserver_shutdown_delay_secs`]), so its restarts fail no request.
fn api_server_args(layout: &Layout) -> Vec<Arg> {
    match layout.lb {
        LbLayout::HaproxyKeepalived { .. } => vec![Arg {
            name: "shutdown-delay-duration",
            value: format!("{}s", super::lb::apiserver_shutdown_delay_secs()),
        }],
        _ => Vec::new(),
    }
}

/// v1beta4's list form of extra arguments.
#[derive(Serialize)]
struct Arg {
    name: &'static str,
    value: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClusterConfiguration<'a> {
    api_version: &'a str,
    kind: &'a str,
    cluster_name: &'a str,
    kubernetes_version: String,
    control_plane_endpoint: String,
    certificates_dir: &'a str,
    image_repository: &'a str,
    encryption_algorithm: &'a str,
    networking: Networking,
    api_server: ApiServer,
    etcd: Etcd,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Networking {
    pod_subnet: String,
    service_subnet: String,
    dns_domain: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ApiServer {
    #[serde(rename = "certSANs")]
    cert_sans: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    extra_args: Vec<Arg>,
}

/// `etcd.local` and `etcd.external` are mutually exclusive; a struct of two options
/// (not an enum, which YAML would write with a tag) gives kubeadm's shape.
#[derive(Serialize)]
struct Etcd {
    #[serde(skip_serializing_if = "Option::is_none")]
    local: Option<LocalEtcd>,
    #[serde(skip_serializing_if = "Option::is_none")]
    external: Option<ExternalEtcd>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct LocalEtcd {
    data_dir: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ExternalEtcd {
    endpoints: Vec<String>,
    ca_file: String,
    cert_file: String,
    key_file: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KubeletConfiguration<'a> {
    api_version: &'a str,
    kind: &'a str,
    cgroup_driver: &'a str,
    cluster_domain: String,
    #[serde(rename = "clusterDNS")]
    cluster_dns: Vec<IpAddr>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct KubeProxyConfiguration<'a> {
    api_version: &'a str,
    kind: &'a str,
    #[serde(rename = "clusterCIDR")]
    cluster_cidr: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JoinConfiguration<'a> {
    api_version: &'a str,
    kind: &'a str,
    discovery: Discovery<'a>,
    node_registration: NodeRegistration<'a>,
    #[serde(skip_serializing_if = "Option::is_none")]
    control_plane: Option<JoinControlPlane>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Discovery<'a> {
    bootstrap_token: DiscoveryToken<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct DiscoveryToken<'a> {
    api_server_endpoint: String,
    token: &'a str,
    ca_cert_hashes: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JoinControlPlane {
    #[serde(rename = "localAPIEndpoint")]
    local_api_endpoint: ApiEndpoint,
}

/// The kubeadm configuration of every control plane and worker.
pub fn files(layout: &Layout, pki: &Pki) -> Vec<File> {
    let first = layout.first_control_plane();
    let mut out = vec![File::host(
        Purpose::Kubeadm,
        first.name.as_str(),
        INIT_CONFIG,
        MODE_PRIVATE,
        init_config(layout, pki),
    )];
    let hash = pki.ca_cert_hash();
    for cp in &layout.control_planes[1..] {
        out.push(File::host(
            Purpose::Kubeadm,
            cp.name.as_str(),
            JOIN_CONFIG,
            MODE_PRIVATE,
            join_config(layout, pki, &hash, cp, true),
        ));
    }
    for worker in &layout.workers {
        out.push(File::host(
            Purpose::Kubeadm,
            worker.name.as_str(),
            JOIN_CONFIG,
            MODE_PRIVATE,
            join_config(layout, pki, &hash, worker, false),
        ));
    }
    out
}

fn registration<'a>(host: &'a HostSpec, layout: &Layout) -> NodeRegistration<'a> {
    // A control plane that is also a worker (and the single node) runs workloads: an
    // empty taint list removes kubeadm's control-plane taint.
    let untainted = host.has(Role::ControlPlane)
        && (host.has(Role::Worker) || layout.spec.topology == crate::spec::Topology::SingleNode);
    NodeRegistration {
        name: host.name.as_str(),
        cri_socket: CRI_SOCKET,
        taints: untainted.then(Vec::new),
        // The kubelet otherwise picks the address of the default route, which on a
        // host with two networks may not be the one the cluster uses.
        kubelet_extra_args: vec![Arg {
            name: "node-ip",
            value: host.address.to_string(),
        }],
    }
}

fn yaml_docs(docs: &[String]) -> String {
    docs.join("---\n")
}

fn init_config(layout: &Layout, pki: &Pki) -> String {
    let spec = layout.spec;
    let first = layout.first_control_plane();
    let init = InitConfiguration {
        api_version: API_VERSION,
        kind: "InitConfiguration",
        bootstrap_tokens: vec![BootstrapToken {
            token: &pki.bootstrap_token,
            description: "kubewiz: lets the cluster's hosts join",
            ttl: "24h0m0s",
            usages: ["signing", "authentication"],
            groups: ["system:bootstrappers:kubeadm:default-node-token"],
        }],
        local_api_endpoint: ApiEndpoint {
            advertise_address: first.address,
            bind_port: API_SERVER_PORT,
        },
        node_registration: registration(first, layout),
    };
    let mut sans = Vec::new();
    if let EndpointHost::Name(name) = &layout.endpoint {
        sans.push(name.to_string());
    }
    sans.extend(layout.vip.map(|v| v.to_string()));
    let etcd = if layout.etcd.is_empty() {
        Etcd {
            local: Some(LocalEtcd {
                data_dir: "/var/lib/etcd",
            }),
            external: None,
        }
    } else {
        Etcd {
            local: None,
            external: Some(ExternalEtcd {
                endpoints: layout
                    .etcd
                    .iter()
                    .map(|m| super::etcd::client_url(m.address))
                    .collect(),
                ca_file: format!("{K8S_PKI_DIR}/etcd/ca.crt"),
                cert_file: format!("{K8S_PKI_DIR}/apiserver-etcd-client.crt"),
                key_file: format!("{K8S_PKI_DIR}/apiserver-etcd-client.key"),
            }),
        }
    };
    let cluster = ClusterConfiguration {
        api_version: API_VERSION,
        kind: "ClusterConfiguration",
        cluster_name: spec.name.as_str(),
        kubernetes_version: spec.kubernetes.version.tag(),
        control_plane_endpoint: layout.control_plane_endpoint(),
        certificates_dir: K8S_PKI_DIR,
        image_repository: spec.kubernetes.image_repository.as_str(),
        encryption_algorithm: spec.kubernetes.encryption_algorithm.as_str(),
        networking: Networking {
            pod_subnet: spec.kubernetes.pod_cidr.to_string(),
            service_subnet: spec.kubernetes.service_cidr.to_string(),
            dns_domain: spec.kubernetes.dns_domain.to_string(),
        },
        api_server: ApiServer {
            cert_sans: sans,
            extra_args: api_server_args(layout),
        },
        etcd,
    };
    let kubelet = KubeletConfiguration {
        api_version: "kubelet.config.k8s.io/v1beta1",
        kind: "KubeletConfiguration",
        cgroup_driver: "systemd",
        cluster_domain: spec.kubernetes.dns_domain.to_string(),
        cluster_dns: vec![layout.cluster_dns_ip()],
    };
    let proxy = KubeProxyConfiguration {
        api_version: "kubeproxy.config.k8s.io/v1alpha1",
        kind: "KubeProxyConfiguration",
        cluster_cidr: spec.kubernetes.pod_cidr.to_string(),
    };
    yaml_docs(&[yaml(&init), yaml(&cluster), yaml(&kubelet), yaml(&proxy)])
}

fn join_config(
    layout: &Layout,
    pki: &Pki,
    hash: &str,
    host: &HostSpec,
    control_plane: bool,
) -> String {
    let join = JoinConfiguration {
        api_version: API_VERSION,
        kind: "JoinConfiguration",
        discovery: Discovery {
            bootstrap_token: DiscoveryToken {
                api_server_endpoint: layout.control_plane_endpoint(),
                token: &pki.bootstrap_token,
                ca_cert_hashes: vec![hash.to_owned()],
            },
        },
        node_registration: registration(host, layout),
        control_plane: control_plane.then_some(JoinControlPlane {
            local_api_endpoint: ApiEndpoint {
                advertise_address: host.address,
                bind_port: API_SERVER_PORT,
            },
        }),
    };
    yaml(&join)
}

fn yaml(value: &impl Serialize) -> String {
    serde_yaml_ng::to_string(value).expect("kubeadm configuration always serializes")
}
