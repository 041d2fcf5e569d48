//! Secrets never reach a screen, a log or the journal: every command, output line and
//! error text passes through here before it is emitted.
//!
//! Two nets: the cluster's known secrets (its bootstrap token, proxy passwords), and the
//! shapes secrets have wherever they come from (a bootstrap token, a kubeadm certificate
//! key, a kubeconfig's client-key-data, a password in a URL, the body of a PEM private
//! key), so a secret kubewiz did not make itself (a host's own kubeconfig, a key printed
//! by a failing command) is caught too.

use std::sync::LazyLock;

use regex::Regex;

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// The shapes of secrets; each keeps its first group (the name) and redacts the rest.
static SHAPES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        // A bootstrap token: six and sixteen characters of [a-z0-9] around a dot.
        r"()\b[a-z0-9]{6}\.[a-z0-9]{16}\b",
        // kubeadm's --certificate-key / certificateKey / certificate-key: 64 hex digits.
        r#"(?i)(certificate[-_]?key["']?\s*[:=]?\s*["']?)[0-9a-f]{64}"#,
        // kubeadm prints the certificate key alone on its line (`--upload-certs`).
        r"^(\s*)[0-9a-fA-F]{64}\s*$",
        // A kubeconfig's client-key-data (base64 of a private key), YAML or JSON.
        r#"(client-key-data["']?\s*[:=]\s*["']?)[A-Za-z0-9+/=]+"#,
        // A password in a URL: scheme://user:password@host.
        r"([A-Za-z][A-Za-z0-9+.-]*://[^\s:/@]*:)[^\s/@]+@",
    ]
    .iter()
    .filter_map(|p| Regex::new(p).ok())
    .collect()
});

/// Replaces known secret strings, the shapes of secrets and the body of any PEM
/// private key with `<redacted>`.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    secrets: Vec<String>,
}

impl Redactor {
    /// `secrets`: the bootstrap token, proxy passwords, anything else that must not be
    /// shown. Empty and very short strings are ignored (they would redact everything).
    pub fn new(secrets: impl IntoIterator<Item = String>) -> Self {
        let mut secrets: Vec<String> = secrets.into_iter().filter(|s| s.len() >= 6).collect();
        // Longest first, so a secret that contains another is replaced whole.
        secrets.sort_by_key(|s| std::cmp::Reverse(s.len()));
        secrets.dedup();
        Redactor { secrets }
    }

    /// Redacts a text of any number of lines: a command, an error message.
    pub fn text(&self, text: &str) -> String {
        let mut in_key = false;
        let mut out = String::with_capacity(text.len());
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                out.push('\n');
            }
            out.push_str(&self.line(line, &mut in_key));
        }
        out
    }

    /// Redacts one line of a stream; `in_key` carries, from line to line, whether the
    /// stream is inside a PEM private key.
    pub fn line(&self, line: &str, in_key: &mut bool) -> String {
        let mut out = String::new();
        let mut rest = line;
        loop {
            if *in_key {
                // Everything up to the key's END line is the key.
                match rest.find("-----END") {
                    Some(end) => {
                        if end > 0 {
                            out.push_str(REDACTED);
                        }
                        *in_key = false;
                        let (marker, after) = split_marker(&rest[end..]);
                        out.push_str(marker);
                        rest = after;
                    }
                    None => {
                        if !rest.is_empty() {
                            out.push_str(REDACTED);
                        }
                        return out;
                    }
                }
            } else {
                match find_key_begin(rest) {
                    Some((start, after)) => {
                        out.push_str(&self.known(&rest[..start]));
                        out.push_str(&rest[start..after]);
                        *in_key = true;
                        rest = &rest[after..];
                    }
                    None => {
                        out.push_str(&self.known(rest));
                        return out;
                    }
                }
            }
        }
    }

    /// The known secrets, then the shapes of secrets.
    fn known(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        for shape in SHAPES.iter() {
            if shape.is_match(&out) {
                out = shape
                    .replace_all(&out, |c: &regex::Captures<'_>| {
                        // A URL's password ends at its `@`, which stays.
                        let at = if c[0].ends_with('@') { "@" } else { "" };
                        format!("{}{REDACTED}{at}", &c[1])
                    })
                    .into_owned();
            }
        }
        out
    }
}

/// Where a `-----BEGIN ... PRIVATE KEY-----` marker starts and ends in `text`.
fn find_key_begin(text: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(i) = text[from..].find("-----BEGIN") {
        let start = from + i;
        let after_begin = start + "-----BEGIN".len();
        if let Some(close) = text[after_begin..].find("-----") {
            let label = &text[after_begin..after_begin + close];
            let end = after_begin + close + "-----".len();
            if label.contains("PRIVATE KEY") {
                return Some((start, end));
            }
            from = end;
        } else {
            return None;
        }
    }
    None
}

/// Splits an `-----END ...-----` marker from what follows it.
fn split_marker(text: &str) -> (&str, &str) {
    let after = "-----END".len();
    match text[after..].find("-----") {
        Some(i) => text.split_at(after + i + "-----".len()),
        None => (text, ""),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_keys() {
        let r = Redactor::new([
            "abcdef.0123456789abcdef".to_string(),
            "0123456789abcdef".into(),
            "x".into(),
        ]);
        assert_eq!(
            r.text("kubeadm join --token abcdef.0123456789abcdef x"),
            "kubeadm join --token <redacted> x"
        );
        assert_eq!(r.text("secret 0123456789abcdef"), "secret <redacted>");
        let mut in_key = false;
        let lines: Vec<String> = [
            "-----BEGIN PRIVATE KEY-----",
            "MIIEvQ",
            "-----END PRIVATE KEY-----",
            "after",
        ]
        .iter()
        .map(|l| r.line(l, &mut in_key))
        .collect();
        assert_eq!(
            lines,
            [
                "-----BEGIN PRIVATE KEY-----",
                "<redacted>",
                "-----END PRIVATE KEY-----",
                "after"
            ]
        );
    }

    #[test]
    fn shapes_of_secrets_the_cluster_did_not_make() {
        let r = Redactor::default();
        assert_eq!(
            r.text("kubeadm join --token k8s4ab.q7xz0m3n5p9r2t4v --control-plane"),
            "kubeadm join --token <redacted> --control-plane"
        );
        let key = "a".repeat(64);
        assert_eq!(
            r.text(&format!("--certificate-key {key} --v=5")),
            "--certificate-key <redacted> --v=5"
        );
        assert_eq!(r.text(&format!("  {key}")), "  <redacted>");
        let digest = format!("sha256:{key}");
        assert_eq!(r.text(&digest), digest, "a CA digest is public");
        assert_eq!(
            r.text("    client-key-data: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t"),
            "    client-key-data: <redacted>"
        );
        assert_eq!(
            r.text("proxy http://ops:s3cr%40t@proxy.lan:3128 down"),
            "proxy http://ops:<redacted>@proxy.lan:3128 down"
        );
        assert_eq!(
            r.text("x -----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY----- y"),
            "x -----BEGIN EC PRIVATE KEY-----\n<redacted>\n-----END EC PRIVATE KEY----- y"
        );
        assert_eq!(
            r.text("-----BEGIN RSA PRIVATE KEY-----MIIB-----END RSA PRIVATE KEY-----"),
            "-----BEGIN RSA PRIVATE KEY-----<redacted>-----END RSA PRIVATE KEY-----"
        );
        // Certificates are public: left alone.
        assert_eq!(
            r.text("-----BEGIN CERTIFICATE-----MIIB"),
            "-----BEGIN CERTIFICATE-----MIIB"
        );
    }
}
