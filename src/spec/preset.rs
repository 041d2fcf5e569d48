//! Loading and saving presets (TOML).

use std::fmt;
use std::path::{Path, PathBuf};

use std::borrow::Cow;

use serde_spanned::Spanned;
use toml::de::{DeTable, DeValue};

use super::source::{Segment, parse_path};
use super::{ClusterSpec, Diagnostic, SourceMap};

/// A preset that could not be turned into a spec.
#[derive(Debug)]
pub enum LoadError {
    /// The file could not be read.
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    /// The text is not a valid preset; `text` is kept to place the diagnostics.
    Invalid {
        text: String,
        diagnostics: Vec<Diagnostic>,
    },
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LoadError::Read { path, error } => {
                write!(f, "cannot read {}: {error}", path.display())
            }
            LoadError::Invalid { diagnostics, .. } => {
                write!(f, "the preset has {} problem(s)", diagnostics.len())
            }
        }
    }
}

impl std::error::Error for LoadError {}

/// A spec loaded from a file, with its text kept to place later diagnostics.
pub struct Preset {
    pub spec: ClusterSpec,
    pub text: String,
}

impl Preset {
    pub fn source_map(&self) -> SourceMap {
        SourceMap::new(&self.text)
    }
}

/// Reads and parses a preset file.
pub fn load_file(path: &Path) -> Result<Preset, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|error| LoadError::Read {
        path: path.to_owned(),
        error,
    })?;
    match parse(&text) {
        Ok(spec) => Ok(Preset { spec, text }),
        Err(diagnostics) => Err(LoadError::Invalid { text, diagnostics }),
    }
}

/// The most problems of the kind that stop a spec from being built (syntax, unknown
/// keys, values of the wrong type, missing fields) reported for one file.
const MAX_LOAD_ERRORS: usize = 64;

/// Parses preset text into a spec, or returns every problem that prevents it.
///
/// serde stops at the first bad value; to report them all, the parsed document is
/// repaired after each error (the bad value taken out, a missing required field given
/// a placeholder) and deserialized again. The document keeps its original spans, so
/// every problem still points into the operator's text.
pub fn parse(text: &str) -> Result<ClusterSpec, Vec<Diagnostic>> {
    let mut root = match DeTable::parse(text) {
        Ok(root) => root,
        Err(error) => {
            return Err(vec![Diagnostic {
                span: error.span(),
                ..Diagnostic::error("toml", one_line(error.message()))
            }]);
        }
    };
    let mut diagnostics: Vec<Diagnostic> = Vec::new();
    while diagnostics.len() < MAX_LOAD_ERRORS {
        let deserializer = toml::de::Deserializer::from(root.clone());
        let error = match serde_path_to_error::deserialize::<_, ClusterSpec>(deserializer) {
            Ok(spec) if diagnostics.is_empty() => return Ok(spec),
            Ok(_) => break,
            Err(error) => error,
        };
        let path = error.path().to_string();
        let error = error.into_inner();
        let message = match missing_field(error.message()) {
            Some(field) => format!("`{field}` is required but missing; add {field} = ..."),
            None => one_line(error.message()),
        };
        let path = if path == "." { String::new() } else { path };
        if diagnostics
            .iter()
            .any(|d| d.path == path && d.message == message)
        {
            break;
        }
        let repaired = repair(root.get_mut(), &path, error.message());
        diagnostics.push(Diagnostic {
            span: error.span(),
            ..Diagnostic::error(if path.is_empty() { "preset" } else { &path }, message)
        });
        if !repaired {
            break;
        }
    }
    Err(diagnostics)
}

/// Writes a spec as a preset that [`parse`] reads back to the same spec.
pub fn to_toml(spec: &ClusterSpec) -> String {
    let body = toml::to_string(spec).expect("a ClusterSpec always serializes to TOML");
    format!("# kubewiz preset: kubewiz --preset FILE\n{body}")
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn missing_field(message: &str) -> Option<&str> {
    message.strip_prefix("missing field `")?.split('`').next()
}

/// A value that stands in for a required field that is missing or wrong, so the rest
/// of the document can still be checked. It never reaches a spec: a preset with a
/// load error gives no spec at all.
fn placeholder(parents: &[Segment<'_>], key: &str) -> Option<DeValue<'static>> {
    let text = match (parents, key) {
        ([], "name") => "placeholder",
        ([], "topology") => "single-node",
        ([Segment::Key("hosts"), Segment::Index(_)], "name") => "placeholder",
        ([Segment::Key("hosts"), Segment::Index(_)], "address") => "0.0.0.0",
        _ => return None,
    };
    Some(DeValue::String(Cow::Borrowed(text)))
}

/// Takes the problem at `path` out of the document; false when it cannot.
///
/// A bad value is removed with its key (a bad item takes its whole array with it, so
/// later items keep their indexes in any message); a required field gets a placeholder.
fn repair(root: &mut DeTable<'_>, path: &str, message: &str) -> bool {
    let segments = parse_path(path);
    if let Some(field) = missing_field(message) {
        let (Some(table), Some(value)) = (table_at(root, &segments), placeholder(&segments, field))
        else {
            return false;
        };
        table.insert(
            Spanned::new(0..0, Cow::Owned(field.to_owned())),
            Spanned::new(0..0, value),
        );
        return true;
    }
    let Some(k) = segments.iter().rposition(|s| matches!(s, Segment::Key(_))) else {
        return false;
    };
    let Segment::Key(key) = segments[k] else {
        return false;
    };
    let Some(table) = table_at(root, &segments[..k]) else {
        return false;
    };
    match (table.remove(key), placeholder(&segments[..k], key)) {
        (None, _) => false,
        (Some(_), None) => true,
        (Some(old), Some(value)) => {
            table.insert(
                Spanned::new(0..0, Cow::Owned(key.to_owned())),
                Spanned::new(old.span(), value),
            );
            true
        }
    }
}

fn table_at<'a, 'i>(
    root: &'a mut DeTable<'i>,
    segments: &[Segment<'_>],
) -> Option<&'a mut DeTable<'i>> {
    let mut value: Option<&'a mut DeValue<'i>> = None;
    let mut table = Some(root);
    for segment in segments {
        let next = match (segment, table.take(), value.take()) {
            (Segment::Key(key), Some(t), _) => t.get_mut(*key),
            (Segment::Index(i), _, Some(DeValue::Array(items))) => items.get_mut(*i),
            _ => None,
        }?;
        match next.get_mut() {
            DeValue::Table(t) => table = Some(t),
            other => value = Some(other),
        }
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<String> {
        parse(text)
            .unwrap_err()
            .iter()
            .map(|d| d.path.clone())
            .collect()
    }

    #[test]
    fn reports_every_load_error_at_once() {
        let text = "name = \"Lab\"\ntopology = \"stacked-ha\"\ncolour = 1\n[kubernetes]\nversion = \"1.34\"\n[[hosts]]\nname = \"a\"\nroles = [\"master\", \"boss\"]\n[[hosts]]\naddress = \"10.0.0.300\"\n";
        let mut paths = problems(text);
        paths.sort();
        assert_eq!(
            paths,
            [
                "colour",
                "hosts[0]",
                "hosts[0].roles[0]",
                "hosts[1]",
                "hosts[1].address",
                "kubernetes.version",
                "name"
            ]
        );
    }

    #[test]
    fn a_valid_preset_loads() {
        let spec = parse("name = \"lab\"\ntopology = \"single-node\"\n").unwrap();
        assert_eq!(spec.name.as_str(), "lab");
        assert!(spec.hosts.is_empty());
    }
}
