//! The install as data: phases (each a barrier), and in each phase every host's
//! ordered steps. Dry-run, the preview, `kubewiz plan` and the tests read it without
//! executing anything; the runner executes it, and needs nothing else: every upload's
//! content, every host's preflight rules and all that a step's input hash is made of
//! are resolved here (the hash itself is made from the plan when a run asks for it).
//!
//! Each phase is one file in `phases/` (its name, title, what it needs, its steps per
//! host); `phases::INSTALL` and `phases::RESET` list them in order.

mod action;
pub mod backup;
pub mod certs;
pub mod images;
pub mod libvirt;
mod needs;
pub mod node;
pub mod offline;
pub mod phases;
pub mod record;
pub mod reset;
pub mod restore;
mod steps;
mod text;
pub mod upgrade;

use std::collections::BTreeSet;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

pub use action::{
    Action, Blob, BundlePick, CaDigests, OsFamily, PackBackup, Preflight, bundle_fingerprint,
};
pub use libvirt::{LibvirtNetwork, NetworkChanges, NetworkPreview};
pub use needs::{HostNeeds, needs_package_manager, required_ports};
pub use phases::BUNDLE_TARGET;
pub use text::{Against, StepText};

use crate::files::File;
use crate::spec::ClusterSpec;
use crate::spec::layout::Layout;

/// A phase's name: what `--phase` takes, step ids start with, and the journal records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PhaseId(&'static str);

impl PhaseId {
    pub const fn new(name: &'static str) -> PhaseId {
        PhaseId(name)
    }

    pub fn name(self) -> &'static str {
        self.0
    }

    /// The install phase `--phase NAME` names.
    pub fn from_name(name: &str) -> Option<PhaseId> {
        phases::INSTALL
            .iter()
            .map(|p| p.id)
            .find(|p| p.name() == name)
    }
}

impl fmt::Display for PhaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What a phase needs to have run before it when `--phase` picks it alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Needs {
    /// It works on the hosts: connect and preflight run first (the connections and
    /// facts it needs, and the checks that keep a run safe).
    pub hosts: bool,
    /// It starts something that uses the cluster's certificates: the PKI is
    /// distributed first.
    pub pki: bool,
}

/// What `kubewiz upgrade` upgrades the cluster to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upgrade {
    /// The version the cluster runs.
    pub from: crate::spec::KubeVersion,
    /// The version it is upgraded to: the same minor or the next.
    pub to: crate::spec::KubeVersion,
    /// The new version's programs (a bundle's `bin/`), or None to install them from
    /// the package repository.
    pub bundle: Option<PathBuf>,
    /// The etcd version the external etcd members go to, one at a time, with the new
    /// bundle's etcd; None when they keep theirs.
    pub etcd: Option<String>,
}

/// The snapshot a restore puts back.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Restore {
    /// The snapshot on the KVM host.
    pub snapshot: PathBuf,
    /// Its SHA-256, checked before it is sent to a host.
    pub sha256: String,
    /// The restored etcd cluster's new token, so no member of the old cluster can
    /// talk to it.
    pub token: String,
}

/// The KVM host of the plans built by unit tests: libvirt's test driver, a state
/// directory that is never written.
#[cfg(test)]
pub(crate) fn test_local() -> Local {
    Local {
        libvirt_uri: "test:///default".into(),
        state_dir: "/nonexistent".into(),
        hosts_file: "/nonexistent/hosts".into(),
    }
}

/// What the plan needs to know of the KVM host kubewiz runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Local {
    /// The libvirt connection of the libvirt-network phase, as `virsh -c` takes it.
    pub libvirt_uri: String,
    /// The cluster's state directory, where `local/` files (admin.conf) are saved.
    pub state_dir: PathBuf,
    /// The KVM host's hosts file, where the libvirt-network phase puts the cluster's
    /// names (`kvm::hosts_file::path`).
    pub hosts_file: PathBuf,
}

/// One step of one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `phase/host/slug`: stable across runs, so the journal can say what finished.
    pub id: String,
    pub title: String,
    pub action: Action,
    pub timeout: Duration,
    /// The unit whose journal to show when this step fails (kubelet, etcd, ...).
    pub unit: Option<&'static str>,
    /// Run only on hosts with this package manager.
    pub only_on: Option<OsFamily>,
    /// The host whose connection runs the command, when it is not the step's own: a
    /// worker is drained with kubectl on the first control plane, which has the
    /// admin credentials the worker never gets. Its output is the step's host's.
    pub via: Option<String>,
}

/// Steps an earlier run finished, by id, with the hash of their inputs (read from the
/// cluster's journal, `exec::journal`).
pub type Finished = std::collections::HashMap<String, String>;

impl Step {
    /// When the journal may skip this step on resume; never for waits and facts.
    pub fn idempotent(&self) -> bool {
        self.action.idempotent()
    }

    /// An earlier run finished this very step (same id, same inputs), so a run skips
    /// it; checks and waits always run again. `inputs` is [`Step::inputs`], passed in
    /// by a caller that already has it.
    pub fn done_before(&self, finished: &Finished, inputs: &str) -> bool {
        self.idempotent() && finished.get(&self.id).map(String::as_str) == Some(inputs)
    }

    /// sha256 of what the step does (its command, or the path, mode and content it
    /// uploads), from the plan alone: a finished step is done again when it changes.
    pub fn inputs(&self) -> String {
        match &self.via {
            None => self.action.inputs(),
            Some(via) => crate::digest::sha256_hex(
                format!("{} via {via}\n", self.action.inputs()).as_bytes(),
            ),
        }
    }
}

/// The name `HostSteps::host` has for steps that run on the KVM host itself.
pub const LOCAL: &str = "local";

/// One host's steps in a phase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostSteps {
    pub host: String,
    pub steps: Vec<Step>,
}

/// One phase: a barrier; its hosts run at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phase {
    pub id: PhaseId,
    pub title: &'static str,
    /// Hosts run one after the other instead of at once: control planes join one at a
    /// time so etcd never adds two members at once.
    pub one_at_a_time: bool,
    /// At most this many hosts at once (an upgrade's workers, `--max-unavailable`);
    /// after a host fails no other starts.
    pub at_most: Option<usize>,
    pub hosts: Vec<HostSteps>,
}

/// The whole install (or reset).
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub cluster: String,
    /// The spec the plan was built from: the hosts to connect to and their roles.
    pub spec: Arc<ClusterSpec>,
    pub phases: Vec<Phase>,
}

impl Plan {
    /// Every step, in execution order of phases (hosts within a phase run at once).
    pub fn steps(&self) -> impl Iterator<Item = (&Phase, &HostSteps, &Step)> {
        self.phases.iter().flat_map(|p| {
            p.hosts
                .iter()
                .flat_map(move |h| h.steps.iter().map(move |s| (p, h, s)))
        })
    }

    /// Keeps only the phases that run when `asked` were asked for (see [`needed`]).
    pub fn only(mut self, asked: &BTreeSet<PhaseId>) -> Plan {
        let needed = needed(asked);
        self.phases.retain(|p| needed.contains(&p.id));
        self
    }
}

/// The phases that run when `asked` were asked for: each with what it needs
/// ([`Needs`]).
pub fn needed(asked: &BTreeSet<PhaseId>) -> BTreeSet<PhaseId> {
    let mut out = asked.clone();
    for def in phases::INSTALL.iter().filter(|d| asked.contains(&d.id)) {
        if def.needs.hosts {
            out.extend([phases::connect::PHASE.id, phases::preflight::PHASE.id]);
        }
        if def.needs.pki {
            out.insert(phases::pki::PHASE.id);
        }
    }
    out
}

/// Whether any of `asked` works on the hosts (the libvirt network alone does not).
pub fn touches_hosts(asked: &BTreeSet<PhaseId>) -> bool {
    phases::INSTALL
        .iter()
        .any(|d| asked.contains(&d.id) && d.needs.hosts)
}

/// The install plan for `layout`, uploading `files`, run from the KVM host `local`.
pub fn build(layout: &Layout, files: &[File], local: &Local) -> Plan {
    phases::plan(&phases::Builder::new(layout, files, local), phases::INSTALL)
}
