//! `kubewiz node remove` and `node replace` of a control plane with stacked etcd: its
//! member taken out of etcd from the first control plane, after the host was reset
//! (kubeadm reset takes its own member out when the host answers; this removes it
//! when it did not, or when the host is gone).

use super::super::HostSteps;
use super::super::steps::Steps;
use super::{Builder, PhaseDef, etcd_members};

pub const PHASE: PhaseDef = PhaseDef::on_hosts(
    "remove-etcd-member",
    "Take the host's member out of etcd",
    steps,
);

fn steps(b: &Builder) -> Vec<HostSteps> {
    let Some(host) = b
        .removing
        .and_then(|r| super::stacked_member(b.layout, r.host))
    else {
        return Vec::new();
    };
    let first = b.layout.first_control_plane();
    let mut s = Steps::new(PHASE.id, first.name.as_str());
    s.run(
        "member",
        format!("take {}'s member out of etcd", host.name),
        etcd_members::remove_member(b.layout, host),
        60,
    );
    vec![s.done()]
}
