//! Renewing an installed cluster's certificates, the same way for `kubewiz certs renew`
//! and for the wizard's manage view (whose run goes to the engine): what is renewed,
//! the certificates issued again from the kept CAs, the plan placing them, and the
//! record forgotten once that plan went through.

use std::collections::BTreeMap;

use crate::files::File;
use crate::pki::profiles::{LeafId, LeafProfile};
use crate::pki::{CertKey, Pki, renew};
use crate::plan::Plan;
use crate::spec::layout::Layout;
use crate::state::ClusterState;

use super::Refused;

/// What a renewal renews.
pub enum Choice {
    /// An earlier renewal that did not finish: its certificates, kept in the state
    /// directory, are placed again as they are.
    Continue(BTreeMap<LeafId, CertKey>),
    /// These leaves, issued again now.
    Renew(Vec<LeafProfile>),
}

impl Choice {
    /// How many certificates it places.
    pub fn len(&self) -> usize {
        match self {
            Choice::Continue(kept) => kept.len(),
            Choice::Renew(profiles) => profiles.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// An unfinished renewal of `cluster` when there is one (`names` are then not used),
/// else the leaves `names` select (every one kubewiz places when empty).
pub fn choose(
    cluster: &ClusterState,
    layout: &Layout,
    names: &[String],
) -> Result<Choice, Refused> {
    match renew::pending(&cluster.pki_dir(), layout) {
        Err(e) => Err(Refused::failed(e.to_string())),
        Ok(Some(kept)) => Ok(Choice::Continue(kept)),
        Ok(None) => renew::select(layout, names)
            .map(Choice::Renew)
            .map_err(Refused::usage),
    }
}

/// The certificates `choice` places: kept ones, or ones issued now from the CAs of
/// `pki` (whose leaves they replace) and, when `save`, saved in the state directory
/// as the pending renewal, so a run that stops is continued with the same ones.
pub fn issue(
    choice: Choice,
    pki: &mut Pki,
    layout: &Layout,
    cluster: &ClusterState,
    save: bool,
) -> Result<BTreeMap<LeafId, CertKey>, String> {
    let profiles = match choice {
        Choice::Continue(kept) => return Ok(kept),
        Choice::Renew(profiles) => profiles,
    };
    let now = time::OffsetDateTime::now_utc();
    let issued = renew::reissue(pki, layout, &profiles, now).map_err(|e| e.to_string())?;
    if save {
        renew::save(&cluster.pki_dir(), &issued).map_err(|e| {
            format!(
                "cannot save the renewed certificates in {}: {e}",
                cluster.pki_dir().display()
            )
        })?;
    }
    Ok(issued)
}

/// The plan placing `renewed` on the hosts and restarting what reads them, one host at
/// a time, with the files rendered from `pki`.
pub fn plan(
    layout: &Layout,
    pki: &Pki,
    cluster: &ClusterState,
    renewed: &BTreeMap<LeafId, CertKey>,
    libvirt_uri: &str,
) -> Result<(Plan, Vec<File>), String> {
    let files = crate::render::render(layout.spec, pki).map_err(|e| e.to_string())?;
    let local = crate::generate::local(cluster, libvirt_uri);
    let plan = crate::plan::certs::build(layout, &files, &local, renewed);
    Ok((plan, files))
}

/// The renewal went through on every host: its list of pending certificates and its
/// journal go.
pub fn finish(cluster: &ClusterState) -> Result<(), String> {
    renew::finish(&cluster.pki_dir()).map_err(|e| e.to_string())?;
    let journal = crate::launch::day2_journal(cluster, crate::audit::RunKind::CertsRenew);
    match std::fs::remove_file(&journal) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(format!("{}: {e}", journal.display()))
        }
        _ => Ok(()),
    }
}
