//! `kubewiz node remove`: on the first control plane, with its admin.conf, the node
//! drained (its Pods evicted) and its Node object deleted; the host itself is then
//! reset by the reset phases' steps for it alone (`plan::node`).

use super::super::HostSteps;
use super::super::steps::Steps;
use super::{ADMIN_CONF, Builder, PhaseDef};

pub const PHASE: PhaseDef =
    PhaseDef::on_hosts("remove-node", "Drain the node and delete it", steps);

fn steps(b: &Builder) -> Vec<HostSteps> {
    let Some(host) = b.removing else {
        return Vec::new();
    };
    let first = b.layout.first_control_plane();
    let mut s = Steps::new(PHASE.id, first.name.as_str());
    let k = format!("kubectl --kubeconfig {ADMIN_CONF}");
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
    vec![s.done()]
}
