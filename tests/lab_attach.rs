//! A real install whose client dies part way: `kubewiz apply --no-tui --yes` on lab
//! hosts, killed (SIGKILL) once the hosts are being prepared; the engine process goes
//! on, `kubewiz attach` follows it to the end, and the cluster answers through its
//! endpoint with the operator's kubeconfig and the real kubectl.

#[path = "lab/mod.rs"]
mod lab;

#[path = "lab/cluster.rs"]
mod cluster;

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use cluster::{Setup, Topology};

#[test]
fn an_install_whose_client_is_killed_finishes_and_attach_follows_it() {
    let Some(setup) = Setup::start(Topology::SingleNode) else {
        return;
    };
    let mut client = cluster::spawn_apply(&setup.state, setup.preset_arg(), Stdio::null());
    let mut out = BufReader::new(client.stdout.take().unwrap());
    let mut seen = String::new();
    let mut line = String::new();
    while !line.contains("== Prepare hosts") {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the install ended before preparing the hosts:\n{seen}"
        );
        seen.push_str(&line);
    }
    client.kill().unwrap();
    client.wait().unwrap();
    drop(out);

    let (attached, took) = cluster::kubewiz(&setup.state, &["attach", "labsolo"]);
    assert!(attached.status.success(), "{}", cluster::text(&attached));
    let stdout = String::from_utf8_lossy(&attached.stdout);
    // Replayed from the start, then followed to the end.
    assert!(stdout.contains("== Connect and gather facts"), "{stdout}");
    assert!(stdout.contains("kubewiz: finished"), "{stdout}");
    eprintln!("attached and followed the rest of the install for {took:.1?}");

    let kubeconfig = setup.state.join("labsolo").join("admin.conf");
    assert!(
        kubeconfig.is_file(),
        "{} was not saved",
        kubeconfig.display()
    );
    let nodes = cluster::kubectl_local(&kubeconfig, &["get", "nodes", "--no-headers"]);
    assert!(nodes.status.success(), "kubectl get nodes: {nodes:?}");
    assert!(
        String::from_utf8_lossy(&nodes.stdout).starts_with("kube-solo-1 "),
        "{nodes:?}"
    );
    // The engine closed its log although its client was killed: one run, whole (not
    // "ends without a closing record", which `audit verify` also accepts).
    let said = cluster::verify_audit_logs(&setup.state);
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(said.contains(": whole: run "), "{said}");
}
