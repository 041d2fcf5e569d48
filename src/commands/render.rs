//! `kubewiz render --preset FILE --out DIR`: the rendered tree of DESIGN.md.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::prepare::prepare;
use super::{EXIT_FAILED, EXIT_OK};
use crate::render::{File, Target};

/// Marks a directory as written by `kubewiz render`, so a later render may replace it.
const MARKER: &str = ".kubewiz-render";

pub fn run(state_dir: Option<&Path>, preset: &Path, out: &Path) -> ExitCode {
    let prepared = match prepare(state_dir, preset) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let plan_text = prepared.plan.to_string();
    match write_tree(out, &prepared.files, &plan_text) {
        Ok(()) => {
            eprintln!(
                "kubewiz: wrote {} files for {} hosts and the KVM host to {}",
                prepared.files.len(),
                prepared.spec.hosts.len(),
                out.display()
            );
            ExitCode::from(EXIT_OK)
        }
        Err(e) => {
            eprintln!("kubewiz: cannot write {}: {e}", out.display());
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// Where a file stands in the rendered tree.
pub fn tree_path(file: &File) -> PathBuf {
    match &file.target {
        Target::Host(host) => Path::new("hosts")
            .join(host)
            .join(file.path.trim_start_matches('/')),
        Target::Local => Path::new("local").join(&file.path),
    }
}

/// Writes the whole tree next to `out`, then puts it in place with renames, so `out`
/// is never half written. An `out` that holds anything but an earlier render is left
/// alone.
pub fn write_tree(out: &Path, files: &[File], plan_text: &str) -> io::Result<()> {
    if out.exists() {
        let earlier = out.join(MARKER).is_file();
        let empty = out.is_dir() && fs::read_dir(out)?.next().is_none();
        if !earlier && !empty {
            return Err(io::Error::other(
                "it exists and is not an earlier kubewiz render; give a new or empty directory",
            ));
        }
    }
    let parent = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fs::create_dir_all(parent)?;
    let name = out.file_name().and_then(|n| n.to_str()).unwrap_or("render");
    let staging = parent.join(format!(".{name}.partial{}", std::process::id()));
    if staging.exists() {
        fs::remove_dir_all(&staging)?;
    }
    let result = (|| {
        for file in files {
            write_file(
                &staging.join(tree_path(file)),
                file.content.as_bytes(),
                file.mode,
            )?;
        }
        write_file(&staging.join("plan.txt"), plan_text.as_bytes(), 0o644)?;
        write_file(&staging.join(MARKER), b"", 0o644)
    })();
    if let Err(e) = result {
        let _ = fs::remove_dir_all(&staging);
        return Err(e);
    }
    if out.exists() {
        let old = parent.join(format!(".{name}.old{}", std::process::id()));
        fs::rename(out, &old)?;
        fs::rename(&staging, out)?;
        fs::remove_dir_all(&old)?;
    } else {
        fs::rename(&staging, out)?;
    }
    Ok(())
}

fn write_file(path: &Path, content: &[u8], mode: u32) -> io::Result<()> {
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir)?;
    }
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(mode)
        .open(path)?;
    f.write_all(content)?;
    // The umask may have narrowed the mode; the tree shows the mode the host gets.
    f.set_permissions(fs::Permissions::from_mode(mode))
}
