//! The one place the wizard starts the install engine: a [`Running`] install whose
//! events the event loop drains. The execute screen only ever sees the events.

use std::path::PathBuf;
use std::sync::Arc;

use crate::audit::announce;
use crate::exec::dry_run::DryRun;
use crate::exec::runner::{self, RunHandle};
use crate::exec::ssh::Ssh;
use crate::exec::{Stamped, Transport};
use crate::launch;
use crate::spec::ClusterSpec;
use crate::state::ClusterState;

use super::flow::RunEnd;
use super::prepare::Prepared;

/// How fast the dry run pretends: 1.0 feels like a real install in fast motion.
const DRY_RUN_PACE: f64 = 1.0;

/// An install in progress.
pub struct Running {
    handle: RunHandle,
    /// The run's readable audit log.
    log: Option<PathBuf>,
    /// Whether the start and the head go to the system log too.
    syslog: bool,
    /// What the system log did not get at the start.
    syslog_problem: Option<String>,
}

impl Running {
    /// Running steps finish; nothing new starts.
    pub fn cancel(&self) {
        self.handle.cancel();
    }

    /// Waits for the install's task once its events have ended, then reads the head
    /// of its audit log (and sends it to the system log when asked). A panic in the
    /// task is passed on, so the job that waits reports it like any other background
    /// panic.
    pub async fn ended(self) -> Result<RunEnd, String> {
        match self.handle.task.await {
            Ok(_) => {}
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => return Err("the install's task was stopped before it finished".to_owned()),
        }
        let Some(log) = self.log else {
            return Ok(RunEnd::default());
        };
        let (syslog, problem) = (self.syslog, self.syslog_problem);
        tokio::task::spawn_blocking(move || {
            let ending = announce::Ending::of(&log);
            let late = syslog
                .then(|| announce::to_syslog(&ending.message()).err())
                .flatten();
            RunEnd {
                head: ending.head().map(str::to_owned),
                syslog_problem: problem.or(late),
            }
        })
        .await
        .map_err(|e| format!("reading the end of the audit log failed: {e}"))
    }
}

/// Starts the install of what was prepared, as `kubewiz apply` does: a dry run touches
/// nothing and keeps no journal; a real run over SSH first saves the preset (for
/// `kubewiz resume`) and continues the cluster's journal, so steps an earlier run
/// finished with the same inputs are skipped. Unknown host keys are not accepted:
/// such a host fails with the reason (add it to known_hosts, then r runs again).
/// With `syslog` (`--syslog`) or the spec's `[audit] syslog`, the run's start and the
/// head of its audit log also go to the system log.
pub fn start(
    spec: &ClusterSpec,
    prepared: &Prepared,
    dry_run: bool,
    syslog: bool,
) -> Result<Running, String> {
    let state = ClusterState::new(
        prepared
            .cluster_dir
            .parent()
            .unwrap_or(&prepared.cluster_dir),
        spec.name.as_str(),
    );
    let transport: Arc<dyn Transport> = if dry_run {
        Arc::new(DryRun::new(DRY_RUN_PACE))
    } else {
        Arc::new(Ssh::new(false))
    };
    let options = launch::run_options(
        spec,
        &prepared.pki,
        &state,
        &crate::spec::to_toml(spec),
        dry_run,
    )?;
    let log = options.log_path.clone();
    let syslog = syslog || spec.audit.syslog;
    let syslog_problem = match &log {
        Some(log) if syslog => announce::to_syslog(&announce::started(log)).err(),
        _ => None,
    };
    let handle = runner::start(prepared.plan.clone(), transport, options);
    Ok(Running {
        handle,
        log,
        syslog,
        syslog_problem,
    })
}

/// Waits for engine events and takes up to `limit` at once; never returns while no
/// install runs. 0 means the install's stream ended.
pub async fn recv_many(run: &mut Option<Running>, buf: &mut Vec<Stamped>, limit: usize) -> usize {
    match run {
        Some(r) => r.handle.events.recv_many(buf, limit).await,
        None => std::future::pending().await,
    }
}

/// Records the host keys the operator compared and confirmed, each only if the host
/// still offers exactly that fingerprint.
pub async fn trust_host_keys(spec: &ClusterSpec, keys: &[(String, String)]) -> Result<(), String> {
    let ssh = Ssh::new(false);
    for (name, fingerprint) in keys {
        let host = spec
            .hosts
            .iter()
            .find(|h| h.name.as_str() == name)
            .ok_or_else(|| format!("{name} is no longer in the spec"))?;
        ssh.record_host_key(host, &spec.ssh, fingerprint)
            .await
            .map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}
