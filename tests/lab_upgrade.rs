//! `kubewiz upgrade` on lab hosts (the stand-in kubeadm, kubelet and control plane,
//! which check versions the way kubeadm does; the real etcd, kubectl and haproxy):
//! stacked HA and external etcd go from 1.34.2 to 1.35.0 with a bundle of the new
//! version while a loop asks the API through the endpoint every second, with no failed
//! request; afterwards the API server and every kubelet report the new version and
//! the kept preset says it. A skipped minor, a downgrade and a bundle cluster without
//! the new bundle are refused before any host is touched, and a cluster without a pod
//! network (NotReady nodes) by the check. A worker whose drain fails (a Pod no
//! controller owns) stops the upgrade after the control planes; once the Pod is dealt
//! with, the same command continues, skipping what was done (for stacked HA, from the
//! wizard's manage view in tmux: Upgrade Kubernetes, the new bundle typed, the plan,
//! then the run in its engine). With external etcd, the new bundle's other etcd program
//! goes onto the members one at a time first.

#[path = "lab/mod.rs"]
mod lab;

#[path = "lab/cluster.rs"]
mod cluster;

#[path = "tmux/mod.rs"]
mod tmux;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use cluster::Topology;

fn kubewiz(state: &Path, args: &[&str]) -> Output {
    let (out, took) = cluster::kubewiz(state, args);
    eprintln!("kubewiz {}: {took:.1?}", args[0]);
    out
}

/// The test bundle again, its kubeadm and kubelet of `version` (each stand-in carries
/// its version in a line of its own file, as a real binary does).
fn bundle_of(dir: &Path, version: &str) -> PathBuf {
    let bundle = cluster::bundle(dir);
    for program in ["kubeadm", "kubelet"] {
        let path = bundle.join("bin").join(program);
        let text = fs::read_to_string(&path).unwrap();
        let changed = text.replace(
            "# kubewiz-standin-version: v1.34.2\n",
            &format!("# kubewiz-standin-version: {version}\n"),
        );
        assert_ne!(text, changed, "{program} has no version line");
        fs::write(&path, changed).unwrap();
    }
    bundle
}

/// Reads the kube-system Namespace (from etcd) through the endpoint with `kubeconfig`
/// every second until `stop`; each failure with its time and message. Not /readyz: a
/// stopping API server fails that on purpose, for haproxy, while it serves on.
fn ask_every_second(
    kubeconfig: PathBuf,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<(usize, Vec<String>)> {
    std::thread::spawn(move || {
        let started = Instant::now();
        let (mut asked, mut failed) = (0, Vec::new());
        while !stop.load(Ordering::SeqCst) {
            let tick = Instant::now();
            let out = cluster::kubectl_local(
                &kubeconfig,
                &["get", "--raw", "/api/v1/namespaces/kube-system"],
            );
            asked += 1;
            if !out.status.success() {
                failed.push(format!(
                    "{:.1?}: {}",
                    started.elapsed(),
                    String::from_utf8_lossy(&out.stderr).trim()
                ));
            }
            std::thread::sleep(Duration::from_secs(1).saturating_sub(tick.elapsed()));
        }
        (asked, failed)
    })
}

fn upgraded(topology: Topology) {
    let Some(setup) = cluster::installed(topology, &[]) else {
        return;
    };
    let (state, preset) = (&setup.state, setup.preset_arg());
    let name = fs::read_dir(state)
        .unwrap()
        .filter_map(Result::ok)
        .find(|e| e.path().join("admin.conf").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .expect("an installed cluster in the state directory");
    let admin = state.join(&name).join("admin.conf");
    let logs = || {
        fs::read_dir(state.join(&name).join("logs"))
            .unwrap()
            .count()
    };
    let new = bundle_of(&setup.work.path().join("new"), "v1.35.0");
    let new_arg = new.to_str().unwrap();
    // External etcd: the new bundle carries another etcd program (the same release
    // rebuilt, as it were: one byte more at its end, which changes its SHA-256 and not
    // what it runs), so its members get it one at a time before kubeadm's upgrade.
    let etcd_hosts: Vec<usize> = topology
        .hosts(0)
        .iter()
        .enumerate()
        .filter(|(_, (_, roles))| roles.contains(&"etcd"))
        .map(|(i, _)| i)
        .collect();
    if !etcd_hosts.is_empty() {
        let program = new.join("bin/etcd");
        let mut bytes = fs::read(&program).unwrap();
        bytes.push(b'\n');
        fs::write(&program, &bytes).unwrap();
    }

    // Refused before any host is touched.
    let before = logs();
    for (args, said) in [
        (
            vec!["--to", "1.36.0", "--bundle", new_arg],
            "kubeadm upgrades one minor at a time; upgrade to 1.35.x",
        ),
        (
            vec!["--to", "1.34.1", "--bundle", new_arg],
            "does not downgrade",
        ),
        (
            vec!["--to", "1.35.0"],
            "give the 1.35.0 bundle with --bundle DIR",
        ),
    ] {
        let mut all = vec!["upgrade", "--preset", preset, "--yes"];
        all.extend(args);
        let out = kubewiz(state, &all);
        assert_ne!(out.status.code(), Some(0), "{}", cluster::text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(said),
            "{said}:\n{}",
            cluster::text(&out)
        );
    }
    assert_eq!(logs(), before, "a refused upgrade started a run");

    let dry = kubewiz(
        state,
        &[
            "upgrade",
            "--preset",
            preset,
            "--to",
            "1.35.0",
            "--bundle",
            new_arg,
            "--dry-run",
        ],
    );
    assert!(dry.status.success(), "{}", cluster::text(&dry));
    assert!(
        String::from_utf8_lossy(&dry.stdout).contains("kubeadm upgrade apply v1.35.0 --yes"),
        "{}",
        cluster::text(&dry)
    );
    if !etcd_hosts.is_empty() {
        let said = cluster::text(&dry);
        assert!(
            said.contains("the external etcd members get the new bundle's etcd 3.5.")
                && said.contains("one at a time")
                && said.contains("is not older than the")
                && String::from_utf8_lossy(&dry.stdout).contains("upgrade-etcd/etcd-2/restart"),
            "{said}"
        );
    }

    // Without a pod network the kubelets say NotReady, and kubeadm would refuse: the
    // check says so before anything changes.
    let upgrade = [
        "upgrade", "--preset", preset, "--to", "1.35.0", "--bundle", new_arg, "--yes",
    ];
    let refused = kubewiz(state, &upgrade);
    assert_eq!(
        refused.status.code(),
        Some(1),
        "{}",
        cluster::text(&refused)
    );
    assert!(
        cluster::text(&refused).contains("no pod network: install one first"),
        "{}",
        cluster::text(&refused)
    );
    // A pod network's configuration, as a CNI's installer leaves it: the kubelets turn
    // Ready.
    for i in 0..setup.lab.hosts.len() {
        let out = setup.lab.exec(
            i,
            "mkdir -p /etc/cni/net.d && echo '{\"cniVersion\":\"1.0.0\",\"name\":\"lab\",\"plugins\":[{\"type\":\"bridge\"}]}' > /etc/cni/net.d/10-lab.conflist",
        );
        assert!(out.status.success(), "{out:?}");
    }
    let ready_by = Instant::now() + Duration::from_secs(120);
    loop {
        let out = cluster::kubectl_local(&admin, &["get", "nodes", "--no-headers"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.success() && !text.is_empty() && !text.contains("NotReady") {
            break;
        }
        assert!(Instant::now() < ready_by, "nodes not Ready:\n{text}");
        std::thread::sleep(Duration::from_secs(1));
    }

    // A Pod no controller owns on the worker: kubectl drain refuses to delete it, so
    // the upgrade stops at that worker, after the control planes.
    let pod = setup.work.path().join("lonely.json");
    fs::write(
        &pod,
        r#"{"apiVersion":"v1","kind":"Pod","metadata":{"name":"lonely","namespace":"default"},"spec":{"nodeName":"kubenode-1","containers":[{"name":"c","image":"registry.k8s.io/pause:3.10"}]}}"#,
    )
    .unwrap();
    let created = cluster::kubectl_local(
        &admin,
        &["create", "--validate=false", "-f", pod.to_str().unwrap()],
    );
    assert!(created.status.success(), "{created:?}");

    let stop = Arc::new(AtomicBool::new(false));
    let asking = ask_every_second(admin.clone(), stop.clone());
    let stopped = kubewiz(state, &upgrade);
    assert_eq!(
        stopped.status.code(),
        Some(1),
        "{}",
        cluster::text(&stopped)
    );
    let said = cluster::text(&stopped);
    assert!(
        said.contains("upgrade-workers/kubenode-1/drain: FAILED")
            && said.contains("declare no controller"),
        "{said}"
    );
    assert!(
        said.contains("run the same `kubewiz upgrade` again"),
        "{said}"
    );
    // The operator deals with the Pod; the same upgrade continues where it stopped.
    let deleted = cluster::kubectl_local(&admin, &["delete", "pod", "lonely", "-n", "default"]);
    assert!(deleted.status.success(), "{deleted:?}");
    if topology == Topology::StackedHa {
        continued_from_the_wizard(state, new_arg);
    } else {
        let out = kubewiz(state, &upgrade);
        assert!(out.status.success(), "{}", cluster::text(&out));
        let said = cluster::text(&out);
        assert!(
            said.contains(
                "upgrade-first-control-plane/kubemaster-1/apply: skipped, finished in an earlier run"
            ),
            "{said}"
        );
    }
    stop.store(true, Ordering::SeqCst);
    let (asked, failed) = asking.join().unwrap();
    eprintln!("asked the API {asked} times during the upgrade");
    assert!(asked > 10, "the upgrade took {asked} s");
    assert!(
        failed.is_empty(),
        "{} of {asked} requests through the endpoint failed:\n{}",
        failed.len(),
        failed.join("\n")
    );

    let version = cluster::kubectl_local(&admin, &["get", "--raw", "/version"]);
    assert!(
        String::from_utf8_lossy(&version.stdout).contains("\"gitVersion\":\"v1.35.0\""),
        "{version:?}"
    );
    let kubelets = cluster::kubectl_local(
        &admin,
        &[
            "get",
            "nodes",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name}={.status.nodeInfo.kubeletVersion} {end}",
        ],
    );
    let kubelets = String::from_utf8_lossy(&kubelets.stdout).into_owned();
    let nodes = cluster::nodes(&admin);
    assert!(!nodes.is_empty());
    for node in &nodes {
        assert!(
            kubelets.contains(&format!("{node}=v1.35.0")),
            "{node}: {kubelets}"
        );
    }
    // Every external member runs the new bundle's etcd, and all three are members.
    let new_etcd = fs::read(new.join("bin/etcd")).unwrap();
    for &i in &etcd_hosts {
        assert!(
            setup.lab.host_file(i, "/usr/local/bin/etcd").as_deref() == Some(&new_etcd[..]),
            "{} does not have the new bundle's etcd",
            setup.lab.hosts[i].name
        );
    }
    if let Some(&first) = etcd_hosts.first() {
        let address = setup.lab.hosts[first].address;
        let members = cluster::etcd_members(
            &setup.lab,
            first,
            &format!("https://{address}:2379"),
            "/etc/etcd/pki",
        );
        assert_eq!(members.len(), 3, "{members:?}");
        assert!(
            members.iter().all(|m| m.contains(" started")),
            "{members:?}"
        );
    }
    let kept = fs::read_to_string(state.join(&name).join("preset.toml")).unwrap();
    assert!(kept.contains("version = \"1.35.0\""), "{kept}");
    assert!(!state.join(&name).join("upgrade.journal").exists());

    // The old preset now asks for a downgrade: apply refuses it, naming the version.
    let apply = kubewiz(state, &["apply", "--preset", preset, "--no-tui", "--yes"]);
    assert_eq!(apply.status.code(), Some(1), "{}", cluster::text(&apply));
    assert!(
        String::from_utf8_lossy(&apply.stderr).contains("the cluster runs 1.35.0"),
        "{}",
        cluster::text(&apply)
    );
}

/// The upgrade that stopped, continued from the wizard: Start → the cluster's manage
/// view → Upgrade Kubernetes (1.35.0 offered) → the new bundle's directory typed → the
/// plan, dry run off, confirmed → its engine's run → Done.
fn continued_from_the_wizard(state: &Path, bundle: &str) {
    assert!(
        tmux::tmux_available(),
        "tmux is missing: scripts/test.sh installs it"
    );
    let tmux = tmux::Tmux::start("lab-upgrade");
    tmux.run_kubewiz(&format!("--state-dir {}", state.display()));
    tmux.wait_for("1/9 Start", Duration::from_secs(20));
    tmux.keys(&["Down", "Enter"]);
    tmux.wait_for("Ready v1.3", Duration::from_secs(30));
    tmux.keys(&["Down", "Down", "Down", "Down", "Enter"]);
    let asked = tmux.wait_for("The version to go to", Duration::from_secs(10));
    assert!(asked.contains("1.35.0"), "{asked}");
    tmux.keys(&["Enter"]);
    tmux.wait_for(
        "The directory of the 1.35.0 bundle",
        Duration::from_secs(10),
    );
    tmux.keys(&["C-u", bundle, "Enter"]);
    let preview = tmux.wait_for("dry run: ON", Duration::from_secs(60));
    assert!(preview.contains("Plan ("), "{preview}");
    tmux.keys(&["d", "n"]);
    let question = tmux.wait_for("Run it?", Duration::from_secs(10));
    assert!(
        question.contains("upgrades from 1.34.2 to 1.35.0"),
        "{question}"
    );
    tmux.keys(&["y"]);
    tmux.wait_for("upgrade finished", Duration::from_secs(900));
    tmux.keys(&["n"]);
    tmux.wait_for("runs Kubernetes 1.35.0", Duration::from_secs(10));
    tmux.keys(&["q"]);
    let (code, after) = tmux.wait_for_exit(Duration::from_secs(10));
    assert_eq!(code, 0, "{after}");
    cluster::verify_audit_logs(state);
}

#[test]
fn stacked_ha_is_upgraded_one_minor_while_the_api_answers() {
    upgraded(Topology::StackedHa);
}

#[test]
fn external_etcd_is_upgraded_one_minor_while_the_api_answers() {
    upgraded(Topology::ExternalEtcd);
}
