//! Prepare every host: its name, swap off, kernel modules and settings, the node's
//! files, and containerd, kubelet and kubeadm from the package repository or the
//! bundle. Hosts that run no kubelet (etcd members, load balancers) get their name only.

use super::super::images::BundleImages;
use super::super::record::{HOST_STATE, RECORD_DIR, SWAP_RECORD, keep_original};
use super::super::steps::Steps;
use super::super::{Action, BundlePick, HostSteps, OsFamily};
use super::{Builder, PhaseDef, stop_units};
use crate::files::Purpose;
use crate::render::kubeadm::CRI_SOCKET;
use crate::render::node;
use crate::shell::quote;
use crate::spec::{HostSpec, PackageSource, Role};

pub const PHASE: PhaseDef = PhaseDef::on_hosts("prepare", "Prepare hosts", steps);

/// Where the bundle's programs go on the hosts: first in root's PATH, apart from the
/// distribution's own.
pub const BUNDLE_TARGET: &str = "/usr/local/bin";

fn steps(b: &Builder) -> Vec<HostSteps> {
    // Read once, not once per host: each archive's index and the CNI's manifests.
    let images = BundleImages::read(b.layout.spec);
    b.every_host(PHASE.id, |s, h| prepare_host(b, images.as_ref(), s, h))
}

fn prepare_host(b: &Builder, images: Option<&BundleImages>, s: &mut Steps, h: &HostSpec) {
    let name = h.name.as_str();
    s.run(
        "hostname",
        format!("set the hostname to {name}"),
        format!(
            // The first change keeps the original /etc/hostname for `kubewiz reset`.
            "test \"$(hostname)\" = {n} || {{ {keep}; \
hostnamectl set-hostname {n} 2>/dev/null || {{ echo {n} > /etc/hostname && hostname {n}; }}; }}",
            n = quote(name),
            keep = keep_original("/etc/hostname")
        ),
        30,
    );
    if !b.has_files(name, Purpose::Node) {
        return;
    }
    s.run(
        "swap",
        "turn swap off, now and in /etc/fstab",
        // `kubewiz reset` puts back what the first run found: whether swap was on,
        // and /etc/fstab before its swap lines were commented out. A file without
        // swap lines is left untouched.
        format!(
            "r={SWAP_RECORD}; if [ ! -e $r ]; then mkdir -p \"$(dirname $r)\" && \
if [ \"$(wc -l < /proc/swaps)\" -gt 1 ]; then echo on; else echo off; fi > $r; fi; \
swapoff -a && \
if grep -Eq '^[^#].*\\sswap\\s' /etc/fstab 2>/dev/null; then {keep}; \
sed -ri '/^[^#].*\\sswap\\s/s/^/#/' /etc/fstab; fi",
            keep = keep_original("/etc/fstab")
        ),
        60,
    );
    b.uploads(s, Purpose::Node);
    s.run(
        "modules",
        "load kernel modules",
        // Only when missing: a module built into the kernel has nothing to load, and
        // modprobe fails on hosts without /lib/modules.
        "{ grep -qw overlay /proc/filesystems || modprobe overlay; } && { test -d /proc/sys/net/bridge || modprobe br_netfilter; }",
        30,
    );
    s.run(
        "sysctl",
        "apply kernel settings",
        "sysctl -p /etc/sysctl.d/99-kubewiz.conf",
        30,
    );
    packages(b, s, h);
    s.run(
        "containerd",
        "restart containerd with its configuration",
        "systemctl daemon-reload && systemctl enable containerd && systemctl restart containerd",
        120,
    )
    .unit = Some("containerd");
    s.run(
        "kubelet",
        "enable the kubelet",
        "systemctl enable kubelet",
        30,
    )
    .unit = Some("kubelet");
    pull_images(b, s, h);
    crate::plan::images::import_steps(b.layout, images, s, h);
}

/// An online install pulls the images each node's first Pods run here, where every
/// host pulls at once, rather than inside `kubeadm init` and each control plane's
/// `kubeadm join`, which run one after the other. kubeadm lists the images of the
/// preset's version and repository; containerd pulls them through its CRI socket (its
/// `k8s.io` namespace, where the kubelet looks). Control planes take them all but
/// etcd's when etcd is external; workers kube-proxy's and the pause image. A bundle
/// install has no registry to pull from.
fn pull_images(b: &Builder, s: &mut Steps, h: &HostSpec) {
    let spec = b.layout.spec;
    if spec.packages.source != PackageSource::Online {
        return;
    }
    let control_plane = h.roles.contains(&Role::ControlPlane);
    let (which, filter) = if control_plane && b.layout.etcd.is_empty() {
        ("the control plane's images", "cat")
    } else if control_plane {
        ("the control plane's images (etcd is external)", "grep -v '/etcd:'")
    } else if h.roles.contains(&Role::Worker) {
        ("kube-proxy and pause", "grep -E '/(kube-proxy|pause):'")
    } else {
        return;
    };
    let version = spec.kubernetes.version.tag();
    s.run(
        "images",
        format!("pull {which} for {version}, before kubeadm needs them"),
        format!(
            "images=$(kubeadm config images list --kubernetes-version {version} --image-repository {repo} | {filter}) && \
test -n \"$images\" && for image in $images; do crictl --runtime-endpoint {CRI_SOCKET} pull \"$image\" || exit 1; done",
            repo = quote(spec.kubernetes.image_repository.as_str()),
        ),
        900,
    )
    // A pull that fails is containerd's to explain (registry, proxy, disk).
    .unit = Some("containerd");
}

/// containerd, the kubelet and kubeadm (and kubectl on control planes): from the
/// package repository, or from the bundle.
fn packages(b: &Builder, s: &mut Steps, h: &HostSpec) {
    let spec = b.layout.spec;
    // Downloads on the host go through the operator's proxy, like containerd's.
    let proxy: String = node::proxy_environment(b.layout)
        .iter()
        .map(|(k, v)| format!("export {k}={}; ", quote(v)))
        .collect();
    match spec.packages.source {
        PackageSource::Online => {
            let minor = format!(
                "{}.{}",
                spec.kubernetes.version.major, spec.kubernetes.version.minor
            );
            let apt_key = quote(&node::apt_key_url(spec));
            let keyring = node::APT_KEYRING;
            s.run(
                "apt-key",
                "fetch the Kubernetes package key",
                format!(
                    "{proxy}test -s {keyring} || {{ install -d -m 0755 /etc/apt/keyrings && curl -fsSL {apt_key} | gpg --dearmor > {keyring}.tmp && mv {keyring}.tmp {keyring}; }}"
                ),
                120,
            )
            .only_on = Some(OsFamily::Apt);
            s.run(
                "packages-apt",
                "install containerd, kubelet, kubeadm, kubectl",
                format!(
                    "{proxy}apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q containerd 'kubelet={minor}.*' 'kubeadm={minor}.*' 'kubectl={minor}.*' && apt-mark hold kubelet kubeadm kubectl"
                ),
                900,
            )
            .only_on = Some(OsFamily::Apt);
            s.run(
                "packages-dnf",
                "install containerd, kubelet, kubeadm, kubectl",
                format!("{proxy}dnf install -y containerd kubelet kubeadm kubectl --disableexcludes=kubernetes"),
                900,
            )
            .only_on = Some(OsFamily::Dnf);
        }
        PackageSource::Bundle => {
            let dir = spec.packages.bundle_dir.clone().unwrap_or_default();
            // etcd and its tools are the etcd hosts' (phase etcd); kubectl is for the
            // control planes, where kubewiz runs it with admin.conf: workers have
            // no admin credentials for it. With stacked etcd the control planes are
            // its members and get etcdctl and etcdutl (the etcd program itself runs
            // from kubeadm's static Pod): `kubewiz backup` takes its snapshot there.
            let control_plane = h.roles.contains(&Role::ControlPlane);
            let stacked_member = control_plane && b.layout.etcd.is_empty();
            let mut except: Vec<String> = vec!["etcd".into()];
            if !stacked_member {
                except.extend(["etcdctl".into(), "etcdutl".into()]);
            }
            // helm, when the bundle has it, installs Cilium from the first control plane.
            if !control_plane {
                except.extend(["kubectl".into(), "helm".into()]);
            }
            let kubectl = match (control_plane, stacked_member) {
                (true, true) => "kubectl, etcdctl, ",
                (true, false) => "kubectl, ",
                _ => "",
            };
            let from = dir.join("bin");
            s.push(
                "bundle",
                format!("install kubeadm, kubelet, {kubectl}containerd and runc from the bundle"),
                Action::UploadBundle {
                    fingerprint: crate::plan::bundle_fingerprint(&from),
                    from,
                    to: BUNDLE_TARGET.into(),
                    pick: BundlePick::Except(except),
                    mode: 0o755,
                },
                600,
            );
        }
    }
}

/// Undoes the node's runtime on `kubewiz reset`: the bundle's containerd stopped, or
/// the package holds released.
pub(super) fn reset_runtime(b: &Builder, s: &mut Steps) {
    match b.layout.spec.packages.source {
        PackageSource::Bundle => {
            s.run(
                "containerd",
                "stop and disable containerd (installed from the bundle)",
                stop_units(&["containerd"]),
                120,
            );
        }
        PackageSource::Online => {
            s.run(
                "holds",
                "release the package holds on kubelet, kubeadm and kubectl",
                "apt-mark unhold kubelet kubeadm kubectl",
                60,
            )
            .only_on = Some(OsFamily::Apt);
        }
    }
}

/// Puts back the originals kubewiz kept (also /etc/fstab and /etc/hostname, with the
/// running hostname and swap as they were), removes the files and directories it
/// created, then its own state on the host.
pub(super) fn restore_command() -> String {
    format!(
        "r={RECORD_DIR}; if [ ! -d \"$r\" ]; then echo 'kubewiz wrote no file here'; rm -rf {HOST_STATE}; exit 0; fi; \
if [ -d \"$r/new\" ]; then (cd \"$r/new\" && find . ! -type d) | while IFS= read -r f; do rm -f -- \"${{f#.}}\"; echo \"removed ${{f#.}}\"; done; fi; \
if [ -d \"$r/orig\" ]; then (cd \"$r/orig\" && find . ! -type d) | while IFS= read -r f; do cp -a -- \"$r/orig${{f#.}}\" \"${{f#.}}\"; echo \"restored ${{f#.}}\"; done; fi; \
if [ -f \"$r/orig/etc/hostname\" ]; then n=$(cat /etc/hostname); hostnamectl set-hostname \"$n\" 2>/dev/null || hostname \"$n\"; echo \"hostname $n again\"; fi; \
if [ \"$(cat {SWAP_RECORD} 2>/dev/null)\" = on ]; then swapon -a && echo 'swap on again'; fi; \
if [ -f \"$r/dirs\" ]; then sort -ru \"$r/dirs\" | while IFS= read -r d; do case \"$d\" in /?*) rm -rf -- \"$d\"; echo \"removed $d/\";; esac; done; fi; \
rm -rf {HOST_STATE}; if command -v systemctl >/dev/null; then systemctl daemon-reload; fi"
    )
}
