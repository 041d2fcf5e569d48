//! `kubewiz backup` and `kubewiz restore` through the real binary without hosts: what is
//! refused, and said, before any host is touched (no audit log is started). Whole
//! backups and restores on lab hosts: tests/lab_backup.rs.

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use kubewiz::archive::{self, Member};

fn kubewiz(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn preset(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("presets")
        .join(name)
        .to_str()
        .unwrap()
        .to_owned()
}

/// The external-etcd preset with ECDSA keys (quick to make), written into `dir`.
fn ecdsa_preset(dir: &Path) -> String {
    let text = fs::read_to_string(preset("external-etcd.toml"))
        .unwrap()
        .replace(
            "cni = \"calico\"\n",
            "cni = \"calico\"\nencryption_algorithm = \"ECDSA-P256\"\n",
        );
    let path = dir.join("extetcd.toml");
    fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_owned()
}

/// An archive of cluster `cluster` with a whole PKI made for `preset` (its snapshot
/// made up: nothing here reads it).
fn archive_of(dir: &Path, cluster: &str, preset: &str) -> std::path::PathBuf {
    let spec = kubewiz::spec::load_file(Path::new(preset)).unwrap().spec;
    let layout = kubewiz::spec::layout::Layout::new(&spec).unwrap();
    let pki = dir.join(format!("{cluster}-pki"));
    kubewiz::pki::load_or_create(&pki, &layout).unwrap();
    let mut members = vec![Member {
        path: archive::SNAPSHOT.into(),
        mode: 0o600,
        content: vec![7; 4096],
    }];
    for file in walk(&pki) {
        let rel = file.strip_prefix(&pki).unwrap().display().to_string();
        members.push(Member {
            path: format!("{}{rel}", archive::PKI_PREFIX),
            mode: 0o600,
            content: fs::read(&file).unwrap(),
        });
    }
    let path = dir.join(format!("{cluster}.tar.gz"));
    archive::write(&path, cluster, "2026-12-04T00:00:00Z", "etcd-1", &members).unwrap();
    path
}

/// The audit logs of runs under `state`.
fn runs_logged(state: &Path) -> Vec<std::path::PathBuf> {
    walk(state)
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl") && !p.ends_with("runs.jsonl"))
        .collect()
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .flat_map(|e| {
            let p = e.path();
            if p.is_dir() { walk(&p) } else { vec![p] }
        })
        .collect()
}

#[test]
fn a_cluster_that_was_never_installed_has_nothing_to_back_up() {
    let state = tempfile::tempdir().unwrap();
    let out = kubewiz(
        state.path(),
        &["backup", "--preset", &preset("external-etcd.toml"), "--yes"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("cluster extetcd is not installed from"),
        "{}",
        stderr(&out)
    );
    assert_eq!(
        runs_logged(state.path()),
        Vec::<std::path::PathBuf>::new(),
        "a run was started"
    );
}

#[test]
fn without_a_terminal_backup_and_restore_want_yes() {
    let state = tempfile::tempdir().unwrap();
    let out = kubewiz(
        state.path(),
        &["backup", "--preset", &preset("external-etcd.toml")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("give --yes"), "{}", stderr(&out));
    let out = kubewiz(
        state.path(),
        &[
            "restore",
            "--preset",
            &preset("external-etcd.toml"),
            "--from",
            "/nonexistent.tar.gz",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_damaged_archive_and_another_clusters_archive_are_refused_before_any_host() {
    let state = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let preset = ecdsa_preset(work.path());
    let restore = |from: &Path| {
        kubewiz(
            state.path(),
            &[
                "restore",
                "--preset",
                &preset,
                "--from",
                from.to_str().unwrap(),
                "--yes",
            ],
        )
    };

    let missing = restore(&work.path().join("missing.tar.gz"));
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("cannot read it"),
        "{}",
        stderr(&missing)
    );

    let other = archive_of(work.path(), "othercluster", &preset);
    let out = restore(&other);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("is an archive of cluster othercluster, not of cluster extetcd"),
        "{}",
        stderr(&out)
    );

    let good = archive_of(work.path(), "extetcd", &preset);
    let mut bytes = fs::read(&good).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    fs::write(&good, &bytes).unwrap();
    let out = restore(&good);
    assert_eq!(out.status.code(), Some(1));
    let said = stderr(&out);
    assert!(said.contains("is damaged or was changed"), "{said}");
    assert!(said.contains(".sha256 says"), "{said}");
    assert_eq!(
        runs_logged(state.path()),
        Vec::<std::path::PathBuf>::new(),
        "a run was started"
    );
    assert!(
        !state.path().join("extetcd/pki").exists(),
        "a refused archive's PKI was kept"
    );
}

#[test]
fn the_dry_run_of_a_restore_shows_every_member_restoring_with_the_archives_pki() {
    let state = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let preset = ecdsa_preset(work.path());
    let from = archive_of(work.path(), "extetcd", &preset);
    let out = kubewiz(
        state.path(),
        &[
            "restore",
            "--preset",
            &preset,
            "--from",
            from.to_str().unwrap(),
            "--dry-run",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", stderr(&out));
    for member in ["etcd-1", "etcd-2", "etcd-3"] {
        assert!(
            stdout.contains(&format!("etcd/{member}/restore")),
            "{member}:\n{stdout}"
        );
    }
    // No restore is kept, and no PKI: the dry run rendered from the archive's in a
    // scratch directory (a PKI made here would make the real restore refuse the
    // archive's CAs).
    assert!(!state.path().join("extetcd/restore").exists());
    assert!(
        !state.path().join("extetcd/pki").exists(),
        "the dry run kept a PKI"
    );
    assert_eq!(
        runs_logged(state.path()).len(),
        1,
        "the dry run's own log only"
    );
}
