//! `kubewiz reset`, last: every file kubewiz wrote is put back as it was before the
//! install, from what uploads recorded on the host (`plan::record`).

use super::super::HostSteps;
use super::{Builder, PhaseDef, prepare};

pub const PHASE: PhaseDef = PhaseDef::on_hosts("restore-files", "Restore files", steps);

fn steps(b: &Builder) -> Vec<HostSteps> {
    b.every_host(PHASE.id, |s, _| {
        s.run(
            "files",
            "put back every file kubewiz replaced, remove those it created",
            prepare::restore_command(),
            300,
        );
    })
}
