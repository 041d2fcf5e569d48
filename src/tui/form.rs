//! A form of labelled fields bound to the spec: each field reads its text from the
//! spec, parses what is typed with the spec's own types and writes it back only when
//! it parses. Network and Options are forms.

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};
use serde::de::DeserializeOwned;

use super::diags::diag_for;
use super::field::TextField;
use super::flow::{Outcome, View};
use super::keys::{self, Action, Binding, Key, bind, quiet};
use super::theme;
use super::widgets::{self, shorten};
use crate::spec::{ClusterSpec, Severity};

/// One field of a form.
pub struct FieldDef {
    pub label: &'static str,
    /// The spec path validation uses for this value.
    pub path: &'static str,
    pub get: fn(&ClusterSpec) -> String,
    /// Parses the text and stores it in the spec, or says what is wrong.
    pub set: fn(&str, &mut ClusterSpec) -> Result<(), String>,
    /// Known values `c` cycles through; any other text may still be typed.
    pub choices: &'static [&'static str],
    /// A live note computed from the spec (e.g. the cluster DNS address).
    pub note: fn(&ClusterSpec) -> Option<String>,
}

/// No live note.
pub fn no_note(_: &ClusterSpec) -> Option<String> {
    None
}

/// Parses one of a closed set of choices by its preset spelling.
pub fn choice<T: DeserializeOwned>(text: &str, all: &[&str]) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(text.trim().to_owned()))
        .map_err(|_| format!("\"{}\" is not one of {}", text.trim(), all.join(", ")))
}

const NAV: &[Binding] = &[
    quiet(keys::UP, Action::Up, "previous field"),
    quiet(keys::DOWN, Action::Down, "next field"),
    bind(keys::ENTER, Action::Select, "edit"),
    bind(keys::NEXT, Action::Next, "next"),
    bind(keys::ESC, Action::Back, "back"),
];

const NAV_CHOICE: &[Binding] = &[
    quiet(keys::UP, Action::Up, "previous field"),
    quiet(keys::DOWN, Action::Down, "next field"),
    bind(keys::ENTER, Action::Select, "edit"),
    bind(&[Key::ch('c')], Action::Cycle, "next choice"),
    bind(keys::NEXT, Action::Next, "next"),
    bind(keys::ESC, Action::Back, "back"),
];

/// A form's editing state.
pub struct Form {
    pub defs: &'static [FieldDef],
    pub fields: Vec<TextField>,
    pub selected: usize,
}

impl Form {
    /// The fields of `defs`, filled from `spec`.
    pub fn new(defs: &'static [FieldDef], spec: &ClusterSpec) -> Self {
        Form {
            defs,
            fields: defs.iter().map(|d| TextField::new((d.get)(spec))).collect(),
            selected: 0,
        }
    }

    /// The keys of the current mode: editing, a field with choices, or moving.
    pub fn bindings(&self) -> &'static [Binding] {
        if self.editing() {
            keys::EDITING
        } else if self
            .defs
            .get(self.selected)
            .is_some_and(|d| !d.choices.is_empty())
        {
            NAV_CHOICE
        } else {
            NAV
        }
    }

    /// True while the selected field has the keyboard.
    pub fn editing(&self) -> bool {
        self.fields
            .get(self.selected)
            .is_some_and(TextField::editing)
    }

    fn apply(&mut self, i: usize, spec: &mut ClusterSpec) {
        let (def, field) = (&self.defs[i], &mut self.fields[i]);
        field.error = (def.set)(field.value(), spec).err();
    }

    /// One key; a field's text reaches the spec only when it parses.
    pub fn handle(&mut self, key: &KeyEvent, spec: &mut ClusterSpec) -> Outcome {
        let i = self.selected;
        if self.editing() {
            match keys::lookup(keys::EDITING, key) {
                Some(Action::Commit) => self.fields[i].commit(),
                Some(Action::Cancel) => self.fields[i].cancel(),
                _ => {
                    self.fields[i].key(*key);
                }
            }
            self.apply(i, spec);
            return Outcome::Handled;
        }
        match keys::lookup(self.bindings(), key) {
            Some(Action::Up) => self.selected = i.saturating_sub(1),
            Some(Action::Down) => self.selected = (i + 1).min(self.defs.len() - 1),
            Some(Action::Select) => self.fields[i].start_edit(),
            Some(Action::Cycle) => {
                let choices = self.defs[i].choices;
                let now = choices
                    .iter()
                    .position(|c| *c == self.fields[i].value().trim());
                let next = now.map_or(0, |n| (n + 1) % choices.len());
                self.fields[i].set(choices[next]);
                self.apply(i, spec);
            }
            Some(Action::Next) => return Outcome::Next,
            Some(Action::Back) => return Outcome::Back,
            _ => return Outcome::Ignored,
        }
        Outcome::Handled
    }

    /// Fields whose text does not parse, as `label: message`.
    pub fn parse_errors(&self) -> Vec<String> {
        self.defs
            .iter()
            .zip(&self.fields)
            .filter_map(|(d, f)| f.error.as_ref().map(|e| format!("{}: {e}", d.path)))
            .collect()
    }

    fn problem(&self, i: usize, view: &View) -> Option<(Severity, String)> {
        if let Some(e) = &self.fields[i].error {
            return Some((Severity::Error, e.clone()));
        }
        diag_for(view.diags, self.defs[i].path).map(|d| (d.severity, d.message.clone()))
    }

    /// The fields on the left, the selected field's problem or note below.
    pub fn draw(
        &self,
        frame: &mut Frame,
        area: Rect,
        view: &View,
        title: &str,
        extra: Vec<Line<'static>>,
    ) {
        // The notes get what the fields leave, between 4 and 6 rows plus any extra lines.
        let spare = area.height.saturating_sub(self.defs.len() as u16 + 2);
        let notes_height = spare.clamp(4, 6) + extra.len() as u16;
        let [table_area, notes] = Layout::vertical([
            Constraint::Min(4),
            Constraint::Length(notes_height.min(area.height / 2)),
        ])
        .areas(area);
        let value_width = 26usize;
        let rows: Vec<Row> = self
            .defs
            .iter()
            .zip(&self.fields)
            .enumerate()
            .map(|(i, (def, field))| {
                let problem = self.problem(i, view);
                let (mark, style) = match &problem {
                    Some((sev, _)) => widgets::severity(*sev),
                    None => (" ", Style::new()),
                };
                let value = if field.editing() {
                    field.shown(value_width)
                } else if field.value().is_empty() {
                    "(none)".to_owned()
                } else {
                    shorten(field.value(), value_width)
                };
                let value_style = if i == self.selected {
                    if field.editing() {
                        theme::editing()
                    } else {
                        style.patch(theme::selected())
                    }
                } else if field.value().is_empty() {
                    theme::dim()
                } else {
                    style
                };
                let note = match (&problem, (def.note)(view.spec)) {
                    (Some((Severity::Error, _)), _) => "see below".to_owned(),
                    (_, Some(note)) => note,
                    (Some(_), None) => "see below".to_owned(),
                    (None, None) => String::new(),
                };
                Row::new(vec![
                    Cell::from(mark).style(style),
                    Cell::from(def.label),
                    Cell::from(value).style(value_style),
                    Cell::from(note).style(theme::dim()),
                ])
            })
            .collect();
        let widths = [
            Constraint::Length(1),
            Constraint::Length(17),
            Constraint::Length(value_width as u16),
            Constraint::Min(10),
        ];
        let mut state = TableState::default().with_selected(Some(self.selected));
        frame.render_stateful_widget(
            Table::new(rows, widths)
                .highlight_symbol(">")
                .block(theme::block().title(format!(" {title} "))),
            table_area,
            &mut state,
        );
        let i = self.selected;
        let def = &self.defs[i];
        let mut lines = Vec::new();
        match self.problem(i, view) {
            Some((sev, msg)) => {
                let (mark, style) = widgets::severity(sev);
                lines.push(Line::from(vec![
                    Span::styled(format!("{mark} "), style),
                    Span::raw(msg),
                ]));
            }
            None => lines.push(Line::styled(
                format!("{} ok", theme::ok_mark()),
                theme::ok(),
            )),
        }
        if let Some(note) = (def.note)(view.spec) {
            lines.push(Line::raw(note));
        }
        if !def.choices.is_empty() {
            lines.push(Line::styled(
                format!("c cycles: {}", def.choices.join(", ")),
                theme::dim(),
            ));
        }
        let others = self.defs.len() - 1;
        let bad_elsewhere = (0..self.defs.len())
            .filter(|j| *j != i && matches!(self.problem(*j, view), Some((Severity::Error, _))))
            .count();
        if bad_elsewhere > 0 {
            lines.push(Line::styled(
                format!(
                    "{} {bad_elsewhere} of the other {others} fields ha{} errors ({})",
                    theme::err_mark(),
                    if bad_elsewhere == 1 { "s" } else { "ve" },
                    theme::err_mark()
                ),
                theme::error(),
            ));
        }
        lines.extend(extra);
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: true })
                .block(theme::block().title(format!(" {} ({}) ", def.label, def.path))),
            notes,
        );
    }
}
