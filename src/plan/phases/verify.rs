//! From the first control plane: the endpoint answers, every node registered (Ready
//! with a CNI), kube-system running, stacked etcd's members the control planes and
//! healthy (where etcdctl is), the external etcd reached through the API.

use super::super::steps::Steps;
use super::super::HostSteps;
use super::{ADMIN_CONF, Builder, PhaseDef, etcd_members};
use crate::spec::Cni;

pub const PHASE: PhaseDef = PhaseDef::on_hosts("verify", "Verify", steps);

fn steps(b: &Builder) -> Vec<HostSteps> {
    let layout = b.layout;
    let first = layout.first_control_plane();
    let mut s = Steps::new(PHASE.id, first.name.as_str());
    let nodes = layout.nodes().count();
    let kubectl = format!("kubectl --kubeconfig {ADMIN_CONF}");
    s.wait(
        "endpoint",
        format!("wait until {} answers", layout.api_url()),
        format!("{kubectl} --server {} get --raw /readyz", layout.api_url()),
        120,
    );
    if layout.spec.kubernetes.cni != Cni::None {
        s.wait(
            "nodes",
            format!("wait until all {nodes} nodes are Ready"),
            format!(
                "test \"$({kubectl} get nodes --no-headers | awk '$2 == \"Ready\"' | wc -l)\" -ge {nodes}"
            ),
            900,
        );
    } else {
        s.wait(
            "nodes",
            format!("wait until all {nodes} nodes are registered (no CNI: they stay NotReady)"),
            format!("test \"$({kubectl} get nodes --no-headers | wc -l)\" -ge {nodes}"),
            600,
        );
    }
    if layout.spec.kubernetes.cni != Cni::None {
        s.wait(
            "pods",
            "wait until every kube-system pod runs",
            format!(
                "{kubectl} get pods -n kube-system --no-headers | awk '$3 != \"Running\" && $3 != \"Completed\" {{ bad = 1; print }} END {{ exit bad }}'"
            ),
            600,
        );
    }
    if layout.etcd.is_empty() && layout.control_planes.len() > 1 {
        s.wait(
            "etcd-members",
            format!(
                "check that etcd's members are the {} control planes, all healthy",
                layout.control_planes.len()
            ),
            format!(
                "if command -v etcdctl >/dev/null; then {}; else echo 'etcdctl is not on this host: the members of etcd are not checked'; fi",
                etcd_members::all_members_healthy(layout)
            ),
            60,
        );
    }
    if !layout.etcd.is_empty() {
        s.wait(
            "etcd",
            "check the external etcd through the API server",
            format!("{kubectl} get --raw /readyz/etcd"),
            60,
        );
    }
    vec![s.done()]
}
