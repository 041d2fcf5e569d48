//! The load-balancer files, checked with the real tools that will read them: `haproxy -c`,
//! `keepalived -t`, `sh -n` and a run of the health check against a TLS listener, plus
//! the kube-vip manifest parsed back as YAML.

use std::collections::BTreeSet;
use std::net::{IpAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use kubewiz::render::{File, Layout, LbLayout, Purpose, Target, lb};
use kubewiz::spec::ClusterSpec;
use serde_yaml_ng::Value;

// ---- specs ----

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn load(path: &Path) -> ClusterSpec {
    kubewiz::spec::load_file(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .spec
}

fn preset(name: &str) -> ClusterSpec {
    load(&root().join("presets").join(name))
}

/// Every preset and good corpus file, by path.
fn all_specs() -> Vec<(PathBuf, ClusterSpec)> {
    let mut paths = Vec::new();
    for dir in ["presets", "tests/corpus/good"] {
        for entry in std::fs::read_dir(root().join(dir)).expect("the directory exists") {
            let path = entry.expect("readable directory").path();
            if path.extension().is_some_and(|e| e == "toml") {
                paths.push(path);
            }
        }
    }
    paths.sort();
    paths.into_iter().map(|p| (p.clone(), load(&p))).collect()
}

fn haproxy_specs() -> Vec<(PathBuf, ClusterSpec)> {
    let specs: Vec<_> = all_specs()
        .into_iter()
        .filter(|(_, spec)| matches!(layout(spec).lb, LbLayout::HaproxyKeepalived { .. }))
        .collect();
    // kvm-lab, stacked-ha, external-etcd and the corpus's variants at the time of writing
    assert!(specs.len() >= 5, "only {} specs with haproxy", specs.len());
    specs
}

fn layout(spec: &ClusterSpec) -> Layout<'_> {
    Layout::new(spec).expect("a good spec has a layout")
}

/// The same spec with `network.interface` set.
fn with_interface(spec: &ClusterSpec, name: &str) -> ClusterSpec {
    let mut spec = spec.clone();
    spec.network.interface = Some(name.parse().expect("a valid interface name"));
    spec
}

/// An IPv6-only stacked cluster with haproxy on the control planes.
fn ipv6_stacked() -> ClusterSpec {
    let text = r#"
name = "lab6"
topology = "stacked-ha"

[kubernetes]
version = "1.34.2"
pod_cidr = "fd00:10:244::/56"
service_cidr = "fd00:10:96::/112"

[network]
hosts_cidr = "fd00:122::/64"

[control_plane]
port = 8443
vip = "fd00:122::10"
load_balancer = "haproxy-keepalived"

[[hosts]]
name = "kubemaster-1"
address = "fd00:122::11"
roles = ["control-plane"]

[[hosts]]
name = "kubemaster-2"
address = "fd00:122::12"
roles = ["control-plane"]

[[hosts]]
name = "kubemaster-3"
address = "fd00:122::13"
roles = ["control-plane"]
"#;
    kubewiz::spec::parse(text).unwrap_or_else(|d| panic!("{d:?}"))
}

// ---- files ----

fn on_host<'a>(files: &'a [File], host: &str, path: &str) -> &'a File {
    files
        .iter()
        .find(|f| f.target == Target::Host(host.to_owned()) && f.path == path)
        .unwrap_or_else(|| panic!("no {path} on {host}"))
}

/// The hosts that get `path`, in order.
fn hosts_of(files: &[File], path: &str) -> Vec<String> {
    files
        .iter()
        .filter(|f| f.path == path)
        .map(|f| f.target.to_string())
        .collect()
}

fn names(hosts: &[&str]) -> Vec<String> {
    hosts.iter().map(|h| h.to_string()).collect()
}

// ---- tools ----

/// A tool from the Debian packages scripts/test.sh installs; sbin is often not in a
/// normal user's PATH.
fn tool(name: &str) -> PathBuf {
    let path_dirs = std::env::var_os("PATH").map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .map(PathBuf::from)
        .chain(path_dirs.unwrap_or_default())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not installed; scripts/test.sh installs the tools the tests use")
        })
}

fn run(command: &mut Command) -> Output {
    command
        .output()
        .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"))
}

fn describe(output: &Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

fn write(dir: &Path, name: &str, content: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, content).expect("the temp dir is writable");
    path
}

fn write_exec(dir: &Path, name: &str, content: &str) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let path = write(dir, name, content);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    path
}

fn haproxy_check(config: &str) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = write(dir.path(), "haproxy.cfg", config);
    run(Command::new(tool("haproxy")).arg("-c").arg("-f").arg(&path))
}

/// Runs `keepalived -t` on `config` with its absolute paths moved into a temp dir: the
/// health check script (keepalived refuses a script it cannot find) and, when given,
/// the interface include file with `include` content.
fn keepalived_check(config: &str, include: Option<&str>) -> Output {
    let dir = tempfile::tempdir().expect("temp dir");
    let script = write_exec(dir.path(), "check_apiserver.sh", "#!/bin/sh\nexit 0\n");
    let mut config = config.replace(lb::CHECK_APISERVER, &script.display().to_string());
    if let Some(include) = include {
        let path = write(dir.path(), "kubewiz-interface.conf", include);
        config = config.replace(
            &format!("include {}", lb::INTERFACE_INCLUDE),
            &format!("include {}", path.display()),
        );
    }
    let path = write(dir.path(), "keepalived.conf", &config);
    run(Command::new(tool("keepalived"))
        .arg("-t")
        .arg("-l")
        .arg("-f")
        .arg(&path))
}

/// A network interface of this machine that keepalived accepts (not loopback):
/// keepalived -t refuses interfaces that do not exist.
fn local_interface() -> String {
    let mut names: Vec<String> = std::fs::read_dir("/sys/class/net")
        .expect("/sys/class/net lists the interfaces")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n != "lo")
        .collect();
    names.sort();
    names
        .into_iter()
        .next()
        .expect("keepalived checks need a non-loopback interface on the test machine")
}

// ---- haproxy ----

#[test]
fn haproxy_configs_pass_haproxy_check() {
    for (path, spec) in haproxy_specs()
        .into_iter()
        .chain([(PathBuf::from("ipv6"), ipv6_stacked())])
    {
        let layout = layout(&spec);
        let files = lb::files(&layout);
        let configs: Vec<_> = files.iter().filter(|f| f.path == lb::HAPROXY_CFG).collect();
        assert!(!configs.is_empty(), "{}: no haproxy.cfg", path.display());
        for file in configs {
            let output = haproxy_check(&file.content);
            assert!(
                output.status.success(),
                "{} {}: haproxy -c: {}\n{}",
                path.display(),
                file.target,
                describe(&output),
                file.content
            );
            let servers: Vec<&str> = file
                .content
                .lines()
                .map(str::trim)
                .filter(|l| l.starts_with("server "))
                .collect();
            assert_eq!(
                servers.len(),
                layout.control_planes.len(),
                "{}",
                path.display()
            );
            for (line, cp) in servers.iter().zip(&layout.control_planes) {
                let address = match cp.address {
                    IpAddr::V4(a) => format!("{a}:6443"),
                    IpAddr::V6(a) => format!("[{a}]:6443"),
                };
                assert!(
                    line.starts_with(&format!(
                        "server {} {address} check check-ssl verify none",
                        cp.name
                    )),
                    "{}: {line}",
                    path.display()
                );
            }
        }
    }
}

#[test]
fn haproxy_runs_on_dedicated_hosts_in_kvm_lab() {
    let spec = preset("kvm-lab.toml");
    let files = lb::files(&layout(&spec));
    for path in [lb::HAPROXY_CFG, lb::KEEPALIVED_CONF, lb::CHECK_APISERVER] {
        assert_eq!(
            hosts_of(&files, path),
            names(&["haproxy-1", "haproxy-2"]),
            "{path}"
        );
    }
    assert_eq!(
        files.len(),
        6,
        "only haproxy, keepalived and the check script"
    );
    let cfg = &on_host(&files, "haproxy-1", lb::HAPROXY_CFG).content;
    assert!(cfg.contains("\n    bind *:6443\n"), "{cfg}");
    for (name, address) in [
        ("kubemaster-1", "192.168.122.11"),
        ("kubemaster-2", "192.168.122.12"),
        ("kubemaster-3", "192.168.122.13"),
    ] {
        assert!(
            cfg.contains(&format!("server {name} {address}:6443 check")),
            "{cfg}"
        );
    }
    for file in &files {
        assert_eq!(file.purpose, Purpose::LoadBalancer);
        let mode = if file.path == lb::CHECK_APISERVER {
            0o755
        } else {
            0o644
        };
        assert_eq!(file.mode, mode, "{}", file.path);
    }
}

#[test]
fn haproxy_runs_on_the_control_planes_in_stacked_ha() {
    let spec = preset("stacked-ha.toml");
    let files = lb::files(&layout(&spec));
    let control_planes = names(&["kubemaster-1", "kubemaster-2", "kubemaster-3"]);
    for path in [lb::HAPROXY_CFG, lb::KEEPALIVED_CONF, lb::CHECK_APISERVER] {
        assert_eq!(hosts_of(&files, path), control_planes, "{path}");
    }
    // kube-apiserver holds 6443 on these hosts
    let cfg = &on_host(&files, "kubemaster-2", lb::HAPROXY_CFG).content;
    assert!(cfg.contains("\n    bind *:8443\n"), "{cfg}");
    assert!(!cfg.contains("bind *:6443"), "{cfg}");
    let script = &on_host(&files, "kubemaster-2", lb::CHECK_APISERVER).content;
    assert!(script.contains("https://localhost:8443/"), "{script}");
    assert!(script.contains("https://192.168.122.10:8443/"), "{script}");
}

#[test]
fn ipv6_haproxy_binds_v6_and_brackets_addresses() {
    let spec = ipv6_stacked();
    let files = lb::files(&layout(&spec));
    let cfg = &on_host(&files, "kubemaster-1", lb::HAPROXY_CFG).content;
    assert!(cfg.contains("bind [::]:8443 v4v6"), "{cfg}");
    assert!(
        cfg.contains("server kubemaster-3 [fd00:122::13]:6443 check"),
        "{cfg}"
    );
    let script = &on_host(&files, "kubemaster-1", lb::CHECK_APISERVER).content;
    assert!(script.contains("https://[fd00:122::10]:8443/"), "{script}");
}

#[test]
fn haproxy_check_rejects_a_broken_config() {
    let spec = preset("kvm-lab.toml");
    let files = lb::files(&layout(&spec));
    let cfg = &on_host(&files, "haproxy-1", lb::HAPROXY_CFG).content;
    assert!(haproxy_check(cfg).status.success());
    let broken = cfg.replace("balance roundrobin", "balance nosuchalgorithm");
    assert_ne!(&broken, cfg);
    let output = haproxy_check(&broken);
    assert!(
        !output.status.success(),
        "haproxy -c accepted a broken config: {}",
        describe(&output)
    );
}

// ---- keepalived ----

#[test]
fn keepalived_configs_with_an_interface_pass_keepalived_check() {
    let interface = local_interface();
    for (path, spec) in haproxy_specs()
        .into_iter()
        .chain([(PathBuf::from("ipv6"), ipv6_stacked())])
    {
        let spec = with_interface(&spec, &interface);
        let files = lb::files(&layout(&spec));
        for file in files.iter().filter(|f| f.path == lb::KEEPALIVED_CONF) {
            assert!(
                file.content
                    .contains(&format!("\n    interface {interface}\n")),
                "{}",
                file.content
            );
            assert!(!file.content.contains("include"), "{}", file.content);
            let output = keepalived_check(&file.content, None);
            assert!(
                output.status.success(),
                "{} {}: keepalived -t: {}\n{}",
                path.display(),
                file.target,
                describe(&output),
                file.content
            );
        }
    }
}

#[test]
fn keepalived_configs_with_a_detected_interface_pass_keepalived_check() {
    let include = lb::interface_include(&local_interface());
    for (path, spec) in haproxy_specs()
        .into_iter()
        .chain([(PathBuf::from("ipv6"), ipv6_stacked())])
    {
        assert!(
            spec.network.interface.is_none(),
            "{}: the corpus sets no interface",
            path.display()
        );
        let files = lb::files(&layout(&spec));
        for file in files.iter().filter(|f| f.path == lb::KEEPALIVED_CONF) {
            assert!(
                file.content
                    .contains(&format!("\ninclude {}\n", lb::INTERFACE_INCLUDE)),
                "{}",
                file.content
            );
            let output = keepalived_check(&file.content, Some(&include));
            assert!(
                output.status.success(),
                "{} {}: keepalived -t: {}\n{}",
                path.display(),
                file.target,
                describe(&output),
                file.content
            );
        }
    }
}

#[test]
fn keepalived_check_rejects_a_missing_interface_or_an_unknown_keyword() {
    let spec = preset("kvm-lab.toml");
    let files = lb::files(&layout(&spec));
    let conf = &on_host(&files, "haproxy-1", lb::KEEPALIVED_CONF).content;
    let good = lb::interface_include(&local_interface());
    assert!(keepalived_check(conf, Some(&good)).status.success());

    let cases = [
        ("no include file", conf.clone(), None),
        (
            "include line removed",
            conf.replace(&format!("include {}", lb::INTERFACE_INCLUDE), ""),
            Some(good.clone()),
        ),
        (
            "include defines nothing",
            conf.clone(),
            Some("# empty\n".to_string()),
        ),
        (
            "empty interface name",
            conf.clone(),
            Some(lb::interface_include("")),
        ),
        (
            "unknown keyword",
            conf.replace("advert_int 1", "advert_interval 1"),
            Some(good.clone()),
        ),
    ];
    for (what, conf, include) in cases {
        let output = keepalived_check(&conf, include.as_deref());
        assert!(
            !output.status.success(),
            "keepalived -t accepted a config with {what}: {}",
            describe(&output)
        );
    }
}

/// `key value` lines of a keepalived.conf, trimmed.
fn setting<'a>(conf: &'a str, key: &str) -> Vec<&'a str> {
    conf.lines()
        .map(str::trim)
        .filter_map(|l| l.strip_prefix(key)?.strip_prefix(' '))
        .collect()
}

/// The lines inside `name { ... }`.
fn block<'a>(conf: &'a str, name: &str) -> Vec<&'a str> {
    conf.lines()
        .map(str::trim)
        .skip_while(|l| *l != format!("{name} {{"))
        .skip(1)
        .take_while(|l| *l != "}")
        .collect()
}

#[test]
fn keepalived_has_one_master_and_one_router_id_per_cluster() {
    for (path, spec) in haproxy_specs() {
        let layout = layout(&spec);
        let LbLayout::HaproxyKeepalived { hosts, .. } = &layout.lb else {
            unreachable!()
        };
        let files = lb::files(&layout);
        let mut states = Vec::new();
        let mut router_ids = BTreeSet::new();
        let mut priorities = BTreeSet::new();
        for (index, host) in hosts.iter().enumerate() {
            let conf = &on_host(&files, host.name.as_str(), lb::KEEPALIVED_CONF).content;
            let context = format!("{} {}:\n{conf}", path.display(), host.name);
            states.extend(setting(conf, "state"));
            router_ids.extend(setting(conf, "virtual_router_id"));
            priorities.extend(setting(conf, "priority"));
            assert_eq!(
                setting(conf, "state"),
                [if index == 0 { "MASTER" } else { "BACKUP" }],
                "{context}"
            );
            assert_eq!(
                setting(conf, "router_id"),
                [host.name.as_str()],
                "{context}"
            );
            assert_eq!(
                setting(conf, "priority"),
                [(101 - index).to_string()],
                "{context}"
            );
            assert!(block(conf, "authentication").is_empty(), "{context}");
            let vip = layout.vip.expect("haproxy layouts have a VIP");
            let prefix = match spec.network.hosts_cidr {
                Some(net) => net.prefix_len(),
                None => 32,
            };
            assert_eq!(
                block(conf, "virtual_ipaddress"),
                [format!("{vip}/{prefix}")],
                "{context}"
            );
            assert_eq!(
                block(conf, "track_script"),
                ["check_apiserver"],
                "{context}"
            );
            let peers: Vec<String> = hosts
                .iter()
                .filter(|h| h.name != host.name)
                .map(|h| h.address.to_string())
                .collect();
            assert_eq!(block(conf, "unicast_peer"), peers, "{context}");
            if peers.is_empty() {
                // keepalived refuses unicast settings without peers
                assert!(setting(conf, "unicast_src_ip").is_empty(), "{context}");
            } else {
                assert_eq!(
                    setting(conf, "unicast_src_ip"),
                    [host.address.to_string()],
                    "{context}"
                );
            }
        }
        assert_eq!(
            states.iter().filter(|s| **s == "MASTER").count(),
            1,
            "{}",
            path.display()
        );
        assert_eq!(router_ids.len(), 1, "{}: {router_ids:?}", path.display());
        assert_eq!(
            router_ids.first().copied(),
            Some(layout.vrrp_router_id().to_string().as_str())
        );
        assert_eq!(
            priorities.len(),
            hosts.len(),
            "{}: equal priorities",
            path.display()
        );
    }
}

#[test]
fn keepalived_vip_prefix_follows_hosts_cidr() {
    let vip_of = |spec: &ClusterSpec, host: &str| {
        let files = lb::files(&layout(spec));
        let conf = &on_host(&files, host, lb::KEEPALIVED_CONF).content;
        block(conf, "virtual_ipaddress").join(" ")
    };
    assert_eq!(
        vip_of(&preset("kvm-lab.toml"), "haproxy-2"),
        "192.168.122.10/24"
    );
    let no_cidr = load(&root().join("tests/corpus/good/warn-no-hosts-cidr.toml"));
    assert_eq!(vip_of(&no_cidr, "kubemaster-1"), "192.168.122.10/32");
    assert_eq!(vip_of(&ipv6_stacked(), "kubemaster-1"), "fd00:122::10/64");
}

#[test]
fn interface_detection_reads_real_ip_output() {
    let detect = |address: &str| {
        let address: IpAddr = address.parse().expect("an address");
        let output = run(Command::new("sh")
            .arg("-c")
            .arg(lb::detect_interface_command(address)));
        assert!(output.status.success(), "{}", describe(&output));
        lb::parse_detected_interface(&String::from_utf8_lossy(&output.stdout))
    };
    assert_eq!(
        detect("127.0.0.1").map(|n| n.to_string()).as_deref(),
        Some("lo")
    );
    // TEST-NET-3: on no interface of a test machine
    assert_eq!(detect("203.0.113.77"), None);
    let veth = "5: eth0@if6    inet 10.77.0.11/24 brd 10.77.0.255 scope global eth0\\       valid_lft forever";
    assert_eq!(
        lb::parse_detected_interface(veth)
            .map(|n| n.to_string())
            .as_deref(),
        Some("eth0")
    );
    assert_eq!(lb::parse_detected_interface(""), None);
}

#[test]
fn interface_include_holds_one_word() {
    let include = lb::interface_include("enp1s0");
    assert!(
        include.lines().any(|l| l == "$KUBEWIZ_INTERFACE=enp1s0"),
        "{include}"
    );
    let hostile = lb::interface_include("eth0\nvrrp_instance X {");
    assert!(!hostile.contains("vrrp_instance"), "{hostile}");
}

// ---- check_apiserver.sh ----

#[test]
fn check_scripts_are_valid_sh() {
    for (path, spec) in haproxy_specs() {
        let files = lb::files(&layout(&spec));
        for file in files.iter().filter(|f| f.path == lb::CHECK_APISERVER) {
            assert!(file.content.starts_with("#!/bin/sh\n"), "{}", file.content);
            assert_eq!(file.mode, 0o755);
            let dir = tempfile::tempdir().expect("temp dir");
            let script = write(dir.path(), "check.sh", &file.content);
            let output = run(Command::new("sh").arg("-n").arg(&script));
            assert!(
                output.status.success(),
                "{} {}: {}",
                path.display(),
                file.target,
                describe(&output)
            );
        }
    }
    // sh -n really parses
    let dir = tempfile::tempdir().expect("temp dir");
    let broken = write(dir.path(), "broken.sh", "#!/bin/sh\nif true; then\n");
    assert!(
        !run(Command::new("sh").arg("-n").arg(&broken))
            .status
            .success()
    );
}

/// A TLS listener (`openssl s_server -www`, answering any request with a status page)
/// on 127.0.0.1:`port`; killed on drop.
struct TlsListener(Child);

impl TlsListener {
    fn start(dir: &Path, port: u16) -> Self {
        let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
        let output = run(Command::new(tool("openssl"))
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
            ])
            .args(["-subj", "/CN=localhost", "-days", "1", "-keyout"])
            .arg(&key)
            .arg("-out")
            .arg(&cert));
        assert!(output.status.success(), "{}", describe(&output));
        let child = Command::new(tool("openssl"))
            .args([
                "s_server",
                "-quiet",
                "-www",
                "-accept",
                &format!("127.0.0.1:{port}"),
                "-cert",
            ])
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl s_server starts");
        let listener = TlsListener(child);
        let deadline = Instant::now() + Duration::from_secs(5);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "openssl s_server did not listen on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        listener
    }
}

impl Drop for TlsListener {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

/// The check script of stacked-ha with haproxy's frontend on `port` and `vip` as the VIP.
fn check_script(port: u16, vip: &str) -> String {
    let mut spec = preset("stacked-ha.toml");
    spec.control_plane.port = port;
    spec.control_plane.vip = Some(vip.parse().expect("an address"));
    let files = lb::files(&layout(&spec));
    on_host(&files, "kubemaster-1", lb::CHECK_APISERVER)
        .content
        .clone()
}

fn run_check(dir: &Path, script: &str) -> Output {
    let path = write_exec(dir, "check_apiserver.sh", script);
    run(&mut Command::new(path))
}

#[test]
fn check_script_passes_while_haproxy_answers_and_fails_when_it_does_not() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    // The VIP is not on this machine, so only localhost is checked.
    let script = check_script(port, "192.168.122.10");

    let output = run_check(dir.path(), &script);
    assert_eq!(
        output.status.code(),
        Some(1),
        "nothing listens yet: {}",
        describe(&output)
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("no answer"),
        "{}",
        describe(&output)
    );

    let listener = TlsListener::start(dir.path(), port);
    let output = run_check(dir.path(), &script);
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));

    drop(listener);
    let output = run_check(dir.path(), &script);
    assert_eq!(
        output.status.code(),
        Some(1),
        "the listener is gone: {}",
        describe(&output)
    );
}

#[test]
fn check_script_also_checks_the_vip_when_this_host_holds_it() {
    let dir = tempfile::tempdir().expect("temp dir");
    let port = free_port();
    let _listener = TlsListener::start(dir.path(), port);

    // 127.0.0.1 is "held" here and answers: both checks pass.
    let output = run_check(dir.path(), &check_script(port, "127.0.0.1"));
    assert_eq!(output.status.code(), Some(0), "{}", describe(&output));

    // ::1 is held too, but the listener is on 127.0.0.1 only: localhost still answers,
    // so only the VIP check can fail.
    let has_v6_loopback = !run(Command::new("ip").args(["-o", "addr", "show", "to", "::1"]))
        .stdout
        .is_empty();
    if has_v6_loopback {
        let output = run_check(dir.path(), &check_script(port, "::1"));
        assert_eq!(output.status.code(), Some(1), "{}", describe(&output));
        assert!(
            String::from_utf8_lossy(&output.stderr).contains("holds the VIP"),
            "{}",
            describe(&output)
        );
    } else {
        eprintln!("no ::1 on this machine; the failing VIP check was not exercised");
    }
}

// ---- kube-vip ----

fn yaml(text: &str) -> Value {
    serde_yaml_ng::from_str(text).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn get<'a>(value: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(value, |v, key| {
        v.get(*key)
            .unwrap_or_else(|| panic!("no {key} in {path:?}"))
    })
}

fn first(value: &Value) -> &Value {
    value
        .as_sequence()
        .and_then(|s| s.first())
        .expect("a non-empty list")
}

/// The container's env as name → value; every value must be a string.
fn env(pod: &Value) -> Vec<(String, Option<String>)> {
    let container = first(get(pod, &["spec", "containers"]));
    get(container, &["env"])
        .as_sequence()
        .expect("env is a list")
        .iter()
        .map(|e| {
            let name = get(e, &["name"]).as_str().expect("a name").to_owned();
            let value = e.get("value").map(|v| {
                v.as_str()
                    .unwrap_or_else(|| panic!("{name} is not a string"))
                    .to_owned()
            });
            (name, value)
        })
        .collect()
}

fn env_value(pod: &Value, name: &str) -> Option<String> {
    env(pod)
        .into_iter()
        .find(|(n, _)| n == name)
        .and_then(|(_, v)| v)
}

fn host_path(pod: &Value) -> String {
    let volume = first(get(pod, &["spec", "volumes"]));
    get(volume, &["hostPath", "path"])
        .as_str()
        .expect("a path")
        .to_owned()
}

#[test]
fn kube_vip_manifests_on_every_control_plane() {
    let spec = preset("stacked-ha-kube-vip.toml");
    let layout = layout(&spec);
    let files = lb::files(&layout);
    assert_eq!(
        hosts_of(&files, lb::KUBE_VIP_MANIFEST),
        names(&["kubemaster-1", "kubemaster-2", "kubemaster-3"])
    );
    assert_eq!(files.len(), 3, "kube-vip needs nothing else");
    for file in &files {
        assert_eq!((file.purpose, file.mode), (Purpose::LoadBalancer, 0o600));
        let host = file.target.to_string();
        let pod = yaml(&file.content);
        assert_eq!(get(&pod, &["apiVersion"]).as_str(), Some("v1"));
        assert_eq!(get(&pod, &["kind"]).as_str(), Some("Pod"));
        assert_eq!(
            get(&pod, &["metadata", "namespace"]).as_str(),
            Some("kube-system")
        );
        assert_eq!(get(&pod, &["spec", "hostNetwork"]).as_bool(), Some(true));
        let container = first(get(&pod, &["spec", "containers"]));
        assert_eq!(
            get(container, &["image"]).as_str(),
            Some(lb::KUBE_VIP_IMAGE)
        );
        assert_eq!(get(container, &["args"]), &yaml("[manager]"));
        assert_eq!(
            get(container, &["securityContext", "capabilities"]),
            &yaml("{add: [NET_ADMIN, NET_RAW], drop: [ALL]}")
        );
        assert_eq!(
            get(container, &["volumeMounts"]),
            &yaml("[{mountPath: /etc/kubernetes/admin.conf, name: kubeconfig}]")
        );
        assert_eq!(
            get(&pod, &["spec", "hostAliases"]),
            &yaml("[{hostnames: [kubernetes], ip: 127.0.0.1}]")
        );
        let expected = [
            ("vip_arp", "true"),
            ("port", "6443"),
            ("vip_subnet", "24"),
            ("cp_enable", "true"),
            ("cp_namespace", "kube-system"),
            ("vip_leaderelection", "true"),
            ("vip_leasename", "plndr-cp-lock"),
            ("vip_leaseduration", "5"),
            ("vip_renewdeadline", "3"),
            ("vip_retryperiod", "1"),
            ("address", "192.168.122.10"),
        ];
        for (name, value) in expected {
            assert_eq!(
                env_value(&pod, name).as_deref(),
                Some(value),
                "{host}: {name}"
            );
        }
        assert!(
            env(&pod).iter().all(|(n, _)| n != "vip_interface"),
            "{host}: the preset sets no interface"
        );
        let super_admin = host == "kubemaster-1";
        let kubeconfig = if super_admin {
            lb::SUPER_ADMIN_CONF
        } else {
            lb::ADMIN_CONF
        };
        assert_eq!(host_path(&pod), kubeconfig, "{host}");
        let host_spec = layout.host(&host).expect("a host of the spec");
        assert_eq!(
            lb::kube_vip_uses_super_admin(&layout, host_spec),
            super_admin,
            "{host}"
        );
    }
}

#[test]
fn kube_vip_after_init_and_with_an_interface() {
    let spec = with_interface(&preset("stacked-ha-kube-vip.toml"), "enp1s0");
    let layout = layout(&spec);
    let first_cp = layout.first_control_plane();
    let after_init = yaml(&lb::kube_vip_manifest(&layout, first_cp, lb::ADMIN_CONF));
    assert_eq!(host_path(&after_init), lb::ADMIN_CONF);
    assert_eq!(
        env_value(&after_init, "vip_interface").as_deref(),
        Some("enp1s0")
    );
    // the rest is the same as during init
    let files = lb::files(&layout);
    let during_init = yaml(&on_host(&files, first_cp.name.as_str(), lb::KUBE_VIP_MANIFEST).content);
    assert_eq!(
        serde_yaml_ng::to_string(&after_init).expect("yaml"),
        serde_yaml_ng::to_string(&during_init)
            .expect("yaml")
            .replace(lb::SUPER_ADMIN_CONF, lb::ADMIN_CONF)
    );
}

#[test]
fn no_files_without_a_kubewiz_load_balancer() {
    let mut seen = 0;
    for (path, spec) in all_specs() {
        let layout = layout(&spec);
        if matches!(layout.lb, LbLayout::None | LbLayout::External) {
            seen += 1;
            assert_eq!(lb::files(&layout), Vec::new(), "{}", path.display());
        }
    }
    // single-node, single-master and external-lb at least
    assert!(seen >= 3, "{seen}");
}

// ---- snapshots ----

#[test]
fn snapshots_kvm_lab() {
    let spec = preset("kvm-lab.toml");
    let files = lb::files(&layout(&spec));
    insta::assert_snapshot!(
        "kvm_lab_haproxy_cfg",
        on_host(&files, "haproxy-1", lb::HAPROXY_CFG).content
    );
    insta::assert_snapshot!(
        "kvm_lab_keepalived_conf_haproxy_1",
        on_host(&files, "haproxy-1", lb::KEEPALIVED_CONF).content
    );
    insta::assert_snapshot!(
        "kvm_lab_keepalived_conf_haproxy_2",
        on_host(&files, "haproxy-2", lb::KEEPALIVED_CONF).content
    );
    insta::assert_snapshot!(
        "kvm_lab_check_apiserver_sh",
        on_host(&files, "haproxy-1", lb::CHECK_APISERVER).content
    );
    // every haproxy host gets the same haproxy.cfg
    assert_eq!(
        on_host(&files, "haproxy-1", lb::HAPROXY_CFG).content,
        on_host(&files, "haproxy-2", lb::HAPROXY_CFG).content
    );
}

#[test]
fn snapshot_kube_vip_first_control_plane() {
    let spec = preset("stacked-ha-kube-vip.toml");
    let files = lb::files(&layout(&spec));
    insta::assert_snapshot!(
        "kube_vip_kubemaster_1",
        on_host(&files, "kubemaster-1", lb::KUBE_VIP_MANIFEST).content
    );
}
