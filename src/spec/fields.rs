//! Field types and serde adapters of the preset format: addresses and CIDRs with messages
//! an operator can act on, and the format's rule that an empty string means "not set".

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serializer};

use super::types::{DnsName, serde_via_str};

pub(crate) fn parse_ip(text: &str) -> Result<IpAddr, String> {
    text.trim()
        .parse()
        .map_err(|_| format!("\"{text}\" is not an IP address; write it like 192.168.122.11"))
}

pub(crate) fn parse_net(text: &str) -> Result<IpNet, String> {
    if !text.contains('/') && parse_ip(text).is_ok() {
        return Err(format!(
            "\"{text}\" has no prefix length; write a CIDR block like 10.244.0.0/16"
        ));
    }
    text.trim().parse().map_err(|_| {
        format!("\"{text}\" is not a CIDR block; write it like 10.244.0.0/16 or fd00:10::/56")
    })
}

/// An address written as a string (`"192.168.122.11"`).
pub mod ip {
    use super::*;

    pub fn serialize<S: Serializer>(ip: &IpAddr, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(ip)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<IpAddr, D::Error> {
        parse_ip(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// A CIDR block written as a string (`"10.244.0.0/16"`).
pub mod ip_net {
    use super::*;

    pub fn serialize<S: Serializer>(net: &IpNet, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(net)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<IpNet, D::Error> {
        parse_net(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

fn port_from(value: i64) -> Result<u16, String> {
    u16::try_from(value)
        .ok()
        .filter(|p| *p != 0)
        .ok_or_else(|| format!("{value} is not a TCP port; use a number from 1 to 65535"))
}

/// A TCP port, 1 to 65535, with a message that says so.
pub mod port {
    use super::*;

    pub fn serialize<S: Serializer>(port: &u16, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u16(*port)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u16, D::Error> {
        port_from(i64::deserialize(d)?).map_err(serde::de::Error::custom)
    }
}

/// An optional TCP port.
pub mod opt_port {
    use super::*;

    pub fn serialize<S: Serializer>(port: &Option<u16>, s: S) -> Result<S::Ok, S::Error> {
        match port {
            Some(p) => s.serialize_u16(*p),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u16>, D::Error> {
        port_from(i64::deserialize(d)?)
            .map(Some)
            .map_err(serde::de::Error::custom)
    }
}

/// Deserializes an optional value from a string where `""` means not set.
fn opt_with<'de, D, T>(
    d: D,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
{
    match Option::<String>::deserialize(d)? {
        Some(text) if !text.trim().is_empty() => {
            parse(&text).map(Some).map_err(serde::de::Error::custom)
        }
        _ => Ok(None),
    }
}

fn ser_opt<S: Serializer, T: fmt::Display>(value: &Option<T>, s: S) -> Result<S::Ok, S::Error> {
    match value {
        Some(v) => s.collect_str(v),
        None => s.serialize_str(""),
    }
}

/// An optional address; `""` means not set.
pub mod opt_ip {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<IpAddr>, s: S) -> Result<S::Ok, S::Error> {
        ser_opt(v, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IpAddr>, D::Error> {
        opt_with(d, parse_ip)
    }
}

/// An optional CIDR block; `""` means not set.
pub mod opt_ip_net {
    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<IpNet>, s: S) -> Result<S::Ok, S::Error> {
        ser_opt(v, s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<IpNet>, D::Error> {
        opt_with(d, parse_net)
    }
}

/// An optional path; `""` means not set.
pub mod opt_path {
    use std::path::PathBuf;

    use super::*;

    pub fn serialize<S: Serializer>(v: &Option<PathBuf>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(p) => s.collect_str(&p.display()),
            None => s.serialize_str(""),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<PathBuf>, D::Error> {
        opt_with(d, |t| Ok(PathBuf::from(t)))
    }
}

/// Any optional `FromStr` value; `""` means not set.
pub mod opt_str {
    use super::*;

    pub fn serialize<S: Serializer, T: fmt::Display>(
        v: &Option<T>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        ser_opt(v, s)
    }

    pub fn deserialize<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: FromStr,
        T::Err: fmt::Display,
    {
        opt_with(d, |t| {
            t.parse::<T>()
                .map_err(|e| describe_url_error(t, e.to_string()))
        })
    }

    /// url's own messages ("relative URL without a base") do not say what to write.
    fn describe_url_error(text: &str, message: String) -> String {
        if message == "relative URL without a base" {
            format!(
                "\"{text}\" is not a URL; write it with its scheme, like http://proxy.lab.example:3128"
            )
        } else {
            message
        }
    }
}

/// A container image registry, optionally with a path: `registry.k8s.io`,
/// `mirror.lab.example:5000/k8s`. No scheme: containerd and kubeadm take it bare.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ImageRepository(String);

impl ImageRepository {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// True for the default registry, where kubeadm places CoreDNS under `coredns/`.
    pub fn is_default(&self) -> bool {
        self.0 == "registry.k8s.io"
    }
}

impl Default for ImageRepository {
    fn default() -> Self {
        ImageRepository("registry.k8s.io".into())
    }
}

impl FromStr for ImageRepository {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Some((scheme, _)) = text.split_once("://") {
            return Err(format!(
                "\"{text}\" starts with {scheme}://; give the registry without a scheme, like registry.k8s.io"
            ));
        }
        let (host_port, path) = text.split_once('/').unwrap_or((text, ""));
        let host = match host_port.rsplit_once(':') {
            Some((host, port)) if port.parse::<u16>().is_ok() => host,
            Some(_) => {
                return Err(format!(
                    "\"{text}\" has a port that is not a number from 1 to 65535"
                ));
            }
            None => host_port,
        };
        if host.parse::<IpAddr>().is_err() {
            host.parse::<DnsName>()
                .map_err(|e| format!("registry host {e}"))?;
        }
        let path_ok = path.split('/').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        });
        if !path.is_empty() && !path_ok {
            return Err(format!(
                "\"{text}\" has an invalid repository path; use lower-case a-z, 0-9, '.', '_', '-' separated by '/'"
            ));
        }
        Ok(ImageRepository(text.to_owned()))
    }
}

impl fmt::Display for ImageRepository {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
serde_via_str!(ImageRepository);

/// A Linux network interface name: 1 to 15 characters, no '/', ':' or white space.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InterfaceName(String);

impl InterfaceName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for InterfaceName {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = text.is_empty()
            || text.len() > 15
            || text == "."
            || text == ".."
            || text
                .chars()
                .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
        if bad {
            return Err(format!(
                "\"{text}\" is not a network interface name; give the name `ip -br addr` shows on the hosts, e.g. enp1s0"
            ));
        }
        Ok(InterfaceName(text.to_owned()))
    }
}

impl fmt::Display for InterfaceName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
serde_via_str!(InterfaceName);

/// An HTTP(S) proxy address: `http://proxy.lab.example:3128`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ProxyUrl(url::Url);

impl ProxyUrl {
    pub fn url(&self) -> &url::Url {
        &self.0
    }

    /// True when the URL carries a password, which must never be stored in a preset.
    pub fn has_password(&self) -> bool {
        self.0.password().is_some()
    }
}

impl FromStr for ProxyUrl {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let url = url::Url::parse(text)
            .ok()
            .filter(|_| text.contains("://"))
            .ok_or_else(|| {
                format!("\"{text}\" is not a URL; write it like http://proxy.lab.example:3128")
            })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "\"{text}\" uses {}://; containerd and the kubelet take only http:// or https:// proxies",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(format!(
                "\"{text}\" has no host; write it like http://proxy.lab.example:3128"
            ));
        }
        Ok(ProxyUrl(url))
    }
}

impl fmt::Display for ProxyUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_repositories() {
        assert!("registry.k8s.io".parse::<ImageRepository>().is_ok());
        assert!(
            "registry.aliyuncs.com/google_containers"
                .parse::<ImageRepository>()
                .is_ok()
        );
        assert!(
            "mirror.lab.example:5000/k8s"
                .parse::<ImageRepository>()
                .is_ok()
        );
        assert!("10.0.0.5:5000".parse::<ImageRepository>().is_ok());
        let err = "https://registry.k8s.io"
            .parse::<ImageRepository>()
            .unwrap_err();
        assert!(err.contains("without a scheme"), "{err}");
        assert!("mirror:port/x".parse::<ImageRepository>().is_err());
        assert!("mirror.example/Upper".parse::<ImageRepository>().is_err());
    }

    #[test]
    fn proxies() {
        assert!("http://proxy.lab.example:3128".parse::<ProxyUrl>().is_ok());
        assert!("proxy.lab.example:3128".parse::<ProxyUrl>().is_err());
        assert!(
            "socks5://proxy:1080"
                .parse::<ProxyUrl>()
                .unwrap_err()
                .contains("socks5")
        );
        assert!(
            "http://u:secret@proxy:3128"
                .parse::<ProxyUrl>()
                .unwrap()
                .has_password()
        );
    }

    #[test]
    fn cidrs() {
        assert!(parse_net("10.244.0.0/16").is_ok());
        assert!(
            parse_net("10.244.0.0")
                .unwrap_err()
                .contains("no prefix length")
        );
        assert!(parse_net("10.244.0.0/33").is_err());
    }
}
