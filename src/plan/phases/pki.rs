//! Distribute the cluster's PKI: each host gets its part (`render::pki` says which).

use super::super::{HostSteps, Needs, PhaseId};
use super::{Builder, PhaseDef};
use crate::files::Purpose;

pub const PHASE: PhaseDef = PhaseDef {
    id: PhaseId::new("pki"),
    title: "Distribute PKI",
    needs: Needs {
        hosts: true,
        pki: false,
    },
    one_at_a_time: false,
    steps,
};

fn steps(b: &Builder) -> Vec<HostSteps> {
    b.every_host(PHASE.id, |s, _| b.uploads(s, Purpose::Pki))
}
