//! The run journal: which steps finished and with which inputs, so `kubewiz resume` and
//! a repeated `apply` continue where a run stopped without redoing them, and redo a
//! step whose inputs changed since. One JSON line per finished step, synced to disk
//! before the next step starts.

use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::sink::EventSink;

#[derive(Serialize, Deserialize)]
struct Entry {
    step: String,
    /// sha256 of what the step did: the command, or the uploaded path, mode and content.
    inputs: String,
    at: String,
}

pub use crate::plan::Finished;

/// An open journal file.
pub struct Journal {
    file: File,
}

impl Journal {
    /// Starts a new journal at `path`, keeping none of an earlier one.
    pub fn create(path: &Path) -> io::Result<Journal> {
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(true)
            .open(path)?;
        Ok(Journal { file })
    }

    /// Opens the journal at `path` to add to it. A torn last line is ended first, so
    /// the next record does not run into it.
    pub fn append(path: &Path) -> io::Result<Journal> {
        let torn = fs::read(path)?.last().is_some_and(|b| *b != b'\n');
        let mut file = OpenOptions::new().append(true).open(path)?;
        if torn {
            file.write_all(b"\n")?;
        }
        Ok(Journal { file })
    }

    /// Records that `step` finished with `inputs`.
    pub fn record(&mut self, step: &str, inputs: &str, at: &str) -> io::Result<()> {
        let line = serde_json::to_string(&Entry {
            step: step.to_owned(),
            inputs: inputs.to_owned(),
            at: at.to_owned(),
        })
        .map_err(io::Error::other)?;
        writeln!(self.file, "{line}")?;
        self.file.sync_data()
    }
}

impl EventSink for Journal {
    fn name(&self) -> &'static str {
        "the journal"
    }

    fn step_done(&mut self, step: &str, inputs: &str, at: &str) -> io::Result<()> {
        self.record(step, inputs, at)
    }
}

/// The steps a journal records as finished (the latest record of each). A torn last
/// line (the machine stopped while writing it) is ignored: that step simply runs again.
pub fn finished_steps(path: &Path) -> io::Result<Finished> {
    let file = File::open(path)?;
    let mut done = Finished::new();
    for line in BufReader::new(file).lines() {
        if let Ok(entry) = serde_json::from_str::<Entry>(&line?) {
            done.insert(entry.step, entry.inputs);
        }
    }
    Ok(done)
}

/// The steps the journal at `path` records as finished, or None when there is no
/// journal (the cluster never ran); the error says which file and what to check.
pub fn finished_if_any(path: &Path) -> Result<Option<Finished>, String> {
    if !path.is_file() {
        return Ok(None);
    }
    finished_steps(path).map(Some).map_err(|e| {
        format!(
            "cannot read the journal {}: {e}; check its owner and mode",
            path.display()
        )
    })
}

/// Takes every step of `host` out of the journal at `path` (when there is one), written
/// again atomically: a host reset by `kubewiz node remove` has none of them done any
/// more, and joins again from the start when it is added back.
pub fn forget_host(path: &Path, host: &str) -> io::Result<()> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let kept: String = text
        .lines()
        .filter(|line| {
            serde_json::from_str::<Entry>(line)
                .map_or(true, |e| e.step.split('/').nth(1) != Some(host))
        })
        .map(|line| format!("{line}\n"))
        .collect();
    crate::state::write_atomic(path, kept.as_bytes(), 0o600)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_forgotten_host_has_no_step_done() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let mut j = Journal::create(&path).unwrap();
        j.record("prepare/kubenode-1/sysctl", "a", "t").unwrap();
        j.record("prepare/kubenode-10/sysctl", "b", "t").unwrap();
        j.record("workers/kubenode-1/join", "c", "t").unwrap();
        drop(j);
        forget_host(&path, "kubenode-1").unwrap();
        let left = finished_steps(&path).unwrap();
        assert_eq!(left.len(), 1);
        assert!(left.contains_key("prepare/kubenode-10/sysctl"));
    }

    #[test]
    fn records_survive_and_a_torn_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let mut journal = Journal::create(&path).unwrap();
        journal.record("prepare/a/swap", "h1", "t").unwrap();
        journal.record("prepare/a/modules", "h2", "t").unwrap();
        drop(journal);
        fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"{\"step\":\"prep")
            .unwrap();
        let done = finished_steps(&path).unwrap();
        assert_eq!(
            done,
            Finished::from([
                ("prepare/a/swap".into(), "h1".into()),
                ("prepare/a/modules".into(), "h2".into())
            ])
        );
        let mut again = Journal::append(&path).unwrap();
        again.record("prepare/a/sysctl", "h3", "t").unwrap();
        again.record("prepare/a/swap", "h4", "t").unwrap();
        let done = finished_steps(&path).unwrap();
        assert!(
            done.contains_key("prepare/a/sysctl"),
            "the torn line swallowed the next record"
        );
        assert_eq!(done.len(), 3);
        assert_eq!(done["prepare/a/swap"], "h4", "the latest record counts");
    }
}
