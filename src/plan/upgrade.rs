//! `kubewiz upgrade`: the plan that takes the cluster one minor version (or one patch)
//! further ([`phases::UPGRADE`]), from files rendered for the new version (the package
//! repository of its minor).

use super::phases::{self, Builder};
use super::{Local, Plan, Upgrade};
use crate::files::File;
use crate::spec::layout::Layout;

/// The upgrade plan for `layout` (the spec of the new version), `max_unavailable`
/// workers at a time.
pub fn build(
    layout: &Layout,
    files: &[File],
    local: &Local,
    upgrade: &Upgrade,
    max_unavailable: usize,
) -> Plan {
    let mut b = Builder::new(layout, files, local);
    b.upgrade = Some(upgrade);
    b.batch = Some(max_unavailable.max(1));
    phases::plan(&b, phases::UPGRADE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::KubeVersion;

    fn plan_of(preset: &str, bundle: bool, workers: usize) -> Plan {
        plan_with_etcd(preset, bundle, workers, None)
    }

    fn plan_with_etcd(preset: &str, bundle: bool, workers: usize, etcd: Option<&str>) -> Plan {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("presets")
            .join(preset);
        let mut spec = crate::spec::load_file(&path).unwrap().spec;
        spec.kubernetes.encryption_algorithm = crate::spec::EncryptionAlgorithm::EcdsaP256;
        spec.kubernetes.version = KubeVersion::new(1, 35, 0);
        let layout = Layout::new(&spec).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (pki, _) = crate::pki::load_or_create(dir.path(), &layout).unwrap();
        let files = crate::render::render(&spec, &pki).unwrap();
        let local = crate::plan::test_local();
        let upgrade = Upgrade {
            from: KubeVersion::new(1, 34, 2),
            to: KubeVersion::new(1, 35, 0),
            bundle: bundle.then(|| "/srv/bundle-1.35.0/bin".into()),
            etcd: etcd.map(String::from),
        };
        build(&layout, &files, &local, &upgrade, workers)
    }

    #[test]
    fn kubeadms_order_control_planes_one_at_a_time_workers_in_batches() {
        let plan = plan_of("kvm-lab.toml", true, 2);
        let phases: Vec<(&str, usize, bool, Option<usize>)> = plan
            .phases
            .iter()
            .map(|p| (p.id.name(), p.hosts.len(), p.one_at_a_time, p.at_most))
            .collect();
        assert_eq!(
            phases[1..],
            [
                ("upgrade-check", 1, false, None),
                ("upgrade-first-control-plane", 1, false, None),
                ("upgrade-control-planes", 2, true, None),
                ("upgrade-workers", 5, false, Some(2)),
            ]
        );
        let text = plan.to_string();
        for expected in [
            "kubeadm upgrade plan v1.35.0",
            "kubeadm upgrade apply v1.35.0 --yes",
            "upload kubeadm from /srv/bundle-1.35.0/bin",
            "upload kubelet, kubectl from /srv/bundle-1.35.0/bin",
            "kubectl --kubeconfig /etc/kubernetes/admin.conf drain kubenode-3 --ignore-daemonsets",
        ] {
            assert!(text.contains(expected), "{expected}:\n{text}");
        }
        // A worker gets no kubectl, and its drain runs on the first control plane.
        let worker = plan
            .phases
            .iter()
            .find(|p| p.id.name() == "upgrade-workers")
            .unwrap();
        let steps = &worker.hosts[0].steps;
        assert!(steps.iter().all(|s| !s.title.contains("kubectl 1.35")));
        let drain = steps.iter().find(|s| s.id.ends_with("/drain")).unwrap();
        assert_eq!(drain.via.as_deref(), Some("kubemaster-1"));
        let restart = steps
            .iter()
            .find(|s| s.id.ends_with("/restart-kubelet"))
            .unwrap();
        assert_eq!(restart.via, None);
    }

    #[test]
    fn packages_come_from_the_new_minors_repository() {
        let plan = plan_of("single-master.toml", false, 1);
        let text = plan.to_string();
        assert!(
            text.contains("apt-mark unhold kubeadm && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-change-held-packages 'kubeadm=1.35.0-*' && apt-mark hold kubeadm"),
            "{text}"
        );
        assert!(
            text.contains("upload /etc/apt/sources.list.d/kubernetes.list"),
            "{text}"
        );
        // Before anything changes, every node finds the new packages in the new
        // minor's repository, read into a scratch directory.
        let check = plan
            .phases
            .iter()
            .find(|p| p.id.name() == "upgrade-check")
            .unwrap();
        let hosts: Vec<&str> = check.hosts.iter().map(|h| h.host.as_str()).collect();
        assert_eq!(
            hosts,
            ["kubemaster-1", "kubenode-1", "kubenode-2", "kubenode-3"]
        );
        for expected in [
            "apt-cache -o Dir::Etc::SourceList=$d/sources.list -o Dir::Etc::SourceParts=- -o Dir::State::Lists=$d/lists -o APT::Sandbox::User=root madison $p | grep -q \"| 1.35.0-\"",
            "for p in kubeadm kubelet kubectl; do",
            "pkgs.k8s.io/core:/stable:/v1.35/deb/",
            "--setopt=reposdir=\"$d\"",
        ] {
            assert!(text.contains(expected), "{expected}:\n{text}");
        }
        // A bundle's programs are checked by their version instead.
        let bundled = plan_of("single-master.toml", true, 1);
        assert!(!bundled.to_string().contains("madison"));
    }

    #[test]
    fn external_etcd_gets_the_new_bundles_etcd_one_member_at_a_time_before_kubeadm() {
        let kept = plan_of("external-etcd.toml", true, 1);
        assert!(kept.phases.iter().all(|p| p.id.name() != "upgrade-etcd"));
        let plan = plan_with_etcd("external-etcd.toml", true, 1, Some("3.6.5"));
        let names: Vec<&str> = plan.phases.iter().map(|p| p.id.name()).collect();
        let at = names.iter().position(|n| *n == "upgrade-etcd").unwrap();
        assert_eq!(names[at + 1], "upgrade-first-control-plane", "{names:?}");
        let phase = &plan.phases[at];
        assert!(phase.one_at_a_time);
        let hosts: Vec<&str> = phase.hosts.iter().map(|h| h.host.as_str()).collect();
        assert_eq!(hosts, ["etcd-1", "etcd-2", "etcd-3"]);
        let text = plan.to_string();
        for expected in [
            "upload etcd, etcdctl from /srv/bundle-1.35.0/bin",
            "systemctl restart etcd",
            "endpoint status -w simple",
            "*\", 3.6.5, \"*",
        ] {
            assert!(text.contains(expected), "{expected}:\n{text}");
        }
        // Stacked etcd is kubeadm's to upgrade: no such phase.
        let stacked = plan_with_etcd("stacked-ha.toml", true, 1, Some("3.6.5"));
        assert!(stacked.phases.iter().all(|p| p.id.name() != "upgrade-etcd"));
    }
}
