//! `kubewiz audit list | show | verify`: reading and checking the audit logs of a
//! cluster's runs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::{EXIT_FAILED, EXIT_OK};
use crate::audit::announce::{self, jsonl_of};
use crate::audit::record::Body;
use crate::audit::{self, Record, Verdict};
use crate::exec::events::Event;
use crate::state::{self, ClusterState};

/// What `kubewiz audit show` was asked for.
pub struct ShowArgs<'a> {
    pub target: &'a str,
    pub run: Option<&'a str>,
    pub host: Option<&'a str>,
    pub failed: bool,
    pub json: bool,
    /// The run's timing instead of its lines (`audit::timing`).
    pub timing: bool,
}

/// `kubewiz audit verify FILE...`: one line per file; exit 1 when any is not whole.
pub fn verify(files: &[PathBuf]) -> ExitCode {
    let mut whole = true;
    for file in files {
        let file = jsonl_of(file);
        match audit::verify_file(&file) {
            Ok(Verdict::Whole {
                run,
                records,
                head,
                indexed,
            }) => println!(
                "{}: whole: run {run}, {records} records, head sha256 {head}{}",
                file.display(),
                if indexed {
                    " (the same as in the index of runs)"
                } else {
                    " (no index of runs beside it: compare the head with the copy kept elsewhere)"
                }
            ),
            Ok(Verdict::Unfinished { run, last }) => println!(
                "{}: run {run} ends without a closing record at line {last}; lines 1 to {last} verified (the run was killed or crashed before it finished)",
                file.display()
            ),
            Ok(Verdict::Broken { line, what }) => {
                whole = false;
                println!("{}:{line}: {what}", file.display());
            }
            Err(e) => {
                whole = false;
                eprintln!("kubewiz: {e}");
            }
        }
    }
    ExitCode::from(if whole { EXIT_OK } else { EXIT_FAILED })
}

/// `kubewiz audit list NAME`: one line per run, oldest first.
pub fn list(state_dir: Option<&Path>, name: &str) -> ExitCode {
    let logs = match logs_of(state_dir, name) {
        Ok(l) => l,
        Err(e) => return fail(&e),
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(
        out,
        "{:<20} {:<30} {:<22} {:<24} {:<32} head",
        "run", "started", "kind", "operator", "result"
    );
    for log in logs {
        let records = match audit::read_log(&log) {
            Ok(r) => r,
            Err(e) => {
                let _ = writeln!(out, "{:<20} {e}", stem(&log));
                continue;
            }
        };
        let _ = writeln!(out, "{}", summary(&log, &records));
    }
    ExitCode::from(EXIT_OK)
}

/// A run's line in `audit list`.
fn summary(log: &Path, records: &[(String, Record)]) -> String {
    let mut run = stem(log);
    let (mut started, mut kind, mut operator) = (String::new(), String::new(), String::new());
    let mut result = "not finished (no closing record)".to_owned();
    let mut head = "-".to_owned();
    for (_, record) in records {
        match &record.body {
            Body::Opening(o) => {
                run = o.run.clone();
                started = o.at.clone();
                kind = format!(
                    "{}{}",
                    o.kind.name(),
                    if o.dry_run { " (dry run)" } else { "" }
                );
                operator = o.identity.operator.clone();
            }
            Body::Event(s) => {
                if let Event::RunFinished { outcome, .. } = &s.event {
                    result = format!("{outcome:?}").to_lowercase();
                }
            }
            Body::Closing(c) => head = c.head.clone(),
        }
    }
    format!("{run:<20} {started:<30} {kind:<22} {operator:<24} {result:<32} {head}")
}

/// `kubewiz audit show NAME|FILE`: the readable lines of one run, filtered.
pub fn show(state_dir: Option<&Path>, args: ShowArgs<'_>) -> ExitCode {
    let file = match show_target(state_dir, &args) {
        Ok(f) => f,
        Err(e) => return fail(&e),
    };
    let records = match audit::read_log(&file) {
        Ok(r) => r,
        Err(e) => return fail(&e),
    };
    if let (Some(run), Some((_, first))) = (args.run, records.first())
        && let Body::Opening(o) = &first.body
        && o.run != run
    {
        return fail(&format!(
            "{} holds run {}, not {run}; `kubewiz audit list NAME` lists the runs",
            file.display(),
            o.run
        ));
    }
    if args.timing {
        return match crate::audit::timing::timing(&records) {
            Ok(timing) => {
                // A reader that went away (`| head`) is not an error.
                let _ = write!(std::io::stdout().lock(), "{timing}");
                ExitCode::from(EXIT_OK)
            }
            Err(e) => fail(&format!("{}: {e}", file.display())),
        };
    }
    let mut out = std::io::stdout().lock();
    for (line, record) in &records {
        let opening = matches!(record.body, Body::Opening(_));
        if !opening {
            if args.host.is_some_and(|h| record.host() != Some(h)) {
                continue;
            }
            if args.failed && !record.failed() {
                continue;
            }
        }
        let text = if args.json {
            line.clone()
        } else {
            record.readable()
        };
        if writeln!(out, "{text}").is_err() {
            // The reader went away (`| head`).
            break;
        }
    }
    ExitCode::from(EXIT_OK)
}

/// The JSONL log `show` reads: FILE (its `.jsonl` when given the `.log`), or run ID of
/// cluster NAME, or NAME's latest run.
fn show_target(state_dir: Option<&Path>, args: &ShowArgs<'_>) -> Result<PathBuf, String> {
    let path = Path::new(args.target);
    if path.is_file() {
        return Ok(jsonl_of(path));
    }
    let logs = logs_of(state_dir, args.target)?;
    match args.run {
        Some(run) => logs
            .iter()
            .find(|l| stem(l) == run)
            .cloned()
            .ok_or_else(|| {
                format!(
                    "cluster {} has no run {run}; `kubewiz audit list {}` lists its runs",
                    args.target, args.target
                )
            }),
        None => logs
            .last()
            .cloned()
            .ok_or_else(|| format!("cluster {} has no audit log yet", args.target)),
    }
}

/// Cluster NAME's JSONL logs, oldest first (their names are the UTC times they
/// started).
fn logs_of(state_dir: Option<&Path>, name: &str) -> Result<Vec<PathBuf>, String> {
    let dir = state_dir.map_or_else(state::default_dir, Path::to_path_buf);
    let logs = ClusterState::new(&dir, name).logs_dir();
    let entries = std::fs::read_dir(&logs).map_err(|e| {
        format!(
            "no logs of cluster {name}: cannot read {}: {e}; give the state directory with --state-dir, or a log FILE",
            logs.display()
        )
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    files.sort();
    Ok(files)
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn fail(message: &str) -> ExitCode {
    eprintln!("kubewiz: {message}");
    ExitCode::from(EXIT_FAILED)
}

/// At a run's start, with `syslog`: the run, the cluster, the operator and the log to
/// the system log.
pub(super) fn started(log: &Path, syslog: bool) {
    if syslog && let Err(e) = announce::to_syslog(&announce::started(log)) {
        eprintln!("kubewiz: {e}");
    }
}

/// At the end of a run: the head of its audit log's chain on stderr and, with
/// `syslog`, in the system log.
pub(super) fn finished(log: &Path, syslog: bool) {
    let message = announce::Ending::of(log).message();
    eprintln!("kubewiz: {message}");
    if syslog && let Err(e) = announce::to_syslog(&message) {
        eprintln!("kubewiz: {e}");
    }
}
