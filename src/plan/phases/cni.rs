//! The pod network, from the first control plane: the CNI's manifests applied (or
//! Cilium installed with helm), then the cluster's own settings for it. An install
//! from a bundle fetches nothing: the upstream manifests and chart are put on the
//! first control plane from the bundle (`render::cni::bundle_needs`) and used there.

use std::path::{Path, PathBuf};

use super::super::steps::Steps;
use super::super::{Action, HostSteps};
use super::{ADMIN_CONF, Builder, PhaseDef};
use crate::files::{File, MODE_PUBLIC, Purpose};
use crate::render::cni::{self, CNI_DIR, Upstream};
use crate::shell::quote;
use crate::spec::{ClusterSpec, Cni, PackageSource};

pub const PHASE: PhaseDef = PhaseDef::on_hosts("cni", "Pod network", steps);

fn steps(b: &Builder) -> Vec<HostSteps> {
    let spec = b.layout.spec;
    let first = b.layout.first_control_plane();
    let mut s = Steps::new(PHASE.id, first.name.as_str());
    let kubectl = format!("kubectl --kubeconfig {ADMIN_CONF}");
    let own: Vec<&File> = b.files_for(first.name.as_str(), Purpose::Cni).collect();
    let bundle = bundle_dir(spec);
    match spec.kubernetes.cni {
        Cni::None => return Vec::new(),
        Cni::Calico | Cni::Flannel => {
            for (i, manifest) in cni::manifests(spec).iter().enumerate() {
                let source = match bundle {
                    Some(dir) => put_from_bundle(&mut s, &format!("put-manifest-{i}"), dir, manifest),
                    None => manifest.url.clone(),
                };
                s.run(
                    &format!("manifest-{i}"),
                    format!("apply {source}"),
                    format!(
                        "{kubectl} apply --server-side --force-conflicts -f {}",
                        quote(&source)
                    ),
                    300,
                );
            }
            if spec.kubernetes.cni == Cni::Calico {
                s.wait(
                    "crd",
                    "wait until the operator's Installation resource type exists",
                    format!("{kubectl} wait --for=condition=established --timeout=10s crd/installations.operator.tigera.io"),
                    120,
                );
            }
            b.uploads(&mut s, Purpose::Cni);
            for file in &own {
                s.run(
                    &format!("apply{}", file.path.replace('/', ":")),
                    format!("apply {}", file.path),
                    format!(
                        "{kubectl} apply --server-side --force-conflicts -f {}",
                        file.path
                    ),
                    120,
                );
            }
            if spec.kubernetes.cni == Cni::Flannel {
                s.run(
                    "restart",
                    "restart flannel with the cluster's pod network",
                    format!("{kubectl} -n kube-flannel rollout restart daemonset/kube-flannel-ds"),
                    120,
                );
            }
        }
        Cni::Cilium => {
            let chart = cni::chart(spec).expect("cilium has a chart");
            // From the bundle: the chart's file, and helm from the bundle's bin/ (the
            // prepare phase put it on the control planes). Online: Cilium's repository.
            let (repo, chart_ref, version) = match bundle {
                Some(dir) => (
                    String::new(),
                    put_from_bundle(&mut s, "put-chart", dir, &chart),
                    String::new(),
                ),
                None => (
                    "helm repo add cilium https://helm.cilium.io/ --force-update >/dev/null && ".into(),
                    "cilium/cilium".into(),
                    format!(" --version {}", cni::CILIUM_VERSION),
                ),
            };
            b.uploads(&mut s, Purpose::Cni);
            for file in &own {
                s.run(
                    "install",
                    format!("install Cilium {} with helm", cni::CILIUM_VERSION),
                    format!(
                        "{repo}helm upgrade --install cilium {} --kubeconfig {ADMIN_CONF} --namespace kube-system{version} --values {}",
                        quote(&chart_ref),
                        file.path
                    ),
                    600,
                );
            }
        }
    }
    vec![s.done()]
}

/// The bundle directory of an install from a bundle; None for an online one.
fn bundle_dir(spec: &ClusterSpec) -> Option<&Path> {
    match spec.packages.source {
        PackageSource::Bundle => spec.packages.bundle_dir.as_deref(),
        PackageSource::Online => None,
    }
}

/// A step that puts the bundle's copy of `file` into [`CNI_DIR`] on the host, checked
/// against its SHA-256 as the plan read it; returns the path it has there.
fn put_from_bundle(s: &mut Steps, slug: &str, dir: &Path, file: &Upstream) -> String {
    let from = dir.join(&file.bundle_path);
    let to = format!("{CNI_DIR}/{}", file.file_name());
    s.push(
        slug,
        format!("put {} from the bundle", file.bundle_path),
        Action::PutFile {
            sha256: file_sha256(&from),
            from,
            to: to.clone(),
            mode: MODE_PUBLIC,
        },
        120,
    );
    to
}

/// The SHA-256 of the file at `path`, or empty when it cannot be read: the plan is
/// then refused before it runs ([`bundle_problems`]), and the step would fail.
fn file_sha256(path: &Path) -> String {
    crate::digest::sha256_file_hex(path)
        .map(|(hex, _)| hex)
        .unwrap_or_default()
}

/// What the bundle of `spec` lacks for this phase, one message each naming the file
/// and where to put it; empty for an online install and when nothing is missing.
pub fn bundle_problems(spec: &ClusterSpec) -> Vec<String> {
    let Some(dir) = bundle_dir(spec) else {
        return Vec::new();
    };
    cni::bundle_needs(spec)
        .iter()
        .filter_map(|need| {
            let path: PathBuf = dir.join(&need.bundle_path);
            let folder = path.parent().unwrap_or(dir);
            (!path.is_file()).then(|| {
                format!(
                    "packages.bundle_dir: {} has no {}, which the {} phase needs: put {} there under that name (published at {})",
                    folder.display(),
                    need.file_name(),
                    PHASE.id,
                    need.what,
                    need.url
                )
            })
        })
        .collect()
}
