//! The audit log of a run: `logs/<timestamp>.jsonl` (one event per line, with the
//! operator) and a readable `logs/<timestamp>.log`. Each line is flushed as it is
//! written, so a crash or a lost console still leaves the record up to that moment.
//! Events reach it already redacted.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::exec::events::{Event, Stamped, StepOutcome};
use crate::exec::sink::EventSink;

pub struct AuditLog {
    jsonl: File,
    text: File,
    operator: String,
    path: PathBuf,
}

#[derive(Serialize)]
struct Record<'a> {
    operator: &'a str,
    #[serde(flatten)]
    event: &'a Stamped,
}

/// Who is running kubewiz: the user behind sudo when there is one.
pub fn operator() -> String {
    ["SUDO_USER", "USER", "LOGNAME"]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|u| !u.is_empty()))
        .unwrap_or_else(|| "unknown".into())
}

/// What the first line of every audit log says: who ran which kubewiz on which preset.
#[derive(Serialize)]
struct Header<'a> {
    event: &'static str,
    at: &'a str,
    operator: &'a str,
    kubewiz_version: &'static str,
    preset_sha256: &'a str,
}

impl AuditLog {
    /// Creates the two files for a run named `stamp` in `dir`, starting each with the
    /// operator, the kubewiz version and the hash of the preset applied.
    pub fn create(dir: &Path, stamp: &str, preset_sha256: &str, at: &str) -> io::Result<AuditLog> {
        fs::create_dir_all(dir)?;
        // Two runs in the same second get `stamp` and `stamp-2`: a log is never
        // appended to or overwritten.
        let mut n = 1;
        let mut log = loop {
            let name = if n == 1 {
                stamp.to_owned()
            } else {
                format!("{stamp}-{n}")
            };
            let open = |ext: &str| {
                OpenOptions::new()
                    .create_new(true)
                    .write(true)
                    .open(dir.join(format!("{name}.{ext}")))
            };
            match (open("jsonl"), open("log")) {
                (Ok(jsonl), Ok(text)) => {
                    break AuditLog {
                        jsonl,
                        text,
                        operator: operator(),
                        path: dir.join(format!("{name}.log")),
                    };
                }
                (Err(e), _) | (_, Err(e))
                    if e.kind() != io::ErrorKind::AlreadyExists || n > 100 =>
                {
                    return Err(e);
                }
                _ => n += 1,
            }
        };
        let header = Header {
            event: "audit_started",
            at,
            operator: &log.operator,
            kubewiz_version: env!("CARGO_PKG_VERSION"),
            preset_sha256,
        };
        writeln!(
            log.jsonl,
            "{}",
            serde_json::to_string(&header).map_err(io::Error::other)?
        )?;
        writeln!(
            log.text,
            "{at} kubewiz {} run by {}; preset sha256 {preset_sha256}",
            header.kubewiz_version, log.operator
        )?;
        log.jsonl.flush()?;
        log.text.flush()?;
        Ok(log)
    }

    /// The readable log's path, shown to the operator.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn write(&mut self, stamped: &Stamped) -> io::Result<()> {
        let record = Record {
            operator: &self.operator,
            event: stamped,
        };
        let json = serde_json::to_string(&record).map_err(io::Error::other)?;
        writeln!(self.jsonl, "{json}")?;
        self.jsonl.flush()?;
        if let Some(line) = readable(stamped) {
            writeln!(self.text, "{line}")?;
            self.text.flush()?;
        }
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

/// One line of the readable log.
fn readable(stamped: &Stamped) -> Option<String> {
    let at = &stamped.at;
    Some(match &stamped.event {
        Event::RunStarted {
            run_id,
            cluster,
            dry_run,
            ..
        } => {
            format!(
                "{at} run {run_id} of cluster {cluster} started by {}{}",
                operator(),
                if *dry_run { " (dry run)" } else { "" }
            )
        }
        Event::PhaseStarted { phase, hosts, .. } => {
            format!("{at} phase {phase} on {}", hosts.join(", "))
        }
        Event::StepStarted {
            host,
            step,
            command,
            ..
        } => match command {
            Some(c) => format!("{at} [{host}] {step}: $ {c}"),
            None => format!("{at} [{host}] {step}"),
        },
        Event::StepOutput { host, line, .. } => format!("{at} [{host}] | {line}"),
        Event::StepFinished {
            host,
            step,
            outcome,
            duration_ms,
        } => match outcome {
            StepOutcome::Done => format!("{at} [{host}] {step}: done in {duration_ms} ms"),
            StepOutcome::Skipped { reason } => format!("{at} [{host}] {step}: skipped ({reason})"),
            StepOutcome::Failed { exit_code, message } => {
                format!(
                    "{at} [{host}] {step}: FAILED (exit {}) after {duration_ms} ms: {message}",
                    exit_code.map_or("none".into(), |c| c.to_string())
                )
            }
        },
        Event::HostFailed { host, step, .. } => format!("{at} [{host}] stopped at {step}"),
        Event::PhaseFinished {
            phase,
            failed_hosts,
        } if failed_hosts.is_empty() => format!("{at} phase {phase} finished"),
        Event::PhaseFinished {
            phase,
            failed_hosts,
        } => {
            format!(
                "{at} phase {phase} finished; failed: {}",
                failed_hosts.join(", ")
            )
        }
        Event::RunFinished { outcome, .. } => format!("{at} run finished: {outcome:?}"),
    })
}
