//! Runs the install's libvirt network step (`plan::libvirt`) on the KVM host: reads the
//! VMs and the network through virsh, plans what is still missing, and applies it
//! (a dry run only says what it would run). Blocking: the runner calls it on a
//! blocking thread.
//!
//! Every virsh command run is reported with its result, as lines of the step's
//! output, so the audit log holds them; after a change the network as libvirt read it
//! back is reported too, whole, so the log says what the network held afterwards.

use super::events::Stream;
use crate::kvm::{self, Virsh};
use crate::plan::LibvirtNetwork;
use crate::spec::ClusterSpec;

/// What the step did: its output lines, and Ok(None) done, Ok(Some(reason)) skipped,
/// Err(why) failed.
pub(super) struct Report {
    pub lines: Vec<(Stream, String)>,
    pub result: Result<Option<String>, String>,
}

/// Reads, plans and (unless `dry_run`) applies.
pub(super) fn run(spec: &ClusterSpec, step: &LibvirtNetwork, dry_run: bool) -> Report {
    let virsh = Virsh::recording(step.uri.as_str());
    let mut lines = Vec::new();
    let survey = kvm::survey(&virsh, spec);
    record(&virsh, "read", &mut lines);
    let name = &step.network;
    let survey = match survey {
        Ok(s) => s,
        Err(e) if dry_run => {
            lines.push((Stream::Stderr, format!("cannot read the network now: {e}")));
            return Report {
                lines,
                result: Ok(Some(format!(
                    "dry run: libvirt network {name} could not be read, so nothing is shown"
                ))),
            };
        }
        Err(e) => {
            return Report {
                lines,
                result: Err(e.to_string()),
            };
        }
    };
    let plan = &survey.plan;
    for skipped in &plan.skipped {
        lines.push((Stream::Stdout, format!("skipped: {skipped}")));
    }
    for note in &plan.notes {
        lines.push((Stream::Stdout, format!("note: {note}")));
    }
    if plan.is_empty() {
        lines.push((
            Stream::Stdout,
            format!(
                "libvirt network {name} already holds every entry ({} in place); nothing to change",
                plan.in_place.len()
            ),
        ));
        let result = if dry_run {
            Some("dry run: nothing would change".to_owned())
        } else {
            None
        };
        return Report {
            lines,
            result: Ok(result),
        };
    }
    for (description, command) in plan.commands(&virsh.uri) {
        let verb = if dry_run { "would " } else { "" };
        lines.push((Stream::Stdout, format!("{verb}{description}")));
        lines.push((Stream::Stdout, format!("$ {command}")));
    }
    if dry_run {
        return Report {
            lines,
            result: Ok(Some(format!(
                "dry run: libvirt network {name} is not changed ({} change(s) would be made)",
                plan.changes.len()
            ))),
        };
    }
    let applied = kvm::apply(&virsh, spec, &survey.network, &survey.vms, plan);
    for ran in virsh.ran() {
        lines.push((
            Stream::Stdout,
            format!(
                "ran the {} change(s) and a read-back in one virsh process: {}",
                plan.changes.len(),
                ran.result
            ),
        ));
    }
    let applied = match applied {
        Ok(a) => a,
        Err(e) => {
            return Report {
                lines,
                result: Err(e.to_string()),
            };
        }
    };
    for line in applied
        .virsh_printed
        .lines()
        .filter(|l| !l.trim().is_empty())
    {
        lines.push((Stream::Stdout, format!("virsh: {}", line.trim())));
    }
    for line in applied.virsh_said.lines().filter(|l| !l.trim().is_empty()) {
        lines.push((Stream::Stderr, format!("virsh: {}", line.trim())));
    }
    lines.push((
        Stream::Stdout,
        format!(
            "read back with virsh net-dumpxml {name}: every entry is in place, live and persistent; the network now:"
        ),
    ));
    lines.extend(
        applied
            .after_xml
            .lines()
            .map(|l| (Stream::Stdout, l.to_owned())),
    );
    Report {
        lines,
        result: Ok(None),
    }
}

/// Reports the commands `virsh` ran since the last call.
fn record(virsh: &Virsh, what: &str, lines: &mut Vec<(Stream, String)>) {
    for ran in virsh.ran() {
        lines.push((
            Stream::Stdout,
            format!("{what}: $ {}  [{}]", ran.command, ran.result),
        ));
    }
}
