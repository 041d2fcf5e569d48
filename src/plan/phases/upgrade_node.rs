//! The steps an upgrade takes on one node, shared by its phases: the new kubeadm, the
//! node drained, the new kubelet (and kubectl on control planes) started, the node
//! back with the new version, uncordoned. kubectl runs on the first control plane with
//! its admin.conf (`Step::via` for the other hosts): workers never get admin
//! credentials.

use super::super::steps::Steps;
use super::super::{Action, BundlePick, OsFamily, Upgrade};
use super::{ADMIN_CONF, BUNDLE_TARGET, Builder};
use crate::files::Purpose;
use crate::render::node;
use crate::shell::quote;
use crate::spec::layout::Layout;
use crate::spec::{HostSpec, Role};

/// `kubectl` with the first control plane's admin.conf.
fn kubectl() -> String {
    format!("kubectl --kubeconfig {ADMIN_CONF}")
}

/// The host that runs `h`'s kubectl steps: None when it is `h` itself.
fn via(layout: &Layout, h: &HostSpec) -> Option<String> {
    let first = layout.first_control_plane();
    (first.name != h.name).then(|| first.name.to_string())
}

/// The new kubeadm on `h`, checked to be the version the upgrade goes to.
pub(super) fn kubeadm(b: &Builder, s: &mut Steps, up: &Upgrade) {
    programs(b, s, up, "kubeadm", &["kubeadm"]);
    let tag = up.to.tag();
    s.wait(
        "kubeadm-version",
        format!("check that kubeadm is {tag}"),
        format!(
            "v=$(kubeadm version -o short) && {{ [ \"$v\" = {tag} ] || {{ echo \"kubeadm is $v, not {tag}: the new programs did not take its place\" >&2; exit 1; }}; }}"
        ),
        60,
    );
}

/// The new kubelet (and kubectl on a control plane) on `h`, the node drained first and
/// uncordoned once its kubelet reports the new version.
pub(super) fn kubelet(b: &Builder, s: &mut Steps, up: &Upgrade, h: &HostSpec) {
    let via = via(b.layout, h);
    let name = h.name.as_str();
    let k = kubectl();
    s.run(
        "drain",
        format!("drain {name} (cordon, evict its Pods)"),
        format!("{k} drain {name} --ignore-daemonsets --delete-emptydir-data --timeout=300s"),
        330,
    )
    .via = via.clone();
    let mut names = vec!["kubelet"];
    if h.roles.contains(&Role::ControlPlane) {
        names.push("kubectl");
    }
    programs(b, s, up, &names.join(", "), &names);
    s.run(
        "restart-kubelet",
        "restart the kubelet with its new program",
        "systemctl daemon-reload && systemctl restart kubelet",
        120,
    )
    .unit = Some("kubelet");
    let tag = up.to.tag();
    let step = s.wait(
        "node-ready",
        format!("wait until {name}'s kubelet reports {tag} and the node is Ready"),
        format!(
            "v=$({k} get node {name} -o jsonpath='{{.status.nodeInfo.kubeletVersion}}') && r=$({k} get node {name} -o jsonpath='{{.status.conditions[?(@.type==\"Ready\")].status}}') && echo \"kubelet $v, Ready $r\" && [ \"$v\" = {tag} ] && [ \"$r\" = True ]"
        ),
        300,
    );
    step.via = via.clone();
    step.unit = Some("kubelet");
    s.run(
        "uncordon",
        format!("uncordon {name}"),
        format!("{k} uncordon {name}"),
        60,
    )
    .via = via;
}

/// `names` of the new version on the host: from the new bundle, or the package
/// repository of the new minor (its repository file first; the packages' holds
/// released for the install and set again).
fn programs(b: &Builder, s: &mut Steps, up: &Upgrade, title: &str, names: &[&str]) {
    match &up.bundle {
        Some(from) => {
            s.push(
                &format!("bundle-{}", names.join("-")),
                format!("install {title} {} from the new bundle", up.to.tag()),
                Action::UploadBundle {
                    fingerprint: crate::plan::bundle_fingerprint(from),
                    from: from.clone(),
                    to: BUNDLE_TARGET.into(),
                    pick: BundlePick::Only(names.iter().map(|n| n.to_string()).collect()),
                    mode: 0o755,
                },
                600,
            );
        }
        None => {
            let files: Vec<_> = b
                .files_for(&s.host, Purpose::Node)
                .filter(|f| f.path == node::APT_SOURCE_PATH || f.path == node::RPM_REPO_PATH)
                .collect();
            for file in files {
                let step = s.push(
                    &super::slug(&file.path),
                    format!("upload {} (the {} packages)", file.path, up.to.minor_line()),
                    Action::Upload {
                        path: file.path.clone(),
                        mode: file.mode,
                        content: super::super::Blob::new(&file.content),
                    },
                    60,
                );
                step.only_on = Some(if file.path == node::APT_SOURCE_PATH {
                    OsFamily::Apt
                } else {
                    OsFamily::Dnf
                });
            }
            let proxy: String = node::proxy_environment(b.layout)
                .iter()
                .map(|(k, v)| format!("export {k}={}; ", quote(v)))
                .collect();
            let v = up.to;
            let apt: Vec<String> = names.iter().map(|n| format!("'{n}={v}-*'")).collect();
            s.run(
                &format!("packages-apt-{}", names.join("-")),
                format!("install {title} {v} from the package repository"),
                format!(
                    "{proxy}apt-get update -q && apt-mark unhold {n} && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --allow-change-held-packages {} && apt-mark hold {n}",
                    apt.join(" "),
                    n = names.join(" ")
                ),
                900,
            )
            .only_on = Some(OsFamily::Apt);
            let dnf: Vec<String> = names.iter().map(|n| format!("{n}-{v}")).collect();
            s.run(
                &format!("packages-dnf-{}", names.join("-")),
                format!("install {title} {v} from the package repository"),
                format!(
                    "{proxy}dnf install -y {} --disableexcludes=kubernetes",
                    dnf.join(" ")
                ),
                900,
            )
            .only_on = Some(OsFamily::Dnf);
        }
    }
}
