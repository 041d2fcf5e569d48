//! Growing, shrinking and repairing stacked HA's control planes on lab hosts (the
//! stand-in kubeadm, kubelet and API server; the real etcd, haproxy, keepalived,
//! kubectl and etcdctl), checked from outside:
//! - taking a control plane out of three is refused (stacked-ha needs three), pointing
//!   to `node replace`;
//! - a fourth control plane added by `apply`: etcd has four started members, every
//!   haproxy lists it, and the VIP never left the first control plane while haproxy
//!   and keepalived reloaded;
//! - `node remove` of it: drained, reset, out of etcd and of every haproxy;
//! - with one control plane's host gone (its link cut), replacing another one is
//!   refused because etcd would lose its quorum, and nothing changes;
//! - `node replace` of the gone one onto a new host: etcd has three healthy members
//!   again, none of them the gone one, and the node runs at its new address;
//! - `node replace` of the first control plane: the second acts and becomes the first,
//!   the new host joins, and an apply of a preset that still lists it first is refused.

#[path = "lab/mod.rs"]
mod lab;

#[path = "lab/cluster.rs"]
mod cluster;

use std::fs;
use std::path::Path;
use std::process::Output;

use cluster::Topology;

const PKI: &str = "/etc/kubernetes/pki/etcd";

fn kubewiz(state: &Path, args: &[&str]) -> Output {
    let (out, took) = cluster::kubewiz(state, args);
    eprintln!("kubewiz {} {}: {took:.1?}", args[0], args[1]);
    out
}

#[test]
fn control_planes_are_added_removed_and_replaced_with_etcd_quorum_kept() {
    let Some(setup) = cluster::installed_with_spares(Topology::StackedHa, &[], 2) else {
        return;
    };
    let (lab, state) = (&setup.lab, &setup.state);
    let preset = setup.preset_arg();
    let text = fs::read_to_string(&setup.preset).unwrap();
    let admin = state.join("labstacked/admin.conf");
    let vip = lab.unused_address();
    let address = |i: usize| lab.hosts[i].address;
    let first = address(0);
    let endpoint = format!("https://{first}:2379");
    let members = || cluster::etcd_members(lab, 0, &endpoint, PKI);
    let haproxy = |i: usize| {
        String::from_utf8(lab.host_file(i, "/etc/haproxy/haproxy.cfg").unwrap()).unwrap()
    };
    assert_eq!(
        cluster::nodes(&admin),
        ["kubemaster-1", "kubemaster-2", "kubemaster-3", "kubenode-1"]
    );

    // Three is stacked-ha's least: taking one out is refused, naming node replace.
    let out = kubewiz(
        state,
        &[
            "node",
            "remove",
            "kubemaster-2",
            "--preset",
            preset,
            "--yes",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", cluster::text(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("without kubemaster-2, cluster labstacked would not be valid")
            && said.contains("kubewiz node replace kubemaster-2"),
        "{said}"
    );

    // A fourth control plane, added by apply; the VIP stays where it is.
    let grown = setup.work.path().join("grown.toml");
    fs::write(
        &grown,
        cluster::with_host(&text, "kubemaster-4", address(4), "control-plane"),
    )
    .unwrap();
    let (out, samples, moved) =
        cluster::vip_watched(lab, 0, vip, || cluster::apply(state, &grown).0);
    assert!(out.status.success(), "{}", cluster::text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("this run adds kubemaster-4 (control-plane) and only checks"),
        "{}",
        cluster::text(&out)
    );
    assert!(
        samples > 5 && moved == 0,
        "the VIP left kubemaster-1 in {moved} of {samples} samples"
    );
    let listed = members();
    assert_eq!(listed.len(), 4, "{listed:?}");
    assert!(listed.iter().all(|m| m.contains(" started ")), "{listed:?}");
    assert!(
        listed
            .iter()
            .any(|m| m == &format!("kubemaster-4 started https://{}:2380", address(4))),
        "{listed:?}"
    );
    for i in [0, 1, 2, 4] {
        assert!(
            haproxy(i).contains(&format!("{}:6443", address(4))),
            "{}: {}",
            lab.hosts[i].name,
            haproxy(i)
        );
    }
    assert!(cluster::nodes(&admin).contains(&"kubemaster-4".to_owned()));

    // node remove of it: out of the cluster, of etcd and of every haproxy.
    let (out, samples, moved) = cluster::vip_watched(lab, 0, vip, || {
        kubewiz(
            state,
            &[
                "node",
                "remove",
                "kubemaster-4",
                "--preset",
                grown.to_str().unwrap(),
                "--yes",
            ],
        )
    });
    assert!(out.status.success(), "{}", cluster::text(&out));
    assert!(
        samples > 5 && moved == 0,
        "the VIP left kubemaster-1 in {moved} of {samples} samples"
    );
    assert_eq!(
        cluster::nodes(&admin),
        ["kubemaster-1", "kubemaster-2", "kubemaster-3", "kubenode-1"]
    );
    let listed = members();
    assert_eq!(listed.len(), 3, "{listed:?}");
    assert!(
        !listed.iter().any(|m| m.starts_with("kubemaster-4")),
        "{listed:?}"
    );
    for i in 0..3 {
        assert!(
            !haproxy(i).contains(&format!("{}:", address(4))),
            "{}",
            haproxy(i)
        );
    }
    for (check, what) in [
        (
            "test ! -e /etc/kubernetes/kubelet.conf",
            "its kubelet.conf is left",
        ),
        (
            "! grep -s kubemaster-1 /etc/haproxy/haproxy.cfg",
            "its haproxy.cfg is kubewiz's",
        ),
        (
            "! pgrep -x keepalived && ! pgrep -x haproxy",
            "keepalived or haproxy runs",
        ),
    ] {
        let out = lab.exec(4, check);
        assert!(
            out.status.success(),
            "kubemaster-4 was not reset: {what}: {out:?}"
        );
    }

    // kubemaster-3's host goes (its link cut). Replacing kubemaster-2 now would leave
    // etcd one healthy member of two: refused, and nothing changes.
    lab.cut_link(2);
    let out = kubewiz(
        state,
        &[
            "node",
            "replace",
            "kubemaster-2",
            "--preset",
            preset,
            "--yes",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", cluster::text(&out));
    let said = cluster::text(&out);
    assert!(
        said.contains("taking kubemaster-2 out leaves 2 members of which 1 answer healthy; etcd needs 2 for quorum"),
        "{said}"
    );
    assert_eq!(members().len(), 3);
    assert!(cluster::nodes(&admin).contains(&"kubemaster-2".to_owned()));

    // kubemaster-3 replaced by a new host at another address.
    let replaced = setup.work.path().join("replaced.toml");
    fs::write(
        &replaced,
        text.replace(
            &format!("address = \"{}\"", address(2)),
            &format!("address = \"{}\"", address(5)),
        ),
    )
    .unwrap();
    let (out, samples, moved) = cluster::vip_watched(lab, 0, vip, || {
        kubewiz(
            state,
            &[
                "node",
                "replace",
                "kubemaster-3",
                "--preset",
                replaced.to_str().unwrap(),
                "--yes",
            ],
        )
    });
    assert!(out.status.success(), "{}", cluster::text(&out));
    let said = cluster::text(&out);
    assert!(
        said.contains("kubemaster-3 does not answer over SSH"),
        "{said}"
    );
    assert!(
        said.contains("kubemaster-3 is replaced in cluster labstacked"),
        "{said}"
    );
    assert!(
        samples > 5 && moved == 0,
        "the VIP left kubemaster-1 in {moved} of {samples} samples"
    );
    let listed = members();
    let expected: Vec<String> = [(1, 0), (2, 1), (3, 5)]
        .iter()
        .map(|(n, i)| format!("kubemaster-{n} started https://{}:2380", address(*i)))
        .collect();
    assert_eq!(listed, expected);
    let health = lab.exec(
        0,
        &format!(
            "ETCDCTL_API=3 etcdctl --endpoints={endpoint} --cacert={PKI}/ca.crt --cert={PKI}/healthcheck-client.crt --key={PKI}/healthcheck-client.key endpoint health --cluster"
        ),
    );
    let healthy = String::from_utf8_lossy(&health.stdout);
    assert!(health.status.success(), "{health:?}");
    assert_eq!(healthy.matches("is healthy").count(), 3, "{healthy}");
    assert!(!healthy.contains(&address(2).to_string()), "{healthy}");
    assert_eq!(
        cluster::nodes(&admin),
        ["kubemaster-1", "kubemaster-2", "kubemaster-3", "kubenode-1"]
    );
    for i in [0, 1, 5] {
        let cfg = haproxy(i);
        assert!(cfg.contains(&format!("{}:6443", address(5))), "{cfg}");
        assert!(!cfg.contains(&format!("{}:6443", address(2))), "{cfg}");
    }
    let kept = fs::read_to_string(state.join("labstacked/preset.toml")).unwrap();
    assert!(
        kept.contains(&address(5).to_string()) && !kept.contains(&format!("\"{}\"", address(2))),
        "{kept}"
    );

    // The first control plane replaced by a new host (kubemaster-4's, reset above):
    // the second acts on the cluster meanwhile and becomes the first, and the new
    // kubemaster-1 joins.
    let first_replaced = setup.work.path().join("first-replaced.toml");
    fs::write(
        &first_replaced,
        fs::read_to_string(&replaced).unwrap().replace(
            &format!("address = \"{}\"", address(0)),
            &format!("address = \"{}\"", address(4)),
        ),
    )
    .unwrap();
    let out = kubewiz(
        state,
        &[
            "node",
            "replace",
            "kubemaster-1",
            "--preset",
            first_replaced.to_str().unwrap(),
            "--yes",
        ],
    );
    assert!(out.status.success(), "{}", cluster::text(&out));
    let said = cluster::text(&out);
    assert!(
        said.contains("kubemaster-2 is the cluster's first control plane now (kubemaster-1 joined as a new one)"),
        "{said}"
    );
    let second = format!("https://{}:2379", address(1));
    let expected: Vec<String> = [(1, 4), (2, 1), (3, 5)]
        .iter()
        .map(|(n, i)| format!("kubemaster-{n} started https://{}:2380", address(*i)))
        .collect();
    assert_eq!(cluster::etcd_members(lab, 1, &second, PKI), expected);
    assert_eq!(
        cluster::nodes(&admin),
        ["kubemaster-1", "kubemaster-2", "kubemaster-3", "kubenode-1"]
    );
    let out = lab.exec(
        0,
        "test ! -e /etc/kubernetes/admin.conf && ! pgrep -x haproxy",
    );
    assert!(
        out.status.success(),
        "the old kubemaster-1 was not reset: {out:?}"
    );
    let kept = fs::read_to_string(state.join("labstacked/preset.toml")).unwrap();
    let first_listed = kept
        .lines()
        .find_map(|l| l.strip_prefix("name = \"kubemaster-"))
        .unwrap_or_default();
    assert!(first_listed.starts_with('2'), "{kept}");
    // The operator's preset still lists kubemaster-1 first: apply says what to move.
    let (out, _) = cluster::apply(state, &first_replaced);
    assert!(!out.status.success(), "{}", cluster::text(&out));
    assert!(
        cluster::text(&out).contains(
            "kubemaster-2 is the installed cluster's first control plane, but the preset lists kubemaster-1 first"
        ),
        "{}",
        cluster::text(&out)
    );
}
