//! The plan as text: what `kubewiz plan` prints and `plan.txt` holds.

use std::fmt;

use super::{Action, BundlePick, OsFamily, Plan, Step};

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let steps: usize = self.steps().count();
        writeln!(
            f,
            "Plan for cluster {}: {} phases, {steps} steps. Nothing has run.",
            self.cluster,
            self.phases.len()
        )?;
        for (n, phase) in self.phases.iter().enumerate() {
            let hosts = phase.hosts.len();
            let how = match (hosts, phase.one_at_a_time) {
                (1, _) => "1 host".to_string(),
                (n, true) => format!("{n} hosts, one at a time"),
                (n, false) => format!("{n} hosts at once"),
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
                writeln!(f, "  {}", host.host)?;
                for step in &host.steps {
                    let only = match step.only_on {
                        Some(OsFamily::Apt) => " (apt hosts)",
                        Some(OsFamily::Dnf) => " (dnf hosts)",
                        None => "",
                    };
                    writeln!(f, "    {}{only}", step.id)?;
                    write_action(f, step)?;
                }
            }
        }
        Ok(())
    }
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
        Action::Run { command } => writeln!(f, "      $ {command}")?,
        Action::Wait { check } => writeln!(
            f,
            "      wait up to {}s for: {check}",
            step.timeout.as_secs()
        )?,
        Action::CheckApi {
            url, kubeconfig, ..
        } => writeln!(
            f,
            "      from the KVM host, wait up to {}s for {url} to answer with local/{kubeconfig}",
            step.timeout.as_secs()
        )?,
        Action::UploadBundle { from, to, pick, .. } => match pick {
            BundlePick::Only(names) => writeln!(
                f,
                "      upload {} from {} to {to} (0755)",
                names.join(", "),
                from.display()
            )?,
            BundlePick::Except(names) if names.is_empty() => writeln!(
                f,
                "      upload every file of {} to {to} (0755)",
                from.display()
            )?,
            BundlePick::Except(names) => writeln!(
                f,
                "      upload every file of {} but {} to {to} (0755)",
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
    }
    Ok(())
}
