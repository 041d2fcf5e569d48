//! One line of the JSONL audit log, as written and as read back: the run's opening
//! record, an event, or the closing record. The readable `.log` line is made from the
//! parsed record, by the same function `kubewiz audit show` uses, so the two never
//! differ; an event's words are the line output's (`exec::lines::describe`).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::identity::Identity;
use crate::exec::events::{Event, RunOutcome, Stamped, StepOutcome};
use crate::exec::lines;

/// What a run did, as the index of runs and `kubewiz audit list` name it. A new
/// operation (add, remove, upgrade, backup, ...) is a variant here with its name; the
/// chain, its check and the index take any kind as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunKind {
    Install,
    Resume,
    Reset,
    /// `kubewiz certs renew`.
    #[serde(rename = "certs-renew")]
    CertsRenew,
    /// `kubewiz backup`.
    Backup,
    /// `kubewiz restore`: an install whose etcd starts from a backup.
    Restore,
    /// `kubewiz upgrade`.
    Upgrade,
    /// `kubewiz node remove`.
    #[serde(rename = "node-remove")]
    NodeRemove,
    /// The first part of `kubewiz node replace`: the host taken out, as by `node
    /// remove`; an install run then joins it again.
    #[serde(rename = "node-replace")]
    NodeReplace,
}

impl RunKind {
    pub fn name(self) -> &'static str {
        match self {
            RunKind::Install => "install",
            RunKind::Resume => "resume",
            RunKind::Reset => "reset",
            RunKind::CertsRenew => "certs-renew",
            RunKind::Backup => "backup",
            RunKind::Restore => "restore",
            RunKind::Upgrade => "upgrade",
            RunKind::NodeRemove => "node-remove",
            RunKind::NodeReplace => "node-replace",
        }
    }
}

/// The first record: which run, of what, by whom, with which kubewiz and preset.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Opening {
    pub at: String,
    /// The run's id: the log's name, unique in its directory.
    pub run: String,
    pub kind: RunKind,
    pub cluster: String,
    pub dry_run: bool,
    pub preset_sha256: String,
    #[serde(flatten)]
    pub identity: Identity,
}

/// The last record of a run that finished: how many records came before it and the
/// head of the chain (the SHA-256 of the line before it), and the CPU time the run's
/// process used (logs written before it was recorded have none).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Closing {
    pub at: String,
    pub records: u64,
    pub head: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuUse>,
}

/// CPU time of the process that ran the run, from `/proc/self/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CpuUse {
    /// kubewiz itself, user and system time.
    pub own_ms: u64,
    /// The child processes it waited for (its SSH connections once closed).
    pub children_ms: u64,
}

/// A record's body.
#[derive(Debug, Clone)]
pub enum Body {
    Opening(Box<Opening>),
    Event(Stamped),
    Closing(Closing),
}

/// A parsed line: its place in the chain and its body.
#[derive(Debug, Clone)]
pub struct Record {
    pub seq: u64,
    pub prev: String,
    pub operator: Option<String>,
    pub body: Body,
}

pub const OPENING: &str = "audit_started";
pub const CLOSING: &str = "audit_closed";

impl Record {
    /// Parses one JSONL line; the error says what is missing or malformed.
    pub fn parse(line: &str) -> Result<Record, String> {
        let value: Value = serde_json::from_str(line).map_err(|e| format!("not JSON ({e})"))?;
        let seq = value["seq"]
            .as_u64()
            .ok_or("no sequence number (seq)".to_owned())?;
        let prev = value["prev"]
            .as_str()
            .ok_or("no previous record's hash (prev)".to_owned())?
            .to_owned();
        let operator = value["operator"].as_str().map(str::to_owned);
        let event = value["event"].as_str().unwrap_or_default().to_owned();
        let body = match event.as_str() {
            OPENING => Body::Opening(Box::new(
                serde_json::from_value(value).map_err(|e| format!("opening record: {e}"))?,
            )),
            CLOSING => Body::Closing(
                serde_json::from_value(value).map_err(|e| format!("closing record: {e}"))?,
            ),
            _ => Body::Event(serde_json::from_value(value).map_err(|e| format!("event: {e}"))?),
        };
        Ok(Record {
            seq,
            prev,
            operator,
            body,
        })
    }

    /// The host an event is about, if any.
    pub fn host(&self) -> Option<&str> {
        match &self.body {
            Body::Event(s) => match &s.event {
                Event::StepStarted { host, .. }
                | Event::StepOutput { host, .. }
                | Event::StepFinished { host, .. }
                | Event::HostFailed { host, .. } => Some(host),
                _ => None,
            },
            _ => None,
        }
    }

    /// Whether the record is about a failure (a failed step, a stopped host, a phase
    /// or run that did not succeed).
    pub fn failed(&self) -> bool {
        match &self.body {
            Body::Event(s) => match &s.event {
                Event::StepFinished { outcome, .. } => {
                    matches!(outcome, StepOutcome::Failed { .. })
                }
                Event::HostFailed { .. } => true,
                Event::PhaseFinished { failed_hosts, .. } => !failed_hosts.is_empty(),
                Event::RunFinished { outcome, .. } => *outcome != RunOutcome::Succeeded,
                _ => false,
            },
            _ => false,
        }
    }

    /// The record's line in the readable log: an event in the words of the line
    /// output, after its time.
    pub fn readable(&self) -> String {
        match &self.body {
            Body::Opening(o) => format!(
                "{} kubewiz {} (sha256 {}) {} run {} of cluster {}{} by {}; {}; {}; terminal {}; on {}; preset sha256 {}",
                o.at,
                o.identity.kubewiz_version,
                o.identity.kubewiz_sha256,
                o.kind.name(),
                o.run,
                o.cluster,
                if o.dry_run { " (dry run)" } else { "" },
                o.identity.operator,
                match o.identity.login_uid.parse::<u32>() {
                    Ok(id) => format!("login uid {id} ({})", o.identity.login_user),
                    Err(_) => format!("login uid {}", o.identity.login_uid),
                },
                o.identity.sudo_claimed_by_environment.as_ref().map_or(
                    "no sudo claimed by the environment".to_owned(),
                    |s| format!("claimed by the environment: {s}")
                ),
                o.identity.terminal,
                o.identity.kvm_host,
                o.preset_sha256,
            ),
            Body::Closing(c) => format!(
                "{} audit log closed after {} records; head sha256 {}",
                c.at, c.records, c.head
            ),
            Body::Event(s) => format!("{} {}", s.at, lines::describe(&s.event)),
        }
    }
}
