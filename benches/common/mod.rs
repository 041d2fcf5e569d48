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
        self.loads.push(load1());
        let started = std::time::Instant::now();
        let out = f();
        self.samples.push(started.elapsed());
        out
    }

    /// Adds a sample measured elsewhere.
    pub fn push(&mut self, sample: Duration, load_before: f64) {
        self.samples.push(sample);
        self.loads.push(load_before);
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
