//! `kubewiz plan --preset FILE [--json]`: phases and per-host steps; nothing is
//! contacted. For a cluster its state directory has a journal of (an install, an
//! earlier apply), the plan says which steps those runs finished and a run skips, and
//! which hosts have work to do: what adding hosts to a running cluster changes.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use super::EXIT_OK;
use super::prepare::prepare;
use crate::exec::journal;
use crate::plan::{Finished, OsFamily, Plan, StepText};

pub fn run(state_dir: Option<&Path>, preset: &Path, json: bool) -> ExitCode {
    let prepared = match prepare(state_dir, preset) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let finished = match journal::finished_if_any(&prepared.state.journal()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(super::EXIT_FAILED);
        }
    };
    // `apply` refuses such a plan (`plan::offline`); the plan is still shown.
    if let Err(refused) = crate::plan::offline::check(&prepared.plan) {
        eprintln!("kubewiz: apply would refuse this plan: {refused}");
    }
    images_warning(&prepared.plan);
    if json {
        // A reader that stops early (`| head`) closes the pipe; stop writing then.
        let mut out = std::io::stdout().lock();
        for line in json_lines(&prepared.plan, finished.as_ref()) {
            if writeln!(out, "{line}").is_err() {
                break;
            }
        }
    } else {
        match &finished {
            Some(finished) => print!("{}", prepared.plan.against(finished)),
            None => print!("{}", prepared.plan),
        }
    }
    ExitCode::from(EXIT_OK)
}

/// The plan's text as JSON lines: the summary first, then one object per step with
/// its phase, host, id, title and the lines the text shows under the step; with the
/// steps earlier runs finished, each step also says whether it was `done_before`.
pub fn json_lines(plan: &Plan, finished: Option<&Finished>) -> Vec<String> {
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
                let mut line = serde_json::json!({
                        "phase": phase.id.name(),
                        "phase_number": n + 1,
                        "phase_title": phase.title,
                        "one_at_a_time": phase.one_at_a_time,
                        "host": host.host,
                        "step": step.id,
                        "title": step.title,
                        "only_on": only_on,
                        "lines": lines,
                });
                if let Some(finished) = finished {
                    line["done_before"] = step.done_before(finished, &step.inputs()).into();
                }
                out.push(line.to_string());
            }
        }
    }
    out
}

/// What `apply` checks of the bundle's images before a run, said as a warning: the
/// images the preset's nodes run that the bundle lacks, or why that cannot be told here.
fn images_warning(plan: &Plan) {
    let Ok(layout) = crate::spec::layout::Layout::new(&plan.spec) else {
        return;
    };
    match crate::exec::bundle::lacking_images(&layout) {
        Ok(Some(lacking)) if !lacking.is_empty() => eprintln!(
            "kubewiz: apply would refuse this plan: the bundle's images/ lacks {}",
            lacking.join(", ")
        ),
        Err(e) => eprintln!(
            "kubewiz: warning: the bundle's images cannot be checked here ({e}); each node checks containerd's images after the import"
        ),
        _ => {}
    }
}
