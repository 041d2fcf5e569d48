//! `kubewiz node remove`: the plan that takes a worker out of the cluster
//! ([`phases::NODE_REMOVE`]): connections to it and to the first control plane, the
//! node drained and deleted there, then the worker reset as `kubewiz reset` resets
//! it (kubeadm reset, the kubelet's data, its runtime, every file put back). A worker
//! that does not answer is only taken out of the cluster, from the first control plane.

use super::phases::{self, Builder, Removing, ResetOptions, connect, remove_node};
use super::{Local, Plan};
use crate::spec::layout::Layout;

/// The plan removing `host` from the cluster of `layout` (the installed one); `answers`:
/// whether the host answered over SSH.
pub fn remove(layout: &Layout, local: &Local, host: &str, answers: bool) -> Plan {
    let mut b = Builder::new(layout, &[], local);
    b.removing = Some(Removing { host, answers });
    b.reset = ResetOptions { delete_data: true };
    let mut plan = phases::plan(&b, phases::NODE_REMOVE);
    let first = layout.first_control_plane().name.to_string();
    for phase in &mut plan.phases {
        let id = phase.id;
        phase.hosts.retain(|h| {
            (h.host == host && answers)
                || id == remove_node::PHASE.id
                || (id == connect::PHASE.id && h.host == first)
        });
    }
    plan.phases.retain(|p| !p.hosts.is_empty());
    plan
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plan removing kubenode-2 from the kvm-lab preset.
    fn removal_of_kubenode_2(answers: bool) -> Plan {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/kvm-lab.toml");
        let spec = crate::spec::load_file(&path).unwrap().spec;
        let layout = Layout::new(&spec).unwrap();
        let local = crate::plan::test_local();
        remove(&layout, &local, "kubenode-2", answers)
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
}
