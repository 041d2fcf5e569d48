//! Runs go on without the terminal that started them. Every run through the runner
//! (apply, resume, reset, the wizard's install) happens in a process of its own, the
//! same binary's hidden `engine` subcommand, in a new session with no terminal: a
//! closed terminal, SIGHUP or a lost SSH connection leaves it running. It writes the
//! audit log and the journal itself, and serves its events on a Unix socket in the
//! cluster's state directory to any number of clients (the line output, the wizard,
//! `kubewiz attach`), each first given every event so far. A lock in the same
//! directory lets one run at a time work on a cluster.

pub mod client;
pub mod job;
pub mod lock;
pub mod server;
pub mod spawn;

use std::path::{Path, PathBuf};

use crate::state::ClusterState;

/// Where the engine of a cluster's run listens.
pub fn socket_path(cluster: &ClusterState) -> PathBuf {
    cluster.dir().join("engine.sock")
}

/// Where the engine's standard error goes (a panic's message, anything not caught by
/// the diagnostics), so nothing it says is lost with the terminal.
pub fn stderr_path(cluster: &ClusterState) -> PathBuf {
    cluster.dir().join("engine.stderr")
}

/// The clusters in `state_dir` that a run is working on now, each with who holds its
/// lock (see [`lock::Holder`]).
pub fn running(state_dir: &Path) -> Vec<(String, lock::Holder)> {
    let mut out = Vec::new();
    let Ok(dirs) = std::fs::read_dir(state_dir) else {
        return out;
    };
    for dir in dirs.flatten() {
        let name = dir.file_name().to_string_lossy().into_owned();
        let cluster = ClusterState::new(state_dir, &name);
        if let Some(holder) = lock::holder(&cluster) {
            out.push((name, holder));
        }
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}
