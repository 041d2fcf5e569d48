//! Hosts: an editable table of name, address, roles and optional SSH user/port. Every
//! cell is parsed with the spec's own types as it is typed; problems the validator
//! finds are marked on the cells their path names and listed under the table. `i`
//! fills the table from the VMs libvirt knows (`screens::import`).

use std::net::IpAddr;

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

use super::Screen;
use super::import::{self, ImportState, Merge, Report};
use crate::kvm;
use crate::spec::{ClusterSpec, DnsLabel, HostSpec, Role, Severity};
use crate::tui::diags::{diag_for, errors_of};
use crate::tui::field::{self, TextField};
use crate::tui::flow::{Outcome, View};
use crate::tui::keys::{self, Action, Binding, Key, bind, quiet};
use crate::tui::theme;
use crate::tui::widgets::{self, centered, shorten};

const TABLE: &[Binding] = &[
    quiet(keys::UP, Action::Up, "previous host"),
    quiet(keys::DOWN, Action::Down, "next host"),
    bind(keys::ENTER, Action::Select, "edit"),
    quiet(keys::RIGHT, Action::Right, "next column"),
    quiet(keys::LEFT, Action::Left, "previous column"),
    bind(&[Key::ch('a')], Action::Add, "add"),
    bind(&[Key::ch('d')], Action::Duplicate, "copy"),
    bind(
        &[Key::ch('x'), Key::plain(KeyCode::Delete)],
        Action::Remove,
        "del",
    ),
    bind(&[Key::ch('b')], Action::BulkAdd, "bulk"),
    bind(&[Key::ch('i')], Action::Import, "import"),
    bind(keys::NEXT, Action::Next, "next"),
    bind(keys::ESC, Action::Back, "back"),
];

const BULK: &[Binding] = &[
    bind(&[Key::plain(KeyCode::Tab)], Action::Right, "next field"),
    quiet(
        &[Key::plain(KeyCode::BackTab)],
        Action::Left,
        "previous field",
    ),
    bind(keys::ENTER, Action::Commit, "add hosts"),
    bind(keys::ESC, Action::Cancel, "cancel"),
];

/// The columns, with their spec field names (for diagnostic paths) and widths.
const COLUMNS: [(&str, &str, u16); 5] = [
    ("name", "name", 14),
    ("address", "address", 16),
    ("roles", "roles", 24),
    ("SSH user", "user", 8),
    ("port", "port", 5),
];

/// The most hosts one bulk add makes; more is almost surely a typo.
const BULK_MAX: u32 = 256;

#[derive(Debug, Clone, Default)]
struct HostRow {
    cells: [TextField; 5],
}

impl HostRow {
    fn from_spec(h: &HostSpec) -> Self {
        HostRow {
            cells: [
                TextField::new(h.name.as_str()),
                TextField::new(h.address.to_string()),
                TextField::new(roles_text(&h.roles)),
                TextField::new(h.user.clone().unwrap_or_default()),
                TextField::new(h.port.map(|p| p.to_string()).unwrap_or_default()),
            ],
        }
    }

    /// Parses every cell, recording each cell's error; the host when all parse.
    fn parse(&mut self) -> Option<HostSpec> {
        let name = field::parse::<DnsLabel>(self.cells[0].value());
        let address = parse_address(self.cells[1].value());
        let roles = parse_roles(self.cells[2].value());
        let user = field::optional(self.cells[3].value(), parse_user);
        let port = field::optional(self.cells[4].value(), field::port);
        self.cells[0].error = name.as_ref().err().cloned();
        self.cells[1].error = address.as_ref().err().cloned();
        self.cells[2].error = roles.as_ref().err().cloned();
        self.cells[3].error = user.as_ref().err().cloned();
        self.cells[4].error = port.as_ref().err().cloned();
        Some(HostSpec {
            name: name.ok()?,
            address: address.ok()?,
            roles: roles.ok()?,
            user: user.ok()?,
            port: port.ok()?,
        })
    }
}

fn roles_text(roles: &[Role]) -> String {
    roles
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_address(text: &str) -> Result<IpAddr, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("is empty; give the host's IP address, e.g. 192.168.122.21".into());
    }
    text.parse::<IpAddr>()
        .map_err(|_| format!("\"{text}\" is not an IP address; give one like 192.168.122.21"))
}

/// Roles as a comma-separated list; `cp`, `w` and `lb` are accepted as short forms.
pub fn parse_roles(text: &str) -> Result<Vec<Role>, String> {
    let mut roles = Vec::new();
    for word in text
        .split([',', ' '])
        .map(str::trim)
        .filter(|w| !w.is_empty())
    {
        let role = match word {
            "cp" => Role::ControlPlane,
            "w" => Role::Worker,
            "lb" => Role::LoadBalancer,
            _ => Role::ALL.into_iter().find(|r| r.as_str() == word).ok_or_else(|| {
                format!("\"{word}\" is not a role; use control-plane (cp), worker (w), etcd or load-balancer (lb)")
            })?,
        };
        roles.push(role);
    }
    Ok(roles)
}

fn parse_user(text: &str) -> Result<String, String> {
    if text
        .chars()
        .any(|c| c.is_whitespace() || c == '@' || c.is_control())
    {
        return Err(format!(
            "\"{text}\" is not a user name; leave it empty to use ssh.user"
        ));
    }
    Ok(text.to_owned())
}

/// `kubenode-{1..5}` → (`kubenode-`, 1, 5, ``).
fn parse_pattern(text: &str) -> Result<(String, u32, u32, String), String> {
    let bad = || {
        format!("\"{text}\" is not a pattern; write a name with a range, e.g. kubenode-{{1..5}}")
    };
    let (prefix, rest) = text.trim().split_once('{').ok_or_else(bad)?;
    let (range, suffix) = rest.split_once('}').ok_or_else(bad)?;
    let (a, b) = range.split_once("..").ok_or_else(bad)?;
    let (a, b): (u32, u32) = (
        a.trim().parse().map_err(|_| bad())?,
        b.trim().parse().map_err(|_| bad())?,
    );
    if b < a || b - a >= BULK_MAX {
        return Err(format!(
            "{{{a}..{b}}} must count up, by at most {BULK_MAX} hosts"
        ));
    }
    Ok((prefix.to_owned(), a, b, suffix.to_owned()))
}

/// The address `n` after `first`.
fn offset(first: IpAddr, n: u32) -> Option<IpAddr> {
    match first {
        IpAddr::V4(v4) => u32::from(v4).checked_add(n).map(|x| IpAddr::V4(x.into())),
        IpAddr::V6(v6) => u128::from(v6)
            .checked_add(n.into())
            .map(|x| IpAddr::V6(x.into())),
    }
}

/// Makes the rows of a bulk add, or says what is wrong with the dialog's fields.
fn expand(pattern: &str, first: &str, roles: &str) -> Result<Vec<HostRow>, String> {
    let (prefix, a, b, suffix) = parse_pattern(pattern)?;
    let first = parse_address(first).map_err(|e| format!("first address {e}"))?;
    let roles = parse_roles(roles)?;
    (a..=b)
        .enumerate()
        .map(|(i, n)| {
            let name = format!("{prefix}{n}{suffix}");
            name.parse::<DnsLabel>().map_err(|e| format!("name {e}"))?;
            let address = offset(first, i as u32)
                .ok_or("the addresses run past the end of the address space")?;
            Ok(HostRow::from_spec(&HostSpec {
                name: name.parse().map_err(|e: String| e)?,
                address,
                roles: roles.clone(),
                user: None,
                port: None,
            }))
        })
        .collect()
}

/// The bulk-add dialog: pattern, first address, roles.
#[derive(Debug, Clone)]
struct Bulk {
    fields: [TextField; 3],
    focus: usize,
    error: Option<String>,
}

/// The hosts table.
#[derive(Debug, Default)]
pub struct Hosts {
    rows: Vec<HostRow>,
    /// For each row, its index in `spec.hosts` when all its cells parse.
    index: Vec<Option<usize>>,
    row: usize,
    col: usize,
    bulk: Option<Bulk>,
    /// "Import from libvirt": running, or its report shown.
    import: Option<ImportState>,
}

impl Hosts {
    /// One row per host of `spec`.
    pub fn new(spec: &ClusterSpec) -> Self {
        let mut hosts = Hosts {
            rows: spec.hosts.iter().map(HostRow::from_spec).collect(),
            ..Hosts::default()
        };
        hosts.index = (0..hosts.rows.len()).map(Some).collect();
        hosts
    }

    /// Rebuilds `spec.hosts` from the rows that parse.
    fn sync(&mut self, spec: &mut ClusterSpec) {
        spec.hosts.clear();
        self.index.clear();
        for row in &mut self.rows {
            match row.parse() {
                Some(host) => {
                    self.index.push(Some(spec.hosts.len()));
                    spec.hosts.push(host);
                }
                None => self.index.push(None),
            }
        }
    }

    fn editing_cell(&mut self) -> Option<&mut TextField> {
        self.rows
            .get_mut(self.row)
            .map(|r| &mut r.cells[self.col])
            .filter(|c| c.editing())
    }

    /// A new row after the selected one: the same roles, the next name and address.
    fn successor(&self, of: Option<&HostRow>) -> HostRow {
        let Some(of) = of else {
            return HostRow::from_spec(&HostSpec {
                name: "kubenode-1".parse().unwrap_or_else(|_| unreachable!()),
                address: IpAddr::from([192, 168, 122, 21]),
                roles: vec![Role::Worker],
                user: None,
                port: None,
            });
        };
        let mut row = of.clone();
        for c in &mut row.cells {
            c.commit();
        }
        let name = of.cells[0].value();
        let stem = name.trim_end_matches(|c: char| c.is_ascii_digit());
        let mut n: u32 = name[stem.len()..].parse().unwrap_or(0);
        let taken = |candidate: &str| self.rows.iter().any(|r| r.cells[0].value() == candidate);
        let mut candidate;
        loop {
            n += 1;
            candidate = format!("{stem}{n}");
            if !taken(&candidate) {
                break;
            }
        }
        row.cells[0].set(candidate);
        if let Ok(ip) = parse_address(of.cells[1].value()) {
            let mut k = 1;
            while let Some(next) = offset(ip, k) {
                let text = next.to_string();
                if !self.rows.iter().any(|r| r.cells[1].value() == text) {
                    row.cells[1].set(text);
                    break;
                }
                k += 1;
            }
        }
        row
    }

    /// The import was asked for and runs off the UI thread: show the wait.
    pub fn start_import(&mut self, network: &str, uri: &str) {
        self.import = Some(ImportState::Running {
            network: network.to_owned(),
            uri: uri.to_owned(),
            ticks: 0,
        });
    }

    /// True while an import runs: no second one is started.
    pub fn importing(&self) -> bool {
        matches!(self.import, Some(ImportState::Running { .. }))
    }

    /// Time passes for a running import; true when the screen shows it.
    pub fn tick(&mut self) -> bool {
        match &mut self.import {
            Some(ImportState::Running { ticks, .. }) => {
                *ticks += 1;
                true
            }
            _ => false,
        }
    }

    /// The import's result: the hosts libvirt gave fill the table (a row of the same
    /// name gets the VM's address and keeps its roles; a new name is added without
    /// roles), and the report says what happened. Ignored when the operator stopped
    /// waiting.
    pub fn finish_import(&mut self, result: Result<kvm::Import, String>, spec: &mut ClusterSpec) {
        let Some(ImportState::Running { network, uri, .. }) = self.import.take() else {
            return;
        };
        let found = match result {
            Ok(found) => found,
            Err(message) => {
                self.import = Some(ImportState::Report(Report::failed(
                    &network, &uri, &message,
                )));
                return;
            }
        };
        let mut merge = Merge::default();
        for host in found.host_specs() {
            let name = host.name.as_str();
            match self.rows.iter_mut().find(|r| r.cells[0].value() == name) {
                Some(row) => {
                    let before = row.cells[1].value().to_owned();
                    if parse_address(&before).ok() == Some(host.address) {
                        merge.unchanged.push(name.to_owned());
                    } else {
                        row.cells[1].set(host.address.to_string());
                        merge.updated.push((name.to_owned(), before, host.address));
                    }
                }
                None => {
                    self.rows.push(HostRow::from_spec(&host));
                    merge.added.push((name.to_owned(), host.address));
                }
            }
        }
        let imported = merge.names();
        merge.absent = self
            .rows
            .iter()
            .map(|r| r.cells[0].value().to_owned())
            .filter(|n| !imported.contains(n))
            .collect();
        self.import = Some(ImportState::Report(Report::of(&found, &merge)));
        self.sync(spec);
    }

    fn handle_import(&mut self, key: &KeyEvent, spec: &mut ClusterSpec) -> Outcome {
        match &mut self.import {
            Some(ImportState::Running { .. }) => {
                if keys::lookup(import::WAITING, key) == Some(Action::Cancel) {
                    self.import = None;
                }
            }
            Some(ImportState::Report(report)) => match keys::lookup(import::REPORT, key) {
                Some(Action::Up) => report.scroll_by(false),
                Some(Action::Down) => report.scroll_by(true),
                Some(Action::Cancel) => self.import = None,
                Some(Action::Remove) => {
                    let keep = report.imported.clone();
                    self.rows
                        .retain(|r| keep.iter().any(|k| k == r.cells[0].value()));
                    self.row = self.row.min(self.rows.len().saturating_sub(1));
                    self.import = None;
                    self.sync(spec);
                }
                _ => {}
            },
            None => return Outcome::Ignored,
        }
        Outcome::Handled
    }

    fn handle_bulk(&mut self, key: &KeyEvent, spec: &mut ClusterSpec) -> Outcome {
        let Some(bulk) = self.bulk.as_mut() else {
            return Outcome::Ignored;
        };
        match keys::lookup(BULK, key) {
            Some(Action::Right) => bulk.focus = (bulk.focus + 1) % 3,
            Some(Action::Left) => bulk.focus = (bulk.focus + 2) % 3,
            Some(Action::Cancel) => self.bulk = None,
            Some(Action::Commit) => {
                match expand(
                    bulk.fields[0].value(),
                    bulk.fields[1].value(),
                    bulk.fields[2].value(),
                ) {
                    Ok(rows) => {
                        let at = (self.row + 1).min(self.rows.len());
                        let n = rows.len();
                        self.rows.splice(at..at, rows);
                        self.row = at + n - 1;
                        self.bulk = None;
                        self.sync(spec);
                    }
                    Err(e) => bulk.error = Some(e),
                }
            }
            _ => {
                bulk.fields[bulk.focus].key(*key);
                bulk.error = None;
            }
        }
        Outcome::Handled
    }

    fn cell_problem<'a>(
        &'a self,
        view: &'a View,
        row: usize,
        col: usize,
    ) -> Option<(Severity, String)> {
        let cell = &self.rows.get(row)?.cells[col];
        if let Some(e) = &cell.error {
            return Some((Severity::Error, e.clone()));
        }
        let i = (*self.index.get(row)?)?;
        diag_for(view.diags, &format!("hosts[{i}].{}", COLUMNS[col].1))
            .map(|d| (d.severity, d.message.clone()))
    }
}

impl Screen for Hosts {
    fn title(&self) -> &'static str {
        "Hosts"
    }

    fn help(&self) -> &'static str {
        "The hosts of the cluster. Enter edits the highlighted cell; every cell is checked as \
         you type and marked ✗ (error) or ! (warning), with the reason under the table.\n\
         Roles: control-plane (cp), worker (w), etcd, load-balancer (lb), comma separated.\n\
         SSH user and port are optional per-host overrides of the SSH options.\n\
         b adds many hosts at once: a name pattern like kubenode-{1..5} and the first address.\n\
         i imports the VMs of the libvirt network: names from the VMs, addresses from \
         their DHCP leases; rows of the same name keep their roles."
    }

    fn bindings(&self) -> &'static [Binding] {
        if let Some(state) = &self.import {
            match state {
                ImportState::Running { .. } => import::WAITING,
                ImportState::Report(_) => import::REPORT,
            }
        } else if self.bulk.is_some() {
            BULK
        } else if self
            .rows
            .get(self.row)
            .is_some_and(|r| r.cells[self.col].editing())
        {
            keys::EDITING
        } else {
            TABLE
        }
    }

    fn editing(&self) -> bool {
        self.bulk.is_some()
            || self
                .rows
                .get(self.row)
                .is_some_and(|r| r.cells[self.col].editing())
    }

    fn handle(&mut self, key: &KeyEvent, spec: &mut ClusterSpec) -> Outcome {
        if self.import.is_some() {
            return self.handle_import(key, spec);
        }
        if self.bulk.is_some() {
            return self.handle_bulk(key, spec);
        }
        if let Some(cell) = self.editing_cell() {
            match keys::lookup(keys::EDITING, key) {
                Some(Action::Commit) => cell.commit(),
                Some(Action::Cancel) => cell.cancel(),
                _ => {
                    cell.key(*key);
                }
            }
            self.sync(spec);
            return Outcome::Handled;
        }
        let last = self.rows.len().saturating_sub(1);
        match keys::lookup(TABLE, key) {
            Some(Action::Up) => self.row = self.row.saturating_sub(1),
            Some(Action::Down) => self.row = (self.row + 1).min(last),
            Some(Action::Right) => self.col = (self.col + 1) % COLUMNS.len(),
            Some(Action::Left) => self.col = (self.col + COLUMNS.len() - 1) % COLUMNS.len(),
            Some(Action::Select) => {
                if let Some(row) = self.rows.get_mut(self.row) {
                    row.cells[self.col].start_edit();
                }
            }
            Some(Action::Add) => {
                let mut row = self.successor(self.rows.get(self.row));
                for c in &mut row.cells[3..] {
                    c.set("");
                }
                let at = (self.row + 1).min(self.rows.len());
                self.rows.insert(at, row);
                self.row = at;
                self.col = 0;
                self.sync(spec);
            }
            Some(Action::Duplicate) => {
                if !self.rows.is_empty() {
                    let row = self.successor(self.rows.get(self.row));
                    self.rows.insert(self.row + 1, row);
                    self.row += 1;
                    self.sync(spec);
                }
            }
            Some(Action::Remove) => {
                if self.row < self.rows.len() {
                    self.rows.remove(self.row);
                    self.row = self.row.min(self.rows.len().saturating_sub(1));
                    self.sync(spec);
                }
            }
            Some(Action::BulkAdd) => {
                let first = self.successor(self.rows.get(self.row));
                let name = first.cells[0].value();
                let stem = name.trim_end_matches(|c: char| c.is_ascii_digit());
                let n: u32 = name[stem.len()..].parse().unwrap_or(1);
                self.bulk = Some(Bulk {
                    fields: [
                        TextField::new(format!("{stem}{{{n}..{}}}", n + 2)),
                        TextField::new(first.cells[1].value()),
                        TextField::new(first.cells[2].value()),
                    ],
                    focus: 0,
                    error: None,
                });
            }
            Some(Action::Import) => return Outcome::ImportLibvirt,
            Some(Action::Next) => return Outcome::Next,
            Some(Action::Back) => return Outcome::Back,
            _ => return Outcome::Ignored,
        }
        Outcome::Handled
    }

    fn problems(&self, view: &View) -> Vec<String> {
        let mut out = Vec::new();
        for (r, row) in self.rows.iter().enumerate() {
            for (c, cell) in row.cells.iter().enumerate() {
                if let Some(e) = &cell.error {
                    out.push(format!(
                        "row {} ({}) {}: {e}",
                        r + 1,
                        row.cells[0].value(),
                        COLUMNS[c].0
                    ));
                }
            }
        }
        out.extend(errors_of(view.diags, |p| {
            p == "topology" || p.starts_with("hosts")
        }));
        out
    }

    fn draw(&self, frame: &mut Frame, area: Rect, view: &View) {
        let [table_area, notes] =
            Layout::vertical([Constraint::Min(6), Constraint::Length(6)]).areas(area);
        let header = Row::new(
            std::iter::once(Cell::from(" ")).chain(COLUMNS.iter().map(|(h, _, _)| Cell::from(*h))),
        )
        .style(theme::title());
        let rows: Vec<Row> = self
            .rows
            .iter()
            .enumerate()
            .map(|(r, row)| {
                let bad = (0..COLUMNS.len())
                    .any(|c| matches!(self.cell_problem(view, r, c), Some((Severity::Error, _))));
                let cells = row.cells.iter().enumerate().map(|(c, cell)| {
                    let width = COLUMNS[c].2 as usize;
                    let problem = self.cell_problem(view, r, c);
                    let (mark, style) = match &problem {
                        Some((sev, _)) => widgets::severity(*sev),
                        None => ("", ratatui::style::Style::new()),
                    };
                    let text = if cell.editing() {
                        cell.shown(width)
                    } else {
                        let shown = format!("{mark}{}", cell.value());
                        shorten(&shown, width)
                    };
                    let mut style = style;
                    if r == self.row && c == self.col {
                        style = if cell.editing() {
                            theme::editing()
                        } else {
                            style.patch(theme::selected())
                        };
                    }
                    Cell::from(text).style(style)
                });
                let lead = if bad { theme::err_mark() } else { " " };
                Row::new(std::iter::once(Cell::from(lead)).chain(cells))
            })
            .collect();
        let widths = std::iter::once(Constraint::Length(1))
            .chain(COLUMNS.iter().map(|(_, _, w)| Constraint::Length(*w)));
        let mut state = TableState::default().with_selected(Some(self.row));
        let title = format!(
            " {} hosts {} {} ",
            self.rows.len(),
            theme::sep(),
            view.spec.topology
        );
        frame.render_stateful_widget(
            Table::new(rows, widths)
                .header(header)
                .highlight_symbol(">")
                .block(theme::block().title(title)),
            table_area,
            &mut state,
        );
        frame.render_widget(self.notes(view), notes);
        if let Some(bulk) = &self.bulk {
            draw_bulk(frame, area, bulk);
        }
        match &self.import {
            Some(ImportState::Running {
                network,
                uri,
                ticks,
            }) => import::draw_running(frame, area, network, uri, *ticks),
            Some(ImportState::Report(report)) => import::draw_report(frame, area, report),
            None => {}
        }
    }
}

impl Hosts {
    /// Under the table: the selected row's problems, then the others.
    fn notes(&self, view: &View) -> Paragraph<'static> {
        let mut lines = Vec::new();
        for (c, column) in COLUMNS.iter().enumerate() {
            if let Some((sev, msg)) = self.cell_problem(view, self.row, c) {
                let (mark, style) = widgets::severity(sev);
                lines.push(Line::from(vec![
                    Span::styled(format!("{mark} {}: ", column.0), style),
                    Span::raw(msg),
                ]));
            }
        }
        let others: Vec<_> = view
            .diags
            .iter()
            .filter(|d| d.path == "topology" || d.path == "hosts")
            .collect();
        for d in &others {
            let (mark, style) = widgets::severity(d.severity);
            lines.push(Line::from(vec![
                Span::styled(format!("{mark} {}: ", d.path), style),
                Span::raw(d.message.clone()),
            ]));
        }
        let elsewhere = self
            .rows
            .iter()
            .enumerate()
            .filter(|(r, _)| *r != self.row)
            .filter(|(r, _)| {
                (0..COLUMNS.len())
                    .any(|c| matches!(self.cell_problem(view, *r, c), Some((Severity::Error, _))))
            })
            .count();
        if elsewhere > 0 {
            lines.push(Line::styled(
                format!(
                    "{} {elsewhere} other row(s) marked {} have errors",
                    theme::err_mark(),
                    theme::err_mark()
                ),
                theme::error(),
            ));
        }
        if lines.is_empty() {
            lines.push(Line::styled(
                format!("{} no problems with these hosts", theme::ok_mark()),
                theme::ok(),
            ));
        }
        let title = match self.rows.get(self.row) {
            Some(row) => format!(" row {}: {} ", self.row + 1, row.cells[0].value()),
            None => " no hosts: a adds one ".into(),
        };
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(theme::block().title(title))
    }
}

fn draw_bulk(frame: &mut Frame, area: Rect, bulk: &Bulk) {
    let popup = centered(area, 60, 9);
    frame.render_widget(Clear, popup);
    let labels = ["name pattern ", "first address", "roles        "];
    let mut lines: Vec<Line> = labels
        .iter()
        .zip(&bulk.fields)
        .enumerate()
        .map(|(i, (label, f))| {
            let style = if i == bulk.focus {
                theme::editing()
            } else {
                ratatui::style::Style::new()
            };
            let text = if i == bulk.focus {
                let mut f = f.clone();
                f.start_edit();
                f.shown(40)
            } else {
                f.value().to_owned()
            };
            Line::from(vec![
                Span::raw(format!("{label}  ")),
                Span::styled(text, style),
            ])
        })
        .collect();
    lines.push(Line::raw(""));
    match &bulk.error {
        Some(e) => lines.push(Line::styled(
            format!("{} {e}", theme::err_mark()),
            theme::error(),
        )),
        None => lines.push(Line::styled(
            "e.g. kubenode-{1..5} from 192.168.122.21",
            theme::dim(),
        )),
    }
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(theme::block().title(" Add several hosts ")),
        popup,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulk_patterns() {
        let rows = expand("kubenode-{1..3}", "192.168.122.21", "worker").unwrap();
        let names: Vec<_> = rows.iter().map(|r| r.cells[0].value().to_owned()).collect();
        assert_eq!(names, ["kubenode-1", "kubenode-2", "kubenode-3"]);
        assert_eq!(rows[2].cells[1].value(), "192.168.122.23");
        assert!(
            expand("kubenode-1", "192.168.122.21", "worker")
                .unwrap_err()
                .contains("pattern")
        );
        assert!(expand("n{3..1}", "192.168.122.21", "w").is_err());
        assert!(
            expand("n{1..2}", "192.168.122", "w")
                .unwrap_err()
                .contains("first address")
        );
        assert!(
            expand("N{1..2}", "10.0.0.1", "w")
                .unwrap_err()
                .contains("upper-case")
        );
    }

    #[test]
    fn roles() {
        assert_eq!(
            parse_roles("cp, w").unwrap(),
            [Role::ControlPlane, Role::Worker]
        );
        assert!(parse_roles("master").unwrap_err().contains("not a role"));
    }
}
