//! A generated file as data: which host it goes to, its absolute path there, its mode
//! and its content, and what it is for. Below both the PKI and the renderers, which make
//! such files, and the plan, which uploads them.

use std::fmt;

/// Where a generated file goes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Target {
    /// A cluster host, by name.
    Host(String),
    /// The KVM host kubewiz runs on (`DIR/local/` in a rendered tree).
    Local,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Host(name) => f.write_str(name),
            Target::Local => f.write_str("local"),
        }
    }
}

/// Mode of private keys, kubeconfigs and anything else only root may read.
pub const MODE_PRIVATE: u32 = 0o600;
/// Mode of certificates and ordinary configuration files.
pub const MODE_PUBLIC: u32 = 0o644;
/// Mode of scripts.
pub const MODE_EXEC: u32 = 0o755;

/// What a file is for, which decides the install phase that uploads it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Purpose {
    /// Kernel modules, sysctl, container runtime, package repositories, proxy drop-ins.
    Node,
    /// Certificates, keys and kubeconfigs.
    Pki,
    /// External etcd members' units and settings.
    Etcd,
    /// haproxy, keepalived and kube-vip.
    LoadBalancer,
    /// kubeadm configuration.
    Kubeadm,
    /// The pod network's resources.
    Cni,
    /// The KVM host's own files (`local/`).
    Kvm,
}

/// One generated file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub purpose: Purpose,
    pub target: Target,
    /// Absolute path on a host; for `Target::Local`, a path relative to `local/`.
    pub path: String,
    pub mode: u32,
    pub content: String,
}

impl File {
    pub fn host(
        purpose: Purpose,
        host: &str,
        path: impl Into<String>,
        mode: u32,
        content: impl Into<String>,
    ) -> Self {
        File {
            purpose,
            target: Target::Host(host.to_owned()),
            path: path.into(),
            mode,
            content: content.into(),
        }
    }

    pub fn local(path: impl Into<String>, mode: u32, content: impl Into<String>) -> Self {
        File {
            purpose: Purpose::Kvm,
            target: Target::Local,
            path: path.into(),
            mode,
            content: content.into(),
        }
    }
}
