//! `kubewiz upgrade` on the workers, `--max-unavailable` at a time: each drained, the
//! new kubeadm, `kubeadm upgrade node` (its kubelet configuration), the new kubelet,
//! back with the new version, uncordoned (`upgrade_node`).

use super::super::HostSteps;
use super::{Builder, PhaseDef, upgrade_node};
use crate::spec::Role;

pub const PHASE: PhaseDef =
    PhaseDef::on_hosts("upgrade-workers", "Upgrade the workers", steps).batched();

fn steps(b: &Builder) -> Vec<HostSteps> {
    let Some(up) = b.upgrade else {
        return Vec::new();
    };
    let workers: Vec<_> = b
        .layout
        .spec
        .hosts
        .iter()
        .filter(|h| h.roles.contains(&Role::Worker) && !h.roles.contains(&Role::ControlPlane))
        .collect();
    b.for_hosts(PHASE.id, &workers, |s, h| {
        upgrade_node::kubeadm(b, s, up);
        s.run("node", "kubeadm upgrade node", "kubeadm upgrade node", 600)
            .unit = Some("kubelet");
        upgrade_node::kubelet(b, s, up, h);
    })
}
