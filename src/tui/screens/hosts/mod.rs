//! Hosts: an editable table of name, address, roles and optional SSH user/port. Every
//! cell is parsed with the spec's own types as it is typed; problems the validator
//! finds are marked on the cells their path names and listed under the table. `i`
//! fills the table from the VMs libvirt knows (`screens::import`).
//!
//! The row text and its parsing are in `rows`, the keys in `keys`, the import's
//! merge in `import` and the drawing in `draw`; this module holds the state.

mod draw;
mod import;
mod keys;
mod rows;

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;

use super::Screen;
use crate::spec::{ClusterSpec, Severity};
use crate::tui::diags::{diag_for, errors_of};
use crate::tui::field::TextField;
use crate::tui::flow::{Outcome, View};
use crate::tui::keys::Binding;
use crate::tui::screens::import::ImportState;
use rows::HostRow;

/// The columns, with their spec field names (for diagnostic paths) and widths.
const COLUMNS: [(&str, &str, u16); 5] = [
    ("name", "name", 14),
    ("address", "address", 16),
    ("roles", "roles", 24),
    ("SSH user", "user", 8),
    ("port", "port", 5),
];

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

    /// What is marked on a cell: its own parse error, else the validator's first
    /// problem for the host field it shows.
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
        self.mode_bindings()
    }

    fn editing(&self) -> bool {
        self.bulk.is_some()
            || self
                .rows
                .get(self.row)
                .is_some_and(|r| r.cells[self.col].editing())
    }

    fn handle(&mut self, key: &KeyEvent, spec: &mut ClusterSpec) -> Outcome {
        self.handle_key(key, spec)
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
        self.draw_screen(frame, area, view);
    }
}
