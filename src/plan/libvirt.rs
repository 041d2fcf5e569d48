//! The install's first phase, on the KVM host itself: the cluster's DHCP reservations
//! and DNS entries on its libvirt network (`kvm::network`).
//!
//! It runs before any host is contacted, so that the VMs keep the preset's addresses
//! (a reservation holds an address a DHCP range would otherwise hand to anyone) and
//! resolve every host name and the endpoint's name from the start: kubeadm on the
//! hosts reaches the API through that name. A failure here stops the run before any
//! host has changed.
//!
//! The phase exists only when the preset has a `[kvm]` section: without one nothing
//! says the VMs live on this host's libvirt. What it changes depends on the network
//! when it runs, so the plan carries a preview read when the plan was made (for
//! `kubewiz plan`, the wizard's preview and the confirmation questions), and the step
//! reads the network again and changes only what is still missing: a second run
//! changes nothing.

use std::fmt;
use std::net::IpAddr;

use super::{Action, Blob, Plan};
use crate::digest::sha256_hex;

/// The step: make libvirt network `network` hold the cluster's entries, live and
/// persistent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LibvirtNetwork {
    /// The libvirt network the VMs are on (`kvm.libvirt_network`).
    pub network: String,
    /// The connection, as `virsh -c URI` takes it.
    pub uri: String,
    /// What the step would change, as read when the plan was made.
    pub preview: NetworkPreview,
    /// The DNS records the network must hold (the rendered `local/libvirt-dns.xml`).
    pub dns: Blob,
    /// Each host's name and address, to reserve.
    pub hosts: Vec<(String, IpAddr)>,
}

/// The network as the plan saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkPreview {
    /// Not read: the changes are known only when the step runs.
    NotRead,
    /// Read: exactly what the step would run now.
    Read(NetworkChanges),
    /// Reading failed, for this reason; the step tries again when it runs.
    Unreadable(String),
}

/// What the step would do to the network as it is now.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkChanges {
    /// (what it does, the exact command line), in the order they run.
    pub changes: Vec<(String, String)>,
    /// How many of the cluster's entries the network already holds as wanted.
    pub in_place: usize,
    /// Reservations that cannot be made, each with why.
    pub skipped: Vec<String>,
    /// What the operator should know (addresses a DHCP range may hand out, ...).
    pub notes: Vec<String>,
}

impl Plan {
    /// The libvirt network step, when the plan has one.
    pub fn libvirt(&self) -> Option<&LibvirtNetwork> {
        self.steps().find_map(|(_, _, step)| match &step.action {
            Action::LibvirtNetwork(l) => Some(l),
            _ => None,
        })
    }

    /// Gives the libvirt network step (when the plan has one) what it would change,
    /// as read now. The preview is not among the step's inputs, which stay as built.
    pub fn set_libvirt_preview(&mut self, preview: impl FnOnce(&LibvirtNetwork) -> NetworkPreview) {
        let step = self
            .phases
            .iter_mut()
            .flat_map(|p| &mut p.hosts)
            .flat_map(|h| &mut h.steps)
            .find_map(|step| match &mut step.action {
                Action::LibvirtNetwork(l) => Some(l),
                _ => None,
            });
        if let Some(step) = step {
            step.preview = preview(step);
        }
    }
}

impl LibvirtNetwork {
    /// What the network must hold: the network, the connection, the DNS records and
    /// each host's address. Not the preview, which the step itself changes.
    pub fn inputs(&self) -> String {
        let mut data = format!("libvirt network {} on {}\n", self.network, self.uri);
        data.push_str(self.dns.as_str());
        for (name, address) in &self.hosts {
            data.push_str(&format!("{name} {address}\n"));
        }
        sha256_hex(data.as_bytes())
    }

    /// What the operator is asked to agree to, as the end of a sentence ("... and
    /// {this}?"); None when the network already holds every entry.
    pub fn question(&self) -> Option<String> {
        let place = format!("libvirt network {} on {}", self.network, self.uri);
        match &self.preview {
            NetworkPreview::Read(c) if c.changes.is_empty() => None,
            NetworkPreview::Read(c) => Some(format!(
                "make {} change(s) to {place} (DHCP reservations and DNS entries)",
                c.changes.len()
            )),
            NetworkPreview::NotRead => Some(format!(
                "add the cluster's DHCP reservations and DNS entries to {place}"
            )),
            NetworkPreview::Unreadable(why) => Some(format!(
                "add the cluster's DHCP reservations and DNS entries to {place}, which cannot be read now ({why})"
            )),
        }
    }

    /// The changes one per line, for the operator to read before answering.
    pub fn change_list(&self) -> Vec<String> {
        match &self.preview {
            NetworkPreview::Read(c) => c.changes.iter().map(|(d, _)| d.clone()).collect(),
            _ => Vec::new(),
        }
    }

    /// The step's lines in `kubewiz plan`, indented under its id.
    pub(super) fn write_plan(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const IN: &str = "      ";
        writeln!(
            f,
            "{IN}on libvirt network {} ({}), live and persistent; asked before it runs",
            self.network, self.uri
        )?;
        match &self.preview {
            NetworkPreview::NotRead => writeln!(
                f,
                "{IN}the changes are read from the network when the step runs"
            ),
            NetworkPreview::Unreadable(why) => writeln!(
                f,
                "{IN}the network cannot be read now: {why}; the step reads it again when it runs"
            ),
            NetworkPreview::Read(c) => {
                if c.changes.is_empty() {
                    writeln!(
                        f,
                        "{IN}nothing to change: the network holds every entry ({} in place)",
                        c.in_place
                    )?;
                } else {
                    writeln!(
                        f,
                        "{IN}{} change(s) to the network as it is now ({} entries already in place):",
                        c.changes.len(),
                        c.in_place
                    )?;
                }
                for (description, command) in &c.changes {
                    writeln!(f, "{IN}  {description}")?;
                    writeln!(f, "{IN}    $ {command}")?;
                }
                for skipped in &c.skipped {
                    writeln!(f, "{IN}skipped: {skipped}")?;
                }
                for note in &c.notes {
                    writeln!(f, "{IN}note: {note}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(preview: NetworkPreview) -> LibvirtNetwork {
        LibvirtNetwork {
            network: "default".into(),
            uri: "qemu:///system".into(),
            preview,
            dns: Blob::new(""),
            hosts: Vec::new(),
        }
    }

    #[test]
    fn the_question_names_the_changes_or_says_nothing_when_there_are_none() {
        let changes = NetworkChanges {
            changes: vec![
                ("reserve 192.168.122.11 for a".into(), "virsh ...".into()),
                ("add DNS a → 192.168.122.11".into(), "virsh ...".into()),
            ],
            ..NetworkChanges::default()
        };
        let read = step(NetworkPreview::Read(changes));
        assert_eq!(
            read.question().unwrap(),
            "make 2 change(s) to libvirt network default on qemu:///system (DHCP reservations and DNS entries)"
        );
        assert_eq!(
            read.change_list(),
            ["reserve 192.168.122.11 for a", "add DNS a → 192.168.122.11"]
        );
        assert_eq!(
            step(NetworkPreview::Read(NetworkChanges::default())).question(),
            None
        );
        let unreadable = step(NetworkPreview::Unreadable("virsh is not installed".into()));
        assert!(
            unreadable
                .question()
                .unwrap()
                .ends_with("which cannot be read now (virsh is not installed)")
        );
        assert!(unreadable.change_list().is_empty());
    }
}
