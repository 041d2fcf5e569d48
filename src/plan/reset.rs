//! `kubewiz reset`: the plan that undoes an install, per host and role.
//!
//! Every command checks before it acts, so a reset can run again (after a failure, or
//! on hosts that were never fully installed) and does nothing where nothing is left.
//! The order ([`phases::RESET`]): nodes first (`kubeadm reset`, the kubelet and its data,
//! CNI leftovers, the iptables and IPVS rules Kubernetes made), then the services
//! kubewiz started outside Kubernetes (external etcd, haproxy and keepalived), then
//! every file kubewiz wrote is put back as it was before the install, from what
//! uploads recorded on the host (`plan::record`). Each of those steps is written in
//! the install phase whose work it undoes. Last, on the KVM host, the cluster's block
//! leaves its hosts file. Certificates stay in the state directory,
//! so a new install reuses the cluster's CAs.

pub use super::phases::ResetOptions;
use super::phases::{self, Builder};
use super::{Local, Plan};
use crate::spec::layout::Layout;

/// The reset plan for `layout`, run from the KVM host `local`.
pub fn build(layout: &Layout, local: &Local, options: ResetOptions) -> Plan {
    let mut b = Builder::new(layout, &[], local);
    b.reset = options;
    phases::plan(&b, phases::RESET)
}
