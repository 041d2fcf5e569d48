//! The phases, one file each: its name and title, what it needs before it, and its
//! steps per host. A new phase is a new file here plus its line in [`INSTALL`] (or
//! [`RESET`]); the runner, `--phase`, the plan's text and the wizard take it from there.
//!
//! Uploads come from the rendered files themselves (by purpose and host), so the plan
//! uploads exactly what the preview shows. Every command checks before it acts, so a
//! re-run or a resume never breaks what an earlier run built.

mod join;
mod upgrade_node;

use std::collections::BTreeMap;
use std::sync::Arc;

use super::steps::Steps;
use super::{Action, Blob, HostSteps, Local, Needs, OsFamily, Phase, PhaseId, Plan};
use crate::files::{File, Purpose, Target};
use crate::pki::CertKey;
use crate::pki::profiles::LeafId;
use crate::render::node;
use crate::spec::HostSpec;
use crate::spec::layout::Layout;

pub use prepare::BUNDLE_TARGET;

/// Declares each phase's module and lists its `PHASE` in order, so a new phase is
/// its file and one line in a list below. Phases already declared by an earlier list
/// are named before the `;`.
macro_rules! phases {
    ($(#[$doc:meta])* $list:ident = [$($seen:ident),* ; $($phase:ident),* $(,)?]) => {
        $(pub mod $phase;)*
        $(#[$doc])*
        pub const $list: &[&PhaseDef] = &[$(&$seen::PHASE,)* $(&$phase::PHASE),*];
    };
}

phases!(
    /// The install's phases, in order (DESIGN.md, Execution).
    INSTALL = [;
        libvirt_network,
        connect,
        preflight,
        prepare,
        pki,
        etcd,
        load_balancer,
        first_control_plane,
        control_planes,
        workers,
        cni,
        verify,
        kubeconfig,
    ]
);

pub mod backup_archive;
pub mod backup_etcd;
pub mod renew_control_planes;
pub mod renew_etcd;

/// `kubewiz certs renew`'s phases, in order: external etcd's members, then the control
/// planes, each one at a time so etcd keeps its quorum and the API keeps answering;
/// last the operator's kubeconfig, checked through the endpoint and saved.
pub const CERTS_RENEW: &[&PhaseDef] = &[
    &connect::PHASE,
    &renew_etcd::PHASE,
    &renew_control_planes::PHASE,
    &kubeconfig::PHASE,
];

pub mod etcd_members;
pub mod remove_etcd_member;
pub mod remove_node;
pub mod upgrade_check;
pub mod upgrade_control_planes;
pub mod upgrade_etcd;
pub mod upgrade_first_control_plane;
pub mod upgrade_workers;

/// `kubewiz upgrade`'s phases, in kubeadm's order: the cluster checked, the first
/// control plane (`kubeadm upgrade apply`), the others one at a time, the workers in
/// batches of `--max-unavailable`.
pub const UPGRADE: &[&PhaseDef] = &[
    &connect::PHASE,
    &upgrade_check::PHASE,
    &upgrade_etcd::PHASE,
    &upgrade_first_control_plane::PHASE,
    &upgrade_control_planes::PHASE,
    &upgrade_workers::PHASE,
];

/// `kubewiz node remove`'s phases (`plan::node` keeps the removed host's steps and the
/// first control plane's): an etcd member (a stacked control plane, an external etcd
/// host) is taken out of etcd after its host was reset.
pub const NODE_REMOVE: &[&PhaseDef] = &[
    &connect::PHASE,
    &remove_node::PHASE,
    &reset_nodes::PHASE,
    &reset_services::PHASE,
    &restore_files::PHASE,
    &remove_etcd_member::PHASE,
];

/// `kubewiz backup`'s phases: the snapshot, on one host, with its own connection; then
/// the archive, on the KVM host.
pub const BACKUP: &[&PhaseDef] = &[&backup_etcd::PHASE, &backup_archive::PHASE];

phases!(
    /// `kubewiz reset`'s phases, in order: nodes first, then the services kubewiz
    /// started outside Kubernetes, then every file put back, then the cluster's names
    /// out of the KVM host's hosts file.
    RESET = [connect;
        reset_nodes,
        reset_services,
        restore_files,
        forget_names,
    ]
);

/// One phase's definition.
pub struct PhaseDef {
    pub id: PhaseId,
    pub title: &'static str,
    pub needs: Needs,
    /// Hosts run one after the other (see [`Phase::one_at_a_time`]).
    pub one_at_a_time: bool,
    /// Hosts run in batches of the builder's `batch` (see [`Phase::at_most`]).
    pub batched: bool,
    /// Its steps per host; hosts without steps are left out, and so is a phase
    /// without hosts.
    pub steps: fn(&Builder) -> Vec<HostSteps>,
}

impl PhaseDef {
    /// A phase that works on the hosts: connect and preflight run before it when it
    /// is picked alone.
    pub const fn on_hosts(
        name: &'static str,
        title: &'static str,
        steps: fn(&Builder) -> Vec<HostSteps>,
    ) -> Self {
        PhaseDef {
            id: PhaseId::new(name),
            title,
            needs: Needs {
                hosts: true,
                pki: false,
            },
            one_at_a_time: false,
            batched: false,
            steps,
        }
    }

    /// A phase on the KVM host alone: it needs no connection to any host.
    pub const fn local(
        name: &'static str,
        title: &'static str,
        steps: fn(&Builder) -> Vec<HostSteps>,
    ) -> Self {
        let mut def = PhaseDef::on_hosts(name, title, steps);
        def.needs.hosts = false;
        def
    }

    /// It starts something that uses the cluster's certificates: the PKI phase runs
    /// before it when it is picked alone.
    pub const fn with_pki(mut self) -> Self {
        self.needs.pki = true;
        self
    }

    /// Its hosts run one after the other.
    pub const fn one_at_a_time(mut self) -> Self {
        self.one_at_a_time = true;
        self
    }

    /// Its hosts run at most the builder's `batch` at once.
    pub const fn batched(mut self) -> Self {
        self.batched = true;
        self
    }
}

/// What the operator agreed a reset may delete besides kubewiz's own files.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResetOptions {
    /// Delete etcd's data (the cluster's state) and the kubelet's.
    pub delete_data: bool,
}

/// What the phases build from.
pub struct Builder<'a> {
    pub layout: &'a Layout<'a>,
    pub files: &'a [File],
    pub local: &'a Local,
    /// What a reset may delete (reset phases only).
    pub reset: ResetOptions,
    /// The certificates `certs renew` issued again (its phases only).
    pub renewal: Option<&'a BTreeMap<LeafId, CertKey>>,
    /// Where `kubewiz backup` puts the snapshot on the KVM host, and the host it is
    /// taken on (its phase only).
    pub backup: Option<BackupTo<'a>>,
    /// The snapshot `kubewiz restore` starts etcd from (install phases).
    pub restore: Option<&'a super::Restore>,
    /// What `kubewiz upgrade` upgrades to (its phases only).
    pub upgrade: Option<&'a super::Upgrade>,
    /// How many hosts of a batched phase run at once.
    pub batch: Option<usize>,
    /// The host `kubewiz node remove` takes out (its phase only).
    pub removing: Option<Removing<'a>>,
}

/// Where `kubewiz backup` takes its snapshot (`on`, a host that runs etcdctl with the
/// etcd client certificates: an etcd member or a stacked control plane), where it puts
/// it on the KVM host (`sources.snapshot`), and the archive it packs there with the
/// cluster's other files (`preset_text` standing in for a preset not kept).
#[derive(Debug, Clone, Copy)]
pub struct BackupTo<'a> {
    pub on: &'a str,
    pub archive: &'a std::path::Path,
    pub sources: &'a crate::archive::Sources,
    pub preset_text: &'a str,
}

/// The host `kubewiz node remove` takes out, and whether it answered over SSH when the
/// plan was made: one that does not is removed from the cluster without being drained
/// (its kubelet cannot stop its Pods) or reset.
#[derive(Debug, Clone, Copy)]
pub struct Removing<'a> {
    pub host: &'a str,
    pub answers: bool,
}

impl<'a> Builder<'a> {
    pub fn new(layout: &'a Layout<'a>, files: &'a [File], local: &'a Local) -> Self {
        Builder {
            layout,
            files,
            local,
            reset: ResetOptions { delete_data: false },
            renewal: None,
            backup: None,
            restore: None,
            upgrade: None,
            batch: None,
            removing: None,
        }
    }

    /// Whether the renewal changed a certificate `host` has: one of its own, or one
    /// every control plane or etcd member shares (not the operator's own).
    fn renews(&self, host: &str) -> bool {
        self.renewal.is_some_and(|renewed| {
            renewed.keys().any(|id| match &id.host {
                Some(h) => h == host,
                None => id.name != crate::pki::profiles::OPERATOR_ADMIN,
            })
        })
    }

    /// The renewed client certificates of `host`'s kubeconfigs: (file name, pair).
    fn renewed_kubeconfigs(&self, host: &str) -> Vec<(&'static str, &'a CertKey)> {
        self.renewal
            .into_iter()
            .flatten()
            .filter(|(id, _)| {
                id.host.as_deref() == Some(host) && crate::pki::profiles::is_kubeconfig(id)
            })
            .map(|(id, pair)| (id.name, pair))
            .collect()
    }

    /// Steps for every host of the cluster.
    fn every_host(
        &self,
        id: PhaseId,
        mut steps: impl FnMut(&mut Steps, &HostSpec),
    ) -> Vec<HostSteps> {
        self.for_hosts(
            id,
            &self.layout.spec.hosts.iter().collect::<Vec<_>>(),
            |s, h| steps(s, h),
        )
    }

    /// Steps for each of `hosts`.
    fn for_hosts(
        &self,
        id: PhaseId,
        hosts: &[&HostSpec],
        mut steps: impl FnMut(&mut Steps, &HostSpec),
    ) -> Vec<HostSteps> {
        hosts
            .iter()
            .map(|h| {
                let mut s = Steps::new(id, h.name.as_str());
                steps(&mut s, h);
                s.done()
            })
            .collect()
    }

    /// The files of `purpose` rendered for the host `steps` are for.
    fn files_for(&self, host: &str, purpose: Purpose) -> impl Iterator<Item = &'a File> + '_ {
        let target = Target::Host(host.to_owned());
        self.files
            .iter()
            .filter(move |f| f.purpose == purpose && f.target == target)
    }

    fn has_files(&self, host: &str, purpose: Purpose) -> bool {
        self.files_for(host, purpose).next().is_some()
    }

    /// An upload step for each file of `purpose` rendered for the host.
    fn uploads(&self, steps: &mut Steps, purpose: Purpose) {
        let files: Vec<&File> = self.files_for(&steps.host, purpose).collect();
        for file in files {
            let step = steps.push(
                &slug(&file.path),
                format!("upload {}", file.path),
                Action::Upload {
                    path: file.path.clone(),
                    mode: file.mode,
                    content: Blob::new(&file.content),
                },
                60,
            );
            // Both repository files are rendered; each host gets its package manager's.
            step.only_on = match file.path.as_str() {
                node::APT_SOURCE_PATH => Some(OsFamily::Apt),
                node::RPM_REPO_PATH => Some(OsFamily::Dnf),
                _ => None,
            };
        }
    }

    /// The rendered `local/` file at `path`.
    fn local_file(&self, path: &str) -> Option<&'a File> {
        self.files
            .iter()
            .find(|f| f.target == Target::Local && f.path == path)
    }
}

/// The operator's kubeconfig on the first control plane, which kubectl steps use.
const ADMIN_CONF: &str = "/etc/kubernetes/admin.conf";

/// Deletes everything inside `dirs`, keeping the directories themselves (packages
/// create them, with their owners and modes).
fn empty_dirs(dirs: &[&str]) -> String {
    format!(
        "for d in {}; do if [ -d \"$d\" ]; then find \"$d\" -mindepth 1 -delete; fi; done",
        dirs.join(" ")
    )
}

/// Stops and disables `units` that have a unit file; nothing for the others.
fn stop_units(units: &[&str]) -> String {
    units
        .iter()
        .map(|u| {
            format!(
                "if [ -e /etc/systemd/system/{u}.service ] || [ -e /lib/systemd/system/{u}.service ] || [ -e /usr/lib/systemd/system/{u}.service ]; \
then systemctl disable --now {u}; else echo 'no {u} unit'; fi"
            )
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// The control plane that acts on the cluster (kubectl with its admin.conf, etcdctl of
/// stacked etcd) while `except` is taken out: the first one, or the next when the first
/// is the one going. None when `except` is the only one.
fn acting_control_plane<'a>(layout: &Layout<'a>, except: &str) -> Option<&'a HostSpec> {
    layout
        .control_planes
        .iter()
        .copied()
        .find(|cp| cp.name.as_str() != except)
}

/// `hosts` with each host's steps in one entry, in the order given: a phase may build
/// one host's steps in parts (a check asked on whichever host can, then its own).
fn by_host(hosts: Vec<HostSteps>) -> Vec<HostSteps> {
    let mut out: Vec<HostSteps> = Vec::new();
    for h in hosts {
        match out.iter_mut().find(|o| o.host == h.host) {
            Some(o) => o.steps.extend(h.steps),
            None => out.push(h),
        }
    }
    out
}

/// The step slug of an upload: its path, readable.
fn slug(path: &str) -> String {
    format!("upload{}", path.replace('/', ":"))
}

/// The plan of `phases`, as `b` builds them.
pub(super) fn plan(b: &Builder, phases: &[&PhaseDef]) -> Plan {
    Plan {
        cluster: b.layout.spec.name.to_string(),
        spec: Arc::new(b.layout.spec.clone()),
        phases: phases
            .iter()
            .map(|def| Phase {
                id: def.id,
                title: def.title,
                one_at_a_time: def.one_at_a_time,
                at_most: if def.batched { b.batch } else { None },
                hosts: (def.steps)(b)
                    .into_iter()
                    .filter(|h| !h.steps.is_empty())
                    .collect(),
            })
            .filter(|p| !p.hosts.is_empty())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;
    use crate::plan::{PhaseId, build};

    #[test]
    fn every_phase_has_its_own_name_and_its_steps_carry_it() {
        let names: BTreeSet<&str> = INSTALL.iter().chain(RESET).map(|p| p.id.name()).collect();
        assert_eq!(
            names.len(),
            INSTALL.len() + RESET.len() - 1,
            "connect is in both"
        );
        for def in INSTALL {
            assert_eq!(PhaseId::from_name(def.id.name()), Some(def.id));
        }
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/kvm-lab.toml");
        let spec = crate::spec::load_file(&path).unwrap().spec;
        let layout = Layout::new(&spec).unwrap();
        let local = crate::plan::test_local();
        let plan = build(&layout, &[], &local);
        for (phase, host, step) in plan.steps() {
            assert!(
                step.id.starts_with(&format!("{}/{}/", phase.id, host.host)),
                "{}",
                step.id
            );
        }
    }
}
