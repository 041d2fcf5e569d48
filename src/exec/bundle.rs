//! The bundle's programs on their way to the hosts (`Action::UploadBundle`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::transport::LocalFile;
use crate::plan::BundlePick;

/// The bundle's programs, hashed once per run and shared by every host's upload; each
/// upload then reads its program from disk a piece at a time as it is sent
/// ([`LocalFile`]), so kubewiz's memory does not grow with the bundle's size or with the
/// hosts uploading at once. A file whose size or modification time changed since it was
/// hashed is hashed again; a change the look misses is caught by the host's check of
/// what arrived.
#[derive(Default)]
pub struct BundleCache(tokio::sync::Mutex<BTreeMap<PathBuf, Cached>>);

/// A program of the bundle: its file name and the file to send.
pub type Program = (String, Arc<LocalFile>);

struct Cached {
    modified: Option<std::time::SystemTime>,
    file: Arc<LocalFile>,
}

impl BundleCache {
    /// The programs of the bundle directory `dir` that `pick` takes, by name.
    pub async fn files(&self, dir: &Path, pick: &BundlePick) -> Result<Vec<Program>, String> {
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
        // Held while a program is hashed: the hosts that need it wait for the one reading
        // it rather than each reading it too.
        let mut cache = self.0.lock().await;
        let mut programs = Vec::with_capacity(found.len());
        for (name, path, meta) in found {
            let modified = meta.modified().ok();
            if let Some(c) = cache.get(&path)
                && c.file.len == meta.len()
                && c.modified == modified
            {
                programs.push((name, c.file.clone()));
                continue;
            }
            let source = path.clone();
            let file = tokio::task::spawn_blocking(move || LocalFile::hash(source))
                .await
                .map_err(|e| format!("{}: the read stopped: {e}", path.display()))?
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let file = Arc::new(file);
            cache.insert(
                path,
                Cached {
                    modified,
                    file: file.clone(),
                },
            );
            programs.push((name, file));
        }
        Ok(programs)
    }
}
