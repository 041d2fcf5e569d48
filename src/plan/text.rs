//! The plan as text: what `kubewiz plan` prints and `plan.txt` holds.

use std::fmt;

use super::{Action, BundlePick, Finished, OsFamily, Plan, Step};

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_plan(f, self, None)
    }
}

/// The plan as a run would carry it out on a cluster whose journal says which steps
/// earlier runs finished: those with the same inputs are skipped (a host whose steps of
/// a phase were all done before gets one line), checks and waits run again, and the
/// end names every host that has work to do. What `kubewiz plan` prints for a
/// cluster that was installed, e.g. before hosts are added.
pub struct Against<'a> {
    pub plan: &'a Plan,
    pub finished: &'a Finished,
}

impl Plan {
    /// This plan against the steps earlier runs finished.
    pub fn against<'a>(&'a self, finished: &'a Finished) -> Against<'a> {
        Against {
            plan: self,
            finished,
        }
    }
}

impl fmt::Display for Against<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_plan(f, self.plan, Some(self.finished))
    }
}

fn write_plan(f: &mut fmt::Formatter<'_>, plan: &Plan, finished: Option<&Finished>) -> fmt::Result {
    let steps: usize = plan.steps().count();
    // Each step's inputs hashed once (they hash every uploaded file's content).
    let done: std::collections::HashSet<&str> = finished
        .map(|d| {
            plan.steps()
                .filter(|(_, _, s)| s.done_before(d, &s.inputs()))
                .map(|(_, _, s)| s.id.as_str())
                .collect()
        })
        .unwrap_or_default();
    let done_before = |step: &Step| done.contains(step.id.as_str());
    match finished {
        None => writeln!(
            f,
            "Plan for cluster {}: {} phases, {steps} steps. Nothing has run.",
            plan.cluster,
            plan.phases.len()
        )?,
        Some(_) => {
            let skipped = done.len();
            writeln!(
                f,
                "Plan for cluster {}: {} phases, {steps} steps. Earlier runs finished {skipped} of them with the same inputs: a run skips those and carries out the other {}, checks included.",
                plan.cluster,
                plan.phases.len(),
                steps - skipped
            )?;
        }
    }
    // Hosts with steps that change something, in the order they first appear.
    let mut work: Vec<(&str, usize)> = Vec::new();
    for (n, phase) in plan.phases.iter().enumerate() {
        let hosts = phase.hosts.len();
        let how = match (hosts, phase.one_at_a_time, phase.at_most) {
            (1, _, _) => "1 host".to_string(),
            (n, true, _) => format!("{n} hosts, one at a time"),
            (n, false, Some(k)) if k < n => format!("{n} hosts, {k} at a time"),
            (n, false, _) => format!("{n} hosts at once"),
        };
        writeln!(f)?;
        writeln!(
            f,
            "{}. {} [{}] ({how})",
            n + 1,
            phase.title,
            phase.id.name()
        )?;
        for host in &phase.hosts {
            if !host.steps.is_empty() && host.steps.iter().all(done_before) {
                writeln!(
                    f,
                    "  {}: its {} step(s) were done before",
                    host.host,
                    host.steps.len()
                )?;
                continue;
            }
            writeln!(f, "  {}", host.host)?;
            for step in &host.steps {
                let only = match step.only_on {
                    Some(OsFamily::Apt) => " (apt hosts)",
                    Some(OsFamily::Dnf) => " (dnf hosts)",
                    None => "",
                };
                if done_before(step) {
                    writeln!(f, "    {}{only}: done before", step.id)?;
                    continue;
                }
                writeln!(f, "    {}{only}", step.id)?;
                write_action(f, step)?;
                if step.idempotent() {
                    match work.iter_mut().find(|(h, _)| *h == host.host) {
                        Some((_, count)) => *count += 1,
                        None => work.push((&host.host, 1)),
                    }
                }
            }
        }
    }
    if finished.is_some() {
        writeln!(f)?;
        if work.is_empty() {
            writeln!(
                f,
                "Nothing changes: only checks run again (connect, facts, preflight, waits)."
            )?;
        } else {
            let list: Vec<String> = work
                .iter()
                .map(|(host, n)| format!("{host} ({n})"))
                .collect();
            writeln!(
                f,
                "Steps that change something, by host: {}; every other host is only checked.",
                list.join(", ")
            )?;
        }
    }
    Ok(())
}

/// A step's lines as `kubewiz plan` prints them under its id (indented), for the
/// plan's JSON lines.
pub struct StepText<'a>(pub &'a Step);

impl fmt::Display for StepText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_action(f, self.0)
    }
}

/// A step's lines under its id: what it runs, uploads, checks or waits for.
fn write_action(f: &mut fmt::Formatter<'_>, step: &Step) -> fmt::Result {
    match &step.action {
        Action::Connect | Action::Facts => writeln!(f, "      {}", step.title)?,
        Action::Preflight(preflight) => {
            for check in &preflight.checks {
                writeln!(f, "      check: {check}")?;
            }
        }
        Action::Upload { path, mode, .. } => writeln!(f, "      upload {path} ({mode:04o})")?,
        Action::Run { command } => match &step.via {
            Some(on) => writeln!(f, "      on {on}: $ {command}")?,
            None => writeln!(f, "      $ {command}")?,
        },
        Action::Wait { check } => writeln!(
            f,
            "      wait up to {}s for: {}{check}",
            step.timeout.as_secs(),
            step.via
                .as_ref()
                .map_or_else(String::new, |on| format!("(on {on}) "))
        )?,
        Action::CheckApi {
            url, kubeconfig, ..
        } => writeln!(
            f,
            "      from the KVM host, wait up to {}s for {url} to answer with local/{kubeconfig}",
            step.timeout.as_secs()
        )?,
        Action::UploadBundle {
            from,
            to,
            pick,
            mode,
            ..
        } => match pick {
            BundlePick::Only(names) => writeln!(
                f,
                "      upload {} from {} to {to} ({mode:04o})",
                names.join(", "),
                from.display()
            )?,
            BundlePick::Except(names) if names.is_empty() => writeln!(
                f,
                "      upload every file of {} to {to} ({mode:04o})",
                from.display()
            )?,
            BundlePick::Except(names) => writeln!(
                f,
                "      upload every file of {} but {} to {to} ({mode:04o})",
                from.display(),
                names.join(", ")
            )?,
        },
        Action::WriteLocal { path, .. } => {
            writeln!(f, "      save local/{path} in the state directory")?
        }
        Action::LibvirtNetwork(network) => network.write_plan(f)?,
        Action::HostsFile {
            file,
            cluster,
            block: Some(_),
        } => writeln!(
            f,
            "      put local/hosts (the block \"# BEGIN kubewiz {cluster}\") into {}",
            file.display()
        )?,
        Action::HostsFile {
            file,
            cluster,
            block: None,
        } => writeln!(
            f,
            "      take the block \"# BEGIN kubewiz {cluster}\" out of {}",
            file.display()
        )?,
        Action::RenewKubeconfig { path, .. } => writeln!(
            f,
            "      put the new client certificate into {path} (0600), if the host has it"
        )?,
        Action::Fetch { path, to, mode } => writeln!(
            f,
            "      copy {path} to {} on the KVM host ({mode:04o})",
            to.display()
        )?,
        Action::PackBackup(crate::plan::PackBackup {
            archive, sources, ..
        }) => writeln!(
            f,
            "      write {} (0600) and its .sha256 on the KVM host: {}, every file of {}, {} and {}, with their SHA-256 sums; then delete {}",
            archive.display(),
            sources.snapshot.display(),
            sources.pki_dir.display(),
            sources.preset.display(),
            sources.admin_conf.display(),
            sources.snapshot.display()
        )?,
        Action::PutFile {
            from,
            to,
            mode,
            sha256,
        } if sha256.is_empty() => writeln!(
            f,
            "      put {} (not there when the plan was made) at {to} ({mode:04o})",
            from.display()
        )?,
        Action::PutFile {
            from,
            to,
            mode,
            sha256,
        } => writeln!(
            f,
            "      put {} (sha256 {}) at {to} ({mode:04o})",
            from.display(),
            sha256
        )?,
    }
    Ok(())
}
