//! `kubewiz reset`, first: every node as before `kubeadm init`/`join` (the join's
//! reset), then its runtime (the prepare phase's).

use super::super::steps::Steps;
use super::super::{HostSteps, Needs, PhaseId};
use super::{Builder, PhaseDef, join, prepare};

pub const PHASE: PhaseDef = PhaseDef {
    id: PhaseId::new("reset-nodes"),
    title: "Reset nodes",
    needs: Needs {
        hosts: true,
        pki: false,
    },
    one_at_a_time: false,
    steps,
};

fn steps(b: &Builder) -> Vec<HostSteps> {
    let nodes: Vec<_> = b.layout.nodes().collect();
    b.for_hosts(PHASE.id, &nodes, |s: &mut Steps, h| {
        join::reset(b, s, h);
        prepare::reset_runtime(b, s);
    })
}
