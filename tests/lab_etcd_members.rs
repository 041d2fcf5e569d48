//! External etcd grows and shrinks on a running cluster, on lab hosts (the real etcd,
//! etcdctl, haproxy, keepalived and kubectl; the stand-in kubeadm, kubelet and API
//! server), checked from outside:
//! - one `apply` adds two etcd members and a third control plane: `etcdctl member
//!   list` shows five started members and `endpoint health --cluster` five healthy
//!   over TLS; every API server and the kubeadm-config ConfigMap name the five; both
//!   haproxys list the new control plane, and the VIP never left the first load
//!   balancer while they reloaded;
//! - `node remove` of a member: etcd has four, every API server names the four, and the
//!   host runs no etcd.

#[path = "lab/mod.rs"]
mod lab;

#[path = "lab/cluster.rs"]
mod cluster;

use std::fs;
use std::path::Path;
use std::process::Output;

use cluster::Topology;

const PKI: &str = "/etc/etcd/pki";
/// Lab host indexes in the external-etcd preset: etcd-1..3, kubemaster-1..2,
/// kubenode-1, haproxy-1..2; then the spares.
const KUBEMASTER_1: usize = 3;
const HAPROXY: [usize; 2] = [6, 7];
const SPARES: [usize; 3] = [8, 9, 10];

fn kubewiz(state: &Path, args: &[&str]) -> Output {
    let (out, took) = cluster::kubewiz(state, args);
    eprintln!("kubewiz {} {}: {took:.1?}", args[0], args[1]);
    out
}

/// The `--etcd-servers` flag of lab host `i`'s API server manifest.
fn etcd_servers(lab: &lab::Lab, i: usize) -> String {
    let manifest = lab
        .host_file(i, "/etc/kubernetes/manifests/kube-apiserver.yaml")
        .expect("an API server manifest");
    String::from_utf8(manifest)
        .unwrap()
        .lines()
        .find_map(|l| l.trim().strip_prefix("- --etcd-servers="))
        .expect("--etcd-servers in the manifest")
        .to_owned()
}

#[test]
fn etcd_members_and_a_control_plane_are_added_then_a_member_is_taken_out() {
    let Some(setup) = cluster::installed_with_spares(Topology::ExternalEtcd, &[], 3) else {
        return;
    };
    let (lab, state) = (&setup.lab, &setup.state);
    let address = |i: usize| lab.hosts[i].address;
    let client = |i: usize| format!("https://{}:2379", address(i));
    let text = fs::read_to_string(&setup.preset).unwrap();
    let admin = state.join("labext/admin.conf");
    let vip = lab.unused_address();
    let etcdctl = |args: &str| {
        let out = lab.exec(
            0,
            &format!(
                "ETCDCTL_API=3 etcdctl --endpoints={} --cacert={PKI}/ca.crt --cert={PKI}/healthcheck-client.crt --key={PKI}/healthcheck-client.key {args}",
                client(0)
            ),
        );
        assert!(out.status.success(), "{out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };

    // Two etcd members and a third control plane in one apply.
    let mut grown = cluster::with_host(&text, "etcd-4", address(SPARES[0]), "etcd");
    grown = cluster::with_host(&grown, "etcd-5", address(SPARES[1]), "etcd");
    grown = cluster::with_host(&grown, "kubemaster-3", address(SPARES[2]), "control-plane");
    let grown_path = setup.work.path().join("grown.toml");
    fs::write(&grown_path, &grown).unwrap();
    let (out, samples, missing) = cluster::vip_watched(lab, HAPROXY[0], vip, || {
        cluster::apply(state, &grown_path).0
    });
    assert!(out.status.success(), "{}", cluster::text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "this run adds etcd-4 (etcd), etcd-5 (etcd), kubemaster-3 (control-plane) and only checks"
        ),
        "{}",
        cluster::text(&out)
    );
    assert!(
        samples > 5 && missing == 0,
        "the VIP left haproxy-1 in {missing} of {samples} samples"
    );
    let members = cluster::etcd_members(lab, 0, &client(0), PKI);
    let expected: Vec<String> = [(1, 0), (2, 1), (3, 2), (4, SPARES[0]), (5, SPARES[1])]
        .iter()
        .map(|(n, i)| format!("etcd-{n} started https://{}:2380", address(*i)))
        .collect();
    assert_eq!(members, expected);
    let health = etcdctl("endpoint health --cluster");
    assert_eq!(health.matches("is healthy").count(), 5, "{health}");
    let five: Vec<String> = [0, 1, 2, SPARES[0], SPARES[1]]
        .iter()
        .map(|i| client(*i))
        .collect();
    for i in [KUBEMASTER_1, KUBEMASTER_1 + 1, SPARES[2]] {
        assert_eq!(
            etcd_servers(lab, i),
            five.join(","),
            "{}",
            lab.hosts[i].name
        );
    }
    let config = cluster::kubectl_local(
        &admin,
        &[
            "get",
            "configmap",
            "-n",
            "kube-system",
            "kubeadm-config",
            "-o",
            "jsonpath={.data.ClusterConfiguration}",
        ],
    );
    let config = String::from_utf8_lossy(&config.stdout);
    for endpoint in &five {
        assert!(config.contains(endpoint.as_str()), "{config}");
    }
    for i in HAPROXY {
        let cfg = String::from_utf8(lab.host_file(i, "/etc/haproxy/haproxy.cfg").unwrap()).unwrap();
        assert!(
            cfg.contains(&format!("{}:6443", address(SPARES[2]))),
            "{}: {cfg}",
            lab.hosts[i].name
        );
    }
    assert_eq!(
        cluster::nodes(&admin),
        ["kubemaster-1", "kubemaster-2", "kubemaster-3", "kubenode-1"]
    );

    // etcd-2 taken out: four members left, and every API server names the four.
    let out = kubewiz(
        state,
        &[
            "node",
            "remove",
            "etcd-2",
            "--preset",
            grown_path.to_str().unwrap(),
            "--yes",
        ],
    );
    assert!(out.status.success(), "{}", cluster::text(&out));
    let members = cluster::etcd_members(lab, 0, &client(0), PKI);
    assert_eq!(members.len(), 4, "{members:?}");
    assert!(
        !members.iter().any(|m| m.starts_with("etcd-2 ")),
        "{members:?}"
    );
    let health = etcdctl("endpoint health --cluster");
    assert_eq!(health.matches("is healthy").count(), 4, "{health}");
    let four: Vec<String> = [0, 2, SPARES[0], SPARES[1]]
        .iter()
        .map(|i| client(*i))
        .collect();
    for i in [KUBEMASTER_1, KUBEMASTER_1 + 1, SPARES[2]] {
        assert_eq!(
            etcd_servers(lab, i),
            four.join(","),
            "{}",
            lab.hosts[i].name
        );
    }
    let gone = lab.exec(1, "! pgrep -x etcd && test ! -e /var/lib/etcd/member");
    assert!(gone.status.success(), "etcd-2 was not reset: {gone:?}");
    assert_eq!(cluster::nodes(&admin).len(), 4);
}
