//! Reading back certificates kubewiz made earlier, to decide whether each can be kept.

use std::net::IpAddr;

use time::OffsetDateTime;
use x509_parser::extensions::GeneralName;
use x509_parser::prelude::{FromDer, X509Certificate};

use super::profiles::LeafProfile;

/// Leaves that expire sooner than this are issued again.
pub const RENEW_BEFORE_DAYS: i64 = 30;

/// Why an existing leaf cannot be kept, or None when it can.
pub fn stale_reason(
    cert_pem: &str,
    ca_cert_pem: &str,
    profile: &LeafProfile,
    now: OffsetDateTime,
) -> Option<String> {
    let Ok((_, pem)) = x509_parser::pem::parse_x509_pem(cert_pem.as_bytes()) else {
        return Some("it is not a readable PEM certificate".into());
    };
    let Ok((_, cert)) = X509Certificate::from_der(&pem.contents) else {
        return Some("it is not a readable certificate".into());
    };
    let Ok((_, ca_pem)) = x509_parser::pem::parse_x509_pem(ca_cert_pem.as_bytes()) else {
        return Some("its CA is not readable".into());
    };
    let Ok((_, ca)) = X509Certificate::from_der(&ca_pem.contents) else {
        return Some("its CA is not readable".into());
    };
    if cert.verify_signature(Some(ca.public_key())).is_err() {
        return Some("it is not signed by the current CA".into());
    }
    let not_after = cert.validity().not_after.timestamp();
    let days_left = (not_after - now.unix_timestamp()) / 86_400;
    if days_left < RENEW_BEFORE_DAYS {
        return Some(if days_left < 0 {
            "it has expired".into()
        } else {
            format!("it expires in {days_left} day(s)")
        });
    }
    let cn = cert
        .subject()
        .iter_common_name()
        .next()
        .and_then(|c| c.as_str().ok());
    if cn != Some(profile.common_name.as_str()) {
        return Some(format!(
            "its CN is {} instead of {}",
            cn.unwrap_or("missing"),
            profile.common_name
        ));
    }
    let org = cert
        .subject()
        .iter_organization()
        .next()
        .and_then(|o| o.as_str().ok());
    if org != profile.organization {
        return Some(format!(
            "its O is {} instead of {}",
            org.unwrap_or("none"),
            profile.organization.unwrap_or("none")
        ));
    }
    let (dns, ips) = sans(&cert);
    let mut want_dns = profile.dns_names.clone();
    want_dns.sort();
    let mut want_ips = profile.ips.clone();
    want_ips.sort();
    if dns != want_dns || ips != want_ips {
        let missing: Vec<String> = want_dns
            .iter()
            .filter(|d| !dns.contains(d))
            .cloned()
            .chain(
                want_ips
                    .iter()
                    .filter(|i| !ips.contains(i))
                    .map(|i| i.to_string()),
            )
            .collect();
        return Some(if missing.is_empty() {
            "its SANs list names the cluster no longer uses".into()
        } else {
            format!("its SANs lack {}", missing.join(", "))
        });
    }
    None
}

fn sans(cert: &X509Certificate<'_>) -> (Vec<String>, Vec<IpAddr>) {
    let mut dns = Vec::new();
    let mut ips = Vec::new();
    if let Ok(Some(ext)) = cert.subject_alternative_name() {
        for name in &ext.value.general_names {
            match name {
                GeneralName::DNSName(d) => dns.push((*d).to_owned()),
                GeneralName::IPAddress(bytes) => match bytes.len() {
                    4 => ips.push(IpAddr::from(<[u8; 4]>::try_from(*bytes).expect("4 bytes"))),
                    16 => ips.push(IpAddr::from(
                        <[u8; 16]>::try_from(*bytes).expect("16 bytes"),
                    )),
                    _ => {}
                },
                _ => {}
            }
        }
    }
    dns.sort();
    ips.sort();
    (dns, ips)
}
