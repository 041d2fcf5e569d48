//! Writing a file on a host over SFTP with the guarantees of the shell upload it stands
//! in for (`ssh::SshSession::write_file`): a file that already has the content, mode and
//! owner is left alone; otherwise the content goes into a temporary file in the target's
//! directory that has its mode before any content is in it, is checked whole (every write
//! acknowledged, the size what was sent) and renamed over the target in one step, so the
//! target is always its old or its new content. Directories it creates are recorded, and
//! the target's state before kubewiz first changed it is kept, for `kubewiz reset`.
//!
//! One thing differs: when the connection is cut mid-upload no shell is left on the host
//! to remove the temporary file, so the next upload of the same file removes it.

use super::{Attrs, CHUNK, Handle, OPEN_APPEND, OPEN_CREATE, OPEN_EXCLUSIVE, OPEN_READ};
use super::{OPEN_TRUNCATE, OPEN_WRITE, Sftp, SftpError};
use crate::plan::record::RECORD_DIR;

/// How an upload ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Done {
    /// The file had this content, mode and owner already.
    Unchanged,
    Written,
    /// SFTP cannot do it the way the shell upload does (the server lacks an extension,
    /// or the original cannot be kept by a second link): nothing was changed but the
    /// records, and the shell upload should write it.
    UseShell,
}

/// Why an upload failed.
#[derive(Debug)]
pub enum Failed {
    /// What stands in the way on the host, said for the operator.
    Refused(String),
    Sftp(SftpError),
}

impl From<SftpError> for Failed {
    fn from(e: SftpError) -> Failed {
        Failed::Sftp(e)
    }
}

/// Writes `content` to the absolute file path `path` with `mode`, owned by root (the
/// session's user, which must be root).
pub async fn upload(sftp: &Sftp, path: &str, mode: u32, content: &[u8]) -> Result<Done, Failed> {
    let mode = mode & 0o7777;
    if !sftp.posix_rename {
        return Ok(Done::UseShell);
    }
    let here = sftp.lstat(path).await?;
    let (exists, is_dir) = match here {
        None => (false, false),
        Some(a) if a.is_file() => {
            if a.perms() == Some(mode)
                && a.owner.is_some_and(|(uid, _)| uid == 0)
                && a.size == Some(content.len() as u64)
                && read_whole(sftp, path, content.len()).await? == content
            {
                return Ok(Done::Unchanged);
            }
            (true, false)
        }
        Some(a) if a.is_dir() => (true, true),
        // A symbolic link, a device...: what it points at decides, as `[ -d ]` and
        // `[ -e ]` do.
        Some(_) => match sftp.stat(path).await? {
            Some(target) => (true, target.is_dir()),
            None => (false, false),
        },
    };
    if is_dir {
        return Err(Failed::Refused(format!("{path} is a directory")));
    }
    let dir = parent(path);
    ensure_record(sftp).await?;
    let dir_attrs = make_dirs(sftp, dir, true).await?;
    let temp = temp_name(path);
    // One left by an upload cut off with the connection goes now.
    let _ = sftp.remove(&temp).await;
    let handle = sftp
        .open(
            &temp,
            OPEN_WRITE | OPEN_CREATE | OPEN_EXCLUSIVE,
            mode & 0o777,
        )
        .await?;
    let filled = fill(sftp, &handle, mode, dir_attrs, content).await;
    let closed = sftp.close(handle).await;
    let placed = match (filled, closed) {
        (Ok(()), Ok(())) => match keep_original(sftp, path, dir, exists).await {
            Ok(true) => sftp.posix_rename(&temp, path).await.map_err(Failed::from),
            Ok(false) => {
                let _ = sftp.remove(&temp).await;
                return Ok(Done::UseShell);
            }
            Err(e) => Err(e),
        },
        (Err(e), _) => Err(e),
        (Ok(()), Err(e)) => Err(e.into()),
    };
    if let Err(e) = placed {
        let _ = sftp.remove(&temp).await;
        return Err(e);
    }
    Ok(Done::Written)
}

/// The owner, the mode and the content of the new file, then the check of what arrived.
async fn fill(
    sftp: &Sftp,
    handle: &Handle,
    mode: u32,
    dir: Attrs,
    content: &[u8],
) -> Result<(), Failed> {
    // A set-group-ID directory would give the file its group; the owner goes first, as
    // changing it clears the set-ID bits.
    if dir.mode.is_some_and(|m| m & 0o2000 != 0) {
        sftp.fsetstat(handle, Attrs::with_owner(0, 0)).await?;
    }
    // The server's umask applied at the open; the mode is made exact before any content.
    sftp.fsetstat(handle, Attrs::with_perms(mode)).await?;
    for (i, chunk) in content.chunks(CHUNK).enumerate() {
        sftp.write(handle, (i * CHUNK) as u64, chunk).await?;
    }
    let arrived = sftp.fstat(handle).await?;
    if arrived.size != Some(content.len() as u64) {
        return Err(Failed::Refused(format!(
            "the content that arrived ({} bytes) does not match what was sent ({} bytes)",
            arrived
                .size
                .map_or("an unknown number of".into(), |s| s.to_string()),
            content.len()
        )));
    }
    Ok(())
}

/// The file's content if it is `len` bytes long (read whole, or a shorter one).
async fn read_whole(sftp: &Sftp, path: &str, len: usize) -> Result<Vec<u8>, SftpError> {
    let handle = sftp.open(path, OPEN_READ, 0).await?;
    let mut data = Vec::with_capacity(len);
    let read = async {
        while data.len() <= len {
            let chunk = sftp.read(&handle, data.len() as u64, CHUNK as u32).await?;
            if chunk.is_empty() {
                break;
            }
            data.extend_from_slice(&chunk);
        }
        Ok(())
    }
    .await;
    sftp.close(handle).await?;
    read.map(|()| data)
}

fn parent(path: &str) -> &str {
    match path.rsplit_once('/') {
        Some(("", _)) | None => "/",
        Some((dir, _)) => dir,
    }
}

/// The record's own directories, once per session (as the shell's
/// `[ -d $RECORD/new ] || mkdir -p $RECORD/orig $RECORD/new`).
async fn ensure_record(sftp: &Sftp) -> Result<(), Failed> {
    use std::sync::atomic::Ordering;
    if sftp.record_ready.load(Ordering::Relaxed) {
        return Ok(());
    }
    if !sftp
        .stat(&format!("{RECORD_DIR}/new"))
        .await?
        .is_some_and(|a| a.is_dir())
    {
        make_dirs(sftp, &format!("{RECORD_DIR}/orig"), false).await?;
        make_dirs(sftp, &format!("{RECORD_DIR}/new"), false).await?;
    }
    sftp.record_ready.store(true, Ordering::Relaxed);
    Ok(())
}

/// `mkdir -p dir` with mode 0755, each directory it creates written to the record's
/// `dirs` (deepest first) when `record` is set; the directory's attributes.
async fn make_dirs(sftp: &Sftp, dir: &str, record: bool) -> Result<Attrs, Failed> {
    let mut missing = Vec::new();
    let mut at = dir;
    let found = loop {
        match sftp.stat(at).await? {
            Some(a) if a.is_dir() => break a,
            Some(_) => {
                return Err(Failed::Refused(format!(
                    "cannot create the directory {dir}: {at} is not a directory"
                )));
            }
            None if at == "/" => {
                return Err(Failed::Refused(format!(
                    "cannot create the directory {dir}"
                )));
            }
            None => {
                missing.push(at);
                at = parent(at);
            }
        }
    };
    if missing.is_empty() {
        return Ok(found);
    }
    if record {
        let list: String = missing.iter().map(|d| format!("{d}\n")).collect();
        let dirs = sftp
            .open(
                &format!("{RECORD_DIR}/dirs"),
                OPEN_WRITE | OPEN_APPEND | OPEN_CREATE,
                0o644,
            )
            .await?;
        let written = sftp.write(&dirs, 0, list.as_bytes()).await;
        sftp.close(dirs).await?;
        written?;
    }
    for d in missing.iter().rev() {
        if let Err(e) = sftp.mkdir(d, 0o755).await {
            // Another upload to the same host may have made it meanwhile.
            if !sftp.stat(d).await?.is_some_and(|a| a.is_dir()) {
                return Err(e.into());
            }
            continue;
        }
        sftp.setstat(d, Attrs::with_perms(0o755)).await?;
    }
    Ok(Attrs::with_perms(0o755))
}

/// The temporary file of an upload to `path`: hidden, beside it, with a suffix no
/// `*.conf`, `*.yaml` or unit directory reads. The same for every upload of `path`, so one
/// an upload left behind when its connection was cut is removed by the next, which
/// creates its own exclusively (never through a link someone put there).
fn temp_name(path: &str) -> String {
    let (dir, base) = path.rsplit_once('/').unwrap_or(("", path));
    format!("{dir}/.{base}.kubewiz-upload")
}

/// What `plan::record::keep_original` does in the shell: the first time kubewiz changes
/// `path`, the record keeps what it was: a second link to the old file (the rename that
/// follows leaves it as it was), or a mark that there was none. False when the old file
/// cannot be linked (another file system, or no `hardlink@openssh.com`): the shell upload
/// copies it instead.
async fn keep_original(sftp: &Sftp, path: &str, dir: &str, exists: bool) -> Result<bool, Failed> {
    let orig = format!("{RECORD_DIR}/orig{path}");
    let new = format!("{RECORD_DIR}/new{path}");
    if sftp.lstat(&orig).await?.is_some() || sftp.lstat(&new).await?.is_some() {
        return Ok(true);
    }
    if exists {
        if !sftp.hardlink {
            return Ok(false);
        }
        make_dirs(sftp, &format!("{RECORD_DIR}/orig{dir}"), false).await?;
        return Ok(sftp.hardlink(path, &orig).await.is_ok());
    }
    make_dirs(sftp, &format!("{RECORD_DIR}/new{dir}"), false).await?;
    let mark = sftp
        .open(&new, OPEN_WRITE | OPEN_CREATE | OPEN_TRUNCATE, 0o644)
        .await?;
    sftp.close(mark).await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parents_and_temporary_names_stay_in_the_directory() {
        assert_eq!(parent("/etc/kubewiz/a.yaml"), "/etc/kubewiz");
        assert_eq!(parent("/a"), "/");
        assert_eq!(
            temp_name("/etc/kubewiz/a.yaml"),
            "/etc/kubewiz/.a.yaml.kubewiz-upload"
        );
        assert_eq!(temp_name("/a"), "/.a.kubewiz-upload");
    }
}
