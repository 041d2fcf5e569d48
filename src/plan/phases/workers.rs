//! The workers join, all at once.

use super::super::{HostSteps, Needs, PhaseId};
use super::join::join;
use super::{Builder, PhaseDef};

pub const PHASE: PhaseDef = PhaseDef {
    id: PhaseId::new("workers"),
    title: "Workers",
    needs: Needs {
        hosts: true,
        pki: false,
    },
    one_at_a_time: false,
    steps,
};

fn steps(b: &Builder) -> Vec<HostSteps> {
    b.layout
        .workers
        .iter()
        .map(|h| join(b, PHASE.id, h, false))
        .collect()
}
