//! The libvirt network phase (`kubewiz::kvm::network`, `kubewiz kvm dns`) against
//! libvirt's test driver with tests/fixtures/libvirt/node.xml and presets/kvm-lab.toml.
//!
//! The test driver supports `net-update ... ip-dhcp-host|dns-host` with
//! `add-last`/`modify`/`delete` and `--live --config` through libvirt's own network
//! code, so libvirt itself accepts or refuses every command kubewiz generates here. It
//! keeps no state between processes (each `virsh -c test:///FILE` starts from FILE),
//! which is why `kvm::apply` runs the commands and the read-back in one virsh process;
//! and a test that needs the network as an earlier run left it writes a new node file
//! holding the `net-dumpxml` read-back of that run (`Applied::after_xml`).

use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use kubewiz::kvm::network::desired_dns;
use kubewiz::kvm::{self, Applied, DhcpHost, DnsHost, NetworkPlan, NetworkState, Virsh};
use kubewiz::spec::ClusterSpec;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn fixture() -> PathBuf {
    root().join("tests/fixtures/libvirt/node.xml")
}

fn uri_of(node: &Path) -> String {
    format!("test://{}", node.display())
}

fn kvm_lab() -> ClusterSpec {
    kubewiz::spec::load_file(&root().join("presets/kvm-lab.toml"))
        .expect("kvm-lab.toml loads")
        .spec
}

/// A node file like the fixture whose `default` network is `network_xml`.
fn node_with_default_network(dir: &Path, network_xml: &str) -> PathBuf {
    let text = std::fs::read_to_string(fixture()).unwrap();
    let start = text.find("<network>").unwrap();
    let end = text.find("</network>").unwrap() + "</network>".len();
    assert!(text[start..end].contains("<name>default</name>"));
    let node = dir.join("node.xml");
    std::fs::write(
        &node,
        format!("{}{network_xml}{}", &text[..start], &text[end..]),
    )
    .unwrap();
    node
}

/// Import, read the network and plan, as `kubewiz kvm dns` does.
fn plan_on(uri: &str, spec: &ClusterSpec) -> (NetworkState, Vec<kvm::ImportedVm>, NetworkPlan) {
    let found = kvm::import(uri, "default").unwrap();
    let network = kvm::read_network(&Virsh::new(uri), "default").unwrap();
    let plan = kvm::plan(spec, &network, &found.hosts).unwrap();
    (network, found.hosts, plan)
}

fn run(uri: &str, spec: &ClusterSpec) -> (NetworkPlan, Applied) {
    let (network, vms, plan) = plan_on(uri, spec);
    let applied = kvm::apply(&Virsh::new(uri), spec, &network, &vms, &plan)
        .unwrap_or_else(|e| panic!("apply failed: {e}"));
    (plan, applied)
}

fn dhcp(mac: &str, name: &str, ip: &str) -> (String, String, IpAddr) {
    (mac.into(), name.into(), ip.parse().unwrap())
}

fn dhcp_hosts(state: &NetworkState) -> Vec<(String, String, IpAddr)> {
    state.ips[0]
        .hosts
        .iter()
        .map(|h: &DhcpHost| {
            (
                h.mac().unwrap_or_default(),
                h.name().unwrap_or_default().to_owned(),
                h.ip().unwrap(),
            )
        })
        .collect()
}

fn sorted(mut hosts: Vec<DnsHost>) -> Vec<DnsHost> {
    for h in &mut hosts {
        h.names.sort();
    }
    hosts.sort_by_key(|h| h.ip);
    hosts
}

fn first_run() -> (NetworkPlan, Applied) {
    run(&uri_of(&fixture()), &kvm_lab())
}

#[test]
fn first_run_adds_exactly_the_expected_entries() {
    let spec = kvm_lab();
    let (plan, applied) = first_run();
    // 4 VMs of the preset are in libvirt with a MAC on the network (kubemaster-2 is
    // shut off, haproxy-1 is on the bridge without an address: both still get one).
    assert_eq!(
        dhcp_hosts(&applied.after),
        [
            dhcp("52:54:00:00:00:11", "kubemaster-1", "192.168.122.11"),
            dhcp("52:54:00:00:00:12", "kubemaster-2", "192.168.122.12"),
            dhcp("52:54:00:00:00:21", "kubenode-1", "192.168.122.21"),
            dhcp("52:54:00:00:00:31", "haproxy-1", "192.168.122.31"),
        ]
    );
    // DNS: every host with its short and qualified name, and the endpoint on the VIP:
    // exactly the rendered libvirt-dns.xml.
    let dns = sorted(applied.after.dns_hosts.clone());
    assert_eq!(dns, sorted(desired_dns(&spec).unwrap()));
    assert_eq!(dns.len(), 14);
    assert!(dns.contains(&DnsHost {
        ip: "192.168.122.10".parse().unwrap(),
        names: vec!["kubeapi.test.example".into()],
    }));
    assert!(dns.contains(&DnsHost {
        ip: "192.168.122.41".parse().unwrap(),
        names: vec!["etcd-1".into(), "etcd-1.test.example".into()],
    }));
    assert_eq!(plan.changes.len(), 4 + 14);
    assert!(applied.virsh_said.is_empty(), "{}", applied.virsh_said);
    // The 9 hosts without a VM get DNS but no reservation, each saying why.
    assert_eq!(plan.skipped.len(), 9, "{:#?}", plan.skipped);
    assert!(plan.skipped.iter().any(|s| s.starts_with(
        "etcd-1: no reservation, no libvirt domain is named etcd-1 so its MAC is unknown"
    )));
    // The running VMs' current addresses differ from the preset's.
    assert!(
        plan.notes
            .iter()
            .any(|n| n.contains("kubemaster-1 now has 192.168.122.3; it gets 192.168.122.11"))
    );
    // Addresses libvirt may hand to someone else are pointed out.
    assert!(plan.notes.iter().any(|n| {
        n.starts_with("192.168.122.23, kubenode-3's address, is now used by VM KubeNode_1")
    }));
    assert!(plan.notes.iter().any(|n| {
        n.starts_with("inside the DHCP range 192.168.122.2–192.168.122.254 of network default")
            && n.contains("them to other VMs: the VIP 192.168.122.10, kubemaster-3 192.168.122.13,")
            && !n.contains("kubemaster-1")
    }));
    // Every command is a live and persistent net-update, with XML libvirt took.
    for change in &plan.changes {
        assert_eq!(change.args[0], "net-update");
        assert!(change.args.ends_with(&["--live".into(), "--config".into()]));
    }
    let commands = plan.commands("test:///x");
    assert!(commands.iter().any(|(d, c)| d
        == "reserve 192.168.122.11 for kubemaster-1 (52:54:00:00:00:11)"
        && c == "virsh -c test:///x net-update default add-last ip-dhcp-host \
                 '<host mac=\"52:54:00:00:00:11\" name=\"kubemaster-1\" ip=\"192.168.122.11\"/>' \
                 --live --config"));
}

#[test]
fn second_run_changes_nothing() {
    let spec = kvm_lab();
    let (_, applied) = first_run();
    // Planned on the read-back of the same process ...
    let again = kvm::plan(
        &spec,
        &applied.after,
        &kvm::import(&uri_of(&fixture()), "default").unwrap().hosts,
    )
    .unwrap();
    assert!(again.is_empty(), "{:#?}", again.changes);
    assert_eq!(again.in_place.len(), 18);
    // ... and through a new virsh on a node file holding that network.
    let dir = tempfile::tempdir().unwrap();
    let node = node_with_default_network(dir.path(), &applied.after_xml);
    let (plan, applied) = run(&uri_of(&node), &spec);
    assert!(plan.is_empty(), "{:#?}", plan.changes);
    assert!(applied.after_xml.is_empty(), "nothing may run");
    // The command says so and exits 0, without asking.
    let out = kubewiz(&[
        "kvm",
        "dns",
        "--preset",
        preset(),
        "--connect",
        &uri_of(&node),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("network default already has every entry; nothing to change"),
        "{stderr}"
    );
}

#[test]
fn a_changed_address_is_updated_not_duplicated() {
    let (_, applied) = first_run();
    let dir = tempfile::tempdir().unwrap();
    let node = node_with_default_network(dir.path(), &applied.after_xml);
    let mut spec = kvm_lab();
    spec.hosts[0].address = "192.168.122.14".parse().unwrap();
    let (plan, applied) = run(&uri_of(&node), &spec);
    let verbs: Vec<(&str, &str)> = plan
        .changes
        .iter()
        .map(|c| (c.args[2].as_str(), c.args[3].as_str()))
        .collect();
    // The reservation is modified in place (same MAC); the DNS record, which libvirt
    // cannot modify, is deleted and added again.
    assert_eq!(
        verbs,
        [
            ("delete", "dns-host"),
            ("modify", "ip-dhcp-host"),
            ("add-last", "dns-host"),
        ]
    );
    let reservations = dhcp_hosts(&applied.after);
    assert_eq!(reservations.len(), 4);
    assert_eq!(
        reservations[0],
        dhcp("52:54:00:00:00:11", "kubemaster-1", "192.168.122.14")
    );
    let dns = &applied.after.dns_hosts;
    assert_eq!(dns.len(), 14);
    let km1: Vec<_> = dns
        .iter()
        .filter(|h| h.names.iter().any(|n| n == "kubemaster-1"))
        .collect();
    assert_eq!(km1.len(), 1, "{dns:#?}");
    assert_eq!(km1[0].ip.to_string(), "192.168.122.14");
    assert!(!dns.iter().any(|h| h.ip.to_string() == "192.168.122.11"));
}

#[test]
fn conflicting_entries_are_replaced_and_others_kept() {
    // A network someone edited by hand: a stale reservation of kubenode-1's name for
    // another MAC, a DNS record giving kubeapi an old address, and entries of VMs that
    // are not the cluster's.
    let network = r#"<network>
  <name>default</name>
  <uuid>dd8fe884-6c02-601e-7551-cca97df1c5df</uuid>
  <forward mode='nat'/>
  <bridge name='virbr0' stp='on' delay='0'/>
  <dns>
    <host ip='192.168.122.99'><hostname>kubeapi.test.example</hostname></host>
    <host ip='192.168.122.200'><hostname>printer</hostname></host>
  </dns>
  <ip address='192.168.122.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
      <host mac='52:54:00:99:99:99' name='kubenode-1' ip='192.168.122.50'/>
      <host mac='52:54:00:77:77:77' name='printer' ip='192.168.122.200'/>
    </dhcp>
  </ip>
</network>"#;
    let dir = tempfile::tempdir().unwrap();
    let node = node_with_default_network(dir.path(), network);
    let spec = kvm_lab();
    let (plan, applied) = run(&uri_of(&node), &spec);
    let deletes: Vec<&str> = plan
        .changes
        .iter()
        .filter(|c| c.args[2] == "delete")
        .map(|c| c.args[4].as_str())
        .collect();
    assert_eq!(
        deletes,
        [
            r#"<host mac="52:54:00:99:99:99" name="kubenode-1" ip="192.168.122.50"/>"#,
            r#"<host ip="192.168.122.99"><hostname>kubeapi.test.example</hostname></host>"#,
        ]
    );
    let reservations = dhcp_hosts(&applied.after);
    assert!(reservations.contains(&dhcp("52:54:00:77:77:77", "printer", "192.168.122.200")));
    assert!(reservations.contains(&dhcp("52:54:00:00:00:21", "kubenode-1", "192.168.122.21")));
    assert_eq!(reservations.len(), 5);
    let dns = &applied.after.dns_hosts;
    assert_eq!(dns.len(), 15);
    assert!(dns.iter().any(|h| h.names == ["printer"]));
    let kubeapi: Vec<_> = dns
        .iter()
        .filter(|h| h.names.iter().any(|n| n == "kubeapi.test.example"))
        .collect();
    assert_eq!(kubeapi.len(), 1);
    assert_eq!(kubeapi[0].ip.to_string(), "192.168.122.10");
}

#[test]
fn an_inactive_or_transient_network_gets_only_the_flags_it_takes() {
    let spec = kvm_lab();
    let vms = kvm::import(&uri_of(&fixture()), "default").unwrap().hosts;
    let xml = std::fs::read_to_string(fixture()).unwrap();
    let start = xml.find("<network>").unwrap();
    let end = xml.find("</network>").unwrap() + "</network>".len();
    let mut network = NetworkState::from_xml(&xml[start..end]).unwrap();
    network.active = false;
    let plan = kvm::plan(&spec, &network, &vms).unwrap();
    assert!(
        plan.changes
            .iter()
            .all(|c| c.args.ends_with(&["--config".into()]) && !c.args.contains(&"--live".into()))
    );
    network.active = true;
    network.persistent = false;
    let plan = kvm::plan(&spec, &network, &vms).unwrap();
    assert!(
        plan.changes
            .iter()
            .all(|c| c.args.ends_with(&["--live".into()]) && !c.args.contains(&"--config".into()))
    );
}

fn preset() -> &'static str {
    concat!(env!("CARGO_MANIFEST_DIR"), "/presets/kvm-lab.toml")
}

fn kubewiz(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run kubewiz")
}

#[test]
fn command_dry_run_prints_the_commands() {
    let uri = uri_of(&fixture());
    let out = kubewiz(&[
        "kvm",
        "dns",
        "--preset",
        preset(),
        "--connect",
        &uri,
        "--dry-run",
    ]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with(&format!("libvirt network default on {uri}:")),
        "{stdout}"
    );
    assert!(
        stdout.contains("  add DNS kubeapi.test.example → 192.168.122.10\n    virsh -c "),
        "{stdout}"
    );
    assert!(
        stdout.contains("  skipped: kubenode-5: no reservation"),
        "{stdout}"
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("dry run; network default was not changed")
    );
}

#[test]
fn command_refuses_without_a_terminal_unless_yes() {
    let uri = uri_of(&fixture());
    let out = kubewiz(&["kvm", "dns", "--preset", preset(), "--connect", &uri]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains(
        "not changing network default without confirmation: run on a terminal, or pass --yes"
    ));
    let out = kubewiz(&[
        "kvm",
        "dns",
        "--preset",
        preset(),
        "--connect",
        &uri,
        "--yes",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("network default updated (18 change(s)), live and persistent"),
        "{stderr}"
    );
}
