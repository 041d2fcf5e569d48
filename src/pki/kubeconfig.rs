//! Kubeconfig files, from serde types.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Serialize;

use super::CertKey;

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct Kubeconfig<'a> {
    api_version: &'a str,
    kind: &'a str,
    clusters: Vec<Named<'a, Cluster>>,
    users: Vec<Named<'a, User>>,
    contexts: Vec<Named<'a, Context<'a>>>,
    current_context: String,
    preferences: std::collections::BTreeMap<String, String>,
}

#[derive(Serialize)]
struct Named<'a, T> {
    name: &'a str,
    #[serde(flatten)]
    value: T,
}

#[derive(Serialize)]
struct Cluster {
    cluster: ClusterData,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct ClusterData {
    certificate_authority_data: String,
    server: String,
}

#[derive(Serialize)]
struct User {
    user: UserData,
}

#[derive(Serialize)]
#[serde(rename_all = "kebab-case")]
struct UserData {
    client_certificate_data: String,
    client_key_data: String,
}

#[derive(Serialize)]
struct Context<'a> {
    context: ContextData<'a>,
}

#[derive(Serialize)]
struct ContextData<'a> {
    cluster: &'a str,
    user: &'a str,
}

/// A kubeconfig for `user` on cluster `cluster` at `server`, with the client
/// certificate and the CA embedded, as kubeadm writes them.
pub fn kubeconfig(
    cluster: &str,
    server: &str,
    ca_cert_pem: &str,
    user: &str,
    client: &CertKey,
) -> String {
    let context = format!("{user}@{cluster}");
    let config = Kubeconfig {
        api_version: "v1",
        kind: "Config",
        clusters: vec![Named {
            name: cluster,
            value: Cluster {
                cluster: ClusterData {
                    certificate_authority_data: STANDARD.encode(ca_cert_pem),
                    server: server.to_owned(),
                },
            },
        }],
        users: vec![Named {
            name: user,
            value: User {
                user: UserData {
                    client_certificate_data: STANDARD.encode(&client.cert_pem),
                    client_key_data: STANDARD.encode(&client.key_pem),
                },
            },
        }],
        contexts: vec![Named {
            name: &context,
            value: Context {
                context: ContextData { cluster, user },
            },
        }],
        current_context: context.clone(),
        preferences: Default::default(),
    };
    serde_yaml_ng::to_string(&config).expect("a kubeconfig always serializes")
}
