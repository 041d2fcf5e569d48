//! The workers join, all at once.

use super::super::HostSteps;
use super::join::join;
use super::{Builder, PhaseDef};

pub const PHASE: PhaseDef = PhaseDef::on_hosts("workers", "Workers", steps);

fn steps(b: &Builder) -> Vec<HostSteps> {
    b.layout
        .workers
        .iter()
        .map(|h| join(b, PHASE.id, h, false))
        .collect()
}
