//! `kubewiz kvm import|dns|clone` against real libvirt: VMs of the VM lab (tests/vm/) on
//! an isolated libvirt network of their own, with real DHCP leases and libvirt's dnsmasq
//! answering DNS inside the VMs. One lab at a time (the harness serialises them).

#[path = "vm/mod.rs"]
mod vm;

#[path = "tmux/mod.rs"]
mod tmux;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use kubewiz::spec::HostSpec;
use vm::{Reservations, VmLab, VmSpec, virsh_ok};

fn kubewiz(args: &[&str], env: &[(String, String)]) -> (Output, Duration) {
    let started = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run kubewiz");
    (out, started.elapsed())
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Fragment {
    hosts: Vec<HostSpec>,
}

/// A single-master preset for `hosts` (name, address; the first is the control plane)
/// on the lab's network, with the endpoint `kubeapi.vmlab.test`.
fn preset(lab: &VmLab, name: &str, hosts: &[(String, Ipv4Addr)]) -> String {
    let mut text = format!(
        "name = \"{name}\"\ntopology = \"single-master\"\n\n[kubernetes]\nversion = \"1.34.2\"\ncni = \"none\"\n\n\
         [network]\nhosts_cidr = \"{}.0/24\"\n\n\
         [control_plane]\nendpoint = \"kubeapi.{}\"\n\n\
         [ssh]\nuser = \"root\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n\n\
         [kvm]\nlibvirt_network = \"{}\"\ndns_domain = \"{}\"\n",
        lab.subnet(),
        vm::DOMAIN,
        lab.key().display(),
        lab.known_hosts().display(),
        lab.network,
        vm::DOMAIN
    );
    for (i, (host, address)) in hosts.iter().enumerate() {
        let role = if i == 0 { "control-plane" } else { "worker" };
        text += &format!(
            "\n[[hosts]]\nname = \"{host}\"\naddress = \"{address}\"\nroles = [\"{role}\"]\n"
        );
    }
    text
}

/// `getent ahostsv4 NAME` inside VM `i`: the first address it resolves to.
fn resolve_in(lab: &VmLab, i: usize, name: &str) -> Option<Ipv4Addr> {
    let out = lab.ssh_at(lab.vms[i].address, &format!("getent ahostsv4 {name}"));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .and_then(|a| a.parse().ok())
}

/// The wizard's import in a real terminal (tmux, 80×24): a preset naming the lab's VMs
/// at addresses they do not have opens on Review; back on Hosts, `i` reads the network
/// from libvirt and every row takes its VM's leased address.
fn wizard_import(lab: &VmLab) {
    let stale: Vec<(String, Ipv4Addr)> = lab
        .vms
        .iter()
        .enumerate()
        .map(|(i, v)| (v.domain.clone(), lab.free_address(50 + i as u8)))
        .collect();
    let preset_path = lab.dir().join("stale.toml");
    fs::write(&preset_path, preset(lab, "vmwizard", &stale)).unwrap();
    let state = lab.dir().join("wizard-state");
    let tmux = tmux::Tmux::start("vm-import");
    tmux.keys(&[
        &format!(
            "LIBVIRT_DEFAULT_URI={} {} --state-dir {} --preset {}; echo EXIT=$?",
            vm::URI,
            env!("CARGO_BIN_EXE_kubewiz"),
            state.display(),
            preset_path.display()
        ),
        "Enter",
    ]);
    tmux.wait_for("6/9 Review", Duration::from_secs(20));
    tmux.keys(&["Escape", "Escape", "Escape"]);
    let hosts = tmux.wait_for("3/9 Hosts", Duration::from_secs(5));
    assert!(hosts.contains("i import"), "{hosts}");
    let started = Instant::now();
    tmux.keys(&["i"]);
    let report = tmux.wait_for("Imported from libvirt", Duration::from_secs(60));
    eprintln!(
        "the wizard's import took {:.1?}:\n{report}",
        started.elapsed()
    );
    let count = format!(
        "2 VM(s) in libvirt, 2 with an address on network {}.",
        lab.network
    );
    assert!(report.contains(&count), "{count} missing:\n{report}");
    for ((domain, was), vm) in stale.iter().zip(&lab.vms) {
        let line = format!("{domain}: address {} (was {was})", vm.address);
        assert!(report.contains(&line), "{line} missing:\n{report}");
    }
    assert!(!report.contains("Not imported:"), "{report}");
    // Closed, the table holds the leased addresses, valid.
    tmux.keys(&["Escape"]);
    let table = tmux.wait_for("3/9 Hosts", Duration::from_secs(5));
    for vm in &lab.vms {
        assert!(
            table
                .lines()
                .any(|l| l.contains(&vm.domain) && l.contains(&vm.address.to_string())),
            "{} at {} missing:\n{table}",
            vm.domain,
            vm.address
        );
    }
    assert!(!table.contains('✗'), "{table}");
    tmux.keys(&["C-c", "C-c"]);
    let (code, after) = tmux.wait_for_exit(Duration::from_secs(10));
    assert_eq!(code, 0, "{after}");
}

/// The network's DHCP reservations as (mac, name, ip), from `virsh net-dumpxml`
/// (libvirt prints each as `<host mac='..' name='..' ip='..'/>` on a line of its own).
fn reservations(network: &str) -> BTreeSet<(String, String, String)> {
    let xml = virsh_ok(&["net-dumpxml", network]);
    let attr = |line: &str, key: &str| -> String {
        line.split_once(&format!("{key}='"))
            .and_then(|(_, rest)| rest.split_once('\''))
            .map(|(value, _)| value.to_owned())
            .unwrap_or_default()
    };
    xml.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("<host ") && l.contains("mac='"))
        .map(|l| (attr(l, "mac"), attr(l, "name"), attr(l, "ip")))
        .collect()
}

/// The guest image, built offline from Debian packages the first time and cached after:
/// a qcow2 base the real qemu-img reads, the ELF kernel the VMs boot directly, its initrd
/// and modules, and the lab's key. `scripts/test.sh` runs this test first, beside the
/// other test programs, so that a fresh machine builds the image while they run.
#[test]
fn the_guest_image_is_built_and_cached() {
    let image = vm::image();
    let out = Command::new("qemu-img")
        .args(["info", "--output=json"])
        .arg(image.base())
        .output()
        .expect("run qemu-img");
    assert!(out.status.success(), "qemu-img info: {}", text(&out));
    let info: serde_json::Value = serde_json::from_slice(&out.stdout).expect("qemu-img's JSON");
    assert_eq!(info["format"], "qcow2", "{info}");
    assert!(
        info["virtual-size"].as_u64().is_some_and(|s| s >= 1 << 30),
        "a root file system of at least 1 GiB: {info}"
    );
    let mut magic = [0u8; 4];
    fs::File::open(image.dir.join("vmlinux"))
        .and_then(|mut f| f.read_exact(&mut magic))
        .expect("the ELF kernel");
    assert_eq!(&magic, b"\x7fELF", "vmlinux is not an ELF file");
    let kv = image.kernel_version();
    assert!(
        image
            .dir
            .join("modules")
            .join(&kv)
            .join("modules.dep")
            .is_file(),
        "the modules of kernel {kv:?}"
    );
    assert!(fs::metadata(image.dir.join("initrd.img")).is_ok_and(|m| m.len() > 0));
    let key = fs::read_to_string(image.key().with_extension("pub")).expect("the lab's key");
    assert!(key.starts_with("ssh-ed25519 "), "{key}");
    assert_eq!(
        vm::image().dir,
        image.dir,
        "a second call uses the cached image"
    );
}

/// The operator's path on a KVM host: VMs made by hand get addresses from the range;
/// `kvm import` finds them with their real leases, the preset made from that is given
/// to `kvm dns`, which pins the addresses with reservations and serves every name to
/// the VMs; a second run has nothing left to do.
#[test]
fn import_then_dns_on_a_real_network() {
    let started = Instant::now();
    let lab = VmLab::start(
        &[VmSpec::new("cp1", 1, 1024), VmSpec::new("node1", 1, 1024)],
        Reservations::No,
    );
    let uri = vm::URI;

    // import: every VM with the address of its lease.
    let (out, took) = kubewiz(
        &["kvm", "import", "--network", &lab.network, "--connect", uri],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let fragment: Fragment =
        toml::from_str(&String::from_utf8_lossy(&out.stdout)).expect("the fragment is TOML");
    let imported: Vec<(String, String)> = fragment
        .hosts
        .iter()
        .map(|h| (h.name.to_string(), h.address.to_string()))
        .collect();
    let expected: Vec<(String, String)> = lab
        .vms
        .iter()
        .map(|v| (v.domain.clone(), v.address.to_string()))
        .collect();
    assert_eq!(imported, expected, "{}", text(&out));
    for vm in &lab.vms {
        let lease = lab.lease(&vm.mac).expect("a lease");
        assert_eq!(lease, vm.address);
        let octets = lease.octets();
        assert!((100..200).contains(&octets[3]), "{lease} is from the range");
    }
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("2 host(s) imported from network {}", lab.network)),
        "{}",
        text(&out)
    );
    eprintln!("kvm import took {took:.1?}");
    wizard_import(&lab);

    // dns: the preset made from the import.
    let hosts: Vec<(String, Ipv4Addr)> = lab
        .vms
        .iter()
        .map(|v| (v.domain.clone(), v.address))
        .collect();
    let preset_path = lab.dir().join("import.toml");
    fs::write(&preset_path, preset(&lab, "vmdns", &hosts)).unwrap();
    let preset_arg = preset_path.display().to_string();
    let before = reservations(&lab.network);
    assert!(before.is_empty(), "{before:?}");
    let (out, took) = kubewiz(
        &[
            "kvm",
            "dns",
            "--preset",
            &preset_arg,
            "--connect",
            uri,
            "--yes",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("network {} updated", lab.network))
            && stderr.contains("live and persistent"),
        "{}",
        text(&out)
    );
    eprintln!("kvm dns took {took:.1?}");
    let pinned = reservations(&lab.network);
    let wanted: BTreeSet<(String, String, String)> = lab
        .vms
        .iter()
        .map(|v| (v.mac.clone(), v.domain.clone(), v.address.to_string()))
        .collect();
    assert_eq!(pinned, wanted);
    // Persistent as well as live: the inactive definition has them too.
    let inactive = virsh_ok(&["net-dumpxml", &lab.network, "--inactive"]);
    for vm in &lab.vms {
        assert!(
            inactive.contains(&vm.mac) && inactive.contains(&vm.domain),
            "{inactive}"
        );
    }

    // Inside every VM, every host name (short and with the domain) and the endpoint
    // resolve to the preset's address, at once.
    let endpoint = format!("kubeapi.{}", vm::DOMAIN);
    for i in 0..lab.vms.len() {
        for (host, address) in &hosts {
            for name in [host.clone(), format!("{host}.{}", vm::DOMAIN)] {
                assert_eq!(
                    resolve_in(&lab, i, &name),
                    Some(*address),
                    "{name} inside {}",
                    lab.vms[i].domain
                );
            }
        }
        assert_eq!(
            resolve_in(&lab, i, &endpoint),
            Some(hosts[0].1),
            "{endpoint} inside {}",
            lab.vms[i].domain
        );
    }

    // A second run: nothing to change, the network's definition untouched.
    let xml_before = virsh_ok(&["net-dumpxml", &lab.network]);
    let (out, _) = kubewiz(
        &[
            "kvm",
            "dns",
            "--preset",
            &preset_arg,
            "--connect",
            uri,
            "--yes",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already has every entry; nothing to change"),
        "{}",
        text(&out)
    );
    assert_eq!(virsh_ok(&["net-dumpxml", &lab.network]), xml_before);

    // The reservation holds: a VM renewing its lease keeps the address.
    lab.sh(1, "networkctl renew ens3 2>/dev/null || networkctl renew enp1s0 2>/dev/null || networkctl reconfigure $(networkctl list --no-legend | awk '$3==\"ether\"{print $2; exit}')");
    std::thread::sleep(Duration::from_secs(3));
    assert_eq!(lab.lease(&lab.vms[1].mac), Some(lab.vms[1].address));
    eprintln!(
        "import_then_dns_on_a_real_network: {:.0?}",
        started.elapsed()
    );
}

/// The identity of a running VM: machine-id, SSH host key, hostname.
fn identity(lab: &VmLab, address: Ipv4Addr) -> (String, String, String) {
    let out = lab.sh_at(
        address,
        "cat /etc/machine-id; cut -d' ' -f2 /etc/ssh/ssh_host_ed25519_key.pub; hostname",
    );
    let lines: Vec<String> = out.lines().map(str::to_owned).collect();
    assert_eq!(lines.len(), 3, "{out}");
    (lines[0].clone(), lines[1].clone(), lines[2].clone())
}

/// `kvm clone` from a template VM that was booted once (it has a machine-id and SSH host
/// keys of its own) and then shut off: each clone starts with its own machine-id, host
/// key and host name, and answers ssh with the operator's key.
#[test]
fn clones_of_a_template_get_their_own_identity() {
    let started = Instant::now();
    let mut lab = VmLab::start(
        &[VmSpec::new("tpl", 1, 1024).without_console_log()],
        Reservations::Yes,
    );
    let template = lab.vms[0].clone();
    let template_id = identity(&lab, template.address);
    assert_eq!(template_id.2, template.domain);
    lab.shutdown(&template.domain);

    let clones = [lab.domain_name("c1"), lab.domain_name("c2")];
    let hosts: Vec<(String, Ipv4Addr)> = clones
        .iter()
        .enumerate()
        .map(|(i, c)| (c.clone(), lab.free_address(50 + i as u8)))
        .collect();
    let preset_path = lab.dir().join("clones.toml");
    fs::write(&preset_path, preset(&lab, "vmclone", &hosts)).unwrap();
    let public_key = format!("{}.pub", lab.key().display());
    let env = lab.image.guestfs_env(&lab.accel);
    let (out, took) = kubewiz(
        &[
            "kvm",
            "clone",
            "--preset",
            &preset_path.display().to_string(),
            "--template",
            &template.domain,
            "--ssh-key",
            &public_key,
            "--connect",
            vm::URI,
            "--yes",
            "--timeout",
            "600",
        ],
        &env,
    );
    eprintln!("kvm clone took {took:.1?}");
    assert!(out.status.success(), "{}", text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    // It prints "NAME ADDRESS" for each clone once it has its lease.
    let mut addresses = Vec::new();
    for clone in &clones {
        let line = stdout
            .lines()
            .find(|l| l.starts_with(&format!("{clone} ")))
            .unwrap_or_else(|| panic!("no address line for {clone}\n{}", text(&out)));
        let address: Ipv4Addr = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        addresses.push(address);
    }
    let waited = lab.wait_ssh(&clones);
    assert_eq!(waited, addresses);

    let mut ids = vec![template_id.clone()];
    for (clone, address) in clones.iter().zip(&addresses) {
        let id = identity(&lab, *address);
        assert_eq!(&id.2, clone, "hostname of {clone}");
        assert_ne!(id.0, template_id.0, "{clone} has the template's machine-id");
        assert_ne!(
            id.1, template_id.1,
            "{clone} has the template's SSH host key"
        );
        ids.push(id);
    }
    let machine_ids: BTreeSet<&String> = ids.iter().map(|i| &i.0).collect();
    let keys: BTreeSet<&String> = ids.iter().map(|i| &i.1).collect();
    assert_eq!(machine_ids.len(), 3, "{ids:?}");
    assert_eq!(keys.len(), 3, "{ids:?}");
    assert!(Path::new(&lab.known_hosts()).is_file());
    eprintln!(
        "clones_of_a_template_get_their_own_identity: {:.0?}",
        started.elapsed()
    );
}
