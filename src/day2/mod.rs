//! Day-2 operations on an installed cluster, prepared and finished the same way
//! whether the command line runs them in its own process or the wizard hands them to
//! an engine process (`detached`): what they change, their plan, and the cluster's
//! record once they went through.

pub mod backup;
pub mod certs;
pub mod certs_check;
pub mod node;
pub mod restore;
pub mod upgrade;

use std::time::Duration;

use crate::audit::RunKind;
use crate::exec::ssh::Ssh;
use crate::exec::{Transport, TransportError};
use crate::spec::ClusterSpec;
use crate::state::ClusterState;

/// The spec the installed cluster of `cluster` last applied, or why there is none to
/// `what` (e.g. "upgrade").
pub fn installed(
    cluster: &ClusterState,
    name: &str,
    what: &str,
) -> Result<crate::spec::ClusterSpec, String> {
    if !cluster.admin_conf().is_file() || !cluster.preset().is_file() {
        return Err(format!(
            "cluster {name} is not installed from this state directory (no {}): nothing to {what}",
            cluster.admin_conf().display()
        ));
    }
    crate::spec::load_file(&cluster.preset())
        .map(|p| p.spec)
        .map_err(|e| {
            format!(
                "cannot read the preset the cluster's last run applied, {}: {e}",
                cluster.preset().display()
            )
        })
}

/// The installed cluster's kept PKI in `cluster`, only read (nothing is made or issued),
/// or why it cannot be read.
pub fn kept_pki(
    cluster: &ClusterState,
    layout: &crate::spec::layout::Layout,
) -> Result<crate::pki::Pki, String> {
    crate::pki::read_kept(&cluster.pki_dir(), layout)
        .map_err(|e| format!("the kept PKI of cluster {}: {e}", layout.spec.name))
}

/// After a day-2 run of `kind` went through: the kept preset becomes `preset_text`
/// (what the cluster now is), `then` runs (more of the cluster's record to update),
/// and the run's own journal goes.
pub fn finished(
    cluster: &ClusterState,
    kind: RunKind,
    preset_text: &str,
    then: impl FnOnce() -> std::io::Result<()>,
) -> Result<(), String> {
    let journal = crate::launch::day2_journal(cluster, kind);
    crate::state::write_atomic(&cluster.preset(), preset_text.as_bytes(), 0o644)
        .and_then(|()| then())
        .and_then(|()| match std::fs::remove_file(&journal) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        })
        .map_err(|e| format!("{}: {e}", cluster.dir().display()))
}

/// Why a day-2 operation cannot be made: `usage` when what was asked is wrong (names,
/// a version, a bundle), else what stands in the way.
#[derive(Debug)]
pub struct Refused {
    pub usage: bool,
    pub message: String,
}

impl Refused {
    pub fn usage(message: String) -> Refused {
        Refused {
            usage: true,
            message,
        }
    }

    pub fn failed(message: String) -> Refused {
        Refused {
            usage: false,
            message,
        }
    }
}

/// `given` (the preset at `preset`, made comparable) must be `expected` and add no
/// host: an operation that changes only `beyond` (a host, its version), as `what`
/// says, refuses a preset that changes more, naming every difference.
pub fn changes_only(
    expected: &ClusterSpec,
    given: &ClusterSpec,
    cluster: &crate::spec::DnsLabel,
    preset: &std::path::Path,
    what: &str,
    beyond: &str,
) -> Result<(), String> {
    match crate::spec::growth::check(expected, given) {
        Ok(added) if added.is_empty() => Ok(()),
        Ok(added) => Err(format!(
            "{} adds {}: {what}; add them with `kubewiz apply` before or after",
            preset.display(),
            added.join(", ")
        )),
        Err(problems) => {
            let lines: Vec<String> = problems
                .iter()
                .map(|d| format!("  {}: {}", d.path, d.message))
                .collect();
            Err(format!(
                "{} differs from what cluster {cluster} runs in more than {beyond}:\n{}",
                preset.display(),
                lines.join("\n")
            ))
        }
    }
}

/// How long the host has to accept an SSH connection before it counts as not answering.
const PROBE_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether `host` of `spec` answers over SSH now, or why not. A host that answers but
/// refuses (a changed host key, a refused login) counts as answering: the run's own
/// connection then stops with the cause, and nothing is removed half-way.
pub fn answers(spec: &ClusterSpec, host: &str) -> Result<(), String> {
    let Some(target) = spec.hosts.iter().find(|h| h.name.as_str() == host) else {
        return Ok(());
    };
    let transport = Ssh::new(false).with_connect_timeout(PROBE_TIMEOUT);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start: {e}"))?;
    let tried = runtime.block_on(async {
        let connected = transport.connect(target, &spec.ssh);
        tokio::time::timeout(PROBE_TIMEOUT + Duration::from_secs(5), connected).await
    });
    match tried {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(
            e @ (TransportError::Connect(_) | TransportError::Timeout(_) | TransportError::Lost(_)),
        )) => Err(e.to_string()),
        Ok(Err(_)) => Ok(()),
        Err(_) => Err(format!(
            "no answer within {} s",
            PROBE_TIMEOUT.as_secs() + 5
        )),
    }
}
