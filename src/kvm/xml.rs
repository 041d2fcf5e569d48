//! A small reader for the XML libvirt prints (`virsh net-dumpxml`, `virsh dumpxml`) and
//! for kubewiz's own rendered `libvirt-dns.xml`: elements, attributes, text, comments
//! and the five predefined entities plus character references. Enough for documents
//! libvirt writes itself; not a general XML parser (no DTDs, no CDATA, no namespaces
//! beyond keeping `prefix:name` as the name). kubewiz has no XML crate, and this keeps
//! it that way for a few hundred bytes of well-formed input.

use std::fmt;

/// One element: its name, attributes in document order, child elements and the text
/// directly inside it (concatenated, entities decoded).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Element {
    pub name: String,
    pub attributes: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    /// The value of attribute `name`.
    pub fn attr(&self, name: &str) -> Option<&str> {
        self.attributes
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Child elements named `name`.
    pub fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> {
        self.children.iter().filter(move |c| c.name == name)
    }

    /// The first child element named `name`.
    pub fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }
}

/// Why a document could not be read, with the byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlError {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for XmlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "malformed XML at byte {}: {}", self.offset, self.message)
    }
}

impl std::error::Error for XmlError {}

/// Reads the document's root element. Text around it (declarations, comments,
/// whitespace) is skipped.
pub fn parse(text: &str) -> Result<Element, XmlError> {
    let mut reader = Reader { text, pos: 0 };
    reader.skip_misc()?;
    let root = reader.element()?;
    reader.skip_misc()?;
    if reader.pos < text.len() {
        return Err(reader.error("content after the root element"));
    }
    Ok(root)
}

struct Reader<'a> {
    text: &'a str,
    pos: usize,
}

impl Reader<'_> {
    fn rest(&self) -> &str {
        &self.text[self.pos..]
    }

    fn error(&self, message: &str) -> XmlError {
        XmlError {
            offset: self.pos,
            message: message.to_owned(),
        }
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    /// Skips whitespace, comments and `<?...?>` declarations.
    fn skip_misc(&mut self) -> Result<(), XmlError> {
        loop {
            self.skip_ws();
            if self.rest().starts_with("<!--") {
                self.skip_past("-->")?;
            } else if self.rest().starts_with("<?") {
                self.skip_past("?>")?;
            } else {
                return Ok(());
            }
        }
    }

    fn skip_past(&mut self, end: &str) -> Result<(), XmlError> {
        match self.rest().find(end) {
            Some(at) => {
                self.pos += at + end.len();
                Ok(())
            }
            None => Err(self.error(&format!("no closing {end}"))),
        }
    }

    fn name(&mut self) -> Result<String, XmlError> {
        let len = self
            .rest()
            .find(|c: char| c.is_whitespace() || matches!(c, '>' | '/' | '='))
            .unwrap_or(self.rest().len());
        if len == 0 {
            return Err(self.error("expected a name"));
        }
        let name = self.rest()[..len].to_owned();
        self.pos += len;
        Ok(name)
    }

    fn expect(&mut self, token: &str) -> Result<(), XmlError> {
        if self.rest().starts_with(token) {
            self.pos += token.len();
            Ok(())
        } else {
            Err(self.error(&format!("expected {token:?}")))
        }
    }

    fn element(&mut self) -> Result<Element, XmlError> {
        self.expect("<")?;
        let mut element = Element {
            name: self.name()?,
            ..Element::default()
        };
        loop {
            self.skip_ws();
            if self.rest().starts_with("/>") {
                self.pos += 2;
                return Ok(element);
            }
            if self.rest().starts_with('>') {
                self.pos += 1;
                break;
            }
            let name = self.name()?;
            self.skip_ws();
            self.expect("=")?;
            self.skip_ws();
            let quote = match self.rest().chars().next() {
                Some(q @ ('\'' | '"')) => q,
                _ => return Err(self.error("expected a quoted attribute value")),
            };
            self.pos += 1;
            let Some(len) = self.rest().find(quote) else {
                return Err(self.error("unterminated attribute value"));
            };
            let value = decode(&self.rest()[..len]).map_err(|m| self.error(&m))?;
            self.pos += len + 1;
            element.attributes.push((name, value));
        }
        loop {
            if self.rest().starts_with("<!--") {
                self.skip_past("-->")?;
            } else if self.rest().starts_with("</") {
                self.pos += 2;
                let name = self.name()?;
                if name != element.name {
                    return Err(self.error(&format!("</{name}> closes <{}>", element.name)));
                }
                self.skip_ws();
                self.expect(">")?;
                return Ok(element);
            } else if self.rest().starts_with('<') {
                element.children.push(self.element()?);
            } else if self.rest().is_empty() {
                return Err(self.error(&format!("<{}> is never closed", element.name)));
            } else {
                let len = self.rest().find('<').unwrap_or(self.rest().len());
                let text = decode(&self.rest()[..len]).map_err(|m| self.error(&m))?;
                element.text.push_str(text.trim());
                self.pos += len;
            }
        }
    }
}

/// Decodes entity and character references.
fn decode(raw: &str) -> Result<String, String> {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        let Some(end) = rest.find(';') else {
            return Err("'&' without ';'".into());
        };
        let entity = &rest[1..end];
        let c = match entity {
            "lt" => '<',
            "gt" => '>',
            "amp" => '&',
            "apos" => '\'',
            "quot" => '"',
            _ => {
                let code = if let Some(hex) = entity.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = entity.strip_prefix('#') {
                    dec.parse().ok()
                } else {
                    None
                };
                code.and_then(char::from_u32)
                    .ok_or_else(|| format!("unknown entity &{entity};"))?
            }
        };
        out.push(c);
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Escapes a value for a single- or double-quoted attribute or for text.
pub fn escape(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\'' => out.push_str("&apos;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libvirt_network_xml() {
        let xml = r#"<?xml version="1.0"?>
<!-- c -->
<network>
  <name>default</name>
  <dns>
    <host ip='192.168.122.10'><hostname>kubeapi</hostname><hostname>a&amp;b</hostname></host>
  </dns>
  <ip address="192.168.122.1" netmask='255.255.255.0'>
    <dhcp><range start='192.168.122.2' end='192.168.122.254'/>
      <host mac='52:54:00:00:00:11' name='k&#x41;' ip='192.168.122.11'/>
    </dhcp>
  </ip>
</network>
"#;
        let root = parse(xml).unwrap();
        assert_eq!(root.name, "network");
        assert_eq!(root.child("name").unwrap().text, "default");
        let host = root.child("dns").unwrap().child("host").unwrap();
        assert_eq!(host.attr("ip"), Some("192.168.122.10"));
        let names: Vec<_> = host.children_named("hostname").map(|h| &h.text).collect();
        assert_eq!(names, ["kubeapi", "a&b"]);
        let dhcp_host = root
            .child("ip")
            .and_then(|ip| ip.child("dhcp"))
            .and_then(|d| d.child("host"))
            .unwrap();
        assert_eq!(dhcp_host.attr("name"), Some("kA"));
    }

    #[test]
    fn reports_malformed_input() {
        assert!(parse("<a><b></a>").is_err());
        assert!(parse("<a x=1/>").is_err());
        assert!(parse("<a>").is_err());
        assert!(parse("<a/><b/>").is_err());
        assert!(parse("<a>&bogus;</a>").is_err());
    }

    #[test]
    fn escapes_round_trip() {
        let text = "a<b>&'\"";
        let root = parse(&format!("<x v='{}'>{}</x>", escape(text), escape(text))).unwrap();
        assert_eq!(root.attr("v"), Some(text));
        assert_eq!(root.text, text);
    }
}
