//! `kubewiz backup`: the plan that takes an etcd snapshot, copies it to the KVM host and
//! packs it there with the cluster's kept PKI, its preset and admin.conf into one
//! archive with a manifest of SHA-256 sums ([`phases::BACKUP`], `archive::pack`).

use super::phases::{self, Builder};
use super::{Local, Plan};
use crate::spec::layout::Layout;

pub use super::phases::BackupTo as Backup;

/// The backup plan for `layout`: the snapshot is taken on host `backup.on` (one of
/// [`snapshot_hosts`]), copied to `backup.sources.snapshot` on the KVM host and packed
/// into `backup.archive`.
pub fn build(layout: &Layout, local: &Local, backup: Backup<'_>) -> Plan {
    let mut b = Builder::new(layout, &[], local);
    b.backup = Some(backup);
    phases::plan(&b, phases::BACKUP)
}

/// The hosts the snapshot can be taken on, in the order to try them.
pub fn snapshot_hosts(layout: &Layout) -> Vec<String> {
    phases::backup_etcd::snapshot_hosts(layout)
        .iter()
        .map(|h| h.name.to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::{Path, PathBuf};

    fn plan_of(preset: &str) -> Plan {
        plan_on(preset, None)
    }

    /// The plan of `preset`'s cluster, its snapshot taken on `on` (else the first of
    /// the snapshot hosts).
    fn plan_on(preset: &str, on: Option<&str>) -> Plan {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("presets")
            .join(preset);
        let spec = crate::spec::load_file(&path).unwrap().spec;
        let layout = Layout::new(&spec).unwrap();
        let local = crate::plan::test_local();
        let first = snapshot_hosts(&layout).remove(0);
        let on = on.unwrap_or(&first);
        let sources = crate::archive::Sources {
            snapshot: PathBuf::from("/state/spool/snapshot.db"),
            pki_dir: PathBuf::from("/state/pki"),
            preset: PathBuf::from("/state/preset.toml"),
            admin_conf: PathBuf::from("/state/admin.conf"),
        };
        let backup = Backup {
            on,
            archive: Path::new("/backups/lab-20261205T090000Z.tar.gz"),
            sources: &sources,
            preset_text: "name = \"lab\"\n",
        };
        build(&layout, &local, backup)
    }

    #[test]
    fn external_etcd_is_saved_on_its_first_member_from_any_healthy_one() {
        let plan = plan_of("external-etcd.toml");
        assert_eq!(plan.phases.len(), 2);
        let phase = &plan.phases[0];
        assert_eq!(phase.hosts.len(), 1);
        assert_eq!(phase.hosts[0].host, "etcd-1");
        let text = plan.to_string();
        for expected in [
            "--cacert=/etc/etcd/pki/ca.crt",
            "for ep in https://192.168.122.41:2379 https://192.168.122.42:2379 https://192.168.122.43:2379",
            "snapshot status",
            "copy /var/lib/kubewiz/backup/snapshot.db to /state/spool/snapshot.db on the KVM host (0600)",
            "rm -f /var/lib/kubewiz/backup/snapshot.db",
            "write /backups/lab-20261205T090000Z.tar.gz (0600) and its .sha256 on the KVM host: /state/spool/snapshot.db, every file of /state/pki, /state/preset.toml and /state/admin.conf, with their SHA-256 sums; then delete /state/spool/snapshot.db",
        ] {
            assert!(text.contains(expected), "{expected}:\n{text}");
        }
    }

    #[test]
    fn the_archive_is_packed_on_the_kvm_host_after_the_snapshot() {
        let plan = plan_of("single-master.toml");
        let phases: Vec<(&str, Vec<&str>)> = plan
            .phases
            .iter()
            .map(|p| {
                (
                    p.id.name(),
                    p.hosts.iter().map(|h| h.host.as_str()).collect(),
                )
            })
            .collect();
        assert_eq!(
            phases,
            [
                ("backup-etcd", vec!["kubemaster-1"]),
                ("backup-archive", vec![crate::plan::LOCAL])
            ]
        );
    }

    #[test]
    fn the_snapshot_can_be_taken_on_another_member_with_the_same_endpoints() {
        let on_second = plan_on("external-etcd.toml", Some("etcd-2"));
        assert_eq!(on_second.phases[0].hosts[0].host, "etcd-2");
        let (first, second) = (plan_of("external-etcd.toml"), on_second.to_string());
        assert_eq!(first.to_string().replace("etcd-1", "etcd-2"), second);
    }

    #[test]
    fn stacked_etcd_is_saved_on_the_first_control_plane() {
        let plan = plan_of("stacked-ha.toml");
        assert_eq!(plan.phases[0].hosts[0].host, "kubemaster-1");
        let text = plan.to_string();
        assert!(
            text.contains("--cert=/etc/kubernetes/pki/etcd/healthcheck-client.crt"),
            "{text}"
        );
    }
}
