//! Everything kubewiz generates for a valid spec, in the order DESIGN.md's data flow
//! gives: the PKI (made once, reused from the state directory), every file, the plan.
//! The CLI and the wizard both come through here, so they cannot drift apart.

use crate::pki::{self, Notice, Pki};
use crate::plan::{self, Plan};
use crate::render::{self, File, Layout};
use crate::spec::ClusterSpec;
use crate::state::ClusterState;

/// What was generated for one spec.
pub struct Generated {
    pub pki: Pki,
    pub files: Vec<File>,
    pub plan: Plan,
    /// What the operator is told about the PKI (made, or certificates issued again).
    pub notices: Vec<Notice>,
}

/// Loads or makes the cluster's PKI in `state`, renders every file and builds the plan.
/// The spec is expected to have passed validation; what still fails is said plainly.
pub fn generate(spec: &ClusterSpec, state: &ClusterState) -> Result<Generated, String> {
    let layout = Layout::new(spec).map_err(|e| e.to_string())?;
    let (pki, notices) = pki::load_or_create(&state.pki_dir(), &layout)
        .map_err(|e| format!("the PKI in {}: {e}", state.pki_dir().display()))?;
    let files = render::render(spec, &pki).map_err(|e| e.to_string())?;
    let plan = plan::build(&layout, &files);
    Ok(Generated {
        pki,
        files,
        plan,
        notices,
    })
}
