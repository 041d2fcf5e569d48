//! The index of runs: `<state-dir>/<cluster>/runs.jsonl`, one line per finished run
//! with the head of its audit log's chain. `kubewiz audit verify` compares a log with
//! it, so a log rewritten from some line on, or cut at the end, does not pass.

use std::fs::{self, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::chain::{Index, Kept};
use super::record::RunKind;
use crate::exec::events::RunOutcome;

/// The index's file name, in the cluster's state directory.
pub const FILE: &str = "runs.jsonl";

/// One finished run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Entry {
    /// The log's file name in `logs/`.
    pub log: String,
    pub run: String,
    pub kind: RunKind,
    pub dry_run: bool,
    pub started: String,
    pub finished: String,
    pub operator: String,
    pub outcome: RunOutcome,
    pub records: u64,
    pub head: String,
}

/// Adds a run's entry, synced, to the index (0600, made if missing).
pub fn add(path: &Path, entry: &Entry) -> io::Result<()> {
    let line = serde_json::to_string(entry).map_err(io::Error::other)?;
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)?;
    file.set_permissions(fs::Permissions::from_mode(0o600))?;
    file.write_all(format!("{line}\n").as_bytes())?;
    file.sync_all()
}

/// The index beside a log in `<cluster>/logs/`, if the log is in a state directory.
pub fn beside(log: &Path) -> Option<PathBuf> {
    let logs = log.parent()?;
    (logs.file_name()? == "logs").then(|| logs.parent().map(|c| c.join(FILE)))?
}

/// Every entry of an index; lines that are not entries are left out.
pub fn read(path: &Path) -> io::Result<Vec<Entry>> {
    Ok(fs::read_to_string(path)?
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect())
}

/// What the index beside `log` keeps for it.
pub fn lookup(log: &Path) -> io::Result<Index> {
    let Some(path) = beside(log).filter(|p| p.is_file()) else {
        return Ok(Index::Absent);
    };
    let name = log
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(read(&path)?
        .into_iter()
        .rfind(|e| e.log == name)
        .map_or(Index::NoEntry, |e| {
            Index::Kept(Kept {
                records: e.records,
                head: e.head,
            })
        }))
}
