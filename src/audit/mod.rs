//! The record of every run: the audit log written as the run goes (hash-chained, with
//! the operator as the system knows them), its index of runs, and reading and checking
//! it back (`kubewiz audit`). Redaction of secrets happens before events reach it.

pub mod announce;
pub mod chain;
pub mod identity;
pub mod index;
mod log;
pub mod record;
pub mod timing;

use std::path::Path;

pub use crate::exec::redact::{REDACTED, Redactor};
pub use chain::Verdict;
pub use identity::Identity;
pub use log::{AuditLog, Start, private_dir};
pub use record::{Record, RunKind};

/// Checks a JSONL audit log: its chain, and its head against the index of runs beside
/// it. The error says which file could not be read and why.
pub fn verify_file(path: &Path) -> Result<Verdict, String> {
    let text = std::fs::read(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let index = index::lookup(path).map_err(|e| {
        format!(
            "cannot read the index of runs beside {}: {e}",
            path.display()
        )
    })?;
    Ok(chain::verify(&String::from_utf8_lossy(&text), &index))
}

/// Every record of a JSONL audit log with its line, in order; a line that is not a
/// record is an error naming the file and the line.
pub fn read_log(path: &Path) -> Result<Vec<(String, Record)>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let lines: Vec<&str> = text.lines().collect();
    // A run killed while writing leaves its last line unfinished: not a record yet.
    let whole = if text.ends_with('\n') || lines.last().is_some_and(|l| Record::parse(l).is_ok()) {
        lines.len()
    } else {
        lines.len() - 1
    };
    lines[..whole]
        .iter()
        .enumerate()
        .map(|(i, line)| {
            Record::parse(line)
                .map(|r| ((*line).to_owned(), r))
                .map_err(|e| {
                    format!(
                        "{}:{}: not an audit record: {e}; `kubewiz audit verify {}` tells what happened to it",
                        path.display(),
                        i + 1,
                        path.display()
                    )
                })
        })
        .collect()
}
