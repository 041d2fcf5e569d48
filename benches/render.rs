//! Render benchmark (issue: render with an existing PKI under 50 ms; a first PKI uses
//! every core), side by side with an openssl script that makes the same certificate
//! set. Run with `cargo bench --bench render`; prints a Markdown section with medians.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::{Case, Probe, millis, ratio};
use kubewiz::pki;
use kubewiz::render::{self, Layout};
use kubewiz::spec::{self, ClusterSpec};

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
    samples: Case,
    note: String,
}

fn bench(name: &str, spec: &ClusterSpec, rows: &mut Vec<Row>) {
    let layout = Layout::new(spec).unwrap();
    let local = kubewiz::plan::Local {
        libvirt_uri: "qemu:///system".into(),
        state_dir: std::env::temp_dir(),
        hosts_file: std::env::temp_dir().join("hosts"),
    };
    // A first PKI: a fresh state directory each time.
    let mut first = Case::default();
    let mut parallelism = Vec::new();
    let mut leaves = 0;
    for _ in 0..5 {
        let dir = tempfile::tempdir().unwrap();
        let probe = Probe::start();
        let cpu0 = cpu_time();
        let (pki, _) = pki::load_or_create(dir.path(), &layout).unwrap();
        let files = render::render(spec, &pki).unwrap();
        let _plan = kubewiz::plan::build(&layout, &files, &local);
        let cpu = cpu_time() - cpu0;
        let wall = first.record(probe);
        parallelism.push(cpu.as_secs_f64() / wall.as_secs_f64());
        leaves = pki.leaves.len();
    }
    parallelism.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    rows.push(Row {
        case: format!("{name}: first render, PKI made"),
        samples: first,
        note: format!(
            "{leaves} leaves + 3 CAs + the service-account key; CPU/wall {:.2} on {cores} cores",
            parallelism[parallelism.len() / 2]
        ),
    });

    // With the PKI present: load and check it, render every file, build the plan.
    let dir = tempfile::tempdir().unwrap();
    pki::load_or_create(dir.path(), &layout).unwrap();
    let mut again = Case::default();
    let mut count = 0;
    for _ in 0..30 {
        let probe = Probe::start();
        let (pki, notices) = pki::load_or_create(dir.path(), &layout).unwrap();
        assert!(notices.is_empty());
        let files = render::render(spec, &pki).unwrap();
        let _plan = kubewiz::plan::build(&layout, &files, &local);
        again.record(probe);
        count = files.len();
    }
    rows.push(Row {
        case: format!("{name}: render, PKI present"),
        samples: again,
        note: format!("{count} files and the plan; target < 50 ms"),
    });

    // The same certificate set with openssl, one certificate after the other.
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/bench/openssl-pki.sh");
    let mut openssl = Case::default();
    for _ in 0..common::runs(3) {
        let dir = tempfile::tempdir().unwrap();
        let status = openssl.measure(|| {
            Command::new(&script)
                .arg(leaves.to_string())
                .arg(dir.path())
                .status()
                .unwrap()
        });
        assert!(status.success());
    }
    rows.push(Row {
        case: format!("{name}: openssl script, same set"),
        samples: openssl,
        note: format!(
            "`scripts/bench/openssl-pki.sh {leaves} DIR`: {leaves} leaves + 3 CAs + the service-account key, one after the other"
        ),
    });
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` does not run this.
    if !common::benchmarking() {
        return;
    }
    let load_before = common::load();
    let kvm_lab =
        spec::load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/kvm-lab.toml"))
            .unwrap()
            .spec;
    let mut rows = Vec::new();
    common::progress("render kvm-lab");
    bench("kvm-lab (13 hosts)", &kvm_lab, &mut rows);
    common::progress("render 3 control planes + 200 workers");
    bench("3 control planes + 200 workers", &big_preset(), &mut rows);
    let load_after = common::load();
    let mut out = String::from("## 3. Render: every file, the plan, and the PKI\n\n");
    out += &format!(
        "In-process, as `kubewiz render` and the wizard's preview do it: load or make the PKI \
         (`pki::load_or_create`), render every file (`render::render`), build the plan (`plan::build`). \
         \"PKI made\": a fresh state directory each time, 5 runs (the leaves are made on every core); \
         \"PKI present\": the PKI is loaded and checked, 30 runs. Beside it, an openssl script makes a \
         certificate set of the same size (RSA-2048 keys) the way install scripts do, one `openssl` call \
         after the other. Presets: `presets/kvm-lab.toml` (external etcd, 13 hosts) and a generated \
         stacked-HA preset with 3 control planes and 200 workers. Load average (1, 5, 15 min) before: \
         {load_before}; after: {load_after}.\n\n"
    );
    out += "| case | median | min | max | runs | 1-min load at start of runs | other programs' CPU | notes |\n|---|---|---|---|---|---|---|---|\n";
    for row in &rows {
        out += &format!(
            "| {} | {} | {} | {} | {} | {} | {} | {} |\n",
            row.case,
            millis(row.samples.median()),
            millis(row.samples.min()),
            millis(row.samples.max()),
            row.samples.samples.len(),
            row.samples.load_range(),
            row.samples.others_range(),
            row.note
        );
    }
    out += "\n";
    for set in rows.chunks(3) {
        let name = set[0].case.split(':').next().unwrap();
        out += &format!(
            "- {name}: a first render with its PKI is {} as fast as the openssl script making the certificates alone; \
             with the PKI present, render is {} ({}).\n",
            ratio(set[2].samples.median(), set[0].samples.median()),
            millis(set[1].samples.median()),
            if set[1].samples.median() < Duration::from_millis(50) {
                "target < 50 ms met"
            } else {
                "target < 50 ms NOT met"
            }
        );
    }
    println!("{out}");
    let mut line = String::from("Render (every file + plan) with the PKI present:");
    for set in rows.chunks(3) {
        let name = set[0].case.split(':').next().unwrap();
        line += &format!(" {name} {};", millis(set[1].samples.median()));
    }
    line += " a first render, PKI made, vs the openssl script making the same certificates:";
    for set in rows.chunks(3) {
        line += &format!(
            " {} vs {} ({});",
            millis(set[0].samples.median()),
            millis(set[2].samples.median()),
            ratio(set[2].samples.median(), set[0].samples.median())
        );
    }
    common::summary(line.trim_end_matches(';'));
}
