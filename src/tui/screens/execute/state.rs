//! The execute screen's state and how each engine event changes it. Nothing here
//! draws; nothing here runs anything.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use super::{FAILED, FAILED_KEYS, FINISHED, LOG, RUNNING};
use crate::exec::{Event, RunOutcome, StepOutcome, TransportError};
use crate::tui::keys::Binding;
use crate::tui::theme;

/// Lines of output kept per host: memory stays bounded however long a run is.
pub const LOG_CAP: usize = 2000;

/// The fingerprint in the engine's "unknown host key" message, found through the
/// engine's own wording of it so the two cannot drift apart.
pub fn unknown_key_fingerprint(message: &str) -> Option<String> {
    let template = TransportError::UnknownHostKey {
        fingerprint: "\u{1}".into(),
    }
    .to_string();
    let (before, after) = template.split_once('\u{1}')?;
    let start = message.find(before)? + before.len();
    let rest = &message[start..];
    let end = if after.is_empty() {
        rest.len()
    } else {
        rest.find(after)?
    };
    let fingerprint = rest[..end].trim();
    (!fingerprint.is_empty()).then(|| fingerprint.to_owned())
}

/// Where a host is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostStatus {
    Waiting,
    Running,
    Done,
    /// Every step of the host was skipped because the run is a dry run: the KVM host,
    /// which a dry run leaves untouched.
    Skipped,
    Failed,
}

impl HostPane {
    /// True once the host has nothing left to do in this run (of `total` steps).
    fn through(&self, total: usize) -> bool {
        self.status == HostStatus::Failed || (total > 0 && self.steps_done >= total)
    }

    /// What the host is while it waits for its next phase: skipped, when all it did so
    /// far was skipped by the dry run.
    fn idle(&self) -> HostStatus {
        if self.steps_done > 0 && self.steps_skipped == self.steps_done {
            HostStatus::Skipped
        } else {
            HostStatus::Waiting
        }
    }
}

/// What a failed host reported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    pub host: String,
    pub phase: String,
    pub step: String,
    pub command: Option<String>,
    pub exit_code: Option<i32>,
    pub message: String,
    pub output_tail: Vec<String>,
    pub journal_tail: Vec<String>,
}

/// One host's pane.
#[derive(Debug, Clone)]
pub struct HostPane {
    pub name: String,
    pub roles: Vec<String>,
    pub status: HostStatus,
    pub phase: String,
    pub step: String,
    pub steps_done: usize,
    /// Of those, the steps a dry run skipped because they would act on the KVM host.
    pub steps_skipped: usize,
    pub started: Option<Instant>,
    pub finished: Option<Instant>,
    /// The host's output, newest last, at most [`LOG_CAP`] lines.
    pub log: VecDeque<String>,
}

impl HostPane {
    fn push(&mut self, line: String) {
        if self.log.len() == LOG_CAP {
            self.log.pop_front();
        }
        self.log.push_back(line);
    }
}

/// The execute screen's state: a pure function of the events seen so far (and the
/// clock, for elapsed times).
#[derive(Debug, Default)]
pub struct Execute {
    pub hosts: Vec<HostPane>,
    pub dry_run: bool,
    /// What runs, as the status line names it: "install" unless set ("renewal").
    pub what: Option<&'static str>,
    pub phases: Vec<String>,
    pub phase_index: usize,
    pub phase_title: String,
    pub steps_total: usize,
    pub steps_done: usize,
    pub outcome: Option<RunOutcome>,
    pub log_path: Option<String>,
    /// The head of the audit log's chain, once the run closed it.
    pub head: Option<String>,
    pub failures: Vec<Failure>,
    pub started: Option<Instant>,
    /// Set once the operator confirmed abort.
    pub cancel_requested: bool,
    /// The engine could not start: why.
    pub start_error: Option<String>,
    /// Pane index by host name: events name their host, and a run may have hundreds.
    pub(super) index: HashMap<String, usize>,
    /// Steps each host has in the plan, for its gauge.
    pub host_totals: HashMap<String, usize>,
    pub(super) selected: usize,
    /// The selected host's output over the whole screen.
    pub(super) full: Option<crate::tui::viewer::Viewer>,
    /// The terminal's size, for the full-screen view.
    pub(super) size: (u16, u16),
    /// The full log view is open; `Some(n)` scrolled to line n, `None` following the end.
    pub(super) log_open: bool,
    pub(super) log_scroll: Option<usize>,
}

impl Execute {
    /// An empty screen for a run of `plan`, which tells each host's number of steps.
    pub fn for_plan(plan: &crate::plan::Plan, dry_run: bool) -> Self {
        let mut host_totals = HashMap::new();
        for (_, h, _) in plan.steps() {
            *host_totals.entry(h.host.clone()).or_insert(0) += 1;
        }
        Execute {
            host_totals,
            dry_run,
            ..Execute::default()
        }
    }

    /// The terminal's size changed.
    pub fn resize(&mut self, size: (u16, u16)) {
        self.size = size;
        if let Some(v) = self.full.as_mut() {
            v.resize(size);
        }
    }

    /// Hosts that stopped because their SSH host key is not in known_hosts, with the
    /// fingerprint each offered: (host, fingerprint).
    pub fn unknown_host_keys(&self) -> Vec<(String, String)> {
        self.failures
            .iter()
            .filter_map(|f| unknown_key_fingerprint(&f.message).map(|fp| (f.host.clone(), fp)))
            .collect()
    }

    /// True from RunStarted until RunFinished.
    pub fn running(&self) -> bool {
        self.started.is_some() && self.outcome.is_none()
    }

    /// The install did not start; `message` says why.
    pub fn not_started(&mut self, message: String) {
        self.start_error = Some(message);
    }

    fn host_mut(&mut self, name: &str) -> Option<&mut HostPane> {
        if let Some(&i) = self.index.get(name) {
            return self.hosts.get_mut(i);
        }
        self.index.insert(name.to_owned(), self.hosts.len());
        // Steps on the KVM host itself ("local") get a pane when they first appear.
        self.hosts.push(HostPane {
            name: name.to_owned(),
            roles: vec!["kvm host".into()],
            status: HostStatus::Waiting,
            phase: String::new(),
            step: String::new(),
            steps_done: 0,
            steps_skipped: 0,
            started: None,
            finished: None,
            log: VecDeque::new(),
        });
        self.hosts.last_mut()
    }

    /// Folds one engine event into the state.
    pub fn update(&mut self, event: &Event) {
        let now = Instant::now();
        match event {
            Event::RunStarted {
                dry_run,
                phases,
                hosts,
                steps,
                ..
            } => {
                self.dry_run = *dry_run;
                self.phases = phases.clone();
                self.steps_total = *steps;
                self.started = Some(now);
                self.hosts = hosts
                    .iter()
                    .map(|(name, roles)| HostPane {
                        name: name.clone(),
                        roles: roles.clone(),
                        status: HostStatus::Waiting,
                        phase: String::new(),
                        step: String::new(),
                        steps_done: 0,
                        steps_skipped: 0,
                        started: None,
                        finished: None,
                        log: VecDeque::new(),
                    })
                    .collect();
                self.index = self
                    .hosts
                    .iter()
                    .enumerate()
                    .map(|(i, h)| (h.name.clone(), i))
                    .collect();
            }
            Event::PhaseStarted {
                phase,
                title,
                hosts,
                ..
            } => {
                self.phase_index = self
                    .phases
                    .iter()
                    .position(|p| p == phase)
                    .map_or(self.phase_index + 1, |i| i + 1);
                self.phase_title = title.clone();
                for h in hosts {
                    let total = self.host_totals.get(h).copied().unwrap_or(0);
                    if let Some(pane) = self.host_mut(h) {
                        pane.phase = title.clone();
                        if !pane.through(total) {
                            pane.status = HostStatus::Running;
                        }
                    }
                }
            }
            Event::StepStarted {
                host,
                title,
                command,
                ..
            } => {
                let total = self.host_totals.get(host).copied().unwrap_or(0);
                if let Some(pane) = self.host_mut(host) {
                    pane.step = title.clone();
                    pane.started.get_or_insert(now);
                    if !pane.through(total) {
                        pane.status = HostStatus::Running;
                    }
                    pane.push(format!("{} {title}", theme::run_mark()));
                    if let Some(c) = command {
                        pane.push(format!("$ {c}"));
                    }
                }
            }
            Event::StepOutput { host, line, .. } => {
                if let Some(pane) = self.host_mut(host) {
                    pane.push(line.clone());
                }
            }
            Event::StepFinished {
                host,
                outcome,
                duration_ms,
                ..
            } => {
                self.steps_done += 1;
                // What a dry run leaves out is the KVM host's own work: it touches
                // no host, and the KVM host is the one it could otherwise touch.
                let dry_skip = self.dry_run && host == crate::plan::LOCAL;
                let total = self.host_totals.get(host).copied().unwrap_or(0);
                if let Some(pane) = self.host_mut(host) {
                    pane.steps_done += 1;
                    match outcome {
                        StepOutcome::Done => {}
                        StepOutcome::Skipped { reason } if dry_skip => {
                            pane.steps_skipped += 1;
                            let why = reason.strip_prefix("dry run: ").unwrap_or(reason);
                            pane.push(format!("  skipped (dry run): {why}"));
                        }
                        StepOutcome::Skipped { reason } => {
                            pane.push(format!("  skipped: {reason}"))
                        }
                        StepOutcome::Failed { exit_code, message } => {
                            let code =
                                exit_code.map_or("no exit code".into(), |c| format!("exit {c}"));
                            pane.push(format!(
                                "{} failed ({code}) after {} ms: {message}",
                                theme::err_mark(),
                                duration_ms
                            ));
                        }
                    }
                    // Its last step: the host is through, whatever phases follow.
                    if pane.status != HostStatus::Failed && pane.through(total) {
                        pane.status = match pane.idle() {
                            HostStatus::Skipped => HostStatus::Skipped,
                            _ => HostStatus::Done,
                        };
                        pane.finished = Some(now);
                    }
                }
            }
            Event::HostFailed {
                host,
                phase,
                step,
                command,
                exit_code,
                message,
                output_tail,
                journal_tail,
            } => {
                if let Some(pane) = self.host_mut(host) {
                    pane.status = HostStatus::Failed;
                    pane.finished = Some(now);
                }
                self.failures.push(Failure {
                    host: host.clone(),
                    phase: phase.clone(),
                    step: step.clone(),
                    command: command.clone(),
                    exit_code: *exit_code,
                    message: message.clone(),
                    output_tail: output_tail.clone(),
                    journal_tail: journal_tail.clone(),
                });
                if let Some(i) = self.hosts.iter().position(|h| h.name == *host) {
                    self.selected = i;
                }
            }
            Event::PhaseFinished { .. } => {
                for pane in &mut self.hosts {
                    if pane.status == HostStatus::Running {
                        pane.status = pane.idle();
                    }
                }
            }
            Event::RunFinished { outcome, log_path } => {
                self.outcome = Some(*outcome);
                self.log_path = log_path.clone();
                for pane in &mut self.hosts {
                    if !matches!(pane.status, HostStatus::Failed | HostStatus::Done) {
                        pane.status = match (*outcome, pane.idle()) {
                            (_, HostStatus::Skipped) => HostStatus::Skipped,
                            (RunOutcome::Succeeded, _) => HostStatus::Done,
                            _ => HostStatus::Waiting,
                        };
                        pane.finished.get_or_insert(now);
                    }
                }
            }
        }
    }

    pub(super) fn table(&self) -> &'static [Binding] {
        if self.log_open {
            LOG
        } else if self.running() {
            RUNNING
        } else if !self.unknown_host_keys().is_empty() {
            FAILED_KEYS
        } else if !self.failures.is_empty() || self.start_error.is_some() {
            FAILED
        } else {
            FINISHED
        }
    }

    pub(super) fn elapsed(from: Option<Instant>, to: Option<Instant>) -> String {
        let d = match (from, to) {
            (Some(a), Some(b)) => b.saturating_duration_since(a),
            (Some(a), None) => a.elapsed(),
            _ => Duration::ZERO,
        };
        let s = d.as_secs();
        format!("{}:{:02}", s / 60, s % 60)
    }
}
