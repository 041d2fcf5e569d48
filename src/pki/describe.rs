//! What a certificate says about itself, for `kubewiz certs check`: its subject,
//! signer, serial and expiry, and whether a CA signed it.

use time::OffsetDateTime;
use x509_parser::prelude::{FromDer, X509Certificate};

/// One certificate, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertInfo {
    pub subject_cn: String,
    /// The signer's CN.
    pub issuer_cn: String,
    /// Hex, as `openssl x509 -serial` prints it.
    pub serial: String,
    pub not_after: OffsetDateTime,
}

impl CertInfo {
    /// Whole days from `now` until it expires; negative once it has.
    pub fn days_left(&self, now: OffsetDateTime) -> i64 {
        (self.not_after - now).whole_seconds().div_euclid(86_400)
    }
}

/// The DER of the first CERTIFICATE block of `pem` (a kubelet's `.pem` holds its key
/// too, in either order).
fn parse(pem: &[u8]) -> Result<Vec<u8>, String> {
    const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
    let start = pem
        .windows(BEGIN.len())
        .position(|w| w == BEGIN)
        .ok_or("no PEM certificate in it")?;
    let (_, block) = x509_parser::pem::parse_x509_pem(&pem[start..])
        .map_err(|e| format!("not a PEM certificate ({e})"))?;
    Ok(block.contents)
}

fn cn(name: &x509_parser::x509::X509Name<'_>) -> String {
    name.iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// The first certificate of `pem`.
pub fn describe(pem: &[u8]) -> Result<CertInfo, String> {
    let der = parse(pem)?;
    let (_, cert) =
        X509Certificate::from_der(&der).map_err(|e| format!("not a certificate ({e})"))?;
    let not_after = OffsetDateTime::from_unix_timestamp(cert.validity().not_after.timestamp())
        .map_err(|e| format!("its expiry cannot be read ({e})"))?;
    Ok(CertInfo {
        subject_cn: cn(cert.subject()),
        issuer_cn: cn(cert.issuer()),
        serial: cert.raw_serial_as_string().replace(':', "").to_uppercase(),
        not_after,
    })
}

/// Whether the CA `ca_pem` signed `pem`.
pub fn signed_by(pem: &[u8], ca_pem: &[u8]) -> bool {
    let (Ok(der), Ok(ca_der)) = (parse(pem), parse(ca_pem)) else {
        return false;
    };
    let (Ok((_, cert)), Ok((_, ca))) = (
        X509Certificate::from_der(&der),
        X509Certificate::from_der(&ca_der),
    ) else {
        return false;
    };
    cert.verify_signature(Some(ca.public_key())).is_ok()
}
