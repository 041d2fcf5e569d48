//! A host's steps in a phase, as the phases build them.

use std::time::Duration;

use super::{Action, HostSteps, PhaseId, Step};

/// Collects one host's steps with ids `phase/host/slug`.
pub(super) struct Steps {
    phase: PhaseId,
    pub(super) host: String,
    steps: Vec<Step>,
}

impl Steps {
    pub(super) fn new(phase: PhaseId, host: &str) -> Self {
        Steps {
            phase,
            host: host.to_owned(),
            steps: Vec::new(),
        }
    }

    pub(super) fn push(
        &mut self,
        slug: &str,
        title: impl Into<String>,
        action: Action,
        timeout_secs: u64,
    ) -> &mut Step {
        self.steps.push(Step {
            id: format!("{}/{}/{slug}", self.phase.name(), self.host),
            title: title.into(),
            action,
            timeout: Duration::from_secs(timeout_secs),
            unit: None,
            only_on: None,
            via: None,
        });
        self.steps.last_mut().expect("just pushed")
    }

    pub(super) fn run(
        &mut self,
        slug: &str,
        title: impl Into<String>,
        command: impl Into<String>,
        timeout_secs: u64,
    ) -> &mut Step {
        self.push(
            slug,
            title,
            Action::Run {
                command: command.into(),
            },
            timeout_secs,
        )
    }

    pub(super) fn wait(
        &mut self,
        slug: &str,
        title: impl Into<String>,
        check: impl Into<String>,
        timeout_secs: u64,
    ) -> &mut Step {
        self.push(
            slug,
            title,
            Action::Wait {
                check: check.into(),
            },
            timeout_secs,
        )
    }

    pub(super) fn done(self) -> HostSteps {
        HostSteps {
            host: self.host,
            steps: self.steps,
        }
    }
}
