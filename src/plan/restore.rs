//! `kubewiz restore`: an install whose etcd starts from a backup's snapshot. External
//! etcd's members each restore it (with the whole member list and a new cluster
//! token) before they start; with stacked etcd the first control plane restores it as
//! a one-member cluster before `kubeadm init`, and the other control planes join it as
//! new members. Everything else is the install: the kept PKI (the archive's, the same
//! CAs) makes every kubeconfig of the cluster work again.

use super::phases::{self, Builder};
use super::{Local, Plan, Restore};
use crate::files::File;
use crate::spec::layout::Layout;

/// The install plan for `layout` with etcd's data restored from `restore`.
pub fn build(layout: &Layout, files: &[File], local: &Local, restore: &Restore) -> Plan {
    let mut b = Builder::new(layout, files, local);
    b.restore = Some(restore);
    phases::plan(&b, phases::INSTALL)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan_of(preset: &str) -> Plan {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("presets")
            .join(preset);
        let mut spec = crate::spec::load_file(&path).unwrap().spec;
        spec.kubernetes.encryption_algorithm = crate::spec::EncryptionAlgorithm::EcdsaP256;
        let layout = Layout::new(&spec).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (pki, _) = crate::pki::load_or_create(dir.path(), &layout).unwrap();
        let files = crate::render::render(&spec, &pki).unwrap();
        let local = crate::plan::test_local();
        let restore = Restore {
            snapshot: "/state/restore/snapshot.db".into(),
            sha256: "ab".repeat(32),
            token: "extetcd-restore-abababab".into(),
        };
        build(&layout, &files, &local, &restore)
    }

    #[test]
    fn every_external_member_restores_before_it_starts() {
        let plan = plan_of("external-etcd.toml");
        let etcd = plan.phases.iter().find(|p| p.id.name() == "etcd").unwrap();
        assert_eq!(etcd.hosts.len(), 3);
        for host in &etcd.hosts {
            let ids: Vec<&str> = host
                .steps
                .iter()
                .map(|s| s.id.rsplit('/').next().unwrap())
                .collect();
            let at = |name: &str| ids.iter().position(|i| *i == name).unwrap();
            assert!(at("put-snapshot") < at("restore"), "{ids:?}");
            assert!(at("restore") < at("start"), "{ids:?}");
        }
        let text = plan.to_string();
        assert!(
            text.contains("--name etcd-2 --initial-cluster etcd-1=https://192.168.122.41:2380,etcd-2=https://192.168.122.42:2380,etcd-3=https://192.168.122.43:2380 --initial-cluster-token extetcd-restore-abababab --initial-advertise-peer-urls https://192.168.122.42:2380"),
            "{text}"
        );
        // kubeadm init finds an empty /var/lib/etcd: external etcd keeps its own.
        assert!(!text.contains("DirAvailable"), "{text}");
    }

    #[test]
    fn stacked_etcd_is_restored_on_the_first_control_plane_alone() {
        let plan = plan_of("stacked-ha.toml");
        let first = plan
            .phases
            .iter()
            .find(|p| p.id.name() == "first-control-plane")
            .unwrap();
        let text = plan.to_string();
        assert!(
            text.contains(
                "--name kubemaster-1 --initial-cluster kubemaster-1=https://192.168.122.11:2380 "
            ),
            "{text}"
        );
        assert!(
            text.contains("kubeadm init --config /etc/kubewiz/kubeadm-init.yaml --skip-token-print --ignore-preflight-errors=DirAvailable--var-lib-etcd"),
            "{text}"
        );
        assert_eq!(first.hosts.len(), 1);
        let others = plan
            .phases
            .iter()
            .find(|p| p.id.name() == "control-planes")
            .unwrap();
        assert!(
            others
                .hosts
                .iter()
                .all(|h| h.steps.iter().all(|s| !s.id.ends_with("/restore"))),
            "the other control planes join as new members"
        );
    }
}
