//! Where kubewiz keeps each cluster's state on the KVM host: its PKI, the preset
//! actually applied, the run journal and the logs.

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

    /// Which steps finished, one JSON line each.
    pub fn journal(&self) -> PathBuf {
        self.dir.join("journal")
    }

    pub fn logs_dir(&self) -> PathBuf {
        self.dir.join("logs")
    }
}
