//! Container images from an air-gap bundle (`bundle_dir/images/`): which archives each
//! node gets, the prepare phase's steps that send and import them into containerd's
//! `k8s.io` namespace (where the kubelet looks), the check afterwards against the
//! images the node runs, and what a bundle's images lack for the preset.
//!
//! The images a node runs: those `kubeadm config images list` names for the preset's
//! version and repository (by role: [`RunsOn`]), the pod network's (the `image:` values
//! of the CNI's manifests in the bundle) and kube-vip's on control planes when it is the
//! load balancer. Images that an operator or chart starts later (Calico's operator, the
//! Cilium chart) are not in a manifest and are not checked; archives holding them are
//! imported all the same.

use std::path::{Path, PathBuf};

use super::steps::Steps;
use super::{Action, BundlePick};
use crate::images::{self, Archive, BUNDLE_IMAGES, RunsOn};
use crate::render::{cni, lb::KUBE_VIP_IMAGE};
use crate::shell::quote;
use crate::spec::layout::{Layout, LbLayout};
use crate::spec::{ClusterSpec, HostSpec, PackageSource, Role};

/// Where the archives go on the nodes. They stay there, so a run again sends only
/// what changed; `kubewiz reset` removes them with the rest of kubewiz's state.
pub const HOST_IMAGES: &str = "/var/lib/kubewiz/images";

/// The bundle's `images/` folder of an install from a bundle that has one.
pub fn bundle_images_dir(spec: &ClusterSpec) -> Option<PathBuf> {
    if spec.packages.source != PackageSource::Bundle {
        return None;
    }
    let dir = spec.packages.bundle_dir.as_ref()?.join(BUNDLE_IMAGES);
    dir.is_dir().then_some(dir)
}

/// Where the images of host `h` run: nowhere for a host without a kubelet.
pub fn places(layout: &Layout, h: &HostSpec) -> Vec<RunsOn> {
    if h.roles.contains(&Role::ControlPlane) {
        let mut p = vec![RunsOn::ControlPlanes, RunsOn::EveryNode];
        if layout.etcd.is_empty() {
            p.push(RunsOn::StackedEtcd);
        }
        p
    } else if h.roles.contains(&Role::Worker) {
        vec![RunsOn::EveryNode]
    } else {
        Vec::new()
    }
}

/// The images the pod network's manifests in the bundle name (empty when a manifest
/// cannot be read: the plan's check names the missing file).
pub fn cni_images(spec: &ClusterSpec) -> Vec<String> {
    let Some(dir) = spec.packages.bundle_dir.as_deref() else {
        return Vec::new();
    };
    let mut out: Vec<String> = Vec::new();
    for m in cni::manifests(spec) {
        let text = std::fs::read_to_string(dir.join(&m.bundle_path)).unwrap_or_default();
        for image in images::manifest_images(&text) {
            if !out.contains(&image) {
                out.push(image);
            }
        }
    }
    out
}

/// The images besides kubeadm's that host `h` runs: the pod network's, and kube-vip's
/// on a control plane when it is the load balancer.
fn extra_images(layout: &Layout, h: &HostSpec, cni: &[String]) -> Vec<String> {
    let places = places(layout, h);
    let mut out: Vec<String> = cni.to_vec();
    if matches!(layout.lb, LbLayout::KubeVip { .. }) && places.contains(&RunsOn::ControlPlanes) {
        out.push(KUBE_VIP_IMAGE.to_owned());
    }
    out.retain(|i| places.contains(&RunsOn::of(i)));
    out
}

/// A filter of `kubeadm config images list`'s lines down to the images that run in
/// `places`.
fn kubeadm_filter(places: &[RunsOn]) -> &'static str {
    match (
        places.contains(&RunsOn::ControlPlanes),
        places.contains(&RunsOn::StackedEtcd),
    ) {
        (true, true) => "cat",
        (true, false) => "grep -v '/etcd:'",
        _ => "grep -Ev '/(kube-apiserver|kube-controller-manager|kube-scheduler|etcd):'",
    }
}

/// What the prepare phase reads of the bundle's images once for all its hosts.
pub(super) struct BundleImages {
    dir: PathBuf,
    fingerprint: String,
    /// Unreadable archives leave this empty: the plan's check refuses the run, naming
    /// them ([`bundle_problems`]).
    archives: Vec<Archive>,
    cni: Vec<String>,
}

impl BundleImages {
    /// None for an install without the bundle's `images/`.
    pub(super) fn read(spec: &ClusterSpec) -> Option<BundleImages> {
        let dir = bundle_images_dir(spec)?;
        Some(BundleImages {
            fingerprint: super::bundle_fingerprint(&dir),
            archives: images::archives(&dir).unwrap_or_default(),
            cni: cni_images(spec),
            dir,
        })
    }
}

/// The prepare phase's steps for the bundle's images on host `h`, once containerd
/// runs: its archives sent (each once, and not again when unchanged), imported, and
/// containerd's list checked against every image the node runs. Nothing for a host
/// without a kubelet, or a bundle without `images/`.
pub(super) fn import_steps(
    layout: &Layout,
    bundle: Option<&BundleImages>,
    s: &mut Steps,
    h: &HostSpec,
) {
    let spec = layout.spec;
    let Some(bundle) = bundle else {
        return;
    };
    let places = places(layout, h);
    if places.is_empty() {
        return;
    }
    let files: Vec<String> = bundle
        .archives
        .iter()
        .filter(|a| a.wanted_by(&places))
        .map(|a| a.file.clone())
        .collect();
    if !files.is_empty() {
        s.push(
            "image-archives",
            format!("send {} from the bundle", files.join(", ")),
            Action::UploadBundle {
                fingerprint: bundle.fingerprint.clone(),
                from: bundle.dir.clone(),
                to: HOST_IMAGES.into(),
                pick: BundlePick::Only(files.clone()),
                mode: 0o644,
            },
            1800,
        );
    }
    let imports: String = files
        .iter()
        .map(|f| {
            format!(
                "ctr -n k8s.io images import {}; ",
                quote(&format!("{HOST_IMAGES}/{f}"))
            )
        })
        .collect();
    let extra: String = extra_images(layout, h, &bundle.cni)
        .iter()
        .map(|i| format!(" {}", quote(i)))
        .collect();
    let extra = if extra.is_empty() {
        String::new()
    } else {
        format!("; printf '%s\\n'{extra}")
    };
    let version = spec.kubernetes.version.tag();
    s.run(
        "images",
        format!("import the images into containerd and check it has every image this node runs for {version}"),
        format!(
            "set -e; {imports}want=$({{ kubeadm config images list --kubernetes-version {version} --image-repository {repo} | {filter}{extra}; }} || true); \
test -n \"$want\" || {{ echo 'kubeadm config images list printed no image' >&2; exit 1; }}; have=$(ctr -n k8s.io images ls -q); missing=; \
for i in $want; do printf '%s\\n' \"$have\" | grep -qxF \"$i\" || missing=\"$missing $i\"; done; \
if [ -n \"$missing\" ]; then echo \"after the import, containerd still lacks these images this node runs:$missing; put archives holding them in the bundle's {BUNDLE_IMAGES}/\" >&2; exit 1; fi; \
echo \"containerd has all $(echo $want | wc -w) images this node runs\"",
            repo = quote(spec.kubernetes.image_repository.as_str()),
            filter = kubeadm_filter(&places),
        ),
        1800,
    )
    .unit = Some("containerd");
}

/// What is wrong with the bundle's `images/` for the plan to run: an archive that
/// cannot be read or names no image, or no `ctr` in `bin/` to import them with.
pub fn bundle_problems(spec: &ClusterSpec) -> Vec<String> {
    let Some(dir) = bundle_images_dir(spec) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    if let Err(e) = images::archives(&dir) {
        problems.push(format!("packages.bundle_dir: {e}"));
    }
    let bin = dir.parent().unwrap_or(Path::new(".")).join("bin");
    if !bin.join("ctr").is_file() {
        problems.push(format!(
            "packages.bundle_dir: {} has no ctr, which imports the images of {} on every node: put containerd's ctr there (it is in containerd's release archive, beside containerd)",
            bin.display(),
            dir.display()
        ));
    }
    problems
}

/// The images the preset's nodes run that no archive of the bundle holds, given
/// `kubeadm`'s list for the preset's version and repository: one line each, with the
/// roles that run it.
pub fn missing(layout: &Layout, kubeadm: &[String], archives: &[Archive]) -> Vec<String> {
    needed(layout, kubeadm)
        .into_iter()
        .filter(|(image, _)| !archives.iter().any(|a| a.refs.contains(image)))
        .map(|(image, on)| format!("{image} ({on})"))
        .collect()
}

/// Every image the preset's nodes run, with where: kubeadm's (by role), the pod
/// network's, kube-vip's.
pub fn needed(layout: &Layout, kubeadm: &[String]) -> Vec<(String, &'static str)> {
    let stacked = layout.etcd.is_empty();
    let has_workers = layout
        .spec
        .hosts
        .iter()
        .any(|h| h.roles.contains(&Role::Worker));
    let mut out: Vec<(String, &'static str)> = Vec::new();
    let mut add = |image: String| {
        let on = match RunsOn::of(&image) {
            RunsOn::ControlPlanes => "control planes",
            RunsOn::StackedEtcd if stacked => "control planes, stacked etcd",
            RunsOn::StackedEtcd => return,
            RunsOn::EveryNode if has_workers => "every node",
            RunsOn::EveryNode => "control planes",
        };
        if !out.iter().any(|(i, _)| *i == image) {
            out.push((image, on));
        }
    };
    for image in kubeadm {
        add(images::normalize(image));
    }
    for image in cni_images(layout.spec) {
        add(image);
    }
    if matches!(layout.lb, LbLayout::KubeVip { .. }) {
        add(KUBE_VIP_IMAGE.to_owned());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_of(preset: &str) -> ClusterSpec {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("presets")
            .join(preset);
        crate::spec::load_file(&path).unwrap().spec
    }

    const KUBEADM: [&str; 7] = [
        "registry.k8s.io/kube-apiserver:v1.34.2",
        "registry.k8s.io/kube-controller-manager:v1.34.2",
        "registry.k8s.io/kube-scheduler:v1.34.2",
        "registry.k8s.io/kube-proxy:v1.34.2",
        "registry.k8s.io/coredns/coredns:v1.12.1",
        "registry.k8s.io/pause:3.10.1",
        "registry.k8s.io/etcd:3.6.5-0",
    ];

    #[test]
    fn external_etcd_runs_no_etcd_image_and_kube_vip_runs_on_control_planes() {
        let kubeadm: Vec<String> = KUBEADM.iter().map(|s| s.to_string()).collect();
        let spec = spec_of("external-etcd.toml");
        let layout = Layout::new(&spec).unwrap();
        let runs = needed(&layout, &kubeadm);
        assert!(!runs.iter().any(|(i, _)| i.contains("/etcd:")), "{runs:?}");
        assert_eq!(runs.len(), 6);
        let etcd_host = spec.hosts.iter().find(|h| h.roles == [Role::Etcd]).unwrap();
        assert!(
            places(&layout, etcd_host).is_empty(),
            "etcd hosts run no kubelet"
        );

        let spec = spec_of("stacked-ha-kube-vip.toml");
        let layout = Layout::new(&spec).unwrap();
        let runs = needed(&layout, &kubeadm);
        assert!(
            runs.contains(&(
                "registry.k8s.io/etcd:3.6.5-0".into(),
                "control planes, stacked etcd"
            )),
            "{runs:?}"
        );
        assert!(
            runs.contains(&(KUBE_VIP_IMAGE.into(), "control planes")),
            "{runs:?}"
        );
        // An archive holding only the control plane's images is not a worker's.
        let archive = Archive {
            file: "cp.tar".into(),
            refs: vec![KUBEADM[0].into(), KUBE_VIP_IMAGE.into()],
        };
        let worker = spec
            .hosts
            .iter()
            .find(|h| h.roles == [Role::Worker])
            .unwrap();
        assert!(!archive.wanted_by(&places(&layout, worker)));
        let missing = missing(&layout, &kubeadm[..6], &[archive]);
        assert_eq!(
            missing,
            [
                "registry.k8s.io/kube-controller-manager:v1.34.2 (control planes)",
                "registry.k8s.io/kube-scheduler:v1.34.2 (control planes)",
                "registry.k8s.io/kube-proxy:v1.34.2 (every node)",
                "registry.k8s.io/coredns/coredns:v1.12.1 (every node)",
                "registry.k8s.io/pause:3.10.1 (every node)",
            ]
        );
    }
}
