//! The line output of `kubewiz apply --no-tui`: one line per step and per output line,
//! prefixed with the host, readable in a CI log or over a serial console.

use std::collections::BTreeMap;
use std::fmt;

use super::events::{Event, RunOutcome, StepOutcome, Stream};

/// Per host: steps done, skipped and failed, and the time its steps took.
#[derive(Debug, Default)]
pub struct Summary {
    hosts: BTreeMap<String, HostSummary>,
}

#[derive(Debug, Default)]
struct HostSummary {
    done: usize,
    skipped: usize,
    failed: Option<String>,
    millis: u64,
}

impl Summary {
    pub fn add(&mut self, event: &Event) {
        if let Event::StepFinished {
            host,
            step,
            outcome,
            duration_ms,
        } = event
        {
            let h = self.hosts.entry(host.clone()).or_default();
            h.millis += duration_ms;
            match outcome {
                StepOutcome::Done => h.done += 1,
                StepOutcome::Skipped { .. } => h.skipped += 1,
                StepOutcome::Failed { .. } => h.failed = Some(step.clone()),
            }
        }
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.hosts.is_empty() {
            return Ok(());
        }
        let width = self.hosts.keys().map(String::len).max().unwrap_or(4).max(4);
        writeln!(
            f,
            "\n{:width$}  {:>5}  {:>7}  {:>8}  result",
            "host", "done", "skipped", "time"
        )?;
        for (host, h) in &self.hosts {
            let result = h
                .failed
                .as_ref()
                .map_or("ok".to_string(), |s| format!("FAILED at {s}"));
            writeln!(
                f,
                "{host:width$}  {:>5}  {:>7}  {:>7.1}s  {result}",
                h.done,
                h.skipped,
                h.millis as f64 / 1000.0
            )?;
        }
        Ok(())
    }
}

/// What an event says, in the same words for every view of the run: the line output
/// adds `kubewiz: ` to the run's own lines, the readable audit log the event's time.
pub fn describe(event: &Event) -> String {
    match event {
        Event::RunStarted {
            cluster,
            dry_run,
            phases,
            hosts,
            steps,
            ..
        } => format!(
            "{}cluster {cluster}: {} phases, {} hosts, {steps} steps{}",
            // Installs, resets and day-2 runs alike: the plan says what they do.
            if *dry_run { "dry run of " } else { "" },
            phases.len(),
            hosts.len(),
            if *dry_run {
                " (nothing is executed)"
            } else {
                ""
            }
        ),
        Event::PhaseStarted {
            phase,
            title,
            hosts,
            ..
        } => format!("== {title} [{phase}] on {} host(s)", hosts.len()),
        Event::StepStarted {
            host,
            step,
            command,
            ..
        } => match command {
            Some(c) => format!("[{host}] {step}: $ {c}"),
            None => format!("[{host}] {step}"),
        },
        Event::StepOutput {
            host, stream, line, ..
        } => match stream {
            Stream::Stdout => format!("[{host}]   {line}"),
            Stream::Stderr => format!("[{host}] ! {line}"),
        },
        Event::StepFinished {
            host,
            step,
            outcome,
            duration_ms,
        } => match outcome {
            StepOutcome::Done => {
                format!("[{host}] {step}: ok ({:.1}s)", *duration_ms as f64 / 1000.0)
            }
            StepOutcome::Skipped { reason } => format!("[{host}] {step}: skipped, {reason}"),
            StepOutcome::Failed { exit_code, message } => format!(
                "[{host}] {step}: FAILED{} after {:.1}s: {message}",
                exit_code.map_or(String::new(), |c| format!(" (exit {c})")),
                *duration_ms as f64 / 1000.0
            ),
        },
        Event::HostFailed {
            host,
            step,
            message,
            ..
        } => format!("{host} failed at {step}: {message}"),
        Event::PhaseFinished {
            phase,
            failed_hosts,
        } if failed_hosts.is_empty() => format!("== {phase}: finished"),
        Event::PhaseFinished {
            phase,
            failed_hosts,
        } => format!(
            "== {phase}: failed on {}; the run stops after this phase",
            failed_hosts.join(", ")
        ),
        Event::RunFinished { outcome, log_path } => {
            let log = log_path
                .as_ref()
                .map_or(String::new(), |p| format!("; audit log: {p}"));
            match outcome {
                RunOutcome::Succeeded => format!("finished{log}"),
                RunOutcome::Failed => {
                    format!("stopped after a failure{log}; fix the cause, then `kubewiz resume`")
                }
                RunOutcome::Cancelled => format!("cancelled; nothing new was started{log}"),
            }
        }
    }
}

/// Formats one event for the line output; None for events that print nothing (a phase
/// that finished well: the next phase's line says as much).
pub fn format(event: &Event) -> Option<String> {
    let text = describe(event);
    Some(match event {
        Event::RunStarted { .. } | Event::RunFinished { .. } => format!("kubewiz: {text}"),
        Event::HostFailed {
            command,
            exit_code,
            output_tail,
            journal_tail,
            ..
        } => {
            let mut text = format!("\n{text}");
            if let Some(c) = command {
                text += &format!("\n  command: {c}");
            }
            if let Some(code) = exit_code {
                text += &format!("\n  exit code: {code}");
            }
            for (title, tail) in [("last output", output_tail), ("unit journal", journal_tail)] {
                if !tail.is_empty() {
                    text += &format!("\n  {title}:");
                    for l in tail {
                        text += &format!("\n    {l}");
                    }
                }
            }
            text
        }
        Event::PhaseFinished { failed_hosts, .. } if failed_hosts.is_empty() => return None,
        _ => text,
    })
}
