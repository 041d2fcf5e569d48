//! `kubewiz upgrade` on the other control planes, one at a time so the API and etcd
//! keep answering: the new kubeadm, `kubeadm upgrade node` (its control plane Pods),
//! then its kubelet (`upgrade_node`).

use super::super::HostSteps;
use super::{Builder, PhaseDef, upgrade_node};

pub const PHASE: PhaseDef = PhaseDef::on_hosts(
    "upgrade-control-planes",
    "Upgrade the other control planes",
    steps,
)
.one_at_a_time();

fn steps(b: &Builder) -> Vec<HostSteps> {
    let Some(up) = b.upgrade else {
        return Vec::new();
    };
    let others: Vec<_> = b.layout.control_planes.iter().skip(1).copied().collect();
    b.for_hosts(PHASE.id, &others, |s, h| {
        upgrade_node::kubeadm(b, s, up);
        s.run("node", "kubeadm upgrade node", "kubeadm upgrade node", 900)
            .unit = Some("kubelet");
        upgrade_node::kubelet(b, s, up, h);
    })
}
