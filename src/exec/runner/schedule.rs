//! The order of a run: phases one after the other (each a barrier), a phase's hosts at
//! once up to the concurrency limit (or one at a time where the phase says so), a
//! host's steps in order; a cancelled run starts nothing new.

use std::sync::Arc;
use std::time::Instant;

use super::actions;
use super::host::Run;
use crate::exec::events::{Event, RunOutcome, StepOutcome};
use crate::exec::sink::now;
use crate::plan::{Action, HostSteps, Phase, Plan, Step};

pub(super) async fn execute(run: Arc<Run>, plan: Plan) -> RunOutcome {
    let steps = plan.steps().count();
    run.emitter
        .emit(Event::RunStarted {
            run_id: now(),
            cluster: plan.cluster.clone(),
            dry_run: run.transport.is_dry_run(),
            phases: plan
                .phases
                .iter()
                .map(|p| p.id.name().to_string())
                .collect(),
            hosts: run
                .spec
                .hosts
                .iter()
                .map(|h| {
                    let roles = h.roles.iter().map(|r| r.to_string()).collect();
                    (h.name.to_string(), roles)
                })
                .collect(),
            steps,
        })
        .await;
    for phase in plan.phases {
        if run.cancelled() {
            return RunOutcome::Cancelled;
        }
        if !phase_of(run.clone(), phase).await.is_empty() {
            return RunOutcome::Failed;
        }
    }
    if run.cancelled() {
        RunOutcome::Cancelled
    } else {
        RunOutcome::Succeeded
    }
}

/// Runs one phase; the hosts that failed in it.
async fn phase_of(run: Arc<Run>, phase: Phase) -> Vec<String> {
    let name = phase.id.name().to_string();
    run.emitter
        .emit(Event::PhaseStarted {
            phase: name.clone(),
            title: phase.title.to_string(),
            hosts: phase.hosts.iter().map(|h| h.host.clone()).collect(),
            one_at_a_time: phase.one_at_a_time,
            at_once: Some(if phase.one_at_a_time {
                1
            } else {
                phase.at_most.map_or(run.limit, |n| n.clamp(1, run.limit))
            }),
        })
        .await;
    let mut failed = Vec::new();
    // At most this many hosts at once: the run's limit, or the phase's own when lower.
    let batch = phase
        .at_most
        .map(|n| Arc::new(tokio::sync::Semaphore::new(n.max(1))));
    let stop_starting = Arc::new(std::sync::atomic::AtomicBool::new(false));
    if phase.one_at_a_time {
        for host in phase.hosts {
            let host_name = host.host.clone();
            if !host_steps(run.clone(), name.clone(), host).await {
                failed.push(host_name);
                break;
            }
        }
    } else {
        let mut tasks = Vec::new();
        for host in phase.hosts {
            let run = run.clone();
            let phase_name = name.clone();
            let batch = batch.clone();
            let stop_starting = stop_starting.clone();
            tasks.push(tokio::spawn(async move {
                let batch_permit = match batch {
                    Some(b) => Some(b.acquire_owned().await.expect("never closed")),
                    None => None,
                };
                let _permit = run
                    .concurrency
                    .clone()
                    .acquire_owned()
                    .await
                    .expect("the semaphore is never closed");
                let host_name = host.host.clone();
                // In a phase of batches, a host that failed stops the others from
                // starting (as one at a time does): the hosts still to go keep running.
                if stop_starting.load(std::sync::atomic::Ordering::SeqCst) {
                    return (host_name, None);
                }
                let ok = host_steps(run, phase_name, host).await;
                if !ok && batch_permit.is_some() {
                    stop_starting.store(true, std::sync::atomic::Ordering::SeqCst);
                }
                (host_name, Some(ok))
            }));
        }
        for task in tasks {
            match task.await {
                Ok((_, Some(true) | None)) => {}
                Ok((host, Some(false))) => failed.push(host),
                Err(e) => failed.push(format!("(a host task ended: {e})")),
            }
        }
    }
    failed.sort();
    run.emitter
        .emit(Event::PhaseFinished {
            phase: name,
            failed_hosts: failed.clone(),
        })
        .await;
    failed
}

/// Runs one host's steps; false when one failed.
async fn host_steps(run: Arc<Run>, phase: String, host: HostSteps) -> bool {
    for step in &host.steps {
        if run.cancelled() {
            return true;
        }
        if !step_of(&run, &phase, &host.host, step).await {
            return false;
        }
    }
    true
}

/// Runs one step with its events; false when it failed.
async fn step_of(run: &Run, phase: &str, host: &str, step: &Step) -> bool {
    let command = match &step.action {
        Action::Run { command } => Some(run.redactor.text(command)),
        Action::Wait { check } => Some(run.redactor.text(check)),
        _ => None,
    };
    run.emitter
        .emit(Event::StepStarted {
            phase: phase.to_owned(),
            host: host.to_owned(),
            step: step.id.clone(),
            title: step.title.clone(),
            command: command.clone(),
        })
        .await;
    let started = Instant::now();
    let inputs = step.inputs();
    let mut result = actions::step(run, host, step, &inputs).await;
    if matches!(result, Ok(None)) && step.idempotent() {
        // What the step changed is on the host's disk before the journal says done: a
        // host that loses its power later comes back with it, or the step runs again.
        if step.action.writes_host()
            && let Err(failure) = run.sync_disks(step.via.as_deref().unwrap_or(host)).await
        {
            result = Err(failure);
        } else {
            run.emitter.step_done(&step.id, &inputs);
        }
    }
    let duration_ms = started.elapsed().as_millis() as u64;
    let outcome = match &result {
        Ok(None) => StepOutcome::Done,
        Ok(Some(reason)) => StepOutcome::Skipped {
            reason: reason.clone(),
        },
        Err(f) => StepOutcome::Failed {
            exit_code: f.exit_code,
            message: run.redactor.text(&f.message),
        },
    };
    run.emitter
        .emit(Event::StepFinished {
            host: host.to_owned(),
            step: step.id.clone(),
            outcome,
            duration_ms,
        })
        .await;
    let Err(failure) = result else {
        return true;
    };
    let journal_tail = match step.unit {
        Some(unit) => run.journal_tail(host, unit).await,
        None => Vec::new(),
    };
    run.emitter
        .emit(Event::HostFailed {
            host: host.to_owned(),
            phase: phase.to_owned(),
            step: step.id.clone(),
            command,
            exit_code: failure.exit_code,
            message: run.redactor.text(&failure.message),
            output_tail: failure.tail,
            journal_tail,
        })
        .await;
    false
}
