//! Facts derived from a valid spec that the PKI, the renderers and the plan all need:
//! who runs what, the endpoint, the ports, the cluster's well-known service addresses,
//! the libvirt network the VMs are on.

use std::net::IpAddr;

use ipnet::IpNet;

use super::{ClusterSpec, EndpointHost, HostSpec, LoadBalancer, Role};

/// A spec that has no layout (no control plane, an HA topology without its VIP);
/// validation reports the same problems earlier, with their place in the preset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct LayoutError(pub String);

/// The libvirt network kubewiz assumes when the preset names none.
pub const DEFAULT_LIBVIRT_NETWORK: &str = "default";

/// The libvirt network the VMs are on: `kvm.libvirt_network`, or `default`.
pub fn libvirt_network(spec: &ClusterSpec) -> &str {
    spec.kvm
        .as_ref()
        .map_or(DEFAULT_LIBVIRT_NETWORK, |kvm| kvm.libvirt_network.as_str())
}

/// The port kube-apiserver binds on every control plane.
pub const API_SERVER_PORT: u16 = 6443;

/// How the control-plane endpoint is served.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LbLayout<'a> {
    /// No load balancer: clients reach the only control plane directly.
    None,
    /// haproxy + keepalived on `hosts`; haproxy listens on `frontend_port` and forwards
    /// to every control plane's 6443.
    HaproxyKeepalived {
        hosts: Vec<&'a HostSpec>,
        frontend_port: u16,
        on_control_planes: bool,
    },
    /// kube-vip as a static pod on every control plane.
    KubeVip { hosts: Vec<&'a HostSpec> },
    /// The operator's own load balancer.
    External,
}

/// A valid spec seen from the renderers' side.
#[derive(Debug, Clone)]
pub struct Layout<'a> {
    pub spec: &'a ClusterSpec,
    /// Control planes in preset order; the first runs `kubeadm init`.
    pub control_planes: Vec<&'a HostSpec>,
    /// Hosts that join as workers only.
    pub workers: Vec<&'a HostSpec>,
    /// External etcd members (empty unless the topology is external-etcd).
    pub etcd: Vec<&'a HostSpec>,
    pub lb: LbLayout<'a>,
    /// What clients use to reach the API server, and its port.
    pub endpoint: EndpointHost,
    pub endpoint_port: u16,
    pub vip: Option<IpAddr>,
}

impl<'a> Layout<'a> {
    pub fn new(spec: &'a ClusterSpec) -> Result<Self, LayoutError> {
        let control_planes: Vec<_> = spec.hosts_with(Role::ControlPlane).collect();
        if control_planes.is_empty() {
            return Err(LayoutError(
                "the spec has no control plane; `kubewiz validate` says what is missing".into(),
            ));
        }
        let endpoint = spec
            .endpoint_host()
            .expect("a spec with a control plane has an endpoint");
        let workers = spec
            .hosts_with(Role::Worker)
            .filter(|h| !h.has(Role::ControlPlane))
            .collect();
        let etcd = if spec.topology == super::Topology::ExternalEtcd {
            spec.hosts_with(Role::Etcd).collect()
        } else {
            Vec::new()
        };
        let lb = if !spec.topology.is_ha() {
            LbLayout::None
        } else {
            match spec.control_plane.load_balancer {
                LoadBalancer::HaproxyKeepalived => {
                    let dedicated: Vec<_> = spec.hosts_with(Role::LoadBalancer).collect();
                    let on_control_planes = dedicated.is_empty();
                    LbLayout::HaproxyKeepalived {
                        hosts: if on_control_planes {
                            control_planes.clone()
                        } else {
                            dedicated
                        },
                        frontend_port: spec.control_plane.port,
                        on_control_planes,
                    }
                }
                LoadBalancer::KubeVip => LbLayout::KubeVip {
                    hosts: control_planes.clone(),
                },
                LoadBalancer::External => LbLayout::External,
            }
        };
        let vip = spec.control_plane.vip.filter(|_| spec.needs_vip());
        if spec.needs_vip() && vip.is_none() {
            return Err(LayoutError(format!(
                "{} with {} needs control_plane.vip",
                spec.topology, spec.control_plane.load_balancer
            )));
        }
        Ok(Layout {
            spec,
            control_planes,
            workers,
            etcd,
            lb,
            endpoint,
            endpoint_port: spec.control_plane.port,
            vip,
        })
    }

    /// The control plane that runs `kubeadm init`.
    pub fn first_control_plane(&self) -> &'a HostSpec {
        self.control_planes[0]
    }

    /// `host:port` as kubeadm's controlPlaneEndpoint and kubeconfigs take it
    /// (`[addr]:port` for IPv6).
    pub fn control_plane_endpoint(&self) -> String {
        match &self.endpoint {
            EndpointHost::Ip(IpAddr::V6(v6)) => format!("[{v6}]:{}", self.endpoint_port),
            other => format!("{other}:{}", self.endpoint_port),
        }
    }

    /// `https://host:port`
    pub fn api_url(&self) -> String {
        format!("https://{}", self.control_plane_endpoint())
    }

    /// The address of the `kubernetes` service: the first of the service range.
    pub fn first_service_ip(&self) -> IpAddr {
        nth_address(self.spec.kubernetes.service_cidr, 1)
    }

    /// The cluster DNS service address kubeadm uses: the tenth of the service range.
    pub fn cluster_dns_ip(&self) -> IpAddr {
        nth_address(self.spec.kubernetes.service_cidr, 10)
    }

    /// The VRRP virtual router id: the same on every keepalived host of this cluster,
    /// derived from the cluster name so that two kubewiz clusters on one network are
    /// unlikely to collide. Always 1..=255.
    pub fn vrrp_router_id(&self) -> u8 {
        let hash = self.spec.name.as_str().bytes().fold(2166136261u32, |h, b| {
            (h ^ u32::from(b)).wrapping_mul(16777619)
        });
        (hash % 255) as u8 + 1
    }

    /// Every host that runs a kubelet.
    pub fn nodes(&self) -> impl Iterator<Item = &'a HostSpec> + '_ {
        self.control_planes.iter().chain(&self.workers).copied()
    }

    /// The no_proxy list: the operator's entries, then localhost, every host, the VIP,
    /// the endpoint, the pod and service ranges and the cluster's DNS domain.
    pub fn no_proxy(&self) -> Vec<String> {
        let spec = self.spec;
        let mut list: Vec<String> = spec.proxy.no_proxy.clone();
        list.extend(["localhost".to_string(), "127.0.0.1".to_string()]);
        for host in &spec.hosts {
            list.push(host.address.to_string());
            list.push(host.name.to_string());
        }
        list.extend(self.vip.map(|v| v.to_string()));
        list.push(self.endpoint.to_string());
        list.push(spec.kubernetes.pod_cidr.to_string());
        list.push(spec.kubernetes.service_cidr.to_string());
        list.extend(spec.network.hosts_cidr.map(|n| n.to_string()));
        list.push(format!(".svc.{}", spec.kubernetes.dns_domain));
        list.push(format!(".{}", spec.kubernetes.dns_domain));
        let mut seen = std::collections::HashSet::new();
        list.retain(|e| seen.insert(e.clone()));
        list
    }

    /// The host a name refers to.
    pub fn host(&self, name: &str) -> Option<&'a HostSpec> {
        self.spec.hosts.iter().find(|h| h.name.as_str() == name)
    }
}

fn nth_address(net: IpNet, n: u128) -> IpAddr {
    match net {
        IpNet::V4(v4) => IpAddr::V4((u32::from(v4.network()) + n as u32).into()),
        IpNet::V6(v6) => IpAddr::V6((u128::from(v6.network()) + n).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(name: &str) -> ClusterSpec {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("presets")
            .join(name);
        super::super::load_file(&path).unwrap().spec
    }

    #[test]
    fn kvm_lab() {
        let spec = load("kvm-lab.toml");
        let layout = Layout::new(&spec).unwrap();
        assert_eq!(layout.control_plane_endpoint(), "kubeapi.test.example:6443");
        assert_eq!(layout.first_control_plane().name.as_str(), "kubemaster-1");
        assert_eq!(layout.etcd.len(), 3);
        assert_eq!(layout.workers.len(), 5);
        assert_eq!(layout.first_service_ip().to_string(), "10.96.0.1");
        assert_eq!(layout.cluster_dns_ip().to_string(), "10.96.0.10");
        match &layout.lb {
            LbLayout::HaproxyKeepalived {
                hosts,
                frontend_port,
                on_control_planes,
            } => {
                assert_eq!(hosts.len(), 2);
                assert_eq!(*frontend_port, 6443);
                assert!(!on_control_planes);
            }
            other => panic!("{other:?}"),
        }
        let no_proxy = layout.no_proxy();
        for entry in [
            "192.168.122.10",
            "kubeapi.test.example",
            "10.244.0.0/16",
            "10.96.0.0/12",
            "kubenode-5",
        ] {
            assert!(
                no_proxy.iter().any(|e| e == entry),
                "{entry} missing from {no_proxy:?}"
            );
        }
        assert!((1..=255).contains(&layout.vrrp_router_id()));
    }

    #[test]
    fn single_node_endpoint_is_the_control_plane() {
        let spec = load("single-node.toml");
        let layout = Layout::new(&spec).unwrap();
        assert_eq!(layout.control_plane_endpoint(), "192.168.122.11:6443");
        assert_eq!(layout.lb, LbLayout::None);
    }
}
