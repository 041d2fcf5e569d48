//! The cluster spec: everything kubewiz needs to know about the cluster to be built,
//! loaded from a TOML preset (DESIGN.md, Preset format) and checked by `validate`.
//!
//! Presets never hold secrets: no passwords, tokens or key material.

mod choices;
mod diag;
mod fields;
pub mod growth;
pub mod layout;
mod preset;
pub mod schema;
mod source;
mod types;
pub mod validate;

use std::net::IpAddr;
use std::path::PathBuf;

use ipnet::IpNet;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

pub use choices::{Cni, EncryptionAlgorithm, LoadBalancer, PackageSource, Role, Topology};
pub use diag::{Diagnostic, Severity};
pub use fields::{ImageRepository, InterfaceName, ProxyUrl};
pub use preset::{LoadError, Preset, load_file, parse, to_toml};
pub use source::{Position, SourceMap};
pub use types::{DnsLabel, DnsName, EndpointHost, KubeVersion};

/// The Kubernetes version a new spec starts with.
pub const DEFAULT_VERSION: KubeVersion = KubeVersion::new(1, 34, 2);

/// The whole cluster as the operator described it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// Cluster name, a DNS label; also the state directory's name.
    pub name: DnsLabel,
    pub topology: Topology,
    #[serde(default)]
    pub kubernetes: KubernetesSpec,
    #[serde(default)]
    pub network: NetworkSpec,
    #[serde(default)]
    pub control_plane: ControlPlaneSpec,
    #[serde(default)]
    pub ssh: SshSpec,
    #[serde(default)]
    pub packages: PackagesSpec,
    #[serde(default, skip_serializing_if = "ProxySpec::is_empty")]
    pub proxy: ProxySpec,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kvm: Option<KvmSpec>,
    #[serde(default, skip_serializing_if = "AuditSpec::is_default")]
    pub audit: AuditSpec,
    #[serde(default)]
    pub hosts: Vec<HostSpec>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct KubernetesSpec {
    pub version: KubeVersion,
    #[serde(with = "fields::ip_net")]
    #[schemars(with = "schema::Cidr")]
    pub pod_cidr: IpNet,
    #[serde(with = "fields::ip_net")]
    #[schemars(with = "schema::Cidr")]
    pub service_cidr: IpNet,
    pub dns_domain: DnsName,
    pub cni: Cni,
    pub image_repository: ImageRepository,
    pub encryption_algorithm: EncryptionAlgorithm,
}

impl Default for KubernetesSpec {
    fn default() -> Self {
        KubernetesSpec {
            version: DEFAULT_VERSION,
            pod_cidr: "10.244.0.0/16".parse().expect("literal CIDR"),
            service_cidr: "10.96.0.0/12".parse().expect("literal CIDR"),
            dns_domain: "cluster.local".parse().expect("literal DNS name"),
            cni: Cni::default(),
            image_repository: ImageRepository::default(),
            encryption_algorithm: EncryptionAlgorithm::default(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct NetworkSpec {
    /// The subnet the hosts and the VIP live on; checks that need it are warnings when
    /// it is absent.
    #[serde(with = "fields::opt_ip_net", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "schema::Cidr")]
    pub hosts_cidr: Option<IpNet>,
    /// The network interface that carries the hosts' addresses on the hosts holding
    /// the VIP (e.g. `enp1s0`); detected on each host at install time when not set.
    #[serde(with = "fields::opt_str", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub interface: Option<InterfaceName>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ControlPlaneSpec {
    /// What clients use to reach the API; defaults to the VIP, or to the only control
    /// plane's address.
    #[serde(with = "fields::opt_str", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub endpoint: Option<EndpointHost>,
    #[serde(with = "fields::port")]
    #[schemars(with = "schema::Port")]
    pub port: u16,
    #[serde(with = "fields::opt_ip", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "schema::Address")]
    pub vip: Option<IpAddr>,
    pub load_balancer: LoadBalancer,
}

impl Default for ControlPlaneSpec {
    fn default() -> Self {
        ControlPlaneSpec {
            endpoint: None,
            port: 6443,
            vip: None,
            load_balancer: LoadBalancer::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct SshSpec {
    pub user: String,
    #[serde(with = "fields::port")]
    #[schemars(with = "schema::Port")]
    pub port: u16,
    pub identity_file: PathBuf,
    pub known_hosts: PathBuf,
}

impl Default for SshSpec {
    fn default() -> Self {
        SshSpec {
            user: "root".into(),
            port: 22,
            identity_file: "~/.ssh/id_ed25519".into(),
            known_hosts: "~/.ssh/known_hosts".into(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct PackagesSpec {
    pub source: PackageSource,
    #[serde(with = "fields::opt_str", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub repository_mirror: Option<url::Url>,
    #[serde(with = "fields::opt_path", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub bundle_dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct ProxySpec {
    #[serde(with = "fields::opt_str", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub http: Option<ProxyUrl>,
    #[serde(with = "fields::opt_str", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub https: Option<ProxyUrl>,
    /// Extra no_proxy entries; every host, the VIP, the endpoint and both CIDRs are
    /// added automatically.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub no_proxy: Vec<String>,
}

impl ProxySpec {
    pub fn is_empty(&self) -> bool {
        self.http.is_none() && self.https.is_none() && self.no_proxy.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct KvmSpec {
    pub libvirt_network: String,
    #[serde(with = "fields::opt_str", skip_serializing_if = "Option::is_none")]
    #[schemars(with = "String")]
    pub dns_domain: Option<DnsName>,
}

impl Default for KvmSpec {
    fn default() -> Self {
        KvmSpec {
            libvirt_network: "default".into(),
            dns_domain: None,
        }
    }
}

/// Where a run's audit log is announced besides the screen.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields, default)]
pub struct AuditSpec {
    /// Each run's start and the head of its audit log also go to the system log
    /// (`logger`), as with `--syslog`.
    pub syslog: bool,
}

impl AuditSpec {
    pub fn is_default(&self) -> bool {
        *self == AuditSpec::default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HostSpec {
    pub name: DnsLabel,
    #[serde(with = "fields::ip")]
    #[schemars(with = "schema::Address")]
    pub address: IpAddr,
    #[serde(default)]
    pub roles: Vec<Role>,
    /// Per-host SSH user, instead of `ssh.user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// Per-host SSH port, instead of `ssh.port`.
    #[serde(
        default,
        with = "fields::opt_port",
        skip_serializing_if = "Option::is_none"
    )]
    #[schemars(with = "schema::Port")]
    pub port: Option<u16>,
}

impl HostSpec {
    pub fn has(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}

impl ClusterSpec {
    /// Hosts that carry `role`, in preset order.
    pub fn hosts_with(&self, role: Role) -> impl Iterator<Item = &HostSpec> {
        self.hosts.iter().filter(move |h| h.has(role))
    }

    /// Hosts that run a kubelet and become Kubernetes nodes.
    pub fn nodes(&self) -> impl Iterator<Item = &HostSpec> {
        self.hosts
            .iter()
            .filter(|h| h.has(Role::ControlPlane) || h.has(Role::Worker))
    }

    /// True when haproxy and keepalived run on the control planes themselves (no
    /// dedicated `load-balancer` hosts), so the frontend cannot use 6443.
    pub fn haproxy_on_control_planes(&self) -> bool {
        self.topology.is_ha()
            && self.control_plane.load_balancer == LoadBalancer::HaproxyKeepalived
            && self.hosts_with(Role::LoadBalancer).next().is_none()
    }

    /// True when a VIP is required: HA with haproxy-keepalived or kube-vip.
    pub fn needs_vip(&self) -> bool {
        self.topology.is_ha() && self.control_plane.load_balancer != LoadBalancer::External
    }

    /// The endpoint clients use: the explicit one, else the VIP, else the first control
    /// plane's address.
    pub fn endpoint_host(&self) -> Option<EndpointHost> {
        if let Some(endpoint) = &self.control_plane.endpoint {
            return Some(endpoint.clone());
        }
        if let Some(vip) = self.control_plane.vip.filter(|_| self.topology.is_ha()) {
            return Some(EndpointHost::Ip(vip));
        }
        self.hosts_with(Role::ControlPlane)
            .next()
            .map(|h| EndpointHost::Ip(h.address))
    }
}
