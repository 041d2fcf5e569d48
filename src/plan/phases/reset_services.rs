//! `kubewiz reset`, second: the services kubewiz started outside Kubernetes (external
//! etcd, haproxy and keepalived), each undone by its install phase's reset.

use super::super::HostSteps;
use super::{Builder, PhaseDef, etcd, load_balancer};
use crate::spec::HostSpec;
use crate::spec::layout::LbLayout;

pub const PHASE: PhaseDef = PhaseDef::on_hosts("reset-services", "Stop etcd and load balancers", steps);

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
