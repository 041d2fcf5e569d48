//! Manage: an installed cluster of the state directory, from what kubewiz kept of it
//! (the preset its last run applied, its index of runs, its certificates) and what its
//! API says of its nodes, with what can be done to it: add hosts (its choices, to edit),
//! renew its certificates, remove a host, replace one and upgrade Kubernetes. Each goes through the preview, the run's panes and the
//! Done screen as an install does.

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Row, Table};

use super::Screen;
use crate::spec::ClusterSpec;
use crate::state::ClusterState;
use crate::tui::field::TextField;
use crate::tui::flow::{Outcome, View};
use crate::tui::keys::{self, Action, Binding, bind, quiet};
use crate::tui::prepare::Operation;
use crate::tui::theme;

const BINDINGS: &[Binding] = &[
    quiet(keys::UP, Action::Up, "previous"),
    quiet(keys::DOWN, Action::Down, "next action"),
    bind(keys::ENTER, Action::Select, "choose"),
    bind(keys::ESC, Action::Back, "back"),
];

/// While the certificates' report is shown.
const REPORT: &[Binding] = &[
    quiet(keys::UP, Action::Up, "scroll"),
    quiet(keys::DOWN, Action::Down, "scroll"),
    bind(keys::PGUP, Action::PageUp, "page up"),
    bind(keys::PGDN, Action::PageDown, "page down"),
    bind(keys::ESC, Action::Back, "close"),
];

/// While an answer is typed (a new host's address, a version, a bundle).
const ANSWER: &[Binding] = &[
    bind(keys::ENTER, Action::Commit, "go on (the plan first)"),
    bind(keys::ESC, Action::Cancel, "cancel"),
];

/// What is asked in the actions' place.
#[derive(Debug)]
enum Ask {
    /// The address of the host that replaces `host`.
    Address { host: String },
    /// The version to upgrade to.
    Version,
    /// The bundle of version `to`, for a cluster installed from a bundle.
    Bundle { to: crate::spec::KubeVersion },
    /// The backup archive to restore from.
    Archive,
}

/// While the host to take out is chosen.
const PICK: &[Binding] = &[
    quiet(keys::UP, Action::Up, "previous host"),
    quiet(keys::DOWN, Action::Down, "next host"),
    bind(keys::ENTER, Action::Select, "take it out (its plan first)"),
    bind(keys::ESC, Action::Cancel, "cancel"),
];

/// How many of the certificates that expire first are listed.
const SHOWN_CERTIFICATES: usize = 3;

/// What the operator can do to the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    AddHosts,
    RenewCertificates,
    RemoveHost,
    ReplaceHost,
    Upgrade,
    Backup,
    Restore,
    CheckCertificates,
    Back,
}

const CHOICES: [Choice; 9] = [
    Choice::AddHosts,
    Choice::RenewCertificates,
    Choice::RemoveHost,
    Choice::ReplaceHost,
    Choice::Upgrade,
    Choice::Backup,
    Choice::Restore,
    Choice::CheckCertificates,
    Choice::Back,
];

/// What `certs check` found: its lines and summary, or why it could not run.
pub type CertsReport = Result<(Vec<String>, String), String>;

/// What the cluster's API said of its nodes: name → "Ready v1.34.2".
pub type NodeStates = Result<Vec<(String, String)>, String>;

/// The manage view of one installed cluster.
#[derive(Debug, Default)]
pub struct Manage {
    pub name: String,
    selected: usize,
    /// The cluster as its last run applied it.
    spec: Option<ClusterSpec>,
    /// Why the kept preset could not be read.
    unreadable: Option<String>,
    summary: String,
    /// The kept certificates that expire first: (path under the PKI directory, the
    /// day it expires, days left).
    expiring: Vec<(String, String, i64)>,
    /// None until the API answered (or did not).
    nodes: Option<NodeStates>,
    /// The host under the cursor while the one to take out (or replace, when the
    /// flag is set) is chosen.
    picking: Option<(usize, bool)>,
    /// What is asked, and the answer as typed.
    asking: Option<(Ask, TextField)>,
    /// The report of every certificate on every host (None while it is made), and how
    /// far it is scrolled; shown while set.
    report: Option<(Option<CertsReport>, u16)>,
    /// Where the cluster's backups are unless told otherwise (the restore offers the
    /// newest).
    backups: std::path::PathBuf,
}

impl Manage {
    /// The view of cluster `name` in `state_dir`, read from what kubewiz kept; the
    /// nodes' states come later ([`Manage::set_nodes`]).
    pub fn new(state_dir: &std::path::Path, name: &str) -> Self {
        let cluster = ClusterState::new(state_dir, name);
        let (spec, unreadable) = match crate::spec::load_file(&cluster.preset()) {
            Ok(loaded) => (Some(loaded.spec), None),
            Err(e) => (None, Some(format!("{}: {e}", cluster.preset().display()))),
        };
        let now = time::OffsetDateTime::now_utc();
        let kept = super::installed::expiries(&cluster.pki_dir());
        let summary = super::installed::summary_with(&cluster, &kept);
        let expiring = kept
            .into_iter()
            .take(SHOWN_CERTIFICATES)
            .map(|(path, info)| (path, info.not_after.date().to_string(), info.days_left(now)))
            .collect();
        Manage {
            name: name.to_owned(),
            selected: 0,
            spec,
            unreadable,
            summary,
            expiring,
            nodes: None,
            picking: None,
            asking: None,
            report: None,
            backups: crate::day2::backup::default_dir(&cluster),
        }
    }

    /// The cluster as its last run applied it, when its preset could be read.
    pub fn spec(&self) -> Option<&ClusterSpec> {
        self.spec.as_ref()
    }

    /// The report of `certs check`, as it came back: its lines and its summary, or
    /// why it could not be made.
    pub fn set_report(&mut self, report: CertsReport) {
        let scroll = self.report.as_ref().map_or(0, |r| r.1);
        self.report = Some((Some(report), scroll));
    }

    /// What the cluster's API said of its nodes.
    pub fn set_nodes(&mut self, nodes: NodeStates) {
        self.nodes = Some(nodes);
    }

    fn node_state(&self, host: &str) -> String {
        match &self.nodes {
            None => "asking the API...".into(),
            Some(Err(_)) => "?".into(),
            Some(Ok(nodes)) => nodes
                .iter()
                .find(|(n, _)| n == host)
                .map_or_else(|| "no node".into(), |(_, s)| s.clone()),
        }
    }
}

impl Screen for Manage {
    fn title(&self) -> &'static str {
        "Manage"
    }

    fn help(&self) -> &'static str {
        "An installed cluster: its hosts with their roles and their nodes' state (asked from its API with the kept admin.conf), the certificates that expire first, and what can be done to it. Add hosts opens its choices to add hosts on Hosts; Check every certificate reads them on every host over SSH, as `kubewiz certs check` does, and shows what it found (scroll with the arrows, Esc closes); Renew certificates issues every leaf again from the kept CAs and places them one host at a time. Remove a host asks which, then takes it out as `kubewiz node remove` does (drained, its node deleted, its etcd member taken out after a quorum check, the host reset). Replace a host asks which and the new host's address, takes the old one out as `node replace` does, and Done offers the install run that joins the new one. Upgrade asks the version (the next minor is offered; kubeadm's version policy is checked as it is typed in) and, for a cluster installed from a bundle, the new version's bundle, then upgrades as `kubewiz upgrade` does. Back up takes an etcd snapshot on the first member that answers and packs it with the kept PKI, the preset and admin.conf into one archive in the cluster's backups/, as `kubewiz backup` does. Restore asks for an archive (the newest in backups/ is offered), checks it whole, and puts etcd's data and the PKI back as `kubewiz restore` does; a cluster that still answers is reset first, after a second confirmation with its name typed out, and Done then offers the restore. Each shows its plan first, with a dry run."
    }

    fn bindings(&self) -> &'static [Binding] {
        if self.report.is_some() {
            REPORT
        } else if self.asking.is_some() {
            ANSWER
        } else if self.picking.is_some() {
            PICK
        } else {
            BINDINGS
        }
    }

    fn editing(&self) -> bool {
        self.asking.is_some()
    }

    fn handle(&mut self, key: &KeyEvent, _spec: &mut ClusterSpec) -> Outcome {
        if let Some((_, scroll)) = self.report.as_mut() {
            match keys::lookup(REPORT, key) {
                Some(Action::Up) => *scroll = scroll.saturating_sub(1),
                Some(Action::Down) => *scroll = scroll.saturating_add(1),
                Some(Action::PageUp) => *scroll = scroll.saturating_sub(10),
                Some(Action::PageDown) => *scroll = scroll.saturating_add(10),
                Some(Action::Back) => self.report = None,
                _ => return Outcome::Ignored,
            }
            return Outcome::Handled;
        }
        if let Some((ask, field)) = self.asking.as_mut() {
            match keys::lookup(ANSWER, key) {
                Some(Action::Cancel) => self.asking = None,
                Some(Action::Commit) => {
                    let text = field.value().trim().to_owned();
                    match answered(ask, &text, self.spec.as_ref()) {
                        Ok(Answered::Run(operation)) => {
                            self.asking = None;
                            return Outcome::Day2(operation);
                        }
                        Ok(Answered::Ask(next, value)) => {
                            let mut field = TextField::new(value);
                            field.start_edit();
                            self.asking = Some((next, field));
                        }
                        Err(e) => field.error = Some(e),
                    }
                }
                _ => {
                    field.key(*key);
                    field.error = None;
                }
            }
            return Outcome::Handled;
        }
        if let Some((at, replace)) = self.picking {
            let hosts = self.spec.as_ref().map_or(0, |s| s.hosts.len());
            match keys::lookup(PICK, key) {
                Some(Action::Up) => self.picking = Some((at.saturating_sub(1), replace)),
                Some(Action::Down) => {
                    self.picking = Some(((at + 1).min(hosts.saturating_sub(1)), replace));
                }
                Some(Action::Cancel) => self.picking = None,
                Some(Action::Select) => {
                    self.picking = None;
                    let Some(host) = self.spec.as_ref().and_then(|s| s.hosts.get(at)) else {
                        return Outcome::Handled;
                    };
                    if replace {
                        // The same address for a VM rebuilt in place, or a new one.
                        let mut field = TextField::new(host.address.to_string());
                        field.start_edit();
                        let host = host.name.to_string();
                        self.asking = Some((Ask::Address { host }, field));
                    } else {
                        return Outcome::Day2(Operation::RemoveNode {
                            host: host.name.to_string(),
                            answers: true,
                        });
                    }
                }
                _ => return Outcome::Ignored,
            }
            return Outcome::Handled;
        }
        match keys::lookup(BINDINGS, key) {
            Some(Action::Up) => self.selected = self.selected.saturating_sub(1),
            Some(Action::Down) => self.selected = (self.selected + 1).min(CHOICES.len() - 1),
            Some(Action::Back) => return Outcome::Back,
            Some(Action::Select) => {
                let Some(spec) = &self.spec else {
                    return match CHOICES[self.selected] {
                        Choice::Back => Outcome::Back,
                        _ => Outcome::Message(format!(
                            "The preset of cluster {} cannot be read: {}",
                            self.name,
                            self.unreadable.as_deref().unwrap_or("")
                        )),
                    };
                };
                return match CHOICES[self.selected] {
                    Choice::AddHosts => Outcome::Load {
                        spec: Box::new(spec.clone()),
                        origin: format!("installed cluster {}", self.name),
                    },
                    Choice::RenewCertificates => {
                        Outcome::Day2(Operation::RenewCerts { names: Vec::new() })
                    }
                    Choice::CheckCertificates => {
                        self.report = Some((None, 0));
                        Outcome::CheckCerts
                    }
                    Choice::RemoveHost => {
                        self.picking = Some((0, false));
                        Outcome::Handled
                    }
                    Choice::ReplaceHost => {
                        self.picking = Some((0, true));
                        Outcome::Handled
                    }
                    Choice::Upgrade => {
                        // The next minor: kubeadm goes one at a time.
                        let v = spec.kubernetes.version;
                        let mut field = TextField::new(format!("{}.{}.0", v.major, v.minor + 1));
                        field.start_edit();
                        self.asking = Some((Ask::Version, field));
                        Outcome::Handled
                    }
                    // The snapshot's host and the archive's name are chosen by the
                    // preview, which asks the members over SSH.
                    Choice::Backup => Outcome::Day2(Operation::Backup {
                        host: String::new(),
                        archive: std::path::PathBuf::new(),
                    }),
                    Choice::Restore => {
                        // The newest archive in the cluster's backups/, if any.
                        let newest = newest_archive(&self.backups, &self.name);
                        let mut field = TextField::new(
                            newest.map(|p| p.display().to_string()).unwrap_or_default(),
                        );
                        field.start_edit();
                        self.asking = Some((Ask::Archive, field));
                        Outcome::Handled
                    }
                    Choice::Back => Outcome::Back,
                };
            }
            _ => return Outcome::Ignored,
        }
        Outcome::Handled
    }

    fn draw(&self, frame: &mut Frame, area: Rect, _view: &View) {
        if let Some((report, scroll)) = &self.report {
            let (title, lines): (String, Vec<Line>) = match report {
                None => (
                    " Certificates ".into(),
                    vec![Line::raw(format!(
                        "Reading every certificate on every host{}",
                        theme::ellipsis()
                    ))],
                ),
                Some(Err(e)) => (
                    " Certificates ".into(),
                    vec![Line::styled(
                        format!("The check could not run: {e}"),
                        theme::error(),
                    )],
                ),
                Some(Ok((found, summary))) => (
                    format!(" {summary} "),
                    found
                        .iter()
                        .map(|l| {
                            let style = if l.starts_with("error") {
                                theme::error()
                            } else if l.starts_with("warning") {
                                theme::warning()
                            } else {
                                ratatui::style::Style::default()
                            };
                            Line::styled(theme::text(l), style)
                        })
                        .collect(),
                ),
            };
            frame.render_widget(
                Paragraph::new(lines)
                    .wrap(ratatui::widgets::Wrap { trim: false })
                    .scroll((*scroll, 0))
                    .block(theme::block().title(title)),
                area,
            );
            return;
        }
        let hosts = self.spec.as_ref().map_or(0, |s| s.hosts.len()) as u16;
        // The certificates that expire first get a box of their own where there is room
        // beside every host (the summary names the first one anyway).
        let actions_height = CHOICES.len() as u16 + 2;
        let certs_height = SHOWN_CERTIFICATES as u16 + 2;
        let room = area.height.saturating_sub(3 + actions_height);
        let certs_height = if room >= hosts + 3 + certs_height {
            certs_height
        } else {
            0
        };
        let [about, table, certs, actions] = Layout::vertical([
            Constraint::Length(3),
            Constraint::Min(3),
            Constraint::Length(certs_height),
            Constraint::Length(actions_height),
        ])
        .areas(area);
        frame.render_widget(
            Paragraph::new(self.summary.clone())
                .wrap(ratatui::widgets::Wrap { trim: true })
                .block(Block::new().padding(ratatui::widgets::Padding::horizontal(1))),
            about,
        );
        let rows: Vec<Row> = match &self.spec {
            Some(spec) => spec
                .hosts
                .iter()
                .map(|h| {
                    let roles: Vec<String> = h.roles.iter().map(ToString::to_string).collect();
                    Row::new(vec![
                        h.name.to_string(),
                        h.address.to_string(),
                        roles.join(" + "),
                        self.node_state(h.name.as_str()),
                    ])
                })
                .collect(),
            None => vec![Row::new(vec![self.unreadable.clone().unwrap_or_default()])],
        };
        let title = match (&self.nodes, self.picking) {
            (_, Some((_, false))) => {
                " Which host goes? Enter shows its removal's plan, Esc cancels ".to_owned()
            }
            (_, Some((_, true))) => {
                " Which host is replaced? Enter asks the new host's address, Esc cancels "
                    .to_owned()
            }
            (Some(Err(e)), _) => format!(" Hosts · the API did not answer: {} ", theme::text(e)),
            _ => " Hosts ".to_owned(),
        };
        let mut rows_state =
            ratatui::widgets::TableState::default().with_selected(self.picking.map(|(at, _)| at));
        frame.render_stateful_widget(
            Table::new(
                rows,
                [
                    Constraint::Length(16),
                    Constraint::Length(16),
                    Constraint::Length(26),
                    Constraint::Min(10),
                ],
            )
            .header(Row::new(vec!["host", "address", "roles", "node"]).style(theme::title()))
            .row_highlight_style(theme::selected())
            .highlight_symbol("> ")
            .block(theme::block().title(title)),
            table,
            &mut rows_state,
        );
        let lines: Vec<Line> = if self.expiring.is_empty() {
            vec![Line::raw("no certificate kept")]
        } else {
            self.expiring
                .iter()
                .map(|(path, day, left)| {
                    let style = if *left < 0 {
                        theme::error()
                    } else if *left < crate::pki::RENEW_BEFORE_DAYS {
                        theme::warning()
                    } else {
                        ratatui::style::Style::default()
                    };
                    Line::from(vec![
                        Span::styled(format!("{left:>5} days"), style),
                        Span::raw(format!("  {day}  {path}")),
                    ])
                })
                .collect()
        };
        if certs_height > 0 {
            frame.render_widget(
                Paragraph::new(lines)
                    .block(theme::block().title(" Certificates that expire first ")),
                certs,
            );
        }
        let items: Vec<ListItem> = CHOICES
            .iter()
            .map(|c| match c {
                Choice::AddHosts => ListItem::new("Add hosts: open its choices, add them on Hosts"),
                Choice::CheckCertificates => {
                    ListItem::new("Check every certificate, kept and on every host")
                }
                Choice::RenewCertificates => {
                    ListItem::new("Renew certificates from the kept CAs, one host at a time")
                }
                Choice::RemoveHost => {
                    ListItem::new("Remove a host: drain it, take it out, reset it")
                }
                Choice::ReplaceHost => {
                    ListItem::new("Replace a host: take it out, join a new one in its place")
                }
                Choice::Upgrade => {
                    ListItem::new("Upgrade Kubernetes one minor version, in kubeadm's order")
                }
                Choice::Backup => ListItem::new(
                    "Back up etcd, the PKI, the preset and admin.conf into one archive",
                ),
                Choice::Restore => {
                    ListItem::new("Restore from a backup archive: etcd's data and the PKI put back")
                }
                Choice::Back => ListItem::new("Back to the start"),
            })
            .collect();
        if let Some((ask, field)) = &self.asking {
            let width = usize::from(actions.width.saturating_sub(4));
            let (title, question) = match ask {
                Ask::Address { host } => (
                    format!(" Replace {host} "),
                    format!("The new {host}'s address (the same for a VM rebuilt in place):"),
                ),
                Ask::Version => (
                    " Upgrade ".to_owned(),
                    "The version to go to (a newer patch, or the next minor):".to_owned(),
                ),
                Ask::Bundle { to } => (
                    format!(" Upgrade to {to} "),
                    format!(
                        "The directory of the {to} bundle (its bin/ has kubeadm, kubelet and kubectl):"
                    ),
                ),
                Ask::Archive => (
                    " Restore ".to_owned(),
                    "The backup archive to restore from (kubewiz backup wrote it; checked whole before anything is touched):".to_owned(),
                ),
            };
            let mut lines = vec![
                Line::raw(question),
                Line::styled(field.shown(width), theme::selected()),
            ];
            if let Some(error) = &field.error {
                lines.push(Line::styled(error.clone(), theme::error()));
            }
            frame.render_widget(
                Paragraph::new(lines)
                    .wrap(ratatui::widgets::Wrap { trim: false })
                    .block(theme::block().title(title)),
                actions,
            );
            return;
        }
        let mut state = ListState::default().with_selected(Some(self.selected));
        frame.render_stateful_widget(
            List::new(items)
                .block(theme::block().title(format!(" Cluster {} ", self.name)))
                .highlight_symbol("> ")
                .highlight_style(theme::selected()),
            actions,
            &mut state,
        );
    }
}

/// What an answer leads to: the operation to prepare, or the next question with the
/// answer it starts from.
enum Answered {
    Run(Operation),
    Ask(Ask, String),
}

/// Reads the answer `text` to `ask` about the cluster `spec`, or says what is wrong
/// with it (where it was typed).
fn answered(ask: &Ask, text: &str, spec: Option<&ClusterSpec>) -> Result<Answered, String> {
    match ask {
        Ask::Address { host } => text
            .parse::<std::net::IpAddr>()
            .map(|address| {
                Answered::Run(Operation::ReplaceNode {
                    host: host.clone(),
                    address,
                    answers: true,
                })
            })
            .map_err(|_| {
                format!("{text:?} is no IP address: type the new host's, e.g. 192.168.122.31")
            }),
        Ask::Version => {
            let to: crate::spec::KubeVersion = text.parse()?;
            if let Some(spec) = spec {
                spec.kubernetes.version.upgrade_to(to)?;
                if spec.packages.source == crate::spec::PackageSource::Bundle {
                    let dir = spec
                        .packages
                        .bundle_dir
                        .as_ref()
                        .map(|d| d.display().to_string())
                        .unwrap_or_default();
                    return Ok(Answered::Ask(Ask::Bundle { to }, dir));
                }
            }
            Ok(Answered::Run(Operation::Upgrade { to, bundle: None }))
        }
        Ask::Bundle { to } => {
            let dir = std::path::absolute(text).map_err(|e| format!("{text:?}: {e}"))?;
            let missing: Vec<&str> = ["kubeadm", "kubelet", "kubectl"]
                .into_iter()
                .filter(|p| !dir.join("bin").join(p).is_file())
                .collect();
            if !missing.is_empty() {
                return Err(format!(
                    "{} has no {}: give the {to} bundle's directory",
                    dir.join("bin").display(),
                    missing.join(", ")
                ));
            }
            Ok(Answered::Run(Operation::Upgrade {
                to: *to,
                bundle: Some(dir),
            }))
        }
        Ask::Archive => {
            if text.trim().is_empty() {
                return Err(
                    "type the archive's path, e.g. a .tar.gz that kubewiz backup wrote".into(),
                );
            }
            let from = std::path::absolute(text.trim()).map_err(|e| format!("{text:?}: {e}"))?;
            if !from.is_file() {
                return Err(format!(
                    "{} is no file: type an archive's path",
                    from.display()
                ));
            }
            Ok(Answered::Run(Operation::Restore { from }))
        }
    }
}

/// The newest archive of cluster `name` in `dir` (by the time in its name, as `kubewiz
/// backup` names them), if any.
fn newest_archive(dir: &std::path::Path, name: &str) -> Option<std::path::PathBuf> {
    let prefix = format!("{name}-");
    std::fs::read_dir(dir)
        .ok()?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(&prefix) && n.ends_with(".tar.gz"))
        })
        .max()
}
