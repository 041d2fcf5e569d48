//! The pod network, from the first control plane: the CNI's manifests applied (or
//! Cilium installed with helm), then the cluster's own settings for it.

use super::super::steps::Steps;
use super::super::HostSteps;
use super::{ADMIN_CONF, Builder, PhaseDef};
use crate::files::{File, Purpose};
use crate::render::cni;
use crate::shell::quote;
use crate::spec::Cni;

pub const PHASE: PhaseDef = PhaseDef::on_hosts("cni", "Pod network", steps);

fn steps(b: &Builder) -> Vec<HostSteps> {
    let spec = b.layout.spec;
    let first = b.layout.first_control_plane();
    let mut s = Steps::new(PHASE.id, first.name.as_str());
    let kubectl = format!("kubectl --kubeconfig {ADMIN_CONF}");
    let own: Vec<&File> = b.files_for(first.name.as_str(), Purpose::Cni).collect();
    match spec.kubernetes.cni {
        Cni::None => return Vec::new(),
        Cni::Calico | Cni::Flannel => {
            for (i, url) in cni::manifest_urls(spec).iter().enumerate() {
                s.run(
                    &format!("manifest-{i}"),
                    format!("apply {url}"),
                    format!(
                        "{kubectl} apply --server-side --force-conflicts -f {}",
                        quote(url)
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
            b.uploads(&mut s, Purpose::Cni);
            for file in &own {
                s.run(
                    "install",
                    format!("install Cilium {} with helm", cni::CILIUM_VERSION),
                    format!(
                        "helm repo add cilium https://helm.cilium.io/ --force-update >/dev/null && helm upgrade --install cilium cilium/cilium --kubeconfig {ADMIN_CONF} --namespace kube-system --version {} --values {}",
                        cni::CILIUM_VERSION,
                        file.path
                    ),
                    600,
                );
            }
        }
    }
    vec![s.done()]
}
