//! Starts the engine process for a [`Job`]: the same binary's hidden `engine`
//! subcommand, in a process group (and, once it runs, a session) of its own, its
//! standard input the job, its standard output the one line that says it started,
//! its standard error a file in the cluster's state directory.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use super::job::Job;
use crate::state::ClusterState;

/// The running program, as the kernel keeps it.
const SELF: &str = "/proc/self/exe";

/// A started engine: its process (to reap when the caller lives on) and its socket.
pub struct Started {
    pub child: Child,
    pub socket: PathBuf,
}

/// Starts the engine for `job` on cluster `cluster` and waits until it listens, or
/// returns why it did not start (the lock's holder, a preset that does not parse).
pub fn start(job: &Job, cluster: &str) -> Result<Started, String> {
    let state = ClusterState::new(&job.state_dir, cluster);
    let stderr_path = super::stderr_path(&state);
    {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(state.dir())
            .map_err(|e| format!("cannot make {}: {e}", state.dir().display()))?;
    }
    let stderr = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(&stderr_path)
        .map_err(|e| format!("cannot open {}: {e}", stderr_path.display()))?;
    // This very program, even when its file was replaced since it started (an upgrade).
    let mut command = Command::new(SELF);
    command
        .arg0("kubewiz")
        .arg("--state-dir")
        .arg(&job.state_dir);
    // Diagnostics as asked for here (`--log-level` or KUBEWIZ_LOG) go on in the engine.
    if let Some(level) = crate::diagnostics::level() {
        command.arg("--log-level").arg(level);
    }
    let mut child = command
        .arg("engine")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::from(stderr))
        // Out of the terminal's foreground group at once: its Ctrl-C is the client's.
        .process_group(0)
        .spawn()
        .map_err(|e| format!("cannot start the run's engine process: {e}"))?;
    let text = serde_json::to_string(job).map_err(|e| format!("cannot encode the run: {e}"))?;
    if let Some(mut input) = child.stdin.take() {
        input
            .write_all(text.as_bytes())
            .map_err(|e| format!("cannot hand the run to its engine process: {e}"))?;
    }
    let mut line = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut line);
    }
    match line.trim_end() {
        "ready" => Ok(Started {
            child,
            socket: super::socket_path(&state),
        }),
        l if l.starts_with("error: ") => {
            let _ = child.wait();
            Err(l["error: ".len()..].to_owned())
        }
        _ => {
            let status = child
                .wait()
                .map_or_else(|e| e.to_string(), |s| s.to_string());
            Err(format!(
                "the run's engine process ended before it started ({status}); what it said is in {}",
                stderr_path.display()
            ))
        }
    }
}
