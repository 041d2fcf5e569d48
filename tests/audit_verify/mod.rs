//! Every audit log a test's runs left is checked by the real `kubewiz audit verify`,
//! so no test's run can write a log that does not prove itself whole. A run killed
//! on purpose passes as unfinished ("ends without a closing record"), not as
//! tampered.
//!
//! Include it with `#[path = "audit_verify/mod.rs"] mod audit_verify;`.
#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The JSONL audit logs under `state`: every `*.jsonl` in a `logs` directory (the
/// index of runs, `runs.jsonl`, sits beside `logs`, not in it).
pub fn audit_logs(state: &Path) -> Vec<PathBuf> {
    let mut logs = Vec::new();
    let mut dirs = vec![state.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "jsonl")
                && dir.file_name().is_some_and(|n| n == "logs")
            {
                logs.push(path);
            }
        }
    }
    logs.sort_by_key(|p| run_order(p));
    logs
}

/// Orders logs as their runs started: two runs in the same second are `STAMP` and
/// `STAMP-2`, which a plain sort of the names puts the other way round.
fn run_order(log: &Path) -> (PathBuf, String, u32) {
    let stem = log.file_stem().unwrap_or_default().to_string_lossy();
    let (stamp, n) = match stem.rsplit_once('-') {
        Some((stamp, n)) if n.parse::<u32>().is_ok() => (stamp.to_owned(), n.parse().unwrap()),
        _ => (stem.into_owned(), 1),
    };
    (
        log.parent().map(Path::to_path_buf).unwrap_or_default(),
        stamp,
        n,
    )
}

/// Runs `kubewiz audit verify` on every audit log under `state` and fails the test,
/// with what it said, unless every one verifies. Returns what it said (empty when
/// there is no log).
pub fn verify_audit_logs(state: &Path) -> String {
    let logs = audit_logs(state);
    if logs.is_empty() {
        return String::new();
    }
    let out = Command::new(env!("CARGO_BIN_EXE_kubewiz"))
        .args(["audit", "verify"])
        .args(&logs)
        .env_remove("KUBEWIZ_LOG")
        .output()
        .unwrap();
    let said =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "kubewiz audit verify found a log of this test's runs that is not whole ({:?}):\n{said}",
        out.status
    );
    assert_eq!(
        said.lines().count(),
        logs.len(),
        "one line per log:\n{said}"
    );
    said
}
