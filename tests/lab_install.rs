//! Whole installs on lab hosts with `kubewiz apply --no-tui --yes`, from the air-gap
//! bundle (kubeadm, kubelet and the control plane are the stand-ins of tests/standins;
//! etcd, haproxy, keepalived and kubectl are real), checked from the KVM host with the
//! operator's kubeconfig and the real kubectl.

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

/// Installs `topology` on fresh lab hosts and checks the cluster through its endpoint.
/// Returns the lab, the state directory's parent and the preset path.
fn install(topology: Topology) -> Option<(lab::Lab, tempfile::TempDir, String)> {
    let lab = cluster::start_lab(topology.size(0))?;
    let work = tempfile::tempdir().unwrap();
    let bundle = cluster::bundle(work.path());
    let preset = work.path().join(format!("{}.toml", topology.name()));
    fs::write(&preset, cluster::preset(&lab, topology, 0, &bundle)).unwrap();
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
    let Some((lab, work, _preset)) = install(Topology::ExternalEtcd) else {
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
    let Some((lab, work, _preset)) = install(Topology::StackedHa) else {
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

#[test]
fn single_master_installs_and_a_second_apply_changes_nothing() {
    let Some((lab, work, preset)) = install(Topology::SingleMaster) else {
        return;
    };
    let kubeconfig = admin_conf(work.path(), "labsingle");
    assert_eq!(cluster::nodes(&kubeconfig), ["kubemaster-1", "kubenode-1"]);
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
fn single_node_installs() {
    let Some((_lab, work, _preset)) = install(Topology::SingleNode) else {
        return;
    };
    let kubeconfig = admin_conf(work.path(), "labsolo");
    assert_eq!(cluster::nodes(&kubeconfig), ["kube-solo-1"]);
}
