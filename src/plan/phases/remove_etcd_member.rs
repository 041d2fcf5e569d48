//! `kubewiz node remove` and `node replace` of an etcd member (a control plane of
//! stacked etcd, or an external etcd host): its member taken out of etcd from another
//! member's side (`etcd_members::access`), after the host was reset (kubeadm reset
//! takes a stacked member out itself when the host answers; this removes it when it
//! did not, when the host is gone, or when etcd runs on its own hosts).

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
        .and_then(|r| etcd_members::member(b.layout, r.host))
    else {
        return Vec::new();
    };
    let Some(access) = etcd_members::access(b.layout, host.name.as_str()) else {
        return Vec::new();
    };
    let mut s = Steps::new(PHASE.id, access.on.name.as_str());
    s.run(
        "member",
        format!("take {}'s member out of etcd", host.name),
        access.remove_member(host),
        60,
    );
    vec![s.done()]
}
