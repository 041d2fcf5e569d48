//! `kubewiz node remove`: the plan that takes a worker out of the cluster
//! ([`phases::NODE_REMOVE`]): connections to it and to the first control plane, the
//! node drained and deleted there, then the worker reset as `kubewiz reset` resets
//! it (kubeadm reset, the kubelet's data, its runtime, every file put back).

use super::phases::{self, Builder, ResetOptions, connect, remove_node};
use super::{Local, Plan};
use crate::spec::layout::Layout;

/// The plan removing `host` from the cluster of `layout` (the installed one).
pub fn remove(layout: &Layout, local: &Local, host: &str) -> Plan {
    let mut b = Builder::new(layout, &[], local);
    b.removing = Some(host);
    b.reset = ResetOptions { delete_data: true };
    let mut plan = phases::plan(&b, phases::NODE_REMOVE);
    let first = layout.first_control_plane().name.to_string();
    for phase in &mut plan.phases {
        let id = phase.id;
        phase.hosts.retain(|h| {
            h.host == host
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

    #[test]
    fn the_worker_is_drained_deleted_then_reset_alone() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/kvm-lab.toml");
        let spec = crate::spec::load_file(&path).unwrap().spec;
        let layout = Layout::new(&spec).unwrap();
        let local = crate::plan::test_local();
        let plan = remove(&layout, &local, "kubenode-2");
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
}
