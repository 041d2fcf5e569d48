//! `kubewiz node remove`: on the first control plane (the second when the first is the
//! one taken out), with its admin.conf, the node
//! drained (its Pods evicted) and its Node object deleted, after an etcd member was
//! checked to leave etcd its quorum; the host itself is then
//! reset by the reset phases' steps for it alone (`plan::node`). A host that does not
//! answer cannot be drained (eviction waits for its kubelet to stop the Pods, which
//! never happens): its Node is deleted, then the Pods still bound to it, so their
//! controllers start them elsewhere at once.

use super::super::HostSteps;
use super::super::steps::Steps;
use super::{ADMIN_CONF, Builder, PhaseDef, etcd_members};

pub const PHASE: PhaseDef =
    PhaseDef::on_hosts("remove-node", "Drain the node and delete it", steps);

fn steps(b: &Builder) -> Vec<HostSteps> {
    let Some(removing) = b.removing else {
        return Vec::new();
    };
    let host = removing.host;
    let Some(first) = super::acting_control_plane(b.layout, host) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    // Before anything changes: etcd keeps its quorum without the member, asked from
    // the first control plane (stacked) or another member (external).
    if let Some(member) = etcd_members::member(b.layout, host)
        && let Some(access) = etcd_members::access(b.layout, host)
    {
        let mut check = Steps::new(PHASE.id, access.on.name.as_str());
        check.wait(
            "etcd-quorum",
            format!("check that etcd keeps its quorum without {host}'s member"),
            access.quorum_check(member),
            20,
        );
        out.push(check.done());
    }
    // A load balancer or an etcd host alone runs no kubelet: no node to drain or delete.
    if !b.layout.nodes().any(|n| n.name.as_str() == host) {
        return out;
    }
    let mut s = Steps::new(PHASE.id, first.name.as_str());
    let k = format!("kubectl --kubeconfig {ADMIN_CONF}");
    if !removing.answers {
        s.run(
            "delete",
            format!("delete the node {host} (the host does not answer)"),
            format!("{k} delete node {host} --ignore-not-found"),
            60,
        );
        s.run(
            "delete-pods",
            format!("delete the Pods still bound to {host}, so they start elsewhere"),
            format!(
                "{k} delete pods --all-namespaces --field-selector spec.nodeName={host} --force --grace-period=0 --ignore-not-found"
            ),
            120,
        );
    } else {
        s.run(
            "drain",
            format!("drain {host} (cordon, evict its Pods)"),
            format!(
                "if {k} get node {host} >/dev/null 2>&1; then {k} drain {host} --ignore-daemonsets --delete-emptydir-data --timeout=300s; else echo 'node {host} is not in the cluster'; fi"
            ),
            330,
        );
        s.run(
            "delete",
            format!("delete the node {host}"),
            format!("{k} delete node {host} --ignore-not-found"),
            60,
        );
    }
    out.push(s.done());
    super::by_host(out)
}
