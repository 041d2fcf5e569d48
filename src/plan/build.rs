//! From the layout and the rendered files to phases, hosts and steps.
//!
//! Uploads come from the rendered files themselves (by purpose and host), so the plan
//! uploads exactly what the preview shows. Every command checks before it acts, so a
//! re-run or a resume never breaks what an earlier run built.

use super::steps::Steps;
use super::{Action, BundlePick, HostSteps, LOCAL, OsFamily, Phase, PhaseId, Plan};
use crate::exec::ssh::{SWAP_RECORD, keep_original};
use crate::render::pki::ETCD_PKI_DIR;
use crate::render::{File, Layout, LbLayout, Purpose, Target, etcd, kubeadm, lb, node};
use crate::spec::{Cni, HostSpec, PackageSource, Role};

const ADMIN_CONF: &str = "/etc/kubernetes/admin.conf";
/// Where the bundle's programs go on the hosts: first in root's PATH, apart from the
/// distribution's own.
pub const BUNDLE_TARGET: &str = "/usr/local/bin";

/// The install plan for `layout`, uploading `files`.
pub fn build(layout: &Layout, files: &[File]) -> Plan {
    let b = Builder { layout, files };
    let phases = vec![
        // First: the hosts get their fixed addresses and names before anything
        // contacts them (plan::libvirt says why). `generate` sets the connection.
        super::libvirt::phase(layout, crate::kvm::DEFAULT_CONNECT),
        b.connect(),
        b.preflight(),
        b.prepare(),
        b.pki(),
        b.etcd(),
        b.load_balancer(),
        b.first_control_plane(),
        b.control_planes(),
        b.workers(),
        b.cni(),
        b.verify(),
        b.kubeconfig(),
    ];
    Plan {
        cluster: layout.spec.name.to_string(),
        phases: phases.into_iter().filter(|p| !p.hosts.is_empty()).collect(),
    }
}

struct Builder<'a> {
    layout: &'a Layout<'a>,
    files: &'a [File],
}

/// The ports a host's roles need free (reference/kubeadm.md §4).
pub fn required_ports(layout: &Layout, host: &str) -> Vec<u16> {
    let is = |list: &[&HostSpec]| list.iter().any(|h| h.name.as_str() == host);
    let mut ports = Vec::new();
    if is(&layout.control_planes) {
        ports.extend([6443, 10250, 10257, 10259]);
        if layout.etcd.is_empty() {
            ports.extend([2379, 2380]);
        }
    } else if is(&layout.workers) {
        ports.extend([10250, 10256]);
    }
    if is(&layout.etcd) {
        ports.extend([2379, 2380]);
    }
    if let LbLayout::HaproxyKeepalived {
        hosts,
        frontend_port,
        ..
    } = &layout.lb
        && is(hosts)
    {
        ports.push(*frontend_port);
    }
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// True when the install puts packages on `host`: Kubernetes on nodes and etcd on its
/// hosts (online source), haproxy and keepalived on load balancers.
pub fn needs_package_manager(layout: &Layout, host: &str) -> bool {
    let is = |list: &[&HostSpec]| list.iter().any(|h| h.name.as_str() == host);
    let node_or_etcd = is(&layout.control_planes) || is(&layout.workers) || is(&layout.etcd);
    let balancer = matches!(&layout.lb, LbLayout::HaproxyKeepalived { hosts, .. } if is(hosts));
    layout.spec.packages.source == PackageSource::Online && node_or_etcd || balancer
}

/// Quotes `text` for a POSIX shell.
pub(crate) fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The step slug of an upload: its path, readable.
fn slug(path: &str) -> String {
    format!("upload{}", path.replace('/', ":"))
}

impl<'a> Builder<'a> {
    fn phase(&self, id: PhaseId, hosts: Vec<HostSteps>) -> Phase {
        Phase {
            id,
            one_at_a_time: id == PhaseId::ControlPlanes,
            hosts: hosts.into_iter().filter(|h| !h.steps.is_empty()).collect(),
        }
    }

    /// A phase with `steps` for every host of the cluster.
    fn every_host(&self, id: PhaseId, mut steps: impl FnMut(&mut Steps, &HostSpec)) -> Phase {
        let hosts = self
            .layout
            .spec
            .hosts
            .iter()
            .map(|h| {
                let mut s = Steps::new(id, h.name.as_str());
                steps(&mut s, h);
                s.done()
            })
            .collect();
        self.phase(id, hosts)
    }

    fn uploads(&self, steps: &mut Steps, purpose: Purpose) {
        let target = Target::Host(steps.host.clone());
        for file in self
            .files
            .iter()
            .filter(|f| f.purpose == purpose && f.target == target)
        {
            let step = steps.push(
                &slug(&file.path),
                format!("upload {}", file.path),
                Action::Upload {
                    path: file.path.clone(),
                    mode: file.mode,
                },
                60,
            );
            // Both repository files are rendered; each host gets its package manager's.
            step.only_on = match file.path.as_str() {
                node::APT_SOURCE_PATH => Some(OsFamily::Apt),
                node::RPM_REPO_PATH => Some(OsFamily::Dnf),
                _ => None,
            };
        }
    }

    fn has_files(&self, host: &str, purpose: Purpose) -> bool {
        self.files
            .iter()
            .any(|f| f.purpose == purpose && f.target == Target::Host(host.to_owned()))
    }

    fn connect(&self) -> Phase {
        self.every_host(PhaseId::Connect, |s, _| {
            s.push(
                "ssh",
                "connect over SSH and check the host key",
                Action::Connect,
                30,
            );
            s.push("facts", "gather facts", Action::Facts, 60);
        })
    }

    fn preflight(&self) -> Phase {
        self.every_host(PhaseId::Preflight, |s, h| {
            s.push(
                "checks",
                "preflight checks",
                Action::Preflight(self.checks(h)),
                10,
            );
        })
    }

    /// The checks for one host, by role (reference/kubeadm.md §4: ports, CPU, memory).
    /// Exactly what `exec::preflight` checks for this host.
    fn checks(&self, host: &HostSpec) -> Vec<String> {
        let name = host.name.as_str();
        let mut checks = vec![
            "machine-id unique across hosts".to_string(),
            "clock within 1 s of the KVM host".to_string(),
            "no other cluster's CA already installed".to_string(),
            "hostname unique across hosts (a warning: prepare sets it)".to_string(),
        ];
        let is_cp = self
            .layout
            .control_planes
            .iter()
            .any(|c| c.name == host.name);
        if is_cp {
            checks.push("2 or more CPUs".into());
            checks.push("1700 MB or more memory".into());
        }
        if is_cp
            && self.layout.first_control_plane().name == host.name
            && self.layout.spec.kubernetes.cni == Cni::Cilium
        {
            checks.push("helm is installed (cni = cilium)".into());
        }
        let ports: Vec<String> = required_ports(self.layout, name)
            .iter()
            .map(u16::to_string)
            .collect();
        if !ports.is_empty() {
            checks.push(format!("ports {} free", ports.join(", ")));
        }
        if needs_package_manager(self.layout, name) {
            checks.push("apt-get or dnf present".into());
        }
        checks
    }

    fn prepare(&self) -> Phase {
        self.every_host(PhaseId::Prepare, |s, h| self.prepare_host(s, h))
    }

    fn prepare_host(&self, s: &mut Steps, h: &HostSpec) {
        let spec = self.layout.spec;
        let name = h.name.as_str();
        s.run(
            "hostname",
            format!("set the hostname to {name}"),
            format!(
                // The first change keeps the original /etc/hostname for `kubewiz reset`.
                "test \"$(hostname)\" = {n} || {{ {keep}; \
hostnamectl set-hostname {n} 2>/dev/null || {{ echo {n} > /etc/hostname && hostname {n}; }}; }}",
                n = sh_quote(name),
                keep = keep_original("/etc/hostname")
            ),
            30,
        );
        if !self.has_files(name, Purpose::Node) {
            return;
        }
        s.run(
            "swap",
            "turn swap off, now and in /etc/fstab",
            // `kubewiz reset` puts back what the first run found: whether swap was on,
            // and /etc/fstab before its swap lines were commented out. A file without
            // swap lines is left untouched.
            format!(
                "r={SWAP_RECORD}; if [ ! -e $r ]; then mkdir -p \"$(dirname $r)\" && \
if [ \"$(wc -l < /proc/swaps)\" -gt 1 ]; then echo on; else echo off; fi > $r; fi; \
swapoff -a && \
if grep -Eq '^[^#].*\\sswap\\s' /etc/fstab 2>/dev/null; then {keep}; \
sed -ri '/^[^#].*\\sswap\\s/s/^/#/' /etc/fstab; fi",
                keep = keep_original("/etc/fstab")
            ),
            60,
        );
        self.uploads(s, Purpose::Node);
        s.run(
            "modules",
            "load kernel modules",
            // Only when missing: a module built into the kernel has nothing to load, and
            // modprobe fails on hosts without /lib/modules.
            "{ grep -qw overlay /proc/filesystems || modprobe overlay; } && { test -d /proc/sys/net/bridge || modprobe br_netfilter; }",
            30,
        );
        s.run(
            "sysctl",
            "apply kernel settings",
            "sysctl -p /etc/sysctl.d/99-kubewiz.conf",
            30,
        );
        // Downloads on the host go through the operator's proxy, like containerd's.
        let proxy: String = crate::render::node::proxy_environment(self.layout)
            .iter()
            .map(|(k, v)| format!("export {k}={}; ", sh_quote(v)))
            .collect();
        match spec.packages.source {
            PackageSource::Online => {
                let minor = format!(
                    "{}.{}",
                    spec.kubernetes.version.major, spec.kubernetes.version.minor
                );
                let apt_key = sh_quote(&crate::render::node::apt_key_url(spec));
                let keyring = crate::render::node::APT_KEYRING;
                s.run(
                    "apt-key",
                    "fetch the Kubernetes package key",
                    format!(
                        "{proxy}test -s {keyring} || {{ install -d -m 0755 /etc/apt/keyrings && curl -fsSL {apt_key} | gpg --dearmor > {keyring}.tmp && mv {keyring}.tmp {keyring}; }}"
                    ),
                    120,
                )
                .only_on = Some(OsFamily::Apt);
                s.run(
                    "packages-apt",
                    "install containerd, kubelet, kubeadm, kubectl",
                    format!(
                        "{proxy}apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q containerd 'kubelet={minor}.*' 'kubeadm={minor}.*' 'kubectl={minor}.*' && apt-mark hold kubelet kubeadm kubectl"
                    ),
                    900,
                )
                .only_on = Some(OsFamily::Apt);
                s.run(
                    "packages-dnf",
                    "install containerd, kubelet, kubeadm, kubectl",
                    format!("{proxy}dnf install -y containerd kubelet kubeadm kubectl --disableexcludes=kubernetes"),
                    900,
                )
                .only_on = Some(OsFamily::Dnf);
            }
            PackageSource::Bundle => {
                let dir = spec.packages.bundle_dir.clone().unwrap_or_default();
                // etcd and etcdctl are the etcd hosts' (phase etcd); kubectl is for the
                // control planes, where kubewiz runs it with admin.conf: workers have
                // no admin credentials for it.
                let control_plane = h.roles.contains(&Role::ControlPlane);
                let mut except: Vec<String> = vec!["etcd".into(), "etcdctl".into()];
                if !control_plane {
                    except.push("kubectl".into());
                }
                let kubectl = if control_plane { "kubectl, " } else { "" };
                s.push(
                    "bundle",
                    format!(
                        "install kubeadm, kubelet, {kubectl}containerd and runc from the bundle"
                    ),
                    Action::UploadBundle {
                        from: dir.join("bin"),
                        to: BUNDLE_TARGET.into(),
                        pick: BundlePick::Except(except),
                    },
                    600,
                );
            }
        }
        s.run(
            "containerd",
            "restart containerd with its configuration",
            "systemctl daemon-reload && systemctl enable containerd && systemctl restart containerd",
            120,
        )
        .unit = Some("containerd");
        s.run(
            "kubelet",
            "enable the kubelet",
            "systemctl enable kubelet",
            30,
        )
        .unit = Some("kubelet");
    }

    fn pki(&self) -> Phase {
        self.every_host(PhaseId::Pki, |s, _| self.uploads(s, Purpose::Pki))
    }

    fn etcd(&self) -> Phase {
        let hosts = self
            .layout
            .etcd
            .iter()
            .map(|h| {
                let mut s = Steps::new(PhaseId::Etcd, h.name.as_str());
                match &self.layout.spec.packages.bundle_dir {
                    // The unit runs the bundle's etcd (render::etcd), as air-gapped
                    // hosts have no package repository to install it from.
                    Some(dir) if self.layout.spec.packages.source == PackageSource::Bundle => {
                        s.push(
                            "install",
                            "install etcd and etcdctl from the bundle",
                            Action::UploadBundle {
                                from: dir.join("bin"),
                                to: BUNDLE_TARGET.into(),
                                pick: BundlePick::Only(vec!["etcd".into(), "etcdctl".into()]),
                            },
                            300,
                        );
                    }
                    _ => {
                        s.run(
                            "install",
                            "install etcd",
                            "command -v etcd >/dev/null || { if command -v apt-get >/dev/null; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q etcd-server etcd-client; else dnf install -y etcd; fi; }",
                            600,
                        );
                    }
                }
                self.uploads(&mut s, Purpose::Etcd);
                s.run(
                    "start",
                    "start etcd",
                    "systemctl daemon-reload && systemctl enable etcd && systemctl restart etcd",
                    120,
                )
                .unit = Some("etcd");
                let endpoints: Vec<String> = self
                    .layout
                    .etcd
                    .iter()
                    .map(|m| etcd::client_url(m.address))
                    .collect();
                s.wait(
                    "healthy",
                    "wait until every etcd member is healthy",
                    format!(
                        "ETCDCTL_API=3 etcdctl --endpoints={} --cacert={ETCD_PKI_DIR}/ca.crt --cert={ETCD_PKI_DIR}/healthcheck-client.crt --key={ETCD_PKI_DIR}/healthcheck-client.key endpoint health",
                        endpoints.join(",")
                    ),
                    180,
                )
                .unit = Some("etcd");
                s.done()
            })
            .collect();
        self.phase(PhaseId::Etcd, hosts)
    }

    fn load_balancer(&self) -> Phase {
        let hosts = match &self.layout.lb {
            LbLayout::HaproxyKeepalived { hosts, .. } => hosts
                .iter()
                .map(|h| {
                    let mut s = Steps::new(PhaseId::LoadBalancer, h.name.as_str());
                    s.run(
                        "install",
                        "install haproxy and keepalived",
                        "command -v haproxy >/dev/null && command -v keepalived >/dev/null || { if command -v apt-get >/dev/null; then DEBIAN_FRONTEND=noninteractive apt-get install -y -q haproxy keepalived; else dnf install -y haproxy keepalived; fi; }",
                        600,
                    );
                    self.uploads(&mut s, Purpose::LoadBalancer);
                    s.run(
                        "interface",
                        "find the network interface that carries the host's address",
                        self.interface_command(h),
                        30,
                    );
                    s.run(
                        "start",
                        "start haproxy and keepalived",
                        "haproxy -c -q -f /etc/haproxy/haproxy.cfg && systemctl enable haproxy keepalived && systemctl restart haproxy keepalived",
                        120,
                    )
                    .unit = Some("keepalived");
                    let vip = self.layout.vip.expect("haproxy-keepalived has a VIP");
                    s.wait(
                        "vip",
                        format!("wait until the VIP {vip} answers"),
                        format!("ping -c 1 -W 1 {vip}"),
                        60,
                    )
                    .unit = Some("keepalived");
                    s.done()
                })
                .collect(),
            // The first control plane's kube-vip must run during `kubeadm init`; the
            // others get theirs after `kubeadm join`, whose preflight wants an empty
            // manifests directory.
            LbLayout::KubeVip { .. } => {
                let first = self.layout.first_control_plane();
                let mut s = Steps::new(PhaseId::LoadBalancer, first.name.as_str());
                self.uploads(&mut s, Purpose::LoadBalancer);
                vec![s.done()]
            }
            LbLayout::None | LbLayout::External => Vec::new(),
        };
        self.phase(PhaseId::LoadBalancer, hosts)
    }

    /// keepalived needs the name of the interface that carries the host's address.
    /// A name from the preset is checked; otherwise it is found on the host and written
    /// to keepalived's include file (its content from `lb::interface_include`).
    fn interface_command(&self, host: &HostSpec) -> String {
        if let Some(name) = &self.layout.spec.network.interface {
            let name = sh_quote(name.as_str());
            return format!(
                "ip link show dev {name} >/dev/null || {{ echo \"network.interface {name} does not exist on this host; see ip -br addr\" >&2; exit 1; }}"
            );
        }
        const SENTINEL: &str = "@KUBEWIZ_IFACE@";
        let content = lb::interface_include(SENTINEL);
        let (before, after) = content
            .split_once(SENTINEL)
            .expect("the include holds the name");
        let address = host.address;
        format!(
            "iface=$({detect} | awk '{{print $2; exit}}'); iface=${{iface%%@*}}; \
test -n \"$iface\" || {{ echo 'no network interface carries {address}' >&2; exit 1; }}; \
printf '%s%s%s' {before} \"$iface\" {after} > {include}.tmp && mv {include}.tmp {include}",
            detect = lb::detect_interface_command(address),
            before = sh_quote(before),
            after = sh_quote(after),
            include = lb::INTERFACE_INCLUDE,
        )
    }

    fn first_control_plane(&self) -> Phase {
        let first = self.layout.first_control_plane();
        let mut s = Steps::new(PhaseId::FirstControlPlane, first.name.as_str());
        self.uploads(&mut s, Purpose::Kubeadm);
        s.run(
            "init",
            "kubeadm init",
            format!(
                "test -f {ADMIN_CONF} -a -f /etc/kubernetes/manifests/kube-apiserver.yaml || kubeadm init --config {} --skip-token-print",
                kubeadm::INIT_CONFIG
            ),
            900,
        )
        .unit = Some("kubelet");
        s.wait(
            "ready",
            "wait until the API server is ready",
            format!("kubectl --kubeconfig {ADMIN_CONF} get --raw /readyz"),
            300,
        )
        .unit = Some("kubelet");
        if let LbLayout::KubeVip { .. } = self.layout.lb {
            s.run(
                "kube-vip-admin",
                "switch kube-vip from super-admin.conf to admin.conf",
                format!(
                    "sed -i 's#{}#{}#' {}",
                    lb::SUPER_ADMIN_CONF,
                    lb::ADMIN_CONF,
                    lb::KUBE_VIP_MANIFEST
                ),
                30,
            );
        }
        s.run(
            "token",
            "make sure the bootstrap token exists (it lives 24 h)",
            // The token is read from the uploaded configuration so it never appears in a
            // command line, the plan or the log.
            format!(
                "t=$(awk '$1 == \"token:\" || $2 == \"token:\" {{ print $NF; exit }}' {init} | tr -d \"\\\"'\"); \
kubeadm token list --kubeconfig {ADMIN_CONF} | awk '{{print $1}}' | grep -qx \"$t\" || kubeadm token create --kubeconfig {ADMIN_CONF} \"$t\"",
                init = kubeadm::INIT_CONFIG
            ),
            60,
        );
        self.phase(PhaseId::FirstControlPlane, vec![s.done()])
    }

    fn join(&self, phase: PhaseId, host: &HostSpec, control_plane: bool) -> HostSteps {
        let mut s = Steps::new(phase, host.name.as_str());
        self.uploads(&mut s, Purpose::Kubeadm);
        s.run(
            "join",
            if control_plane {
                "kubeadm join --control-plane"
            } else {
                "kubeadm join"
            },
            format!(
                "test -f /etc/kubernetes/kubelet.conf || kubeadm join --config {}",
                kubeadm::JOIN_CONFIG
            ),
            900,
        )
        .unit = Some("kubelet");
        if control_plane && matches!(self.layout.lb, LbLayout::KubeVip { .. }) {
            self.uploads(&mut s, Purpose::LoadBalancer);
        }
        if control_plane {
            s.wait(
                "ready",
                "wait until this API server is ready",
                // Its own address: the API server's certificate names it (kubeadm's
                // SAN rules), not 127.0.0.1.
                format!(
                    "kubectl --kubeconfig {ADMIN_CONF} --server https://{} get --raw /readyz",
                    std::net::SocketAddr::new(host.address, 6443)
                ),
                300,
            )
            .unit = Some("kubelet");
        } else {
            s.wait(
                "kubelet",
                "wait until the kubelet runs",
                "systemctl is-active --quiet kubelet",
                120,
            )
            .unit = Some("kubelet");
        }
        s.done()
    }

    fn control_planes(&self) -> Phase {
        let hosts = self.layout.control_planes[1..]
            .iter()
            .map(|h| self.join(PhaseId::ControlPlanes, h, true))
            .collect();
        self.phase(PhaseId::ControlPlanes, hosts)
    }

    fn workers(&self) -> Phase {
        let hosts = self
            .layout
            .workers
            .iter()
            .map(|h| self.join(PhaseId::Workers, h, false))
            .collect();
        self.phase(PhaseId::Workers, hosts)
    }

    fn cni(&self) -> Phase {
        let spec = self.layout.spec;
        let first = self.layout.first_control_plane();
        let mut s = Steps::new(PhaseId::Cni, first.name.as_str());
        let kubectl = format!("kubectl --kubeconfig {ADMIN_CONF}");
        let own: Vec<&File> = self
            .files
            .iter()
            .filter(|f| {
                f.purpose == Purpose::Cni && f.target == Target::Host(first.name.to_string())
            })
            .collect();
        match spec.kubernetes.cni {
            Cni::None => return self.phase(PhaseId::Cni, Vec::new()),
            Cni::Calico | Cni::Flannel => {
                for (i, url) in crate::render::cni::manifest_urls(spec).iter().enumerate() {
                    s.run(
                        &format!("manifest-{i}"),
                        format!("apply {url}"),
                        format!(
                            "{kubectl} apply --server-side --force-conflicts -f {}",
                            sh_quote(url)
                        ),
                        300,
                    );
                }
                if spec.kubernetes.cni == Cni::Calico {
                    s.wait(
                        "crd",
                        "wait until the operator's Installation resource type exists",
                        format!("{kubectl} wait --for=condition=established --timeout=10s crd/installations.operator.tigera.io"),
                        120,
                    );
                }
                self.uploads(&mut s, Purpose::Cni);
                for file in &own {
                    s.run(
                        &format!("apply{}", file.path.replace('/', ":")),
                        format!("apply {}", file.path),
                        format!(
                            "{kubectl} apply --server-side --force-conflicts -f {}",
                            file.path
                        ),
                        120,
                    );
                }
                if spec.kubernetes.cni == Cni::Flannel {
                    s.run(
                        "restart",
                        "restart flannel with the cluster's pod network",
                        format!(
                            "{kubectl} -n kube-flannel rollout restart daemonset/kube-flannel-ds"
                        ),
                        120,
                    );
                }
            }
            Cni::Cilium => {
                self.uploads(&mut s, Purpose::Cni);
                for file in &own {
                    s.run(
                        "install",
                        format!("install Cilium {} with helm", crate::render::cni::CILIUM_VERSION),
                        format!(
                            "helm repo add cilium https://helm.cilium.io/ --force-update >/dev/null && helm upgrade --install cilium cilium/cilium --kubeconfig {ADMIN_CONF} --namespace kube-system --version {} --values {}",
                            crate::render::cni::CILIUM_VERSION,
                            file.path
                        ),
                        600,
                    );
                }
            }
        }
        self.phase(PhaseId::Cni, vec![s.done()])
    }

    fn verify(&self) -> Phase {
        let first = self.layout.first_control_plane();
        let mut s = Steps::new(PhaseId::Verify, first.name.as_str());
        let nodes = self.layout.nodes().count();
        let kubectl = format!("kubectl --kubeconfig {ADMIN_CONF}");
        s.wait(
            "endpoint",
            format!("wait until {} answers", self.layout.api_url()),
            format!(
                "{kubectl} --server {} get --raw /readyz",
                self.layout.api_url()
            ),
            120,
        );
        if self.layout.spec.kubernetes.cni != Cni::None {
            s.wait(
                "nodes",
                format!("wait until all {nodes} nodes are Ready"),
                format!(
                    "test \"$({kubectl} get nodes --no-headers | awk '$2 == \"Ready\"' | wc -l)\" -ge {nodes}"
                ),
                900,
            );
        } else {
            s.wait(
                "nodes",
                format!("wait until all {nodes} nodes are registered (no CNI: they stay NotReady)"),
                format!("test \"$({kubectl} get nodes --no-headers | wc -l)\" -ge {nodes}"),
                600,
            );
        }
        if self.layout.spec.kubernetes.cni != Cni::None {
            s.wait(
                "pods",
                "wait until every kube-system pod runs",
                format!(
                    "{kubectl} get pods -n kube-system --no-headers | awk '$3 != \"Running\" && $3 != \"Completed\" {{ bad = 1; print }} END {{ exit bad }}'"
                ),
                600,
            );
        }
        if !self.layout.etcd.is_empty() {
            s.wait(
                "etcd",
                "check the external etcd through the API server",
                format!("{kubectl} get --raw /readyz/etcd"),
                60,
            );
        }
        self.phase(PhaseId::Verify, vec![s.done()])
    }

    fn kubeconfig(&self) -> Phase {
        let mut s = Steps::new(PhaseId::Kubeconfig, LOCAL);
        s.push(
            "endpoint",
            "check the API through the endpoint with the operator's kubeconfig",
            Action::CheckApi {
                url: format!("{}/readyz", self.layout.api_url()),
                kubeconfig: "admin.conf".into(),
            },
            120,
        );
        for file in self
            .files
            .iter()
            .filter(|f| f.target == Target::Local && f.path == "admin.conf")
        {
            s.push(
                "admin.conf",
                "save the operator kubeconfig admin.conf",
                Action::WriteLocal {
                    path: file.path.clone(),
                },
                10,
            );
        }
        self.phase(PhaseId::Kubeconfig, vec![s.done()])
    }
}
