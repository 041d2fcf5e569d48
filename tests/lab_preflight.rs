//! Preflight over real SSH on lab hosts: cloned VMs sharing a machine-id and a port
//! already in use stop the run with the cause and the fix, before anything changes.

#[path = "lab/mod.rs"]
mod lab;

#[path = "audit_verify/mod.rs"]
mod audit_verify;

use std::fs;
use std::process::Command;

/// Every host gets this machine-id, as VMs cloned from one image do.
const CLONED_ID: &[u8] = b"0123456789abcdef0123456789abcdef\n";

#[test]
fn cloned_machine_ids_and_a_busy_port_stop_the_run_before_anything_changes() {
    let Some(lab) = lab::Lab::start_or_skip_with(3, &[("/etc/machine-id", CLONED_ID, 0o444)])
    else {
        return;
    };
    // Something already listens on the API server's port of the control plane.
    let listener = Command::new("ssh")
        .arg("-i")
        .arg(lab.key())
        .arg("-o")
        .arg(format!(
            "UserKnownHostsFile={}",
            lab.known_hosts().display()
        ))
        .args(["-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes"])
        .arg(format!("root@{}", lab.hosts[0].address))
        .arg("setsid nohup python3 -m http.server 6443 </dev/null >/dev/null 2>&1 & sleep 1")
        .status()
        .unwrap();
    assert!(listener.success());

    let first = lab.hosts[0].address.to_string();
    let subnet = format!("{}.0/24", first.rsplit_once('.').unwrap().0);
    let mut preset = format!(
        "name = \"labpre\"\ntopology = \"single-master\"\n\n[network]\nhosts_cidr = \"{subnet}\"\n\n\
         [ssh]\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n",
        lab.key().display(),
        lab.known_hosts().display()
    );
    for (i, (name, role)) in [
        ("kubemaster-1", "control-plane"),
        ("kubenode-1", "worker"),
        ("kubenode-2", "worker"),
    ]
    .iter()
    .enumerate()
    {
        preset += &format!(
            "\n[[hosts]]\nname = \"{name}\"\naddress = \"{}\"\nroles = [\"{role}\"]\n",
            lab.hosts[i].address
        );
    }
    let work = tempfile::tempdir().unwrap();
    let path = work.path().join("labpre.toml");
    fs::write(&path, preset).unwrap();
    let run = Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .arg("--state-dir")
        .arg(work.path().join("state"))
        .args(["apply", "--no-tui", "--yes", "--preset"])
        .arg(&path)
        .output()
        .unwrap();
    audit_verify::verify_audit_logs(&work.path().join("state"));
    let out = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{out}");
    assert!(
        out.contains("kubenode-1 has the same /etc/machine-id as kubemaster-1"),
        "{out}"
    );
    assert!(
        out.contains("kubenode-2 has the same /etc/machine-id as kubemaster-1"),
        "{out}"
    );
    assert!(
        out.contains("systemd-machine-id-setup"),
        "the fix is given: {out}"
    );
    assert!(out.contains("port(s) 6443 are already in use"), "{out}");
    assert!(
        out.contains("== preflight: failed on kubemaster-1, kubenode-1, kubenode-2"),
        "{out}"
    );
    assert!(
        !out.contains("== Prepare hosts"),
        "a phase started after preflight failed: {out}"
    );
    for i in 0..3 {
        assert!(
            lab.host_file(i, "/etc/sysctl.d/99-kubewiz.conf").is_none(),
            "host {i} was changed"
        );
        assert!(
            lab.host_file(i, "/etc/kubernetes/pki/ca.crt").is_none(),
            "host {i} was changed"
        );
    }
}
