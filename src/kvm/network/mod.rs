//! The libvirt network's part of an install: a DHCP reservation per VM (MAC → address,
//! so the addresses in the preset stay the VMs' addresses) and DNS host entries for
//! every host and the endpoint name (so `kubeapi.<domain>` resolves to the VIP inside
//! the VMs), live and persistent.
//!
//! [`plan`] is pure: from the spec, the network's current XML and the imported VMs it
//! returns the exact `virsh net-update` commands, each with a description, for the
//! preview, `kubewiz plan` and `kubewiz kvm dns --dry-run`. Entries that are already
//! right give no command, so a second run plans nothing. [`apply`] runs them.
//!
//! The DNS entries are read back from the rendered `local/libvirt-dns.xml`
//! (`render::kvm`), so the network and that file always say the same.
//!
//! Three parts, each depending only on those before it: the network's definition
//! ([`netdef`](super::netdef), which the import reads VMs against too), the plan
//! (pure) and the survey and apply (running `virsh`).

mod apply;
mod plan;

pub use apply::{Applied, Survey, apply, survey};
pub use plan::{Change, NetworkPlan, desired_dns, plan};
