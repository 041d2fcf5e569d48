//! `kubewiz upgrade`, first: on the first control plane, with its admin.conf, every
//! node of the cluster registered and Ready (kubeadm refuses to upgrade while a control
//! plane is not, and a drained worker that is not never comes back; without a pod
//! network the kubelets say NotReady, and the check says to install one), no kubelet
//! newer than the version the upgrade goes to, and etcd answering the API server
//! (`/readyz/etcd` reads through etcd's quorum). From packages, every node also finds
//! the new version's packages in the new minor's repository, read into a scratch
//! directory: nothing of the host's own package configuration changes before the
//! upgrade starts.

use super::super::steps::Steps;
use super::super::{HostSteps, OsFamily, Upgrade};
use super::{ADMIN_CONF, Builder, PhaseDef};
use crate::files::Purpose;
use crate::render::node;
use crate::shell::quote;
use crate::spec::{HostSpec, Role};

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
    if up.bundle.is_some() {
        return vec![s.done()];
    }
    packages_available(b, &mut s, first, up);
    let mut all = vec![s.done()];
    for h in b.layout.nodes().filter(|h| h.name != first.name) {
        let mut s = Steps::new(PHASE.id, h.name.as_str());
        packages_available(b, &mut s, h, up);
        all.push(s.done());
    }
    all
}

/// On `h`: the new version of the packages it runs (kubeadm and the kubelet, kubectl
/// on a control plane) is in the new minor's repository, asked with the rendered
/// repository file in a scratch directory that goes afterwards.
fn packages_available(b: &Builder, s: &mut Steps, h: &HostSpec, up: &Upgrade) {
    let mut names = vec!["kubeadm", "kubelet"];
    if h.roles.contains(&Role::ControlPlane) {
        names.push("kubectl");
    }
    let names = names.join(" ");
    let (v, line) = (up.to, up.to.minor_line());
    let proxy: String = node::proxy_environment(b.layout)
        .iter()
        .map(|(k, v)| format!("export {k}={}; ", quote(v)))
        .collect();
    let decide = format!(
        "[ -z \"$missing\" ] || {{ echo \"not in the {line} package repository at version {v}:$missing; the upgrade cannot install them: check the repository (and the proxy), or upgrade to a version it has\" >&2; exit 1; }}; echo '{names} {v} are in the {line} package repository'"
    );
    for file in b.files_for(h.name.as_str(), Purpose::Node) {
        let (os, check) = if file.path == node::APT_SOURCE_PATH {
            // Root's private scratch directory: apt fetches into it as root.
            let o = "-o Dir::Etc::SourceList=$d/sources.list -o Dir::Etc::SourceParts=- -o Dir::State::Lists=$d/lists -o APT::Sandbox::User=root";
            (
                OsFamily::Apt,
                format!(
                    "{proxy}d=$(mktemp -d) && trap 'rm -rf \"$d\"' EXIT && mkdir -p \"$d/lists/partial\" && printf '%s' {content} > \"$d/sources.list\" && apt-get -q {o} update >/dev/null && missing=; for p in {names}; do apt-cache {o} madison $p | grep -q \"| {v}-\" || missing=\"$missing $p\"; done; {decide}",
                    content = quote(&file.content)
                ),
            )
        } else if file.path == node::RPM_REPO_PATH {
            (
                OsFamily::Dnf,
                format!(
                    "{proxy}d=$(mktemp -d) && trap 'rm -rf \"$d\"' EXIT && printf '%s' {content} > \"$d/kubernetes.repo\" && missing=; for p in {names}; do dnf -q --setopt=reposdir=\"$d\" --setopt=cachedir=\"$d/cache\" --disableexcludes=all list --showduplicates $p 2>/dev/null | grep -q \"{v}\" || missing=\"$missing $p\"; done; {decide}",
                    content = quote(&file.content)
                ),
            )
        } else {
            continue;
        };
        s.wait(
            &format!(
                "packages-{}",
                if os == OsFamily::Apt { "apt" } else { "dnf" }
            ),
            format!("{names} {v} in the {line} package repository"),
            check,
            120,
        )
        .only_on = Some(os);
    }
}
