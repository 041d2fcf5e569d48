//! `kubewiz certs renew`: the plan that puts renewed certificates on the hosts and
//! restarts what reads them ([`phases::CERTS_RENEW`]). The certificates are issued
//! (`pki::renew`) and saved before the plan is built; the plan only places them.

use std::collections::BTreeMap;

use super::phases::{self, Builder};
use super::{Local, Plan};
use crate::files::File;
use crate::pki::CertKey;
use crate::pki::profiles::LeafId;
use crate::spec::layout::Layout;

/// The renewal plan for `layout`: `files` rendered from the PKI with `renewed` in it.
pub fn build(
    layout: &Layout,
    files: &[File],
    local: &Local,
    renewed: &BTreeMap<LeafId, CertKey>,
) -> Plan {
    let mut b = Builder::new(layout, files, local);
    b.renewal = Some(renewed);
    phases::plan(&b, phases::CERTS_RENEW)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::renew;

    fn plan_of(names: &[&str]) -> Plan {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/external-etcd.toml");
        let mut spec = crate::spec::load_file(&path).unwrap().spec;
        // RSA keys take seconds each on a loaded machine; the algorithm is not the point.
        spec.kubernetes.encryption_algorithm = crate::spec::EncryptionAlgorithm::EcdsaP256;
        let layout = Layout::new(&spec).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (mut pki, _) = crate::pki::load_or_create(dir.path(), &layout).unwrap();
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let picked = renew::select(&layout, &names).unwrap();
        let issued =
            renew::reissue(&mut pki, &layout, &picked, time::OffsetDateTime::now_utc()).unwrap();
        let files = crate::render::render(&spec, &pki).unwrap();
        let local = crate::plan::test_local();
        build(&layout, &files, &local, &issued)
    }

    #[test]
    fn members_then_control_planes_one_at_a_time_then_the_kubeconfig() {
        let plan = plan_of(&[]);
        let phases: Vec<(&str, bool, usize)> = plan
            .phases
            .iter()
            .map(|p| (p.id.name(), p.one_at_a_time, p.hosts.len()))
            .collect();
        assert_eq!(
            phases[1..],
            [
                ("certs-etcd", true, 3),
                ("certs-control-planes", true, 2),
                ("kubeconfig", false, 1)
            ]
        );
        let text = plan.to_string();
        assert!(text.contains("systemctl restart etcd"), "{text}");
        assert!(text.contains("restart:kube-apiserver"), "{text}");
        // External etcd: no etcd static Pod on the control planes.
        assert!(!text.contains("restart:etcd"), "{text}");
        assert!(text.contains("kubeconfig:super-admin.conf"), "{text}");
    }

    #[test]
    fn only_the_hosts_whose_certificates_changed_take_part() {
        let plan = plan_of(&["admin"]);
        let names: Vec<&str> = plan.phases.iter().map(|p| p.id.name()).collect();
        assert_eq!(names, ["connect", "kubeconfig"]);
        let plan = plan_of(&["kubemaster-2/apiserver"]);
        let cps = plan
            .phases
            .iter()
            .find(|p| p.id.name() == "certs-control-planes")
            .unwrap();
        let hosts: Vec<&str> = cps.hosts.iter().map(|h| h.host.as_str()).collect();
        assert_eq!(hosts, ["kubemaster-2"]);
        assert!(plan.phases.iter().all(|p| p.id.name() != "certs-etcd"));
    }
}
