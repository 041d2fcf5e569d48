//! `kubewiz render` and `kubewiz plan` through the real binary, the kubeadm
//! configuration read back against the spec with kubeadm's own field names, and the
//! external etcd unit run for real.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output};

use kubewiz::pki;
use kubewiz::render::{self, Layout, Purpose, Target};
use kubewiz::spec::{self, ClusterSpec, EndpointHost};
use serde_yaml_ng::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn kubewiz(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .args(args)
        .current_dir(root())
        // The plan's libvirt network preview reads libvirt's test driver, not this
        // machine's libvirt.
        .env(
            "LIBVIRT_DEFAULT_URI",
            format!(
                "test://{}/tests/fixtures/libvirt/node.xml",
                root().display()
            ),
        )
        .output()
        .unwrap()
}

fn preset(path: &str) -> ClusterSpec {
    spec::load_file(&root().join(path)).unwrap().spec
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

#[test]
fn render_writes_the_tree_of_design_md() {
    let work = tempfile::tempdir().unwrap();
    let state = work.path().join("state");
    let out = work.path().join("out");
    let args = |o: &Path| {
        vec![
            "--state-dir".to_string(),
            state.display().to_string(),
            "render".into(),
            "--preset".into(),
            "presets/kvm-lab.toml".into(),
            "--out".into(),
            o.display().to_string(),
        ]
    };
    let run = |o: &Path| {
        let a = args(o);
        kubewiz(&a.iter().map(String::as_str).collect::<Vec<_>>())
    };
    let first = run(&out);
    let err = String::from_utf8_lossy(&first.stderr).into_owned();
    assert_eq!(first.status.code(), Some(0), "{err}");
    assert!(err.contains("made the cluster PKI in"), "{err}");

    let spec = preset("presets/kvm-lab.toml");
    for host in &spec.hosts {
        assert!(
            out.join("hosts").join(host.name.as_str()).is_dir(),
            "no files for {}",
            host.name
        );
    }
    let pki = out.join("hosts/kubemaster-1/etc/kubernetes/pki");
    assert_eq!(mode(&pki.join("ca.key")), 0o600);
    assert_eq!(mode(&pki.join("ca.crt")), 0o644);
    assert_eq!(mode(&pki.join("sa.pub")), 0o600);
    assert_eq!(
        mode(&out.join("hosts/kubemaster-1/etc/kubewiz/kubeadm-init.yaml")),
        0o600
    );
    assert_eq!(
        mode(&out.join("hosts/kubenode-3/etc/kubewiz/kubeadm-join.yaml")),
        0o600
    );
    assert_eq!(
        mode(&out.join("hosts/etcd-2/etc/etcd/pki/server.key")),
        0o600
    );
    assert_eq!(
        mode(&out.join("hosts/haproxy-1/etc/keepalived/check_apiserver.sh")),
        0o755
    );
    assert!(
        !out.join("hosts/kubenode-1/etc/kubernetes/pki/ca.crt")
            .exists(),
        "workers get no PKI"
    );
    for local in [
        "admin.conf",
        "libvirt-dns.xml",
        "hosts",
        "groups/etcd",
        "groups/control-plane",
        "groups/worker",
    ] {
        assert!(out.join("local").join(local).is_file(), "local/{local}");
    }
    assert_eq!(mode(&out.join("local/admin.conf")), 0o600);

    // plan.txt is what `kubewiz plan` prints.
    let plan = kubewiz(&[
        "--state-dir",
        state.to_str().unwrap(),
        "plan",
        "--preset",
        "presets/kvm-lab.toml",
    ]);
    assert_eq!(plan.status.code(), Some(0));
    assert_eq!(
        fs::read_to_string(out.join("plan.txt")).unwrap(),
        String::from_utf8(plan.stdout).unwrap()
    );

    // A second render reuses the PKI: the same CA, nothing said about the PKI.
    let ca = fs::read(pki.join("ca.crt")).unwrap();
    let second = run(&out);
    assert_eq!(second.status.code(), Some(0));
    assert!(!String::from_utf8_lossy(&second.stderr).contains("PKI"));
    assert_eq!(fs::read(pki.join("ca.crt")).unwrap(), ca);

    // A directory that is not an earlier render is left alone.
    let foreign = work.path().join("foreign");
    fs::create_dir(&foreign).unwrap();
    fs::write(foreign.join("notes.txt"), "mine").unwrap();
    let refused = run(&foreign);
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("not an earlier kubewiz render"));
    assert_eq!(fs::read_dir(&foreign).unwrap().count(), 1);
}

#[test]
fn render_refuses_an_invalid_preset_and_writes_nothing() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let state = work.path().join("state");
    let run = kubewiz(&[
        "--state-dir",
        state.to_str().unwrap(),
        "render",
        "--preset",
        "tests/corpus/bad/pod-network-inside-service-network.toml",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(run.status.code(), Some(1));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("7:12: error: kubernetes.pod_cidr:"), "{err}");
    assert!(!out.exists() && !state.exists());
}

/// Phase names of `kubewiz plan` for a preset, in order.
fn phases(preset: &str) -> Vec<String> {
    let state = tempfile::tempdir().unwrap();
    let run = kubewiz(&[
        "--state-dir",
        state.path().to_str().unwrap(),
        "plan",
        "--preset",
        preset,
    ]);
    assert_eq!(
        run.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    String::from_utf8(run.stdout)
        .unwrap()
        .lines()
        .filter_map(|l| {
            l.split_once(" [")
                .filter(|_| l.starts_with(char::is_numeric))
        })
        .map(|(_, rest)| rest.split(']').next().unwrap().to_string())
        .collect()
}

#[test]
fn plan_shows_every_phase_each_topology_needs() {
    let all = [
        "libvirt-network",
        "connect",
        "preflight",
        "prepare",
        "pki",
        "etcd",
        "load-balancer",
        "first-control-plane",
        "control-planes",
        "workers",
        "cni",
        "verify",
        "kubeconfig",
    ];
    assert_eq!(phases("presets/kvm-lab.toml"), all);
    assert_eq!(phases("presets/external-etcd.toml"), all);
    let without = |skip: &[&str]| {
        all.iter()
            .filter(|p| !skip.contains(p))
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(phases("presets/stacked-ha.toml"), without(&["etcd"]));
    // Without a [kvm] section nothing says the hosts are this host's VMs: its
    // libvirt network is left alone.
    assert_eq!(
        phases("presets/stacked-ha-kube-vip.toml"),
        without(&["libvirt-network", "etcd"])
    );
    assert_eq!(
        phases("presets/single-master.toml"),
        without(&["etcd", "load-balancer", "control-planes"])
    );
    assert_eq!(
        phases("presets/single-node.toml"),
        without(&[
            "libvirt-network",
            "etcd",
            "load-balancer",
            "control-planes",
            "workers"
        ])
    );
}

#[test]
fn plan_steps_have_unique_stable_ids_and_never_print_secrets() {
    for preset_path in [
        "presets/kvm-lab.toml",
        "presets/stacked-ha-kube-vip.toml",
        "presets/single-node.toml",
    ] {
        let spec = preset(preset_path);
        let layout = Layout::new(&spec).unwrap();
        let state = tempfile::tempdir().unwrap();
        let (pki, _) = pki::load_or_create(state.path(), &layout).unwrap();
        let files = render::render(&spec, &pki).unwrap();
        let plan = kubewiz::plan::build(
            &layout,
            &files,
            &kubewiz::plan::Local {
                libvirt_uri: "test:///default".into(),
                state_dir: state.path().to_path_buf(),
                hosts_file: state.path().join("hosts"),
            },
        );
        let ids: Vec<&str> = plan.steps().map(|(_, _, s)| s.id.as_str()).collect();
        let unique: BTreeSet<&str> = ids.iter().copied().collect();
        assert_eq!(ids.len(), unique.len(), "{preset_path}: duplicate step ids");
        // Built twice, the plan is the same: ids are stable for the journal.
        assert_eq!(
            kubewiz::plan::build(
                &layout,
                &files,
                &kubewiz::plan::Local {
                    libvirt_uri: "test:///default".into(),
                    state_dir: state.path().to_path_buf(),
                    hosts_file: state.path().join("hosts"),
                }
            ),
            plan
        );
        let text = plan.to_string();
        let secret = pki.bootstrap_token.split_once('.').unwrap().1;
        assert!(
            !text.contains(secret),
            "{preset_path}: the plan shows the bootstrap token"
        );
        assert!(!text.contains("PRIVATE KEY"), "{preset_path}");
        // Every uploaded file exists in the rendered files, for that host.
        for (_, host, step) in plan.steps() {
            if let kubewiz::plan::Action::Upload { path, mode, .. } = &step.action {
                let file = files
                    .iter()
                    .find(|f| f.target == Target::Host(host.host.clone()) && &f.path == path)
                    .unwrap_or_else(|| {
                        panic!("{}: uploads {path}, which is not rendered", step.id)
                    });
                assert_eq!(file.mode, *mode);
            }
        }
        // Every host file is uploaded by some step.
        for file in files.iter().filter(|f| matches!(f.target, Target::Host(_))) {
            let Target::Host(host) = &file.target else {
                unreachable!()
            };
            let uploaded = plan.steps().any(|(_, h, s)| {
                &h.host == host && matches!(&s.action, kubewiz::plan::Action::Upload { path, .. } if *path == file.path)
            });
            assert!(
                uploaded,
                "{preset_path}: {host}:{} is rendered but never uploaded",
                file.path
            );
        }
    }
}

// --- kubeadm configuration against the spec ---

/// The v1beta4 fields kubewiz may write, per kind (kubeadm decodes strictly: an
/// unknown or misspelt field is an error there).
fn known_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "InitConfiguration" => &[
            "apiVersion",
            "kind",
            "bootstrapTokens",
            "localAPIEndpoint",
            "nodeRegistration",
        ],
        "ClusterConfiguration" => &[
            "apiVersion",
            "kind",
            "clusterName",
            "kubernetesVersion",
            "controlPlaneEndpoint",
            "certificatesDir",
            "imageRepository",
            "encryptionAlgorithm",
            "networking",
            "apiServer",
            "etcd",
        ],
        "KubeletConfiguration" => &[
            "apiVersion",
            "kind",
            "cgroupDriver",
            "clusterDomain",
            "clusterDNS",
        ],
        "KubeProxyConfiguration" => &["apiVersion", "kind", "clusterCIDR"],
        "JoinConfiguration" => &[
            "apiVersion",
            "kind",
            "discovery",
            "nodeRegistration",
            "controlPlane",
        ],
        other => panic!("unexpected kind {other}"),
    }
}

fn docs(text: &str) -> Vec<Value> {
    assert!(
        !text.contains(" !"),
        "YAML tags are not kubeadm's format:\n{text}"
    );
    text.split("\n---\n")
        .map(|d| serde_yaml_ng::from_str(d).unwrap())
        .collect()
}

fn keys(v: &Value) -> Vec<String> {
    v.as_mapping()
        .unwrap()
        .keys()
        .map(|k| k.as_str().unwrap().to_string())
        .collect()
}

fn s(v: &Value) -> &str {
    v.as_str().unwrap_or_else(|| panic!("not a string: {v:?}"))
}

fn check_kubeadm(preset_path: &str) {
    let spec = preset(preset_path);
    let layout = Layout::new(&spec).unwrap();
    let state = tempfile::tempdir().unwrap();
    let (pki, _) = pki::load_or_create(state.path(), &layout).unwrap();
    let files: Vec<_> = render::render(&spec, &pki)
        .unwrap()
        .into_iter()
        .filter(|f| f.purpose == Purpose::Kubeadm)
        .collect();
    let endpoint = layout.control_plane_endpoint();
    let k = &spec.kubernetes;
    let first = layout.first_control_plane();
    for file in &files {
        let Target::Host(host_name) = &file.target else {
            panic!("kubeadm config for the KVM host")
        };
        let host = layout.host(host_name).unwrap();
        assert_eq!(
            file.mode, 0o600,
            "{host_name}: it holds the bootstrap token"
        );
        for doc in docs(&file.content) {
            let kind = s(&doc["kind"]).to_string();
            for key in keys(&doc) {
                assert!(
                    known_fields(&kind).contains(&key.as_str()),
                    "{preset_path}: {kind} has unknown field {key}"
                );
            }
            let api = s(&doc["apiVersion"]);
            match kind.as_str() {
                "InitConfiguration" => {
                    assert_eq!(api, "kubeadm.k8s.io/v1beta4");
                    assert_eq!(host_name, first.name.as_str());
                    assert_eq!(
                        s(&doc["localAPIEndpoint"]["advertiseAddress"]),
                        first.address.to_string()
                    );
                    assert_eq!(doc["localAPIEndpoint"]["bindPort"].as_u64(), Some(6443));
                    assert_eq!(s(&doc["bootstrapTokens"][0]["token"]), pki.bootstrap_token);
                    check_registration(&doc["nodeRegistration"], host, &spec);
                }
                "ClusterConfiguration" => {
                    assert_eq!(s(&doc["kubernetesVersion"]), format!("v{}", k.version));
                    assert_eq!(s(&doc["controlPlaneEndpoint"]), endpoint);
                    assert_eq!(s(&doc["networking"]["podSubnet"]), k.pod_cidr.to_string());
                    assert_eq!(
                        s(&doc["networking"]["serviceSubnet"]),
                        k.service_cidr.to_string()
                    );
                    assert_eq!(s(&doc["networking"]["dnsDomain"]), k.dns_domain.as_str());
                    assert_eq!(s(&doc["imageRepository"]), k.image_repository.as_str());
                    assert_eq!(
                        s(&doc["encryptionAlgorithm"]),
                        k.encryption_algorithm.as_str()
                    );
                    assert_eq!(s(&doc["clusterName"]), spec.name.as_str());
                    let sans: Vec<&str> = doc["apiServer"]["certSANs"]
                        .as_sequence()
                        .unwrap()
                        .iter()
                        .map(s)
                        .collect();
                    if let EndpointHost::Name(name) = &layout.endpoint {
                        assert!(sans.contains(&name.as_str()), "{sans:?}");
                    }
                    if let Some(vip) = layout.vip {
                        assert!(sans.contains(&vip.to_string().as_str()), "{sans:?}");
                    }
                    if layout.etcd.is_empty() {
                        assert_eq!(s(&doc["etcd"]["local"]["dataDir"]), "/var/lib/etcd");
                        assert!(doc["etcd"].get("external").is_none());
                    } else {
                        let eps: Vec<&str> = doc["etcd"]["external"]["endpoints"]
                            .as_sequence()
                            .unwrap()
                            .iter()
                            .map(s)
                            .collect();
                        let want: Vec<String> = layout
                            .etcd
                            .iter()
                            .map(|m| format!("https://{}:2379", m.address))
                            .collect();
                        assert_eq!(eps, want);
                        assert_eq!(
                            s(&doc["etcd"]["external"]["certFile"]),
                            "/etc/kubernetes/pki/apiserver-etcd-client.crt"
                        );
                        assert!(doc["etcd"].get("local").is_none());
                    }
                }
                "KubeletConfiguration" => {
                    assert_eq!(api, "kubelet.config.k8s.io/v1beta1");
                    assert_eq!(s(&doc["cgroupDriver"]), "systemd");
                    assert_eq!(
                        s(&doc["clusterDNS"][0]),
                        layout.cluster_dns_ip().to_string()
                    );
                }
                "KubeProxyConfiguration" => {
                    assert_eq!(api, "kubeproxy.config.k8s.io/v1alpha1");
                    assert_eq!(s(&doc["clusterCIDR"]), k.pod_cidr.to_string());
                }
                "JoinConfiguration" => {
                    assert_eq!(api, "kubeadm.k8s.io/v1beta4");
                    let token = &doc["discovery"]["bootstrapToken"];
                    assert_eq!(s(&token["apiServerEndpoint"]), endpoint);
                    assert_eq!(s(&token["token"]), pki.bootstrap_token);
                    assert_eq!(s(&token["caCertHashes"][0]), pki.ca_cert_hash());
                    check_registration(&doc["nodeRegistration"], host, &spec);
                    let is_cp = layout.control_planes.iter().any(|c| c.name == host.name);
                    assert_eq!(doc.get("controlPlane").is_some(), is_cp, "{host_name}");
                    if is_cp {
                        assert_eq!(
                            s(&doc["controlPlane"]["localAPIEndpoint"]["advertiseAddress"]),
                            host.address.to_string()
                        );
                    }
                }
                _ => unreachable!(),
            }
        }
    }
    let joins = files
        .iter()
        .filter(|f| f.path == render::kubeadm::JOIN_CONFIG)
        .count();
    assert_eq!(
        joins,
        layout.nodes().count() - 1,
        "{preset_path}: one join per node but the first"
    );
}

fn check_registration(reg: &Value, host: &spec::HostSpec, spec: &ClusterSpec) {
    assert_eq!(s(&reg["name"]), host.name.as_str());
    assert_eq!(
        s(&reg["criSocket"]),
        "unix:///var/run/containerd/containerd.sock"
    );
    assert_eq!(s(&reg["kubeletExtraArgs"][0]["name"]), "node-ip");
    assert_eq!(
        s(&reg["kubeletExtraArgs"][0]["value"]),
        host.address.to_string()
    );
    let runs_workloads = host.has(spec::Role::ControlPlane)
        && (host.has(spec::Role::Worker) || spec.topology == spec::Topology::SingleNode);
    // An empty list removes kubeadm's control-plane taint; absent keeps it.
    match reg.get("taints") {
        Some(t) => assert!(
            runs_workloads && t.as_sequence().unwrap().is_empty(),
            "{}",
            host.name
        ),
        None => assert!(
            !runs_workloads,
            "{} runs workloads but keeps the taint",
            host.name
        ),
    }
}

#[test]
fn kubeadm_configuration_matches_the_spec_for_every_preset() {
    for p in fs::read_dir(root().join("presets")).unwrap() {
        let p = p.unwrap().path();
        check_kubeadm(p.strip_prefix(root()).unwrap().to_str().unwrap());
    }
    check_kubeadm("tests/corpus/good/control-plane-also-worker.toml");
    check_kubeadm("tests/corpus/good/ipv6-single-master.toml");
}

// --- a real etcd from the rendered unit ---

/// Three network namespaces on a bridge, one per etcd member, removed on drop.
struct Netns {
    names: Vec<String>,
}

const BRIDGE: &str = "kwt-etcd-br";

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Netns {
    fn new(addresses: &[&str]) -> Netns {
        let _ = Command::new("ip").args(["link", "del", BRIDGE]).output();
        ip(&["link", "add", BRIDGE, "type", "bridge"]);
        ip(&["addr", "add", "10.77.9.1/24", "dev", BRIDGE]);
        ip(&["link", "set", BRIDGE, "up"]);
        let mut names = Vec::new();
        for (i, address) in addresses.iter().enumerate() {
            let ns = format!("kwt-etcd-{i}");
            let (veth, peer) = (format!("kwte{i}"), format!("kwte{i}p"));
            let _ = Command::new("ip").args(["netns", "del", &ns]).output();
            let _ = Command::new("ip").args(["link", "del", &veth]).output();
            ip(&["netns", "add", &ns]);
            ip(&["link", "add", &veth, "type", "veth", "peer", "name", &peer]);
            ip(&["link", "set", &veth, "master", BRIDGE, "up"]);
            ip(&["link", "set", &peer, "netns", &ns]);
            ip(&[
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{address}/24"),
                "dev",
                &peer,
            ]);
            ip(&["-n", &ns, "link", "set", &peer, "up"]);
            ip(&["-n", &ns, "link", "set", "lo", "up"]);
            names.push(ns);
        }
        Netns { names }
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for (i, ns) in self.names.iter().enumerate() {
            let _ = Command::new("ip")
                .args(["link", "del", &format!("kwte{i}")])
                .output();
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
        let _ = Command::new("ip").args(["link", "del", BRIDGE]).output();
    }
}

struct Children(Vec<std::process::Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn etcdctl(endpoints: &str, tls: &[String]) -> Output {
    Command::new("etcdctl")
        .env("ETCDCTL_API", "3")
        .args([
            "--endpoints",
            endpoints,
            "--dial-timeout",
            "2s",
            "--command-timeout",
            "3s",
        ])
        .args(tls)
        .args(["endpoint", "health"])
        .output()
        .unwrap()
}

#[test]
fn external_etcd_runs_from_the_rendered_unit_and_answers_health_over_tls() {
    if !rustix::process::geteuid().is_root() {
        eprintln!("skipped: network namespaces need root (scripts/test.sh runs as root)");
        return;
    }
    let addresses = ["10.77.9.41", "10.77.9.42", "10.77.9.43"];
    let mut spec = preset("presets/kvm-lab.toml");
    for (host, address) in spec
        .hosts
        .iter_mut()
        .filter(|h| h.has(spec::Role::Etcd))
        .zip(addresses)
    {
        host.address = address.parse().unwrap();
    }
    let layout = Layout::new(&spec).unwrap();
    let state = tempfile::tempdir().unwrap();
    let (pki, _) = pki::load_or_create(state.path(), &layout).unwrap();
    let files = render::render(&spec, &pki).unwrap();
    let work = tempfile::tempdir().unwrap();
    let _net = Netns::new(&addresses);
    let mut children = Children(Vec::new());
    for (i, member) in layout.etcd.iter().enumerate() {
        let dir = work.path().join(member.name.as_str());
        let mine = |path: &str| {
            files
                .iter()
                .find(|f| f.target == Target::Host(member.name.to_string()) && f.path == path)
                .unwrap_or_else(|| panic!("{}: no {path}", member.name))
        };
        // The unit runs etcd with the environment file and nothing else.
        let unit = &mine(render::etcd::UNIT).content;
        assert!(
            unit.contains(&format!("EnvironmentFile={}", render::etcd::ENV_FILE)),
            "{unit}"
        );
        let exec = unit
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap();
        assert!(Path::new(exec).is_file(), "{exec} is not installed");
        for file in files.iter().filter(|f| {
            f.target == Target::Host(member.name.to_string())
                && f.path.starts_with("/etc/etcd/pki/")
        }) {
            let path = dir.join(file.path.trim_start_matches('/'));
            fs::create_dir_all(path.parent().unwrap()).unwrap();
            fs::write(&path, &file.content).unwrap();
        }
        let env: Vec<(String, String)> = mine(render::etcd::ENV_FILE)
            .content
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(|l| {
                let (k, v) = l.split_once('=').unwrap();
                let v = v
                    .replace(
                        "/etc/etcd/pki",
                        &dir.join("etc/etcd/pki").display().to_string(),
                    )
                    .replace("/var/lib/etcd", &dir.join("data").display().to_string());
                (k.to_string(), v)
            })
            .collect();
        let log = fs::File::create(work.path().join(format!("etcd-{i}.log"))).unwrap();
        let child = Command::new("ip")
            .args(["netns", "exec", &format!("kwt-etcd-{i}"), exec])
            .env_clear()
            .envs(env)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        children.0.push(child);
    }
    let ca = work.path().join("etcd-1/etc/etcd/pki/ca.crt");
    let cert = work
        .path()
        .join("etcd-1/etc/etcd/pki/healthcheck-client.crt");
    let key = work
        .path()
        .join("etcd-1/etc/etcd/pki/healthcheck-client.key");
    let endpoints: Vec<String> = layout
        .etcd
        .iter()
        .map(|m| render::etcd::client_url(m.address))
        .collect();
    let endpoints = endpoints.join(",");
    let tls = vec![
        format!("--cacert={}", ca.display()),
        format!("--cert={}", cert.display()),
        format!("--key={}", key.display()),
    ];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    let healthy = loop {
        let out = etcdctl(&endpoints, &tls);
        if out.status.success() {
            break String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr);
        }
        if std::time::Instant::now() > deadline {
            let logs: String = (0..3)
                .map(|i| {
                    fs::read_to_string(work.path().join(format!("etcd-{i}.log")))
                        .unwrap_or_default()
                })
                .collect();
            panic!(
                "etcd never became healthy: {}\n{logs}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert_eq!(healthy.matches("is healthy").count(), 3, "{healthy}");
    // Client-certificate authentication is on: without the client cert, refused.
    let anonymous = etcdctl(&endpoints, &tls[..1]);
    assert!(
        !anonymous.status.success(),
        "etcd answered a client without a certificate"
    );
}

#[test]
fn plan_against_a_journal_skips_what_was_done_and_names_the_hosts_with_work() {
    let spec = preset("presets/single-master.toml");
    let layout = Layout::new(&spec).unwrap();
    let state = tempfile::tempdir().unwrap();
    let (pki, _) = pki::load_or_create(state.path(), &layout).unwrap();
    let files = render::render(&spec, &pki).unwrap();
    let local = kubewiz::plan::Local {
        libvirt_uri: "test:///default".into(),
        state_dir: state.path().to_path_buf(),
        hosts_file: state.path().join("hosts"),
    };
    let plan = kubewiz::plan::build(&layout, &files, &local);
    // Every step finished before, but kubenode-3's.
    let finished: kubewiz::plan::Finished = plan
        .steps()
        .filter(|(_, h, _)| h.host != "kubenode-3")
        .map(|(_, _, s)| (s.id.clone(), s.inputs()))
        .collect();
    let text = plan.against(&finished).to_string();
    assert!(
        text.lines()
            .next()
            .unwrap()
            .contains("Earlier runs finished"),
        "{text}"
    );
    assert!(text.contains("  kubenode-1: its "), "{text}");
    assert!(text.contains("    prepare/kubenode-3/"), "{text}");
    // Checks run again on every host, and are listed with what they check.
    assert!(
        text.contains("    preflight/kubenode-1/checks\n      check: "),
        "{text}"
    );
    let last = text.lines().last().unwrap();
    assert!(
        last.starts_with("Steps that change something, by host: kubenode-3 (")
            && !last.contains("kubenode-1"),
        "{last}"
    );
    // A step whose inputs changed since is done again.
    let mut changed = finished.clone();
    let upload = plan
        .steps()
        .find(|(_, h, s)| h.host == "kubenode-1" && s.id.starts_with("prepare/"))
        .unwrap()
        .2;
    changed.insert(upload.id.clone(), "an older content".into());
    let text = plan.against(&changed).to_string();
    assert!(text.contains(&format!("    {}\n", upload.id)), "{text}");
    // All of it finished: nothing changes, the checks still run.
    let all: kubewiz::plan::Finished = plan
        .steps()
        .map(|(_, _, s)| (s.id.clone(), s.inputs()))
        .collect();
    let text = plan.against(&all).to_string();
    assert!(
        text.ends_with(
            "Nothing changes: only checks run again (connect, facts, preflight, waits).\n"
        ),
        "{text}"
    );
}

/// The command of each host's image pull in the prepare phase of `spec`'s plan.
fn image_pulls(spec: &ClusterSpec) -> Vec<(String, String)> {
    let state = tempfile::tempdir().unwrap();
    let cluster = kubewiz::state::ClusterState::new(state.path(), spec.name.as_str());
    let plan = kubewiz::generate::generate(spec, &cluster, "test:///default")
        .unwrap()
        .plan;
    plan.steps()
        .filter(|(_, _, step)| step.id.starts_with("prepare/") && step.id.ends_with("/images"))
        .map(|(_, host, step)| match &step.action {
            kubewiz::plan::Action::Run { command } => (host.host.clone(), command.clone()),
            other => panic!("{}: {other:?}", step.id),
        })
        .collect()
}

#[test]
fn online_installs_pull_each_roles_images_in_prepare_and_bundle_installs_pull_none() {
    // Stacked etcd: every image kubeadm lists for the version, on each control plane;
    // kube-proxy and pause on the workers.
    let stacked = preset("presets/stacked-ha.toml");
    let pulls = image_pulls(&stacked);
    let hosts: Vec<&str> = pulls.iter().map(|(h, _)| h.as_str()).collect();
    let nodes: Vec<&str> = stacked
        .hosts
        .iter()
        .filter(|h| {
            h.roles
                .iter()
                .any(|r| matches!(r, spec::Role::ControlPlane | spec::Role::Worker))
        })
        .map(|h| h.name.as_str())
        .collect();
    assert_eq!(hosts, nodes, "one pull per node");
    let version = stacked.kubernetes.version.tag();
    let list = format!(
        "kubeadm config images list --kubernetes-version {version} --image-repository 'registry.k8s.io' |"
    );
    for (host, command) in &pulls {
        assert!(command.contains(&list), "{host}: {command}");
        assert!(
            command.contains("crictl --runtime-endpoint unix:///var/run/containerd/containerd.sock pull \"$image\""),
            "{host}: {command}"
        );
        let worker = host.starts_with("kubenode");
        assert_eq!(
            command.contains("| grep -E '/(kube-proxy|pause):'"),
            worker,
            "{host}: {command}"
        );
        assert_eq!(command.contains("| cat)"), !worker, "{host}: {command}");
    }
    // External etcd: the control planes leave etcd's image out; etcd hosts and load
    // balancers pull nothing.
    let external = preset("presets/external-etcd.toml");
    let pulls = image_pulls(&external);
    assert!(
        pulls
            .iter()
            .all(|(h, _)| h.starts_with("kubemaster") || h.starts_with("kubenode")),
        "{pulls:?}"
    );
    let masters: Vec<&String> = pulls
        .iter()
        .filter(|(h, _)| h.starts_with("kubemaster"))
        .map(|(_, c)| c)
        .collect();
    assert!(!masters.is_empty());
    assert!(
        masters.iter().all(|c| c.contains("| grep -v '/etcd:')")),
        "{masters:?}"
    );
    // From a bundle there is no registry: nothing is pulled.
    let mut bundle = stacked.clone();
    bundle.packages.source = spec::PackageSource::Bundle;
    bundle.packages.bundle_dir = Some("/srv/bundle".into());
    assert_eq!(image_pulls(&bundle), []);
}
