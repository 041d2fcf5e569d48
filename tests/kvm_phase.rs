//! The install's libvirt-network phase through the real binary, against libvirt's test
//! driver (tests/fixtures/libvirt/node.xml, chosen with `LIBVIRT_DEFAULT_URI`): shown
//! with its exact changes by `kubewiz plan`, only shown by a dry run, applied and read
//! back by `kubewiz apply --phase libvirt-network --yes` with every virsh command in
//! the audit log, and a second run that changes nothing.
//!
//! The phase's second step puts the cluster's names into the KVM host's hosts file
//! (here a file in the test's state directory, through `KUBEWIZ_HOSTS_FILE`), and
//! `kubewiz reset`'s last phase takes them out again.
//!
//! The test driver keeps no state between processes: each virsh starts from the node
//! file. So "the network as the first run left it" is rebuilt from what that run
//! wrote in its audit log (the read-back), into a new node file the second run reads.

#[path = "audit_verify/mod.rs"]
mod audit_verify;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use kubewiz::kvm::NetworkState;
use kubewiz::kvm::network::desired_dns;
use serde_json::Value;

const STEP: &str = "libvirt-network/local/update";
const NAMES: &str = "libvirt-network/local/names";
const READ_BACK: &str = "read back with virsh net-dumpxml default: every entry is in place";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn fixture() -> PathBuf {
    root().join("tests/fixtures/libvirt/node.xml")
}

fn uri_of(node: &Path) -> String {
    format!("test://{}", node.display())
}

/// kubewiz with `LIBVIRT_DEFAULT_URI=uri`, no terminal, and the KVM host's hosts file
/// in the state directory.
fn kubewiz(state: &Path, uri: &str, args: &[&str]) -> Output {
    kubewiz_with_hosts(state, uri, &state.join("hosts"), args)
}

fn kubewiz_with_hosts(state: &Path, uri: &str, hosts: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .current_dir(root())
        .env("LIBVIRT_DEFAULT_URI", uri)
        .env("KUBEWIZ_HOSTS_FILE", hosts)
        .env("USER", "operator-test")
        .env_remove("SUDO_USER")
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn apply_network(state: &Path, uri: &str, preset: &str) -> Output {
    kubewiz(
        state,
        uri,
        &[
            "apply",
            "--preset",
            preset,
            "--phase",
            "libvirt-network",
            "--yes",
            "--no-tui",
        ],
    )
}

/// A dry run of the kvm-lab preset's libvirt-network phase.
fn dry_run_network(state: &Path, uri: &str) -> Output {
    kubewiz(
        state,
        uri,
        &[
            "apply",
            "--preset",
            "presets/kvm-lab.toml",
            "--phase",
            "libvirt-network",
            "--dry-run",
            "--no-tui",
        ],
    )
}

/// The records of the newest audit log of cluster `cluster`.
fn audit(state: &Path, cluster: &str) -> Vec<Value> {
    let logs = audit_verify::audit_logs(&state.join(cluster));
    fs::read_to_string(logs.last().expect("an audit log"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn phases(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["event"] == "phase_started")
        .map(|e| e["phase"].as_str().unwrap().to_owned())
        .collect()
}

/// The step's output lines, in order.
fn lines(events: &[Value]) -> Vec<String> {
    lines_of(events, STEP)
}

/// Step `step`'s output lines, in order.
fn lines_of(events: &[Value], step: &str) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["event"] == "step_output" && e["step"] == step)
        .map(|e| e["line"].as_str().unwrap().to_owned())
        .collect()
}

fn outcome(events: &[Value]) -> Value {
    events
        .iter()
        .find(|e| e["event"] == "step_finished" && e["step"] == STEP)
        .expect("the step finished")["outcome"]
        .clone()
}

/// The network as the run read it back after its changes, from its audit log.
fn read_back(lines: &[String]) -> String {
    let at = lines
        .iter()
        .position(|l| l.starts_with(READ_BACK))
        .unwrap_or_else(|| panic!("no read-back in {lines:#?}"));
    lines[at + 1..].join("\n")
}

/// A node file like the fixture whose `default` network is `network_xml`.
fn node_with_default_network(dir: &Path, network_xml: &str) -> PathBuf {
    let text = fs::read_to_string(fixture()).unwrap();
    let start = text.find("<network>").unwrap();
    let end = text.find("</network>").unwrap() + "</network>".len();
    assert!(text[start..end].contains("<name>default</name>"));
    let node = dir.join("node.xml");
    fs::write(
        &node,
        format!("{}{network_xml}{}", &text[..start], &text[end..]),
    )
    .unwrap();
    node
}

fn kvm_lab() -> kubewiz::spec::ClusterSpec {
    kubewiz::spec::load_file(&root().join("presets/kvm-lab.toml"))
        .unwrap()
        .spec
}

#[test]
fn plan_shows_the_phase_first_with_its_exact_changes() {
    let state = tempfile::tempdir().unwrap();
    let uri = uri_of(&fixture());
    let out = kubewiz(
        state.path(),
        &uri,
        &["plan", "--preset", "presets/kvm-lab.toml"],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.starts_with("Plan for cluster kvm-lab: 13 phases, 305 steps. Nothing has run."),
        "{text}"
    );
    let expected = format!(
        "
1. DHCP, DNS and host names on the KVM host [libvirt-network] (1 host)
  local
    libvirt-network/local/update
      on libvirt network default ({uri}), live and persistent; asked before it runs
      18 change(s) to the network as it is now (0 entries already in place):
        reserve 192.168.122.11 for kubemaster-1 (52:54:00:00:00:11)
          $ virsh -c {uri} net-update default add-last ip-dhcp-host '<host mac=\"52:54:00:00:00:11\" name=\"kubemaster-1\" ip=\"192.168.122.11\"/>' --live --config
"
    );
    assert!(text.contains(&expected), "{text}");
    assert!(
        text.contains(&format!(
            "        add DNS kubeapi.test.example → 192.168.122.10
          $ virsh -c {uri} net-update default add-last dns-host '<host ip=\"192.168.122.10\"><hostname>kubeapi.test.example</hostname></host>' --live --config
"
        )),
        "{text}"
    );
    assert!(
        text.contains("      skipped: etcd-1: no reservation, no libvirt domain is named etcd-1"),
        "{text}"
    );
    assert!(
        text.contains("      note: kubemaster-1 now has 192.168.122.3; it gets 192.168.122.11"),
        "{text}"
    );
    assert!(
        text.contains("\n2. Connect and gather facts [connect]"),
        "{text}"
    );

    // A preset without [kvm] says nothing of where its hosts live: no such phase.
    let single = kubewiz(
        state.path(),
        &uri,
        &["plan", "--preset", "presets/single-node.toml"],
    );
    assert_eq!(single.status.code(), Some(0));
    assert!(!stdout(&single).contains("libvirt"), "{}", stdout(&single));

    // A libvirt that cannot be read is said in the plan, which still succeeds.
    let missing = kubewiz(
        state.path(),
        "test:///nonexistent/node.xml",
        &["plan", "--preset", "presets/kvm-lab.toml"],
    );
    let text = stdout(&missing);
    assert_eq!(missing.status.code(), Some(0), "{text}");
    assert!(
        text.contains("      the network cannot be read now: `virsh -c test:///nonexistent/node.xml net-list --all --name` exited 1:"),
        "{text}"
    );
    assert!(
        text.contains("; the step reads it again when it runs\n"),
        "{text}"
    );
}

#[test]
fn a_dry_run_shows_the_changes_and_makes_none() {
    let state = tempfile::tempdir().unwrap();
    let uri = uri_of(&fixture());
    let out = dry_run_network(state.path(), &uri);
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let events = audit(state.path(), "kvm-lab");
    // The network alone: no host is connected to.
    assert_eq!(phases(&events), ["libvirt-network"]);
    assert_eq!(
        outcome(&events),
        serde_json::json!({
            "status": "skipped",
            "reason": "dry run: libvirt network default is not changed (18 change(s) would be made)"
        })
    );
    let lines = lines(&events);
    assert!(
        lines.contains(&"would reserve 192.168.122.11 for kubemaster-1 (52:54:00:00:00:11)".into()),
        "{lines:#?}"
    );
    assert!(
        lines.contains(&format!("read: $ virsh -c {uri} net-dumpxml default  [ok]")),
        "{lines:#?}"
    );
    assert!(
        !lines.iter().any(|l| l.starts_with("virsh: Updated")),
        "a dry run changed the network: {lines:#?}"
    );
    assert!(!state.path().join("kvm-lab/journal").exists());
}

#[test]
fn apply_changes_the_network_reads_it_back_and_logs_every_command() {
    let state = tempfile::tempdir().unwrap();
    let uri = uri_of(&fixture());
    let out = apply_network(state.path(), &uri, "presets/kvm-lab.toml");
    let text = stdout(&out);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let events = audit(state.path(), "kvm-lab");
    // Only the KVM host's own network: the lab's 13 hosts do not exist, and were not
    // contacted.
    assert_eq!(phases(&events), ["libvirt-network"]);
    assert_eq!(outcome(&events), serde_json::json!({ "status": "done" }));
    let lines = lines(&events);

    // Every virsh command is in the log with its result: the reads ...
    for read in [
        "net-list --all --name",
        "net-dumpxml default",
        "net-info default",
        "list --all --name",
        "domstate kubemaster-1",
        "dumpxml KubeNode_1",
        "domifaddr kubemaster-1 --source lease",
    ] {
        assert!(
            lines.contains(&format!("read: $ virsh -c {uri} {read}  [ok]")),
            "{read} missing from {lines:#?}"
        );
    }
    // ... each change as the operator would type it, and what virsh answered.
    let updates: Vec<&String> = lines
        .iter()
        .filter(|l| l.starts_with(&format!("$ virsh -c {uri} net-update default add-last ")))
        .collect();
    assert_eq!(updates.len(), 18, "{lines:#?}");
    assert!(lines.contains(&format!(
        "$ virsh -c {uri} net-update default add-last ip-dhcp-host '<host mac=\"52:54:00:00:00:21\" name=\"kubenode-1\" ip=\"192.168.122.21\"/>' --live --config"
    )));
    assert!(
        lines.contains(&"ran the 18 change(s) and a read-back in one virsh process: ok".into()),
        "{lines:#?}"
    );
    let confirmed = lines
        .iter()
        .filter(|l| *l == "virsh: Updated network default persistent config and live state")
        .count();
    assert_eq!(confirmed, 18, "{lines:#?}");

    // The read-back holds exactly the cluster's entries.
    let after = NetworkState::from_xml(&read_back(&lines)).unwrap();
    let reservations: Vec<(String, String)> = after.ips[0]
        .hosts
        .iter()
        .map(|h| (h.name().unwrap().to_owned(), h.ip().unwrap().to_string()))
        .collect();
    assert_eq!(
        reservations,
        [
            ("kubemaster-1".to_owned(), "192.168.122.11".to_owned()),
            ("kubemaster-2".to_owned(), "192.168.122.12".to_owned()),
            ("kubenode-1".to_owned(), "192.168.122.21".to_owned()),
            ("haproxy-1".to_owned(), "192.168.122.31".to_owned()),
        ]
    );
    let mut dns = after.dns_hosts.clone();
    let mut wanted = desired_dns(&kvm_lab()).unwrap();
    for list in [&mut dns, &mut wanted] {
        list.iter_mut().for_each(|h| h.names.sort());
        list.sort_by_key(|h| h.ip);
    }
    assert_eq!(dns, wanted);

    // The readable log says it too, and the journal records the step.
    let log = fs::read_dir(state.path().join("kvm-lab/logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "log"))
        .unwrap();
    let log = fs::read_to_string(log).unwrap();
    assert!(
        log.contains("[local]   $ virsh -c ") && log.contains("net-update default add-last"),
        "{log}"
    );
    assert!(log.contains(&format!("[local] {STEP}: ok (")), "{log}");
    let journal = fs::read_to_string(state.path().join("kvm-lab/journal")).unwrap();
    assert!(journal.contains(STEP), "{journal}");
}

#[test]
fn a_second_run_changes_nothing() {
    let first_state = tempfile::tempdir().unwrap();
    let first = apply_network(
        first_state.path(),
        &uri_of(&fixture()),
        "presets/kvm-lab.toml",
    );
    assert_eq!(first.status.code(), Some(0), "{}", stdout(&first));
    let left = read_back(&lines(&audit(first_state.path(), "kvm-lab")));
    let dir = tempfile::tempdir().unwrap();
    let node = node_with_default_network(dir.path(), &left);
    let uri = uri_of(&node);

    // Planned against the network as the first run left it: nothing to do.
    let plan = kubewiz(
        dir.path(),
        &uri,
        &["plan", "--preset", "presets/kvm-lab.toml"],
    );
    assert!(
        stdout(&plan)
            .contains("      nothing to change: the network holds every entry (18 in place)\n"),
        "{}",
        stdout(&plan)
    );

    // Run again without the first run's journal: it reads, finds everything in
    // place, and runs no update.
    let state = tempfile::tempdir().unwrap();
    let again = apply_network(state.path(), &uri, "presets/kvm-lab.toml");
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    let events = audit(state.path(), "kvm-lab");
    assert_eq!(outcome(&events), serde_json::json!({ "status": "done" }));
    let lines = lines(&events);
    assert!(
        lines.contains(
            &"libvirt network default already holds every entry (18 in place); nothing to change"
                .into()
        ),
        "{lines:#?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.starts_with("$ virsh") || l.starts_with("virsh: Updated")),
        "a second run changed the network: {lines:#?}"
    );

    // With the first run's journal, on the same connection, the step is skipped
    // like every finished step with unchanged inputs.
    let resumed = apply_network(
        first_state.path(),
        &uri_of(&fixture()),
        "presets/kvm-lab.toml",
    );
    assert_eq!(
        resumed.status.code(),
        Some(0),
        "{}{}",
        stdout(&resumed),
        String::from_utf8_lossy(&resumed.stderr)
    );
    assert_eq!(
        outcome(&audit(first_state.path(), "kvm-lab")),
        serde_json::json!({ "status": "skipped", "reason": "finished in an earlier run" })
    );
}

#[test]
fn a_network_that_cannot_be_changed_stops_the_run_before_any_host() {
    let state = tempfile::tempdir().unwrap();
    let lab = fs::read_to_string(root().join("presets/kvm-lab.toml")).unwrap();
    let preset = state.path().join("nosuch.toml");
    fs::write(
        &preset,
        lab.replace(
            "libvirt_network = \"default\"",
            "libvirt_network = \"nosuch\"",
        ),
    )
    .unwrap();
    // The whole install, not only the network phase: it stops at the first.
    let out = kubewiz(
        state.path(),
        &uri_of(&fixture()),
        &[
            "apply",
            "--preset",
            preset.to_str().unwrap(),
            "--yes",
            "--no-tui",
        ],
    );
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains(&format!("[local] {STEP}: FAILED")), "{text}");
    assert!(
        text.contains(&format!(
            "libvirt network \"nosuch\" does not exist on {}; the networks there are: default, storage",
            uri_of(&fixture())
        )),
        "{text}"
    );
    assert_eq!(phases(&audit(state.path(), "kvm-lab")), ["libvirt-network"]);
}

const HOSTS: &str = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n";

#[test]
fn the_kvm_host_resolves_the_cluster_by_name_until_reset() {
    let state = tempfile::tempdir().unwrap();
    let hosts = state.path().join("hosts");
    fs::write(&hosts, HOSTS).unwrap();
    let uri = uri_of(&fixture());

    // The plan says which file, and a dry run leaves it alone.
    let plan = kubewiz(
        state.path(),
        &uri,
        &["plan", "--preset", "presets/kvm-lab.toml"],
    );
    let wanted = format!(
        "      put local/hosts (the block \"# BEGIN kubewiz kvm-lab\") into {}\n",
        hosts.display()
    );
    assert!(stdout(&plan).contains(&wanted), "{}", stdout(&plan));
    let dry = dry_run_network(state.path(), &uri);
    assert_eq!(dry.status.code(), Some(0), "{}", stdout(&dry));
    assert_eq!(fs::read_to_string(&hosts).unwrap(), HOSTS);

    let out = apply_network(state.path(), &uri, "presets/kvm-lab.toml");
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let rendered = tempfile::tempdir().unwrap();
    let out_dir = rendered.path().to_str().unwrap();
    let r = kubewiz(
        state.path(),
        &uri,
        &[
            "render",
            "--preset",
            "presets/kvm-lab.toml",
            "--out",
            out_dir,
        ],
    );
    assert_eq!(r.status.code(), Some(0), "{}", stdout(&r));
    let block = fs::read_to_string(rendered.path().join("local/hosts")).unwrap();
    let text = fs::read_to_string(&hosts).unwrap();
    assert_eq!(text, format!("{HOSTS}{block}"));
    let vip = ["192.168.122.10", "kubeapi.test.example"];
    assert!(
        text.lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>() == vip),
        "{text}"
    );
    let logged = lines_of(&audit(state.path(), "kvm-lab"), NAMES);
    let said = format!("{} now holds the cluster's names", hosts.display());
    assert!(logged.contains(&said), "{logged:#?}");

    // A line the operator adds after the block stays; a run with another state
    // directory (no journal) finds the names in place and writes nothing.
    let edited = format!("{text}10.1.1.1\tmine\n");
    fs::write(&hosts, &edited).unwrap();
    let again_state = tempfile::tempdir().unwrap();
    let again = kubewiz_with_hosts(
        again_state.path(),
        &uri,
        &hosts,
        &[
            "apply",
            "--preset",
            "presets/kvm-lab.toml",
            "--phase",
            "libvirt-network",
            "--yes",
            "--no-tui",
        ],
    );
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    let logged = lines_of(&audit(again_state.path(), "kvm-lab"), NAMES);
    let said = format!("{} already holds the cluster's names", hosts.display());
    assert!(logged.contains(&said), "{logged:#?}");
    assert_eq!(fs::read_to_string(&hosts).unwrap(), edited);

    // Reset's last phase, on the KVM host alone, takes the block out and nothing else.
    let spec = kvm_lab();
    let layout = kubewiz::spec::layout::Layout::new(&spec).unwrap();
    let local = kubewiz::plan::Local {
        libvirt_uri: uri.clone(),
        state_dir: state.path().join("kvm-lab"),
        hosts_file: hosts.clone(),
    };
    let reset = kubewiz::plan::reset::build(
        &layout,
        &local,
        kubewiz::plan::reset::ResetOptions { delete_data: false },
    );
    let last = reset.phases.last().unwrap().id;
    assert_eq!(last.name(), "forget-names");
    let only = reset.only(&[last].into_iter().collect());
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let outcome = runtime.block_on(async {
        let mut handle = kubewiz::exec::runner::start(
            only,
            std::sync::Arc::new(kubewiz::exec::ssh::Ssh::new(false)),
            kubewiz::exec::runner::RunOptions {
                concurrency: 4,
                finished: kubewiz::exec::journal::Finished::new(),
                sinks: Vec::new(),
                log_path: None,
                redactor: kubewiz::audit::Redactor::default(),
            },
        );
        while handle.events.recv().await.is_some() {}
        handle.task.await.unwrap()
    });
    assert_eq!(outcome, kubewiz::exec::RunOutcome::Succeeded);
    assert_eq!(
        fs::read_to_string(&hosts).unwrap(),
        format!("{HOSTS}10.1.1.1\tmine\n")
    );
}
