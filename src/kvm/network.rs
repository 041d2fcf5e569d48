//! The libvirt network's part of an install: a DHCP reservation per VM (MAC → address,
//! so the addresses in the preset stay the VMs' addresses) and DNS host entries for
//! every host and the endpoint name (so `kubeapi.<domain>` resolves to the VIP inside
//! the VMs), live and persistent.
//!
//! [`plan`] is pure: from the spec, the network's current XML and the imported VMs it
//! returns the exact `virsh net-update` commands, each with a description, for the
//! preview, `kubewiz plan` and `kubewiz kvm dns --dry-run`. Entries that are already
//! right give no command, so a second run plans nothing. [`apply`] runs them.
//!
//! The DNS entries are read back from the rendered `local/libvirt-dns.xml`
//! (`render::kvm`), so the network and that file always say the same.
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

use ipnet::IpNet;

use super::KvmError;
use super::import::{ImportedVm, VmInterface};
use super::virsh::{Virsh, quote};
use super::xml::{self, Element, escape};
use crate::render::{Layout, Target, kvm as render_kvm};
use crate::spec::ClusterSpec;

/// A `<host>` of a network's `<dhcp>`: its attributes as libvirt printed them, so a
/// delete names the entry exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpHost {
    pub attributes: Vec<(String, String)>,
}

impl DhcpHost {
    fn new(mac: &str, name: &str, ip: IpAddr) -> Self {
        DhcpHost {
            attributes: vec![
                ("mac".into(), mac.to_ascii_lowercase()),
                ("name".into(), name.into()),
                ("ip".into(), ip.to_string()),
            ],
        }
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn mac(&self) -> Option<String> {
        self.attr("mac").map(str::to_ascii_lowercase)
    }

    pub fn name(&self) -> Option<&str> {
        self.attr("name")
    }

    pub fn ip(&self) -> Option<IpAddr> {
        self.attr("ip").and_then(|ip| ip.parse().ok())
    }

    /// The element as `virsh net-update` takes it.
    pub fn to_xml(&self) -> String {
        let mut out = String::from("<host");
        for (name, value) in &self.attributes {
            out.push_str(&format!(" {name}=\"{}\"", escape(value)));
        }
        out.push_str("/>");
        out
    }

    fn same(&self, other: &DhcpHost) -> bool {
        self.mac() == other.mac() && self.name() == other.name() && self.ip() == other.ip()
    }

    /// What libvirt calls a matching entry: the same MAC, address or name.
    fn conflicts(&self, other: &DhcpHost) -> bool {
        let eq = |a: Option<String>, b: Option<String>| a.is_some() && a == b;
        eq(self.mac(), other.mac())
            || (self.ip().is_some() && self.ip() == other.ip())
            || eq(
                self.name().map(str::to_owned),
                other.name().map(str::to_owned),
            )
    }
}

/// A `<host>` of a network's `<dns>`: an address and its names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DnsHost {
    pub ip: IpAddr,
    pub names: Vec<String>,
}

impl DnsHost {
    /// The element as `virsh net-update` takes it.
    pub fn to_xml(&self) -> String {
        let mut out = format!("<host ip=\"{}\">", self.ip);
        for name in &self.names {
            out.push_str(&format!("<hostname>{}</hostname>", escape(name)));
        }
        out.push_str("</host>");
        out
    }

    fn same(&self, other: &DnsHost) -> bool {
        let mut a = self.names.clone();
        let mut b = other.names.clone();
        a.sort();
        b.sort();
        self.ip == other.ip && a == b
    }

    /// What libvirt calls a matching record: the same address or any same name.
    fn conflicts(&self, other: &DnsHost) -> bool {
        self.ip == other.ip || self.names.iter().any(|n| other.names.contains(n))
    }

    fn describe(&self) -> String {
        format!("{} → {}", self.names.join(", "), self.ip)
    }
}

/// One `<ip>` element of a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IpDef {
    pub subnet: IpNet,
    /// True when it has a `<dhcp>` with ranges or hosts (what libvirt counts as DHCP).
    pub dhcp: bool,
    /// The dynamic ranges `(start, end)`.
    pub ranges: Vec<(IpAddr, IpAddr)>,
    pub hosts: Vec<DhcpHost>,
}

/// What kubewiz needs of a libvirt network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkState {
    pub name: String,
    pub bridge: Option<String>,
    pub ips: Vec<IpDef>,
    pub dns_hosts: Vec<DnsHost>,
    /// Running: updates take `--live`.
    pub active: bool,
    /// Defined: updates take `--config`.
    pub persistent: bool,
}

impl NetworkState {
    /// Reads `virsh net-dumpxml` output; the network counts as active and persistent
    /// (libvirt's default network is both) — [`read_network`] asks libvirt.
    pub fn from_xml(text: &str) -> Result<Self, KvmError> {
        let bad = |error: String| KvmError::Xml {
            what: "the network's XML".into(),
            error,
        };
        let root = xml::parse(text).map_err(|e| bad(e.to_string()))?;
        if root.name != "network" {
            return Err(bad(format!("the root is <{}>, not <network>", root.name)));
        }
        let name = root
            .child("name")
            .map(|n| n.text.clone())
            .unwrap_or_default();
        let mut ips = Vec::new();
        for ip in root.children_named("ip") {
            ips.push(ip_def(ip).map_err(bad)?);
        }
        let dns_hosts = root
            .child("dns")
            .map(|dns| dns_hosts(dns).map_err(bad))
            .transpose()?
            .unwrap_or_default();
        Ok(NetworkState {
            name,
            bridge: root
                .child("bridge")
                .and_then(|b| b.attr("name"))
                .map(str::to_owned),
            ips,
            dns_hosts,
            active: true,
            persistent: true,
        })
    }

    /// True when the interface is on this network: `type='network'` naming it, or
    /// `type='bridge'` on its bridge.
    pub fn carries(&self, iface: &VmInterface) -> bool {
        iface.network.as_deref() == Some(self.name.as_str())
            || (iface.kind == "bridge" && iface.bridge.is_some() && iface.bridge == self.bridge)
    }

    /// True when `ip` is in one of the network's subnets.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.ips.iter().any(|def| def.subnet.contains(&ip))
    }

    /// `--parent-index N` is needed only when several `<ip>` elements have DHCP:
    /// without it libvirt picks the only one.
    fn parent_index_needed(&self) -> bool {
        self.ips.iter().filter(|ip| ip.dhcp).count() > 1
    }

    fn flags(&self) -> Vec<String> {
        let mut flags = Vec::new();
        if self.active {
            flags.push("--live".to_owned());
        }
        if self.persistent {
            flags.push("--config".to_owned());
        }
        flags
    }
}

fn ip_def(ip: &Element) -> Result<IpDef, String> {
    let address: IpAddr = ip
        .attr("address")
        .ok_or("an <ip> without address")?
        .parse()
        .map_err(|e| format!("<ip address>: {e}"))?;
    let prefix = match (ip.attr("prefix"), ip.attr("netmask"), address) {
        (Some(p), _, _) => p.parse().map_err(|e| format!("<ip prefix>: {e}"))?,
        (None, Some(mask), _) => {
            let mask = mask.parse().map_err(|e| format!("<ip netmask>: {e}"))?;
            ipnet::ipv4_mask_to_prefix(mask).map_err(|e| format!("<ip netmask>: {e}"))?
        }
        (None, None, IpAddr::V4(_)) => 24,
        (None, None, IpAddr::V6(_)) => 64,
    };
    let subnet = IpNet::new(address, prefix)
        .map_err(|e| format!("<ip>: {e}"))?
        .trunc();
    let dhcp = ip.child("dhcp");
    let hosts: Vec<DhcpHost> = dhcp
        .map(|d| {
            d.children_named("host")
                .map(|h| DhcpHost {
                    attributes: h.attributes.clone(),
                })
                .collect()
        })
        .unwrap_or_default();
    let mut ranges = Vec::new();
    for range in dhcp.iter().flat_map(|d| d.children_named("range")) {
        let bound = |name: &str| -> Result<IpAddr, String> {
            range
                .attr(name)
                .ok_or(format!("a DHCP <range> without {name}"))?
                .parse()
                .map_err(|e| format!("DHCP <range {name}>: {e}"))
        };
        ranges.push((bound("start")?, bound("end")?));
    }
    Ok(IpDef {
        subnet,
        dhcp: !ranges.is_empty() || !hosts.is_empty(),
        ranges,
        hosts,
    })
}

fn dns_hosts(dns: &Element) -> Result<Vec<DnsHost>, String> {
    dns.children_named("host")
        .map(|h| {
            let ip = h
                .attr("ip")
                .ok_or("a DNS <host> without ip")?
                .parse()
                .map_err(|e| format!("DNS <host ip>: {e}"))?;
            Ok(DnsHost {
                ip,
                names: h
                    .children_named("hostname")
                    .map(|n| n.text.clone())
                    .collect(),
            })
        })
        .collect()
}

/// Reads network `name`: its XML (`net-dumpxml`, the live definition when it runs)
/// and whether it is active and persistent (`net-info`).
pub fn read_network(virsh: &Virsh, name: &str) -> Result<NetworkState, KvmError> {
    let known: Vec<String> = virsh
        .run(&["net-list", "--all", "--name"])?
        .lines()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    if !known.iter().any(|n| n == name) {
        return Err(KvmError::NetworkNotFound {
            network: name.to_owned(),
            uri: virsh.uri.clone(),
            known,
        });
    }
    let mut state = NetworkState::from_xml(&virsh.run(&["net-dumpxml", name])?)?;
    let info = virsh.run(&["net-info", name])?;
    let field = |key: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(key))
            .map(|v| v.trim() == "yes")
    };
    state.active = field("Active:").unwrap_or(true);
    state.persistent = field("Persistent:").unwrap_or(true);
    Ok(state)
}

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

/// What the network phase works from, read through `virsh`: the VMs, the network and
/// the changes it needs. Only reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    pub vms: Vec<ImportedVm>,
    pub network: NetworkState,
    pub plan: NetworkPlan,
}

/// Reads the VMs and the spec's libvirt network (`kvm.libvirt_network`, or `default`)
/// and plans the changes, as `kubewiz kvm dns`, the plan's preview and the install's
/// network phase all do.
pub fn survey(virsh: &Virsh, spec: &ClusterSpec) -> Result<Survey, KvmError> {
    let name = render_kvm::libvirt_network(spec);
    let (found, network) = super::import::import_on(virsh, name)?;
    let plan = plan(spec, &network, &found.hosts)?;
    Ok(Survey {
        vms: found.hosts,
        network,
        plan,
    })
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

/// Marks where the read-back starts in the output of [`apply`]'s virsh process.
const READ_BACK_MARKER: &str = "kubewiz-read-back-8f3a";

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The network as read back after the changes.
    pub after: NetworkState,
    /// The read-back as virsh printed it (`net-dumpxml`), for the audit log; empty
    /// when nothing was run.
    pub after_xml: String,
    /// What virsh printed on standard error (nothing when all went well).
    pub virsh_said: String,
    /// What the changes printed on standard output (one confirmation per change),
    /// without the read-back.
    pub virsh_printed: String,
}

/// Runs the plan's commands in one virsh process, followed by `net-dumpxml`, and
/// checks the read-back: success means that planning again on the result finds
/// nothing to do, which is a stronger check than the commands' exit statuses (virsh
/// exits 0 after a failed command when a later one succeeds). One process also makes
/// it work with libvirt's test driver, whose state lives only in that process. A plan
/// without changes runs nothing.
pub fn apply(
    virsh: &Virsh,
    spec: &ClusterSpec,
    before: &NetworkState,
    vms: &[ImportedVm],
    plan: &NetworkPlan,
) -> Result<Applied, KvmError> {
    if plan.is_empty() {
        return Ok(Applied {
            after: before.clone(),
            after_xml: String::new(),
            virsh_said: String::new(),
            virsh_printed: String::new(),
        });
    }
    let mut commands: Vec<Vec<String>> = plan.changes.iter().map(|c| c.args.clone()).collect();
    commands.push(vec!["echo".into(), READ_BACK_MARKER.into()]);
    commands.push(vec!["net-dumpxml".into(), before.name.clone()]);
    let (stdout, stderr) = virsh.run_script(&commands)?;
    let (printed, xml_text) =
        stdout
            .split_once(READ_BACK_MARKER)
            .ok_or_else(|| KvmError::Virsh {
                command: plan
                    .changes
                    .first()
                    .map(|c| c.command_line(&virsh.uri))
                    .unwrap_or_default(),
                status: None,
                stderr: if stderr.is_empty() {
                    "virsh stopped before reading the network back".into()
                } else {
                    stderr.clone()
                },
            })?;
    let mut after = NetworkState::from_xml(xml_text)?;
    after.active = before.active;
    after.persistent = before.persistent;
    let remaining = self::plan(spec, &after, vms)?;
    if !remaining.is_empty() {
        return Err(KvmError::NotApplied {
            network: before.name.clone(),
            remaining: remaining
                .changes
                .iter()
                .map(|c| c.description.clone())
                .collect(),
            virsh_said: stderr,
        });
    }
    Ok(Applied {
        after,
        after_xml: xml_text.trim().to_owned(),
        virsh_said: stderr,
        virsh_printed: printed.trim().to_owned(),
    })
}
