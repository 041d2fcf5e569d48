//! Runs that outlive their terminal: the engine process goes on when the terminal
//! that started it goes away, `kubewiz attach` follows it again from the start, and a
//! second run of the same cluster is refused while one goes on, naming its holder.

#[path = "audit_verify/mod.rs"]
mod audit_verify;

#[path = "tmux/mod.rs"]
mod tmux;

use std::fs;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use tmux::{Tmux, tmux_available};

const BIN: &str = env!("CARGO_BIN_EXE_kubewiz");
/// The single-node preset's cluster.
const CLUSTER: &str = "solo";

fn preset() -> String {
    format!("{}/presets/single-node.toml", env!("CARGO_MANIFEST_DIR"))
}

/// A dry run of the single-node preset at twice the wizard's pace (about 35 s of pretend
/// work), so it is still going on when its terminal goes away.
fn paced_dry_run(state: &Path) -> String {
    format!(
        "{BIN} --state-dir {} apply --preset {} --dry-run --no-tui --yes --pace 2",
        state.display(),
        preset()
    )
}

fn kubewiz(state: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The cluster's audit logs (JSONL), oldest first.
fn logs(state: &Path) -> Vec<PathBuf> {
    audit_verify::audit_logs(&state.join(CLUSTER))
}

fn verify(state: &Path, log: &Path) {
    let out = kubewiz(state, &["audit", "verify", log.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("whole"),
        "{}",
        text(&out)
    );
}

#[test]
fn a_run_goes_on_when_its_terminal_dies_and_attach_follows_it_to_the_end() {
    if !tmux_available() {
        eprintln!("SKIPPED: tmux is not installed (scripts/test.sh installs it as root)");
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let first = Tmux::start("attach-first");
    first.keys(&[
        &format!("{}; echo EXIT=$?", paced_dry_run(state.path())),
        "Enter",
    ]);
    first.wait_for("== Prepare hosts", Duration::from_secs(120));
    // The terminal goes away: tmux hangs up on everything in it.
    drop(first);
    let running = kubewiz::detached::running(state.path());
    assert_eq!(
        running.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        [CLUSTER],
        "the run did not survive its terminal"
    );
    let engine_pid = running[0].1.pid.clone();
    assert!(
        Path::new(&format!("/proc/{engine_pid}")).exists(),
        "the lock names PID {engine_pid}, which is gone"
    );

    // The wizard's start screen offers the run; Enter follows it on the execute
    // screen, rebuilt from the events so far. Its terminal dies too.
    let wizard = Tmux::start("attach-wizard");
    wizard.keys(&[
        &format!("{BIN} --state-dir {}", state.path().display()),
        "Enter",
    ]);
    wizard.wait_for("Attach to solo", Duration::from_secs(20));
    wizard.keys(&["Enter"]);
    wizard.wait_for("8/9 Execute", Duration::from_secs(10));
    wizard.wait_for("kube-solo", Duration::from_secs(10));
    drop(wizard);
    assert_eq!(
        kubewiz::detached::running(state.path()).len(),
        1,
        "the run did not survive the wizard's terminal"
    );

    let second = Tmux::start("attach-second");
    second.keys(&[
        &format!(
            "{BIN} --state-dir {} attach {CLUSTER} > {}/attach.out; echo ATTACH\"\"ENDED=$?",
            state.path().display(),
            state.path().display()
        ),
        "Enter",
    ]);
    // The quotes keep the typed command from matching.
    let screen = second.wait_for("ATTACHENDED=", Duration::from_secs(180));
    assert!(screen.contains("ATTACHENDED=0"), "{screen}");
    let out = fs::read_to_string(state.path().join("attach.out")).unwrap();
    // Replayed from the start, and followed to the end.
    assert!(out.contains("== Connect and gather facts"), "{out}");
    assert!(out.contains("== Prepare hosts"), "{out}");
    assert!(out.contains("kubewiz: finished"), "{out}");
    assert!(
        !out.contains("cancelled"),
        "the hangup cancelled the run: {out}"
    );
    assert!(kubewiz::detached::running(state.path()).is_empty());
    let logs = logs(state.path());
    assert_eq!(logs.len(), 1, "{logs:?}");
    verify(state.path(), &logs[0]);
    let audit = fs::read_to_string(&logs[0]).unwrap();
    assert!(audit.contains("\"outcome\":\"succeeded\""), "{audit}");
}

/// Starts the paced dry run as a child process with its line output on a pipe, and
/// waits until its run has started.
fn start_paced(state: &Path) -> (Child, BufReader<std::process::ChildStdout>) {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("exec {}", paced_dry_run(state)))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("== Connect") {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "the run ended before it started"
        );
    }
    (child, out)
}

#[test]
fn a_second_run_is_refused_naming_the_first_and_a_killed_client_leaves_it_running() {
    let state = tempfile::tempdir().unwrap();
    let (mut client, _out) = start_paced(state.path());
    let holder = kubewiz::detached::running(state.path())
        .pop()
        .expect("the run holds the cluster's lock")
        .1;

    let second = kubewiz(
        state.path(),
        &[
            "apply",
            "--preset",
            &preset(),
            "--dry-run",
            "--no-tui",
            "--yes",
        ],
    );
    assert_eq!(second.status.code(), Some(1), "{}", text(&second));
    let err = String::from_utf8_lossy(&second.stderr);
    assert!(err.contains(&format!("cluster {CLUSTER} is busy")), "{err}");
    assert!(err.contains(&format!("PID {}", holder.pid)), "{err}");
    assert!(
        err.contains(&format!("started by {}", holder.operator)),
        "{err}"
    );
    assert!(err.contains(&format!("kubewiz attach {CLUSTER}")), "{err}");
    let user = String::from_utf8_lossy(&Command::new("id").arg("-un").output().unwrap().stdout)
        .trim()
        .to_owned();
    assert!(holder.operator.starts_with(&user), "{holder:?}");
    assert_eq!(logs(state.path()).len(), 1, "the refused run started a log");

    // The client dies without a word; the run does not notice.
    client.kill().unwrap();
    client.wait().unwrap();
    let attached = kubewiz(state.path(), &["attach", CLUSTER]);
    assert!(attached.status.success(), "{}", text(&attached));
    assert!(
        String::from_utf8_lossy(&attached.stdout).contains("kubewiz: finished"),
        "{}",
        text(&attached)
    );

    // Its lock file stays behind, held by no one: no refusal.
    assert!(state.path().join(CLUSTER).join("lock").is_file());
    let third = kubewiz(
        state.path(),
        &[
            "apply",
            "--preset",
            &preset(),
            "--dry-run",
            "--no-tui",
            "--yes",
        ],
    );
    assert!(third.status.success(), "{}", text(&third));
    let logs = logs(state.path());
    assert_eq!(logs.len(), 2, "the first run's and the third's: {logs:?}");
    for log in &logs {
        verify(state.path(), log);
    }
}

#[test]
fn attach_without_a_run_says_so() {
    let state = tempfile::tempdir().unwrap();
    let out = kubewiz(state.path(), &["attach", CLUSTER]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no run is going on"), "{err}");
    assert!(err.contains("kubewiz audit show solo"), "{err}");
}
