//! The SSH transport: one OpenSSH master connection per host for the whole run (the
//! `openssh` crate with native multiplexing, so every command is a new channel on that
//! connection and costs a few milliseconds instead of a handshake), host keys checked
//! against the preset's known_hosts, and at most a few channels at a time per host so
//! sshd's `MaxSessions` (10 by default) is never exceeded.
//!
//! Commands run under a small wrapper that reports the remote process group first (on
//! stderr, swallowed here), so a command that times out can be killed on the host
//! instead of being left running. Commands and the transport's own scripts are given to
//! the login shell as they are when that is a POSIX shell (sh, dash, bash, ash: read
//! from /etc/passwd over SFTP once per host), else as `sh -c SCRIPT`, which any login
//! shell runs. Uploads go into a temporary file in the target's directory, are checked whole and renamed into place, so a file is always
//! either its old or its new content: small ones over one SFTP channel per host, served
//! inside sshd without a program started per file (see [`super::sftp`]); large ones, and
//! every one on a host without SFTP, through stdin of a shell, checked by sha256 there.

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use openssh::{KnownHosts, SessionBuilder, Stdio};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::sync::{Semaphore, mpsc};

use super::events::Stream;
use super::sftp::upload::{Done, Failed};
use super::sftp::{Sftp, SftpError};
use super::transport::{BoxFuture, Line, LocalFile, Session, Transport, TransportError};
use crate::digest::sha256_hex;
use crate::plan::record::{RECORD_DIR, keep_original};
use crate::shell::quote;
use crate::spec::validate::expand_home;
use crate::spec::{HostSpec, SshSpec};

/// Channels open at once on one host: sshd refuses the 11th session under its default
/// `MaxSessions 10`, and a closing channel may hold its slot a moment longer.
pub const CHANNELS_PER_HOST: usize = 8;

/// How long to wait for a host to answer and accept the login, by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The first stderr line of every command: the remote process group, so a command that
/// timed out can be killed.
const PGID_MARK: &str = "kubewiz-pgid:";

/// The longest output line passed on whole, in bytes.
const MAX_LINE: u64 = 64 * 1024;

/// Uploads up to this size are compared and written in one round trip.
const SMALL_UPLOAD: usize = 256 * 1024;

/// Exit code of the read wrapper when the file does not exist.
const MISSING: i32 = 100;

/// Opens SSH connections with the system's OpenSSH client.
pub struct Ssh {
    accept_new_host_keys: bool,
    connect_timeout: Duration,
    options: Vec<(String, String)>,
    home: Option<PathBuf>,
    /// An ssh_config file with `options`, written on first use (ssh takes extra options
    /// only through a config file here).
    config: Mutex<Option<Arc<tempfile::TempDir>>>,
}

impl Ssh {
    /// A transport that refuses hosts whose key is not in known_hosts, or records them
    /// there when `accept_new_host_keys` (the CLI's `--accept-new-host-keys`, or the
    /// operator confirming a fingerprint in the wizard). A changed key is always refused.
    pub fn new(accept_new_host_keys: bool) -> Ssh {
        Ssh {
            accept_new_host_keys,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            options: Vec::new(),
            home: std::env::var_os("HOME").map(PathBuf::from),
            config: Mutex::new(None),
        }
    }

    /// How long a host may take to answer and accept the login (10 s by default).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Ssh {
        self.connect_timeout = timeout;
        self
    }

    /// An extra ssh_config option for every connection, e.g.
    /// `("KexAlgorithms", "curve25519-sha256")` where the default key exchange is slow.
    /// The operator's own ~/.ssh/config and /etc/ssh/ssh_config still apply after these.
    pub fn with_option(mut self, key: &str, value: &str) -> Ssh {
        self.options.push((key.to_owned(), value.to_owned()));
        self
    }

    /// The home directory that `~/` in the spec's paths stands for (default: $HOME).
    pub fn with_home(mut self, home: Option<PathBuf>) -> Ssh {
        self.home = home;
        self
    }

    fn config_file(&self) -> Result<Option<PathBuf>, TransportError> {
        if self.options.is_empty() {
            return Ok(None);
        }
        let mut slot = self.config.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(dir) = slot.as_ref() {
            return Ok(Some(dir.path().join("ssh_config")));
        }
        let dir = tempfile::Builder::new()
            .prefix("kubewiz-ssh-")
            .tempdir()
            .map_err(|e| {
                TransportError::Connect(format!(
                    "cannot create a temporary directory for the ssh config: {e}"
                ))
            })?;
        let mut text = String::from("# written by kubewiz for this run\n");
        for (key, value) in &self.options {
            text.push_str(&format!("{key} {value}\n"));
        }
        // Options above win: ssh keeps the first value it reads for each option.
        text.push_str("Include ~/.ssh/config\nInclude /etc/ssh/ssh_config\n");
        let path = dir.path().join("ssh_config");
        std::fs::write(&path, text).map_err(|e| {
            TransportError::Connect(format!("cannot write {}: {e}", path.display()))
        })?;
        *slot = Some(Arc::new(dir));
        Ok(Some(path))
    }
}

impl Ssh {
    /// Records `host`'s key in the preset's known_hosts after the operator confirmed
    /// `fingerprint` (the one an `UnknownHostKey` error showed): the key is fetched again
    /// and written only when it still has exactly that fingerprint, so what gets trusted
    /// is what the operator saw. A later connection then checks strictly against it.
    pub async fn record_host_key(
        &self,
        host: &HostSpec,
        ssh: &SshSpec,
        fingerprint: &str,
    ) -> Result<(), TransportError> {
        let target = self.target(host, ssh);
        let out = tokio::process::Command::new("ssh-keyscan")
            .args(["-T", "5", "-p", &target.port.to_string(), &target.address])
            .stderr(std::process::Stdio::null())
            .output()
            .await
            .map_err(|e| TransportError::Connect(format!("cannot run ssh-keyscan: {e}")))?;
        let scanned = String::from_utf8_lossy(&out.stdout).into_owned();
        let mut chosen = None;
        for line in scanned
            .lines()
            .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        {
            if fingerprint_of(line).await.as_deref() == Some(fingerprint) {
                chosen = Some(line.to_owned());
                break;
            }
        }
        let Some(line) = chosen else {
            return Err(TransportError::Connect(format!(
                "{} ({}:{}) no longer offers the key {fingerprint}; nothing was recorded, connect again to see the key it offers now",
                target.name, target.address, target.port
            )));
        };
        let path = &target.known_hosts;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| {
                TransportError::Connect(format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        let mut text = std::fs::read_to_string(path).unwrap_or_default();
        if !text.is_empty() && !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str(&line);
        text.push('\n');
        let tmp = path.with_extension("kubewiz-tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| TransportError::Connect(format!("cannot write {}: {e}", path.display())))
    }

    fn target(&self, host: &HostSpec, ssh: &SshSpec) -> Target {
        Target {
            name: host.name.to_string(),
            address: host.address.to_string(),
            user: host.user.clone().unwrap_or_else(|| ssh.user.clone()),
            port: host.port.unwrap_or(ssh.port),
            known_hosts: expand_home(&ssh.known_hosts, self.home.as_deref()),
        }
    }
}

/// Where a host is reached, resolved from the host's overrides and `[ssh]`.
#[derive(Debug, Clone)]
struct Target {
    name: String,
    address: String,
    user: String,
    port: u16,
    known_hosts: PathBuf,
}

impl Transport for Ssh {
    fn connect<'a>(
        &'a self,
        host: &'a HostSpec,
        ssh: &'a SshSpec,
    ) -> BoxFuture<'a, Result<Box<dyn Session>, TransportError>> {
        Box::pin(async move {
            let target = self.target(host, ssh);
            let mut builder = SessionBuilder::default();
            builder
                .user(target.user.clone())
                .port(target.port)
                .connect_timeout(self.connect_timeout)
                // A host that vanishes without closing the connection is noticed within
                // about 15 s instead of hanging until the step's timeout.
                .server_alive_interval(Duration::from_secs(5))
                .control_directory(std::env::temp_dir())
                .known_hosts_check(if self.accept_new_host_keys {
                    KnownHosts::Add
                } else {
                    KnownHosts::Strict
                });
            // An empty known_hosts setting leaves ssh its own default (~/.ssh/known_hosts).
            if !target.known_hosts.as_os_str().is_empty() {
                builder.user_known_hosts_file(&target.known_hosts);
            }
            if !ssh.identity_file.as_os_str().is_empty() {
                let identity = expand_home(&ssh.identity_file, self.home.as_deref());
                if !identity.is_file() {
                    return Err(TransportError::Connect(format!(
                        "the identity file {} does not exist; fix ssh.identity_file in the preset",
                        identity.display()
                    )));
                }
                builder.keyfile(identity);
            }
            if let Some(config) = self.config_file()? {
                builder.config_file(config);
            }
            if self.accept_new_host_keys
                && let Some(dir) = target.known_hosts.parent()
                && !dir.as_os_str().is_empty()
            {
                // ssh records a new key only into a file whose directory exists.
                let _ = std::fs::create_dir_all(dir);
            }
            // ConnectTimeout covers the TCP connect and the banner; this covers the rest.
            let limit = self.connect_timeout + Duration::from_secs(10);
            let session =
                match tokio::time::timeout(limit, builder.connect_mux(&target.address)).await {
                    Err(_) => {
                        return Err(TransportError::Connect(format!(
                            "{}@{}:{} did not complete the login within {}s",
                            target.user,
                            target.address,
                            target.port,
                            limit.as_secs()
                        )));
                    }
                    Ok(Err(e)) => return Err(connect_error(&target, e).await),
                    Ok(Ok(session)) => session,
                };
            Ok(Box::new(SshSession {
                session: Arc::new(session),
                sftp: tokio::sync::OnceCell::new(),
                posix_login: tokio::sync::OnceCell::new(),
                channels: Semaphore::new(CHANNELS_PER_HOST),
                target,
                _config: self
                    .config
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone(),
            }) as Box<dyn Session>)
        })
    }
}

/// Turns ssh's own message into the transport's error: host key problems get their
/// fingerprints, everything else keeps ssh's reason ("No route to host", "Connection
/// refused", "Permission denied (publickey)").
async fn connect_error(target: &Target, error: openssh::Error) -> TransportError {
    let text = match &error {
        openssh::Error::Connect(e) | openssh::Error::Master(e) => e.to_string(),
        other => other.to_string(),
    };
    if text.contains("REMOTE HOST IDENTIFICATION HAS CHANGED") || text.contains("Offending ") {
        let offered = text
            .split("sent by the remote host is")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .map(|f| f.trim_end_matches('.').to_owned());
        let offered = match offered {
            Some(f) => f,
            None => scan_fingerprint(target, None)
                .await
                .unwrap_or_else(|| "an unknown key".into()),
        };
        let known = offending_fingerprint(&text)
            .await
            .unwrap_or_else(|| format!("a key in {}", target.known_hosts.display()));
        return TransportError::ChangedHostKey { known, offered };
    }
    if text.contains("Host key verification failed") {
        // "No ED25519 host key is known for ADDRESS and you have requested strict checking."
        let kind = text
            .split("No ")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .map(|k| k.to_ascii_lowercase());
        if text.contains("different type are already known") {
            // The host offers a key of a type known_hosts does not have, while it has
            // others: as suspicious as a changed key.
            // "... already known for this host.\nED25519 key fingerprint is SHA256:..."
            let shown = text
                .split("key fingerprint is ")
                .nth(1)
                .and_then(|rest| rest.split_whitespace().next())
                .map(|f| f.trim_end_matches('.').to_owned());
            let offered = match shown {
                Some(f) => f,
                None => scan_fingerprint(target, kind.as_deref())
                    .await
                    .unwrap_or_else(|| "an unknown key".into()),
            };
            let known = known_fingerprint(target)
                .await
                .unwrap_or_else(|| format!("a key in {}", target.known_hosts.display()));
            return TransportError::ChangedHostKey { known, offered };
        }
        let fingerprint = scan_fingerprint(target, kind.as_deref())
            .await
            .unwrap_or_else(|| {
                format!(
                    "(could not be read; see ssh-keyscan -p {} {})",
                    target.port, target.address
                )
            });
        return TransportError::UnknownHostKey { fingerprint };
    }
    let reason = text
        .lines()
        .map(|l| l.trim().trim_start_matches("ssh: "))
        .filter(|l| !l.is_empty() && !l.starts_with("Warning: Permanently added"))
        .collect::<Vec<_>>()
        .join("; ");
    let reason = if reason.is_empty() {
        error.to_string()
    } else {
        reason
    };
    TransportError::Connect(format!(
        "{} ({}@{}:{}): {reason}",
        target.name, target.user, target.address, target.port
    ))
}

/// The SHA256 fingerprint of the key the host offers now (of `kind` when given).
async fn scan_fingerprint(target: &Target, kind: Option<&str>) -> Option<String> {
    let mut scan = tokio::process::Command::new("ssh-keyscan");
    scan.args(["-T", "5", "-p", &target.port.to_string()]);
    if let Some(kind) = kind {
        scan.args(["-t", kind]);
    }
    let out = scan
        .arg(&target.address)
        .stderr(std::process::Stdio::null())
        .output()
        .await
        .ok()?;
    let first = String::from_utf8_lossy(&out.stdout)
        .lines()
        .find(|l| !l.starts_with('#'))?
        .to_owned();
    fingerprint_of(&first).await
}

/// The fingerprint of the known_hosts line ssh named in "Offending KEY in FILE:LINE".
async fn offending_fingerprint(text: &str) -> Option<String> {
    let place = text
        .split("Offending ")
        .nth(1)?
        .split(" in ")
        .nth(1)?
        .split_whitespace()
        .next()?;
    let (file, line) = place.rsplit_once(':')?;
    let line: usize = line.parse().ok()?;
    let content = tokio::fs::read_to_string(file).await.ok()?;
    fingerprint_of(content.lines().nth(line.checked_sub(1)?)?).await
}

/// The fingerprint of the first key known_hosts holds for this host.
async fn known_fingerprint(target: &Target) -> Option<String> {
    let name = if target.port == 22 {
        target.address.clone()
    } else {
        format!("[{}]:{}", target.address, target.port)
    };
    let out = tokio::process::Command::new("ssh-keygen")
        .arg("-F")
        .arg(&name)
        .arg("-f")
        .arg(&target.known_hosts)
        .stderr(std::process::Stdio::null())
        .output()
        .await
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let line = text
        .lines()
        .find(|l| !l.starts_with('#') && !l.trim().is_empty())?;
    fingerprint_of(line).await
}

/// `ssh-keygen -lf -` on one known_hosts line: its `SHA256:...` fingerprint.
async fn fingerprint_of(line: &str) -> Option<String> {
    let mut child = tokio::process::Command::new("ssh-keygen")
        .args(["-lf", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let mut stdin = child.stdin.take()?;
    stdin.write_all(format!("{line}\n").as_bytes()).await.ok()?;
    drop(stdin);
    let out = child.wait_with_output().await.ok()?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .filter(|f| f.starts_with("SHA256:"))
        .map(str::to_owned)
}

/// One host's master connection.
struct SshSession {
    session: Arc<openssh::Session>,
    /// The SFTP channel small uploads go through, opened at the first; None when the
    /// host offers none (they go through the shell then).
    sftp: tokio::sync::OnceCell<Option<Sftp>>,
    /// Whether the login shell runs POSIX commands itself (known at the first command).
    posix_login: tokio::sync::OnceCell<bool>,
    channels: Semaphore,
    target: Target,
    /// Keeps the generated ssh_config alive as long as a connection may read it.
    _config: Option<Arc<tempfile::TempDir>>,
}

/// What one finished channel produced.
struct Finished {
    code: i32,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

impl SshSession {
    /// An error for an operation that failed on the connection's side: Lost when the
    /// master connection is gone, otherwise what went wrong.
    ///
    /// A channel that ends without an exit status means the connection went down (the
    /// master closes every channel that way) or the wrapper shell was killed; the master
    /// may take a moment to exit, so it is asked twice.
    async fn failure(&self, what: &str, error: openssh::Error) -> TransportError {
        let mut alive = self.session.check().await;
        if alive.is_ok() && matches!(error, openssh::Error::RemoteProcessTerminated) {
            tokio::time::sleep(Duration::from_millis(200)).await;
            alive = self.session.check().await;
        }
        match alive {
            Err(e) => TransportError::Lost(format!(
                "{} ({}): {what} ({}; the master connection: {}); check that the host is up and its sshd runs, then resume",
                self.target.name,
                self.target.address,
                describe(&error),
                describe(&e)
            )),
            Ok(()) => TransportError::Remote(format!(
                "{}: {what}: {}",
                self.target.name,
                describe(&error)
            )),
        }
    }

    /// An error for a channel that broke with `detail`: Lost when the master connection
    /// is gone, otherwise Remote.
    async fn lost_or_remote(&self, what: &str, detail: String) -> TransportError {
        match self.session.check().await {
            Err(e) => TransportError::Lost(format!(
                "{} ({}): {what} ({detail}; the master connection: {}); check that the host is up and its sshd runs, then resume",
                self.target.name,
                self.target.address,
                describe(&e)
            )),
            Ok(()) => TransportError::Remote(format!("{}: {what}: {detail}", self.target.name)),
        }
    }

    /// Opens a channel running `script`. sshd frees a session slot only once the
    /// closing channel's last message is through, so a channel opened right after another
    /// one ended can still be refused under `MaxSessions`: that is retried, briefly.
    async fn open(
        &self,
        script: &str,
        stdin: bool,
    ) -> Result<openssh::Child<&openssh::Session>, TransportError> {
        let mut attempt = 0u64;
        loop {
            let mut command = self.session.raw_command(script);
            command
                .stdin(if stdin { Stdio::piped() } else { Stdio::null() })
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            match command.spawn().await {
                Ok(child) => return Ok(child),
                Err(e) if attempt < 30 && describe(&e).contains("open refused") => {
                    attempt += 1;
                    tokio::time::sleep(Duration::from_millis(10 * attempt.min(10))).await;
                }
                Err(e) => return Err(self.failure("cannot open a channel", e).await),
            }
        }
    }

    /// The host's SFTP channel, opened at the first use; None when it offers none.
    async fn sftp(&self) -> Option<&Sftp> {
        self.sftp
            .get_or_init(|| async { Sftp::start(self.session.clone()).await.ok() })
            .await
            .as_ref()
    }

    /// Whether the user's login shell is a POSIX shell that runs a command as it is,
    /// without another `sh` started in between: its entry in /etc/passwd, read over
    /// SFTP (no program started) once per host. A shell that cannot be read this way
    /// (no SFTP, a user from LDAP) counts as any shell.
    async fn posix_login(&self) -> bool {
        *self
            .posix_login
            .get_or_init(|| async {
                let Some(sftp) = self.sftp().await else {
                    return false;
                };
                let read =
                    tokio::time::timeout(Duration::from_secs(10), read_small(sftp, "/etc/passwd"));
                match read.await {
                    Ok(Ok(passwd)) => {
                        login_shell(&passwd, &self.target.user).is_some_and(|shell| {
                            POSIX_SHELLS.contains(&shell.rsplit('/').next().unwrap_or(""))
                        })
                    }
                    _ => false,
                }
            })
            .await
    }

    /// Writes a small file over SFTP as [`SshSession::write_file`] would through the
    /// shell, without starting a program on the host (see [`super::sftp::upload`]).
    /// None when it is for the shell: a user other than root (who writes root's files
    /// through the shell's means), a large file (compared by its sum on the host before
    /// it is sent), a host without SFTP, or an original that cannot be kept by a link.
    async fn upload_by_sftp(
        &self,
        path: &str,
        mode: u32,
        content: &[u8],
    ) -> Result<Option<bool>, TransportError> {
        if self.target.user != "root"
            || content.len() > SMALL_UPLOAD
            || !path.starts_with('/')
            || path.ends_with('/')
        {
            return Ok(None);
        }
        let Some(sftp) = self.sftp().await else {
            return Ok(None);
        };
        let limit = Duration::from_secs(60);
        let done = tokio::time::timeout(
            limit,
            super::sftp::upload::upload(sftp, path, mode, content),
        )
        .await
        .unwrap_or_else(|_| {
            Err(Failed::Sftp(SftpError::Channel(format!(
                "no answer within {} s",
                limit.as_secs()
            ))))
        });
        let name = &self.target.name;
        match done {
            Ok(Done::Unchanged) => Ok(Some(false)),
            Ok(Done::Written) => Ok(Some(true)),
            Ok(Done::UseShell) => Ok(None),
            Err(Failed::Refused(why)) => Err(TransportError::Remote(format!(
                "{name}: cannot write {path}: {why}"
            ))),
            Err(Failed::Sftp(e @ SftpError::Status { .. })) => Err(TransportError::Remote(
                format!("{name}: cannot write {path}: {e}"),
            )),
            Err(Failed::Sftp(e)) => Err(self
                .lost_or_remote(&format!("cannot write {path}"), e.to_string())
                .await),
        }
    }

    /// Writes `path` from `feed`, whose SHA-256 is `sum`, atomically (see
    /// [`Session::upload`]).
    async fn write_file(
        &self,
        path: &str,
        mode: u32,
        sum: &str,
        feed: Feed<'_>,
    ) -> Result<bool, TransportError> {
        if !path.starts_with('/') || path.ends_with('/') {
            return Err(TransportError::Remote(format!(
                "{}: cannot upload to {path}: not an absolute file path",
                self.target.name
            )));
        }
        let mode = mode & 0o7777;
        let quoted = quote(path);
        // The file is left alone when it already has this content, mode and owner.
        let same = format!(
            "[ -f {quoted} ] && [ \"$(stat -c '%a %u' -- {quoted})\" = '{mode:o} 0' ] && \
             [ \"$(sha256sum < {quoted})\" = '{sum}  -' ]"
        );
        // A large file is compared first, so an unchanged one is not sent at all;
        // a small one is compared and written in one round trip.
        if feed.len() > SMALL_UPLOAD as u64 {
            let current = self.exec(&same, None, Duration::from_secs(60)).await?;
            if current.code == 0 {
                return Ok(false);
            }
        }
        let dir = match path.rsplit_once('/') {
            Some(("", _)) | None => "/".to_owned(),
            Some((dir, _)) => dir.to_owned(),
        };
        let qdir = quote(&dir);
        // umask 022 makes every created parent 0755; the temporary file has its mode
        // before any content is in it, as it is made or from mktemp's 0600; the content is checked before the rename, so a cut
        // connection never leaves a partial file in place; the temporary file is removed
        // on every way out, also when sshd died and writing an error kills the shell
        // (SIGPIPE), which skips a plain EXIT trap. No fsync: the rename is
        // what makes the change atomic (ext4 and xfs flush a file renamed over another).
        //
        // The first time kubewiz replaces a file it keeps the original, and it notes
        // the files and directories it creates (see [`RECORD_DIR`]), so `kubewiz
        // reset` can put the host back as it was.
        let record = RECORD_DIR;
        let keep = keep_original(path);
        // Every program started on the host costs it CPU (on a KVM host, the VMs'), so
        // the script uses the shell's own means where they do the same: `${d%/*}` for
        // dirname, a temporary file made with the shell's exclusive create (`set -C`)
        // under a umask that gives it the mode (else, and in a sticky directory such as
        // /tmp where others may have put a name first, `mktemp` and `chmod`), and `chown`
        // only where root's files would not get group 0 by themselves (a set-group-ID
        // directory) or the user is not root.
        let chown = if self.target.user == "root" {
            format!("if [ -g {qdir} ]; then chown 0:0 \"$tmp\"; fi; ")
        } else {
            "chown 0:0 \"$tmp\"; ".to_owned()
        };
        let create = if mode & 0o7111 == 0 {
            format!(
                "t={qdir}/.kubewiz.$$; set -C; umask {umask:03o}; \
                 if [ ! -k {qdir} ] && true 2>/dev/null > \"$t\"; then tmp=$t; \
                 else tmp=$(mktemp {qdir}/.kubewiz.XXXXXXXX); chmod {mode:o} \"$tmp\"; fi; \
                 set +C; umask 022; ",
                umask = 0o666 & !mode
            )
        } else {
            format!("tmp=$(mktemp {qdir}/.kubewiz.XXXXXXXX); chmod {mode:o} \"$tmp\"; ")
        };
        let write = format!(
            "set -e; umask 022; \
             if {same}; then cat > /dev/null; echo unchanged; exit 0; fi; \
             if [ -d {quoted} ]; then echo {quoted}' is a directory' >&2; exit 1; fi; \
             [ -d {record}/new ] || mkdir -p {record}/orig {record}/new; \
             d={qdir}; while [ ! -d \"$d\" ]; do printf '%s\\n' \"$d\" >> {record}/dirs; d=${{d%/*}}; d=${{d:-/}}; done; \
             [ -d {qdir} ] || mkdir -p -- {qdir}; \
             tmp=; trap '[ -z \"$tmp\" ] || rm -f \"$tmp\"' EXIT; trap 'exit 1' HUP INT TERM PIPE; \
             {create}\
             cat > \"$tmp\"; \
             [ \"$(sha256sum < \"$tmp\")\" = '{sum}  -' ] || {{ echo 'the content that arrived does not match what was sent: it was cut off, or the file changed while it was sent' >&2; exit 1; }}; \
             {chown}\
             {keep}; \
             mv -f \"$tmp\" {quoted}; tmp=; echo written"
        );
        let timeout = Duration::from_secs(60) + Duration::from_secs(feed.len() / (1 << 20));
        let done = self.exec(&write, Some(feed), timeout).await?;
        if done.code != 0 {
            return Err(TransportError::Remote(format!(
                "{}: cannot write {path} (exit {}): {}",
                self.target.name,
                done.code,
                tail(&done.stderr)
            )));
        }
        if String::from_utf8_lossy(&done.stdout).trim() == "unchanged" {
            return Ok(false);
        }
        Ok(true)
    }

    /// Runs the POSIX sh `script` with `input` on stdin, collecting its output (for the
    /// transport's own small scripts: uploads, reads, kills).
    async fn exec(
        &self,
        script: &str,
        input: Option<Feed<'_>>,
        timeout: Duration,
    ) -> Result<Finished, TransportError> {
        // The login shell may be anything (zsh splits words differently, fish is not
        // POSIX): the scripts here are POSIX sh.
        let script = in_login_shell(script.to_owned(), self.posix_login().await);
        let _permit = self
            .channels
            .acquire()
            .await
            .map_err(|_| TransportError::Lost("the session is closed".into()))?;
        let work = async {
            let mut child = self.open(&script, input.is_some()).await?;
            let stdin = child.stdin().take();
            let stdout = child.stdout().take();
            let stderr = child.stderr().take();
            let feed = async move {
                match (stdin, input) {
                    (Some(mut stdin), Some(input)) => input.send(&mut stdin).await,
                    _ => Ok(()),
                }
            };
            let (fed, stdout, stderr) = tokio::join!(feed, read_all(stdout), read_all(stderr));
            let code = match child.wait().await {
                Ok(status) => status.code().unwrap_or(-1),
                Err(e) => match exit_code_of(e) {
                    Ok(code) => code,
                    Err(e) => return Err(self.failure("the transfer was cut off", e).await),
                },
            };
            // A command that failed may not have read its input: its own error says more,
            // unless the input could not be read here.
            match (fed, code) {
                (Err(FeedError::Local(e)), _) => return Err(TransportError::Remote(e)),
                (Err(FeedError::Send(e)), 0) => {
                    return Err(TransportError::Remote(format!(
                        "{}: sending the input failed: {e}",
                        self.target.name
                    )));
                }
                _ => {}
            }
            Ok(Finished {
                code,
                stdout,
                stderr,
            })
        };
        tokio::time::timeout(timeout, work)
            .await
            .map_err(|_| TransportError::Timeout(timeout))?
    }

    /// Kills the remote process group of a command that timed out, in the background on
    /// the host so this returns at once.
    async fn kill_group(&self, pgid: u32) {
        let script = format!(
            "kill -s TERM -- -{pgid} 2>/dev/null; (sleep 3; kill -s KILL -- -{pgid}) </dev/null >/dev/null 2>&1 & exit 0"
        );
        let _ = self.exec(&script, None, Duration::from_secs(10)).await;
    }
}

/// Exit code 127 comes back from the crate as an error ("command not found").
fn exit_code_of(error: openssh::Error) -> Result<i32, openssh::Error> {
    match error {
        openssh::Error::Remote(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(127),
        other => Err(other),
    }
}

/// What an upload sends on the command's stdin.
#[derive(Clone, Copy)]
enum Feed<'a> {
    Bytes(&'a [u8]),
    /// Read from the KVM host's file a piece at a time as the channel takes it.
    File(&'a LocalFile),
}

/// Why an upload's input did not arrive whole.
enum FeedError {
    /// The KVM host's file could not be read, or is no longer what was hashed.
    Local(String),
    /// The channel to the host took no more.
    Send(std::io::Error),
}

impl Feed<'_> {
    fn len(&self) -> u64 {
        match self {
            Feed::Bytes(b) => b.len() as u64,
            Feed::File(f) => f.len,
        }
    }

    async fn send<W: AsyncWrite + Unpin>(self, to: &mut W) -> Result<(), FeedError> {
        match self {
            Feed::Bytes(b) => to.write_all(b).await.map_err(FeedError::Send)?,
            Feed::File(f) => {
                let local = |e: std::io::Error| {
                    FeedError::Local(format!("cannot read {}: {e}", f.path.display()))
                };
                let file = tokio::fs::File::open(&f.path).await.map_err(local)?;
                let mut from = BufReader::with_capacity(crate::digest::PIECE, file).take(f.len);
                let mut sent = 0u64;
                loop {
                    let piece = from.fill_buf().await.map_err(local)?;
                    if piece.is_empty() {
                        break;
                    }
                    let n = piece.len();
                    to.write_all(piece).await.map_err(FeedError::Send)?;
                    from.consume(n);
                    sent += n as u64;
                }
                if sent != f.len {
                    return Err(FeedError::Local(format!(
                        "{} shrank while it was sent: {sent} of {} bytes",
                        f.path.display(),
                        f.len
                    )));
                }
            }
        }
        to.shutdown().await.map_err(FeedError::Send)
    }
}

fn describe(error: &openssh::Error) -> String {
    use std::error::Error as _;
    match error.source() {
        Some(source) => format!("{error}: {source}"),
        None => error.to_string(),
    }
}

async fn read_all<R: AsyncRead + Unpin>(reader: Option<R>) -> Vec<u8> {
    let mut buf = Vec::new();
    if let Some(mut reader) = reader {
        let _ = reader.read_to_end(&mut buf).await;
    }
    buf
}

/// The login shells that run a POSIX command as it is (bash in its own mode runs the
/// POSIX sh the commands are written in, as it does as /bin/sh on Fedora and RHEL).
const POSIX_SHELLS: &[&str] = &["sh", "dash", "bash", "ash"];

/// The wrapper every command runs in: a shell that reports its process group (sshd
/// makes each session's shell a session leader), runs the command and exits with its
/// code. The closing `exit $?` keeps the command a child of that shell, so a
/// signal-killed command's code is 128+N. A POSIX login shell (`posix_login`) is that
/// shell itself; any other becomes `sh` first, without forking.
fn wrap(command: &str, posix_login: bool) -> String {
    in_login_shell(
        format!("echo {PGID_MARK}$$ >&2; {command}\nexit $?"),
        posix_login,
    )
}

/// The POSIX sh `script` as the login shell is given it: as it is when that is a POSIX
/// shell (`posix_login`), else through `sh`, which the login shell becomes.
fn in_login_shell(script: String, posix_login: bool) -> String {
    if posix_login {
        script
    } else {
        format!("exec sh -c {}", quote(&script))
    }
}

/// The login shell of `user` in the passwd file `passwd`.
fn login_shell<'a>(passwd: &'a str, user: &str) -> Option<&'a str> {
    passwd.lines().find_map(|line| {
        let fields: Vec<&str> = line.split(':').collect();
        (fields.len() == 7 && fields[0] == user).then(|| fields[6].trim())
    })
}

/// A small file read whole over SFTP (at most 1 MiB).
async fn read_small(sftp: &Sftp, path: &str) -> Result<String, SftpError> {
    let handle = sftp.open(path, super::sftp::OPEN_READ, 0).await?;
    let mut data = Vec::new();
    loop {
        let piece = sftp
            .read(&handle, data.len() as u64, super::sftp::CHUNK as u32)
            .await;
        match piece {
            Ok(piece) if !piece.is_empty() && data.len() < (1 << 20) => data.extend(piece),
            Ok(_) => break,
            Err(e) => {
                let _ = sftp.close(handle).await;
                return Err(e);
            }
        }
    }
    sftp.close(handle).await?;
    Ok(String::from_utf8_lossy(&data).into_owned())
}

fn lines_of(bytes: &[u8]) -> impl Iterator<Item = String> + '_ {
    bytes
        .split(|b| *b == b'\n')
        .map(|l| String::from_utf8_lossy(l.strip_suffix(b"\r").unwrap_or(l)).into_owned())
}

fn tail(bytes: &[u8]) -> String {
    let text: Vec<String> = lines_of(bytes)
        .filter(|l| !l.is_empty() && !l.starts_with(PGID_MARK))
        .collect();
    let start = text.len().saturating_sub(5);
    text[start..].join(" / ")
}

/// Reads `reader` line by line into `lines` as the lines arrive; on stderr, the wrapper's
/// process group line is kept in `pgid` instead.
async fn pump<R: AsyncRead + Unpin>(
    reader: Option<R>,
    stream: Stream,
    lines: &mpsc::Sender<Line>,
    pgid: &Mutex<Option<u32>>,
) {
    let Some(reader) = reader else { return };
    let mut reader = BufReader::new(reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        // A line without an end (a progress bar, binary output) is cut into pieces
        // instead of growing without bound.
        match (&mut reader)
            .take(MAX_LINE)
            .read_until(b'\n', &mut buf)
            .await
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let text = String::from_utf8_lossy(line).into_owned();
        if stream == Stream::Stderr
            && let Some(n) = text.strip_prefix(PGID_MARK)
        {
            let mut slot = pgid.lock().unwrap_or_else(|e| e.into_inner());
            if slot.is_none()
                && let Ok(n) = n.parse()
            {
                *slot = Some(n);
                continue;
            }
        }
        // A receiver that went away only means nobody listens to the output any more.
        let _ = lines.send(Line { stream, text }).await;
    }
}

impl Session for SshSession {
    fn run<'a>(
        &'a self,
        command: &'a str,
        timeout: Duration,
        lines: mpsc::Sender<Line>,
    ) -> BoxFuture<'a, Result<i32, TransportError>> {
        Box::pin(async move {
            let pgid: Mutex<Option<u32>> = Mutex::new(None);
            // Known before a channel is taken: the first command asks over SFTP.
            let wrapped = wrap(command, self.posix_login().await);
            let outcome = {
                let _permit = self
                    .channels
                    .acquire()
                    .await
                    .map_err(|_| TransportError::Lost("the session is closed".into()))?;
                let work = async {
                    let mut child = self.open(&wrapped, false).await?;
                    let stdout = child.stdout().take();
                    let stderr = child.stderr().take();
                    tokio::join!(
                        pump(stdout, Stream::Stdout, &lines, &pgid),
                        pump(stderr, Stream::Stderr, &lines, &pgid)
                    );
                    match child.wait().await {
                        Ok(status) => Ok(status.code().unwrap_or(-1)),
                        Err(e) => match exit_code_of(e) {
                            Ok(code) => Ok(code),
                            Err(e) => Err(self.failure("the command was cut off", e).await),
                        },
                    }
                };
                tokio::time::timeout(timeout, work).await
            };
            // The sender is dropped when this returns, which ends the caller's output loop.
            match outcome {
                Ok(result) => result,
                Err(_) => {
                    let group = *pgid.lock().unwrap_or_else(|e| e.into_inner());
                    if let Some(group) = group {
                        self.kill_group(group).await;
                    }
                    Err(TransportError::Timeout(timeout))
                }
            }
        })
    }

    fn upload<'a>(
        &'a self,
        path: &'a str,
        mode: u32,
        content: &'a [u8],
    ) -> BoxFuture<'a, Result<bool, TransportError>> {
        Box::pin(async move {
            if let Some(changed) = self.upload_by_sftp(path, mode, content).await? {
                return Ok(changed);
            }
            let sum = sha256_hex(content);
            self.write_file(path, mode, &sum, Feed::Bytes(content))
                .await
        })
    }

    fn upload_file<'a>(
        &'a self,
        path: &'a str,
        mode: u32,
        file: &'a LocalFile,
    ) -> BoxFuture<'a, Result<bool, TransportError>> {
        Box::pin(async move {
            let feed = Feed::File(file);
            self.write_file(path, mode, &file.sha256, feed).await
        })
    }

    fn read<'a>(&'a self, path: &'a str) -> BoxFuture<'a, Result<Option<Vec<u8>>, TransportError>> {
        Box::pin(async move {
            let quoted = quote(path);
            let script = format!("[ -e {quoted} ] || exit {MISSING}; exec cat -- {quoted}");
            let done = self.exec(&script, None, Duration::from_secs(120)).await?;
            match done.code {
                0 => Ok(Some(done.stdout)),
                MISSING => Ok(None),
                code => Err(TransportError::Remote(format!(
                    "{}: cannot read {path} (exit {code}): {}",
                    self.target.name,
                    tail(&done.stderr)
                ))),
            }
        })
    }

    fn sync_disks(&self) -> BoxFuture<'_, Result<(), TransportError>> {
        Box::pin(async move {
            // A large write (the bundle's programs, image archives) may take a while to
            // reach a slow disk.
            let done = self.exec("sync", None, Duration::from_secs(300)).await?;
            match done.code {
                0 => Ok(()),
                code => Err(TransportError::Remote(format!(
                    "{}: sync (writing out what the host holds in memory) exited {code}: {}",
                    self.target.name,
                    tail(&done.stderr)
                ))),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_survives_quotes() {
        assert_eq!(
            wrap("echo 'a'", false),
            format!("exec sh -c 'echo {PGID_MARK}$$ >&2; echo '\\''a'\\''\nexit $?'")
        );
        assert_eq!(
            wrap("echo 'a'", true),
            format!("echo {PGID_MARK}$$ >&2; echo 'a'\nexit $?")
        );
    }

    #[test]
    fn the_login_shell_is_read_from_the_users_passwd_line() {
        let passwd =
            "root:x:0:0:root:/root:/bin/bash\nkw:x:1000:1000::/home/kw:/usr/bin/fish\nbroken:x\n";
        assert_eq!(login_shell(passwd, "root"), Some("/bin/bash"));
        assert_eq!(login_shell(passwd, "kw"), Some("/usr/bin/fish"));
        assert_eq!(login_shell(passwd, "broken"), None);
        assert_eq!(login_shell(passwd, "nobody"), None);
    }

    #[test]
    fn tail_skips_the_process_group_line() {
        assert_eq!(
            tail(b"kubewiz-pgid:12\nmkdir: cannot create\r\n"),
            "mkdir: cannot create"
        );
    }
}
