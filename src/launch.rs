//! What every run of a cluster needs besides its plan, whoever starts it (the CLI's
//! `apply` and `resume`, the wizard): the audit log, the journal and the saved preset
//! for real runs, the redaction of the cluster's secrets, and its CA digests.

use crate::audit::{self, AuditLog, Identity, RunKind};
use crate::digest::sha256_hex;
use crate::exec::journal::{self, Finished, Journal};
use crate::exec::redact::Redactor;
use crate::exec::runner::{DEFAULT_CONCURRENCY, RunOptions};
use crate::exec::sink::EventSink;
use crate::pki::Pki;
use crate::spec::ClusterSpec;
use crate::state::ClusterState;

/// The secrets of a cluster that must never be shown or logged: the bootstrap token
/// (whole and its secret half) and any proxy password.
pub fn secrets(spec: &ClusterSpec, pki: &Pki) -> Redactor {
    let token = pki.bootstrap_token.clone();
    let mut secrets = vec![token.clone()];
    secrets.extend(token.split_once('.').map(|(_, s)| s.to_owned()));
    for proxy in [&spec.proxy.http, &spec.proxy.https].into_iter().flatten() {
        secrets.extend(proxy.url().password().map(str::to_owned));
    }
    Redactor::new(secrets)
}

/// Before a run of `spec` on a cluster that was installed (its state directory holds
/// the kubeconfig an install saves and the preset its last run applied): the workers
/// it adds, or why it may not run (`spec::growth`), one problem per line. A cluster
/// never installed may be given any preset.
pub fn check_growth(spec: &ClusterSpec, state: &ClusterState) -> Result<Vec<String>, String> {
    if !state.admin_conf().is_file() || !state.preset().is_file() {
        return Ok(Vec::new());
    }
    let installed = crate::spec::load_file(&state.preset())
        .map_err(|e| {
            format!(
                "cannot read the preset the cluster's last run applied, {}: {e}",
                state.preset().display()
            )
        })?
        .spec;
    crate::spec::growth::check(&installed, spec).map_err(|problems| {
        let lines: Vec<String> = problems
            .iter()
            .map(|d| format!("  {}: {}", d.path, d.message))
            .collect();
        format!(
            "cluster {} is installed (its last applied preset is {}); this preset changes it in ways kubewiz cannot carry out on a running cluster yet:\n{}",
            spec.name,
            state.preset().display(),
            lines.join("\n")
        )
    })
}

/// The options of a run of `kind` (an install, or the resume of one) started on behalf
/// of `identity` (the engine process runs for the operator at the terminal that
/// started it). A real run (not `dry_run`) first keeps `preset_text` in the state
/// directory (for `kubewiz resume`) and continues the cluster's journal, so the steps
/// an earlier run finished with the same inputs are skipped; a dry run keeps no
/// journal. Both write an audit log.
pub fn run_options(
    kind: RunKind,
    spec: &ClusterSpec,
    pki: &Pki,
    state: &ClusterState,
    preset_text: &str,
    dry_run: bool,
    identity: Identity,
) -> Result<RunOptions, String> {
    let (journal, finished) = if dry_run {
        (None, Finished::new())
    } else {
        crate::state::write_atomic(&state.preset(), preset_text.as_bytes(), 0o644)
            .map_err(|e| format!("cannot save the preset in {}: {e}", state.dir().display()))?;
        let (j, f) = open_journal(&state.journal())?;
        (Some(j), f)
    };
    let audit = start_audit(state, spec, preset_text, kind, dry_run, identity)?;
    Ok(options(spec, pki, audit, journal, finished))
}

/// The journal at `path` with the steps it says finished, continued when an earlier
/// run left one.
fn open_journal(path: &std::path::Path) -> Result<(Journal, Finished), String> {
    let opened = match journal::finished_if_any(path)? {
        Some(f) => Journal::append(path).map(|j| (j, f)),
        None => Journal::create(path).map(|j| (j, Finished::new())),
    };
    opened.map_err(|e| format!("cannot open the journal {}: {e}", path.display()))
}

/// The options of `kubewiz reset`: an audit log, and no journal (every reset step
/// checks before it acts, so a reset simply runs again). The install's journal is
/// set aside, so the next `apply` redoes every step on the reset hosts.
/// The audit log names `identity` as the operator.
pub fn reset_options(
    spec: &ClusterSpec,
    pki: &Pki,
    state: &ClusterState,
    preset_text: &str,
    identity: Identity,
) -> Result<RunOptions, String> {
    let journal = state.journal();
    if journal.is_file() {
        let aside = journal.with_extension("reset");
        std::fs::rename(&journal, &aside)
            .map_err(|e| format!("cannot set the journal {} aside: {e}", journal.display()))?;
    }
    let audit = start_audit(state, spec, preset_text, RunKind::Reset, false, identity)?;
    Ok(options(spec, pki, audit, None, Finished::new()))
}

/// The options of a day-2 run of `kind` that goes on where it stopped (`certs renew`,
/// `upgrade`): an audit log of its kind and, for a real run, a journal of its own
/// (see [`day2_journal`]), so running the same operation again skips what it
/// finished; the install's journal is left alone.
pub fn day2_options(
    kind: RunKind,
    spec: &ClusterSpec,
    pki: &Pki,
    state: &ClusterState,
    preset_text: &str,
    dry_run: bool,
) -> Result<RunOptions, String> {
    day2_options_for(
        kind,
        spec,
        pki,
        state,
        preset_text,
        dry_run,
        Identity::current(),
    )
}

/// [`day2_options`] with the audit log naming `identity` as the operator (an engine
/// process names the operator of the terminal that started it).
pub fn day2_options_for(
    kind: RunKind,
    spec: &ClusterSpec,
    pki: &Pki,
    state: &ClusterState,
    preset_text: &str,
    dry_run: bool,
    identity: Identity,
) -> Result<RunOptions, String> {
    let (journal, finished) = if dry_run {
        (None, Finished::new())
    } else {
        let (j, f) = open_journal(&day2_journal(state, kind))?;
        (Some(j), f)
    };
    let audit = start_audit(state, spec, preset_text, kind, dry_run, identity)?;
    Ok(options(spec, pki, audit, journal, finished))
}

/// The options of `kubewiz backup`: an audit log of its own kind, and no journal (a
/// backup is taken whole every time).
pub fn backup_options(
    spec: &ClusterSpec,
    pki: &Pki,
    state: &ClusterState,
    preset_text: &str,
    dry_run: bool,
    identity: Identity,
) -> Result<RunOptions, String> {
    let audit = start_audit(state, spec, preset_text, RunKind::Backup, dry_run, identity)?;
    Ok(options(spec, pki, audit, None, Finished::new()))
}

/// The journal of an unfinished day-2 run of `kind` (`certs-renew.journal`,
/// `upgrade.journal`); removed when the operation succeeds.
pub fn day2_journal(state: &ClusterState, kind: RunKind) -> std::path::PathBuf {
    state.dir().join(format!("{}.journal", kind.name()))
}

/// The audit log first: it sees every event before the journal records the step.
fn options(
    spec: &ClusterSpec,
    pki: &Pki,
    audit: AuditLog,
    journal: Option<Journal>,
    finished: Finished,
) -> RunOptions {
    let log_path = Some(audit.path().to_path_buf());
    let mut sinks: Vec<Box<dyn EventSink>> = vec![Box::new(audit)];
    sinks.extend(journal.map(|j| Box::new(j) as Box<dyn EventSink>));
    RunOptions {
        concurrency: DEFAULT_CONCURRENCY,
        finished,
        sinks,
        log_path,
        redactor: secrets(spec, pki),
    }
}

/// A new audit log in the cluster's logs directory, named by the UTC time. The
/// cluster's state directory is made private (0700) first: it holds the PKI, the
/// journal and the logs.
fn start_audit(
    state: &ClusterState,
    spec: &ClusterSpec,
    preset_text: &str,
    kind: RunKind,
    dry_run: bool,
    identity: Identity,
) -> Result<AuditLog, String> {
    audit::private_dir(state.dir()).map_err(|e| {
        format!(
            "cannot make the state directory {} private (0700): {e}; check its owner",
            state.dir().display()
        )
    })?;
    let now = time::OffsetDateTime::now_utc();
    let stamp = now
        .format(&time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "run".into());
    let started = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let logs = state.logs_dir();
    let index = state.dir().join(audit::index::FILE);
    AuditLog::create(
        audit::Start {
            dir: &logs,
            index: &index,
            stamp: &stamp,
            at: &started,
            kind,
            cluster: spec.name.as_str(),
            dry_run,
            preset_sha256: &sha256_hex(preset_text.as_bytes()),
        },
        identity,
    )
    .map_err(|e| {
        format!(
            "cannot start the audit log in {}: {e}; check that the directory is writable by uid {}",
            logs.display(),
            rustix::process::geteuid().as_raw()
        )
    })
}
