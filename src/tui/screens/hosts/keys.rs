//! The hosts screen's keys: one table per mode, which drives both the handling and the
//! hint bar, and what each key does to the rows.

use ratatui::crossterm::event::{KeyCode, KeyEvent};

use super::rows::{expand, successor};
use super::{Bulk, COLUMNS, Hosts};
use crate::spec::ClusterSpec;
use crate::tui::field::TextField;
use crate::tui::flow::Outcome;
use crate::tui::keys::{self, Action, Binding, Key, bind, quiet};
use crate::tui::screens::import::{self, ImportState};

/// Moving around the table and changing its rows.
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

/// The bulk-add dialog.
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

impl Hosts {
    /// The keys of the current mode: the import's dialogs, bulk add, a cell being
    /// edited, or moving around the table.
    pub(super) fn mode_bindings(&self) -> &'static [Binding] {
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

    /// One key on the hosts screen; changes to the rows are written to `spec`.
    pub(super) fn handle_key(&mut self, key: &KeyEvent, spec: &mut ClusterSpec) -> Outcome {
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
                let mut row = successor(&self.rows, self.rows.get(self.row));
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
                    let row = successor(&self.rows, self.rows.get(self.row));
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
                let first = successor(&self.rows, self.rows.get(self.row));
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

    fn editing_cell(&mut self) -> Option<&mut TextField> {
        self.rows
            .get_mut(self.row)
            .map(|r| &mut r.cells[self.col])
            .filter(|c| c.editing())
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
}
