//! The import of an image set into the real containerd (Debian's) on 8 lab hosts, as
//! the prepare phase of an install from a bundle with `images/` does it: each archive
//! sent with kubewiz's SSH transport (streamed from disk, checked on the host) and
//! imported with `ctr -n k8s.io images import`, on every host at once, against the same
//! sends and imports one host after another. Needs root (lab hosts). Run with
//! `cargo bench --bench images`; prints a Markdown section.
//!
//! The image set is 200 MiB by default (`KUBEWIZ_BENCH_IMAGES_MIB`), in 4 archives of
//! one image each, whose layer is a file of random bytes (an OCI layout, uncompressed).
//! Before each run the hosts' images and archives are removed, so every run imports all
//! of it.

#[path = "../tests/lab/mod.rs"]
mod lab;

#[path = "../tests/lab/oci.rs"]
mod oci;

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::secs;
use kubewiz::exec::Transport;
use kubewiz::exec::ssh::Ssh;
use kubewiz::exec::transport::LocalFile;
use tokio::sync::mpsc;

const HOSTS: usize = 8;
const ARCHIVES: usize = 4;
const TARGET: &str = "/var/lib/kubewiz/images";

/// An OCI layout holding one image `reference` whose layer is `bytes` random bytes.
fn archive(path: &Path, reference: &str, bytes: usize, seed: u64) {
    // xorshift: random enough that nothing along the way compresses it.
    let mut x = seed | 1;
    let mut content = Vec::with_capacity(bytes);
    while content.len() < bytes {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        content.extend_from_slice(&x.to_le_bytes());
    }
    content.truncate(bytes);
    oci::oci_archive(path, &[reference.to_owned()], "data", &content, 0o644);
}

/// Starts the real containerd on every host and waits for its socket.
fn start_containerd(lab: &lab::Lab) {
    for i in 0..lab.hosts.len() {
        let out = lab.exec(
            i,
            "nohup /usr/bin/containerd >/var/log/containerd.log 2>&1 </dev/null & \
             for n in $(seq 100); do [ -S /run/containerd/containerd.sock ] && ctr version >/dev/null 2>&1 && exit 0; sleep 0.1; done; \
             cat /var/log/containerd.log >&2; exit 1",
        );
        assert!(out.status.success(), "containerd on host {i}: {out:?}");
    }
}

/// Removes every image and archive from every host, the content collected at once.
fn clean(lab: &lab::Lab) {
    for i in 0..lab.hosts.len() {
        let out = lab.exec(
            i,
            &format!(
                "set -e; images=$(ctr -n k8s.io images ls -q); [ -z \"$images\" ] || ctr -n k8s.io images rm --sync $images >/dev/null; rm -rf {TARGET}"
            ),
        );
        assert!(out.status.success(), "cleaning host {i}: {out:?}");
    }
}

/// One host's work: connect, then each archive sent and imported.
async fn one_host(
    transport: Arc<Ssh>,
    host: kubewiz::spec::HostSpec,
    ssh: kubewiz::spec::SshSpec,
    files: Arc<Vec<(String, LocalFile)>>,
) {
    let session = transport.connect(&host, &ssh).await.expect("connect");
    for (name, file) in files.iter() {
        let path = format!("{TARGET}/{name}");
        session
            .upload_file(&path, 0o644, file)
            .await
            .expect("upload");
        let (tx, mut rx) = mpsc::channel(16);
        let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
        let code = session
            .run(
                &format!("ctr -n k8s.io images import {path}"),
                Duration::from_secs(600),
                tx,
            )
            .await
            .expect("import");
        assert_eq!(code, 0, "the import of {name} on {}", host.name);
        let _ = drain.await;
    }
}

fn round(lab: &lab::Lab, files: &Arc<Vec<(String, LocalFile)>>, at_once: bool) -> Duration {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let transport = Arc::new(Ssh::new(false).with_option(lab::FAST_KEX.0, lab::FAST_KEX.1));
    let started = Instant::now();
    rt.block_on(async {
        let hosts: Vec<_> = (0..lab.hosts.len()).map(|i| lab.host_spec(i)).collect();
        if at_once {
            let tasks: Vec<_> = hosts
                .into_iter()
                .map(|h| {
                    tokio::spawn(one_host(
                        transport.clone(),
                        h,
                        lab.ssh_spec(),
                        files.clone(),
                    ))
                })
                .collect();
            for t in tasks {
                t.await.expect("host task");
            }
        } else {
            for h in hosts {
                one_host(transport.clone(), h, lab.ssh_spec(), files.clone()).await;
            }
        }
    });
    started.elapsed()
}

/// `containerd --version`'s version word, e.g. `1.6.20~ds1`.
fn containerd_version() -> String {
    let out = std::process::Command::new("containerd")
        .arg("--version")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    out.split_whitespace().nth(2).unwrap_or("?").to_owned()
}

fn main() {
    if !common::benchmarking() {
        return;
    }
    let mib: usize = std::env::var("KUBEWIZ_BENCH_IMAGES_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let runs = common::runs(3);
    common::progress(&format!("starting {HOSTS} lab hosts with containerd"));
    let Some(lab) = lab::Lab::start_or_skip(HOSTS) else {
        println!("## 2c. Image import\n\nSkipped: lab hosts need root.\n");
        return;
    };
    start_containerd(&lab);
    let work = tempfile::tempdir().unwrap();
    common::progress(&format!("writing {ARCHIVES} archives, {mib} MiB in all"));
    let mut files = Vec::new();
    for n in 0..ARCHIVES {
        let name = format!("image-{n}.tar");
        let path: PathBuf = work.path().join(&name);
        archive(
            &path,
            &format!("registry.lab.example/bench-{n}:v1"),
            mib * (1 << 20) / ARCHIVES,
            0x9e37_79b9_7f4a_7c15 ^ n as u64,
        );
        files.push((name, LocalFile::hash(path).unwrap()));
    }
    let total_bytes: u64 = files.iter().map(|(_, f)| f.len).sum();
    let files = Arc::new(files);
    let mut cases = [
        common::Case::new("every host at once"),
        common::Case::new("one host after another"),
    ];
    for run in 0..runs {
        // The order alternates, so neither always runs on a machine the other warmed.
        let order: [usize; 2] = if run % 2 == 0 { [0, 1] } else { [1, 0] };
        for c in order {
            clean(&lab);
            common::progress(&format!("run {}/{runs}: {}", run + 1, cases[c].name));
            let probe = common::Probe::start();
            round(&lab, &files, c == 0);
            cases[c].record(probe);
        }
    }
    for i in 0..HOSTS {
        let listed = lab.exec(i, "ctr -n k8s.io images ls -q | grep -c bench-");
        assert_eq!(
            String::from_utf8_lossy(&listed.stdout).trim(),
            ARCHIVES.to_string(),
            "host {i} has every image after the last run"
        );
    }
    let mut out = String::new();
    writeln!(
        out,
        "## 2c. Image import: {:.0} MiB of images on {HOSTS} lab hosts, at once and one after another\n",
        total_bytes as f64 / 1048576.0
    )
    .unwrap();
    writeln!(
        out,
        "| how | median | min | max | 1-min load at start of runs | other programs' CPU |\n|---|---|---|---|---|---|"
    )
    .unwrap();
    for c in &cases {
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} |",
            c.name,
            secs(c.median()),
            secs(c.min()),
            secs(c.max()),
            c.load_range(),
            c.others_range()
        )
        .unwrap();
    }
    let ratio = cases[1].median().as_secs_f64() / cases[0].median().as_secs_f64();
    writeln!(
        out,
        "\nEvery host at once is {ratio:.2}× as fast as one host after another ({runs} runs each, medians). \
         Each host gets {ARCHIVES} archives ({:.0} MiB) through kubewiz's SSH transport (`upload_file`: read from \
         disk as it is sent, the SHA-256 checked on the host before the rename) and imports each with \
         `ctr -n k8s.io images import` into the real containerd {} running on the host; before each run every \
         host's images are removed (`ctr images rm --sync`) with the archives. The lab hosts share this machine's \
         cores with each other and with kubewiz, and the encryption of 8 streams, the hosts' SHA-256 checks and \
         containerd's unpacking all run on them: hosts of their own would each bring their own CPU.\n",
        total_bytes as f64 / 1048576.0,
        containerd_version()
    )
    .unwrap();
    print!("{out}");
    common::summary(&format!(
        "Image import, {:.0} MiB on {HOSTS} hosts: at once {} vs one after another {} ({ratio:.2}×)",
        total_bytes as f64 / 1048576.0,
        secs(cases[0].median()),
        secs(cases[1].median())
    ));
}
