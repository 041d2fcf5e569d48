//! Preview: every generated file, per host and for the KVM host, in a tree with a
//! viewer (scroll, search, the file's mode); a second tab with the plan; the dry-run
//! switch. Nothing has been contacted yet.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{List, ListItem, ListState, Paragraph};

use super::Screen;
use crate::render::Target;
use crate::spec::ClusterSpec;
use crate::tui::field::TextField;
use crate::tui::flow::{Outcome, View};
use crate::tui::keys::{self, Action, Binding, Key, bind, quiet};
use crate::tui::prepare::Prepared;
use crate::tui::theme;
use crate::tui::viewer::{Answer, Viewer};
use crate::tui::widgets::shorten;

const COMMON_TAIL: [Binding; 4] = [
    bind(&[Key::ch('d')], Action::ToggleDryRun, "dry run"),
    bind(&[Key::ch('/')], Action::Search, "find"),
    bind(keys::NEXT, Action::Next, "install"),
    bind(keys::ESC, Action::Back, "back"),
];

/// Opens the selected file (or the plan) over the whole screen.
const ZOOM: Binding = bind(
    &[Key::ch('z'), Key::plain(KeyCode::Enter)],
    Action::Zoom,
    "read",
);

const TREE: &[Binding] = &[
    quiet(keys::UP, Action::Up, "previous file"),
    quiet(keys::DOWN, Action::Down, "next file"),
    ZOOM,
    bind(&[Key::plain(KeyCode::Tab)], Action::SwitchFocus, "view"),
    bind(&[Key::ch('t')], Action::SwitchTab, "plan"),
    COMMON_TAIL[0],
    COMMON_TAIL[1],
    COMMON_TAIL[2],
    COMMON_TAIL[3],
];

const VIEWER: &[Binding] = &[
    quiet(keys::UP, Action::Up, "scroll up"),
    quiet(keys::DOWN, Action::Down, "scroll down"),
    quiet(keys::PGUP, Action::PageUp, "page up"),
    quiet(keys::PGDN, Action::PageDown, "page down"),
    quiet(keys::HOME, Action::Top, "top"),
    quiet(keys::END, Action::Bottom, "bottom"),
    ZOOM,
    bind(&[Key::plain(KeyCode::Tab)], Action::SwitchFocus, "files"),
    bind(&[Key::ch('t')], Action::SwitchTab, "plan"),
    COMMON_TAIL[0],
    COMMON_TAIL[1],
    COMMON_TAIL[2],
    COMMON_TAIL[3],
];

const PLAN: &[Binding] = &[
    quiet(keys::UP, Action::Up, "scroll up"),
    quiet(keys::DOWN, Action::Down, "scroll down"),
    quiet(keys::PGUP, Action::PageUp, "page up"),
    quiet(keys::PGDN, Action::PageDown, "page down"),
    quiet(keys::HOME, Action::Top, "top"),
    quiet(keys::END, Action::Bottom, "bottom"),
    ZOOM,
    bind(&[Key::ch('t')], Action::SwitchTab, "files"),
    COMMON_TAIL[0],
    COMMON_TAIL[1],
    COMMON_TAIL[2],
    COMMON_TAIL[3],
];

const SEARCH: &[Binding] = &[
    bind(keys::ENTER, Action::Commit, "find next"),
    bind(keys::ESC, Action::Cancel, "close"),
];

/// Lines a page scroll moves.
const PAGE: usize = 15;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// A target heading: its name and how many files it gets.
    Target(String, usize),
    File(usize),
}

/// The preview screen.
pub struct Preview {
    data: Option<Prepared>,
    entries: Vec<Entry>,
    selected: usize,
    viewer: bool,
    plan_tab: bool,
    scroll: usize,
    plan_scroll: usize,
    /// Whether Next starts a dry run (nothing is run on any host). On by default.
    pub dry_run: bool,
    search: Option<TextField>,
    last_search: String,
    found: Option<String>,
    /// The selected file (or the plan) over the whole screen.
    full: Option<Viewer>,
    /// The terminal's size, for the full-screen view.
    size: (u16, u16),
}

impl Default for Preview {
    fn default() -> Self {
        Preview {
            data: None,
            entries: Vec::new(),
            selected: 0,
            viewer: false,
            plan_tab: false,
            scroll: 0,
            plan_scroll: 0,
            dry_run: true,
            search: None,
            last_search: String::new(),
            found: None,
            full: None,
            size: (theme::MIN_WIDTH, theme::MIN_HEIGHT),
        }
    }
}

impl Preview {
    /// Shows freshly generated files, keeping the dry-run switch.
    pub fn reset(&mut self, p: &Prepared) {
        let dry_run = self.dry_run;
        let size = self.size;
        // An operation that writes no file (a node removal) opens on its plan.
        *self = Preview {
            dry_run,
            size,
            plan_tab: p.files.is_empty(),
            ..Preview::default()
        };
        // Hosts in the order the plan (and so the preset) lists them; the KVM host last.
        let mut order: Vec<&str> = Vec::new();
        for h in p.plan.phases.iter().flat_map(|ph| &ph.hosts) {
            if !order.contains(&h.host.as_str()) {
                order.push(&h.host);
            }
        }
        let rank = |t: &Target| match t {
            Target::Host(h) => order.iter().position(|o| o == h).unwrap_or(usize::MAX - 1),
            Target::Local => usize::MAX,
        };
        let mut files: Vec<usize> = (0..p.files.len()).collect();
        files.sort_by_key(|&i| (rank(&p.files[i].target), i));
        let mut last: Option<&Target> = None;
        for i in files {
            let f = &p.files[i];
            if last != Some(&f.target) {
                let count = p.files.iter().filter(|g| g.target == f.target).count();
                let name = match &f.target {
                    Target::Host(h) => h.clone(),
                    Target::Local => "KVM host (local/)".into(),
                };
                self.entries.push(Entry::Target(name, count));
                last = Some(&f.target);
            }
            self.entries.push(Entry::File(i));
        }
        self.selected = self
            .entries
            .iter()
            .position(|e| matches!(e, Entry::File(_)))
            .unwrap_or(0);
        self.data = Some(p.clone());
    }

    /// The terminal's size changed.
    pub fn resize(&mut self, size: (u16, u16)) {
        self.size = size;
        if let Some(v) = self.full.as_mut() {
            v.resize(size);
        }
    }

    /// What the full-screen view is titled: the host, the file's path and mode.
    fn full_title(&self) -> String {
        let Some(data) = &self.data else {
            return String::new();
        };
        if self.plan_tab {
            return "plan".into();
        }
        match self.entries.get(self.selected) {
            Some(Entry::File(i)) => {
                let f = &data.files[*i];
                let host = match &f.target {
                    Target::Host(h) => h.as_str(),
                    Target::Local => "KVM host",
                };
                format!("{host}: {} {} {:04o}", f.path, theme::sep(), f.mode)
            }
            Some(Entry::Target(name, _)) => name.clone(),
            None => String::new(),
        }
    }

    /// Shows `p` unless it is already shown.
    pub fn ensure(&mut self, p: &Prepared) {
        if self.data.is_none() {
            self.reset(p);
        }
    }

    /// The text the viewer shows: the selected file, a target's list, or the plan.
    fn text(&self) -> String {
        let Some(data) = &self.data else {
            return String::new();
        };
        if self.plan_tab {
            return data.plan_text.clone();
        }
        match self.entries.get(self.selected) {
            Some(Entry::File(i)) => shown(&data.files[*i]),
            Some(Entry::Target(name, n)) => format!("{name}: {n} files"),
            None => String::new(),
        }
    }

    fn scroll_mut(&mut self) -> &mut usize {
        if self.plan_tab {
            &mut self.plan_scroll
        } else {
            &mut self.scroll
        }
    }

    fn find(&mut self) {
        let needle = self.last_search.to_lowercase();
        if needle.is_empty() {
            return;
        }
        let text = self.text();
        let lines: Vec<&str> = text.lines().collect();
        let from = *self.scroll_mut() + 1;
        let hit = (0..lines.len())
            .map(|k| (from + k) % lines.len().max(1))
            .find(|&n| {
                lines
                    .get(n)
                    .is_some_and(|l| l.to_lowercase().contains(&needle))
            });
        self.found = Some(match hit {
            Some(n) => {
                *self.scroll_mut() = n;
                format!("\"{}\" at line {}", self.last_search, n + 1)
            }
            None => format!("\"{}\" not found", self.last_search),
        });
    }
}

impl Screen for Preview {
    fn title(&self) -> &'static str {
        "Preview"
    }

    fn help(&self) -> &'static str {
        "Every file kubewiz will put on each host, and what stays on this KVM host (local/), \
         exactly as it will be written, with its mode. The Plan tab lists every phase and every \
         host's steps in order. z or Enter reads the file (or the plan) over the whole screen: \
         line numbers, w wraps long lines, arrows and Home/End scroll sideways, / finds, n and N \
         go to the next and previous match, Esc or q come back.\n\
         d switches the dry run: ON runs the whole install against a transport that contacts no \
         host. n starts the install."
    }

    fn bindings(&self) -> &'static [Binding] {
        if let Some(v) = &self.full {
            v.bindings()
        } else if self.search.is_some() {
            SEARCH
        } else if self.plan_tab {
            PLAN
        } else if self.viewer {
            VIEWER
        } else {
            TREE
        }
    }

    fn editing(&self) -> bool {
        self.search.is_some() || self.full.as_ref().is_some_and(Viewer::editing)
    }

    fn handle(&mut self, key: &KeyEvent, _spec: &mut ClusterSpec) -> Outcome {
        if self.full.is_some() {
            let text = self.text();
            let lines: Vec<&str> = text.lines().collect();
            let answer = self.full.as_mut().map(|v| v.handle(key, &lines));
            return match answer {
                Some(Answer::Close) => {
                    self.full = None;
                    Outcome::Handled
                }
                Some(Answer::Handled) => Outcome::Handled,
                _ => Outcome::Ignored,
            };
        }
        if let Some(field) = self.search.as_mut() {
            match keys::lookup(SEARCH, key) {
                Some(Action::Cancel) => {
                    self.search = None;
                    self.found = None;
                }
                Some(Action::Commit) => {
                    self.last_search = field.value().to_owned();
                    self.find();
                }
                _ => {
                    field.key(*key);
                }
            }
            return Outcome::Handled;
        }
        let lines = self.text().lines().count();
        let action = keys::lookup(self.bindings(), key);
        let tree = !self.plan_tab && !self.viewer;
        match action {
            Some(Action::Up) if tree => {
                self.selected = self.selected.saturating_sub(1);
                self.scroll = 0;
            }
            Some(Action::Down) if tree => {
                self.selected = (self.selected + 1).min(self.entries.len().saturating_sub(1));
                self.scroll = 0;
            }
            Some(Action::Up) => *self.scroll_mut() = self.scroll_mut().saturating_sub(1),
            Some(Action::Down) => {
                *self.scroll_mut() = (*self.scroll_mut() + 1).min(lines.saturating_sub(1))
            }
            Some(Action::PageUp) => *self.scroll_mut() = self.scroll_mut().saturating_sub(PAGE),
            Some(Action::PageDown) => {
                *self.scroll_mut() = (*self.scroll_mut() + PAGE).min(lines.saturating_sub(1))
            }
            Some(Action::Top) => *self.scroll_mut() = 0,
            Some(Action::Bottom) => *self.scroll_mut() = lines.saturating_sub(1),
            Some(Action::SwitchFocus) => self.viewer = !self.viewer,
            Some(Action::Zoom) => self.full = Some(Viewer::new(self.size)),
            Some(Action::SwitchTab) => self.plan_tab = !self.plan_tab,
            Some(Action::ToggleDryRun) => self.dry_run = !self.dry_run,
            Some(Action::Search) => {
                let mut f = TextField::new(self.last_search.clone());
                f.start_edit();
                self.search = Some(f);
            }
            Some(Action::Next) => return Outcome::Next,
            Some(Action::Back) => return Outcome::Back,
            _ => return Outcome::Ignored,
        }
        Outcome::Handled
    }

    fn draw(&self, frame: &mut Frame, area: Rect, view: &View) {
        let Some(data) = &self.data else {
            frame.render_widget(
                Paragraph::new("Nothing generated yet: go back to Review and press n."),
                area,
            );
            return;
        };
        if let Some(v) = &self.full {
            let text = self.text();
            let lines: Vec<&str> = text.lines().collect();
            v.draw(frame, area, &self.full_title(), &lines);
            return;
        }
        let [tabs, body, status] = Layout::vertical([
            Constraint::Length(1),
            Constraint::Min(3),
            Constraint::Length(1),
        ])
        .areas(area);
        let tab = |name: &str, on: bool| {
            if on {
                Span::styled(format!("[{name}]"), theme::selected())
            } else {
                Span::raw(format!(" {name} "))
            }
        };
        let dry = if self.dry_run {
            Span::styled("dry run: ON (contacts no host)", theme::ok())
        } else {
            let install = view
                .prepared
                .is_none_or(|p| p.operation == crate::tui::prepare::Operation::Install);
            Span::styled(
                if install {
                    "dry run: OFF (installs for real)"
                } else {
                    "dry run: OFF (runs for real)"
                },
                theme::warning(),
            )
        };
        frame.render_widget(
            Paragraph::new(Line::from(vec![
                Span::raw(" "),
                tab(&format!("Files ({})", data.files.len()), !self.plan_tab),
                Span::raw(" "),
                tab(
                    &format!("Plan ({} steps)", data.plan.steps().count()),
                    self.plan_tab,
                ),
                Span::raw("   "),
                dry,
            ])),
            tabs,
        );
        let status_text = match (&self.search, &self.found) {
            (Some(f), found) => {
                format!(" find: {}  {}", f.shown(40), found.as_deref().unwrap_or(""))
            }
            (None, Some(found)) => format!(" {found}"),
            (None, None) => format!(" PKI and state: {}", data.cluster_dir.display()),
        };
        frame.render_widget(Paragraph::new(status_text).style(theme::dim()), status);
        if self.plan_tab {
            let text = data
                .plan_text
                .lines()
                .skip(self.plan_scroll)
                // The libvirt network's entries read `name → address`.
                .map(|l| Line::raw(theme::text(l).into_owned()))
                .collect::<Vec<_>>();
            let total = data.plan_text.lines().count();
            frame.render_widget(
                Paragraph::new(text).block(theme::block().title(format!(
                    " plan {} line {}/{total} ",
                    theme::sep(),
                    self.plan_scroll + 1
                ))),
                body,
            );
            return;
        }
        let [tree, viewer] =
            Layout::horizontal([Constraint::Length(36), Constraint::Min(20)]).areas(body);
        let items: Vec<ListItem> = self
            .entries
            .iter()
            .map(|e| match e {
                Entry::Target(name, n) => ListItem::new(Line::styled(
                    shorten(&format!("{name} ({n})"), 33),
                    theme::title(),
                )),
                Entry::File(i) => ListItem::new(format!(" {}", tail(&data.files[*i].path, 32))),
            })
            .collect();
        let mut state = ListState::default().with_selected(Some(self.selected));
        let tree_title = if self.viewer {
            " files "
        } else {
            " files (focus) "
        };
        frame.render_stateful_widget(
            List::new(items)
                .block(theme::block().title(tree_title))
                .highlight_style(theme::selected()),
            tree,
            &mut state,
        );
        let body;
        let (title, text) = match self.entries.get(self.selected) {
            Some(Entry::File(i)) => {
                let f = &data.files[*i];
                body = shown(f);
                let total = body.lines().count();
                let sep = theme::sep();
                let head = format!(
                    " {:04o} {sep} line {}/{total} {sep} ",
                    f.mode,
                    (self.scroll + 1).min(total.max(1))
                );
                let room = (viewer.width as usize).saturating_sub(head.chars().count() + 3);
                (format!("{head}{} ", tail(&f.path, room)), body.as_str())
            }
            Some(Entry::Target(name, n)) => (
                format!(" {name} "),
                if *n == 1 { "1 file" } else { "files below" },
            ),
            None => (" ".into(), ""),
        };
        let lines: Vec<Line> = text
            .lines()
            .skip(self.scroll)
            .map(|l| Line::raw(l.to_owned()))
            .collect();
        let border = if self.viewer {
            theme::title()
        } else {
            ratatui::style::Style::new()
        };
        frame.render_widget(
            Paragraph::new(lines).block(theme::block().title(title).border_style(border)),
            viewer,
        );
    }
}

/// What the viewer shows of a file: its content, except for private files (0600:
/// keys, kubeconfigs, configurations holding the bootstrap token), whose secrets never
/// go on a screen that someone else may be watching.
fn shown(f: &crate::render::File) -> String {
    if f.mode == crate::render::MODE_PRIVATE {
        format!(
            "Private file (mode 0600): {} lines, {} bytes, not shown here.\n\n\
             It holds key material or the bootstrap token. `kubewiz render --preset FILE \
             --out DIR` writes every file, this one included, for inspection.",
            f.content.lines().count(),
            f.content.len()
        )
    } else {
        f.content.clone()
    }
}

/// The end of a path, at most `width` characters, with `…` where it was cut.
fn tail(path: &str, width: usize) -> String {
    let n = path.chars().count();
    if n <= width {
        return path.to_owned();
    }
    let cut = theme::ellipsis().chars().count();
    let rest: String = path.chars().skip((n + cut).saturating_sub(width)).collect();
    format!("{}{rest}", theme::ellipsis())
}
