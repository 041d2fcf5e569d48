//! Maps a field path (`hosts[2].address`) or a byte offset back to a line and column of
//! the preset text, so every problem can be reported as `FILE:LINE:COL`.

use std::fmt;
use std::ops::Range;

use serde_spanned::Spanned;
use toml::de::{DeTable, DeValue};

/// A 1-based line and column (in characters) in a preset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Position {
    pub line: usize,
    pub column: usize,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.column)
    }
}

/// Where each part of a parsed preset stands in its text: keys and values only.
enum Node {
    Table(Vec<(String, Range<usize>, Node)>),
    Array(Vec<(Range<usize>, Node)>),
    Leaf,
}

impl Node {
    fn from_table(table: &DeTable<'_>) -> Node {
        Node::Table(
            table
                .iter()
                .map(|(k, v)| (k.get_ref().to_string(), v.span(), Node::from_value(v)))
                .collect(),
        )
    }

    fn from_value(value: &Spanned<DeValue<'_>>) -> Node {
        match value.get_ref() {
            DeValue::Table(t) => Node::from_table(t),
            DeValue::Array(items) => Node::Array(
                items
                    .iter()
                    .map(|v| (v.span(), Node::from_value(v)))
                    .collect(),
            ),
            _ => Node::Leaf,
        }
    }

    fn child(&self, segment: &Segment<'_>) -> Option<(&Range<usize>, &Node)> {
        match (self, segment) {
            (Node::Table(entries), Segment::Key(key)) => entries
                .iter()
                .find(|(k, _, _)| k == key)
                .map(|(_, span, node)| (span, node)),
            (Node::Array(items), Segment::Index(i)) => items.get(*i).map(|(s, n)| (s, n)),
            _ => None,
        }
    }
}

/// The preset's text and where each of its fields stands.
pub struct SourceMap {
    text: String,
    root: Node,
}

impl SourceMap {
    /// Builds the map; text that is not valid TOML still maps byte offsets.
    pub fn new(text: &str) -> Self {
        let root = DeTable::parse(text).map_or(Node::Leaf, |t| Node::from_table(t.get_ref()));
        SourceMap {
            text: text.to_owned(),
            root,
        }
    }

    /// The position of a byte offset.
    pub fn position_of(&self, offset: usize) -> Position {
        let offset = offset.min(self.text.len());
        let before = &self.text[..floor_char_boundary(&self.text, offset)];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Position {
            line,
            column: before[line_start..].chars().count() + 1,
        }
    }

    /// The position of the value at `path`, or of the nearest enclosing part of the
    /// document that exists (a missing key points at its table; a field that is not in
    /// the file at all points at the start).
    pub fn locate(&self, path: &str) -> Position {
        let mut node = &self.root;
        let mut offset = 0;
        for segment in parse_path(path) {
            let Some((span, child)) = node.child(&segment) else {
                break;
            };
            offset = span.start;
            node = child;
        }
        self.position_of(offset)
    }
}

fn floor_char_boundary(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

#[derive(Debug, PartialEq)]
pub(crate) enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

/// Splits `hosts[2].address` into `hosts`, `2`, `address`.
pub(crate) fn parse_path(path: &str) -> Vec<Segment<'_>> {
    let mut segments = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if !key.is_empty() {
            segments.push(Segment::Key(key));
        }
        while let Some((index, after)) = rest.split_once(']') {
            match index.parse() {
                Ok(i) => segments.push(Segment::Index(i)),
                Err(_) => return segments,
            }
            rest = after.strip_prefix('[').unwrap_or(after);
        }
    }
    segments
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "name = \"lab\"\n\n[kubernetes]\npod_cidr = \"10.244.0.0/16\"\n\n[[hosts]]\nname = \"a\"\n\n[[hosts]]\nname = \"b\"\naddress = \"10.0.0.2\"\nroles = [\"worker\", \"etcd\"]\n";

    #[test]
    fn paths_split() {
        assert_eq!(
            parse_path("hosts[2].roles[1]"),
            vec![
                Segment::Key("hosts"),
                Segment::Index(2),
                Segment::Key("roles"),
                Segment::Index(1)
            ]
        );
    }

    #[test]
    fn locates_values() {
        let map = SourceMap::new(TEXT);
        assert_eq!(map.locate("name").to_string(), "1:8");
        assert_eq!(map.locate("kubernetes.pod_cidr").to_string(), "4:12");
        assert_eq!(map.locate("hosts[1].address").to_string(), "11:11");
        assert_eq!(map.locate("hosts[1].roles[1]").to_string(), "12:20");
    }

    #[test]
    fn missing_fields_point_at_their_table() {
        let map = SourceMap::new(TEXT);
        // hosts[0] has no address: point at the host's table.
        let host = map.locate("hosts[0]");
        assert_eq!(map.locate("hosts[0].address"), host);
        assert_eq!(map.locate("control_plane.vip").to_string(), "1:1");
    }
}
