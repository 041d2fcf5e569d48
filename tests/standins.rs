//! The systemctl and journalctl stand-ins that lab hosts use instead of systemd must
//! read units and fail the way systemd does, or lab tests would prove nothing.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

fn tool(root: &Path, name: &str, args: &[&str]) -> Output {
    Command::new(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/standins")
            .join(name),
    )
    .args(args)
    .env("KUBEWIZ_STANDIN_ROOT", root)
    .output()
    .unwrap()
}

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
}

#[test]
fn units_run_as_systemd_would_run_them() {
    let root = tempfile::tempdir().unwrap();
    let units = root.path().join("etc/systemd/system");
    fs::create_dir_all(units.join("demo.service.d")).unwrap();
    fs::create_dir_all(root.path().join("etc/demo")).unwrap();
    fs::write(
        root.path().join("etc/demo/env"),
        "# comment\nGREETING=\"hello\"\n",
    )
    .unwrap();
    fs::write(
        units.join("demo.service"),
        "[Unit]\nDescription=demo\n[Service]\nEnvironmentFile=/etc/demo/env\nExecStart=/bin/false\n",
    )
    .unwrap();
    fs::write(
        units.join("demo.service.d/10-override.conf"),
        "[Service]\nEnvironment=\"WHO=lab\" \"NAP=30\"\nExecStart=\nExecStart=/bin/sh -c \\\n  'echo $GREETING ${WHO}; sleep $NAP'\n",
    )
    .unwrap();

    let out = tool(root.path(), "systemctl", &["restart", "demo"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = tool(root.path(), "systemctl", &["is-active", "demo"]);
    assert_eq!((out.status.code(), text(&out).trim()), (Some(0), "active"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    // The drop-in's ExecStart replaced the unit's; both environments were read.
    assert_eq!(
        text(&tool(
            root.path(),
            "journalctl",
            &["-u", "demo", "-n", "5", "--no-pager"]
        ))
        .trim(),
        "hello lab"
    );
    assert!(
        tool(root.path(), "systemctl", &["stop", "demo"])
            .status
            .success()
    );
    let out = tool(root.path(), "systemctl", &["is-active", "--quiet", "demo"]);
    assert_eq!((out.status.code(), text(&out)), (Some(3), String::new()));
}

#[test]
fn failures_look_like_systemds() {
    let root = tempfile::tempdir().unwrap();
    let units = root.path().join("etc/systemd/system");
    fs::create_dir_all(&units).unwrap();
    let out = tool(root.path(), "systemctl", &["restart", "nope"]);
    assert_eq!(out.status.code(), Some(5));
    assert_eq!(
        text(&out).trim(),
        "Failed to restart nope.service: Unit nope.service not found."
    );
    // A required EnvironmentFile that is missing fails the start.
    fs::write(
        units.join("envless.service"),
        "[Service]\nEnvironmentFile=/etc/missing\nExecStart=/bin/sleep 30\n",
    )
    .unwrap();
    let out = tool(root.path(), "systemctl", &["start", "envless"]);
    assert!(!out.status.success());
    assert!(text(&out).contains("/etc/missing"), "{}", text(&out));
    // A service that dies at once failed to start, and its output is in the journal.
    fs::write(
        units.join("crash.service"),
        "[Service]\nExecStart=/bin/sh -c 'echo boom >&2; exit 3'\n",
    )
    .unwrap();
    let out = tool(root.path(), "systemctl", &["restart", "crash.service"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out).contains("exited with 3"), "{}", text(&out));
    assert_eq!(
        text(&tool(
            root.path(),
            "journalctl",
            &["-u", "crash", "-n", "1"]
        ))
        .trim(),
        "boom"
    );
    assert_eq!(
        text(&tool(root.path(), "journalctl", &["-u", "never-ran"])).trim(),
        "-- No entries --"
    );
}
