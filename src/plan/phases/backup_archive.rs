//! `kubewiz backup`, on the KVM host once the snapshot is there: one archive with the
//! snapshot, the cluster's kept PKI, the applied preset and the operator's admin.conf,
//! and a manifest of their SHA-256 sums (`archive::pack`); the fetched snapshot is
//! deleted whether or not the archive could be written.

use super::super::steps::Steps;
use super::super::{Action, Blob, HostSteps, LOCAL, PackBackup};
use super::{Builder, PhaseDef};

pub const PHASE: PhaseDef = PhaseDef::on_hosts("backup-archive", "Write the backup archive", steps);

fn steps(b: &Builder) -> Vec<HostSteps> {
    let Some(backup) = b.backup else {
        return Vec::new();
    };
    let mut s = Steps::new(PHASE.id, LOCAL);
    s.push(
        "archive",
        "write the archive with the snapshot, the PKI, the preset and admin.conf",
        Action::PackBackup(PackBackup {
            archive: backup.archive.to_path_buf(),
            cluster: b.layout.spec.name.to_string(),
            snapshot_host: backup.on.to_owned(),
            sources: backup.sources.clone(),
            preset_text: Blob::new(backup.preset_text),
        }),
        600,
    );
    vec![s.done()]
}
