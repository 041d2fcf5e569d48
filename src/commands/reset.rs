//! `kubewiz reset`: undo an install on the preset's hosts (see `plan::reset`), with
//! line output and an audit log like `apply`.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;

use super::apply::{absolute, confirm};
use super::follow::{self, OnCtrlC};
use super::prepare::{self, load_valid};
use super::{EXIT_FAILED, EXIT_USAGE};
use crate::detached::job::{Job, JobKind};

pub fn run(
    state_dir: Option<&Path>,
    preset: &Path,
    yes: bool,
    keep_data: bool,
    syslog: bool,
) -> ExitCode {
    if !yes && !std::io::stdin().is_terminal() {
        eprintln!(
            "kubewiz: reset changes the hosts and asks first; without a terminal to ask on, give --yes"
        );
        return ExitCode::from(EXIT_USAGE);
    }
    // The engine generates what the reset needs; here only the preset is checked.
    let (spec, preset_text) = match load_valid(preset) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    if let Err(code) = prepare::layout(&spec) {
        return code;
    }
    let data = if !keep_data {
        "This deletes etcd's data (the cluster's state) and the kubelet's."
    } else {
        "etcd's and the kubelet's data stay (--keep-data)."
    };
    let question = format!(
        "Reset cluster {} on {} host(s): kubeadm reset, stop its services, put back every file kubewiz changed? {data}",
        spec.name,
        spec.hosts.len()
    );
    if !yes && !confirm(&question) {
        eprintln!("kubewiz: nothing was done");
        return ExitCode::from(EXIT_FAILED);
    }
    let job = Job {
        kind: JobKind::Reset,
        state_dir: absolute(&state_dir.map_or_else(crate::state::default_dir, Path::to_path_buf)),
        preset_text,
        dry_run: false,
        pace: 0.0,
        phases: Vec::new(),
        // Host keys were accepted, if at all, by the install.
        accept_new_host_keys: false,
        keep_data,
        syslog: syslog || spec.audit.syslog,
        libvirt_uri: crate::kvm::connect_uri(),
        terminal: crate::audit::identity::terminal(),
        restore_from: None,
        names: Vec::new(),
        removal: None,
        upgrade: None,
        backup: None,
    };
    follow::start(&job, spec.name.as_str(), OnCtrlC::for_run(yes))
}
