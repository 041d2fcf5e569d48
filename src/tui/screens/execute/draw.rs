//! Drawing the execute screen: progress, panes, the host table, the log and the
//! failure. Reads the state only.

use std::time::Instant;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState, Wrap};

use super::state::{Execute, Failure, HostPane, HostStatus, unknown_key_fingerprint};
use crate::exec::RunOutcome;
use crate::tui::theme;

/// Roles as short words for pane titles: `cp`, `worker`, `etcd`, `lb`.
fn short_roles(roles: &[String]) -> String {
    roles
        .iter()
        .map(|r| match r.as_str() {
            "control-plane" => "cp",
            "load-balancer" => "lb",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(",")
}

impl HostStatus {
    pub(super) fn word(self) -> (String, ratatui::style::Style) {
        let (mark, word, style) = match self {
            HostStatus::Waiting => (theme::wait_mark(), "waiting", theme::dim()),
            HostStatus::Running => (theme::run_mark(), "running", theme::title()),
            HostStatus::Done => (theme::ok_mark(), "done", theme::ok()),
            HostStatus::Skipped => (theme::skip_mark(), "skipped (dry run)", theme::dim()),
            HostStatus::Failed => (theme::err_mark(), "FAILED", theme::error()),
        };
        (format!("{mark} {word}"), style)
    }
}

impl Execute {
    pub(super) fn draw_progress(&self, frame: &mut Frame, area: Rect) {
        let what = self.what.unwrap_or("install");
        let [line, gauge] =
            Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
        let state = match self.outcome {
            None if self.started.is_none() || self.phase_title.is_empty() => {
                format!("starting{}", theme::ellipsis())
            }
            None if self.cancel_requested => {
                format!(
                    "stopping after the running steps{} (^C again leaves now)",
                    theme::ellipsis()
                )
            }
            None => format!(
                "phase {}/{}: {}",
                self.phase_index,
                self.phases.len(),
                self.phase_title
            ),
            Some(RunOutcome::Succeeded) => format!("{} {what} finished", theme::ok_mark()),
            Some(RunOutcome::Failed) => format!("{} {what} FAILED", theme::err_mark()),
            Some(RunOutcome::Cancelled) => format!("{} {what} aborted", theme::warn_mark()),
        };
        let sep = theme::sep();
        let mode = if self.dry_run {
            format!(" {sep} DRY RUN: nothing runs on the hosts")
        } else {
            String::new()
        };
        frame.render_widget(
            Paragraph::new(format!(
                " {state}{mode} {sep} {}",
                Execute::elapsed(self.started, None.or(self.finished_at()))
            )),
            line,
        );
        let ratio = if self.steps_total == 0 {
            0.0
        } else {
            (self.steps_done as f64 / self.steps_total as f64).min(1.0)
        };
        theme::gauge(
            frame,
            gauge,
            ratio,
            format!("{}/{} steps", self.steps_done, self.steps_total),
        );
    }

    pub(super) fn finished_at(&self) -> Option<Instant> {
        self.outcome
            .and(self.hosts.iter().filter_map(|h| h.finished).max())
    }

    pub(super) fn draw_table(&self, frame: &mut Frame, area: Rect) {
        let rows: Vec<Row> = self
            .hosts
            .iter()
            .map(|h| {
                let (word, style) = h.status.word();
                Row::new(vec![
                    Cell::from(h.name.clone()),
                    Cell::from(short_roles(&h.roles)),
                    Cell::from(word).style(style),
                    Cell::from(h.steps_done.to_string()),
                    Cell::from(h.step.clone()),
                    Cell::from(Execute::elapsed(h.started, h.finished)),
                ])
            })
            .collect();
        let status_width = self
            .hosts
            .iter()
            .map(|h| h.status.word().0.chars().count())
            .max()
            .unwrap_or(0)
            .max(9) as u16;
        let widths = [
            Constraint::Length(14),
            Constraint::Length(7),
            Constraint::Length(status_width),
            Constraint::Length(4),
            Constraint::Min(10),
            Constraint::Length(6),
        ];
        let mut state = TableState::default().with_selected(Some(self.selected));
        frame.render_stateful_widget(
            Table::new(rows, widths)
                .header(
                    Row::new(["host", "role", "status", "done", "step", "time"])
                        .style(theme::title()),
                )
                .row_highlight_style(theme::selected())
                .highlight_symbol(">")
                .block(theme::block().title(format!(" {} hosts ", self.hosts.len()))),
            area,
            &mut state,
        );
    }

    pub(super) fn draw_pane(&self, frame: &mut Frame, area: Rect, h: &HostPane, selected: bool) {
        let (word, style) = h.status.word();
        let title = Line::from(vec![
            Span::raw(format!(" {} ({}) ", h.name, short_roles(&h.roles))),
            Span::styled(format!("{word} "), style),
        ]);
        let border = if selected {
            theme::title()
        } else {
            theme::dim()
        };
        let block = theme::block().title(title).border_style(border);
        let inner = block.inner(area);
        frame.render_widget(block, area);
        let [phase, step, gauge, out] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Length(1),
            Constraint::Min(0),
        ])
        .areas(inner);
        let or_dash = |s: &str| {
            if s.is_empty() {
                "-".to_owned()
            } else {
                s.to_owned()
            }
        };
        frame.render_widget(
            Paragraph::new(format!("phase {}", or_dash(&h.phase))),
            phase,
        );
        frame.render_widget(Paragraph::new(format!("step  {}", or_dash(&h.step))), step);
        let total = self.host_totals.get(&h.name).copied().unwrap_or(0);
        let ratio = match (h.status, total) {
            (HostStatus::Done | HostStatus::Skipped, _) => 1.0,
            (_, 0) => 0.0,
            (_, t) => (h.steps_done as f64 / t as f64).min(1.0),
        };
        let steps = if total > 0 {
            format!("{}/{total} steps", h.steps_done)
        } else {
            format!("{} steps", h.steps_done)
        };
        theme::gauge(
            frame,
            gauge,
            ratio,
            format!(
                "{steps} {} {}",
                theme::sep(),
                Execute::elapsed(h.started, h.finished)
            ),
        );
        let n = out.height as usize;
        let lines: Vec<Line> = h
            .log
            .iter()
            .skip(h.log.len().saturating_sub(n))
            .map(|l| Line::raw(l.clone()))
            .collect();
        frame.render_widget(Paragraph::new(lines).style(theme::dim()), out);
    }

    pub(super) fn draw_log(&self, frame: &mut Frame, area: Rect) {
        let Some(h) = self.hosts.get(self.selected) else {
            return;
        };
        let height = area.height.saturating_sub(2) as usize;
        let end = match self.log_scroll {
            None => h.log.len(),
            Some(n) => (n + 1).min(h.log.len()),
        };
        let start = end.saturating_sub(height);
        let lines: Vec<Line> = h
            .log
            .iter()
            .skip(start)
            .take(end - start)
            .map(|l| Line::raw(l.clone()))
            .collect();
        let follow = if self.log_scroll.is_none() {
            "following"
        } else {
            "End follows"
        };
        let sep = theme::sep();
        frame.render_widget(
            Paragraph::new(lines).block(theme::block().title(format!(
                " {} log {sep} {end}/{} {sep} {follow} ",
                h.name,
                h.log.len()
            ))),
            area,
        );
    }

    pub(super) fn draw_failure(&self, frame: &mut Frame, area: Rect, f: &Failure) {
        let code = f
            .exit_code
            .map_or("none (timeout or lost connection)".into(), |c| {
                c.to_string()
            });
        let mut lines = vec![
            Line::from(vec![
                Span::styled(
                    format!("{} {} failed", theme::err_mark(), f.host),
                    theme::error(),
                ),
                Span::raw(format!(" in {} at step {}", f.phase, f.step)),
            ]),
            Line::raw(format!(
                "command:   {}",
                f.command.as_deref().unwrap_or("(none)")
            )),
            Line::raw(format!("exit code: {code}")),
            Line::raw(format!("why:       {}", f.message)),
        ];
        if !f.output_tail.is_empty() {
            lines.push(Line::styled("output (last lines):", theme::title()));
            lines.extend(
                f.output_tail
                    .iter()
                    .rev()
                    .take(6)
                    .rev()
                    .map(|l| Line::raw(format!("  {l}"))),
            );
        }
        if !f.journal_tail.is_empty() {
            lines.push(Line::styled("journal (last lines):", theme::title()));
            lines.extend(
                f.journal_tail
                    .iter()
                    .rev()
                    .take(6)
                    .rev()
                    .map(|l| Line::raw(format!("  {l}"))),
            );
        }
        lines.push(Line::raw(format!(
            "audit log: {}",
            self.log_path
                .as_deref()
                .unwrap_or("(written when the run ends)")
        )));
        if unknown_key_fingerprint(&f.message).is_some() {
            lines.push(Line::raw(
                "t shows the unknown host keys to compare and trust; then the run starts again.",
            ));
        } else if self.outcome.is_some() {
            lines.push(Line::raw(
                "Fix the cause on the host, then r runs again; finished steps are skipped.",
            ));
        }
        frame.render_widget(
            Paragraph::new(lines).wrap(Wrap { trim: false }).block(
                theme::block()
                    .title(" Failure ")
                    .border_style(theme::error()),
            ),
            area,
        );
    }
}
