//! The pod, service and hosts' networks: family, shape, size and overlaps.

use ipnet::IpNet;

use super::endpoint::{holds_vip, reserved};
use super::host_path;
use super::hosts::{family, unusable};
use crate::spec::{ClusterSpec, Diagnostic};

/// kube-apiserver refuses a larger service range: at most 20 bits of addresses.
const SERVICE_MIN_PREFIX_V4: u8 = 12;
const SERVICE_MIN_PREFIX_V6: u8 = 108;
/// The cluster DNS takes the service range's 10th address.
const SERVICE_MAX_PREFIX_V4: u8 = 28;
const SERVICE_MAX_PREFIX_V6: u8 = 124;
/// kube-controller-manager's default per-node pod ranges.
pub(crate) const NODE_MASK_V4: u8 = 24;
pub(crate) const NODE_MASK_V6: u8 = 64;
/// kubeadm refuses a pod range more than this many bits wider than the per-node range
/// (its PodSubnetNodeMaskMaxDiff): at most 65536 node ranges.
const POD_NODE_MASK_MAX_DIFF: u8 = 16;

const POD: &str = "kubernetes.pod_cidr";
const SERVICE: &str = "kubernetes.service_cidr";
const HOSTS_CIDR: &str = "network.hosts_cidr";

pub(super) fn check(spec: &ClusterSpec, out: &mut Vec<Diagnostic>) {
    let pod = spec.kubernetes.pod_cidr;
    let service = spec.kubernetes.service_cidr;
    let hosts_ipv6 = spec.hosts.first().map(|h| h.address.is_ipv6());

    let mut nets = vec![(POD, pod), (SERVICE, service)];
    nets.extend(spec.network.hosts_cidr.map(|n| (HOSTS_CIDR, n)));
    let mut shaped = true;
    for &(path, net) in &nets {
        if net.trunc() != net {
            shaped = false;
            out.push(Diagnostic::error(
                path,
                format!("{net} has host bits set; did you mean {}?", net.trunc()),
            ));
        }
        if let Some(ipv6) = hosts_ipv6.filter(|v6| *v6 != is_v6(net)) {
            shaped = false;
            out.push(Diagnostic::error(
                path,
                format!(
                    "{net} is {} but the hosts are {}; use an {} range",
                    family(is_v6(net)),
                    family(ipv6),
                    family(ipv6)
                ),
            ));
        }
    }
    check_service_size(service, out);
    check_pod_size(spec, pod, out);
    if !shaped {
        // Overlaps between ranges of the wrong shape or family only repeat the above.
        return;
    }
    overlap(out, POD, pod, SERVICE, service);
    if let Some(hosts_net) = spec.network.hosts_cidr {
        overlap(out, POD, pod, HOSTS_CIDR, hosts_net);
        overlap(out, SERVICE, service, HOSTS_CIDR, hosts_net);
    }
    for (path, net) in [(POD, pod), (SERVICE, service)] {
        let inside: Vec<_> = spec
            .hosts
            .iter()
            .filter(|h| net.contains(&h.address))
            .collect();
        if let Some(first) = inside.first() {
            let more = match inside.len() {
                1 => String::new(),
                n => format!(" and {} other host(s)", n - 1),
            };
            out.push(Diagnostic::error(
                path,
                format!(
                    "{net} contains {} ({}){more}; pod and service ranges must not hold any host address: pick an unused range",
                    first.address, first.name
                ),
            ));
        }
        if let Some(vip) = spec.control_plane.vip.filter(|vip| net.contains(vip)) {
            out.push(Diagnostic::error(
                path,
                format!("{net} contains the VIP {vip}; pick a range apart from the hosts' network"),
            ));
        }
    }
    if let Some(hosts_net) = spec.network.hosts_cidr {
        for (i, host) in spec.hosts.iter().enumerate() {
            // Unusable addresses get an error of their own.
            if unusable(host.address).is_some() {
                continue;
            }
            if let Some(which) = reserved(hosts_net, host.address) {
                out.push(Diagnostic::error(
                    host_path(i, "address"),
                    format!(
                        "{} is the {which} address of {hosts_net}, which no host can have; give the address the KVM host reaches {} on, or correct {HOSTS_CIDR}",
                        host.address, host.name
                    ),
                ));
            }
            // VIP holders outside the subnet get an error of their own.
            if !holds_vip(spec, &host.roles)
                && !hosts_net.contains(&host.address)
                && is_v6(hosts_net) == host.address.is_ipv6()
            {
                out.push(Diagnostic::warning(
                    host_path(i, "address"),
                    format!(
                        "{} is outside {HOSTS_CIDR} {hosts_net}; check the address, or widen hosts_cidr",
                        host.address
                    ),
                ));
            }
        }
    }
}

fn is_v6(net: IpNet) -> bool {
    matches!(net, IpNet::V6(_))
}

fn check_service_size(service: IpNet, out: &mut Vec<Diagnostic>) {
    let (min, max, example) = match service {
        IpNet::V4(_) => (SERVICE_MIN_PREFIX_V4, SERVICE_MAX_PREFIX_V4, "10.96.0.0/12"),
        IpNet::V6(_) => (
            SERVICE_MIN_PREFIX_V6,
            SERVICE_MAX_PREFIX_V6,
            "fd00:10:96::/112",
        ),
    };
    if service.prefix_len() < min {
        out.push(Diagnostic::error(
            SERVICE,
            format!(
                "{service} is larger than kube-apiserver accepts; use /{min} or smaller, e.g. {example}"
            ),
        ));
    } else if service.prefix_len() > max {
        out.push(Diagnostic::error(
            SERVICE,
            format!(
                "{service} is too small: the API service takes its 1st address and the cluster DNS its 10th; use /{max} or larger, e.g. {example}"
            ),
        ));
    }
}

fn check_pod_size(spec: &ClusterSpec, pod: IpNet, out: &mut Vec<Diagnostic>) {
    let mask = match pod {
        IpNet::V4(_) => NODE_MASK_V4,
        IpNet::V6(_) => NODE_MASK_V6,
    };
    let nodes = spec.nodes().count();
    if pod.prefix_len() > mask {
        out.push(Diagnostic::error(
            POD,
            format!(
                "{pod} is smaller than one node's pod range (/{mask}); use /{} or larger, e.g. 10.244.0.0/16",
                mask - 8
            ),
        ));
        return;
    }
    if mask - pod.prefix_len() > POD_NODE_MASK_MAX_DIFF {
        let example = match pod {
            IpNet::V4(_) => "10.244.0.0/16",
            IpNet::V6(_) => "fd00:10:244::/56",
        };
        out.push(Diagnostic::error(
            POD,
            format!(
                "{pod} is larger than kubeadm accepts: it may hold at most {} node ranges of /{mask}; use /{} or smaller, e.g. {example}",
                1u32 << POD_NODE_MASK_MAX_DIFF,
                mask - POD_NODE_MASK_MAX_DIFF
            ),
        ));
        return;
    }
    let bits = u32::from(mask - pod.prefix_len());
    let capacity = if bits >= 64 { u64::MAX } else { 1u64 << bits };
    if (nodes as u64) > capacity {
        out.push(Diagnostic::error(
            POD,
            format!(
                "{pod} holds {capacity} node range(s) of /{mask}, but the cluster has {nodes} nodes; use a larger range"
            ),
        ));
    }
}

/// Reports two ranges that share addresses, at the first one.
fn overlap(out: &mut Vec<Diagnostic>, path: &str, net: IpNet, other_path: &str, other: IpNet) {
    let relation = if other.contains(&net) {
        "lies inside"
    } else if net.contains(&other) {
        "contains"
    } else {
        // Two CIDR blocks share addresses only when one holds the other.
        return;
    };
    out.push(Diagnostic::error(
        path,
        format!("{net} {relation} {other_path} {other}; the two ranges must not share addresses"),
    ));
}
