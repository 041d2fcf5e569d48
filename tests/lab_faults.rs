//! Faults during an install on lab hosts.

#[path = "lab/mod.rs"]
mod lab;

#[path = "lab/cluster.rs"]
mod cluster;

use std::fs;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use cluster::Topology;

/// A host that does not answer at connect: the run stops with its name and the cause,
/// and no host gets anything beyond the read-only facts.
#[test]
fn an_unreachable_host_stops_the_run_before_anything_changes() {
    let topology = Topology::SingleMaster;
    let Some(lab) = cluster::start_lab(topology.size(0)) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let bundle = cluster::bundle(work.path());
    let text = cluster::preset(&lab, topology, 0, &bundle).replace(
        &format!("address = \"{}\"", lab.hosts[1].address),
        &format!("address = \"{}\"", lab.unused_address()),
    );
    let preset = work.path().join("labsingle.toml");
    fs::write(&preset, text).unwrap();
    let state = work.path().join("state");
    let (out, _) = cluster::apply(&state, &preset);
    assert_eq!(out.status.code(), Some(1), "{}", cluster::text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("kubenode-1 failed at connect/kubenode-1/ssh"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&lab.unused_address().to_string()),
        "{stdout}"
    );
    // The reachable host was only read.
    let changed = lab.exec(
        0,
        "ls -d /var/lib/kubewiz /etc/kubernetes /etc/kubewiz /usr/local/bin/kubeadm 2>/dev/null; hostname",
    );
    assert_eq!(
        String::from_utf8_lossy(&changed.stdout).trim(),
        lab.hosts[0].name,
        "{changed:?}"
    );
    assert!(!stdout.contains("[preflight]"), "{stdout}");
}

/// The "skipped" count of `host` in the run's closing table.
fn skipped(stdout: &str, host: &str) -> usize {
    stdout
        .lines()
        .find_map(|l| {
            let mut words = l.split_whitespace();
            (words.next() == Some(host))
                .then(|| words.nth(1).and_then(|w| w.parse().ok()))
                .flatten()
        })
        .unwrap_or_else(|| panic!("no summary line for {host}:\n{stdout}"))
}

/// Adds a 96 MiB program to the bundle, one every node gets: it keeps uploads running
/// long enough for a test to cut them.
fn add_large_program(bundle: &std::path::Path) {
    fs::write(bundle.join("bin/large-program"), vec![0x5a; 96 << 20]).unwrap();
}

/// sshd dies on a host in the middle of a phase: that host fails, the others finish
/// the phase, the run stops with the journal intact; once sshd is back, `kubewiz
/// resume` completes the install without redoing what finished.
#[test]
fn a_host_lost_mid_phase_fails_alone_and_resume_completes() {
    let Some(setup) = cluster::Setup::start(Topology::SingleMaster) else {
        return;
    };
    let (lab, bundle, preset, state) = (&setup.lab, &setup.bundle, &setup.preset, &setup.state);
    // A large program every node gets, so the worker is still receiving the bundle
    // when its sshd dies (its share of the bundle is otherwise small).
    add_large_program(bundle);
    let mut child = cluster::spawn_apply(state, preset.to_str().unwrap(), Stdio::null());
    // sshd dies on the worker while it receives the bundle.
    let mut stdout = String::new();
    let mut killed = false;
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if !killed && line == "[kubenode-1] prepare/kubenode-1/bundle" {
            lab.stop_sshd(1);
            killed = true;
        }
        stdout.push_str(&line);
        stdout.push('\n');
    }
    assert_eq!(child.wait().unwrap().code(), Some(1), "{stdout}");
    assert!(
        killed,
        "the bundle step never started on kubenode-1:\n{stdout}"
    );
    assert!(
        stdout.contains("kubenode-1 failed at prepare/kubenode-1/bundle"),
        "{stdout}"
    );
    assert!(
        stdout.contains("[kubemaster-1] prepare/kubemaster-1/kubelet: ok"),
        "the other host did not finish the phase:\n{stdout}"
    );
    assert!(!stdout.contains("[pki]"), "the run went on:\n{stdout}");
    let journal = fs::read_to_string(state.join("labsingle/journal")).expect("the run's journal");
    for line in journal.lines() {
        serde_json::from_str::<serde_json::Value>(line)
            .unwrap_or_else(|e| panic!("torn journal line {line:?}: {e}"));
    }

    lab.start_sshd(1);
    let (out, took) = cluster::kubewiz(state, &["resume", "labsingle"]);
    let resumed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{}", cluster::text(&out));
    eprintln!("resumed in {took:.1?}");
    assert!(skipped(&resumed, "kubemaster-1") >= 10, "{resumed}");
    assert!(skipped(&resumed, "kubenode-1") >= 1, "{resumed}");
    assert!(
        resumed.contains("[kubemaster-1] prepare/kubemaster-1/bundle: skipped"),
        "{resumed}"
    );
    let nodes = cluster::kubectl_local(
        &state.join("labsingle/admin.conf"),
        &["get", "nodes", "--no-headers"],
    );
    assert_eq!(
        String::from_utf8_lossy(&nodes.stdout).lines().count(),
        2,
        "{nodes:?}"
    );
}

/// A step that fails on a host: the error gives the command, its exit code, its last
/// output lines and the unit's journal, on the terminal and in the audit log.
#[test]
fn a_failing_step_reports_its_command_exit_code_output_and_journal() {
    let topology = Topology::SingleNode;
    let Some(lab) = cluster::start_lab(topology.size(0)) else {
        return;
    };
    // kubeadm's preflight refuses a node without iptables.
    let removed = lab.exec(
        0,
        "rm -f /usr/sbin/iptables /sbin/iptables; ! command -v iptables",
    );
    assert!(removed.status.success(), "{removed:?}");
    let work = tempfile::tempdir().unwrap();
    let bundle = cluster::bundle(work.path());
    let preset = work.path().join("labsolo.toml");
    fs::write(&preset, cluster::preset(&lab, topology, 0, &bundle)).unwrap();
    let state = work.path().join("state");
    let (out, _) = cluster::apply(&state, &preset);
    assert_eq!(out.status.code(), Some(1), "{}", cluster::text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = stdout
        .split("kube-solo-1 failed at first-control-plane/kube-solo-1/init")
        .nth(1)
        .unwrap_or_else(|| panic!("no failure report:\n{stdout}"));
    for expected in [
        "command: test -f /etc/kubernetes/admin.conf",
        "exit code: 1",
        "[ERROR FileExisting-iptables]: iptables not found in system path",
        "unit journal:",
    ] {
        assert!(
            report.contains(expected),
            "{expected:?} missing from:\n{report}"
        );
    }
    let log = fs::read_dir(state.join("labsolo/logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "log"))
        .map(|p| fs::read_to_string(p).unwrap())
        .next()
        .expect("an audit log");
    assert!(
        log.contains("FileExisting-iptables") && log.contains("kubeadm init --config"),
        "{log}"
    );
}

/// Cancelled in the middle of uploads (Ctrl-C twice: leave now): every file on the
/// hosts is the old or the new content, never a part, and no temporary file stays.
#[test]
fn a_run_left_in_the_middle_of_uploads_leaves_no_partial_file() {
    let Some(setup) = cluster::Setup::start(Topology::SingleMaster) else {
        return;
    };
    let (lab, bundle, preset, state) = (&setup.lab, &setup.bundle, &setup.preset, &setup.state);
    // A large program every node gets, so uploads are still running when the second
    // Ctrl-C comes, also on a worker (whose share of the bundle is otherwise small).
    add_large_program(bundle);
    let mut child = cluster::spawn_apply(state, preset.to_str().unwrap(), Stdio::null());
    let pid = child.id().to_string();
    let mut interrupted = false;
    let mut graceful = false;
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for line in BufReader::new(child.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        graceful |= line.contains("cancelled; nothing new was started");
        if !interrupted && line.ends_with("/bundle") && line.starts_with("[kube") {
            // Ctrl-C, and again until kubewiz leaves (signals sent close together
            // arrive as one).
            let (pid, done) = (pid.clone(), done.clone());
            std::thread::spawn(move || {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    let _ = Command::new("kill").args(["-INT", &pid]).status();
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
            });
            interrupted = true;
        }
    }
    // stdout closed: kubewiz is leaving; its pid stays ours until it is waited for.
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    std::thread::sleep(std::time::Duration::from_millis(200));
    let status = child.wait().unwrap();
    assert!(interrupted, "no bundle upload started");
    assert_eq!(status.code(), Some(130), "{status:?}");
    assert!(!graceful, "the run ended before the second Ctrl-C left it");
    // Its audit log is whole up to where the run was left, and says it was not closed.
    let said = cluster::verify_audit_logs(state);
    assert!(said.contains("ends without a closing record"), "{said}");
    let programs: Vec<String> = fs::read_dir(bundle.join("bin"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for i in 0..lab.hosts.len() {
        // The host notices the lost connection and removes its temporary file.
        let started = std::time::Instant::now();
        loop {
            let left = lab.exec(i, "find /usr/local/bin /etc -name '.kubewiz.*'");
            if left.stdout.is_empty() {
                break;
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(15),
                "{}: temporary files left: {}",
                lab.hosts[i].name,
                String::from_utf8_lossy(&left.stdout)
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
        for program in &programs {
            let path = format!("/usr/local/bin/{program}");
            if let Some(content) = lab.host_file(i, &path) {
                let old = fs::read(&path).ok();
                assert!(
                    content == fs::read(bundle.join("bin").join(program)).unwrap()
                        || Some(&content) == old.as_ref(),
                    "{}: {path} is neither the old nor the new content",
                    lab.hosts[i].name
                );
            }
        }
    }
}
