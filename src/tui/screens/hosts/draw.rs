//! Drawing the hosts screen: the table with each cell's mark, the notes under it and
//! the bulk-add dialog. Reads the state only.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Clear, Paragraph, Row, Table, TableState, Wrap};

use super::{Bulk, COLUMNS, Hosts};
use crate::spec::Severity;
use crate::tui::flow::View;
use crate::tui::screens::import::{self, ImportState};
use crate::tui::theme;
use crate::tui::widgets::{self, centered, shorten};

impl Hosts {
    /// The table, the notes under it, and any dialog over it; reads only.
    pub(super) fn draw_screen(&self, frame: &mut Frame, area: Rect, view: &View) {
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

/// The bulk-add dialog over the table, the focused field being edited.
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
