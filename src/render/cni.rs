//! The pod network (`Purpose::Cni`): the cluster-specific part of the chosen CNI,
//! written to the first control plane, where the install applies it with the
//! admin kubeconfig after `kubeadm init`.
//!
//! Each CNI needs the pod CIDR kubeadm allocates node podCIDRs from (the reference,
//! section 5); the upstream manifests carry other defaults, which is why these files
//! exist. What the install does at the CNI phase, in order:
//!
//! - calico: `kubectl create -f` (or `apply --server-side`: the CRDs are too large for
//!   a client-side apply's annotation) each of [`manifests`] (the CRDs, then the
//!   operator), wait until the CRD `installations.operator.tigera.io` is established,
//!   then `kubectl apply -f` [`config_path`]. The operator reads ip pools once: a later
//!   change to the Installation's pools is not applied.
//! - flannel: `kubectl apply -f` [`manifests`] (which creates the namespace and a
//!   default ConfigMap), then `kubectl apply -f` [`config_path`] to replace that
//!   ConfigMap, then `kubectl -n kube-flannel rollout restart daemonset/kube-flannel-ds`
//!   so that no pod keeps the default network.
//! - cilium: no manifest; `helm upgrade --install cilium` with the [`chart`] (from
//!   Cilium's Helm repository, or the bundle's file) `--namespace kube-system --values`
//!   [`config_path`].
//! - none: nothing; the operator installs a CNI themselves.
//!
//! An install from a bundle (`packages.source = "bundle"`) fetches none of them: the
//! bundle carries each under [`Upstream::bundle_path`], and the install puts it on the
//! first control plane and applies it from there ([`bundle_needs`] lists what the
//! bundle must hold).

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Serialize;

use super::{File, Layout, MODE_PUBLIC, Purpose};
use crate::spec::{ClusterSpec, Cni, EndpointHost};

/// The Calico release whose Tigera operator the install applies.
pub const CALICO_VERSION: &str = "v3.30.3";
/// The flannel release whose manifest the install applies.
pub const FLANNEL_VERSION: &str = "v0.27.4";
/// The Cilium Helm chart version the install deploys. The 1.19 line is the one tested
/// against Kubernetes 1.31 to 1.34.
pub const CILIUM_VERSION: &str = "1.19.3";
/// Where the CNI files go on the first control plane.
pub const CNI_DIR: &str = "/etc/kubewiz/cni";

/// The first control plane's CNI file for this spec's CNI, which the install applies
/// (calico, flannel) or passes to Helm (cilium); None for `cni = "none"`.
pub fn config_path(spec: &ClusterSpec) -> Option<String> {
    let name = match spec.kubernetes.cni {
        Cni::Calico => "calico-installation.yaml",
        Cni::Flannel => "flannel-net-conf.yaml",
        Cni::Cilium => "cilium-values.yaml",
        Cni::None => return None,
    };
    Some(format!("{CNI_DIR}/{name}"))
}

/// A file the CNI phase takes from upstream: where an online install fetches it, and
/// the name an air-gap bundle carries it under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upstream {
    /// What it is, for the operator: `flannel v0.27.4's kube-flannel.yml`.
    pub what: String,
    /// Where it is published.
    pub url: String,
    /// Its path inside the bundle directory: `manifests/kube-flannel-v0.27.4.yml`.
    pub bundle_path: String,
}

impl Upstream {
    /// The file's name, without the bundle's directory.
    pub fn file_name(&self) -> &str {
        self.bundle_path
            .rsplit_once('/')
            .map_or(self.bundle_path.as_str(), |(_, name)| name)
    }
}

/// Where a bundle keeps the CNI's manifests.
pub const BUNDLE_MANIFESTS: &str = "manifests";
/// Where a bundle keeps Helm charts.
pub const BUNDLE_CHARTS: &str = "charts";

fn manifest(what: String, url: String, name: String) -> Upstream {
    Upstream {
        what,
        url,
        bundle_path: format!("{BUNDLE_MANIFESTS}/{name}"),
    }
}

/// The upstream manifests the install applies at the CNI phase, in order, before
/// [`config_path`]. Empty for cilium, which is installed from its Helm chart with the
/// values file, and for none.
pub fn manifests(spec: &ClusterSpec) -> Vec<Upstream> {
    let calico = |file: &str| {
        let stem = file.trim_end_matches(".yaml");
        manifest(
            format!("Calico {CALICO_VERSION}'s {file}"),
            format!(
                "https://raw.githubusercontent.com/projectcalico/calico/{CALICO_VERSION}/manifests/{file}"
            ),
            format!("calico-{stem}-{CALICO_VERSION}.yaml"),
        )
    };
    match spec.kubernetes.cni {
        // The CRDs first: Calico 3.30 publishes them apart from the operator.
        Cni::Calico => vec![calico("operator-crds.yaml"), calico("tigera-operator.yaml")],
        Cni::Flannel => vec![manifest(
            format!("flannel {FLANNEL_VERSION}'s kube-flannel.yml"),
            format!(
                "https://github.com/flannel-io/flannel/releases/download/{FLANNEL_VERSION}/kube-flannel.yml"
            ),
            format!("kube-flannel-{FLANNEL_VERSION}.yml"),
        )],
        Cni::Cilium | Cni::None => Vec::new(),
    }
}

/// Cilium's Helm chart, which a bundle carries as a file; None for the other CNIs.
pub fn chart(spec: &ClusterSpec) -> Option<Upstream> {
    (spec.kubernetes.cni == Cni::Cilium).then(|| Upstream {
        what: format!("the cilium Helm chart {CILIUM_VERSION}"),
        url: format!("https://helm.cilium.io/cilium-{CILIUM_VERSION}.tgz"),
        bundle_path: format!("{BUNDLE_CHARTS}/cilium-{CILIUM_VERSION}.tgz"),
    })
}

/// The program helm in a bundle: Cilium is installed with it, on the first control
/// plane.
pub const BUNDLE_HELM: &str = "bin/helm";

/// What a bundle must hold for the CNI phase of `spec`: its manifests or chart, and
/// helm for cilium.
pub fn bundle_needs(spec: &ClusterSpec) -> Vec<Upstream> {
    let mut needs = manifests(spec);
    if let Some(chart) = chart(spec) {
        needs.push(chart);
        needs.push(Upstream {
            what: "helm 3 for the hosts' architecture".into(),
            url: "https://github.com/helm/helm/releases".into(),
            bundle_path: BUNDLE_HELM.into(),
        });
    }
    needs
}

/// The CNI file for the first control plane, if the CNI needs one.
pub fn files(layout: &Layout) -> Vec<File> {
    let spec = layout.spec;
    let content = match spec.kubernetes.cni {
        Cni::Calico => calico(spec),
        Cni::Flannel => flannel(spec),
        Cni::Cilium => cilium(layout),
        Cni::None => return Vec::new(),
    };
    let path = config_path(spec).expect("every CNI but none has a file");
    vec![File::host(
        Purpose::Cni,
        layout.first_control_plane().name.as_str(),
        path,
        MODE_PUBLIC,
        content,
    )]
}

fn to_yaml(value: &impl Serialize) -> String {
    serde_yaml_ng::to_string(value).expect("plain structs of strings and numbers serialize")
}

/// A YAML document stream with a header comment.
fn yaml_file(header: &str, documents: &[String]) -> String {
    let mut out = String::new();
    for line in header.lines() {
        out.push_str(&format!("# {line}\n"));
    }
    out.push_str(&documents.join("---\n"));
    out
}

fn is_ipv6(spec: &ClusterSpec) -> bool {
    matches!(spec.kubernetes.pod_cidr, IpNet::V6(_))
}

#[derive(Serialize)]
struct Metadata {
    name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    namespace: Option<&'static str>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    labels: BTreeMap<&'static str, &'static str>,
}

impl Metadata {
    fn named(name: &'static str) -> Self {
        Metadata {
            name,
            namespace: None,
            labels: BTreeMap::new(),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Resource<S> {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: S,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct InstallationSpec {
    calico_network: CalicoNetwork,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CalicoNetwork {
    ip_pools: Vec<IpPool>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct IpPool {
    name: &'static str,
    block_size: u8,
    cidr: String,
    encapsulation: &'static str,
    nat_outgoing: &'static str,
    node_selector: &'static str,
}

#[derive(Serialize)]
struct Empty {}

/// The operator's Installation with one pool covering the pod CIDR (Calico's own
/// default is 192.168.0.0/16, which would not match the node podCIDRs), and the
/// APIServer that serves Calico's API through Kubernetes. No `registry`: Calico's
/// images live on quay.io/docker.io, which a registry.k8s.io mirror does not carry.
fn calico(spec: &ClusterSpec) -> String {
    let ipv6 = is_ipv6(spec);
    let pool = IpPool {
        name: if ipv6 {
            "default-ipv6-ippool"
        } else {
            "default-ipv4-ippool"
        },
        // Calico's default block sizes: a /26 or /122 (64 addresses) per node at a time.
        block_size: if ipv6 { 122 } else { 26 },
        cidr: spec.kubernetes.pod_cidr.to_string(),
        // VXLAN only between subnets: VMs on one libvirt network route pods natively.
        encapsulation: "VXLANCrossSubnet",
        nat_outgoing: "Enabled",
        node_selector: "all()",
    };
    let installation = Resource {
        api_version: "operator.tigera.io/v1",
        kind: "Installation",
        metadata: Metadata::named("default"),
        spec: InstallationSpec {
            calico_network: CalicoNetwork {
                ip_pools: vec![pool],
            },
        },
    };
    let api_server = Resource {
        api_version: "operator.tigera.io/v1",
        kind: "APIServer",
        metadata: Metadata::named("default"),
        spec: Empty {},
    };
    yaml_file(
        &format!(
            "Written by kubewiz for cluster {}: Calico {CALICO_VERSION} through the Tigera operator.\n\
             Apply after tigera-operator.yaml, once its CRDs are established.",
            spec.name
        ),
        &[to_yaml(&installation), to_yaml(&api_server)],
    )
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ConfigMap {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    data: BTreeMap<&'static str, String>,
}

/// flannel's CNI configuration, as upstream ships it: the flannel plugin delegating
/// to a bridge (cbr0), plus portmap for hostPort.
fn flannel_cni_conf() -> serde_json::Value {
    serde_json::json!({
        "name": "cbr0",
        "cniVersion": "0.3.1",
        "plugins": [
            {
                "type": "flannel",
                "delegate": { "hairpinMode": true, "isDefaultGateway": true }
            },
            {
                "type": "portmap",
                "capabilities": { "portMappings": true }
            }
        ]
    })
}

/// flannel's network: the pod CIDR, VXLAN between nodes.
fn flannel_net_conf(spec: &ClusterSpec) -> serde_json::Value {
    let cidr = spec.kubernetes.pod_cidr.to_string();
    if is_ipv6(spec) {
        serde_json::json!({
            "EnableIPv4": false,
            "EnableIPv6": true,
            "IPv6Network": cidr,
            "Backend": { "Type": "vxlan" }
        })
    } else {
        serde_json::json!({
            "Network": cidr,
            "Backend": { "Type": "vxlan" }
        })
    }
}

fn pretty_json(value: &serde_json::Value) -> String {
    serde_json::to_string_pretty(value).expect("a JSON value serializes") + "\n"
}

/// The ConfigMap that replaces the one in kube-flannel.yml, whose network is fixed at
/// 10.244.0.0/16.
fn flannel(spec: &ClusterSpec) -> String {
    let config_map = ConfigMap {
        api_version: "v1",
        kind: "ConfigMap",
        metadata: Metadata {
            name: "kube-flannel-cfg",
            namespace: Some("kube-flannel"),
            labels: BTreeMap::from([("app", "flannel"), ("k8s-app", "flannel"), ("tier", "node")]),
        },
        data: BTreeMap::from([
            ("cni-conf.json", pretty_json(&flannel_cni_conf())),
            ("net-conf.json", pretty_json(&flannel_net_conf(spec))),
        ]),
    };
    yaml_file(
        &format!(
            "Written by kubewiz for cluster {}: flannel {FLANNEL_VERSION} on the pod network {}.\n\
             Apply after kube-flannel.yml, then restart the kube-flannel-ds DaemonSet.",
            spec.name, spec.kubernetes.pod_cidr
        ),
        &[to_yaml(&config_map)],
    )
}

#[derive(Serialize)]
struct Ipam {
    mode: &'static str,
}

#[derive(Serialize)]
struct Enabled {
    enabled: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CiliumValues {
    ipam: Ipam,
    k8s_service_host: String,
    k8s_service_port: u16,
    kube_proxy_replacement: bool,
    #[serde(flatten)]
    ipv6: Option<CiliumIpv6>,
}

/// IPv6-only: no IPv4 at all, and native routing, because Cilium's tunnels run over
/// an IPv4 underlay by default. The nodes share one L2 network (the libvirt network),
/// so each node can route the others' pod ranges directly.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct CiliumIpv6 {
    ipv4: Enabled,
    ipv6: Enabled,
    routing_mode: &'static str,
    #[serde(rename = "ipv6NativeRoutingCIDR")]
    ipv6_native_routing_cidr: String,
    auto_direct_node_routes: bool,
    #[serde(rename = "enableIPv6Masquerade")]
    enable_ipv6_masquerade: bool,
}

/// The endpoint host as Cilium takes `k8sServiceHost`: a name, or a bare address
/// (no brackets for IPv6; the port is separate).
fn service_host(endpoint: &EndpointHost) -> String {
    match endpoint {
        EndpointHost::Ip(IpAddr::V6(v6)) => v6.to_string(),
        other => other.to_string(),
    }
}

/// Helm values for Cilium. `ipam.mode = kubernetes` uses the node podCIDRs kubeadm
/// allocates from the pod CIDR (Cilium's default cluster-pool would ignore it).
/// kube-proxy stays (`kubeProxyReplacement: false`): kubewiz keeps the kube-proxy
/// kubeadm installs, so the service network works before Cilium is ready and the
/// cluster keeps working the same way whichever CNI it has. k8sServiceHost/Port point
/// at the endpoint anyway, so that the agent reaches the API without relying on the
/// `kubernetes` service while it starts.
fn cilium(layout: &Layout) -> String {
    let spec = layout.spec;
    let values = CiliumValues {
        ipam: Ipam { mode: "kubernetes" },
        k8s_service_host: service_host(&layout.endpoint),
        k8s_service_port: layout.endpoint_port,
        kube_proxy_replacement: false,
        ipv6: is_ipv6(spec).then(|| CiliumIpv6 {
            ipv4: Enabled { enabled: false },
            ipv6: Enabled { enabled: true },
            routing_mode: "native",
            ipv6_native_routing_cidr: spec.kubernetes.pod_cidr.to_string(),
            auto_direct_node_routes: true,
            enable_ipv6_masquerade: true,
        }),
    };
    yaml_file(
        &format!(
            "Written by kubewiz for cluster {}: Helm values for the cilium chart {CILIUM_VERSION}.",
            spec.name
        ),
        &[to_yaml(&values)],
    )
}
