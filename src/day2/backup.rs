//! `kubewiz backup`, prepared the same way for the command line and the engine: the
//! host the snapshot is taken on, the archive's name, and the plan that takes the
//! snapshot and packs the archive on the KVM host.

use std::path::{Path, PathBuf};

use crate::plan::{self, Plan};
use crate::spec::ClusterSpec;
use crate::spec::layout::Layout;
use crate::state::ClusterState;

/// The host the snapshot is taken on: the first of the etcd members (stacked: the
/// control planes) that answers over SSH, with a line for each one that does not; a dry
/// run contacts none and takes the first.
pub fn snapshot_host(
    spec: &ClusterSpec,
    layout: &Layout,
    dry_run: bool,
) -> Result<(String, Vec<String>), String> {
    let hosts = plan::backup::snapshot_hosts(layout);
    if dry_run {
        return hosts
            .first()
            .map(|h| (h.clone(), Vec::new()))
            .ok_or_else(|| "the cluster has no etcd member".to_owned());
    }
    let mut passed = Vec::new();
    for (i, host) in hosts.iter().enumerate() {
        match super::answers(spec, host) {
            Ok(()) => return Ok((host.clone(), passed)),
            Err(why) => passed.push(format!(
                "{host} does not answer over SSH ({why}){}",
                hosts
                    .get(i + 1)
                    .map_or(String::new(), |next| format!("; trying {next}"))
            )),
        }
    }
    Err(format!(
        "none of {} answers over SSH: no snapshot can be taken; bring one of them back",
        hosts.join(", ")
    ))
}

/// The archive a backup of `cluster` taken now writes into `out_dir` (the cluster's
/// `backups/` when None): `<cluster>-<UTC time>.tar.gz`.
pub fn archive_path(cluster: &ClusterState, out_dir: Option<&Path>) -> PathBuf {
    let dir = out_dir.map_or_else(|| default_dir(cluster), Path::to_path_buf);
    let (_, stamp) = crate::archive::stamps(time::OffsetDateTime::now_utc());
    let name = cluster
        .dir()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    dir.join(crate::archive::file_name(&name, &stamp))
}

/// Where a cluster's backups go unless told otherwise.
pub fn default_dir(cluster: &ClusterState) -> PathBuf {
    cluster.dir().join("backups")
}

/// The plan of a backup of `layout`'s cluster kept in `cluster`: the snapshot taken on
/// `host`, fetched into the cluster's state directory, and packed into `archive` with
/// the kept PKI, the kept preset (`preset_text` when none is kept) and admin.conf.
pub fn plan(
    cluster: &ClusterState,
    layout: &Layout,
    libvirt_uri: &str,
    host: &str,
    archive: &Path,
    preset_text: &str,
) -> Plan {
    let local = crate::generate::local(cluster, libvirt_uri);
    let spool = format!(
        ".{}.snapshot",
        archive
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "backup".into())
    );
    let sources = crate::archive::Sources {
        snapshot: cluster.dir().join(spool),
        pki_dir: cluster.pki_dir(),
        preset: cluster.preset(),
        admin_conf: cluster.admin_conf(),
    };
    let backup = plan::backup::Backup {
        on: host,
        archive,
        sources: &sources,
        preset_text,
    };
    plan::backup::build(layout, &local, backup)
}
