//! `kubeadm join` of one host, as the control-planes and workers phases run it, and
//! what undoes a node (kubeadm's and the kubelet's side) on reset.

use super::super::steps::Steps;
use super::super::{HostSteps, PhaseId};
use super::{ADMIN_CONF, Builder, empty_dirs, stop_units};
use crate::files::Purpose;
use crate::render::{etcd, kubeadm};
use crate::spec::HostSpec;
use crate::spec::layout::LbLayout;

/// Chains and rule comments of kube-proxy and the CNIs kubewiz installs.
const KUBE_RULES: &str = "KUBE-|CNI-|cali-|cali:|FLANNEL|CILIUM";

/// Network devices kube-proxy (IPVS) and the CNIs create.
const KUBE_LINKS: [&str; 7] = [
    "cni0",
    "flannel.1",
    "kube-ipvs0",
    "vxlan.calico",
    "tunl0",
    "cilium_host",
    "cilium_vxlan",
];

/// The join steps of `host` in phase `phase`.
pub(super) fn join(b: &Builder, phase: PhaseId, host: &HostSpec, control_plane: bool) -> HostSteps {
    let mut s = Steps::new(phase, host.name.as_str());
    b.uploads(&mut s, Purpose::Kubeadm);
    s.run(
        "join",
        if control_plane {
            "kubeadm join --control-plane"
        } else {
            "kubeadm join"
        },
        format!(
            "test -f /etc/kubernetes/kubelet.conf || kubeadm join --config {}",
            kubeadm::JOIN_CONFIG
        ),
        900,
    )
    .unit = Some("kubelet");
    if control_plane && matches!(b.layout.lb, LbLayout::KubeVip { .. }) {
        b.uploads(&mut s, Purpose::LoadBalancer);
    }
    if control_plane {
        s.wait(
            "ready",
            "wait until this API server is ready",
            // Its own address: the API server's certificate names it (kubeadm's SAN
            // rules), not 127.0.0.1.
            format!(
                "kubectl --kubeconfig {ADMIN_CONF} --server https://{} get --raw /readyz",
                std::net::SocketAddr::new(host.address, 6443)
            ),
            300,
        )
        .unit = Some("kubelet");
        etcd_servers(b, &mut s, host);
    } else {
        s.wait(
            "kubelet",
            "wait until the kubelet runs",
            "systemctl is-active --quiet kubelet",
            120,
        )
        .unit = Some("kubelet");
    }
    s.done()
}

/// With external etcd, on control plane `host`: the API server's `--etcd-servers` made
/// the preset's members (etcd hosts were added or taken out since kubeadm wrote it),
/// the static Pod's manifest replaced whole so the kubelet restarts it, then the API
/// server running with them and ready. On an install kubeadm wrote the same list, and
/// nothing changes. The list is in the commands, so a run after the members changed
/// does these steps again.
pub(super) fn etcd_servers(b: &Builder, s: &mut Steps, host: &HostSpec) {
    if b.layout.etcd.is_empty() {
        return;
    }
    let list = etcd::client_urls(&b.layout.etcd);
    let manifest = "/etc/kubernetes/manifests/kube-apiserver.yaml";
    // Written beside the manifests, not among them, where the kubelet would read it.
    let staged = "/etc/kubernetes/kube-apiserver.yaml.kubewiz";
    s.run(
        "etcd-servers",
        "make the API server's etcd servers the preset's etcd hosts",
        format!(
            "f={manifest}; want=--etcd-servers={list}; if grep -q -- \"$want\\$\" $f; then echo \"the API server uses etcd at {list}\"; exit 0; fi; \
grep -q -- '--etcd-servers=' $f || {{ echo \"$f has no --etcd-servers flag\" >&2; exit 1; }}; \
sed \"s|--etcd-servers=.*|$want|\" $f > {staged} && mv {staged} $f && echo \"the API server now uses etcd at {list}; the kubelet restarts it\""
        ),
        60,
    )
    .unit = Some("kubelet");
    // `[s]`: the pattern must not match the shell that runs pgrep, whose own command
    // line holds it.
    s.wait(
        "etcd-servers-ready",
        "wait until the API server runs with them and is ready",
        format!(
            "pgrep -f -- '--etcd-server[s]={list}' >/dev/null && kubectl --kubeconfig {ADMIN_CONF} --server https://{} get --raw /readyz",
            std::net::SocketAddr::new(host.address, 6443)
        ),
        300,
    )
    .unit = Some("kubelet");
}

/// Undoes what `kubeadm init`/`join` and the kubelet made on node `h`: kubeadm reset,
/// the kubelet stopped (its data and a stacked etcd's deleted when agreed), the pod
/// network's configuration and devices, the iptables rules and IPVS services.
pub(super) fn reset(b: &Builder, s: &mut Steps, h: &HostSpec) {
    let layout = b.layout;
    s.run(
        "kubeadm",
        "kubeadm reset",
        format!(
            "if command -v kubeadm >/dev/null && {{ [ -e /etc/kubernetes/kubelet.conf ] || [ -e /etc/kubernetes/manifests/kube-apiserver.yaml ] || [ -e /etc/kubernetes/admin.conf ]; }}; \
then kubeadm reset --force --cri-socket {}; else echo 'nothing for kubeadm to reset'; fi",
            kubeadm::CRI_SOCKET
        ),
        300,
    )
    .unit = Some("kubelet");
    s.run(
        "kubelet",
        "stop and disable the kubelet",
        stop_units(&["kubelet"]),
        120,
    );
    if b.reset.delete_data {
        let stacked =
            layout.etcd.is_empty() && layout.control_planes.iter().any(|c| c.name == h.name);
        let mut dirs = vec!["/var/lib/kubelet"];
        if stacked {
            dirs.push(etcd::DATA_DIR);
        }
        s.run(
            "data",
            format!("delete {}", dirs.join(" and ")),
            empty_dirs(&dirs),
            120,
        );
    }
    s.run(
        "cni",
        "remove the pod network's configuration and devices",
        format!(
            "rm -rf /etc/cni/net.d/* /var/lib/cni; for l in {}; do if ip link show \"$l\" >/dev/null 2>&1; then ip link delete \"$l\"; fi; done",
            KUBE_LINKS.join(" ")
        ),
        60,
    );
    s.run(
        "iptables",
        "remove the iptables rules and IPVS services Kubernetes made",
        format!(
            "for t in iptables ip6tables; do command -v $t-save >/dev/null || continue; \
if $t-save | grep -qE '{KUBE_RULES}'; then $t-save | grep -vE '{KUBE_RULES}' | $t-restore; fi; done; \
if command -v ipvsadm >/dev/null && [ -e /proc/net/ip_vs ]; then ipvsadm --clear; fi"
        ),
        120,
    );
}
