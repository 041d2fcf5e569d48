//! The terminal as the operator's shell sees it, in tmux (80x24, a server of its own):
//! a panic inside the full-screen UI gives the terminal back (examples/panic_in_tui.rs
//! takes it through the same `kubewiz::tui::terminal::enter` as the wizard, then
//! panics), and `kubewiz --ascii` puts nothing but ASCII on the screen.

#[path = "tmux/mod.rs"]
mod tmux;

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use tmux::{Tmux, tmux_available};

/// Builds examples/panic_in_tui.rs with the cargo running this test (same target
/// directory and profile) and returns the executable's path.
fn build_panic_example() -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "--example",
            "panic_in_tui",
            "--message-format=json",
        ])
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("run cargo build --example panic_in_tui");
    assert!(
        out.status.success(),
        "cargo build --example panic_in_tui failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "panic_in_tui")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the example's executable")
}

#[test]
fn a_panic_in_the_ui_gives_the_terminal_back() {
    if !tmux_available() {
        eprintln!("SKIPPED: tmux is not installed (scripts/test.sh installs it as root)");
        return;
    }
    let example = build_panic_example();
    let tmux = Tmux::start("panic");
    tmux.keys(&[&format!("{}; echo EXIT=$?", example.display()), "Enter"]);
    // The example is on the alternate screen before it panics.
    tmux.wait_for("FULL-SCREEN-DRAWN", Duration::from_secs(20));
    let (_, screen) = tmux.wait_for_exit(Duration::from_secs(20));
    let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();

    // Back on the main screen: what was drawn full-screen is gone, the command line
    // that started the example is still there.
    assert!(
        !screen.contains("FULL-SCREEN-DRAWN"),
        "still on the alternate screen:\n{screen}"
    );
    assert!(
        screen.contains("panic_in_tui; echo EXIT=$?"),
        "not the main screen:\n{screen}"
    );
    // The panic message is readable: each line starts at the left edge (in raw mode a
    // newline does not return the carriage, and the lines would drift right).
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("thread 'main'") && l.contains("panicked at")),
        "no panic header at the start of a line:\n{screen}"
    );
    assert!(
        lines.contains(&"deliberate panic inside the terminal UI (kubewiz panic check)"),
        "the panic message is not on a line of its own:\n{screen}"
    );
    assert!(
        lines.contains(&"EXIT=101"),
        "a panic exits with 101:\n{screen}"
    );
    // The shell's prompt comes back after it.
    let exit_at = lines.iter().position(|l| *l == "EXIT=101").unwrap();
    assert!(
        lines[exit_at + 1..]
            .iter()
            .any(|l| l.starts_with("PROMPT$")),
        "no prompt after the panic:\n{screen}"
    );

    // Raw mode is off: the line discipline is canonical and echoes again.
    tmux.keys(&["clear; stty -a; echo STTY-DONE", "Enter"]);
    let stty = tmux.wait_for("\nSTTY-DONE", Duration::from_secs(10));
    let flags: Vec<&str> = stty.split_whitespace().collect();
    for flag in ["icanon", "echo", "isig", "icrnl", "opost"] {
        assert!(flags.contains(&flag), "stty shows no {flag}:\n{stty}");
        let off = format!("-{flag}");
        assert!(!flags.contains(&off.as_str()), "stty shows {off}:\n{stty}");
    }
    // And typed text is echoed back by the terminal.
    tmux.keys(&["echo typed-$((6*7))", "Enter"]);
    tmux.wait_for("typed-42", Duration::from_secs(10));
    let screen = tmux.capture();
    assert!(
        screen.contains("echo typed-$((6*7))"),
        "input not echoed:\n{screen}"
    );
}

#[test]
fn ascii_switch_draws_only_ascii_in_a_real_terminal() {
    if !tmux_available() {
        eprintln!("SKIPPED: tmux is not installed (scripts/test.sh installs it as root)");
        return;
    }
    let state = tempfile::tempdir().unwrap();
    let tmux = Tmux::start("ascii");
    tmux.keys(&[
        &format!(
            "{} --ascii --state-dir {}; echo EXIT=$?",
            env!("CARGO_BIN_EXE_kubewiz"),
            state.path().display()
        ),
        "Enter",
    ]);
    let mut screen = tmux.wait_for("What do you want to do?", Duration::from_secs(20));
    // Onto the topology screen (list marks, diagrams) and the hosts table.
    for (keys, expect) in [(&["Enter"][..], "Topology"), (&["n"][..], "Hosts")] {
        tmux.keys(keys);
        let start = Instant::now();
        while !screen.lines().next().unwrap_or("").contains(expect) {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "never reached {expect}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(200));
            screen = tmux.capture();
        }
        assert!(
            screen.is_ascii(),
            "--ascii drew non-ASCII on {expect}:\n{screen}"
        );
        assert!(
            screen.contains("+---") && screen.contains("---+"),
            "no ASCII borders:\n{screen}"
        );
    }
    assert!(screen.contains(" - "), "no ASCII separators:\n{screen}");
    tmux.keys(&["C-c"]);
    let screen = tmux.wait_for("Quit kubewiz?", Duration::from_secs(10));
    assert!(screen.is_ascii(), "--ascii drew non-ASCII:\n{screen}");
    tmux.keys(&["y"]);
    tmux.wait_for("EXIT=0", Duration::from_secs(10));
}
