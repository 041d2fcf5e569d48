//! Whole installs on lab hosts with `kubewiz apply --no-tui --yes`, from the air-gap
//! bundle (kubeadm, kubelet and the control plane are the stand-ins of tests/standins;
//! etcd, haproxy, keepalived and kubectl are real), checked from the KVM host with the
//! operator's kubeconfig and the real kubectl. Two of them install a pod network from
//! the bundle's manifests (tests/fixtures/cni), as an air-gapped install does.

#[path = "lab/mod.rs"]
mod lab;

#[path = "lab/cluster.rs"]
mod cluster;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use cluster::Topology;

fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Installs `topology` with the pod network `cni` (on `pod_cidr` when given) on fresh
/// lab hosts and checks the cluster through its endpoint. Returns the lab, the state
/// directory's parent and the preset path.
fn install(
    topology: Topology,
    cni: &str,
    pod_cidr: Option<&str>,
) -> Option<(lab::Lab, tempfile::TempDir, String)> {
    let lab = cluster::start_lab(topology.size(0))?;
    let work = tempfile::tempdir().unwrap();
    let bundle = cluster::bundle(work.path());
    let preset = work.path().join(format!("{}.toml", topology.name()));
    let mut text = cluster::preset(&lab, topology, 0, &bundle);
    if cni != "none" {
        text = cluster::with_cni(&text, cni);
        cluster::write_cni_config(&lab);
    }
    if let Some(cidr) = pod_cidr {
        text = text.replace(
            "[kubernetes]\n",
            &format!("[kubernetes]\npod_cidr = \"{cidr}\"\n"),
        );
    }
    fs::write(&preset, text).unwrap();
    let preset = preset.to_str().unwrap().to_owned();
    let state = work.path().join("state");
    let (out, took) =
        cluster::kubewiz(&state, &["apply", "--preset", &preset, "--no-tui", "--yes"]);
    assert!(out.status.success(), "{}", cluster::text(&out));
    eprintln!(
        "{}: installed on {} lab hosts in {took:.1?}",
        topology.name(),
        lab.hosts.len()
    );
    Some((lab, work, preset))
}

fn admin_conf(work: &Path, cluster: &str) -> std::path::PathBuf {
    let path = work.join("state").join(cluster).join("admin.conf");
    assert!(path.is_file(), "{} was not saved", path.display());
    path
}

fn vip_holders(lab: &lab::Lab, balancers: &[usize]) -> Vec<usize> {
    let vip = lab.unused_address().to_string();
    balancers
        .iter()
        .copied()
        .filter(|&i| {
            let out = lab.exec(i, "ip -4 -o addr show");
            String::from_utf8_lossy(&out.stdout).contains(&format!("inet {vip}/"))
        })
        .collect()
}

#[test]
fn external_etcd_installs_and_survives_losing_the_vip_holder() {
    let Some((lab, work, _preset)) = install(Topology::ExternalEtcd, "none", None) else {
        return;
    };
    let kubeconfig = admin_conf(work.path(), "labext");
    assert_eq!(
        cluster::nodes(&kubeconfig),
        ["kubemaster-1", "kubemaster-2", "kubenode-1"]
    );
    // etcd answers with the generated client certificate.
    let pki = work.path().join("state/labext/pki");
    let endpoints: Vec<String> = (0..3)
        .map(|i| format!("https://{}:2379", lab.hosts[i].address))
        .collect();
    let etcdctl = Command::new(Path::new(cluster::ETCD_DIR).join("etcdctl"))
        .arg(format!("--endpoints={}", endpoints.join(",")))
        .arg(format!("--cacert={}", pki.join("etcd/ca.crt").display()))
        .arg(format!(
            "--cert={}",
            pki.join("apiserver-etcd-client.crt").display()
        ))
        .arg(format!(
            "--key={}",
            pki.join("apiserver-etcd-client.key").display()
        ))
        .args(["endpoint", "health"])
        .output()
        .unwrap();
    assert!(etcdctl.status.success(), "{etcdctl:?}");
    assert_eq!(
        String::from_utf8_lossy(&etcdctl.stderr)
            .matches("is healthy")
            .count()
            + String::from_utf8_lossy(&etcdctl.stdout)
                .matches("is healthy")
                .count(),
        3,
        "{etcdctl:?}"
    );
    // haproxy forwards to both control planes: each API server answers through it.
    let balancers = [6, 7];
    let holder = wait_for("one VIP holder", Duration::from_secs(20), || {
        let h = vip_holders(&lab, &balancers);
        (h.len() == 1).then(|| h[0])
    });
    // Losing the load balancer that holds the VIP: the VIP moves, the API answers.
    let stop = lab.exec(holder, "systemctl stop keepalived haproxy");
    assert!(stop.status.success(), "{stop:?}");
    wait_for("the VIP to move", Duration::from_secs(20), || {
        let h = vip_holders(&lab, &balancers);
        (h.len() == 1 && h[0] != holder).then_some(())
    });
    wait_for(
        "the API through the moved VIP",
        Duration::from_secs(20),
        || {
            let out = cluster::kubectl_local(&kubeconfig, &["get", "--raw", "/readyz"]);
            (out.status.success() && out.stdout.starts_with(b"ok")).then_some(())
        },
    );
    assert_eq!(cluster::nodes(&kubeconfig).len(), 3);
}

#[test]
fn stacked_ha_with_haproxy_on_the_control_planes_installs() {
    let Some((lab, work, _preset)) = install(Topology::StackedHa, "none", None) else {
        return;
    };
    let kubeconfig = admin_conf(work.path(), "labstacked");
    let server = fs::read_to_string(&kubeconfig).unwrap();
    assert!(
        server.contains(&format!("https://{}:8443", lab.unused_address())),
        "{server}"
    );
    assert_eq!(
        cluster::nodes(&kubeconfig),
        ["kubemaster-1", "kubemaster-2", "kubemaster-3", "kubenode-1"]
    );
}

/// Every URL the commands and titles of the steps in the audit logs of `state` name is
/// the cluster's own (its hosts, its VIP, the loopback): an install from a bundle
/// fetches nothing. Output is not read: programs print URLs of documentation.
fn fetched_nothing(lab: &lab::Lab, state: &Path) {
    let own: Vec<String> = lab
        .hosts
        .iter()
        .map(|h| h.address.to_string())
        .chain([lab.unused_address().to_string(), "127.0.0.1".into()])
        .collect();
    let mut commands = 0;
    for (path, content) in cluster::files_under(state) {
        if path.extension().is_none_or(|e| e != "jsonl") {
            continue;
        }
        for line in String::from_utf8_lossy(&content).lines() {
            let record: serde_json::Value = serde_json::from_str(line).unwrap();
            let mut texts = Vec::new();
            said(&record, &mut texts);
            commands += texts.len();
            for text in texts {
                for (at, _) in text.match_indices("://") {
                    if !text[..at].ends_with("http") && !text[..at].ends_with("https") {
                        continue;
                    }
                    let rest = &text[at + 3..];
                    assert!(
                        own.iter().any(|a| rest.starts_with(a.as_str())),
                        "{}: a step names a URL outside the cluster: {text}",
                        path.display()
                    );
                }
            }
        }
    }
    assert!(
        commands > 0,
        "no step in the audit logs of {}",
        state.display()
    );
}

/// What the real kubectl prints for `args` with `kubeconfig`, trimmed; it must succeed.
fn get(kubeconfig: &Path, args: &[&str]) -> String {
    let out = cluster::kubectl_local(kubeconfig, args);
    assert!(out.status.success(), "kubectl {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The `command` and `title` strings anywhere in an audit record.
fn said<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                match (key.as_str(), v) {
                    ("command" | "title", serde_json::Value::String(s)) => out.push(s),
                    _ => said(v, out),
                }
            }
        }
        serde_json::Value::Array(items) => items.iter().for_each(|v| said(v, out)),
        _ => {}
    }
}

#[test]
fn single_master_with_calico_installs_and_a_second_apply_changes_nothing() {
    let Some((lab, work, preset)) = install(Topology::SingleMaster, "calico", None) else {
        return;
    };
    let kubeconfig = admin_conf(work.path(), "labsingle");
    assert_eq!(cluster::nodes(&kubeconfig), ["kubemaster-1", "kubenode-1"]);
    fetched_nothing(&lab, &work.path().join("state"));
    // Calico's operator and the cluster's Installation, with the cluster's pod network.
    assert_eq!(
        get(
            &kubeconfig,
            &["get", "deployments", "-n", "tigera-operator", "-o", "name"]
        ),
        "deployment.apps/tigera-operator"
    );
    assert_eq!(
        get(
            &kubeconfig,
            &[
                "get",
                "installations",
                "-o",
                "jsonpath={.items[*].metadata.name} {.items[*].spec.calicoNetwork.ipPools[*].cidr}"
            ]
        ),
        "default 10.244.0.0/16"
    );
    let digest = |i: usize| {
        lab.exec(
            i,
            "cd / && find etc usr/local/bin var/lib/kubelet -xdev -type f -print0 | sort -z | xargs -0 sha256sum",
        )
        .stdout
    };
    let before: Vec<Vec<u8>> = (0..lab.hosts.len()).map(digest).collect();
    let state = work.path().join("state");
    let (out, _) = cluster::kubewiz(&state, &["apply", "--preset", &preset, "--no-tui", "--yes"]);
    assert!(out.status.success(), "{}", cluster::text(&out));
    for (i, before) in before.iter().enumerate() {
        assert!(
            &digest(i) == before,
            "{}: a second apply changed files",
            lab.hosts[i].name
        );
    }
}

#[test]
fn single_node_with_flannel_installs() {
    let Some((lab, work, _preset)) = install(Topology::SingleNode, "flannel", Some("10.32.0.0/16"))
    else {
        return;
    };
    let kubeconfig = admin_conf(work.path(), "labsolo");
    assert_eq!(cluster::nodes(&kubeconfig), ["kube-solo-1"]);
    fetched_nothing(&lab, &work.path().join("state"));
    // flannel's DaemonSet, restarted with the cluster's network in its ConfigMap (the
    // bundle's manifest has flannel's default, 10.244.0.0/16).
    let annotations = get(
        &kubeconfig,
        &[
            "get",
            "daemonset",
            "-n",
            "kube-flannel",
            "kube-flannel-ds",
            "-o",
            "jsonpath={.spec.template.metadata.annotations}",
        ],
    );
    assert!(
        annotations.contains("kubectl.kubernetes.io/restartedAt"),
        "{annotations}"
    );
    let net_conf = get(
        &kubeconfig,
        &[
            "get",
            "configmap",
            "-n",
            "kube-flannel",
            "kube-flannel-cfg",
            "-o",
            "jsonpath={.data.net-conf\\.json}",
        ],
    );
    assert!(
        net_conf.contains("\"Network\": \"10.32.0.0/16\""),
        "{net_conf}"
    );
}
