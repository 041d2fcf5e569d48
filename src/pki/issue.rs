//! Making keys and certificates with rcgen, the way kubeadm makes them: every field set
//! explicitly (rcgen's defaults are not kubeadm's), random serials below 2^63, validity
//! backdated five minutes.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType, SerialNumber,
};
use time::{Duration, OffsetDateTime};

use super::profiles::{LeafProfile, Usage};
use super::{CertKey, PkiError};
use crate::spec::EncryptionAlgorithm;

/// kubeadm: CAs last ten years, leaves one year, both start five minutes ago.
const CA_VALIDITY: Duration = Duration::days(3650);
const LEAF_VALIDITY: Duration = Duration::days(365);
const BACKDATE: Duration = Duration::minutes(5);

/// The test hook for short-lived leaves: `KUBEWIZ_TEST_LEAF_DAYS=N` (0 to 365) issues
/// every leaf with N days of validity (0: already expired), so `kubewiz certs check`
/// and `certs renew` can be tried without moving any clock. CAs keep their ten years.
pub const TEST_LEAF_DAYS: &str = "KUBEWIZ_TEST_LEAF_DAYS";

/// How long a new leaf lasts: a year, or what [`TEST_LEAF_DAYS`] says.
fn leaf_validity() -> Result<Duration, PkiError> {
    let Some(value) = std::env::var_os(TEST_LEAF_DAYS) else {
        return Ok(LEAF_VALIDITY);
    };
    let text = value.to_string_lossy();
    match text.trim().parse::<i64>() {
        Ok(days @ 0..=365) => Ok(Duration::days(days)),
        _ => Err(PkiError::Conflict(format!(
            "{TEST_LEAF_DAYS}={text} is not a number of days from 0 to 365; unset it to issue leaves for a year"
        ))),
    }
}

/// A new private key of the cluster's algorithm.
pub fn new_key(algorithm: EncryptionAlgorithm) -> Result<KeyPair, PkiError> {
    use rcgen::{PKCS_ECDSA_P256_SHA256, PKCS_RSA_SHA256, RsaKeySize};
    let key = match algorithm {
        EncryptionAlgorithm::Rsa2048 => {
            KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_2048)
        }
        EncryptionAlgorithm::Rsa3072 => {
            KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_3072)
        }
        EncryptionAlgorithm::Rsa4096 => {
            KeyPair::generate_rsa_for(&PKCS_RSA_SHA256, RsaKeySize::_4096)
        }
        EncryptionAlgorithm::EcdsaP256 => KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256),
    };
    key.map_err(|e| PkiError::Crypto(format!("cannot generate a {} key: {e}", algorithm.as_str())))
}

/// A random serial in [1, 2^63), as kubeadm's.
fn serial() -> Result<SerialNumber, PkiError> {
    let mut bytes = [0u8; 8];
    aws_lc_rs::rand::fill(&mut bytes).map_err(|_| PkiError::Crypto("no random numbers".into()))?;
    bytes[0] &= 0x7f;
    if bytes == [0; 8] {
        bytes[7] = 1;
    }
    Ok(SerialNumber::from_slice(&bytes))
}

fn base_params(
    common_name: &str,
    organization: Option<&str>,
    validity: Duration,
    now: OffsetDateTime,
) -> Result<CertificateParams, PkiError> {
    let mut params = CertificateParams::default();
    // Go's pkix.Name, which kubeadm uses, encodes O before CN.
    let mut dn = DistinguishedName::new();
    if let Some(org) = organization {
        dn.push(DnType::OrganizationName, org);
    }
    dn.push(DnType::CommonName, common_name);
    params.distinguished_name = dn;
    params.serial_number = Some(serial()?);
    params.not_before = now - BACKDATE;
    params.not_after = now + validity;
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
    ];
    Ok(params)
}

fn dns(name: &str) -> Result<SanType, PkiError> {
    name.try_into()
        .map(SanType::DnsName)
        .map_err(|_| PkiError::Crypto(format!("{name} cannot be a DNS SAN")))
}

/// A self-signed CA with kubeadm's shape: CA=true, keyCertSign, a DNS SAN equal to its CN.
pub fn issue_ca(
    common_name: &str,
    algorithm: EncryptionAlgorithm,
    now: OffsetDateTime,
) -> Result<CertKey, PkiError> {
    let key = new_key(algorithm)?;
    let mut params = base_params(common_name, None, CA_VALIDITY, now)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages.push(KeyUsagePurpose::KeyCertSign);
    params.subject_alt_names = vec![dns(common_name)?];
    let cert = params
        .self_signed(&key)
        .map_err(|e| PkiError::Crypto(format!("cannot sign the {common_name} CA: {e}")))?;
    Ok(CertKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// A leaf signed by `issuer`.
pub fn issue_leaf(
    profile: &LeafProfile,
    issuer: &Issuer<'_, KeyPair>,
    algorithm: EncryptionAlgorithm,
    now: OffsetDateTime,
) -> Result<CertKey, PkiError> {
    let key = new_key(algorithm)?;
    let mut params = base_params(
        &profile.common_name,
        profile.organization,
        leaf_validity()?,
        now,
    )?;
    params.extended_key_usages = match profile.usage {
        Usage::Server => vec![ExtendedKeyUsagePurpose::ServerAuth],
        Usage::Client => vec![ExtendedKeyUsagePurpose::ClientAuth],
        Usage::ServerAndClient => vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ],
    };
    params.use_authority_key_identifier_extension = true;
    let mut sans = Vec::new();
    for name in &profile.dns_names {
        sans.push(dns(name)?);
    }
    sans.extend(profile.ips.iter().map(|ip| SanType::IpAddress(*ip)));
    params.subject_alt_names = sans;
    let cert = params
        .signed_by(&key, issuer)
        .map_err(|e| PkiError::Crypto(format!("cannot sign {}: {e}", profile.id)))?;
    Ok(CertKey {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
    })
}

/// An issuer from a CA's PEM files.
pub fn issuer(ca: &CertKey) -> Result<Issuer<'static, KeyPair>, PkiError> {
    let key = KeyPair::from_pem(&ca.key_pem)
        .map_err(|e| PkiError::Crypto(format!("cannot read a CA key: {e}")))?;
    Issuer::from_ca_cert_pem(&ca.cert_pem, key)
        .map_err(|e| PkiError::Crypto(format!("cannot read a CA certificate: {e}")))
}
