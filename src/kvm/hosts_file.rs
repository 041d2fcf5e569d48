//! The KVM host's hosts file: the cluster's block (`render::kvm`'s `local/hosts`, from
//! `# BEGIN kubewiz NAME` to `# END kubewiz NAME`) put in, replaced or taken out, with
//! every other line kept as it was.
//!
//! The install's libvirt-network phase puts it in, so that the KVM host itself — the
//! operator's kubectl, kubewiz's own API check — reaches the VMs and the API endpoint by
//! name; the VMs already resolve them through the libvirt network's DNS. `kubewiz reset`
//! takes it out.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Where the block goes unless `$KUBEWIZ_HOSTS_FILE` names another file.
pub const DEFAULT_PATH: &str = "/etc/hosts";

/// The hosts file kubewiz keeps the cluster's names in: `$KUBEWIZ_HOSTS_FILE`, else
/// /etc/hosts.
pub fn path() -> PathBuf {
    std::env::var_os("KUBEWIZ_HOSTS_FILE")
        .filter(|p| !p.is_empty())
        .map_or_else(|| PathBuf::from(DEFAULT_PATH), PathBuf::from)
}

fn begin(cluster: &str) -> String {
    format!("# BEGIN kubewiz {cluster}")
}

fn end(cluster: &str) -> String {
    format!("# END kubewiz {cluster}")
}

/// A hosts file whose block for the cluster cannot be told apart safely: nothing is
/// changed, and the operator is told which line to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BlockError {
    /// A BEGIN line (1-based) with no END after it.
    Unclosed { line: usize },
    /// A second BEGIN line for the same cluster.
    Repeated { line: usize },
    /// An END line with no BEGIN before it.
    StrayEnd { line: usize },
}

impl BlockError {
    /// The message, naming the file.
    pub fn describe(&self, file: &Path, cluster: &str) -> String {
        let (line, what) = match self {
            BlockError::Unclosed { line } => (
                line,
                format!(
                    "has \"{}\" but no \"{}\" after it",
                    begin(cluster),
                    end(cluster)
                ),
            ),
            BlockError::Repeated { line } => (line, format!("has a second \"{}\"", begin(cluster))),
            BlockError::StrayEnd { line } => (
                line,
                format!(
                    "has \"{}\" with no \"{}\" before it",
                    end(cluster),
                    begin(cluster)
                ),
            ),
        };
        format!(
            "{}:{line} {what}; kubewiz changes the file only where its block is clear. Fix or remove the cluster's lines there, then run again",
            file.display()
        )
    }
}

/// Where the cluster's block is: the 0-based index of its BEGIN and END lines.
fn find(lines: &[&str], cluster: &str) -> Result<Option<(usize, usize)>, BlockError> {
    let (b, e) = (begin(cluster), end(cluster));
    let mut found = None;
    let mut open = None;
    for (i, line) in lines.iter().enumerate() {
        let line = line.trim_end();
        if line == b {
            if open.is_some() || found.is_some() {
                return Err(BlockError::Repeated { line: i + 1 });
            }
            open = Some(i);
        } else if line == e {
            match open.take() {
                Some(start) => found = Some((start, i)),
                None => return Err(BlockError::StrayEnd { line: i + 1 }),
            }
        }
    }
    match open {
        Some(start) => Err(BlockError::Unclosed { line: start + 1 }),
        None => Ok(found),
    }
}

/// `text` with the cluster's block replaced by `block`, added at the end when there was
/// none, or taken out when `block` is None. Every other line stays as it was.
pub fn with_block(text: &str, cluster: &str, block: Option<&str>) -> Result<String, BlockError> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let at = find(&lines, cluster)?;
    let block = block.map(|b| {
        let mut b = b.to_owned();
        if !b.is_empty() && !b.ends_with('\n') {
            b.push('\n');
        }
        b
    });
    let mut out = String::with_capacity(text.len() + block.as_ref().map_or(0, String::len));
    match at {
        Some((start, stop)) => {
            lines[..start].iter().for_each(|l| out.push_str(l));
            if let Some(block) = &block {
                out.push_str(block);
            }
            lines[stop + 1..].iter().for_each(|l| out.push_str(l));
        }
        None => {
            out.push_str(text);
            if let Some(block) = &block {
                if !out.is_empty() && !out.ends_with('\n') {
                    out.push('\n');
                }
                out.push_str(block);
            }
        }
    }
    Ok(out)
}

/// What [`apply`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// The file already held exactly this (or had no block to take out).
    None,
    Written,
}

/// Puts the cluster's block into `file` (or takes it out with None). The file is
/// replaced atomically, with its mode kept; a file that cannot be replaced (a bind
/// mount, as /etc/hosts is in a container) is rewritten in place. With `dry_run`,
/// only says whether it would change.
pub fn apply(
    file: &Path,
    cluster: &str,
    block: Option<&str>,
    dry_run: bool,
) -> Result<Change, String> {
    let text = match fs::read_to_string(file) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound && block.is_none() => {
            return Ok(Change::None);
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => String::new(),
        Err(e) => return Err(format!("cannot read {}: {e}", file.display())),
    };
    let new = with_block(&text, cluster, block).map_err(|e| e.describe(file, cluster))?;
    if new == text {
        return Ok(Change::None);
    }
    if dry_run {
        return Ok(Change::Written);
    }
    let mode = fs::metadata(file).map_or(0o644, |m| m.permissions().mode() & 0o7777);
    crate::state::write_atomic(file, new.as_bytes(), mode)
        .or_else(|_| fs::write(file, new.as_bytes()))
        .map_err(|e| format!("cannot write {}: {e}", file.display()))?;
    Ok(Change::Written)
}

#[cfg(test)]
mod tests {
    use super::*;

    const BLOCK: &str = "# BEGIN kubewiz lab\n10.0.0.1\tcp-1\n# END kubewiz lab\n";

    #[test]
    fn a_block_is_added_at_the_end_replaced_and_taken_out() {
        let base = "127.0.0.1\tlocalhost\n::1\tlocalhost";
        let added = with_block(base, "lab", Some(BLOCK)).unwrap();
        assert_eq!(added, format!("{base}\n{BLOCK}"));
        assert_eq!(with_block(&added, "lab", Some(BLOCK)).unwrap(), added);
        let other = BLOCK.replace("10.0.0.1", "10.0.0.2");
        let replaced = with_block(&format!("{added}# mine\n"), "lab", Some(&other)).unwrap();
        assert_eq!(replaced, format!("{base}\n{other}# mine\n"));
        let removed = with_block(&replaced, "lab", None).unwrap();
        assert_eq!(removed, format!("{base}\n# mine\n"));
    }

    #[test]
    fn another_clusters_block_is_left_alone() {
        let other = BLOCK.replace("lab", "lab-2");
        let text = format!("{other}{BLOCK}");
        assert_eq!(with_block(&text, "lab", None).unwrap(), other);
        assert_eq!(with_block(&text, "la", None).unwrap(), text);
    }

    #[test]
    fn an_unclear_block_is_refused_with_its_line() {
        let unclosed = "a\n# BEGIN kubewiz lab\nb\n";
        assert_eq!(
            with_block(unclosed, "lab", None),
            Err(BlockError::Unclosed { line: 2 })
        );
        let twice = format!("{BLOCK}{BLOCK}");
        assert_eq!(
            with_block(&twice, "lab", None),
            Err(BlockError::Repeated { line: 4 })
        );
        let stray = "# END kubewiz lab\n";
        assert_eq!(
            with_block(stray, "lab", Some(BLOCK)),
            Err(BlockError::StrayEnd { line: 1 })
        );
        let message = BlockError::Unclosed { line: 2 }.describe(Path::new("/etc/hosts"), "lab");
        assert!(
            message.starts_with("/etc/hosts:2 has \"# BEGIN kubewiz lab\""),
            "{message}"
        );
    }

    #[test]
    fn apply_keeps_the_mode_and_writes_only_a_change() {
        let dir = std::env::temp_dir().join(format!("kubewiz-hosts-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let file = dir.join("hosts");
        fs::write(&file, "127.0.0.1 localhost\n").unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o640)).unwrap();
        assert_eq!(apply(&file, "lab", Some(BLOCK), true), Ok(Change::Written));
        assert_eq!(fs::read_to_string(&file).unwrap(), "127.0.0.1 localhost\n");
        assert_eq!(apply(&file, "lab", Some(BLOCK), false), Ok(Change::Written));
        assert_eq!(apply(&file, "lab", Some(BLOCK), false), Ok(Change::None));
        assert_eq!(
            fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o640
        );
        assert_eq!(apply(&file, "lab", None, false), Ok(Change::Written));
        assert_eq!(fs::read_to_string(&file).unwrap(), "127.0.0.1 localhost\n");
        assert_eq!(
            apply(&dir.join("none"), "lab", None, false),
            Ok(Change::None)
        );
        fs::remove_dir_all(&dir).unwrap();
    }
}
