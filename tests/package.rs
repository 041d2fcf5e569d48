//! The Debian package, as an operator gets it: built by scripts/deb.sh from the binary
//! under test, installed with dpkg, used (validate the shipped presets, the wizard's
//! first screen in a real terminal), purged, and nothing of it left behind.
//!
//! It changes the machine (dpkg's database, /usr), so it runs only as root and puts
//! everything back in a drop guard, also when an assertion fails half way.

#[path = "tmux/mod.rs"]
mod tmux;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use tmux::Tmux;

const PACKAGE: &str = "kubewiz";

fn run(program: &str, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"))
}

fn installed() -> bool {
    let out = run("dpkg-query", &["-W", "-f=${Status}", PACKAGE]);
    String::from_utf8_lossy(&out.stdout).contains("install ok installed")
}

/// Purges the package when dropped, so the machine is left as it was found.
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        if installed() || run("dpkg-query", &["-W", PACKAGE]).status.success() {
            let out = run("dpkg", &["--purge", PACKAGE]);
            if !out.status.success() {
                eprintln!("cleaning up: dpkg --purge {PACKAGE} failed: {out:?}");
            }
        }
    }
}

fn build_package(out: &Path) -> PathBuf {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/deb.sh");
    let built = Command::new(&script)
        .args(["--fast", "--binary", env!("CARGO_BIN_EXE_kubewiz"), "--out"])
        .arg(out)
        .output()
        .expect("run scripts/deb.sh");
    assert!(
        built.status.success(),
        "scripts/deb.sh failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let deb = PathBuf::from(String::from_utf8_lossy(&built.stdout).trim().to_owned());
    assert!(
        deb.is_file(),
        "scripts/deb.sh printed {deb:?}, which is no file"
    );
    deb
}

#[test]
fn the_package_installs_works_and_purges_without_a_trace() {
    if !rustix::process::geteuid().is_root() {
        eprintln!(
            "SKIPPED: installing a package needs root; run the tests as root (scripts/test.sh)"
        );
        return;
    }
    assert!(
        !run("dpkg-query", &["-W", PACKAGE]).status.success(),
        "a {PACKAGE} package is already installed on this machine; this test would replace and purge it: remove it first (dpkg --purge {PACKAGE})"
    );
    let work = tempfile::tempdir().unwrap();
    let deb = build_package(work.path());

    let fields = run("dpkg-deb", &["-f", deb.to_str().unwrap()]);
    let fields = String::from_utf8_lossy(&fields.stdout);
    assert!(
        fields.contains("Depends: openssh-client, libc6"),
        "{fields}"
    );
    assert!(
        fields.contains("Recommends: libvirt-clients, virtinst, openssl"),
        "{fields}"
    );

    let guard = Installed;
    let out = run("dpkg", &["-i", deb.to_str().unwrap()]);
    assert!(out.status.success(), "dpkg -i: {out:?}");
    assert!(installed());

    let listed = run("dpkg", &["-L", PACKAGE]);
    let files: Vec<PathBuf> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(PathBuf::from)
        .filter(|p| p.is_file())
        .collect();
    for wanted in [
        "/usr/bin/kubewiz",
        "/usr/share/kubewiz/preset.schema.json",
        "/usr/share/kubewiz/presets/kvm-lab.toml",
        "/usr/share/man/man1/kubewiz.1.gz",
        "/usr/share/man/man1/kubewiz-apply.1.gz",
        "/usr/share/bash-completion/completions/kubewiz",
        "/usr/share/zsh/vendor-completions/_kubewiz",
        "/usr/share/fish/vendor_completions.d/kubewiz.fish",
        "/usr/share/doc/kubewiz/README.md",
        "/usr/share/doc/kubewiz/copyright",
    ] {
        assert!(
            files.iter().any(|f| f == Path::new(wanted)),
            "{wanted} is not in the package: {files:?}"
        );
    }
    let copyright = std::fs::read_to_string("/usr/share/doc/kubewiz/copyright").unwrap();
    assert!(
        copyright.contains("License: Expat") && copyright.contains("Permission is hereby granted"),
        "{copyright}"
    );
    let preset = std::fs::read_to_string("/usr/share/kubewiz/presets/kvm-lab.toml").unwrap();
    assert!(
        preset.starts_with("#:schema ../preset.schema.json\n"),
        "the installed preset does not point at the installed schema:\n{preset}"
    );

    // bash-completion finds the installed script by itself, as in a login shell.
    let loaded = run(
        "bash",
        &[
            "--norc",
            "-c",
            "source /usr/share/bash-completion/bash_completion && _completion_loader kubewiz; complete -p kubewiz",
        ],
    );
    assert!(
        loaded.status.success() && String::from_utf8_lossy(&loaded.stdout).contains("kubewiz"),
        "bash-completion (scripts/test.sh installs it) does not load the installed completions: {loaded:?}"
    );

    // The installed program checks the installed presets.
    let state = tempfile::tempdir().unwrap();
    let validate = Command::new("sh")
        .arg("-c")
        .arg("/usr/bin/kubewiz validate /usr/share/kubewiz/presets/*.toml")
        .output()
        .unwrap();
    assert!(
        validate.status.success(),
        "validate of the installed presets: {validate:?}"
    );

    // The installed wizard opens on its first screen in a real terminal.
    let tmux = Tmux::start("package");
    let command = format!(
        "/usr/bin/kubewiz --state-dir {}; echo EXIT=$?",
        state.path().display()
    );
    tmux.keys(&[&command, "Enter"]);
    let screen = tmux.wait_for("What do you want to do?", Duration::from_secs(20));
    assert!(screen.contains("1/9 Start"), "{screen}");
    assert!(screen.contains("Load preset kvm-lab.toml"), "{screen}");
    tmux.keys(&["q"]);
    tmux.wait_for("(y/n)", Duration::from_secs(10));
    tmux.keys(&["y"]);
    tmux.wait_for("EXIT=0", Duration::from_secs(10));
    drop(tmux);

    // Purged, nothing of it is left.
    let out = run("dpkg", &["--purge", PACKAGE]);
    assert!(out.status.success(), "dpkg --purge: {out:?}");
    assert!(!run("dpkg-query", &["-W", PACKAGE]).status.success());
    let left: Vec<&PathBuf> = files.iter().filter(|f| f.exists()).collect();
    assert!(left.is_empty(), "left after purge: {left:?}");
    assert!(!Path::new("/usr/share/kubewiz").exists());
    assert!(!Path::new("/usr/share/doc/kubewiz").exists());
    drop(guard);
}
