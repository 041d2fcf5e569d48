//! `kubewiz plan --preset FILE [--json]`: phases and per-host steps; nothing is
//! contacted.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use super::EXIT_OK;
use super::prepare::prepare;
use crate::plan::{OsFamily, Plan, StepText};

pub fn run(state_dir: Option<&Path>, preset: &Path, json: bool) -> ExitCode {
    match prepare(state_dir, preset) {
        Ok(prepared) if json => {
            // A reader that stops early (`| head`) closes the pipe; stop writing then.
            let mut out = std::io::stdout().lock();
            for line in json_lines(&prepared.plan) {
                if writeln!(out, "{line}").is_err() {
                    break;
                }
            }
            ExitCode::from(EXIT_OK)
        }
        Ok(prepared) => {
            print!("{}", prepared.plan);
            ExitCode::from(EXIT_OK)
        }
        Err(code) => code,
    }
}

/// The plan's text as JSON lines: the summary first, then one object per step with
/// its phase, host, id, title and the lines the text shows under the step.
pub fn json_lines(plan: &Plan) -> Vec<String> {
    let mut out = vec![
        serde_json::json!({
            "cluster": plan.cluster,
            "phases": plan.phases.len(),
            "steps": plan.steps().count(),
        })
        .to_string(),
    ];
    for (n, phase) in plan.phases.iter().enumerate() {
        for host in &phase.hosts {
            for step in &host.steps {
                let text = StepText(step).to_string();
                let lines: Vec<&str> = text.lines().map(str::trim_start).collect();
                let only_on = match step.only_on {
                    Some(OsFamily::Apt) => Some("apt"),
                    Some(OsFamily::Dnf) => Some("dnf"),
                    None => None,
                };
                out.push(
                    serde_json::json!({
                        "phase": phase.id.name(),
                        "phase_number": n + 1,
                        "phase_title": phase.title,
                        "one_at_a_time": phase.one_at_a_time,
                        "host": host.host,
                        "step": step.id,
                        "title": step.title,
                        "only_on": only_on,
                        "lines": lines,
                    })
                    .to_string(),
                );
            }
        }
    }
    out
}
