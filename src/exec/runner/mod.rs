//! Executes a plan: phases are barriers; inside a phase every host runs at once up to
//! a limit (control planes join one at a time). A failing step stops its host, the
//! phase finishes on the others, then the run stops with the cause. Cancelling lets
//! running steps finish and starts nothing new.
//!
//! The runner takes a plan and a transport; everything a step needs is in the plan.
//! By job: `schedule` (phases, hosts, steps, cancel), `actions` (one function per kind
//! of step), `host` (the run's connections and facts, commands and their output).
//! Every event passes the sinks (the audit log and the journal) before it reaches the
//! channel, so the record is written even when no one is listening.

mod actions;
mod host;
mod schedule;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::events::{Event, RunOutcome, Stamped};
use super::journal::Finished;
use super::redact::Redactor;
use super::sink::{Emitter, EventSink};
use super::transport::Transport;
use crate::plan::Plan;

/// How many hosts run at once by default (DESIGN.md, Execution).
pub const DEFAULT_CONCURRENCY: usize = 32;

/// How a run goes, besides the plan.
pub struct RunOptions {
    pub concurrency: usize,
    /// Steps an earlier run finished (from its journal), with their inputs' hash:
    /// skipped when idempotent and their inputs are unchanged.
    pub finished: Finished,
    /// The records written before any view sees an event: the audit log, the journal.
    pub sinks: Vec<Box<dyn EventSink>>,
    /// Where the readable audit log is, for the run's last event.
    pub log_path: Option<PathBuf>,
    /// The cluster's secrets, replaced in every command and output line.
    pub redactor: Redactor,
}

/// A run in progress.
pub struct RunHandle {
    pub events: mpsc::Receiver<Stamped>,
    cancel: Arc<AtomicBool>,
    pub task: JoinHandle<RunOutcome>,
}

impl RunHandle {
    /// Lets running steps finish and starts nothing new.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }

    /// A handle to cancel the run from elsewhere (a signal handler, the TUI).
    pub fn canceller(&self) -> Canceller {
        Canceller(self.cancel.clone())
    }
}

/// Cancels a run.
#[derive(Clone)]
pub struct Canceller(Arc<AtomicBool>);

impl Canceller {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Starts executing `plan` on a tokio runtime; events arrive on the handle.
pub fn start(plan: Plan, transport: Arc<dyn Transport>, options: RunOptions) -> RunHandle {
    let (tx, rx) = mpsc::channel(4096);
    let cancel = Arc::new(AtomicBool::new(false));
    let log_path = options.log_path.map(|p| p.display().to_string());
    tracing::debug!(
        concurrency = options.concurrency,
        resumed_steps = options.finished.len(),
        "run starting"
    );
    let run = Arc::new(host::Run::new(
        plan.spec.clone(),
        transport,
        Emitter::new(tx, options.sinks),
        cancel.clone(),
        options.concurrency,
        options.finished,
        options.redactor,
    ));
    let task = tokio::spawn(async move {
        let outcome = schedule::execute(run.clone(), plan).await;
        run.emitter
            .emit(Event::RunFinished { outcome, log_path })
            .await;
        outcome
    });
    RunHandle {
        events: rx,
        cancel,
        task,
    }
}
