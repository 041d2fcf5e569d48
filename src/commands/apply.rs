//! `kubewiz apply` and `kubewiz resume`: run the plan on the hosts (or, with
//! `--dry-run`, on no host at all), with line output and an audit log.

use std::collections::BTreeSet;
use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::prepare::{Prepared, prepare};
use super::{EXIT_FAILED, EXIT_OK, EXIT_USAGE};
use crate::exec::audit::AuditLog;
use crate::exec::dry_run::DryRun;
use crate::exec::journal::{self, Journal};
use crate::exec::redact::Redactor;
use crate::exec::runner::{self, DEFAULT_CONCURRENCY, RunOptions};
use crate::exec::{RunOutcome, Transport, lines};
use crate::pki::Authority;
use crate::plan::PhaseId;
use crate::state::{self, ClusterState};

/// What `kubewiz apply` was asked to do.
pub struct ApplyArgs<'a> {
    pub preset: &'a Path,
    pub yes: bool,
    pub dry_run: bool,
    pub no_tui: bool,
    pub phases: &'a [String],
    pub accept_new_host_keys: bool,
}

pub fn run(state_dir: Option<&Path>, args: ApplyArgs<'_>) -> ExitCode {
    let only = match parse_phases(args.phases) {
        Ok(only) => only,
        Err(code) => return code,
    };
    if !args.dry_run {
        // The SSH transport is the part of the engine still being built: say so
        // instead of pretending to install.
        let _ = (args.yes, args.accept_new_host_keys);
        eprintln!(
            "kubewiz: installing over SSH is not built yet in this version; `kubewiz apply --dry-run` shows what would run"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    let prepared = match prepare(state_dir, args.preset) {
        Ok(p) => p,
        Err(code) => return code,
    };
    if !args.no_tui {
        eprintln!(
            "kubewiz: the full-screen view of a run is not built yet; showing the line output"
        );
    }
    execute(prepared, Arc::new(DryRun::new(0.0)), only, None)
}

/// `kubewiz resume NAME`: the last run of cluster NAME, skipping what its journal says
/// finished.
pub fn resume(state_dir: Option<&Path>, name: &str) -> ExitCode {
    let state_dir = state_dir.map_or_else(state::default_dir, Path::to_path_buf);
    let cluster = ClusterState::new(&state_dir, name);
    if !cluster.preset().is_file() || !cluster.journal().is_file() {
        eprintln!(
            "kubewiz: no run of cluster {name} to resume in {} (looked for {} and {}); start one with `kubewiz apply`",
            state_dir.display(),
            cluster.preset().display(),
            cluster.journal().display()
        );
        return ExitCode::from(EXIT_FAILED);
    }
    let finished = match journal::finished_steps(&cluster.journal()) {
        Ok(f) => f,
        Err(e) => {
            eprintln!("kubewiz: cannot read {}: {e}", cluster.journal().display());
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let _ = finished;
    eprintln!("kubewiz: resuming needs the SSH transport, which is not built yet in this version");
    ExitCode::from(EXIT_USAGE)
}

fn parse_phases(names: &[String]) -> Result<Option<BTreeSet<PhaseId>>, ExitCode> {
    if names.is_empty() {
        return Ok(None);
    }
    let mut only = BTreeSet::new();
    for name in names {
        match PhaseId::from_name(name) {
            Some(p) => {
                only.insert(p);
            }
            None => {
                let known: Vec<&str> = PhaseId::ALL.iter().map(|p| p.name()).collect();
                eprintln!(
                    "kubewiz: --phase {name} is not a phase; the phases are {}",
                    known.join(", ")
                );
                return Err(ExitCode::from(EXIT_USAGE));
            }
        }
    }
    Ok(Some(only))
}

/// Asks the operator on the terminal; false unless they type yes.
pub fn confirm(question: &str) -> bool {
    if !std::io::stdin().is_terminal() {
        return false;
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    let _ = std::io::stdin().lock().read_line(&mut answer);
    matches!(answer.trim(), "y" | "Y" | "yes")
}

fn sha256_hex(data: &[u8]) -> String {
    aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The secrets of a cluster that must never be shown or logged.
pub fn secrets(prepared: &Prepared) -> Redactor {
    let token = prepared.pki.bootstrap_token.clone();
    let mut secrets = vec![token.clone()];
    secrets.extend(token.split_once('.').map(|(_, s)| s.to_owned()));
    for proxy in [&prepared.spec.proxy.http, &prepared.spec.proxy.https]
        .into_iter()
        .flatten()
    {
        secrets.extend(proxy.url().password().map(str::to_owned));
    }
    Redactor::new(secrets)
}

/// Runs the plan with line output; the audit log goes to the state directory.
fn execute(
    prepared: Prepared,
    transport: Arc<dyn Transport>,
    only: Option<BTreeSet<PhaseId>>,
    journal: Option<Journal>,
) -> ExitCode {
    let stamp = time::OffsetDateTime::now_utc()
        .format(&time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "run".into());
    let started = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let preset_hash = sha256_hex(prepared.preset_text.as_bytes());
    let audit = match AuditLog::create(&prepared.state.logs_dir(), &stamp, &preset_hash, &started) {
        Ok(a) => a,
        Err(e) => {
            eprintln!(
                "kubewiz: cannot start the audit log in {}: {e}",
                prepared.state.logs_dir().display()
            );
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let options = RunOptions {
        concurrency: DEFAULT_CONCURRENCY,
        only,
        finished: Default::default(),
        journal,
        audit: Some(audit),
        state_dir: prepared.state.dir().to_path_buf(),
        redactor: secrets(&prepared),
        ca_digest: sha256_hex(
            prepared
                .pki
                .authority(Authority::Kubernetes)
                .cert_pem
                .as_bytes(),
        ),
        etcd_ca_digest: sha256_hex(prepared.pki.authority(Authority::Etcd).cert_pem.as_bytes()),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kubewiz: cannot start: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let outcome = runtime.block_on(async move {
        let mut handle = runner::start(prepared.spec, prepared.plan, prepared.files, transport, options);
        let canceller = handle.canceller();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("kubewiz: cancelling: running steps finish, nothing new starts (Ctrl-C again to leave now)");
                canceller.cancel();
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        });
        let mut stdout = std::io::stdout().lock();
        let mut summary = lines::Summary::default();
        while let Some(stamped) = handle.events.recv().await {
            summary.add(&stamped.event);
            if let Some(line) = lines::format(&stamped.event) {
                let _ = writeln!(stdout, "{line}");
            }
        }
        let _ = write!(stdout, "{summary}");
        handle.task.await.unwrap_or(RunOutcome::Failed)
    });
    ExitCode::from(if outcome == RunOutcome::Succeeded {
        EXIT_OK
    } else {
        EXIT_FAILED
    })
}
