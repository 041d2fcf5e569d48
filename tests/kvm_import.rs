//! `kubewiz::kvm::import` and `kubewiz kvm import` against libvirt's test driver
//! (`test:///FILE`, in-process: no daemon, no hypervisor) with the node description
//! tests/fixtures/libvirt/node.xml.
//!
//! The test driver has no DHCP leases (`net-dhcp-leases` is "not supported") and
//! answers `domifaddr` the same for every `--source`: an address it makes up from the
//! domain's id and its network's DHCP range (.3 for id 1, .23 for id 2, ...), and
//! 192.168.0.1 for an interface of type bridge. So these tests check the addresses it
//! gives, the subnet check that refuses 192.168.0.1, and every reason a VM is left out;
//! the agent and ARP fallbacks cannot be told apart from the lease here.

use std::path::PathBuf;
use std::process::Command;

use kubewiz::kvm::{self, AddressSource, KvmError, NotImported};
use kubewiz::spec::HostSpec;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/libvirt/node.xml")
}

fn uri() -> String {
    format!("test://{}", fixture().display())
}

fn kubewiz(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .args(args)
        .output()
        .expect("run kubewiz")
}

#[test]
fn lists_every_vm_with_address_or_reason() {
    let found = kvm::import(&uri(), "default").expect("import from the test driver");
    assert_eq!(found.network, "default");
    let vm = |domain: &str| {
        found
            .hosts
            .iter()
            .find(|vm| vm.domain == domain)
            .unwrap_or_else(|| panic!("{domain} missing from {:#?}", found.hosts))
    };
    assert_eq!(found.hosts.len(), 6);

    let km1 = vm("kubemaster-1");
    assert_eq!(km1.state, "running");
    assert_eq!(km1.mac.as_deref(), Some("52:54:00:00:00:11"));
    assert_eq!(km1.address, Some("192.168.122.3".parse().unwrap()));
    assert_eq!(km1.source, Some(AddressSource::Lease));
    assert_eq!(km1.not_imported, None);

    // The domain name made a DNS label.
    let node = vm("KubeNode_1");
    assert_eq!(node.name.as_ref().map(|n| n.as_str()), Some("kubenode-1"));
    assert_eq!(node.address, Some("192.168.122.23".parse().unwrap()));

    // Shut off: the MAC is known (a reservation can still be made), no address.
    let km2 = vm("kubemaster-2");
    assert_eq!(km2.state, "shut off");
    assert_eq!(km2.mac.as_deref(), Some("52:54:00:00:00:12"));
    assert_eq!(km2.address, None);
    assert_eq!(
        km2.not_imported,
        Some(NotImported::NotRunning("shut off".into()))
    );

    let nfs = vm("nfs-1");
    assert_eq!(
        nfs.not_imported,
        Some(NotImported::NotOnNetwork(vec!["network storage".into()]))
    );
    assert_eq!(nfs.mac, None);

    // On the network's bridge, but the only address offered is outside its subnet.
    let lb = vm("haproxy-1");
    assert_eq!(lb.mac.as_deref(), Some("52:54:00:00:00:31"));
    assert_eq!(
        lb.not_imported,
        Some(NotImported::NoAddress {
            mac: "52:54:00:00:00:31".into()
        })
    );

    let hosts: Vec<(String, String)> = found
        .host_specs()
        .iter()
        .map(|h| (h.name.to_string(), h.address.to_string()))
        .collect();
    assert_eq!(
        hosts,
        [
            ("kubemaster-1".to_string(), "192.168.122.3".to_string()),
            ("kubenode-1".to_string(), "192.168.122.23".to_string()),
        ]
    );
    assert!(found.host_specs().iter().all(|h| h.roles.is_empty()));
}

#[test]
fn another_network_gives_its_own_vms() {
    let found = kvm::import(&uri(), "storage").unwrap();
    let hosts = found.host_specs();
    assert_eq!(hosts.len(), 1);
    assert_eq!(hosts[0].name.as_str(), "nfs-1");
    assert_eq!(hosts[0].address.to_string(), "10.0.5.43");
    let km1 = found.by_host_name("kubemaster-1").unwrap();
    assert_eq!(
        km1.not_imported,
        Some(NotImported::NotOnNetwork(vec!["network default".into()]))
    );
}

#[test]
fn unknown_network_names_the_known_ones() {
    let err = kvm::import(&uri(), "nosuch").unwrap_err();
    assert!(matches!(err, KvmError::NetworkNotFound { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("\"nosuch\" does not exist"), "{message}");
    assert!(message.contains("default, storage"), "{message}");
}

#[test]
fn a_missing_driver_file_is_a_virsh_error_with_the_command() {
    let err = kvm::import("test:///nonexistent/node.xml", "default").unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, KvmError::Virsh { .. }), "{err:?}");
    assert!(
        message.contains("virsh -c test:///nonexistent/node.xml"),
        "{message}"
    );
}

/// The fragment `kvm import` prints is valid TOML whose hosts load as `HostSpec`s.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct Fragment {
    hosts: Vec<HostSpec>,
}

#[test]
fn command_prints_hosts_and_reasons() {
    let out = kubewiz(&["kvm", "import", "--network", "default", "--connect", &uri()]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let fragment: Fragment = toml::from_str(&stdout).expect("the fragment is TOML");
    let names: Vec<&str> = fragment.hosts.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["kubemaster-1", "kubenode-1"]);
    assert!(stdout.contains("roles = []"), "{stdout}");
    assert!(
        stdout.contains("# - kubemaster-2: shut off; start it"),
        "{stdout}"
    );
    assert!(
        stdout.contains("# - nfs-1: not on this network"),
        "{stdout}"
    );
    assert!(
        stderr.contains("haproxy-1 not imported: running, but no DHCP lease"),
        "{stderr}"
    );
    assert!(stderr.contains("2 host(s) imported"), "{stderr}");
}

#[test]
fn command_writes_the_fragment_to_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hosts.toml");
    let out = kubewiz(&[
        "kvm",
        "import",
        "--connect",
        &uri(),
        "--out",
        file.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let fragment: Fragment = toml::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert_eq!(fragment.hosts.len(), 2);
}

#[test]
fn command_without_virsh_says_what_to_install() {
    let out = Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .args(["kvm", "import", "--connect", &uri()])
        .env("PATH", "/nonexistent")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("virsh is not installed: apt-get install libvirt-clients"),
        "{stderr}"
    );
}

#[test]
fn command_connects_where_virsh_would() {
    // No --connect: $LIBVIRT_DEFAULT_URI, as virsh itself takes it.
    let out = Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .args(["kvm", "import"])
        .env("LIBVIRT_DEFAULT_URI", uri())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("2 host(s) imported"), "{stderr}");

    // --connect wins over the environment.
    let out = Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .args(["kvm", "import", "--connect", &uri()])
        .env("LIBVIRT_DEFAULT_URI", "test:///nonexistent/node.xml")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");

    // And the environment's URI is the one tried, named in the error.
    let out = Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .args(["kvm", "import"])
        .env("LIBVIRT_DEFAULT_URI", "test:///nonexistent/node.xml")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("test:///nonexistent/node.xml"), "{stderr}");
}
