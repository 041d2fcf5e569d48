//! Each host on its own and against the others: names, addresses, SSH overrides.

use std::collections::HashMap;
use std::net::IpAddr;

use super::host_path;
use crate::spec::{ClusterSpec, Diagnostic};

pub(super) fn check(spec: &ClusterSpec, out: &mut Vec<Diagnostic>) {
    if spec.hosts.is_empty() {
        out.push(Diagnostic::error(
            "hosts",
            "the preset has no hosts; add a [[hosts]] table with name, address and roles for each",
        ));
        return;
    }
    let mut names: HashMap<&str, usize> = HashMap::new();
    let mut addresses: HashMap<IpAddr, usize> = HashMap::new();
    let family_ipv6 = spec.hosts[0].address.is_ipv6();
    for (i, host) in spec.hosts.iter().enumerate() {
        if let Some(&first) = names.get(host.name.as_str()) {
            out.push(Diagnostic::error(
                host_path(i, "name"),
                format!(
                    "{} is already the name of hosts[{first}]; host names must be unique",
                    host.name
                ),
            ));
        } else {
            names.insert(host.name.as_str(), i);
        }
        if let Some(&first) = addresses.get(&host.address) {
            out.push(Diagnostic::error(
                host_path(i, "address"),
                format!(
                    "{} is already used by {}",
                    host.address, spec.hosts[first].name
                ),
            ));
        } else {
            addresses.insert(host.address, i);
        }
        if let Some(problem) = unusable(host.address) {
            out.push(Diagnostic::error(
                host_path(i, "address"),
                format!(
                    "{} is {problem}; give the address the KVM host reaches {} on",
                    host.address, host.name
                ),
            ));
        } else if host.address.is_ipv6() != family_ipv6 {
            out.push(Diagnostic::error(
                host_path(i, "address"),
                format!(
                    "{} is {} but {} is {}; kubewiz builds single-stack clusters, so all hosts need one family",
                    host.address,
                    family(host.address.is_ipv6()),
                    spec.hosts[0].name,
                    family(family_ipv6)
                ),
            ));
        }
        if let Some(problem) = host.user.as_deref().and_then(bad_user) {
            out.push(Diagnostic::error(host_path(i, "user"), problem));
        }
    }
}

pub(super) fn family(ipv6: bool) -> &'static str {
    if ipv6 { "IPv6" } else { "IPv4" }
}

/// Why an address cannot be a host's, if it cannot.
pub(super) fn unusable(ip: IpAddr) -> Option<&'static str> {
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_unspecified() {
        Some("the unspecified address")
    } else if ip.is_multicast() {
        Some("a multicast address")
    } else {
        match ip {
            IpAddr::V4(v4) if v4.is_broadcast() => Some("the broadcast address"),
            IpAddr::V4(v4) if v4.is_link_local() => Some("a link-local address"),
            IpAddr::V6(v6) if v6.is_unicast_link_local() => Some("a link-local address"),
            _ => None,
        }
    }
}

/// Why a string cannot be an SSH user name, if it cannot.
pub(super) fn bad_user(user: &str) -> Option<String> {
    if user.is_empty() {
        return Some("is empty; give the SSH user, e.g. root".into());
    }
    if let Some(c) = user
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || matches!(c, '@' | ':' | '/'))
    {
        return Some(format!(
            "\"{user}\" has {c:?}, which no user name has; give only the user (the host comes from the host's address)"
        ));
    }
    None
}
