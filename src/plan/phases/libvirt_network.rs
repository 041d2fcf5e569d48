//! On the KVM host, first: the cluster's DHCP reservations and DNS entries on its
//! libvirt network (`plan::libvirt` says why and how), before any host is contacted,
//! and the same names in the KVM host's own hosts file (`kvm::hosts_file`), so that
//! kubewiz's API check and the operator's kubectl reach the endpoint by name.
//! Only with a `[kvm]` section: without one nothing says the VMs live on this host's
//! libvirt.

use super::super::libvirt::{LibvirtNetwork, NetworkPreview};
use super::super::steps::Steps;
use super::super::{Action, Blob, HostSteps, LOCAL, PhaseId};
use super::{Builder, PhaseDef};
use crate::render::kvm::{HOSTS_PATH, LIBVIRT_DNS_PATH};
use crate::spec::layout::libvirt_network;

    // It touches no host: `--phase libvirt-network` connects to none.
pub const PHASE: PhaseDef = PhaseDef::local(
    "libvirt-network",
    "DHCP, DNS and host names on the KVM host",
    steps,
);

/// Its one step's id.
pub const STEP_ID: &str = "libvirt-network/local/update";

fn steps(b: &Builder) -> Vec<HostSteps> {
    let spec = b.layout.spec;
    if spec.kvm.is_none() {
        return Vec::new();
    }
    let network = libvirt_network(spec).to_owned();
    let mut s = Steps::new(PHASE.id, LOCAL);
    s.push(
        "update",
        format!("add the cluster's DHCP reservations and DNS entries to libvirt network {network}"),
        Action::LibvirtNetwork(LibvirtNetwork {
            network,
            uri: b.local.libvirt_uri.clone(),
            preview: NetworkPreview::NotRead,
            dns: Blob::new(b.local_file(LIBVIRT_DNS_PATH).map_or("", |f| &f.content)),
            hosts: spec
                .hosts
                .iter()
                .map(|h| (h.name.to_string(), h.address))
                .collect(),
        }),
        120,
    );
    s.push(
        "names",
        format!(
            "put the cluster's names into {}",
            b.local.hosts_file.display()
        ),
        Action::HostsFile {
            file: b.local.hosts_file.clone(),
            cluster: spec.name.to_string(),
            block: Some(Blob::new(
                b.local_file(HOSTS_PATH).map_or("", |f| &f.content),
            )),
        },
        30,
    );
    vec![s.done()]
}

/// `kubewiz reset`'s step that undoes `names`: the cluster's block out of the KVM
/// host's hosts file. The DHCP reservations and DNS entries stay on the libvirt
/// network: they hold the VMs' addresses, which outlive the cluster.
pub(super) fn forget_names(b: &Builder, phase: PhaseId) -> Vec<HostSteps> {
    let spec = b.layout.spec;
    if spec.kvm.is_none() {
        return Vec::new();
    }
    let mut s = Steps::new(phase, LOCAL);
    s.push(
        "names",
        format!(
            "take the cluster's names out of {}",
            b.local.hosts_file.display()
        ),
        Action::HostsFile {
            file: b.local.hosts_file.clone(),
            cluster: spec.name.to_string(),
            block: None,
        },
        30,
    );
    vec![s.done()]
}
