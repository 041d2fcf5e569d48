//! `kubewiz node remove` on lab hosts (the stand-in kubeadm, kubelet and API server, the
//! real kubectl): a worker of a single master is drained (a Pod a ReplicaSet owns on it
//! evicted), its node deleted and the host reset (no kubelet configuration, no kubelet
//! left running); the kept preset no longer lists it, and an `apply` of the preset that
//! still does joins it again; the same removal from the wizard's manage view, in a real
//! terminal, runs in an engine process. The only control plane of a single master and
//! a host that is not in the cluster are refused before anything is contacted. A worker that stops answering is removed
//! all the same: its node and Pods deleted, the host left as it is.

#[path = "lab/mod.rs"]
mod lab;

#[path = "lab/cluster.rs"]
mod cluster;

#[path = "tmux/mod.rs"]
mod tmux;

use std::fs;
use std::path::Path;
use std::process::Output;
use std::time::Duration;

use cluster::Topology;

fn kubewiz(state: &Path, args: &[&str]) -> Output {
    let (out, took) = cluster::kubewiz(state, args);
    eprintln!("kubewiz {} {}: {took:.1?}", args[0], args[1]);
    out
}

#[test]
fn a_worker_is_drained_deleted_reset_and_can_join_again() {
    let Some(setup) = cluster::installed(Topology::SingleMaster, &[]) else {
        return;
    };
    let (state, preset) = (&setup.state, setup.preset_arg());
    let admin = state.join("labsingle/admin.conf");
    assert_eq!(cluster::nodes(&admin), ["kubemaster-1", "kubenode-1"]);
    let logs = || fs::read_dir(state.join("labsingle/logs")).unwrap().count();
    // kubenode-1 taken out: no kubelet configuration or kubelet running on it, and the
    // kept preset without it.
    let removed_and_reset = || {
        let worker = setup.lab.exec(
            1,
            "test ! -e /etc/kubernetes/kubelet.conf && ! pgrep -f '[/]usr/local/bin/kubelet'",
        );
        assert!(worker.status.success(), "{worker:?}");
        let kept = fs::read_to_string(state.join("labsingle/preset.toml")).unwrap();
        assert!(!kept.contains("kubenode-1"), "{kept}");
    };

    // A Pod on the worker that a ReplicaSet owns: drain evicts it.
    let pod = setup.work.path().join("web.json");
    fs::write(
        &pod,
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"web-1","namespace":"default","ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web","uid":"6c1c3b8e-0000-4000-8000-000000000001","controller":true}]},"spec":{"nodeName":"kubenode-1","containers":[{"name":"web","image":"registry.k8s.io/pause:3.10"}]}}"#,
    )
    .unwrap();
    let created = cluster::kubectl_local(
        &admin,
        &["create", "--validate=false", "-f", pod.to_str().unwrap()],
    );
    assert!(created.status.success(), "{created:?}");

    let before = logs();
    for (host, said) in [
        (
            "kubemaster-1",
            "without kubemaster-1, cluster labsingle would not be valid",
        ),
        (
            "kubenode-9",
            "kubenode-9 is not a host of cluster labsingle",
        ),
    ] {
        let out = kubewiz(
            state,
            &["node", "remove", host, "--preset", preset, "--yes"],
        );
        assert_eq!(out.status.code(), Some(1), "{}", cluster::text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(said),
            "{said}:\n{}",
            cluster::text(&out)
        );
    }
    assert_eq!(logs(), before, "a refused removal started a run");

    let dry = kubewiz(
        state,
        &[
            "node",
            "remove",
            "kubenode-1",
            "--preset",
            preset,
            "--dry-run",
        ],
    );
    assert!(dry.status.success(), "{}", cluster::text(&dry));
    let plan = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        plan.contains("drain kubenode-1 --ignore-daemonsets") && plan.contains("kubeadm reset"),
        "{plan}"
    );
    assert_eq!(cluster::nodes(&admin), ["kubemaster-1", "kubenode-1"]);

    let out = kubewiz(
        state,
        &["node", "remove", "kubenode-1", "--preset", preset, "--yes"],
    );
    assert!(out.status.success(), "{}", cluster::text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("take its [[hosts]] entry out of"),
        "{}",
        cluster::text(&out)
    );
    assert_eq!(cluster::nodes(&admin), ["kubemaster-1"]);
    let pods = cluster::kubectl_local(&admin, &["get", "pods", "-n", "default", "-o", "name"]);
    assert!(
        !String::from_utf8_lossy(&pods.stdout).contains("web-1"),
        "{pods:?}"
    );
    removed_and_reset();

    // The operator's preset still lists it: apply joins it again.
    let apply = kubewiz(state, &["apply", "--preset", preset, "--no-tui", "--yes"]);
    assert!(apply.status.success(), "{}", cluster::text(&apply));
    assert!(
        String::from_utf8_lossy(&apply.stderr).contains("this run adds kubenode-1 and"),
        "{}",
        cluster::text(&apply)
    );
    assert_eq!(cluster::nodes(&admin), ["kubemaster-1", "kubenode-1"]);

    // The same removal from the wizard's manage view, run by an engine process; then
    // apply joins it again.
    removed_from_the_wizard(&setup);
    assert_eq!(cluster::nodes(&admin), ["kubemaster-1"]);
    removed_and_reset();
    let apply = kubewiz(state, &["apply", "--preset", preset, "--no-tui", "--yes"]);
    assert!(apply.status.success(), "{}", cluster::text(&apply));
    assert_eq!(cluster::nodes(&admin), ["kubemaster-1", "kubenode-1"]);

    // The worker stops answering (its link cut, as a hung VM): it is removed all the
    // same, said first, with its node and the Pods bound to it deleted; it is not
    // drained (its kubelet would never stop them) nor reset.
    let pod2 = setup.work.path().join("web2.json");
    fs::write(
        &pod2,
        fs::read_to_string(&pod).unwrap().replace("web-1", "web-2"),
    )
    .unwrap();
    let created = cluster::kubectl_local(
        &admin,
        &["create", "--validate=false", "-f", pod2.to_str().unwrap()],
    );
    assert!(created.status.success(), "{created:?}");
    setup.lab.cut_link(1);
    let out = kubewiz(
        state,
        &["node", "remove", "kubenode-1", "--preset", preset, "--yes"],
    );
    setup.lab.restore_link(1);
    assert!(out.status.success(), "{}", cluster::text(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("kubenode-1 does not answer over SSH")
            && said.contains("kubenode-1 was not reset"),
        "{}",
        cluster::text(&out)
    );
    let ran = String::from_utf8_lossy(&out.stdout);
    assert!(!ran.contains("drain"), "{ran}");
    assert_eq!(cluster::nodes(&admin), ["kubemaster-1"]);
    let pods = cluster::kubectl_local(&admin, &["get", "pods", "--all-namespaces", "-o", "name"]);
    assert!(
        !String::from_utf8_lossy(&pods.stdout).contains("web-2"),
        "{pods:?}"
    );
    let kept = fs::read_to_string(state.join("labsingle/preset.toml")).unwrap();
    assert!(!kept.contains("kubenode-1"), "{kept}");
    // Not reset: the host still has its kubelet configuration.
    assert!(
        setup
            .lab
            .host_file(1, "/etc/kubernetes/kubelet.conf")
            .is_some()
    );
}

/// Start → the cluster's manage view → Remove a host → kubenode-1 → its plan (the host
/// answers: drained and reset) → dry run off, confirmed → the removal's panes → Done.
fn removed_from_the_wizard(setup: &cluster::Setup) {
    if !tmux::tmux_available() {
        eprintln!(
            "SKIPPED the wizard's removal: tmux is not installed (scripts/test.sh installs it as root)"
        );
        kubewiz(
            &setup.state,
            &[
                "node",
                "remove",
                "kubenode-1",
                "--preset",
                setup.preset_arg(),
                "--yes",
            ],
        );
        return;
    }
    let tmux = tmux::Tmux::start("lab-node");
    tmux.run_kubewiz(&format!("--state-dir {}", setup.state.display()));
    tmux.wait_for("1/9 Start", Duration::from_secs(20));
    tmux.keys(&["Down", "Enter"]);
    tmux.wait_for("Ready v", Duration::from_secs(30));
    tmux.keys(&["Down", "Down", "Enter"]);
    tmux.wait_for("Which host goes?", Duration::from_secs(5));
    tmux.keys(&["Down", "Enter"]);
    let preview = tmux.wait_for("dry run: ON", Duration::from_secs(60));
    assert!(preview.contains("Plan ("), "{preview}");
    tmux.keys(&["d", "n"]);
    let asked = tmux.wait_for("Run it?", Duration::from_secs(10));
    let words: String = asked.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains("takes kubenode-1 out: drains it, deletes its node, then resets the"),
        "{asked}"
    );
    tmux.keys(&["y"]);
    tmux.wait_for("removal finished", Duration::from_secs(300));
    tmux.keys(&["n"]);
    tmux.wait_for(
        "kubenode-1 is out of cluster labsingle",
        Duration::from_secs(10),
    );
    tmux.keys(&["q"]);
    let (code, after) = tmux.wait_for_exit(Duration::from_secs(10));
    assert_eq!(code, 0, "{after}");
    cluster::verify_audit_logs(&setup.state);
}
