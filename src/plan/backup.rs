//! `kubewiz backup`: the plan that takes an etcd snapshot and copies it to the KVM host
//! ([`phases::BACKUP`]). The archive around it (the PKI, the preset, admin.conf and
//! the manifest) is made by the command from what the plan fetched (`archive`).

use std::path::Path;

use super::phases::{self, BackupTo, Builder};
use super::{Local, Plan};
use crate::spec::layout::Layout;

/// The backup plan for `layout`: the snapshot is taken on host `on` (one of
/// [`snapshot_hosts`]) and ends up at `to` on the KVM host.
pub fn build(layout: &Layout, local: &Local, to: &Path, on: &str) -> Plan {
    let mut b = Builder::new(layout, &[], local);
    b.backup = Some(BackupTo { to, on });
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
        build(&layout, &local, Path::new("/state/spool/snapshot.db"), on)
    }

    #[test]
    fn external_etcd_is_saved_on_its_first_member_from_any_healthy_one() {
        let plan = plan_of("external-etcd.toml");
        assert_eq!(plan.phases.len(), 1);
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
        ] {
            assert!(text.contains(expected), "{expected}:\n{text}");
        }
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
