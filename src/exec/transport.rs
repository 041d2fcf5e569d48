//! How the runner reaches a host: one connection per host for the whole run, commands
//! with their output streamed line by line, atomic uploads, file reads.

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::Duration;

use tokio::sync::mpsc;

use super::events::Stream;
use crate::spec::{HostSpec, SshSpec};

/// A boxed future, so transports can be used as trait objects.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One line of a command's output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub stream: Stream,
    pub text: String,
}

/// A file of the KVM host to upload as it is read (a bundle's program, an etcd
/// snapshot), with the length and SHA-256 it was found to have, so its content is never
/// held in memory whole and a change after it was hashed is caught on the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalFile {
    pub path: PathBuf,
    pub len: u64,
    pub sha256: String,
}

impl LocalFile {
    /// Reads `path` once to learn its length and SHA-256 (blocking).
    pub fn hash(path: PathBuf) -> std::io::Result<LocalFile> {
        let (sha256, len) = crate::digest::sha256_file_hex(&path)?;
        Ok(LocalFile { path, len, sha256 })
    }
}

/// Why a transport operation failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The host could not be reached or refused the login.
    #[error("cannot connect: {0}")]
    Connect(String),
    /// The host's key is not in known_hosts and was not accepted.
    #[error(
        "the host key {fingerprint} is not in known_hosts; accept it in the wizard or run with --accept-new-host-keys"
    )]
    UnknownHostKey { fingerprint: String },
    /// The host's key differs from the one in known_hosts: possibly someone in the
    /// middle; the host is never used.
    #[error(
        "the host key changed: known_hosts has {known}, the host offers {offered}; if the host was reinstalled, remove its old key with ssh-keygen -R"
    )]
    ChangedHostKey { known: String, offered: String },
    /// The command did not finish within its timeout.
    #[error("timed out after {}s", .0.as_secs())]
    Timeout(Duration),
    /// The connection broke during the operation.
    #[error("the connection was lost: {0}")]
    Lost(String),
    /// Anything else the host answered with (a failed upload, a refused read).
    #[error("{0}")]
    Remote(String),
}

/// Opens sessions to hosts.
pub trait Transport: Send + Sync {
    /// Opens the one connection the run uses for `host`.
    fn connect<'a>(
        &'a self,
        host: &'a HostSpec,
        ssh: &'a SshSpec,
    ) -> BoxFuture<'a, Result<Box<dyn Session>, TransportError>>;

    /// True when nothing is executed (the dry-run transport).
    fn is_dry_run(&self) -> bool {
        false
    }
}

/// An open connection to one host.
pub trait Session: Send + Sync {
    /// Runs `command` with `sh -c`, sending each output line to `lines` as it comes;
    /// returns the exit code.
    fn run<'a>(
        &'a self,
        command: &'a str,
        timeout: Duration,
        lines: mpsc::Sender<Line>,
    ) -> BoxFuture<'a, Result<i32, TransportError>>;

    /// Writes `content` to `path` with `mode`, owned by root, through a temporary file
    /// and a rename, creating parent directories. Returns false when the file already
    /// had exactly this content and mode (nothing was written).
    fn upload<'a>(
        &'a self,
        path: &'a str,
        mode: u32,
        content: &'a [u8],
    ) -> BoxFuture<'a, Result<bool, TransportError>>;

    /// Like [`Session::upload`], with the content read from the KVM host's `file` as it
    /// is sent: memory stays the same whatever the file's size. The host checks what
    /// arrived against `file.sha256`, so a file changed since it was hashed is refused.
    fn upload_file<'a>(
        &'a self,
        path: &'a str,
        mode: u32,
        file: &'a LocalFile,
    ) -> BoxFuture<'a, Result<bool, TransportError>>;

    /// The content of `path`, or None when it does not exist.
    fn read<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, TransportError>>;

    /// Makes everything the host was given so far survive a loss of its power: its
    /// file systems write out what they still hold in memory (`sync`). The runner
    /// records a step that changed a host as done only after this.
    fn sync_disks(&self) -> BoxFuture<'_, Result<(), TransportError>>;
}
