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
    if !layout.etcd.is_empty() {
        s.wait(
            "etcd",
            "check the external etcd through the API server",
            format!("{kubectl} get --raw /readyz/etcd"),
            60,
        );
    }
    // etcd's members are the preset's (none left over from a host taken out), all
    // healthy; asked where etcdctl is (a stacked cluster installed from packages has
    // none on its control planes). External etcd is asked on one of its members.
    let members = etcd_members::members(layout);
    let access = etcd_members::access(layout, "").filter(|_| members.len() > 1);
    let mut out = vec![s.done()];
    let Some(access) = access else {
        return out;
    };
    let mut e = Steps::new(PHASE.id, access.on.name.as_str());
    e.wait(
        "etcd-members",
        format!(
            "check that etcd's members are the {} {}, all healthy",
            members.len(),
            if layout.etcd.is_empty() {
                "control planes"
            } else {
                "etcd hosts"
            }
        ),
        format!(
            "if command -v etcdctl >/dev/null; then {}; else echo 'etcdctl is not on this host: the members of etcd are not checked'; fi",
            access.all_members_healthy(&members)
        ),
        60,
    );
    out.push(e.done());
    super::by_host(out)
}
