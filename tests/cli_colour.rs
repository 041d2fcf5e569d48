//! Colour in line output: on a terminal the severity is coloured, with `NO_COLOR` set
//! it is not (piped output is checked plain in tests/cli.rs).

#[path = "tmux/mod.rs"]
mod tmux;

use std::time::Duration;

use tmux::{Tmux, tmux_available};

#[test]
fn validate_colours_on_a_terminal_and_never_with_no_color() {
    if !tmux_available() {
        eprintln!("SKIPPED: tmux is not installed (scripts/test.sh installs it as root)");
        return;
    }
    let bad =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/bad/unknown-key.toml");
    let tmux = Tmux::start("colour");
    let command = format!(
        "{} validate {}; echo DONE\"\"-1",
        env!("CARGO_BIN_EXE_kubewiz"),
        bad.display()
    );
    tmux.keys(&[&command, "Enter"]);
    tmux.wait_for("DONE-1", Duration::from_secs(20));
    let coloured = String::from_utf8_lossy(
        &tmux
            .run(&["capture-pane", "-p", "-e", "-J", "-t", "kw"])
            .stdout,
    )
    .into_owned();
    let line = coloured
        .lines()
        .find(|l| l.contains("kubernetes.pod_cdir"))
        .unwrap_or_else(|| panic!("{coloured}"));
    assert!(line.contains('\x1b'), "no colour on a terminal: {line:?}");

    tmux.keys(&["clear", "Enter"]);
    let command = format!(
        "NO_COLOR=1 {} validate {}; echo DONE\"\"-2",
        env!("CARGO_BIN_EXE_kubewiz"),
        bad.display()
    );
    tmux.keys(&[&command, "Enter"]);
    tmux.wait_for("DONE-2", Duration::from_secs(20));
    let plain = String::from_utf8_lossy(
        &tmux
            .run(&["capture-pane", "-p", "-e", "-J", "-t", "kw"])
            .stdout,
    )
    .into_owned();
    let line = plain
        .lines()
        .find(|l| l.contains("kubernetes.pod_cdir"))
        .unwrap_or_else(|| panic!("{plain}"));
    assert!(!line.contains('\x1b'), "colour with NO_COLOR: {line:?}");
    assert!(line.contains(": error: kubernetes.pod_cdir:"), "{line}");
}
