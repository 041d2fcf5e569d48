//! What is said about a run's audit log outside it: its start and the head of its
//! chain at its end, on the operator's screen and, with `--syslog`, in the system log.

use std::path::{Path, PathBuf};

use super::record::Body;

/// What a run's start sends to the system log with `--syslog`: the run, the cluster,
/// the operator and the log.
pub fn started(log: &Path, syslog: bool) {
    if !syslog {
        return;
    }
    let jsonl = jsonl_of(log);
    let opening = super::read_log(&jsonl).ok().and_then(|r| {
        r.into_iter().find_map(|(_, r)| match r.body {
            Body::Opening(o) => Some(o),
            _ => None,
        })
    });
    let message = match opening {
        Some(o) => format!(
            "{} run {} of cluster {} started by {}; audit log {}",
            o.kind.name(),
            o.run,
            o.cluster,
            o.identity.operator,
            jsonl.display()
        ),
        None => format!("run started; audit log {}", jsonl.display()),
    };
    send_to_syslog(&message);
}

/// At the end of a run, what is said about its audit log: the head of its chain, so a
/// copy kept elsewhere (the screen, the system log) proves the log whole.
pub fn closing(log: &Path) -> String {
    let jsonl = jsonl_of(log);
    let records = super::read_log(&jsonl).unwrap_or_default();
    let run = records.iter().find_map(|(_, r)| match &r.body {
        Body::Opening(o) => Some(o.run.clone()),
        _ => None,
    });
    let closing = records.iter().rev().find_map(|(_, r)| match &r.body {
        Body::Closing(c) => Some(c.clone()),
        _ => None,
    });
    let run = run.unwrap_or_else(|| stem(&jsonl));
    match closing {
        Some(c) => format!(
            "run {run} closed its audit log after {} records; head sha256 {} (`kubewiz audit verify {}` checks it)",
            c.records,
            c.head,
            jsonl.display()
        ),
        None => format!(
            "run {run} did not close its audit log {}; `kubewiz audit verify` shows how far it is whole",
            jsonl.display()
        ),
    }
}

/// One message to the system log through `logger` (journald or syslog, whichever the
/// host has); a failure is reported and the run's result stands.
pub fn send_to_syslog(message: &str) {
    let sent = std::process::Command::new("logger")
        .args(["-t", "kubewiz", "-p", "auth.notice", "--", message])
        .status();
    match sent {
        Ok(s) if s.success() => {}
        Ok(s) => eprintln!("kubewiz: logger {s}: the system log did not get: {message}"),
        Err(e) => eprintln!(
            "kubewiz: cannot run logger ({e}): the system log did not get: {message}; install util-linux or leave out --syslog"
        ),
    }
}

/// `x.jsonl` for `x.log`: the records, not the lines made from them.
fn jsonl_of(path: &Path) -> PathBuf {
    if path.extension().is_some_and(|e| e == "log") {
        path.with_extension("jsonl")
    } else {
        path.to_path_buf()
    }
}

fn stem(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}
