//! Review: every choice in one table, with every warning and error, before anything
//! is generated; the spec can be saved as a preset (which never holds a secret).

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Clear, Paragraph, Row, Table, Wrap};

use super::Screen;
use super::network::{dns_ip, pod_capacity};
use crate::spec::{self, ClusterSpec, Role};
use crate::tui::field::TextField;
use crate::tui::flow::{Outcome, View};
use crate::tui::keys::{self, Action, Binding, Key, bind, quiet};
use crate::tui::theme;
use crate::tui::widgets::{self, centered};

const BINDINGS: &[Binding] = &[
    quiet(keys::UP, Action::Up, "scroll up"),
    quiet(keys::DOWN, Action::Down, "scroll down"),
    bind(&[Key::ch('s')], Action::Save, "save preset"),
    bind(keys::NEXT, Action::Next, "generate & preview"),
    bind(keys::ESC, Action::Back, "back"),
];

const SAVE: &[Binding] = &[
    bind(keys::ENTER, Action::Commit, "save"),
    bind(keys::ESC, Action::Cancel, "cancel"),
];

/// The review screen.
#[derive(Debug, Default)]
pub struct Review {
    scroll: usize,
    save: Option<TextField>,
    status: Option<String>,
}

/// Host names with runs of consecutive numbers folded: `kubenode-1..5, etcd-1`.
pub fn compress(names: &[&str]) -> String {
    let split = |n: &str| {
        let stem = n.trim_end_matches(|c: char| c.is_ascii_digit());
        let num = n[stem.len()..].parse::<u64>().ok();
        (stem.to_owned(), num)
    };
    let mut out: Vec<String> = Vec::new();
    let mut i = 0;
    while i < names.len() {
        let (stem, num) = split(names[i]);
        let mut j = i;
        if let Some(first) = num {
            while j + 1 < names.len()
                && split(names[j + 1]) == (stem.clone(), Some(first + (j + 1 - i) as u64))
            {
                j += 1;
            }
        }
        if j >= i + 2 {
            out.push(format!(
                "{}..{}",
                names[i],
                split(names[j]).1.unwrap_or_default()
            ));
        } else {
            out.extend(names[i..=j].iter().map(|n| (*n).to_owned()));
        }
        i = j + 1;
    }
    out.join(", ")
}

fn cni_name(cni: crate::spec::Cni) -> String {
    serde_json::to_value(cni)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// (setting, value) rows of the whole spec.
pub fn summary(spec: &ClusterSpec) -> Vec<(String, String)> {
    let k = &spec.kubernetes;
    let cp = &spec.control_plane;
    let opt = |v: Option<String>| v.unwrap_or_else(|| "(none)".into());
    let mut rows = vec![
        (
            "cluster".into(),
            format!("{} ({})", spec.name, spec.topology),
        ),
        (
            "Kubernetes".into(),
            format!(
                "{} {} CNI {} {} keys {}",
                k.version,
                theme::sep(),
                cni_name(k.cni),
                theme::sep(),
                k.encryption_algorithm.as_str()
            ),
        ),
        ("images from".into(), k.image_repository.to_string()),
        (
            "pod CIDR".into(),
            format!(
                "{} ({} nodes)",
                k.pod_cidr,
                pod_capacity(k.pod_cidr).unwrap_or(0)
            ),
        ),
        (
            "service CIDR".into(),
            format!(
                "{} (DNS {})",
                k.service_cidr,
                opt(dns_ip(k.service_cidr).map(|i| i.to_string()))
            ),
        ),
        ("DNS domain".into(), k.dns_domain.to_string()),
        (
            "hosts' subnet".into(),
            opt(spec.network.hosts_cidr.map(|n| n.to_string())),
        ),
        (
            "API endpoint".into(),
            format!(
                "{}:{}",
                opt(spec.endpoint_host().map(|e| e.to_string())),
                cp.port
            ),
        ),
    ];
    if spec.topology.is_ha() {
        rows.push((
            "VIP".into(),
            format!(
                "{} via {}",
                opt(cp.vip.map(|v| v.to_string())),
                cp.load_balancer
            ),
        ));
    }
    rows.push((
        "packages".into(),
        match (
            &spec.packages.source,
            &spec.packages.repository_mirror,
            &spec.packages.bundle_dir,
        ) {
            (crate::spec::PackageSource::Bundle, _, dir) => format!(
                "bundle {}",
                opt(dir.as_ref().map(|d| d.display().to_string()))
            ),
            (_, Some(url), _) => format!("mirror {url}"),
            _ => "online (pkgs.k8s.io)".into(),
        },
    ));
    rows.push((
        "proxy".into(),
        match (&spec.proxy.http, &spec.proxy.https) {
            (None, None) => "(none)".into(),
            (h, s) => format!(
                "http {} https {}",
                opt(h.as_ref().map(|u| u.to_string())),
                opt(s.as_ref().map(|u| u.to_string()))
            ),
        },
    ));
    rows.push((
        "SSH".into(),
        format!(
            "{}@host:{} key {}",
            spec.ssh.user,
            spec.ssh.port,
            spec.ssh.identity_file.display()
        ),
    ));
    for role in Role::ALL {
        let names: Vec<&str> = spec.hosts_with(role).map(|h| h.name.as_str()).collect();
        if !names.is_empty() {
            rows.push((format!("{role} ({})", names.len()), compress(&names)));
        }
    }
    for h in &spec.hosts {
        let over = match (&h.user, h.port) {
            (None, None) => String::new(),
            (u, p) => format!(
                " ssh {}:{}",
                u.as_deref().unwrap_or(&spec.ssh.user),
                p.unwrap_or(spec.ssh.port)
            ),
        };
        rows.push((
            format!("  {}", h.name),
            format!(
                "{} {}{over}",
                h.address,
                h.roles
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(",")
            ),
        ));
    }
    rows
}

impl Screen for Review {
    fn title(&self) -> &'static str {
        "Review"
    }

    fn help(&self) -> &'static str {
        "Every choice in one place, with what validation says about it.\n\
         n generates the cluster's PKI (kept in the state directory and reused later), every \
         file and the plan, and shows them; still nothing is contacted.\n\
         s saves these choices as a preset (TOML) to reuse with kubewiz --preset FILE or \
         kubewiz apply. A preset never holds secrets."
    }

    fn bindings(&self) -> &'static [Binding] {
        if self.save.is_some() { SAVE } else { BINDINGS }
    }

    fn editing(&self) -> bool {
        self.save.is_some()
    }

    fn handle(&mut self, key: &KeyEvent, spec: &mut ClusterSpec) -> Outcome {
        if let Some(path) = self.save.as_mut() {
            match keys::lookup(SAVE, key) {
                Some(Action::Cancel) => self.save = None,
                Some(Action::Commit) => {
                    let file = path.value().trim().to_owned();
                    // Atomic, and the presets directory made on first use.
                    let written = crate::state::write_atomic(
                        std::path::Path::new(&file),
                        spec::to_toml(spec).as_bytes(),
                        0o644,
                    );
                    self.status = Some(match written {
                        Ok(()) => format!("{} saved the preset to {file}", theme::ok_mark()),
                        Err(e) => format!("{} could not write {file}: {e}", theme::err_mark()),
                    });
                    self.save = None;
                }
                _ => {
                    path.key(*key);
                }
            }
            return Outcome::Handled;
        }
        match keys::lookup(BINDINGS, key) {
            Some(Action::Up) => self.scroll = self.scroll.saturating_sub(1),
            Some(Action::Down) => {
                self.scroll = (self.scroll + 1).min(summary(spec).len().saturating_sub(1))
            }
            Some(Action::Save) => {
                // Where the start screen lists the operator's presets.
                let file = format!("{}.toml", spec.name);
                let path = crate::state::user_presets_dir()
                    .map_or_else(|| file.clone(), |d| d.join(&file).display().to_string());
                let mut f = TextField::new(path);
                f.start_edit();
                self.save = Some(f);
            }
            Some(Action::Next) => return Outcome::Next,
            Some(Action::Back) => return Outcome::Back,
            _ => return Outcome::Ignored,
        }
        Outcome::Handled
    }

    fn problems(&self, view: &View) -> Vec<String> {
        crate::tui::diags::errors_of(view.diags, |_| true)
    }

    fn draw(&self, frame: &mut Frame, area: Rect, view: &View) {
        let errors = view.diags.iter().filter(|d| d.is_error()).count();
        let warnings = view.diags.len() - errors;
        let notes_height =
            (view.diags.len() as u16 + 2 + u16::from(self.status.is_some())).clamp(3, 8);
        let [table_area, notes] =
            Layout::vertical([Constraint::Min(5), Constraint::Length(notes_height)]).areas(area);
        let rows: Vec<Row> = summary(view.spec)
            .into_iter()
            .skip(self.scroll)
            .map(|(k, v)| Row::new(vec![Cell::from(k).style(theme::title()), Cell::from(v)]))
            .collect();
        let sep = theme::sep();
        let title = format!(
            " Review: {} {sep} {} {sep} {}{} scroll ",
            view.spec.name,
            view.origin,
            theme::arrow(KeyCode::Up),
            theme::arrow(KeyCode::Down)
        );
        frame.render_widget(
            Table::new(rows, [Constraint::Length(20), Constraint::Min(20)])
                .block(theme::block().title(title)),
            table_area,
        );
        let mut lines: Vec<Line> = Vec::new();
        if let Some(s) = &self.status {
            lines.push(Line::raw(s.clone()));
        }
        for d in view.diags {
            let (mark, style) = widgets::severity(d.severity);
            lines.push(Line::from(vec![
                Span::styled(format!("{mark} {}: ", d.path), style),
                Span::raw(d.message.clone()),
            ]));
        }
        if view.diags.is_empty() {
            lines.push(Line::styled(
                format!("{} valid: no errors, no warnings", theme::ok_mark()),
                theme::ok(),
            ));
        }
        let title = format!(" {errors} error(s), {warnings} warning(s) ");
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: true })
                .block(theme::block().title(title)),
            notes,
        );
        if let Some(path) = &self.save {
            let popup = centered(area, 64, 5);
            frame.render_widget(Clear, popup);
            frame.render_widget(
                Paragraph::new(vec![
                    Line::raw(format!("File: {}", path.shown(54))),
                    Line::styled("no secrets are written", theme::dim()),
                ])
                .block(theme::block().title(" Save as preset ")),
                popup,
            );
        }
    }
}
