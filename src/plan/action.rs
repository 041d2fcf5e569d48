//! What a step does, with everything the runner needs to do it: the content of every
//! upload, the rules of every preflight check. Each kind says what it leaves behind
//! ([`Action::effect`]: whether it may be skipped on resume, whether the host must write
//! it to disk first): there is no default, so a new kind must decide.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use super::HostNeeds;
use super::libvirt::LibvirtNetwork;
use crate::digest::sha256_hex;

/// A file's content in the plan, shared by every clone of the plan; its debug form is
/// its digest, so a plan prints (and hashes) without its bytes. The digest is made
/// when asked for (a step's inputs, when the run needs them), not when the plan is
/// built: the preview builds plans of hundreds of hosts and never asks.
#[derive(Clone, PartialEq, Eq)]
pub struct Blob {
    data: Arc<str>,
}

impl Blob {
    pub fn new(text: &str) -> Blob {
        Blob {
            data: Arc::from(text),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.data
    }

    pub fn as_bytes(&self) -> &[u8] {
        self.data.as_bytes()
    }
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sha256 = sha256_hex(self.data.as_bytes());
        write!(f, "Blob(sha256:{sha256}, {} bytes)", self.data.len())
    }
}

/// sha256 of this cluster's CA certificates, to tell an earlier install of this
/// cluster (a resumed run) from another cluster's; and the cluster's name, as the
/// haproxy.cfg kubewiz renders for it says it, for load balancers, which hold no CA.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CaDigests {
    pub kubernetes: String,
    pub etcd: String,
    pub cluster: String,
}

/// The preflight checks of one host: their descriptions as the plan shows them, and
/// what they are checked against.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preflight {
    pub checks: Vec<String>,
    pub needs: HostNeeds,
    pub ca: CaDigests,
}

/// What a step does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Open the host's SSH connection, checking its host key.
    Connect,
    /// Read the host's facts (OS, machine-id, hostname, kernel, cgroups, swap, CPU,
    /// memory, listening ports, clock, existing Kubernetes state).
    Facts,
    /// Checks kubewiz evaluates on the gathered facts of every host.
    Preflight(Preflight),
    /// Put a rendered file on the host (temporary file, then rename).
    Upload {
        path: String,
        mode: u32,
        content: Blob,
    },
    /// Run a shell command; a non-zero exit fails the step.
    Run { command: String },
    /// Run `check` until it succeeds or the step's timeout passes.
    Wait { check: String },
    /// Write a rendered `local/` file (`path`, relative to `local/`) to `to` in the
    /// cluster's state directory on the KVM host.
    WriteLocal {
        path: String,
        to: PathBuf,
        mode: u32,
        content: Blob,
    },
    /// From the KVM host, GET `url` with the client certificate and CA of the rendered
    /// local kubeconfig `kubeconfig`, until it answers 200 or the timeout passes. The
    /// credentials live in the private directory `workdir` (the cluster's state
    /// directory) while it asks.
    CheckApi {
        url: String,
        kubeconfig: String,
        content: Blob,
        workdir: PathBuf,
    },
    /// Upload files of the local directory `from` (the air-gap bundle's `bin/`) to the
    /// host's directory `to`, executable. Read from the KVM host when it runs;
    /// `fingerprint` (names, sizes and modification times when the plan was made)
    /// tells a changed bundle without reading it.
    UploadBundle {
        from: PathBuf,
        to: String,
        pick: BundlePick,
        fingerprint: String,
        /// The files' mode on the host: 0755 for programs, 0644 for image archives.
        mode: u32,
    },
    /// On the KVM host, after the operator agreed: make the libvirt network hold the
    /// cluster's DHCP reservations and DNS entries, live and persistent.
    LibvirtNetwork(LibvirtNetwork),
    /// On the KVM host: put the cluster's block (the rendered `local/hosts`) into the
    /// hosts file `file`, replacing an earlier one, or take it out when `block` is None
    /// (`kvm::hosts_file`).
    HostsFile {
        file: PathBuf,
        cluster: String,
        block: Option<Blob>,
    },
    /// Put a new client certificate and key into the kubeconfig at `path` on the host,
    /// keeping everything else in it (its server, names, CA), as kubeadm's `certs
    /// renew` does; nothing when the host has no such file.
    RenewKubeconfig { path: String, cert: Blob, key: Blob },
    /// Copy the host's file `path` to `to` on the KVM host (mode `mode`, written
    /// atomically), e.g. a backup's etcd snapshot.
    Fetch {
        path: String,
        to: PathBuf,
        mode: u32,
    },
    /// On the KVM host: write a backup's archive, then delete the fetched snapshot.
    PackBackup(PackBackup),
    /// Put the KVM host's file `from` on the host at `to` with `mode`, after checking
    /// that it still has the SHA-256 `sha256` the plan was made with (e.g. a restore's
    /// etcd snapshot, too large to keep in the plan).
    PutFile {
        from: PathBuf,
        to: String,
        mode: u32,
        sha256: String,
    },
}

impl Action {
    /// What the action leaves behind, the one place each kind decides it (there is no
    /// default, so a new kind must).
    pub fn effect(&self) -> Effect {
        match self {
            Action::Connect
            | Action::Facts
            | Action::Preflight(_)
            | Action::Wait { .. }
            | Action::CheckApi { .. }
            | Action::Fetch { .. }
            | Action::PackBackup(_) => Effect::OfTheMoment,
            Action::Upload { .. }
            | Action::Run { .. }
            | Action::UploadBundle { .. }
            | Action::RenewKubeconfig { .. }
            | Action::PutFile { .. } => Effect::OnTheHost,
            Action::WriteLocal { .. } | Action::LibvirtNetwork(_) | Action::HostsFile { .. } => {
                Effect::OnTheKvmHost
            }
        }
    }

    /// Whether a step that finished with the same inputs may be skipped on resume.
    /// Connections, facts, checks and waits are about the moment they run: always
    /// again. Everything that changes a host checks before it acts.
    pub fn idempotent(&self) -> bool {
        self.effect() != Effect::OfTheMoment
    }

    /// Whether what the action does is kept on the disks of the host it runs on: the
    /// runner has the host write it out before the journal records the step done, so
    /// a host that loses its power afterwards does not come back without it while a
    /// resumed run skips the step. What the KVM host writes is written out as it is
    /// written; checks, waits and reads change nothing.
    pub fn writes_host(&self) -> bool {
        self.effect() == Effect::OnTheHost
    }

    /// sha256 of what the action does: a finished step is done again when it changes.
    pub fn inputs(&self) -> String {
        match self {
            Action::LibvirtNetwork(network) => network.inputs(),
            other => sha256_hex(format!("{other:?}\n").as_bytes()),
        }
    }
}

/// What a step leaves behind ([`Action::effect`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Nothing: connections, facts, checks, waits, reads, and the backup archive made
    /// from what a run fetched, all about the moment they run.
    OfTheMoment,
    /// A change on the host the step runs on, kept on its disks.
    OnTheHost,
    /// A change on the KVM host (its files, the libvirt network).
    OnTheKvmHost,
}

/// A backup's archive `archive` of `cluster`, written on the KVM host from `sources`
/// (`archive::pack`: 0600, atomically, with its `.sha256`), the snapshot taken on
/// `snapshot_host`; `preset_text` stands in for a preset the state directory does not
/// keep.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackBackup {
    pub archive: PathBuf,
    pub cluster: String,
    pub snapshot_host: String,
    pub sources: crate::archive::Sources,
    pub preset_text: Blob,
}

/// Which of the bundle's programs a host gets: only what its roles run, as a bundle is
/// hundreds of megabytes and every host's share crosses the network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundlePick {
    /// Only these programs; each must be in the bundle.
    Only(Vec<String>),
    /// Every file but these (the programs of other roles); every file when empty.
    Except(Vec<String>),
}

impl BundlePick {
    /// Whether the file `name` is uploaded.
    pub fn takes(&self, name: &str) -> bool {
        match self {
            BundlePick::Only(names) => names.iter().any(|n| n == name),
            BundlePick::Except(names) => !names.iter().any(|n| n == name),
        }
    }
}

/// `name size mtime` of each program of a bundle directory, sorted; empty when the
/// directory cannot be read (the step itself then says why when it runs).
pub fn bundle_fingerprint(dir: &std::path::Path) -> String {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return String::new();
    };
    let mut lines: Vec<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let meta = e.metadata().ok().filter(|m| m.is_file())?;
            let mtime = meta
                .modified()
                .ok()?
                .duration_since(std::time::UNIX_EPOCH)
                .ok()?
                .as_nanos();
            Some(format!(
                "{} {} {mtime}",
                e.file_name().to_string_lossy(),
                meta.len()
            ))
        })
        .collect();
    lines.sort();
    lines.join("\n")
}

/// The package manager a step is for; the runner skips it on hosts of the other kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OsFamily {
    /// Debian, Ubuntu: apt.
    Apt,
    /// RHEL, Rocky, Alma, Fedora: dnf.
    Dnf,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_change_with_the_content_and_not_with_a_clone() {
        let upload = |text: &str| Action::Upload {
            path: "/etc/a".into(),
            mode: 0o644,
            content: Blob::new(text),
        };
        assert_eq!(upload("x").inputs(), upload("x").clone().inputs());
        assert_ne!(upload("x").inputs(), upload("y").inputs());
        let debug = format!("{:?}", upload("secret"));
        assert!(!debug.contains("secret"), "{debug}");
    }
}
