//! The run journal: which steps finished, so `kubewiz resume` continues where a run
//! stopped without redoing them. One JSON line per finished step, synced to disk
//! before the next step starts.

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

#[derive(Serialize, Deserialize)]
struct Entry {
    step: String,
    at: String,
}

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

    /// Records that `step` finished.
    pub fn record(&mut self, step: &str, at: &str) -> io::Result<()> {
        let line = serde_json::to_string(&Entry {
            step: step.to_owned(),
            at: at.to_owned(),
        })
        .map_err(io::Error::other)?;
        writeln!(self.file, "{line}")?;
        self.file.sync_data()
    }
}

/// The steps a journal records as finished. A torn last line (the machine stopped
/// while writing it) is ignored: that step simply runs again.
pub fn finished_steps(path: &Path) -> io::Result<HashSet<String>> {
    let file = File::open(path)?;
    let mut done = HashSet::new();
    for line in BufReader::new(file).lines() {
        if let Ok(entry) = serde_json::from_str::<Entry>(&line?) {
            done.insert(entry.step);
        }
    }
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_survive_and_a_torn_line_is_ignored() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("journal");
        let mut journal = Journal::create(&path).unwrap();
        journal.record("prepare/a/swap", "t").unwrap();
        journal.record("prepare/a/modules", "t").unwrap();
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
            HashSet::from([
                "prepare/a/swap".to_string(),
                "prepare/a/modules".to_string()
            ])
        );
        let mut again = Journal::append(&path).unwrap();
        again.record("prepare/a/sysctl", "t").unwrap();
        assert!(
            finished_steps(&path).unwrap().contains("prepare/a/sysctl"),
            "the torn line swallowed the next record"
        );
        assert_eq!(finished_steps(&path).unwrap().len(), 3);
    }
}
