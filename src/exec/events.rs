//! The one stream the install engine emits. The TUI panes, the line output, the audit
//! log and the resume journal are all consumers of it; the engine knows nothing else
//! about them.

use serde::{Deserialize, Serialize};

/// Which output stream a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// How a step ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum StepOutcome {
    /// It ran and succeeded (exit code 0 for commands).
    Done,
    /// It did not run: the journal says an earlier run finished it, or it is for the
    /// other package manager, or the run is a dry run.
    Skipped { reason: String },
    /// It failed; `exit_code` is None when it never got one (timeout, lost connection).
    Failed {
        exit_code: Option<i32>,
        message: String,
    },
}

/// How a whole run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunOutcome {
    Succeeded,
    /// A host failed; the run stopped after the phase it failed in.
    Failed,
    /// The operator cancelled; running steps finished, nothing new started.
    Cancelled,
}

/// Everything the engine says, in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    RunStarted {
        run_id: String,
        cluster: String,
        dry_run: bool,
        /// Phase names in the order they will run.
        phases: Vec<String>,
        /// Host names with their roles, e.g. ("kubemaster-1", ["control-plane"]).
        hosts: Vec<(String, Vec<String>)>,
        /// Total steps, for the overall progress gauge.
        steps: usize,
    },
    PhaseStarted {
        phase: String,
        title: String,
        hosts: Vec<String>,
        /// Its hosts run one after the other (control planes joining); logs written
        /// before this field say nothing, read as false.
        #[serde(default)]
        one_at_a_time: bool,
        /// At most this many of its hosts run at once (the run's limit, or the phase's
        /// batch when lower); logs written before this field say nothing.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_once: Option<usize>,
    },
    StepStarted {
        phase: String,
        host: String,
        step: String,
        title: String,
        /// The command, with secrets already replaced by `<redacted>`.
        command: Option<String>,
    },
    StepOutput {
        host: String,
        step: String,
        stream: Stream,
        /// One line, secrets already redacted.
        line: String,
    },
    StepFinished {
        host: String,
        step: String,
        outcome: StepOutcome,
        duration_ms: u64,
    },
    /// A host stopped: what failed and why, with what the operator needs to fix it.
    HostFailed {
        host: String,
        phase: String,
        step: String,
        command: Option<String>,
        exit_code: Option<i32>,
        message: String,
        /// The last lines of the step's output.
        output_tail: Vec<String>,
        /// The tail of the failing unit's journal (kubelet, etcd, ...), when known.
        journal_tail: Vec<String>,
    },
    PhaseFinished {
        phase: String,
        failed_hosts: Vec<String>,
    },
    RunFinished {
        outcome: RunOutcome,
        /// Where the audit log of this run is.
        log_path: Option<String>,
    },
}

/// An event with the time it happened (RFC 3339, UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamped {
    pub at: String,
    #[serde(flatten)]
    pub event: Event,
}
