//! One function per kind of step. Each returns Ok(None) when done, Ok(Some(reason))
//! when skipped, Err(failure) when it failed.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::host::{Failure, Run};
use crate::exec::events::Stream;
use crate::exec::transport::LocalFile;
use crate::exec::{api_check, facts, kubeconfig, libvirt, preflight};
use crate::kvm::hosts_file::{self, Change};
use crate::plan::{Action, Blob, BundlePick, LibvirtNetwork, PackBackup, Preflight, Step};

/// Pause between two tries of a wait.
const WAIT_INTERVAL: Duration = Duration::from_secs(2);

type Outcome = Result<Option<String>, Failure>;

/// Runs one step, unless the journal says an earlier run finished it with the same
/// `inputs` or it is for the other package manager.
pub(super) async fn step(run: &Run, host: &str, step: &Step, inputs: &str) -> Outcome {
    if step.done_before(&run.finished, inputs) {
        return Ok(Some("finished in an earlier run".into()));
    }
    if let Some(family) = step.only_on {
        let facts = run.facts.lock().unwrap_or_else(|e| e.into_inner());
        if facts.get(host).is_some_and(|f| f.os_family != Some(family)) {
            return Ok(Some(format!("only for {family:?} hosts")));
        }
    }
    match &step.action {
        Action::Connect => connect(run, host).await,
        Action::Facts => gather_facts(run, host, step).await,
        Action::Preflight(checks) => check(run, host, step, checks).await,
        Action::Upload {
            path,
            mode,
            content,
        } => upload(run, host, step, path, *mode, content).await,
        Action::Run { command } => command_of(run, host, step, command).await,
        Action::Wait { check } => wait(run, host, step, check).await,
        Action::CheckApi {
            url,
            content,
            workdir,
            ..
        } => check_api(run, host, step, url, content, workdir).await,
        Action::LibvirtNetwork(network) => libvirt_network(run, host, step, network).await,
        Action::UploadBundle {
            from,
            to,
            pick,
            mode,
            ..
        } => upload_bundle(run, host, step, from, to, pick, *mode).await,
        Action::WriteLocal {
            to, mode, content, ..
        } => write_local(run, host, step, to, *mode, content).await,
        Action::HostsFile {
            file,
            cluster,
            block,
        } => hosts_file(run, host, step, file, cluster, block.as_ref()).await,
        Action::RenewKubeconfig { path, cert, key } => {
            renew_kubeconfig(run, host, step, path, cert, key).await
        }
        Action::Fetch { path, to, mode } => fetch(run, host, step, path, to, *mode).await,
        Action::PackBackup(pack) => pack_backup(run, host, step, pack).await,
        Action::PutFile {
            from,
            to,
            mode,
            sha256,
        } => put_file(run, host, step, from, to, *mode, sha256).await,
    }
}

async fn connect(run: &Run, host: &str) -> Outcome {
    let spec_host = run
        .spec
        .hosts
        .iter()
        .find(|h| h.name.as_str() == host)
        .ok_or_else(|| Failure::new("the host is not in the spec"))?;
    let session = run.transport.connect(spec_host, &run.spec.ssh).await?;
    run.add_session(host, Arc::from(session));
    Ok(None)
}

async fn gather_facts(run: &Run, host: &str, step: &Step) -> Outcome {
    // The script reads the host's clock first thing, compared with the moment it was
    // sent: off by the time the script takes to start. That reading stands only where
    // `measure_clock` gets none (a dry run).
    let sent = unix_now();
    let ran = run
        .run_command(host, &step.id, facts::SCRIPT, step.timeout, false)
        .await?;
    if ran.code != 0 {
        return Err(Failure {
            exit_code: Some(ran.code),
            message: "the facts script failed".into(),
            tail: ran.tail,
        });
    }
    let mut facts = facts::parse(&ran.all.join("\n"), sent).map_err(Failure::new)?;
    if let Some((offset, uncertainty)) = measure_clock(run, host, step).await {
        facts.clock_offset = offset;
        facts.clock_uncertainty = uncertainty;
    }
    run.facts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .insert(host.to_owned(), facts);
    Ok(None)
}

/// The host's clock against the KVM host's, as NTP measures it: the read of three with
/// the shortest round trip, its offset taken at the middle and good to half the round
/// trip. The facts script's own read counts from when it was sent, so a host slow to
/// start a command (a loaded VM: seconds) looked that far ahead and failed preflight.
/// None when no read gave a time, and in a dry run (nothing runs on its hosts).
async fn measure_clock(run: &Run, host: &str, step: &Step) -> Option<(f64, f64)> {
    if run.transport.is_dry_run() {
        return None;
    }
    let mut best: Option<(f64, f64)> = None;
    for _ in 0..3 {
        let sent = unix_now();
        let read = run
            .run_command(host, &step.id, facts::CLOCK_COMMAND, step.timeout, false)
            .await;
        let back = unix_now();
        // A read that fails ends the reads: the best one so far counts.
        let Some(sample) = read
            .ok()
            .filter(|ran| ran.code == 0)
            .and_then(|ran| facts::clock_sample(&ran.all.join("\n"), sent, back))
        else {
            break;
        };
        if best.is_none_or(|(_, u)| sample.1 < u) {
            best = Some(sample);
        }
    }
    best
}

async fn check(run: &Run, host: &str, step: &Step, rules: &Preflight) -> Outcome {
    let all = run.facts.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let problems = preflight::check(&rules.needs, &all, host, &rules.ca);
    for p in &problems {
        let severity = if p.fatal { "error" } else { "warning" };
        run.output(
            host,
            &step.id,
            Stream::Stdout,
            format!("{severity}: {}", p.message),
        )
        .await;
    }
    let fatal: Vec<String> = problems
        .into_iter()
        .filter(|p| p.fatal)
        .map(|p| p.message)
        .collect();
    match fatal.len() {
        0 => Ok(None),
        1 => Err(Failure::new(fatal[0].clone())),
        n => Err(Failure {
            exit_code: None,
            message: format!("{n} preflight checks failed"),
            tail: fatal,
        }),
    }
}

async fn upload(
    run: &Run,
    host: &str,
    step: &Step,
    path: &str,
    mode: u32,
    content: &Blob,
) -> Outcome {
    let changed = run
        .session(host)?
        .upload(path, mode, content.as_bytes())
        .await?;
    if !changed {
        let line = format!("{path} is already up to date");
        run.output(host, &step.id, Stream::Stdout, line).await;
    }
    Ok(None)
}

async fn command_of(run: &Run, host: &str, step: &Step, command: &str) -> Outcome {
    let on = step.via.as_deref().unwrap_or(host);
    let ran = run
        .run_command_on(on, host, &step.id, command, step.timeout, true)
        .await?;
    if ran.code == 0 {
        Ok(None)
    } else {
        Err(Failure {
            exit_code: Some(ran.code),
            message: format!("the command exited with {}", ran.code),
            tail: ran.tail,
        })
    }
}

/// Tries `check` until it succeeds or the step's timeout passes.
async fn wait(run: &Run, host: &str, step: &Step, check: &str) -> Outcome {
    let deadline = Instant::now() + step.timeout;
    let mut tries = 0;
    loop {
        tries += 1;
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_secs(1));
        let attempt = run.run_command_on(
            step.via.as_deref().unwrap_or(host),
            host,
            &step.id,
            check,
            left.min(Duration::from_secs(30)),
            false,
        );
        let (code, tail) = match attempt.await {
            Ok(ran) => (ran.code, ran.tail),
            Err(Failure { message, .. }) => (-1, vec![message]),
        };
        if code == 0 {
            return Ok(None);
        }
        if Instant::now() + WAIT_INTERVAL >= deadline || run.cancelled() {
            return Err(Failure {
                exit_code: Some(code),
                message: format!(
                    "not ready after {}s ({tries} tries)",
                    step.timeout.as_secs()
                ),
                tail,
            });
        }
        let last = tail
            .last()
            .cloned()
            .unwrap_or_else(|| format!("exit {code}"));
        run.output(
            host,
            &step.id,
            Stream::Stdout,
            format!("waiting ({tries}): {last}"),
        )
        .await;
        tokio::time::sleep(WAIT_INTERVAL).await;
    }
}

/// From the KVM host: GET `url` with the operator's kubeconfig until it answers.
async fn check_api(
    run: &Run,
    host: &str,
    step: &Step,
    url: &str,
    kubeconfig: &Blob,
    workdir: &Path,
) -> Outcome {
    if run.transport.is_dry_run() {
        return Ok(Some("dry run: nothing is contacted".into()));
    }
    let scratch = workdir.join(format!(".check-{}", std::process::id()));
    let deadline = Instant::now() + step.timeout;
    let mut tries = 0;
    loop {
        tries += 1;
        let why = match api_check::probe(url, kubeconfig.as_str(), &scratch).await {
            Ok(body) => {
                run.output(host, &step.id, Stream::Stdout, format!("{url}: {body}"))
                    .await;
                return Ok(None);
            }
            Err(why) => why,
        };
        if Instant::now() + WAIT_INTERVAL >= deadline || run.cancelled() {
            return Err(Failure {
                exit_code: None,
                message: format!(
                    "{url} did not answer after {}s ({tries} tries)",
                    step.timeout.as_secs()
                ),
                tail: vec![why],
            });
        }
        run.output(
            host,
            &step.id,
            Stream::Stdout,
            format!("waiting ({tries}): {why}"),
        )
        .await;
        tokio::time::sleep(WAIT_INTERVAL).await;
    }
}

/// On the KVM host: the libvirt network's reservations and DNS entries, read,
/// planned and applied by virsh on a blocking thread (`exec::libvirt`).
async fn libvirt_network(run: &Run, host: &str, step: &Step, network: &LibvirtNetwork) -> Outcome {
    let spec = run.spec.clone();
    let job = network.clone();
    let dry_run = run.transport.is_dry_run();
    let work = tokio::task::spawn_blocking(move || libvirt::run(&spec, &job, dry_run));
    let report = match tokio::time::timeout(step.timeout, work).await {
        Ok(Ok(report)) => report,
        Ok(Err(e)) => return Err(Failure::new(format!("the libvirt step stopped: {e}"))),
        Err(_) => {
            return Err(Failure::new(format!(
                "virsh did not finish within {}s; check that libvirt answers: virsh -c {} net-list --all",
                step.timeout.as_secs(),
                network.uri
            )));
        }
    };
    for (stream, line) in report.lines {
        run.output(host, &step.id, stream, run.redactor.text(&line))
            .await;
    }
    report.result.map_err(Failure::new)
}

async fn upload_bundle(
    run: &Run,
    host: &str,
    step: &Step,
    from: &Path,
    to: &str,
    pick: &BundlePick,
    mode: u32,
) -> Outcome {
    let session = run.session(host)?;
    let programs = run.bundle.files(from, pick).await.map_err(Failure::new)?;
    for (name, file) in &programs {
        let path = format!("{to}/{name}");
        let changed = session.upload_file(&path, mode, file).await?;
        let word = if changed {
            "installed"
        } else {
            "already up to date:"
        };
        run.output(host, &step.id, Stream::Stdout, format!("{word} {path}"))
            .await;
    }
    Ok(None)
}

/// Saves a rendered `local/` file in the cluster's state directory.
async fn write_local(
    run: &Run,
    host: &str,
    step: &Step,
    to: &Path,
    mode: u32,
    content: &Blob,
) -> Outcome {
    if run.transport.is_dry_run() {
        return Ok(Some("dry run: nothing is written".into()));
    }
    crate::state::write_atomic(to, content.as_bytes(), mode)
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", to.display())))?;
    run.output(
        host,
        &step.id,
        Stream::Stdout,
        format!("saved {}", to.display()),
    )
    .await;
    Ok(None)
}

/// Copies the host's file `path` to `to` on the KVM host, atomically.
async fn fetch(run: &Run, host: &str, step: &Step, path: &str, to: &Path, mode: u32) -> Outcome {
    if run.transport.is_dry_run() {
        return Ok(Some("dry run: nothing is copied".into()));
    }
    let session = run.session(host)?;
    let content = session
        .read(path)
        .await?
        .ok_or_else(|| Failure::new(format!("{path} is not on the host")))?;
    let (target, bytes) = (to.to_path_buf(), content.len());
    let digest = crate::digest::sha256_hex(&content);
    tokio::task::spawn_blocking(move || crate::state::write_atomic(&target, &content, mode))
        .await
        .map_err(|e| Failure::new(format!("the copy stopped: {e}")))?
        .map_err(|e| Failure::new(format!("cannot write {}: {e}", to.display())))?;
    run.output(
        host,
        &step.id,
        Stream::Stdout,
        format!(
            "copied {path} to {} ({bytes} bytes, sha256 {digest})",
            to.display()
        ),
    )
    .await;
    Ok(None)
}

/// Writes the backup archive from the fetched snapshot and the cluster's kept files,
/// then deletes the snapshot (it holds every Secret of the cluster) whether or not the
/// archive could be written.
async fn pack_backup(run: &Run, host: &str, step: &Step, pack: &PackBackup) -> Outcome {
    if run.transport.is_dry_run() {
        return Ok(Some(format!(
            "dry run: nothing is written; the archive would be {}",
            pack.archive.display()
        )));
    }
    let job = pack.clone();
    let written = tokio::task::spawn_blocking(move || {
        let (created, _) = crate::archive::stamps(time::OffsetDateTime::now_utc());
        let written = crate::archive::pack(
            &job.archive,
            &job.cluster,
            &created,
            &job.snapshot_host,
            &job.sources,
            job.preset_text.as_bytes(),
        );
        let removed = std::fs::remove_file(&job.sources.snapshot);
        (written, removed)
    })
    .await
    .map_err(|e| Failure::new(format!("the archive stopped: {e}")))?;
    let (written, removed) = written;
    if let Err(e) = removed
        && e.kind() != std::io::ErrorKind::NotFound
    {
        run.output(
            host,
            &step.id,
            Stream::Stderr,
            format!(
                "cannot delete the snapshot {}: {e}; delete it by hand, it holds every Secret of the cluster",
                pack.sources.snapshot.display()
            ),
        )
        .await;
    }
    let written = written.map_err(|e| {
        Failure::new(format!(
            "the snapshot was taken, but the archive was not written: {e}"
        ))
    })?;
    run.output(
        host,
        &step.id,
        Stream::Stdout,
        format!(
            "wrote {} ({} bytes, sha256 {})",
            pack.archive.display(),
            written.bytes,
            written.sha256
        ),
    )
    .await;
    Ok(None)
}

/// Puts the KVM host's file `from` on the host, once it is checked to be the one the
/// plan was made with.
async fn put_file(
    run: &Run,
    host: &str,
    step: &Step,
    from: &Path,
    to: &str,
    mode: u32,
    sha256: &str,
) -> Outcome {
    let source = from.to_path_buf();
    let file = tokio::task::spawn_blocking(move || LocalFile::hash(source))
        .await
        .map_err(|e| Failure::new(format!("the read stopped: {e}")))?
        .map_err(|e| Failure::new(format!("cannot read {}: {e}", from.display())))?;
    if file.sha256 != sha256 {
        return Err(Failure::new(format!(
            "{} changed since the plan was made: sha256 {}, the plan has {sha256}",
            from.display(),
            file.sha256
        )));
    }
    let session = run.session(host)?;
    let changed = session.upload_file(to, mode, &file).await?;
    let word = if changed { "put" } else { "already there:" };
    run.output(
        host,
        &step.id,
        Stream::Stdout,
        format!("{word} {to} ({} bytes)", file.len),
    )
    .await;
    Ok(None)
}

/// Puts the cluster's block into the KVM host's hosts file, or takes it out.
async fn hosts_file(
    run: &Run,
    host: &str,
    step: &Step,
    file: &Path,
    cluster: &str,
    block: Option<&Blob>,
) -> Outcome {
    let dry_run = run.transport.is_dry_run();
    let (path, name) = (file.to_path_buf(), cluster.to_owned());
    let text = block.map(|b| b.as_str().to_owned());
    let work = tokio::task::spawn_blocking(move || {
        hosts_file::apply(&path, &name, text.as_deref(), dry_run)
    });
    let change = work
        .await
        .map_err(|e| Failure::new(format!("the hosts file step stopped: {e}")))?
        .map_err(Failure::new)?;
    let said = match (change, block.is_some(), dry_run) {
        (Change::None, true, _) => "already holds the cluster's names",
        (Change::None, false, _) => "holds none of the cluster's names",
        (Change::Written, true, false) => "now holds the cluster's names",
        (Change::Written, false, false) => "no longer holds the cluster's names",
        (Change::Written, true, true) => "would get the cluster's names",
        (Change::Written, false, true) => "would lose the cluster's names",
    };
    run.output(
        host,
        &step.id,
        Stream::Stdout,
        format!("{} {said}", file.display()),
    )
    .await;
    if dry_run {
        return Ok(Some(format!("dry run: {} is not changed", file.display())));
    }
    Ok(None)
}

/// The host's kubeconfig at `path` with `cert` and `key` as its client credentials.
async fn renew_kubeconfig(
    run: &Run,
    host: &str,
    step: &Step,
    path: &str,
    cert: &Blob,
    key: &Blob,
) -> Outcome {
    if run.transport.is_dry_run() {
        return Ok(Some("dry run: nothing is contacted".into()));
    }
    let session = run.session(host)?;
    let Some(current) = session.read(path).await? else {
        return Ok(Some(format!("{path} is not on this host")));
    };
    let renewed = kubeconfig::with_client(&current, cert.as_str(), key.as_str())
        .map_err(|e| Failure::new(format!("{path}: {e}")))?;
    let changed = session.upload(path, 0o600, renewed.as_bytes()).await?;
    let line = if changed {
        format!("{path}: new client certificate")
    } else {
        format!("{path} already has the new client certificate")
    };
    run.output(host, &step.id, Stream::Stdout, line).await;
    Ok(None)
}

fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
