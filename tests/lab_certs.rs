//! `kubewiz certs check` and `certs renew` on a single-master cluster installed on lab
//! hosts (the stand-in kubeadm, kubelet and control plane; the real etcd, kubectl,
//! etcdctl and openssl): leaves issued with a short validity (KUBEWIZ_TEST_LEAF_DAYS)
//! are reported, a host copy that differs from the kept one is reported, the renewal
//! gives every leaf a new serial and expiry from the unchanged CAs, and the API server
//! and etcd then serve and accept the new certificates. On external etcd and on
//! stacked HA the three etcd members (etcd hosts, or control planes) are renewed one
//! after the other, each serving its new certificate, all three still started members
//! and healthy, the API answering through the VIP. The single-master cluster is renewed
//! once more from the wizard's manage view in a real terminal (tmux), by its engine.

#[path = "lab/mod.rs"]
mod lab;

#[path = "lab/cluster.rs"]
mod cluster;

#[path = "tmux/mod.rs"]
mod tmux;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use cluster::Topology;

/// The real kubewiz with `--state-dir state`, `env` set, and `args` (every audit log
/// it leaves verified, as for every lab run).
fn kubewiz(state: &Path, env: &[(&str, &str)], args: &[&str]) -> Output {
    let (out, took) = cluster::kubewiz_env(state, env, args);
    eprintln!("kubewiz {}: {took:.1?}", args[..2].join(" "));
    out
}

fn openssl(args: &[&str], input: Option<&[u8]>) -> Output {
    use std::io::Write;
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    stdin.write_all(input.unwrap_or_default()).unwrap();
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// `openssl x509 -serial -enddate` of a PEM: (serial, notAfter).
fn serial_and_end(pem: &[u8]) -> (String, String) {
    let out = openssl(&["x509", "-noout", "-serial", "-enddate"], Some(pem));
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name))
            .unwrap_or_else(|| panic!("{name} in {text}"))
            .to_owned()
    };
    (field("serial="), field("notAfter="))
}

/// The certificate a TLS server at `addr` presents, PEM.
fn served(addr: &str) -> Vec<u8> {
    let out = openssl(&["s_client", "-connect", addr, "-showcerts"], Some(b""));
    let text = String::from_utf8_lossy(&out.stdout);
    let begin = text
        .find("-----BEGIN CERTIFICATE-----")
        .unwrap_or_else(|| panic!("{addr} presented no certificate: {out:?}"));
    let end = text[begin..].find("-----END CERTIFICATE-----").unwrap() + begin + 25;
    text[begin..end].as_bytes().to_vec()
}

/// Every kept leaf certificate: path relative to pki/ → PEM (CAs and the renewal's
/// list left out).
fn kept_leaves(pki: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    cluster::files_under(pki)
        .into_iter()
        .filter(|(rel, _)| {
            let name = rel.file_name().unwrap().to_string_lossy();
            name.ends_with(".crt") && !name.ends_with("ca.crt")
        })
        .collect()
}

/// The CA that signs the kept leaf `rel`, by kubeadm's layout.
fn ca_of(pki: &Path, rel: &Path) -> PathBuf {
    let text = rel.to_string_lossy();
    if text.contains("etcd") {
        pki.join("etcd/ca.crt")
    } else if text.contains("front-proxy") {
        pki.join("front-proxy-ca.crt")
    } else {
        pki.join("ca.crt")
    }
}

#[test]
fn short_lived_leaves_are_reported_and_renewed_in_place() {
    let Some(setup) =
        cluster::installed(Topology::SingleMaster, &[("KUBEWIZ_TEST_LEAF_DAYS", "10")])
    else {
        return;
    };
    let preset = setup.preset_arg();
    let state = &setup.state;

    // Leaves of ten days: every one a warning, and cron sees exit 1.
    let host_copy = "/etc/kubernetes/pki/front-proxy-client.crt";
    let changed = setup.lab.exec(
        0,
        &format!("cp /etc/kubernetes/pki/front-proxy-ca.crt {host_copy}"),
    );
    assert!(changed.status.success(), "{changed:?}");
    let out = kubewiz(state, &[], &["certs", "check", "--preset", preset]);
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(1), "{}", cluster::text(&out));
    let line = |host: &str, path: &str| {
        report
            .lines()
            .find(|l| l.contains(host) && l.contains(path))
            .unwrap_or_else(|| panic!("no line for {host} {path}:\n{report}"))
            .to_owned()
    };
    assert!(
        report.contains("renew with: kubewiz certs renew"),
        "{report}"
    );
    let apiserver = line("kubemaster-1", "/etc/kubernetes/pki/apiserver.crt");
    assert!(
        apiserver.starts_with("warning") && apiserver.contains("expires within 30 days"),
        "{apiserver}"
    );
    assert!(apiserver.contains("signer kubernetes"), "{apiserver}");
    let differs = line("kubemaster-1", host_copy);
    assert!(differs.contains("DIFFERS from the kept copy"), "{differs}");
    let state_leaf = line("state", "pki/hosts/kubemaster-1/etcd/server.crt");
    assert!(state_leaf.starts_with("warning"), "{state_leaf}");
    assert!(line("state", "pki/ca.crt").starts_with("ok"), "{report}");

    // The renewal: every leaf again, from the same CAs.
    let pki = state.join("labsingle/pki");
    let cas: Vec<Vec<u8>> = ["ca.crt", "front-proxy-ca.crt", "etcd/ca.crt"]
        .iter()
        .map(|c| fs::read(pki.join(c)).unwrap())
        .collect();
    let before = kept_leaves(&pki);
    let dry = kubewiz(
        state,
        &[],
        &["certs", "renew", "--preset", preset, "--dry-run"],
    );
    assert!(dry.status.success(), "{}", cluster::text(&dry));
    assert!(
        String::from_utf8_lossy(&dry.stdout)
            .contains("certs-control-planes/kubemaster-1/restart:kube-apiserver"),
        "{}",
        cluster::text(&dry)
    );
    assert!(kept_leaves(&pki) == before, "a dry run saved certificates");
    let out = kubewiz(state, &[], &["certs", "renew", "--preset", preset, "--yes"]);
    assert!(out.status.success(), "{}", cluster::text(&out));
    assert!(
        !pki.join("renewal").exists(),
        "the finished renewal's list stayed"
    );
    let after = kept_leaves(&pki);
    for (i, ca) in ["ca.crt", "front-proxy-ca.crt", "etcd/ca.crt"]
        .iter()
        .enumerate()
    {
        assert!(fs::read(pki.join(ca)).unwrap() == cas[i], "{ca} changed");
    }
    // Every leaf kept before is kept again, renewed; the only new ones are the client
    // certificates of the control plane's kubeconfigs, which the renewal issues too
    // (the install leaves those to kubeadm).
    assert!(before.len() >= 5, "{:?}", before.keys());
    for rel in before.keys() {
        assert!(
            after.contains_key(rel),
            "{} is no longer kept: {:?}",
            rel.display(),
            after.keys()
        );
    }
    for rel in after.keys().filter(|r| !before.contains_key(*r)) {
        assert!(
            rel.to_string_lossy().ends_with(".conf.crt"),
            "{} appeared: {:?}",
            rel.display(),
            after.keys()
        );
    }
    for (rel, old) in &before {
        let new = &after[rel];
        let (old_serial, old_end) = serial_and_end(old);
        let (new_serial, new_end) = serial_and_end(new);
        assert_ne!(old_serial, new_serial, "{}: same serial", rel.display());
        assert_ne!(old_end, new_end, "{}: same expiry", rel.display());
        let ca = ca_of(&pki, rel);
        let verify = Command::new("openssl")
            .arg("verify")
            .arg("-CAfile")
            .arg(&ca)
            .arg(pki.join(rel))
            .output()
            .unwrap();
        assert!(verify.status.success(), "{}: {verify:?}", rel.display());
    }
    // The kubeconfigs' client certificates were issued and kept too.
    for conf in [
        "admin.conf",
        "controller-manager.conf",
        "scheduler.conf",
        "super-admin.conf",
    ] {
        assert!(
            after.contains_key(&PathBuf::from(format!("hosts/kubemaster-1/{conf}.crt"))),
            "{conf}"
        );
    }

    // The API server serves its new certificate and answers the new admin.conf.
    let master = setup.lab.hosts[0].address.to_string();
    let apiserver_pem = &after[Path::new("hosts/kubemaster-1/apiserver.crt")];
    assert_eq!(
        serial_and_end(&served(&format!("{master}:6443"))).0,
        serial_and_end(apiserver_pem).0,
        "the API server still serves its old certificate"
    );
    let admin = state.join("labsingle/admin.conf");
    let nodes = cluster::kubectl_local(&admin, &["get", "nodes", "--no-headers"]);
    assert!(nodes.status.success(), "{nodes:?}");
    assert!(
        String::from_utf8_lossy(&nodes.stdout).contains("kubemaster-1"),
        "{nodes:?}"
    );
    // etcd serves its new certificate and accepts the new client certificate.
    let etcd_pem = &after[Path::new("hosts/kubemaster-1/etcd/server.crt")];
    assert_eq!(
        serial_and_end(&served(&format!("{master}:2379"))).0,
        serial_and_end(etcd_pem).0,
        "etcd still serves its old certificate"
    );
    let client = pki.join("hosts/kubemaster-1/apiserver-etcd-client");
    let etcdctl = Command::new(Path::new(cluster::ETCD_DIR).join("etcdctl"))
        .arg(format!("--endpoints=https://{master}:2379"))
        .arg(format!("--cacert={}", pki.join("etcd/ca.crt").display()))
        .arg(format!("--cert={}.crt", client.display()))
        .arg(format!("--key={}.key", client.display()))
        .args(["endpoint", "health"])
        .output()
        .unwrap();
    assert!(etcdctl.status.success(), "{etcdctl:?}");

    // Fresh leaves everywhere, every host copy the kept one: exit 0.
    let out = kubewiz(state, &[], &["certs", "check", "--preset", preset]);
    assert!(out.status.success(), "{}", cluster::text(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(!report.contains("DIFFERS"), "{report}");
    assert!(
        report.contains("/etc/kubernetes/admin.conf") && report.contains("same as kept"),
        "{report}"
    );
    assert!(
        kubewiz(state, &[], &["audit", "list", "labsingle"])
            .stdout
            .windows(11)
            .any(|w| w == b"certs-renew"),
        "no certs-renew run in the audit index"
    );

    // The same renewal from the wizard's manage view in a real terminal, run by an
    // engine process: the nodes as the API lists them, the plan, then every leaf once
    // more, placed and served.
    renewed_from_the_wizard(&setup, &after);

    // A host that does not answer is reported, not waited on.
    setup.lab.cut_link(1);
    let out = kubewiz(state, &[], &["certs", "check", "--preset", preset]);
    assert_eq!(out.status.code(), Some(1), "{}", cluster::text(&out));
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        report.lines().any(|l| l.starts_with("error")
            && l.contains("kubenode-1")
            && l.contains("does not answer")),
        "{report}"
    );
}

/// Start → the installed cluster's manage view (its nodes as its API lists them) →
/// Check every certificate (read on every host) → Renew certificates → dry run off, confirmed → the renewal's panes → Done; then every
/// kept leaf differs from `before`, the renewal's record is gone and the API server
/// serves its new certificate.
fn renewed_from_the_wizard(setup: &cluster::Setup, before: &BTreeMap<PathBuf, Vec<u8>>) {
    if !tmux::tmux_available() {
        eprintln!(
            "SKIPPED the wizard's renewal: tmux is not installed (scripts/test.sh installs it as root)"
        );
        return;
    }
    let state = &setup.state;
    let pki = state.join("labsingle/pki");
    let tmux = tmux::Tmux::start("lab-certs");
    tmux.run_kubewiz(&format!("--state-dir {}", state.display()));
    tmux.wait_for("1/9 Start", Duration::from_secs(20));
    // New cluster, then the clusters of the state directory.
    tmux.keys(&["Down", "Enter"]);
    // The node as its API lists it (NotReady: these clusters run no pod network).
    let manage = tmux.wait_for("Ready v", Duration::from_secs(30));
    let master = manage
        .lines()
        .find(|l| l.contains("kubemaster-1"))
        .unwrap_or_default();
    assert!(
        master.contains("control-plane") && master.contains("Ready v1."),
        "{manage}"
    );
    // Every certificate, read on every host: all fresh, every host's copy the kept one
    // (a copy that differed would be a warning).
    tmux.keys(&[
        "Down", "Down", "Down", "Down", "Down", "Down", "Down", "Enter",
    ]);
    let report = tmux.wait_for(" certificates: ", Duration::from_secs(60));
    assert!(report.contains(" 0 warnings, 0 errors"), "{report}");
    tmux.keys(&["Escape", "Up", "Up", "Up", "Up", "Up", "Up", "Enter"]);
    tmux.wait_for("dry run: ON", Duration::from_secs(60));
    tmux.keys(&["d", "n"]);
    tmux.wait_for("Run it?", Duration::from_secs(10));
    tmux.keys(&["y"]);
    tmux.wait_for("renewal finished", Duration::from_secs(300));
    tmux.keys(&["n"]);
    tmux.wait_for("are renewed on every host", Duration::from_secs(10));
    tmux.keys(&["q"]);
    let (code, after_screen) = tmux.wait_for_exit(Duration::from_secs(10));
    assert_eq!(code, 0, "{after_screen}");
    cluster::verify_audit_logs(state);
    assert!(
        !pki.join("renewal").exists(),
        "the engine did not finish the renewal's record"
    );
    let after = kept_leaves(&pki);
    for (rel, old) in before {
        assert_ne!(
            serial_and_end(old).0,
            serial_and_end(&after[rel]).0,
            "{}: the wizard's renewal left its serial",
            rel.display()
        );
    }
    let address = setup.lab.hosts[0].address.to_string();
    assert_eq!(
        serial_and_end(&served(&format!("{address}:6443"))).0,
        serial_and_end(&after[Path::new("hosts/kubemaster-1/apiserver.crt")]).0,
        "the API server does not serve the wizard's renewed certificate"
    );
}

#[test]
fn external_etcd_members_are_renewed_one_at_a_time_and_keep_serving() {
    renewed_one_member_at_a_time(Topology::ExternalEtcd, "labext", "certs-etcd", 0..3);
}

#[test]
fn stacked_control_planes_are_renewed_one_at_a_time_and_etcd_keeps_serving() {
    renewed_one_member_at_a_time(
        Topology::StackedHa,
        "labstacked",
        "certs-control-planes",
        0..3,
    );
}

/// Installs `topology` as cluster `cluster` and renews its certificates: every kept leaf
/// gets a new serial, each etcd member (the lab hosts `members`) serves its new
/// certificate and all of them answer the control planes' new client certificate as
/// started members, the API answers through the endpoint with the renewed admin.conf,
/// and the renewal's phase `phase` took the members one after the other.
fn renewed_one_member_at_a_time(
    topology: Topology,
    cluster: &str,
    phase: &str,
    members: std::ops::Range<usize>,
) {
    let Some(setup) = cluster::installed(topology, &[]) else {
        return;
    };
    let preset = setup.preset_arg();
    let state = &setup.state;
    let pki = state.join(cluster).join("pki");
    let before = kept_leaves(&pki);
    let out = kubewiz(state, &[], &["certs", "renew", "--preset", preset, "--yes"]);
    assert!(out.status.success(), "{}", cluster::text(&out));
    let after = kept_leaves(&pki);
    for (rel, old) in &before {
        assert_ne!(
            serial_and_end(old).0,
            serial_and_end(&after[rel]).0,
            "{}: not renewed",
            rel.display()
        );
    }

    // Each member serves its new certificate; all of them answer the control planes'
    // new client certificate, and none left the cluster.
    let names = topology.hosts(0);
    let endpoints: Vec<String> = members
        .clone()
        .map(|i| format!("https://{}:2379", setup.lab.hosts[i].address))
        .collect();
    for (i, endpoint) in members.clone().zip(&endpoints) {
        let name = &names[i].0;
        let kept = &after[&PathBuf::from(format!("hosts/{name}/etcd/server.crt"))];
        assert_eq!(
            serial_and_end(&served(endpoint.trim_start_matches("https://"))).0,
            serial_and_end(kept).0,
            "{name}'s etcd still serves its old certificate"
        );
    }
    // The control planes' client certificate for etcd, wherever the PKI keeps it.
    let client = after
        .keys()
        .find(|k| k.to_string_lossy().ends_with("apiserver-etcd-client.crt"))
        .unwrap_or_else(|| panic!("no apiserver-etcd-client: {:?}", after.keys()));
    let client = pki.join(client.with_extension(""));
    let etcdctl = |args: &[&str]| {
        Command::new(Path::new(cluster::ETCD_DIR).join("etcdctl"))
            .arg(format!("--endpoints={}", endpoints.join(",")))
            .arg(format!("--cacert={}", pki.join("etcd/ca.crt").display()))
            .arg(format!("--cert={}.crt", client.display()))
            .arg(format!("--key={}.key", client.display()))
            .args(args)
            .output()
            .unwrap()
    };
    let health = etcdctl(&["endpoint", "health"]);
    assert!(health.status.success(), "{health:?}");
    let list = etcdctl(&["member", "list"]);
    assert!(list.status.success(), "{list:?}");
    let started = String::from_utf8_lossy(&list.stdout)
        .lines()
        .filter(|l| l.contains(", started, "))
        .count();
    assert_eq!(started, members.len(), "{list:?}");
    // The API answers through the endpoint with the renewed admin.conf.
    let admin = state.join(cluster).join("admin.conf");
    let nodes = cluster::kubectl_local(&admin, &["get", "nodes", "--no-headers"]);
    assert!(nodes.status.success(), "{nodes:?}");

    // One member at a time: each member's steps all finished before the next began.
    let log = fs::read_dir(state.join(cluster).join("logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .find(|p| {
            fs::read_to_string(p)
                .unwrap()
                .contains(&format!("\"{phase}/"))
        })
        .expect("the renewal's audit log");
    let prefix = format!("{phase}/");
    let mut order: Vec<String> = Vec::new();
    for line in fs::read_to_string(&log).unwrap().lines() {
        let record: serde_json::Value = serde_json::from_str(line).unwrap();
        let step = record["step"].as_str().unwrap_or("");
        let Some(rest) = step.strip_prefix(&prefix) else {
            continue;
        };
        if matches!(
            record["event"].as_str(),
            Some("step_started" | "step_finished")
        ) {
            order.push(rest.split('/').next().unwrap().to_owned());
        }
    }
    let mut seen: Vec<&str> = Vec::new();
    for member in &order {
        if seen.last() != Some(&member.as_str()) {
            assert!(
                !seen.contains(&member.as_str()),
                "{member}'s steps interleave with another member's: {order:?}"
            );
            seen.push(member);
        }
    }
    let expected: Vec<&str> = members.map(|i| names[i].0.as_str()).collect();
    assert_eq!(seen, expected, "{order:?}");
}
