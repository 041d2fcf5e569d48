//! `kubewiz reset` on lab hosts: after an install's etcd and load-balancer phases
//! (real etcd, haproxy and keepalived holding the VIP), a reset stops every service,
//! releases the VIP and leaves each host's files exactly as they were before the
//! install; a second reset changes nothing, and the install runs again afterwards.
//! After node preparation, a reset also puts back /etc/fstab's swap lines and the
//! hostname the install changed.

#[path = "lab/mod.rs"]
mod lab;

#[path = "lab/cluster.rs"]
mod cluster;

use std::collections::BTreeMap;
use std::fs;
use std::time::{Duration, Instant};

use cluster::Topology;

/// Every file of the host that an install could touch, with its content's digest
/// (/etc, /usr/local/bin and sbin, kubewiz's and the services' state), as `path digest` lines.
fn host_files(lab: &lab::Lab, i: usize) -> BTreeMap<String, String> {
    let out = lab.exec(
        i,
        "cd / && { find etc usr/local/bin usr/local/sbin -xdev \\( -type f -o -type l \\) -print0 | xargs -0 sha256sum; \
         find var/lib/kubewiz var/lib/etcd var/lib/kubelet etc/kubernetes etc/etcd -maxdepth 0 2>/dev/null | sed 's/$/ exists/'; }",
    );
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines()
        .filter_map(|line| {
            let (digest, path) = line
                .split_once("  ")
                .or_else(|| line.strip_suffix(" exists").map(|p| ("exists", p)))?;
            Some((path.to_owned(), digest.to_owned()))
        })
        .collect()
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

fn wait_for<T>(what: &str, timeout: Duration, mut probe: impl FnMut() -> Option<T>) -> T {
    let started = Instant::now();
    loop {
        if let Some(value) = probe() {
            return value;
        }
        assert!(started.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn reset_stops_the_services_and_puts_every_file_back() {
    let Some(setup) = cluster::Setup::start(Topology::ExternalEtcd) else {
        return;
    };
    let (lab, state, preset_arg) = (&setup.lab, &setup.state, setup.preset_arg());
    let balancers = [6, 7];

    let before: Vec<_> = (0..lab.hosts.len()).map(|i| host_files(lab, i)).collect();
    assert!(
        before[0].contains_key("etc/hostname"),
        "{:?}",
        before[0].keys().take(5)
    );

    let apply = [
        "apply",
        "--preset",
        preset_arg,
        "--phase",
        "etcd",
        "--phase",
        "load-balancer",
        "--no-tui",
        "--yes",
    ];
    let (out, took) = cluster::kubewiz(state, &apply);
    assert!(out.status.success(), "{}", cluster::text(&out));
    eprintln!("etcd and load balancers up in {took:?}");

    // keepalived holds the VIP on exactly one load balancer; stopping it moves the VIP.
    let holder = wait_for("one VIP holder", Duration::from_secs(20), || {
        let holders = vip_holders(lab, &balancers);
        (holders.len() == 1).then(|| holders[0])
    });
    let stop = lab.exec(holder, "systemctl stop keepalived");
    assert!(stop.status.success(), "{stop:?}");
    let other = wait_for("the VIP to move", Duration::from_secs(20), || {
        let holders = vip_holders(lab, &balancers);
        (holders.len() == 1 && holders[0] != holder).then(|| holders[0])
    });
    assert_ne!(other, holder);

    let reset = ["reset", "--preset", preset_arg, "--yes"];
    let (out, took) = cluster::kubewiz(state, &reset);
    assert!(out.status.success(), "{}", cluster::text(&out));
    eprintln!("reset in {took:?}");
    assert!(
        vip_holders(lab, &balancers).is_empty(),
        "the VIP outlived the reset"
    );
    for (i, before) in before.iter().enumerate() {
        let after = host_files(lab, i);
        let changed: Vec<String> = before
            .iter()
            .filter(|(p, d)| after.get(*p) != Some(*d))
            .map(|(p, _)| format!("changed or removed: {p}"))
            .chain(
                after
                    .keys()
                    .filter(|p| !before.contains_key(*p))
                    .map(|p| format!("left behind: {p}")),
            )
            .collect();
        assert!(changed.is_empty(), "{}: {changed:#?}", lab.hosts[i].name);
        let active = lab.exec(i, "systemctl is-active etcd haproxy keepalived");
        assert!(
            String::from_utf8_lossy(&active.stdout)
                .lines()
                .all(|l| l == "inactive"),
            "{}: {active:?}",
            lab.hosts[i].name
        );
    }
    let log = fs::read_dir(state.join("labext/logs"))
        .unwrap()
        .map(|e| fs::read_to_string(e.unwrap().path()).unwrap())
        .find(|t| t.contains("restore-files/"))
        .expect("an audit log of the reset");
    assert!(log.contains("systemctl disable --now etcd"), "{log}");

    // Nothing is left to do, and the install runs again on the reset hosts.
    let (out, _) = cluster::kubewiz(state, &reset);
    assert!(out.status.success(), "{}", cluster::text(&out));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("kubewiz wrote no file here"), "{stdout}");
    let (out, _) = cluster::kubewiz(state, &apply);
    assert!(out.status.success(), "{}", cluster::text(&out));
    wait_for("a VIP holder again", Duration::from_secs(20), || {
        (vip_holders(lab, &balancers).len() == 1).then_some(())
    });
}

#[test]
fn reset_puts_back_fstab_and_the_hostname() {
    let Some(setup) = cluster::Setup::start(Topology::SingleNode) else {
        return;
    };
    let (lab, state, preset_arg) = (&setup.lab, &setup.state, setup.preset_arg());
    // The name the install gives the host: the preset's.
    let spec: toml::Value = toml::from_str(&setup.text).unwrap();
    let name = spec["hosts"][0]["name"].as_str().unwrap().to_owned();

    // A host as an operator's VM may come: a swap line in /etc/fstab and another
    // hostname. hostnamectl goes (in this host's root only), so the hostname is set the
    // way hosts without systemd-hostnamed set it, inside this host alone.
    let setup = lab.exec(
        0,
        "rm -f /usr/bin/hostnamectl && echo old-name > /etc/hostname && hostname old-name && \
         printf '/swap.img none swap sw 0 0\\n' >> /etc/fstab",
    );
    assert!(setup.status.success(), "{setup:?}");
    let fstab_before = lab.exec(0, "cat /etc/fstab").stdout;
    let before = host_files(lab, 0);

    let apply = [
        "apply", "--preset", preset_arg, "--phase", "prepare", "--no-tui", "--yes",
    ];
    let (out, _) = cluster::kubewiz(state, &apply);
    assert!(out.status.success(), "{}", cluster::text(&out));
    let fstab = String::from_utf8_lossy(&lab.exec(0, "cat /etc/fstab").stdout).into_owned();
    assert!(fstab.contains("#/swap.img none swap"), "{fstab}");
    let hostname = lab.exec(0, "hostname; cat /etc/hostname");
    assert_eq!(
        String::from_utf8_lossy(&hostname.stdout),
        format!("{name}\n{name}\n")
    );

    let (out, _) = cluster::kubewiz(state, &["reset", "--preset", preset_arg, "--yes"]);
    assert!(out.status.success(), "{}", cluster::text(&out));
    assert_eq!(
        String::from_utf8_lossy(&lab.exec(0, "cat /etc/fstab").stdout),
        String::from_utf8_lossy(&fstab_before)
    );
    let hostname = lab.exec(0, "hostname; cat /etc/hostname");
    assert_eq!(
        String::from_utf8_lossy(&hostname.stdout),
        "old-name\nold-name\n"
    );
    let after = host_files(lab, 0);
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|p| before.get(*p) != after.get(*p))
        .collect();
    assert!(
        changed.is_empty(),
        "changed by install and reset: {changed:#?}"
    );
}
