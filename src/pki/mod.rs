//! The cluster's PKI, made by kubewiz itself: the three CAs, the service-account key
//! pair, every leaf certificate kubeadm would otherwise issue on each node, the
//! bootstrap token and the operator's kubeconfig.
//!
//! It is made once per cluster and kept in the state directory; every later render or
//! run reuses it. A missing leaf, or one that expires within 30 days, no longer matches
//! the spec (a new VIP, a renamed endpoint) or is not signed by the CA, is issued again
//! alone, and the operator is told. A CA is never silently replaced.
//!
//! Because every control plane receives the CA material from kubewiz, joins do not
//! depend on `kubeadm init --upload-certs` and its two-hour window.

mod describe;
mod inspect;
mod issue;
mod kubeconfig;
pub mod profiles;
pub mod renew;
mod store;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use rayon::prelude::*;
use time::OffsetDateTime;

pub use describe::{CertInfo, describe, signed_by};
pub use inspect::RENEW_BEFORE_DAYS;
pub use issue::TEST_LEAF_DAYS;
pub use kubeconfig::kubeconfig;
pub use profiles::{Authority, LeafId, LeafProfile};

use crate::files::MODE_PRIVATE;
use crate::spec::layout::Layout;

/// A certificate and its private key, PEM.
#[derive(Clone, PartialEq, Eq)]
pub struct CertKey {
    pub cert_pem: String,
    pub key_pem: String,
}

impl fmt::Debug for CertKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Never print a private key, not even in a debug message.
        f.debug_struct("CertKey")
            .field("key_pem", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// The service-account signing key pair (`sa.key`, `sa.pub`).
#[derive(Clone, PartialEq, Eq)]
pub struct ServiceAccountKey {
    pub key_pem: String,
    pub pub_pem: String,
}

/// The whole PKI of one cluster.
#[derive(Clone)]
pub struct Pki {
    pub authorities: BTreeMap<Authority, CertKey>,
    pub service_account: ServiceAccountKey,
    pub leaves: BTreeMap<LeafId, CertKey>,
    /// `abcdef.0123456789abcdef`: lets workers and control planes join.
    pub bootstrap_token: String,
}

/// Something the operator is told about the PKI: what was made or made again, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice(pub String);

impl fmt::Display for Notice {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug)]
pub enum PkiError {
    Io(std::io::Error),
    Crypto(String),
    /// The state directory holds something kubewiz will not overwrite.
    Conflict(String),
}

impl fmt::Display for PkiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PkiError::Io(e) => write!(f, "{e}"),
            PkiError::Crypto(m) | PkiError::Conflict(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for PkiError {}

impl From<std::io::Error> for PkiError {
    fn from(e: std::io::Error) -> Self {
        PkiError::Io(e)
    }
}

impl Pki {
    pub fn authority(&self, authority: Authority) -> &CertKey {
        &self.authorities[&authority]
    }

    pub fn leaf(&self, id: &LeafId) -> &CertKey {
        self.leaves
            .get(id)
            .unwrap_or_else(|| panic!("the PKI was made for this layout, so it has {id}"))
    }

    /// `sha256:<hex>` of the Kubernetes CA's SubjectPublicKeyInfo: what joining nodes
    /// pin in `discovery.bootstrapToken.caCertHashes`.
    pub fn ca_cert_hash(&self) -> String {
        let pem = &self.authority(Authority::Kubernetes).cert_pem;
        let (_, der) = x509_parser::pem::parse_x509_pem(pem.as_bytes())
            .expect("the CA PEM was made or checked by kubewiz");
        let cert = der
            .parse_x509()
            .expect("the CA was made or checked by kubewiz");
        format!(
            "sha256:{}",
            crate::digest::sha256_hex(cert.public_key().raw)
        )
    }

    /// The operator's kubeconfig (`local/admin.conf`), pointing at the endpoint.
    pub fn admin_kubeconfig(&self, layout: &Layout) -> String {
        kubeconfig(
            layout.spec.name.as_str(),
            &layout.api_url(),
            &self.authority(Authority::Kubernetes).cert_pem,
            profiles::OPERATOR_USER,
            self.leaf(&LeafId::cluster(profiles::OPERATOR_ADMIN)),
        )
    }
}

const SA_KEY: &str = "sa.key";
const SA_PUB: &str = "sa.pub";
const BOOTSTRAP_TOKEN: &str = "bootstrap-token";

/// Loads the PKI kept in `dir`, making what is missing and issuing again the leaves
/// that cannot be kept. Returns what the operator should be told.
pub fn load_or_create(dir: &Path, layout: &Layout) -> Result<(Pki, Vec<Notice>), PkiError> {
    load_or_create_at(dir, layout, OffsetDateTime::now_utc())
}

/// [`load_or_create`] as of `now` (tests move the clock to check renewal).
pub fn load_or_create_at(
    dir: &Path,
    layout: &Layout,
    now: OffsetDateTime,
) -> Result<(Pki, Vec<Notice>), PkiError> {
    let store = store::Store::new(dir);
    let algorithm = layout.spec.kubernetes.encryption_algorithm;
    let mut notices = Vec::new();

    let existing: Vec<(Authority, Option<CertKey>)> = Authority::ALL
        .iter()
        .map(|a| Ok((*a, store.read_pair(a.stem())?)))
        .collect::<Result<_, std::io::Error>>()?;
    let first_time = existing.iter().all(|(_, pair)| pair.is_none());
    let made: Vec<(Authority, CertKey, bool)> = existing
        .into_par_iter()
        .map(|(authority, pair)| match pair {
            Some(pair) => Ok((authority, pair, false)),
            None => Ok((
                authority,
                issue::issue_ca(authority.common_name(), algorithm, now)?,
                true,
            )),
        })
        .collect::<Result<_, PkiError>>()?;
    let mut authorities = BTreeMap::new();
    for (authority, pair, new) in made {
        if new {
            store.write_pair(authority.stem(), &pair)?;
            if !first_time {
                notices.push(Notice(format!(
                    "made a new {} CA ({}): it was missing; every certificate it signs is issued again",
                    authority.common_name(),
                    store.path(&format!("{}.crt", authority.stem())).display()
                )));
            }
        }
        authorities.insert(authority, pair);
    }

    let service_account = match (store.read(SA_KEY)?, store.read(SA_PUB)?) {
        (Some(key_pem), Some(pub_pem)) => ServiceAccountKey { key_pem, pub_pem },
        (None, None) => {
            let key = issue::new_key(algorithm)?;
            let sa = ServiceAccountKey {
                key_pem: key.serialize_pem(),
                pub_pem: key.public_key_pem(),
            };
            store.write(SA_KEY, &sa.key_pem, MODE_PRIVATE)?;
            // kubeadm writes sa.pub with its key writer: 0600 too.
            store.write(SA_PUB, &sa.pub_pem, MODE_PRIVATE)?;
            sa
        }
        _ => {
            return Err(PkiError::Conflict(format!(
                "only one of {} and {} exists; restore the other (tokens signed by the old key stop working if it changes)",
                store.path(SA_KEY).display(),
                store.path(SA_PUB).display()
            )));
        }
    };

    let bootstrap_token = match store.read(BOOTSTRAP_TOKEN)? {
        Some(token) if valid_token(token.trim()) => token.trim().to_owned(),
        Some(_) => {
            return Err(PkiError::Conflict(format!(
                "{} does not hold a bootstrap token ([a-z0-9]{{6}}.[a-z0-9]{{16}}); remove it to make a new one",
                store.path(BOOTSTRAP_TOKEN).display()
            )));
        }
        None => {
            let token = new_token()?;
            store.write(BOOTSTRAP_TOKEN, &format!("{token}\n"), MODE_PRIVATE)?;
            token
        }
    };

    let profiles = profiles::leaves(layout);
    let mut work: Vec<(LeafProfile, Option<String>)> = Vec::new();
    let mut leaves = BTreeMap::new();
    for profile in profiles {
        let ca = &authorities[&profile.authority];
        match store.read_pair(&profile.id.stem())? {
            Some(pair) => {
                match inspect::stale_reason(&pair.cert_pem, &ca.cert_pem, &profile, now) {
                    None => {
                        leaves.insert(profile.id.clone(), pair);
                    }
                    Some(reason) => work.push((profile, Some(reason))),
                }
            }
            None => work.push((profile, None)),
        }
    }
    let issuers: BTreeMap<Authority, _> = authorities
        .iter()
        .map(|(a, pair)| Ok((*a, issue::issuer(pair)?)))
        .collect::<Result<_, PkiError>>()?;
    let issued: Vec<(LeafProfile, Option<String>, CertKey)> = work
        .into_par_iter()
        .map(|(profile, reason)| {
            let pair = issue::issue_leaf(&profile, &issuers[&profile.authority], algorithm, now)?;
            Ok((profile, reason, pair))
        })
        .collect::<Result<_, PkiError>>()?;
    let issued_count = issued.len();
    for (profile, reason, pair) in issued {
        store.write_pair(&profile.id.stem(), &pair)?;
        if !first_time {
            notices.push(Notice(match reason {
                Some(reason) => format!("issued {} again: {reason}", profile.id),
                None => format!("issued {}: it was missing", profile.id),
            }));
        }
        leaves.insert(profile.id, pair);
    }
    if first_time {
        notices.push(Notice(format!(
            "made the cluster PKI in {}: 3 CAs, the service-account key and {issued_count} certificates ({})",
            store.dir().display(),
            algorithm.as_str()
        )));
    }
    Ok((
        Pki {
            authorities,
            service_account,
            leaves,
            bootstrap_token,
        },
        notices,
    ))
}

/// The PKI kept in `dir`, only read: nothing is made or issued again (what `kubewiz
/// certs check` looks at). Err names what is missing.
pub fn read_kept(dir: &Path, layout: &Layout) -> Result<Pki, PkiError> {
    let store = store::Store::new(dir);
    let mut missing = Vec::new();
    let mut authorities = BTreeMap::new();
    for a in Authority::ALL {
        match store.read_pair(a.stem())? {
            Some(pair) => {
                authorities.insert(a, pair);
            }
            None => missing.push(format!("{}.crt", a.stem())),
        }
    }
    let mut leaves = BTreeMap::new();
    for p in profiles::leaves(layout) {
        match store.read_pair(&p.id.stem())? {
            Some(pair) => {
                leaves.insert(p.id, pair);
            }
            None => missing.push(format!("{}.crt", p.id.stem())),
        }
    }
    if !missing.is_empty() {
        return Err(PkiError::Conflict(format!(
            "{} lacks {}; `kubewiz apply` or `kubewiz certs renew` makes what is missing",
            dir.display(),
            missing.join(", ")
        )));
    }
    Ok(Pki {
        authorities,
        service_account: ServiceAccountKey {
            key_pem: store.read(SA_KEY)?.unwrap_or_default(),
            pub_pem: store.read(SA_PUB)?.unwrap_or_default(),
        },
        leaves,
        bootstrap_token: store
            .read(BOOTSTRAP_TOKEN)?
            .unwrap_or_default()
            .trim()
            .to_owned(),
    })
}

/// kubeadm's bootstrap token form: `[a-z0-9]{6}.[a-z0-9]{16}`.
pub fn valid_token(token: &str) -> bool {
    let ok = |s: &str, n: usize| {
        s.len() == n
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    };
    token
        .split_once('.')
        .is_some_and(|(id, secret)| ok(id, 6) && ok(secret, 16))
}

fn new_token() -> Result<String, PkiError> {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut bytes = [0u8; 22];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| PkiError::Crypto("no random numbers".into()))?;
    // 252 is the largest multiple of 36 below 256: rejecting above it keeps the
    // characters uniform. Redraw rejected bytes one at a time.
    let mut chars = Vec::with_capacity(22);
    for mut b in bytes {
        while b >= 252 {
            let mut one = [0u8; 1];
            aws_lc_rs::rand::fill(&mut one)
                .map_err(|_| PkiError::Crypto("no random numbers".into()))?;
            b = one[0];
        }
        chars.push(ALPHABET[usize::from(b % 36)] as char);
    }
    let text: String = chars.into_iter().collect();
    Ok(format!("{}.{}", &text[..6], &text[6..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens() {
        let token = new_token().unwrap();
        assert!(valid_token(&token), "{token}");
        assert_ne!(token, new_token().unwrap());
        assert!(!valid_token("abcdef0123456789abcdef"));
        assert!(!valid_token("ABCDEF.0123456789abcdef"));
    }
}
