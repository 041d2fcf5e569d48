//! `kubewiz reset`, last: every file kubewiz wrote is put back as it was before the
//! install, from what uploads recorded on the host (`plan::record`).

use super::super::{HostSteps, Needs, PhaseId};
use super::{Builder, PhaseDef, prepare};

pub const PHASE: PhaseDef = PhaseDef {
    id: PhaseId::new("restore-files"),
    title: "Restore files",
    needs: Needs {
        hosts: true,
        pki: false,
    },
    one_at_a_time: false,
    steps,
};

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
