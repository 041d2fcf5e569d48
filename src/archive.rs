//! A backup archive (`kubewiz backup`, read by `kubewiz restore`): one gzip'd tar
//! holding `manifest.json` first (the cluster, when, and every other file's SHA-256,
//! size and mode), then the etcd snapshot, the cluster's PKI, the applied preset and
//! the operator's admin.conf. Beside it, `<archive>.sha256` in `sha256sum`'s format
//! covers every byte of the archive; the manifest covers every file in it, so a copy
//! without its `.sha256` is still checked file by file. Archives are written
//! atomically, 0600: they hold the cluster's keys and every Secret.
//!
//! Archives are read whole into memory: an etcd snapshot is bounded by etcd's quota
//! (2 GiB by default).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::sha256_hex;

/// The manifest's name: the archive's first entry.
pub const MANIFEST: &str = "manifest.json";
/// The etcd snapshot's name in the archive.
pub const SNAPSHOT: &str = "etcd/snapshot.db";
/// The applied preset's name in the archive.
pub const PRESET: &str = "preset.toml";
/// The operator's kubeconfig's name in the archive.
pub const ADMIN_CONF: &str = "admin.conf";
/// Where the PKI's files are in the archive: `pki/<path under the state's pki/>`.
pub const PKI_PREFIX: &str = "pki/";

/// The only format there is so far.
const FORMAT: u32 = 1;

/// What the archive says of itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub cluster: String,
    /// When the snapshot was taken (RFC 3339, UTC).
    pub created: String,
    /// The kubewiz that wrote it.
    pub kubewiz: String,
    /// The host the snapshot was taken on.
    pub snapshot_host: String,
    pub files: Vec<Entry>,
}

/// One file of the archive, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub path: String,
    pub sha256: String,
    pub size: u64,
    pub mode: u32,
}

/// A file to put into an archive.
pub struct Member {
    pub path: String,
    pub mode: u32,
    pub content: Vec<u8>,
}

/// What was written: the archive's SHA-256 and size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub sha256: String,
    pub bytes: u64,
}

/// An archive read and checked: its manifest, its files by path, and its SHA-256.
#[derive(Debug)]
pub struct Checked {
    pub manifest: Manifest,
    pub files: BTreeMap<String, Vec<u8>>,
    pub sha256: String,
    /// Whether a `.sha256` beside the archive was found and matched.
    pub sidecar: bool,
}

impl Checked {
    pub fn file(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(Vec::as_slice)
    }

    /// The PKI's files: path under `pki/`, mode, content.
    pub fn pki(&self) -> impl Iterator<Item = (&str, u32, &[u8])> {
        self.manifest.files.iter().filter_map(|e| {
            let rel = e.path.strip_prefix(PKI_PREFIX)?;
            Some((rel, e.mode, self.files.get(&e.path)?.as_slice()))
        })
    }
}

/// Why an archive cannot be written or was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {message}")]
    Io { path: PathBuf, message: String },
    #[error("{path} is damaged or was changed: {what}; nothing was restored from it")]
    Damaged { path: PathBuf, what: String },
}

/// The `.sha256` file beside `archive`.
pub fn sidecar(archive: &Path) -> PathBuf {
    let mut name = archive.file_name().unwrap_or_default().to_os_string();
    name.push(".sha256");
    archive.with_file_name(name)
}

/// Writes `members` with a manifest made from them into `path` (0600, atomically),
/// and the `.sha256` beside it.
pub fn write(
    path: &Path,
    cluster: &str,
    created: &str,
    snapshot_host: &str,
    members: &[Member],
) -> Result<Written, Error> {
    let io = |e: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let manifest = Manifest {
        format: FORMAT,
        cluster: cluster.to_owned(),
        created: created.to_owned(),
        kubewiz: env!("CARGO_PKG_VERSION").to_owned(),
        snapshot_host: snapshot_host.to_owned(),
        files: members
            .iter()
            .map(|m| Entry {
                path: m.path.clone(),
                sha256: sha256_hex(&m.content),
                size: m.content.len() as u64,
                mode: m.mode,
            })
            .collect(),
    };
    let manifest_json = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    {
        let mut tar = tar::Builder::new(&mut gz);
        let mut add = |name: &str, mode: u32, content: &[u8]| {
            let mut header = tar::Header::new_gnu();
            header.set_size(content.len() as u64);
            header.set_mode(mode);
            header.set_mtime(0);
            header.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut header, name, content)
        };
        add(MANIFEST, 0o600, &manifest_json).map_err(io)?;
        for m in members {
            add(&m.path, m.mode, &m.content).map_err(io)?;
        }
        tar.finish().map_err(io)?;
    }
    let bytes = gz.finish().map_err(io)?;
    let sha256 = sha256_hex(&bytes);
    crate::state::write_atomic(path, &bytes, 0o600).map_err(io)?;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    crate::state::write_atomic(
        &sidecar(path),
        format!("{sha256}  {name}\n").as_bytes(),
        0o600,
    )
    .map_err(io)?;
    Ok(Written {
        sha256,
        bytes: bytes.len() as u64,
    })
}

/// Where a backup's files are on the KVM host when its archive is packed: the
/// snapshot fetched from the host, the kept PKI (every file under `pki_dir`), the preset
/// the cluster was last applied with (`preset`, or the text given when none is kept) and
/// the operator's admin.conf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sources {
    pub snapshot: PathBuf,
    pub pki_dir: PathBuf,
    pub preset: PathBuf,
    pub admin_conf: PathBuf,
}

/// Writes the backup archive `path` of `cluster` from `sources` as [`write`] does, its
/// snapshot taken on `snapshot_host` at `created`; `preset_text` stands in for a preset
/// the state directory does not keep.
pub fn pack(
    path: &Path,
    cluster: &str,
    created: &str,
    snapshot_host: &str,
    sources: &Sources,
    preset_text: &[u8],
) -> Result<Written, Error> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|e| Error::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    };
    let mut members = vec![Member {
        path: SNAPSHOT.into(),
        mode: 0o600,
        content: read(&sources.snapshot)?,
    }];
    for (rel, mode) in files_under(&sources.pki_dir)? {
        members.push(Member {
            path: format!("{PKI_PREFIX}{}", rel.display()),
            mode,
            content: read(&sources.pki_dir.join(&rel))?,
        });
    }
    members.push(Member {
        path: PRESET.into(),
        mode: 0o644,
        content: std::fs::read(&sources.preset).unwrap_or_else(|_| preset_text.to_vec()),
    });
    members.push(Member {
        path: ADMIN_CONF.into(),
        mode: 0o600,
        content: read(&sources.admin_conf)?,
    });
    write(path, cluster, created, snapshot_host, &members)
}

/// Every file under `dir` (relative path, mode), sorted; a renewal's unfinished list
/// is kept too, as it is part of the PKI's state.
fn files_under(dir: &Path) -> Result<Vec<(PathBuf, u32)>, Error> {
    use std::os::unix::fs::PermissionsExt;
    let io = |path: &Path, e: std::io::Error| Error::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut out = Vec::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let here = dir.join(&rel);
        for entry in std::fs::read_dir(&here).map_err(|e| io(&here, e))? {
            let entry = entry.map_err(|e| io(&here, e))?;
            let meta = entry.metadata().map_err(|e| io(&entry.path(), e))?;
            let child = rel.join(entry.file_name());
            if meta.is_dir() {
                todo.push(child);
            } else if meta.is_file() {
                out.push((child, meta.permissions().mode() & 0o777));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// The time of `now` as a manifest's `created` says it (RFC 3339) and as an archive's
/// name does (`YYYYMMDDTHHMMSSZ`).
pub fn stamps(now: time::OffsetDateTime) -> (String, String) {
    let created = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let stamp = now
        .format(&time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "backup".into());
    (created, stamp)
}

/// Reads the archive at `path` and checks it whole: its `.sha256` when there is one,
/// the gzip stream to its end with nothing after it, the manifest first, every file
/// listed once with its size and SHA-256, and nothing unlisted.
pub fn read(path: &Path) -> Result<Checked, Error> {
    let bytes = std::fs::read(path).map_err(|e| Error::Io {
        path: path.to_path_buf(),
        message: format!("cannot read it: {e}"),
    })?;
    let damaged = |what: String| Error::Damaged {
        path: path.to_path_buf(),
        what,
    };
    let sha256 = sha256_hex(&bytes);
    let beside = sidecar(path);
    let sidecar = match std::fs::read_to_string(&beside) {
        Ok(text) => {
            let said = text.split_whitespace().next().unwrap_or_default();
            if said != sha256 {
                return Err(damaged(format!(
                    "its SHA-256 is {sha256}, {} says {said}",
                    beside.display()
                )));
            }
            true
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
        Err(e) => {
            return Err(Error::Io {
                path: beside,
                message: format!("cannot read it: {e}"),
            });
        }
    };
    let mut decoder = flate2::read::GzDecoder::new(bytes.as_slice());
    let mut tar_bytes = Vec::new();
    decoder
        .read_to_end(&mut tar_bytes)
        .map_err(|e| damaged(format!("not a whole gzip stream ({e})")))?;
    if !decoder.into_inner().is_empty() {
        return Err(damaged("bytes follow the end of its gzip stream".into()));
    }
    let mut files: BTreeMap<String, Vec<u8>> = BTreeMap::new();
    let mut order = Vec::new();
    let mut tar = tar::Archive::new(tar_bytes.as_slice());
    let entries = tar
        .entries()
        .map_err(|e| damaged(format!("not a tar archive ({e})")))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| damaged(format!("a tar header is broken ({e})")))?;
        let name = entry
            .path()
            .map_err(|e| damaged(format!("a name is unreadable ({e})")))?
            .to_string_lossy()
            .into_owned();
        if !plain_relative(&name) {
            return Err(damaged(format!("it holds the path {name:?}")));
        }
        let mut content = Vec::new();
        entry
            .read_to_end(&mut content)
            .map_err(|e| damaged(format!("{name} is cut short ({e})")))?;
        if files.insert(name.clone(), content).is_some() {
            return Err(damaged(format!("{name} is in it twice")));
        }
        order.push(name);
    }
    if order.first().map(String::as_str) != Some(MANIFEST) {
        return Err(damaged(format!("its first file is not {MANIFEST}")));
    }
    let manifest: Manifest = serde_json::from_slice(&files.remove(MANIFEST).unwrap_or_default())
        .map_err(|e| damaged(format!("{MANIFEST} does not parse ({e})")))?;
    if manifest.format != FORMAT {
        return Err(damaged(format!(
            "it is of format {}; this kubewiz reads format {FORMAT}",
            manifest.format
        )));
    }
    for entry in &manifest.files {
        let content = files
            .get(&entry.path)
            .ok_or_else(|| damaged(format!("{} is listed but missing", entry.path)))?;
        let digest = sha256_hex(content);
        if content.len() as u64 != entry.size || digest != entry.sha256 {
            return Err(damaged(format!(
                "{} has {} bytes with SHA-256 {digest}; the manifest lists {} bytes with {}",
                entry.path,
                content.len(),
                entry.size,
                entry.sha256
            )));
        }
    }
    if let Some(extra) = files
        .keys()
        .find(|name| !manifest.files.iter().any(|e| &e.path == *name))
    {
        return Err(damaged(format!("{extra} is in it but not in {MANIFEST}")));
    }
    if !files.contains_key(SNAPSHOT) {
        return Err(damaged(format!("it has no {SNAPSHOT}")));
    }
    Ok(Checked {
        manifest,
        files,
        sha256,
        sidecar,
    })
}

/// The name `kubewiz backup` gives an archive of `cluster` taken at `stamp`
/// (`YYYYMMDDTHHMMSSZ`, UTC).
pub fn file_name(cluster: &str, stamp: &str) -> String {
    format!("{cluster}-{stamp}.tar.gz")
}

/// Deletes all but the newest `keep` archives of `cluster` in `dir` (by the time in
/// their names), each with its `.sha256`; only files named as [`file_name`] names them
/// are touched. The deleted archives, oldest first.
pub fn prune(dir: &Path, cluster: &str, keep: usize) -> std::io::Result<Vec<PathBuf>> {
    let prefix = format!("{cluster}-");
    let mut archives: Vec<(String, PathBuf)> = std::fs::read_dir(dir)?
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stamp = name.strip_prefix(&prefix)?.strip_suffix(".tar.gz")?;
            let is_stamp = stamp.len() == 16
                && stamp.bytes().enumerate().all(|(i, b)| match i {
                    8 => b == b'T',
                    15 => b == b'Z',
                    _ => b.is_ascii_digit(),
                });
            (is_stamp && e.path().is_file()).then(|| (stamp.to_owned(), e.path()))
        })
        .collect();
    archives.sort();
    let old = archives.len().saturating_sub(keep);
    let mut deleted = Vec::new();
    for (_, path) in archives.into_iter().take(old) {
        std::fs::remove_file(&path)?;
        match std::fs::remove_file(sidecar(&path)) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
        deleted.push(path);
    }
    Ok(deleted)
}

/// A path of plain names only: no root, no `..`, nothing empty.
fn plain_relative(name: &str) -> bool {
    !name.is_empty()
        && Path::new(name)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// Writes what `checked` holds under `prefix` into `dir` (private, atomically), each
/// file with its mode.
pub fn extract(checked: &Checked, prefix: &str, dir: &Path) -> Result<usize, Error> {
    let mut count = 0;
    for entry in &checked.manifest.files {
        let Some(rel) = entry.path.strip_prefix(prefix) else {
            continue;
        };
        let to = dir.join(rel);
        let content = &checked.files[&entry.path];
        crate::state::write_atomic(&to, content, entry.mode & 0o777).map_err(|e| Error::Io {
            path: to.clone(),
            message: e.to_string(),
        })?;
        count += 1;
    }
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members() -> Vec<Member> {
        vec![
            Member {
                path: SNAPSHOT.into(),
                mode: 0o600,
                content: b"snapshot bytes".to_vec(),
            },
            Member {
                path: "pki/ca.key".into(),
                mode: 0o600,
                content: b"KEY".to_vec(),
            },
            Member {
                path: PRESET.into(),
                mode: 0o644,
                content: b"name = \"x\"\n".to_vec(),
            },
        ]
    }

    #[test]
    fn what_is_written_reads_back_whole() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.tar.gz");
        let written = write(&path, "lab", "2026-12-04T00:00:00Z", "m1", &members()).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let checked = read(&path).unwrap();
        assert!(checked.sidecar);
        assert_eq!(checked.sha256, written.sha256);
        assert_eq!(checked.manifest.cluster, "lab");
        assert_eq!(checked.file(SNAPSHOT), Some(&b"snapshot bytes"[..]));
        let pki: Vec<_> = checked.pki().collect();
        assert_eq!(pki, [("ca.key", 0o600, &b"KEY"[..])]);
        let out = dir.path().join("pki");
        assert_eq!(extract(&checked, PKI_PREFIX, &out).unwrap(), 1);
        assert_eq!(std::fs::read(out.join("ca.key")).unwrap(), b"KEY");
    }

    #[test]
    fn every_changed_byte_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.tar.gz");
        write(&path, "lab", "2026-12-04T00:00:00Z", "m1", &members()).unwrap();
        let good = std::fs::read(&path).unwrap();
        for at in 0..good.len() {
            let mut bad = good.clone();
            bad[at] ^= 0x01;
            std::fs::write(&path, &bad).unwrap();
            let err = read(&path).unwrap_err().to_string();
            assert!(err.contains("damaged or was changed"), "byte {at}: {err}");
        }
    }

    #[test]
    fn without_its_sha256_a_changed_file_is_still_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("b.tar.gz");
        write(&path, "lab", "2026-12-04T00:00:00Z", "m1", &members()).unwrap();
        std::fs::remove_file(sidecar(&path)).unwrap();
        assert!(!read(&path).unwrap().sidecar);
        // The same files, one of them changed, under the original manifest.
        let checked = read(&path).unwrap();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        {
            let mut tar = tar::Builder::new(&mut gz);
            let manifest = serde_json::to_vec(&checked.manifest).unwrap();
            let mut add = |name: &str, content: &[u8]| {
                let mut h = tar::Header::new_gnu();
                h.set_size(content.len() as u64);
                h.set_mode(0o600);
                tar.append_data(&mut h, name, content).unwrap();
            };
            add(MANIFEST, &manifest);
            add(SNAPSHOT, b"snapshot bytez");
            add("pki/ca.key", b"KEY");
            add(PRESET, b"name = \"x\"\n");
            tar.finish().unwrap();
        }
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("etcd/snapshot.db has 14 bytes"), "{err}");
    }

    #[test]
    fn pruning_keeps_the_newest_and_touches_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let stamps = ["20261201T020000Z", "20261202T020000Z", "20261203T020000Z"];
        for stamp in stamps {
            let path = dir.path().join(file_name("lab", stamp));
            write(&path, "lab", stamp, "m1", &members()).unwrap();
        }
        // Not this cluster's, not an archive's name: never touched.
        for other in [
            "lab2-20261101T020000Z.tar.gz",
            "lab-notes.tar.gz",
            "lab-20261101T020000Z.txt",
        ] {
            std::fs::write(dir.path().join(other), "x").unwrap();
        }
        let deleted = prune(dir.path(), "lab", 2).unwrap();
        assert_eq!(deleted, [dir.path().join(file_name("lab", stamps[0]))]);
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            [
                "lab-20261101T020000Z.txt",
                "lab-20261202T020000Z.tar.gz",
                "lab-20261202T020000Z.tar.gz.sha256",
                "lab-20261203T020000Z.tar.gz",
                "lab-20261203T020000Z.tar.gz.sha256",
                "lab-notes.tar.gz",
                "lab2-20261101T020000Z.tar.gz",
            ]
        );
        assert!(prune(dir.path(), "lab", 2).unwrap().is_empty());
    }

    #[test]
    fn paths_outside_the_archive_are_refused() {
        assert!(plain_relative("pki/etcd/ca.crt"));
        assert!(!plain_relative("/etc/passwd"));
        assert!(!plain_relative("pki/../../x"));
        assert!(!plain_relative(""));
    }
}
