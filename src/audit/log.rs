//! The audit log of a run: `logs/<run>.jsonl` (one record per line, chained by hash)
//! and a readable `logs/<run>.log` made from the same records. Each line is written
//! whole and flushed as it is written, so a crash or a lost console still leaves the
//! record up to that moment. Events reach it already redacted. The logs directory is
//! 0700 and the files 0600: command output is not for every user of the KVM host.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::chain::{genesis, link};
use super::identity::Identity;
use super::index::{self, Entry};
use super::record::{CLOSING, Closing, CpuUse, OPENING, Opening, Record, RunKind};
use crate::exec::events::{Event, RunOutcome, Stamped};
use crate::exec::sink::EventSink;

/// What a run's log starts with, besides who runs it.
pub struct Start<'a> {
    /// The logs directory.
    pub dir: &'a Path,
    /// The index of runs, where the head is kept when the run finishes.
    pub index: &'a Path,
    /// The run's name: the UTC time it started (`20261203T221500Z`).
    pub stamp: &'a str,
    pub at: &'a str,
    pub kind: RunKind,
    pub cluster: &'a str,
    pub dry_run: bool,
    pub preset_sha256: &'a str,
}

pub struct AuditLog {
    jsonl: File,
    text: File,
    path: PathBuf,
    index: PathBuf,
    operator: String,
    opening: Opening,
    /// The last record's place and the hash of its line.
    seq: u64,
    prev: String,
    closed: bool,
}

#[derive(Serialize)]
struct Line<'a, T: Serialize> {
    seq: u64,
    prev: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    operator: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    event: Option<&'static str>,
    #[serde(flatten)]
    body: &'a T,
}

/// Creates `dir` (and its missing parents) private to the user, and makes it so if it
/// was not.
pub fn private_dir(dir: &Path) -> io::Result<()> {
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
}

impl AuditLog {
    /// Creates the two files of a new run and writes its opening record: the run,
    /// the operator as the system knows them, the kubewiz executable and the preset.
    pub fn create(start: Start<'_>, identity: Identity) -> io::Result<AuditLog> {
        private_dir(start.dir)?;
        // Two runs in the same second get `stamp` and `stamp-2`: a log is never
        // appended to or overwritten.
        let mut n = 1;
        let (jsonl, text, run) = loop {
            let run = if n == 1 {
                start.stamp.to_owned()
            } else {
                format!("{}-{n}", start.stamp)
            };
            let open = |ext: &str| {
                OpenOptions::new()
                    .create_new(true)
                    .write(true)
                    .mode(0o600)
                    .open(start.dir.join(format!("{run}.{ext}")))
            };
            match (open("jsonl"), open("log")) {
                (Ok(jsonl), Ok(text)) => break (jsonl, text, run),
                (Err(e), _) | (_, Err(e))
                    if e.kind() != io::ErrorKind::AlreadyExists || n > 100 =>
                {
                    return Err(e);
                }
                _ => n += 1,
            }
        };
        let opening = Opening {
            at: start.at.to_owned(),
            run: run.clone(),
            kind: start.kind,
            cluster: start.cluster.to_owned(),
            dry_run: start.dry_run,
            preset_sha256: start.preset_sha256.to_owned(),
            identity,
        };
        let mut log = AuditLog {
            jsonl,
            text,
            path: start.dir.join(format!("{run}.log")),
            index: start.index.to_path_buf(),
            operator: opening.identity.operator.clone(),
            prev: genesis(&run),
            opening,
            seq: 0,
            closed: false,
        };
        let opening = log.opening.clone();
        log.append(None, Some(OPENING), &opening)?;
        tracing::debug!(run = %run, log = %log.path.display(), "audit log started");
        Ok(log)
    }

    /// The readable log's path, shown to the operator.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run's id (the logs' name).
    pub fn run(&self) -> &str {
        &self.opening.run
    }

    /// Records one event; the run's last event closes the log.
    pub fn write(&mut self, stamped: &Stamped) -> io::Result<()> {
        if self.closed {
            return Err(io::Error::other(format!(
                "{} is closed; the event at {} was not recorded",
                self.path.display(),
                stamped.at
            )));
        }
        let operator = self.operator.clone();
        self.append(Some(&operator), None, stamped)?;
        if let Event::RunFinished { outcome, .. } = &stamped.event {
            self.close(&stamped.at, *outcome)?;
        }
        Ok(())
    }

    /// Writes one record, chained to the one before, then its readable line.
    fn append<T: Serialize>(
        &mut self,
        operator: Option<&str>,
        event: Option<&'static str>,
        body: &T,
    ) -> io::Result<()> {
        let seq = self.seq + 1;
        let json = serde_json::to_string(&Line {
            seq,
            prev: &self.prev,
            operator,
            event,
            body,
        })
        .map_err(io::Error::other)?;
        // One write per line: a process killed mid-line leaves at most that line torn.
        self.jsonl.write_all(format!("{json}\n").as_bytes())?;
        self.jsonl.flush()?;
        self.seq = seq;
        self.prev = link(&json);
        let record = Record::parse(&json).map_err(io::Error::other)?;
        self.text
            .write_all(format!("{}\n", record.readable()).as_bytes())?;
        self.text.flush()?;
        Ok(())
    }

    /// The closing record, then the head in the index of runs.
    fn close(&mut self, at: &str, outcome: RunOutcome) -> io::Result<()> {
        let closing = Closing {
            at: at.to_owned(),
            records: self.seq,
            head: self.prev.clone(),
            cpu: cpu_use(),
        };
        self.append(None, Some(CLOSING), &closing)?;
        self.closed = true;
        self.jsonl.sync_all()?;
        self.text.sync_all()?;
        index::add(
            &self.index,
            &Entry {
                log: format!("{}.jsonl", self.opening.run),
                run: self.opening.run.clone(),
                kind: self.opening.kind,
                dry_run: self.opening.dry_run,
                started: self.opening.at.clone(),
                finished: at.to_owned(),
                operator: self.operator.clone(),
                outcome,
                records: closing.records,
                head: closing.head.clone(),
            },
        )?;
        tracing::debug!(run = %self.opening.run, head = %closing.head, "audit log closed");
        Ok(())
    }
}

impl EventSink for AuditLog {
    fn name(&self) -> &'static str {
        "the audit log"
    }

    fn event(&mut self, event: &Stamped) -> io::Result<()> {
        self.write(event)
    }
}

/// This process's CPU use so far; None where /proc cannot be read.
fn cpu_use() -> Option<CpuUse> {
    let stat = fs::read_to_string("/proc/self/stat").ok()?;
    // After the command name in parentheses, which may hold spaces: field 3 on.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let tick = |i: usize| fields.get(i)?.parse::<u64>().ok();
    // utime, stime, cutime, cstime are fields 14 to 17 of proc(5).
    let (utime, stime, cutime, cstime) = (tick(11)?, tick(12)?, tick(13)?, tick(14)?);
    let per_second = rustix::param::clock_ticks_per_second().max(1);
    let ms = |ticks: u64| ticks * 1000 / per_second;
    Some(CpuUse {
        own_ms: ms(utime + stime),
        children_ms: ms(cutime + cstime),
    })
}
