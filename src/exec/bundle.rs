//! The bundle's programs on their way to the hosts (`Action::UploadBundle`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use crate::plan::BundlePick;

/// The bundle's programs, read from the KVM host once per run and shared by every
/// host's upload: a bundle is hundreds of megabytes, and a copy per host would
/// multiply kubewiz's memory by the hosts uploading at once. A file whose size or
/// modification time changed since it was read is read again.
#[derive(Default)]
pub struct BundleCache(Mutex<BTreeMap<PathBuf, Cached>>);

/// A program of the bundle: its file name and content.
pub type Program = (String, Arc<[u8]>);

struct Cached {
    modified: Option<std::time::SystemTime>,
    content: Arc<[u8]>,
}

impl BundleCache {
    /// The programs of the bundle directory `dir` that `pick` takes, by name.
    pub fn files(&self, dir: &Path, pick: &BundlePick) -> Result<Vec<Program>, String> {
        let entries = std::fs::read_dir(dir).map_err(|e| {
            format!(
                "cannot read the bundle directory {}: {e}; packages.bundle_dir must hold bin/",
                dir.display()
            )
        })?;
        let mut found = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", dir.display()))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if !pick.takes(&name) {
                continue;
            }
            // Followed like `is_file`: a bundle may link its programs.
            let path = entry.path();
            let meta = std::fs::metadata(&path).map_err(|e| format!("{}: {e}", path.display()))?;
            if meta.is_file() {
                found.push((name, path, meta));
            }
        }
        if let BundlePick::Only(only) = pick
            && let Some(missing) = only.iter().find(|p| !found.iter().any(|(n, ..)| n == *p))
        {
            return Err(format!(
                "the bundle directory {} has no {missing}; put {} there",
                dir.display(),
                only.join(" and ")
            ));
        }
        if found.is_empty() {
            return Err(format!(
                "the bundle directory {} holds no programs",
                dir.display()
            ));
        }
        found.sort_by(|a, b| a.0.cmp(&b.0));
        let mut cache = self.0.lock().unwrap_or_else(|e| e.into_inner());
        found
            .into_iter()
            .map(|(name, path, meta)| {
                let modified = meta.modified().ok();
                if let Some(c) = cache.get(&path)
                    && c.content.len() as u64 == meta.len()
                    && c.modified == modified
                {
                    return Ok((name, c.content.clone()));
                }
                let content: Arc<[u8]> = std::fs::read(&path)
                    .map_err(|e| format!("{}: {e}", path.display()))?
                    .into();
                let cached = Cached {
                    modified,
                    content: content.clone(),
                };
                cache.insert(path, cached);
                Ok((name, content))
            })
            .collect()
    }
}
