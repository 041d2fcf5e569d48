//! Lab hosts for integration tests: real sshd servers, each in its own network, PID and
//! UTS namespace with an overlay root over `/`, reachable on a private bridge. See
//! ../shared/reference/test-hosts.md for the recipe and its measured facts.
//!
//! Include it with `#[path = "lab/mod.rs"] mod lab;` and start hosts with
//! `let Some(lab) = Lab::start_or_skip(3) else { return };`. Everything is torn down when
//! the `Lab` is dropped, also when the test panics. What a killed test process left
//! behind is cleaned up by the next lab started on this machine.
//!
//! Each host has its own hostname, /etc/hosts, /etc/machine-id, ed25519 host key and
//! root's authorized_keys (the lab's key), sshd with the default `MaxSessions 10`, and
//! the /etc/skel dotfiles for root (fast shell start). Files written on a host persist
//! across `stop_sshd`/`start_sshd`; `cut_link` makes a host silently vanish.
//!
//! Only the lab's own addresses (10.77.K.0/24, one K per lab) are ever used; hosts get no
//! default route.
#![allow(dead_code)]

use std::fs;
use std::io::{BufRead, BufReader, Write};
use std::net::{IpAddr, Ipv4Addr};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use kubewiz::spec::{HostSpec, SshSpec};

const INIT: &str = include_str!("init.sh");

/// Where labs record which subnet they hold (one file per K, holding the owner's pid).
const CLAIMS: &str = "/run/kubewiz-lab";

/// The client-side ssh options the lab recommends: OpenSSH 9's default key exchange
/// (sntrup761x25519) dominates connect time on 2 cores.
pub const FAST_KEX: (&str, &str) = ("KexAlgorithms", "curve25519-sha256");

const SSHD_CONFIG: &str = "\
Port 22
HostKey /etc/ssh/lab_host_ed25519_key
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
UseDNS no
PidFile /run/sshd.pid
AuthorizedKeysFile .ssh/authorized_keys
Subsystem sftp internal-sftp
";

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// One lab host.
#[derive(Debug)]
pub struct LabHost {
    /// Host name (also its hostname inside), e.g. `lab-1`.
    pub name: String,
    /// Its address on the lab bridge.
    pub address: IpAddr,
    /// `address type base64` as a known_hosts line.
    pub key_line: String,
    netns: String,
    veth: String,
    dir: PathBuf,
}

/// A set of running lab hosts; dropping it tears them down.
pub struct Lab {
    pub hosts: Vec<LabHost>,
    k: u8,
    dir: PathBuf,
    bridge: String,
    claim: PathBuf,
    /// The `unshare` process of each host (its child is the host's PID 1).
    procs: Mutex<Vec<Option<Child>>>,
}

/// True when lab hosts can be built here (they need root).
pub fn available() -> bool {
    rustix::process::geteuid().is_root()
}

impl Lab {
    /// `n` hosts, or None (after printing why) when this machine cannot run them.
    pub fn start_or_skip(n: usize) -> Option<Lab> {
        Lab::start_or_skip_with(n, &[])
    }

    /// Like [`Lab::start_or_skip`], with `extras` (absolute path, content, mode) written
    /// into every host before it starts: the systemctl and journalctl stand-ins, say.
    /// (An overlay does not see later edits to its upper directory from outside.)
    pub fn start_or_skip_with(n: usize, extras: &[(&str, &[u8], u32)]) -> Option<Lab> {
        if !available() {
            println!("skipped: lab hosts need root");
            return None;
        }
        Some(Lab::start_with(n, extras))
    }

    /// Starts `n` hosts and returns once every sshd listens. Panics with the reason when
    /// the lab cannot be built (a test cannot do anything useful without it).
    pub fn start(n: usize) -> Lab {
        Lab::start_with(n, &[])
    }

    /// [`Lab::start`] with `extras` written into every host first.
    pub fn start_with(n: usize, extras: &[(&str, &[u8], u32)]) -> Lab {
        assert!((1..=200).contains(&n), "a lab has 1 to 200 hosts");
        let started = Instant::now();
        let (k, claim) = claim_subnet();
        let dir = PathBuf::from(format!("/dev/shm/kubewiz-lab-{k}"));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir)
            .unwrap_or_else(|e| panic!("lab: cannot create {}: {e}", dir.display()));
        let bridge = format!("kwlab{k}");
        let mut lab = Lab {
            hosts: Vec::new(),
            k,
            dir,
            bridge,
            claim,
            procs: Mutex::new(Vec::new()),
        };
        lab.build(n, extras);
        if std::env::var_os("LAB_TIMING").is_some() {
            eprintln!("lab: {n} hosts up in {:?}", started.elapsed());
        }
        lab
    }

    fn build(&mut self, n: usize, extras: &[(&str, &[u8], u32)]) {
        let k = self.k;
        write_file(&self.dir.join("init.sh"), INIT.as_bytes(), 0o755);

        // Keys: the client key and one host key per host, generated in parallel.
        let mut keygens = vec![keygen(&self.dir.join("id_ed25519"), "kubewiz-lab")];
        for i in 0..n {
            let name = format!("lab-{}", i + 1);
            let hdir = self.dir.join(&name);
            for sub in [
                "upper/etc/ssh",
                "upper/root/.ssh",
                "upper/var/log",
                "work",
                "root",
            ] {
                fs::create_dir_all(hdir.join(sub))
                    .unwrap_or_else(|e| panic!("lab: mkdir {}: {e}", hdir.join(sub).display()));
            }
            keygens.push(keygen(
                &hdir.join("upper/etc/ssh/lab_host_ed25519_key"),
                &name,
            ));
            self.hosts.push(LabHost {
                address: IpAddr::V4(Ipv4Addr::new(10, 77, k, 11 + i as u8)),
                key_line: String::new(),
                netns: format!("kwlab{k}h{}", i + 1),
                veth: format!("kwv{k}h{}", i + 1),
                dir: hdir,
                name,
            });
        }
        for mut child in keygens {
            let status = child
                .wait()
                .unwrap_or_else(|e| panic!("lab: ssh-keygen: {e}"));
            assert!(status.success(), "lab: ssh-keygen failed");
        }
        let client_pub = read_string(&self.dir.join("id_ed25519.pub"));
        let skel_bashrc = fs::read("/etc/skel/.bashrc").unwrap_or_default();
        let skel_profile = fs::read("/etc/skel/.profile").unwrap_or_default();
        let mut known = String::new();
        for host in &mut self.hosts {
            let up = host.dir.join("upper");
            let key = read_string(&up.join("etc/ssh/lab_host_ed25519_key.pub"));
            let mut parts = key.split_whitespace();
            let (kind, blob) = (
                parts.next().unwrap_or_default(),
                parts.next().unwrap_or_default(),
            );
            host.key_line = format!("{} {kind} {blob}", host.address);
            known.push_str(&host.key_line);
            known.push('\n');
            write_file(
                &up.join("etc/ssh/sshd_config.lab"),
                SSHD_CONFIG.as_bytes(),
                0o644,
            );
            write_file(
                &up.join("root/.ssh/authorized_keys"),
                client_pub.as_bytes(),
                0o600,
            );
            fs::set_permissions(up.join("root/.ssh"), fs::Permissions::from_mode(0o700))
                .unwrap_or_else(|e| panic!("lab: chmod: {e}"));
            write_file(&up.join("root/.bashrc"), &skel_bashrc, 0o644);
            write_file(&up.join("root/.profile"), &skel_profile, 0o644);
            write_file(
                &up.join("etc/hostname"),
                format!("{}\n", host.name).as_bytes(),
                0o644,
            );
            write_file(&up.join("var/log/sshd.log"), b"", 0o600);
            // Every host its own machine-id, as installed VMs have (cloned ones do not,
            // and preflight refuses that).
            write_file(
                &up.join("etc/machine-id"),
                format!("{}\n", machine_id()).as_bytes(),
                0o444,
            );
            for (path, content, mode) in extras {
                let at = up.join(path.trim_start_matches('/'));
                fs::create_dir_all(at.parent().expect("an absolute path has a parent"))
                    .unwrap_or_else(|e| panic!("lab: {}: {e}", at.display()));
                write_file(&at, content, *mode);
            }
        }
        let mut etc_hosts = String::from("127.0.0.1\tlocalhost\n");
        for host in &self.hosts {
            etc_hosts.push_str(&format!("{}\t{}\n", host.address, host.name));
        }
        for host in &self.hosts {
            write_file(
                &host.dir.join("upper/etc/hosts"),
                etc_hosts.as_bytes(),
                0o644,
            );
        }
        write_file(&self.known_hosts(), known.as_bytes(), 0o644);

        // Network: one bridge, one veth pair per host, all in one `ip -batch`.
        let mut batch = format!(
            "link add {b} type bridge\naddr add 10.77.{k}.1/24 dev {b}\nlink set {b} up\n",
            b = self.bridge
        );
        for host in &self.hosts {
            batch.push_str(&format!(
                "netns add {ns}\nlink add {v} type veth peer name eth0 netns {ns}\nlink set {v} master {b} up\n",
                ns = host.netns,
                v = host.veth,
                b = self.bridge
            ));
        }
        ip_batch(&batch, true);

        // Hosts: start every PID 1, then wait for each to say its sshd listens.
        let mut children = Vec::new();
        for host in &self.hosts {
            children.push(Some(self.spawn_host(host)));
        }
        for (host, child) in self.hosts.iter().zip(children.iter_mut()) {
            if let Some(child) = child.as_mut() {
                wait_ready(host, child);
            }
        }
        *self.procs.lock().unwrap_or_else(|e| e.into_inner()) = children;
    }

    fn spawn_host(&self, host: &LabHost) -> Child {
        let log = fs::File::create(host.dir.join("init.log"))
            .unwrap_or_else(|e| panic!("lab: init.log: {e}"));
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &host.netns,
                "unshare",
                "--uts",
                "--pid",
                "--fork",
                "--kill-child",
                "--",
                "bash",
            ])
            .arg(self.dir.join("init.sh"))
            .arg(&host.name)
            .arg(&host.dir)
            .arg(format!("{}/24", host.address))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            // Its own process group, so a Ctrl-C on the test does not hit the hosts
            // before Drop tears them down.
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("lab: cannot start {}: {e}", host.name))
    }

    /// The private key that root on every host accepts.
    pub fn key(&self) -> PathBuf {
        self.dir.join("id_ed25519")
    }

    /// A known_hosts file with every host's key.
    pub fn known_hosts(&self) -> PathBuf {
        self.dir.join("known_hosts")
    }

    /// A directory for the test's own files, removed with the lab.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// An address on the lab subnet where nothing answers.
    pub fn unused_address(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(10, 77, self.k, 250))
    }

    /// `[ssh]` settings for the lab: root, port 22, the lab key and known_hosts.
    pub fn ssh_spec(&self) -> SshSpec {
        SshSpec {
            user: "root".into(),
            port: 22,
            identity_file: self.key(),
            known_hosts: self.known_hosts(),
        }
    }

    /// A spec host for lab host `i` (no roles).
    pub fn host_spec(&self, i: usize) -> HostSpec {
        let host = &self.hosts[i];
        HostSpec {
            name: host
                .name
                .parse()
                .unwrap_or_else(|e| panic!("lab: host name: {e}")),
            address: host.address,
            roles: Vec::new(),
            user: None,
            port: None,
        }
    }

    /// Host `i`'s key as a known_hosts line (`address type base64`).
    pub fn host_key_line(&self, i: usize) -> String {
        self.hosts[i].key_line.clone()
    }

    /// Host `i`'s key fingerprint as ssh prints it (`SHA256:...`).
    pub fn host_fingerprint(&self, i: usize) -> String {
        let out = Command::new("ssh-keygen")
            .arg("-lf")
            .arg(
                self.hosts[i]
                    .dir
                    .join("upper/etc/ssh/lab_host_ed25519_key.pub"),
            )
            .output()
            .unwrap_or_else(|e| panic!("lab: ssh-keygen -l: {e}"));
        String::from_utf8_lossy(&out.stdout)
            .split_whitespace()
            .nth(1)
            .unwrap_or_default()
            .to_owned()
    }

    /// Kills every sshd process on host `i` (the listener and every session), as a crash
    /// would; the host's other processes keep running.
    pub fn stop_sshd(&self, i: usize) {
        let started = Instant::now();
        loop {
            // A killed process stays a zombie until PID 1 reaps it; its sockets are
            // already closed by then.
            let alive: Vec<u32> = netns_pids(&self.hosts[i].netns)
                .into_iter()
                .filter(|pid| {
                    fs::read_to_string(format!("/proc/{pid}/comm"))
                        .is_ok_and(|c| c.trim() == "sshd")
                        && fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|st| {
                            st.rsplit_once(") ")
                                .is_some_and(|(_, rest)| !rest.starts_with('Z'))
                        })
                })
                .collect();
            if alive.is_empty() {
                return;
            }
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "lab: sshd on {} does not die",
                self.hosts[i].name
            );
            for pid in alive {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Starts sshd again on host `i` (after `stop_sshd`), and returns once it listens.
    pub fn start_sshd(&self, i: usize) {
        let host = &self.hosts[i];
        let pid1 = self
            .pid1(i)
            .unwrap_or_else(|| panic!("lab: {} is not running", host.name));
        let status = Command::new("nsenter")
            .args([
                "-t",
                &pid1.to_string(),
                "-m",
                "-u",
                "-p",
                "-n",
                "--",
                "chroot",
            ])
            .arg(host.dir.join("root"))
            .args([
                "/usr/sbin/sshd",
                "-f",
                "/etc/ssh/sshd_config.lab",
                "-E",
                "/var/log/sshd.log",
            ])
            .status()
            .unwrap_or_else(|e| panic!("lab: nsenter: {e}"));
        assert!(
            status.success(),
            "lab: sshd did not start again on {}",
            host.name
        );
        // sshd may go to the background before its socket listens.
        let started = Instant::now();
        while !fs::read_to_string(format!("/proc/{pid1}/net/tcp"))
            .is_ok_and(|t| t.contains(" 00000000:0016 00000000:0000 0A"))
        {
            assert!(
                started.elapsed() < Duration::from_secs(5),
                "lab: sshd on {} does not listen",
                host.name
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Cuts host `i` off the network without closing anything (its bridge port goes
    /// down): to the client the host simply stops answering, as when a VM hangs.
    pub fn cut_link(&self, i: usize) {
        ip_batch(&format!("link set {} down\n", self.hosts[i].veth), true);
    }

    /// Puts host `i` back on the network after `cut_link`.
    pub fn restore_link(&self, i: usize) {
        let host = &self.hosts[i];
        // Forget the failed ARP entry, or the next connection fails "No route to host".
        ip_batch(
            &format!(
                "link set {} up\nneigh flush dev {}\n",
                host.veth, self.bridge
            ),
            true,
        );
        let state = Path::new("/sys/class/net")
            .join(&host.veth)
            .join("operstate");
        let started = Instant::now();
        while fs::read_to_string(&state).map_or(true, |s| s.trim() != "up")
            && started.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A file of host `i` as seen from outside (its overlay's upper dir holds only what
    /// changed on the host; this reads through the host's own mount namespace).
    pub fn host_file(&self, i: usize, path: &str) -> Option<Vec<u8>> {
        let pid1 = self.pid1(i)?;
        fs::read(format!(
            "/proc/{pid1}/root{}/{}",
            self.hosts[i].dir.join("root").display(),
            path.trim_start_matches('/')
        ))
        .ok()
    }

    /// Runs `script` with bash as root inside host `i` (its namespaces and root), not
    /// through SSH: for checking a host from outside, also while its sshd is down.
    pub fn exec(&self, i: usize, script: &str) -> std::process::Output {
        let host = &self.hosts[i];
        let pid1 = self
            .pid1(i)
            .unwrap_or_else(|| panic!("lab: {} is not running", host.name));
        Command::new("nsenter")
            .args([
                "-t",
                &pid1.to_string(),
                "-m",
                "-u",
                "-p",
                "-n",
                "--",
                "chroot",
            ])
            .arg(host.dir.join("root"))
            .args(["/bin/bash", "-c", script])
            .env(
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            )
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("lab: nsenter: {e}"))
    }

    /// The global pid of host `i`'s PID 1.
    fn pid1(&self, i: usize) -> Option<u32> {
        let procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        let unshare = procs.get(i)?.as_ref()?.id();
        let children =
            fs::read_to_string(format!("/proc/{unshare}/task/{unshare}/children")).ok()?;
        children.split_whitespace().next()?.parse().ok()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        let started = Instant::now();
        // Killing `unshare` kills each host's PID 1 (--kill-child), and with it its PID
        // namespace and everything in it.
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        for child in procs.iter_mut().flatten() {
            let _ = child.kill();
        }
        for child in procs.iter_mut().flatten() {
            let _ = child.wait();
        }
        drop(procs);
        let names: Vec<(String, String)> = self
            .hosts
            .iter()
            .map(|h| (h.netns.clone(), h.veth.clone()))
            .collect();
        teardown_network(&self.bridge, &names);
        remove_dir_retrying(&self.dir);
        let _ = fs::remove_file(&self.claim);
        if std::env::var_os("LAB_TIMING").is_some() {
            eprintln!("lab: torn down in {:?}", started.elapsed());
        }
    }
}

/// Kills what is left in the namespaces, then deletes veths (explicitly: namespace
/// deletion is asynchronous and a lingering veth breaks the next setup), namespaces and
/// the bridge.
fn teardown_network(bridge: &str, hosts: &[(String, String)]) {
    for (netns, _) in hosts {
        for pid in netns_pids(netns) {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stderr(Stdio::null())
                .status();
        }
    }
    let mut batch = String::new();
    for (netns, veth) in hosts {
        batch.push_str(&format!("link del {veth}\nnetns del {netns}\n"));
    }
    batch.push_str(&format!("link del {bridge}\n"));
    ip_batch(&batch, false);
}

fn netns_pids(netns: &str) -> Vec<u32> {
    Command::new("ip")
        .args(["netns", "pids", netns])
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Runs `ip -force -batch -`; with `strict` a failure panics with ip's message.
fn ip_batch(batch: &str, strict: bool) {
    let mut child = Command::new("ip")
        .args(["-force", "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(if strict {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .spawn()
        .unwrap_or_else(|e| panic!("lab: cannot run ip (install iproute2): {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        let _ = stdin.write_all(batch.as_bytes());
    }
    let out = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("lab: ip: {e}"));
    if strict && !out.status.success() {
        panic!(
            "lab: network setup failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
}

/// Picks a free K for 10.77.K.0/24 and records it under /run, so tests running at the
/// same time (threads or processes) never share a subnet or an interface name. Claims
/// whose owner is gone are cleaned up (their interfaces and namespaces) and freed. All of
/// it happens under an exclusive lock, which the kernel drops if the process dies.
fn claim_subnet() -> (u8, PathBuf) {
    fs::create_dir_all(CLAIMS).unwrap_or_else(|e| panic!("lab: cannot create {CLAIMS}: {e}"));
    let lock_path = Path::new(CLAIMS).join(".lock");
    let lock = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .unwrap_or_else(|e| panic!("lab: cannot open {}: {e}", lock_path.display()));
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)
        .unwrap_or_else(|e| panic!("lab: cannot lock {}: {e}", lock_path.display()));
    // Claims of test processes that were killed: clean their leftovers, free them.
    if let Ok(entries) = fs::read_dir(CLAIMS) {
        for entry in entries.flatten() {
            let Some(k) = entry
                .file_name()
                .to_str()
                .and_then(|n| n.parse::<u8>().ok())
            else {
                continue;
            };
            let owner: Option<u32> = fs::read_to_string(entry.path())
                .ok()
                .and_then(|s| s.trim().parse().ok());
            if !owner.is_some_and(|p| Path::new(&format!("/proc/{p}")).exists()) {
                clean_leftovers(k);
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    let me = std::process::id();
    let start = (me
        .wrapping_mul(7)
        .wrapping_add(COUNTER.fetch_add(1, Ordering::Relaxed)))
        % 200;
    for step in 0..200u32 {
        let k = ((start + step) % 200 + 20) as u8;
        let claim = Path::new(CLAIMS).join(k.to_string());
        if let Ok(mut f) = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&claim)
        {
            writeln!(f, "{me}")
                .unwrap_or_else(|e| panic!("lab: cannot write {}: {e}", claim.display()));
            clean_leftovers(k);
            return (k, claim);
        }
    }
    panic!("lab: no free lab subnet in 10.77.20-219.0/24 (see {CLAIMS})");
}

/// Removes what a killed test process may have left for subnet K.
fn clean_leftovers(k: u8) {
    let prefix = format!("kwlab{k}h");
    let list = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut hosts = Vec::new();
    for line in list.lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        if let Some(i) = name.strip_prefix(&prefix) {
            hosts.push((name.to_owned(), format!("kwv{k}h{i}")));
        }
    }
    let bridge = format!("kwlab{k}");
    let bridge_exists = Path::new("/sys/class/net").join(&bridge).exists();
    if hosts.is_empty() && !bridge_exists {
        return;
    }
    teardown_network(&bridge, &hosts);
    remove_dir_retrying(Path::new(&format!("/dev/shm/kubewiz-lab-{k}")));
}

fn remove_dir_retrying(dir: &Path) {
    for _ in 0..50 {
        if fs::remove_dir_all(dir).is_ok() || !dir.exists() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn wait_ready(host: &LabHost, child: &mut Child) {
    let mut line = String::new();
    if let Some(stdout) = child.stdout.take() {
        let _ = BufReader::new(stdout).read_line(&mut line);
    }
    if line.trim() != "ready" {
        let log = fs::read_to_string(host.dir.join("init.log")).unwrap_or_default();
        panic!("lab: host {} did not start: {}", host.name, log.trim());
    }
}

/// 32 random hex digits, the format of /etc/machine-id.
fn machine_id() -> String {
    let mut bytes = [0u8; 16];
    let read = fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut bytes));
    read.unwrap_or_else(|e| panic!("lab: /dev/urandom: {e}"));
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn keygen(path: &Path, comment: &str) -> Child {
    Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", comment, "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("lab: cannot run ssh-keygen (install openssh-client): {e}"))
}

fn write_file(path: &Path, content: &[u8], mode: u32) {
    fs::write(path, content)
        .unwrap_or_else(|e| panic!("lab: cannot write {}: {e}", path.display()));
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .unwrap_or_else(|e| panic!("lab: chmod {}: {e}", path.display()));
}

fn read_string(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("lab: cannot read {}: {e}", path.display()))
}
