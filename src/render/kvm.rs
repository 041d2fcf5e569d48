//! The KVM host's own files (`Purpose::Kvm`, `DIR/local/`): an /etc/hosts block, the
//! libvirt network's DNS entries and parallel-ssh host lists, so that the operator
//! reaches every VM and the API endpoint by name from the console kubewiz runs on.
//!
//! All of them are rendered whether or not the preset has a `[kvm]` section: without
//! one, the libvirt network is `default` (libvirt's own default NAT network) and host
//! names get no domain suffix. The files cost nothing when unused, and a preset
//! written for other hypervisors still gets a usable hosts block and host lists.

use std::net::IpAddr;

use minijinja::value::{Serde, Value};
use serde::Serialize;

use super::{File, Layout, LbLayout, MODE_PUBLIC, render_template};
pub use crate::spec::layout::{DEFAULT_LIBVIRT_NETWORK, libvirt_network};
use crate::spec::{ClusterSpec, DnsName, EndpointHost, HostSpec, Role};

/// The /etc/hosts block, relative to `local/`.
pub const HOSTS_PATH: &str = "hosts";
/// The libvirt `<dns>` element, relative to `local/`.
pub const LIBVIRT_DNS_PATH: &str = "libvirt-dns.xml";
/// The directory of parallel-ssh host files, relative to `local/`.
pub const GROUPS_DIR: &str = "groups";

/// Every file for the KVM host.
pub fn files(layout: &Layout) -> Vec<File> {
    let mut files = vec![
        File::local(HOSTS_PATH, MODE_PUBLIC, hosts_block(layout)),
        File::local(LIBVIRT_DNS_PATH, MODE_PUBLIC, libvirt_dns(layout)),
    ];
    files.extend(
        groups(layout.spec).into_iter().map(|(name, content)| {
            File::local(format!("{GROUPS_DIR}/{name}"), MODE_PUBLIC, content)
        }),
    );
    files
}

fn dns_domain(spec: &ClusterSpec) -> Option<&DnsName> {
    spec.kvm.as_ref().and_then(|kvm| kvm.dns_domain.as_ref())
}

/// The address the endpoint's DNS name stands for: the VIP, or the only control plane
/// when there is no load balancer. None when the endpoint is an address (nothing to
/// resolve) or the operator's own load balancer serves it (kubewiz does not know its
/// address; the operator's DNS does).
pub fn endpoint_address(layout: &Layout) -> Option<(DnsName, IpAddr)> {
    let EndpointHost::Name(name) = &layout.endpoint else {
        return None;
    };
    let address = match (&layout.vip, &layout.lb) {
        (Some(vip), _) => *vip,
        (None, LbLayout::None) => layout.first_control_plane().address,
        (None, _) => return None,
    };
    Some((name.clone(), address))
}

/// One address and the names that resolve to it.
#[derive(Debug, Serialize)]
struct Entry {
    address: IpAddr,
    names: Vec<String>,
}

/// Which of a host's two names comes first: /etc/hosts puts the canonical (fully
/// qualified) name first; the libvirt entries list the short name first.
#[derive(Clone, Copy, PartialEq)]
enum Order {
    QualifiedFirst,
    ShortFirst,
}

fn host_names(host: &HostSpec, domain: Option<&DnsName>, order: Order) -> Vec<String> {
    let short = host.name.to_string();
    match domain {
        None => vec![short],
        Some(domain) => {
            let qualified = format!("{short}.{domain}");
            match order {
                Order::QualifiedFirst => vec![qualified, short],
                Order::ShortFirst => vec![short, qualified],
            }
        }
    }
}

/// Every host in preset order, then the endpoint name. An endpoint that shares an
/// address with a host joins that host's entry: `virsh net-update ... add dns-host`
/// refuses a second entry for one address, and one line per address reads better in
/// /etc/hosts too.
fn entries(layout: &Layout, order: Order) -> Vec<Entry> {
    let domain = dns_domain(layout.spec);
    let mut entries: Vec<Entry> = layout
        .spec
        .hosts
        .iter()
        .map(|host| Entry {
            address: host.address,
            names: host_names(host, domain, order),
        })
        .collect();
    if let Some((name, address)) = endpoint_address(layout) {
        let name = name.to_string();
        let known = entries.iter().any(|e| e.names.contains(&name));
        match entries.iter_mut().find(|e| e.address == address) {
            _ if known => {}
            Some(entry) => entry.names.push(name),
            None => entries.push(Entry {
                address,
                names: vec![name],
            }),
        }
    }
    entries
}

fn hosts_block(layout: &Layout) -> String {
    render_template(
        "kvm/hosts.j2",
        include_str!("../../assets/kvm/hosts.j2"),
        minijinja::context! {
            cluster => layout.spec.name.as_str(),
            endpoint => endpoint_address(layout).map(|(name, _)| name.to_string()),
            entries => Value::from(Serde(entries(layout, Order::QualifiedFirst))),
        },
    )
}

/// Text for inside an XML comment, which may not hold `--`.
fn comment_safe(text: &str) -> String {
    let mut out = text.to_owned();
    while out.contains("--") {
        out = out.replace("--", "- -");
    }
    out
}

fn libvirt_dns(layout: &Layout) -> String {
    render_dns_xml(
        layout.spec.name.as_str(),
        libvirt_network(layout.spec),
        &entries(layout, Order::ShortFirst),
    )
}

/// The template escapes every value itself (minijinja auto-escapes `*.xml.j2`).
fn render_dns_xml(cluster: &str, network: &str, entries: &[Entry]) -> String {
    render_template(
        "kvm/libvirt-dns.xml.j2",
        include_str!("../../assets/kvm/libvirt-dns.xml.j2"),
        minijinja::context! {
            cluster => comment_safe(cluster),
            network => comment_safe(network),
            entries => Value::from(Serde(entries)),
        },
    )
}

/// `user@address:port` for parallel-ssh's host files, always with the user and port
/// (the host's own or the `[ssh]` defaults) so that `parallel-ssh -h FILE` needs no
/// further options. IPv6 addresses are written bare: parallel-ssh splits the port
/// off at the last `:` and hands the rest to ssh, which would not take brackets.
fn ssh_target(spec: &ClusterSpec, host: &HostSpec) -> String {
    let user = host.user.as_deref().unwrap_or(&spec.ssh.user);
    let port = host.port.unwrap_or(spec.ssh.port);
    format!("{user}@{}:{port}", host.address)
}

fn host_list<'a>(spec: &ClusterSpec, hosts: impl Iterator<Item = &'a HostSpec>) -> String {
    hosts.map(|h| ssh_target(spec, h) + "\n").collect()
}

/// `(file name, content)` for each role that has hosts, then `all`.
fn groups(spec: &ClusterSpec) -> Vec<(String, String)> {
    let mut groups: Vec<(String, String)> = Role::ALL
        .iter()
        .filter(|role| spec.hosts_with(**role).next().is_some())
        .map(|role| (role.to_string(), host_list(spec, spec.hosts_with(*role))))
        .collect();
    groups.push(("all".into(), host_list(spec, spec.hosts.iter())));
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xml_values_are_escaped() {
        let entries = [Entry {
            address: "192.0.2.1".parse().unwrap(),
            names: vec!["a<b>&'\"".into()],
        }];
        let xml = render_dns_xml("c--x", "net--work", &entries);
        assert!(
            xml.contains("<hostname>a&lt;b&gt;&amp;&#x27;&quot;</hostname>"),
            "{xml}"
        );
        assert!(xml.contains("\"net- -work\""), "{xml}");
        assert!(!xml.contains("c--x"), "{xml}");
    }

    #[test]
    fn comments_never_hold_double_dashes() {
        assert_eq!(comment_safe("a---b"), "a- - -b");
        assert_eq!(comment_safe("plain"), "plain");
    }
}
