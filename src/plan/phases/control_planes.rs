//! The other control planes join, one at a time, so etcd never adds two members at
//! once.

use super::super::HostSteps;
use super::join::join;
use super::{Builder, PhaseDef};

pub const PHASE: PhaseDef = PhaseDef::on_hosts("control-planes", "Other control planes", steps).with_pki().one_at_a_time();

fn steps(b: &Builder) -> Vec<HostSteps> {
    b.layout.control_planes[1..]
        .iter()
        .map(|h| join(b, PHASE.id, h, true))
        .collect()
}
