//! `kubewiz reset`, first: every node as before `kubeadm init`/`join` (the join's
//! reset), then its runtime (the prepare phase's).

use super::super::steps::Steps;
use super::super::HostSteps;
use super::{Builder, PhaseDef, join, prepare};

pub const PHASE: PhaseDef = PhaseDef::on_hosts("reset-nodes", "Reset nodes", steps);

fn steps(b: &Builder) -> Vec<HostSteps> {
    let nodes: Vec<_> = b.layout.nodes().collect();
    b.for_hosts(PHASE.id, &nodes, |s: &mut Steps, h| {
        join::reset(b, s, h);
        prepare::reset_runtime(b, s);
    })
}
