//! Shared by the benchmarks: medians, the machine's load average next to every sample,
//! and the Markdown that scripts/bench/run.sh collects into BENCHMARKS.md.
//!
//! Every benchmark prints one Markdown section on standard output (and its progress on
//! standard error), so `cargo bench --bench NAME` alone shows the same figures.
#![allow(dead_code)]

use std::time::Duration;

/// How many times each case is measured: `KUBEWIZ_BENCH_RUNS`, else `default`.
pub fn runs(default: usize) -> usize {
    std::env::var("KUBEWIZ_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}

/// True when cargo runs this as a benchmark (`cargo test --benches` does not pass
/// `--bench`, and then nothing is measured).
pub fn benchmarking() -> bool {
    std::env::args().any(|a| a == "--bench")
}

/// The 1-, 5- and 15-minute load averages, as /proc/loadavg has them.
pub fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "?".into())
}

/// The 1-minute load average.
pub fn load1() -> f64 {
    load()
        .split_whitespace()
        .next()
        .and_then(|l| l.parse().ok())
        .unwrap_or(f64::NAN)
}

/// Progress on standard error, with the load average.
pub fn progress(what: &str) {
    eprintln!("bench: {what} (load {})", load());
}

/// One measured case: its samples and the 1-minute load average when each began.
#[derive(Debug, Clone, Default)]
pub struct Case {
    pub name: String,
    pub samples: Vec<Duration>,
    pub loads: Vec<f64>,
    /// The share of the machine's CPU that other programs used during each sample.
    pub others: Vec<f64>,
}

impl Case {
    pub fn new(name: impl Into<String>) -> Case {
        Case {
            name: name.into(),
            ..Case::default()
        }
    }

    /// Measures `f` once, noting the load average before it.
    pub fn measure<T>(&mut self, f: impl FnOnce() -> T) -> T {
        let probe = Probe::start();
        let out = f();
        self.record(probe);
        out
    }

    /// Ends a sample begun with [`Probe::start`]; returns its wall time.
    pub fn record(&mut self, probe: Probe) -> Duration {
        let (wall, others) = probe.stop();
        self.samples.push(wall);
        self.loads.push(probe.load);
        self.others.push(others);
        wall
    }

    /// "2%" or "2%–40%": the least and most CPU other programs took during a sample.
    pub fn others_range(&self) -> String {
        share_range(&self.others)
    }

    pub fn median(&self) -> Duration {
        median(&self.samples)
    }

    pub fn min(&self) -> Duration {
        self.samples.iter().copied().min().unwrap_or_default()
    }

    pub fn max(&self) -> Duration {
        self.samples.iter().copied().max().unwrap_or_default()
    }

    /// The 1-minute load average when the samples began, e.g. "0.40–2.10".
    pub fn load_range(&self) -> String {
        load_range(&self.loads)
    }
}

/// "0.40–2.10": the lowest and highest of some load averages.
pub fn load_range(loads: &[f64]) -> String {
    let lo = loads.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = loads.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if loads.is_empty() {
        "?".into()
    } else if (hi - lo).abs() < 0.005 {
        format!("{lo:.2}")
    } else {
        format!("{lo:.2}–{hi:.2}")
    }
}

/// "2%" or "2%–40%".
pub fn share_range(shares: &[f64]) -> String {
    let lo = shares.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = shares.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if shares.is_empty() {
        "?".into()
    } else if (hi - lo).abs() < 0.005 {
        format!("{:.0}%", lo * 100.0)
    } else {
        format!("{:.0}%–{:.0}%", lo * 100.0, hi * 100.0)
    }
}

/// One sample in progress: when it began, the load average then, and what every other
/// program on the machine had used of the CPU by then.
pub struct Probe {
    pub load: f64,
    started: std::time::Instant,
    others: std::collections::HashMap<(u32, u64), u64>,
}

impl Probe {
    pub fn start() -> Probe {
        let load = load1();
        let others = foreign_cpu();
        Probe {
            load,
            others,
            started: std::time::Instant::now(),
        }
    }

    /// The wall time since the start, and the share of the machine's CPU time (all
    /// cores) that programs outside this benchmark used meanwhile.
    pub fn stop(&self) -> (Duration, f64) {
        let wall = self.started.elapsed();
        let now = foreign_cpu();
        let ticks: u64 = now
            .iter()
            .map(|(id, &t)| t.saturating_sub(self.others.get(id).copied().unwrap_or(0)))
            .sum();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        // USER_HZ is 100 on Linux.
        let share = ticks as f64 / 100.0 / (wall.as_secs_f64() * cores).max(1e-9);
        (wall, share.min(1.0))
    }
}

/// One process, from /proc/PID/stat.
pub struct Proc {
    pub ppid: u32,
    pub comm: String,
    /// user + system ticks of the process itself.
    pub ticks: u64,
    /// user + system ticks of its children that it waited for.
    pub children_ticks: u64,
    /// When it started (ticks since boot): with the pid, it names the process.
    pub start: u64,
}

/// Every process on the machine.
pub fn processes() -> std::collections::HashMap<u32, Proc> {
    let mut procs = std::collections::HashMap::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return procs;
    };
    for entry in dir.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = stat[open + 1..close].to_owned();
        let f: Vec<&str> = stat[close + 2..].split(' ').collect();
        // After the name: state ppid ... utime (12th) stime cutime cstime ... starttime (20th).
        let num = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        procs.insert(
            pid,
            Proc {
                ppid: num(1) as u32,
                comm,
                ticks: num(11) + num(12),
                children_ticks: num(13) + num(14),
                start: num(19),
            },
        );
    }
    procs
}

/// True when `pid` is `root` or one of its descendants, or under a process for which
/// `stop` holds.
pub fn descends(
    procs: &std::collections::HashMap<u32, Proc>,
    mut pid: u32,
    root: u32,
    stop: impl Fn(&Proc) -> bool,
) -> bool {
    for _ in 0..64 {
        if pid == root || procs.get(&pid).is_some_and(&stop) {
            return true;
        }
        match procs.get(&pid) {
            Some(p) if p.ppid > 1 => pid = p.ppid,
            _ => return false,
        }
    }
    false
}

/// Busy CPU ticks of the whole machine (all cores) since boot, from /proc/stat.
pub fn machine_busy_ticks() -> u64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let cpu = stat.lines().next().unwrap_or_default();
    // user nice system idle iowait irq softirq steal
    let v: Vec<u64> = cpu
        .split_whitespace()
        .skip(1)
        .map(|x| x.parse().unwrap_or(0))
        .collect();
    let at = |i: usize| v.get(i).copied().unwrap_or(0);
    at(0) + at(1) + at(2) + at(5) + at(6) + at(7)
}

/// CPU ticks (user + system) of every process that is not this benchmark or started by
/// it, keyed by pid and start time. Left out besides: kernel threads, tmux and what
/// runs under it (the wizard that the wizard benchmark drives), and `ssh` clients (the
/// tools measured leave their connection masters running in the background, outside
/// this process tree). Processes that start and end between two looks are not seen,
/// so this is a lower bound: the long compilers of another build are what it is for.
pub fn foreign_cpu() -> std::collections::HashMap<(u32, u64), u64> {
    let procs = processes();
    let me = std::process::id();
    procs
        .iter()
        .filter(|&(&pid, p)| {
            pid != 2
                && p.ppid != 2
                && p.comm != "ssh"
                && !descends(&procs, pid, me, |p| p.comm.starts_with("tmux"))
        })
        .map(|(&pid, p)| ((pid, p.start), p.ticks))
        .collect()
}

/// The machine's busy CPU time and the lab hosts' share of it, at one moment.
pub struct CpuLook {
    busy: u64,
    hosts: u64,
}

impl CpuLook {
    pub fn now() -> CpuLook {
        // The lab hosts: this benchmark's descendants in other PID namespaces (each
        // host's processes, with the children they waited for: an sshd keeps the time
        // of its finished sessions).
        let procs = processes();
        let me = std::process::id();
        let ns = |pid: &str| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
        let mine = ns("self");
        let hosts = procs
            .iter()
            .filter(|&(&pid, _)| {
                pid != me && descends(&procs, pid, me, |_| false) && ns(&pid.to_string()) != mine
            })
            .map(|(_, p)| p.ticks + p.children_ticks)
            .sum();
        CpuLook {
            busy: machine_busy_ticks(),
            hosts,
        }
    }

    /// Core-seconds since `before`: (this machine as the controller, the lab hosts).
    /// The controller's share is what the machine did besides the hosts and other
    /// programs (which took `others` of the CPU over `wall`), kernel networking
    /// included.
    pub fn since(&self, before: &CpuLook, wall: Duration, others: f64) -> (f64, f64) {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        let others = others * wall.as_secs_f64() * cores;
        let busy = self.busy.saturating_sub(before.busy) as f64 / 100.0;
        let hosts = self.hosts.saturating_sub(before.hosts) as f64 / 100.0;
        ((busy - hosts - others).max(0.0), hosts)
    }
}

pub fn median(samples: &[Duration]) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    if s.is_empty() {
        return Duration::ZERO;
    }
    s[s.len() / 2]
}

pub fn median_f64(samples: &[f64]) -> f64 {
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    if s.is_empty() {
        return f64::NAN;
    }
    s[s.len() / 2]
}

/// Seconds with two decimals, e.g. "3.31 s".
pub fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

/// Milliseconds with one decimal, e.g. "12.5 ms"; from 1 s on, seconds ("2.18 s").
pub fn millis(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        secs(d)
    } else {
        format!("{:.1} ms", d.as_secs_f64() * 1000.0)
    }
}

/// How many times faster `ours` is than `theirs`, e.g. "6.0×".
pub fn ratio(theirs: Duration, ours: Duration) -> String {
    format!("{:.1}×", theirs.as_secs_f64() / ours.as_secs_f64())
}

/// A command line as a shell would need it typed: words with spaces or shell
/// characters in single quotes.
pub fn shell_line<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| {
            let w = w.as_ref();
            if !w.is_empty()
                && w.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "-_./=:,+@%".contains(c))
            {
                w.to_owned()
            } else {
                format!("'{}'", w.replace('\'', r"'\''"))
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// One host of a generated preset.
#[derive(Debug, Clone)]
pub struct GenHost {
    pub name: String,
    pub address: String,
    pub role: &'static str,
}

/// The external-etcd layout of the benchmarks: 3 etcd hosts, 2 control planes, 2
/// haproxy/keepalived load balancers and `n - 7` workers; `address(i)` gives host i's
/// address (i from 0).
pub fn external_etcd_hosts(n: usize, address: impl Fn(usize) -> String) -> Vec<GenHost> {
    assert!(n >= 8, "the layout needs 8 hosts or more");
    let mut hosts = Vec::new();
    let mut add = |name: String, role| {
        let i = hosts.len();
        hosts.push(GenHost {
            name,
            address: address(i),
            role,
        });
    };
    for i in 1..=3 {
        add(format!("etcd-{i}"), "etcd");
    }
    for i in 1..=2 {
        add(format!("kubemaster-{i}"), "control-plane");
    }
    for i in 1..=2 {
        add(format!("haproxy-{i}"), "load-balancer");
    }
    for i in 1..=n - 7 {
        add(format!("kubenode-{i}"), "worker");
    }
    hosts
}

/// A preset for `hosts` on 10.20.0.0/16 (VIP 10.20.0.10), for runs that contact no
/// host (render, plan, dry runs).
pub fn offline_preset(name: &str, hosts: &[GenHost]) -> String {
    let mut text = format!(
        "name = \"{name}\"\ntopology = \"external-etcd\"\n\n[network]\nhosts_cidr = \"10.20.0.0/16\"\n\n\
         [control_plane]\nendpoint = \"kubeapi.bench.example\"\nport = 6443\nvip = \"10.20.0.10\"\n\
         load_balancer = \"haproxy-keepalived\"\n"
    );
    for h in hosts {
        text += &format!(
            "\n[[hosts]]\nname = \"{}\"\naddress = \"{}\"\nroles = [\"{}\"]\n",
            h.name, h.address, h.role
        );
    }
    text
}

/// Host i's address in [`offline_preset`]: 10.20.1.1 upwards.
pub fn offline_address(i: usize) -> String {
    format!("10.20.{}.{}", 1 + i / 250, 1 + i % 250)
}

/// Adds a line to the summary at the top of BENCHMARKS.md (the file
/// `KUBEWIZ_BENCH_SUMMARY` names, which scripts/bench/run.sh sets), and prints it on
/// standard error.
pub fn summary(line: &str) {
    eprintln!("summary: {line}");
    if let Some(path) = std::env::var_os("KUBEWIZ_BENCH_SUMMARY") {
        use std::io::Write as _;
        let mut file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .expect("the summary file can be written");
        writeln!(file, "- {line}").expect("the summary file can be written");
    }
}

/// Watches the kubewiz process this one runs and keeps its peak resident memory
/// (VmHWM, which only grows) as last read, every 50 ms until `done` is set. The
/// machine's process list is read only until kubewiz is found.
fn watch_peak_memory(
    done: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<u64> {
    use std::sync::atomic::Ordering;
    std::thread::spawn(move || {
        let me = std::process::id();
        let mut kubewiz = None;
        let mut peak = 0;
        while !done.load(Ordering::Relaxed) {
            if kubewiz.is_none() {
                kubewiz = processes()
                    .into_iter()
                    .find(|(_, p)| p.ppid == me && p.comm == "kubewiz")
                    .map(|(pid, _)| pid);
            }
            if let Some(pid) = kubewiz {
                let status =
                    std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
                let hwm = status
                    .lines()
                    .find_map(|l| l.strip_prefix("VmHWM:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
                peak = peak.max(hwm.unwrap_or(0));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        peak
    })
}

/// Runs `f` (which starts kubewiz as a child of this process) and returns what it
/// returns with kubewiz's peak resident memory in KiB, read as [`watch_peak_memory`]
/// does.
pub fn with_peak_memory<T>(f: impl FnOnce() -> T) -> (T, u64) {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let watcher = watch_peak_memory(done.clone());
    let out = f();
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    (out, watcher.join().unwrap_or(0))
}

/// Bytes in a directory tree.
pub fn tree_size(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| match e.metadata() {
                    Ok(m) if m.is_dir() => tree_size(&e.path()),
                    Ok(m) => m.len(),
                    Err(_) => 0,
                })
                .sum()
        })
        .unwrap_or(0)
}
