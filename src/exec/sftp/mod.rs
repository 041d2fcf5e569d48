//! A small SFTP client (protocol version 3, as OpenSSH's sftp-server and internal-sftp
//! speak it) on one subsystem channel of a host's master connection: the requests
//! [`upload`] needs, one at a time, each answered before the next is sent.
//!
//! Uploads go this way because an SFTP request is served inside the host's sshd (or one
//! sftp-server started once per run), where writing a file through a shell starts a
//! login shell, `sh`, `cat`, `sha256sum` and `mv` on the host for every file.

pub mod upload;

use std::sync::Arc;

use openssh::{Child, ChildStdin, ChildStdout, Stdio};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;

const INIT: u8 = 1;
const VERSION: u8 = 2;
const OPEN: u8 = 3;
const CLOSE: u8 = 4;
const READ: u8 = 5;
const WRITE: u8 = 6;
const LSTAT: u8 = 7;
const FSTAT: u8 = 8;
const SETSTAT: u8 = 9;
const FSETSTAT: u8 = 10;
const REMOVE: u8 = 13;
const MKDIR: u8 = 14;
const STAT: u8 = 17;
const EXTENDED: u8 = 200;
const STATUS: u8 = 101;
const HANDLE: u8 = 102;
const DATA: u8 = 103;
const ATTRS: u8 = 105;

const FX_OK: u32 = 0;
const FX_EOF: u32 = 1;
const FX_NO_SUCH_FILE: u32 = 2;

const ATTR_SIZE: u32 = 0x1;
const ATTR_UIDGID: u32 = 0x2;
const ATTR_PERMISSIONS: u32 = 0x4;
const ATTR_ACMODTIME: u32 = 0x8;
const ATTR_EXTENDED: u32 = 0x8000_0000;

pub const OPEN_READ: u32 = 0x1;
pub const OPEN_WRITE: u32 = 0x2;
pub const OPEN_APPEND: u32 = 0x4;
pub const OPEN_CREATE: u32 = 0x8;
pub const OPEN_TRUNCATE: u32 = 0x10;
pub const OPEN_EXCLUSIVE: u32 = 0x20;

/// The most a request reads or writes at once: well within the 256 KiB packets OpenSSH
/// accepts.
pub const CHUNK: usize = 32 * 1024;

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;

/// What went wrong with a request.
#[derive(Debug)]
pub enum SftpError {
    /// The server answered with an error status: the operation failed on the host
    /// (no such file, permission denied...), with the server's message.
    Status { code: u32, message: String },
    /// The channel broke or the server spoke out of turn.
    Channel(String),
}

impl std::fmt::Display for SftpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SftpError::Status { message, code } if message.is_empty() => {
                write!(f, "SFTP status {code}")
            }
            SftpError::Status { message, .. } => f.write_str(message),
            SftpError::Channel(message) => write!(f, "the SFTP channel: {message}"),
        }
    }
}

fn channel(e: std::io::Error) -> SftpError {
    SftpError::Channel(e.to_string())
}

/// A file's attributes, as far as the server sent them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Attrs {
    pub size: Option<u64>,
    pub owner: Option<(u32, u32)>,
    /// Type and mode bits, as `st_mode`.
    pub mode: Option<u32>,
}

impl Attrs {
    pub fn is_dir(&self) -> bool {
        self.mode.is_some_and(|m| m & S_IFMT == S_IFDIR)
    }

    pub fn is_file(&self) -> bool {
        self.mode.is_some_and(|m| m & S_IFMT == S_IFREG)
    }

    /// The permission bits (with set-user-ID, set-group-ID and sticky).
    pub fn perms(&self) -> Option<u32> {
        self.mode.map(|m| m & 0o7777)
    }

    /// Only the permissions, for a SETSTAT.
    pub fn with_perms(perms: u32) -> Attrs {
        Attrs {
            mode: Some(perms),
            ..Attrs::default()
        }
    }

    /// Only the owner, for a SETSTAT.
    pub fn with_owner(uid: u32, gid: u32) -> Attrs {
        Attrs {
            owner: Some((uid, gid)),
            ..Attrs::default()
        }
    }

    fn encode(&self, out: &mut Vec<u8>) {
        let mut flags = 0;
        if self.size.is_some() {
            flags |= ATTR_SIZE;
        }
        if self.owner.is_some() {
            flags |= ATTR_UIDGID;
        }
        if self.mode.is_some() {
            flags |= ATTR_PERMISSIONS;
        }
        put_u32(out, flags);
        if let Some(size) = self.size {
            out.extend_from_slice(&size.to_be_bytes());
        }
        if let Some((uid, gid)) = self.owner {
            put_u32(out, uid);
            put_u32(out, gid);
        }
        if let Some(mode) = self.mode {
            put_u32(out, mode);
        }
    }

    fn decode(r: &mut Reader) -> Result<Attrs, SftpError> {
        let flags = r.u32()?;
        let mut attrs = Attrs::default();
        if flags & ATTR_SIZE != 0 {
            attrs.size = Some(r.u64()?);
        }
        if flags & ATTR_UIDGID != 0 {
            attrs.owner = Some((r.u32()?, r.u32()?));
        }
        if flags & ATTR_PERMISSIONS != 0 {
            attrs.mode = Some(r.u32()?);
        }
        if flags & ATTR_ACMODTIME != 0 {
            r.u32()?;
            r.u32()?;
        }
        if flags & ATTR_EXTENDED != 0 {
            for _ in 0..r.u32()? {
                r.string()?;
                r.string()?;
            }
        }
        Ok(attrs)
    }
}

/// An open file on the host.
pub struct Handle(Vec<u8>);

struct Io {
    stdin: ChildStdin,
    stdout: ChildStdout,
    next_id: u32,
}

/// One SFTP session on a host.
pub struct Sftp {
    io: Mutex<Io>,
    /// `posix-rename@openssh.com`: a rename that replaces the target atomically (the
    /// protocol's own rename refuses an existing target).
    pub posix_rename: bool,
    /// `hardlink@openssh.com`.
    pub hardlink: bool,
    /// Whether the upload record's directories are known to exist on the host.
    pub(crate) record_ready: std::sync::atomic::AtomicBool,
    _child: Child<Arc<openssh::Session>>,
}

impl Sftp {
    /// Opens the `sftp` subsystem on `session` and agrees on version 3. An error means
    /// the host offers no SFTP (its sshd has no `Subsystem sftp`) or the channel could
    /// not be opened.
    pub async fn start(session: Arc<openssh::Session>) -> Result<Sftp, SftpError> {
        let mut attempt = 0u64;
        let mut child = loop {
            let spawned = openssh::Session::to_subsystem(session.clone(), "sftp")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::null())
                .spawn()
                .await;
            match spawned {
                Ok(child) => break child,
                Err(e) if attempt < 30 && e.to_string().contains("open refused") => {
                    attempt += 1;
                    tokio::time::sleep(std::time::Duration::from_millis(10 * attempt.min(10)))
                        .await;
                }
                Err(e) => return Err(SftpError::Channel(e.to_string())),
            }
        };
        let (Some(stdin), Some(stdout)) = (child.stdin().take(), child.stdout().take()) else {
            return Err(SftpError::Channel("no pipes".into()));
        };
        let mut io = Io {
            stdin,
            stdout,
            next_id: 0,
        };
        let mut init = Vec::new();
        put_u32(&mut init, 3);
        send(&mut io.stdin, INIT, &init).await?;
        let (kind, body) = receive(&mut io.stdout).await?;
        if kind != VERSION {
            return Err(SftpError::Channel(format!(
                "the server answered INIT with packet type {kind}"
            )));
        }
        let mut r = Reader(&body);
        let version = r.u32()?;
        if version < 3 {
            return Err(SftpError::Channel(format!(
                "the server speaks SFTP version {version}, not 3"
            )));
        }
        let (mut posix_rename, mut hardlink) = (false, false);
        while !r.0.is_empty() {
            let name = r.string()?;
            r.string()?;
            posix_rename |= name == b"posix-rename@openssh.com";
            hardlink |= name == b"hardlink@openssh.com";
        }
        Ok(Sftp {
            io: Mutex::new(io),
            posix_rename,
            hardlink,
            record_ready: std::sync::atomic::AtomicBool::new(false),
            _child: child,
        })
    }

    /// Sends one request and waits for its answer: (type, body after the id).
    async fn request(&self, kind: u8, body: &[u8]) -> Result<(u8, Vec<u8>), SftpError> {
        let mut io = self.io.lock().await;
        io.next_id = io.next_id.wrapping_add(1);
        let id = io.next_id;
        let mut packet = Vec::with_capacity(body.len() + 4);
        put_u32(&mut packet, id);
        packet.extend_from_slice(body);
        send(&mut io.stdin, kind, &packet).await?;
        let (answer, reply) = receive(&mut io.stdout).await?;
        let mut r = Reader(&reply);
        let got = r.u32()?;
        if got != id {
            return Err(SftpError::Channel(format!(
                "an answer to request {got} came for request {id}"
            )));
        }
        Ok((answer, r.0.to_vec()))
    }

    /// A request answered by a status: Ok for SSH_FX_OK, else the status as an error.
    async fn status_request(&self, kind: u8, body: &[u8]) -> Result<(), SftpError> {
        let (answer, reply) = self.request(kind, body).await?;
        expect_status(answer, &reply)
    }

    /// A file's attributes, following a symbolic link (`stat`), or None when there is
    /// nothing at `path`.
    pub async fn stat(&self, path: &str) -> Result<Option<Attrs>, SftpError> {
        self.attrs(STAT, path).await
    }

    /// A file's attributes, of a symbolic link itself (`lstat`), or None.
    pub async fn lstat(&self, path: &str) -> Result<Option<Attrs>, SftpError> {
        self.attrs(LSTAT, path).await
    }

    async fn attrs(&self, kind: u8, path: &str) -> Result<Option<Attrs>, SftpError> {
        let mut body = Vec::new();
        put_str(&mut body, path.as_bytes());
        let (answer, reply) = self.request(kind, &body).await?;
        match answer {
            ATTRS => Ok(Some(Attrs::decode(&mut Reader(&reply))?)),
            _ => match expect_status(answer, &reply) {
                Err(SftpError::Status {
                    code: FX_NO_SUCH_FILE,
                    ..
                }) => Ok(None),
                Err(e) => Err(e),
                Ok(()) => Err(SftpError::Channel(
                    "a STAT answered OK without attributes".into(),
                )),
            },
        }
    }

    /// `mkdir` with `perms` (the server's umask applies).
    pub async fn mkdir(&self, path: &str, perms: u32) -> Result<(), SftpError> {
        let mut body = Vec::new();
        put_str(&mut body, path.as_bytes());
        Attrs::with_perms(perms).encode(&mut body);
        self.status_request(MKDIR, &body).await
    }

    pub async fn setstat(&self, path: &str, attrs: Attrs) -> Result<(), SftpError> {
        let mut body = Vec::new();
        put_str(&mut body, path.as_bytes());
        attrs.encode(&mut body);
        self.status_request(SETSTAT, &body).await
    }

    /// Opens `path` with the OPEN_* `flags`; a created file gets `perms` (less the
    /// server's umask).
    pub async fn open(&self, path: &str, flags: u32, perms: u32) -> Result<Handle, SftpError> {
        let mut body = Vec::new();
        put_str(&mut body, path.as_bytes());
        put_u32(&mut body, flags);
        Attrs::with_perms(perms).encode(&mut body);
        let (answer, reply) = self.request(OPEN, &body).await?;
        if answer == HANDLE {
            return Ok(Handle(Reader(&reply).string()?.to_vec()));
        }
        expect_status(answer, &reply)?;
        Err(SftpError::Channel(
            "an OPEN answered OK without a handle".into(),
        ))
    }

    pub async fn close(&self, handle: Handle) -> Result<(), SftpError> {
        let mut body = Vec::new();
        put_str(&mut body, &handle.0);
        self.status_request(CLOSE, &body).await
    }

    /// Up to `len` bytes at `offset`; empty at the end of the file.
    pub async fn read(&self, handle: &Handle, offset: u64, len: u32) -> Result<Vec<u8>, SftpError> {
        let mut body = Vec::new();
        put_str(&mut body, &handle.0);
        body.extend_from_slice(&offset.to_be_bytes());
        put_u32(&mut body, len);
        let (answer, reply) = self.request(READ, &body).await?;
        if answer == DATA {
            return Ok(Reader(&reply).string()?.to_vec());
        }
        match expect_status(answer, &reply) {
            Err(SftpError::Status { code: FX_EOF, .. }) => Ok(Vec::new()),
            Err(e) => Err(e),
            Ok(()) => Err(SftpError::Channel("a READ answered OK without data".into())),
        }
    }

    /// Writes `data` at `offset`; the server answers OK only when all of it was written.
    pub async fn write(&self, handle: &Handle, offset: u64, data: &[u8]) -> Result<(), SftpError> {
        let mut body = Vec::with_capacity(data.len() + 32);
        put_str(&mut body, &handle.0);
        body.extend_from_slice(&offset.to_be_bytes());
        put_str(&mut body, data);
        self.status_request(WRITE, &body).await
    }

    pub async fn fstat(&self, handle: &Handle) -> Result<Attrs, SftpError> {
        let mut body = Vec::new();
        put_str(&mut body, &handle.0);
        let (answer, reply) = self.request(FSTAT, &body).await?;
        if answer == ATTRS {
            return Attrs::decode(&mut Reader(&reply));
        }
        expect_status(answer, &reply)?;
        Err(SftpError::Channel(
            "an FSTAT answered OK without attributes".into(),
        ))
    }

    pub async fn fsetstat(&self, handle: &Handle, attrs: Attrs) -> Result<(), SftpError> {
        let mut body = Vec::new();
        put_str(&mut body, &handle.0);
        attrs.encode(&mut body);
        self.status_request(FSETSTAT, &body).await
    }

    pub async fn remove(&self, path: &str) -> Result<(), SftpError> {
        let mut body = Vec::new();
        put_str(&mut body, path.as_bytes());
        self.status_request(REMOVE, &body).await
    }

    /// Renames `from` over `to` in one step (`rename(2)`); needs [`Sftp::posix_rename`].
    pub async fn posix_rename(&self, from: &str, to: &str) -> Result<(), SftpError> {
        self.extended("posix-rename@openssh.com", from, to).await
    }

    /// A second name `to` for the file `from` (`link(2)`); needs [`Sftp::hardlink`].
    pub async fn hardlink(&self, from: &str, to: &str) -> Result<(), SftpError> {
        self.extended("hardlink@openssh.com", from, to).await
    }

    async fn extended(&self, name: &str, a: &str, b: &str) -> Result<(), SftpError> {
        let mut body = Vec::new();
        put_str(&mut body, name.as_bytes());
        put_str(&mut body, a.as_bytes());
        put_str(&mut body, b.as_bytes());
        self.status_request(EXTENDED, &body).await
    }
}

fn expect_status(answer: u8, reply: &[u8]) -> Result<(), SftpError> {
    if answer != STATUS {
        return Err(SftpError::Channel(format!(
            "expected a status, got packet type {answer}"
        )));
    }
    let mut r = Reader(reply);
    let code = r.u32()?;
    // Version 3 servers send a message and a language tag; older ones may not.
    let message = r
        .string()
        .map(|m| String::from_utf8_lossy(m).into_owned())
        .unwrap_or_default();
    match code {
        FX_OK => Ok(()),
        code => Err(SftpError::Status { code, message }),
    }
}

fn put_u32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_be_bytes());
}

fn put_str(out: &mut Vec<u8>, s: &[u8]) {
    put_u32(out, s.len() as u32);
    out.extend_from_slice(s);
}

async fn send(stdin: &mut ChildStdin, kind: u8, body: &[u8]) -> Result<(), SftpError> {
    let mut packet = Vec::with_capacity(body.len() + 5);
    put_u32(&mut packet, body.len() as u32 + 1);
    packet.push(kind);
    packet.extend_from_slice(body);
    stdin.write_all(&packet).await.map_err(channel)?;
    stdin.flush().await.map_err(channel)
}

/// The largest packet taken from the server: a READ's answer is at most [`CHUNK`] and
/// a little framing.
const MAX_PACKET: u32 = 256 * 1024 + 1024;

async fn receive(stdout: &mut ChildStdout) -> Result<(u8, Vec<u8>), SftpError> {
    let mut len = [0u8; 4];
    stdout.read_exact(&mut len).await.map_err(channel)?;
    let len = u32::from_be_bytes(len);
    if len == 0 || len > MAX_PACKET {
        return Err(SftpError::Channel(format!("a packet of {len} bytes")));
    }
    let mut packet = vec![0u8; len as usize];
    stdout.read_exact(&mut packet).await.map_err(channel)?;
    let kind = packet[0];
    packet.remove(0);
    Ok((kind, packet))
}

/// Reads the protocol's big-endian integers and length-prefixed strings.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], SftpError> {
        if self.0.len() < n {
            return Err(SftpError::Channel("a packet ended early".into()));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn u32(&mut self) -> Result<u32, SftpError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, SftpError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }

    fn string(&mut self) -> Result<&'a [u8], SftpError> {
        let n = self.u32()? as usize;
        self.take(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_written_and_read_as_sftp_version_3_lays_them_out() {
        // draft-ietf-secsh-filexfer-02, 5: flags, then size (uint64), uid and gid,
        // permissions, atime and mtime, each present when its flag is set.
        let mut bytes = Vec::new();
        Attrs {
            size: None,
            owner: Some((0, 0)),
            mode: Some(0o4755),
        }
        .encode(&mut bytes);
        assert_eq!(
            bytes,
            [0, 0, 0, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x09, 0xed]
        );
        // What OpenSSH's sftp-server answers a STAT with: every flag but extended, a
        // regular file of 16384 bytes, root's, 0644, with its times.
        let server = [
            0, 0, 0, 0x0f, 0, 0, 0, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x81, 0xa4,
            0x67, 0x50, 0, 0, 0x67, 0x50, 0, 1,
        ];
        let attrs = Attrs::decode(&mut Reader(&server)).unwrap();
        assert_eq!(attrs.size, Some(16384));
        assert_eq!(attrs.owner, Some((0, 0)));
        assert!(attrs.is_file() && !attrs.is_dir());
        assert_eq!(attrs.perms(), Some(0o644));
    }

    #[test]
    fn a_short_packet_is_an_error_not_a_panic() {
        assert!(Reader(&[0, 0, 0, 9, 1]).string().is_err());
        assert!(Attrs::decode(&mut Reader(&[0, 0, 0, ATTR_SIZE as u8, 1])).is_err());
        assert!(expect_status(STATUS, &[0, 0]).is_err());
    }

    #[test]
    fn statuses_carry_the_servers_message() {
        let mut reply = Vec::new();
        put_u32(&mut reply, 3);
        put_str(&mut reply, b"Permission denied");
        put_str(&mut reply, b"");
        let err = expect_status(STATUS, &reply).unwrap_err();
        assert_eq!(err.to_string(), "Permission denied");
    }
}
