//! Version, proxy, SSH, packages and the KVM host's settings.

use std::net::IpAddr;

use ipnet::IpNet;

use super::hosts::bad_user;
use crate::spec::{ClusterSpec, Diagnostic, DnsName, PackageSource, ProxyUrl};

/// kubeadm's v1beta4 config API, which kubewiz writes, arrived in 1.31.
const FIRST_V1BETA4_MINOR: u32 = 31;
/// The newest minor release whose kubeadm kubewiz knows to accept v1beta4.
const LAST_KNOWN_MINOR: u32 = 36;

pub(super) fn check(spec: &ClusterSpec, out: &mut Vec<Diagnostic>) {
    check_version(spec, out);
    check_proxy(spec, out);
    check_ssh(spec, out);
    check_packages(spec, out);
    if let Some(kvm) = &spec.kvm
        && kvm.libvirt_network.trim().is_empty()
    {
        out.push(Diagnostic::error(
            "kvm.libvirt_network",
            "is empty; give the libvirt network the VMs are on (`virsh net-list`), e.g. default",
        ));
    }
}

fn check_version(spec: &ClusterSpec, out: &mut Vec<Diagnostic>) {
    let version = spec.kubernetes.version;
    const PATH: &str = "kubernetes.version";
    if version.major != 1 || version.minor < FIRST_V1BETA4_MINOR {
        out.push(Diagnostic::error(
            PATH,
            format!(
                "{version} is not supported: kubewiz writes kubeadm's v1beta4 config, which needs Kubernetes 1.{FIRST_V1BETA4_MINOR} or newer"
            ),
        ));
    } else if version.minor > LAST_KNOWN_MINOR {
        out.push(Diagnostic::warning(
            PATH,
            format!(
                "{version} is newer than kubewiz knows (1.{LAST_KNOWN_MINOR}); check that its kubeadm still accepts the v1beta4 config"
            ),
        ));
    }
}

fn check_proxy(spec: &ClusterSpec, out: &mut Vec<Diagnostic>) {
    let proxy = &spec.proxy;
    for (path, url) in [("proxy.http", &proxy.http), ("proxy.https", &proxy.https)] {
        if url.as_ref().is_some_and(ProxyUrl::has_password) {
            out.push(Diagnostic::error(
                path,
                "the URL carries a password; presets are meant to be shared, so keep credentials out of them",
            ));
        }
    }
    if proxy.http.is_none() && proxy.https.is_none() && !proxy.no_proxy.is_empty() {
        out.push(Diagnostic::warning(
            "proxy.no_proxy",
            "is set but no proxy is; it has no effect without proxy.http or proxy.https",
        ));
    }
    for (i, entry) in proxy.no_proxy.iter().enumerate() {
        if let Some(problem) = bad_no_proxy(entry) {
            out.push(Diagnostic::error(format!("proxy.no_proxy[{i}]"), problem));
        }
    }
}

/// no_proxy entries as Go's and curl's proxy logic reads them: an address, a CIDR
/// block, or a domain (with an optional leading `.` or `*.` for its subdomains).
fn bad_no_proxy(entry: &str) -> Option<String> {
    if entry.contains(',') {
        return Some(format!(
            "\"{entry}\" holds several entries; give one per list item: [\"a\", \"b\"]"
        ));
    }
    let host = entry
        .strip_prefix("*.")
        .or_else(|| entry.strip_prefix('.'))
        .unwrap_or(entry);
    let host = host
        .rsplit_once(':')
        .filter(|(h, p)| !h.contains(':') && p.parse::<u16>().is_ok())
        .map_or(host, |(h, _)| h);
    let ok = host.parse::<IpAddr>().is_ok()
        || host.parse::<IpNet>().is_ok()
        || host.parse::<DnsName>().is_ok();
    (!ok).then(|| {
        format!(
            "\"{entry}\" is not an address, CIDR block or domain; e.g. 10.0.0.0/8 or .lab.example"
        )
    })
}

fn check_ssh(spec: &ClusterSpec, out: &mut Vec<Diagnostic>) {
    let ssh = &spec.ssh;
    if let Some(problem) = bad_user(&ssh.user) {
        out.push(Diagnostic::error("ssh.user", problem));
    }
    for (path, file) in [
        ("ssh.identity_file", &ssh.identity_file),
        ("ssh.known_hosts", &ssh.known_hosts),
    ] {
        if file.as_os_str().is_empty() {
            out.push(Diagnostic::error(path, "is empty; give a file path"));
        }
    }
}

fn check_packages(spec: &ClusterSpec, out: &mut Vec<Diagnostic>) {
    let packages = &spec.packages;
    match packages.source {
        PackageSource::Bundle if packages.bundle_dir.is_none() => {
            out.push(Diagnostic::error(
                "packages.bundle_dir",
                "source = \"bundle\" needs bundle_dir: a local directory with bin/ (kubeadm, kubelet, kubectl, containerd, runc, ...)",
            ));
        }
        PackageSource::Online if packages.bundle_dir.is_some() => {
            out.push(Diagnostic::warning(
                "packages.bundle_dir",
                "is ignored because packages.source is \"online\"; set source = \"bundle\" to use it",
            ));
        }
        _ => {}
    }
    if let Some(mirror) = &packages.repository_mirror {
        if !matches!(mirror.scheme(), "http" | "https") || mirror.host_str().is_none() {
            out.push(Diagnostic::error(
                "packages.repository_mirror",
                format!("{mirror} is not an http(s) URL; apt and dnf take e.g. https://mirror.lab.example/kubernetes"),
            ));
        } else if packages.source == PackageSource::Bundle {
            out.push(Diagnostic::warning(
                "packages.repository_mirror",
                "is ignored because packages.source is \"bundle\"",
            ));
        }
    }
}
