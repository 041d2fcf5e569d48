//! `kubewiz::kvm::clone` against libvirt's test driver. The test driver has no disks,
//! so virt-clone and virt-sysprep cannot run against it: these tests check the
//! commands generated for the preset's missing VMs, the template checks, and the
//! waiting for addresses (which reads the test driver through the import).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use kubewiz::kvm::clone::{plan_clones, wait_for_addresses};
use kubewiz::kvm::{self, KvmError};
use kubewiz::spec::ClusterSpec;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn uri() -> String {
    format!(
        "test://{}",
        root().join("tests/fixtures/libvirt/node.xml").display()
    )
}

fn kvm_lab() -> ClusterSpec {
    kubewiz::spec::load_file(&root().join("presets/kvm-lab.toml"))
        .unwrap()
        .spec
}

#[test]
fn clones_every_host_without_a_vm() {
    let found = kvm::import(&uri(), "default").unwrap();
    let key = Path::new("/home/op/.ssh/id_ed25519.pub");
    let plan = plan_clones(&kvm_lab(), &found, "debian-template", key).unwrap();
    let hosts: Vec<&str> = plan.vms.iter().map(|vm| vm.host.as_str()).collect();
    assert_eq!(
        hosts,
        [
            "kubemaster-3",
            "kubenode-2",
            "kubenode-3",
            "kubenode-4",
            "kubenode-5",
            "haproxy-2",
            "etcd-1",
            "etcd-2",
            "etcd-3"
        ]
    );
    // MACs: distinct, none already in libvirt, the same on every run.
    let existing: BTreeSet<String> = found
        .hosts
        .iter()
        .flat_map(|vm| vm.interfaces.iter().map(|i| i.mac.clone()))
        .collect();
    let macs: BTreeSet<&str> = plan.vms.iter().map(|vm| vm.mac.as_str()).collect();
    assert_eq!(macs.len(), 9);
    assert!(
        macs.iter()
            .all(|m| m.starts_with("52:54:00:") && !existing.contains(*m))
    );
    let again = plan_clones(&kvm_lab(), &found, "debian-template", key).unwrap();
    assert_eq!(plan, again);

    let etcd1 = &plan.vms[6];
    let lines: Vec<String> = etcd1.steps.iter().map(|s| s.command_line()).collect();
    let u = uri();
    assert_eq!(
        lines,
        [
            format!(
                "virt-clone --connect {u} --original debian-template --name etcd-1 --mac {} --auto-clone",
                etcd1.mac
            ),
            format!(
                "virt-sysprep --connect {u} --domain etcd-1 --hostname etcd-1 --ssh-inject root:file:/home/op/.ssh/id_ed25519.pub --firstboot-command 'ssh-keygen -A; systemctl try-restart ssh 2>/dev/null; systemctl try-restart sshd 2>/dev/null; true'"
            ),
            format!("virsh -c {u} start etcd-1"),
        ]
    );
}

#[test]
fn the_template_must_exist_and_be_shut_off() {
    let found = kvm::import(&uri(), "default").unwrap();
    let key = Path::new("/k.pub");
    let err = plan_clones(&kvm_lab(), &found, "kubemaster-1", key).unwrap_err();
    assert!(
        err.to_string()
            .contains("template domain kubemaster-1 is running; shut it down first"),
        "{err}"
    );
    let err = plan_clones(&kvm_lab(), &found, "nosuch", key).unwrap_err();
    assert!(
        err.to_string()
            .contains("template domain nosuch does not exist"),
        "{err}"
    );
}

#[test]
fn waiting_returns_addresses_or_says_who_has_none() {
    let ready = wait_for_addresses(
        &uri(),
        "default",
        &["kubemaster-1".into()],
        Duration::ZERO,
        Duration::ZERO,
    )
    .unwrap();
    assert_eq!(
        ready,
        [("kubemaster-1".to_string(), "192.168.122.3".parse().unwrap())]
    );
    let err = wait_for_addresses(
        &uri(),
        "default",
        &[
            "kubemaster-1".into(),
            "kubemaster-2".into(),
            "etcd-9".into(),
        ],
        Duration::from_millis(300),
        Duration::from_millis(100),
    )
    .unwrap_err();
    assert!(matches!(err, KvmError::Clone(_)));
    let message = err.to_string();
    assert!(
        message.contains("still have no address on network default: kubemaster-2: shut off; start it and import again once it has an address; etcd-9: no such domain"),
        "{message}"
    );
}

#[test]
fn command_dry_run_prints_the_commands() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("id.pub");
    std::fs::write(&key, "ssh-ed25519 AAAA op@kvm\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .args(["kvm", "clone", "--preset"])
        .arg(root().join("presets/kvm-lab.toml"))
        .args([
            "--template",
            "debian-template",
            "--connect",
            &uri(),
            "--dry-run",
            "--ssh-key",
        ])
        .arg(&key)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.starts_with("clones of debian-template:\n"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("    virt-clone ").count(), 9, "{stdout}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("dry run; no VM was created"));
}
