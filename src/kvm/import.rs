//! Import: the VMs libvirt knows, turned into hosts for a preset.
//!
//! For each domain kubewiz reads its state (`virsh domstate`), its interfaces
//! (`virsh dumpxml`: MAC, network or bridge), and for running domains on the chosen
//! network its IPv4 address from, in this order, the network's DHCP lease
//! (`domifaddr --source lease`), the guest agent (`--source agent`) and the host's ARP
//! table (`--source arp`). Every VM without an address says why.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use super::KvmError;
use super::netdef::{NetworkState, read_network};
use super::virsh::{Virsh, table_rows};
use super::xml::{self, Element};
use crate::spec::{DnsLabel, HostSpec, Role};

/// Where an address came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AddressSource {
    /// The libvirt network's DHCP lease for the VM's MAC.
    Lease,
    /// The QEMU guest agent inside the VM.
    Agent,
    /// The KVM host's ARP table.
    Arp,
}

impl AddressSource {
    /// The name `virsh domifaddr --source` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            AddressSource::Lease => "lease",
            AddressSource::Agent => "agent",
            AddressSource::Arp => "arp",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            AddressSource::Lease => "DHCP lease",
            AddressSource::Agent => "guest agent",
            AddressSource::Arp => "ARP table",
        }
    }
}

/// One network interface of a domain, from its XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmInterface {
    /// Lower case, as libvirt prints it.
    pub mac: String,
    /// `network`, `bridge`, `direct`, ...
    pub kind: String,
    /// `<source network=...>` for `type='network'`.
    pub network: Option<String>,
    /// `<source bridge=...>` for `type='bridge'`.
    pub bridge: Option<String>,
}

impl VmInterface {
    /// True when the interface is on `network`: `type='network'` naming it, or
    /// `type='bridge'` on its bridge.
    pub fn is_on(&self, network: &NetworkState) -> bool {
        self.network.as_deref() == Some(network.name.as_str())
            || (self.kind == "bridge" && self.bridge.is_some() && self.bridge == network.bridge)
    }
}

/// Why a VM gives no host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotImported {
    /// The domain is not running (its state as virsh says it), so it has no address.
    NotRunning(String),
    /// No interface on the network; the networks and bridges it is on instead.
    NotOnNetwork(Vec<String>),
    /// Running on the network, but no lease, no agent answer, no ARP entry with an
    /// address in the network's subnets.
    NoAddress { mac: String },
    /// The domain name cannot be made a DNS label.
    BadName(String),
    /// Another VM already gave the same host name.
    DuplicateName { name: String, domain: String },
}

impl fmt::Display for NotImported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotImported::NotRunning(state) => {
                write!(
                    f,
                    "{state}; start it and import again once it has an address"
                )
            }
            NotImported::NotOnNetwork(others) if others.is_empty() => {
                f.write_str("has no network interface on this network")
            }
            NotImported::NotOnNetwork(others) => write!(
                f,
                "not on this network (it is on {}); import with --network NAME for that one",
                others.join(", ")
            ),
            NotImported::NoAddress { mac } => write!(
                f,
                "running, but no DHCP lease yet for {mac} on this network's subnets (nor a guest agent or ARP answer); wait until it has booted, or check its network configuration"
            ),
            NotImported::BadName(why) => write!(f, "its name cannot be a host name: {why}"),
            NotImported::DuplicateName { name, domain } => write!(
                f,
                "its host name {name} is already taken by VM {domain}; rename one of them"
            ),
        }
    }
}

/// One libvirt domain as the import sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedVm {
    /// The libvirt domain name.
    pub domain: String,
    /// The host name made of the domain name, when it can be one.
    pub name: Option<DnsLabel>,
    /// As `virsh domstate` prints it: `running`, `shut off`, `paused`, ...
    pub state: String,
    pub interfaces: Vec<VmInterface>,
    /// The MAC of the first interface on the imported network.
    pub mac: Option<String>,
    pub address: Option<Ipv4Addr>,
    pub source: Option<AddressSource>,
    /// Set when the VM gives no host.
    pub not_imported: Option<NotImported>,
}

impl ImportedVm {
    /// The host for a preset: roles empty, for the operator to fill in.
    pub fn host(&self) -> Option<HostSpec> {
        if self.not_imported.is_some() {
            return None;
        }
        Some(HostSpec {
            name: self.name.clone()?,
            address: IpAddr::V4(self.address?),
            roles: Vec::new(),
            user: None,
            port: None,
        })
    }
}

/// What `import` found on one network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub uri: String,
    pub network: String,
    /// Every domain libvirt knows, in `virsh list --all --name` order; those with an
    /// address first become hosts, the others carry their reason.
    pub hosts: Vec<ImportedVm>,
}

impl Import {
    /// The hosts to put in a preset, in libvirt's order.
    pub fn host_specs(&self) -> Vec<HostSpec> {
        self.hosts.iter().filter_map(ImportedVm::host).collect()
    }

    /// The VM whose host name is `name`.
    pub fn by_host_name(&self, name: &str) -> Option<&ImportedVm> {
        self.hosts
            .iter()
            .find(|vm| vm.name.as_ref().is_some_and(|n| n.as_str() == name))
    }

    /// `[[hosts]]` tables for a preset, roles left empty for the operator, followed by
    /// comments naming each VM that has no address and why. Valid TOML on its own.
    pub fn preset_fragment(&self) -> String {
        let roles: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        let mut out = format!(
            "# Hosts imported from libvirt network {:?} on {} by `kubewiz kvm import`.\n",
            comment_safe(&self.network),
            comment_safe(&self.uri)
        );
        out.push_str("# Give each host its roles before use.\n");
        for vm in &self.hosts {
            let Some(host) = vm.host() else { continue };
            let source = vm.source.map_or("", AddressSource::describe);
            let mac = vm.mac.as_deref().unwrap_or("-");
            out.push_str(&format!(
                "\n[[hosts]]\nname = \"{}\"\naddress = \"{}\"    # {source}, MAC {mac}\nroles = []    # {}\n",
                host.name,
                host.address,
                roles.join(" | ")
            ));
        }
        let missing: Vec<_> = self
            .hosts
            .iter()
            .filter_map(|vm| vm.not_imported.as_ref().map(|why| (vm, why)))
            .collect();
        if !missing.is_empty() {
            out.push_str("\n# Not imported:\n");
            for (vm, why) in missing {
                out.push_str(&format!("# - {}: {}\n", comment_safe(&vm.domain), why));
            }
        }
        out
    }
}

/// Text for a TOML comment or string: no line breaks or control characters, no quotes.
fn comment_safe(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() || c == '"' { '?' } else { c })
        .collect()
}

/// Lists every domain on `connect_uri` and reads the addresses of those on libvirt
/// network `network`. Blocking: runs a few virsh commands per domain. This is what the
/// wizard's Hosts screen calls for "import from libvirt" (on a worker thread) and
/// `kubewiz kvm import` prints.
pub fn import(connect_uri: &str, network: &str) -> Result<Import, KvmError> {
    import_with(&Virsh::new(connect_uri), network)
}

/// [`import()`] through `virsh` (a recording one, for the audit log of an install).
pub fn import_with(virsh: &Virsh, network: &str) -> Result<Import, KvmError> {
    import_on(virsh, network).map(|(found, _)| found)
}

/// [`import_with`], with the network as it read it.
pub(super) fn import_on(virsh: &Virsh, network: &str) -> Result<(Import, NetworkState), KvmError> {
    let connect_uri = virsh.uri.as_str();
    let net = read_network(virsh, network)?;
    let names = virsh.run(&["list", "--all", "--name"])?;
    let mut hosts = Vec::new();
    for domain in names.lines().map(str::trim).filter(|n| !n.is_empty()) {
        hosts.push(read_vm(virsh, &net, domain)?);
    }
    let mut taken: BTreeMap<String, String> = BTreeMap::new();
    for vm in &mut hosts {
        let Some(name) = &vm.name else { continue };
        if vm.not_imported.is_some() {
            continue;
        }
        if let Some(first) = taken.get(name.as_str()) {
            vm.not_imported = Some(NotImported::DuplicateName {
                name: name.to_string(),
                domain: first.clone(),
            });
        } else {
            taken.insert(name.to_string(), vm.domain.clone());
        }
    }
    Ok((
        Import {
            uri: connect_uri.to_owned(),
            network: network.to_owned(),
            hosts,
        },
        net,
    ))
}

fn read_vm(virsh: &Virsh, net: &NetworkState, domain: &str) -> Result<ImportedVm, KvmError> {
    let state = virsh.run(&["domstate", domain])?.trim().to_owned();
    let xml_text = virsh.run(&["dumpxml", domain])?;
    let root = xml::parse(&xml_text).map_err(|e| KvmError::Xml {
        what: format!("the XML of domain {domain}"),
        error: e.to_string(),
    })?;
    let interfaces = interfaces(&root);
    let on_network = interfaces.iter().find(|i| i.is_on(net)).cloned();
    let mut vm = ImportedVm {
        domain: domain.to_owned(),
        name: None,
        state: state.clone(),
        interfaces,
        mac: on_network.as_ref().map(|i| i.mac.clone()),
        address: None,
        source: None,
        not_imported: None,
    };
    match host_label(domain) {
        Ok(label) => vm.name = Some(label),
        Err(why) => {
            vm.not_imported = Some(NotImported::BadName(why));
            return Ok(vm);
        }
    }
    let Some(iface) = on_network else {
        let others = vm
            .interfaces
            .iter()
            .filter_map(|i| {
                i.network
                    .as_ref()
                    .map(|n| format!("network {n}"))
                    .or_else(|| i.bridge.as_ref().map(|b| format!("bridge {b}")))
            })
            .collect();
        vm.not_imported = Some(NotImported::NotOnNetwork(others));
        return Ok(vm);
    };
    if !matches!(state.as_str(), "running" | "idle" | "blocked") {
        vm.not_imported = Some(NotImported::NotRunning(state));
        return Ok(vm);
    }
    for source in [
        AddressSource::Lease,
        AddressSource::Agent,
        AddressSource::Arp,
    ] {
        // A source that is not available (no agent in the guest, no ARP entry) is an
        // error from virsh; it only means this source has no answer.
        let Ok(out) = virsh.run(&["domifaddr", domain, "--source", source.as_str()]) else {
            continue;
        };
        // An address outside the network's subnets is not this network's (a bridge
        // shared with something else, a stale ARP entry).
        if let Some(address) =
            ipv4_for_mac(&out, &iface.mac).filter(|a| net.contains(IpAddr::V4(*a)))
        {
            vm.address = Some(address);
            vm.source = Some(source);
            break;
        }
    }
    if vm.address.is_none() {
        vm.not_imported = Some(NotImported::NoAddress { mac: iface.mac });
    }
    Ok(vm)
}

/// The interfaces of a domain's XML.
pub fn interfaces(domain: &Element) -> Vec<VmInterface> {
    let Some(devices) = domain.child("devices") else {
        return Vec::new();
    };
    devices
        .children_named("interface")
        .filter_map(|iface| {
            let mac = iface.child("mac")?.attr("address")?.to_ascii_lowercase();
            let source = iface.child("source");
            Some(VmInterface {
                mac,
                kind: iface.attr("type").unwrap_or("").to_owned(),
                network: source.and_then(|s| s.attr("network")).map(str::to_owned),
                bridge: source.and_then(|s| s.attr("bridge")).map(str::to_owned),
            })
        })
        .collect()
}

/// The first IPv4 address `virsh domifaddr` printed for `mac`. Rows after the first
/// of an interface print `-` for its name and MAC.
pub fn ipv4_for_mac(output: &str, mac: &str) -> Option<Ipv4Addr> {
    let mut current = String::new();
    for row in table_rows(output) {
        let [_, row_mac, protocol, address] = row.as_slice() else {
            continue;
        };
        if *row_mac != "-" {
            current = row_mac.to_ascii_lowercase();
        }
        if current == mac && *protocol == "ipv4" {
            let address = address.split('/').next().unwrap_or(address);
            if let Ok(ip) = address.parse() {
                return Some(ip);
            }
        }
    }
    None
}

/// A host name made of a domain name: lower case, every character other than a-z,
/// 0-9 and '-' becomes '-', runs of '-' shrink to one, and the ends are trimmed, at
/// most 63 characters (`Kube_Master.1` becomes `kube-master-1`).
pub fn host_label(domain: &str) -> Result<DnsLabel, String> {
    let mut label = String::new();
    for c in domain.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if !(c == '-' && label.ends_with('-')) {
            label.push(c);
        }
    }
    let label: String = label.trim_matches('-').chars().take(63).collect();
    label.trim_end_matches('-').parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_from_domain_names() {
        assert_eq!(
            host_label("Kube_Master.1").unwrap().as_str(),
            "kube-master-1"
        );
        assert_eq!(host_label("--a  b--").unwrap().as_str(), "a-b");
        assert_eq!(host_label(&"x".repeat(70)).unwrap().as_str().len(), 63);
        assert!(host_label("___").is_err());
    }

    #[test]
    fn addresses_by_mac() {
        let out = " Name       MAC address          Protocol     Address
-------------------------------------------------------------------------------
 vnet0      52:54:00:00:00:11    ipv6         fe80::1/64
 -          -                    ipv4         192.168.122.3/24
 vnet1      52:54:00:00:00:12    ipv4         10.0.0.3/24
";
        assert_eq!(
            ipv4_for_mac(out, "52:54:00:00:00:11"),
            Some("192.168.122.3".parse().unwrap())
        );
        assert_eq!(
            ipv4_for_mac(out, "52:54:00:00:00:12"),
            Some("10.0.0.3".parse().unwrap())
        );
        assert_eq!(ipv4_for_mac(out, "52:54:00:00:00:13"), None);
    }
}
