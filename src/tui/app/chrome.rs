//! What surrounds every screen: the header, the key-hint bar, the help overlay, the
//! modal questions and the "terminal too small" notice. Reads state only.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph, Wrap};

use super::{App, MIN_HEIGHT, MIN_WIDTH, Modal, ScreenId};
use crate::tui::keys::{self, Binding};
use crate::tui::theme;
use crate::tui::widgets::centered;

impl App {
    /// Draws the whole wizard; reads state only.
    pub fn draw(&self, frame: &mut Frame) {
        let area = frame.area();
        if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
            let text = format!(
                "terminal too small (need {MIN_WIDTH}x{MIN_HEIGHT}, have {}x{})",
                area.width, area.height
            );
            frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
            return;
        }
        let [header, body, hints] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(1),
            Constraint::Length(1),
        ])
        .areas(area);
        let view = self.view();
        self.draw_header(frame, header);
        self.current().draw(frame, body, &view);
        frame.render_widget(hint_bar(&self.bindings(), hints.width), hints);
        if self.help {
            self.draw_help(frame, body);
        }
        if let Some(modal) = &self.modal {
            draw_modal(frame, body, modal);
        } else if self.preparing {
            draw_modal(
                frame,
                body,
                &Modal::Message(format!(
                    "Generating the PKI, every file and the plan{}",
                    theme::ellipsis()
                )),
            );
        }
    }

    fn draw_header(&self, frame: &mut Frame, area: Rect) {
        let right = if self.screen == ScreenId::Manage || self.day2() {
            // Off the install's numbered path.
            format!("{} ", self.current().title())
        } else {
            let step = self.screen.index() + 1;
            format!("{step}/{} {} ", ScreenId::ALL.len(), self.current().title())
        };
        let sep = theme::sep();
        let left = format!(
            " kubewiz {sep} {} {sep} {}",
            self.spec.name, self.spec.topology
        );
        let pad =
            (area.width as usize).saturating_sub(left.chars().count() + right.chars().count());
        let line = Line::from(vec![
            Span::styled(left, theme::title()),
            Span::raw(" ".repeat(pad)),
            Span::styled(right, theme::title()),
        ]);
        frame.render_widget(Paragraph::new(line).style(theme::selected()), area);
    }

    fn draw_help(&self, frame: &mut Frame, area: Rect) {
        let screen = self.current();
        let popup = centered(area, area.width.saturating_sub(4), area.height);
        let inner_width = popup.width.saturating_sub(2) as usize;
        let mut lines = vec![Line::styled(screen.title(), theme::title())];
        for para in screen.help().split('\n') {
            lines.push(Line::raw(theme::text(para).into_owned()));
        }
        lines.push(Line::raw(""));
        let mut table = screen.bindings().to_vec();
        table.extend_from_slice(keys::GLOBAL);
        // Two columns of keys, so every binding fits on an 80×24 console.
        let half = inner_width / 2;
        let cell = |b: &Binding| -> Vec<Span<'static>> {
            let keys = format!("{:>9} ", b.keys_label());
            let label = format!("{:<width$}", b.label, width = half.saturating_sub(10));
            vec![Span::styled(keys, theme::key()), Span::raw(label)]
        };
        let rows = table.len().div_ceil(2);
        for r in 0..rows {
            let mut spans = cell(&table[r]);
            if let Some(b) = table.get(r + rows) {
                spans.extend(cell(b));
            }
            lines.push(Line::from(spans));
        }
        lines.push(Line::raw(
            "Esc goes back one screen everywhere; n goes on to the next.",
        ));
        frame.render_widget(Clear, popup);
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(theme::block().title(" Help (Esc closes) ")),
            popup,
        );
    }
}

/// The key-hint bar: each binding's first key and its label, as many as fit.
pub fn hint_bar(bindings: &[Binding], width: u16) -> Paragraph<'static> {
    let mut spans = Vec::new();
    let mut used = 0usize;
    for (first, label) in keys::hints(bindings) {
        let len = first.chars().count() + label.chars().count() + 3;
        if used + len > width as usize {
            break;
        }
        used += len;
        spans.push(Span::raw(" "));
        spans.push(Span::styled(first, theme::key()));
        spans.push(Span::raw(format!(" {label} ")));
    }
    Paragraph::new(Line::from(spans))
}

fn draw_modal(frame: &mut Frame, area: Rect, modal: &Modal) {
    let (title, lines): (&str, Vec<Line>) = match modal {
        Modal::Refused(problems) => {
            let mut lines = vec![Line::raw("Fix these first:")];
            lines.extend(
                problems
                    .iter()
                    .map(|p| Line::styled(format!("{} {p}", theme::err_mark()), theme::error())),
            );
            (" Cannot go on ", lines)
        }
        Modal::Message(text) => (" kubewiz ", vec![Line::raw(text.clone())]),
        Modal::TypeName { name, typed } => (
            " Delete the cluster's data? ",
            vec![
                Line::raw(format!(
                    "This resets every host of cluster {name} and deletes etcd's data: everything written since the backup is lost."
                )),
                Line::raw(format!("Type the cluster's name ({name}) and press Enter:")),
                Line::styled(format!("> {typed}_"), theme::title()),
            ],
        ),
        Modal::ConfirmQuit => (
            " Quit? ",
            vec![Line::raw(
                "Quit kubewiz? Choices not saved as a preset (s on Review) are lost. (y/n)",
            )],
        ),
        Modal::ConfirmDay2(headline, notices) => {
            let mut lines = vec![Line::raw(headline.clone())];
            lines.extend(notices.iter().map(|l| Line::raw(l.clone())));
            lines.push(Line::raw("Go on? (y/n)"));
            (" Run it? ", lines)
        }
        Modal::ConfirmInstall(changes) => {
            let mut lines = vec![Line::raw(
                "The dry run is off: this installs Kubernetes on the hosts over SSH, changing them.",
            )];
            // The workers added to an installed cluster, then the changes to the KVM
            // host's own libvirt network, each named: they reach beyond the new hosts.
            lines.extend(changes.iter().map(|l| Line::raw(l.clone())));
            lines.push(Line::raw("Go on? (y/n)"));
            (" Install? ", lines)
        }
        Modal::ConfirmHostKeys(keys) => {
            let mut lines = vec![Line::raw(
                "These hosts offer SSH keys that are not in known_hosts yet:",
            )];
            lines.extend(keys.iter().map(|(h, fp)| Line::raw(format!("  {h}  {fp}"))));
            lines.push(Line::raw(
                "Compare each with `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub` on the host's console. Trust them and run again? (y/n)",
            ));
            (" Unknown host keys ", lines)
        }
        Modal::StopOrDetach => (
            " The install goes on in its own process ",
            vec![
                Line::raw("s    stop it: running steps finish, nothing new starts"),
                Line::raw("d    detach: leave the wizard, the install goes on"),
                Line::raw("     (`kubewiz attach` follows it again, from any terminal)"),
                Line::raw("Esc  go on watching; ^C again leaves at once, the install going on"),
            ],
        ),
        Modal::ConfirmAbort => (
            " Abort the install? ",
            vec![Line::raw(
                "Stop the install? Running steps finish, nothing new starts; `kubewiz resume` continues later. (y/n)",
            )],
        ),
    };
    let width = area.width.saturating_sub(8).min(72);
    // Rows the text needs once wrapped, plus the border.
    let inner = width.saturating_sub(2).max(1) as usize;
    let rows: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let height = (rows as u16 + 2).clamp(5, area.height);
    let popup = centered(area, width, height);
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(theme::block().title(title)),
        popup,
    );
}
