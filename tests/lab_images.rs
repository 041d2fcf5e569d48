//! Container images from the air-gap bundle, with the real containerd (Debian's) on lab
//! hosts: the bundle's containerd, ctr and runc are the machine's own, so the nodes
//! import real image archives into containerd's `k8s.io` namespace. The archives are
//! made here from a small real image (the static busybox, as an OCI layout), one per
//! reference group, named as kubeadm names its images.
//!
//! A bundle without images stops at `kubeadm init`'s image check (the stand-in asks the
//! real containerd, as kubeadm does, and no registry answers); `kubewiz bundle check`
//! says what is missing; with the archives added, `apply` is refused no more and the
//! run goes on from where it stopped.

#[path = "lab/mod.rs"]
mod lab;

#[path = "lab/cluster.rs"]
mod cluster;

use std::fs;
use std::path::Path;

use cluster::{Topology, image_archive, kubeadm_images};

/// The image references in containerd's k8s.io namespace on lab host `i`.
fn containerd_images(lab: &lab::Lab, i: usize) -> Vec<String> {
    let out = lab.exec(i, "ctr -n k8s.io images ls -q");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.starts_with("sha256:"))
        .map(String::from)
        .collect()
}

#[test]
fn a_bundle_install_imports_its_images_into_the_real_containerd() {
    let Some(lab) = cluster::start_lab(2) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let bundle = cluster::bundle(work.path());
    // The machine's real containerd, its client and runc instead of the stand-in.
    cluster::with_real_containerd(&bundle);
    let text = cluster::with_cni(
        &cluster::preset(&lab, Topology::SingleMaster, 0, &bundle),
        "flannel",
    );
    cluster::write_cni_config(&lab);
    let preset = work.path().join("single-master.toml");
    fs::write(&preset, &text).unwrap();
    let preset = preset.to_str().unwrap();
    let state = work.path().join("state");

    // Without images/, the nodes would pull: kubeadm init's image check stops the run
    // naming the image, as kubeadm does with no registry in reach.
    let (out, _) = cluster::apply(&state, Path::new(preset));
    let said = cluster::text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains(
            "[ERROR ImagePull]: failed to pull image registry.k8s.io/kube-apiserver:v1.34.2"
        ),
        "{said}"
    );

    // bundle check lists every image as pulled, none is in the bundle.
    let (out, _) = cluster::kubewiz(&state, &["bundle", "check", "--preset", preset]);
    let report = cluster::text(&out);
    assert_eq!(out.status.code(), Some(0), "{report}");
    assert!(
        report.contains("pulled   registry.k8s.io/pause:3.10.1"),
        "{report}"
    );

    // images/ with the node's images only: refused before any host, naming the
    // control plane's; bundle check exits 1 listing them.
    let kubeadm = kubeadm_images(&bundle);
    let (control_plane, node): (Vec<String>, Vec<String>) = kubeadm.into_iter().partition(|i| {
        [
            "kube-apiserver:",
            "kube-controller-manager:",
            "kube-scheduler:",
            "/etcd:",
        ]
        .iter()
        .any(|n| i.contains(n))
    });
    let mut node = node;
    node.push("registry.lab.example/flannel:v0.27.4".into());
    let images = bundle.join("images");
    fs::create_dir(&images).unwrap();
    image_archive(&images.join("node.tar"), &node);
    let (out, _) = cluster::kubewiz(&state, &["bundle", "check", "--preset", preset]);
    let report = cluster::text(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains("missing  registry.k8s.io/kube-apiserver:v1.34.2")
            && report.contains("ok       registry.k8s.io/kube-proxy:v1.34.2"),
        "{report}"
    );
    let (out, _) = cluster::apply(&state, Path::new(preset));
    let said = cluster::text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("lacks images its nodes run")
            && said.contains("registry.k8s.io/kube-scheduler:v1.34.2 (control planes)"),
        "{said}"
    );

    // Every image in the bundle: the run goes on and the cluster is installed.
    image_archive(&images.join("control-plane.tar"), &control_plane);
    let (out, _) = cluster::kubewiz(&state, &["bundle", "check", "--preset", preset]);
    assert_eq!(out.status.code(), Some(0), "{}", cluster::text(&out));
    let (out, _) = cluster::apply(&state, Path::new(preset));
    assert!(out.status.success(), "{}", cluster::text(&out));
    let kubeconfig = state.join("labsingle/admin.conf");
    assert_eq!(cluster::nodes(&kubeconfig), ["kubemaster-1", "kubenode-1"]);

    // The control plane has every image; the worker only the node's, and was never
    // sent the control plane's archive.
    let mut all: Vec<String> = control_plane.iter().chain(&node).cloned().collect();
    all.sort();
    assert_eq!(containerd_images(&lab, 0), all);
    let mut node_sorted = node.clone();
    node_sorted.sort();
    assert_eq!(containerd_images(&lab, 1), node_sorted);
    let sent = lab.exec(1, "ls /var/lib/kubewiz/images");
    assert_eq!(String::from_utf8_lossy(&sent.stdout).trim(), "node.tar");
}
