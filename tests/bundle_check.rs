//! `kubewiz bundle check --preset FILE` on the test bundle (the stand-ins, the real
//! kubectl and etcd; tests/lab/cluster.rs), run as an operator would before an air-gapped
//! install: each program with the version it reports, the pod network's files, the
//! images against what the bundle's kubeadm lists, and exit 1 for anything missing.
//! No host is contacted.

#[path = "lab/mod.rs"]
mod lab;

#[path = "lab/cluster.rs"]
mod cluster;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

/// The single-node preset installing `version` with flannel from `bundle`.
fn preset(dir: &Path, bundle: &Path, version: &str) -> String {
    let text =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/single-node.toml"))
            .unwrap()
            .replace("version = \"1.34.2\"", &format!("version = \"{version}\""));
    let path = dir.join(format!("solo-{version}.toml"));
    fs::write(
        &path,
        format!(
            "{text}\n[packages]\nsource = \"bundle\"\nbundle_dir = \"{}\"\n",
            bundle.display()
        ),
    )
    .unwrap();
    path.to_string_lossy().into_owned()
}

fn check(preset: &str) -> (Output, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .args(["bundle", "check", "--preset", preset])
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out, said)
}

#[test]
fn a_bundle_is_checked_against_what_the_preset_needs() {
    let work = tempfile::tempdir().unwrap();
    let bundle = cluster::bundle(work.path());
    let solo = preset(work.path(), &bundle, "1.34.2");

    // The test bundle has no runc: the check says so, with who needs it, and fails.
    let (out, said) = check(&solo);
    assert_eq!(out.status.code(), Some(1), "{said}");
    for line in [
        "ok       kubeadm     v1.34.2",
        "ok       kubelet     Kubernetes v1.34.2",
        "missing  runc        (for every node: containerd runs containers with it)",
        "absent   ctr         (for every node: imports images/)",
        "warn     kubectl     Client Version: v1.37.1 (kubectl is supported within one minor of the cluster's v1.34)",
        "ok       manifests/kube-flannel-v0.27.4.yml",
        "pulled   registry.k8s.io/kube-apiserver:v1.34.2",
        "1 problem: the install would stop on it",
    ] {
        assert!(said.contains(line), "no `{line}` in:\n{said}");
    }
    fs::copy("/usr/sbin/runc", bundle.join("bin/runc")).unwrap();
    let (out, said) = check(&solo);
    assert_eq!(out.status.code(), Some(0), "{said}");
    assert!(
        said.contains("the bundle has everything the preset needs"),
        "{said}"
    );

    // A preset of another version than the bundle's kubeadm.
    let (out, said) = check(&preset(work.path(), &bundle, "1.34.1"));
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains(
            "wrong    kubeadm     v1.34.2, the preset installs v1.34.1: put kubeadm v1.34.1 in bin/"
        ),
        "{said}"
    );

    // images/ with something that is not an image archive, and without ctr to import.
    fs::create_dir(bundle.join("images")).unwrap();
    fs::write(bundle.join("images/notes.txt"), "x").unwrap();
    let (out, said) = check(&solo);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(said.contains("missing  ctr"), "{said}");
    assert!(said.contains("notes.txt is not an image archive"), "{said}");

    // The pod network's manifest missing: named with where it is published.
    fs::remove_file(bundle.join("images/notes.txt")).unwrap();
    fs::remove_file(bundle.join("manifests/kube-flannel-v0.27.4.yml")).unwrap();
    let (out, said) = check(&solo);
    assert_eq!(out.status.code(), Some(1), "{said}");
    assert!(
        said.contains("missing  manifests/kube-flannel-v0.27.4.yml")
            && said.contains(
                "https://github.com/flannel-io/flannel/releases/download/v0.27.4/kube-flannel.yml"
            ),
        "{said}"
    );
    assert!(
        said.contains("missing  registry.k8s.io/pause:3.10.1"),
        "an empty images/ lacks every image:\n{said}"
    );
}

#[test]
fn an_online_preset_has_no_bundle_to_check() {
    let preset = Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/single-node.toml");
    let (out, said) = check(preset.to_str().unwrap());
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(said.contains("there is no bundle to check"), "{said}");
}
