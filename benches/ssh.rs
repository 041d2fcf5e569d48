//! Remote execution on 30 lab hosts: connect, 20 small commands and 5 uploads per
//! host, with kubewiz's SSH transport (one multiplexed connection per host, every host
//! at once) beside parallel-ssh and parallel-scp doing the same, in the same run.
//! Needs root (lab hosts). Run with `cargo bench --bench ssh`; prints medians.

#[path = "../tests/lab/mod.rs"]
mod lab;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use kubewiz::exec::Transport;
use kubewiz::exec::ssh::Ssh;
use tokio::sync::mpsc;

const HOSTS: usize = 30;
const COMMANDS: usize = 20;
const UPLOADS: usize = 5;
const RUNS: usize = 3;

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// Every host at once: connect, then its commands and uploads one after the other,
/// as the runner does within a phase.
async fn kubewiz_round(lab: &lab::Lab, payload: &[u8]) -> Duration {
    let started = Instant::now();
    let transport = Arc::new(Ssh::new(false).with_option(lab::FAST_KEX.0, lab::FAST_KEX.1));
    let ssh = lab.ssh_spec();
    let mut tasks = Vec::new();
    for i in 0..lab.hosts.len() {
        let transport = transport.clone();
        let host = lab.host_spec(i);
        let ssh = ssh.clone();
        let payload = payload.to_vec();
        tasks.push(tokio::spawn(async move {
            let session = transport.connect(&host, &ssh).await.expect("connect");
            for n in 0..COMMANDS {
                let (tx, mut rx) = mpsc::channel(16);
                let drain = tokio::spawn(async move { while rx.recv().await.is_some() {} });
                let code = session
                    .run(
                        &format!("echo step {n} on $(hostname)"),
                        Duration::from_secs(30),
                        tx,
                    )
                    .await
                    .expect("run");
                assert_eq!(code, 0);
                let _ = drain.await;
            }
            for n in 0..UPLOADS {
                let mut content = payload.clone();
                content.extend(format!("{n}").as_bytes());
                session
                    .upload(&format!("/tmp/kubewiz-bench/file{n}"), 0o644, &content)
                    .await
                    .expect("upload");
            }
        }));
    }
    for task in tasks {
        task.await.expect("host task");
    }
    started.elapsed()
}

/// The same work with parallel-ssh: one invocation per command and per upload, each
/// reaching all hosts at once (that is how it is used in scripts).
fn pssh_round(lab: &lab::Lab, hosts_file: &Path, payload_dir: &Path) -> Duration {
    let started = Instant::now();
    let ssh_opts = [
        "-x",
        &format!(
            "-i {} -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o {}={}",
            lab.key().display(),
            lab.known_hosts().display(),
            lab::FAST_KEX.0,
            lab::FAST_KEX.1
        ),
    ];
    let run = |program: &str, args: &[&str]| {
        let out = Command::new(program)
            .args([
                "-h",
                hosts_file.to_str().unwrap(),
                "-p",
                &HOSTS.to_string(),
                "-t",
                "60",
            ])
            .args(ssh_opts)
            .args(args)
            .output()
            .expect("pssh is installed (apt-get install pssh)");
        assert!(
            out.status.success(),
            "{program} {args:?}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    };
    run("parallel-ssh", &["mkdir -p /tmp/pssh-bench"]);
    for n in 1..COMMANDS {
        run("parallel-ssh", &[&format!("echo step {n} on $(hostname)")]);
    }
    for n in 0..UPLOADS {
        let file = payload_dir.join(format!("file{n}"));
        run(
            "parallel-scp",
            &[file.to_str().unwrap(), "/tmp/pssh-bench/"],
        );
    }
    started.elapsed()
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let Some(lab) = lab::Lab::start_or_skip(HOSTS) else {
        return;
    };
    let payload = vec![b'x'; 16 * 1024];
    let work = tempfile::tempdir().unwrap();
    for n in 0..UPLOADS {
        std::fs::write(work.path().join(format!("file{n}")), &payload).unwrap();
    }
    let hosts_file = work.path().join("hosts");
    let lines: Vec<String> = lab
        .hosts
        .iter()
        .map(|h| format!("root@{}:22", h.address))
        .collect();
    std::fs::write(&hosts_file, lines.join("\n") + "\n").unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..RUNS {
        ours.push(runtime.block_on(kubewiz_round(&lab, &payload)));
        theirs.push(pssh_round(&lab, &hosts_file, work.path()));
    }
    let (ours, theirs) = (median(ours), median(theirs));
    println!(
        "| {HOSTS} hosts: connect, {COMMANDS} commands, {UPLOADS} uploads each | median of {RUNS} |"
    );
    println!("|---|---|");
    println!("| kubewiz SSH transport | {:.2} s |", ours.as_secs_f64());
    println!(
        "| parallel-ssh + parallel-scp | {:.2} s |",
        theirs.as_secs_f64()
    );
    println!(
        "kubewiz is {:.1}x as fast as parallel-ssh",
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
}
