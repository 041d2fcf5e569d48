//! The install as data: phases (each a barrier), and in each phase every host's
//! ordered steps. Dry-run, the preview, `kubewiz plan` and the tests read it without
//! executing anything; the runner executes it.

mod build;
pub mod libvirt;
pub mod reset;
mod steps;
mod text;

use std::fmt;
use std::time::Duration;

pub use build::{build, needs_package_manager, required_ports};
pub use libvirt::{LibvirtNetwork, NetworkChanges, NetworkPreview};

/// The phases of an install, in order (DESIGN.md, Execution).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PhaseId {
    /// On the KVM host: the cluster's DHCP reservations and DNS entries on its libvirt
    /// network, before any host is contacted (see `plan::libvirt`).
    LibvirtNetwork,
    Connect,
    Preflight,
    Prepare,
    Pki,
    Etcd,
    LoadBalancer,
    FirstControlPlane,
    ControlPlanes,
    Workers,
    Cni,
    Verify,
    Kubeconfig,
    /// `kubewiz reset`: kubeadm reset and cleanup on every node.
    ResetNodes,
    /// `kubewiz reset`: stop external etcd, haproxy and keepalived.
    ResetServices,
    /// `kubewiz reset`: put back the files kubewiz replaced.
    Restore,
}

impl PhaseId {
    /// The install's phases; `--phase` takes their names.
    pub const ALL: [PhaseId; 13] = [
        PhaseId::LibvirtNetwork,
        PhaseId::Connect,
        PhaseId::Preflight,
        PhaseId::Prepare,
        PhaseId::Pki,
        PhaseId::Etcd,
        PhaseId::LoadBalancer,
        PhaseId::FirstControlPlane,
        PhaseId::ControlPlanes,
        PhaseId::Workers,
        PhaseId::Cni,
        PhaseId::Verify,
        PhaseId::Kubeconfig,
    ];

    /// The name `--phase` takes and the journal records.
    pub fn name(self) -> &'static str {
        match self {
            PhaseId::LibvirtNetwork => "libvirt-network",
            PhaseId::Connect => "connect",
            PhaseId::Preflight => "preflight",
            PhaseId::Prepare => "prepare",
            PhaseId::Pki => "pki",
            PhaseId::Etcd => "etcd",
            PhaseId::LoadBalancer => "load-balancer",
            PhaseId::FirstControlPlane => "first-control-plane",
            PhaseId::ControlPlanes => "control-planes",
            PhaseId::Workers => "workers",
            PhaseId::Cni => "cni",
            PhaseId::Verify => "verify",
            PhaseId::Kubeconfig => "kubeconfig",
            PhaseId::ResetNodes => "reset-nodes",
            PhaseId::ResetServices => "reset-services",
            PhaseId::Restore => "restore-files",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            PhaseId::LibvirtNetwork => "DHCP and DNS on the libvirt network",
            PhaseId::Connect => "Connect and gather facts",
            PhaseId::Preflight => "Preflight checks",
            PhaseId::Prepare => "Prepare hosts",
            PhaseId::Pki => "Distribute PKI",
            PhaseId::Etcd => "External etcd",
            PhaseId::LoadBalancer => "Load balancer",
            PhaseId::FirstControlPlane => "First control plane",
            PhaseId::ControlPlanes => "Other control planes",
            PhaseId::Workers => "Workers",
            PhaseId::Cni => "Pod network",
            PhaseId::Verify => "Verify",
            PhaseId::Kubeconfig => "Fetch kubeconfig",
            PhaseId::ResetNodes => "Reset nodes",
            PhaseId::ResetServices => "Stop etcd and load balancers",
            PhaseId::Restore => "Restore files",
        }
    }

    pub fn from_name(name: &str) -> Option<PhaseId> {
        PhaseId::ALL.into_iter().find(|p| p.name() == name)
    }
}

impl fmt::Display for PhaseId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
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
    Preflight(Vec<String>),
    /// Put a rendered file on the host (temporary file, then rename).
    Upload { path: String, mode: u32 },
    /// Run a shell command; a non-zero exit fails the step.
    Run { command: String },
    /// Run `check` until it succeeds or the step's timeout passes.
    Wait { check: String },
    /// Write a rendered `local/` file into the cluster's state directory on the KVM host.
    WriteLocal { path: String },
    /// From the KVM host, GET `url` with the client certificate and CA of the rendered
    /// local kubeconfig `kubeconfig`, until it answers 200 or the timeout passes.
    CheckApi { url: String, kubeconfig: String },
    /// Upload files of the local directory `from` (the air-gap bundle's `bin/`) to the
    /// host's directory `to`, executable. Read from the KVM host when it runs.
    UploadBundle {
        from: std::path::PathBuf,
        to: String,
        pick: BundlePick,
    },
    /// On the KVM host, after the operator agreed: make the libvirt network hold the
    /// cluster's DHCP reservations and DNS entries, live and persistent.
    LibvirtNetwork(LibvirtNetwork),
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

/// The package manager a step is for; the runner skips it on hosts of the other kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OsFamily {
    /// Debian, Ubuntu: apt.
    Apt,
    /// RHEL, Rocky, Alma, Fedora: dnf.
    Dnf,
}

/// One step of one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// `phase/host/slug`: stable across runs, so the journal can say what finished.
    pub id: String,
    pub title: String,
    pub action: Action,
    pub timeout: Duration,
    /// When the journal may skip this step on resume; never for waits and facts.
    pub idempotent: bool,
    /// The unit whose journal to show when this step fails (kubelet, etcd, ...).
    pub unit: Option<&'static str>,
    /// Run only on hosts with this package manager.
    pub only_on: Option<OsFamily>,
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
    /// Hosts run one after the other instead of at once: control planes join one at a
    /// time so etcd never adds two members at once.
    pub one_at_a_time: bool,
    pub hosts: Vec<HostSteps>,
}

/// The whole install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub cluster: String,
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
}
