//! Distribute the cluster's PKI: each host gets its part (`render::pki` says which).

use super::super::HostSteps;
use super::{Builder, PhaseDef};
use crate::files::Purpose;

pub const PHASE: PhaseDef = PhaseDef::on_hosts("pki", "Distribute PKI", steps);

fn steps(b: &Builder) -> Vec<HostSteps> {
    b.every_host(PHASE.id, |s, _| b.uploads(s, Purpose::Pki))
}
