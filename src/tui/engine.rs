//! The one place the wizard starts the install engine: a [`Running`] install whose
//! events the event loop drains. The execute screen only ever sees the events.
//!
//! The install runs in an engine process of its own (see [`crate::detached`]); the
//! wizard is one of its clients, so a terminal that goes away leaves it running and
//! `kubewiz attach` follows it again.

use std::process::Child;

use crate::audit::announce;
use crate::detached::client::{self, Attached};
use crate::detached::job::Job;
use crate::detached::spawn;
use crate::exec::Stamped;
use crate::exec::ssh::Ssh;
use crate::spec::ClusterSpec;

use super::flow::RunEnd;
use super::prepare::Prepared;

/// How fast the dry run pretends: 1.0 feels like a real install in fast motion.
const DRY_RUN_PACE: f64 = 1.0;

/// An install in progress, followed from its engine process.
pub struct Running {
    attached: Attached,
    /// Reaped when the run ends, so no finished engine lingers while the wizard runs.
    engine: Option<Child>,
}

impl Running {
    /// Running steps finish; nothing new starts.
    pub fn cancel(&self) {
        if let Err(e) = self.attached.cancel() {
            tracing::warn!(error = %e, "the run could not be asked to stop");
        }
    }

    /// Waits for the connection's reader once the events have ended, then reads the
    /// head of the run's audit log for the Done screen (the engine sent the start and
    /// the head to the system log when asked). A panic in the reader is passed on, so
    /// the job that waits reports it like any other background panic.
    pub async fn ended(self) -> Result<RunEnd, String> {
        let log = match self.attached.task.await {
            Ok(r) => r?,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(_) => return Err("the install's task was stopped before it finished".to_owned()),
        };
        if let Some(mut engine) = self.engine {
            let _ = tokio::task::spawn_blocking(move || engine.wait()).await;
        }
        let Some(log) = log else {
            return Ok(RunEnd::default());
        };
        tokio::task::spawn_blocking(move || RunEnd {
            head: announce::Ending::of(&log).head().map(str::to_owned),
            syslog_problem: None,
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
/// head of its audit log also go to the system log. Another run of the same cluster
/// refuses it, naming its holder. (What was prepared already passed
/// `launch::check_growth`.)
pub fn start(
    spec: &ClusterSpec,
    prepared: &Prepared,
    dry_run: bool,
    syslog: bool,
) -> Result<Running, String> {
    let state_dir = prepared
        .cluster_dir
        .parent()
        .unwrap_or(&prepared.cluster_dir);
    let job = Job {
        kind: prepared.operation.job_kind(),
        state_dir: std::path::absolute(state_dir).unwrap_or_else(|_| state_dir.to_path_buf()),
        preset_text: crate::spec::to_toml(spec),
        dry_run,
        pace: DRY_RUN_PACE,
        phases: Vec::new(),
        accept_new_host_keys: false,
        keep_data: false,
        syslog: syslog || spec.audit.syslog,
        libvirt_uri: crate::kvm::connect_uri(),
        terminal: crate::audit::identity::terminal(),
        restore_from: prepared.operation.restore_from(),
        names: prepared.operation.names(),
        removal: prepared.operation.removal(),
        upgrade: prepared.operation.upgrade(),
        backup: prepared.operation.backup(),
    };
    let started = spawn::start(&job, spec.name.as_str())?;
    let attached = client::connect(&started.socket).map_err(|e| {
        format!(
            "cannot follow the install on {}: {e}",
            started.socket.display()
        )
    })?;
    Ok(Running {
        attached,
        engine: Some(started.child),
    })
}

/// What the API of installed cluster `name` in `state_dir` says of its nodes, asked
/// with the kept admin.conf (the credentials in a private scratch directory of the
/// cluster's while curl runs).
pub async fn node_states(
    state_dir: std::path::PathBuf,
    name: String,
) -> Result<Vec<(String, String)>, String> {
    let cluster = crate::state::ClusterState::new(&state_dir, &name);
    let kubeconfig = std::fs::read_to_string(cluster.admin_conf())
        .map_err(|e| format!("{}: {e}", cluster.admin_conf().display()))?;
    let scratch = cluster.dir().join(format!(".nodes-{}", std::process::id()));
    crate::exec::api_check::nodes(&kubeconfig, &scratch).await
}

/// `certs check` of installed cluster `name` in `state_dir` (its kept preset): the
/// report's lines and summary. Blocks.
pub fn check_certs(
    state_dir: &std::path::Path,
    name: &str,
) -> Result<(Vec<String>, String), String> {
    let cluster = crate::state::ClusterState::new(state_dir, name);
    let spec = crate::day2::installed(&cluster, name, "check")?;
    let report = crate::day2::certs_check::check(&spec, &cluster)?;
    Ok((report.lines(), report.summary()))
}

/// Follows the run going on for cluster `name` in `state_dir`: every event so far,
/// then the live ones.
pub fn attach(state_dir: &std::path::Path, name: &str) -> Result<Running, String> {
    let attached = client::attach(state_dir, name)?;
    Ok(Running {
        attached,
        engine: None,
    })
}

/// Waits for engine events and takes up to `limit` at once; never returns while no
/// install runs. 0 means the install's stream ended.
pub async fn recv_many(run: &mut Option<Running>, buf: &mut Vec<Stamped>, limit: usize) -> usize {
    match run {
        Some(r) => r.attached.events.recv_many(buf, limit).await,
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
