//! `kubewiz reset`, after the hosts: the cluster's names out of the KVM host's hosts
//! file, which the libvirt-network phase put there (its step is written there).

use super::super::HostSteps;
use super::{Builder, PhaseDef, libvirt_network};

pub const PHASE: PhaseDef = PhaseDef::local(
    "forget-names",
    "Cluster names off the KVM host",
    steps,
);

fn steps(b: &Builder) -> Vec<HostSteps> {
    libvirt_network::forget_names(b, PHASE.id)
}
