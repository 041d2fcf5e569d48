//! The operator's own presets on the wizard's start screen, in a real terminal (tmux,
//! 80×24): a preset saved in `$XDG_CONFIG_HOME/kubewiz/presets` is listed and opens,
//! and "Open a file..." completes a typed path with Tab.

#[path = "tmux/mod.rs"]
mod tmux;

use std::time::Duration;

use tmux::{Tmux, tmux_available};

#[test]
fn a_saved_preset_is_listed_and_opens_and_a_typed_path_completes_with_tab() {
    if !tmux_available() {
        eprintln!("SKIPPED: tmux is not installed (scripts/test.sh installs it as root)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let presets = dir.path().join("config/kubewiz/presets");
    std::fs::create_dir_all(&presets).unwrap();
    let shipped = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/single-master.toml"),
    )
    .unwrap();
    let mine = shipped.replace("name = \"homelab\"", "name = \"mylab\"");
    assert_ne!(mine, shipped);
    std::fs::write(presets.join("mylab.toml"), mine).unwrap();

    let tmux = Tmux::start("own-presets");
    let command = format!(
        "export XDG_CONFIG_HOME={}; K='{} --state-dir {}'",
        dir.path().join("config").display(),
        env!("CARGO_BIN_EXE_kubewiz"),
        dir.path().join("state").display()
    );
    tmux.keys(&[&command, "Enter", "$K; echo EXIT=$?", "Enter"]);
    let start = tmux.wait_for("Load your preset mylab.toml", Duration::from_secs(20));
    assert!(start.contains("Open a file..."), "{start}");
    // New, six shipped presets, then the operator's.
    tmux.keys(&["Down", "Down", "Down", "Down", "Down", "Down", "Down"]);
    let selected = tmux.wait_for("> Load your preset mylab.toml", Duration::from_secs(5));
    assert!(
        selected.contains("kubewiz/presets/mylab.toml"),
        "{selected}"
    );
    tmux.keys(&["Enter"]);
    let opened = tmux.wait_for("mylab · single-master", Duration::from_secs(10));
    assert!(!opened.contains("What do you want to do?"), "{opened}");
    tmux.keys(&["C-c"]);
    tmux.wait_for("(y/n)", Duration::from_secs(5));
    tmux.keys(&["y"]);
    tmux.wait_for("EXIT=0", Duration::from_secs(10));

    // Open a file...: the field starts in the presets directory; Tab completes.
    tmux.keys(&["clear; $K; echo EXIT=$?", "Enter"]);
    tmux.wait_for("Open a file...", Duration::from_secs(20));
    tmux.keys(&["Down"; 8]);
    tmux.wait_for("> Open a file...", Duration::from_secs(5));
    tmux.keys(&["Enter"]);
    tmux.wait_for("File: ", Duration::from_secs(5));
    tmux.keys(&["m", "y"]);
    let typing = tmux.wait_for("presets/my", Duration::from_secs(5));
    assert!(!typing.contains("presets/mylab.toml"), "{typing}");
    tmux.keys(&["Tab"]);
    tmux.wait_for("presets/mylab.toml", Duration::from_secs(5));
    tmux.keys(&["Enter"]);
    tmux.wait_for("mylab · single-master", Duration::from_secs(10));
    tmux.keys(&["C-c"]);
    tmux.wait_for("(y/n)", Duration::from_secs(5));
    tmux.keys(&["y"]);
    tmux.wait_for("EXIT=0", Duration::from_secs(10));
}
