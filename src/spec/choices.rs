//! The closed sets of choices a preset makes: topology, roles, CNI, load balancer,
//! package source and key algorithm. Their preset spellings are the serde names.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The shape of the cluster (DESIGN.md, Topologies).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Topology {
    /// One control plane that also runs workloads.
    SingleNode,
    /// One control plane and one or more workers.
    SingleMaster,
    /// Three or more control planes with etcd on them, behind a VIP.
    StackedHa,
    /// Three or more dedicated etcd hosts, two or more control planes, workers.
    ExternalEtcd,
}

impl Topology {
    pub const ALL: [Topology; 4] = [
        Topology::SingleNode,
        Topology::SingleMaster,
        Topology::StackedHa,
        Topology::ExternalEtcd,
    ];

    /// True for the topologies with several control planes behind one endpoint.
    pub fn is_ha(self) -> bool {
        matches!(self, Topology::StackedHa | Topology::ExternalEtcd)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Topology::SingleNode => "single-node",
            Topology::SingleMaster => "single-master",
            Topology::StackedHa => "stacked-ha",
            Topology::ExternalEtcd => "external-etcd",
        }
    }
}

impl fmt::Display for Topology {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a host does in the cluster.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    ControlPlane,
    Worker,
    Etcd,
    LoadBalancer,
}

impl Role {
    pub const ALL: [Role; 4] = [
        Role::ControlPlane,
        Role::Worker,
        Role::Etcd,
        Role::LoadBalancer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::ControlPlane => "control-plane",
            Role::Worker => "worker",
            Role::Etcd => "etcd",
            Role::LoadBalancer => "load-balancer",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The pod network add-on installed after the first control plane.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Cni {
    #[default]
    Calico,
    Flannel,
    Cilium,
    /// The operator installs a CNI themselves.
    None,
}

/// How the control-plane endpoint is made highly available.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum LoadBalancer {
    /// haproxy + keepalived, on `load-balancer` hosts or else on the control planes.
    #[default]
    HaproxyKeepalived,
    /// kube-vip as a static pod on the control planes (ARP mode).
    KubeVip,
    /// The operator's own load balancer; kubewiz only checks that the endpoint answers.
    External,
}

impl LoadBalancer {
    pub fn as_str(self) -> &'static str {
        match self {
            LoadBalancer::HaproxyKeepalived => "haproxy-keepalived",
            LoadBalancer::KubeVip => "kube-vip",
            LoadBalancer::External => "external",
        }
    }
}

impl fmt::Display for LoadBalancer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the Kubernetes packages come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum PackageSource {
    /// pkgs.k8s.io, or `packages.repository_mirror` when set.
    #[default]
    Online,
    /// Binaries from a local directory (`packages.bundle_dir`), for air-gapped hosts.
    Bundle,
}

/// Key type of every key kubewiz generates, with kubeadm's `encryptionAlgorithm` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, JsonSchema)]
pub enum EncryptionAlgorithm {
    #[default]
    #[serde(rename = "RSA-2048")]
    Rsa2048,
    #[serde(rename = "RSA-3072")]
    Rsa3072,
    #[serde(rename = "RSA-4096")]
    Rsa4096,
    #[serde(rename = "ECDSA-P256")]
    EcdsaP256,
}

impl EncryptionAlgorithm {
    /// kubeadm's spelling, as written in ClusterConfiguration.encryptionAlgorithm.
    pub fn as_str(self) -> &'static str {
        match self {
            EncryptionAlgorithm::Rsa2048 => "RSA-2048",
            EncryptionAlgorithm::Rsa3072 => "RSA-3072",
            EncryptionAlgorithm::Rsa4096 => "RSA-4096",
            EncryptionAlgorithm::EcdsaP256 => "ECDSA-P256",
        }
    }
}
