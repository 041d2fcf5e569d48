//! `kubewiz certs renew`: the plan that puts renewed certificates on the hosts and
//! restarts what reads them ([`phases::CERTS_RENEW`]). The certificates are issued
//! (`pki::renew`) and saved before the plan is built; the plan only places them.

use std::collections::BTreeMap;

use super::phases::{self, Builder};
use super::{Local, Plan};
use crate::files::File;
use crate::pki::CertKey;
use crate::pki::profiles::LeafId;
use crate::spec::layout::Layout;

/// The renewal plan for `layout`: `files` rendered from the PKI with `renewed` in it.
pub fn build(
    layout: &Layout,
    files: &[File],
    local: &Local,
    renewed: &BTreeMap<LeafId, CertKey>,
) -> Plan {
    let mut b = Builder::new(layout, files, local);
    b.renewal = Some(renewed);
    phases::plan(&b, phases::CERTS_RENEW)
}
