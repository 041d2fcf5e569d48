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
    logs.sort();
    logs
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
