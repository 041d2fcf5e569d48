//! One run per cluster at a time: an exclusive `flock` on `<cluster>/lock`, held by the
//! engine process for the whole run. The file says who holds it (PID, operator, start
//! time, what kind of run) so a refusal can name them. The kernel drops the lock when
//! its process dies, however it dies, so a file left by a dead process refuses nothing.

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use rustix::fs::{FlockOperation, flock};

use crate::state::ClusterState;

/// A held lock; dropping it releases it.
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

/// Who holds a cluster's lock, as its file says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Holder {
    pub pid: String,
    pub operator: String,
    pub started: String,
    pub kind: String,
}

impl Holder {
    /// This process, running a run of `kind` for `operator`, from now.
    pub fn this_process(operator: &str, kind: String) -> Holder {
        let now = time::OffsetDateTime::now_utc();
        Holder {
            pid: std::process::id().to_string(),
            operator: operator.to_owned(),
            started: now
                .replace_nanosecond(0)
                .unwrap_or(now)
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default(),
            kind,
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the {} of kubewiz PID {}, started by {} at {}",
            self.kind, self.pid, self.operator, self.started
        )
    }
}

/// Why the lock was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "cluster {cluster} is busy with {holder}; follow it with `kubewiz attach {cluster}`, or wait until it ends"
    )]
    Held { cluster: String, holder: Holder },
    #[error("cannot use the lock file {path}: {source}; check the state directory's owner")]
    Io { path: PathBuf, source: io::Error },
}

/// The lock file of a cluster.
pub fn path(cluster: &ClusterState) -> PathBuf {
    cluster.dir().join("lock")
}

/// Takes the cluster's lock for this process, writing who holds it; refuses when a
/// live process holds it.
pub fn acquire(cluster: &ClusterState, name: &str, holder: &Holder) -> Result<Lock, LockError> {
    let path = path(cluster);
    let io_err = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    let mut file = open(&path).map_err(io_err)?;
    match flock(&file, FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => {}
        Err(rustix::io::Errno::WOULDBLOCK) => {
            return Err(LockError::Held {
                cluster: name.to_owned(),
                holder: read_holder(&mut file),
            });
        }
        Err(e) => return Err(io_err(e.into())),
    }
    let text = format!(
        "pid={}\noperator={}\nstarted={}\nkind={}\n",
        holder.pid, holder.operator, holder.started, holder.kind
    );
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| file.write_all(text.as_bytes()))
        .and_then(|()| file.sync_all())
        .map_err(io_err)?;
    Ok(Lock { _file: file })
}

/// Who holds the cluster's lock now, or None when no live process does.
pub fn holder(cluster: &ClusterState) -> Option<Holder> {
    let path = path(cluster);
    if !path.is_file() {
        return None;
    }
    let mut file = open(&path).ok()?;
    match flock(&file, FlockOperation::NonBlockingLockShared) {
        // Free: whatever the file says is stale. The shared lock ends with `file`.
        Ok(()) => None,
        Err(_) => Some(read_holder(&mut file)),
    }
}

fn open(path: &std::path::Path) -> io::Result<File> {
    if let Some(dir) = path.parent() {
        use std::os::unix::fs::DirBuilderExt;
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)?;
    }
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
}

fn read_holder(file: &mut File) -> Holder {
    let mut text = String::new();
    let _ = file.rewind().and_then(|()| file.read_to_string(&mut text));
    let field = |key: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
            .unwrap_or("(unknown)")
            .to_owned()
    };
    Holder {
        pid: field("pid"),
        operator: field("operator"),
        started: field("started"),
        kind: field("kind"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn holder_of(pid: &str) -> Holder {
        Holder {
            pid: pid.into(),
            operator: "alice (uid 1000)".into(),
            started: "2026-12-04T02:00:00Z".into(),
            kind: "install".into(),
        }
    }

    #[test]
    fn a_second_holder_is_refused_with_the_first_ones_pid_and_operator() {
        let dir = tempfile::tempdir().unwrap();
        let cluster = ClusterState::new(dir.path(), "lab");
        let first = acquire(&cluster, "lab", &holder_of("111")).unwrap();
        let err = acquire(&cluster, "lab", &holder_of("222")).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("PID 111"), "{text}");
        assert!(text.contains("alice (uid 1000)"), "{text}");
        assert!(text.contains("kubewiz attach lab"), "{text}");
        assert_eq!(holder(&cluster), Some(holder_of("111")));
        drop(first);
        assert_eq!(holder(&cluster), None);
        acquire(&cluster, "lab", &holder_of("333")).unwrap();
    }

    #[test]
    fn a_file_left_by_a_dead_holder_refuses_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let cluster = ClusterState::new(dir.path(), "lab");
        std::fs::create_dir_all(cluster.dir()).unwrap();
        std::fs::write(
            path(&cluster),
            "pid=999999\noperator=bob\nstarted=x\nkind=install\n",
        )
        .unwrap();
        assert_eq!(holder(&cluster), None);
        let _lock = acquire(&cluster, "lab", &holder_of("444")).unwrap();
        let text = std::fs::read_to_string(path(&cluster)).unwrap();
        assert!(text.starts_with("pid=444\n"), "{text}");
    }
}
