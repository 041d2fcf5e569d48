//! The load balancer in front of the API servers: haproxy + keepalived as host
//! services (on dedicated `load-balancer` hosts or on the control planes), or kube-vip
//! as a static pod on the control planes. `none` and `external` layouts get no files.
//!
//! What the install must do beyond uploading [`files`]:
//! - haproxy-keepalived without `network.interface`: detect the interface on each
//!   load-balancer host ([`detect_interface_command`], [`parse_detected_interface`])
//!   and write [`interface_include`] to [`INTERFACE_INCLUDE`] before keepalived starts.
//! - kube-vip: the first control plane's manifest mounts `super-admin.conf`
//!   ([`kube_vip_uses_super_admin`]); after `kubeadm init` it is replaced by
//!   [`kube_vip_manifest`] with [`ADMIN_CONF`]. On the other control planes the
//!   manifest must be written after `kubeadm join`, whose preflight refuses a non-empty
//!   `/etc/kubernetes/manifests` (`DirAvailable--etc-kubernetes-manifests`).

use std::net::IpAddr;

use serde::Serialize;

use super::{
    API_SERVER_PORT, File, Layout, LbLayout, MODE_EXEC, MODE_PRIVATE, MODE_PUBLIC, Purpose,
};
use crate::spec::{HostSpec, InterfaceName};

/// haproxy's configuration, where the distributions' packages and units look for it.
pub const HAPROXY_CFG: &str = "/etc/haproxy/haproxy.cfg";
/// keepalived's configuration, where the distributions' units look for it.
pub const KEEPALIVED_CONF: &str = "/etc/keepalived/keepalived.conf";
/// How often haproxy asks each API server's /readyz, in seconds.
pub const HEALTH_CHECK_INTERVAL_SECS: u32 = 3;
/// How many failed checks in a row take an API server out of haproxy's rotation.
pub const HEALTH_CHECK_FALL: u32 = 3;

/// How long a stopping kube-apiserver keeps serving after its /readyz starts failing
/// (`--shutdown-delay-duration`), in seconds: longer than haproxy takes to see it fail
/// ([`HEALTH_CHECK_FALL`] checks [`HEALTH_CHECK_INTERVAL_SECS`] apart, and one more
/// interval for the check in flight). Without it, a restart (an upgrade, a renewal, an
/// etcd list changed) closes the listener while haproxy still sends clients to it, and
/// their requests fail. Well within the 30 s the kubelet gives a static Pod to stop.
pub const fn apiserver_shutdown_delay_secs() -> u32 {
    HEALTH_CHECK_INTERVAL_SECS * (HEALTH_CHECK_FALL + 1)
}

/// The health check keepalived runs; a failure moves the VIP to another host.
pub const CHECK_APISERVER: &str = "/etc/keepalived/check_apiserver.sh";
/// The file that names the network interface keepalived uses, written on each host by
/// the install when `network.interface` is not set (see [`interface_include`]).
pub const INTERFACE_INCLUDE: &str = "/etc/keepalived/kubewiz-interface.conf";
/// kube-vip's static pod manifest; the kubelet starts it like kubeadm's own.
pub const KUBE_VIP_MANIFEST: &str = "/etc/kubernetes/manifests/kube-vip.yaml";
/// The kube-vip image; pinned so every install of a kubewiz version runs the same one.
pub const KUBE_VIP_IMAGE: &str = "ghcr.io/kube-vip/kube-vip:v1.0.1";
/// The kubeconfig kube-vip uses once the cluster is up.
pub const ADMIN_CONF: &str = "/etc/kubernetes/admin.conf";
/// The kubeconfig kube-vip uses on the first control plane while `kubeadm init` runs.
pub const SUPER_ADMIN_CONF: &str = "/etc/kubernetes/super-admin.conf";

/// The keepalived variable that holds the interface name when it is detected on the
/// host. Longer than the 15 characters an interface name may have, so an undefined
/// variable (left verbatim by keepalived) is rejected rather than taken for a name.
const INTERFACE_VARIABLE: &str = "$KUBEWIZ_INTERFACE";

/// The VRRP priority of the first keepalived host; the others count down from it.
const FIRST_PRIORITY: u8 = 101;

/// Every load-balancer file of the cluster.
pub fn files(layout: &Layout) -> Vec<File> {
    match &layout.lb {
        LbLayout::HaproxyKeepalived {
            hosts,
            frontend_port,
            ..
        } => hosts
            .iter()
            .enumerate()
            .flat_map(|(index, _)| haproxy_keepalived_files(layout, hosts, index, *frontend_port))
            .collect(),
        LbLayout::KubeVip { hosts } => hosts
            .iter()
            .map(|host| kube_vip_file(layout, host))
            .collect(),
        LbLayout::None | LbLayout::External => Vec::new(),
    }
}

fn haproxy_keepalived_files(
    layout: &Layout,
    hosts: &[&HostSpec],
    index: usize,
    frontend_port: u16,
) -> Vec<File> {
    let name = hosts[index].name.as_str();
    vec![
        File::host(
            Purpose::LoadBalancer,
            name,
            HAPROXY_CFG,
            MODE_PUBLIC,
            haproxy_cfg(layout, frontend_port),
        ),
        File::host(
            Purpose::LoadBalancer,
            name,
            KEEPALIVED_CONF,
            MODE_PUBLIC,
            keepalived_conf(layout, hosts, index),
        ),
        File::host(
            Purpose::LoadBalancer,
            name,
            CHECK_APISERVER,
            MODE_EXEC,
            check_apiserver(layout, frontend_port),
        ),
    ]
}

/// kube-vip on a control plane, with the kubeconfig it needs when the install starts.
fn kube_vip_file(layout: &Layout, host: &HostSpec) -> File {
    let kubeconfig = if kube_vip_uses_super_admin(layout, host) {
        SUPER_ADMIN_CONF
    } else {
        ADMIN_CONF
    };
    File::host(
        Purpose::LoadBalancer,
        host.name.as_str(),
        KUBE_VIP_MANIFEST,
        MODE_PRIVATE,
        kube_vip_manifest(layout, host, kubeconfig),
    )
}

fn vip(layout: &Layout) -> IpAddr {
    layout
        .vip
        .expect("Layout::new refuses a load-balanced layout without a VIP")
}

/// The VIP's prefix length: the hosts' subnet's, so the VIP is added like the hosts'
/// own addresses; a host prefix when the subnet is unknown or does not hold the VIP.
fn vip_prefix_len(layout: &Layout) -> u8 {
    let vip = vip(layout);
    match layout.spec.network.hosts_cidr {
        Some(net) if net.contains(&vip) => net.prefix_len(),
        _ if vip.is_ipv4() => 32,
        _ => 128,
    }
}

/// `addr:port`, with brackets around an IPv6 address.
fn socket(address: IpAddr, port: u16) -> String {
    match address {
        IpAddr::V4(v4) => format!("{v4}:{port}"),
        IpAddr::V6(v6) => format!("[{v6}]:{port}"),
    }
}

#[derive(Serialize)]
struct HaproxyContext<'a> {
    cluster: &'a str,
    bind: String,
    servers: Vec<Backend>,
    check_interval: u32,
    check_fall: u32,
}

#[derive(Serialize)]
struct Backend {
    name: String,
    address: String,
}

fn haproxy_cfg(layout: &Layout, frontend_port: u16) -> String {
    // An IPv6 VIP needs an IPv6 socket; v4v6 keeps IPv4 clients (and localhost
    // checks) working on it. An IPv4-only bind is kept otherwise because binding `::`
    // fails on hosts with IPv6 disabled.
    let bind = match vip(layout) {
        IpAddr::V4(_) => format!("*:{frontend_port}"),
        IpAddr::V6(_) => format!("[::]:{frontend_port} v4v6"),
    };
    let servers = layout
        .control_planes
        .iter()
        .map(|cp| Backend {
            name: cp.name.to_string(),
            address: socket(cp.address, API_SERVER_PORT),
        })
        .collect();
    let context = HaproxyContext {
        cluster: layout.spec.name.as_str(),
        bind,
        servers,
        check_interval: HEALTH_CHECK_INTERVAL_SECS,
        check_fall: HEALTH_CHECK_FALL,
    };
    super::render_template(
        "lb/haproxy.cfg.j2",
        include_str!("../../assets/lb/haproxy.cfg.j2"),
        context,
    )
}

#[derive(Serialize)]
struct KeepalivedContext<'a> {
    cluster: &'a str,
    router_id: &'a str,
    /// Set when the interface is detected on the host and included from a file.
    interface_include: Option<&'static str>,
    check_script: &'static str,
    instance: String,
    state: &'static str,
    interface: String,
    virtual_router_id: u8,
    priority: u8,
    address: String,
    peers: Vec<String>,
    vip_cidr: String,
}

fn keepalived_conf(layout: &Layout, hosts: &[&HostSpec], index: usize) -> String {
    let host = hosts[index];
    let interface = match &layout.spec.network.interface {
        Some(name) => name.to_string(),
        None => INTERFACE_VARIABLE.to_string(),
    };
    let peers = hosts
        .iter()
        .filter(|other| other.name != host.name)
        .map(|other| other.address.to_string())
        .collect();
    let context = KeepalivedContext {
        cluster: layout.spec.name.as_str(),
        router_id: host.name.as_str(),
        interface_include: layout
            .spec
            .network
            .interface
            .is_none()
            .then_some(INTERFACE_INCLUDE),
        check_script: CHECK_APISERVER,
        instance: format!("VI_{}", layout.spec.name),
        state: if index == 0 { "MASTER" } else { "BACKUP" },
        interface,
        virtual_router_id: layout.vrrp_router_id(),
        priority: priority(index),
        address: host.address.to_string(),
        peers,
        vip_cidr: format!("{}/{}", vip(layout), vip_prefix_len(layout)),
    };
    super::render_template(
        "lb/keepalived.conf.j2",
        include_str!("../../assets/lb/keepalived.conf.j2"),
        context,
    )
}

/// 101 on the first host, then one less per host: a failing check (weight -2) drops
/// the holder below the next host, so the VIP moves. Never below 1, VRRP's minimum.
fn priority(index: usize) -> u8 {
    let step = u8::try_from(index).unwrap_or(u8::MAX);
    FIRST_PRIORITY.saturating_sub(step).max(1)
}

#[derive(Serialize)]
struct CheckContext<'a> {
    cluster: &'a str,
    local_url: String,
    vip: String,
    vip_url: String,
}

fn check_apiserver(layout: &Layout, frontend_port: u16) -> String {
    let vip = vip(layout);
    let context = CheckContext {
        cluster: layout.spec.name.as_str(),
        local_url: format!("https://localhost:{frontend_port}/"),
        vip: vip.to_string(),
        vip_url: format!("https://{}/", socket(vip, frontend_port)),
    };
    super::render_template(
        "lb/check_apiserver.sh.j2",
        include_str!("../../assets/lb/check_apiserver.sh.j2"),
        context,
    )
}

/// The content of [`INTERFACE_INCLUDE`] on a host whose VRRP interface is `name`.
///
/// keepalived has no "interface of this address" setting, and the NIC's name
/// (`enp1s0`, `eth0`...) is only known on the host. So when `network.interface` is
/// not set, keepalived.conf says `interface $KUBEWIZ_INTERFACE` and includes this
/// file, which defines that keepalived configuration variable. keepalived itself
/// rejects the configuration (`keepalived -t` fails) when the file is missing or does
/// not define the variable, so a skipped detection cannot go unnoticed.
///
/// `name` should come from [`parse_detected_interface`]. Only its first word is used,
/// so no value can add lines to keepalived's configuration; an empty name leaves the
/// variable empty, which keepalived rejects.
pub fn interface_include(name: &str) -> String {
    let name = name.split_whitespace().next().unwrap_or_default();
    format!(
        "# Written by kubewiz: the network interface that carries this host's address.\n{INTERFACE_VARIABLE}={name}\n"
    )
}

/// The command that prints the interface holding `address` on a host, for
/// [`parse_detected_interface`]. The `to` selector matches the exact address.
pub fn detect_interface_command(address: IpAddr) -> String {
    format!("ip -o addr show to {address}")
}

/// The interface name in the output of [`detect_interface_command`]
/// (`2: enp1s0    inet 192.168.122.31/24 ...`), or None when the address is on no
/// interface or the name is not a valid one.
pub fn parse_detected_interface(output: &str) -> Option<InterfaceName> {
    let field = output.lines().next()?.split_whitespace().nth(1)?;
    // `ip` writes `name@link` for veth and VLAN devices; keepalived wants the name.
    let name = field.split('@').next()?.trim_end_matches(':');
    name.parse().ok()
}

/// True when `host`'s kube-vip must start with `super-admin.conf`: on the first
/// control plane, because from Kubernetes 1.29 on `admin.conf` gets its RBAC rights
/// only once `kubeadm init` has finished, while kube-vip must hold the VIP during
/// init (kube-vip issue 684). The install switches that manifest back to
/// [`ADMIN_CONF`] after init, so super-admin credentials do not stay in use.
pub fn kube_vip_uses_super_admin(layout: &Layout, host: &HostSpec) -> bool {
    matches!(layout.lb, LbLayout::KubeVip { .. })
        && layout.spec.kubernetes.version.minor >= 29
        && layout.first_control_plane().name == host.name
}

/// kube-vip's static pod manifest for control plane `host`, reading the API with the
/// kubeconfig at `kubeconfig_path` on the host ([`ADMIN_CONF`] or, during init on the
/// first control plane, [`SUPER_ADMIN_CONF`]).
pub fn kube_vip_manifest(layout: &Layout, host: &HostSpec, kubeconfig_path: &str) -> String {
    debug_assert!(
        layout.control_planes.iter().any(|cp| cp.name == host.name),
        "kube-vip runs on control planes only"
    );
    let pod = kube_vip_pod(layout, kubeconfig_path);
    serde_yaml_ng::to_string(&pod).expect("a pod of strings, numbers and lists serializes")
}

fn kube_vip_env(layout: &Layout) -> Vec<EnvVar> {
    let mut env = vec![
        EnvVar::value("vip_arp", "true"),
        EnvVar::value("port", API_SERVER_PORT.to_string()),
        // The leader election identity: the node name, as the kubelet registered it.
        EnvVar::field("vip_nodename", "spec.nodeName"),
    ];
    // Without it kube-vip uses the interface of the default route.
    if let Some(interface) = &layout.spec.network.interface {
        env.push(EnvVar::value("vip_interface", interface.to_string()));
    }
    env.extend([
        EnvVar::value("vip_subnet", vip_prefix_len(layout).to_string()),
        EnvVar::value("cp_enable", "true"),
        EnvVar::value("cp_namespace", "kube-system"),
        EnvVar::value("vip_leaderelection", "true"),
        EnvVar::value("vip_leasename", "plndr-cp-lock"),
        EnvVar::value("vip_leaseduration", "5"),
        EnvVar::value("vip_renewdeadline", "3"),
        EnvVar::value("vip_retryperiod", "1"),
        EnvVar::value("address", vip(layout).to_string()),
    ]);
    env
}

fn kube_vip_pod(layout: &Layout, kubeconfig_path: &str) -> Pod {
    const VOLUME: &str = "kubeconfig";
    Pod {
        api_version: "v1",
        kind: "Pod",
        metadata: Metadata {
            name: "kube-vip",
            namespace: "kube-system",
        },
        spec: PodSpec {
            containers: vec![Container {
                name: "kube-vip",
                image: KUBE_VIP_IMAGE,
                image_pull_policy: "IfNotPresent",
                args: vec!["manager"],
                env: kube_vip_env(layout),
                security_context: SecurityContext {
                    capabilities: Capabilities {
                        add: vec!["NET_ADMIN", "NET_RAW"],
                        drop: vec!["ALL"],
                    },
                },
                volume_mounts: vec![VolumeMount {
                    // kube-vip reads this path whatever the host file is.
                    mount_path: ADMIN_CONF,
                    name: VOLUME,
                }],
            }],
            // kube-vip talks to the API at https://kubernetes:6443, i.e. the local
            // kube-apiserver, which must work before the VIP exists.
            host_aliases: vec![HostAlias {
                hostnames: vec!["kubernetes"],
                ip: "127.0.0.1",
            }],
            host_network: true,
            volumes: vec![Volume {
                name: VOLUME,
                host_path: HostPath {
                    path: kubeconfig_path.to_string(),
                },
            }],
        },
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Pod {
    api_version: &'static str,
    kind: &'static str,
    metadata: Metadata,
    spec: PodSpec,
}

#[derive(Serialize)]
struct Metadata {
    name: &'static str,
    namespace: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PodSpec {
    containers: Vec<Container>,
    host_aliases: Vec<HostAlias>,
    host_network: bool,
    volumes: Vec<Volume>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Container {
    name: &'static str,
    image: &'static str,
    image_pull_policy: &'static str,
    args: Vec<&'static str>,
    env: Vec<EnvVar>,
    security_context: SecurityContext,
    volume_mounts: Vec<VolumeMount>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EnvVar {
    name: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_from: Option<EnvVarSource>,
}

impl EnvVar {
    fn value(name: &'static str, value: impl Into<String>) -> Self {
        EnvVar {
            name,
            value: Some(value.into()),
            value_from: None,
        }
    }

    fn field(name: &'static str, field_path: &'static str) -> Self {
        EnvVar {
            name,
            value: None,
            value_from: Some(EnvVarSource {
                field_ref: FieldRef { field_path },
            }),
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EnvVarSource {
    field_ref: FieldRef,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct FieldRef {
    field_path: &'static str,
}

#[derive(Serialize)]
struct SecurityContext {
    capabilities: Capabilities,
}

#[derive(Serialize)]
struct Capabilities {
    add: Vec<&'static str>,
    drop: Vec<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct VolumeMount {
    mount_path: &'static str,
    name: &'static str,
}

#[derive(Serialize)]
struct HostAlias {
    hostnames: Vec<&'static str>,
    ip: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Volume {
    name: &'static str,
    host_path: HostPath,
}

#[derive(Serialize)]
struct HostPath {
    path: String,
}
