//! The wizard with 100 hosts: the cost of one frame of the execute screen while every
//! host streams output, and the peak memory of a 100-host dry run, through the CLI
//! (`kubewiz apply --dry-run --no-tui`) and through the wizard itself in a real
//! terminal (tmux). Run with `cargo bench --bench wizard`; prints a Markdown section.
//!
//! Frames are drawn by the wizard's own `App::draw` into ratatui's crossterm backend
//! writing to a sink that counts the bytes a terminal would receive, so a frame costs
//! what it costs on a console: layout, widgets, the diff against the previous frame
//! and the escape sequences. Before each frame the app folds a burst of 500 output
//! lines (5 per host), about the most the event loop takes for one redraw (512).

#[path = "../tests/tui_support.rs"]
mod support;

#[path = "../tests/tmux/mod.rs"]
mod tmux;

mod common;

use std::cell::Cell;
use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use common::{GenHost, millis};
use kubewiz::exec::{Event, Stamped, Stream};
use kubewiz::tui::app::App;
use kubewiz::tui::screens::execute::LOG_CAP;
use ratatui::backend::CrosstermBackend;
use ratatui::crossterm::event::KeyCode;
use ratatui::layout::Rect;
use ratatui::{Terminal, TerminalOptions, Viewport};

const HOSTS: usize = 100;
const LINES_PER_HOST_PER_FRAME: usize = 5;
const FRAMES: usize = 300;

/// A terminal that only counts what it is sent.
#[derive(Clone, Default)]
struct Sink(Rc<Cell<usize>>);

impl Write for Sink {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.set(self.0.get() + buf.len());
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

fn stamped(event: Event) -> Stamped {
    Stamped {
        at: "2026-01-01T00:00:00Z".into(),
        event,
    }
}

struct FrameRow {
    size: (u16, u16),
    zoom: bool,
    fold: Vec<Duration>,
    draw: Vec<Duration>,
    total: Vec<Duration>,
    bytes: Vec<usize>,
    load: String,
    others: f64,
}

/// The wizard on its execute screen for a 100-host preset, every host in the middle of
/// a package install with a full log, then `FRAMES` frames of streaming output.
/// With `zoom`, the selected host's pane fills the screen (the `z` key), so every frame
/// scrolls a screenful of output; otherwise the screen is the host table and the
/// selected host's pane, as the wizard opens it.
fn frames(hosts: &[GenHost], preset: &str, width: u16, height: u16, zoom: bool) -> FrameRow {
    let spec = kubewiz::spec::parse(preset).expect("the benchmark preset parses");
    let mut h = support::Harness::new(width, height);
    h.app = App::with_spec(h.dir.path().to_path_buf(), spec, "preset bench".into());
    h.app.resize(width, height);
    // Review → (generate) Preview → Execute, as the operator goes.
    for _ in 0..4 {
        if h.screen().lines().next().unwrap_or("").contains("Execute") {
            break;
        }
        h.press(KeyCode::Char('n'));
    }
    let top = h.screen();
    assert!(
        top.lines().next().unwrap_or("").contains("Execute"),
        "the wizard did not reach the execute screen:\n{top}"
    );
    let names: Vec<String> = hosts.iter().map(|g| g.name.clone()).collect();
    let mut events = vec![
        stamped(Event::RunStarted {
            run_id: "bench".into(),
            cluster: "bench".into(),
            dry_run: true,
            phases: [
                "connect",
                "preflight",
                "prepare",
                "pki",
                "etcd",
                "load-balancer",
                "first-control-plane",
                "control-planes",
                "workers",
                "cni",
                "verify",
                "kubeconfig",
            ]
            .iter()
            .map(|s| s.to_string())
            .collect(),
            hosts: hosts
                .iter()
                .map(|g| (g.name.clone(), vec![g.role.to_owned()]))
                .collect(),
            steps: 2400,
        }),
        stamped(Event::PhaseStarted {
            phase: "prepare".into(),
            title: "prepare hosts".into(),
            hosts: names.clone(),
            one_at_a_time: false,
            at_once: None,
        }),
    ];
    for name in &names {
        events.push(stamped(Event::StepStarted {
            phase: "prepare".into(),
            host: name.clone(),
            step: "prepare.packages".into(),
            title: "install packages".into(),
            command: Some("apt-get install -y kubelet kubeadm kubectl".into()),
        }));
    }
    let mut n = 0usize;
    let mut output = |count: usize| -> Vec<Stamped> {
        let mut batch = Vec::with_capacity(count * names.len());
        for _ in 0..count {
            n += 1;
            for name in &names {
                batch.push(stamped(Event::StepOutput {
                    host: name.clone(),
                    step: "prepare.packages".into(),
                    stream: Stream::Stdout,
                    line: apt_line(n),
                }));
            }
        }
        batch
    };
    // Every log full: the steady state of a long install.
    events.extend(output(LOG_CAP));
    h.app.engine_events(&events);
    if zoom {
        h.press(KeyCode::Char('z'));
    }

    let count = Sink::default();
    let mut term = Terminal::with_options(
        CrosstermBackend::new(count.clone()),
        TerminalOptions {
            viewport: Viewport::Fixed(Rect::new(0, 0, width, height)),
        },
    )
    .unwrap();
    term.draw(|f| h.app.draw(f)).unwrap(); // the first frame draws everything
    let probe = common::Probe::start();
    let mut row = FrameRow {
        size: (width, height),
        zoom,
        fold: Vec::new(),
        draw: Vec::new(),
        total: Vec::new(),
        bytes: Vec::new(),
        load: format!("{:.2}", probe.load),
        others: 0.0,
    };
    for _ in 0..FRAMES {
        let burst = output(LINES_PER_HOST_PER_FRAME);
        let t0 = Instant::now();
        assert!(h.app.engine_events(&burst));
        let t1 = Instant::now();
        let before = count.0.get();
        term.draw(|f| {
            h.app.draw(f);
            kubewiz::tui::theme::asciify(f.buffer_mut());
        })
        .unwrap();
        let t2 = Instant::now();
        row.fold.push(t1 - t0);
        row.draw.push(t2 - t1);
        row.total.push(t2 - t0);
        row.bytes.push(count.0.get() - before);
    }
    row.others = probe.stop().1;
    let shown = h.screen();
    assert!(
        shown.contains("Get:"),
        "the panes show the output:\n{shown}"
    );
    row
}

/// Output line `n` of a package install: different text from line to line, as apt's is.
fn apt_line(n: usize) -> String {
    let package = [
        "kubelet",
        "kubeadm",
        "kubectl",
        "cri-tools",
        "kubernetes-cni",
        "conntrack",
    ][n % 6];
    match n % 4 {
        0 => format!(
            "Get:{n} https://pkgs.k8s.io/core:/stable:/v1.34/deb  {package} 1.34.2-1.1 [{}.{} MB]",
            n % 40,
            n % 10
        ),
        1 => format!("Selecting previously unselected package {package}."),
        2 => format!("Preparing to unpack .../{n:02}-{package}_1.34.2-1.1_amd64.deb ..."),
        _ => format!("Unpacking {package} (1.34.2-1.1) ..."),
    }
}

fn percentile(samples: &[Duration], p: f64) -> Duration {
    let mut s = samples.to_vec();
    s.sort();
    s[((s.len() - 1) as f64 * p).round() as usize]
}

/// Peak RSS (KiB) and wall time of one command, from GNU time.
fn time_v(argv: &[String], stdout: &Path) -> (u64, Duration) {
    let report = tempfile::NamedTempFile::new().unwrap();
    let status = Command::new("/usr/bin/time")
        .args(["-f", "%M %e", "-o"])
        .arg(report.path())
        .args(argv)
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(stdout).unwrap())
        .stderr(Stdio::null())
        .status()
        .expect("GNU time is installed (apt-get install time)");
    assert!(status.success(), "{argv:?} failed");
    parse_time(&std::fs::read_to_string(report.path()).unwrap())
}

fn parse_time(report: &str) -> (u64, Duration) {
    let last = report.lines().last().unwrap_or_default();
    let mut words = last.split_whitespace();
    let kib = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
    let secs: f64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0.0);
    (kib, Duration::from_secs_f64(secs))
}

struct MemoryRow {
    case: String,
    hosts: usize,
    peak_kib: Vec<u64>,
    wall: Vec<Duration>,
    lines: usize,
    loads: Vec<f64>,
    others: Vec<f64>,
}

fn mib(kib: u64) -> String {
    format!("{:.1} MiB", kib as f64 / 1024.0)
}

fn median_u64(v: &[u64]) -> u64 {
    let mut s = v.to_vec();
    s.sort();
    s[s.len() / 2]
}

/// `kubewiz apply --dry-run --no-tui` under GNU time, `runs` times; with `fresh` every
/// run starts from an empty state directory (the PKI is made), otherwise the PKI made
/// by a first, unmeasured run is reused.
fn cli_dry_run(
    bin: &Path,
    preset: &Path,
    hosts: usize,
    fresh: bool,
    runs: usize,
    work: &Path,
) -> MemoryRow {
    let mut row = MemoryRow {
        case: format!(
            "`apply --dry-run --no-tui`, {}",
            if fresh { "PKI made" } else { "PKI present" }
        ),
        hosts,
        peak_kib: Vec::new(),
        wall: Vec::new(),
        lines: 0,
        loads: Vec::new(),
        others: Vec::new(),
    };
    let kept = tempfile::tempdir_in(work).unwrap();
    let argv = |state: &Path| -> Vec<String> {
        vec![
            bin.display().to_string(),
            "--state-dir".into(),
            state.display().to_string(),
            "apply".into(),
            "--preset".into(),
            preset.display().to_string(),
            "--dry-run".into(),
            "--no-tui".into(),
        ]
    };
    let out = work.join("dry-run.out");
    if !fresh {
        time_v(&argv(kept.path()), &out);
    }
    for _ in 0..runs {
        let state = tempfile::tempdir_in(work).unwrap();
        let state = if fresh { state.path() } else { kept.path() };
        let probe = common::Probe::start();
        let (kib, wall) = time_v(&argv(state), &out);
        row.loads.push(probe.load);
        row.others.push(probe.stop().1);
        row.peak_kib.push(kib);
        row.wall.push(wall);
    }
    row.lines = std::fs::read_to_string(&out).unwrap().lines().count();
    row
}

/// The wizard in a real terminal (tmux, 200x50) under GNU time: open the preset,
/// generate, dry-run install at the wizard's own pace to the end, quit.
fn wizard_dry_run(bin: &Path, preset: &Path, work: &Path) -> Option<(u64, Duration)> {
    if !tmux::tmux_available() {
        return None;
    }
    let state = tempfile::tempdir_in(work).unwrap();
    let report = work.join("wizard.time");
    let _ = std::fs::remove_file(&report);
    let t = tmux::Tmux::start("bench");
    t.run(&["resize-window", "-t", "kw", "-x", "200", "-y", "50"]);
    t.keys(&[
        &format!(
            "/usr/bin/time -f '%M %e' -o {} {} --state-dir {} --preset {}; echo EXIT=$?",
            report.display(),
            bin.display(),
            state.path().display(),
            preset.display()
        ),
        "Enter",
    ]);
    t.wait_for("6/9 Review", Duration::from_secs(30));
    t.keys(&["n"]);
    t.wait_for("7/9 Preview", Duration::from_secs(300));
    t.keys(&["n"]);
    t.wait_for("8/9 Execute", Duration::from_secs(30));
    let started = Instant::now();
    t.wait_for("install finished", Duration::from_secs(1200));
    let run = started.elapsed();
    t.keys(&["n"]);
    t.wait_for("9/9 Done", Duration::from_secs(30));
    t.keys(&["q"]);
    let after = t.wait_for("EXIT=", Duration::from_secs(30));
    assert!(after.contains("EXIT=0"), "{after}");
    let (kib, _) = parse_time(&std::fs::read_to_string(&report).ok()?);
    Some((kib, run))
}

fn main() {
    if !common::benchmarking() {
        return;
    }
    let runs = common::runs(3);
    let load_before = common::load();
    let hosts = common::external_etcd_hosts(HOSTS, common::offline_address);
    let preset100 = common::offline_preset("bench100", &hosts);
    let hosts200 = common::external_etcd_hosts(200, common::offline_address);
    let preset200 = common::offline_preset("bench200", &hosts200);

    // Frame time.
    let mut frame_rows = Vec::new();
    for zoom in [false, true] {
        for (w, h) in [(80, 24), (120, 40), (200, 60)] {
            common::progress(&format!("frames at {w}x{h}, zoom {zoom}"));
            frame_rows.push(frames(&hosts, &preset100, w, h, zoom));
        }
    }

    // Peak memory.
    let work = tempfile::tempdir().unwrap();
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_kubewiz"));
    let kvm_lab = Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/kvm-lab.toml");
    let p100 = work.path().join("bench100.toml");
    let p200 = work.path().join("bench200.toml");
    std::fs::write(&p100, &preset100).unwrap();
    std::fs::write(&p200, &preset200).unwrap();
    let mut memory = Vec::new();
    for (preset, n) in [(&kvm_lab, 13), (&p100, HOSTS), (&p200, 200)] {
        for fresh in [false, true] {
            common::progress(&format!("dry run, {n} hosts, fresh state {fresh}"));
            memory.push(cli_dry_run(&bin, preset, n, fresh, runs, work.path()));
        }
    }
    let mut wizard = Vec::new();
    for run in 0..runs {
        common::progress(&format!("the wizard, 100-host dry run {}/{runs}", run + 1));
        let probe = common::Probe::start();
        match wizard_dry_run(&bin, &p100, work.path()) {
            Some((kib, took)) => wizard.push((kib, took, probe.load, probe.stop().1)),
            None => break,
        }
    }
    let load_after = common::load();

    let mut out = String::new();
    writeln!(
        out,
        "## 4. The wizard: frame time and memory with {HOSTS} hosts\n"
    )
    .unwrap();
    writeln!(
        out,
        "Load average (1, 5, 15 min) before: {load_before}; after: {load_after}.\n"
    )
    .unwrap();
    writeln!(
        out,
        "### Frame time, {HOSTS} hosts streaming output\n\n\
         The wizard's execute screen for a {HOSTS}-host external-etcd preset (3 etcd, 2 control planes, \
         2 load balancers, {} workers), every host in a package install with its log full ({LOG_CAP} lines, the cap). \
         Each frame first folds a burst of {} output lines ({LINES_PER_HOST_PER_FRAME} per host) into the app \
         state, then draws with `App::draw` into ratatui's crossterm backend (the diff against the previous frame \
         and the escape sequences a terminal would receive, written to a counting sink). {FRAMES} frames per size; \
         the build is `cargo bench`'s (optimised). Nothing else to compare with: parallel-ssh and Ansible print \
         lines and have no live view. Two views: the one the execute screen opens with (a table of the {HOSTS} hosts \
         and the selected host's pane, whose last lines change every frame) and one host's pane zoomed to the \
         whole screen (every visible line changes every frame).\n",
        HOSTS - 7,
        HOSTS * LINES_PER_HOST_PER_FRAME
    )
    .unwrap();
    writeln!(
        out,
        "| terminal | view | fold 500 lines (median) | draw (median) | frame (median) | frame (p95) | frame (max) | bytes to the terminal per frame (median) | 1-min load at start | other programs' CPU |\n|---|---|---|---|---|---|---|---|---|---|"
    )
    .unwrap();
    for r in &frame_rows {
        let mut bytes = r.bytes.clone();
        bytes.sort();
        writeln!(
            out,
            "| {}×{} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.size.0,
            r.size.1,
            if r.zoom {
                "one host zoomed (z)"
            } else {
                "host table + selected pane"
            },
            millis(common::median(&r.fold)),
            millis(common::median(&r.draw)),
            millis(common::median(&r.total)),
            millis(percentile(&r.total, 0.95)),
            millis(percentile(&r.total, 1.0)),
            bytes[bytes.len() / 2],
            r.load,
            common::share_range(&[r.others])
        )
        .unwrap();
    }
    writeln!(out).unwrap();

    writeln!(
        out,
        "### Peak memory of a dry run\n\n\
         Peak resident set size of the whole process (`ru_maxrss`, from GNU time), median of {runs} runs. \
         The dry run goes through every phase and step of the plan at once (the CLI's dry run has no pace) and \
         writes the audit log; its line output goes to a file. \"PKI made\": an empty state directory each run, \
         so the run also makes the cluster's CAs and certificates; \"PKI present\": a state directory where an \
         earlier run made them. The 100- and 200-host presets are generated (external etcd: 3 etcd, 2 control \
         planes, 2 load balancers, the rest workers). No other tool is beside these figures: an Ansible \
         `--check` run would not do the same work (no PKI, no rendering), so a comparison would not be honest.\n"
    )
    .unwrap();
    writeln!(
        out,
        "| case | hosts | peak RSS (median) | min–max | wall time (median) | output lines | 1-min load at start of runs | other programs' CPU |\n|---|---|---|---|---|---|---|---|"
    )
    .unwrap();
    for r in &memory {
        let lo = r.peak_kib.iter().min().copied().unwrap_or(0);
        let hi = r.peak_kib.iter().max().copied().unwrap_or(0);
        writeln!(
            out,
            "| {} | {} | {} | {}–{} | {} | {} | {} | {} |",
            r.case,
            r.hosts,
            mib(median_u64(&r.peak_kib)),
            mib(lo),
            mib(hi),
            common::secs(common::median(&r.wall)),
            r.lines,
            common::load_range(&r.loads),
            common::share_range(&r.others)
        )
        .unwrap();
    }
    if wizard.is_empty() {
        writeln!(
            out,
            "\nThe wizard's own dry run was not measured: tmux is not installed."
        )
        .unwrap();
    } else {
        let kib: Vec<u64> = wizard.iter().map(|w| w.0).collect();
        let took: Vec<Duration> = wizard.iter().map(|w| w.1).collect();
        let loads: Vec<f64> = wizard.iter().map(|w| w.2).collect();
        let others: Vec<f64> = wizard.iter().map(|w| w.3).collect();
        writeln!(
            out,
            "| the wizard (tmux 200×50): open the preset, generate, dry-run install to the end, quit | {HOSTS} | {} | {}–{} | {} (the run at the wizard's pace) | — | {} | {} |",
            mib(median_u64(&kib)),
            mib(kib.iter().min().copied().unwrap_or(0)),
            mib(kib.iter().max().copied().unwrap_or(0)),
            common::secs(common::median(&took)),
            common::load_range(&loads),
            common::share_range(&others)
        )
        .unwrap();
    }
    writeln!(
        out,
        "\nCommands (`$W` a temporary directory, `$S` a state directory):\n\n```sh\n\
         /usr/bin/time -f '%M %e' kubewiz --state-dir $S apply --preset presets/kvm-lab.toml --dry-run --no-tui > $W/dry-run.out\n\
         /usr/bin/time -f '%M %e' kubewiz --state-dir $S apply --preset $W/bench100.toml --dry-run --no-tui > $W/dry-run.out\n\
         /usr/bin/time -f '%M %e' kubewiz --state-dir $S apply --preset $W/bench200.toml --dry-run --no-tui > $W/dry-run.out\n\
         /usr/bin/time -f '%M %e' kubewiz --state-dir $S --preset $W/bench100.toml   # in tmux 200x50: n, n, wait for \"install finished\", n, q\n\
         ```\n"
    )
    .unwrap();
    println!("{out}");
    let widest = frame_rows
        .iter()
        .filter(|r| r.size == (200, 60))
        .map(|r| {
            format!(
                "{} {} (p95 {})",
                if r.zoom { "zoomed" } else { "table" },
                millis(common::median(&r.total)),
                millis(percentile(&r.total, 0.95))
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    let dry = memory
        .iter()
        .filter(|r| r.hosts == HOSTS)
        .map(|r| mib(median_u64(&r.peak_kib)))
        .collect::<Vec<_>>()
        .join(" / ");
    let mut line = format!(
        "Wizard, {HOSTS} hosts streaming 500 lines per frame at 200×60: {widest}; peak memory of a {HOSTS}-host dry run: `apply --dry-run --no-tui` {dry} (PKI present / made)"
    );
    if !wizard.is_empty() {
        let kib: Vec<u64> = wizard.iter().map(|w| w.0).collect();
        write!(line, ", the wizard's own dry run {}", mib(median_u64(&kib))).unwrap();
    }
    common::summary(&format!("{line}."));
}
