//! A whole install of the external-etcd layout on lab hosts, as the end-to-end tests
//! run it (tests/lab/cluster.rs: the bundle of stand-ins for kubeadm, kubelet, the API
//! server and containerd, the real etcd, etcdctl and kubectl, haproxy and keepalived
//! from Debian), at 8, 30 and 60 hosts: wall time per phase and in total, read from
//! kubewiz's own audit log. Needs root (lab hosts). Run with
//! `cargo bench --bench install`; prints a Markdown section.
//!
//! `KUBEWIZ_BENCH_INSTALL_SIZES` (e.g. `8,30`) picks the sizes; the smallest is run
//! `KUBEWIZ_BENCH_RUNS` times (3), the others once each (a 60-host lab takes a while to
//! build and every run needs fresh hosts).

#[path = "../tests/lab/mod.rs"]
mod lab;

#[path = "../tests/lab/cluster.rs"]
mod cluster;

mod common;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;
use std::time::Duration;

use cluster::Topology;
use common::{secs, shell_line};
use serde_json::Value;

/// One install: its total wall time (the whole `kubewiz apply`, from outside) and,
/// from the audit log, each phase's wall time and the time its steps took on all hosts
/// together.
#[derive(Debug, Default, Clone)]
struct Install {
    total: Duration,
    /// From the audit log's first to its last event.
    logged: Duration,
    phases: Vec<PhaseTime>,
    load_before: f64,
    load_after: f64,
    /// The share of the machine's CPU that other programs used during the install.
    others: f64,
    /// Core-seconds: (this machine as the controller, the lab hosts).
    cpu: (f64, f64),
    /// Core-seconds of the kubewiz process itself (part of the controller's).
    kubewiz_cpu: f64,
    /// The kubewiz process's peak resident memory (VmHWM), in KiB, as last seen.
    kubewiz_peak_kib: u64,
    /// From `kubewiz audit show --timing`'s reading of the log (`audit::timing`): the
    /// phases' wall time, the part of it no step on a phase's critical path covered
    /// (kubewiz's scheduling, connections, barriers), and kubewiz's own CPU time as
    /// the log's closing record has it, per host and phase.
    phases_wall_ms: u64,
    gap_ms: u64,
    cpu_ms_per_host_phase: f64,
}

#[derive(Debug, Default, Clone)]
struct PhaseTime {
    name: String,
    hosts: usize,
    wall: Duration,
    /// The sum of the phase's step durations over all its hosts.
    step_time: Duration,
}

/// Seconds since the epoch of an RFC 3339 UTC time as the audit log writes it
/// (`2026-01-01T05:12:37.123456789Z`).
fn epoch_seconds(at: &str) -> f64 {
    let (date, time) = at.trim_end_matches('Z').split_once('T').expect("RFC 3339");
    let d: Vec<i64> = date.split('-').map(|p| p.parse().unwrap()).collect();
    let (y, m, day) = (d[0], d[1], d[2]);
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let mut parts = time.split(':');
    let h: f64 = parts.next().unwrap().parse().unwrap();
    let min: f64 = parts.next().unwrap().parse().unwrap();
    let s: f64 = parts.next().unwrap().parse().unwrap();
    days as f64 * 86_400.0 + h * 3600.0 + min * 60.0 + s
}

/// Phase wall times from the audit log (`logs/*.jsonl`) of the only run in `state`.
fn read_audit(state: &Path, cluster: &str, install: &mut Install) {
    let logs = state.join(cluster).join("logs");
    let jsonl = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .expect("an audit log");
    let events: Vec<Value> = std::fs::read_to_string(&jsonl)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let records = kubewiz::audit::read_log(&jsonl).expect("the audit log reads");
    let timing = kubewiz::audit::timing::timing(&records).expect("the run's timing");
    install.phases_wall_ms = timing.phases.iter().map(|p| p.wall_ms).sum();
    install.gap_ms = timing.phases.iter().map(|p| p.gap_ms()).sum();
    let cpu = timing
        .cpu
        .expect("the closing record has kubewiz's CPU time");
    install.cpu_ms_per_host_phase =
        cpu.own_ms as f64 / (timing.hosts.max(1) * timing.phases.len().max(1)) as f64;
    let at = |e: &Value| epoch_seconds(e["at"].as_str().unwrap());
    let first = events.first().map(at).unwrap_or(0.0);
    let last = events.last().map(at).unwrap_or(0.0);
    install.logged = Duration::from_secs_f64((last - first).max(0.0));
    let mut started: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    let mut step_ms: BTreeMap<String, u64> = BTreeMap::new();
    let mut current = String::new();
    for e in &events {
        match e["event"].as_str().unwrap_or_default() {
            "phase_started" => {
                current = e["phase"].as_str().unwrap().to_owned();
                let hosts = e["hosts"].as_array().map_or(0, Vec::len);
                started.insert(current.clone(), (at(e), hosts));
            }
            "step_finished" => {
                *step_ms.entry(current.clone()).or_default() +=
                    e["duration_ms"].as_u64().unwrap_or(0);
            }
            "phase_finished" => {
                let name = e["phase"].as_str().unwrap().to_owned();
                let (t0, hosts) = started[&name];
                install.phases.push(PhaseTime {
                    wall: Duration::from_secs_f64(at(e) - t0),
                    step_time: Duration::from_millis(step_ms.get(&name).copied().unwrap_or(0)),
                    name,
                    hosts,
                });
            }
            _ => {}
        }
    }
}

/// CPU ticks of this process's children that it waited for (kubewiz, here).
fn children_ticks() -> u64 {
    common::processes()
        .get(&std::process::id())
        .map_or(0, |p| p.children_ticks)
}

fn install_once(hosts: usize, preset_out: &mut String, bundle_bytes: &mut u64) -> Option<Install> {
    let workers = hosts - Topology::ExternalEtcd.size(0);
    common::progress(&format!("starting {hosts} lab hosts"));
    let lab = cluster::start_lab(hosts)?;
    let work = tempfile::tempdir().unwrap();
    let bundle = cluster::bundle(work.path());
    *bundle_bytes = common::tree_size(&bundle);
    let preset = work.path().join("labext.toml");
    let text = cluster::preset(&lab, Topology::ExternalEtcd, workers, &bundle);
    std::fs::write(&preset, &text).unwrap();
    if preset_out.is_empty() {
        *preset_out = text
            .replace(&work.path().display().to_string(), "$W")
            .replace(&lab.dir().display().to_string(), "$LAB");
    }
    let state = work.path().join("state");
    common::progress(&format!("installing on {hosts} hosts"));
    let cpu_before = common::CpuLook::now();
    let children_before = children_ticks();
    let probe = common::Probe::start();
    let ((out, took), kubewiz_peak_kib) =
        common::with_peak_memory(|| cluster::apply(&state, &preset));
    let (wall, others) = probe.stop();
    let mut install = Install {
        kubewiz_peak_kib,
        load_before: probe.load,
        load_after: common::load1(),
        others,
        cpu: common::CpuLook::now().since(&cpu_before, wall, others),
        kubewiz_cpu: (children_ticks() - children_before) as f64 / 100.0,
        ..Install::default()
    };
    assert!(
        out.status.success(),
        "the install failed on {hosts} hosts:\n{}",
        cluster::text(&out)
    );
    install.total = took;
    read_audit(&state, "labext", &mut install);
    Some(install)
}

fn main() {
    if !common::benchmarking() {
        return;
    }
    let sizes: Vec<usize> = std::env::var("KUBEWIZ_BENCH_INSTALL_SIZES")
        .ok()
        .map(|v| v.split(',').filter_map(|s| s.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![8, 30, 60]);
    let runs = common::runs(3);
    let load_before = common::load();
    let mut preset = String::new();
    let mut bundle_bytes = 0;
    let mut results: Vec<(usize, Vec<Install>)> = Vec::new();
    for (i, &n) in sizes.iter().enumerate() {
        let mut installs = Vec::new();
        for _ in 0..if i == 0 { runs } else { 1 } {
            match install_once(n, &mut preset, &mut bundle_bytes) {
                Some(r) => installs.push(r),
                None => {
                    println!("## 2. A whole install\n\nSkipped: lab hosts need root.\n");
                    return;
                }
            }
        }
        results.push((n, installs));
    }
    let load_after = common::load();

    let mut out = String::new();
    writeln!(
        out,
        "## 2. A whole install: external etcd on {} lab hosts\n",
        sizes
            .iter()
            .map(|n| n.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    )
    .unwrap();
    writeln!(
        out,
        "`kubewiz apply --no-tui --yes` of the external-etcd layout (3 etcd hosts, 2 control planes, 2 haproxy/keepalived \
         load balancers, the rest workers) on fresh lab hosts, with the bundle the end-to-end tests use \
         (tests/lab/cluster.rs): stand-ins for kubeadm, kubelet, the API server and containerd (tests/standins), \
         the real etcd 3.5 and etcdctl (Debian's packages), haproxy and keepalived from Debian, and the real kubectl; no CNI. Every host is an sshd in its \
         own namespaces on this one machine, so all hosts share its {} cores: what grows with the host count is \
         this machine's CPU, not the network. Total: the whole `kubewiz apply` timed from outside; phases: \
         from kubewiz's own audit log (`phase_started` to `phase_finished`). \
         The {}-host install is run {} time(s) (median), the others once each. Load average (1, 5, 15 min) before: \
         {load_before}; after: {load_after}.\n",
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        results.first().map_or(0, |r| r.0),
        results.first().map_or(0, |r| r.1.len()),
    )
    .unwrap();

    // Phases in the order they ran.
    let phase_names: Vec<String> = results
        .iter()
        .flat_map(|(_, rs)| {
            rs.iter()
                .flat_map(|r| r.phases.iter().map(|p| p.name.clone()))
        })
        .fold(Vec::new(), |mut acc, p| {
            if !acc.contains(&p) {
                acc.push(p);
            }
            acc
        });
    let median_of = |rs: &[Install], f: &dyn Fn(&Install) -> Option<Duration>| {
        let v: Vec<Duration> = rs.iter().filter_map(f).collect();
        (!v.is_empty()).then(|| common::median(&v))
    };
    write!(out, "| phase |").unwrap();
    for (n, _) in &results {
        write!(out, " {n} hosts |").unwrap();
    }
    writeln!(out).unwrap();
    writeln!(out, "|---|{}", "---|".repeat(results.len())).unwrap();
    for name in &phase_names {
        write!(out, "| {name} |").unwrap();
        for (_, rs) in &results {
            let wall = median_of(rs, &|r| {
                r.phases.iter().find(|p| &p.name == name).map(|p| p.wall)
            });
            let hosts = rs
                .first()
                .and_then(|r| r.phases.iter().find(|p| &p.name == name))
                .map_or(0, |p| p.hosts);
            let busy = median_of(rs, &|r| {
                r.phases
                    .iter()
                    .find(|p| &p.name == name)
                    .map(|p| p.step_time)
            });
            let hosts = if hosts == 1 {
                "1 host".to_owned()
            } else {
                format!("{hosts} hosts")
            };
            match (wall, busy) {
                (Some(w), Some(b)) if w > Duration::ZERO && b > Duration::ZERO => write!(
                    out,
                    " {} ({hosts}, {:.1} at once) |",
                    secs(w),
                    b.as_secs_f64() / w.as_secs_f64()
                )
                .unwrap(),
                (Some(w), _) => write!(out, " {} ({hosts}) |", secs(w)).unwrap(),
                _ => write!(out, " — |").unwrap(),
            }
        }
        writeln!(out).unwrap();
    }
    write!(
        out,
        "| outside the phases (start, PKI, files, plan, summary) |"
    )
    .unwrap();
    for (_, rs) in &results {
        let outside = median_of(rs, &|r| {
            let phases: Duration = r.phases.iter().map(|p| p.wall).sum();
            Some(r.total.saturating_sub(phases))
        })
        .unwrap_or_default();
        write!(out, " {} |", secs(outside)).unwrap();
    }
    writeln!(out).unwrap();
    write!(out, "| **total (`kubewiz apply`)** |").unwrap();
    for (_, rs) in &results {
        let total = median_of(rs, &|r| Some(r.total)).unwrap_or_default();
        write!(out, " **{}** |", secs(total)).unwrap();
    }
    writeln!(out).unwrap();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    let per_run = |out: &mut String, title: &str, sep: &str, cell: &dyn Fn(&Install) -> String| {
        write!(out, "| {title} |").unwrap();
        for (_, rs) in &results {
            let all: Vec<String> = rs.iter().map(cell).collect();
            write!(out, " {} |", all.join(sep)).unwrap();
        }
        writeln!(out).unwrap();
    };
    per_run(&mut out, "runs (total of each)", ", ", &|r| secs(r.total));
    per_run(
        &mut out,
        "1-min load before → after each run",
        "; ",
        &|r| format!("{:.2} → {:.2}", r.load_before, r.load_after),
    );
    per_run(
        &mut out,
        &format!(
            "CPU: kubewiz itself; the lab hosts (core-s); the machine busy (share of its {cores} cores)"
        ),
        "<br>",
        &|r| {
            format!(
                "{:.1}; {:.0}; {:.0}%",
                r.kubewiz_cpu,
                r.cpu.1,
                100.0 * ((r.cpu.0 + r.cpu.1) / (r.total.as_secs_f64() * cores) + r.others)
            )
        },
    );
    per_run(
        &mut out,
        "kubewiz's share of the phases' wall time (target under 3%)",
        "; ",
        &|r| {
            format!(
                "{:.1}% ({:.1} s of {:.1} s)",
                100.0 * r.gap_ms as f64 / r.phases_wall_ms.max(1) as f64,
                r.gap_ms as f64 / 1000.0,
                r.phases_wall_ms as f64 / 1000.0
            )
        },
    );
    per_run(
        &mut out,
        "kubewiz's CPU per host per phase (target under 20 ms)",
        "; ",
        &|r| format!("{:.1} ms", r.cpu_ms_per_host_phase),
    );
    per_run(
        &mut out,
        "kubewiz's peak memory (VmHWM) in each run",
        "; ",
        &|r| format!("{:.1} MiB", r.kubewiz_peak_kib as f64 / 1024.0),
    );
    per_run(
        &mut out,
        "other programs' CPU during each run",
        "; ",
        &|r| common::share_range(&[r.others]),
    );
    writeln!(out, "\n").unwrap();
    writeln!(
        out,
        "\"at once\": the time the phase's steps took on all its hosts together, divided by the phase's wall time — \
         how many hosts were busy at the same time on average (hosts of a phase run at once, up to 32; control \
         planes join one after the other). kubewiz's share: per phase, its wall time less the steps on its critical \
         path (the host whose steps took longest, or all hosts of a phase whose hosts take turns), summed over the \
         phases, as `kubewiz audit show NAME --timing` prints it; CPU per host per phase: the kubewiz process's own \
         user and system time from the audit log's closing record, divided by hosts × phases. CPU: core-seconds of the kubewiz process (from its rusage) and of \
         the lab hosts' processes, and how busy the whole machine was (/proc/stat; other programs' share is the \
         next row). Peak memory: the kubewiz process's VmHWM, read every 50 ms while it runs. The bundle's \
         `bin/` is {:.0} MiB; the prepare phase uploads to each node the programs its roles run (etcd and \
         etcdctl go to the etcd hosts only, kubectl to the control planes only), so the host count multiplies \
         that traffic, encrypted and decrypted for both ends on this machine's cores. The workers phase runs the kubeadm and \
         kubelet stand-ins (Python) on every worker, also on these cores. When the busy share is near 100%, the \
         install waits for this machine's CPU, not for hosts taking turns (\"at once\" shows how many ran \
         together); with hosts of their own, each host's part of that work would run on its own CPU.\n",
        bundle_bytes as f64 / 1048576.0
    )
    .unwrap();
    if let Some((n0, r0)) = results.first() {
        let base = median_of(r0, &|r| Some(r.total)).unwrap_or_default();
        for (n, rs) in results.iter().skip(1) {
            let t = median_of(rs, &|r| Some(r.total)).unwrap_or_default();
            writeln!(
                out,
                "- {n} hosts take {:.2}× the time of {n0} hosts ({:.1}× the hosts).",
                t.as_secs_f64() / base.as_secs_f64(),
                *n as f64 / *n0 as f64
            )
            .unwrap();
        }
    }
    writeln!(
        out,
        "\nCommand, per run (`$W` a temporary directory, `$LAB` the lab's directory):\n\n```sh\n{}\n```\n\n\
         The preset of the first size (`$W/labext.toml`; the other sizes have more workers):\n\n```toml\n{}```\n",
        shell_line(&[
            "kubewiz",
            "--state-dir",
            "$W/state",
            "apply",
            "--preset",
            "$W/labext.toml",
            "--no-tui",
            "--yes"
        ])
        .replace('\'', ""),
        preset
    )
    .unwrap();
    println!("{out}");
    let base = results
        .first()
        .and_then(|(_, rs)| median_of(rs, &|r| Some(r.total)))
        .unwrap_or_default();
    let totals: Vec<String> = results
        .iter()
        .map(|(n, rs)| {
            let t = median_of(rs, &|r| Some(r.total)).unwrap_or_default();
            format!(
                "{n} hosts {} ({:.2}×)",
                secs(t),
                t.as_secs_f64() / base.as_secs_f64()
            )
        })
        .collect();
    common::summary(&format!(
        "Whole install of the external-etcd layout on lab hosts (`kubewiz apply --no-tui --yes`, stand-ins): {}.",
        totals.join(", ")
    ));
}
