//! `kubewiz node remove`: the plan that takes a host out of the cluster
//! ([`phases::NODE_REMOVE`]): connections to it and to the first control plane (the
//! second when the first goes), the
//! node drained and deleted there (after a control plane with stacked etcd was checked
//! to leave etcd its quorum), then the host reset as `kubewiz reset` resets it
//! (kubeadm reset, the kubelet's data, its runtime, haproxy and keepalived, every file
//! put back), then its etcd member taken out when it still is one. A host that does
//! not answer is only taken out of the cluster, from the first control plane. The
//! other load balancers' new configuration is an apply of the cluster without it.

use super::phases::{
    self, Builder, Removing, ResetOptions, connect, remove_etcd_member, remove_node,
};
use super::{Local, Plan};
use crate::spec::layout::Layout;

/// The plan removing `host` from the cluster of `layout` (the installed one); `answers`:
/// whether the host answered over SSH.
pub fn remove(layout: &Layout, local: &Local, host: &str, answers: bool) -> Plan {
    let mut b = Builder::new(layout, &[], local);
    b.removing = Some(Removing { host, answers });
    b.reset = ResetOptions { delete_data: true };
    let mut plan = phases::plan(&b, phases::NODE_REMOVE);
    // The removed host's own steps (when it answers), and all of the phases that act
    // on the cluster from other hosts; then connections to every host that has steps.
    for phase in plan.phases.iter_mut().filter(|p| p.id != connect::PHASE.id) {
        let id = phase.id;
        phase.hosts.retain(|h| {
            (h.host == host && answers)
                || id == remove_node::PHASE.id
                || id == remove_etcd_member::PHASE.id
        });
    }
    let acting: std::collections::BTreeSet<String> = plan
        .phases
        .iter()
        .filter(|p| p.id != connect::PHASE.id)
        .flat_map(|p| p.hosts.iter().map(|h| h.host.clone()))
        .collect();
    for phase in plan.phases.iter_mut().filter(|p| p.id == connect::PHASE.id) {
        phase.hosts.retain(|h| acting.contains(&h.host));
    }
    plan.phases.retain(|p| !p.hosts.is_empty());
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan removing `host` from the cluster of the shipped preset `preset`.
    fn removal(preset: &str, host: &str, answers: bool) -> Plan {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("presets")
            .join(preset);
        let spec = crate::spec::load_file(&path).unwrap().spec;
        let layout = Layout::new(&spec).unwrap();
        let local = crate::plan::test_local();
        remove(&layout, &local, host, answers)
    }

    /// The plan removing kubenode-2 from the kvm-lab preset.
    fn removal_of_kubenode_2(answers: bool) -> Plan {
        removal("kvm-lab.toml", "kubenode-2", answers)
    }

    /// The slugs of `host`'s steps in the phase `phase`.
    fn slugs<'a>(plan: &'a Plan, phase: &str, host: &str) -> Vec<&'a str> {
        plan.phases
            .iter()
            .filter(|p| p.id.name() == phase)
            .flat_map(|p| &p.hosts)
            .filter(|h| h.host == host)
            .flat_map(|h| &h.steps)
            .map(|s| s.id.rsplit('/').next().unwrap())
            .collect()
    }

    #[test]
    fn a_stacked_control_plane_is_drained_after_a_quorum_check_and_leaves_etcd_last() {
        let plan = removal("stacked-ha.toml", "kubemaster-2", true);
        assert_eq!(
            shape(&plan),
            [
                ("connect", vec!["kubemaster-1", "kubemaster-2"]),
                ("remove-node", vec!["kubemaster-1"]),
                ("reset-nodes", vec!["kubemaster-2"]),
                ("reset-services", vec!["kubemaster-2"]),
                ("restore-files", vec!["kubemaster-2"]),
                ("remove-etcd-member", vec!["kubemaster-1"]),
            ]
        );
        assert_eq!(
            slugs(&plan, "remove-node", "kubemaster-1"),
            ["etcd-quorum", "drain", "delete"]
        );
        let text = plan.to_string();
        assert!(text.contains("systemctl disable --now haproxy"), "{text}");
        assert!(
            text.contains(
                "[ \"$name\" = kubemaster-2 ] || [ \"$peer\" = 'https://192.168.122.12:2380' ]"
            ),
            "{text}"
        );
        // One that does not answer: no drain and no reset, the member still taken out.
        let plan = removal("stacked-ha.toml", "kubemaster-2", false);
        assert_eq!(
            shape(&plan),
            [
                ("connect", vec!["kubemaster-1"]),
                ("remove-node", vec!["kubemaster-1"]),
                ("remove-etcd-member", vec!["kubemaster-1"]),
            ]
        );
        assert_eq!(
            slugs(&plan, "remove-node", "kubemaster-1"),
            ["etcd-quorum", "delete", "delete-pods"]
        );
    }

    #[test]
    fn the_first_control_plane_is_taken_out_from_the_second() {
        let plan = removal("stacked-ha.toml", "kubemaster-1", true);
        assert_eq!(
            shape(&plan),
            [
                ("connect", vec!["kubemaster-1", "kubemaster-2"]),
                ("remove-node", vec!["kubemaster-2"]),
                ("reset-nodes", vec!["kubemaster-1"]),
                ("reset-services", vec!["kubemaster-1"]),
                ("restore-files", vec!["kubemaster-1"]),
                ("remove-etcd-member", vec!["kubemaster-2"]),
            ]
        );
        assert_eq!(
            slugs(&plan, "remove-node", "kubemaster-2"),
            ["etcd-quorum", "drain", "delete"]
        );
        let text = plan.to_string();
        assert!(
            text.contains("drain kubemaster-1 --ignore-daemonsets"),
            "{text}"
        );
        assert!(
            text.contains("--endpoints=https://192.168.122.12:2379"),
            "{text}"
        );
    }

    #[test]
    fn a_load_balancer_alone_is_only_reset_and_external_etcd_keeps_its_members() {
        let plan = removal("kvm-lab.toml", "haproxy-2", true);
        assert_eq!(
            shape(&plan),
            [
                ("connect", vec!["haproxy-2"]),
                ("reset-services", vec!["haproxy-2"]),
                ("restore-files", vec!["haproxy-2"]),
            ]
        );
        // A control plane of external etcd has no member of its own to take out.
        let plan = removal("kvm-lab.toml", "kubemaster-2", true);
        let phases: Vec<&str> = shape(&plan).into_iter().map(|(p, _)| p).collect();
        assert!(!phases.contains(&"remove-etcd-member"), "{phases:?}");
        assert_eq!(
            slugs(&plan, "remove-node", "kubemaster-1"),
            ["drain", "delete"]
        );
    }

    /// Each phase's name and hosts.
    fn shape(plan: &Plan) -> Vec<(&'static str, Vec<&str>)> {
        plan.phases
            .iter()
            .map(|p| {
                (
                    p.id.name(),
                    p.hosts.iter().map(|h| h.host.as_str()).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn the_worker_is_drained_deleted_then_reset_alone() {
        let plan = removal_of_kubenode_2(true);
        assert_eq!(
            shape(&plan),
            [
                ("connect", vec!["kubemaster-1", "kubenode-2"]),
                ("remove-node", vec!["kubemaster-1"]),
                ("reset-nodes", vec!["kubenode-2"]),
                ("restore-files", vec!["kubenode-2"]),
            ]
        );
        let text = plan.to_string();
        assert!(
            text.contains("drain kubenode-2 --ignore-daemonsets"),
            "{text}"
        );
        assert!(
            text.contains("delete node kubenode-2 --ignore-not-found"),
            "{text}"
        );
        assert!(text.contains("kubeadm reset"), "{text}");
    }

    #[test]
    fn a_worker_that_does_not_answer_is_only_deleted_from_the_cluster() {
        let plan = removal_of_kubenode_2(false);
        assert_eq!(
            shape(&plan),
            [
                ("connect", vec!["kubemaster-1"]),
                ("remove-node", vec!["kubemaster-1"]),
            ]
        );
        let text = plan.to_string();
        assert!(!text.contains("drain"), "{text}");
        assert!(
            text.contains("delete pods --all-namespaces --field-selector spec.nodeName=kubenode-2 --force --grace-period=0"),
            "{text}"
        );
    }

    #[test]
    fn an_external_etcd_member_is_checked_and_taken_out_from_another_member() {
        let plan = removal("kvm-lab.toml", "etcd-1", true);
        assert_eq!(
            shape(&plan),
            [
                ("connect", vec!["etcd-1", "etcd-2"]),
                ("remove-node", vec!["etcd-2"]),
                ("reset-services", vec!["etcd-1"]),
                ("restore-files", vec!["etcd-1"]),
                ("remove-etcd-member", vec!["etcd-2"]),
            ]
        );
        assert_eq!(slugs(&plan, "remove-node", "etcd-2"), ["etcd-quorum"]);
        let text = plan.to_string();
        assert!(
            text.contains(
                "--cacert=/etc/etcd/pki/ca.crt --cert=/etc/etcd/pki/healthcheck-client.crt"
            ),
            "{text}"
        );
        assert!(text.contains("$3 == \"etcd-1\""), "{text}");
        let gone = removal("kvm-lab.toml", "etcd-1", false);
        assert_eq!(
            shape(&gone),
            [
                ("connect", vec!["etcd-2"]),
                ("remove-node", vec!["etcd-2"]),
                ("remove-etcd-member", vec!["etcd-2"]),
            ]
        );
    }
}
