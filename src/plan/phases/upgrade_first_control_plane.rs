//! `kubewiz upgrade` on the first control plane, as kubeadm documents it: the new
//! kubeadm, `kubeadm upgrade plan`, `kubeadm upgrade apply` (its control plane Pods
//! and the cluster's kubeadm configuration), then its kubelet (`upgrade_node`).

use super::super::HostSteps;
use super::super::steps::Steps;
use super::{Builder, PhaseDef, upgrade_node};

pub const PHASE: PhaseDef = PhaseDef::on_hosts(
    "upgrade-first-control-plane",
    "Upgrade the first control plane",
    steps,
);

fn steps(b: &Builder) -> Vec<HostSteps> {
    let Some(up) = b.upgrade else {
        return Vec::new();
    };
    let first = b.layout.first_control_plane();
    let mut s = Steps::new(PHASE.id, first.name.as_str());
    upgrade_node::kubeadm(b, &mut s, up);
    let tag = up.to.tag();
    s.run(
        "plan",
        format!("kubeadm upgrade plan {tag}"),
        format!("kubeadm upgrade plan {tag}"),
        300,
    );
    s.run(
        "apply",
        format!("kubeadm upgrade apply {tag}"),
        format!("kubeadm upgrade apply {tag} --yes"),
        900,
    )
    .unit = Some("kubelet");
    upgrade_node::kubelet(b, &mut s, up, first);
    vec![s.done()]
}
