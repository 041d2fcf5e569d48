//! `kubewiz restore`, prepared the same way for the command line, the wizard and the
//! engine: the archive checked whole against the cluster, whether the cluster still
//! answers, and the install whose etcd starts from the archive's snapshot, with the
//! archive's PKI. A real run keeps the restore in the state directory (the archive's
//! PKI becomes the kept one, the earlier journal is set aside) so `kubewiz resume`
//! continues it; a dry run or a preview generates it in a scratch directory and leaves
//! the state as it was.

use std::path::Path;

use crate::archive::{self, Checked};
use crate::generate::Generated;
use crate::plan::Restore;
use crate::spec::ClusterSpec;
use crate::spec::layout::Layout;
use crate::state::ClusterState;

/// The archive at `from` read and checked whole, then against cluster `name` kept in
/// `cluster`: an archive of another cluster, or of a cluster whose CAs are not the ones
/// kept, is refused. Nothing is touched.
pub fn check(cluster: &ClusterState, name: &str, from: &Path) -> Result<Checked, String> {
    let checked = archive::read(from).map_err(|e| e.to_string())?;
    if checked.manifest.cluster != name {
        return Err(format!(
            "{} is an archive of cluster {}, not of cluster {name}: restore it with a preset of cluster {}",
            from.display(),
            checked.manifest.cluster,
            checked.manifest.cluster
        ));
    }
    same_cas(cluster, &checked)?;
    Ok(checked)
}

/// What the check found, in one line: how it was checked, whose snapshot, when, where.
pub fn describe(from: &Path, checked: &Checked) -> String {
    let how = if checked.sidecar {
        format!("{} matched", archive::sidecar(from).display())
    } else {
        "no .sha256 beside it; every file matched its manifest".to_owned()
    };
    format!(
        "{} checked ({how}): cluster {}, snapshot of {} taken on {}, sha256 {}",
        from.display(),
        checked.manifest.cluster,
        checked.manifest.created,
        checked.manifest.snapshot_host,
        checked.sha256
    )
}

/// The endpoint's address when the cluster kept in `cluster` answers there with the
/// kept admin.conf (asked once, for at most five seconds).
pub fn answers(cluster: &ClusterState, layout: &Layout) -> Option<String> {
    let kubeconfig = std::fs::read_to_string(cluster.admin_conf()).ok()?;
    let url = format!("{}/readyz", layout.api_url());
    let scratch = cluster
        .dir()
        .join(format!(".restore-probe-{}", std::process::id()));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .ok()?;
    runtime
        .block_on(crate::exec::api_check::probe(&url, &kubeconfig, &scratch))
        .ok()
        .map(|_| layout.api_url())
}

/// The install of a restore, and the scratch directory a dry run's lives in (kept for
/// as long as the run).
pub struct Restoring {
    pub generated: Generated,
    pub scratch: Option<tempfile::TempDir>,
}

/// The install of `spec` whose etcd starts from `checked`'s snapshot with a new cluster
/// token, rendered with the archive's PKI. With `keep`, the restore is kept in the state
/// directory of `cluster` first (the archive's PKI becomes the kept one, an earlier
/// install's journal is set aside: on restored hosts every step runs again); without
/// it, everything is made in a scratch directory and the state is left as it was.
pub fn generate(
    cluster: &ClusterState,
    spec: &ClusterSpec,
    checked: &Checked,
    libvirt_uri: &str,
    keep: bool,
) -> Result<Restoring, String> {
    let snapshot = checked.file(archive::SNAPSHOT).unwrap_or_default();
    // A new token per archive: no member of the old cluster can talk to the new one.
    let token = format!("{}-restore-{}", spec.name, &checked.sha256[..12]);
    if keep {
        set_journal_aside(cluster)?;
        keep_pki(checked, &cluster.pki_dir())?;
        let restore = crate::generate::keep_restore(cluster, snapshot, &token)?;
        let generated =
            crate::generate::generate_restoring(spec, cluster, libvirt_uri, Some(&restore))?;
        return Ok(Restoring {
            generated,
            scratch: None,
        });
    }
    let scratch =
        tempfile::tempdir().map_err(|e| format!("cannot make a temporary directory: {e}"))?;
    let here = ClusterState::new(scratch.path(), spec.name.as_str());
    keep_pki(checked, &here.pki_dir())?;
    let restore = Restore {
        snapshot: scratch.path().join("snapshot.db"),
        sha256: crate::digest::sha256_hex(snapshot),
        token,
    };
    crate::state::write_atomic(&restore.snapshot, snapshot, 0o600)
        .map_err(|e| format!("{}: {e}", restore.snapshot.display()))?;
    // The plan's local steps read and write the cluster's own state directory.
    let generated = crate::generate::generate_with_pki(
        spec,
        &here.pki_dir(),
        &crate::generate::local(cluster, libvirt_uri),
        Some(&restore),
    )?;
    Ok(Restoring {
        generated,
        scratch: Some(scratch),
    })
}

/// Refuses when the state directory keeps CAs other than the archive's.
fn same_cas(cluster: &ClusterState, checked: &Checked) -> Result<(), String> {
    let kept = cluster.pki_dir();
    for (rel, _, content) in checked.pki() {
        if !rel.ends_with("ca.crt") {
            continue;
        }
        match std::fs::read(kept.join(rel)) {
            Ok(mine) if mine != content => {
                return Err(format!(
                    "{} is another CA than the archive's pki/{rel}: the state directory keeps a different cluster of the same name; move {} away first",
                    kept.join(rel).display(),
                    cluster.dir().display()
                ));
            }
            _ => {}
        }
    }
    Ok(())
}

/// An earlier install's journal is set aside: on restored hosts every step runs again
/// (`kubewiz resume` continues a restore's own journal).
fn set_journal_aside(cluster: &ClusterState) -> Result<(), String> {
    let journal = cluster.journal();
    if !journal.is_file() {
        return Ok(());
    }
    let aside = journal.with_extension("before-restore");
    std::fs::rename(&journal, &aside)
        .map_err(|e| format!("cannot set the journal {} aside: {e}", journal.display()))
}

/// The archive's PKI into `dir`, file by file (atomically, with their modes).
fn keep_pki(checked: &Checked, dir: &Path) -> Result<(), String> {
    archive::extract(checked, archive::PKI_PREFIX, dir)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
