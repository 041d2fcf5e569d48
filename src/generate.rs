//! Everything kubewiz generates for a valid spec, in the order DESIGN.md's data flow
//! gives: the PKI (made once, reused from the state directory), every file, the plan.
//! The CLI and the wizard both come through here, so they cannot drift apart.

use crate::files::File;
use crate::kvm::{self, Virsh};
use crate::pki::{self, Notice, Pki};
use crate::plan::Restore;
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
/// A restore that has not finished yet (`kubewiz restore` left it in `state`) is part
/// of the plan: its snapshot is what etcd starts from.
pub fn generate(
    spec: &ClusterSpec,
    state: &ClusterState,
    libvirt_uri: &str,
) -> Result<Generated, String> {
    let restore = pending_restore(state)?;
    generate_restoring(spec, state, libvirt_uri, restore.as_ref())
}

/// [`generate`], with etcd's data restored from `restore` when given.
pub fn generate_restoring(
    spec: &ClusterSpec,
    state: &ClusterState,
    libvirt_uri: &str,
    restore: Option<&Restore>,
) -> Result<Generated, String> {
    generate_with_pki(spec, &state.pki_dir(), &local(state, libvirt_uri), restore)
}

/// [`generate_restoring`] with the PKI loaded or made in `pki_dir` (a restore's dry run
/// renders from the archive's PKI in a scratch directory), the plan's local steps on
/// `local`.
pub fn generate_with_pki(
    spec: &ClusterSpec,
    pki_dir: &std::path::Path,
    local: &Local,
    restore: Option<&Restore>,
) -> Result<Generated, String> {
    let layout = Layout::new(spec).map_err(|e| e.to_string())?;
    let (pki, notices) = pki::load_or_create(pki_dir, &layout)
        .map_err(|e| format!("the PKI in {}: {e}", pki_dir.display()))?;
    let files = render::render(spec, &pki).map_err(|e| e.to_string())?;
    let plan = match restore {
        Some(r) => plan::restore::build(&layout, &files, local, r),
        None => plan::build(&layout, &files, local),
    };
    Ok(Generated {
        pki,
        files,
        plan,
        notices,
    })
}

/// The directory of a restore that has not finished: its snapshot and `pending.json`.
pub fn restore_dir(state: &ClusterState) -> std::path::PathBuf {
    state.dir().join("restore")
}

/// The restore `kubewiz restore` started in `state` and no run has finished yet.
pub fn pending_restore(state: &ClusterState) -> Result<Option<Restore>, String> {
    let path = restore_dir(state).join("pending.json");
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            format!(
                "{} does not parse ({e}); start the restore again with `kubewiz restore`",
                path.display()
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(format!("cannot read {}: {e}", path.display())),
    }
}

/// Keeps `restore` in `state` until a run finishes it, its snapshot beside it.
pub fn keep_restore(state: &ClusterState, snapshot: &[u8], token: &str) -> Result<Restore, String> {
    let dir = restore_dir(state);
    let restore = Restore {
        snapshot: dir.join("snapshot.db"),
        sha256: crate::digest::sha256_hex(snapshot),
        token: token.to_owned(),
    };
    let json = serde_json::to_vec_pretty(&restore).map_err(|e| e.to_string())?;
    crate::state::write_atomic(&restore.snapshot, snapshot, 0o600)
        .and_then(|()| crate::state::write_atomic(&dir.join("pending.json"), &json, 0o600))
        .map_err(|e| format!("cannot keep the restore in {}: {e}", dir.display()))?;
    Ok(restore)
}

/// After a run that finished the restore: its snapshot and record are removed.
pub fn restore_finished(state: &ClusterState) -> Result<(), String> {
    let dir = restore_dir(state);
    match std::fs::remove_dir_all(&dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("cannot remove {}: {e}", dir.display()))
        }
        _ => Ok(()),
    }
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
