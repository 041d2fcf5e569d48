//! `kubewiz reset`: undo an install on the preset's hosts (see `plan::reset`), with
//! line output and an audit log like `apply`.

use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;

use super::apply::{confirm, run_plan};
use super::prepare::prepare;
use super::{EXIT_FAILED, EXIT_USAGE};
use crate::exec::ssh::Ssh;
use crate::launch;
use crate::plan::Local;
use crate::plan::reset::{self, ResetOptions};
use crate::spec::layout::Layout;

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
    let mut prepared = match prepare(state_dir, preset) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let options = ResetOptions {
        delete_data: !keep_data,
    };
    let plan = match Layout::new(&prepared.spec) {
        Ok(layout) => {
            let local = Local {
                libvirt_uri: crate::kvm::connect_uri(),
                state_dir: prepared.state.dir().to_path_buf(),
                hosts_file: crate::kvm::hosts_file::path(),
            };
            reset::build(&layout, &local, options)
        }
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let data = if options.delete_data {
        "This deletes etcd's data (the cluster's state) and the kubelet's."
    } else {
        "etcd's and the kubelet's data stay (--keep-data)."
    };
    let question = format!(
        "Reset cluster {} on {} host(s): kubeadm reset, stop its services, put back every file kubewiz changed? {data}",
        prepared.spec.name,
        prepared.spec.hosts.len()
    );
    if !yes && !confirm(&question) {
        eprintln!("kubewiz: nothing was done");
        return ExitCode::from(EXIT_FAILED);
    }
    let run_options = match launch::reset_options(
        &prepared.spec,
        &prepared.pki,
        &prepared.state,
        &prepared.preset_text,
    ) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    prepared.plan = plan;
    // Host keys were accepted, if at all, by the install.
    run_plan(prepared, Arc::new(Ssh::new(false)), run_options, syslog)
}
