//! The audit log as an auditor meets it, through the real binary: who ran kubewiz as
//! the system knows it, every kind of tampering found by `kubewiz audit verify` on a
//! real run's log, a killed run told apart from tampering, `audit show` and `list`
//! giving the same lines as the `.log`, private modes, the system log copy (the real
//! `logger` writing to a `/dev/log` of the test's own), and
//! kubewiz's own diagnostics kept out of the audit log and off the screen.

#[path = "audit_verify/mod.rs"]
mod audit_verify;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

fn test_libvirt() -> String {
    format!(
        "test://{}/tests/fixtures/libvirt/node.xml",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn kubewiz() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_kubewiz"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LIBVIRT_DEFAULT_URI", test_libvirt())
        .env_remove("SUDO_USER")
        .env_remove("SUDO_UID")
        .env_remove("KUBEWIZ_LOG");
    c
}

fn dry_run_args(state: &Path) -> Vec<String> {
    [
        "--state-dir",
        &state.display().to_string(),
        "apply",
        "--preset",
        "presets/kvm-lab.toml",
        "--dry-run",
        "--no-tui",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn run_ok(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{:?}\nstdout: {}\nstderr: {}",
        cmd,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// The one JSONL log of cluster kvm-lab in `state`.
fn the_log(state: &Path) -> PathBuf {
    let logs: Vec<PathBuf> = fs::read_dir(state.join("kvm-lab/logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    assert_eq!(logs.len(), 1, "{logs:?}");
    logs[0].clone()
}

fn opening(log: &Path) -> Value {
    let text = fs::read_to_string(log).unwrap();
    serde_json::from_str(text.lines().next().unwrap()).unwrap()
}

fn verify(file: &Path) -> (bool, String) {
    let out = kubewiz()
        .arg("audit")
        .arg("verify")
        .arg(file)
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{:?}: {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

fn sha256(data: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A copy of the cluster's logs and index of runs in a new state directory, with
/// the log's lines changed by `tamper`; the copy's log.
fn tampered(
    original: &Path,
    keep_index: bool,
    tamper: impl FnOnce(&mut Vec<String>),
) -> (tempfile::TempDir, PathBuf) {
    let copy = tempfile::tempdir().unwrap();
    let logs = copy.path().join("kvm-lab/logs");
    fs::create_dir_all(&logs).unwrap();
    let cluster = original.parent().unwrap().parent().unwrap();
    if keep_index {
        fs::copy(
            cluster.join("runs.jsonl"),
            copy.path().join("kvm-lab/runs.jsonl"),
        )
        .unwrap();
    } else {
        fs::write(copy.path().join("kvm-lab/runs.jsonl"), "").unwrap();
    }
    let mut lines: Vec<String> = fs::read_to_string(original)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    tamper(&mut lines);
    let log = logs.join(original.file_name().unwrap());
    fs::write(&log, lines.join("\n") + "\n").unwrap();
    (copy, log)
}

/// A change made to a log's lines.
type Tamper = Box<dyn FnOnce(&mut Vec<String>)>;

#[test]
fn verify_finds_every_kind_of_tampering_on_a_real_runs_log() {
    let state = tempfile::tempdir().unwrap();
    let run = run_ok(kubewiz().args(dry_run_args(state.path())));
    let log = the_log(state.path());
    let records = fs::read_to_string(&log).unwrap().lines().count();
    assert!(records > 100, "{records} records");

    // The head printed at the end of the run is the one the index keeps and the
    // closing record carries.
    let stderr = String::from_utf8_lossy(&run.stderr);
    let index: Value = serde_json::from_str(
        fs::read_to_string(state.path().join("kvm-lab/runs.jsonl"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let head = index["head"].as_str().unwrap();
    assert!(stderr.contains(&format!("head sha256 {head}")), "{stderr}");
    let last: Value =
        serde_json::from_str(fs::read_to_string(&log).unwrap().lines().last().unwrap()).unwrap();
    assert_eq!(last["event"], "audit_closed");
    assert_eq!(last["head"], head);
    assert_eq!(last["records"], (records - 1) as u64);

    let (ok, says) = verify(&log);
    assert!(ok, "{says}");
    assert!(says.contains("whole") && says.contains(head), "{says}");
    assert!(says.contains("the same as in the index of runs"), "{says}");

    // An untouched copy with its index verifies too.
    let (_c, copy) = tampered(&log, true, |_| {});
    assert!(verify(&copy).0);

    let name = log.display().to_string();
    let cases: Vec<(&str, Tamper, &str)> = vec![
        (
            "an output line edited",
            Box::new(|l: &mut Vec<String>| {
                l[9] = l[9].replacen("\"at\":\"2026", "\"at\":\"2025", 1)
            }),
            ":10: edited",
        ),
        (
            "a line removed",
            Box::new(|l: &mut Vec<String>| {
                l.remove(9);
            }),
            ":10: removed: line 10 is record 11; record 10 is missing",
        ),
        (
            "two lines swapped",
            Box::new(|l: &mut Vec<String>| l.swap(9, 10)),
            ":10: reordered: line 10 is record 11",
        ),
        (
            "the first line edited",
            Box::new(|l: &mut Vec<String>| l[0] = l[0].replace("\"uid\":", "\"uid_was\":")),
            ":1: edited",
        ),
        (
            "the first lines removed",
            Box::new(|l: &mut Vec<String>| {
                l.drain(0..3);
            }),
            ":1: removed: the log starts with record 4",
        ),
        (
            "the end cut off, closing record and all",
            Box::new(|l: &mut Vec<String>| l.truncate(l.len() - 5)),
            "cut at the end",
        ),
        (
            "the closing record's count edited",
            Box::new(|l: &mut Vec<String>| {
                let n = l.len() - 1;
                l[n] = l[n].replace("\"records\":", "\"records\":1");
            }),
            "edited: the closing record says",
        ),
        (
            "a line added after the closing record",
            Box::new(|l: &mut Vec<String>| {
                let extra = l[5].clone();
                l.push(extra);
            }),
            "added",
        ),
    ];
    for (what, tamper, expected) in cases {
        let (_dir, copy) = tampered(&log, true, tamper);
        let (ok, says) = verify(&copy);
        assert!(!ok, "{what}: verify passed: {says}");
        assert!(
            says.contains(expected),
            "{what}: expected {expected:?} in: {says}"
        );
        assert!(says.contains(&copy.display().to_string()), "{says}");
    }

    // The whole chain recomputed after an edit holds by itself; the index of runs
    // (and the head kept elsewhere) tells.
    let (_dir, copy) = tampered(&log, true, |lines| {
        lines[9] = lines[9].replacen("\"at\":\"2026", "\"at\":\"2025", 1);
        let mut prev: Option<String> = None;
        for line in lines.iter_mut() {
            let mut v: Value = serde_json::from_str(line).unwrap();
            if let Some(p) = &prev {
                v["prev"] = Value::String(p.clone());
            }
            if v["event"] == "audit_closed" {
                v["head"] = Value::String(prev.clone().unwrap());
            }
            *line = serde_json::to_string(&v).unwrap();
            prev = Some(sha256(line.as_bytes()));
        }
    });
    let (ok, says) = verify(&copy);
    assert!(!ok, "a rewritten chain passed: {says}");
    assert!(says.contains("rewritten"), "{says}");
    assert!(!says.contains(&name));

    // Cut at the end with no head kept for it reads like a run that never finished:
    // not tampering, and said so.
    let (_dir, copy) = tampered(&log, false, |l| l.truncate(40));
    let (ok, says) = verify(&copy);
    assert!(ok, "{says}");
    assert!(
        says.contains("ends without a closing record at line 40; lines 1 to 40 verified"),
        "{says}"
    );

    // Several files at once: exit 1 when one is not whole, each named.
    let (_d1, bad) = tampered(&log, true, |l| l.swap(3, 4));
    let out = kubewiz()
        .args(["audit", "verify"])
        .arg(&log)
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let says = String::from_utf8_lossy(&out.stdout);
    assert!(says.contains(&format!("{name}: whole")), "{says}");
    assert!(
        says.contains(&format!("{}:4: reordered", bad.display())),
        "{says}"
    );
}

#[test]
fn show_and_list_read_the_same_records_as_the_log() {
    let state = tempfile::tempdir().unwrap();
    run_ok(kubewiz().args(dry_run_args(state.path())));
    let log = the_log(state.path());
    let readable = fs::read_to_string(log.with_extension("log")).unwrap();
    let dir = state.path().display().to_string();

    let show = run_ok(kubewiz().args(["--state-dir", &dir, "audit", "show", "kvm-lab"]));
    assert_eq!(String::from_utf8_lossy(&show.stdout), readable);
    let by_file = run_ok(
        kubewiz()
            .args(["audit", "show"])
            .arg(log.with_extension("log")),
    );
    assert_eq!(String::from_utf8_lossy(&by_file.stdout), readable);

    let run = log.file_stem().unwrap().to_str().unwrap();
    let host = run_ok(kubewiz().args([
        "--state-dir",
        &dir,
        "audit",
        "show",
        "kvm-lab",
        "--run",
        run,
        "--host",
        "etcd-2",
    ]));
    let host = String::from_utf8_lossy(&host.stdout);
    let lines: Vec<&str> = host.lines().collect();
    assert!(lines.len() > 10, "{host}");
    assert!(
        lines[0].contains("install run"),
        "the run's opening line first"
    );
    assert!(lines[1..].iter().all(|l| l.contains("[etcd-2]")), "{host}");
    assert!(lines[1..].iter().all(|l| readable.contains(l)));

    // A run that succeeded has no failure to show.
    let failed =
        run_ok(kubewiz().args(["--state-dir", &dir, "audit", "show", "kvm-lab", "--failed"]));
    assert_eq!(String::from_utf8_lossy(&failed.stdout).lines().count(), 1);

    let json = run_ok(kubewiz().args([
        "--state-dir",
        &dir,
        "audit",
        "show",
        "kvm-lab",
        "--json",
        "--host",
        "etcd-2",
    ]));
    let original = fs::read_to_string(&log).unwrap();
    for line in String::from_utf8_lossy(&json.stdout).lines() {
        assert!(
            original.lines().any(|l| l == line),
            "not a line of the log: {line}"
        );
    }

    let missing = kubewiz()
        .args([
            "--state-dir",
            &dir,
            "audit",
            "show",
            "kvm-lab",
            "--run",
            "19990101T000000Z",
        ])
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("audit list kvm-lab"));

    let list = run_ok(kubewiz().args(["--state-dir", &dir, "audit", "list", "kvm-lab"]));
    let list = String::from_utf8_lossy(&list.stdout);
    let index: Value = serde_json::from_str(
        fs::read_to_string(state.path().join("kvm-lab/runs.jsonl"))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let row = list.lines().nth(1).unwrap();
    for expected in [
        run,
        "install (dry run)",
        "succeeded",
        index["head"].as_str().unwrap(),
        index["operator"].as_str().unwrap(),
    ] {
        assert!(row.contains(expected), "{expected} not in {row}");
    }
}

#[test]
fn logs_and_state_are_private() {
    let state = tempfile::tempdir().unwrap();
    // A cluster directory someone made readable to all is made private again.
    fs::create_dir_all(state.path().join("kvm-lab/logs")).unwrap();
    for d in ["kvm-lab", "kvm-lab/logs"] {
        fs::set_permissions(state.path().join(d), fs::Permissions::from_mode(0o755)).unwrap();
    }
    run_ok(kubewiz().args(dry_run_args(state.path())));
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let log = the_log(state.path());
    assert_eq!(mode(&state.path().join("kvm-lab")), 0o700);
    assert_eq!(mode(log.parent().unwrap()), 0o700);
    assert_eq!(mode(&log), 0o600);
    assert_eq!(mode(&log.with_extension("log")), 0o600);
    assert_eq!(mode(&state.path().join("kvm-lab/runs.jsonl")), 0o600);
}

fn id(args: &[&str]) -> String {
    let out = Command::new("id").args(args).output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// The login uid's expected fields: unset in containers and services.
fn login_uid() -> String {
    fs::read_to_string("/proc/self/loginuid")
        .unwrap()
        .trim()
        .to_owned()
}

fn assert_system_identity(header: &Value, name: &str, uid: &str) {
    assert_eq!(header["uid"].as_u64().unwrap().to_string(), uid);
    assert_eq!(header["user"], name);
    assert!(
        header["operator"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{name} (uid {uid})")),
        "{header}"
    );
    let login = login_uid();
    if login == "4294967295" {
        assert!(
            header["login_uid"]
                .as_str()
                .unwrap()
                .starts_with("not set (4294967295")
        );
    } else {
        assert_eq!(header["login_uid"], login);
    }
    for field in [
        "terminal",
        "kvm_host",
        "kubewiz_sha256",
        "login_user",
        "user",
    ] {
        let v = header[field].as_str().unwrap();
        assert!(!v.is_empty() && !v.contains("unknown"), "{field}: {v}");
    }
    let host = fs::read_to_string("/proc/sys/kernel/hostname").unwrap();
    assert_eq!(header["kvm_host"], host.trim());
    let exe = fs::read(env!("CARGO_BIN_EXE_kubewiz")).unwrap();
    assert_eq!(header["kubewiz_sha256"], sha256(&exe));
    assert_eq!(header["kind"], "install");
}

#[test]
fn the_operator_comes_from_the_system_even_with_an_empty_environment() {
    let state = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("env");
    cmd.arg("-i")
        .arg(format!("LIBVIRT_DEFAULT_URI={}", test_libvirt()))
        .arg(env!("CARGO_BIN_EXE_kubewiz"))
        .args(dry_run_args(state.path()))
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    run_ok(&mut cmd);
    let header = opening(&the_log(state.path()));
    assert_system_identity(&header, &id(&["-un"]), &id(&["-u"]));
    assert!(
        header.get("sudo_claimed_by_environment").is_none(),
        "{header}"
    );
    assert!(
        header["terminal"]
            .as_str()
            .unwrap()
            .starts_with("none (standard input is"),
        "{header}"
    );
}

#[test]
fn a_forged_user_in_the_environment_is_only_quoted_as_a_claim() {
    let state = tempfile::tempdir().unwrap();
    run_ok(
        kubewiz()
            .args(dry_run_args(state.path()))
            .env("USER", "mallory")
            .env("LOGNAME", "mallory")
            .env("SUDO_USER", "mallory")
            .env("SUDO_UID", "4242"),
    );
    let log = the_log(state.path());
    let header = opening(&log);
    assert_system_identity(&header, &id(&["-un"]), &id(&["-u"]));
    assert_eq!(
        header["sudo_claimed_by_environment"],
        "SUDO_USER=mallory SUDO_UID=4242"
    );
    // Nowhere else is the claimed name taken for the operator.
    let text = fs::read_to_string(&log).unwrap();
    assert_eq!(text.matches("mallory").count(), 1, "{}", &text[..2000]);
    let readable = fs::read_to_string(log.with_extension("log")).unwrap();
    let first = readable.lines().next().unwrap();
    assert!(
        first.contains("claimed by the environment: SUDO_USER=mallory"),
        "{first}"
    );
    assert!(!first.contains("by mallory"), "{first}");
}

#[test]
fn another_user_is_named_by_the_password_database() {
    if id(&["-u"]) != "0" {
        eprintln!("skipped: creating the test user and switching to it needs root");
        return;
    }
    let user = "kubewiz-audit-t";
    if !Command::new("id")
        .arg(user)
        .output()
        .unwrap()
        .status
        .success()
    {
        let made = Command::new("useradd")
            .args([
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                user,
            ])
            .status()
            .unwrap();
        assert!(made.success() || Command::new("id").arg(user).status().unwrap().success());
    }
    let uid = id(&["-u", user]);
    let state = tempfile::tempdir().unwrap();
    let (u, g) = (uid.parse().unwrap(), id(&["-g", user]).parse().unwrap());
    std::os::unix::fs::chown(state.path(), Some(u), Some(g)).unwrap();
    fs::set_permissions(state.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let mut cmd = Command::new("runuser");
    cmd.args(["-u", user, "--"])
        .arg(env!("CARGO_BIN_EXE_kubewiz"))
        .args(dry_run_args(state.path()))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("LIBVIRT_DEFAULT_URI", test_libvirt())
        // What the caller's environment claims must not become the operator.
        .env("USER", "root")
        .env_remove("SUDO_USER")
        .env_remove("SUDO_UID");
    run_ok(&mut cmd);
    let header = opening(&the_log(state.path()));
    assert_system_identity(&header, user, &uid);
    assert_eq!(header["operator"], format!("{user} (uid {uid})"));
}

/// The child of the kill test: a real run's audit log under the runner at the dry
/// run's real pace, until the parent kills it.
#[test]
#[ignore = "run by a_killed_run_is_reported_as_unfinished_not_as_tampered"]
fn slow_run_to_be_killed() {
    let Some(state) = std::env::var_os("KUBEWIZ_KILL_TEST_STATE") else {
        return;
    };
    let state = PathBuf::from(state);
    let preset = Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/stacked-ha.toml");
    let text = fs::read_to_string(&preset).unwrap();
    let spec = kubewiz::spec::load_file(&preset).unwrap().spec;
    let layout = kubewiz::render::Layout::new(&spec).unwrap();
    let cluster = kubewiz::state::ClusterState::new(&state, spec.name.as_str());
    let (pki, _) = kubewiz::pki::load_or_create(&cluster.pki_dir(), &layout).unwrap();
    let files = kubewiz::render::render(&spec, &pki).unwrap();
    let local = kubewiz::plan::Local {
        libvirt_uri: "test:///default".into(),
        state_dir: cluster.dir().to_path_buf(),
        hosts_file: cluster.dir().join("hosts"),
    };
    let plan = kubewiz::plan::build(&layout, &files, &local);
    let options = kubewiz::launch::run_options(
        kubewiz::audit::RunKind::Install,
        &spec,
        &pki,
        &cluster,
        &text,
        true,
        kubewiz::audit::Identity::current(),
    )
    .unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let transport = std::sync::Arc::new(kubewiz::exec::dry_run::DryRun::new(1.0));
        let mut handle = kubewiz::exec::runner::start(plan, transport, options);
        while handle.events.recv().await.is_some() {}
    });
    panic!("the run finished before it was killed");
}

#[test]
fn a_killed_run_is_reported_as_unfinished_not_as_tampered() {
    let state = tempfile::tempdir().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--ignored",
            "--exact",
            "slow_run_to_be_killed",
            "--nocapture",
        ])
        .env("KUBEWIZ_KILL_TEST_STATE", state.path())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let logs = state.path().join("stacked/logs");
    let started = Instant::now();
    let log = loop {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no audit log grew in {}",
            logs.display()
        );
        assert!(
            child.try_wait().unwrap().is_none(),
            "the run ended by itself"
        );
        let grown = fs::read_dir(&logs).ok().and_then(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
                .filter(|p| fs::read_to_string(p).is_ok_and(|t| t.lines().count() > 30))
        });
        if let Some(log) = grown {
            break log;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let text = fs::read_to_string(&log).unwrap();
    let whole_lines = text.matches('\n').count();
    assert!(!text.contains("audit_closed"));
    let (ok, says) = verify(&log);
    assert!(ok, "{says}");
    assert!(
        says.contains(&format!(
            "ends without a closing record at line {whole_lines}; lines 1 to {whole_lines} verified"
        )),
        "{says}"
    );
    assert!(
        !says.contains("edited") && !says.contains("removed"),
        "{says}"
    );
    // Its readable view still shows what it got through.
    let show = run_ok(kubewiz().args(["audit", "show"]).arg(&log));
    assert!(String::from_utf8_lossy(&show.stdout).lines().count() >= 30);
}

/// Runs `cmd` in a private mount namespace whose `/dev/log` is the datagram socket
/// `listener` is bound to, with the rest of `/dev` it may need: the real `logger`
/// sends there as it would to the system's logging daemon. Returns what arrived.
fn system_log_of(
    listener: &std::os::unix::net::UnixDatagram,
    socket: &Path,
    cmd: &Command,
) -> Vec<String> {
    let dev = tempfile::tempdir().unwrap();
    let script = r#"
        set -e
        mount --bind /dev "$1"
        mount -t tmpfs -o mode=755 tmpfs /dev
        for d in null zero full random urandom tty; do
            touch "/dev/$d"
            mount --bind "$1/$d" "/dev/$d"
        done
        touch /dev/log
        mount --bind "$2" /dev/log
        shift 2
        exec "$@"
    "#;
    let mut namespaced = Command::new("unshare");
    namespaced
        .args([
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(dev.path())
        .arg(socket)
        .arg(cmd.get_program())
        .args(cmd.get_args())
        .current_dir(env!("CARGO_MANIFEST_DIR"));
    for (key, value) in cmd.get_envs() {
        match value {
            Some(v) => namespaced.env(key, v),
            None => namespaced.env_remove(key),
        };
    }
    run_ok(&mut namespaced);
    // The run has ended: whatever logger sent is queued on the socket.
    listener.set_nonblocking(true).unwrap();
    let mut said = Vec::new();
    let mut buf = vec![0u8; 65536];
    loop {
        match listener.recv(&mut buf) {
            Ok(n) => said.push(String::from_utf8_lossy(&buf[..n]).into_owned()),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("reading the system log's socket: {e}"),
        }
    }
    said
}

/// The last run's entry in the index of runs of cluster kvm-lab in `state`.
fn last_indexed(state: &Path) -> Value {
    let index = fs::read_to_string(state.join("kvm-lab/runs.jsonl")).unwrap();
    serde_json::from_str(index.lines().last().unwrap()).unwrap()
}

/// Checks that `said` holds one run's start and then its head, at auth.notice from
/// kubewiz.
fn assert_start_and_head(said: &[String], indexed: &Value) {
    assert_eq!(said.len(), 2, "{said:?}");
    // auth.notice: facility 4, severity 5.
    assert!(said.iter().all(|m| m.starts_with("<37>")), "{said:?}");
    let run = indexed["run"].as_str().unwrap();
    assert!(
        said[0].contains(&format!(
            "kubewiz: install run {run} of cluster kvm-lab started by"
        )),
        "{said:?}"
    );
    assert!(
        said[1].contains(&format!(
            "kubewiz: run {run} closed its audit log after {} records; head sha256 {}",
            indexed["records"],
            indexed["head"].as_str().unwrap()
        )),
        "{said:?}"
    );
}

#[test]
fn syslog_gets_each_runs_start_and_head_with_the_flag_or_the_preset() {
    let sockets = tempfile::tempdir().unwrap();
    let socket = sockets.path().join("log");
    let listener = std::os::unix::net::UnixDatagram::bind(&socket).unwrap();

    // --syslog. The runs share a state directory: the cluster's PKI is made once.
    let state = tempfile::tempdir().unwrap();
    let mut cmd = kubewiz();
    cmd.arg("--syslog").args(dry_run_args(state.path()));
    let said = system_log_of(&listener, &socket, &cmd);
    assert_start_and_head(&said, &last_indexed(state.path()));

    // The preset's [audit] syslog = true, without the flag.
    let preset = Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/kvm-lab.toml");
    let with_syslog = sockets.path().join("kvm-lab.toml");
    fs::write(
        &with_syslog,
        fs::read_to_string(&preset).unwrap() + "\n[audit]\nsyslog = true\n",
    )
    .unwrap();
    let mut cmd = kubewiz();
    cmd.args(dry_run_args(state.path()).into_iter().map(|a| {
        if a == "presets/kvm-lab.toml" {
            with_syslog.display().to_string()
        } else {
            a
        }
    }));
    let said = system_log_of(&listener, &socket, &cmd);
    assert_start_and_head(&said, &last_indexed(state.path()));

    // Neither: the system log gets nothing.
    let mut cmd = kubewiz();
    cmd.args(dry_run_args(state.path()));
    let said = system_log_of(&listener, &socket, &cmd);
    assert!(said.is_empty(), "{said:?}");
    audit_verify::verify_audit_logs(state.path());
}

#[test]
fn diagnostics_go_to_their_own_file_not_the_audit_log_or_the_screen() {
    let state = tempfile::tempdir().unwrap();
    let out = run_ok(
        kubewiz()
            .args(dry_run_args(state.path()))
            .env("KUBEWIZ_LOG", "debug"),
    );
    let diagnostics: Vec<PathBuf> = fs::read_dir(state.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("kubewiz-diagnostics.log")
        })
        .collect();
    assert_eq!(diagnostics.len(), 1, "{diagnostics:?}");
    let text = fs::read_to_string(&diagnostics[0]).unwrap();
    assert!(
        text.contains("DEBUG") && text.contains("audit log started"),
        "{text}"
    );
    let log = the_log(state.path());
    for file in [log.clone(), log.with_extension("log")] {
        let audit = fs::read_to_string(file).unwrap();
        assert!(!audit.contains("DEBUG") && !audit.contains("audit log started"));
    }
    for stream in [&out.stdout, &out.stderr] {
        let s = String::from_utf8_lossy(stream);
        assert!(
            !s.contains("DEBUG") && !s.contains("audit log started"),
            "{s}"
        );
    }

    // Without a level asked for, there is no diagnostics file.
    let quiet = tempfile::tempdir().unwrap();
    run_ok(kubewiz().args(dry_run_args(quiet.path())));
    assert!(!fs::read_dir(quiet.path()).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("kubewiz-diagnostics")
    }));
}

/// `(wall, steps, slot wait, gap)` in seconds from a row of `audit show --timing`.
fn timing_row(line: &str) -> (f64, f64, f64, f64) {
    let numbers: Vec<f64> = line
        .split(" s")
        .filter_map(|part| part.split_whitespace().last()?.parse().ok())
        .collect();
    assert_eq!(numbers.len(), 4, "{line}");
    (numbers[0], numbers[1], numbers[2], numbers[3])
}

#[test]
fn timing_shows_each_phase_its_critical_path_and_the_gap() {
    let state = tempfile::tempdir().unwrap();
    let s = state.path().display().to_string();
    run_ok(kubewiz().args([
        "--state-dir",
        &s,
        "apply",
        "--preset",
        "presets/stacked-ha.toml",
        "--dry-run",
        "--no-tui",
        "--pace",
        "0.05",
    ]));
    let log = fs::read_dir(state.path().join("stacked/logs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .unwrap();
    // Each phase's name and how long it took, from its start and end records.
    let records: Vec<Value> = fs::read_to_string(&log)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .collect();
    let at = |r: &Value| {
        time::OffsetDateTime::parse(
            r["at"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap()
    };
    let mut phases: Vec<String> = Vec::new();
    let mut walls_logged: Vec<f64> = Vec::new();
    for started in records.iter().filter(|r| r["event"] == "phase_started") {
        let finished = records
            .iter()
            .find(|r| r["event"] == "phase_finished" && r["phase"] == started["phase"])
            .unwrap();
        phases.push(started["phase"].as_str().unwrap().to_owned());
        walls_logged.push((at(finished) - at(started)).as_seconds_f64());
    }
    assert!(phases.len() >= 10, "{phases:?}");

    let out = run_ok(kubewiz().args(["--state-dir", &s, "audit", "show", "stacked", "--timing"]));
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let lines: Vec<&str> = text.lines().collect();
    assert!(
        lines[0].starts_with("Run ") && lines[0].contains("of stacked: install (dry run), "),
        "{text}"
    );
    // One row per phase, in the run's order, each phase at least as long as the steps
    // that set its pace (to the rounding of one decimal).
    assert!(lines[1].starts_with("phase ") && lines[1].contains("critical path"));
    let rows: Vec<&str> = lines[2..]
        .iter()
        .copied()
        .filter(|l| {
            !l.starts_with(' ') && !l.starts_with("Phases ") && !l.starts_with("kubewiz's ")
        })
        .collect();
    let named: Vec<&str> = rows
        .iter()
        .map(|r| r.split_whitespace().next().unwrap())
        .collect();
    assert_eq!(named, phases, "{text}");
    let mut walls = 0.0;
    for (row, logged) in rows.iter().zip(&walls_logged) {
        let (wall, steps, slot_wait, _gap) = timing_row(row);
        assert!(wall + 0.1 >= steps, "{row}");
        // Five hosts, within the limit of hosts at once: none waits for a slot.
        assert_eq!(slot_wait, 0.0, "{row}");
        assert!(
            (wall - logged).abs() <= 0.051,
            "{row}: the log says {logged:.3} s"
        );
        walls += wall;
    }
    assert!(walls > 0.5, "the paced steps took time: {text}");
    // The second and third control planes join one after the other.
    let joins = rows
        .iter()
        .find(|r| r.starts_with("control-planes "))
        .unwrap();
    assert!(joins.contains("2 hosts in turn"), "{text}");
    let init = lines
        .iter()
        .position(|l| l.starts_with("first-control-plane "))
        .unwrap();
    assert!(
        lines[init + 1].contains("kubemaster-1: kubeadm init "),
        "the longest step of the first control plane is named: {text}"
    );
    assert!(lines[lines.len() - 2].starts_with("Phases "), "{text}");
    // The engine's CPU time, from the log's closing record, per host of the preset.
    let cpu = lines.last().unwrap();
    assert!(
        cpu.starts_with("kubewiz's own CPU time: ") && cpu.contains(" per host (5 hosts)"),
        "{text}"
    );

    // Timing is a view of its own: it does not mix with the line filters.
    let refused = kubewiz()
        .args([
            "--state-dir",
            &s,
            "audit",
            "show",
            "stacked",
            "--timing",
            "--json",
        ])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "{refused:?}");
}
