//! The control-plane endpoint: VIP, endpoint name or address, port.

use std::net::IpAddr;

use ipnet::IpNet;

use super::host_path;
use super::hosts::family;
use crate::spec::{ClusterSpec, Diagnostic, EndpointHost, LoadBalancer, Role};

const VIP: &str = "control_plane.vip";
const ENDPOINT: &str = "control_plane.endpoint";
const PORT: &str = "control_plane.port";

/// Ports a control plane already listens on: apiserver, etcd, kubelet, scheduler,
/// controller-manager.
const CONTROL_PLANE_PORTS: [(u16, &str); 6] = [
    (6443, "kube-apiserver"),
    (2379, "etcd"),
    (2380, "etcd"),
    (10250, "the kubelet"),
    (10257, "kube-controller-manager"),
    (10259, "kube-scheduler"),
];

pub(super) fn check(spec: &ClusterSpec, out: &mut Vec<Diagnostic>) {
    check_vip(spec, out);
    check_endpoint(spec, out);
    check_port(spec, out);
}

fn check_vip(spec: &ClusterSpec, out: &mut Vec<Diagnostic>) {
    let lb = spec.control_plane.load_balancer;
    let Some(vip) = spec.control_plane.vip else {
        if spec.needs_vip() {
            let subnet = spec
                .network
                .hosts_cidr
                .map_or("the hosts' subnet".to_string(), |net| net.to_string());
            out.push(Diagnostic::error(
                VIP,
                format!(
                    "{} with {lb} needs a VIP: a free address in {subnet} that keepalived or kube-vip can move between hosts",
                    spec.topology
                ),
            ));
        }
        return;
    };
    if !spec.topology.is_ha() {
        out.push(Diagnostic::warning(
            VIP,
            format!(
                "{} has no load balancer, so the VIP {vip} is not used; remove it",
                spec.topology
            ),
        ));
        return;
    }
    if let Some(host) = spec.hosts.iter().find(|h| h.address == vip) {
        out.push(Diagnostic::error(
            VIP,
            format!(
                "{vip} is the address of {}; the VIP must be a free address that no host has",
                host.name
            ),
        ));
    }
    if let Some(ipv6) = spec.hosts.first().map(|h| h.address.is_ipv6())
        && ipv6 != vip.is_ipv6()
    {
        out.push(Diagnostic::error(
            VIP,
            format!(
                "{vip} is {} but the hosts are {}",
                family(vip.is_ipv6()),
                family(ipv6)
            ),
        ));
        return;
    }
    if lb == LoadBalancer::External {
        return;
    }
    let Some(subnet) = spec.network.hosts_cidr else {
        out.push(Diagnostic::warning(
            VIP,
            format!(
                "network.hosts_cidr is not set, so kubewiz cannot check that {vip} is on the hosts' subnet; set it, e.g. hosts_cidr = \"192.168.122.0/24\""
            ),
        ));
        return;
    };
    if !subnet.contains(&vip) {
        out.push(Diagnostic::error(
            VIP,
            format!(
                "{vip} is outside network.hosts_cidr {subnet}; {lb} can only hold an address on the hosts' own subnet"
            ),
        ));
    } else if let Some(which) = reserved(subnet, vip) {
        out.push(Diagnostic::error(
            VIP,
            format!("{vip} is the {which} address of {subnet}; pick a free host address in it"),
        ));
    }
    for (i, host) in spec.hosts.iter().enumerate() {
        if holds_vip(spec, host.roles.as_slice()) && !subnet.contains(&host.address) {
            out.push(Diagnostic::error(
                host_path(i, "address"),
                format!(
                    "{} holds the VIP with {lb} but {} is outside network.hosts_cidr {subnet}; VRRP and ARP only work on one subnet",
                    host.name, host.address
                ),
            ));
        }
    }
}

/// True for the hosts that hold the VIP with keepalived or kube-vip: load-balancer
/// hosts, or the control planes when there are none.
pub(super) fn holds_vip(spec: &ClusterSpec, roles: &[Role]) -> bool {
    if !spec.needs_vip() || spec.control_plane.vip.is_none() {
        false
    } else if spec.haproxy_on_control_planes()
        || spec.control_plane.load_balancer == LoadBalancer::KubeVip
    {
        roles.contains(&Role::ControlPlane)
    } else {
        roles.contains(&Role::LoadBalancer)
    }
}

/// Which of `subnet`'s own addresses `ip` is, if it is one no host or VIP can have:
/// IPv4's network and broadcast addresses (except in /31 and /32, RFC 3021) and
/// IPv6's subnet-router anycast address.
pub(super) fn reserved(subnet: IpNet, ip: IpAddr) -> Option<&'static str> {
    match subnet {
        IpNet::V4(net) if net.prefix_len() < 31 => {
            if IpAddr::V4(net.network()) == ip {
                Some("network")
            } else if IpAddr::V4(net.broadcast()) == ip {
                Some("broadcast")
            } else {
                None
            }
        }
        IpNet::V6(net) if net.prefix_len() < 127 && IpAddr::V6(net.network()) == ip => {
            Some("subnet-router anycast")
        }
        _ => None,
    }
}

fn check_endpoint(spec: &ClusterSpec, out: &mut Vec<Diagnostic>) {
    let lb = spec.control_plane.load_balancer;
    match &spec.control_plane.endpoint {
        None if spec.topology.is_ha() && lb == LoadBalancer::External => {
            out.push(Diagnostic::error(
                ENDPOINT,
                "with an external load balancer, give its DNS name or address here",
            ));
        }
        Some(EndpointHost::Ip(ip)) if spec.needs_vip() => match spec.control_plane.vip {
            Some(vip) if vip != *ip => out.push(Diagnostic::error(
                ENDPOINT,
                format!(
                    "{ip} is an address but not the VIP {vip}; clients would bypass the load balancer: use the VIP, a DNS name for it, or leave endpoint unset"
                ),
            )),
            _ => {}
        },
        Some(EndpointHost::Ip(ip)) if !spec.topology.is_ha() => {
            if let Some(cp) = spec.hosts_with(Role::ControlPlane).next()
                && cp.address != *ip
            {
                let owner = spec.hosts.iter().find(|h| h.address == *ip);
                let message = match owner {
                    Some(host) => format!(
                        "{ip} is the address of {}, not of the control plane {} ({}); use the control plane's address or a DNS name",
                        host.name, cp.name, cp.address
                    ),
                    None => format!(
                        "{ip} is not the control plane's address ({}); make sure it reaches {}, or use a DNS name",
                        cp.address, cp.name
                    ),
                };
                let diagnostic = if owner.is_some() {
                    Diagnostic::error(ENDPOINT, message)
                } else {
                    Diagnostic::warning(ENDPOINT, message)
                };
                out.push(diagnostic);
            }
        }
        _ => {}
    }
}

fn check_port(spec: &ClusterSpec, out: &mut Vec<Diagnostic>) {
    let port = spec.control_plane.port;
    let lb = spec.control_plane.load_balancer;
    if spec.haproxy_on_control_planes() {
        if let Some((_, user)) = CONTROL_PLANE_PORTS.iter().find(|(p, _)| *p == port) {
            let hint = if port == 6443 {
                " (no host has the load-balancer role)"
            } else {
                ""
            };
            out.push(Diagnostic::error(
                PORT,
                format!(
                    "haproxy runs on the control planes{hint}, where {user} holds {port}; use another port such as 8443, or add load-balancer hosts"
                ),
            ));
        }
    } else if !spec.topology.is_ha() && port != 6443 {
        out.push(Diagnostic::error(
            PORT,
            format!(
                "{} has no load balancer, so clients reach kube-apiserver directly on 6443; set port = 6443",
                spec.topology
            ),
        ));
    } else if spec.topology.is_ha() && lb == LoadBalancer::KubeVip && port != 6443 {
        out.push(Diagnostic::error(
            PORT,
            "kube-vip hands the VIP to kube-apiserver itself, so clients reach it on 6443; set port = 6443",
        ));
    }
}
