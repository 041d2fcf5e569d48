//! Every file kubewiz generates, as data: which host it goes to, its absolute path
//! there, its mode and its content. Rendering is a pure function of the spec and the
//! PKI, so the preview, `kubewiz render`, the plan and the install all see the same
//! bytes.

pub mod cni;
pub mod etcd;
pub mod kubeadm;
pub mod kvm;
mod layout;
pub mod lb;
pub mod node;
mod template;

use std::fmt;

pub use layout::{API_SERVER_PORT, Layout, LbLayout};
pub use template::render_template;

use crate::pki::Pki;
use crate::spec::ClusterSpec;

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

/// A spec that cannot be rendered; validation reports the same problems earlier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderError(pub String);

impl fmt::Display for RenderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RenderError {}

/// Every file of the cluster, sorted by target and path.
pub fn render(spec: &ClusterSpec, pki: &Pki) -> Result<Vec<File>, RenderError> {
    let layout = Layout::new(spec)?;
    let mut files = Vec::new();
    files.extend(node::files(&layout));
    files.extend(crate::pki::files(&layout, pki));
    files.extend(etcd::files(&layout));
    files.extend(lb::files(&layout));
    files.extend(kubeadm::files(&layout, pki));
    files.extend(cni::files(&layout));
    files.extend(kvm::files(&layout));
    files.sort_by(|a, b| (&a.target, &a.path).cmp(&(&b.target, &b.path)));
    Ok(files)
}
