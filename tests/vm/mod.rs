//! The VM lab: real libvirt virtual machines for integration tests, on the machine that
//! runs the tests, as the KVM host an operator runs kubewiz on.
//!
//! Include it with `#[path = "vm/mod.rs"] mod vm;` and start VMs with
//! `let lab = VmLab::start(&[VmSpec::new("cp1", 2, 2048), ...], Reservations::Yes);`.
//!
//! - The guest image is built offline from Debian packages by tests/vm/image.sh and
//!   cached in /var/cache/kubewiz-test/vm-image-HASH (HASH of that script, so a changed
//!   recipe builds a new one). Each VM boots a qcow2 overlay of it, with the kernel
//!   booted directly; systemd is PID 1 inside.
//! - virtlogd and libvirtd are started when they are not running, and only those are
//!   stopped again, by PID.
//! - Each lab has its own isolated libvirt network (no `<forward>`: nothing leaves the
//!   machine) `kwvmK` on bridge `kwvmbrK` with 10.79.K.0/24; VMs get fixed MACs and,
//!   with [`Reservations::Yes`], DHCP reservations with their names.
//! - KVM is used when a stock kernel boots under it, QEMU's TCG otherwise: decided once
//!   per boot of the machine by trying, and written to /run/kubewiz-vm/accel.
//! - Everything is torn down when the `VmLab` is dropped, also when the test panics; what
//!   a killed test process left behind is removed by the next lab. One lab at a time per
//!   test process (the machine's cores are few).
//!
//! When qemu or libvirt cannot run here, starting a lab panics with the reason: the VM
//! tests fail, they never skip.
#![allow(dead_code)]

use std::fs;
use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

const IMAGE_SCRIPT: &str = include_str!("image.sh");
const CACHE: &str = "/var/cache/kubewiz-test";
const STATE: &str = "/var/lib/kubewiz-test";
const RUN: &str = "/run/kubewiz-vm";
pub const URI: &str = "qemu:///system";
/// The DNS domain every lab network serves.
pub const DOMAIN: &str = "vmlab.test";

/// How long a VM may take from `virsh start` to answering ssh. Under TCG on two shared
/// cores one VM takes about 25 s, three about 40 s; a busy machine takes longer.
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(300);

static ONE_LAB: Mutex<()> = Mutex::new(());

/// A VM to start: its name suffix, vCPUs and memory.
#[derive(Clone, Debug)]
pub struct VmSpec {
    pub name: String,
    pub vcpus: u32,
    pub mem_mib: u32,
    /// Whether the serial console goes to a log file in the lab's directory.
    pub console_log: bool,
}

impl VmSpec {
    pub fn new(name: &str, vcpus: u32, mem_mib: u32) -> Self {
        VmSpec {
            name: name.into(),
            vcpus,
            mem_mib,
            console_log: true,
        }
    }

    /// Without a console log file: for a template, whose clones would all get the same
    /// log file from virt-clone, and the second one would not start ("Cannot open log
    /// file ...: Device or resource busy").
    pub fn without_console_log(mut self) -> Self {
        self.console_log = false;
        self
    }
}

/// Whether the lab network carries DHCP reservations (with names) for the lab's VMs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservations {
    Yes,
    No,
}

/// How the VMs run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Accel {
    Kvm,
    Tcg(String),
}

/// One running VM.
#[derive(Debug, Clone)]
pub struct Vm {
    /// The libvirt domain name, which is also the VM's host name: `kwvmK-NAME`.
    pub domain: String,
    pub mac: String,
    /// Its DHCP address on the lab network.
    pub address: Ipv4Addr,
    pub vcpus: u32,
    pub mem_mib: u32,
}

/// The cached guest image.
#[derive(Debug, Clone)]
pub struct Image {
    pub dir: PathBuf,
}

impl Image {
    pub fn base(&self) -> PathBuf {
        self.dir.join("base.qcow2")
    }
    pub fn key(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }
    pub fn kernel_version(&self) -> String {
        fs::read_to_string(self.dir.join("kernel-version"))
            .unwrap_or_default()
            .trim()
            .to_owned()
    }
    /// Environment for libguestfs tools (virt-sysprep): this machine has no kernel in
    /// /boot, so its appliance is built from the guest image's kernel and modules, and
    /// runs under TCG unless KVM works.
    pub fn guestfs_env(&self, accel: &Accel) -> Vec<(String, String)> {
        // supermin copies the attributes of the host's /lib/modules even when the modules
        // come from SUPERMIN_MODULES ("lstat: No such file or directory: /lib/modules").
        let _ = fs::create_dir_all("/lib/modules");
        let kv = self.kernel_version();
        let mut env = vec![
            (
                "SUPERMIN_KERNEL".into(),
                self.dir.join("vmlinuz").display().to_string(),
            ),
            (
                "SUPERMIN_MODULES".into(),
                self.dir.join("modules").join(&kv).display().to_string(),
            ),
            ("SUPERMIN_KERNEL_VERSION".into(), kv),
            ("LIBGUESTFS_BACKEND".into(), "direct".into()),
        ];
        if matches!(accel, Accel::Tcg(_)) {
            env.push(("LIBGUESTFS_BACKEND_SETTINGS".into(), "force_tcg".into()));
        }
        env
    }
}

/// A running lab; dropping it tears everything down.
pub struct VmLab {
    pub k: u8,
    pub network: String,
    pub bridge: String,
    pub vms: Vec<Vm>,
    pub image: Image,
    pub accel: Accel,
    dir: PathBuf,
    claim: PathBuf,
    daemons: Vec<(String, u32)>,
    known_hosts: PathBuf,
    /// nftables tables before this lab started libvirtd (which adds its own).
    nft_tables_before: Vec<String>,
    _one: MutexGuard<'static, ()>,
}

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .env("LC_ALL", "C")
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("VM lab: cannot run {program}: {e}"))
}

fn must(program: &str, args: &[&str]) -> String {
    let out = run(program, args);
    assert!(
        out.status.success(),
        "VM lab: `{program} {}` failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `virsh -c qemu:///system ARGS`.
pub fn virsh(args: &[&str]) -> Output {
    let mut all = vec!["-c", URI];
    all.extend_from_slice(args);
    run("virsh", &all)
}

/// `virsh` that must succeed; its standard output.
pub fn virsh_ok(args: &[&str]) -> String {
    let mut all = vec!["-c", URI];
    all.extend_from_slice(args);
    must("virsh", &all)
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
        && !fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|st| {
            st.rsplit_once(") ")
                .is_some_and(|(_, rest)| rest.starts_with('Z'))
        })
}

fn read_pid(path: &Path) -> Option<u32> {
    fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn fnv64(text: &str) -> u64 {
    let mut hash = 0xcbf29ce484222325u64;
    for b in text.bytes() {
        hash = (hash ^ u64::from(b)).wrapping_mul(0x100000001b3);
    }
    hash
}

/// The guest image, built when the cache has none for this recipe.
pub fn image() -> Image {
    let dir = PathBuf::from(CACHE).join(format!("vm-image-{:016x}", fnv64(IMAGE_SCRIPT)));
    if dir.join("base.qcow2").is_file() {
        return Image { dir };
    }
    fs::create_dir_all(CACHE).unwrap_or_else(|e| panic!("VM lab: mkdir {CACHE}: {e}"));
    let script = PathBuf::from(CACHE).join(format!("image-{}.sh", std::process::id()));
    fs::write(&script, IMAGE_SCRIPT).unwrap_or_else(|e| panic!("VM lab: {e}"));
    let started = Instant::now();
    let log = PathBuf::from(CACHE).join("vm-image.log");
    // flock: a second test process waits for the first one's build.
    let out = Command::new("flock")
        .arg(format!("{CACHE}/vm-image.lock"))
        .args([
            "bash",
            "-c",
            "test -s \"$2/base.qcow2\" || bash \"$1\" \"$2\" >\"$3\" 2>&1",
        ])
        .arg("image")
        .arg(&script)
        .arg(&dir)
        .arg(&log)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("VM lab: cannot run flock: {e}"));
    let _ = fs::remove_file(&script);
    assert!(
        out.status.success(),
        "VM lab: building the guest image failed ({}); the end of {}:\n{}",
        out.status,
        log.display(),
        tail(&fs::read_to_string(&log).unwrap_or_default(), 30)
    );
    eprintln!(
        "VM lab: guest image built in {:.0?}: {}",
        started.elapsed(),
        dir.display()
    );
    Image { dir }
}

fn tail(text: &str, lines: usize) -> String {
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

/// Starts `name` (virtlogd or libvirtd) unless it runs; Some(pid) when this call
/// started it.
fn ensure_daemon(name: &str) -> Option<u32> {
    let pidfile = PathBuf::from(format!("/run/{name}.pid"));
    if read_pid(&pidfile).is_some_and(pid_alive) {
        return None;
    }
    let out = run(name, &["-d"]);
    assert!(
        out.status.success(),
        "VM lab: `{name} -d` failed: {}",
        String::from_utf8_lossy(&out.stderr).trim()
    );
    let started = Instant::now();
    loop {
        if let Some(pid) = read_pid(&pidfile).filter(|p| pid_alive(*p)) {
            return Some(pid);
        }
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "VM lab: {name} did not start (no live pid in {})",
            pidfile.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn stop_pid(name: &str, pid: u32) {
    if !pid_alive(pid) {
        return;
    }
    let _ = run("kill", &["-TERM", &pid.to_string()]);
    let started = Instant::now();
    while pid_alive(pid) && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(100));
    }
    if pid_alive(pid) {
        eprintln!("VM lab: {name} (pid {pid}) ignored SIGTERM; killing it");
        let _ = run("kill", &["-KILL", &pid.to_string()]);
    }
}

/// Domain names of lab K.
fn lab_domains(k: u8) -> Vec<String> {
    let prefix = format!("kwvm{k}-");
    String::from_utf8_lossy(&virsh(&["list", "--all", "--name"]).stdout)
        .lines()
        .map(str::trim)
        .filter(|d| d.starts_with(&prefix))
        .map(str::to_owned)
        .collect()
}

/// Removes every domain, the network, storage pools and files of lab K.
fn clean_lab(k: u8) {
    for domain in lab_domains(k) {
        let _ = virsh(&["destroy", &domain]);
        let _ = virsh(&["undefine", &domain]);
    }
    let net = format!("kwvm{k}");
    let _ = virsh(&["net-destroy", &net]);
    let _ = virsh(&["net-undefine", &net]);
    let dir = lab_dir(k);
    // virt-clone --auto-clone may define a storage pool for the directory of the disks.
    let pools = String::from_utf8_lossy(&virsh(&["pool-list", "--all", "--name"]).stdout)
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>();
    for pool in pools {
        let xml = String::from_utf8_lossy(&virsh(&["pool-dumpxml", &pool]).stdout).into_owned();
        if xml.contains(&format!("<path>{}</path>", dir.display())) {
            let _ = virsh(&["pool-destroy", &pool]);
            let _ = virsh(&["pool-undefine", &pool]);
        }
    }
    let _ = fs::remove_dir_all(&dir);
}

fn lab_dir(k: u8) -> PathBuf {
    PathBuf::from(STATE).join(format!("vm-{k}"))
}

/// Claims a lab number; cleans what killed test processes left (and adopts the daemons
/// they started, so this lab stops them).
fn claim() -> (u8, PathBuf, Vec<(String, u32)>) {
    fs::create_dir_all(RUN).unwrap_or_else(|e| panic!("VM lab: mkdir {RUN}: {e}"));
    let lock_path = Path::new(RUN).join(".lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap_or_else(|e| panic!("VM lab: {}: {e}", lock_path.display()));
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .unwrap_or_else(|e| panic!("VM lab: lock {}: {e}", lock_path.display()));
    let mut adopted = Vec::new();
    let mut stale = Vec::new();
    for entry in fs::read_dir(RUN).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(k) = name.strip_prefix("lab-").and_then(|k| k.parse::<u8>().ok()) else {
            continue;
        };
        if read_pid(&entry.path()).is_some_and(pid_alive) {
            continue;
        }
        stale.push((k, entry.path()));
    }
    if !stale.is_empty() {
        // libvirtd must run to remove domains and networks.
        for name in ["virtlogd", "libvirtd"] {
            if let Some(pid) = ensure_daemon(name) {
                adopted.push((name.to_owned(), pid));
            }
        }
        wait_libvirt();
    }
    for (k, path) in stale {
        eprintln!("VM lab: removing what an earlier run left of lab {k}");
        clean_lab(k);
        let daemons = path.with_file_name(format!("daemons-{k}"));
        for line in fs::read_to_string(&daemons).unwrap_or_default().lines() {
            if let Some((name, pid)) = line.split_once(' ')
                && let Ok(pid) = pid.parse::<u32>()
                && pid_alive(pid)
            {
                adopted.push((name.to_owned(), pid));
            }
        }
        let _ = fs::remove_file(&daemons);
        let _ = fs::remove_file(&path);
    }
    let me = std::process::id();
    for step in 0..200u32 {
        let k = ((me + step) % 200 + 20) as u8;
        let claim = Path::new(RUN).join(format!("lab-{k}"));
        if let Ok(mut f) = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&claim)
        {
            writeln!(f, "{me}").unwrap_or_else(|e| panic!("VM lab: {}: {e}", claim.display()));
            return (k, claim, adopted);
        }
    }
    panic!("VM lab: no free lab number in {RUN}");
}

fn wait_libvirt() {
    let started = Instant::now();
    loop {
        let out = virsh(&["version"]);
        if out.status.success() {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "VM lab: libvirtd does not answer: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn mac(k: u8, i: usize) -> String {
    format!("52:54:00:4b:{k:02x}:{:02x}", i + 0x11)
}

/// Reads `/run/kubewiz-vm/accel` or decides KVM vs TCG by booting the guest kernel under
/// KVM for a few seconds: it must reach userspace (the initramfs) and not be paused by a
/// KVM internal error.
fn accel(image: &Image) -> Accel {
    let record = Path::new(RUN).join("accel");
    if let Ok(text) = fs::read_to_string(&record) {
        let text = text.trim();
        if text == "kvm" {
            return Accel::Kvm;
        }
        if let Some(why) = text.strip_prefix("tcg: ") {
            return Accel::Tcg(why.to_owned());
        }
    }
    // The trial gives /dev/kvm to group kvm (qemu runs as libvirt-qemu); as it was after.
    let mode = run("stat", &["-c", "%U:%G %a", "/dev/kvm"]);
    let decided = try_kvm(image);
    let mode = String::from_utf8_lossy(&mode.stdout).trim().to_owned();
    if let Some((owner, bits)) = mode.split_once(' ') {
        let _ = run("chown", &[owner, "/dev/kvm"]);
        let _ = run("chmod", &[bits, "/dev/kvm"]);
    }
    let line = match &decided {
        Accel::Kvm => "kvm".to_owned(),
        Accel::Tcg(why) => format!("tcg: {why}"),
    };
    let _ = fs::write(&record, format!("{line}\n"));
    eprintln!("VM lab: accelerator {line}");
    decided
}

fn try_kvm(image: &Image) -> Accel {
    if !Path::new("/dev/kvm").exists() {
        return Accel::Tcg("no /dev/kvm".into());
    }
    // qemu runs as libvirt-qemu (group kvm); udev would make /dev/kvm 0660 root:kvm.
    let _ = run("chgrp", &["kvm", "/dev/kvm"]);
    let _ = run("chmod", &["0660", "/dev/kvm"]);
    let log = PathBuf::from(RUN).join("kvm-trial.log");
    let _ = fs::remove_file(&log);
    let name = format!("kwvm-kvm-trial-{}", std::process::id());
    let xml = format!(
        "<domain type='kvm'><name>{name}</name><memory unit='MiB'>512</memory><vcpu>1</vcpu>\
<os><type arch='x86_64' machine='pc'>hvm</type><kernel>{}</kernel><initrd>{}</initrd>\
<cmdline>console=ttyS0 loglevel=6 panic=-1</cmdline></os><features><acpi/><apic/></features>\
<cpu mode='custom' match='exact' check='none'><model fallback='allow'>qemu64</model></cpu>\
<on_crash>destroy</on_crash><devices><serial type='pty'><log file='{}' append='off'/><target port='0'/></serial>\
<memballoon model='none'/></devices></domain>",
        image.dir.join("vmlinux").display(),
        image.dir.join("initrd.img").display(),
        log.display()
    );
    let xml_path = PathBuf::from(RUN).join("kvm-trial.xml");
    fs::write(&xml_path, xml).unwrap_or_else(|e| panic!("VM lab: {e}"));
    let out = virsh(&["create", &xml_path.display().to_string()]);
    if !out.status.success() {
        return Accel::Tcg(format!(
            "KVM refused the VM: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    let started = Instant::now();
    let verdict = loop {
        let console = fs::read_to_string(&log).unwrap_or_default();
        if console.contains("Run /init as init process") {
            break Accel::Kvm;
        }
        let state = String::from_utf8_lossy(&virsh(&["domstate", &name, "--reason"]).stdout)
            .trim()
            .to_owned();
        if !state.starts_with("running") {
            break Accel::Tcg(format!(
                "a stock kernel under KVM stopped: {state} (KVM internal error / emulation failure on this host's /dev/kvm)"
            ));
        }
        if started.elapsed() > Duration::from_secs(15) {
            break Accel::Tcg(format!(
                "a stock kernel under KVM did not reach userspace within 15 s ({} bytes on its console)",
                console.len()
            ));
        }
        std::thread::sleep(Duration::from_millis(250));
    };
    let _ = virsh(&["destroy", &name]);
    verdict
}

fn cpu_xml(accel: &Accel) -> &'static str {
    match accel {
        Accel::Tcg(_) => "<cpu mode='maximum' check='none' migratable='off'/>",
        // host-passthrough fails on kvm-pvm hosts (MSR 0x10a): the model the trial
        // booted with.
        Accel::Kvm => {
            "<cpu mode='custom' match='exact' check='none'><model fallback='allow'>qemu64</model></cpu>"
        }
    }
}

impl VmLab {
    /// Starts the VMs and returns once every one answers ssh. Panics with the reason when
    /// this machine cannot run them.
    pub fn start(specs: &[VmSpec], reservations: Reservations) -> VmLab {
        let one = ONE_LAB.lock().unwrap_or_else(|e| e.into_inner());
        assert!(
            rustix::process::geteuid().is_root(),
            "VM lab: needs root (libvirt's system instance); run scripts/test.sh as root"
        );
        assert!(specs.len() <= 4, "VM lab: at most 4 VMs at once");
        let image = image();
        let (k, claim, adopted) = claim();
        let mut lab = VmLab {
            k,
            network: format!("kwvm{k}"),
            bridge: format!("kwvmbr{k}"),
            vms: Vec::new(),
            image,
            accel: Accel::Tcg(String::new()),
            dir: lab_dir(k),
            claim,
            daemons: adopted,
            known_hosts: lab_dir(k).join("known_hosts"),
            nft_tables_before: Vec::new(),
            _one: one,
        };
        let started = Instant::now();
        lab.daemons_up();
        lab.accel = accel(&lab.image);
        lab.network_up(specs, reservations);
        lab.vms_up(specs);
        lab.wait_ssh(&lab.vms.iter().map(|v| v.domain.clone()).collect::<Vec<_>>());
        eprintln!(
            "VM lab {k}: {} VM(s) answer ssh after {:.0?} ({})",
            lab.vms.len(),
            started.elapsed(),
            match &lab.accel {
                Accel::Kvm => "KVM".to_owned(),
                Accel::Tcg(why) => format!("TCG: {why}"),
            }
        );
        lab
    }

    fn daemons_up(&mut self) {
        fs::create_dir_all(&self.dir)
            .unwrap_or_else(|e| panic!("VM lab: mkdir {}: {e}", self.dir.display()));
        for tool in [
            "virsh",
            "libvirtd",
            "virtlogd",
            "qemu-system-x86_64",
            "qemu-img",
        ] {
            let found = ["/usr/bin", "/usr/sbin"]
                .iter()
                .any(|d| Path::new(d).join(tool).exists());
            assert!(
                found,
                "VM lab: {tool} is not installed; scripts/test.sh installs the VM lab's packages (as root)"
            );
        }
        // Never let libvirt's stock NAT network autostart: it would enable forwarding.
        let _ = fs::remove_file("/etc/libvirt/qemu/networks/autostart/default.xml");
        let tables = nft_tables();
        for name in ["virtlogd", "libvirtd"] {
            if let Some(pid) = ensure_daemon(name) {
                self.daemons.push((name.to_owned(), pid));
            }
        }
        if self.daemons.iter().any(|(n, _)| n == "libvirtd") {
            self.nft_tables_before = tables;
        }
        let record: String = self
            .daemons
            .iter()
            .map(|(n, p)| format!("{n} {p}\n"))
            .collect();
        let _ = fs::write(Path::new(RUN).join(format!("daemons-{}", self.k)), record);
        wait_libvirt();
    }

    /// The lab's subnet prefix, `10.79.K`.
    pub fn subnet(&self) -> String {
        format!("10.79.{}", self.k)
    }

    /// The KVM host's own address on the lab network.
    pub fn host_address(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, 79, self.k, 1)
    }

    /// The address a VM with index `i` gets from its reservation.
    pub fn reserved_address(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, 79, self.k, 11 + i as u8)
    }

    /// An address on the lab subnet that no VM holds (for a VIP, say).
    pub fn free_address(&self, last: u8) -> Ipv4Addr {
        assert!((2..100).contains(&last) && !(11..30).contains(&last));
        Ipv4Addr::new(10, 79, self.k, last)
    }

    /// The domain (and host) name lab VM `name` gets.
    pub fn domain_name(&self, name: &str) -> String {
        format!("kwvm{}-{name}", self.k)
    }

    fn network_up(&mut self, specs: &[VmSpec], reservations: Reservations) {
        let s = self.subnet();
        let mut hosts = String::new();
        if reservations == Reservations::Yes {
            for (i, spec) in specs.iter().enumerate() {
                hosts.push_str(&format!(
                    "      <host mac='{}' name='{}' ip='{}'/>\n",
                    mac(self.k, i),
                    self.domain_name(&spec.name),
                    self.reserved_address(i)
                ));
            }
        }
        let xml = format!(
            "<network>\n  <name>{net}</name>\n  <bridge name='{br}' stp='off' delay='0'/>\n  <domain name='{DOMAIN}' localOnly='yes'/>\n  <ip address='{s}.1' netmask='255.255.255.0'>\n    <dhcp>\n      <range start='{s}.100' end='{s}.199'/>\n{hosts}    </dhcp>\n  </ip>\n</network>\n",
            net = self.network,
            br = self.bridge
        );
        let path = self.dir.join("network.xml");
        fs::write(&path, xml).unwrap_or_else(|e| panic!("VM lab: {e}"));
        virsh_ok(&["net-define", &path.display().to_string()]);
        virsh_ok(&["net-start", &self.network]);
    }

    fn domain_xml(&self, domain: &str, mac: &str, spec: &VmSpec) -> String {
        let img = &self.image.dir;
        // Under TCG the guest kernel's TSC calibration can be off by a fraction of a
        // percent ("Fast TSC calibration failed"): its clock drifts a second in minutes,
        // and kubewiz's preflight refuses that. The HPET runs at a known rate.
        //
        // Under TCG the guest's Spectre mitigations (retpolines, RSB filling) guard
        // nothing: QEMU translates the guest's code, whose branches never reach the host
        // CPU's predictors as they are. They cost time on every syscall and context
        // switch (measured in a lab VM: 23% on a socketpair ping-pong), so they are off.
        let (kind, features, kernel_args) = match self.accel {
            Accel::Kvm => ("kvm", "<acpi/><apic/>", ""),
            Accel::Tcg(_) => (
                "qemu",
                "<acpi/><apic/><tcg><tb-cache unit='MiB'>128</tb-cache></tcg>",
                " clocksource=hpet mitigations=off",
            ),
        };
        format!(
            "<domain type='{kind}'>
  <name>{domain}</name>
  <memory unit='MiB'>{mem_mib}</memory>
  <vcpu>{vcpus}</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>{kernel}</kernel>
    <initrd>{initrd}</initrd>
    <cmdline>root=/dev/vda rw console=ttyS0 loglevel=5 systemd.show_status=auto{kernel_args}</cmdline>
  </os>
  <features>{features}</features>
  {cpu}
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='file' device='disk'>
      <driver name='qemu' type='qcow2' discard='unmap'/>
      <source file='{disk}'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <interface type='network'>
      <mac address='{mac}'/>
      <source network='{net}'/>
      <model type='virtio'/>
    </interface>
    <serial type='pty'>
      {log}<target port='0'/>
    </serial>
    <console type='pty'><target type='serial' port='0'/></console>
    <rng model='virtio'><backend model='random'>/dev/urandom</backend></rng>
    <memballoon model='none'/>
  </devices>
</domain>
",
            kernel = img.join("vmlinux").display(),
            initrd = img.join("initrd.img").display(),
            cpu = cpu_xml(&self.accel),
            disk = self.dir.join(format!("{domain}.qcow2")).display(),
            net = self.network,
            vcpus = spec.vcpus,
            mem_mib = spec.mem_mib,
            log = if spec.console_log {
                format!(
                    "<log file='{}' append='on'/>",
                    self.console_log(domain).display()
                )
            } else {
                String::new()
            },
        )
    }

    /// The serial console log of a domain.
    pub fn console_log(&self, domain: &str) -> PathBuf {
        self.dir.join(format!("{domain}.console.log"))
    }

    /// Defines a VM (overlay disk on the base image) without starting it.
    pub fn define(&self, domain: &str, mac: &str, spec: &VmSpec) {
        let disk = self.dir.join(format!("{domain}.qcow2"));
        must(
            "qemu-img",
            &[
                "create",
                "-q",
                "-f",
                "qcow2",
                "-F",
                "qcow2",
                "-b",
                &self.image.base().display().to_string(),
                &disk.display().to_string(),
            ],
        );
        let xml = self.domain_xml(domain, mac, spec);
        let path = self.dir.join(format!("{domain}.xml"));
        fs::write(&path, xml).unwrap_or_else(|e| panic!("VM lab: {e}"));
        virsh_ok(&["define", &path.display().to_string()]);
    }

    fn vms_up(&mut self, specs: &[VmSpec]) {
        for (i, spec) in specs.iter().enumerate() {
            let domain = self.domain_name(&spec.name);
            let mac = mac(self.k, i);
            self.define(&domain, &mac, spec);
            self.vms.push(Vm {
                domain,
                mac,
                address: Ipv4Addr::UNSPECIFIED,
                vcpus: spec.vcpus,
                mem_mib: spec.mem_mib,
            });
        }
        for vm in &self.vms {
            virsh_ok(&["start", &vm.domain]);
            renice(&vm.domain);
        }
    }

    /// The lease address of the domain's MAC on the lab network, if any.
    pub fn lease(&self, mac: &str) -> Option<Ipv4Addr> {
        let out = virsh(&["net-dhcp-leases", &self.network, "--mac", mac]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.contains("ipv4"))
            .filter_map(|l| {
                l.split_whitespace()
                    .find(|w| w.contains('/') && w.contains('.'))
                    .and_then(|w| w.split('/').next())
                    .and_then(|a| a.parse().ok())
            })
            .next_back()
    }

    /// The MAC of a domain's interface on the lab network.
    pub fn mac_of(&self, domain: &str) -> String {
        let out = virsh_ok(&["domiflist", domain]);
        out.lines()
            .find(|l| l.contains(&self.network))
            .and_then(|l| l.split_whitespace().last())
            .unwrap_or_else(|| panic!("VM lab: {domain} has no interface on {}", self.network))
            .to_owned()
    }

    /// Waits until each of `domains` has a lease and answers ssh; records lab VMs'
    /// addresses and adds every host key to the lab's known_hosts. Panics with the end
    /// of the console log of a VM that does not come up.
    pub fn wait_ssh(&mut self, domains: &[String]) -> Vec<Ipv4Addr> {
        let started = Instant::now();
        let macs: Vec<String> = domains.iter().map(|d| self.mac_of(d)).collect();
        let mut found: Vec<Option<Ipv4Addr>> = vec![None; domains.len()];
        loop {
            for (i, domain) in domains.iter().enumerate() {
                if found[i].is_some() {
                    continue;
                }
                if let Some(address) = self.lease(&macs[i])
                    && self.ssh_at(address, "true").status.success()
                {
                    found[i] = Some(address);
                    eprintln!(
                        "VM lab {}: {domain} answers ssh at {address} after {:.0?}",
                        self.k,
                        started.elapsed()
                    );
                }
            }
            if found.iter().all(Option::is_some) {
                break;
            }
            if started.elapsed() > BOOT_TIMEOUT {
                let late: Vec<String> = domains
                    .iter()
                    .zip(&found)
                    .filter(|(_, f)| f.is_none())
                    .map(|(d, _)| {
                        format!(
                            "{d} (state {}), console:\n{}",
                            String::from_utf8_lossy(&virsh(&["domstate", d, "--reason"]).stdout)
                                .trim(),
                            tail(
                                &fs::read_to_string(self.console_log(d)).unwrap_or_default(),
                                25
                            )
                        )
                    })
                    .collect();
                panic!(
                    "VM lab: no ssh after {}s from: {}",
                    BOOT_TIMEOUT.as_secs(),
                    late.join("\n")
                );
            }
            std::thread::sleep(Duration::from_secs(2));
        }
        let addresses: Vec<Ipv4Addr> = found.into_iter().flatten().collect();
        for (domain, address) in domains.iter().zip(&addresses) {
            if let Some(vm) = self.vms.iter_mut().find(|v| &v.domain == domain) {
                vm.address = *address;
                // A lab VM is named like its domain, as an installed VM would be (a
                // static hostname, which a clone of it must not keep).
                let out = self.ssh_at(*address, &format!("hostnamectl set-hostname {domain}"));
                assert!(
                    out.status.success(),
                    "VM lab: hostnamectl on {domain}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
            }
            self.learn_host_key(*address);
            // ssh answers before the boot has finished; a test starts on a settled VM.
            // A clone's first boot restarts sshd with its new host keys (virt-sysprep's
            // firstboot command), which cuts this connection and refuses the next for a
            // moment: ssh's own failure (255) is tried again.
            let settling = Instant::now();
            while self
                .ssh_at(*address, "timeout 120 systemctl is-system-running --wait")
                .status
                .code()
                == Some(255)
                && settling.elapsed() < Duration::from_secs(60)
            {
                std::thread::sleep(Duration::from_secs(1));
            }
            self.set_clock(*address);
        }
        addresses
    }

    /// Sets the VM's clock from the KVM host's. The lab network is isolated, so the VMs
    /// have no NTP server to ask, and a VM starts with its RTC's whole seconds: kubewiz's
    /// preflight rightly refuses a clock 1.5 s off. The time is sent once the remote
    /// shell waits for it, so it is off by one way of the connection only.
    pub fn set_clock(&self, address: Ipv4Addr) {
        let out = self.exchange(address, "date -s \"@$t\" >/dev/null", || {
            let now = unix_now();
            format!("{}.{:09}", now.as_secs(), now.subsec_nanos())
        });
        assert!(
            out.status.success(),
            "VM lab: cannot set the clock of {address}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Sets every lab VM's clock from the KVM host's, as NTP would keep it: under TCG on
    /// a busy machine a guest's clock falls behind by seconds within minutes (seen: 2.7 s
    /// in four minutes of three VMs installing and rebooting), and kubewiz's preflight
    /// rightly refuses more than one. Called before every kubewiz run on the VMs.
    pub fn set_clocks(&self) {
        for vm in &self.vms {
            self.set_clock(vm.address);
        }
    }

    /// How far the VM's clock is from the KVM host's, in seconds (positive: ahead),
    /// read in the middle of one round trip on an open connection.
    pub fn clock_offset(&self, address: Ipv4Addr) -> f64 {
        let before_read = std::cell::Cell::new(0.0);
        let out = self.exchange(address, "date +%s.%N", || {
            before_read.set(unix_now().as_secs_f64());
            String::new()
        });
        let after = unix_now().as_secs_f64();
        let sent = before_read.get();
        let theirs: f64 = String::from_utf8_lossy(&out.stdout)
            .lines()
            .last()
            .and_then(|l| l.trim().parse().ok())
            .unwrap_or_else(|| panic!("VM lab: date on {address} printed {out:?}"));
        theirs - (sent + after) / 2.0
    }

    /// Runs `read t; COMMAND` on `address`: once the remote shell says it is ready,
    /// writes the line `line()` gives to it. The command's output.
    fn exchange(&self, address: Ipv4Addr, command: &str, line: impl FnOnce() -> String) -> Output {
        use std::io::{BufRead, BufReader};
        let mut args = self.ssh_args(address);
        args.push(format!("echo ready; read -r t; {command}"));
        let mut child = Command::new("ssh")
            .args(&args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("VM lab: ssh: {e}"));
        let mut stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut ready = String::new();
        let _ = stdout.read_line(&mut ready);
        if let Some(mut stdin) = child.stdin.take() {
            let _ = writeln!(stdin, "{}", line());
        }
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut stdout, &mut rest);
        let mut out = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("VM lab: ssh: {e}"));
        out.stdout = rest.into_bytes();
        out
    }

    /// Replaces the known_hosts line of `address` with the key the VM shows now.
    pub fn learn_host_key(&self, address: Ipv4Addr) {
        let text = address.to_string();
        // A VM under TCG on a loaded machine may accept the connection and still not
        // finish the key exchange within one scan's timeout (a clone's first boot also
        // restarts sshd with its new keys): scanned again for up to a minute.
        let started = Instant::now();
        let keys = loop {
            let out = run("ssh-keyscan", &["-T", "10", "-t", "ed25519", &text]);
            let keys: String = String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
                .map(|l| format!("{l}\n"))
                .collect();
            if !keys.is_empty() || started.elapsed() > Duration::from_secs(60) {
                break keys;
            }
            std::thread::sleep(Duration::from_secs(2));
        };
        assert!(
            !keys.is_empty(),
            "VM lab: no host key from {address} within a minute"
        );
        let kept: String = fs::read_to_string(&self.known_hosts)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.split_whitespace().next() != Some(text.as_str()))
            .map(|l| format!("{l}\n"))
            .collect();
        fs::write(&self.known_hosts, kept + &keys).unwrap_or_else(|e| panic!("VM lab: {e}"));
    }

    /// A known_hosts file with the key of every VM that answered ssh.
    pub fn known_hosts(&self) -> PathBuf {
        self.known_hosts.clone()
    }

    /// The private key root accepts in every VM.
    pub fn key(&self) -> PathBuf {
        self.image.key()
    }

    /// A directory for the test's own files, removed with the lab.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn ssh_args(&self, address: Ipv4Addr) -> Vec<String> {
        let mut args: Vec<String> = [
            "-i",
            &self.key().display().to_string(),
            "-o",
            "StrictHostKeyChecking=no",
            "-o",
            "UserKnownHostsFile=/dev/null",
            "-o",
            "LogLevel=ERROR",
            "-o",
            "ConnectTimeout=5",
            // A connection whose VM rebooted under it gets no reset until ssh sends
            // something: without these, a command that was running then waits forever.
            "-o",
            "ServerAliveInterval=5",
            "-o",
            "ServerAliveCountMax=3",
            "-o",
            "BatchMode=yes",
            "-o",
            "KexAlgorithms=curve25519-sha256",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        args.push(format!("root@{address}"));
        args
    }

    /// Runs `command` as root over ssh at `address`, which must be on the lab network.
    pub fn ssh_at(&self, address: Ipv4Addr, command: &str) -> Output {
        let [a, b, c, _] = address.octets();
        assert!(
            a == 10 && b == 79 && c == self.k,
            "VM lab: {address} is not on the lab network"
        );
        let mut args = self.ssh_args(address);
        args.push(command.to_owned());
        Command::new("ssh")
            .args(&args)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("VM lab: ssh: {e}"))
    }

    /// Runs `command` on VM `i`; panics when it fails. Its standard output.
    pub fn sh(&self, i: usize, command: &str) -> String {
        self.sh_at(self.vms[i].address, command)
    }

    /// Runs `command` at `address`; panics when it fails. Its standard output.
    pub fn sh_at(&self, address: Ipv4Addr, command: &str) -> String {
        let out = self.ssh_at(address, command);
        assert!(
            out.status.success(),
            "`{command}` on {address} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// `virsh reboot` of every lab VM at once; returns once each answers ssh from a new
    /// boot at the address it had (its clock set again).
    pub fn reboot_all(&self) {
        let boot_id = |address: Ipv4Addr| -> Option<String> {
            let out = self.ssh_at(address, "cat /proc/sys/kernel/random/boot_id");
            out.status
                .success()
                .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
        };
        let before: Vec<Option<String>> = self.vms.iter().map(|v| boot_id(v.address)).collect();
        for vm in &self.vms {
            virsh_ok(&["reboot", &vm.domain]);
        }
        let started = Instant::now();
        let mut back = vec![false; self.vms.len()];
        while back.iter().any(|b| !b) {
            for (i, vm) in self.vms.iter().enumerate() {
                if !back[i] && boot_id(vm.address).is_some_and(|id| Some(id) != before[i]) {
                    back[i] = true;
                    renice(&vm.domain);
                    eprintln!(
                        "VM lab {}: {} back after a reboot in {:.0?}",
                        self.k,
                        vm.domain,
                        started.elapsed()
                    );
                }
            }
            assert!(
                started.elapsed() < BOOT_TIMEOUT,
                "VM lab: not back {}s after virsh reboot: {:?}",
                BOOT_TIMEOUT.as_secs(),
                self.vms
                    .iter()
                    .zip(&back)
                    .filter(|(_, b)| !**b)
                    .map(|(v, _)| &v.domain)
                    .collect::<Vec<_>>()
            );
            std::thread::sleep(Duration::from_secs(2));
        }
        for vm in &self.vms {
            self.set_clock(vm.address);
        }
    }

    /// Pulls the plug on VM `i` (`virsh destroy`): no shutdown, its connections are
    /// left open with nobody at the other end.
    pub fn power_off(&self, i: usize) {
        virsh_ok(&["destroy", &self.vms[i].domain]);
    }

    /// Starts VM `i` again after [`VmLab::power_off`] and waits until it answers ssh at
    /// its address, its clock set.
    pub fn power_on(&mut self, i: usize) {
        let domain = self.vms[i].domain.clone();
        virsh_ok(&["start", &domain]);
        renice(&domain);
        self.wait_ssh(&[domain]);
    }

    /// Shuts a VM down cleanly and waits until libvirt calls it shut off.
    pub fn shutdown(&self, domain: &str) {
        virsh_ok(&["shutdown", domain]);
        let started = Instant::now();
        loop {
            let state = String::from_utf8_lossy(&virsh(&["domstate", domain]).stdout)
                .trim()
                .to_owned();
            if state == "shut off" {
                return;
            }
            if started.elapsed() > Duration::from_secs(120) {
                // ACPI shutdown not honoured in time: a clean enough cut for a test VM.
                let _ = virsh(&["destroy", domain]);
                return;
            }
            std::thread::sleep(Duration::from_secs(1));
        }
    }
}

/// The nftables tables there are now, one `table FAMILY NAME` line each.
fn nft_tables() -> Vec<String> {
    String::from_utf8_lossy(&run("nft", &["list", "tables"]).stdout)
        .lines()
        .map(|l| l.trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

/// What a libvirtd this lab started and stopped leaves in the firewall once its
/// networks are gone: the jumps to its LIBVIRT_* chains, the (empty) chains, and the
/// empty iptables-nft tables that were not there before it started.
fn clean_firewall(tables_before: &[String]) {
    for ipt in ["iptables", "ip6tables"] {
        for table in ["filter", "nat", "mangle"] {
            let rules =
                String::from_utf8_lossy(&run(ipt, &["-t", table, "-S"]).stdout).into_owned();
            for rule in rules.lines() {
                if let Some(rest) = rule.strip_prefix("-A ")
                    && rule
                        .split_whitespace()
                        .last()
                        .is_some_and(|t| t.starts_with("LIBVIRT_"))
                    && !rest.starts_with("LIBVIRT_")
                {
                    let mut args = vec!["-t", table, "-D"];
                    args.extend(rest.split_whitespace());
                    let _ = run(ipt, &args);
                }
            }
            for rule in rules.lines() {
                if let Some(chain) = rule.strip_prefix("-N ")
                    && chain.starts_with("LIBVIRT_")
                {
                    let _ = run(ipt, &["-t", table, "-F", chain]);
                    let _ = run(ipt, &["-t", table, "-X", chain]);
                }
            }
        }
    }
    for line in nft_tables() {
        if tables_before.contains(&line) {
            continue;
        }
        let words: Vec<&str> = line.split_whitespace().collect();
        let [_, family, name] = words[..] else {
            continue;
        };
        if !matches!(family, "ip" | "ip6") || !matches!(name, "filter" | "nat" | "mangle") {
            continue;
        }
        let body = String::from_utf8_lossy(&run("nft", &["list", "table", family, name]).stdout)
            .into_owned();
        let has_rules = body.lines().map(str::trim).any(|l| {
            !(l.is_empty()
                || l == "}"
                || l.starts_with("table ")
                || l.starts_with("chain ")
                || l.starts_with("type "))
        });
        if !has_rules {
            let _ = run("nft", &["delete", "table", family, name]);
        }
    }
}

fn unix_now() -> Duration {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("the clock is after 1970")
}

/// qemu's main thread (its device emulation) at nice 10. `renice -p` reaches that thread
/// only: the vCPU threads keep nice 0, and where the kernel groups each session for the
/// scheduler (autogroup; libvirt starts each qemu in a session of its own) a VM gets as
/// much of the CPU as the test programs running beside it together. The suite's times
/// were measured with that share.
fn renice(domain: &str) {
    if let Some(pid) = read_pid(Path::new(&format!("/run/libvirt/qemu/{domain}.pid"))) {
        let _ = run("renice", &["-n", "10", "-p", &pid.to_string()]);
    }
}

impl Drop for VmLab {
    fn drop(&mut self) {
        let started = Instant::now();
        if let Some(dir) = std::env::var_os("KUBEWIZ_VM_KEEP_CONSOLES") {
            for vm in lab_domains(self.k) {
                let _ = fs::copy(
                    self.console_log(&vm),
                    Path::new(&dir).join(format!("{vm}.console.log")),
                );
            }
        }
        clean_lab(self.k);
        // libvirt's DAC labels gave the cached image to libvirt-qemu.
        for file in ["base.qcow2", "vmlinux", "vmlinuz", "initrd.img"] {
            let _ = run(
                "chown",
                &[
                    "root:root",
                    &self.image.dir.join(file).display().to_string(),
                ],
            );
        }
        let stopped_libvirtd = self.daemons.iter().any(|(n, _)| n == "libvirtd");
        for (name, pid) in self.daemons.iter().rev() {
            stop_pid(name, *pid);
        }
        if stopped_libvirtd {
            clean_firewall(&self.nft_tables_before);
        }
        let _ = fs::remove_file(Path::new(RUN).join(format!("daemons-{}", self.k)));
        let _ = fs::remove_file(&self.claim);
        eprintln!("VM lab {}: torn down in {:.0?}", self.k, started.elapsed());
    }
}
