//! Creating the preset's missing VMs by cloning a template domain.
//!
//! For each host of the preset that no libvirt domain stands for, three commands:
//! `virt-clone` (new name, new disk, a MAC of kubewiz's choosing), `virt-sysprep` (fresh
//! machine-id, host keys removed and regenerated at first boot, hostname set, the
//! operator's SSH key installed) and `virsh start`: the copies (each VM's first step)
//! one after another, the rest for all hosts at once ([`ClonePlan::run`]); then
//! [`wait_for_addresses`] waits for their DHCP leases with a clear timeout message.
//!
//! [`plan_clones`] is pure, like the network plan: the preview shows the exact command
//! lines. The MAC of each clone is derived from the cluster and host name, so running
//! `kubewiz kvm dns` before the clones start gives them their preset address at first
//! boot; a later run plans the same MACs.
//!
//! virt-clone (Debian: virtinst) and virt-sysprep (Debian: guestfs-tools) need real
//! disks, which libvirt's test driver does not have: the tests check the generated
//! commands and the waiting against the test driver, not a clone.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use super::KvmError;
use super::import::{Import, import};
use super::virsh::quote;
use crate::spec::ClusterSpec;

/// One command of a clone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneStep {
    pub description: String,
    pub program: String,
    pub args: Vec<String>,
}

impl CloneStep {
    /// The command as the operator would type it.
    pub fn command_line(&self) -> String {
        let mut line = self.program.clone();
        for arg in &self.args {
            line.push(' ');
            line.push_str(&quote(arg));
        }
        line
    }

    /// Runs the command; on failure says which and what it printed.
    pub fn run(&self) -> Result<(), KvmError> {
        let output = Command::new(&self.program)
            .args(&self.args)
            .env("LC_ALL", "C")
            .output()
            .map_err(|e| KvmError::Virsh {
                command: self.command_line(),
                status: None,
                stderr: match e.kind() {
                    std::io::ErrorKind::NotFound => format!(
                        "{} is not installed: apt-get install {}",
                        self.program,
                        package_of(&self.program)
                    ),
                    _ => e.to_string(),
                },
            })?;
        if output.status.success() {
            return Ok(());
        }
        Err(KvmError::Virsh {
            command: self.command_line(),
            status: output.status.code(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        })
    }
}

fn package_of(program: &str) -> &'static str {
    match program {
        "virt-clone" => "virtinst",
        "virt-sysprep" => "guestfs-tools",
        _ => "libvirt-clients",
    }
}

/// One VM to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloneVm {
    pub host: String,
    pub mac: String,
    pub steps: Vec<CloneStep>,
}

/// The clones a preset needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClonePlan {
    pub template: String,
    pub vms: Vec<CloneVm>,
}

impl ClonePlan {
    /// Makes the plan's VMs: the disks are copied one VM after another (virt-clone
    /// defines a storage pool for the disks' directory when there is none, and two at
    /// once race to define the same one), then every clone's remaining steps run at
    /// once, each VM on a thread of its own: virt-sysprep boots libguestfs's appliance
    /// (a VM of its own, a minute or more where KVM is missing) for each clone, and
    /// clones do not depend on one another. `starting` is called before each step. A VM
    /// whose step fails stops there; the others go on. The failures, by host.
    pub fn run(&self, starting: &(dyn Fn(&CloneStep) + Sync)) -> Vec<(String, KvmError)> {
        let mut failed = Vec::new();
        let mut copied = Vec::new();
        for vm in &self.vms {
            let Some((copy, rest)) = vm.steps.split_first() else {
                continue;
            };
            match run_steps(std::slice::from_ref(copy), starting) {
                Ok(()) => copied.push((vm, rest)),
                Err(e) => failed.push((vm.host.clone(), e)),
            }
        }
        thread::scope(|s| {
            let running: Vec<_> = copied
                .into_iter()
                .map(|(vm, rest)| (vm, s.spawn(move || run_steps(rest, starting))))
                .collect();
            for (vm, done) in running {
                let result = done.join().unwrap_or_else(|_| {
                    Err(KvmError::Clone(format!(
                        "cloning {} stopped unexpectedly",
                        vm.host
                    )))
                });
                if let Err(e) = result {
                    failed.push((vm.host.clone(), e));
                }
            }
        });
        failed
    }
}

/// Runs `steps` in order, calling `starting` before each; stops at the first failure.
fn run_steps(steps: &[CloneStep], starting: &(dyn Fn(&CloneStep) + Sync)) -> Result<(), KvmError> {
    steps.iter().try_for_each(|step| {
        starting(step);
        step.run()
    })
}

/// The clones for every host of `spec` that `found` has no domain for, from domain
/// `template`, which must exist and be shut off (virt-clone copies its disks).
/// `ssh_public_key` is installed for each host's SSH user. Pure: nothing is run.
pub fn plan_clones(
    spec: &ClusterSpec,
    found: &Import,
    template: &str,
    ssh_public_key: &Path,
) -> Result<ClonePlan, KvmError> {
    let Some(original) = found.hosts.iter().find(|vm| vm.domain == template) else {
        return Err(KvmError::Clone(format!(
            "template domain {template} does not exist on {}; `virsh -c {} list --all` lists the domains",
            found.uri, found.uri
        )));
    };
    if original.state != "shut off" {
        return Err(KvmError::Clone(format!(
            "template domain {template} is {}; shut it down first (virsh -c {} shutdown {template}), virt-clone copies its disks",
            original.state, found.uri
        )));
    }
    let mut macs: BTreeSet<String> = found
        .hosts
        .iter()
        .flat_map(|vm| vm.interfaces.iter().map(|i| i.mac.clone()))
        .collect();
    let domains: BTreeSet<&str> = found.hosts.iter().map(|vm| vm.domain.as_str()).collect();
    let key = ssh_public_key.display().to_string();
    let mut vms = Vec::new();
    for host in &spec.hosts {
        let name = host.name.as_str();
        if found.by_host_name(name).is_some() || domains.contains(name) {
            continue;
        }
        let mac = choose_mac(spec.name.as_str(), name, &macs);
        macs.insert(mac.clone());
        let user = host.user.as_deref().unwrap_or(&spec.ssh.user);
        let strings = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect();
        let steps = vec![
            CloneStep {
                description: format!("clone {template} as {name} with MAC {mac}"),
                program: "virt-clone".into(),
                args: strings(&[
                    "--connect",
                    &found.uri,
                    "--original",
                    template,
                    "--name",
                    name,
                    "--mac",
                    &mac,
                    "--auto-clone",
                ]),
            },
            CloneStep {
                description: format!(
                    "give {name} a fresh machine-id and host keys, hostname {name}, and the SSH key for {user}"
                ),
                program: "virt-sysprep".into(),
                args: strings(&[
                    "--connect",
                    &found.uri,
                    "--domain",
                    name,
                    "--hostname",
                    name,
                    "--ssh-inject",
                    &format!("{user}:file:{key}"),
                    "--firstboot-command",
                    "ssh-keygen -A; systemctl try-restart ssh 2>/dev/null; systemctl try-restart sshd 2>/dev/null; true",
                ]),
            },
            CloneStep {
                description: format!("start {name}"),
                program: "virsh".into(),
                args: strings(&["-c", &found.uri, "start", name]),
            },
        ];
        vms.push(CloneVm {
            host: name.to_owned(),
            mac,
            steps,
        });
    }
    Ok(ClonePlan {
        template: template.to_owned(),
        vms,
    })
}

/// A locally administered MAC in QEMU's `52:54:00` range, from the cluster and host
/// name (FNV-1a), stepping past any MAC already in use.
pub fn choose_mac(cluster: &str, host: &str, taken: &BTreeSet<String>) -> String {
    let mut hash = 2166136261u32;
    for b in cluster.bytes().chain([b'/']).chain(host.bytes()) {
        hash = (hash ^ u32::from(b)).wrapping_mul(16777619);
    }
    loop {
        let [_, a, b, c] = hash.to_be_bytes();
        let mac = format!("52:54:00:{a:02x}:{b:02x}:{c:02x}");
        if !taken.contains(&mac) {
            return mac;
        }
        hash = hash.wrapping_add(1);
    }
}

/// Polls `import` until every VM in `names` has an address on `network`, or `timeout`
/// passes; on timeout the error names the VMs still without one and why.
pub fn wait_for_addresses(
    connect_uri: &str,
    network: &str,
    names: &[String],
    timeout: Duration,
    poll: Duration,
) -> Result<Vec<(String, Ipv4Addr)>, KvmError> {
    let start = Instant::now();
    loop {
        let found = import(connect_uri, network)?;
        let mut ready = Vec::new();
        let mut waiting = Vec::new();
        for name in names {
            match found.by_host_name(name) {
                Some(vm) => match vm.address {
                    Some(address) if vm.not_imported.is_none() => {
                        ready.push((name.clone(), address))
                    }
                    _ => waiting.push(format!(
                        "{name}: {}",
                        vm.not_imported
                            .as_ref()
                            .map_or("no address".to_owned(), ToString::to_string)
                    )),
                },
                None => waiting.push(format!("{name}: no such domain")),
            }
        }
        if waiting.is_empty() {
            return Ok(ready);
        }
        if start.elapsed() >= timeout {
            return Err(KvmError::Clone(format!(
                "after {}s these VMs still have no address on network {network}: {}; look at their consoles (virsh -c {connect_uri} console NAME), then run `kubewiz kvm import` again",
                timeout.as_secs(),
                waiting.join("; ")
            )));
        }
        thread::sleep(poll);
    }
}
