//! A panic in background work while the wizard holds the terminal, as the operator's
//! shell sees it in tmux (80x24, a server of its own): the wizard keeps the screen
//! (the terminal is given back once, when it leaves), nothing is written over what it
//! draws, and the panic's message is printed after the terminal is back.
//! examples/background_panic_in_tui.rs takes the terminal through the same
//! `kubewiz::tui::terminal::enter` as the wizard.

#[path = "tmux/mod.rs"]
mod tmux;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use tmux::{Tmux, tmux_available};

/// Builds the example with the cargo running this test (same target directory and
/// profile) and returns the executable's path.
fn build_example(name: &str) -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .args(["build", "--example", name, "--message-format=json"])
        .arg("--manifest-path")
        .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"))
        .output()
        .expect("run cargo build --example");
    assert!(
        out.status.success(),
        "cargo build --example {name} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == name)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the example's executable")
}

#[test]
fn a_background_panic_keeps_the_screen_and_is_reported_after_exit() {
    if !tmux_available() {
        eprintln!("SKIPPED: tmux is not installed (scripts/test.sh installs it as root)");
        return;
    }
    let example = build_example("background_panic_in_tui");
    let tmux = Tmux::start("bgpanic");
    tmux.keys(&[&format!("{}; echo EXIT=$?", example.display()), "Enter"]);

    // After the panic the program still draws on the alternate screen, and nothing
    // of the panic is on it.
    let during = tmux.wait_for("STILL-FULL-SCREEN", Duration::from_secs(20));
    assert!(
        !during.contains("deliberate panic") && !during.contains("panicked"),
        "the panic was written over the screen:\n{during}"
    );
    assert!(
        !during.contains("echo EXIT=$?"),
        "the terminal was given back while the program still drew:\n{during}"
    );

    // On leaving: the main screen, the panic reported once, then a normal exit.
    let (_, after) = tmux.wait_for_exit(Duration::from_secs(20));
    let lines: Vec<&str> = after.lines().map(str::trim_end).collect();
    assert!(
        !after.contains("STILL-FULL-SCREEN"),
        "still on the alternate screen:\n{after}"
    );
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("kubewiz: background work panicked"))
            .count(),
        1,
        "the background panic is reported once, at the left edge:\n{after}"
    );
    assert!(
        lines.contains(&"deliberate panic in background work (kubewiz panic check)"),
        "the panic message is not on a line of its own:\n{after}"
    );
    assert!(lines.contains(&"LEFT-NORMALLY"), "{after}");
    assert!(lines.contains(&"EXIT=0"), "{after}");
    // The terminal is back in cooked mode: the shell echoes what is typed.
    tmux.keys(&["echo restored-ok", "Enter"]);
    tmux.wait_for("\nrestored-ok", Duration::from_secs(5));
}
