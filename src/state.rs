//! Where kubewiz keeps each cluster's state on the KVM host: its PKI, the preset
//! actually applied, the run journal and the logs.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// The default state directory: /var/lib/kubewiz as root, else
/// `$XDG_STATE_HOME/kubewiz` (`~/.local/state/kubewiz`).
pub fn default_dir() -> PathBuf {
    if rustix::process::geteuid().is_root() {
        return PathBuf::from("/var/lib/kubewiz");
    }
    let base = std::env::var_os("XDG_STATE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/state")))
        .unwrap_or_else(|| PathBuf::from(".kubewiz-state"));
    base.join("kubewiz")
}

/// Where the operator's own presets are saved and found:
/// `$XDG_CONFIG_HOME/kubewiz/presets` (`~/.config/kubewiz/presets`).
pub fn user_presets_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_CONFIG_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|h| PathBuf::from(h).join(".config"))
        })
        .map(|base| base.join("kubewiz/presets"))
}

/// Presets shared by every operator of the machine.
pub const SHARED_PRESETS_DIR: &str = "/etc/kubewiz/presets";

/// The directories the wizard lists presets from, each with whether it is shared:
/// the operator's own, then the machine's.
pub fn preset_dirs() -> Vec<(PathBuf, bool)> {
    let mut dirs: Vec<(PathBuf, bool)> =
        user_presets_dir().map(|d| (d, false)).into_iter().collect();
    dirs.push((PathBuf::from(SHARED_PRESETS_DIR), true));
    dirs
}

/// The `*.toml` files of `dir`, sorted; none when it does not exist or cannot be read.
pub fn presets_in(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml") && p.is_file())
        .collect();
    files.sort();
    files
}

/// One cluster's state directory: `<state dir>/<cluster name>/`.
pub struct ClusterState {
    dir: PathBuf,
}

impl ClusterState {
    pub fn new(state_dir: &Path, cluster: &str) -> Self {
        ClusterState {
            dir: state_dir.join(cluster),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    pub fn pki_dir(&self) -> PathBuf {
        self.dir.join("pki")
    }

    /// The preset of the last run, which `kubewiz resume` continues.
    pub fn preset(&self) -> PathBuf {
        self.dir.join("preset.toml")
    }

    /// The operator's kubeconfig, saved by an install's last phase: the cluster runs.
    pub fn admin_conf(&self) -> PathBuf {
        self.dir.join("admin.conf")
    }

    /// Which steps finished, one JSON line each.
    pub fn journal(&self) -> PathBuf {
        self.dir.join("journal")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }
}

/// Writes a file of the state directory through a temporary file, synced, and a rename,
/// so a crash never leaves half a key or half a kubeconfig. Missing directories are
/// made private to root (0700): the state holds the cluster's keys.
pub fn write_atomic(path: &Path, content: &[u8], mode: u32) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::other(format!("{} has no directory", path.display())))?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let written = (|| {
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        file.write_all(content)?;
        // The umask may have narrowed the mode asked for.
        file.set_permissions(fs::Permissions::from_mode(mode))?;
        file.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if written.is_err() {
        // Nothing half-written is left beside the file.
        let _ = fs::remove_file(&tmp);
    }
    written
}
