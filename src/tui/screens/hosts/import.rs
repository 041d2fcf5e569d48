//! The hosts table's side of "import from libvirt": the wait while it runs, the VMs
//! merged into the rows when it returns, and the keys of its report. The dialogs
//! themselves are drawn by `screens::import`.

use ratatui::crossterm::event::KeyEvent;

use super::Hosts;
use super::rows::{HostRow, parse_address};
use crate::kvm;
use crate::spec::ClusterSpec;
use crate::tui::flow::Outcome;
use crate::tui::keys::{self, Action};
use crate::tui::screens::import::{self, ImportState, Merge, Report};

impl Hosts {
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

    /// A key while the import runs or its report is shown.
    pub(super) fn handle_import(&mut self, key: &KeyEvent, spec: &mut ClusterSpec) -> Outcome {
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
}
