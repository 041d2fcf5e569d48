//! Everything kubewiz generates for a valid spec, in the order DESIGN.md's data flow
//! gives: the PKI (made once, reused from the state directory), every file, the plan.
//! The CLI and the wizard both come through here, so they cannot drift apart.

use crate::files::File;
use crate::kvm::{self, Virsh};
use crate::pki::{self, Notice, Pki};
use crate::plan::{self, Local, NetworkChanges, NetworkPreview, Plan};
use crate::render;
use crate::spec::ClusterSpec;
use crate::spec::layout::Layout;
use crate::state::ClusterState;

/// What was generated for one spec.
pub struct Generated {
    pub pki: Pki,
    pub files: Vec<File>,
    pub plan: Plan,
    /// What the operator is told about the PKI (made, or certificates issued again).
    pub notices: Vec<Notice>,
}

/// Loads or makes the cluster's PKI in `state`, renders every file and builds the plan,
/// its libvirt network step on connection `libvirt_uri`. What that step would change
/// is read only by [`preview_libvirt`], for those who show the plan: the step reads
/// the network again when it runs. The spec is expected to have passed validation;
/// what still fails is said plainly.
pub fn generate(
    spec: &ClusterSpec,
    state: &ClusterState,
    libvirt_uri: &str,
) -> Result<Generated, String> {
    let layout = Layout::new(spec).map_err(|e| e.to_string())?;
    let (pki, notices) = pki::load_or_create(&state.pki_dir(), &layout)
        .map_err(|e| format!("the PKI in {}: {e}", state.pki_dir().display()))?;
    let files = render::render(spec, &pki).map_err(|e| e.to_string())?;
    let plan = plan::build(&layout, &files, &local(state, libvirt_uri));
    Ok(Generated {
        pki,
        files,
        plan,
        notices,
    })
}

/// The KVM host as the plan of the cluster kept in `state` sees it: the libvirt
/// connection `libvirt_uri`, the state directory and the hosts file.
pub fn local(state: &ClusterState, libvirt_uri: &str) -> Local {
    Local {
        libvirt_uri: libvirt_uri.to_owned(),
        state_dir: state.dir().to_path_buf(),
        hosts_file: kvm::hosts_file::path(),
    }
}

/// Gives `plan`'s libvirt network step (when it has one: the preset has `[kvm]`) what
/// it would change now, read through virsh; only read, and a network that cannot be
/// read is said in the plan, not an error.
pub fn preview_libvirt(spec: &ClusterSpec, plan: &mut Plan) {
    plan.set_libvirt_preview(|step| preview(spec, &step.uri));
}

/// What the libvirt network step would change now, read through virsh.
fn preview(spec: &ClusterSpec, uri: &str) -> NetworkPreview {
    match kvm::survey(&Virsh::new(uri), spec) {
        Ok(survey) => NetworkPreview::Read(NetworkChanges {
            changes: survey.plan.commands(uri),
            in_place: survey.plan.in_place.len(),
            skipped: survey.plan.skipped,
            notes: survey.plan.notes,
        }),
        // One line: virsh's messages may span several.
        Err(e) => NetworkPreview::Unreadable(
            e.to_string()
                .lines()
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" "),
        ),
    }
}
