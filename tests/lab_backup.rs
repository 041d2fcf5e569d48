//! `kubewiz backup` and `kubewiz restore` on lab hosts (the stand-in kubeadm, kubelet
//! and API server, which keeps every object in the real etcd; the real etcdctl,
//! kubectl, tar and sha256sum): a ConfigMap written before the backup is there again
//! after `kubewiz reset` and `kubewiz restore`, read through the endpoint with the
//! operator's old admin.conf, and one written after the backup is not. The archive is
//! private, checks with `sha256sum -c` and lists its manifest first with `tar`, and
//! `--keep 1` deletes the archive before it (taken on the next member while the first
//! one's sshd is down); a copy
//! with one byte changed is refused before any host is touched, and so is a restore
//! onto the cluster while it still answers, unless `--replace-running` (the stacked
//! cluster is restored so, its reset run by the restore). With external etcd every
//! member restores the snapshot; with stacked etcd the first control plane restores it
//! and the others join it as new members.

#[path = "lab/mod.rs"]
mod lab;

#[path = "lab/cluster.rs"]
mod cluster;

#[path = "tmux/mod.rs"]
mod tmux;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use cluster::Topology;

fn kubewiz(state: &Path, args: &[&str]) -> Output {
    let (out, took) = cluster::kubewiz(state, args);
    eprintln!("kubewiz {}: {took:.1?}", args[0]);
    out
}

/// The value of key `k` of ConfigMap `name` in `default`, read with `kubeconfig`;
/// None when there is no such ConfigMap.
fn configmap(kubeconfig: &Path, name: &str) -> Option<String> {
    let out = cluster::kubectl_local(
        kubeconfig,
        &[
            "get",
            "configmap",
            name,
            "-n",
            "default",
            "-o",
            "jsonpath={.data.k}",
        ],
    );
    if out.status.success() {
        return Some(String::from_utf8_lossy(&out.stdout).into_owned());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("NotFound") || err.contains("not found"),
        "{out:?}"
    );
    None
}

/// Creates ConfigMap `name` with `k: value` from a file: kubectl sends it as JSON, and
/// without client-side validation (the stand-in API server speaks no protobuf and
/// serves no OpenAPI).
fn create_configmap(kubeconfig: &Path, name: &str, value: &str) {
    let file = kubeconfig.with_file_name(format!("{name}.json"));
    fs::write(
        &file,
        format!(
            r#"{{"apiVersion":"v1","kind":"ConfigMap","metadata":{{"name":"{name}","namespace":"default"}},"data":{{"k":"{value}"}}}}"#
        ),
    )
    .unwrap();
    let out = cluster::kubectl_local(
        kubeconfig,
        &["create", "--validate=false", "-f", file.to_str().unwrap()],
    );
    assert!(out.status.success(), "{out:?}");
}

/// The audit logs of the cluster: how many runs have been logged.
fn runs_logged(state: &Path, cluster: &str) -> usize {
    fs::read_dir(state.join(cluster).join("logs"))
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.path().extension().is_some_and(|x| x == "jsonl"))
                .count()
        })
        .unwrap_or(0)
}

/// The archive `archive` that a backup of the cluster kept in `cluster_dir` wrote is
/// private, checks with `sha256sum -c`, lists its manifest first and everything a
/// restore needs with `tar`, and no copy of the snapshot is left in the state directory.
fn archive_is_sound(archive: &Path, cluster_dir: &Path) {
    let mode = fs::metadata(archive).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the archive holds the cluster's keys");
    let sums = Command::new("sha256sum")
        .arg("-c")
        .arg(archive.with_file_name(format!(
            "{}.sha256",
            archive.file_name().unwrap().to_string_lossy()
        )))
        .current_dir(archive.parent().unwrap())
        .output()
        .unwrap();
    assert!(sums.status.success(), "{sums:?}");
    let listing = Command::new("tar")
        .arg("tzf")
        .arg(archive)
        .output()
        .unwrap();
    assert!(listing.status.success(), "{listing:?}");
    let listing = String::from_utf8_lossy(&listing.stdout).into_owned();
    let names: Vec<&str> = listing.lines().collect();
    assert_eq!(names[0], "manifest.json", "{listing}");
    for expected in [
        "etcd/snapshot.db",
        "pki/ca.key",
        "pki/etcd/ca.crt",
        "preset.toml",
        "admin.conf",
    ] {
        assert!(names.contains(&expected), "{expected} not in:\n{listing}");
    }
    // Nothing of the snapshot is left behind on the KVM host.
    let spooled: Vec<_> = fs::read_dir(cluster_dir)
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| e.file_name().to_string_lossy().ends_with(".snapshot"))
        .collect();
    assert!(spooled.is_empty(), "{spooled:?}");
}

/// Installs `topology`, backs it up, resets it and restores it; returns the setup for
/// the topology's own checks. `over_running`: the restore itself resets the cluster that
/// still answers (`--replace-running`), instead of `kubewiz reset` before it.
fn backup_reset_restore(
    topology: Topology,
    over_running: bool,
) -> Option<(cluster::Setup, PathBuf)> {
    let setup = cluster::installed(topology, &[])?;
    // With stacked etcd the control planes are its members: the bundle's etcdctl is
    // there for the snapshot (external etcd's hosts get it with etcd).
    let etcdctl = setup.lab.host_file(0, "/usr/local/bin/etcdctl");
    assert!(
        etcdctl.is_some(),
        "no etcdctl from the bundle on the first etcd member"
    );
    let (state, preset) = (&setup.state, setup.preset_arg());
    let name = fs::read_dir(state)
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.path().join("admin.conf").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .expect("an installed cluster in the state directory");
    // The operator's kubeconfig as it was at install, kept apart from the state.
    let old_admin = setup.work.path().join("old-admin.conf");
    fs::copy(state.join(&name).join("admin.conf"), &old_admin).unwrap();
    create_configmap(&old_admin, "before-backup", "kept");

    let out_dir = setup.work.path().join("backups");
    let backup = |last: &str| {
        let out = out_dir.to_str().unwrap();
        kubewiz(state, &["backup", "--preset", preset, "--out", out, last])
    };
    let restore = |from: &Path, more: &[&str]| {
        let from = from.to_str().unwrap();
        let mut args = vec!["restore", "--preset", preset, "--from", from];
        args.extend(more);
        kubewiz(state, &args)
    };
    let replacing: &[&str] = if over_running {
        &["--replace-running"]
    } else {
        &[]
    };
    let dry = backup("--dry-run");
    assert!(dry.status.success(), "{}", cluster::text(&dry));
    assert!(!out_dir.exists(), "a dry run wrote an archive");
    let archive_of = |out: &Output| {
        assert!(out.status.success(), "{}", cluster::text(out));
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        PathBuf::from(
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(&format!("backup of cluster {name}: ")))
                .and_then(|l| l.split(" (").next())
                .unwrap_or_else(|| panic!("no archive named:\n{stdout}")),
        )
    };
    let first = archive_of(&backup("--yes"));
    // Archives are named to the second; a second one with --keep 1 deletes the first.
    // The first snapshot host's sshd is down meanwhile: the next one takes it.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    setup.lab.stop_sshd(0);
    let out = kubewiz(
        state,
        &[
            "backup",
            "--preset",
            preset,
            "--out",
            out_dir.to_str().unwrap(),
            "--keep",
            "1",
            "--yes",
        ],
    );
    setup.lab.start_sshd(0);
    let archive = archive_of(&out);
    let names = topology.hosts(0);
    let (down, next) = (&names[0].0, &names[1].0);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("{down} does not answer over SSH")),
        "{}",
        cluster::text(&out)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(&format!("trying {next}")),
        "{}",
        cluster::text(&out)
    );
    assert_ne!(archive, first);
    assert!(
        String::from_utf8_lossy(&out.stdout)
            .contains(&format!("deleted the older archive {}", first.display())),
        "{}",
        cluster::text(&out)
    );
    assert!(!first.exists(), "--keep 1 kept {}", first.display());
    assert_eq!(archive.parent(), Some(out_dir.as_path()));
    archive_is_sound(&archive, &state.join(&name));

    create_configmap(&old_admin, "after-backup", "lost");

    // One byte changed in a copy, its .sha256 beside it: refused before any host is
    // touched (no run is logged).
    let bad = setup.work.path().join("bad.tar.gz");
    let mut bytes = fs::read(&archive).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 0x20;
    fs::write(&bad, &bytes).unwrap();
    let sidecar = fs::read_to_string(archive.with_file_name(format!(
        "{}.sha256",
        archive.file_name().unwrap().to_string_lossy()
    )))
    .unwrap();
    let digest = sidecar.split_whitespace().next().unwrap();
    fs::write(
        setup.work.path().join("bad.tar.gz.sha256"),
        format!("{digest}  bad.tar.gz\n"),
    )
    .unwrap();
    let logged = runs_logged(state, &name);
    let refused = restore(&bad, &["--yes"]);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "{}",
        cluster::text(&refused)
    );
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("is damaged or was changed"),
        "{}",
        cluster::text(&refused)
    );
    assert_eq!(runs_logged(state, &name), logged, "a host was touched");

    // The cluster still answers: a restore over it is refused unless asked for.
    let over = restore(&archive, &["--yes"]);
    assert_eq!(over.status.code(), Some(1), "{}", cluster::text(&over));
    assert!(
        String::from_utf8_lossy(&over.stderr).contains("still answers")
            && String::from_utf8_lossy(&over.stderr).contains("--replace-running"),
        "{}",
        cluster::text(&over)
    );
    assert_eq!(runs_logged(state, &name), logged, "a host was touched");

    if !over_running {
        let reset = kubewiz(state, &["reset", "--preset", preset, "--yes"]);
        assert!(reset.status.success(), "{}", cluster::text(&reset));
    }
    let dry = restore(&archive, &[&["--dry-run"], replacing].concat());
    assert!(dry.status.success(), "{}", cluster::text(&dry));
    assert!(
        !state.join(&name).join("restore").exists(),
        "a dry run kept a restore"
    );
    if over_running {
        assert!(
            cluster::text(&dry).contains("would reset its hosts first"),
            "{}",
            cluster::text(&dry)
        );
    }
    let restored = restore(&archive, &[&["--yes"], replacing].concat());
    assert!(restored.status.success(), "{}", cluster::text(&restored));
    let said = cluster::text(&restored);
    if over_running {
        assert!(
            said.contains("resetting cluster") && said.contains("is restored"),
            "{said}"
        );
    }
    assert!(
        said.contains("restore etcd's data") || said.contains("/restore"),
        "{said}"
    );
    assert!(
        !state.join(&name).join("restore").exists(),
        "the finished restore's snapshot stayed"
    );

    // The operator's old kubeconfig works; what etcd held at the backup is back, what
    // came after is not.
    assert_eq!(
        configmap(&old_admin, "before-backup").as_deref(),
        Some("kept")
    );
    assert_eq!(configmap(&old_admin, "after-backup"), None);
    let nodes = cluster::nodes(&old_admin);
    for (host, roles) in topology.hosts(0) {
        if roles.contains(&"control-plane") || roles.contains(&"worker") {
            assert!(nodes.contains(&host), "{host} is not a node: {nodes:?}");
        }
    }
    Some((setup, archive))
}

/// `topology` backed up, reset and restored; then `etcdctl member list` on the first
/// host (with the certificates under `pki`) lists `names`, every one started.
fn restored_with_members(topology: Topology, pki: &str, names: [&str; 3]) {
    let Some((setup, _)) = backup_reset_restore(topology, topology == Topology::StackedHa) else {
        return;
    };
    let first = setup.lab.hosts[0].address;
    let listed = cluster::etcd_members(&setup.lab, 0, &format!("https://{first}:2379"), pki);
    let listed: Vec<String> = listed
        .iter()
        .map(|m| m.rsplit_once(' ').unwrap().0.to_owned())
        .collect();
    let expected: Vec<String> = names.iter().map(|n| format!("{n} started")).collect();
    assert_eq!(listed, expected);
}

#[test]
fn external_etcd_is_backed_up_reset_and_restored_on_every_member() {
    restored_with_members(
        Topology::ExternalEtcd,
        "/etc/etcd/pki",
        ["etcd-1", "etcd-2", "etcd-3"],
    );
}

#[test]
fn stacked_etcd_is_restored_over_the_running_cluster_on_the_first_control_plane_and_the_others_join()
 {
    restored_with_members(
        Topology::StackedHa,
        "/etc/kubernetes/pki/etcd",
        ["kubemaster-1", "kubemaster-2", "kubemaster-3"],
    );
}

/// At a terminal, a restore over the running cluster asks for the restore, then for the
/// reset, then for the cluster's name typed out: a wrong name leaves the cluster as it
/// was; the right one resets and restores it.
#[test]
fn at_a_terminal_a_restore_over_the_running_cluster_wants_its_name_typed_out() {
    if !tmux::tmux_available() {
        panic!("tmux is missing: scripts/test.sh installs it");
    }
    let Some(setup) = cluster::installed(Topology::SingleNode, &[]) else {
        return;
    };
    let (state, preset) = (&setup.state, setup.preset_arg());
    let admin = state.join("labsolo/admin.conf");
    create_configmap(&admin, "before-backup", "kept");
    let out_dir = setup.work.path().join("backups");
    let backup = kubewiz(
        state,
        &[
            "backup",
            "--preset",
            preset,
            "--out",
            out_dir.to_str().unwrap(),
            "--yes",
        ],
    );
    assert!(backup.status.success(), "{}", cluster::text(&backup));
    let archive = fs::read_dir(&out_dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .expect("an archive");
    create_configmap(&admin, "after-backup", "lost");
    let term = tmux::Tmux::start("restore-over");
    let joined = || {
        String::from_utf8_lossy(&term.run(&["capture-pane", "-p", "-J", "-t", "kw"]).stdout)
            .into_owned()
    };
    let wait_asked = |n: usize| {
        let started = std::time::Instant::now();
        while joined().matches("[y/N]").count() < n {
            assert!(
                started.elapsed() < std::time::Duration::from_secs(60),
                "no question {n}:\n{}",
                joined()
            );
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    };
    let command = format!(
        "clear; {} --state-dir {} restore --preset {preset} --from {} --replace-running; echo EXIT=$?",
        env!("CARGO_BIN_EXE_kubewiz"),
        state.display(),
        archive.display()
    );
    for (name, code) in [("labsol", 1), ("labsolo", 0)] {
        term.keys(&[&command, "Enter"]);
        wait_asked(1);
        term.keys(&["y", "Enter"]);
        wait_asked(2);
        term.keys(&["y", "Enter"]);
        term.wait_for("to reset it:", std::time::Duration::from_secs(30));
        term.keys(&[name, "Enter"]);
        let (exit, screen) = term.wait_for_exit(std::time::Duration::from_secs(300));
        assert_eq!(exit, code, "{}", joined());
        if code == 1 {
            assert!(screen.contains("nothing was done"), "{screen}");
            // Untouched: what was written after the backup is still there.
            assert_eq!(configmap(&admin, "after-backup").as_deref(), Some("lost"));
        }
    }
    assert_eq!(configmap(&admin, "before-backup").as_deref(), Some("kept"));
    assert_eq!(configmap(&admin, "after-backup"), None);
}

/// From the wizard's manage view in a real terminal: Back up (its plan first, then the
/// archive in the cluster's backups/), then Restore over the cluster that still answers:
/// the archive offered is that backup, the reset before it wants the cluster's name
/// typed out (a wrong one does nothing), and Done then offers the restore, which puts
/// back what etcd held at the backup.
#[test]
fn from_the_wizard_a_cluster_is_backed_up_then_reset_and_restored() {
    if !tmux::tmux_available() {
        panic!("tmux is missing: scripts/test.sh installs it");
    }
    let Some(setup) = cluster::installed(Topology::SingleNode, &[]) else {
        return;
    };
    let state = &setup.state;
    let admin = state.join("labsolo/admin.conf");
    let backups = state.join("labsolo/backups");
    create_configmap(&admin, "before-backup", "kept");
    let wait = std::time::Duration::from_secs;
    let open_manage = |tmux: &tmux::Tmux| {
        tmux.run_kubewiz(&format!("--state-dir {}", state.display()));
        tmux.wait_for("1/9 Start", wait(20));
        tmux.keys(&["Down", "Enter"]);
        tmux.wait_for("Ready v", wait(30));
    };

    let tmux = tmux::Tmux::start("lab-backup-wizard");
    open_manage(&tmux);
    tmux.keys(&["Down", "Down", "Down", "Down", "Down", "Enter"]);
    let preview = tmux.wait_for("dry run: ON", wait(60));
    assert!(preview.contains("Plan ("), "{preview}");
    tmux.keys(&["d", "n"]);
    tmux.wait_for("Run it?", wait(10));
    tmux.keys(&["y"]);
    tmux.wait_for("backup finished", wait(300));
    tmux.keys(&["n"]);
    tmux.wait_for("is backed up into", wait(10));
    tmux.keys(&["q"]);
    let (code, after) = tmux.wait_for_exit(wait(10));
    assert_eq!(code, 0, "{after}");
    let archives: Vec<PathBuf> = fs::read_dir(&backups)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with(".tar.gz"))
        .collect();
    assert_eq!(archives.len(), 1, "{archives:?}");
    let archive = &archives[0];
    archive_is_sound(archive, &state.join("labsolo"));
    create_configmap(&admin, "after-backup", "lost");

    open_manage(&tmux);
    tmux.keys(&["Down", "Down", "Down", "Down", "Down", "Down", "Enter"]);
    let asked = tmux.wait_for("The backup archive to restore from", wait(10));
    let name = archive.file_name().unwrap().to_string_lossy().into_owned();
    assert!(asked.contains(&name[..20]), "{name} not offered:\n{asked}");
    tmux.keys(&["Enter"]);
    // The cluster answers: the preview is the reset's, dry run still on.
    tmux.wait_for("dry run: ON", wait(60));
    tmux.keys(&["d", "n"]);
    let question = tmux.wait_for("Run it?", wait(10));
    assert!(question.contains("still answers"), "{question}");
    tmux.keys(&["y"]);
    tmux.wait_for("Type the cluster's name", wait(10));
    tmux.keys(&["labsol", "Enter"]);
    tmux.wait_for("Nothing was done", wait(10));
    assert_eq!(configmap(&admin, "after-backup").as_deref(), Some("lost"));
    tmux.keys(&["Enter", "n"]);
    tmux.wait_for("Run it?", wait(10));
    tmux.keys(&["y"]);
    tmux.wait_for("Type the cluster's name", wait(10));
    tmux.keys(&["labsolo", "Enter"]);
    tmux.wait_for("reset finished", wait(300));
    tmux.keys(&["n"]);
    tmux.wait_for("the restore follows with a", wait(10));
    tmux.keys(&["a"]);
    tmux.wait_for("dry run: OFF", wait(60));
    tmux.keys(&["n"]);
    tmux.wait_for("Run it?", wait(10));
    tmux.keys(&["y"]);
    tmux.wait_for("restore finished", wait(600));
    tmux.keys(&["n"]);
    tmux.wait_for("is restored from", wait(10));
    tmux.keys(&["q"]);
    let (code, after) = tmux.wait_for_exit(wait(10));
    assert_eq!(code, 0, "{after}");
    assert!(
        !state.join("labsolo/restore").exists(),
        "the finished restore's snapshot stayed"
    );
    assert_eq!(configmap(&admin, "before-backup").as_deref(), Some("kept"));
    assert_eq!(configmap(&admin, "after-backup"), None);
    cluster::verify_audit_logs(state);
}
