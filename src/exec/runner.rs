//! Executes a plan: phases are barriers; inside a phase every host runs at once up to
//! a limit (control planes join one at a time). A failing step stops its host, the
//! phase finishes on the others, then the run stops with the cause. Cancelling lets
//! running steps finish and starts nothing new.
//!
//! Every event passes the audit log and the journal before it reaches the channel, so
//! the record is written even when no one is listening.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinHandle;

use super::api_check;
use super::events::{Event, RunOutcome, Stamped, StepOutcome, Stream};
use super::facts::{self, Facts};
use super::journal::{Finished, Journal};
use super::libvirt;
use super::preflight;
use super::transport::{Line, Session, Transport, TransportError};
use crate::audit::AuditLog;
use crate::audit::Redactor;
use crate::plan::{Action, BundlePick, HostSteps, LibvirtNetwork, Phase, PhaseId, Plan, Step};
use crate::render::kvm::LIBVIRT_DNS_PATH;
use crate::render::{File, Layout, Target};
use crate::spec::ClusterSpec;

/// How many hosts run at once by default (DESIGN.md, Execution).
pub const DEFAULT_CONCURRENCY: usize = 32;
/// Lines of a failed step's output kept for the failure report.
const TAIL_LINES: usize = 20;
/// Lines of a unit's journal fetched when its step fails.
const JOURNAL_LINES: usize = 40;
/// Pause between two tries of a wait.
const WAIT_INTERVAL: Duration = Duration::from_secs(2);

/// What a run needs besides the plan.
pub struct RunOptions {
    pub concurrency: usize,
    /// Run only these phases (connect and preflight always run: later phases need the
    /// connections and the facts, and preflight is what keeps a run safe).
    pub only: Option<BTreeSet<PhaseId>>,
    /// Steps an earlier run finished (from its journal), with their inputs' hash:
    /// skipped when idempotent and their inputs are unchanged.
    pub finished: Finished,
    pub journal: Option<Journal>,
    pub audit: Option<AuditLog>,
    /// The cluster's state directory, where `local/` files are saved.
    pub state_dir: PathBuf,
    pub redactor: Redactor,
    /// sha256 of this cluster's ca.crt and etcd CA, to recognise an earlier install.
    pub ca_digest: String,
    pub etcd_ca_digest: String,
}

/// A run in progress.
pub struct RunHandle {
    pub events: mpsc::Receiver<Stamped>,
    cancel: Arc<AtomicBool>,
    pub task: JoinHandle<RunOutcome>,
}

impl RunHandle {
    /// Lets running steps finish and starts nothing new.
    pub fn cancel(&self) {
        self.cancel.store(true, Ordering::SeqCst);
    }

    /// A handle to cancel the run from elsewhere (a signal handler, the TUI).
    pub fn canceller(&self) -> Canceller {
        Canceller(self.cancel.clone())
    }
}

/// Cancels a run.
#[derive(Clone)]
pub struct Canceller(Arc<AtomicBool>);

impl Canceller {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// The phases that run when `asked` were asked for: connect and preflight whenever a
/// phase works on the hosts (the connections and facts those phases need, and the
/// checks that keep a run safe; the libvirt network alone touches no host), and the
/// PKI for every phase that starts something using certificates.
pub fn needed(asked: &BTreeSet<PhaseId>) -> BTreeSet<PhaseId> {
    let mut phases = asked.clone();
    if asked.iter().any(|p| *p != PhaseId::LibvirtNetwork) {
        phases.extend([PhaseId::Connect, PhaseId::Preflight]);
    }
    let uses_certificates = [
        PhaseId::Etcd,
        PhaseId::FirstControlPlane,
        PhaseId::ControlPlanes,
    ];
    if asked.iter().any(|p| uses_certificates.contains(p)) {
        phases.insert(PhaseId::Pki);
    }
    phases
}

/// Starts executing `plan` on a tokio runtime; events arrive on the handle.
pub fn start(
    spec: ClusterSpec,
    plan: Plan,
    files: Vec<File>,
    transport: Arc<dyn Transport>,
    options: RunOptions,
) -> RunHandle {
    let (tx, rx) = mpsc::channel(4096);
    let cancel = Arc::new(AtomicBool::new(false));
    let log_path = options
        .audit
        .as_ref()
        .map(|a| a.path().display().to_string());
    let emitter = Emitter {
        tx,
        sinks: Arc::new(Mutex::new(Sinks {
            audit: options.audit,
            journal: options.journal,
        })),
    };
    let run = Run {
        spec,
        files,
        transport,
        emitter,
        cancel: cancel.clone(),
        sessions: Mutex::new(BTreeMap::new()),
        facts: Mutex::new(BTreeMap::new()),
        concurrency: Arc::new(Semaphore::new(options.concurrency.max(1))),
        finished: options.finished,
        state_dir: options.state_dir,
        redactor: options.redactor,
        ca_digest: options.ca_digest,
        etcd_ca_digest: options.etcd_ca_digest,
        bundle: BundleCache::default(),
    };
    let only = options.only;
    let task = tokio::spawn(async move {
        let run = Arc::new(run);
        let outcome = run.clone().execute(plan, only).await;
        run.emitter
            .emit(Event::RunFinished { outcome, log_path })
            .await;
        outcome
    });
    RunHandle {
        events: rx,
        cancel,
        task,
    }
}

struct Sinks {
    audit: Option<AuditLog>,
    journal: Option<Journal>,
}

#[derive(Clone)]
struct Emitter {
    tx: mpsc::Sender<Stamped>,
    sinks: Arc<Mutex<Sinks>>,
}

fn now() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

impl Emitter {
    /// Records a finished step in the journal, before its event is emitted.
    fn journal(&self, step: &str, inputs: &str) {
        let mut sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(journal) = sinks.journal.as_mut()
            && let Err(e) = journal.record(step, inputs, &now())
        {
            eprintln!("kubewiz: cannot write the journal: {e}");
        }
    }

    async fn emit(&self, event: Event) {
        let stamped = Stamped { at: now(), event };
        {
            let mut sinks = self.sinks.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(audit) = sinks.audit.as_mut()
                && let Err(e) = audit.write(&stamped)
            {
                eprintln!("kubewiz: cannot write the audit log: {e}");
            }
        }
        // A consumer that went away (the TUI closed) does not stop the run.
        let _ = self.tx.send(stamped).await;
    }
}

struct Run {
    spec: ClusterSpec,
    files: Vec<File>,
    transport: Arc<dyn Transport>,
    emitter: Emitter,
    cancel: Arc<AtomicBool>,
    sessions: Mutex<BTreeMap<String, Arc<dyn Session>>>,
    facts: Mutex<BTreeMap<String, Facts>>,
    concurrency: Arc<Semaphore>,
    finished: Finished,
    state_dir: PathBuf,
    redactor: Redactor,
    ca_digest: String,
    etcd_ca_digest: String,
    bundle: BundleCache,
}

/// Why a step failed, with what the report shows.
struct Failure {
    exit_code: Option<i32>,
    message: String,
    tail: Vec<String>,
}

impl Failure {
    fn new(message: impl Into<String>) -> Self {
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

impl Run {
    async fn execute(self: Arc<Self>, plan: Plan, only: Option<BTreeSet<PhaseId>>) -> RunOutcome {
        let wanted = |p: &Phase| only.as_ref().is_none_or(|o| needed(o).contains(&p.id));
        let phases: Vec<Phase> = plan.phases.into_iter().filter(|p| wanted(p)).collect();
        let steps = phases
            .iter()
            .flat_map(|p| &p.hosts)
            .map(|h| h.steps.len())
            .sum();
        self.emitter
            .emit(Event::RunStarted {
                run_id: now(),
                cluster: plan.cluster.clone(),
                dry_run: self.transport.is_dry_run(),
                phases: phases.iter().map(|p| p.id.name().to_string()).collect(),
                hosts: self
                    .spec
                    .hosts
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_string(),
                            h.roles.iter().map(|r| r.to_string()).collect(),
                        )
                    })
                    .collect(),
                steps,
            })
            .await;
        for phase in phases {
            if self.cancel.load(Ordering::SeqCst) {
                return RunOutcome::Cancelled;
            }
            let failed = self.clone().phase(phase).await;
            if !failed.is_empty() {
                return RunOutcome::Failed;
            }
        }
        if self.cancel.load(Ordering::SeqCst) {
            RunOutcome::Cancelled
        } else {
            RunOutcome::Succeeded
        }
    }

    async fn phase(self: Arc<Self>, phase: Phase) -> Vec<String> {
        let name = phase.id.name().to_string();
        self.emitter
            .emit(Event::PhaseStarted {
                phase: name.clone(),
                title: phase.id.title().to_string(),
                hosts: phase.hosts.iter().map(|h| h.host.clone()).collect(),
            })
            .await;
        let mut failed = Vec::new();
        if phase.one_at_a_time {
            for host in phase.hosts {
                let host_name = host.host.clone();
                if !self.clone().host(name.clone(), host).await {
                    failed.push(host_name);
                    break;
                }
            }
        } else {
            let mut tasks = Vec::new();
            for host in phase.hosts {
                let run = self.clone();
                let phase_name = name.clone();
                let permit = self.concurrency.clone();
                tasks.push(tokio::spawn(async move {
                    let _permit = permit
                        .acquire_owned()
                        .await
                        .expect("the semaphore is never closed");
                    let host_name = host.host.clone();
                    (host_name, run.host(phase_name, host).await)
                }));
            }
            for task in tasks {
                match task.await {
                    Ok((_, true)) => {}
                    Ok((host, false)) => failed.push(host),
                    Err(e) => failed.push(format!("(a host task ended: {e})")),
                }
            }
        }
        failed.sort();
        self.emitter
            .emit(Event::PhaseFinished {
                phase: name,
                failed_hosts: failed.clone(),
            })
            .await;
        failed
    }

    /// Runs one host's steps; false when one failed.
    async fn host(self: Arc<Self>, phase: String, host: HostSteps) -> bool {
        for step in &host.steps {
            if self.cancel.load(Ordering::SeqCst) {
                return true;
            }
            let command = match &step.action {
                Action::Run { command } => Some(self.redactor.text(command)),
                Action::Wait { check } => Some(self.redactor.text(check)),
                _ => None,
            };
            self.emitter
                .emit(Event::StepStarted {
                    phase: phase.clone(),
                    host: host.host.clone(),
                    step: step.id.clone(),
                    title: step.title.clone(),
                    command: command.clone(),
                })
                .await;
            let started = Instant::now();
            let inputs = self.inputs(&host.host, step);
            let result = self.step(&host.host, step, &inputs).await;
            let duration_ms = started.elapsed().as_millis() as u64;
            if matches!(result, Ok(None)) && step.idempotent {
                self.emitter.journal(&step.id, &inputs);
            }
            let outcome = match &result {
                Ok(None) => StepOutcome::Done,
                Ok(Some(reason)) => StepOutcome::Skipped {
                    reason: reason.clone(),
                },
                Err(f) => StepOutcome::Failed {
                    exit_code: f.exit_code,
                    message: self.redactor.text(&f.message),
                },
            };
            self.emitter
                .emit(Event::StepFinished {
                    host: host.host.clone(),
                    step: step.id.clone(),
                    outcome,
                    duration_ms,
                })
                .await;
            if let Err(failure) = result {
                let journal_tail = match step.unit {
                    Some(unit) => self.journal_tail(&host.host, unit).await,
                    None => Vec::new(),
                };
                self.emitter
                    .emit(Event::HostFailed {
                        host: host.host.clone(),
                        phase: phase.clone(),
                        step: step.id.clone(),
                        command,
                        exit_code: failure.exit_code,
                        message: self.redactor.text(&failure.message),
                        output_tail: failure.tail,
                        journal_tail,
                    })
                    .await;
                return false;
            }
        }
        true
    }

    fn session(&self, host: &str) -> Result<Arc<dyn Session>, Failure> {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(host)
            .cloned()
            .ok_or_else(|| {
                Failure::new("no connection to this host (the connect phase did not run for it)")
            })
    }

    /// A hash of what the step does on this host: its command, or the path, mode and
    /// content it uploads. A finished step is done again when this changes.
    fn inputs(&self, host: &str, step: &Step) -> String {
        if let Action::LibvirtNetwork(network) = &step.action {
            return self.libvirt_inputs(network);
        }
        let mut data = format!("{:?}\n", step.action).into_bytes();
        if let Action::UploadBundle { from, .. } = &step.action {
            // Names, sizes and modification times tell a changed bundle without
            // reading hundreds of megabytes a second time.
            data.extend(bundle_fingerprint(from).as_bytes());
        }
        if let Action::Upload { path, .. } | Action::WriteLocal { path } = &step.action {
            let target = match &step.action {
                Action::WriteLocal { .. } => Target::Local,
                _ => Target::Host(host.to_owned()),
            };
            if let Some(file) = self
                .files
                .iter()
                .find(|f| f.target == target && &f.path == path)
            {
                data.extend(file.content.as_bytes());
            }
        }
        crate::digest::sha256_hex(&data)
    }

    /// What the libvirt network must hold: the network, the connection, the DNS
    /// records (the rendered libvirt-dns.xml) and each host's address. Not the
    /// preview, which the step itself changes.
    fn libvirt_inputs(&self, network: &LibvirtNetwork) -> String {
        let mut data = format!("libvirt network {} on {}\n", network.network, network.uri);
        let dns = self
            .files
            .iter()
            .find(|f| f.target == Target::Local && f.path == LIBVIRT_DNS_PATH);
        if let Some(dns) = dns {
            data.push_str(&dns.content);
        }
        for host in &self.spec.hosts {
            data.push_str(&format!("{} {}\n", host.name, host.address));
        }
        crate::digest::sha256_hex(data.as_bytes())
    }

    /// Runs one step: Ok(None) done, Ok(Some(reason)) skipped.
    async fn step(&self, host: &str, step: &Step, inputs: &str) -> Result<Option<String>, Failure> {
        match self.finished.get(&step.id) {
            Some(hash) if step.idempotent && hash == inputs => {
                return Ok(Some("finished in an earlier run".into()));
            }
            _ => {}
        }
        if let Some(family) = step.only_on {
            let facts = self
                .facts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(host)
                .cloned();
            if facts.is_some_and(|f| f.os_family != Some(family)) {
                return Ok(Some(format!("only for {family:?} hosts")));
            }
        }
        match &step.action {
            Action::Connect => {
                let spec_host = self
                    .spec
                    .hosts
                    .iter()
                    .find(|h| h.name.as_str() == host)
                    .ok_or_else(|| Failure::new("the host is not in the spec"))?;
                let session = self.transport.connect(spec_host, &self.spec.ssh).await?;
                self.sessions
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(host.to_owned(), Arc::from(session));
                Ok(None)
            }
            Action::Facts => {
                let session = self.session(host)?;
                let before = unix_now();
                let (code, tail, raw) = self
                    .run_command(
                        host,
                        &step.id,
                        &*session,
                        facts::SCRIPT,
                        step.timeout,
                        false,
                    )
                    .await?;
                let middle = (before + unix_now()) / 2.0;
                if code != 0 {
                    return Err(Failure {
                        exit_code: Some(code),
                        message: "the facts script failed".into(),
                        tail,
                    });
                }
                let facts = facts::parse(&raw.join("\n"), middle).map_err(Failure::new)?;
                self.facts
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(host.to_owned(), facts);
                Ok(None)
            }
            Action::Preflight(_) => {
                let all = self.facts.lock().unwrap_or_else(|e| e.into_inner()).clone();
                let layout = Layout::new(&self.spec).map_err(|e| Failure::new(e.to_string()))?;
                let problems =
                    preflight::check(&layout, &all, host, &self.ca_digest, &self.etcd_ca_digest);
                for p in &problems {
                    let line = format!(
                        "{}: {}",
                        if p.fatal { "error" } else { "warning" },
                        p.message
                    );
                    self.output(host, &step.id, Stream::Stdout, line).await;
                }
                let fatal: Vec<String> = problems
                    .into_iter()
                    .filter(|p| p.fatal)
                    .map(|p| p.message)
                    .collect();
                match fatal.len() {
                    0 => Ok(None),
                    1 => Err(Failure::new(fatal[0].clone())),
                    n => Err(Failure {
                        exit_code: None,
                        message: format!("{n} preflight checks failed"),
                        tail: fatal,
                    }),
                }
            }
            Action::Upload { path, mode } => {
                let file = self
                    .files
                    .iter()
                    .find(|f| f.target == Target::Host(host.to_owned()) && &f.path == path)
                    .ok_or_else(|| {
                        Failure::new(format!("{path} was not rendered for this host"))
                    })?;
                let changed = self
                    .session(host)?
                    .upload(path, *mode, file.content.as_bytes())
                    .await?;
                if !changed {
                    self.output(
                        host,
                        &step.id,
                        Stream::Stdout,
                        format!("{path} is already up to date"),
                    )
                    .await;
                }
                Ok(None)
            }
            Action::Run { command } => {
                let session = self.session(host)?;
                let (code, tail, _) = self
                    .run_command(host, &step.id, &*session, command, step.timeout, true)
                    .await?;
                if code == 0 {
                    Ok(None)
                } else {
                    Err(Failure {
                        exit_code: Some(code),
                        message: format!("the command exited with {code}"),
                        tail,
                    })
                }
            }
            Action::Wait { check } => self.wait(host, step, check).await,
            Action::CheckApi { url, kubeconfig } => {
                self.check_api(host, step, url, kubeconfig).await
            }
            Action::LibvirtNetwork(network) => self.libvirt(host, step, network).await,
            Action::UploadBundle { from, to, pick } => {
                let session = self.session(host)?;
                let programs = self.bundle.files(from, pick).map_err(Failure::new)?;
                for (name, content) in &programs {
                    let path = format!("{to}/{name}");
                    let changed = session.upload(&path, 0o755, content).await?;
                    let word = if changed {
                        "installed"
                    } else {
                        "already up to date:"
                    };
                    self.output(host, &step.id, Stream::Stdout, format!("{word} {path}"))
                        .await;
                }
                Ok(None)
            }
            Action::WriteLocal { path } => {
                if self.transport.is_dry_run() {
                    return Ok(Some("dry run: nothing is written".into()));
                }
                let file = self
                    .files
                    .iter()
                    .find(|f| f.target == Target::Local && &f.path == path)
                    .ok_or_else(|| Failure::new(format!("local/{path} was not rendered")))?;
                crate::state::write_atomic(
                    &self.state_dir.join(path),
                    file.content.as_bytes(),
                    file.mode,
                )
                .map_err(|e| {
                    Failure::new(format!(
                        "cannot write {}: {e}",
                        self.state_dir.join(path).display()
                    ))
                })?;
                self.output(
                    host,
                    &step.id,
                    Stream::Stdout,
                    format!("saved {}", self.state_dir.join(path).display()),
                )
                .await;
                Ok(None)
            }
        }
    }

    /// Tries `check` until it succeeds or the step's timeout passes.
    async fn wait(&self, host: &str, step: &Step, check: &str) -> Result<Option<String>, Failure> {
        let session = self.session(host)?;
        let deadline = Instant::now() + step.timeout;
        let mut tries = 0;
        loop {
            tries += 1;
            let left = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_secs(1));
            let attempt = self.run_command(
                host,
                &step.id,
                &*session,
                check,
                left.min(Duration::from_secs(30)),
                false,
            );
            let (code, tail) = match attempt.await {
                Ok((code, tail, _)) => (code, tail),
                Err(Failure { message, .. }) => (-1, vec![message]),
            };
            if code == 0 {
                return Ok(None);
            }
            if Instant::now() + WAIT_INTERVAL >= deadline || self.cancel.load(Ordering::SeqCst) {
                return Err(Failure {
                    exit_code: Some(code),
                    message: format!(
                        "not ready after {}s ({tries} tries)",
                        step.timeout.as_secs()
                    ),
                    tail,
                });
            }
            let last = tail
                .last()
                .cloned()
                .unwrap_or_else(|| format!("exit {code}"));
            self.output(
                host,
                &step.id,
                Stream::Stdout,
                format!("waiting ({tries}): {last}"),
            )
            .await;
            tokio::time::sleep(WAIT_INTERVAL).await;
        }
    }

    /// On the KVM host: the libvirt network's reservations and DNS entries, read,
    /// planned and applied by virsh on a blocking thread (`exec::libvirt`).
    async fn libvirt(
        &self,
        host: &str,
        step: &Step,
        network: &LibvirtNetwork,
    ) -> Result<Option<String>, Failure> {
        let spec = self.spec.clone();
        let job = network.clone();
        let dry_run = self.transport.is_dry_run();
        let work = tokio::task::spawn_blocking(move || libvirt::run(&spec, &job, dry_run));
        let report = match tokio::time::timeout(step.timeout, work).await {
            Ok(Ok(report)) => report,
            Ok(Err(e)) => return Err(Failure::new(format!("the libvirt step stopped: {e}"))),
            Err(_) => {
                return Err(Failure::new(format!(
                    "virsh did not finish within {}s; check that libvirt answers: virsh -c {} net-list --all",
                    step.timeout.as_secs(),
                    network.uri
                )));
            }
        };
        for (stream, line) in report.lines {
            self.output(host, &step.id, stream, self.redactor.text(&line))
                .await;
        }
        report.result.map_err(Failure::new)
    }

    /// From the KVM host: GET `url` with the operator's kubeconfig until it answers.
    async fn check_api(
        &self,
        host: &str,
        step: &Step,
        url: &str,
        kubeconfig: &str,
    ) -> Result<Option<String>, Failure> {
        if self.transport.is_dry_run() {
            return Ok(Some("dry run: nothing is contacted".into()));
        }
        let file = self
            .files
            .iter()
            .find(|f| f.target == Target::Local && f.path == kubeconfig)
            .ok_or_else(|| Failure::new(format!("local/{kubeconfig} was not rendered")))?;
        let scratch = self
            .state_dir
            .join(format!(".check-{}", std::process::id()));
        let deadline = Instant::now() + step.timeout;
        let mut tries = 0;
        loop {
            tries += 1;
            match api_check::probe(url, &file.content, &scratch).await {
                Ok(body) => {
                    self.output(host, &step.id, Stream::Stdout, format!("{url}: {body}"))
                        .await;
                    return Ok(None);
                }
                Err(why)
                    if Instant::now() + WAIT_INTERVAL >= deadline
                        || self.cancel.load(Ordering::SeqCst) =>
                {
                    return Err(Failure {
                        exit_code: None,
                        message: format!(
                            "{url} did not answer after {}s ({tries} tries)",
                            step.timeout.as_secs()
                        ),
                        tail: vec![why],
                    });
                }
                Err(why) => {
                    self.output(
                        host,
                        &step.id,
                        Stream::Stdout,
                        format!("waiting ({tries}): {why}"),
                    )
                    .await;
                    tokio::time::sleep(WAIT_INTERVAL).await;
                }
            }
        }
    }

    /// Runs a command, emitting its output when `show` (waits only report a summary);
    /// returns the exit code, the last lines redacted, and every line as the host sent
    /// it (for parsing facts only; never shown or logged).
    async fn run_command(
        &self,
        host: &str,
        step: &str,
        session: &dyn Session,
        command: &str,
        timeout: Duration,
        show: bool,
    ) -> Result<(i32, Vec<String>, Vec<String>), Failure> {
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
        let code = code.map_err(|e| Failure {
            exit_code: None,
            message: e.to_string(),
            tail: Vec::new(),
        })?;
        Ok((code, tail, all))
    }

    async fn output(&self, host: &str, step: &str, stream: Stream, line: String) {
        self.emitter
            .emit(Event::StepOutput {
                host: host.to_owned(),
                step: step.to_owned(),
                stream,
                line,
            })
            .await;
    }

    /// The last lines of `unit`'s journal, where kubeadm and kubelet failures show
    /// their real cause.
    async fn journal_tail(&self, host: &str, unit: &str) -> Vec<String> {
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

/// `name size mtime` of each program of a bundle directory, sorted; empty when the
/// directory cannot be read (the step itself then says why).
fn bundle_fingerprint(dir: &std::path::Path) -> String {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return String::new();
    };
    let mut lines: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let meta = e.metadata().ok().filter(|m| m.is_file())?;
            let mtime = meta
                .modified()
                .ok()?
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_nanos();
            Some(format!(
                "{} {} {mtime}",
                e.file_name().to_string_lossy(),
                meta.len()
            ))
        })
        .collect();
    lines.sort();
    lines.join("\n")
}

/// The bundle's programs, read from the KVM host once per run and shared by every
/// host's upload: a bundle is hundreds of megabytes, and a copy per host would
/// multiply kubewiz's memory by the hosts uploading at once. A file whose size or
/// modification time changed since it was read is read again.
#[derive(Default)]
struct BundleCache(Mutex<BTreeMap<PathBuf, Cached>>);

/// A program of the bundle: its file name and content.
type Program = (String, Arc<[u8]>);

struct Cached {
    modified: Option<std::time::SystemTime>,
    content: Arc<[u8]>,
}

impl BundleCache {
    /// The programs of the bundle directory `dir` that `pick` takes, by name.
    fn files(&self, dir: &Path, pick: &BundlePick) -> Result<Vec<Program>, String> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            format!(
                "cannot read the bundle directory {}: {e}; packages.bundle_dir must hold bin/",
                dir.display()
            )
        })?;
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !pick.takes(&name) {
                continue;
            }
            // Followed like `is_file`: a bundle may link its programs.
            let path = entry.path();
            let meta = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            if meta.is_file() {
                found.push((name, path, meta));
            }
        }
        if let BundlePick::Only(only) = pick
            && let Some(missing) = only.iter().find(|p| !found.iter().any(|(n, ..)| n == *p))
        {
            return Err(format!(
                "the bundle directory {} has no {missing}; put {} there",
                dir.display(),
                only.join(" and ")
            ));
        }
        if found.is_empty() {
            return Err(format!(
                "the bundle directory {} holds no programs",
                dir.display()
            ));
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        found
            .into_iter()
            .map(|(name, path, meta)| {
                let modified = meta.modified().ok();
                if let Some(c) = cache.get(&path)
                    && c.content.len() as u64 == meta.len()
                    && c.modified == modified
                {
                    return Ok((name, c.content.clone()));
                }
                let content: Arc<[u8]> = std::fs::read(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?
                    .into();
                let cached = Cached {
                    modified,
                    content: content.clone(),
                };
                cache.insert(path, cached);
                Ok((name, content))
            })
            .collect()
    }
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
