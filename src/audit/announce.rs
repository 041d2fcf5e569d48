//! What a run says of its audit log outside it: at the start, the run, the cluster,
//! the operator and the log; at the end, the head of the chain. The CLI prints the end
//! and the wizard shows it on its Done screen; with `--syslog` or the preset's
//! `[audit] syslog = true` both also go to the system log, so a copy kept off the
//! state directory proves the log whole.

use std::path::{Path, PathBuf};

use super::read_log;
use super::record::{Body, Closing};

/// `x.jsonl` for `x.log`: the records, not the lines made from them.
pub fn jsonl_of(path: &Path) -> PathBuf {
    if path.extension().is_some_and(|e| e == "log") {
        path.with_extension("jsonl")
    } else {
        path.to_path_buf()
    }
}

/// The line that says a run started, from its log's opening record.
pub fn started(log: &Path) -> String {
    let jsonl = jsonl_of(log);
    let opening = read_log(&jsonl).ok().and_then(|r| {
        r.into_iter().find_map(|(_, r)| match r.body {
            Body::Opening(o) => Some(o),
            _ => None,
        })
    });
    match opening {
        Some(o) => format!(
            "{} run {} of cluster {} started by {}; audit log {}",
            o.kind.name(),
            o.run,
            o.cluster,
            o.identity.operator,
            jsonl.display()
        ),
        None => format!("run started; audit log {}", jsonl.display()),
    }
}

/// How a run's audit log ended: its closing record, if the run wrote one.
#[derive(Debug, Clone)]
pub struct Ending {
    pub run: String,
    pub jsonl: PathBuf,
    pub closing: Option<Closing>,
}

impl Ending {
    /// Reads the end of the log at `log` (its `.log` or `.jsonl`).
    pub fn of(log: &Path) -> Ending {
        let jsonl = jsonl_of(log);
        let records = read_log(&jsonl).unwrap_or_default();
        let run = records
            .iter()
            .find_map(|(_, r)| match &r.body {
                Body::Opening(o) => Some(o.run.clone()),
                _ => None,
            })
            .unwrap_or_else(|| {
                jsonl
                    .file_stem()
                    .map(|s| s.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
        let closing = records.into_iter().rev().find_map(|(_, r)| match r.body {
            Body::Closing(c) => Some(c),
            _ => None,
        });
        Ending {
            run,
            jsonl,
            closing,
        }
    }

    /// The head of the chain, when the run closed its log.
    pub fn head(&self) -> Option<&str> {
        self.closing.as_ref().map(|c| c.head.as_str())
    }

    /// The line that says how the log ended, with the command that checks it.
    pub fn message(&self) -> String {
        match &self.closing {
            Some(c) => format!(
                "run {} closed its audit log after {} records; head sha256 {} (`kubewiz audit verify {}` checks it)",
                self.run,
                c.records,
                c.head,
                self.jsonl.display()
            ),
            None => format!(
                "run {} did not close its audit log {}; `kubewiz audit verify` shows how far it is whole",
                self.run,
                self.jsonl.display()
            ),
        }
    }
}

/// Sends one message to the system log through `logger` (journald or syslog,
/// whichever the machine has); the error says what the system log did not get.
pub fn to_syslog(message: &str) -> Result<(), String> {
    let sent = std::process::Command::new("logger")
        .args(["-t", "kubewiz", "-p", "auth.notice", "--", message])
        .status();
    match sent {
        Ok(s) if s.success() => Ok(()),
        Ok(s) => Err(format!("logger {s}: the system log did not get: {message}")),
        Err(e) => Err(format!(
            "cannot run logger ({e}): the system log did not get: {message}; install util-linux, or leave out --syslog and the preset's [audit] syslog"
        )),
    }
}
