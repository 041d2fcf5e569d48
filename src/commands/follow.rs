//! The line output of a run carried out by its engine process (`apply`, `resume`,
//! `reset`, `attach`): every event so far, then the live ones, and a summary.
//!
//! The run does not depend on this process: SIGHUP (the terminal went away) only
//! detaches it. Ctrl-C asks whether to stop the run (running steps finish, nothing new
//! starts) or to detach, when there is a terminal to ask on and `--yes` was not given;
//! otherwise it stops the run as it always did, and a second Ctrl-C leaves at once.

use std::io::{BufRead, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use tokio::sync::mpsc;

use super::{EXIT_CANCELLED, EXIT_FAILED, EXIT_OK};
use crate::audit::announce;
use crate::detached::client::{self, Attached};
use crate::detached::job::Job;
use crate::detached::spawn;
use crate::exec::events::Event;
use crate::exec::{RunOutcome, lines};
use crate::state;

/// What Ctrl-C does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OnCtrlC {
    /// Ask: stop the run, or detach from it.
    Ask,
    /// Stop the run (running steps finish, nothing new starts).
    Stop,
}

impl OnCtrlC {
    /// Ask when there is a terminal to ask on and the operator did not say `--yes`.
    pub(super) fn for_run(yes: bool) -> OnCtrlC {
        if !yes && std::io::stdin().is_terminal() {
            OnCtrlC::Ask
        } else {
            OnCtrlC::Stop
        }
    }
}

/// `kubewiz attach NAME`.
pub fn attach(state_dir: Option<&Path>, name: &str) -> ExitCode {
    let dir = state_dir.map_or_else(state::default_dir, Path::to_path_buf);
    let on_ctrl_c = OnCtrlC::for_run(false);
    follow(name, on_ctrl_c, || client::attach(&dir, name))
}

/// Starts `job`'s engine for cluster `name` and follows its run.
pub(super) fn start(job: &Job, name: &str, on_ctrl_c: OnCtrlC) -> ExitCode {
    let started = match spawn::start(job, name) {
        Ok(s) => s,
        Err(e) => {
            say(&format!("kubewiz: {e}"));
            return ExitCode::from(EXIT_FAILED);
        }
    };
    // The engine outlives this process when it is detached; it is not waited for.
    let _engine = started.child;
    let socket = started.socket;
    follow(name, on_ctrl_c, || {
        client::connect(&socket)
            .map_err(|e| format!("cannot follow the run on {}: {e}", socket.display()))
    })
}

/// How following ended.
enum End {
    /// The run's last event came.
    Finished(RunOutcome),
    /// The operator left (or the terminal went away); the run goes on.
    Detached,
    /// Ctrl-C twice: left at once, the run finishing its running steps.
    LeftNow,
    /// The events stopped before the run's end.
    Lost(String),
}

fn follow(
    name: &str,
    on_ctrl_c: OnCtrlC,
    connect: impl FnOnce() -> Result<Attached, String>,
) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            say(&format!("kubewiz: cannot start: {e}"));
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let end = runtime.block_on(async move {
        let attached = connect()?;
        Ok::<End, String>(lines_of(attached, name, on_ctrl_c).await)
    });
    // A question may still be waiting on the terminal; do not wait for it.
    runtime.shutdown_background();
    match end {
        Err(e) => {
            say(&format!("kubewiz: {e}"));
            ExitCode::from(EXIT_FAILED)
        }
        Ok(End::Finished(outcome)) => ExitCode::from(match outcome {
            RunOutcome::Succeeded => EXIT_OK,
            RunOutcome::Cancelled => EXIT_CANCELLED,
            RunOutcome::Failed => EXIT_FAILED,
        }),
        Ok(End::Detached) => {
            say(&format!(
                "kubewiz: detached; the run goes on (`kubewiz attach {name}` follows it again)"
            ));
            ExitCode::from(EXIT_OK)
        }
        Ok(End::LeftNow) => ExitCode::from(EXIT_CANCELLED),
        Ok(End::Lost(why)) => {
            say(&format!(
                "kubewiz: {why}; `kubewiz audit show {name}` shows how far the run got, `kubewiz resume {name}` continues it"
            ));
            ExitCode::from(EXIT_FAILED)
        }
    }
}

async fn lines_of(mut attached: Attached, name: &str, on_ctrl_c: OnCtrlC) -> End {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup()).ok();
    let (answer_tx, mut answers) = mpsc::unbounded_channel::<String>();
    let mut asking = false;
    let mut cancelled = false;
    let mut summary = lines::Summary::default();
    let mut finished = None;
    loop {
        tokio::select! {
            event = attached.events.recv() => {
                let Some(stamped) = event else { break };
                summary.add(&stamped.event);
                if let Some(line) = lines::format(&stamped.event) {
                    let _ = writeln!(std::io::stdout().lock(), "{line}");
                }
                if let Event::RunFinished { outcome, log_path } = &stamped.event {
                    finished = Some((*outcome, log_path.clone()));
                }
            }
            _ = tokio::signal::ctrl_c() => {
                if asking || cancelled {
                    return End::LeftNow;
                }
                match on_ctrl_c {
                    OnCtrlC::Stop => {
                        cancel(&attached);
                        cancelled = true;
                    }
                    OnCtrlC::Ask => {
                        asking = true;
                        say(&format!(
                            "kubewiz: stop the run of {name} (running steps finish, nothing new starts), or detach and let it go on? [s]top / [d]etach / [c]ontinue"
                        ));
                        let tx = answer_tx.clone();
                        std::thread::spawn(move || {
                            let mut answer = String::new();
                            let _ = std::io::stdin().lock().read_line(&mut answer);
                            let _ = tx.send(answer);
                        });
                    }
                }
            }
            Some(answer) = answers.recv() => {
                asking = false;
                match answer.trim() {
                    "s" | "S" | "stop" => {
                        cancel(&attached);
                        cancelled = true;
                    }
                    "d" | "D" | "detach" => return End::Detached,
                    _ => say("kubewiz: going on"),
                }
            }
            _ = hung_up(&mut hangup) => return End::Detached,
        }
    }
    let broke = attached.task.await.ok().and_then(Result::err);
    let _ = write!(std::io::stdout().lock(), "{summary}");
    match finished {
        Some((outcome, log)) => {
            if let Some(log) = log {
                say(&format!(
                    "kubewiz: {}",
                    announce::Ending::of(Path::new(&log)).message()
                ));
            }
            End::Finished(outcome)
        }
        None => End::Lost(broke.unwrap_or_else(|| {
            "the run's engine process stopped before the run finished".to_owned()
        })),
    }
}

fn cancel(attached: &Attached) {
    match attached.cancel() {
        Ok(()) => say(
            "kubewiz: cancelling: running steps finish, nothing new starts (Ctrl-C again to leave now)",
        ),
        Err(e) => say(&format!("kubewiz: cannot ask the run to stop: {e}")),
    }
}

async fn hung_up(hangup: &mut Option<tokio::signal::unix::Signal>) {
    match hangup {
        Some(s) => {
            s.recv().await;
        }
        None => std::future::pending().await,
    }
}

/// A line on stderr; a terminal that went away loses it and nothing else happens.
fn say(line: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}
