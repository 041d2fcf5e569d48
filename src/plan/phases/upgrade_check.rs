//! `kubewiz upgrade`, first: on the first control plane, with its admin.conf, every
//! node of the cluster registered and Ready (kubeadm refuses to upgrade while a control
//! plane is not, and a drained worker that is not never comes back; without a pod
//! network the kubelets say NotReady, and the check says to install one), no kubelet
//! newer than the version the upgrade goes to, and etcd answering the API server
//! (`/readyz/etcd` reads through etcd's quorum).

use super::super::HostSteps;
use super::super::steps::Steps;
use super::{ADMIN_CONF, Builder, PhaseDef};

pub const PHASE: PhaseDef = PhaseDef::on_hosts("upgrade-check", "Check the cluster", steps);

fn steps(b: &Builder) -> Vec<HostSteps> {
    let Some(up) = b.upgrade else {
        return Vec::new();
    };
    let first = b.layout.first_control_plane();
    let mut s = Steps::new(PHASE.id, first.name.as_str());
    let k = format!("kubectl --kubeconfig {ADMIN_CONF}");
    let nodes: Vec<&str> = b.layout.nodes().map(|h| h.name.as_str()).collect();
    let to = up.to;
    // Checks, not changes: waits run on every run, never skipped as done before, and
    // give a node turning Ready half a minute.
    // One line per node: name, Ready's status, its message, the kubelet's version.
    s.wait(
        "nodes",
        format!("every node ({}) reporting, no kubelet newer than {}", nodes.len(), to.tag()),
        format!(
            "f=$({k} get nodes -o jsonpath='{{range .items[*]}}{{.metadata.name}}|{{.status.conditions[?(@.type==\"Ready\")].status}}|{{.status.nodeInfo.kubeletVersion}}|{{.status.conditions[?(@.type==\"Ready\")].message}}{{\"\\n\"}}{{end}}') || exit 1; \
echo \"$f\"; bad=0; \
for n in {names}; do echo \"$f\" | grep -q \"^$n|\" || {{ echo \"node $n is not registered\" >&2; bad=1; }}; done; \
echo \"$f\" | awk -F'|' -v to={minor} -v tag={tag} '\
$1 == \"\" {{ next }} \
$2 != \"True\" {{ print \"node \" $1 \" is not Ready: \" $4 > \"/dev/stderr\"; bad = 1 }} \
$2 != \"True\" && $4 ~ /NetworkPluginNotReady/ {{ print \"  (no pod network: install one first; kubeadm does not upgrade a cluster whose control planes are not Ready)\" > \"/dev/stderr\" }} \
{{ split(substr($3, 2), v, \".\"); if (v[1] * 1000 + v[2] > to) {{ print \"the kubelet of \" $1 \" is \" $3 \", newer than \" tag > \"/dev/stderr\"; bad = 1 }} }} \
END {{ exit bad }}' || bad=1; exit $bad",
            names = nodes.join(" "),
            minor = to.major * 1000 + to.minor,
            tag = to.tag(),
        ),
        30,
    );
    s.wait(
        "etcd",
        "etcd answers the API server (a read through its quorum)",
        format!("{k} get --raw /readyz/etcd && echo"),
        60,
    );
    vec![s.done()]
}
