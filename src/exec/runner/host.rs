//! What a run holds while it goes: each host's connection and facts, and the ways a
//! step talks to a host (commands with their output as events, the unit's journal).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc};

use super::super::bundle::BundleCache;
use super::super::events::{Event, Stream};
use super::super::facts::Facts;
use super::super::journal::Finished;
use super::super::redact::Redactor;
use super::super::sink::Emitter;
use super::super::transport::{Line, Session, Transport, TransportError};
use crate::spec::ClusterSpec;

/// Lines of a failed step's output kept for the failure report.
const TAIL_LINES: usize = 20;
/// Lines of a unit's journal fetched when its step fails.
const JOURNAL_LINES: usize = 40;

/// Why a step failed, with what the report shows.
pub(super) struct Failure {
    pub exit_code: Option<i32>,
    pub message: String,
    pub tail: Vec<String>,
}

impl Failure {
    pub fn new(message: impl Into<String>) -> Self {
        Failure {
            exit_code: None,
            message: message.into(),
            tail: Vec::new(),
        }
    }
}

impl From<TransportError> for Failure {
    fn from(e: TransportError) -> Self {
        Failure::new(e.to_string())
    }
}

/// A command's result: its exit code, its last lines redacted, and every line as the
/// host sent it (for parsing facts only; never shown or logged).
pub(super) struct Ran {
    pub code: i32,
    pub tail: Vec<String>,
    pub all: Vec<String>,
}

/// One run's shared state.
pub(super) struct Run {
    pub spec: Arc<ClusterSpec>,
    pub transport: Arc<dyn Transport>,
    pub emitter: Emitter,
    cancel: Arc<AtomicBool>,
    sessions: Mutex<BTreeMap<String, Arc<dyn Session>>>,
    pub facts: Mutex<BTreeMap<String, Facts>>,
    pub concurrency: Arc<Semaphore>,
    /// The number of permits `concurrency` was made with: hosts at once.
    pub limit: usize,
    pub finished: Finished,
    pub redactor: Redactor,
    pub bundle: BundleCache,
}

impl Run {
    pub fn new(
        spec: Arc<ClusterSpec>,
        transport: Arc<dyn Transport>,
        emitter: Emitter,
        cancel: Arc<AtomicBool>,
        concurrency: usize,
        finished: Finished,
        redactor: Redactor,
    ) -> Self {
        Run {
            spec,
            transport,
            emitter,
            cancel,
            sessions: Mutex::new(BTreeMap::new()),
            facts: Mutex::new(BTreeMap::new()),
            concurrency: Arc::new(Semaphore::new(concurrency.max(1))),
            limit: concurrency.max(1),
            finished,
            redactor,
            bundle: BundleCache::default(),
        }
    }

    pub fn cancelled(&self) -> bool {
        self.cancel.load(Ordering::SeqCst)
    }

    pub fn add_session(&self, host: &str, session: Arc<dyn Session>) {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(host.to_owned(), session);
    }

    pub fn session(&self, host: &str) -> Result<Arc<dyn Session>, Failure> {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(host)
            .cloned()
            .ok_or_else(|| {
                Failure::new("no connection to this host (the connect phase did not run for it)")
            })
    }

    pub async fn output(&self, host: &str, step: &str, stream: Stream, line: String) {
        self.emitter
            .emit(Event::StepOutput {
                host: host.to_owned(),
                step: step.to_owned(),
                stream,
                line,
            })
            .await;
    }

    /// Runs a command on `host`'s connection, emitting its output when `show` (waits
    /// only report a summary).
    pub async fn run_command(
        &self,
        host: &str,
        step: &str,
        command: &str,
        timeout: Duration,
        show: bool,
    ) -> Result<Ran, Failure> {
        self.run_command_on(host, host, step, command, timeout, show)
            .await
    }

    /// [`Run::run_command`] over the connection of host `on`, its output shown as
    /// `host`'s (a step of `host` that another host carries out: `Step::via`).
    pub async fn run_command_on(
        &self,
        on: &str,
        host: &str,
        step: &str,
        command: &str,
        timeout: Duration,
        show: bool,
    ) -> Result<Ran, Failure> {
        let session = self.session(on)?;
        let (tx, mut rx) = mpsc::channel::<Line>(256);
        let run = session.run(command, timeout, tx);
        let collect = async {
            let mut tail: Vec<String> = Vec::new();
            let mut all: Vec<String> = Vec::new();
            let mut in_key = false;
            while let Some(line) = rx.recv().await {
                let text = self.redactor.line(&line.text, &mut in_key);
                if show {
                    self.output(host, step, line.stream, text.clone()).await;
                }
                all.push(line.text);
                tail.push(text);
                if tail.len() > TAIL_LINES {
                    tail.remove(0);
                }
            }
            (tail, all)
        };
        let (code, (tail, all)) = tokio::join!(run, collect);
        let code = code.map_err(|e| Failure::new(e.to_string()))?;
        Ok(Ran { code, tail, all })
    }

    /// Has `host` write out what it holds in memory ([`Session::sync_disks`]).
    pub async fn sync_disks(&self, host: &str) -> Result<(), Failure> {
        let session = self.session(host)?;
        session.sync_disks().await.map_err(|e| {
            Failure::new(format!(
                "the step's changes may not be on {host}'s disk yet, and were not recorded as done: {e}"
            ))
        })
    }

    /// The last lines of `unit`'s journal, where kubeadm and kubelet failures show
    /// their real cause.
    pub async fn journal_tail(&self, host: &str, unit: &str) -> Vec<String> {
        let Ok(session) = self.session(host) else {
            return Vec::new();
        };
        let command = format!(
            "journalctl -u {unit} -n {JOURNAL_LINES} --no-pager -o short-iso 2>&1 | tail -n {JOURNAL_LINES}"
        );
        let (tx, mut rx) = mpsc::channel::<Line>(256);
        let run = session.run(&command, Duration::from_secs(15), tx);
        let collect = async {
            let mut lines = Vec::new();
            let mut in_key = false;
            while let Some(line) = rx.recv().await {
                lines.push(self.redactor.line(&line.text, &mut in_key));
            }
            lines
        };
        let (_, lines) = tokio::join!(run, collect);
        lines
    }
}
