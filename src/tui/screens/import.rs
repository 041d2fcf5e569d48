//! "Import from libvirt" on the Hosts screen: the wait while `kvm::import` runs off the
//! UI thread, and the report afterwards (which hosts were filled in, which VMs have no
//! address and why, which hosts of the table libvirt does not know). The Hosts screen
//! merges the hosts; this module only says what happened.

use std::net::IpAddr;

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Clear, Paragraph, Wrap};

use crate::kvm;
use crate::tui::keys::{self, Action, Binding, Key, bind, quiet};
use crate::tui::theme;
use crate::tui::widgets::centered;

/// While the import runs: the only key gives up waiting.
pub const WAITING: &[Binding] = &[bind(keys::ESC, Action::Cancel, "stop waiting")];

/// The report's keys.
pub const REPORT: &[Binding] = &[
    quiet(keys::UP, Action::Up, "scroll up"),
    quiet(keys::DOWN, Action::Down, "scroll down"),
    bind(
        &[
            Key::plain(ratatui::crossterm::event::KeyCode::Enter),
            Key::plain(ratatui::crossterm::event::KeyCode::Esc),
        ],
        Action::Cancel,
        "close",
    ),
    bind(&[Key::ch('r')], Action::Remove, "keep only these"),
];

/// The import, from the key press to the closed report.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportState {
    /// `kvm::import` runs; `ticks` counts the event loop's half-second ticks.
    Running {
        network: String,
        uri: String,
        ticks: u32,
    },
    /// What the import did, until the operator closes it.
    Report(Report),
}

/// What happened to each host, for the report.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Merge {
    /// (name, address before, address now) of rows whose address changed.
    pub updated: Vec<(String, String, IpAddr)>,
    /// Rows that already had the VM's address.
    pub unchanged: Vec<String>,
    /// (name, address) of new rows, roles still to give.
    pub added: Vec<(String, IpAddr)>,
    /// Rows whose name no VM with an address has (left as they were).
    pub absent: Vec<String>,
}

impl Merge {
    /// Every host libvirt gave, in the table now.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.updated.iter().map(|u| u.0.clone()).collect();
        names.extend(self.unchanged.iter().cloned());
        names.extend(self.added.iter().map(|a| a.0.clone()));
        names
    }
}

/// The report: its text, and the host names libvirt gave (for "keep only these").
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub title: String,
    pub lines: Vec<(Tone, String)>,
    pub imported: Vec<String>,
    pub scroll: usize,
}

/// How a report line is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Plain,
    Good,
    Warn,
    Bad,
}

impl Report {
    /// The report of an import that worked.
    pub fn of(found: &kvm::Import, merge: &Merge) -> Report {
        let mut lines = Vec::new();
        let with_address = found.hosts.iter().filter(|vm| vm.host().is_some()).count();
        lines.push((
            Tone::Plain,
            format!(
                "{} VM(s) in libvirt, {with_address} with an address on network {}.",
                found.hosts.len(),
                found.network
            ),
        ));
        for (name, before, now) in &merge.updated {
            lines.push((
                Tone::Good,
                format!("{} {name}: address {now} (was {before})", theme::ok_mark()),
            ));
        }
        for name in &merge.unchanged {
            lines.push((
                Tone::Good,
                format!("{} {name}: address already right", theme::ok_mark()),
            ));
        }
        for (name, address) in &merge.added {
            lines.push((
                Tone::Warn,
                format!(
                    "{} {name}: added with {address}; give it its roles",
                    theme::warn_mark()
                ),
            ));
        }
        let missing: Vec<_> = found
            .hosts
            .iter()
            .filter_map(|vm| vm.not_imported.as_ref().map(|why| (vm, why)))
            .collect();
        if !missing.is_empty() {
            lines.push((Tone::Plain, "Not imported:".into()));
            for (vm, why) in missing {
                lines.push((
                    Tone::Bad,
                    format!("{} {}: {why}", theme::err_mark(), vm.domain),
                ));
            }
        }
        if !merge.absent.is_empty() {
            lines.push((
                Tone::Plain,
                format!(
                    "No VM with an address for {} (left as they were; r keeps only the imported hosts).",
                    merge.absent.join(", ")
                ),
            ));
        }
        Report {
            title: format!(" Imported from libvirt ({}) ", found.uri),
            lines,
            imported: merge.names(),
            scroll: 0,
        }
    }

    /// The report of an import that failed: the message says what to do.
    pub fn failed(network: &str, uri: &str, message: &str) -> Report {
        Report {
            title: " Import from libvirt failed ".into(),
            lines: vec![
                (
                    Tone::Bad,
                    format!(
                        "{} Reading libvirt network {network} on {uri} failed: {message}",
                        theme::err_mark()
                    ),
                ),
                (Tone::Plain, "The hosts were not changed.".into()),
            ],
            imported: Vec::new(),
            scroll: 0,
        }
    }

    /// Lines it has; Up and Down scroll through them.
    pub fn scroll_by(&mut self, down: bool) {
        self.scroll = if down {
            (self.scroll + 1).min(self.lines.len().saturating_sub(1))
        } else {
            self.scroll.saturating_sub(1)
        };
    }
}

/// The wait, over the hosts table: what is read, where, and for how long.
pub fn draw_running(frame: &mut Frame, area: Rect, network: &str, uri: &str, ticks: u32) {
    let popup = centered(area, 64, 8);
    frame.render_widget(Clear, popup);
    let dots = ".".repeat(1 + (ticks as usize % 3));
    let lines = vec![
        Line::raw(format!(
            "{} Reading the VMs of libvirt network {network}{dots}",
            theme::run_mark()
        )),
        Line::styled(format!("on {uri}"), theme::dim()),
        Line::styled(format!("waited {}s", ticks / 2), theme::dim()),
        Line::raw(""),
        Line::styled(
            "Esc stops waiting; the hosts stay as they are.",
            theme::dim(),
        ),
    ];
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(theme::block().title(" Import from libvirt ")),
        popup,
    );
}

/// The report, over the hosts table.
pub fn draw_report(frame: &mut Frame, area: Rect, report: &Report) {
    let width = area.width.saturating_sub(4).min(100);
    let height = area.height.saturating_sub(2);
    let popup = centered(area, width, height);
    frame.render_widget(Clear, popup);
    let lines: Vec<Line> = report
        .lines
        .iter()
        .skip(report.scroll)
        .map(|(tone, text)| {
            let style = match tone {
                Tone::Plain => ratatui::style::Style::new(),
                Tone::Good => theme::ok(),
                Tone::Warn => theme::warning(),
                Tone::Bad => theme::error(),
            };
            Line::styled(theme::text(text).into_owned(), style)
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: true })
            .block(theme::block().title(report.title.clone())),
        popup,
    );
}
