//! Value types parsed at the edge: once a `ClusterSpec` exists, every name, version and
//! address in it is known to be well formed.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// Implements serde for a type through its `FromStr` and `Display`, so a preset holds
/// the value as a plain string and a parse error carries the type's own message.
macro_rules! serde_via_str {
    ($ty:ty) => {
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = <String as serde::Deserialize>::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}
pub(crate) use serde_via_str;

/// A DNS label as Kubernetes node names and cluster names need it (RFC 1123): 1 to 63
/// characters of `a-z`, `0-9` and `-`, starting and ending with a letter or digit.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DnsLabel(String);

impl DnsLabel {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for DnsLabel {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        check_label(text)?;
        Ok(DnsLabel(text.to_owned()))
    }
}

impl fmt::Display for DnsLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
serde_via_str!(DnsLabel);

fn check_label(text: &str) -> Result<(), String> {
    if text.is_empty() {
        return Err("is empty; give a name of a-z, 0-9 and '-'".into());
    }
    let len = text.chars().count();
    if len > 63 {
        return Err(format!(
            "\"{text}\" is {len} characters long; a DNS label has at most 63"
        ));
    }
    if text.chars().any(|c| c.is_ascii_uppercase()) {
        return Err(format!(
            "\"{text}\" has upper-case letters; Kubernetes names are lower case (\"{}\")",
            text.to_ascii_lowercase()
        ));
    }
    if let Some((at, c)) = text
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
    {
        return Err(format!(
            "\"{text}\" has {c:?} at character {}; use only a-z, 0-9 and '-'",
            at + 1
        ));
    }
    if text.starts_with('-') || text.ends_with('-') {
        return Err(format!(
            "\"{text}\" starts or ends with '-'; a DNS label must start and end with a letter or digit"
        ));
    }
    Ok(())
}

/// A DNS name of one or more labels separated by dots (RFC 1123 subdomain), at most 253
/// characters, e.g. `cluster.local` or `kubeapi.lab.example`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DnsName(String);

impl DnsName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for DnsName {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Err("is empty; give a DNS name such as kubeapi.lab.example".into());
        }
        if text.len() > 253 {
            return Err(format!(
                "is {} characters long; a DNS name has at most 253",
                text.len()
            ));
        }
        if text.ends_with('.') {
            return Err(format!(
                "\"{text}\" ends with '.'; write the name without the trailing dot"
            ));
        }
        for label in text.split('.') {
            check_label(label).map_err(|e| {
                if label.is_empty() {
                    format!("\"{text}\" has an empty label (two dots in a row or a leading dot)")
                } else {
                    format!("in \"{text}\": label {e}")
                }
            })?;
        }
        Ok(DnsName(text.to_owned()))
    }
}

impl fmt::Display for DnsName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
serde_via_str!(DnsName);

/// A Kubernetes release version, written `1.34.2` (a leading `v` is accepted).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KubeVersion {
    pub major: u32,
    pub minor: u32,
    pub patch: u32,
}

impl KubeVersion {
    pub const fn new(major: u32, minor: u32, patch: u32) -> Self {
        KubeVersion {
            major,
            minor,
            patch,
        }
    }

    /// The form kubeadm's `kubernetesVersion` and image tags use: `v1.34.2`.
    pub fn tag(&self) -> String {
        format!("v{self}")
    }

    /// The minor release line used by pkgs.k8s.io repositories: `v1.34`.
    pub fn minor_line(&self) -> String {
        format!("v{}.{}", self.major, self.minor)
    }

    /// Whether a cluster at this version can be upgraded to `to` in one go, as kubeadm
    /// allows it: a newer patch of the same minor, or the next minor. Otherwise what
    /// to do instead.
    pub fn upgrade_to(&self, to: KubeVersion) -> Result<(), String> {
        if to == *self {
            return Err(format!("the cluster already runs {self}"));
        }
        if to < *self {
            return Err(format!(
                "{to} is older than {self}, which the cluster runs: kubeadm does not downgrade; restore a backup taken before the upgrade instead"
            ));
        }
        if to.major != self.major || to.minor > self.minor + 1 {
            let steps: Vec<String> = (self.minor + 1..to.minor)
                .map(|m| format!("1.{m}.x"))
                .collect();
            return Err(format!(
                "{to} is more than one minor version above {self}: kubeadm upgrades one minor at a time; upgrade to {} (the latest patch of each) first, then to {to}",
                steps.join(", then ")
            ));
        }
        Ok(())
    }
}

impl FromStr for KubeVersion {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bare = text.strip_prefix('v').unwrap_or(text);
        let parts: Vec<&str> = bare.split('.').collect();
        let bad = || {
            format!(
                "\"{text}\" is not a Kubernetes release version; write MAJOR.MINOR.PATCH, e.g. 1.34.2"
            )
        };
        if parts.len() != 3
            || parts
                .iter()
                .any(|p| p.is_empty() || !p.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err(bad());
        }
        let num = |p: &str| p.parse::<u32>().map_err(|_| bad());
        Ok(KubeVersion::new(
            num(parts[0])?,
            num(parts[1])?,
            num(parts[2])?,
        ))
    }
}

impl fmt::Display for KubeVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}
serde_via_str!(KubeVersion);

/// Where clients reach the API server: an IP address or a DNS name, without a port
/// (the port is `control_plane.port`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum EndpointHost {
    Ip(IpAddr),
    Name(DnsName),
}

impl FromStr for EndpointHost {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if let Ok(ip) = text.parse::<IpAddr>() {
            return Ok(EndpointHost::Ip(ip));
        }
        if text.contains(':') {
            return Err(format!(
                "\"{text}\" is not an IP address or DNS name; give the port in control_plane.port, not here"
            ));
        }
        if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
            return Err(format!("\"{text}\" is not a valid IPv4 address"));
        }
        text.parse::<DnsName>()
            .map(EndpointHost::Name)
            .map_err(|e| format!("is neither an IP address nor a DNS name: {e}"))
    }
}

impl fmt::Display for EndpointHost {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EndpointHost::Ip(ip) => ip.fmt(f),
            EndpointHost::Name(name) => name.fmt(f),
        }
    }
}
serde_via_str!(EndpointHost);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upgrades_go_one_minor_at_a_time_and_never_down() {
        let v = |t: &str| t.parse::<KubeVersion>().unwrap();
        assert_eq!(v("1.34.2").upgrade_to(v("1.34.3")), Ok(()));
        assert_eq!(v("1.34.2").upgrade_to(v("1.35.0")), Ok(()));
        let err = v("1.34.2").upgrade_to(v("1.37.1")).unwrap_err();
        assert!(
            err.contains(
                "upgrade to 1.35.x, then 1.36.x (the latest patch of each) first, then to 1.37.1"
            ),
            "{err}"
        );
        assert!(
            v("1.34.2")
                .upgrade_to(v("1.34.1"))
                .unwrap_err()
                .contains("does not downgrade")
        );
        assert!(
            v("1.34.2")
                .upgrade_to(v("1.34.2"))
                .unwrap_err()
                .contains("already runs")
        );
    }

    #[test]
    fn labels() {
        assert!("kubemaster-1".parse::<DnsLabel>().is_ok());
        assert!("a".parse::<DnsLabel>().is_ok());
        let err = "Kube".parse::<DnsLabel>().unwrap_err();
        assert!(
            err.contains("upper-case") && err.contains("\"kube\""),
            "{err}"
        );
        assert!("kube_1".parse::<DnsLabel>().unwrap_err().contains("'_'"));
        assert!("-kube".parse::<DnsLabel>().is_err());
        assert!("kube-".parse::<DnsLabel>().is_err());
        assert!("".parse::<DnsLabel>().is_err());
        assert!("a".repeat(64).parse::<DnsLabel>().is_err());
    }

    #[test]
    fn names() {
        assert!("cluster.local".parse::<DnsName>().is_ok());
        assert!("kubeapi.lab.example".parse::<DnsName>().is_ok());
        assert!(
            "a..b"
                .parse::<DnsName>()
                .unwrap_err()
                .contains("empty label")
        );
        assert!(
            "a.b."
                .parse::<DnsName>()
                .unwrap_err()
                .contains("trailing dot")
        );
        assert!("under_score.example".parse::<DnsName>().is_err());
    }

    #[test]
    fn versions() {
        let v: KubeVersion = "v1.34.2".parse().unwrap();
        assert_eq!(v, KubeVersion::new(1, 34, 2));
        assert_eq!(v.tag(), "v1.34.2");
        assert_eq!(v.minor_line(), "v1.34");
        assert!("1.34".parse::<KubeVersion>().is_err());
        assert!("1.34.x".parse::<KubeVersion>().is_err());
        assert!("1.34.2-rc.0".parse::<KubeVersion>().is_err());
        assert!("+1.34.2".parse::<KubeVersion>().is_err());
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            "192.168.122.10".parse::<EndpointHost>().unwrap(),
            EndpointHost::Ip("192.168.122.10".parse().unwrap())
        );
        assert!(matches!(
            "kubeapi.test.example".parse::<EndpointHost>().unwrap(),
            EndpointHost::Name(_)
        ));
        assert!(
            "kubeapi:6443"
                .parse::<EndpointHost>()
                .unwrap_err()
                .contains("control_plane.port")
        );
        assert!(
            "192.168.122.300"
                .parse::<EndpointHost>()
                .unwrap_err()
                .contains("IPv4")
        );
    }
}
