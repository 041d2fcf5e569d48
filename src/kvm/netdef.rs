//! A libvirt network's definition as kubewiz reads it (`virsh net-dumpxml`): its
//! subnets with their DHCP ranges and reservations, and its DNS host records.
//!
//! The import reads VMs against it and [`network`](super::network) plans and applies
//! changes to it; it knows neither.

use std::net::IpAddr;

use ipnet::IpNet;

use super::KvmError;
use super::virsh::Virsh;
use super::xml::{self, Element, escape};

/// A `<host>` of a network's `<dhcp>`: its attributes as libvirt printed them, so a
/// delete names the entry exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpHost {
    pub attributes: Vec<(String, String)>,
}

impl DhcpHost {
    pub(super) fn new(mac: &str, name: &str, ip: IpAddr) -> Self {
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

    pub(super) fn same(&self, other: &DhcpHost) -> bool {
        self.mac() == other.mac() && self.name() == other.name() && self.ip() == other.ip()
    }

    /// What libvirt calls a matching entry: the same MAC, address or name.
    pub(super) fn conflicts(&self, other: &DhcpHost) -> bool {
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

    pub(super) fn same(&self, other: &DnsHost) -> bool {
        let mut a = self.names.clone();
        let mut b = other.names.clone();
        a.sort();
        b.sort();
        self.ip == other.ip && a == b
    }

    /// What libvirt calls a matching record: the same address or any same name.
    pub(super) fn conflicts(&self, other: &DnsHost) -> bool {
        self.ip == other.ip || self.names.iter().any(|n| other.names.contains(n))
    }

    pub(super) fn describe(&self) -> String {
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

    /// True when `ip` is in one of the network's subnets.
    pub fn contains(&self, ip: IpAddr) -> bool {
        self.ips.iter().any(|def| def.subnet.contains(&ip))
    }

    /// `--parent-index N` is needed only when several `<ip>` elements have DHCP:
    /// without it libvirt picks the only one.
    pub(super) fn parent_index_needed(&self) -> bool {
        self.ips.iter().filter(|ip| ip.dhcp).count() > 1
    }

    pub(super) fn flags(&self) -> Vec<String> {
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

pub(super) fn dns_hosts(dns: &Element) -> Result<Vec<DnsHost>, String> {
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
