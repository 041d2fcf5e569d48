//! `kubewiz backup`: an etcd snapshot taken over SSH (`plan::backup`, with an audit log
//! of kind `backup`), then one archive on the KVM host with the snapshot, the cluster's
//! kept PKI, the applied preset and the operator's admin.conf, and a manifest of their
//! SHA-256 sums (`archive`). Unattended with `--yes`, for cron or a systemd timer.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use super::apply::confirm;
use super::prepare;
use super::{EXIT_FAILED, EXIT_OK};
use crate::archive::{self, Member};
use crate::audit::RunKind;
use crate::launch;
use crate::plan;
use crate::state::ClusterState;

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
    let out_dir = args
        .out
        .map_or_else(|| cluster.dir().join("backups"), Path::to_path_buf);
    let host = match snapshot_host(&spec, &layout, args.dry_run) {
        Ok(h) => h,
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
    let spool = cluster
        .dir()
        .join(format!("backup-{}.snapshot", std::process::id()));
    let local = crate::generate::local(&cluster, &crate::kvm::connect_uri());
    let plan = plan::backup::build(&layout, &local, &spool, &host);
    let options = launch::backup_options(&spec, &pki, &cluster, &preset_text, args.dry_run);
    let code = super::here::run_plan(plan, &spec, options, args.dry_run, args.syslog);
    if args.dry_run || code != ExitCode::from(EXIT_OK) {
        let _ = std::fs::remove_file(&spool);
        return code;
    }
    let written = pack(&cluster, &spool, &out_dir, &host, &preset_text);
    let _ = std::fs::remove_file(&spool);
    match written {
        Ok((path, written)) => {
            println!(
                "backup of cluster {}: {} ({} bytes, sha256 {})",
                spec.name,
                path.display(),
                written.bytes,
                written.sha256
            );
            println!(
                "check it with: sha256sum -c {}; restore it with: kubewiz restore --preset {} --from {}",
                archive::sidecar(&path).display(),
                args.preset.display(),
                path.display()
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
        Err(e) => {
            eprintln!("kubewiz: the snapshot was taken, but the archive was not written: {e}");
            ExitCode::from(EXIT_FAILED)
        }
    }
}

/// The archive of `cluster` with the snapshot at `spool`, written into `out_dir` as
/// `<cluster>-<UTC time>.tar.gz`.
/// The host the snapshot is taken on: the first of the etcd members (stacked: the
/// control planes) that answers over SSH, each one that does not said; a dry run
/// contacts none and shows the first.
fn snapshot_host(
    spec: &crate::spec::ClusterSpec,
    layout: &crate::spec::layout::Layout,
    dry_run: bool,
) -> Result<String, String> {
    let hosts = plan::backup::snapshot_hosts(layout);
    if dry_run {
        return hosts
            .first()
            .cloned()
            .ok_or_else(|| "the cluster has no etcd member".to_owned());
    }
    for (i, host) in hosts.iter().enumerate() {
        match crate::day2::answers(spec, host) {
            Ok(()) => return Ok(host.clone()),
            Err(why) => eprintln!(
                "kubewiz: {host} does not answer over SSH ({why}){}",
                hosts
                    .get(i + 1)
                    .map_or(String::new(), |next| format!("; trying {next}"))
            ),
        }
    }
    Err(format!(
        "none of {} answers over SSH: no snapshot can be taken; bring one of them back",
        hosts.join(", ")
    ))
}

fn pack(
    cluster: &ClusterState,
    spool: &Path,
    out_dir: &Path,
    host: &str,
    preset_text: &str,
) -> Result<(PathBuf, archive::Written), String> {
    let read = |path: &Path| std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()));
    let mut members = vec![Member {
        path: archive::SNAPSHOT.into(),
        mode: 0o600,
        content: read(spool)?,
    }];
    let pki_dir = cluster.pki_dir();
    for (rel, mode) in files_under(&pki_dir)? {
        members.push(Member {
            path: format!("{}{}", archive::PKI_PREFIX, rel.display()),
            mode,
            content: read(&pki_dir.join(&rel))?,
        });
    }
    // The preset the cluster was last applied with (the one given when none was kept).
    let preset = match std::fs::read(cluster.preset()) {
        Ok(bytes) => bytes,
        Err(_) => preset_text.as_bytes().to_vec(),
    };
    members.push(Member {
        path: archive::PRESET.into(),
        mode: 0o644,
        content: preset,
    });
    members.push(Member {
        path: archive::ADMIN_CONF.into(),
        mode: 0o600,
        content: read(&cluster.admin_conf())?,
    });
    let now = time::OffsetDateTime::now_utc();
    let created = now
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default();
    let stamp = now
        .format(&time::macros::format_description!(
            "[year][month][day]T[hour][minute][second]Z"
        ))
        .unwrap_or_else(|_| "backup".into());
    let name = cluster
        .dir()
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let path = out_dir.join(archive::file_name(&name, &stamp));
    let written =
        archive::write(&path, &name, &created, host, &members).map_err(|e| e.to_string())?;
    Ok((path, written))
}

/// Every file under `dir` (relative path, mode), sorted; a renewal's unfinished list
/// is kept too, as it is part of the PKI's state.
fn files_under(dir: &Path) -> Result<Vec<(PathBuf, u32)>, String> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    let mut todo = vec![PathBuf::new()];
    while let Some(rel) = todo.pop() {
        let here = dir.join(&rel);
        let entries = std::fs::read_dir(&here).map_err(|e| format!("{}: {e}", here.display()))?;
        for entry in entries {
            let entry = entry.map_err(|e| format!("{}: {e}", here.display()))?;
            let meta = entry
                .metadata()
                .map_err(|e| format!("{}: {e}", entry.path().display()))?;
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
