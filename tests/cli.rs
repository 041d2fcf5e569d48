//! The command-line contract of DESIGN.md: exit codes and the shape of reported lines.

use std::path::Path;
use std::process::{Command, Output};

fn kubewiz(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn every_bundled_preset_validates() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("presets");
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .filter(|p| p.ends_with(".toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    for topology in [
        "single-node",
        "single-master",
        "stacked-ha",
        "external-etcd",
    ] {
        assert!(
            files
                .iter()
                .any(|f| f.ends_with(&format!("presets/{topology}.toml"))),
            "no preset for {topology}"
        );
    }
    assert!(files.iter().any(|f| f.ends_with("presets/kvm-lab.toml")));
    let mut args = vec!["validate"];
    args.extend(files.iter().map(String::as_str));
    let output = kubewiz(&args);
    let out = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{out}");
    assert!(!out.contains(": error: "), "{out}");
}

#[test]
fn one_line_per_problem_across_several_files() {
    let output = kubewiz(&[
        "validate",
        "presets/kvm-lab.toml",
        "tests/corpus/bad/duplicate-address.toml",
        "tests/corpus/bad/vip-missing.toml",
    ]);
    assert_eq!(output.status.code(), Some(1));
    let out = stdout(&output);
    let errors: Vec<&str> = out.lines().filter(|l| l.contains(": error: ")).collect();
    assert_eq!(errors.len(), 2, "{out}");
    assert!(
        errors[0].starts_with(
            "tests/corpus/bad/duplicate-address.toml:41:11: error: hosts[4].address: "
        )
    );
    assert!(
        errors[1].starts_with("tests/corpus/bad/vip-missing.toml:13:1: error: control_plane.vip: ")
    );
}

#[test]
fn a_missing_file_fails_the_work() {
    let output = kubewiz(&["validate", "no/such/preset.toml"]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stdout(&output)
            .starts_with("no/such/preset.toml:1:1: error: preset: cannot read the file:")
    );
}

#[test]
fn usage_errors_exit_2() {
    assert_eq!(kubewiz(&["validate"]).status.code(), Some(2));
    assert_eq!(kubewiz(&["frobnicate"]).status.code(), Some(2));
    assert_eq!(kubewiz(&["apply"]).status.code(), Some(2));
}

#[test]
fn reset_without_a_terminal_or_yes_refuses_before_touching_anything() {
    let state = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("--state-dir")
        .arg(state.path())
        .args(["reset", "--preset", "presets/kvm-lab.toml"])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(err.contains("give --yes"), "{err}");
    assert_eq!(std::fs::read_dir(state.path()).unwrap().count(), 0);
}

#[test]
fn apply_without_a_terminal_or_yes_refuses_before_touching_anything() {
    let state = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .args([
            "--state-dir",
            state.path().to_str().unwrap(),
            "apply",
            "--preset",
            "presets/kvm-lab.toml",
            "--no-tui",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("give --yes"));
    assert_eq!(
        std::fs::read_dir(state.path()).unwrap().count(),
        0,
        "something was written"
    );
}

#[test]
fn validate_json_says_what_the_text_says_one_object_per_line() {
    let files = [
        "tests/corpus/bad/many-load-errors-at-once.toml",
        "tests/corpus/good/warn-vip-unused.toml",
    ];
    let mut args = vec!["validate"];
    args.extend(files);
    let text = kubewiz(&args);
    args.push("--json");
    let json = kubewiz(&args);
    assert_eq!(text.status.code(), Some(1));
    assert_eq!(json.status.code(), Some(1));
    // Piped output never carries colour.
    assert!(!stdout(&text).contains('\x1b'), "{}", stdout(&text));
    let rebuilt: Vec<String> = stdout(&json)
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            format!(
                "{}:{}:{}: {}: {}: {}",
                v["file"].as_str().unwrap(),
                v["line"],
                v["column"],
                v["severity"].as_str().unwrap(),
                v["path"].as_str().unwrap(),
                v["message"].as_str().unwrap()
            )
        })
        .collect();
    let lines: Vec<String> = stdout(&text).lines().map(str::to_owned).collect();
    assert!(lines.len() >= 3, "{lines:?}");
    assert_eq!(rebuilt, lines);
}

#[test]
fn plan_json_has_the_summary_then_every_step_of_the_text_in_order() {
    let state = tempfile::tempdir().unwrap();
    let state = state.path().to_str().unwrap();
    let args = [
        "plan",
        "--preset",
        "presets/single-master.toml",
        "--state-dir",
        state,
    ];
    let text = kubewiz(&args);
    assert!(text.status.success(), "{text:?}");
    let mut json_args = args.to_vec();
    json_args.push("--json");
    let json = kubewiz(&json_args);
    assert!(json.status.success(), "{json:?}");
    let objects: Vec<serde_json::Value> = stdout(&json)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let text = stdout(&text);
    let header = text.lines().next().unwrap();
    assert_eq!(
        header,
        format!(
            "Plan for cluster {}: {} phases, {} steps. Nothing has run.",
            objects[0]["cluster"].as_str().unwrap(),
            objects[0]["phases"],
            objects[0]["steps"]
        )
    );
    // Step ids stand at an indent of four; the lines under them at six.
    let ids: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("    ") && !l.starts_with("      "))
        .map(|l| {
            l.trim()
                .trim_end_matches(" (apt hosts)")
                .trim_end_matches(" (dnf hosts)")
        })
        .collect();
    let json_ids: Vec<&str> = objects[1..]
        .iter()
        .map(|o| o["step"].as_str().unwrap())
        .collect();
    assert_eq!(json_ids, ids);
    assert_eq!(objects[0]["steps"], json_ids.len());
    let under: Vec<String> = text
        .lines()
        .filter(|l| l.starts_with("      "))
        .map(|l| l.trim_start().to_owned())
        .collect();
    let json_under: Vec<String> = objects[1..]
        .iter()
        .flat_map(|o| o["lines"].as_array().unwrap().clone())
        .map(|l| l.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(json_under, under);
}
