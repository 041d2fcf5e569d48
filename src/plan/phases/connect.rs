//! Connect to every host over SSH (checking its host key) and gather its facts once;
//! later phases and preflight decide from them.

use super::super::steps::Steps;
use super::super::{Action, HostSteps};
use super::{Builder, PhaseDef};

pub const PHASE: PhaseDef = PhaseDef::on_hosts("connect", "Connect and gather facts", steps);

fn steps(b: &Builder) -> Vec<HostSteps> {
    b.every_host(PHASE.id, connect)
}

/// The connect and facts steps of one host.
fn connect(s: &mut Steps, _: &crate::spec::HostSpec) {
    s.push(
        "ssh",
        "connect over SSH and check the host key",
        Action::Connect,
        30,
    );
    s.push("facts", "gather facts", Action::Facts, 60);
}
