//! Survey and apply: what runs `virsh` for the network phase. [`survey`] only reads
//! (the VMs, the network) and plans; [`apply`] sends the plan's commands and checks
//! the network read back.

use super::plan::{NetworkPlan, plan};
use crate::kvm::KvmError;
use crate::kvm::import::{ImportedVm, import_on};
use crate::kvm::netdef::NetworkState;
use crate::kvm::virsh::Virsh;
use crate::render::kvm as render_kvm;
use crate::spec::ClusterSpec;

/// What the network phase works from, read through `virsh`: the VMs, the network and
/// the changes it needs. Only reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Survey {
    pub vms: Vec<ImportedVm>,
    pub network: NetworkState,
    pub plan: NetworkPlan,
}

/// Reads the VMs and the spec's libvirt network (`kvm.libvirt_network`, or `default`)
/// and plans the changes, as `kubewiz kvm dns`, the plan's preview and the install's
/// network phase all do.
pub fn survey(virsh: &Virsh, spec: &ClusterSpec) -> Result<Survey, KvmError> {
    let name = render_kvm::libvirt_network(spec);
    let (found, network) = import_on(virsh, name)?;
    let plan = plan(spec, &network, &found.hosts)?;
    Ok(Survey {
        vms: found.hosts,
        network,
        plan,
    })
}

/// Marks where the read-back starts in the output of [`apply`]'s virsh process.
const READ_BACK_MARKER: &str = "kubewiz-read-back-8f3a";

/// What [`apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// The network as read back after the changes.
    pub after: NetworkState,
    /// The read-back as virsh printed it (`net-dumpxml`), for the audit log; empty
    /// when nothing was run.
    pub after_xml: String,
    /// What virsh printed on standard error (nothing when all went well).
    pub virsh_said: String,
    /// What the changes printed on standard output (one confirmation per change),
    /// without the read-back.
    pub virsh_printed: String,
}

/// Runs the plan's commands in one virsh process, followed by `net-dumpxml`, and
/// checks the read-back: success means that planning again on the result finds
/// nothing to do, which is a stronger check than the commands' exit statuses (virsh
/// exits 0 after a failed command when a later one succeeds). One process also makes
/// it work with libvirt's test driver, whose state lives only in that process. A plan
/// without changes runs nothing.
pub fn apply(
    virsh: &Virsh,
    spec: &ClusterSpec,
    before: &NetworkState,
    vms: &[ImportedVm],
    plan: &NetworkPlan,
) -> Result<Applied, KvmError> {
    if plan.is_empty() {
        return Ok(Applied {
            after: before.clone(),
            after_xml: String::new(),
            virsh_said: String::new(),
            virsh_printed: String::new(),
        });
    }
    let mut commands: Vec<Vec<String>> = plan.changes.iter().map(|c| c.args.clone()).collect();
    commands.push(vec!["echo".into(), READ_BACK_MARKER.into()]);
    commands.push(vec!["net-dumpxml".into(), before.name.clone()]);
    let (stdout, stderr) = virsh.run_script(&commands)?;
    let (printed, xml_text) =
        stdout
            .split_once(READ_BACK_MARKER)
            .ok_or_else(|| KvmError::Virsh {
                command: plan
                    .changes
                    .first()
                    .map(|c| c.command_line(&virsh.uri))
                    .unwrap_or_default(),
                status: None,
                stderr: if stderr.is_empty() {
                    "virsh stopped before reading the network back".into()
                } else {
                    stderr.clone()
                },
            })?;
    let mut after = NetworkState::from_xml(xml_text)?;
    after.active = before.active;
    after.persistent = before.persistent;
    let remaining = self::plan(spec, &after, vms)?;
    if !remaining.is_empty() {
        return Err(KvmError::NotApplied {
            network: before.name.clone(),
            remaining: remaining
                .changes
                .iter()
                .map(|c| c.description.clone())
                .collect(),
            virsh_said: stderr,
        });
    }
    Ok(Applied {
        after,
        after_xml: xml_text.trim().to_owned(),
        virsh_said: stderr,
        virsh_printed: printed.trim().to_owned(),
    })
}
