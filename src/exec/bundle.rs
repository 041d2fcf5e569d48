//! The bundle's programs on their way to the hosts (`Action::UploadBundle`), and what
//! the bundle's images lack for a preset, as its own kubeadm lists them.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::transport::LocalFile;
use crate::plan::BundlePick;
use crate::spec::ClusterSpec;
use crate::spec::layout::Layout;

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

/// The images `kubeadm config images list` names for `spec`'s version and repository,
/// asked of the bundle's own kubeadm, run here on the KVM host: the one program that
/// knows for its release which pause, CoreDNS and etcd the cluster runs. An error says
/// why it could not be asked (a bundle for another architecture, no kubeadm).
pub fn kubeadm_images(spec: &ClusterSpec) -> Result<Vec<String>, String> {
    let dir = spec
        .packages
        .bundle_dir
        .as_deref()
        .ok_or("the preset names no packages.bundle_dir")?;
    let kubeadm = dir.join("bin/kubeadm");
    let version = spec.kubernetes.version.tag();
    let repo = spec.kubernetes.image_repository.to_string();
    let args = [
        "config",
        "images",
        "list",
        "--kubernetes-version",
        &version,
        "--image-repository",
        &repo,
    ];
    let shown = format!("{} {}", kubeadm.display(), args.join(" "));
    let stdout = run_here(&kubeadm, &args, &shown)?;
    let images: Vec<String> = stdout
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect();
    if images.is_empty() {
        return Err(format!("{shown} listed no image"));
    }
    Ok(images)
}

/// The version a program of the bundle reports, run here: the first line of
/// `kubeadm version -o short`, `kubectl version --client`, `helm version --short`,
/// `etcdctl version`, or `--version` for the others.
pub fn program_version(path: &Path) -> Result<String, String> {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let args: &[&str] = match name.as_ref() {
        "kubeadm" => &["version", "-o", "short"],
        "kubectl" => &["version", "--client"],
        "helm" => &["version", "--short"],
        "etcdctl" | "etcdutl" => &["version"],
        _ => &["--version"],
    };
    let shown = format!("{} {}", path.display(), args.join(" "));
    let out = run_here(path, args, &shown)?;
    out.lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .map(String::from)
        .ok_or_else(|| format!("{shown} printed nothing"))
}

/// Runs `program` with `args` here, on the KVM host, for at most [`RUN_HERE_TIMEOUT`];
/// its standard output, or why it failed (`shown` is the command as the operator
/// would type it).
fn run_here(program: &Path, args: &[&str], shown: &str) -> Result<String, String> {
    let mut child = std::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    // Read while it runs: a full pipe would stop it.
    let reader = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut text = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut text);
            }
            String::from_utf8_lossy(&text).into_owned()
        })
    };
    let stdout = reader(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = reader(child.stderr.take().map(|p| Box::new(p) as _));
    let deadline = std::time::Instant::now() + RUN_HERE_TIMEOUT;
    while child.try_wait().map_err(|e| e.to_string())?.is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!(
                "{shown} did not answer within {}s",
                RUN_HERE_TIMEOUT.as_secs()
            ));
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let status = child.wait().map_err(|e| e.to_string())?;
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    if !status.success() {
        let why = stderr.lines().last().unwrap_or("no message");
        return Err(format!("{shown} failed ({status}): {why}"));
    }
    Ok(stdout)
}

/// How long a program of the bundle may take to answer here.
const RUN_HERE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// What the bundle's `images/` lacks for the preset: each image its nodes run that no
/// archive holds, with where it runs. Ok(None) when the install has no `images/` (its
/// hosts pull from a registry); an error when the archives or kubeadm's list cannot be
/// read.
pub fn lacking_images(layout: &Layout) -> Result<Option<Vec<String>>, String> {
    let Some(dir) = crate::plan::images::bundle_images_dir(layout.spec) else {
        return Ok(None);
    };
    let archives = crate::images::archives(&dir)?;
    let kubeadm = kubeadm_images(layout.spec)?;
    Ok(Some(crate::plan::images::missing(
        layout, &kubeadm, &archives,
    )))
}
