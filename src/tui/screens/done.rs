//! Done: how the install ended, where the kubeconfig and the audit log are, and what
//! to do next.

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::Screen;
use crate::exec::RunOutcome;
use crate::spec::ClusterSpec;
use crate::tui::flow::{Outcome, View};
use crate::tui::keys::{self, Action, Binding, Key, bind};
use crate::tui::prepare::{FollowUp, Operation};
use crate::tui::theme;

const BINDINGS: &[Binding] = &[
    bind(&[Key::ch('q')], Action::Quit, "quit"),
    bind(keys::ESC, Action::Back, "back to the run"),
];

/// After a removal whose install run must follow.
const FOLLOW_UP: &[Binding] = &[
    bind(&[Key::ch('a')], Action::Select, "install run"),
    bind(&[Key::ch('q')], Action::Quit, "quit"),
    bind(keys::ESC, Action::Back, "back to the run"),
];

/// After the reset that makes way for a restore.
const RESTORE_FOLLOWS: &[Binding] = &[
    bind(&[Key::ch('a')], Action::Select, "restore"),
    bind(&[Key::ch('q')], Action::Quit, "quit"),
    bind(keys::ESC, Action::Back, "back to the run"),
];

/// The last screen.
#[derive(Debug, Default)]
pub struct Done {
    pub outcome: Option<RunOutcome>,
    pub log_path: Option<String>,
    /// The head of the audit log's chain: a copy kept elsewhere proves the log whole.
    pub head: Option<String>,
    pub dry_run: bool,
    /// What ran: an install, or a day-2 operation on the installed cluster.
    pub operation: Operation,
    /// What must follow (the install run after a removal, the restore after its reset),
    /// offered on `a`.
    pub follow_up: Option<FollowUp>,
}

impl Done {
    /// The operation went through for real and an install run must follow it.
    fn offers_follow_up(&self) -> bool {
        self.follow_up.is_some() && !self.dry_run && self.outcome == Some(RunOutcome::Succeeded)
    }
}

impl Screen for Done {
    fn title(&self) -> &'static str {
        "Done"
    }

    fn help(&self) -> &'static str {
        "What the install left and how to use it. q leaves kubewiz."
    }

    fn bindings(&self) -> &'static [Binding] {
        match &self.follow_up {
            _ if !self.offers_follow_up() => BINDINGS,
            Some(FollowUp {
                operation: Operation::Install,
                ..
            }) => FOLLOW_UP,
            Some(_) => RESTORE_FOLLOWS,
            None => BINDINGS,
        }
    }

    fn handle(&mut self, key: &KeyEvent, _spec: &mut ClusterSpec) -> Outcome {
        match keys::lookup(self.bindings(), key) {
            Some(Action::Select) => Outcome::FollowUp,
            Some(Action::Quit) => Outcome::Quit,
            Some(Action::Back) => Outcome::Back,
            _ => Outcome::Ignored,
        }
    }

    fn draw(&self, frame: &mut Frame, area: Rect, view: &View) {
        let dir = view
            .prepared
            .map(|p| p.cluster_dir.clone())
            .unwrap_or_else(|| view.state_dir.join(view.spec.name.as_str()));
        let kubeconfig = dir.join("admin.conf");
        let headline = match (self.outcome, self.dry_run) {
            (Some(RunOutcome::Succeeded), true) => Line::styled(
                format!(
                    "{} The dry run went through every step; nothing ran on any host.",
                    theme::ok_mark()
                ),
                theme::ok(),
            ),
            (Some(RunOutcome::Succeeded), false) => Line::styled(
                match &self.operation {
                    Operation::Install => format!(
                        "{} Cluster {} is installed.",
                        theme::ok_mark(),
                        view.spec.name
                    ),
                    Operation::RenewCerts { .. } => format!(
                        "{} The certificates of cluster {} are renewed on every host.",
                        theme::ok_mark(),
                        view.spec.name
                    ),
                    Operation::RemoveNode { host, .. } => format!(
                        "{} {host} is out of cluster {}.",
                        theme::ok_mark(),
                        view.spec.name
                    ),
                    Operation::ReplaceNode { host, address, .. } => format!(
                        "{} The old {host} is out of cluster {}; the new one at {address} joins with the install run below.",
                        theme::ok_mark(),
                        view.spec.name
                    ),
                    Operation::Upgrade { to, .. } => format!(
                        "{} Cluster {} runs Kubernetes {to}.",
                        theme::ok_mark(),
                        view.spec.name
                    ),
                    Operation::Backup { archive, .. } => format!(
                        "{} Cluster {} is backed up into {}.",
                        theme::ok_mark(),
                        view.spec.name,
                        archive.display()
                    ),
                    Operation::Restore { from } => format!(
                        "{} Cluster {} is restored from {}.",
                        theme::ok_mark(),
                        view.spec.name,
                        from.display()
                    ),
                    Operation::ResetForRestore { .. } => format!(
                        "{} The hosts of cluster {} are reset; the restore follows with a.",
                        theme::ok_mark(),
                        view.spec.name
                    ),
                },
                theme::ok(),
            ),
            (Some(RunOutcome::Failed), _) => Line::styled(
                format!(
                    "{} The {} failed; Esc shows the failure.",
                    theme::err_mark(),
                    self.operation.noun()
                ),
                theme::error(),
            ),
            (Some(RunOutcome::Cancelled), _) => Line::styled(
                format!(
                    "{} The {} was aborted.",
                    theme::warn_mark(),
                    self.operation.noun()
                ),
                theme::warning(),
            ),
            (None, _) => Line::raw(format!("The {} has not finished.", self.operation.noun())),
        };
        let mut lines = vec![headline, Line::raw("")];
        if self.dry_run && self.operation != Operation::Install {
            lines.push(Line::raw(format!("To run the {} for real: go back to Preview (Esc twice), switch the dry run off with d, and press n.", self.operation.noun())));
            lines.push(Line::raw(format!(
                "Or from a shell: {}",
                self.operation.command(&dir.join("preset.toml"))
            )));
        } else if self.dry_run {
            lines.push(Line::raw("To install for real: go back to Preview (Esc twice), switch the dry run off with d, and press n."));
            lines.push(Line::raw(
                "Or from a shell: kubewiz apply --preset FILE (save the preset on Review with s).",
            ));
        } else {
            lines.push(Line::raw(format!("kubeconfig:  {}", kubeconfig.display())));
            lines.push(Line::raw(format!(
                "  export KUBECONFIG={}",
                kubeconfig.display()
            )));
            lines.push(Line::raw("  kubectl get nodes -o wide"));
            lines.push(Line::raw(format!(
                "  or kubewiz kubeconfig {0}: adds it to ~/.kube/config as context {0}",
                view.spec.name
            )));
        }
        lines.push(Line::raw(""));
        lines.push(Line::raw(format!(
            "audit log:   {}",
            self.log_path.as_deref().unwrap_or("(none was written)")
        )));
        if self.log_path.is_some() {
            lines.push(Line::raw(format!(
                "head sha256: {}",
                self.head.as_deref().unwrap_or("(being read from the log)")
            )));
        }
        lines.push(Line::raw(format!(
            "state:       {} (PKI, journal, logs)",
            dir.display()
        )));
        lines.push(Line::raw(""));
        lines.push(Line::styled("Next steps", theme::title()));
        lines.push(Line::raw(format!(
            "  {} keep the state directory: its PKI is reused for new nodes and renewals",
            theme::wait_mark()
        )));
        if self.offers_follow_up() {
            lines.push(Line::raw(""));
            let text = match &self.follow_up {
                Some(FollowUp {
                    what,
                    operation: Operation::Install,
                }) => format!(
                    "a: the install run of the cluster as it is now, which {what}; its plan shows first."
                ),
                Some(FollowUp { what, operation }) => format!(
                    "a: the {}, which {what}; its plan shows first.",
                    operation.noun()
                ),
                None => String::new(),
            };
            lines.push(Line::styled(text, theme::warning()));
        }
        lines.push(Line::raw(match &self.operation {
            Operation::Install => format!(
                "  {} kubewiz resume {} continues a failed or aborted run",
                theme::wait_mark(),
                view.spec.name
            ),
            Operation::RenewCerts { .. } => format!(
                "  {} a renewal that stopped continues with the same certificates: renew again here, or kubewiz certs renew --preset {}",
                theme::wait_mark(),
                dir.join("preset.toml").display()
            ),
            Operation::RemoveNode { host, .. } => format!(
                "  {} the kept preset no longer lists {host}: take its [[hosts]] entry out of your own preset too, as an apply with it joins it again",
                theme::wait_mark()
            ),
            Operation::ReplaceNode { host, address, .. } => format!(
                "  {} the kept preset lists {host} at {address} (after the other control planes, if it was the first): change your own preset the same way",
                theme::wait_mark()
            ),
            Operation::Upgrade { to, bundle } => format!(
                "  {} the kept preset says version {to}{}: say the same in your own preset for the next apply",
                theme::wait_mark(),
                if bundle.is_some() { " and the new bundle_dir" } else { "" }
            ),
            Operation::Backup { archive, .. } => format!(
                "  {} check it with sha256sum -c {}; it holds every Secret and key of the cluster: keep it off this host, private; restore it from the manage view or with kubewiz restore --preset {} --from {}",
                theme::wait_mark(),
                crate::archive::sidecar(archive).display(),
                dir.join("preset.toml").display(),
                archive.display()
            ),
            Operation::Restore { .. } => format!(
                "  {} a restore that stopped continues from its journal: kubewiz resume {}",
                theme::wait_mark(),
                view.spec.name
            ),
            Operation::ResetForRestore { from } => format!(
                "  {} the restore can also be run later: kubewiz restore --preset {} --from {}",
                theme::wait_mark(),
                dir.join("preset.toml").display(),
                from.display()
            ),
        }));
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: true })
                .block(theme::block().title(" Done ")),
            area,
        );
    }
}
