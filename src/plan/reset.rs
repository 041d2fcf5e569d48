//! `kubewiz reset`: the steps that undo an install, per host and role.
//!
//! Every command checks before it acts, so a reset can run again (after a failure, or
//! on hosts that were never fully installed) and does nothing where nothing is left.
//! The order: nodes first (`kubeadm reset`, the kubelet and its data, CNI leftovers,
//! the iptables and IPVS rules Kubernetes made), then the services kubewiz started
//! outside Kubernetes (external etcd, haproxy and keepalived), then every file kubewiz
//! wrote is put back as it was before the install, from what uploads recorded on the
//! host (`exec::ssh::RECORD_DIR`). Certificates stay in the state directory, so a new
//! install reuses the cluster's CAs.

use super::steps::Steps;
use super::{Action, HostSteps, OsFamily, Phase, PhaseId, Plan};
use crate::exec::ssh::{RECORD_DIR, SWAP_RECORD};
use crate::render::{Layout, LbLayout, etcd, kubeadm, lb};
use crate::spec::{HostSpec, PackageSource};

/// What the operator agreed to delete besides kubewiz's own files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetOptions {
    /// Delete etcd's data (the cluster's state) and the kubelet's.
    pub delete_data: bool,
}

/// The state directory kubewiz keeps on each host.
const HOST_STATE: &str = "/var/lib/kubewiz";

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

/// The reset plan for `layout`.
pub fn build(layout: &Layout, options: ResetOptions) -> Plan {
    let spec = layout.spec;
    let mut phases = vec![connect(layout)];
    let nodes: Vec<HostSteps> = layout
        .nodes()
        .map(|h| node_steps(layout, h, options))
        .collect();
    phases.push(phase(PhaseId::ResetNodes, nodes));
    let is = |list: &[&HostSpec], h: &HostSpec| list.iter().any(|x| x.name == h.name);
    let balancers: &[&HostSpec] = match &layout.lb {
        LbLayout::HaproxyKeepalived { hosts, .. } => hosts,
        _ => &[],
    };
    let services = spec
        .hosts
        .iter()
        .map(|h| {
            let mut s = Steps::new(PhaseId::ResetServices, h.name.as_str());
            if is(&layout.etcd, h) {
                s.run("etcd", "stop and disable etcd", stop_units(&["etcd"]), 120);
                if options.delete_data {
                    s.run(
                        "etcd-data",
                        format!("delete etcd's data ({})", etcd::DATA_DIR),
                        empty_dirs(&[etcd::DATA_DIR]),
                        120,
                    );
                }
            }
            if is(balancers, h) {
                s.run(
                    "load-balancer",
                    "stop and disable haproxy and keepalived (the VIP goes with keepalived)",
                    stop_units(&["keepalived", "haproxy"]),
                    120,
                );
                // Written by a command at install time, not by an upload.
                s.run(
                    "interface",
                    "remove the network interface include kubewiz wrote for keepalived",
                    format!("rm -f -- {}", lb::INTERFACE_INCLUDE),
                    30,
                );
            }
            s.done()
        })
        .collect();
    phases.push(phase(PhaseId::ResetServices, services));
    let restore = spec
        .hosts
        .iter()
        .map(|h| {
            let mut s = Steps::new(PhaseId::Restore, h.name.as_str());
            s.run(
                "files",
                "put back every file kubewiz replaced, remove those it created",
                restore_command(),
                300,
            );
            s.done()
        })
        .collect();
    phases.push(phase(PhaseId::Restore, restore));
    Plan {
        cluster: spec.name.to_string(),
        phases: phases.into_iter().filter(|p| !p.hosts.is_empty()).collect(),
    }
}

fn phase(id: PhaseId, hosts: Vec<HostSteps>) -> Phase {
    Phase {
        id,
        one_at_a_time: false,
        hosts: hosts.into_iter().filter(|h| !h.steps.is_empty()).collect(),
    }
}

fn connect(layout: &Layout) -> Phase {
    let hosts = layout
        .spec
        .hosts
        .iter()
        .map(|h| {
            let mut s = Steps::new(PhaseId::Connect, h.name.as_str());
            s.push(
                "ssh",
                "connect over SSH and check the host key",
                Action::Connect,
                30,
            );
            s.push("facts", "gather facts", Action::Facts, 60);
            s.done()
        })
        .collect();
    phase(PhaseId::Connect, hosts)
}

fn node_steps(layout: &Layout, h: &HostSpec, options: ResetOptions) -> HostSteps {
    let mut s = Steps::new(PhaseId::ResetNodes, h.name.as_str());
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
    if options.delete_data {
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
    match layout.spec.packages.source {
        PackageSource::Bundle => {
            s.run(
                "containerd",
                "stop and disable containerd (installed from the bundle)",
                stop_units(&["containerd"]),
                120,
            );
        }
        PackageSource::Online => {
            s.run(
                "holds",
                "release the package holds on kubelet, kubeadm and kubectl",
                "apt-mark unhold kubelet kubeadm kubectl",
                60,
            )
            .only_on = Some(OsFamily::Apt);
        }
    }
    s.done()
}

/// Deletes everything inside `dirs`, keeping the directories themselves (packages
/// create them, with their owners and modes).
fn empty_dirs(dirs: &[&str]) -> String {
    format!(
        "for d in {}; do if [ -d \"$d\" ]; then find \"$d\" -mindepth 1 -delete; fi; done",
        dirs.join(" ")
    )
}

/// Stops and disables `units` that have a unit file; nothing for the others.
fn stop_units(units: &[&str]) -> String {
    units
        .iter()
        .map(|u| {
            format!(
                "if [ -e /etc/systemd/system/{u}.service ] || [ -e /lib/systemd/system/{u}.service ] || [ -e /usr/lib/systemd/system/{u}.service ]; \
then systemctl disable --now {u}; else echo 'no {u} unit'; fi"
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// Puts back the originals kubewiz kept (also /etc/fstab and /etc/hostname, with the
/// running hostname and swap as they were), removes the files and directories it
/// created, then its own state on the host.
fn restore_command() -> String {
    format!(
        "r={RECORD_DIR}; if [ ! -d \"$r\" ]; then echo 'kubewiz wrote no file here'; rm -rf {HOST_STATE}; exit 0; fi; \
if [ -d \"$r/new\" ]; then (cd \"$r/new\" && find . ! -type d) | while IFS= read -r f; do rm -f -- \"${{f#.}}\"; echo \"removed ${{f#.}}\"; done; fi; \
if [ -d \"$r/orig\" ]; then (cd \"$r/orig\" && find . ! -type d) | while IFS= read -r f; do cp -a -- \"$r/orig${{f#.}}\" \"${{f#.}}\"; echo \"restored ${{f#.}}\"; done; fi; \
if [ -f \"$r/orig/etc/hostname\" ]; then n=$(cat /etc/hostname); hostnamectl set-hostname \"$n\" 2>/dev/null || hostname \"$n\"; echo \"hostname $n again\"; fi; \
if [ \"$(cat {SWAP_RECORD} 2>/dev/null)\" = on ]; then swapon -a && echo 'swap on again'; fi; \
if [ -f \"$r/dirs\" ]; then sort -ru \"$r/dirs\" | while IFS= read -r d; do case \"$d\" in /?*) rm -rf -- \"$d\"; echo \"removed $d/\";; esac; done; fi; \
rm -rf {HOST_STATE}; if command -v systemctl >/dev/null; then systemctl daemon-reload; fi"
    )
}
