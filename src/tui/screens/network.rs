//! Network: pod and service ranges, DNS domain, the hosts' subnet, the API endpoint,
//! VIP and load balancer, with live hints (the cluster DNS address, how many nodes the
//! pod range holds).

use std::net::IpAddr;

use ipnet::IpNet;
use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;

use super::Screen;
use crate::spec::{ClusterSpec, InterfaceName, LoadBalancer};
use crate::tui::diags::errors_of;
use crate::tui::field::{self, optional};
use crate::tui::flow::{Outcome, View};
use crate::tui::form::{FieldDef, Form, choice, no_note};
use crate::tui::keys::Binding;

const LB: &[&str] = &["haproxy-keepalived", "kube-vip", "external"];

/// The cluster DNS service address: the 10th address of the service range.
pub fn dns_ip(service: IpNet) -> Option<IpAddr> {
    match service {
        IpNet::V4(n) => u32::from(n.network())
            .checked_add(10)
            .map(|x| IpAddr::V4(x.into())),
        IpNet::V6(n) => u128::from(n.network())
            .checked_add(10)
            .map(|x| IpAddr::V6(x.into())),
    }
}

/// How many nodes the pod range holds with the default per-node ranges (/24, /64).
pub fn pod_capacity(pod: IpNet) -> Option<u128> {
    let (node, prefix) = match pod {
        IpNet::V4(n) => (24u8, n.prefix_len()),
        IpNet::V6(n) => (64u8, n.prefix_len()),
    };
    (prefix <= node).then(|| 1u128 << (node - prefix).min(100))
}

const FIELDS: &[FieldDef] = &[
    FieldDef {
        label: "pod CIDR",
        path: "kubernetes.pod_cidr",
        get: |s| s.kubernetes.pod_cidr.to_string(),
        set: |t, s| {
            s.kubernetes.pod_cidr = field::parse(t)?;
            Ok(())
        },
        choices: &[],
        note: |s| match pod_capacity(s.kubernetes.pod_cidr) {
            Some(n) => Some(format!("holds {n} nodes (/24 each)")),
            None => Some("smaller than one node's /24".into()),
        },
    },
    FieldDef {
        label: "service CIDR",
        path: "kubernetes.service_cidr",
        get: |s| s.kubernetes.service_cidr.to_string(),
        set: |t, s| {
            s.kubernetes.service_cidr = field::parse(t)?;
            Ok(())
        },
        choices: &[],
        note: |s| dns_ip(s.kubernetes.service_cidr).map(|ip| format!("cluster DNS {ip}")),
    },
    FieldDef {
        label: "DNS domain",
        path: "kubernetes.dns_domain",
        get: |s| s.kubernetes.dns_domain.to_string(),
        set: |t, s| {
            s.kubernetes.dns_domain = field::parse(t)?;
            Ok(())
        },
        choices: &[],
        note: |s| Some(format!("svc.{}", s.kubernetes.dns_domain)),
    },
    FieldDef {
        label: "hosts' subnet",
        path: "network.hosts_cidr",
        get: |s| {
            s.network
                .hosts_cidr
                .map(|n| n.to_string())
                .unwrap_or_default()
        },
        set: |t, s| {
            s.network.hosts_cidr = optional(t, field::parse)?;
            Ok(())
        },
        choices: &[],
        note: |s| {
            s.network
                .hosts_cidr
                .is_none()
                .then(|| "optional; enables checks".into())
        },
    },
    FieldDef {
        label: "API endpoint",
        path: "control_plane.endpoint",
        get: |s| {
            s.control_plane
                .endpoint
                .as_ref()
                .map(|e| e.to_string())
                .unwrap_or_default()
        },
        set: |t, s| {
            s.control_plane.endpoint = optional(t, field::parse)?;
            Ok(())
        },
        choices: &[],
        note: |s| {
            let mut probe = s.clone();
            probe.control_plane.endpoint = None;
            s.control_plane
                .endpoint
                .is_none()
                .then(|| probe.endpoint_host().map(|e| format!("empty: uses {e}")))
                .flatten()
        },
    },
    FieldDef {
        label: "API port",
        path: "control_plane.port",
        get: |s| s.control_plane.port.to_string(),
        set: |t, s| {
            s.control_plane.port = field::port(t)?;
            Ok(())
        },
        choices: &[],
        note: |s| {
            s.haproxy_on_control_planes()
                .then(|| "not 6443: haproxy on the CPs".into())
        },
    },
    FieldDef {
        label: "VIP",
        path: "control_plane.vip",
        get: |s| {
            s.control_plane
                .vip
                .map(|ip| ip.to_string())
                .unwrap_or_default()
        },
        set: |t, s| {
            s.control_plane.vip = optional(t, field::parse)?;
            Ok(())
        },
        choices: &[],
        note: |s| {
            Some(
                if s.needs_vip() {
                    "required for this topology"
                } else {
                    "not used here"
                }
                .into(),
            )
        },
    },
    FieldDef {
        label: "load balancer",
        path: "control_plane.load_balancer",
        get: |s| s.control_plane.load_balancer.as_str().into(),
        set: |t, s| {
            s.control_plane.load_balancer = choice::<LoadBalancer>(t, LB)?;
            Ok(())
        },
        choices: LB,
        note: |s| (!s.topology.is_ha()).then(|| "HA topologies only".into()),
    },
    FieldDef {
        label: "VIP interface",
        path: "network.interface",
        get: |s| {
            s.network
                .interface
                .as_ref()
                .map(|i| i.to_string())
                .unwrap_or_default()
        },
        set: |t, s| {
            s.network.interface = optional(t, field::parse::<InterfaceName>)?;
            Ok(())
        },
        choices: &[],
        note: |s| {
            s.network
                .interface
                .is_none()
                .then(|| "detected on each host".into())
        },
    },
    FieldDef {
        label: "libvirt network",
        path: "kvm.libvirt_network",
        get: |s| {
            s.kvm
                .as_ref()
                .map(|k| k.libvirt_network.clone())
                .unwrap_or_default()
        },
        set: |t, s| {
            let t = t.trim();
            if t.is_empty() {
                s.kvm = None;
            } else {
                s.kvm.get_or_insert_with(Default::default).libvirt_network = t.to_owned();
            }
            Ok(())
        },
        choices: &[],
        note: no_note,
    },
];

/// The network form.
pub struct Network {
    form: Form,
}

impl Network {
    /// The form filled from `spec`.
    pub fn new(spec: &ClusterSpec) -> Self {
        Network {
            form: Form::new(FIELDS, spec),
        }
    }
}

fn owns(path: &str) -> bool {
    [
        "kubernetes.pod_cidr",
        "kubernetes.service_cidr",
        "kubernetes.dns_domain",
    ]
    .contains(&path)
        || path.starts_with("network.")
        || path.starts_with("control_plane.")
        || path.starts_with("kvm.libvirt")
}

impl Screen for Network {
    fn title(&self) -> &'static str {
        "Network"
    }

    fn help(&self) -> &'static str {
        "The cluster's address ranges and how clients reach the API.\n\
         Pod and service ranges must not overlap each other or the hosts' subnet. The cluster \
         DNS takes the 10th address of the service range; each node gets a /24 of the pod \
         range.\nThe endpoint may be a DNS name (it must resolve to the VIP) so the cluster can \
         grow later without new certificates."
    }

    fn bindings(&self) -> &'static [Binding] {
        self.form.bindings()
    }

    fn editing(&self) -> bool {
        self.form.editing()
    }

    fn handle(&mut self, key: &KeyEvent, spec: &mut ClusterSpec) -> Outcome {
        self.form.handle(key, spec)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, view: &View) {
        self.form.draw(frame, area, view, "Network", Vec::new());
    }

    fn problems(&self, view: &View) -> Vec<String> {
        let mut out = self.form.parse_errors();
        out.extend(errors_of(view.diags, owns));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hints() {
        assert_eq!(
            dns_ip("10.96.0.0/12".parse().unwrap()).unwrap().to_string(),
            "10.96.0.10"
        );
        assert_eq!(pod_capacity("10.244.0.0/16".parse().unwrap()), Some(256));
        assert_eq!(pod_capacity("10.244.0.0/25".parse().unwrap()), None);
    }
}
