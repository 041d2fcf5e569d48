//! Quoting for the POSIX shell that runs every command kubewiz sends to a host.

/// Quotes `text` as one word for a POSIX shell: single quotes, with each `'` closed,
/// escaped and reopened, so nothing in it is expanded.
pub fn quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::quote;

    #[test]
    fn quotes_as_one_word() {
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
        assert_eq!(quote("$HOME `x`"), "'$HOME `x`'");
    }
}
