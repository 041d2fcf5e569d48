//! kubewiz's peak memory against the bundle's size: a whole install of the
//! external-etcd layout on lab hosts (as `benches/install.rs`), with the test bundle as
//! it is and with its etcd program made larger by zeros at its end (an ELF file runs
//! the same with bytes after its sections), so `bin/` holds the size asked for. The
//! etcd program goes to the three etcd hosts. Needs root (lab hosts). Run with
//! `cargo bench --bench bundle`; prints a Markdown section.
//!
//! `KUBEWIZ_BENCH_BUNDLE_CASES` picks the cases as `HOSTS:MIB` pairs (MIB 0: the bundle
//! as it is); by default `30:0,30:1024,60:1024`.

#[path = "../tests/lab/mod.rs"]
mod lab;

#[path = "../tests/lab/cluster.rs"]
mod cluster;

mod common;

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;

use cluster::Topology;
use common::{secs, shell_line};

const MIB: u64 = 1 << 20;

struct Case {
    hosts: usize,
    bin_bytes: u64,
    etcd_bytes: u64,
    peak_kib: u64,
    total: std::time::Duration,
    load_before: f64,
    others: f64,
}

/// Appends zeros to the bundle's etcd program until `bin/` holds `target` bytes
/// (written, not sparse, so every byte is read and sent).
fn grow_etcd(bundle: &Path, target: u64) {
    let bin = bundle.join("bin");
    let now = common::tree_size(&bin);
    let Some(mut missing) = target.checked_sub(now) else {
        panic!("bin/ already holds {now} bytes, more than {target}");
    };
    let mut etcd = std::fs::OpenOptions::new()
        .append(true)
        .open(bin.join("etcd"))
        .unwrap();
    let zeros = vec![0u8; MIB as usize];
    while missing > 0 {
        let n = missing.min(MIB) as usize;
        etcd.write_all(&zeros[..n]).unwrap();
        missing -= n as u64;
    }
    etcd.sync_all().unwrap();
}

fn install_once(hosts: usize, mib: u64, preset_out: &mut String) -> Option<Case> {
    let workers = hosts - Topology::ExternalEtcd.size(0);
    common::progress(&format!("starting {hosts} lab hosts"));
    let lab = cluster::start_lab(hosts)?;
    let work = tempfile::tempdir().unwrap();
    let bundle = cluster::bundle(work.path());
    if mib > 0 {
        grow_etcd(&bundle, mib * MIB);
    }
    let bin_bytes = common::tree_size(&bundle.join("bin"));
    let etcd_bytes = std::fs::metadata(bundle.join("bin/etcd")).unwrap().len();
    let preset = work.path().join("labext.toml");
    let text = cluster::preset(&lab, Topology::ExternalEtcd, workers, &bundle);
    std::fs::write(&preset, &text).unwrap();
    if preset_out.is_empty() {
        *preset_out = text
            .replace(&work.path().display().to_string(), "$W")
            .replace(&lab.dir().display().to_string(), "$LAB");
    }
    let state = work.path().join("state");
    common::progress(&format!(
        "installing on {hosts} hosts with a bundle of {} MiB",
        bin_bytes / MIB
    ));
    let probe = common::Probe::start();
    let ((out, took), peak_kib) = common::with_peak_memory(|| cluster::apply(&state, &preset));
    let (_, others) = probe.stop();
    assert!(
        out.status.success(),
        "the install failed on {hosts} hosts with a bundle of {bin_bytes} bytes:\n{}",
        cluster::text(&out)
    );
    Some(Case {
        hosts,
        bin_bytes,
        etcd_bytes,
        peak_kib,
        total: took,
        load_before: probe.load,
        others,
    })
}

fn main() {
    if !common::benchmarking() {
        return;
    }
    let cases: Vec<(usize, u64)> = std::env::var("KUBEWIZ_BENCH_BUNDLE_CASES")
        .unwrap_or_else(|_| "30:0,30:1024,60:1024".into())
        .split(',')
        .filter_map(|c| {
            let (h, m) = c.trim().split_once(':')?;
            Some((h.parse().ok()?, m.parse().ok()?))
        })
        .collect();
    let mut preset = String::new();
    let mut results = Vec::new();
    for &(hosts, mib) in &cases {
        match install_once(hosts, mib, &mut preset) {
            Some(c) => results.push(c),
            None => {
                println!(
                    "## 2b. Peak memory against the bundle's size\n\nSkipped: lab hosts need root.\n"
                );
                return;
            }
        }
    }
    let mut out = String::new();
    writeln!(out, "## 2b. Peak memory against the bundle's size\n").unwrap();
    writeln!(
        out,
        "`kubewiz apply --no-tui --yes` of the external-etcd layout on fresh lab hosts, as in section 2, with the \
         test bundle as it is and with its etcd program grown by zeros at its end until `bin/` holds the size in \
         the table. The prepare phase sends each program from disk to every host that runs it, a piece at a time \
         as the connection takes it (the etcd program: to the 3 etcd hosts); each program is hashed once per run. \
         Peak memory: the kubewiz process's VmHWM, read every 50 ms while it runs. One run per case.\n"
    )
    .unwrap();
    writeln!(
        out,
        "| hosts | bundle `bin/` | its etcd program | kubewiz's peak memory (VmHWM) | peak ÷ bundle | total (`kubewiz apply`) | 1-min load at start | other programs' CPU |"
    )
    .unwrap();
    writeln!(out, "|---|---|---|---|---|---|---|---|").unwrap();
    for c in &results {
        let peak_mib = c.peak_kib as f64 / 1024.0;
        let bin_mib = c.bin_bytes as f64 / MIB as f64;
        writeln!(
            out,
            "| {} | {:.0} MiB | {:.0} MiB | {:.1} MiB | {:.3} | {} | {:.2} | {} |",
            c.hosts,
            bin_mib,
            c.etcd_bytes as f64 / MIB as f64,
            peak_mib,
            peak_mib / bin_mib,
            secs(c.total),
            c.load_before,
            common::share_range(&[c.others])
        )
        .unwrap();
    }
    let smallest = results.iter().min_by_key(|c| (c.bin_bytes, c.hosts));
    let largest = results.iter().max_by_key(|c| (c.bin_bytes, c.hosts));
    if let (Some(s), Some(l)) = (smallest, largest)
        && l.bin_bytes > s.bin_bytes
    {
        writeln!(
            out,
            "\nFrom {:.0} MiB on {} hosts to {:.0} MiB on {} hosts ({:.1}× the bundle), kubewiz's peak memory went from {:.1} MiB to {:.1} MiB ({:.2}×).",
            s.bin_bytes as f64 / MIB as f64,
            s.hosts,
            l.bin_bytes as f64 / MIB as f64,
            l.hosts,
            l.bin_bytes as f64 / s.bin_bytes as f64,
            s.peak_kib as f64 / 1024.0,
            l.peak_kib as f64 / 1024.0,
            l.peak_kib as f64 / s.peak_kib.max(1) as f64
        )
        .unwrap();
        common::summary(&format!(
            "Peak memory of a whole install with a bundle of {:.0} MiB on {} lab hosts: {:.1} MiB ({:.1} MiB with {:.0} MiB on {} hosts).",
            l.bin_bytes as f64 / MIB as f64,
            l.hosts,
            l.peak_kib as f64 / 1024.0,
            s.peak_kib as f64 / 1024.0,
            s.bin_bytes as f64 / MIB as f64,
            s.hosts
        ));
    }
    writeln!(
        out,
        "\nCommand, per case (`$W` a temporary directory, `$LAB` the lab's directory):\n\n```sh\n{}\n```\n\n\
         The preset of the first case (`$W/labext.toml`; larger cases have more workers):\n\n```toml\n{}```\n",
        shell_line(&[
            "kubewiz",
            "--state-dir",
            "$W/state",
            "apply",
            "--preset",
            "$W/labext.toml",
            "--no-tui",
            "--yes"
        ]),
        preset
    )
    .unwrap();
    print!("{out}");
}
