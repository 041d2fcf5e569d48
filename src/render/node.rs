//! Node preparation (`Purpose::Node`): kernel modules, sysctl, the containerd
//! configuration, the Kubernetes package repositories and the proxy drop-ins.
//!
//! Only hosts that run a kubelet (control planes and workers) get these files. External
//! etcd members run etcd as a plain systemd service and load-balancer hosts run
//! haproxy and keepalived: neither needs containerd, the Kubernetes packages or the
//! bridge settings, so they get nothing from this module.
//!
//! The install must load [`KERNEL_MODULES`] (`modprobe`) before applying the sysctl
//! file (`sysctl --system`): the `net.bridge.*` keys only exist once `br_netfilter`
//! is loaded. At boot systemd orders the two the same way.

use minijinja::value::{Serde, Value};
use serde::Serialize;

use super::{File, Layout, MODE_PUBLIC, Purpose, render_template};
use crate::spec::{ClusterSpec, HostSpec, KubeVersion, PackageSource, ProxyUrl};

/// Kernel modules every node loads, at boot through [`MODULES_LOAD_PATH`] and once
/// by the install (`modprobe`) so that nothing waits for a reboot.
pub const KERNEL_MODULES: [&str; 2] = ["overlay", "br_netfilter"];
/// The modules-load.d file naming [`KERNEL_MODULES`].
pub const MODULES_LOAD_PATH: &str = "/etc/modules-load.d/kubewiz.conf";
/// The sysctl file; `99-` so that it is read after the distribution's own files.
pub const SYSCTL_PATH: &str = "/etc/sysctl.d/99-kubewiz.conf";
/// containerd's configuration; containerd must be restarted after it changes.
pub const CONTAINERD_CONFIG_PATH: &str = "/etc/containerd/config.toml";
/// The directory containerd reads registry mirror settings from (`hosts.toml` per
/// registry host); changes there need no restart.
pub const CONTAINERD_CERTS_DIR: &str = "/etc/containerd/certs.d";
/// The registry the control-plane manifests and kubeadm name by default.
const DEFAULT_REGISTRY: &str = "registry.k8s.io";
/// Where the mirror for the default registry (registry.k8s.io) is configured when the cluster uses
/// another image repository.
pub const REGISTRY_MIRROR_PATH: &str = "/etc/containerd/certs.d/registry.k8s.io/hosts.toml";
/// Proxy drop-in for containerd, which pulls the images.
pub const CONTAINERD_PROXY_PATH: &str = "/etc/systemd/system/containerd.service.d/http-proxy.conf";
/// Proxy drop-in for the kubelet.
pub const KUBELET_PROXY_PATH: &str = "/etc/systemd/system/kubelet.service.d/http-proxy.conf";
/// The apt source for Debian and Ubuntu hosts.
pub const APT_SOURCE_PATH: &str = "/etc/apt/sources.list.d/kubernetes.list";
/// The dnf/yum repository for Fedora, RHEL and derived hosts.
pub const RPM_REPO_PATH: &str = "/etc/yum.repos.d/kubernetes.repo";
/// Where the install stores the apt signing key fetched from [`apt_key_url`]
/// (`curl -fsSL URL | gpg --dearmor -o APT_KEYRING`); the apt source names it in
/// `signed-by`, so the key is trusted for this repository only.
/// With a bundle there are no packages to bring the kubelet's and containerd's units:
/// kubewiz writes the upstream ones, pointing at /usr/local/bin.
pub const BUNDLE_KUBELET_UNIT: &str = "/etc/systemd/system/kubelet.service";
pub const BUNDLE_KUBEADM_DROP_IN: &str = "/etc/systemd/system/kubelet.service.d/10-kubeadm.conf";
pub const BUNDLE_CONTAINERD_UNIT: &str = "/etc/systemd/system/containerd.service";
pub const APT_KEYRING: &str = "/etc/apt/keyrings/kubernetes-apt-keyring.gpg";
/// The upstream package host, replaced by `packages.repository_mirror` when set.
const PACKAGES_UPSTREAM: &str = "https://pkgs.k8s.io";

/// Every node-preparation file, on every host that runs a kubelet.
pub fn files(layout: &Layout) -> Vec<File> {
    let spec = layout.spec;
    let mut shared = vec![
        (MODULES_LOAD_PATH, modules_load(spec)),
        (SYSCTL_PATH, sysctl(spec)),
        (CONTAINERD_CONFIG_PATH, containerd_config(spec)),
    ];
    if let Some(hosts_toml) = registry_mirror(spec) {
        shared.push((REGISTRY_MIRROR_PATH, hosts_toml));
    }
    if has_proxy(spec) {
        shared.push((CONTAINERD_PROXY_PATH, proxy_drop_in(layout, "containerd")));
        shared.push((KUBELET_PROXY_PATH, proxy_drop_in(layout, "kubelet")));
    }
    match spec.packages.source {
        PackageSource::Online => {
            // Both are rendered; the install uploads the one of the host's OS family.
            shared.push((APT_SOURCE_PATH, apt_source(spec)));
            shared.push((RPM_REPO_PATH, rpm_repo(spec)));
        }
        PackageSource::Bundle => {
            shared.push((
                BUNDLE_KUBELET_UNIT,
                include_str!("../../assets/node/bundle/kubelet.service").into(),
            ));
            shared.push((
                BUNDLE_KUBEADM_DROP_IN,
                include_str!("../../assets/node/bundle/10-kubeadm.conf").into(),
            ));
            shared.push((
                BUNDLE_CONTAINERD_UNIT,
                include_str!("../../assets/node/bundle/containerd.service").into(),
            ));
        }
    }
    layout
        .nodes()
        .flat_map(|host| for_host(host, &shared))
        .collect()
}

fn for_host(host: &HostSpec, shared: &[(&str, String)]) -> Vec<File> {
    shared
        .iter()
        .map(|(path, content)| {
            File::host(
                Purpose::Node,
                host.name.as_str(),
                *path,
                MODE_PUBLIC,
                content.clone(),
            )
        })
        .collect()
}

/// The pause image tag kubeadm expects for a Kubernetes release
/// (`kubeadm config images list`): 3.10 for 1.31 to 1.33, 3.10.1 from 1.34 on.
/// Older releases are refused by validation.
pub fn pause_tag(version: KubeVersion) -> &'static str {
    if version.major == 1 && version.minor < 34 {
        "3.10"
    } else {
        "3.10.1"
    }
}

/// The sandbox (pause) image containerd uses, from the cluster's image repository
/// so that a mirror-only host never reaches for registry.k8s.io.
pub fn pause_image(spec: &ClusterSpec) -> String {
    format!(
        "{}/pause:{}",
        spec.kubernetes.image_repository,
        pause_tag(spec.kubernetes.version)
    )
}

/// `https://pkgs.k8s.io/core:/stable:/v1.34`, or the same path below
/// `packages.repository_mirror`: both repository flavours and their keys live below it.
pub fn package_base_url(spec: &ClusterSpec) -> String {
    let root = spec
        .packages
        .repository_mirror
        .as_ref()
        .map_or(PACKAGES_UPSTREAM, |mirror| mirror.as_str());
    format!(
        "{}/core:/stable:/{}",
        root.trim_end_matches('/'),
        spec.kubernetes.version.minor_line()
    )
}

/// The apt repository URL, as written in the apt source.
pub fn apt_repository_url(spec: &ClusterSpec) -> String {
    format!("{}/deb/", package_base_url(spec))
}

/// The apt repository's signing key (ASCII-armoured), which the install fetches and
/// dearmors into [`APT_KEYRING`] before `apt-get update`.
pub fn apt_key_url(spec: &ClusterSpec) -> String {
    format!("{}Release.key", apt_repository_url(spec))
}

/// The rpm repository URL (`baseurl`).
pub fn rpm_repository_url(spec: &ClusterSpec) -> String {
    format!("{}/rpm/", package_base_url(spec))
}

/// The rpm repository's signing key (`gpgkey`); dnf imports it itself on first use,
/// the install may `rpm --import` it beforehand to fail early on a bad mirror.
pub fn rpm_key_url(spec: &ClusterSpec) -> String {
    format!("{}repodata/repomd.xml.key", rpm_repository_url(spec))
}

fn kubernetes_minor(spec: &ClusterSpec) -> String {
    spec.kubernetes.version.minor_line()
}

fn is_ipv6(spec: &ClusterSpec) -> bool {
    let k = &spec.kubernetes;
    matches!(k.pod_cidr, ipnet::IpNet::V6(_)) || matches!(k.service_cidr, ipnet::IpNet::V6(_))
}

fn modules_load(spec: &ClusterSpec) -> String {
    render_template(
        "node/modules-load.conf.j2",
        include_str!("../../assets/node/modules-load.conf.j2"),
        minijinja::context! { cluster => spec.name.as_str(), modules => KERNEL_MODULES },
    )
}

#[derive(Serialize)]
struct Setting {
    key: &'static str,
    value: &'static str,
}

/// The kernel settings; all `net.*`, the only ones Kubernetes needs.
fn sysctl_settings(spec: &ClusterSpec) -> Vec<Setting> {
    let on = |key| Setting { key, value: "1" };
    let mut settings = vec![
        on("net.bridge.bridge-nf-call-iptables"),
        on("net.bridge.bridge-nf-call-ip6tables"),
        on("net.ipv4.ip_forward"),
    ];
    if is_ipv6(spec) {
        // kubeadm's preflight reads conf/default/forwarding on IPv6 clusters; setting
        // `all` alone also updates it, but being explicit costs nothing.
        settings.push(on("net.ipv6.conf.all.forwarding"));
        settings.push(on("net.ipv6.conf.default.forwarding"));
    }
    settings
}

fn sysctl(spec: &ClusterSpec) -> String {
    render_template(
        "node/sysctl.conf.j2",
        include_str!("../../assets/node/sysctl.conf.j2"),
        minijinja::context! { cluster => spec.name.as_str(), settings => Value::from(Serde(sysctl_settings(spec))) },
    )
}

/// A TOML basic string, quoted and escaped.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_owned()).to_string()
}

fn containerd_config(spec: &ClusterSpec) -> String {
    render_template(
        "node/containerd-config.toml.j2",
        include_str!("../../assets/node/containerd-config.toml.j2"),
        minijinja::context! {
            cluster => spec.name.as_str(),
            kubernetes_minor => kubernetes_minor(spec),
            sandbox_image => toml_string(&pause_image(spec)),
            registry_config_path => toml_string(CONTAINERD_CERTS_DIR),
        },
    )
}

/// The mirror URL of an image repository as containerd's hosts.toml takes it, and
/// whether it needs `override_path`: a repository with a path
/// (`registry.aliyuncs.com/google_containers`) serves `registry.k8s.io/pause` as
/// `<path>/pause`, so the host URL must be the API root `https://host/v2/<path>`.
/// The mirror is assumed to speak HTTPS, as kubeadm's image pulls do by default.
fn mirror_endpoint(image_repository: &str) -> (String, bool) {
    match image_repository.split_once('/') {
        Some((host, path)) => (format!("https://{host}/v2/{path}"), true),
        None => (format!("https://{image_repository}"), false),
    }
}

/// The hosts.toml that sends registry.k8s.io pulls to the cluster's image repository,
/// when that is not registry.k8s.io itself.
fn registry_mirror(spec: &ClusterSpec) -> Option<String> {
    let repository = &spec.kubernetes.image_repository;
    if repository.is_default() {
        return None;
    }
    let (mirror_url, override_path) = mirror_endpoint(repository.as_str());
    Some(render_template(
        "node/containerd-hosts.toml.j2",
        include_str!("../../assets/node/containerd-hosts.toml.j2"),
        minijinja::context! {
            cluster => spec.name.as_str(),
            registry => DEFAULT_REGISTRY,
            image_repository => repository.as_str(),
            server => toml_string(&format!("https://{DEFAULT_REGISTRY}")),
            mirror_url => toml_string(&mirror_url),
            override_path,
        },
    ))
}

fn has_proxy(spec: &ClusterSpec) -> bool {
    spec.proxy.http.is_some() || spec.proxy.https.is_some()
}

/// The proxy URL as programs expect it: without the lone `/` path the URL type adds.
fn proxy_value(url: &ProxyUrl) -> String {
    let url = url.url();
    let text = url.as_str();
    if url.path() == "/" && url.query().is_none() && url.fragment().is_none() {
        text.trim_end_matches('/').to_owned()
    } else {
        text.to_owned()
    }
}

/// The proxy variables the drop-ins set, upper- and lower-case, in the order they are
/// written: the proxies that are set, then NO_PROXY. The install can export the same
/// variables for its own downloads on the hosts (package keys, manifests), which
/// otherwise would not go through the proxy. Only NO_PROXY when no proxy is set.
pub fn proxy_environment(layout: &Layout) -> Vec<(String, String)> {
    let proxy = &layout.spec.proxy;
    let mut values = Vec::new();
    if let Some(http) = &proxy.http {
        values.push(("HTTP_PROXY", proxy_value(http)));
    }
    if let Some(https) = &proxy.https {
        values.push(("HTTPS_PROXY", proxy_value(https)));
    }
    values.push(("NO_PROXY", layout.no_proxy().join(",")));
    values
        .into_iter()
        .flat_map(|(name, value)| {
            [
                (name.to_owned(), value.clone()),
                (name.to_lowercase(), value),
            ]
        })
        .collect()
}

/// `"NAME=value"` as systemd's `Environment=` takes it: quoted, with `\` and `"`
/// escaped and `%` doubled (systemd expands `%` specifiers there).
fn systemd_environment(name: &str, value: &str) -> String {
    let mut quoted = String::from("\"");
    for c in format!("{name}={value}").chars() {
        match c {
            '\\' => quoted.push_str("\\\\"),
            '"' => quoted.push_str("\\\""),
            '%' => quoted.push_str("%%"),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

fn proxy_drop_in(layout: &Layout, unit: &str) -> String {
    let environment: Vec<String> = proxy_environment(layout)
        .iter()
        .map(|(name, value)| systemd_environment(name, value))
        .collect();
    render_template(
        "node/http-proxy.conf.j2",
        include_str!("../../assets/node/http-proxy.conf.j2"),
        minijinja::context! { cluster => layout.spec.name.as_str(), unit, environment },
    )
}

fn apt_source(spec: &ClusterSpec) -> String {
    render_template(
        "node/kubernetes.list.j2",
        include_str!("../../assets/node/kubernetes.list.j2"),
        minijinja::context! {
            cluster => spec.name.as_str(),
            kubernetes_minor => kubernetes_minor(spec),
            keyring => APT_KEYRING,
            key_url => apt_key_url(spec),
            repository_url => apt_repository_url(spec),
        },
    )
}

fn rpm_repo(spec: &ClusterSpec) -> String {
    render_template(
        "node/kubernetes.repo.j2",
        include_str!("../../assets/node/kubernetes.repo.j2"),
        minijinja::context! {
            cluster => spec.name.as_str(),
            kubernetes_minor => kubernetes_minor(spec),
            key_url => rpm_key_url(spec),
            repository_url => rpm_repository_url(spec),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pause_tags_follow_kubeadm() {
        assert_eq!(pause_tag(KubeVersion::new(1, 31, 0)), "3.10");
        assert_eq!(pause_tag(KubeVersion::new(1, 33, 5)), "3.10");
        assert_eq!(pause_tag(KubeVersion::new(1, 34, 0)), "3.10.1");
        assert_eq!(pause_tag(KubeVersion::new(1, 36, 1)), "3.10.1");
    }

    #[test]
    fn mirror_endpoints() {
        assert_eq!(
            mirror_endpoint("registry.aliyuncs.com/google_containers"),
            (
                "https://registry.aliyuncs.com/v2/google_containers".into(),
                true
            )
        );
        assert_eq!(
            mirror_endpoint("mirror.lab.example:5000"),
            ("https://mirror.lab.example:5000".into(), false)
        );
        assert_eq!(
            mirror_endpoint("10.0.0.5:5000/k8s/images"),
            ("https://10.0.0.5:5000/v2/k8s/images".into(), true)
        );
    }

    #[test]
    fn systemd_values_are_escaped() {
        assert_eq!(
            systemd_environment("HTTP_PROXY", "http://u%40x@proxy:3128"),
            "\"HTTP_PROXY=http://u%%40x@proxy:3128\""
        );
        assert_eq!(systemd_environment("A", "b\"c\\d"), "\"A=b\\\"c\\\\d\"");
    }
}
