//! The wizard's "generate" step: PKI, every rendered file and the plan, made once per
//! spec for the preview to show and the install to run. Separate from the app so the
//! screens and the engine can read the result without depending on the app.

use std::path::{Path, PathBuf};

use crate::plan::Plan;
use crate::render::File;
use crate::spec::ClusterSpec;

/// What the preview shows and the install runs.
#[derive(Clone)]
pub struct Prepared {
    /// The cluster's PKI (the engine needs its CA digests and secrets to redact).
    pub pki: crate::pki::Pki,
    pub files: Vec<File>,
    pub plan: Plan,
    pub plan_text: String,
    /// What the PKI step said (certificates made or renewed).
    pub notices: Vec<String>,
    /// The workers this spec adds to the installed cluster (none for a cluster not
    /// installed yet).
    pub added: Vec<String>,
    pub cluster_dir: PathBuf,
}

/// Loads or makes the PKI in the cluster's state directory, renders and plans, reading
/// the libvirt network on `libvirt_uri` for the plan's preview. Blocks: the event loop
/// calls it on a blocking thread.
pub fn prepare(
    spec: &ClusterSpec,
    state_dir: &Path,
    libvirt_uri: &str,
) -> Result<Prepared, String> {
    let cluster = crate::state::ClusterState::new(state_dir, spec.name.as_str());
    // An installed cluster may only gain workers; nothing is made for a spec that
    // changes more.
    let added = crate::launch::check_growth(spec, &cluster)?;
    let mut generated = crate::generate::generate(spec, &cluster, libvirt_uri)?;
    crate::generate::preview_libvirt(spec, &mut generated.plan);
    // For a cluster with a journal, the plan shows what a run would skip.
    let plan_text = match crate::exec::journal::finished_if_any(&cluster.journal())? {
        Some(finished) => generated.plan.against(&finished).to_string(),
        None => generated.plan.to_string(),
    };
    Ok(Prepared {
        pki: generated.pki,
        plan_text,
        files: generated.files,
        plan: generated.plan,
        notices: generated
            .notices
            .into_iter()
            .map(|n| n.to_string())
            .collect(),
        cluster_dir: cluster.dir().to_path_buf(),
        added,
    })
}
