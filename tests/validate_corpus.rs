//! The validation corpus: presets that must pass and presets that must fail, each with
//! the exact lines `kubewiz validate` must print for it (`#! LINE:COL: ...` at its end).

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

struct Run {
    code: i32,
    lines: Vec<String>,
}

/// Runs `kubewiz validate FILE` with a HOME that has an SSH key, so that only the
/// cases about the key see the missing-key warning.
fn validate(file: &Path) -> Run {
    let home = tempfile::tempdir().unwrap();
    fs::create_dir(home.path().join(".ssh")).unwrap();
    fs::write(home.path().join(".ssh/id_ed25519"), "key").unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .arg("validate")
        .arg(file)
        .env("HOME", home.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    let prefix = format!("{}:", file.display());
    let lines = stdout
        .lines()
        .map(|l| {
            l.strip_prefix(&prefix)
                .unwrap_or_else(|| panic!("line without the file name: {l}"))
                .replace(&home.path().display().to_string(), "$HOME")
        })
        .collect();
    Run {
        code: output.status.code().unwrap(),
        lines,
    }
}

fn expected(file: &Path) -> Vec<String> {
    fs::read_to_string(file)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("#! "))
        .map(str::to_owned)
        .collect()
}

fn cases(kind: &str) -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus")
        .join(kind);
    let mut files: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

fn check_all(kind: &str, code: i32) -> usize {
    let files = cases(kind);
    let mut failures = Vec::new();
    for file in &files {
        let want = expected(file);
        let has_error = want.iter().any(|l| l.contains(": error: "));
        assert_eq!(
            has_error,
            code == 1,
            "{}: a {kind} case must {} expect an error",
            file.display(),
            if code == 1 { "" } else { "not" }
        );
        let run = validate(file);
        if run.lines != want || run.code != code {
            failures.push(format!(
                "{}\n  exit {} (want {code})\n  got:\n    {}\n  want:\n    {}",
                file.display(),
                run.code,
                run.lines.join("\n    "),
                want.join("\n    ")
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    files.len()
}

#[test]
fn presets_that_must_fail_fail_with_their_messages() {
    let count = check_all("bad", 1);
    assert!(count >= 40, "the corpus has only {count} failing cases");
}

#[test]
fn presets_that_must_pass_pass_with_only_their_warnings() {
    let count = check_all("good", 0);
    assert!(count >= 10, "the corpus has only {count} passing cases");
}
