//! Node preparation, KVM host and CNI files: rendered for every preset and every valid
//! corpus preset, then read back with the parsers and tools that will read them for
//! real (toml, xmllint, apt-get, systemd-analyze, serde_yaml_ng, serde_json).

use std::collections::BTreeSet;
use std::fs;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::Command;

use kubewiz::render::{File, Layout, Purpose, Target, cni, kvm, node};
use kubewiz::spec::{self, ClusterSpec, Cni, KubeVersion, PackageSource};

// ---------------------------------------------------------------------------------
// Loading and rendering

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn load(path: &Path) -> ClusterSpec {
    spec::load_file(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .spec
}

fn preset(name: &str) -> ClusterSpec {
    load(&root().join("presets").join(name))
}

fn corpus(name: &str) -> ClusterSpec {
    load(&root().join("tests/corpus/good").join(name))
}

/// Every shipped preset and every valid corpus preset, by file name.
fn every_spec() -> Vec<(String, ClusterSpec)> {
    let mut specs = Vec::new();
    for dir in ["presets", "tests/corpus/good"] {
        let mut paths: Vec<PathBuf> = fs::read_dir(root().join(dir))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "toml"))
            .collect();
        paths.sort();
        for path in paths {
            let name = format!("{dir}/{}", path.file_name().unwrap().to_string_lossy());
            specs.push((name, load(&path)));
        }
    }
    assert!(specs.len() > 20, "presets or corpus missing");
    specs
}

fn render(spec: &ClusterSpec) -> Vec<File> {
    let layout = Layout::new(spec).expect("a valid spec has a layout");
    let mut files = node::files(&layout);
    files.extend(kvm::files(&layout));
    files.extend(cni::files(&layout));
    files
}

fn on_host<'a>(files: &'a [File], host: &str, path: &str) -> Option<&'a File> {
    files
        .iter()
        .find(|f| f.target == Target::Host(host.into()) && f.path == path)
}

fn host_file<'a>(files: &'a [File], host: &str, path: &str) -> &'a File {
    on_host(files, host, path).unwrap_or_else(|| panic!("{host}: no {path}"))
}

fn local<'a>(files: &'a [File], path: &str) -> &'a File {
    files
        .iter()
        .find(|f| f.target == Target::Local && f.path == path)
        .unwrap_or_else(|| panic!("no local/{path}"))
}

/// Names of the hosts that run a kubelet.
fn node_names(spec: &ClusterSpec) -> Vec<String> {
    spec.nodes().map(|h| h.name.to_string()).collect()
}

/// The non-comment, non-blank lines of a file.
fn content_lines(text: &str) -> Vec<&str> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .collect()
}

fn tool_available(name: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {name}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

// ---------------------------------------------------------------------------------
// Placement

#[test]
fn node_files_land_on_kubelet_hosts_only() {
    let spec = preset("kvm-lab.toml");
    let files = render(&spec);
    let nodes = node_names(&spec);
    assert_eq!(nodes.len(), 8);
    for file in files.iter().filter(|f| f.purpose == Purpose::Node) {
        let Target::Host(host) = &file.target else {
            panic!("node file {} is local", file.path)
        };
        assert!(
            nodes.contains(host),
            "{} on {host}, which runs no kubelet",
            file.path
        );
        assert!(file.path.starts_with('/'), "{}", file.path);
        assert_eq!(file.mode, 0o644, "{}", file.path);
    }
    for host in &nodes {
        for path in [
            node::CONTAINERD_CONFIG_PATH,
            node::SYSCTL_PATH,
            node::MODULES_LOAD_PATH,
            node::APT_SOURCE_PATH,
            node::RPM_REPO_PATH,
        ] {
            host_file(&files, host, path);
        }
    }
    for host in ["etcd-1", "etcd-2", "etcd-3", "haproxy-1", "haproxy-2"] {
        assert!(
            on_host(&files, host, node::CONTAINERD_CONFIG_PATH).is_none(),
            "{host} got a containerd config"
        );
        assert!(
            !files.iter().any(|f| f.target == Target::Host(host.into())),
            "{host} got a node, kvm or cni file"
        );
    }
}

#[test]
fn cni_file_lands_on_the_first_control_plane_only() {
    for (name, spec) in every_spec() {
        let files = render(&spec);
        let cni_files: Vec<&File> = files.iter().filter(|f| f.purpose == Purpose::Cni).collect();
        if spec.kubernetes.cni == Cni::None {
            assert!(cni_files.is_empty(), "{name}");
            continue;
        }
        let first = spec.hosts_with(spec::Role::ControlPlane).next().unwrap();
        assert_eq!(cni_files.len(), 1, "{name}");
        assert_eq!(
            cni_files[0].target,
            Target::Host(first.name.to_string()),
            "{name}"
        );
        assert_eq!(
            Some(cni_files[0].path.clone()),
            cni::config_path(&spec),
            "{name}"
        );
        assert!(cni_files[0].path.starts_with(cni::CNI_DIR), "{name}");
    }
}

#[test]
fn kvm_files_stay_local() {
    for (name, spec) in every_spec() {
        let files = render(&spec);
        for file in files.iter().filter(|f| f.purpose == Purpose::Kvm) {
            assert_eq!(file.target, Target::Local, "{name}: {}", file.path);
            assert!(!file.path.starts_with('/'), "{name}: {}", file.path);
        }
        assert!(
            files
                .iter()
                .all(|f| (f.purpose == Purpose::Kvm) == (f.target == Target::Local)),
            "{name}"
        );
        local(&files, kvm::HOSTS_PATH);
        local(&files, kvm::LIBVIRT_DNS_PATH);
        local(&files, "groups/all");
    }
}

// ---------------------------------------------------------------------------------
// containerd

fn containerd_config(spec: &ClusterSpec) -> toml::Table {
    let files = render(spec);
    let host = node_names(spec).remove(0);
    let text = &host_file(&files, &host, node::CONTAINERD_CONFIG_PATH).content;
    text.parse::<toml::Table>()
        .unwrap_or_else(|e| panic!("config.toml does not parse: {e}\n{text}"))
}

fn cri(config: &toml::Table) -> &toml::Table {
    config["plugins"]["io.containerd.grpc.v1.cri"]
        .as_table()
        .expect("the CRI plugin table")
}

#[test]
fn containerd_config_parses_and_matches_the_image_repository() {
    for (name, spec) in every_spec() {
        let config = containerd_config(&spec);
        assert_eq!(config["version"].as_integer(), Some(2), "{name}");
        let cri = cri(&config);
        let runc = &cri["containerd"]["runtimes"]["runc"];
        assert_eq!(
            runc["runtime_type"].as_str(),
            Some("io.containerd.runc.v2"),
            "{name}"
        );
        assert_eq!(
            runc["options"]["SystemdCgroup"].as_bool(),
            Some(true),
            "{name}"
        );
        assert_eq!(
            cri["registry"]["config_path"].as_str(),
            Some(node::CONTAINERD_CERTS_DIR),
            "{name}"
        );
        let expected = format!("{}/pause:3.10.1", spec.kubernetes.image_repository);
        assert_eq!(
            cri["sandbox_image"].as_str(),
            Some(expected.as_str()),
            "{name}"
        );
        assert_eq!(node::pause_image(&spec), expected, "{name}");
    }
}

/// containerd itself loads the file: `containerd --config FILE config dump` parses it
/// and prints the effective configuration. Skipped where containerd is not installed
/// (scripts/test.sh does not install it).
#[test]
fn containerd_loads_the_config() {
    if !tool_available("containerd") {
        eprintln!("containerd not found: skipping the containerd config check");
        return;
    }
    let spec = corpus("every-section.toml");
    let files = render(&spec);
    let config = &host_file(&files, "kubenode-1", node::CONTAINERD_CONFIG_PATH).content;
    let dump = containerd_dump(config);
    for line in [
        "sandbox_image = \"registry.aliyuncs.com/google_containers/pause:3.10.1\"",
        "SystemdCgroup = true",
        "config_path = \"/etc/containerd/certs.d\"",
    ] {
        assert!(
            dump.lines().any(|l| l.trim() == line),
            "containerd's effective config lacks {line}:\n{dump}"
        );
    }
    // Negative control: containerd rejects a broken file, so the check can fail.
    let broken = config.replacen(
        "[plugins.\"io.containerd.grpc.v1.cri\"]",
        "[plugins.\"io",
        1,
    );
    assert!(std::panic::catch_unwind(|| containerd_dump(&broken)).is_err());
}

fn containerd_dump(config: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config.toml");
    fs::write(&path, config).unwrap();
    let out = Command::new("containerd")
        .arg("--config")
        .arg(&path)
        .args(["config", "dump"])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "containerd rejected the config: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn sandbox_image_of_a_mirror_and_of_an_older_release() {
    let mut spec = corpus("every-section.toml");
    assert_eq!(
        cri(&containerd_config(&spec))["sandbox_image"].as_str(),
        Some("registry.aliyuncs.com/google_containers/pause:3.10.1")
    );
    spec.kubernetes.version = KubeVersion::new(1, 33, 4);
    assert_eq!(
        cri(&containerd_config(&spec))["sandbox_image"].as_str(),
        Some("registry.aliyuncs.com/google_containers/pause:3.10")
    );
    let lab = preset("kvm-lab.toml");
    assert_eq!(
        cri(&containerd_config(&lab))["sandbox_image"].as_str(),
        Some("registry.k8s.io/pause:3.10.1")
    );
}

#[test]
fn registry_mirror_only_with_a_non_default_image_repository() {
    let spec = corpus("every-section.toml");
    let files = render(&spec);
    for host in node_names(&spec) {
        let text = &host_file(&files, &host, node::REGISTRY_MIRROR_PATH).content;
        let hosts: toml::Table = text.parse().unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(hosts["server"].as_str(), Some("https://registry.k8s.io"));
        let mirrors = hosts["host"].as_table().unwrap();
        assert_eq!(mirrors.len(), 1, "{text}");
        let mirror = &mirrors["https://registry.aliyuncs.com/v2/google_containers"];
        let capabilities: Vec<&str> = mirror["capabilities"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        assert_eq!(capabilities, ["pull", "resolve"]);
        assert_eq!(mirror["override_path"].as_bool(), Some(true));
    }

    // A mirror without a path is the registry host itself: containerd adds /v2.
    let mut spec = corpus("every-section.toml");
    spec.kubernetes.image_repository = "mirror.lab.example:5000".parse().unwrap();
    let files = render(&spec);
    let text = &host_file(&files, "kubemaster-1", node::REGISTRY_MIRROR_PATH).content;
    let hosts: toml::Table = text.parse().unwrap();
    let mirror = &hosts["host"]["https://mirror.lab.example:5000"];
    assert!(mirror.get("override_path").is_none(), "{text}");

    for name in ["kvm-lab.toml", "single-node.toml"] {
        let files = render(&preset(name));
        assert!(
            !files.iter().any(|f| f.path == node::REGISTRY_MIRROR_PATH),
            "{name}: a mirror for the default registry"
        );
    }
}

// ---------------------------------------------------------------------------------
// Kernel modules and sysctl

fn sysctl_settings(text: &str) -> Vec<(String, String)> {
    content_lines(text)
        .into_iter()
        .map(|line| {
            let (key, value) = line
                .split_once('=')
                .unwrap_or_else(|| panic!("not key = value: {line:?}"));
            let (key, value) = (key.trim(), value.trim());
            assert!(
                !key.is_empty() && !key.contains(char::is_whitespace) && !value.is_empty(),
                "not key = value: {line:?}"
            );
            (key.to_owned(), value.to_owned())
        })
        .collect()
}

#[test]
fn sysctl_sets_only_net_keys_and_forwarding() {
    for (name, spec) in every_spec() {
        let files = render(&spec);
        let ipv6 = spec.kubernetes.pod_cidr.addr().is_ipv6();
        for host in node_names(&spec) {
            let text = &host_file(&files, &host, node::SYSCTL_PATH).content;
            let settings = sysctl_settings(text);
            for (key, _) in &settings {
                assert!(key.starts_with("net."), "{name}: {key} is not a net.* key");
            }
            let has = |key: &str| settings.iter().any(|(k, v)| k == key && v == "1");
            assert!(has("net.ipv4.ip_forward"), "{name}\n{text}");
            assert!(has("net.bridge.bridge-nf-call-iptables"), "{name}\n{text}");
            assert!(has("net.bridge.bridge-nf-call-ip6tables"), "{name}\n{text}");
            assert_eq!(has("net.ipv6.conf.all.forwarding"), ipv6, "{name}\n{text}");
        }
    }
    // The IPv6 corpus preset must exercise the IPv6 branch.
    let files = render(&corpus("ipv6-single-master.toml"));
    let text = &host_file(&files, "kubenode-1", node::SYSCTL_PATH).content;
    assert!(text.contains("net.ipv6.conf.all.forwarding = 1"), "{text}");
}

#[test]
fn modules_load_overlay_and_br_netfilter() {
    for (name, spec) in every_spec() {
        let files = render(&spec);
        for host in node_names(&spec) {
            let text = &host_file(&files, &host, node::MODULES_LOAD_PATH).content;
            let modules: BTreeSet<&str> = content_lines(text).into_iter().collect();
            assert_eq!(
                modules,
                BTreeSet::from(["br_netfilter", "overlay"]),
                "{name}\n{text}"
            );
            assert_eq!(
                modules,
                node::KERNEL_MODULES.into_iter().collect(),
                "{name}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------
// Package repositories

/// `key=value` lines of the one `[kubernetes]` section of a dnf .repo file.
fn repo_keys(text: &str) -> Vec<(String, String)> {
    let lines = content_lines(text);
    assert_eq!(lines.first(), Some(&"[kubernetes]"), "{text}");
    lines[1..]
        .iter()
        .map(|line| {
            assert!(!line.starts_with('['), "a second section: {line}");
            let (k, v) = line.split_once('=').unwrap_or_else(|| panic!("{line:?}"));
            (k.trim().to_owned(), v.trim().to_owned())
        })
        .collect()
}

fn check_repositories(spec: &ClusterSpec, base: &str) {
    let files = render(spec);
    let apt_line = format!(
        "deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] {base}/core:/stable:/v1.34/deb/ /"
    );
    for host in node_names(spec) {
        let apt = &host_file(&files, &host, node::APT_SOURCE_PATH).content;
        assert_eq!(content_lines(apt), [apt_line.as_str()], "{apt}");
        let repo = repo_keys(&host_file(&files, &host, node::RPM_REPO_PATH).content);
        let get = |key: &str| {
            repo.iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
                .unwrap_or_else(|| panic!("no {key} in {repo:?}"))
        };
        assert_eq!(get("baseurl"), format!("{base}/core:/stable:/v1.34/rpm/"));
        assert_eq!(
            get("gpgkey"),
            format!("{base}/core:/stable:/v1.34/rpm/repodata/repomd.xml.key")
        );
        assert_eq!(get("gpgcheck"), "1");
        assert_eq!(get("enabled"), "1");
        assert_eq!(
            get("exclude"),
            "kubelet kubeadm kubectl cri-tools kubernetes-cni"
        );
    }
    assert_eq!(
        node::apt_key_url(spec),
        format!("{base}/core:/stable:/v1.34/deb/Release.key")
    );
    assert_eq!(
        node::rpm_key_url(spec),
        format!("{base}/core:/stable:/v1.34/rpm/repodata/repomd.xml.key")
    );
}

#[test]
fn package_repositories_upstream_and_mirrored() {
    assert_eq!(
        node::APT_KEYRING,
        "/etc/apt/keyrings/kubernetes-apt-keyring.gpg"
    );
    check_repositories(&preset("kvm-lab.toml"), "https://pkgs.k8s.io");
    check_repositories(
        &corpus("every-section.toml"),
        "https://mirror.lab.example/kubernetes",
    );

    let mut spec = corpus("every-section.toml");
    spec.packages.repository_mirror = Some("https://mirror.lab.example/k8s/".parse().unwrap());
    check_repositories(&spec, "https://mirror.lab.example/k8s");
    spec.packages.repository_mirror = Some("http://10.0.0.5:8080".parse().unwrap());
    check_repositories(&spec, "http://10.0.0.5:8080");
}

#[test]
fn package_repositories_follow_the_minor_release() {
    let mut spec = preset("kvm-lab.toml");
    spec.kubernetes.version = KubeVersion::new(1, 33, 4);
    let files = render(&spec);
    let apt = &host_file(&files, "kubenode-1", node::APT_SOURCE_PATH).content;
    assert!(
        apt.contains("https://pkgs.k8s.io/core:/stable:/v1.33/deb/ /"),
        "{apt}"
    );
    assert!(!apt.contains("v1.34"), "{apt}");
}

#[test]
fn no_package_repositories_for_a_bundle() {
    let mut spec = preset("kvm-lab.toml");
    spec.packages.source = PackageSource::Bundle;
    spec.packages.bundle_dir = Some("/srv/bundle".into());
    let files = render(&spec);
    for path in [node::APT_SOURCE_PATH, node::RPM_REPO_PATH] {
        assert!(
            !files.iter().any(|f| f.path == path),
            "{path} with a bundle"
        );
    }
    // The runtime is still configured.
    host_file(&files, "kubenode-1", node::CONTAINERD_CONFIG_PATH);
}

/// apt itself reads the source (offline: `--print-uris` only lists what it would
/// fetch) and must name the repository's InRelease.
#[test]
fn apt_reads_the_source_list() {
    if !tool_available("apt-get") {
        eprintln!("apt-get not found: skipping the apt check");
        return;
    }
    for (spec, base) in [
        (preset("kvm-lab.toml"), "https://pkgs.k8s.io"),
        (
            corpus("every-section.toml"),
            "https://mirror.lab.example/kubernetes",
        ),
    ] {
        let files = render(&spec);
        let list = &host_file(&files, "kubenode-1", node::APT_SOURCE_PATH).content;
        let out = apt_print_uris(list);
        let expected = format!("'{base}/core:/stable:/v1.34/deb/InRelease'");
        assert!(
            out.contains(&expected),
            "apt did not list {expected}:\n{out}"
        );
    }
    // Negative control: apt rejects a malformed line, so the check can fail.
    let broken = "deb [signed-by=/x https://pkgs.k8s.io/core:/stable:/v1.34/deb/ /\n";
    let result = std::panic::catch_unwind(|| apt_print_uris(broken));
    assert!(result.is_err(), "apt accepted a malformed source line");
}

fn apt_print_uris(list: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for sub in ["lists/partial", "cache/archives/partial", "parts"] {
        fs::create_dir_all(d.join(sub)).unwrap();
    }
    fs::write(d.join("kubernetes.list"), list).unwrap();
    let opt = |key: &str, value: &Path| format!("{key}={}", value.display());
    let out = Command::new("apt-get")
        .arg("-o")
        .arg(opt("Dir::Etc::SourceList", &d.join("kubernetes.list")))
        .arg("-o")
        .arg(opt("Dir::Etc::SourceParts", &d.join("parts")))
        .arg("-o")
        .arg(opt("Dir::State::Lists", &d.join("lists")))
        .arg("-o")
        .arg(opt("Dir::Cache", &d.join("cache")))
        .args(["-o", "Debug::NoLocking=1", "--print-uris", "update"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("E:"),
        "apt-get failed: {stderr}\n{list}"
    );
    stdout
}

// ---------------------------------------------------------------------------------
// Proxy drop-ins

/// `Environment="NAME=value"` lines of a drop-in, as (name, value).
fn environment(text: &str) -> Vec<(String, String)> {
    let lines = content_lines(text);
    assert_eq!(lines.first(), Some(&"[Service]"), "{text}");
    lines[1..]
        .iter()
        .map(|line| {
            let quoted = line
                .strip_prefix("Environment=\"")
                .and_then(|l| l.strip_suffix('"'))
                .unwrap_or_else(|| panic!("not Environment=\"...\": {line}"));
            let (name, value) = quoted.split_once('=').unwrap();
            (name.to_owned(), value.to_owned())
        })
        .collect()
}

#[test]
fn proxy_drop_ins_only_with_a_proxy() {
    for (name, spec) in every_spec() {
        let files = render(&spec);
        let proxied = spec.proxy.http.is_some() || spec.proxy.https.is_some();
        for host in node_names(&spec) {
            for path in [node::CONTAINERD_PROXY_PATH, node::KUBELET_PROXY_PATH] {
                assert_eq!(
                    on_host(&files, &host, path).is_some(),
                    proxied,
                    "{name}: {host} {path}"
                );
            }
        }
    }
}

#[test]
fn proxy_drop_ins_carry_the_proxy_and_a_complete_no_proxy() {
    let spec = corpus("every-section.toml");
    let files = render(&spec);
    for host in node_names(&spec) {
        for path in [node::CONTAINERD_PROXY_PATH, node::KUBELET_PROXY_PATH] {
            let env = environment(&host_file(&files, &host, path).content);
            let get = |key: &str| {
                env.iter()
                    .find(|(k, _)| k == key)
                    .map(|(_, v)| v.clone())
                    .unwrap_or_else(|| panic!("no {key} in {env:?}"))
            };
            for key in ["HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"] {
                assert_eq!(get(key), "http://proxy.lab.example:3128");
            }
            let no_proxy = get("NO_PROXY");
            assert_eq!(get("no_proxy"), no_proxy);
            let entries: Vec<&str> = no_proxy.split(',').collect();
            let mut required = vec![
                "192.168.122.10".to_string(),
                "10.244.0.0/16".into(),
                "10.96.0.0/12".into(),
                "kubeapi.test.example".into(),
                ".lab.example".into(),
                "registry.lab.example:5000".into(),
            ];
            required.extend(spec.hosts.iter().map(|h| h.address.to_string()));
            for entry in &required {
                assert!(
                    entries.contains(&entry.as_str()),
                    "{entry} missing from NO_PROXY={no_proxy}"
                );
            }
        }
    }
}

#[test]
fn only_the_proxies_that_are_set() {
    let mut spec = corpus("every-section.toml");
    spec.proxy.https = None;
    let files = render(&spec);
    let env = environment(&host_file(&files, "kubenode-1", node::KUBELET_PROXY_PATH).content);
    let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy"]);
}

/// systemd reads the drop-ins: `systemd-analyze verify` on a stub unit with each
/// drop-in next to it. It works offline (no running systemd needed), but reports a
/// drop-in's problems as warnings with exit code 0, so any message naming the drop-in
/// fails the check.
#[test]
fn systemd_accepts_the_proxy_drop_ins() {
    if !tool_available("systemd-analyze") {
        eprintln!("systemd-analyze not found: skipping the drop-in check");
        return;
    }
    let spec = corpus("every-section.toml");
    let files = render(&spec);
    for (unit, path) in [
        ("containerd", node::CONTAINERD_PROXY_PATH),
        ("kubelet", node::KUBELET_PROXY_PATH),
    ] {
        let drop_in = &host_file(&files, "kubenode-1", path).content;
        systemd_verify(unit, drop_in);
    }
    // Negative control: a bad specifier and a misspelt key are reported.
    for broken in [
        "[Service]\nEnvironment=\"A=%z\"\n",
        "[Service]\nEnviron=\"A=b\"\n",
    ] {
        let result = std::panic::catch_unwind(|| systemd_verify("containerd", broken));
        assert!(result.is_err(), "systemd-analyze accepted {broken:?}");
    }
}

fn systemd_verify(unit: &str, drop_in: &str) {
    let dir = tempfile::tempdir().unwrap();
    let unit_file = dir.path().join(format!("{unit}.service"));
    fs::write(
        &unit_file,
        "[Unit]\nDescription=stub\n[Service]\nExecStart=/bin/true\n",
    )
    .unwrap();
    let drop_in_dir = dir.path().join(format!("{unit}.service.d"));
    fs::create_dir(&drop_in_dir).unwrap();
    fs::write(drop_in_dir.join("http-proxy.conf"), drop_in).unwrap();
    let out = Command::new("systemd-analyze")
        .arg("verify")
        .arg(&unit_file)
        .env("SYSTEMD_UNIT_PATH", format!("{}:", dir.path().display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && !stderr.contains("http-proxy.conf"),
        "systemd-analyze verify: {stderr}\n{drop_in}"
    );
}

// ---------------------------------------------------------------------------------
// KVM host: libvirt DNS, /etc/hosts, host groups

fn xmllint(args: &[&str], xml: &str) -> Result<String, String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dns.xml");
    fs::write(&path, xml).unwrap();
    let out = Command::new("xmllint")
        .args(args)
        .arg(&path)
        .output()
        .expect("xmllint (libxml2-utils) is installed");
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn xpath(xml: &str, expr: &str) -> String {
    xmllint(&["--xpath", expr], xml)
        .unwrap_or_else(|e| panic!("{expr}: {e}\n{xml}"))
        .trim_end()
        .to_owned()
}

/// The names that should resolve to each address, from the spec alone.
fn expected_dns(spec: &ClusterSpec) -> Vec<(IpAddr, Vec<String>)> {
    let domain = spec.kvm.as_ref().and_then(|k| k.dns_domain.clone());
    spec.hosts
        .iter()
        .map(|h| {
            let mut names = vec![h.name.to_string()];
            names.extend(domain.as_ref().map(|d| format!("{}.{d}", h.name)));
            (h.address, names)
        })
        .collect()
}

/// The endpoint name and where it should resolve, if kubewiz can know that.
fn expected_endpoint(spec: &ClusterSpec) -> Option<(String, IpAddr)> {
    let endpoint = spec.control_plane.endpoint.as_ref()?;
    let spec::EndpointHost::Name(name) = endpoint else {
        return None;
    };
    let address = match spec.control_plane.vip.filter(|_| spec.needs_vip()) {
        Some(vip) => vip,
        None if !spec.topology.is_ha() => spec.hosts_with(spec::Role::ControlPlane).next()?.address,
        None => return None,
    };
    Some((name.to_string(), address))
}

#[test]
fn libvirt_dns_is_well_formed_and_complete() {
    for (name, spec) in every_spec() {
        let files = render(&spec);
        let xml = &local(&files, kvm::LIBVIRT_DNS_PATH).content;
        xmllint(&["--noout"], xml).unwrap_or_else(|e| panic!("{name}: {e}\n{xml}"));
        for (address, names) in expected_dns(&spec) {
            for host_name in names {
                let ip = xpath(
                    xml,
                    &format!("string(/dns/host[hostname='{host_name}']/@ip)"),
                );
                assert_eq!(ip, address.to_string(), "{name}: {host_name}\n{xml}");
            }
        }
        let endpoint = expected_endpoint(&spec);
        if let Some((endpoint, address)) = &endpoint {
            let ip = xpath(
                xml,
                &format!("string(/dns/host[hostname='{endpoint}']/@ip)"),
            );
            assert_eq!(ip, address.to_string(), "{name}: endpoint\n{xml}");
        }
        // One element per address: the hosts, plus the VIP when the endpoint is on it.
        let mut addresses: BTreeSet<IpAddr> = spec.hosts.iter().map(|h| h.address).collect();
        addresses.extend(endpoint.map(|(_, a)| a));
        let count = xpath(xml, "count(/dns/host)");
        assert_eq!(count, addresses.len().to_string(), "{name}\n{xml}");
        let names = xpath(xml, "count(/dns/host/hostname)");
        let expected_names: usize = expected_dns(&spec)
            .iter()
            .map(|(_, n)| n.len())
            .sum::<usize>()
            + usize::from(expected_endpoint(&spec).is_some());
        assert_eq!(names, expected_names.to_string(), "{name}\n{xml}");
    }
}

#[test]
fn libvirt_dns_for_the_kvm_lab() {
    let files = render(&preset("kvm-lab.toml"));
    let xml = &local(&files, kvm::LIBVIRT_DNS_PATH).content;
    assert_eq!(
        xpath(xml, "count(/dns/host)"),
        "14",
        "13 hosts and the VIP\n{xml}"
    );
    assert_eq!(
        xpath(
            xml,
            "string(/dns/host[hostname='kubeapi.test.example']/@ip)"
        ),
        "192.168.122.10"
    );
    assert_eq!(
        xpath(xml, "string(/dns/host[@ip='192.168.122.41']/hostname[2])"),
        "etcd-1.test.example"
    );
    assert_eq!(kvm::libvirt_network(&preset("kvm-lab.toml")), "default");
}

#[test]
fn xmllint_rejects_malformed_xml() {
    // Negative control for the checks above.
    let files = render(&preset("kvm-lab.toml"));
    let xml = &local(&files, kvm::LIBVIRT_DNS_PATH).content;
    let broken = xml.replacen("</host>", "</hots>", 1);
    assert!(xmllint(&["--noout"], &broken).is_err());
    assert!(xmllint(&["--noout"], "<dns><!-- a -- b --></dns>").is_err());
}

#[test]
fn single_master_endpoint_resolves_to_the_control_plane() {
    let spec = preset("single-master.toml");
    let files = render(&spec);
    let xml = &local(&files, kvm::LIBVIRT_DNS_PATH).content;
    assert_eq!(
        xpath(
            xml,
            "string(/dns/host[hostname='kubeapi.test.example']/@ip)"
        ),
        "192.168.122.11"
    );
    // Joined to the control plane's own element: libvirt refuses two for one address.
    assert_eq!(xpath(xml, "count(/dns/host[@ip='192.168.122.11'])"), "1");
    let hosts = &local(&files, kvm::HOSTS_PATH).content;
    let line = hosts
        .lines()
        .find(|l| l.starts_with("192.168.122.11"))
        .unwrap();
    let names: Vec<&str> = line.split_whitespace().skip(1).collect();
    assert_eq!(
        names,
        [
            "kubemaster-1.test.example",
            "kubemaster-1",
            "kubeapi.test.example"
        ]
    );
}

/// The hosts block's lines as (address, names).
fn hosts_entries(text: &str) -> Vec<(IpAddr, Vec<String>)> {
    content_lines(text)
        .into_iter()
        .map(|line| {
            let mut fields = line.split_whitespace();
            let address = fields
                .next()
                .unwrap()
                .parse()
                .unwrap_or_else(|e| panic!("{line}: {e}"));
            (address, fields.map(str::to_owned).collect())
        })
        .collect()
}

#[test]
fn hosts_block_has_markers_every_host_and_the_endpoint() {
    for (name, spec) in every_spec() {
        let files = render(&spec);
        let text = &local(&files, kvm::HOSTS_PATH).content;
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines.first().copied(),
            Some(format!("# BEGIN kubewiz {}", spec.name).as_str())
        );
        assert_eq!(
            lines.last().copied(),
            Some(format!("# END kubewiz {}", spec.name).as_str())
        );
        let entries = hosts_entries(text);
        let resolve = |wanted: &str| {
            entries
                .iter()
                .find(|(_, names)| names.iter().any(|n| n == wanted))
                .map(|(a, _)| *a)
        };
        for (address, names) in expected_dns(&spec) {
            for host_name in names {
                assert_eq!(
                    resolve(&host_name),
                    Some(address),
                    "{name}: {host_name}\n{text}"
                );
            }
        }
        if let Some((endpoint, address)) = expected_endpoint(&spec) {
            assert_eq!(
                resolve(&endpoint),
                Some(address),
                "{name}: endpoint\n{text}"
            );
        }
        let addresses: BTreeSet<IpAddr> = entries.iter().map(|(a, _)| *a).collect();
        assert_eq!(
            addresses.len(),
            entries.len(),
            "{name}: an address twice\n{text}"
        );
    }
}

#[test]
fn hosts_block_for_the_kvm_lab() {
    let files = render(&preset("kvm-lab.toml"));
    let entries = hosts_entries(&local(&files, kvm::HOSTS_PATH).content);
    assert_eq!(entries.len(), 14);
    assert!(entries.contains(&(
        "192.168.122.10".parse().unwrap(),
        vec!["kubeapi.test.example".to_string()]
    )));
    assert!(entries.contains(&(
        "192.168.122.31".parse().unwrap(),
        vec![
            "haproxy-1.test.example".to_string(),
            "haproxy-1".to_string()
        ]
    )));
}

#[test]
fn groups_for_the_kvm_lab() {
    let files = render(&preset("kvm-lab.toml"));
    let group = |role: &str| local(&files, &format!("groups/{role}")).content.clone();
    assert_eq!(
        group("etcd"),
        "root@192.168.122.41:22\nroot@192.168.122.42:22\nroot@192.168.122.43:22\n"
    );
    assert_eq!(
        group("control-plane"),
        "root@192.168.122.11:22\nroot@192.168.122.12:22\nroot@192.168.122.13:22\n"
    );
    assert_eq!(
        group("load-balancer"),
        "root@192.168.122.31:22\nroot@192.168.122.32:22\n"
    );
    assert_eq!(group("worker").lines().count(), 5);
    assert_eq!(group("all").lines().count(), 13);
    let groups: BTreeSet<&str> = files
        .iter()
        .filter_map(|f| f.path.strip_prefix("groups/"))
        .collect();
    assert_eq!(
        groups,
        BTreeSet::from(["all", "control-plane", "etcd", "load-balancer", "worker"])
    );
}

#[test]
fn groups_use_per_host_ssh_settings_and_skip_empty_roles() {
    let files = render(&corpus("every-section.toml"));
    let workers = &local(&files, "groups/worker").content;
    assert_eq!(
        workers,
        "admin@192.168.122.21:2222\ndebian@192.168.122.22:22\n"
    );

    let files = render(&preset("single-node.toml"));
    let groups: BTreeSet<&str> = files
        .iter()
        .filter_map(|f| f.path.strip_prefix("groups/"))
        .collect();
    assert_eq!(groups, BTreeSet::from(["all", "control-plane"]));
    assert_eq!(
        local(&files, "groups/all").content,
        "root@192.168.122.11:22\n"
    );
}

#[test]
fn groups_write_ipv6_addresses_as_parallel_ssh_splits_them() {
    let files = render(&corpus("ipv6-single-master.toml"));
    // parallel-ssh takes the port after the last ':', and the rest is the address.
    assert_eq!(
        local(&files, "groups/worker").content,
        "root@fd00:122::21:22\n"
    );
}

// ---------------------------------------------------------------------------------
// CNI

fn cni_text(spec: &ClusterSpec) -> String {
    let files = render(spec);
    let path = cni::config_path(spec).expect("a CNI with a file");
    let first = spec.hosts_with(spec::Role::ControlPlane).next().unwrap();
    host_file(&files, first.name.as_str(), &path)
        .content
        .clone()
}

fn yaml_documents(text: &str) -> Vec<serde_yaml_ng::Value> {
    serde_yaml_ng::Deserializer::from_str(text)
        .map(|doc| {
            <serde_yaml_ng::Value as serde::Deserialize>::deserialize(doc)
                .unwrap_or_else(|e| panic!("YAML does not parse: {e}\n{text}"))
        })
        .collect()
}

fn json_field(value: &serde_yaml_ng::Value, key: &str) -> serde_json::Value {
    let text = value["data"][key]
        .as_str()
        .unwrap_or_else(|| panic!("no data.{key}"));
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{key} is not JSON: {e}\n{text}"))
}

#[test]
fn calico_pool_is_the_pod_cidr() {
    for (spec, cidr, name, block) in [
        (
            preset("kvm-lab.toml"),
            "10.244.0.0/16",
            "default-ipv4-ippool",
            26,
        ),
        (
            with_pod_cidr(preset("kvm-lab.toml"), "10.32.0.0/12"),
            "10.32.0.0/12",
            "default-ipv4-ippool",
            26,
        ),
        (
            corpus("ipv6-single-master.toml"),
            "fd00:10:244::/56",
            "default-ipv6-ippool",
            122,
        ),
    ] {
        assert_eq!(spec.kubernetes.cni, Cni::Calico);
        let text = cni_text(&spec);
        let docs = yaml_documents(&text);
        assert_eq!(docs.len(), 2, "{text}");
        let installation = &docs[0];
        assert_eq!(
            installation["apiVersion"].as_str(),
            Some("operator.tigera.io/v1")
        );
        assert_eq!(installation["kind"].as_str(), Some("Installation"));
        assert_eq!(installation["metadata"]["name"].as_str(), Some("default"));
        let pools = installation["spec"]["calicoNetwork"]["ipPools"]
            .as_sequence()
            .unwrap();
        assert_eq!(pools.len(), 1);
        let pool = &pools[0];
        assert_eq!(pool["cidr"].as_str(), Some(cidr), "{text}");
        assert_eq!(pool["name"].as_str(), Some(name));
        assert_eq!(pool["blockSize"].as_u64(), Some(block));
        assert_eq!(pool["encapsulation"].as_str(), Some("VXLANCrossSubnet"));
        assert_eq!(pool["natOutgoing"].as_str(), Some("Enabled"));
        assert_eq!(pool["nodeSelector"].as_str(), Some("all()"));
        assert_eq!(
            docs[1]["apiVersion"].as_str(),
            Some("operator.tigera.io/v1")
        );
        assert_eq!(docs[1]["kind"].as_str(), Some("APIServer"));
        assert_eq!(docs[1]["metadata"]["name"].as_str(), Some("default"));
    }
}

fn with_pod_cidr(mut spec: ClusterSpec, cidr: &str) -> ClusterSpec {
    spec.kubernetes.pod_cidr = cidr.parse().unwrap();
    spec
}

fn with_cni(mut spec: ClusterSpec, cni: Cni) -> ClusterSpec {
    spec.kubernetes.cni = cni;
    spec
}

#[test]
fn flannel_network_is_the_pod_cidr() {
    for spec in [
        preset("single-node.toml"),
        with_pod_cidr(preset("single-node.toml"), "10.32.0.0/12"),
    ] {
        assert_eq!(spec.kubernetes.cni, Cni::Flannel);
        let text = cni_text(&spec);
        let docs = yaml_documents(&text);
        assert_eq!(docs.len(), 1, "{text}");
        let config_map = &docs[0];
        assert_eq!(config_map["kind"].as_str(), Some("ConfigMap"));
        assert_eq!(
            config_map["metadata"]["name"].as_str(),
            Some("kube-flannel-cfg")
        );
        assert_eq!(
            config_map["metadata"]["namespace"].as_str(),
            Some("kube-flannel")
        );
        let net = json_field(config_map, "net-conf.json");
        assert_eq!(
            net["Network"],
            spec.kubernetes.pod_cidr.to_string(),
            "{text}"
        );
        assert_eq!(net["Backend"]["Type"], "vxlan");
        let cni_conf = json_field(config_map, "cni-conf.json");
        assert_eq!(cni_conf["name"], "cbr0");
        assert_eq!(cni_conf["plugins"][0]["type"], "flannel");
        assert_eq!(cni_conf["plugins"][0]["delegate"]["hairpinMode"], true);
        assert_eq!(cni_conf["plugins"][0]["delegate"]["isDefaultGateway"], true);
        assert_eq!(cni_conf["plugins"][1]["type"], "portmap");
    }

    let spec = with_cni(corpus("ipv6-single-master.toml"), Cni::Flannel);
    let net = json_field(&yaml_documents(&cni_text(&spec))[0], "net-conf.json");
    assert_eq!(net["IPv6Network"], "fd00:10:244::/56");
    assert_eq!(net["EnableIPv6"], true);
    assert_eq!(net["EnableIPv4"], false);
    assert!(net.get("Network").is_none(), "{net}");
}

#[test]
fn cilium_values_use_kubernetes_ipam_and_the_endpoint() {
    for (spec, host, port) in [
        (corpus("every-section.toml"), "kubeapi.test.example", 6443),
        (preset("stacked-ha-kube-vip.toml"), "192.168.122.10", 6443),
        (
            with_cni(preset("stacked-ha.toml"), Cni::Cilium),
            "kubeapi.test.example",
            8443,
        ),
        (
            with_cni(preset("single-node.toml"), Cni::Cilium),
            "192.168.122.11",
            6443,
        ),
    ] {
        assert_eq!(spec.kubernetes.cni, Cni::Cilium);
        let text = cni_text(&spec);
        let docs = yaml_documents(&text);
        assert_eq!(docs.len(), 1, "{text}");
        let values = &docs[0];
        assert_eq!(
            values["ipam"]["mode"].as_str(),
            Some("kubernetes"),
            "{text}"
        );
        assert_eq!(values["k8sServiceHost"].as_str(), Some(host), "{text}");
        assert_eq!(values["k8sServicePort"].as_u64(), Some(port), "{text}");
        assert_eq!(
            values["kubeProxyReplacement"].as_bool(),
            Some(false),
            "{text}"
        );
        assert!(values.get("ipv6").is_none(), "{text}");
    }

    let spec = with_cni(corpus("ipv6-single-master.toml"), Cni::Cilium);
    let values = &yaml_documents(&cni_text(&spec))[0];
    assert_eq!(values["ipv6"]["enabled"].as_bool(), Some(true));
    assert_eq!(values["ipv4"]["enabled"].as_bool(), Some(false));
    assert_eq!(
        values["ipv6NativeRoutingCIDR"].as_str(),
        Some("fd00:10:244::/56")
    );
}

#[test]
fn cni_none_renders_nothing_and_manifests_are_pinned() {
    let spec = with_cni(preset("kvm-lab.toml"), Cni::None);
    assert!(cni::files(&Layout::new(&spec).unwrap()).is_empty());
    assert_eq!(cni::config_path(&spec), None);
    assert!(cni::manifests(&spec).is_empty());
    assert!(cni::bundle_needs(&spec).is_empty());

    let urls = |spec: &spec::ClusterSpec| -> Vec<String> {
        cni::manifests(spec).into_iter().map(|m| m.url).collect()
    };
    let v = cni::CALICO_VERSION;
    assert_eq!(
        urls(&preset("kvm-lab.toml")),
        [
            format!(
                "https://raw.githubusercontent.com/projectcalico/calico/{v}/manifests/operator-crds.yaml"
            ),
            format!(
                "https://raw.githubusercontent.com/projectcalico/calico/{v}/manifests/tigera-operator.yaml"
            )
        ]
    );
    let flannel = cni::manifests(&preset("single-node.toml"));
    assert_eq!(
        flannel[0].url,
        format!(
            "https://github.com/flannel-io/flannel/releases/download/{}/kube-flannel.yml",
            cni::FLANNEL_VERSION
        )
    );
    // A bundle carries each under a name with its version (README.md, air-gap bundle).
    let bundle_paths = |name: &str| -> Vec<String> {
        cni::bundle_needs(&preset(name))
            .into_iter()
            .map(|m| m.bundle_path)
            .collect()
    };
    assert_eq!(
        bundle_paths("kvm-lab.toml"),
        [
            "manifests/calico-operator-crds-v3.30.3.yaml",
            "manifests/calico-tigera-operator-v3.30.3.yaml"
        ]
    );
    assert_eq!(
        bundle_paths("single-node.toml"),
        ["manifests/kube-flannel-v0.27.4.yml"]
    );
    assert_eq!(
        bundle_paths("stacked-ha-kube-vip.toml"),
        ["charts/cilium-1.19.3.tgz", "bin/helm"]
    );
    assert!(cni::manifests(&corpus("every-section.toml")).is_empty());
    for version in [cni::CALICO_VERSION, cni::FLANNEL_VERSION] {
        assert!(
            version.starts_with('v') && version.matches('.').count() == 2,
            "{version}"
        );
    }
}

// ---------------------------------------------------------------------------------
// Snapshots, read by eye once (tests/snapshots/render_node__*.snap)

#[test]
fn kvm_lab_snapshots() {
    let files = render(&preset("kvm-lab.toml"));
    insta::assert_snapshot!(
        "kvm_lab_containerd_config_toml",
        host_file(&files, "kubemaster-1", node::CONTAINERD_CONFIG_PATH).content
    );
    insta::assert_snapshot!(
        "kvm_lab_sysctl_conf",
        host_file(&files, "kubemaster-1", node::SYSCTL_PATH).content
    );
    insta::assert_snapshot!(
        "kvm_lab_libvirt_dns_xml",
        local(&files, kvm::LIBVIRT_DNS_PATH).content
    );
}
