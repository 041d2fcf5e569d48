//! Render benchmark (issue: render with an existing PKI under 50 ms; a first PKI uses
//! every core), side by side with an openssl script that makes the same certificate
//! set. Run with `cargo bench --bench render`; prints a table of medians.

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use kubewiz::pki;
use kubewiz::render::{self, Layout};
use kubewiz::spec::{self, ClusterSpec};

fn median(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[samples.len() / 2]
}

/// CPU time (user + system) this process has used, from /proc/self/stat.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("Linux");
    let fields: Vec<&str> = stat
        .rsplit_once(") ")
        .expect("stat format")
        .1
        .split(' ')
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    // USER_HZ is 100 on Linux.
    Duration::from_millis(ticks * 10)
}

fn big_preset() -> ClusterSpec {
    let mut text = String::from(
        "name = \"big\"\ntopology = \"stacked-ha\"\n[network]\nhosts_cidr = \"10.20.0.0/16\"\n[control_plane]\nendpoint = \"kubeapi.big.example\"\nport = 8443\nvip = \"10.20.0.10\"\n",
    );
    for i in 1..=3 {
        text += &format!(
            "[[hosts]]\nname = \"cp-{i}\"\naddress = \"10.20.0.{}\"\nroles = [\"control-plane\"]\n",
            10 + i
        );
    }
    for i in 1..=200 {
        text += &format!(
            "[[hosts]]\nname = \"node-{i}\"\naddress = \"10.20.{}.{}\"\nroles = [\"worker\"]\n",
            1 + i / 250,
            i % 250 + 1
        );
    }
    let spec = spec::parse(&text).expect("the benchmark preset parses");
    let problems: Vec<_> = spec::validate::validate(&spec)
        .into_iter()
        .filter(|d| d.is_error())
        .collect();
    assert!(problems.is_empty(), "{problems:?}");
    spec
}

struct Row {
    case: String,
    median: Duration,
    note: String,
}

fn bench(name: &str, spec: &ClusterSpec, rows: &mut Vec<Row>) {
    let layout = Layout::new(spec).unwrap();
    // A first PKI: a fresh state directory each time.
    let mut first = Vec::new();
    let mut parallelism = Vec::new();
    let mut leaves = 0;
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let (cpu0, t0) = (cpu_time(), Instant::now());
        let (pki, _) = pki::load_or_create(dir.path(), &layout).unwrap();
        let files = render::render(spec, &pki).unwrap();
        let _plan = kubewiz::plan::build(&layout, &files);
        let wall = t0.elapsed();
        first.push(wall);
        parallelism.push((cpu_time() - cpu0).as_secs_f64() / wall.as_secs_f64());
        leaves = pki.leaves.len();
    }
    parallelism.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    rows.push(Row {
        case: format!("{name}: first render, PKI made"),
        median: median(first),
        note: format!(
            "{leaves} leaves + 3 CAs; CPU/wall {:.2} on {cores} cores",
            parallelism[parallelism.len() / 2]
        ),
    });

    // With the PKI present: load and check it, render every file, build the plan.
    let dir = tempfile::tempdir().unwrap();
    pki::load_or_create(dir.path(), &layout).unwrap();
    let mut again = Vec::new();
    let mut count = 0;
    for _ in 0..30 {
        let t0 = Instant::now();
        let (pki, notices) = pki::load_or_create(dir.path(), &layout).unwrap();
        assert!(notices.is_empty());
        let files = render::render(spec, &pki).unwrap();
        let _plan = kubewiz::plan::build(&layout, &files);
        again.push(t0.elapsed());
        count = files.len();
    }
    rows.push(Row {
        case: format!("{name}: render, PKI present"),
        median: median(again),
        note: format!("{count} files and the plan; target < 50 ms"),
    });

    // The same certificate set with openssl, one certificate after the other.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench/openssl-pki.sh");
    let mut openssl = Vec::new();
    for _ in 0..3 {
        let dir = tempfile::tempdir().unwrap();
        let t0 = Instant::now();
        let status = Command::new(&script)
            .arg(leaves.to_string())
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(status.success());
        openssl.push(t0.elapsed());
    }
    rows.push(Row {
        case: format!("{name}: openssl script, same set"),
        median: median(openssl),
        note: format!("{leaves} leaves + 3 CAs + sa, sequential"),
    });
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not run this.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let kvm_lab =
        spec::load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/kvm-lab.toml"))
            .unwrap()
            .spec;
    let mut rows = Vec::new();
    bench("kvm-lab (13 hosts)", &kvm_lab, &mut rows);
    bench("3 control planes + 200 workers", &big_preset(), &mut rows);
    println!("| case | median | notes |\n|---|---|---|");
    for row in &rows {
        println!(
            "| {} | {:.1} ms | {} |",
            row.case,
            row.median.as_secs_f64() * 1000.0,
            row.note
        );
    }
    for pair in rows.chunks(3) {
        println!(
            "{}: first PKI {:.1}x faster than the openssl script",
            pair[0].case.split(':').next().unwrap(),
            pair[2].median.as_secs_f64() / pair[0].median.as_secs_f64()
        );
    }
}
