//! `kubewiz apply --phase etcd` on real lab hosts over SSH: the external etcd cluster
//! comes up from the rendered units and certificates and answers `etcdctl endpoint
//! health` with the generated client certificate; running it again changes nothing.

#[path = "lab/mod.rs"]
mod lab;

#[path = "audit_verify/mod.rs"]
mod audit_verify;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

const SYSTEMCTL: &[u8] = include_bytes!("standins/systemctl");
const JOURNALCTL: &[u8] = include_bytes!("standins/journalctl");

/// The lab layout of an external-etcd cluster: 3 etcd, 2 control planes, 1 worker, 2
/// load balancers, on the lab's subnet.
fn preset(lab: &lab::Lab) -> String {
    let names = [
        "etcd-1",
        "etcd-2",
        "etcd-3",
        "kubemaster-1",
        "kubemaster-2",
        "kubenode-1",
        "haproxy-1",
        "haproxy-2",
    ];
    let roles = [
        "etcd",
        "etcd",
        "etcd",
        "control-plane",
        "control-plane",
        "worker",
        "load-balancer",
        "load-balancer",
    ];
    let first = lab.hosts[0].address.to_string();
    let subnet = format!("{}.0/24", first.rsplit_once('.').unwrap().0);
    let mut text = format!(
        "name = \"labetcd\"\ntopology = \"external-etcd\"\n\n[network]\nhosts_cidr = \"{subnet}\"\n\n\
         [control_plane]\nvip = \"{}\"\n\n[ssh]\nuser = \"root\"\nidentity_file = \"{}\"\nknown_hosts = \"{}\"\n",
        lab.unused_address(),
        lab.key().display(),
        lab.known_hosts().display()
    );
    for (i, (name, role)) in names.iter().zip(roles).enumerate() {
        text += &format!(
            "\n[[hosts]]\nname = \"{name}\"\naddress = \"{}\"\nroles = [\"{role}\"]\n",
            lab.hosts[i].address
        );
    }
    text
}

fn kubewiz(state: &Path, preset: &Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .arg("--state-dir")
        .arg(state)
        .args(["apply", "--preset"])
        .arg(preset)
        .args(["--phase", "etcd", "--no-tui", "--yes"])
        .output()
        .unwrap();
    audit_verify::verify_audit_logs(state);
    out
}

#[test]
fn apply_phase_etcd_brings_up_a_healthy_etcd_cluster_on_lab_hosts() {
    let extras = [
        ("/usr/local/sbin/systemctl", SYSTEMCTL, 0o755),
        ("/usr/local/sbin/journalctl", JOURNALCTL, 0o755),
    ];
    let Some(lab) = lab::Lab::start_or_skip_with(8, &extras) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let preset_path = work.path().join("labetcd.toml");
    fs::write(&preset_path, preset(&lab)).unwrap();
    let state = work.path().join("state");

    let run = kubewiz(&state, &preset_path);
    let out = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{out}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    for member in ["etcd-1", "etcd-2", "etcd-3"] {
        assert!(
            out.contains(&format!("[{member}] etcd/{member}/healthy: ok")),
            "{out}"
        );
    }

    // From the KVM host, with the generated client certificate: three healthy members.
    let pki = state.join("labetcd/pki");
    let endpoints: Vec<String> = lab.hosts[..3]
        .iter()
        .map(|h| format!("https://{}:2379", h.address))
        .collect();
    let health = Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", endpoints.join(",")))
        .arg(format!("--cacert={}", pki.join("etcd/ca.crt").display()))
        .arg(format!(
            "--cert={}",
            pki.join("etcd/healthcheck-client.crt").display()
        ))
        .arg(format!(
            "--key={}",
            pki.join("etcd/healthcheck-client.key").display()
        ))
        .args(["endpoint", "health"])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&health.stdout).into_owned()
        + &String::from_utf8_lossy(&health.stderr);
    assert!(health.status.success(), "{said}");
    assert_eq!(said.matches("is healthy").count(), 3, "{said}");

    // The files landed with their modes, and the journal knows what finished.
    let key = lab
        .host_file(0, "/etc/etcd/pki/server.key")
        .expect("the server key was uploaded");
    assert!(String::from_utf8_lossy(&key).contains("PRIVATE KEY"));
    let journal = fs::read_to_string(state.join("labetcd/journal")).unwrap();
    assert!(
        journal.contains("\"step\":\"etcd/etcd-1/start\""),
        "{journal}"
    );

    // Again: every upload and command that finished is skipped, etcd stays healthy.
    let again = kubewiz(&state, &preset_path);
    let out = String::from_utf8_lossy(&again.stdout);
    assert_eq!(again.status.code(), Some(0), "{out}");
    assert!(
        out.contains("etcd/etcd-2/start: skipped, finished in an earlier run"),
        "{out}"
    );
    assert!(out.contains("[etcd-2] etcd/etcd-2/healthy: ok"), "{out}");

    // No secret in any log.
    let token = fs::read_to_string(pki.join("bootstrap-token")).unwrap();
    let secret = token.trim().split_once('.').unwrap().1.to_string();
    for log in fs::read_dir(state.join("labetcd/logs")).unwrap() {
        let text = fs::read_to_string(log.unwrap().path()).unwrap();
        assert!(
            !text.contains(&secret) && !text.contains("PRIVATE KEY"),
            "a log holds a secret"
        );
    }
}
