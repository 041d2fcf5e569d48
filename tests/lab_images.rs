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

use cluster::Topology;
use kubewiz::digest::sha256_hex;

/// An OCI image layout holding one image (a layer with the static busybox) under each
/// of `refs`, written as the tar file `path`.
fn oci_archive(path: &Path, refs: &[String]) {
    let busybox = fs::read("/bin/busybox")
        .expect("/bin/busybox: scripts/test.sh installs Debian's busybox-static");
    let mut layer = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(busybox.len() as u64);
    h.set_mode(0o755);
    h.set_cksum();
    layer
        .append_data(&mut h, "bin/busybox", busybox.as_slice())
        .unwrap();
    let layer = layer.into_inner().unwrap();
    let layer_digest = sha256_hex(&layer);
    let config = serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Entrypoint": ["/bin/busybox"]},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{layer_digest}")]}
    })
    .to_string();
    let config_digest = sha256_hex(config.as_bytes());
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": format!("sha256:{config_digest}"), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": format!("sha256:{layer_digest}"), "size": layer.len()}]
    })
    .to_string();
    let manifest_digest = sha256_hex(manifest.as_bytes());
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": refs.iter().map(|r| serde_json::json!({
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": format!("sha256:{manifest_digest}"), "size": manifest.len(),
            "annotations": {"io.containerd.image.name": r,
                            "org.opencontainers.image.ref.name": r.rsplit(':').next().unwrap()}
        })).collect::<Vec<_>>()
    })
    .to_string();
    let mut out = tar::Builder::new(fs::File::create(path).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_gnu();
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        out.append_data(&mut h, name, data).unwrap();
    };
    add("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#);
    add("index.json", index.as_bytes());
    add(&format!("blobs/sha256/{layer_digest}"), &layer);
    add(&format!("blobs/sha256/{config_digest}"), config.as_bytes());
    add(
        &format!("blobs/sha256/{manifest_digest}"),
        manifest.as_bytes(),
    );
    out.into_inner().unwrap();
}

/// The images the bundle's kubeadm lists for the preset (version 1.34.2, registry.k8s.io).
fn kubeadm_images(bundle: &Path) -> Vec<String> {
    let out = std::process::Command::new(bundle.join("bin/kubeadm"))
        .args([
            "config",
            "images",
            "list",
            "--kubernetes-version",
            "v1.34.2",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(String::from)
        .collect()
}

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
    for (program, from) in [
        ("containerd", "/usr/bin/containerd"),
        ("ctr", "/usr/bin/ctr"),
        ("runc", "/usr/sbin/runc"),
        (
            "containerd-shim-runc-v2",
            "/usr/bin/containerd-shim-runc-v2",
        ),
    ] {
        fs::copy(from, bundle.join("bin").join(program))
            .unwrap_or_else(|e| panic!("{from}: {e} (scripts/test.sh installs containerd)"));
    }
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
    let (out, _) = cluster::kubewiz(&state, &["apply", "--preset", preset, "--no-tui", "--yes"]);
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
    oci_archive(&images.join("node.tar"), &node);
    let (out, _) = cluster::kubewiz(&state, &["bundle", "check", "--preset", preset]);
    let report = cluster::text(&out);
    assert_eq!(out.status.code(), Some(1), "{report}");
    assert!(
        report.contains("missing  registry.k8s.io/kube-apiserver:v1.34.2")
            && report.contains("ok       registry.k8s.io/kube-proxy:v1.34.2"),
        "{report}"
    );
    let (out, _) = cluster::kubewiz(&state, &["apply", "--preset", preset, "--no-tui", "--yes"]);
    let said = cluster::text(&out);
    assert!(!out.status.success(), "{said}");
    assert!(
        said.contains("lacks images its nodes run")
            && said.contains("registry.k8s.io/kube-scheduler:v1.34.2 (control planes)"),
        "{said}"
    );

    // Every image in the bundle: the run goes on and the cluster is installed.
    oci_archive(&images.join("control-plane.tar"), &control_plane);
    let (out, _) = cluster::kubewiz(&state, &["bundle", "check", "--preset", preset]);
    assert_eq!(out.status.code(), Some(0), "{}", cluster::text(&out));
    let (out, _) = cluster::kubewiz(&state, &["apply", "--preset", preset, "--no-tui", "--yes"]);
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
