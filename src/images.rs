//! The container images of an air-gap bundle: `bundle_dir/images/` holds image archives
//! (tar files in the OCI image layout, as `ctr images export` and `skopeo copy ...
//! oci-archive:` write them, or docker archives, as `docker save` writes them). What an
//! archive holds is read from its index (`index.json` or `manifest.json`) without reading
//! its layers, so a bundle of several GiB is looked at in milliseconds.
//!
//! Which hosts an image is for goes by its name, as kubeadm names its images: the
//! control plane's own (kube-apiserver, kube-controller-manager, kube-scheduler and
//! kube-vip) only on control planes, etcd's only on control planes running stacked etcd,
//! every other image (kube-proxy, pause, CoreDNS, the pod network's) on every node with
//! a kubelet.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

/// The bundle's folder of image archives.
pub const BUNDLE_IMAGES: &str = "images";

/// Where an image is run, by its name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RunsOn {
    /// The control planes' static Pods (and kube-vip's).
    ControlPlanes,
    /// etcd's static Pod: control planes with stacked etcd.
    StackedEtcd,
    /// Every node with a kubelet: kube-proxy, pause, CoreDNS, the pod network.
    EveryNode,
}

impl RunsOn {
    /// Where the image `reference` runs (`registry/path/name:tag`).
    pub fn of(reference: &str) -> RunsOn {
        match name_of(reference) {
            "kube-apiserver" | "kube-controller-manager" | "kube-scheduler" | "kube-vip" => {
                RunsOn::ControlPlanes
            }
            "etcd" => RunsOn::StackedEtcd,
            _ => RunsOn::EveryNode,
        }
    }

    /// Where, in the operator's words.
    pub fn describe(self) -> &'static str {
        match self {
            RunsOn::ControlPlanes => "control planes",
            RunsOn::StackedEtcd => "control planes running stacked etcd",
            RunsOn::EveryNode => "every node",
        }
    }
}

/// The last part of an image reference's path, without tag or digest:
/// `registry.k8s.io/coredns/coredns:v1.12.1` → `coredns`.
fn name_of(reference: &str) -> &str {
    let path = reference.split('@').next().unwrap_or(reference);
    let last = path.rsplit('/').next().unwrap_or(path);
    last.split(':').next().unwrap_or(last)
}

/// An image reference as containerd names it: a name without a registry is Docker
/// Hub's (`nginx:1` → `docker.io/library/nginx:1`), and one without a tag is `:latest`.
pub fn normalize(reference: &str) -> String {
    let reference = reference.trim();
    let (first, _) = reference.split_once('/').unwrap_or(("", reference));
    let has_registry = first.contains('.') || first.contains(':') || first == "localhost";
    let full = match (reference.contains('/'), has_registry) {
        (_, true) => reference.to_owned(),
        (true, false) => format!("docker.io/{reference}"),
        (false, false) => format!("docker.io/library/{reference}"),
    };
    let path = full.split('@').next().unwrap_or(&full);
    let last = path.rsplit('/').next().unwrap_or(path);
    if last.contains(':') || full.contains('@') {
        full
    } else {
        format!("{full}:latest")
    }
}

/// One archive of the bundle's `images/`: its file name and the image references it
/// holds (normalized, sorted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    pub file: String,
    pub refs: Vec<String>,
}

impl Archive {
    /// Whether a host whose images run on `places` needs this archive.
    pub fn wanted_by(&self, places: &[RunsOn]) -> bool {
        self.refs.iter().any(|r| places.contains(&RunsOn::of(r)))
    }
}

/// The image archives in `dir` (the bundle's `images/`), by file name: every `*.tar`
/// file. Another file there, or an archive that names no image, is an error naming it.
pub fn archives(dir: &Path) -> Result<Vec<Archive>, String> {
    let entries =
        std::fs::read_dir(dir).map_err(|e| format!("cannot read {}: {e}", dir.display()))?;
    let mut files: Vec<PathBuf> = Vec::new();
    for entry in entries {
        let path = entry
            .map_err(|e| format!("cannot read {}: {e}", dir.display()))?
            .path();
        if !path.is_file() {
            continue;
        }
        if path.extension().is_none_or(|e| e != "tar") {
            return Err(format!(
                "{} is not an image archive: {} holds only .tar files (an OCI layout or a docker archive, uncompressed)",
                path.display(),
                dir.display()
            ));
        }
        files.push(path);
    }
    files.sort();
    files
        .iter()
        .map(|path| {
            Ok(Archive {
                file: path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                refs: refs(path)?,
            })
        })
        .collect()
}

/// The largest index an archive may have: an index lists images, not their layers.
const INDEX_LIMIT: u64 = 4 << 20;

/// The image references the archive at `path` holds: the `io.containerd.image.name`
/// (else a full `org.opencontainers.image.ref.name`) of each manifest in an OCI
/// layout's `index.json`, or each `RepoTags` entry of a docker archive's
/// `manifest.json`. Sorted, without repeats.
pub fn refs(path: &Path) -> Result<Vec<String>, String> {
    let what = |e: &dyn std::fmt::Display| format!("{}: {e}", path.display());
    let file = File::open(path).map_err(|e| what(&e))?;
    let mut archive = tar::Archive::new(file);
    let mut index: Option<(bool, Vec<u8>)> = None;
    for entry in archive.entries_with_seek().map_err(|e| what(&e))? {
        let mut entry = entry.map_err(|e| what(&format!("not a tar file ({e})")))?;
        let name = entry.path().map_err(|e| what(&e))?.into_owned();
        let name = name.strip_prefix("./").unwrap_or(&name);
        let oci = name == Path::new("index.json");
        if !oci && name != Path::new("manifest.json") {
            continue;
        }
        if entry.size() > INDEX_LIMIT {
            return Err(what(&format!("{} is larger than 4 MiB", name.display())));
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).map_err(|e| what(&e))?;
        // An OCI layout may carry a docker manifest.json too: index.json wins.
        if oci || index.is_none() {
            index = Some((oci, bytes));
        }
    }
    let Some((oci, bytes)) = index else {
        return Err(what(
            &"has neither index.json (an OCI layout) nor manifest.json (a docker archive): not an image archive",
        ));
    };
    let json: serde_json::Value = serde_json::from_slice(&bytes).map_err(|e| {
        what(&format!(
            "{} is not JSON: {e}",
            if oci { "index.json" } else { "manifest.json" }
        ))
    })?;
    let mut out: Vec<String> = if oci {
        json["manifests"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let a = &m["annotations"];
                a["io.containerd.image.name"]
                    .as_str()
                    .or_else(|| {
                        a["org.opencontainers.image.ref.name"]
                            .as_str()
                            .filter(|r| r.contains('/'))
                    })
                    .map(normalize)
            })
            .collect()
    } else {
        json.as_array()
            .into_iter()
            .flatten()
            .flat_map(|m| m["RepoTags"].as_array().into_iter().flatten())
            .filter_map(|t| t.as_str().map(normalize))
            .collect()
    };
    out.sort();
    out.dedup();
    if out.is_empty() {
        return Err(what(
            &"names no image (no io.containerd.image.name annotation or RepoTags): containerd would import it without a name; export it with its reference, e.g. `ctr -n k8s.io images export FILE REF`",
        ));
    }
    Ok(out)
}

/// The images a Kubernetes manifest's containers name (`image:` values), normalized,
/// in order, without repeats.
pub fn manifest_images(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for line in text.lines() {
        let line = line.trim_start().trim_start_matches("- ");
        let Some(value) = line.strip_prefix("image:") else {
            continue;
        };
        let value = value.split(" #").next().unwrap_or(value);
        let value = value.trim().trim_matches(|c| c == '"' || c == '\'');
        if value.is_empty() {
            continue;
        }
        let image = normalize(value);
        if !out.contains(&image) {
            out.push(image);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn names_are_normalized_as_containerd_does() {
        assert_eq!(normalize("nginx"), "docker.io/library/nginx:latest");
        assert_eq!(
            normalize("calico/node:v3.30.3"),
            "docker.io/calico/node:v3.30.3"
        );
        assert_eq!(
            normalize("registry.k8s.io/pause:3.10.1"),
            "registry.k8s.io/pause:3.10.1"
        );
        assert_eq!(
            normalize("localhost:5000/etcd:3.6.4-0"),
            "localhost:5000/etcd:3.6.4-0"
        );
        assert_eq!(normalize("ghcr.io/a/b@sha256:00"), "ghcr.io/a/b@sha256:00");
    }

    #[test]
    fn images_run_where_their_role_runs() {
        for (image, runs_on) in [
            (
                "registry.k8s.io/kube-apiserver:v1.34.1",
                RunsOn::ControlPlanes,
            ),
            ("ghcr.io/kube-vip/kube-vip:v1.0.1", RunsOn::ControlPlanes),
            ("registry.k8s.io/etcd:3.6.4-0", RunsOn::StackedEtcd),
            ("registry.k8s.io/coredns/coredns:v1.12.1", RunsOn::EveryNode),
            ("localhost:5000/kube-proxy:v1.34.1", RunsOn::EveryNode),
        ] {
            assert_eq!(RunsOn::of(image), runs_on, "{image}");
        }
    }

    fn tar_with(path: &Path, files: &[(&str, &[u8])]) {
        let mut b = tar::Builder::new(File::create(path).unwrap());
        for (name, data) in files {
            let mut h = tar::Header::new_gnu();
            h.set_size(data.len() as u64);
            h.set_mode(0o644);
            h.set_cksum();
            b.append_data(&mut h, name, *data).unwrap();
        }
        b.into_inner().unwrap().flush().unwrap();
    }

    #[test]
    fn an_oci_layout_and_a_docker_archive_name_their_images() {
        let dir = tempfile::tempdir().unwrap();
        let big = vec![0u8; 3 << 20];
        tar_with(
            &dir.path().join("a.tar"),
            &[
                ("oci-layout", b"{}"),
                ("blobs/sha256/00", &big),
                (
                    "./index.json",
                    br#"{"manifests":[
                        {"annotations":{"io.containerd.image.name":"registry.k8s.io/pause:3.10.1","org.opencontainers.image.ref.name":"3.10.1"}},
                        {"annotations":{"org.opencontainers.image.ref.name":"quay.io/tigera/operator:v1.38.6"}},
                        {"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}"#,
                ),
            ],
        );
        tar_with(
            &dir.path().join("b.tar"),
            &[(
                "manifest.json",
                br#"[{"RepoTags":["flannel/flannel:v0.27.4","registry.k8s.io/pause:3.10.1"]}]"#,
            )],
        );
        let found = archives(dir.path()).unwrap();
        assert_eq!(found[0].file, "a.tar");
        assert_eq!(
            found[0].refs,
            [
                "quay.io/tigera/operator:v1.38.6",
                "registry.k8s.io/pause:3.10.1"
            ]
        );
        assert_eq!(
            found[1].refs,
            [
                "docker.io/flannel/flannel:v0.27.4",
                "registry.k8s.io/pause:3.10.1"
            ]
        );
        assert!(found[1].wanted_by(&[RunsOn::EveryNode]));
        assert!(!found[1].wanted_by(&[RunsOn::ControlPlanes]));
    }

    #[test]
    fn what_is_not_an_image_archive_is_named() {
        let dir = tempfile::tempdir().unwrap();
        tar_with(&dir.path().join("x.tar"), &[("readme", b"hello")]);
        let e = archives(dir.path()).unwrap_err();
        assert!(
            e.contains("x.tar") && e.contains("neither index.json"),
            "{e}"
        );
        tar_with(
            &dir.path().join("x.tar"),
            &[("index.json", br#"{"manifests":[{}]}"#)],
        );
        let e = archives(dir.path()).unwrap_err();
        assert!(e.contains("names no image"), "{e}");
        std::fs::write(dir.path().join("x.tar"), b"not a tar at all, not 512 bytes").unwrap();
        assert!(archives(dir.path()).is_err());
        std::fs::remove_file(dir.path().join("x.tar")).unwrap();
        std::fs::write(dir.path().join("notes.txt"), b"").unwrap();
        let e = archives(dir.path()).unwrap_err();
        assert!(e.contains("notes.txt") && e.contains("only .tar"), "{e}");
    }

    #[test]
    fn a_manifests_images_are_read_from_its_containers() {
        let text = "spec:\n  containers:\n  - name: a\n    image: ghcr.io/flannel-io/flannel:v0.27.4 # pinned\n  initContainers:\n  - image: \"ghcr.io/flannel-io/flannel-cni-plugin:v1.8.0-flannel1\"\n  - image: ghcr.io/flannel-io/flannel:v0.27.4\n";
        assert_eq!(
            manifest_images(text),
            [
                "ghcr.io/flannel-io/flannel:v0.27.4",
                "ghcr.io/flannel-io/flannel-cni-plugin:v1.8.0-flannel1"
            ]
        );
    }
}
