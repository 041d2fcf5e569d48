//! Adding hosts to an installed cluster by editing its preset: `kubewiz plan` names the
//! steps earlier runs finished (skipped) and the hosts with work to do, and the second
//! `kubewiz apply` joins the new workers while the hosts already in the cluster are
//! only checked: every file on them and their journal entries stay as they were. A
//! preset that changes more than that is refused.
//! Lab hosts with the bundle's stand-ins (kubeadm, kubelet, the control plane), checked
//! from the KVM host with the real kubectl.

#[path = "lab/mod.rs"]
mod lab;

#[path = "lab/cluster.rs"]
mod cluster;

use std::fs;

use cluster::Topology;

#[test]
fn two_workers_join_a_single_master_and_nothing_else_changes() {
    // One control plane and one worker installed first; two more lab hosts wait.
    let Some(lab) = cluster::start_lab(Topology::SingleMaster.size(2)) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let bundle = cluster::bundle(work.path());
    let preset = work.path().join("labsingle.toml");
    fs::write(
        &preset,
        cluster::preset(&lab, Topology::SingleMaster, 0, &bundle),
    )
    .unwrap();
    let preset = preset.to_str().unwrap().to_owned();
    let state = work.path().join("state");
    let apply = ["apply", "--preset", &preset, "--no-tui", "--yes"];
    let (out, took) = cluster::kubewiz(&state, &apply);
    assert!(out.status.success(), "{}", cluster::text(&out));
    eprintln!("installed 1 control plane and 1 worker in {took:.1?}");
    let kubeconfig = state.join("labsingle/admin.conf");
    assert_eq!(cluster::nodes(&kubeconfig), ["kubemaster-1", "kubenode-1"]);
    // Where a real run's time went, over SSH: every phase, and what kubewiz added.
    let (timing, _) = cluster::kubewiz(&state, &["audit", "show", "labsingle", "--timing"]);
    assert!(timing.status.success(), "{}", cluster::text(&timing));
    let timing = String::from_utf8_lossy(&timing.stdout).into_owned();
    eprintln!("{timing}");
    for phase in ["connect ", "prepare ", "first-control-plane ", "workers "] {
        assert!(
            timing.lines().any(|l| l.starts_with(phase)),
            "no {phase}row:\n{timing}"
        );
    }
    assert!(timing.lines().any(|l| l.starts_with("Phases ")), "{timing}");
    assert!(
        timing
            .lines()
            .last()
            .unwrap()
            .starts_with("kubewiz's own CPU time: "),
        "{timing}"
    );

    let digest = |i: usize| {
        lab.exec(
            i,
            "cd / && find etc usr/local/bin var/lib/kubelet -xdev -type f -print0 | sort -z | xargs -0 sha256sum",
        )
        .stdout
    };
    let installed: Vec<Vec<u8>> = (0..2).map(digest).collect();
    let journal = state.join("labsingle/journal");
    let journal_before = fs::read_to_string(&journal).unwrap();
    assert!(journal_before.contains("kubenode-1"), "{journal_before}");

    // The preset gains kubenode-2 and kubenode-3.
    fs::write(
        &preset,
        cluster::preset(&lab, Topology::SingleMaster, 2, &bundle),
    )
    .unwrap();
    let (plan, _) = cluster::kubewiz(&state, &["plan", "--preset", &preset]);
    assert!(plan.status.success(), "{}", cluster::text(&plan));
    let plan = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(
        plan.lines()
            .next()
            .unwrap()
            .contains("Earlier runs finished"),
        "{plan}"
    );
    for line in [
        "  kubenode-1: its ",
        "  kubemaster-1: its ",
        "    prepare/kubenode-2/",
        "    workers/kubenode-3/join",
    ] {
        assert!(plan.contains(line), "the plan lacks {line:?}:\n{plan}");
    }
    let changing = plan
        .lines()
        .find_map(|l| l.strip_prefix("Steps that change something, by host: "))
        .unwrap_or_else(|| panic!("no hosts with work:\n{plan}"));
    let hosts: Vec<&str> = changing
        .split("; ")
        .next()
        .unwrap()
        .split(", ")
        .map(|h| h.split(" (").next().unwrap())
        .collect();
    assert_eq!(hosts, ["kubenode-2", "kubenode-3"], "{plan}");

    let (out, took) = cluster::kubewiz(&state, &apply);
    assert!(out.status.success(), "{}", cluster::text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("this run adds kubenode-2, kubenode-3"),
        "{}",
        cluster::text(&out)
    );
    eprintln!("added 2 workers in {took:.1?}");
    assert_eq!(
        cluster::nodes(&kubeconfig),
        ["kubemaster-1", "kubenode-1", "kubenode-2", "kubenode-3"]
    );
    for (i, before) in installed.iter().enumerate() {
        assert!(
            &digest(i) == before,
            "{}: adding workers changed its files",
            lab.hosts[i].name
        );
    }
    let journal_after = fs::read_to_string(&journal).unwrap();
    let added = journal_after
        .strip_prefix(&journal_before)
        .expect("the journal was only appended to");
    assert!(
        !added.is_empty(),
        "the new workers' steps were not journaled"
    );
    for line in added.lines() {
        assert!(
            line.contains("/kubenode-2/") || line.contains("/kubenode-3/"),
            "a step of a host already in the cluster ran again: {line}"
        );
    }

    // A preset that takes a host out and changes the pod CIDR and the endpoint is
    // refused before any host is contacted or any certificate made, each difference
    // named.
    let grown = fs::read_to_string(&preset).unwrap();
    // The new endpoint name would be a new SAN of the API server's certificate.
    let shrunk = cluster::preset(&lab, Topology::SingleMaster, 1, &bundle).replace(
        "cni = \"none\"\n",
        "cni = \"none\"\npod_cidr = \"10.32.0.0/16\"\n",
    ) + "\n[control_plane]\nendpoint = \"kubeapi.lab.example\"\n";
    fs::write(&preset, shrunk).unwrap();
    let pki = state.join("labsingle/pki");
    let kept = cluster::files_under(&pki);
    assert!(!kept.is_empty(), "{} is empty", pki.display());
    let (out, _) = cluster::kubewiz(&state, &apply);
    assert_eq!(out.status.code(), Some(1), "{}", cluster::text(&out));
    let said = String::from_utf8_lossy(&out.stderr);
    for problem in [
        "kubernetes.pod_cidr: differs from the installed cluster's (10.244.0.0/16)",
        "control_plane.endpoint: differs from the installed cluster's (unset)",
        "hosts: kubenode-3 (",
        "a host is taken out with `kubewiz node remove kubenode-3`: put its [[hosts]] entry back until then",
    ] {
        assert!(said.contains(problem), "{said}");
    }
    assert_eq!(fs::read_to_string(&journal).unwrap(), journal_after);
    assert!(
        cluster::files_under(&pki) == kept,
        "the refused preset changed the kept PKI"
    );
    assert_eq!(
        fs::read_to_string(state.join("labsingle/preset.toml")).unwrap(),
        grown,
        "the refused preset was kept as the cluster's"
    );
}
