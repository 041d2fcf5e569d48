//! A kubeconfig read from a host, its embedded client credentials replaced.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_yaml_ng::Value;

const CERT: &str = "client-certificate-data";
const KEY: &str = "client-key-data";

/// `kubeconfig` with every user that embeds a client certificate given `cert_pem` and
/// `key_pem` instead; the rest (server, CA, names, contexts) stays. An error when the
/// text is not a kubeconfig or no user embeds a certificate (then there is nothing a
/// renewal could put in, and the operator should know).
pub fn with_client(kubeconfig: &[u8], cert_pem: &str, key_pem: &str) -> Result<String, String> {
    let mut doc: Value = serde_yaml_ng::from_slice(kubeconfig)
        .map_err(|e| format!("not a kubeconfig (YAML: {e})"))?;
    let users = doc
        .get_mut("users")
        .and_then(Value::as_sequence_mut)
        .ok_or("not a kubeconfig: it has no users")?;
    let mut renewed = 0;
    for user in users.iter_mut() {
        let Some(data) = user.get_mut("user").and_then(Value::as_mapping_mut) else {
            continue;
        };
        if data.contains_key(CERT) {
            data.insert(CERT.into(), STANDARD.encode(cert_pem).into());
            data.insert(KEY.into(), STANDARD.encode(key_pem).into());
            renewed += 1;
        }
    }
    if renewed == 0 {
        return Err(format!(
            "no user embeds a client certificate ({CERT}); it points to files, which are renewed where they are"
        ));
    }
    serde_yaml_ng::to_string(&doc).map_err(|e| format!("cannot write it back: {e}"))
}

/// The first embedded client certificate of `kubeconfig`, PEM.
pub fn client_cert(kubeconfig: &[u8]) -> Option<Vec<u8>> {
    let doc: Value = serde_yaml_ng::from_slice(kubeconfig).ok()?;
    doc.get("users")?
        .as_sequence()?
        .iter()
        .find_map(|u| u.get("user")?.get(CERT)?.as_str())
        .and_then(|b64| STANDARD.decode(b64.trim()).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = "apiVersion: v1\nkind: Config\nclusters:\n- cluster:\n    certificate-authority-data: Q0E=\n    server: https://10.0.0.1:6443\n  name: kubernetes\nusers:\n- name: kubernetes-admin\n  user:\n    client-certificate-data: T0xE\n    client-key-data: T0xE\n";

    #[test]
    fn replaces_the_embedded_client_and_keeps_the_rest() {
        let out = with_client(CONF.as_bytes(), "NEWCERT", "NEWKEY").unwrap();
        assert!(out.contains("server: https://10.0.0.1:6443"), "{out}");
        assert!(out.contains("certificate-authority-data: Q0E="), "{out}");
        assert_eq!(client_cert(out.as_bytes()).unwrap(), b"NEWCERT");
        assert!(out.contains(&STANDARD.encode("NEWKEY")), "{out}");
        assert!(!out.contains("T0xE"), "{out}");
    }

    #[test]
    fn refuses_what_it_cannot_renew() {
        assert!(with_client(b"users: []\n", "c", "k").is_err());
        assert!(with_client(b": not yaml: [", "c", "k").is_err());
        let files = "users:\n- name: a\n  user:\n    client-certificate: /a.crt\n";
        assert!(
            with_client(files.as_bytes(), "c", "k")
                .unwrap_err()
                .contains("files")
        );
    }
}
