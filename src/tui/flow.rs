//! What passes between the wizard's layers, each in one direction: a screen draws from
//! a read-only [`View`] and answers a key with an [`Outcome`]; the app turns outcomes
//! into [`Effect`]s, work the event loop does off the UI thread. Kept below both the
//! app and the screens so that neither has to reach into the other for them.

use std::path::{Path, PathBuf};

use super::prepare::{Operation, Prepared};
use crate::spec::{ClusterSpec, Diagnostic};

/// What a screen's key handling asks of the app.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The key means nothing here.
    Ignored,
    /// The screen changed (and the spec may have).
    Handled,
    Back,
    Next,
    Quit,
    /// Start over from a spec: "new cluster" or a loaded preset.
    Load {
        spec: Box<ClusterSpec>,
        origin: String,
    },
    /// Replace the spec with the shipped layout of a topology, if no host was edited.
    Topology(crate::spec::Topology),
    /// Show a message over the screen until a key is pressed.
    Message(String),
    /// Ask before stopping the running install.
    AskAbort,
    /// Run the install again after a failure; the engine skips what finished.
    Rerun,
    /// Ask the operator to trust these (host, fingerprint) keys, then run again.
    TrustHostKeys(Vec<(String, String)>),
    /// Read the VMs of the spec's libvirt network and fill in the hosts.
    ImportLibvirt,
    /// Follow the run going on for this cluster.
    Attach(String),
    /// Open the manage view of this installed cluster.
    Manage(String),
    /// Prepare this day-2 operation on the installed cluster the spec is.
    Day2(Operation),
    /// Check every certificate of the managed cluster (`certs check`).
    CheckCerts,
    /// Prepare the install run that must follow the operation that just went through,
    /// from the cluster's kept preset.
    FollowUp,
}

/// How a run ended, once the engine stopped: the head of its audit log's chain, and
/// what the system log did not get when it was asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RunEnd {
    pub head: Option<String>,
    pub syslog_problem: Option<String>,
}

/// Work the event loop does off the UI thread, then reports back.
#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Load or make the PKI, render every file and build the plan (reading the libvirt
    /// network on `libvirt_uri` for its preview).
    Prepare {
        spec: Box<ClusterSpec>,
        state_dir: PathBuf,
        libvirt_uri: String,
    },
    /// Prepare a day-2 operation on the installed cluster `spec` (`prepare::day2`):
    /// its plan, for the preview.
    PrepareDay2 {
        operation: Operation,
        spec: Box<ClusterSpec>,
        state_dir: PathBuf,
        libvirt_uri: String,
    },
    /// Ask the API of installed cluster `name` in `state_dir` for its nodes, with the
    /// kept admin.conf; the answer goes to the manage view (`App::node_states`).
    NodeStates { state_dir: PathBuf, name: String },
    /// Check every certificate of installed cluster `name` in `state_dir`, kept and on
    /// every host; the report goes to the manage view (`App::certs_checked`).
    CheckCerts { state_dir: PathBuf, name: String },
    /// List the VMs of libvirt network `network` on `uri` (`kvm::import`); the result
    /// goes back to the app (`App::imported`).
    ImportLibvirt { uri: String, network: String },
    /// Start the install of what was prepared.
    Run { dry_run: bool },
    /// Follow the run going on for cluster `name` (its events from the start).
    Attach { name: String },
    /// Ask the running install to stop after its running steps.
    Cancel,
    /// Record these confirmed (host, fingerprint) keys in known_hosts.
    TrustHostKeys {
        spec: Box<ClusterSpec>,
        keys: Vec<(String, String)>,
    },
}

/// What every screen may read while drawing.
pub struct View<'a> {
    pub spec: &'a ClusterSpec,
    pub diags: &'a [Diagnostic],
    pub state_dir: &'a Path,
    pub prepared: Option<&'a Prepared>,
    pub origin: &'a str,
}
