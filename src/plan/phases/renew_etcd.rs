//! `kubewiz certs renew`, first: external etcd's members, one at a time (each healthy
//! again before the next stops), with their renewed certificates (`etcd::renew`).

use super::super::HostSteps;
use super::{Builder, PhaseDef, etcd};

pub const PHASE: PhaseDef =
    PhaseDef::on_hosts("certs-etcd", "Renew etcd's certificates", steps).one_at_a_time();

fn steps(b: &Builder) -> Vec<HostSteps> {
    let members: Vec<_> = b
        .layout
        .etcd
        .iter()
        .copied()
        .filter(|h| b.renews(h.name.as_str()))
        .collect();
    b.for_hosts(PHASE.id, &members, |s, _| etcd::renew(b, s))
}
