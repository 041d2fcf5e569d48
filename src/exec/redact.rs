//! Secrets never reach a screen, a log or the journal: every command and output line
//! passes through here before it is emitted.

/// What replaces a secret.
pub const REDACTED: &str = "<redacted>";

/// Replaces known secret strings, and the body of any PEM private key, with
/// `<redacted>`.
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

    pub fn text(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for secret in &self.secrets {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), REDACTED);
            }
        }
        out
    }

    /// Redacts one line of a stream; `in_key` carries, from line to line, whether the
    /// stream is inside a PEM private key.
    pub fn line(&self, line: &str, in_key: &mut bool) -> String {
        if line.contains("-----BEGIN") && line.contains("PRIVATE KEY-----") {
            *in_key = true;
            return line.to_owned();
        }
        if *in_key {
            if line.contains("-----END") {
                *in_key = false;
                return line.to_owned();
            }
            return REDACTED.to_owned();
        }
        self.text(line)
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
}
