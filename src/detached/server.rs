//! The engine process (`kubewiz engine`, started by [`super::spawn`]): a session of its
//! own, the cluster's lock, the run, and its events served on the cluster's socket.
//!
//! Its first line on standard output says whether it started (`ready`) or why not
//! (`error: ...`); it writes nothing there after. Each client connection gets every
//! event so far, then the live ones, as JSON lines; a client may send `cancel` (running
//! steps finish, nothing new starts). When the run ends the socket is removed and the
//! lock released before the last clients are let go, so a client that saw the end can
//! start the next run at once.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::job::{self, Job};
use super::lock::{self, Holder};
use crate::audit::Identity;
use crate::audit::announce;
use crate::exec::RunOutcome;
use crate::exec::runner::{self, Canceller};
use crate::exit;
use crate::state::ClusterState;

/// How long the last events may take to reach a client that reads slowly, once the
/// run has ended.
const LAST_WORDS: Duration = Duration::from_secs(10);
/// How long a run that ended before any client attached waits for the client that
/// started it, which connects right after the engine says it is ready.
const FIRST_CLIENT: Duration = Duration::from_secs(5);

/// The engine process: reads its [`Job`] from standard input and runs it.
pub fn main() -> ExitCode {
    // Its own session: no controlling terminal, so the terminal's hangup and Ctrl-C
    // never reach it. Fails only when already a session leader, which is as good.
    let _ = rustix::process::setsid();
    let mut input = String::new();
    if let Err(e) = std::io::stdin().read_to_string(&mut input) {
        return refuse(&format!("cannot read the run asked for: {e}"));
    }
    let job: Job = match serde_json::from_str(&input) {
        Ok(j) => j,
        Err(e) => return refuse(&format!("the run asked for is not understood: {e}")),
    };
    let spec = match job.spec() {
        Ok(s) => s,
        Err(e) => return refuse(&e),
    };
    let state = ClusterState::new(&job.state_dir, spec.name.as_str());
    let mut identity = Identity::current();
    identity.terminal = job.terminal.clone();
    let holder = Holder::this_process(
        &identity.operator,
        format!(
            "{}{}",
            if job.dry_run { "dry-run " } else { "" },
            job.kind.run_kind().name()
        ),
    );
    let lock = match lock::acquire(&state, spec.name.as_str(), &holder) {
        Ok(l) => l,
        Err(e) => return refuse(&e.to_string()),
    };
    tracing::info!(cluster = %spec.name, kind = %holder.kind, "engine started");
    let socket = super::socket_path(&state);
    let listener = match listen(&socket) {
        Ok(l) => l,
        Err(e) => {
            return refuse(&format!(
                "cannot listen on {}: {e}; check the state directory",
                socket.display()
            ));
        }
    };
    let ready = match job::ready(&job, &spec, &state, identity) {
        Ok(r) => r,
        Err(e) => {
            let _ = std::fs::remove_file(&socket);
            return refuse(&e);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => return refuse(&format!("cannot start: {e}")),
    };
    let outcome = runtime.block_on(async move {
        let listener = match UnixListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                refuse(&format!("cannot listen on {}: {e}", socket.display()));
                return None;
            }
        };
        let log_path = ready.options.log_path.clone();
        if let Some(log) = &log_path
            && job.syslog
            && let Err(e) = announce::to_syslog(&announce::started(log))
        {
            eprintln!("kubewiz engine: {e}");
        }
        say("ready");
        let record = ready.record;
        let _scratch = ready.scratch;
        let mut handle = runner::start(ready.plan, ready.transport, ready.options);
        let hub = Arc::new(Mutex::new(Hub::default()));
        let (stop_accepting, stop) = tokio::sync::watch::channel(false);
        let accepting = tokio::spawn(accept(listener, hub.clone(), handle.canceller(), stop));
        while let Some(stamped) = handle.events.recv().await {
            // The cluster's record follows the run before any client hears it ended, so
            // what a client does next reads it updated.
            if let crate::exec::Event::RunFinished { outcome, .. } = &stamped.event
                && *outcome == RunOutcome::Succeeded
                && let Err(e) = record.keep(&state)
            {
                tracing::warn!(error = %e, "the cluster's record was not updated");
                eprintln!("kubewiz engine: the run went through, but the cluster's record was not updated: {e}");
            }
            match serde_json::to_string(&stamped) {
                Ok(line) => hub_lock(&hub).send(Arc::from(line + "\n")),
                Err(e) => {
                    tracing::error!(error = %e, "an event could not be encoded");
                    eprintln!("kubewiz engine: an event could not be encoded: {e}");
                }
            }
        }
        let outcome = handle.task.await.unwrap_or(RunOutcome::Failed);
        // A run can end within milliseconds (every step done before): the client that
        // started it gets it whole, and a client still waiting in the listener's queue
        // is served, not reset when the listener goes.
        let deadline = tokio::time::Instant::now() + FIRST_CLIENT;
        while hub_lock(&hub).attached == 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let _ = stop_accepting.send(true);
        if tokio::time::timeout(Duration::from_secs(2), accepting).await.is_err() {
            tracing::warn!("the listener did not stop in 2 s");
        }
        if let Err(e) = std::fs::remove_file(&socket) {
            tracing::warn!(socket = %socket.display(), error = %e, "the socket could not be removed");
            eprintln!("kubewiz engine: cannot remove {}: {e}", socket.display());
        }
        drop(lock);
        if let Some(log) = &log_path
            && job.syslog
            && let Err(e) = announce::to_syslog(&announce::Ending::of(log).message())
        {
            eprintln!("kubewiz engine: {e}");
        }
        let writers = hub_lock(&hub).close();
        for writer in writers {
            let _ = tokio::time::timeout(LAST_WORDS, writer).await;
        }
        tracing::info!(?outcome, "engine finished");
        Some(outcome)
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    ExitCode::from(match outcome {
        Some(RunOutcome::Succeeded) => exit::OK,
        Some(RunOutcome::Cancelled) => exit::CANCELLED,
        Some(RunOutcome::Failed) | None => exit::FAILED,
    })
}

/// The first and only line on standard output: what the starting client waits for.
fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn refuse(message: &str) -> ExitCode {
    tracing::error!(message, "engine did not start");
    eprintln!("kubewiz engine: did not start: {message}");
    say(&format!("error: {message}"));
    ExitCode::from(exit::FAILED)
}

/// The socket, private to its owner (its directory is 0700 too). An old socket there
/// is a leftover: the lock says no engine of this cluster runs.
fn listen(path: &Path) -> std::io::Result<std::os::unix::net::UnixListener> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = std::os::unix::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    listener.set_nonblocking(true)?;
    Ok(listener)
}

/// Every event so far, and the clients that get the next ones.
#[derive(Default)]
struct Hub {
    history: Vec<Arc<str>>,
    clients: Vec<mpsc::UnboundedSender<Arc<str>>>,
    writers: Vec<JoinHandle<()>>,
    /// How many clients attached so far.
    attached: usize,
}

impl Hub {
    fn send(&mut self, line: Arc<str>) {
        self.clients.retain(|c| c.send(line.clone()).is_ok());
        self.history.push(line);
    }

    /// Lets every client go once it has the last event; their writers, to wait for.
    fn close(&mut self) -> Vec<JoinHandle<()>> {
        self.clients.clear();
        std::mem::take(&mut self.writers)
    }
}

fn hub_lock(hub: &Mutex<Hub>) -> std::sync::MutexGuard<'_, Hub> {
    hub.lock().unwrap_or_else(|e| e.into_inner())
}

/// Serves clients until `stop` says the run ended; then serves those already waiting
/// in the listener's queue, and stops.
async fn accept(
    listener: UnixListener,
    hub: Arc<Mutex<Hub>>,
    canceller: Canceller,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => serve(stream, &hub, canceller.clone()),
                Err(e) => {
                    tracing::warn!(error = %e, "a client could not be accepted");
                    eprintln!("kubewiz engine: a client could not be accepted: {e}");
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            },
            _ = stop.changed() => break,
        }
    }
    while let Ok(Ok((stream, _))) =
        tokio::time::timeout(Duration::from_millis(50), listener.accept()).await
    {
        serve(stream, &hub, canceller.clone());
    }
}

/// One client: the history, then live events; `cancel` from it cancels the run.
fn serve(stream: UnixStream, hub: &Mutex<Hub>, canceller: Canceller) {
    let (read, mut write) = stream.into_split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Arc<str>>();
    let mut hub = hub_lock(hub);
    let history = hub.history.clone();
    hub.clients.push(tx);
    hub.attached += 1;
    tracing::info!(replayed = history.len(), "a client attached");
    let writer = tokio::spawn(async move {
        for line in history {
            if write.write_all(line.as_bytes()).await.is_err() {
                return;
            }
        }
        while let Some(line) = rx.recv().await {
            if write.write_all(line.as_bytes()).await.is_err() {
                tracing::info!("a client detached");
                return;
            }
        }
        let _ = write.shutdown().await;
    });
    hub.writers.retain(|w| !w.is_finished());
    hub.writers.push(writer);
    tokio::spawn(async move {
        let mut lines = BufReader::new(read).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line.trim() == "cancel" {
                tracing::info!("a client cancelled the run");
                canceller.cancel();
            }
        }
    });
}
