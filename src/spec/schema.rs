//! The preset's JSON Schema, derived from the spec's own types (schemars), so editors
//! (taplo, Even Better TOML) and scripts check a preset by the rules `parse` applies
//! and the two cannot drift apart.
//!
//! The schema catches what the shape of a preset says: value types, unknown keys, the
//! closed choices and the form of names and versions. What needs the whole spec
//! (overlapping networks, host counts per topology) stays with `kubewiz validate`.

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};

use super::{ClusterSpec, DnsLabel, DnsName, EndpointHost, KubeVersion};
use super::{ImageRepository, InterfaceName, ProxyUrl};

/// Where the published schema lives; also its `$id`.
pub const SCHEMA_ID: &str = "https://kubewiz.invalid/preset.schema.json";

/// The schema of a preset file, as pretty JSON ending in a newline.
pub fn preset_schema() -> String {
    let mut schema = schemars::schema_for!(ClusterSpec);
    schema.insert("$id".into(), SCHEMA_ID.into());
    schema.insert("title".into(), "kubewiz preset".into());
    let mut text = serde_json::to_string_pretty(&schema).expect("a schema serializes to JSON");
    text.push('\n');
    text
}

/// A string type of the spec: its schema name, pattern (when the form is regular
/// enough to say in one) and what it holds.
macro_rules! string_schema {
    ($ty:ty, $name:literal, $description:literal $(, $pattern:literal)?) => {
        impl JsonSchema for $ty {
            fn schema_name() -> Cow<'static, str> {
                $name.into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                #[allow(unused_mut)]
                let mut schema = json_schema!({
                    "type": "string",
                    "description": $description,
                });
                $(schema.insert("pattern".into(), $pattern.into());)?
                schema
            }
        }
    };
}

string_schema!(
    DnsLabel,
    "DnsLabel",
    "A DNS label (RFC 1123): 1 to 63 characters of a-z, 0-9 and '-', starting and ending with a letter or digit",
    "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
);
string_schema!(
    DnsName,
    "DnsName",
    "A DNS name of dot-separated labels, at most 253 characters, e.g. cluster.local",
    "^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
);
string_schema!(
    KubeVersion,
    "KubeVersion",
    "A Kubernetes release, MAJOR.MINOR.PATCH (a leading v is accepted), e.g. 1.34.2",
    "^v?[0-9]+\\.[0-9]+\\.[0-9]+$"
);
string_schema!(
    EndpointHost,
    "EndpointHost",
    "An IP address or a DNS name, without a port"
);
string_schema!(
    ImageRepository,
    "ImageRepository",
    "A container image registry, optionally with a path, without a scheme: registry.k8s.io"
);
string_schema!(
    InterfaceName,
    "InterfaceName",
    "A network interface name, e.g. enp1s0"
);
string_schema!(
    ProxyUrl,
    "ProxyUrl",
    "An http:// or https:// proxy URL, never with a password"
);

/// A TCP port as a preset writes it: a number from 1 to 65535.
pub(crate) struct Port;

impl JsonSchema for Port {
    fn schema_name() -> Cow<'static, str> {
        "Port".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "integer",
            "minimum": 1,
            "maximum": 65535,
            "description": "A TCP port, 1 to 65535",
        })
    }
}

/// An IP address written as a string; `""` in an optional field means not set.
pub(crate) struct Address;

impl JsonSchema for Address {
    fn schema_name() -> Cow<'static, str> {
        "Address".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "An IPv4 or IPv6 address, e.g. 192.168.122.11",
        })
    }
}

/// A CIDR block written as a string.
pub(crate) struct Cidr;

impl JsonSchema for Cidr {
    fn schema_name() -> Cow<'static, str> {
        "Cidr".into()
    }

    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({
            "type": "string",
            "description": "A CIDR block, e.g. 10.244.0.0/16 or fd00:10::/56",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_closes_every_table_and_lists_the_choices() {
        let schema: serde_json::Value = serde_json::from_str(&preset_schema()).unwrap();
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["required"], serde_json::json!(["name", "topology"]));
        let text = schema.to_string();
        for choice in [
            "stacked-ha",
            "haproxy-keepalived",
            "RSA-2048",
            "load-balancer",
        ] {
            assert!(text.contains(choice), "{choice} missing from the schema");
        }
    }
}
