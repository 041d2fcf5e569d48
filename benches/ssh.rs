//! Remote execution on 30 lab hosts: connect, 20 small commands and 5 uploads per host,
//! with kubewiz's SSH transport (one multiplexed connection per host, every host at
//! once) beside parallel-ssh/parallel-scp and an Ansible playbook doing the same work,
//! measured in turns in the same run. Needs root (lab hosts). Run with
//! `cargo bench --bench ssh`; prints a Markdown section with medians and ratios.
//!
//! Every tool gets the same client options: the lab's key and known_hosts, strict host
//! key checking, and the key exchange the lab recommends (`lab::FAST_KEX`). Ansible
//! keeps its own defaults besides (ControlMaster/ControlPersist, compression) and has
//! pipelining on. Each run writes into fresh directories, so no tool finds its files
//! already in place, and the order of the tools rotates from run to run.
//!
//! Ansible is taken from `KUBEWIZ_BENCH_ANSIBLE` (the directory holding
//! `ansible-playbook`, default /opt/kubewiz-bench/ansible/bin, where
//! scripts/bench/run.sh installs ansible-core from PyPI); without it those rows are
//! left out and the section says so.

#[path = "../tests/lab/mod.rs"]
mod lab;

mod common;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{Case, ratio, secs, shell_line};
use kubewiz::exec::Transport;
use kubewiz::exec::ssh::Ssh;
use tokio::sync::mpsc;

const HOSTS: usize = 30;
const COMMANDS: usize = 20;
const UPLOADS: usize = 5;
const PAYLOAD: usize = 16 * 1024;

/// The content of upload `n`: 16 KiB and its number, the same for every tool.
fn payload(n: usize) -> Vec<u8> {
    let mut content = vec![b'x'; PAYLOAD];
    content.extend(n.to_string().as_bytes());
    content
}

/// Every host at once: connect, then its commands and uploads one after the other,
/// as the runner does within a phase.
async fn kubewiz_round(lab: &lab::Lab, dir: &str) {
    let transport = Arc::new(Ssh::new(false).with_option(lab::FAST_KEX.0, lab::FAST_KEX.1));
    let ssh = lab.ssh_spec();
    let mut tasks = Vec::new();
    for i in 0..lab.hosts.len() {
        let transport = transport.clone();
        let host = lab.host_spec(i);
        let ssh = ssh.clone();
        let dir = dir.to_owned();
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
                session
                    .upload(&format!("{dir}/file{n}"), 0o644, &payload(n))
                    .await
                    .expect("upload");
            }
        }));
    }
    for task in tasks {
        task.await.expect("host task");
    }
}

/// parallel-ssh and parallel-scp as scripts use them: one invocation per command and
/// per upload, each reaching all hosts at once.
struct Pssh {
    hosts_file: PathBuf,
    payload_dir: PathBuf,
    /// Options for ssh and scp (`-x`).
    ssh_options: String,
}

impl Pssh {
    fn new(lab: &lab::Lab, work: &Path, extra: &str) -> Pssh {
        let hosts_file = work.join("pssh-hosts");
        let lines: Vec<String> = lab
            .hosts
            .iter()
            .map(|h| format!("root@{}:22", h.address))
            .collect();
        std::fs::write(&hosts_file, lines.join("\n") + "\n").unwrap();
        Pssh {
            hosts_file,
            payload_dir: work.join("payload"),
            ssh_options: format!(
                "-i {} -o UserKnownHostsFile={} -o StrictHostKeyChecking=yes -o {}={}{extra}",
                lab.key().display(),
                lab.known_hosts().display(),
                lab::FAST_KEX.0,
                lab::FAST_KEX.1
            ),
        }
    }

    fn argv(&self, program: &str, args: &[&str]) -> Vec<String> {
        let mut argv: Vec<String> = [
            program,
            "-h",
            self.hosts_file.to_str().unwrap(),
            "-p",
            &HOSTS.to_string(),
            "-t",
            "60",
            "-x",
            &self.ssh_options,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        argv.extend(args.iter().map(|s| s.to_string()));
        argv
    }

    /// The invocations of one round, writing into `dir`.
    fn invocations(&self, dir: &str) -> Vec<Vec<String>> {
        let mut all = vec![self.argv("parallel-ssh", &[&format!("mkdir -p {dir}")])];
        for n in 1..COMMANDS {
            all.push(self.argv("parallel-ssh", &[&format!("echo step {n} on $(hostname)")]));
        }
        for n in 0..UPLOADS {
            let file = self.payload_dir.join(format!("file{n}"));
            all.push(self.argv(
                "parallel-scp",
                &[file.to_str().unwrap(), &format!("{dir}/")],
            ));
        }
        all
    }

    fn round(&self, dir: &str) {
        for argv in self.invocations(dir) {
            let out = Command::new(&argv[0])
                .args(&argv[1..])
                .stdin(Stdio::null())
                .output()
                .expect("pssh is installed (apt-get install pssh)");
            assert!(
                out.status.success(),
                "{argv:?}: {}",
                String::from_utf8_lossy(&out.stdout)
            );
        }
    }
}

/// The same work as an Ansible playbook: 20 command/shell tasks and 5 copy tasks.
struct Ansible {
    playbook_bin: PathBuf,
    work: PathBuf,
    config: String,
}

impl Ansible {
    fn find() -> Option<PathBuf> {
        let dir = std::env::var_os("KUBEWIZ_BENCH_ANSIBLE").map_or_else(
            || PathBuf::from("/opt/kubewiz-bench/ansible/bin"),
            PathBuf::from,
        );
        let bin = dir.join("ansible-playbook");
        bin.is_file().then_some(bin)
    }

    fn new(lab: &lab::Lab, work: &Path, playbook_bin: PathBuf) -> Ansible {
        let mut inventory = String::from("[lab]\n");
        for h in &lab.hosts {
            writeln!(inventory, "{} ansible_host={}", h.name, h.address).unwrap();
        }
        inventory.push_str("\n[lab:vars]\nansible_user=root\n");
        std::fs::write(work.join("inventory.ini"), inventory).unwrap();

        // Ansible's own defaults for ssh_args (-C -o ControlMaster=auto -o
        // ControlPersist=60s), plus what every tool here gets.
        let config = format!(
            "[defaults]\n\
             host_key_checking = True\n\
             private_key_file = {key}\n\
             interpreter_python = /usr/bin/python3\n\
             local_tmp = {work}/ansible-local\n\
             retry_files_enabled = False\n\
             nocolor = True\n\
             \n\
             [ssh_connection]\n\
             pipelining = True\n\
             ssh_args = -C -o ControlMaster=auto -o ControlPersist=60s -o UserKnownHostsFile={known} -o StrictHostKeyChecking=yes -o {kex}={kex_value}\n",
            key = lab.key().display(),
            work = work.display(),
            known = lab.known_hosts().display(),
            kex = lab::FAST_KEX.0,
            kex_value = lab::FAST_KEX.1,
        );
        std::fs::write(work.join("ansible.cfg"), &config).unwrap();

        let mut playbook = String::from(
            "- hosts: lab\n  gather_facts: false\n  vars:\n    dir: /tmp/bench/ansible\n  tasks:\n    - name: step 0\n      ansible.builtin.command: mkdir -p {{ dir }}\n",
        );
        for n in 1..COMMANDS {
            write!(
                playbook,
                "    - name: step {n}\n      ansible.builtin.shell: echo step {n} on $(hostname)\n"
            )
            .unwrap();
        }
        for n in 0..UPLOADS {
            write!(
                playbook,
                "    - name: upload {n}\n      ansible.builtin.copy:\n        src: {}/file{n}\n        dest: \"{{{{ dir }}}}/file{n}\"\n        mode: \"0644\"\n",
                work.join("payload").display()
            )
            .unwrap();
        }
        std::fs::write(work.join("playbook.yml"), playbook).unwrap();
        Ansible {
            playbook_bin,
            work: work.to_owned(),
            config,
        }
    }

    fn version(&self) -> String {
        Command::new(&self.playbook_bin)
            .arg("--version")
            .output()
            .map(|o| {
                String::from_utf8_lossy(&o.stdout)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned()
            })
            .unwrap_or_default()
    }

    fn argv(&self, forks: usize, dir: &str) -> Vec<String> {
        vec![
            self.playbook_bin.display().to_string(),
            "-i".into(),
            self.work.join("inventory.ini").display().to_string(),
            "-f".into(),
            forks.to_string(),
            "-e".into(),
            format!("dir={dir}"),
            self.work.join("playbook.yml").display().to_string(),
        ]
    }

    /// One run of the playbook; `free` sets the free strategy (linear is the default).
    /// Each run has its own ControlPath directory, so no run reuses another's
    /// connections; the masters are closed afterwards, outside the timing.
    fn round(&self, forks: usize, free: bool, dir: &str, tag: &str, case: &mut Case) {
        let cp = self.work.join(format!("cp-{tag}"));
        std::fs::create_dir_all(&cp).unwrap();
        let argv = self.argv(forks, dir);
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .env("ANSIBLE_CONFIG", self.work.join("ansible.cfg"))
            .env("ANSIBLE_SSH_CONTROL_PATH_DIR", &cp)
            .env("ANSIBLE_HOME", self.work.join("ansible-home"))
            .current_dir(&self.work)
            .stdin(Stdio::null());
        if free {
            command.env("ANSIBLE_STRATEGY", "free");
        }
        let out = case.measure(|| command.output().expect("ansible-playbook runs"));
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "ansible-playbook failed:\n{}\n{}",
            stdout.lines().rev().take(40).collect::<Vec<_>>().join("\n"),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains(&format!("changed={}", COMMANDS + UPLOADS)),
            "every task changed something on every host:\n{stdout}"
        );
        for socket in std::fs::read_dir(&cp).unwrap().flatten() {
            let _ = Command::new("ssh")
                .arg("-o")
                .arg(format!("ControlPath={}", socket.path().display()))
                .args(["-O", "exit", "lab"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn main() {
    if !common::benchmarking() {
        return;
    }
    let runs = common::runs(3);
    let load_before = common::load();
    let Some(lab) = lab::Lab::start_or_skip(HOSTS) else {
        println!("## 1. Remote execution\n\nSkipped: lab hosts need root.\n");
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let payload_dir = work.path().join("payload");
    std::fs::create_dir_all(&payload_dir).unwrap();
    for n in 0..UPLOADS {
        std::fs::write(payload_dir.join(format!("file{n}")), payload(n)).unwrap();
    }
    let pssh = Pssh::new(&lab, work.path(), "");
    let persist_dir = work.path().join("pssh-cp");
    std::fs::create_dir_all(&persist_dir).unwrap();
    let pssh_persist = Pssh::new(
        &lab,
        work.path(),
        &format!(
            " -o ControlMaster=auto -o ControlPersist=60s -o ControlPath={}/%C",
            persist_dir.display()
        ),
    );
    let ansible = Ansible::find().map(|bin| Ansible::new(&lab, work.path(), bin));

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();

    #[derive(Clone, Copy, PartialEq)]
    enum Tool {
        Kubewiz,
        Pssh,
        PsshPersist,
        Ansible5,
        Ansible30,
        Ansible30Free,
    }
    let mut tools = vec![Tool::Kubewiz, Tool::Pssh, Tool::PsshPersist];
    if ansible.is_some() {
        tools.extend([Tool::Ansible5, Tool::Ansible30, Tool::Ansible30Free]);
    }
    let name = |t: Tool| match t {
        Tool::Kubewiz => "kubewiz SSH transport",
        Tool::Pssh => "parallel-ssh + parallel-scp",
        Tool::PsshPersist => "parallel-ssh + parallel-scp, ControlPersist",
        Tool::Ansible5 => "Ansible, default forks (5), linear",
        Tool::Ansible30 => "Ansible, forks=30, linear",
        Tool::Ansible30Free => "Ansible, forks=30, free",
    };
    let mut cases: Vec<Case> = tools.iter().map(|&t| Case::new(name(t))).collect();
    let mut cpu: Vec<Vec<(f64, f64)>> = vec![Vec::new(); tools.len()];
    for run in 0..runs {
        // Rotate the order, so no tool always runs first (or right after another).
        let mut order: Vec<usize> = (0..tools.len()).collect();
        order.rotate_left(run % tools.len());
        for i in order {
            let tool = tools[i];
            let dir = format!("/tmp/bench/run{run}/{}", i);
            common::progress(&format!("run {}/{runs}: {}", run + 1, name(tool)));
            let case = &mut cases[i];
            let cpu_before = common::CpuLook::now();
            match tool {
                Tool::Kubewiz => case.measure(|| runtime.block_on(kubewiz_round(&lab, &dir))),
                Tool::Pssh => case.measure(|| pssh.round(&dir)),
                Tool::PsshPersist => {
                    case.measure(|| pssh_persist.round(&dir));
                    // Close the masters outside the timing; the next run connects anew.
                    for socket in std::fs::read_dir(&persist_dir).unwrap().flatten() {
                        let _ = Command::new("ssh")
                            .arg("-o")
                            .arg(format!("ControlPath={}", socket.path().display()))
                            .args(["-O", "exit", "lab"])
                            .stdout(Stdio::null())
                            .stderr(Stdio::null())
                            .status();
                    }
                }
                Tool::Ansible5 | Tool::Ansible30 | Tool::Ansible30Free => {
                    let (forks, free) = match tool {
                        Tool::Ansible5 => (5, false),
                        Tool::Ansible30 => (30, false),
                        _ => (30, true),
                    };
                    ansible
                        .as_ref()
                        .unwrap()
                        .round(forks, free, &dir, &format!("{run}-{i}"), case);
                }
            }
            cpu[i].push(common::CpuLook::now().since(
                &cpu_before,
                case.samples.last().copied().unwrap_or_default(),
                case.others.last().copied().unwrap_or(0.0),
            ));
            // Every host has every file of this round.
            for h in 0..lab.hosts.len() {
                for n in 0..UPLOADS {
                    let got = lab.host_file(h, &format!("{dir}/file{n}"));
                    assert_eq!(
                        got.as_deref(),
                        Some(&payload(n)[..]),
                        "{}: {dir}/file{n} on {}",
                        name(tool),
                        lab.hosts[h].name
                    );
                }
            }
        }
    }
    let load_after = common::load();

    // The report.
    let ours = cases[0].median();
    let mut out = String::new();
    writeln!(
        out,
        "## 1. Remote execution: {HOSTS} lab hosts, connect + {COMMANDS} commands + {UPLOADS} uploads each\n"
    )
    .unwrap();
    writeln!(
        out,
        "Each tool connects to every host, runs {COMMANDS} small commands (`mkdir`/`echo step N on $(hostname)`) \
         and uploads {UPLOADS} files of 16 KiB into a directory that does not exist yet, on all {HOSTS} hosts. \
         {runs} runs; in each run every tool takes its turn (the order rotates from run to run). \
         Load average (1, 5, 15 min) before the lab started: {load_before}; after the last run: {load_after}.\n"
    )
    .unwrap();
    writeln!(
        out,
        "| tool | median | min | max | kubewiz is | CPU: controller + hosts (core-s, median) | 1-min load at start of runs | other programs' CPU |\n|---|---|---|---|---|---|---|---|"
    )
    .unwrap();
    for (case, cpu) in cases.iter().zip(&cpu) {
        let controller = common::median_f64(&cpu.iter().map(|c| c.0).collect::<Vec<_>>());
        let hosts = common::median_f64(&cpu.iter().map(|c| c.1).collect::<Vec<_>>());
        writeln!(
            out,
            "| {} | {} | {} | {} | {} | {controller:.1} + {hosts:.1} | {} | {} |",
            case.name,
            secs(case.median()),
            secs(case.min()),
            secs(case.max()),
            if case.name == cases[0].name {
                "—".to_string()
            } else {
                format!("{} as fast", ratio(case.median(), ours))
            },
            case.load_range(),
            case.others_range()
        )
        .unwrap();
    }
    writeln!(out).unwrap();
    writeln!(
        out,
        "CPU: core-seconds the machine spent during a run, split into the lab hosts' processes (sshd, the \
         shells, Ansible's Python modules on the hosts) and the rest, the controlling side (the tool itself, its \
         ssh clients and connection masters, the kernel's networking); the other programs' CPU measured is left \
         out, but short-lived processes of other programs that it misses count in the controlling side. The {HOSTS} \
         hosts share this machine's {} cores with the controller: work a tool puts on the hosts slows its \
         controller here, where on {HOSTS} real machines it would run elsewhere and in parallel. The controller's \
         CPU time divided by the cores is a floor for the wall time a tool could reach with hosts of their own.\n",
        std::thread::available_parallelism().map_or(1, |n| n.get())
    )
    .unwrap();
    writeln!(
        out,
        "What each tool starts on a host. A command: parallel-ssh's runs in the login shell (bash), and so \
         does kubewiz's when the login shell is a POSIX one (sh, dash, bash or ash, read from /etc/passwd over \
         SFTP once per host; any other login shell gets the command through one `sh -c`), after the line that \
         reports its process group for a timeout's kill. An upload: parallel-scp's goes over SFTP, which these \
         lab hosts' sshd serves in its own process (`Subsystem sftp internal-sftp`; Debian's default \
         sshd_config starts /usr/lib/openssh/sftp-server through the login shell instead), one SFTP channel \
         per file; kubewiz's go over one SFTP channel per host for the whole run: a temporary file made \
         exclusively, its mode set, its content written and its size checked, the reset record kept (the \
         directories made, a mark for a new file), and a rename into place, all served inside sshd.\n"
    )
    .unwrap();
    let find = |n: &str| cases.iter().find(|c| c.name == n).map(Case::median);
    let pssh_ratio = find(name(Tool::Pssh)).map(|t| t.as_secs_f64() / ours.as_secs_f64());
    if let Some(r) = pssh_ratio {
        writeln!(
            out,
            "- Target \"faster than parallel-ssh\": kubewiz {r:.1}× as fast — {}.",
            if r > 1.0 { "met" } else { "NOT met" }
        )
        .unwrap();
    }
    // The hosts' CPU: kubewiz's against parallel-ssh's with ControlPersist (both one
    // connection per host, so the rest is what each starts per command and upload).
    let hosts_cpu = |i: usize| common::median_f64(&cpu[i].iter().map(|c| c.1).collect::<Vec<_>>());
    if let Some(peer) = tools.iter().position(|&t| t == Tool::PsshPersist) {
        let (mine, theirs) = (hosts_cpu(0), hosts_cpu(peer));
        writeln!(
            out,
            "- Target \"the hosts' CPU at parallel-ssh's level or below\": kubewiz {mine:.2} core-s, parallel-ssh with ControlPersist {theirs:.2} ({:.2}×) — {}.",
            mine / theirs,
            if mine <= theirs * 1.05 { "met (within 5%)" } else { "NOT met" }
        )
        .unwrap();
    }
    if let Some(t) = find(name(Tool::Ansible30)) {
        let r = t.as_secs_f64() / ours.as_secs_f64();
        writeln!(
            out,
            "- Target \"at least 5× faster than Ansible with forks=30\": {r:.1}× — {}.",
            if r >= 5.0 { "met" } else { "NOT met" }
        )
        .unwrap();
    } else {
        writeln!(
            out,
            "- Ansible was not measured: no ansible-playbook in /opt/kubewiz-bench/ansible/bin \
             (scripts/bench/run.sh installs ansible-core there) or $KUBEWIZ_BENCH_ANSIBLE."
        )
        .unwrap();
    }
    writeln!(out).unwrap();

    writeln!(
        out,
        "Exactly what ran (`K` is the lab's subnet, `$LAB` its directory with the client key and known_hosts, \
         `$W` a temporary directory, `R/T` the run and the tool):\n"
    )
    .unwrap();
    writeln!(
        out,
        "- kubewiz: `kubewiz::exec::ssh::Ssh` with `{}={}`, the lab's key and known_hosts; all {HOSTS} hosts \
         at once, each on one multiplexed connection: `connect`, {COMMANDS}× `run(\"echo step N on $(hostname)\")`, \
         {UPLOADS}× `upload(\"/tmp/bench/R/T/fileN\", 0644, …)` (over SFTP into a temporary file, its size \
         checked, renamed into place). This is the transport `kubewiz apply` uses.",
        lab::FAST_KEX.0,
        lab::FAST_KEX.1
    )
    .unwrap();
    let lab_dir = lab.dir().display().to_string();
    let w = work.path().display().to_string();
    let anonymous = |text: &str| text.replace(&w, "$W").replace(&lab_dir, "$LAB");
    let sample = |argv: Vec<String>| anonymous(&shell_line(&argv));
    let invocations = pssh.invocations("/tmp/bench/R/T");
    writeln!(
        out,
        "- parallel-ssh ({} invocations one after the other, each on all hosts; `$W/pssh-hosts` lists `root@10.77.K.N:22`):\n\n  ```sh\n  {}\n  {}   # N = 1..{}\n  {}   # N = 0..{}\n  ```",
        invocations.len(),
        sample(invocations[0].clone()),
        sample(invocations[1].clone()).replace("step 1 ", "step N "),
        COMMANDS - 1,
        sample(invocations[COMMANDS].clone()).replace("file0", "fileN"),
        UPLOADS - 1
    )
    .unwrap();
    writeln!(
        out,
        "- parallel-ssh with ControlPersist: the same, with `-o ControlMaster=auto -o ControlPersist=60s -o ControlPath=$W/pssh-cp/%C` \
         added to `-x`, so the invocations after the first reuse one connection per host (not parallel-ssh's default; shown because Ansible does this by default)."
    )
    .unwrap();
    if let Some(a) = &ansible {
        writeln!(
            out,
            "- Ansible ({}), with `ANSIBLE_CONFIG=$W/ansible.cfg` and a fresh `ANSIBLE_SSH_CONTROL_PATH_DIR` per run:\n\n  ```sh\n  {}\n  {}\n  ANSIBLE_STRATEGY=free {}\n  ```\n\n  `$W/ansible.cfg`:\n\n  ```ini\n{}  ```\n\n  `$W/playbook.yml` (`$W/inventory.ini`: group `lab`, `lab-N ansible_host=10.77.K.N`, `ansible_user=root`):\n\n  ```yaml\n{}  ```",
            a.version(),
            sample(a.argv(5, "/tmp/bench/R/T")),
            sample(a.argv(30, "/tmp/bench/R/T")),
            sample(a.argv(30, "/tmp/bench/R/T")),
            anonymous(&a.config)
                .lines()
                .map(|l| format!("  {l}\n"))
                .collect::<String>(),
            anonymous(&abbreviated_playbook(
                &std::fs::read_to_string(work.path().join("playbook.yml")).unwrap()
            ))
            .lines()
                .map(|l| format!("  {l}\n"))
                .collect::<String>()
        )
        .unwrap();
    }
    drop(lab);
    println!("{out}");

    let mut line = format!(
        "Remote execution, {HOSTS} lab hosts × (connect, {COMMANDS} commands, {UPLOADS} uploads): kubewiz {}",
        secs(ours)
    );
    for (tool, label) in [
        (Tool::Pssh, "parallel-ssh"),
        (Tool::Ansible5, "Ansible default forks"),
        (Tool::Ansible30, "Ansible forks=30"),
        (Tool::Ansible30Free, "Ansible forks=30 free"),
    ] {
        if let Some(t) = find(name(tool)) {
            write!(line, "; {label} {} ({} kubewiz)", secs(t), ratio(t, ours)).unwrap();
        }
    }
    common::summary(&format!("{line}."));
}

/// The playbook with the middle echo tasks and the later copy tasks left out.
fn abbreviated_playbook(playbook: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in playbook.lines() {
        let task = line.trim_start().strip_prefix("- name: ");
        if let Some(t) = task {
            let keep = matches!(t, "step 0" | "step 1" | "upload 0")
                || t == format!("step {}", COMMANDS - 1);
            if !keep && !skipping {
                out.push_str("    # … the same for the steps and uploads in between\n");
            }
            skipping = !keep;
        }
        if !skipping {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}
