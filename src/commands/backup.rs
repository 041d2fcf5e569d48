//! `kubewiz backup`: an etcd snapshot taken over SSH and packed on the KVM host into
//! one archive with the cluster's kept PKI, the applied preset and the operator's
//! admin.conf, and a manifest of their SHA-256 sums (`day2::backup`, with an audit log
//! of kind `backup`). Unattended with `--yes`, for cron or a systemd timer.

use std::path::Path;
use std::process::ExitCode;

use super::apply::confirm;
use super::prepare;
use super::{EXIT_FAILED, EXIT_OK};
use crate::archive;
use crate::audit::RunKind;
use crate::launch;

/// What `kubewiz backup` was asked to do.
pub struct BackupArgs<'a> {
    pub preset: &'a Path,
    /// The directory the archive goes to [default: the cluster's `backups/`].
    pub out: Option<&'a Path>,
    /// Keep only the newest this many archives of the cluster in the directory.
    pub keep: Option<usize>,
    pub yes: bool,
    pub dry_run: bool,
    pub syslog: bool,
}

pub fn run(state_dir: Option<&Path>, args: BackupArgs<'_>) -> ExitCode {
    if let Err(code) = prepare::can_ask("backup", args.yes, args.dry_run) {
        return code;
    }
    let (spec, preset_text, cluster) = match prepare::load_cluster(state_dir, args.preset) {
        Ok(loaded) => loaded,
        Err(code) => return code,
    };
    let layout = match prepare::layout(&spec) {
        Ok(l) => l,
        Err(code) => return code,
    };
    if !cluster.admin_conf().is_file() {
        eprintln!(
            "kubewiz: cluster {} is not installed from this state directory (no {}): nothing to back up",
            spec.name,
            cluster.admin_conf().display()
        );
        return ExitCode::from(EXIT_FAILED);
    }
    let pki = match prepare::read_kept(&cluster, &layout) {
        Ok(p) => p,
        Err(code) => return code,
    };
    let archive = crate::day2::backup::archive_path(&cluster, args.out);
    let out_dir = archive.parent().unwrap_or(Path::new(".")).to_path_buf();
    let host = match crate::day2::backup::snapshot_host(&spec, &layout, args.dry_run) {
        Ok((host, passed)) => {
            for line in passed {
                eprintln!("kubewiz: {line}");
            }
            host
        }
        Err(e) => {
            eprintln!("kubewiz: {e}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let question = format!(
        "Back up cluster {}: an etcd snapshot taken on {host}, with the kept PKI, into {}?",
        spec.name,
        out_dir.display()
    );
    if !args.dry_run && !args.yes && !confirm(&question) {
        eprintln!("kubewiz: nothing was done");
        return ExitCode::from(EXIT_FAILED);
    }
    // The snapshot is not taken while an install, a reset or a renewal changes the
    // cluster.
    let _lock = match super::here::lock(&cluster, RunKind::Backup, args.dry_run) {
        Ok(l) => l,
        Err(code) => return code,
    };
    let plan = crate::day2::backup::plan(
        &cluster,
        &layout,
        &crate::kvm::connect_uri(),
        &host,
        &archive,
        &preset_text,
    );
    let options = launch::backup_options(
        &spec,
        &pki,
        &cluster,
        &preset_text,
        args.dry_run,
        crate::audit::Identity::current(),
    );
    let code = super::here::run_plan(plan, &spec, options, args.dry_run, args.syslog);
    if args.dry_run || code != ExitCode::from(EXIT_OK) {
        return code;
    }
    println!(
        "backup of cluster {}: {}",
        spec.name,
        written(&archive).unwrap_or_else(|| archive.display().to_string())
    );
    println!(
        "check it with: sha256sum -c {}; restore it with: kubewiz restore --preset {} --from {}",
        archive::sidecar(&archive).display(),
        args.preset.display(),
        archive.display()
    );
    if let Some(keep) = args.keep {
        match archive::prune(&out_dir, spec.name.as_str(), keep) {
            Ok(deleted) => {
                for old in deleted {
                    println!(
                        "deleted the older archive {} (--keep {keep})",
                        old.display()
                    );
                }
            }
            Err(e) => {
                eprintln!(
                    "kubewiz: the backup is written, but older archives in {} could not be deleted: {e}",
                    out_dir.display()
                );
                return ExitCode::from(EXIT_FAILED);
            }
        }
    }
    code
}

/// "PATH (N bytes, sha256 S)" of the archive written at `path`, from the file and its
/// `.sha256`.
fn written(path: &Path) -> Option<String> {
    let bytes = std::fs::metadata(path).ok()?.len();
    let sums = std::fs::read_to_string(archive::sidecar(path)).ok()?;
    let sha256 = sums.split_whitespace().next()?.to_owned();
    Some(format!(
        "{} ({bytes} bytes, sha256 {sha256})",
        path.display()
    ))
}
