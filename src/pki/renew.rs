//! `kubewiz certs renew`: the leaves issued again from the kept CAs (same CA, new keys,
//! serials and expiry), as kubeadm's `certs renew` does. CAs are never renewed here.
//!
//! A renewal is saved before anything is uploaded, with a list of what it renewed
//! (`pki/renewal`); until its run succeeds that list stands, so running `certs renew`
//! again continues the same renewal instead of issuing yet other certificates.

use std::collections::BTreeMap;
use std::path::Path;

use rayon::prelude::*;
use time::OffsetDateTime;

use super::profiles::{self, LeafId, LeafProfile};
use super::store::Store;
use super::{CertKey, Pki, PkiError, issue};
use crate::files::MODE_PRIVATE;
use crate::spec::layout::Layout;

/// The list of an unfinished renewal, in the PKI directory.
const PENDING: &str = "renewal";

/// Every certificate `certs renew` can issue again: the leaves kubewiz places and the
/// client certificates of the control planes' kubeconfigs.
pub fn renewable(layout: &Layout) -> Vec<LeafProfile> {
    let mut all = profiles::leaves(layout);
    all.extend(profiles::kubeconfig_leaves(layout));
    all
}

/// The certificates `names` pick, or all when `names` is empty. A name is a leaf's
/// name (`apiserver`, `etcd/server`, `admin.conf`, `admin` for the operator's), kubeadm's
/// spelling of it (`etcd-server`), or either after a host (`kubemaster-1/apiserver`).
pub fn select(layout: &Layout, names: &[String]) -> Result<Vec<LeafProfile>, String> {
    let all = renewable(layout);
    if names.is_empty() {
        return Ok(all);
    }
    let mut picked: Vec<LeafProfile> = Vec::new();
    for name in names {
        let matches: Vec<&LeafProfile> = all.iter().filter(|p| names_it(&p.id, name)).collect();
        if matches.is_empty() {
            let mut known: Vec<&str> = all.iter().map(|p| p.id.name).collect();
            known.sort_unstable();
            known.dedup();
            return Err(format!(
                "{name} is not a certificate of this cluster; the names are {} (optionally after a host: HOST/NAME)",
                known.join(", ")
            ));
        }
        for m in matches {
            if !picked.iter().any(|p| p.id == m.id) {
                picked.push(m.clone());
            }
        }
    }
    Ok(picked)
}

fn names_it(id: &LeafId, name: &str) -> bool {
    let leaf = match name.split_once('/') {
        Some((h, l)) if id.host.as_deref() == Some(h) => l,
        _ => name,
    };
    leaf == id.name || leaf == id.name.replace('/', "-")
}

/// Issues `profiles` again from the CAs of `pki`, in memory; the leaves kubewiz
/// places replace theirs in `pki`. Returns every certificate issued.
pub fn reissue(
    pki: &mut Pki,
    layout: &Layout,
    profiles: &[LeafProfile],
    now: OffsetDateTime,
) -> Result<BTreeMap<LeafId, CertKey>, PkiError> {
    let algorithm = layout.spec.kubernetes.encryption_algorithm;
    let issuers: BTreeMap<_, _> = pki
        .authorities
        .iter()
        .map(|(a, pair)| Ok((*a, issue::issuer(pair)?)))
        .collect::<Result<_, PkiError>>()?;
    let issued: BTreeMap<LeafId, CertKey> = profiles
        .par_iter()
        .map(|p| {
            let pair = issue::issue_leaf(p, &issuers[&p.authority], algorithm, now)?;
            Ok((p.id.clone(), pair))
        })
        .collect::<Result<_, PkiError>>()?;
    for (id, pair) in &issued {
        if pki.leaves.contains_key(id) {
            pki.leaves.insert(id.clone(), pair.clone());
        }
    }
    Ok(issued)
}

/// Saves `issued` in the PKI directory `dir`, then the list that makes it the pending
/// renewal.
pub fn save(dir: &Path, issued: &BTreeMap<LeafId, CertKey>) -> Result<(), PkiError> {
    let store = Store::new(dir);
    for (id, pair) in issued {
        store.write_pair(&id.stem(), pair)?;
    }
    let list: String = issued.keys().map(|id| format!("{id}\n")).collect();
    store.write(PENDING, &list, MODE_PRIVATE)?;
    Ok(())
}

/// The renewal an earlier `certs renew` saved and did not finish, read back from `dir`.
pub fn pending(dir: &Path, layout: &Layout) -> Result<Option<BTreeMap<LeafId, CertKey>>, PkiError> {
    let store = Store::new(dir);
    let Some(list) = store.read(PENDING)? else {
        return Ok(None);
    };
    let all = renewable(layout);
    let mut out = BTreeMap::new();
    for line in list.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let Some(profile) = all.iter().find(|p| p.id.to_string() == line) else {
            return Err(PkiError::Conflict(format!(
                "{} names {line}, which this cluster no longer has; remove the file to start a new renewal",
                store.path(PENDING).display()
            )));
        };
        let pair = store.read_pair(&profile.id.stem())?.ok_or_else(|| {
            PkiError::Conflict(format!(
                "{} names {line}, but {}.crt is missing; remove the list to start a new renewal",
                store.path(PENDING).display(),
                store.path(&profile.id.stem()).display()
            ))
        })?;
        out.insert(profile.id.clone(), pair);
    }
    Ok(Some(out))
}

/// The renewal is on every host: forget its list.
pub fn finish(dir: &Path) -> Result<(), PkiError> {
    match std::fs::remove_file(Store::new(dir).path(PENDING)) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The kubeconfig client certificates kept in `dir` (from an earlier renewal).
pub fn kept_kubeconfigs(
    dir: &Path,
    layout: &Layout,
) -> Result<BTreeMap<LeafId, CertKey>, PkiError> {
    let store = Store::new(dir);
    let mut out = BTreeMap::new();
    for p in profiles::kubeconfig_leaves(layout) {
        if let Some(pair) = store.read_pair(&p.id.stem())? {
            out.insert(p.id, pair);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::{describe, load_or_create, signed_by};

    fn spec() -> crate::spec::ClusterSpec {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/external-etcd.toml");
        let mut spec = crate::spec::load_file(&path).unwrap().spec;
        // RSA keys take seconds each on a loaded machine; the algorithm is not the point.
        spec.kubernetes.encryption_algorithm = crate::spec::EncryptionAlgorithm::EcdsaP256;
        spec
    }

    #[test]
    fn names_pick_leaves_by_kubeadm_and_kubewiz_spelling() {
        let spec = spec();
        let layout = Layout::new(&spec).unwrap();
        let all = select(&layout, &[]).unwrap();
        assert_eq!(all.len(), renewable(&layout).len());
        let server = select(&layout, &["etcd-server".into()]).unwrap();
        assert_eq!(server.len(), layout.etcd.len());
        assert!(server.iter().all(|p| p.id.name == profiles::ETCD_SERVER));
        let one = layout.control_planes[0].name.to_string();
        let picked = select(&layout, &[format!("{one}/admin.conf"), "apiserver".into()]).unwrap();
        assert_eq!(picked.len(), 1 + layout.control_planes.len());
        let err = select(&layout, &["apiserverr".into()]).unwrap_err();
        assert!(
            err.contains("apiserverr is not a certificate") && err.contains("etcd/server"),
            "{err}"
        );
    }

    #[test]
    fn renewed_leaves_have_new_serials_from_the_same_ca_and_a_pending_list_until_finished() {
        let spec = spec();
        let layout = Layout::new(&spec).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (mut pki, _) = load_or_create(dir.path(), &layout).unwrap();
        let before = pki.clone();
        let picked = select(&layout, &["apiserver".into(), "scheduler.conf".into()]).unwrap();
        let issued = reissue(&mut pki, &layout, &picked, OffsetDateTime::now_utc()).unwrap();
        assert_eq!(issued.len(), picked.len());
        for (id, pair) in &issued {
            let ca = &pki.authority(crate::pki::Authority::Kubernetes).cert_pem;
            assert!(signed_by(pair.cert_pem.as_bytes(), ca.as_bytes()), "{id}");
            if let Some(old) = before.leaves.get(id) {
                assert_ne!(
                    describe(old.cert_pem.as_bytes()).unwrap().serial,
                    describe(pair.cert_pem.as_bytes()).unwrap().serial
                );
                assert_eq!(&pki.leaves[id], pair, "{id} replaced in the PKI");
            }
        }
        assert!(pending(dir.path(), &layout).unwrap().is_none());
        save(dir.path(), &issued).unwrap();
        assert_eq!(pending(dir.path(), &layout).unwrap().unwrap(), issued);
        assert_eq!(
            kept_kubeconfigs(dir.path(), &layout).unwrap().len(),
            layout.control_planes.len()
        );
        finish(dir.path()).unwrap();
        assert!(pending(dir.path(), &layout).unwrap().is_none());
        finish(dir.path()).unwrap();
    }
}
