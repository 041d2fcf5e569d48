//! `kubewiz certs` through the real binary without hosts: a renewal whose hosts cannot
//! be reached keeps its certificates and its list, and running it again continues the
//! same renewal instead of issuing other certificates; a dry run saves nothing; bad
//! names and a missing PKI are clear errors. (Whole renewals on lab hosts:
//! tests/lab_certs.rs.)

use std::fs;
use std::path::Path;
use std::process::{Command, Output, Stdio};

fn kubewiz(state: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// This machine's first global IPv4 address: hosts there refuse port 1 at once.
fn own_address() -> Option<String> {
    let out = Command::new("ip")
        .args(["-4", "-o", "addr", "show", "scope", "global"])
        .output()
        .ok()?;
    String::from_utf8_lossy(&out.stdout).lines().find_map(|l| {
        l.split_whitespace()
            .nth(3)?
            .split('/')
            .next()
            .map(str::to_owned)
    })
}

/// A single-node preset whose host refuses connections at once (port 1 of `address`),
/// with ECDSA keys (quick to make).
fn preset(dir: &Path, address: &str) -> String {
    let path = dir.join("unreachable.toml");
    fs::write(
        &path,
        format!(
            "name = \"nowhere\"\ntopology = \"single-node\"\n\n\
         [kubernetes]\nversion = \"1.34.2\"\ncni = \"none\"\nencryption_algorithm = \"ECDSA-P256\"\n\n\
         [ssh]\nuser = \"root\"\nport = 1\n\n\
         [[hosts]]\nname = \"cp-1\"\naddress = \"{address}\"\nroles = [\"control-plane\"]\n"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn an_unfinished_renewal_is_kept_and_continued() {
    let work = tempfile::tempdir().unwrap();
    let state = work.path().join("state");
    let Some(address) = own_address() else {
        eprintln!("SKIPPED: this machine has no global IPv4 address to refuse connections on");
        return;
    };
    let preset = preset(work.path(), &address);

    // No kept PKI yet: said, not made.
    let out = kubewiz(&state, &["certs", "renew", "--preset", &preset, "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("`kubewiz apply`"),
        "{}",
        text(&out)
    );

    let rendered = work.path().join("rendered");
    let out = kubewiz(
        &state,
        &[
            "render",
            "--preset",
            &preset,
            "--out",
            rendered.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", text(&out));
    let pki = state.join("nowhere/pki");
    let apiserver = pki.join("hosts/cp-1/apiserver.crt");
    let original = fs::read(&apiserver).unwrap();

    let out = kubewiz(
        &state,
        &["certs", "renew", "--preset", &preset, "--yes", "apiserverr"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("apiserverr is not a certificate of this cluster"),
        "{}",
        text(&out)
    );

    let out = kubewiz(
        &state,
        &["certs", "renew", "--preset", &preset, "--dry-run"],
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("certs-control-planes/cp-1/restart:etcd"),
        "{}",
        text(&out)
    );
    assert!(fs::read(&apiserver).unwrap() == original, "a dry run saved");
    assert!(!pki.join("renewal").exists());

    // The hosts refuse: the renewal fails after saving its certificates.
    let out = kubewiz(&state, &["certs", "renew", "--preset", &preset, "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("continues it"),
        "{}",
        text(&out)
    );
    let renewed = fs::read(&apiserver).unwrap();
    assert!(renewed != original, "the renewal was not saved");
    let list = fs::read_to_string(pki.join("renewal")).unwrap();
    assert!(list.lines().any(|l| l == "cp-1/apiserver"), "{list}");
    assert!(list.lines().any(|l| l == "cp-1/admin.conf"), "{list}");
    assert!(state.join("nowhere/certs-renew.journal").is_file());

    // Again: the same renewal, not a new one.
    let out = kubewiz(&state, &["certs", "renew", "--preset", &preset, "--yes"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("continuing the unfinished renewal"),
        "{}",
        text(&out)
    );
    assert!(fs::read(&apiserver).unwrap() == renewed, "issued again");

    // Each attempt is in the audit index under its own kind.
    let out = kubewiz(&state, &["audit", "list", "nowhere"]);
    let runs = String::from_utf8_lossy(&out.stdout);
    assert_eq!(runs.matches("certs-renew").count(), 3, "{runs}");

    // certs check: the hosts do not answer, reported as errors; exit 1.
    let out = kubewiz(&state, &["certs", "check", "--preset", &preset]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    // Nothing is due: the hint to renew would mislead.
    assert!(!report.contains("renew with"), "{report}");
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("error") && l.contains("cp-1") && l.contains("does not answer")),
        "{report}"
    );
    assert!(
        report.lines().any(|l| l.starts_with("ok")
            && l.contains("state")
            && l.contains("pki/hosts/cp-1/apiserver.crt")),
        "{report}"
    );
}
