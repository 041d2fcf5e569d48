//! Whole installs on the VM lab's VMs: the bundle they install from, the preset naming
//! them, and the checks made from the KVM host once a cluster is on them.
//!
//! Include it after the VM lab, the lab hosts and their clusters:
//! `#[path = "vm/mod.rs"] mod vm;`, `#[path = "lab/mod.rs"] mod lab;`,
//! `#[path = "lab/cluster.rs"] mod cluster;`, `#[path = "vm/install.rs"] mod install;`.
#![allow(dead_code)]

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::cluster;
use super::vm::{self, VmLab};

/// The bundle of tests/lab/cluster.rs in the lab's directory, with the machine's real
/// containerd, ctr and runc in place of the stand-in, and an image archive holding
/// every image kubeadm lists (the real containerd has no registry in reach).
pub fn bundle(lab: &VmLab) -> PathBuf {
    let bundle = cluster::bundle(lab.dir());
    cluster::with_real_containerd(&bundle);
    fs::create_dir(bundle.join("images")).unwrap();
    cluster::image_archive(
        &bundle.join("images/kubernetes.tar"),
        &cluster::kubeadm_images(&bundle),
    );
    bundle
}

/// A cluster's preset on the lab's VMs and where kubewiz keeps its state.
pub struct Install {
    pub name: &'static str,
    pub preset: PathBuf,
    pub state: PathBuf,
    /// The endpoint's name, which the libvirt network's DNS serves.
    pub endpoint: String,
}

impl Install {
    /// Writes the preset of cluster `name` of `topology`: VM `i` gets `roles[i]`, the
    /// endpoint is `NAME-api` in the lab's domain, `kubernetes` and `control_plane` add
    /// to those sections, and the install comes from `bundle`. The endpoint's name is the
    /// cluster's own: the install puts it into the KVM host's /etc/hosts, whose entries
    /// libvirt's dnsmasq also serves to the VMs, and a block that a killed run of another
    /// cluster left there must not answer for this one.
    pub fn new(
        lab: &VmLab,
        name: &'static str,
        topology: &str,
        roles: &[&str],
        [kubernetes, control_plane]: [&str; 2],
        bundle: &Path,
    ) -> Install {
        let endpoint = format!("{name}-api.{}", vm::DOMAIN);
        let mut text = format!(
            "name = \"{name}\"\ntopology = \"{topology}\"\n\n[kubernetes]\nversion = \"1.34.2\"\ncni = \"none\"\n{kubernetes}\n\
             [network]\nhosts_cidr = \"{}.0/24\"\n\n\
             [control_plane]\nendpoint = \"{endpoint}\"\n{control_plane}\n\
             [ssh]\nuser = \"root\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n\n\
             [packages]\nsource = \"bundle\"\nbundle_dir = \"{}\"\n\n\
             [kvm]\nlibvirt_network = \"{}\"\ndns_domain = \"{}\"\n",
            lab.subnet(),
            lab.key().display(),
            lab.known_hosts().display(),
            bundle.display(),
            lab.network,
            vm::DOMAIN
        );
        assert_eq!(roles.len(), lab.vms.len(), "a role for every VM");
        for (vm, role) in lab.vms.iter().zip(roles) {
            text += &format!(
                "\n[[hosts]]\nname = \"{}\"\naddress = \"{}\"\nroles = [\"{role}\"]\n",
                vm.domain, vm.address
            );
        }
        let preset = lab.dir().join(format!("{name}.toml"));
        fs::write(&preset, &text).unwrap();
        Install {
            name,
            preset,
            state: lab.dir().join("state"),
            endpoint,
        }
    }

    pub fn preset_arg(&self) -> &str {
        self.preset.to_str().unwrap()
    }

    /// The operator's kubeconfig the install saved.
    pub fn kubeconfig(&self) -> PathBuf {
        self.state.join(self.name).join("admin.conf")
    }

    /// `kubewiz apply --preset PRESET --no-tui --yes` once the VMs' clocks are set: its
    /// output and how long it took.
    pub fn apply(&self, lab: &VmLab) -> (std::process::Output, Duration) {
        lab.set_clocks();
        cluster::kubewiz(
            &self.state,
            &["apply", "--preset", self.preset_arg(), "--no-tui", "--yes"],
        )
    }

    /// Where the latest run's time went (`kubewiz audit show NAME --timing`), for the
    /// test's output.
    pub fn timing(&self) -> String {
        let (out, _) = cluster::kubewiz(&self.state, &["audit", "show", self.name, "--timing"]);
        cluster::text(&out)
    }

    /// Every node is listed Ready by the real kubectl on the KVM host, through the
    /// endpoint's name, within `limit`; panics with what kubectl said otherwise.
    pub fn wait_nodes_ready(&self, lab: &VmLab, limit: Duration) {
        let mut expected: Vec<String> = lab
            .vms
            .iter()
            .map(|v| format!("{} Ready", v.domain))
            .collect();
        expected.sort();
        let asked = Instant::now();
        loop {
            let out = cluster::kubectl_local(&self.kubeconfig(), &["get", "nodes", "--no-headers"]);
            let mut listed: Vec<String> = String::from_utf8_lossy(&out.stdout)
                .lines()
                .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" "))
                .collect();
            listed.sort();
            if listed == expected {
                eprintln!(
                    "every node Ready through {} {:.0?} after the VMs were back",
                    self.endpoint,
                    asked.elapsed()
                );
                return;
            }
            assert!(
                asked.elapsed() < limit,
                "kubectl get nodes through {}: {}",
                self.endpoint,
                cluster::text(&out)
            );
            std::thread::sleep(Duration::from_secs(3));
        }
    }

    /// `kubewiz apply` once more changes no file the install put on any VM.
    pub fn apply_again_changes_nothing(&self, lab: &VmLab) {
        let before = files_digests(lab);
        let (again, took) = self.apply(lab);
        eprintln!("the second apply took {took:.1?}\n{}", self.timing());
        assert!(again.status.success(), "{}", cluster::text(&again));
        for (i, (before, after)) in before.iter().zip(files_digests(lab)).enumerate() {
            assert!(
                &after == before,
                "{}: a second apply changed files\n{}",
                lab.vms[i].domain,
                cluster::text(&again)
            );
        }
    }
}

/// Every VM's digest of the files under the directories an install writes to, taken on
/// all VMs at once. A file under 1 MiB is hashed; a larger one (the bundle's programs,
/// which sha256sum takes seconds to read under TCG) is named by inode, size and mtime,
/// which a rewrite in place or through a rename changes.
fn files_digests(lab: &VmLab) -> Vec<String> {
    const DIGEST: &str = "cd / && D='etc/kubernetes etc/containerd etc/sysctl.d etc/modules-load.d etc/systemd/system etc/haproxy etc/keepalived usr/local/bin var/lib/kubelet' && \
         find $D -xdev -type f -size -1024k -print0 2>/dev/null | sort -z | xargs -0 -r sha256sum && \
         find $D -xdev -type f -size +1023k -printf '%i %s %T@ %p\\n' 2>/dev/null | sort -k4";
    std::thread::scope(|s| {
        let digests: Vec<_> = (0..lab.vms.len())
            .map(|i| s.spawn(move || lab.sh(i, DIGEST)))
            .collect();
        digests.into_iter().map(|d| d.join().unwrap()).collect()
    })
}

/// Takes cluster `.0`'s block out of the KVM host's /etc/hosts when dropped.
pub struct ForgetNames(&'static str);

impl ForgetNames {
    /// The install puts the cluster's names into the KVM host's /etc/hosts (that is how
    /// kubectl here reaches the endpoint); they go again whatever happens. A block an
    /// interrupted earlier run left goes first: libvirt's dnsmasq serves the KVM host's
    /// /etc/hosts to the VMs too, as it reads it when the network starts.
    pub fn now_and_after(cluster: &'static str) -> ForgetNames {
        drop(ForgetNames(cluster));
        ForgetNames(cluster)
    }
}

impl Drop for ForgetNames {
    fn drop(&mut self) {
        let hosts = Path::new(kubewiz::kvm::hosts_file::DEFAULT_PATH);
        if let Err(e) = kubewiz::kvm::hosts_file::apply(hosts, self.0, None, false) {
            eprintln!("{e}");
        }
    }
}

/// Every VM runs and enables `units` under systemd.
pub fn check_units(lab: &VmLab, units: &[&str], report: &str) {
    let list = units.join(" ");
    for (i, vm) in lab.vms.iter().enumerate() {
        let state = lab.sh(
            i,
            &format!("systemctl is-active {list}; systemctl is-enabled {list}; true"),
        );
        let expected: Vec<&str> = units
            .iter()
            .map(|_| "active")
            .chain(units.iter().map(|_| "enabled"))
            .collect();
        assert_eq!(
            state.lines().collect::<Vec<_>>(),
            expected,
            "{}: {list} under systemd\n{report}",
            vm.domain
        );
    }
}

/// Every VM resolves `name` to `address` through the libvirt network's DNS.
pub fn check_resolves(lab: &VmLab, name: &str, address: Ipv4Addr, report: &str) {
    for (i, vm) in lab.vms.iter().enumerate() {
        let resolved = lab.sh(i, &format!("getent hosts {name} | cut -d' ' -f1"));
        assert_eq!(
            resolved.trim(),
            address.to_string(),
            "{name} inside {}\n{report}",
            vm.domain
        );
    }
}

/// containerd is the real one (the machine's, brought by the bundle), run by systemd
/// from kubewiz's unit with kubewiz's configuration (systemd's cgroup driver), and
/// answers `ctr version` over its socket, on every VM.
pub fn check_real_containerd(lab: &VmLab) {
    let real = Command::new("/usr/bin/containerd")
        .arg("--version")
        .output()
        .expect("/usr/bin/containerd: scripts/test.sh installs containerd");
    let real = String::from_utf8_lossy(&real.stdout).into_owned();
    let version = real
        .split_whitespace()
        .nth(2)
        .unwrap_or_else(|| panic!("containerd --version said {real:?}"));
    for (i, vm) in lab.vms.iter().enumerate() {
        let said = lab.sh(
            i,
            "ctr --address /run/containerd/containerd.sock version; \
             pid=$(systemctl show -p MainPID --value containerd); \
             echo \"exe $(readlink -f /proc/$pid/exe)\"; \
             echo \"cgroup $(cut -d: -f3 /proc/$pid/cgroup)\"; \
             echo \"systemd-cgroup $(grep -c '^ *SystemdCgroup = true' /etc/containerd/config.toml)\"",
        );
        let server = said
            .split("Server:")
            .nth(1)
            .unwrap_or_else(|| panic!("{}: ctr version has no server part:\n{said}", vm.domain));
        assert!(
            server
                .lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["Version:", version]),
            "{}: containerd {version} expected over the socket:\n{said}",
            vm.domain
        );
        for expected in [
            "exe /usr/local/bin/containerd",
            "cgroup /system.slice/containerd.service",
            "systemd-cgroup 1",
        ] {
            assert!(
                said.lines().any(|l| l.trim() == expected),
                "{}: `{expected}` expected:\n{said}",
                vm.domain
            );
        }
    }
}

/// Gives every VM the network configuration a CNI's installer leaves (the clusters
/// here install none): the kubelets report their nodes Ready once it is there.
pub fn write_cni_config(lab: &VmLab) {
    for i in 0..lab.vms.len() {
        lab.sh(
            i,
            "mkdir -p /etc/cni/net.d && echo '{\"cniVersion\":\"1.0.0\",\"name\":\"vm\",\"plugins\":[{\"type\":\"bridge\"}]}' > /etc/cni/net.d/10-vm.conflist",
        );
    }
}

/// After a reboot, waits until VM `i` has swap off, its modules loaded, the sysctls set
/// and `units` active again (systemd starts them after sshd answers, slowly under
/// TCG); panics after two minutes with their state.
pub fn wait_back(lab: &VmLab, i: usize, units: &[&str], report: &str) {
    let list = units.join(" ");
    let active = units.iter().map(|_| "active").collect::<Vec<_>>().join(" ");
    let expected = ["0", "br_netfilter overlay", "1 1", active.as_str()];
    let started = Instant::now();
    loop {
        // A VM still busy booting may not finish the ssh handshake in time: asked again.
        let out = lab.ssh_at(
            lab.vms[i].address,
            &format!(
                "swapon --show --noheadings | wc -l; \
                 lsmod | awk '$1 == \"br_netfilter\" || $1 == \"overlay\" {{print $1}}' | sort | tr '\\n' ' '; echo; \
                 sysctl -n net.bridge.bridge-nf-call-iptables net.ipv4.ip_forward | tr '\\n' ' '; echo; \
                 systemctl is-active {list} | tr '\\n' ' '; echo"
            ),
        );
        let after = String::from_utf8_lossy(&out.stdout);
        let lines: Vec<&str> = after.lines().map(str::trim).collect();
        if lines == expected {
            eprintln!(
                "{}: swap off, modules, sysctls and {list} back {:.0?} after it answered",
                lab.vms[i].domain,
                started.elapsed()
            );
            return;
        }
        if started.elapsed() > Duration::from_secs(120) {
            let why = lab.sh(
                i,
                &format!("systemctl status --no-pager {list} 2>&1 | tail -40; true"),
            );
            panic!(
                "{} after a reboot: swap devices, modules, sysctls, services are {lines:?}, not {expected:?}\n{why}\n{report}",
                lab.vms[i].domain
            );
        }
        std::thread::sleep(Duration::from_secs(3));
    }
}

/// The VMs that hold `address` on an interface now.
pub fn holders(lab: &VmLab, address: Ipv4Addr) -> Vec<String> {
    (0..lab.vms.len())
        .filter(|&i| {
            lab.sh(i, "ip -o -4 addr show")
                .contains(&format!(" {address}/"))
        })
        .map(|i| lab.vms[i].domain.clone())
        .collect()
}
