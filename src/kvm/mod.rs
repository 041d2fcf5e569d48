//! The KVM host's own libvirt, read and updated through `virsh`:
//!
//! - [`import()`]: the VMs libvirt knows, with state, MACs and IPv4 addresses, turned into
//!   `[[hosts]]` for a preset — for `kubewiz kvm import` and the wizard's Hosts screen;
//! - [`netdef`]: a libvirt network's definition (subnets, DHCP ranges and reservations,
//!   DNS records), read with [`read_network`]; the import and the network phase both
//!   work from it;
//! - [`network`]: fixed addresses (DHCP reservations) and DNS names for the cluster on
//!   the libvirt network, as a list of exact `virsh net-update` commands computed from
//!   the spec and the network's current XML (pure, for the preview and the plan), and
//!   applied with [`network::apply`] — for `kubewiz kvm dns` and a local install phase;
//! - [`clone`]: the preset's missing VMs, cloned from a template domain;
//! - [`hosts_file`]: the cluster's block in the KVM host's own hosts file.
//!
//! Everything goes through `virsh --connect URI`, so the tests run against libvirt's
//! test driver (`test:///FILE`) with no daemon and no hypervisor. The install and the
//! wizard take the URI from [`connect_uri`] (`$LIBVIRT_DEFAULT_URI`, else
//! `qemu:///system`); the `kubewiz kvm` commands from `--connect`.
//!
//! The calls a caller needs (all blocking; run them off the UI thread):
//!
//! ```text
//! // Hosts screen, "import from libvirt":
//! let found = kvm::import(kvm::DEFAULT_CONNECT, "default")?;   // Import
//! found.host_specs()            // Vec<HostSpec>, roles empty
//! found.hosts                   // Vec<ImportedVm>: state, mac, address, not_imported (why)
//!
//! // The install's libvirt-network phase (plan::libvirt, exec::libvirt) and
//! // `kubewiz kvm dns` read everything at once with kvm::survey(&virsh, &spec).
//! // The network phase, for the preview / plan (pure once the two reads are done):
//! let virsh = kvm::Virsh::new(uri);
//! let network = kvm::read_network(&virsh, render::kvm::libvirt_network(&spec))?;
//! let plan = kvm::plan(&spec, &network, &found.hosts)?;      // NetworkPlan
//! plan.commands(uri)            // Vec<(description, command line)>; empty: nothing to do
//! plan.skipped, plan.notes      // reservations not made and why; things to know
//! // ... and to run it (after confirmation, not in dry-run):
//! let applied = kvm::apply(&virsh, &spec, &network, &found.hosts, &plan)?;
//! applied.after_xml             // the network as libvirt has it now, for the audit log
//! ```

pub mod clone;
pub mod hosts_file;
pub mod import;
pub mod netdef;
pub mod network;
pub mod virsh;
pub mod xml;

use std::fmt;

pub use import::{
    AddressSource, Import, ImportedVm, NotImported, VmInterface, import, import_with,
};
pub use netdef::{DhcpHost, DnsHost, NetworkState, read_network};
pub use network::{Applied, Change, NetworkPlan, Survey, apply, plan, survey};
pub use virsh::{DEFAULT_CONNECT, Ran, Virsh, connect_uri};

/// Why talking to libvirt failed; each message says what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KvmError {
    /// `virsh` is not on PATH.
    VirshMissing,
    /// A virsh command failed.
    Virsh {
        command: String,
        status: Option<i32>,
        stderr: String,
    },
    /// The libvirt network does not exist on this connection.
    NetworkNotFound {
        network: String,
        uri: String,
        known: Vec<String>,
    },
    /// virsh printed XML kubewiz could not read.
    Xml { what: String, error: String },
    /// The spec cannot be turned into network entries (it does not render).
    Spec(String),
    /// Cloning cannot start or did not finish: the message says what to do.
    Clone(String),
    /// Updates were sent but the network still differs from what the spec asks.
    NotApplied {
        network: String,
        remaining: Vec<String>,
        virsh_said: String,
    },
}

impl fmt::Display for KvmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KvmError::VirshMissing => f.write_str(
                "virsh is not installed: apt-get install libvirt-clients (or dnf install libvirt-client)",
            ),
            KvmError::Virsh {
                command,
                status,
                stderr,
            } => {
                let status = status.map_or("was killed".to_owned(), |s| format!("exited {s}"));
                write!(
                    f,
                    "`{command}` {status}: {}; check that libvirtd runs and that this user may use the connection (root, or a member of the libvirt group)",
                    if stderr.is_empty() { "no message" } else { stderr }
                )
            }
            KvmError::NetworkNotFound {
                network,
                uri,
                known,
            } => write!(
                f,
                "libvirt network {network:?} does not exist on {uri}; the networks there are: {} (`virsh -c {uri} net-list --all`)",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ),
            KvmError::Xml { what, error } => write!(
                f,
                "cannot read {what}: {error}; run the virsh command by hand to see what it prints"
            ),
            KvmError::Spec(message) => write!(
                f,
                "the preset cannot be turned into network entries: {message}; `kubewiz validate` says more"
            ),
            KvmError::Clone(message) => f.write_str(message),
            KvmError::NotApplied {
                network,
                remaining,
                virsh_said,
            } => write!(
                f,
                "libvirt network {network} still differs after the update ({}); virsh said: {}",
                remaining.join("; "),
                if virsh_said.is_empty() {
                    "nothing"
                } else {
                    virsh_said
                }
            ),
        }
    }
}

impl std::error::Error for KvmError {}
