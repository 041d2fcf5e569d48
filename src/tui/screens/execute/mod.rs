//! Execute: the install as it happens, built only from the engine's events
//! ([`Execute::update`]). A pane per host when they fit, else a compact table and the
//! selected host's pane; overall progress; a host's full log; a failure stays on
//! screen with everything needed to fix it.

mod draw;
mod state;

pub use state::{Execute, Failure, HostPane, HostStatus, LOG_CAP, unknown_key_fingerprint};

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::Screen;
use crate::spec::ClusterSpec;
use crate::tui::flow::{Outcome, View};
use crate::tui::keys::{self, Action, Binding, Key, bind, quiet};
use crate::tui::theme;
use crate::tui::viewer::{Answer, Viewer};

/// Reads the selected host's pane (all its output) over the whole screen.
const READ: Binding = bind(
    &[
        Key::ch('z'),
        Key::plain(ratatui::crossterm::event::KeyCode::Enter),
    ],
    Action::Zoom,
    "read",
);

/// The smallest pane of the grid.
const PANE_WIDTH: u16 = 38;
const PANE_HEIGHT: u16 = 8;

const RUNNING: &[Binding] = &[
    quiet(keys::UP, Action::Up, "previous host"),
    quiet(keys::DOWN, Action::Down, "next host"),
    quiet(keys::LEFT, Action::Left, "previous host"),
    quiet(keys::RIGHT, Action::Right, "next host"),
    READ,
    bind(&[Key::ch('l')], Action::OpenLog, "full log"),
    bind(&[Key::ch('a')], Action::Abort, "abort"),
    quiet(keys::ESC, Action::Back, "back (asks to abort)"),
];

const FINISHED: &[Binding] = &[
    quiet(keys::UP, Action::Up, "previous host"),
    quiet(keys::DOWN, Action::Down, "next host"),
    quiet(keys::LEFT, Action::Left, "previous host"),
    quiet(keys::RIGHT, Action::Right, "next host"),
    READ,
    bind(&[Key::ch('l')], Action::OpenLog, "full log"),
    bind(keys::NEXT, Action::Next, "done"),
    bind(keys::ESC, Action::Back, "back"),
];

const FAILED: &[Binding] = &[
    quiet(keys::UP, Action::Up, "previous host"),
    quiet(keys::DOWN, Action::Down, "next host"),
    quiet(keys::LEFT, Action::Left, "previous host"),
    quiet(keys::RIGHT, Action::Right, "next host"),
    READ,
    bind(&[Key::ch('l')], Action::OpenLog, "full log"),
    bind(&[Key::ch('r')], Action::Resume, "resume"),
    bind(keys::NEXT, Action::Next, "summary"),
    bind(keys::ESC, Action::Back, "back"),
];

const FAILED_KEYS: &[Binding] = &[
    quiet(keys::UP, Action::Up, "previous host"),
    quiet(keys::DOWN, Action::Down, "next host"),
    quiet(keys::LEFT, Action::Left, "previous host"),
    quiet(keys::RIGHT, Action::Right, "next host"),
    bind(&[Key::ch('t')], Action::Confirm, "trust host keys"),
    quiet(&[Key::ch('z')], Action::Zoom, "read"),
    bind(&[Key::ch('l')], Action::OpenLog, "full log"),
    bind(&[Key::ch('r')], Action::Resume, "resume"),
    bind(keys::NEXT, Action::Next, "summary"),
    bind(keys::ESC, Action::Back, "back"),
];

const LOG: &[Binding] = &[
    quiet(keys::UP, Action::Up, "scroll up"),
    quiet(keys::DOWN, Action::Down, "scroll down"),
    quiet(keys::PGUP, Action::PageUp, "page up"),
    quiet(keys::PGDN, Action::PageDown, "page down"),
    quiet(keys::HOME, Action::Top, "top"),
    bind(keys::END, Action::Bottom, "follow"),
    bind(&[Key::ch('l')], Action::OpenLog, "close log"),
    bind(keys::ESC, Action::Back, "close log"),
];

impl Screen for Execute {
    fn title(&self) -> &'static str {
        "Execute"
    }

    fn help(&self) -> &'static str {
        "The install, live: one pane per host with its phase, step, progress, time and last \
         output lines. Arrows select a host, z or Enter reads its pane over the whole screen \
         (line numbers, w wraps, arrows and Home/End scroll sideways, / n N find, Esc or q come \
         back), l opens its full log (it follows new lines only while you are at the end).\n\
         a aborts after asking: running steps finish, nothing new starts. A failure stays on \
         screen with the command, exit code, output and journal tails and the audit log; fix \
         the cause on the host, then r runs again: finished steps are skipped."
    }

    fn bindings(&self) -> &'static [Binding] {
        match &self.full {
            Some(v) => v.bindings(),
            None => self.table(),
        }
    }

    fn editing(&self) -> bool {
        self.full.as_ref().is_some_and(Viewer::editing)
    }

    fn handle(&mut self, key: &KeyEvent, _spec: &mut ClusterSpec) -> Outcome {
        if let Some(v) = self.full.as_mut() {
            let lines: Vec<&str> = self
                .hosts
                .get(self.selected)
                .map(|h| h.log.iter().map(String::as_str).collect())
                .unwrap_or_default();
            return match v.handle(key, &lines) {
                Answer::Close => {
                    self.full = None;
                    Outcome::Handled
                }
                Answer::Handled => Outcome::Handled,
                Answer::Ignored => Outcome::Ignored,
            };
        }
        let last = self.hosts.len().saturating_sub(1);
        let action = keys::lookup(self.table(), key);
        if self.log_open {
            let len = self.hosts.get(self.selected).map_or(0, |h| h.log.len());
            let bottom = len.saturating_sub(1);
            let at = self.log_scroll.unwrap_or(bottom);
            let to = |n: usize| if n >= bottom { None } else { Some(n) };
            match action {
                Some(Action::Up) => self.log_scroll = Some(at.saturating_sub(1)),
                Some(Action::Down) => self.log_scroll = to(at + 1),
                Some(Action::PageUp) => self.log_scroll = Some(at.saturating_sub(15)),
                Some(Action::PageDown) => self.log_scroll = to(at + 15),
                Some(Action::Top) => self.log_scroll = Some(0),
                Some(Action::Bottom) => self.log_scroll = None,
                Some(Action::OpenLog | Action::Back) => self.log_open = false,
                _ => return Outcome::Ignored,
            }
            return Outcome::Handled;
        }
        match action {
            Some(Action::Up | Action::Left) => self.selected = self.selected.saturating_sub(1),
            Some(Action::Down | Action::Right) => self.selected = (self.selected + 1).min(last),
            Some(Action::Zoom) => self.full = Some(Viewer::new(self.size)),
            Some(Action::OpenLog) => {
                self.log_open = true;
                self.log_scroll = None;
            }
            Some(Action::Abort) => return Outcome::AskAbort,
            Some(Action::Confirm) => return Outcome::TrustHostKeys(self.unknown_host_keys()),
            Some(Action::Resume) => return Outcome::Rerun,
            Some(Action::Next) => return Outcome::Next,
            Some(Action::Back) => return Outcome::Back,
            _ => return Outcome::Ignored,
        }
        Outcome::Handled
    }

    fn draw(&self, frame: &mut Frame, area: Rect, _view: &View) {
        if let Some(e) = &self.start_error {
            frame.render_widget(
                Paragraph::new(vec![
                    Line::styled(
                        format!("{} The install did not start.", theme::err_mark()),
                        theme::error(),
                    ),
                    Line::raw(""),
                    Line::raw(e.clone()),
                ])
                .wrap(Wrap { trim: true })
                .block(theme::block().title(" Execute ")),
                area,
            );
            return;
        }
        if let (Some(v), Some(h)) = (&self.full, self.hosts.get(self.selected)) {
            let lines: Vec<&str> = h.log.iter().map(String::as_str).collect();
            let (word, _) = h.status.word();
            let title = format!("{} {} {word}", h.name, theme::sep());
            v.draw(frame, area, &title, &lines);
            return;
        }
        let [top, body] = Layout::vertical([Constraint::Length(2), Constraint::Min(3)]).areas(area);
        self.draw_progress(frame, top);
        if self.log_open {
            self.draw_log(frame, body);
            return;
        }
        if let Some(failure) = self
            .failures
            .iter()
            .find(|f| {
                self.hosts
                    .get(self.selected)
                    .is_some_and(|h| h.name == f.host)
            })
            .or(self.failures.first())
        {
            let [table, detail] =
                Layout::vertical([Constraint::Length(6), Constraint::Min(6)]).areas(body);
            self.draw_table(frame, table);
            self.draw_failure(frame, detail, failure);
            return;
        }
        let cols = (body.width / PANE_WIDTH).max(1) as usize;
        let rows = (body.height / PANE_HEIGHT).max(1) as usize;
        if self.hosts.len() <= cols * rows {
            let row_areas =
                Layout::vertical(vec![Constraint::Ratio(1, rows as u32); rows]).split(body);
            for (i, h) in self.hosts.iter().enumerate() {
                let r = i / cols;
                let c = i % cols;
                let cells = Layout::horizontal(vec![Constraint::Ratio(1, cols as u32); cols])
                    .split(row_areas[r]);
                self.draw_pane(frame, cells[c], h, i == self.selected);
            }
        } else {
            let table_height = (self.hosts.len() as u16 + 3)
                .min(body.height.saturating_sub(PANE_HEIGHT))
                .max(4);
            let [table, pane] =
                Layout::vertical([Constraint::Length(table_height), Constraint::Min(4)])
                    .areas(body);
            self.draw_table(frame, table);
            if let Some(h) = self.hosts.get(self.selected) {
                self.draw_pane(frame, pane, h, true);
            }
        }
    }
}
