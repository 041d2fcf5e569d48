//! `kubewiz reset`, second: the services kubewiz started outside Kubernetes (external
//! etcd, haproxy and keepalived), each undone by its install phase's reset.

use super::super::{HostSteps, Needs, PhaseId};
use super::{Builder, PhaseDef, etcd, load_balancer};
use crate::spec::HostSpec;
use crate::spec::layout::LbLayout;

pub const PHASE: PhaseDef = PhaseDef {
    id: PhaseId::new("reset-services"),
    title: "Stop etcd and load balancers",
    needs: Needs {
        hosts: true,
        pki: false,
    },
    one_at_a_time: false,
    steps,
};

fn steps(b: &Builder) -> Vec<HostSteps> {
    let layout = b.layout;
    let is = |list: &[&HostSpec], h: &HostSpec| list.iter().any(|x| x.name == h.name);
    let balancers: &[&HostSpec] = match &layout.lb {
        LbLayout::HaproxyKeepalived { hosts, .. } => hosts,
        _ => &[],
    };
    b.every_host(PHASE.id, |s, h| {
        if is(&layout.etcd, h) {
            etcd::reset(b, s);
        }
        if is(balancers, h) {
            load_balancer::reset(s);
        }
    })
}
