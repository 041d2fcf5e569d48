//! Checks that depend on this machine's files. They are warnings: a preset may be
//! prepared on one machine and applied from another.

use std::path::{Path, PathBuf};

use crate::spec::{ClusterSpec, Diagnostic, PackageSource, Role};

/// Expands a leading `~/` with `home`.
pub fn expand_home(path: &Path, home: Option<&Path>) -> PathBuf {
    match (path.strip_prefix("~"), home) {
        (Ok(rest), Some(home)) => home.join(rest),
        _ => path.to_owned(),
    }
}

/// The SSH key, the bundle directory and the system logger, as seen from this machine.
pub fn check_local(spec: &ClusterSpec, home: Option<&Path>) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    let identity = &spec.ssh.identity_file;
    if !identity.as_os_str().is_empty() {
        let full = expand_home(identity, home);
        if !full.is_file() {
            out.push(Diagnostic::warning(
                "ssh.identity_file",
                format!(
                    "{} does not exist on this machine; create it with ssh-keygen -t ed25519 -f {}, or apply from the machine that has it",
                    full.display(),
                    full.display()
                ),
            ));
        }
    }
    if let (PackageSource::Bundle, Some(dir)) = (spec.packages.source, &spec.packages.bundle_dir) {
        let full = expand_home(dir, home);
        let bin = full.join("bin");
        let etcd_hosts = spec.hosts.iter().any(|h| h.roles.contains(&Role::Etcd));
        if bin.is_dir() && etcd_hosts {
            for program in ["etcd", "etcdctl"] {
                if !bin.join(program).is_file() {
                    out.push(Diagnostic::warning(
                        "packages.bundle_dir",
                        format!(
                            "{} has no {program}; the external etcd hosts install etcd and etcdctl from the bundle",
                            bin.display()
                        ),
                    ));
                }
            }
        }
        if !bin.is_dir() {
            out.push(Diagnostic::warning(
                "packages.bundle_dir",
                format!(
                    "{} has no bin/ directory on this machine; put kubeadm, kubelet, kubectl, containerd and runc (and etcd, etcdctl for external etcd) in {}/bin",
                    full.display(),
                    full.display()
                ),
            ));
        }
    }
    if spec.audit.syslog && !on_path("logger") {
        out.push(Diagnostic::warning(
            "audit.syslog",
            "is true but this machine has no logger on its PATH: each run would say the system log did not get its start and head; install util-linux (bsdutils on Debian), or apply from a machine that has it",
        ));
    }
    out
}

/// Whether `program` is a file in one of the PATH's directories.
fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(program).is_file()))
}
