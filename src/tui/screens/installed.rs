//! What kubewiz kept of an installed cluster, in words: for the start screen's line
//! about it and the manage view.

use std::path::Path;

use crate::state::ClusterState;

/// An installed cluster in a line or two: its topology and hosts (from the preset of
/// its last run), that run (from the index of runs) and the first of its kept
/// certificates to expire. What cannot be read is said so.
pub fn summary(cluster: &ClusterState) -> String {
    summary_with(cluster, &expiries(&cluster.pki_dir()))
}

/// [`summary`] with the kept certificates already read ([`expiries`]).
pub fn summary_with(cluster: &ClusterState, expiries: &[(String, crate::pki::CertInfo)]) -> String {
    let what = match crate::spec::load_file(&cluster.preset()) {
        Ok(loaded) => format!(
            "{}, {} hosts",
            loaded.spec.topology,
            loaded.spec.hosts.len()
        ),
        Err(_) => "its preset cannot be read".into(),
    };
    let index = cluster.dir().join(crate::audit::index::FILE);
    let last = match crate::audit::index::read(&index)
        .ok()
        .and_then(|runs| runs.into_iter().rfind(|r| !r.dry_run))
    {
        Some(run) => format!(
            "last run: {} {} ({})",
            run.kind.name(),
            match run.outcome {
                crate::exec::RunOutcome::Succeeded => "succeeded",
                crate::exec::RunOutcome::Failed => "failed",
                crate::exec::RunOutcome::Cancelled => "cancelled",
            },
            run.finished.get(..10).unwrap_or(&run.finished)
        ),
        None => "no run in its index".into(),
    };
    let now = time::OffsetDateTime::now_utc();
    let expiry = match expiries.first() {
        Some((path, info)) => format!(
            "first certificate to expire: {} on {} ({} days)",
            path,
            info.not_after.date(),
            info.days_left(now)
        ),
        None => "no certificate kept".into(),
    };
    format!("Installed: {what}; {last}; {expiry}.")
}

/// The kept certificates (CAs included), the one that expires first first, each with
/// its path under `pki`; unreadable files are left out.
pub fn expiries(pki: &Path) -> Vec<(String, crate::pki::CertInfo)> {
    let mut out = Vec::new();
    let mut dirs = vec![pki.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for path in entries.flatten().map(|e| e.path()) {
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "crt") {
                continue;
            }
            let Some(info) = std::fs::read(&path)
                .ok()
                .and_then(|pem| crate::pki::describe(&pem).ok())
            else {
                continue;
            };
            let rel = path
                .strip_prefix(pki)
                .unwrap_or(&path)
                .display()
                .to_string();
            out.push((rel, info));
        }
    }
    out.sort_by(|a, b| a.1.not_after.cmp(&b.1.not_after).then(a.0.cmp(&b.0)));
    out
}
