//! On the KVM host, first: the cluster's DHCP reservations and DNS entries on its
//! libvirt network (`plan::libvirt` says why and how), before any host is contacted.
//! Only with a `[kvm]` section: without one nothing says the VMs live on this host's
//! libvirt.

use super::super::libvirt::{LibvirtNetwork, NetworkPreview};
use super::super::steps::Steps;
use super::super::{Action, Blob, HostSteps, LOCAL};
use super::{Builder, PhaseDef};
use crate::render::kvm::LIBVIRT_DNS_PATH;
use crate::spec::layout::libvirt_network;

    // It touches no host: `--phase libvirt-network` connects to none.
pub const PHASE: PhaseDef = PhaseDef::local("libvirt-network", "DHCP and DNS on the libvirt network", steps);

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
    vec![s.done()]
}
