//! `kubewiz apply --dry-run --no-tui` through the real binary: every step of the plan
//! is reported once, nothing is executed or written on the KVM host beyond the audit
//! log, and the log is what an auditor needs, without secrets.

#[path = "audit_verify/mod.rs"]
mod audit_verify;

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

/// The libvirt the presets' network phase reads: the test driver, not this machine's.
fn test_libvirt() -> String {
    format!(
        "test://{}/tests/fixtures/libvirt/node.xml",
        env!("CARGO_MANIFEST_DIR")
    )
}

/// Runs the real kubewiz; every audit log in `state` must verify afterwards.
fn kubewiz(state: &Path, args: &[&str]) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("USER", "operator-test")
        .env_remove("SUDO_USER")
        .env("LIBVIRT_DEFAULT_URI", test_libvirt())
        .output()
        .unwrap();
    audit_verify::verify_audit_logs(state);
    out
}

fn audit(state: &Path, cluster: &str) -> Vec<Value> {
    let logs = state.join(cluster).join("logs");
    let jsonl: Vec<_> = fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert_eq!(jsonl.len(), 1, "{jsonl:?}");
    fs::read_to_string(&jsonl[0])
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// The phases a run started, in order, from its audit log.
fn phases_run(state: &Path, cluster: &str) -> Vec<String> {
    audit(state, cluster)
        .iter()
        .filter(|e| e["event"] == "phase_started")
        .map(|e| e["phase"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_dry_run_reports_every_step_once_and_executes_nothing() {
    let state = tempfile::tempdir().unwrap();
    let run = kubewiz(
        state.path(),
        &[
            "apply",
            "--preset",
            "presets/kvm-lab.toml",
            "--dry-run",
            "--no-tui",
        ],
    );
    let stdout = String::from_utf8_lossy(&run.stdout);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        stdout.starts_with("kubewiz: dry run of cluster kvm-lab: 13 phases, 13 hosts"),
        "{stdout}"
    );
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("kubewiz: finished; audit log: ")),
        "{stdout}"
    );
    // The closing table: one row per host, every one ok.
    let table: Vec<&str> = stdout
        .lines()
        .skip_while(|l| !l.starts_with("host "))
        .skip(1)
        .collect();
    assert_eq!(table.len(), 14, "13 hosts and the KVM host: {table:?}");
    assert!(table.iter().all(|row| row.ends_with(" ok")), "{table:?}");

    // The plan of the same preset and PKI, built in this process.
    let spec = kubewiz::spec::load_file(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/kvm-lab.toml"),
    )
    .unwrap()
    .spec;
    let layout = kubewiz::render::Layout::new(&spec).unwrap();
    let (pki, notices) =
        kubewiz::pki::load_or_create(&state.path().join("kvm-lab/pki"), &layout).unwrap();
    assert!(
        notices.is_empty(),
        "the run made the PKI; it is reused: {notices:?}"
    );
    let files = kubewiz::render::render(&spec, &pki).unwrap();
    let plan = kubewiz::plan::build(
        &layout,
        &files,
        &kubewiz::plan::Local {
            libvirt_uri: "test:///default".into(),
            state_dir: state.path().join("kvm-lab"),
            hosts_file: state.path().join("kvm-lab").join("hosts"),
        },
    );
    let step_ids: Vec<&str> = plan.steps().map(|(_, _, s)| s.id.as_str()).collect();
    assert_eq!(step_ids.len(), 305, "steps in the plan");

    let events = audit(state.path(), "kvm-lab");
    // The operator is who the system says runs kubewiz, not the USER it was given.
    let id = |flag: &str| {
        let out = Command::new("id").arg(flag).output().unwrap();
        String::from_utf8(out.stdout).unwrap().trim().to_string()
    };
    let operator = format!("{} (uid {})", id("-un"), id("-u"));
    let mut started: BTreeMap<String, usize> = BTreeMap::new();
    let mut finished: BTreeMap<String, String> = BTreeMap::new();
    for e in &events {
        if let Some(who) = e["operator"].as_str() {
            assert!(who.starts_with(&operator), "{who} is not {operator}");
        }
        assert!(e["at"].as_str().unwrap().ends_with('Z'), "{e}");
        match e["event"].as_str().unwrap() {
            "step_started" => {
                *started
                    .entry(e["step"].as_str().unwrap().to_string())
                    .or_default() += 1
            }
            "step_finished" => {
                finished.insert(
                    e["step"].as_str().unwrap().to_string(),
                    e["outcome"]["status"].as_str().unwrap().to_string(),
                );
            }
            _ => {}
        }
    }
    for id in &step_ids {
        assert_eq!(
            started.get(*id),
            Some(&1),
            "{id} started {:?} times",
            started.get(*id)
        );
        assert!(finished.contains_key(*id), "{id} never finished");
    }
    assert_eq!(started.len(), step_ids.len());
    assert!(finished.values().all(|s| s == "done" || s == "skipped"));
    // The dry run skips what only applies to dnf hosts (its pretend hosts use apt) and
    // writes nothing on the KVM host.
    assert_eq!(finished["prepare/kubemaster-1/packages-dnf"], "skipped");
    assert_eq!(finished["kubeconfig/local/admin.conf"], "skipped");
    // The libvirt network is read and its changes shown, not made; the KVM host's
    // hosts file likewise.
    assert_eq!(finished["libvirt-network/local/update"], "skipped");
    assert_eq!(finished["libvirt-network/local/names"], "skipped");
    assert!(
        stdout.contains(
            "[local] libvirt-network/local/update: skipped, dry run: libvirt network default is not changed (18 change(s) would be made)"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("[local]   would add DNS kubeapi.test.example → 192.168.122.10\n"),
        "{stdout}"
    );
    assert!(!state.path().join("kvm-lab/admin.conf").exists());
    assert!(
        !state.path().join("kvm-lab/journal").exists(),
        "a dry run keeps no journal"
    );

    // The log starts with who ran which kubewiz on which preset.
    let header = &events[0];
    assert_eq!(header["event"], "audit_started");
    assert_eq!(header["kubewiz_version"], env!("CARGO_PKG_VERSION"));
    let preset =
        fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/kvm-lab.toml")).unwrap();
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, &preset);
    let hex: String = digest.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(header["preset_sha256"], hex);
    let first = &events[1];
    assert_eq!(first["event"], "run_started");
    assert_eq!(first["dry_run"], true);
    let finished = &events[events.len() - 2];
    assert_eq!(finished["event"], "run_finished");
    assert_eq!(finished["outcome"], "succeeded");
    assert_eq!(events.last().unwrap()["event"], "audit_closed");

    // Phases run in plan order, each finishing before the next starts.
    let phases: Vec<&str> = events
        .iter()
        .filter(|e| e["event"] == "phase_started")
        .map(|e| e["phase"].as_str().unwrap())
        .collect();
    assert_eq!(
        phases,
        [
            "libvirt-network",
            "connect",
            "preflight",
            "prepare",
            "pki",
            "etcd",
            "load-balancer",
            "first-control-plane",
            "control-planes",
            "workers",
            "cni",
            "verify",
            "kubeconfig"
        ]
    );
    let mut open = None;
    for e in &events {
        match e["event"].as_str().unwrap() {
            "phase_started" => {
                assert!(open.is_none(), "a phase started before {open:?} finished");
                open = Some(e["phase"].as_str().unwrap().to_string());
            }
            "phase_finished" => open = None,
            "step_started" => assert!(open.is_some(), "a step outside a phase"),
            _ => {}
        }
    }

    // No secret in any log: the bootstrap token lives in the PKI state only.
    let token = fs::read_to_string(state.path().join("kvm-lab/pki/bootstrap-token")).unwrap();
    let secret = token.trim().split_once('.').unwrap().1.to_string();
    for log in fs::read_dir(state.path().join("kvm-lab/logs")).unwrap() {
        let text = fs::read_to_string(log.unwrap().path()).unwrap();
        assert!(!text.contains(&secret), "a log holds the bootstrap token");
        assert!(!text.contains("PRIVATE KEY"), "a log holds a private key");
    }
    assert!(!stdout.contains(&secret));
}

#[test]
fn only_the_asked_phases_run_after_connect_and_preflight() {
    let state = tempfile::tempdir().unwrap();
    let run = kubewiz(
        state.path(),
        &[
            "apply",
            "--preset",
            "presets/single-node.toml",
            "--dry-run",
            "--no-tui",
            "--phase",
            "prepare",
            "--phase",
            "cni",
        ],
    );
    assert_eq!(run.status.code(), Some(0));
    let phases = phases_run(state.path(), "solo");
    assert_eq!(phases, ["connect", "preflight", "prepare", "cni"]);
}

#[test]
fn bad_requests_are_usage_errors() {
    let state = tempfile::tempdir().unwrap();
    let bogus = kubewiz(
        state.path(),
        &[
            "apply",
            "--preset",
            "presets/single-node.toml",
            "--dry-run",
            "--phase",
            "bogus",
        ],
    );
    assert_eq!(bogus.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&bogus.stderr)
            .contains("--phase bogus is not a phase; the phases are libvirt-network, connect,")
    );
    let invalid = kubewiz(
        state.path(),
        &[
            "apply",
            "--preset",
            "tests/corpus/bad/vip-missing.toml",
            "--dry-run",
            "--no-tui",
        ],
    );
    assert_eq!(invalid.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&invalid.stderr).contains("error: control_plane.vip:"));
    let resume = kubewiz(state.path(), &["resume", "never-ran"]);
    assert_eq!(resume.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&resume.stderr).contains("no run of cluster never-ran to resume")
    );
}

#[test]
fn a_phase_that_starts_something_with_certificates_brings_the_pki_along() {
    let state = tempfile::tempdir().unwrap();
    let run = kubewiz(
        state.path(),
        &[
            "apply",
            "--preset",
            "presets/kvm-lab.toml",
            "--dry-run",
            "--no-tui",
            "--phase",
            "etcd",
        ],
    );
    assert_eq!(run.status.code(), Some(0));
    let phases = phases_run(state.path(), "kvm-lab");
    assert_eq!(phases, ["connect", "preflight", "pki", "etcd"]);
}

#[test]
fn the_dry_run_of_every_bundled_preset_completes() {
    let presets = Path::new(env!("CARGO_MANIFEST_DIR")).join("presets");
    let mut count = 0;
    for entry in fs::read_dir(presets).unwrap() {
        let path = entry.unwrap().path();
        let state = tempfile::tempdir().unwrap();
        let run = kubewiz(
            state.path(),
            &[
                "apply",
                "--preset",
                path.to_str().unwrap(),
                "--dry-run",
                "--no-tui",
            ],
        );
        let out = String::from_utf8_lossy(&run.stdout);
        assert_eq!(run.status.code(), Some(0), "{}: {out}", path.display());
        assert!(
            out.contains("kubewiz: finished; audit log: "),
            "{}",
            path.display()
        );
        count += 1;
    }
    assert!(count >= 6);
}

#[test]
fn a_bundle_install_uploads_the_bundles_programs_or_says_why_it_cannot() {
    let state = tempfile::tempdir().unwrap();
    let bundle = state.path().join("bundle");
    fs::create_dir_all(bundle.join("bin")).unwrap();
    for program in ["kubeadm", "kubelet", "kubectl"] {
        fs::write(
            bundle.join("bin").join(program),
            format!("#!/bin/sh\necho {program}\n"),
        )
        .unwrap();
    }
    let preset = bundle_preset(state.path(), "flannel", &bundle);
    let run = kubewiz(
        state.path(),
        &[
            "apply",
            "--preset",
            preset.to_str().unwrap(),
            "--dry-run",
            "--no-tui",
            "--phase",
            "prepare",
        ],
    );
    let out = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{out}");
    for program in ["kubeadm", "kubelet", "kubectl"] {
        assert!(
            out.contains(&format!("[kube-solo]   installed /usr/local/bin/{program}")),
            "{out}"
        );
    }
    assert!(
        !out.contains("apt-get"),
        "a bundle install uses no package manager: {out}"
    );

    fs::remove_dir_all(&bundle).unwrap();
    let run = kubewiz(
        state.path(),
        &[
            "apply",
            "--preset",
            preset.to_str().unwrap(),
            "--dry-run",
            "--no-tui",
            "--phase",
            "prepare",
        ],
    );
    let out = String::from_utf8_lossy(&run.stdout);
    assert_eq!(run.status.code(), Some(1), "{out}");
    assert!(
        out.contains(
            "kube-solo failed at prepare/kube-solo/bundle: cannot read the bundle directory"
        ),
        "{out}"
    );
}

/// The single-node preset with `cni`, installing from the bundle at `bundle`.
fn bundle_preset(state: &Path, cni: &str, bundle: &Path) -> std::path::PathBuf {
    let single =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/single-node.toml"))
            .unwrap()
            .replace("cni = \"flannel\"\n", &format!("cni = \"{cni}\"\n"));
    assert!(single.contains(&format!("cni = \"{cni}\"\n")));
    let preset = state.join(format!("bundle-{cni}.toml"));
    fs::write(
        &preset,
        format!(
            "{single}\n[packages]\nsource = \"bundle\"\nbundle_dir = \"{}\"\n",
            bundle.display()
        ),
    )
    .unwrap();
    preset
}

/// The lines of `kubewiz plan`'s phase `cni`, the bundle's directory shown as
/// `[bundle]`.
fn cni_phase(plan: &str, bundle: &Path) -> String {
    plan.lines()
        .skip_while(|l| !l.contains("[cni]"))
        .take_while(|l| !l.contains("[verify]"))
        .collect::<Vec<_>>()
        .join("\n")
        .replace(&bundle.display().to_string(), "[bundle]")
}

#[test]
fn a_bundle_install_takes_its_pod_network_from_the_bundle_or_names_the_file_it_lacks() {
    let state = tempfile::tempdir().unwrap();
    let bundle = state.path().join("bundle");
    fs::create_dir_all(bundle.join("bin")).unwrap();
    for program in ["kubeadm", "kubelet", "kubectl", "containerd", "runc"] {
        fs::write(bundle.join("bin").join(program), "#!/bin/sh\n").unwrap();
    }
    let files = [
        ("flannel", vec!["manifests/kube-flannel-v0.27.4.yml"]),
        (
            "calico",
            vec![
                "manifests/calico-operator-crds-v3.30.3.yaml",
                "manifests/calico-tigera-operator-v3.30.3.yaml",
            ],
        ),
        ("cilium", vec!["charts/cilium-1.19.3.tgz", "bin/helm"]),
    ];
    for (cni, needs) in &files {
        let preset = bundle_preset(state.path(), cni, &bundle);
        let preset = preset.to_str().unwrap();
        // Without the files: the run is refused before any host, each file named with
        // where it goes; the plan says the same and is still shown.
        let run = kubewiz(
            state.path(),
            &["apply", "--preset", preset, "--dry-run", "--no-tui"],
        );
        let out = String::from_utf8_lossy(&run.stdout).into_owned()
            + &String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(1), "{cni}: {out}");
        for need in needs {
            let (dir, name) = need.rsplit_once('/').unwrap();
            assert!(
                out.contains(&format!(
                    "packages.bundle_dir: {} has no {name}, which the cni phase needs: put ",
                    bundle.join(dir).display()
                )),
                "{cni}: {out}"
            );
        }
        assert!(
            !out.contains("[kube-solo]"),
            "{cni}: a host was started: {out}"
        );
        let plan = kubewiz(state.path(), &["plan", "--preset", preset]);
        assert_eq!(plan.status.code(), Some(0), "{cni}");
        let err = String::from_utf8_lossy(&plan.stderr);
        assert!(err.contains("apply would refuse this plan"), "{cni}: {err}");

        // With them: the plan puts the bundle's files on the host and names no URL.
        for need in needs {
            fs::create_dir_all(bundle.join(need).parent().unwrap()).unwrap();
            fs::write(bundle.join(need), format!("{need} as upstream ships it\n")).unwrap();
        }
        let plan = kubewiz(state.path(), &["plan", "--preset", preset]);
        let text = String::from_utf8_lossy(&plan.stdout).into_owned();
        assert!(
            !String::from_utf8_lossy(&plan.stderr).contains("refuse"),
            "{cni}"
        );
        insta::assert_snapshot!(format!("bundle_{cni}_plan"), cni_phase(&text, &bundle));
        let run = kubewiz(
            state.path(),
            &["apply", "--preset", preset, "--dry-run", "--no-tui"],
        );
        let out = String::from_utf8_lossy(&run.stdout);
        assert_eq!(run.status.code(), Some(0), "{cni}: {out}");
        assert!(!out.contains("https://github.com"), "{cni}: {out}");
    }
}
