//! The control plane's endpoint: haproxy and keepalived on their hosts (the VIP
//! answering), or kube-vip's manifest on the first control plane.

use super::super::steps::Steps;
use super::super::HostSteps;
use super::{Builder, PhaseDef, stop_units};
use crate::files::Purpose;
use crate::render::lb;
use crate::shell::quote;
use crate::spec::HostSpec;
use crate::spec::layout::LbLayout;

pub const PHASE: PhaseDef = PhaseDef::on_hosts("load-balancer", "Load balancer", steps);

fn steps(b: &Builder) -> Vec<HostSteps> {
    match &b.layout.lb {
        LbLayout::HaproxyKeepalived { hosts, .. } => {
            b.for_hosts(PHASE.id, hosts, |s, h| haproxy_keepalived(b, s, h))
        }
        // The first control plane's kube-vip must run during `kubeadm init`; the
        // others get theirs after `kubeadm join`, whose preflight wants an empty
        // manifests directory.
        LbLayout::KubeVip { .. } => {
            let first = b.layout.first_control_plane();
            b.for_hosts(PHASE.id, &[first], |s, _| {
                b.uploads(s, Purpose::LoadBalancer)
            })
        }
        LbLayout::None | LbLayout::External => Vec::new(),
    }
}

fn haproxy_keepalived(b: &Builder, s: &mut Steps, h: &HostSpec) {
    s.run(
        "install",
        "install haproxy and keepalived",
        "command -v haproxy >/dev/null && command -v keepalived >/dev/null || { if command -v apt-get >/dev/null; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy keepalived; else dnf install -y haproxy keepalived; fi; }",
        600,
    );
    b.uploads(s, Purpose::LoadBalancer);
    s.run(
        "interface",
        "find the network interface that carries the host's address",
        interface_command(b, h),
        30,
    );
    s.run("start", "start haproxy and keepalived, or reload them (the VIP stays where it is) when their configuration changed", start_command(b, h), 120)
    .unit = Some("keepalived");
    let vip = b.layout.vip.expect("haproxy-keepalived has a VIP");
    s.wait(
        "vip",
        format!("wait until the VIP {vip} answers"),
        format!("ping -c 1 -W 1 {vip}"),
        60,
    )
    .unit = Some("keepalived");
}

/// haproxy and keepalived started, or reloaded when they run: haproxy takes its new
/// backends without dropping a connection, keepalived its new peers without giving up
/// the VIP. The command names the digest of the host's load balancer files, so a run
/// after a control plane or load balancer was added or removed (their files changed)
/// does this step again, and one that changes nothing skips it.
fn start_command(b: &Builder, h: &HostSpec) -> String {
    let files: String = b
        .files_for(h.name.as_str(), Purpose::LoadBalancer)
        .map(|f| format!("{} {}\n", f.path, crate::digest::sha256_hex(f.content.as_bytes())))
        .collect();
    let digest = crate::digest::sha256_hex(files.as_bytes());
    format!(
        "echo 'configuration sha256 {}'; haproxy -c -q -f /etc/haproxy/haproxy.cfg && systemctl enable haproxy keepalived && systemctl reload-or-restart haproxy keepalived",
        &digest[..16]
    )
}

/// keepalived needs the name of the interface that carries the host's address.
/// A name from the preset is checked; otherwise it is found on the host and written
/// to keepalived's include file (its content from `lb::interface_include`).
fn interface_command(b: &Builder, host: &HostSpec) -> String {
    if let Some(name) = &b.layout.spec.network.interface {
        let name = quote(name.as_str());
        return format!(
            "ip link show dev {name} >/dev/null || {{ echo \"network.interface {name} does not exist on this host; see ip -br addr\" >&2; exit 1; }}"
        );
    }
    const SENTINEL: &str = "@KUBEWIZ_IFACE@";
    let content = lb::interface_include(SENTINEL);
    let (before, after) = content
        .split_once(SENTINEL)
        .expect("the include holds the name");
    let address = host.address;
    format!(
        "iface=$({detect} | awk '{{print $2; exit}}'); iface=${{iface%%@*}}; \
test -n \"$iface\" || {{ echo 'no network interface carries {address}' >&2; exit 1; }}; \
printf '%s%s%s' {before} \"$iface\" {after} > {include}.tmp && mv {include}.tmp {include}",
        detect = lb::detect_interface_command(address),
        before = quote(before),
        after = quote(after),
        include = lb::INTERFACE_INCLUDE,
    )
}

/// Undoes a load balancer on `kubewiz reset`: haproxy and keepalived stopped (the
/// VIP goes with keepalived), and the interface include the install wrote.
pub(super) fn reset(s: &mut Steps) {
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
