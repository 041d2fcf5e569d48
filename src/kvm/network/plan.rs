//! The plan: the exact `virsh net-update` commands that give the network the
//! cluster's DHCP reservations and DNS records. Pure: nothing is contacted.
//!
//! libvirt's rules, which the commands follow: `add` of a `dns-host` is refused when a
//! record with the same address or any of the same names exists, and a `dns-host`
//! cannot be `modify`'d — so a changed record is deleted and added again. An
//! `ip-dhcp-host` `add` is refused when an entry with the same MAC, address or name
//! exists; one with the same MAC is changed in place with `modify`, any other
//! conflicting entry is deleted first. Entries that share nothing with the cluster's
//! (other VMs' reservations) are left alone, and so are reservations of hosts that
//! have since left the preset: kubewiz cannot tell them from the operator's own.

use std::net::IpAddr;

use crate::files::Target;
use crate::kvm::KvmError;
use crate::kvm::import::ImportedVm;
use crate::kvm::netdef::{DhcpHost, DnsHost, NetworkState, dns_hosts};
use crate::kvm::virsh::quote;
use crate::kvm::xml;
use crate::render::kvm as render_kvm;
use crate::spec::ClusterSpec;
use crate::spec::layout::Layout;

/// One `virsh net-update` and what it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// For the operator: "reserve 192.168.122.11 for kubemaster-1 (52:54:00:...)".
    pub description: String,
    /// virsh's arguments after `-c URI`.
    pub args: Vec<String>,
}

impl Change {
    /// The command as the operator would type it.
    pub fn command_line(&self, uri: &str) -> String {
        let mut line = format!("virsh -c {}", quote(uri));
        for arg in &self.args {
            line.push(' ');
            line.push_str(&quote(arg));
        }
        line
    }
}

/// What the network needs for a spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPlan {
    pub network: String,
    /// In order: deletions, modifications, additions.
    pub changes: Vec<Change>,
    /// Entries already as the spec wants them.
    pub in_place: Vec<String>,
    /// Reservations that cannot be made, each with why (the VM is not in libvirt, ...).
    pub skipped: Vec<String>,
    /// What the operator should know: VMs that get a new address only after their
    /// lease renews.
    pub notes: Vec<String>,
}

impl NetworkPlan {
    /// True when the network already has everything: a second run says so.
    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// (description, command line) for each change, for the preview and the plan.
    pub fn commands(&self, uri: &str) -> Vec<(String, String)> {
        self.changes
            .iter()
            .map(|c| (c.description.clone(), c.command_line(uri)))
            .collect()
    }
}

/// The DNS records the spec asks for: the `<host>` elements of the rendered
/// `local/libvirt-dns.xml`.
pub fn desired_dns(spec: &ClusterSpec) -> Result<Vec<DnsHost>, KvmError> {
    let layout = Layout::new(spec).map_err(|e| KvmError::Spec(e.to_string()))?;
    let file = render_kvm::files(&layout)
        .into_iter()
        .find(|f| f.target == Target::Local && f.path == render_kvm::LIBVIRT_DNS_PATH)
        .ok_or_else(|| KvmError::Spec("no libvirt-dns.xml was rendered".into()))?;
    let root = xml::parse(&file.content).map_err(|e| KvmError::Xml {
        what: format!("the rendered {}", render_kvm::LIBVIRT_DNS_PATH),
        error: e.to_string(),
    })?;
    dns_hosts(&root).map_err(|error| KvmError::Xml {
        what: format!("the rendered {}", render_kvm::LIBVIRT_DNS_PATH),
        error,
    })
}

/// The commands that make `network` hold a reservation for each host whose VM is in
/// `vms` (by host name, with an interface on the network) and a DNS record for each
/// host and the endpoint name. Pure: nothing is contacted.
pub fn plan(
    spec: &ClusterSpec,
    network: &NetworkState,
    vms: &[ImportedVm],
) -> Result<NetworkPlan, KvmError> {
    let mut out = NetworkPlan {
        network: network.name.clone(),
        changes: Vec::new(),
        in_place: Vec::new(),
        skipped: Vec::new(),
        notes: Vec::new(),
    };
    let mut deletes = Vec::new();
    let mut modifies = Vec::new();
    let mut adds = Vec::new();

    // DHCP reservations, per <ip> element.
    let mut wanted: Vec<Vec<DhcpHost>> = vec![Vec::new(); network.ips.len()];
    for host in &spec.hosts {
        let name = host.name.as_str();
        let Some(vm) = vms.iter().find(|vm| vm.name.as_ref() == Some(&host.name)) else {
            out.skipped.push(format!(
                "{name}: no reservation, no libvirt domain is named {name} so its MAC is unknown; create the VM, or reserve its address by hand"
            ));
            continue;
        };
        let Some(mac) = &vm.mac else {
            out.skipped.push(format!(
                "{name}: no reservation, VM {} has no interface on network {}",
                vm.domain, network.name
            ));
            continue;
        };
        if host.address.is_ipv6() {
            out.skipped.push(format!(
                "{name}: no reservation, {} is IPv6 and libvirt reserves IPv6 addresses by DHCP id, not MAC",
                host.address
            ));
            continue;
        }
        let Some(index) = network
            .ips
            .iter()
            .position(|ip| ip.dhcp && ip.subnet.contains(&host.address))
        else {
            out.skipped.push(format!(
                "{name}: no reservation, {} is not in a subnet of network {} that has DHCP",
                host.address, network.name
            ));
            continue;
        };
        if let Some(current) = vm.address.filter(|a| IpAddr::V4(*a) != host.address) {
            out.notes.push(format!(
                "{name} now has {current}; it gets {} when its DHCP lease renews or the VM restarts",
                host.address
            ));
        }
        wanted[index].push(DhcpHost::new(mac, name, host.address));
    }
    out.notes.extend(address_notes(spec, network, vms));
    let flags = network.flags();
    for (index, (ip, desired)) in network.ips.iter().zip(&wanted).enumerate() {
        check_distinct(desired, DhcpHost::conflicts, |h| h.to_xml())?;
        let mut extra = Vec::new();
        if network.parent_index_needed() {
            extra = vec!["--parent-index".to_owned(), index.to_string()];
        }
        extra.extend(flags.iter().cloned());
        let update = |verb: &str, host: &DhcpHost| {
            let mut args = vec![
                "net-update".to_owned(),
                network.name.clone(),
                verb.to_owned(),
                "ip-dhcp-host".to_owned(),
                host.to_xml(),
            ];
            args.extend(extra.iter().cloned());
            args
        };
        let mut removed: Vec<&DhcpHost> = Vec::new();
        for want in desired {
            let name = want.name().unwrap_or_default();
            if ip.hosts.iter().any(|h| h.same(want)) {
                out.in_place.push(format!(
                    "reservation {} for {name}",
                    want.ip().map_or_else(String::new, |a| a.to_string())
                ));
                continue;
            }
            let conflicting: Vec<&DhcpHost> = ip
                .hosts
                .iter()
                .filter(|h| h.conflicts(want) && !desired.iter().any(|d| d.same(h)))
                .collect();
            let in_place_by_mac = match conflicting.as_slice() {
                [only] if only.mac() == want.mac() && !removed.contains(only) => Some(*only),
                _ => None,
            };
            if let Some(old) = in_place_by_mac {
                removed.push(old);
                modifies.push(Change {
                    description: format!(
                        "change the reservation of {name} ({}) from {} to {}",
                        want.mac().unwrap_or_default(),
                        old.to_xml(),
                        want.to_xml()
                    ),
                    args: update("modify", want),
                });
                continue;
            }
            for old in conflicting {
                if removed.contains(&old) {
                    continue;
                }
                removed.push(old);
                deletes.push(Change {
                    description: format!(
                        "remove the reservation {} that conflicts with {name}'s",
                        old.to_xml()
                    ),
                    args: update("delete", old),
                });
            }
            adds.push(Change {
                description: format!(
                    "reserve {} for {name} ({})",
                    want.ip().map_or_else(String::new, |a| a.to_string()),
                    want.mac().unwrap_or_default()
                ),
                args: update("add-last", want),
            });
        }
    }

    // DNS records.
    let desired = desired_dns(spec)?;
    check_distinct(&desired, DnsHost::conflicts, DnsHost::describe)?;
    let dns_update = |verb: &str, host: &DnsHost| {
        let mut args = vec![
            "net-update".to_owned(),
            network.name.clone(),
            verb.to_owned(),
            "dns-host".to_owned(),
            host.to_xml(),
        ];
        args.extend(flags.iter().cloned());
        args
    };
    let mut removed: Vec<&DnsHost> = Vec::new();
    for want in &desired {
        if network.dns_hosts.iter().any(|h| h.same(want)) {
            out.in_place.push(format!("DNS {}", want.describe()));
            continue;
        }
        for old in network
            .dns_hosts
            .iter()
            .filter(|h| h.conflicts(want) && !desired.iter().any(|d| d.same(h)))
        {
            if removed.contains(&old) {
                continue;
            }
            removed.push(old);
            deletes.push(Change {
                description: format!(
                    "remove DNS {} (libvirt cannot modify a DNS record; it is added again as {})",
                    old.describe(),
                    want.describe()
                ),
                args: dns_update("delete", old),
            });
        }
        adds.push(Change {
            description: format!("add DNS {}", want.describe()),
            args: dns_update("add-last", want),
        });
    }
    out.changes.extend(deletes);
    out.changes.extend(modifies);
    out.changes.extend(adds);
    Ok(out)
}

/// Addresses of the spec that libvirt may give to someone else: held now by another
/// VM, or (for the VIP and hosts without a reservation) inside a dynamic DHCP range —
/// one note per range, naming them all.
fn address_notes(spec: &ClusterSpec, network: &NetworkState, vms: &[ImportedVm]) -> Vec<String> {
    let mut notes = Vec::new();
    let mut exposed: Vec<(String, IpAddr)> = Vec::new();
    for host in &spec.hosts {
        for vm in vms {
            let own = vm.name.as_ref() == Some(&host.name);
            if !own && vm.address.map(IpAddr::V4) == Some(host.address) {
                notes.push(format!(
                    "{}, {}'s address, is now used by VM {}; it stays taken until that VM gets another",
                    host.address, host.name, vm.domain
                ));
            }
        }
        let reserved = vms
            .iter()
            .any(|vm| vm.name.as_ref() == Some(&host.name) && vm.mac.is_some());
        if !reserved {
            exposed.push((host.name.to_string(), host.address));
        }
    }
    if let Some(vip) = spec.control_plane.vip.filter(|_| spec.needs_vip()) {
        exposed.insert(0, ("the VIP".to_owned(), vip));
    }
    for def in &network.ips {
        for (start, end) in &def.ranges {
            let inside: Vec<String> = exposed
                .iter()
                .filter(|(_, ip)| start <= ip && ip <= end)
                .map(|(what, ip)| format!("{what} {ip}"))
                .collect();
            if !inside.is_empty() {
                notes.push(format!(
                    "inside the DHCP range {start}–{end} of network {0}, so libvirt may lease them to other VMs: {1}; a range that leaves them out avoids that (virsh net-update {0} modify ip-dhcp-range ...)",
                    network.name,
                    inside.join(", ")
                ));
            }
        }
    }
    notes
}

/// Two wanted entries that libvirt would take for the same one cannot both be added.
fn check_distinct<T>(
    entries: &[T],
    conflicts: fn(&T, &T) -> bool,
    show: impl Fn(&T) -> String,
) -> Result<(), KvmError> {
    for (i, a) in entries.iter().enumerate() {
        if let Some(b) = entries[i + 1..].iter().find(|b| conflicts(a, b)) {
            return Err(KvmError::Spec(format!(
                "{} and {} share a MAC, an address or a name, and libvirt keeps only one of them",
                show(a),
                show(b)
            )));
        }
    }
    Ok(())
}
