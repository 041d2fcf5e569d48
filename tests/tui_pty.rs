//! The real binary in a pseudo-terminal (tmux, 80×24): new cluster → Next through
//! every screen → dry-run install → done → quit, asserting what the operator sees on
//! the way and that the terminal is given back (the shell prompt, exit code 0).

#[path = "tmux/mod.rs"]
mod tmux;

#[path = "audit_verify/mod.rs"]
mod audit_verify;

#[path = "tui_support.rs"]
mod support;

use std::process::Command;
use std::time::Duration;

use tmux::{Tmux, tmux_available};

/// Starts a shell in a detached 80×24 session and runs kubewiz with `args` in it.
fn start_kubewiz(tag: &str, args: &str) -> Tmux {
    let tmux = Tmux::start(tag);
    tmux.run_kubewiz(args);
    tmux
}

/// The pid of the program the session's shell is running.
fn child_of_shell(tmux: &Tmux) -> u32 {
    let out = tmux.run(&["list-panes", "-t", "kw", "-F", "#{pane_pid}"]);
    let shell = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let children = std::fs::read_to_string(format!("/proc/{shell}/task/{shell}/children")).unwrap();
    children
        .split_whitespace()
        .next()
        .expect("kubewiz runs under the shell")
        .parse()
        .unwrap()
}

#[test]
fn new_cluster_to_dry_run_install_in_a_real_terminal() {
    if !tmux_available() {
        eprintln!("SKIPPED: tmux is not installed (scripts/test.sh installs it as root)");
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let tmux = Tmux::start("main");
    tmux.run_kubewiz(&format!("--state-dir {}", state.path().display()));
    let start = tmux.wait_for("1/9 Start", Duration::from_secs(20));
    assert!(start.contains("New cluster"), "{start}");
    assert!(start.contains("Enter choose"), "{start}");

    tmux.keys(&["Enter"]);
    tmux.wait_for("2/9 Topology", Duration::from_secs(5));
    tmux.keys(&["n"]);
    let hosts = tmux.wait_for("3/9 Hosts", Duration::from_secs(5));
    assert!(
        hosts.contains("kubemaster-1") && hosts.contains("192.168.122.11"),
        "{hosts}"
    );
    tmux.keys(&["n"]);
    let network = tmux.wait_for("4/9 Network", Duration::from_secs(5));
    assert!(network.contains("cluster DNS 10.96.0.10"), "{network}");
    tmux.keys(&["n"]);
    tmux.wait_for("5/9 Options", Duration::from_secs(5));
    tmux.keys(&["n"]);
    let review = tmux.wait_for("6/9 Review", Duration::from_secs(5));
    for expected in [
        "kvm-lab (external-etcd)",
        "10.96.0.0/12 (DNS 10.96.0.10)",
        "kubeapi.test.example:6443",
        "192.168.122.10 via haproxy-keepalived",
        "kubenode-1..5",
        "0 error(s), 0 warning(s)",
        "n generate & preview",
    ] {
        assert!(
            review.contains(expected),
            "Review lacks {expected:?}:\n{review}"
        );
    }
    println!("Review at 80x24:\n{review}");

    tmux.keys(&["n"]);
    let preview = tmux.wait_for("7/9 Preview", Duration::from_secs(120));
    for expected in [
        "[Files (",
        "Plan (",
        "dry run: ON",
        "kubemaster-1 (",
        " 0644 · line 1/",
        "Tab view",
        "n install",
    ] {
        assert!(
            preview.contains(expected),
            "Preview lacks {expected:?}:\n{preview}"
        );
    }
    println!("Preview at 80x24:\n{preview}");
    assert!(
        state.path().join("kvm-lab/pki/ca.crt").is_file(),
        "the preview made the PKI in --state-dir"
    );

    tmux.keys(&["n"]);
    tmux.wait_for("8/9 Execute", Duration::from_secs(10));
    let finished = tmux.wait_for("install finished", Duration::from_secs(300));
    assert!(finished.contains("DRY RUN"), "{finished}");
    tmux.keys(&["n"]);
    let done = tmux.wait_for("9/9 Done", Duration::from_secs(5));
    assert!(done.contains("dry run went through every step"), "{done}");
    assert!(done.contains("audit log:"), "{done}");
    // The head of the run's audit log as `kubewiz audit verify` recomputes it from the
    // records (and checks against the index of runs), once the log is closed.
    let head = (0..50)
        .find_map(|_| {
            let said = audit_verify::verify_audit_logs(state.path());
            let head = said
                .split("head sha256 ")
                .nth(1)
                .and_then(|rest| rest.get(..64))
                .map(str::to_owned);
            if head.is_none() {
                std::thread::sleep(Duration::from_millis(200));
            }
            head
        })
        .expect("the run's audit log was never closed");
    tmux.wait_for(&format!("head sha256: {head}"), Duration::from_secs(10));

    tmux.keys(&["q"]);
    let (code, after) = tmux.wait_for_exit(Duration::from_secs(10));
    assert_eq!(code, 0, "{after}");
    assert!(
        !after.contains("9/9 Done"),
        "the alternate screen was left:\n{after}"
    );
    assert!(after.lines().any(|l| l.starts_with("PROMPT$")), "{after}");
    // The terminal is back in cooked mode: the shell echoes what is typed.
    tmux.keys(&["echo restored-ok", "Enter"]);
    tmux.wait_for("\nrestored-ok", Duration::from_secs(5));
}

#[test]
fn a_preset_opens_on_review_and_sigterm_restores_the_terminal() {
    if !tmux_available() {
        eprintln!("SKIPPED: tmux is not installed (scripts/test.sh installs it as root)");
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let preset =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/single-master.toml");
    let tmux = start_kubewiz(
        "preset",
        &format!(
            "--state-dir {} --preset {}",
            state.path().display(),
            preset.display()
        ),
    );
    let review = tmux.wait_for("6/9 Review", Duration::from_secs(20));
    assert!(review.contains("homelab (single-master)"), "{review}");
    assert!(review.contains("single-master.toml"), "{review}");
    // Too small a window says so instead of drawing a broken screen.
    tmux.run(&["resize-window", "-t", "kw", "-x", "60", "-y", "20"]);
    tmux.wait_for("terminal too small (need 80x24", Duration::from_secs(5));
    tmux.run(&["resize-window", "-t", "kw", "-x", "80", "-y", "24"]);
    tmux.wait_for("6/9 Review", Duration::from_secs(5));

    let pid = child_of_shell(&tmux);
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let (_, after) = tmux.wait_for_exit(Duration::from_secs(10));
    assert!(
        !after.contains("6/9 Review"),
        "the alternate screen was left:\n{after}"
    );
    tmux.keys(&["echo restored-ok", "Enter"]);
    tmux.wait_for("\nrestored-ok", Duration::from_secs(5));
}

/// The longest line of the haproxy.cfg that presets/kvm-lab.toml gives haproxy-1.
fn longest_haproxy_line() -> String {
    let preset = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/kvm-lab.toml");
    let spec = kubewiz::spec::load_file(&preset).unwrap().spec;
    let layout = kubewiz::render::Layout::new(&spec).unwrap();
    let cfg = kubewiz::render::lb::files(&layout)
        .into_iter()
        .find(|f| {
            f.path == kubewiz::render::lb::HAPROXY_CFG
                && f.target == kubewiz::render::Target::Host("haproxy-1".into())
        })
        .expect("haproxy-1 gets a haproxy.cfg");
    cfg.content
        .lines()
        .max_by_key(|l| l.chars().count())
        .unwrap()
        .to_owned()
}

#[test]
fn the_longest_line_of_a_file_is_read_to_its_end_in_the_full_screen_view() {
    if !tmux_available() {
        eprintln!("SKIPPED: tmux is not installed (scripts/test.sh installs it as root)");
        return;
    }
    let line = longest_haproxy_line();
    assert!(line.chars().count() > 80, "{line:?} fits a console anyway");
    let last_word = line.split_whitespace().last().unwrap();
    // The line's end, long enough to be found only where the line is drawn.
    let tail: String = {
        let chars: Vec<char> = line.trim_end().chars().collect();
        chars[chars.len() - 24..].iter().collect()
    };
    assert!(tail.ends_with(last_word));
    let state = tempfile::tempdir().unwrap();
    let preset = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/kvm-lab.toml");
    let tmux = start_kubewiz(
        "viewer",
        &format!(
            "--state-dir {} --preset {}",
            state.path().display(),
            preset.display()
        ),
    );
    tmux.wait_for("6/9 Review", Duration::from_secs(20));
    tmux.keys(&["n"]);
    let mut screen = tmux.wait_for("7/9 Preview", Duration::from_secs(120));
    // Down the file tree until the viewer's title names haproxy.cfg.
    let selected = |s: &str| {
        s.lines()
            .any(|l| l.contains(" 0644 ") && l.contains("haproxy.cfg"))
    };
    for _ in 0..300 {
        if selected(&screen) {
            break;
        }
        tmux.keys(&["Down"]);
        screen = tmux.capture();
    }
    assert!(selected(&screen), "haproxy.cfg never selected:\n{screen}");
    tmux.keys(&["z"]);
    let full = tmux.wait_for(
        "haproxy-1: /etc/haproxy/haproxy.cfg",
        Duration::from_secs(10),
    );
    assert!(!full.contains(&tail), "{full}");
    // G: the last page, where the servers are; End: the longest line's end.
    tmux.keys(&["G", "End"]);
    let right = tmux.wait_for(&tail, Duration::from_secs(10));
    println!("haproxy.cfg scrolled right at 80x24:\n{right}");
    assert!(right.contains("w wrap"), "{right}");
    tmux.keys(&["q", "C-c", "C-c"]);
    let (code, after) = tmux.wait_for_exit(Duration::from_secs(10));
    assert_eq!(code, 0, "{after}");
}

#[test]
fn ctrl_c_twice_leaves_from_the_network_screen() {
    if !tmux_available() {
        eprintln!("SKIPPED: tmux is not installed (scripts/test.sh installs it as root)");
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let tmux = start_kubewiz("ctrl-c", &format!("--state-dir {}", state.path().display()));
    tmux.wait_for("1/9 Start", Duration::from_secs(20));
    tmux.keys(&["Enter"]);
    tmux.wait_for("2/9 Topology", Duration::from_secs(5));
    tmux.keys(&["n"]);
    tmux.wait_for("3/9 Hosts", Duration::from_secs(5));
    tmux.keys(&["n"]);
    tmux.wait_for("4/9 Network", Duration::from_secs(5));
    let pid = child_of_shell(&tmux);
    // Both in one go, as fingers press them.
    let out = tmux.run(&["send-keys", "-t", "kw", "C-c", "C-c"]);
    assert!(out.status.success(), "{out:?}");
    let (code, after) = tmux.wait_for_exit(Duration::from_secs(10));
    assert_eq!(code, 0, "{after}");
    assert!(
        !after.contains("4/9 Network"),
        "the alternate screen was left:\n{after}"
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        "kubewiz (pid {pid}) is still running"
    );
    tmux.keys(&["echo restored-ok", "Enter"]);
    tmux.wait_for("\nrestored-ok", Duration::from_secs(5));
}

#[test]
fn ctrl_c_during_an_install_detaches_and_attach_follows_it_to_the_end() {
    if !tmux_available() {
        eprintln!("SKIPPED: tmux is not installed (scripts/test.sh installs it as root)");
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let preset = format!("{}/presets/kvm-lab.toml", env!("CARGO_MANIFEST_DIR"));
    let tmux = start_kubewiz(
        "detach",
        &format!("--state-dir {} --preset {preset}", state.path().display()),
    );
    tmux.wait_for("6/9 Review", Duration::from_secs(20));
    tmux.keys(&["n"]);
    tmux.wait_for("7/9 Preview", Duration::from_secs(120));
    tmux.keys(&["n"]);
    tmux.wait_for("DRY RUN: nothing runs", Duration::from_secs(20));
    tmux.keys(&["C-c"]);
    let asked = tmux.wait_for("d    detach", Duration::from_secs(5));
    assert!(asked.contains("s    stop it"), "{asked}");
    tmux.keys(&["d"]);
    let after = tmux.wait_for("EXIT=0", Duration::from_secs(10));
    assert!(
        after.contains("the run of kvm-lab goes on in its own process"),
        "{after}"
    );
    // The run went on without the wizard: attach follows it to its end.
    tmux.keys(&[
        &format!(
            // Quoted apart, so the command line itself never shows the mark.
            "{} --state-dir {} attach kvm-lab; echo ATTACHED\"\"-$?",
            env!("CARGO_BIN_EXE_kubewiz"),
            state.path().display()
        ),
        "Enter",
    ]);
    let attached = tmux.wait_for("\nATTACHED-", Duration::from_secs(300));
    assert!(attached.contains("ATTACHED-0"), "{attached}");
    let said = audit_verify::verify_audit_logs(state.path());
    assert_eq!(said.lines().count(), 1, "{said}");
    assert!(
        said.contains("head sha256 "),
        "the run closed its log:\n{said}"
    );
}

/// An installed cluster's manage view in the real binary: its hosts, then Renew
/// certificates → the plan → a dry run in the engine process → Done. The dry run saves
/// no certificate and writes an audit log of kind certs-renew. Then Replace a host, in
/// a dry run through the engine too, and an upgrade to the next minor.
#[test]
fn an_installed_cluster_is_managed_and_its_certificates_renewed_in_a_dry_run() {
    if !tmux_available() {
        eprintln!("SKIPPED: tmux is not installed (scripts/test.sh installs it as root)");
        return;
    }
    let state = tempfile::tempdir().unwrap();
    // Its admin.conf's API cannot answer: the manage view says so and goes on.
    let (_, cluster) = support::installed_homelab(state.path());
    let tmux = start_kubewiz("manage", &format!("--state-dir {}", state.path().display()));
    tmux.wait_for("1/9 Start", Duration::from_secs(20));
    tmux.keys(&["Down", "Enter"]);
    let manage = tmux.wait_for("the API did not answer", Duration::from_secs(20));
    for expected in [
        "Manage",
        "kubemaster-1",
        "192.168.122.11",
        "control-plane",
        "first certificate to",
        "Renew certificates",
    ] {
        assert!(
            manage.contains(expected),
            "Manage lacks {expected:?}:\n{manage}"
        );
    }
    println!("Manage at 80x24:\n{manage}");
    tmux.keys(&["Down", "Enter"]);
    let preview = tmux.wait_for("dry run: ON", Duration::from_secs(60));
    assert!(preview.contains("Plan ("), "{preview}");
    tmux.keys(&["n"]);
    let finished = tmux.wait_for("renewal finished", Duration::from_secs(120));
    assert!(finished.contains("DRY RUN"), "{finished}");
    tmux.keys(&["n"]);
    let done = tmux.wait_for("dry run went through every step", Duration::from_secs(5));
    assert!(done.contains("To run the renewal for real"), "{done}");
    assert!(!cluster.pki_dir().join("renewal").exists());
    let logs: Vec<String> = std::fs::read_dir(cluster.dir().join("logs"))
        .unwrap()
        .flatten()
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(
        logs.iter().any(|l| l.contains("certs-renew")),
        "no audit log of the renewal"
    );
    quit(&tmux);

    // Replace a host in a dry run: the engine checks and plans the replacement as
    // `node replace` does, runs nothing and keeps the preset as it was.
    let kept = std::fs::read_to_string(cluster.preset()).unwrap();
    open_manage(&tmux, state.path());
    tmux.wait_for("Replace a host", Duration::from_secs(20));
    tmux.keys(&["Down", "Down", "Down", "Enter"]);
    tmux.wait_for("Which host is replaced?", Duration::from_secs(5));
    tmux.keys(&["Down", "Enter"]);
    tmux.wait_for("The new kubenode-1's address", Duration::from_secs(5));
    tmux.keys(&["BSpace", "9", "Enter"]);
    let preview = tmux.wait_for("dry run: ON", Duration::from_secs(60));
    assert!(preview.contains("Plan ("), "{preview}");
    tmux.keys(&["n"]);
    tmux.wait_for("replacement finished", Duration::from_secs(120));
    tmux.keys(&["n"]);
    tmux.wait_for("dry run went through every step", Duration::from_secs(5));
    quit(&tmux);
    assert_eq!(std::fs::read_to_string(cluster.preset()).unwrap(), kept);

    // An upgrade to the next minor in a dry run, through the engine too.
    open_manage(&tmux, state.path());
    tmux.wait_for("Upgrade Kubernetes", Duration::from_secs(20));
    tmux.keys(&["Down", "Down", "Down", "Down", "Enter"]);
    tmux.wait_for("The version to go to", Duration::from_secs(5));
    tmux.keys(&["Enter"]);
    tmux.wait_for("dry run: ON", Duration::from_secs(60));
    tmux.keys(&["n"]);
    tmux.wait_for("upgrade finished", Duration::from_secs(120));
    tmux.keys(&["n"]);
    tmux.wait_for("dry run went through every step", Duration::from_secs(5));
    quit(&tmux);
    assert_eq!(std::fs::read_to_string(cluster.preset()).unwrap(), kept);
}

/// Starts kubewiz on `state` in the session's shell and opens the manage view of its
/// one cluster.
fn open_manage(tmux: &Tmux, state: &std::path::Path) {
    tmux.run_kubewiz(&format!("--state-dir {}", state.display()));
    tmux.wait_for("1/9 Start", Duration::from_secs(20));
    tmux.keys(&["Down", "Enter"]);
}

/// q on Done leaves the wizard with exit code 0.
fn quit(tmux: &Tmux) {
    tmux.keys(&["q"]);
    let (code, after) = tmux.wait_for_exit(Duration::from_secs(10));
    assert_eq!(code, 0, "{after}");
}
