//! The other control planes join, one at a time, so etcd never adds two members at
//! once.

use super::super::{HostSteps, Needs, PhaseId};
use super::join::join;
use super::{Builder, PhaseDef};

pub const PHASE: PhaseDef = PhaseDef {
    id: PhaseId::new("control-planes"),
    title: "Other control planes",
    needs: Needs {
        hosts: true,
        pki: true,
    },
    one_at_a_time: true,
    steps,
};

fn steps(b: &Builder) -> Vec<HostSteps> {
    b.layout.control_planes[1..]
        .iter()
        .map(|h| join(b, PHASE.id, h, true))
        .collect()
}
