//! The full-screen reader of a text (a generated file, the plan, a host's output), for
//! an operator who must be able to read every byte on an 80×24 console: line numbers,
//! wrap on or off, horizontal scroll when off, search, all in ASCII when asked.
//!
//! The viewer keeps only where the operator is; the text is handed in on every key and
//! every draw, so a host's output can grow while it is open.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::field::TextField;
use super::keys::{self, Action, Binding, Key, bind, quiet};
use super::theme;

/// Long lines cut at the edge: ←/→ and Home/End scroll sideways.
const READING: &[Binding] = &[
    quiet(keys::UP, Action::Up, "line up"),
    quiet(keys::DOWN, Action::Down, "line down"),
    quiet(keys::PGUP, Action::PageUp, "page up"),
    quiet(keys::PGDN, Action::PageDown, "page down"),
    quiet(&[Key::ch('g')], Action::Top, "first line"),
    quiet(&[Key::ch('G')], Action::Bottom, "last line"),
    bind(&[Key::plain(KeyCode::Left)], Action::Left, "scroll"),
    quiet(&[Key::plain(KeyCode::Right)], Action::Right, "scroll right"),
    quiet(
        &[Key::plain(KeyCode::Home)],
        Action::LineStart,
        "line start",
    ),
    bind(&[Key::plain(KeyCode::End)], Action::LineEnd, "line end"),
    bind(&[Key::ch('w')], Action::Wrap, "wrap"),
    bind(&[Key::ch('/')], Action::Search, "find"),
    bind(&[Key::ch('n')], Action::SearchNext, "next"),
    bind(&[Key::ch('N')], Action::SearchPrevious, "prev"),
    bind(
        &[Key::plain(KeyCode::Esc), Key::ch('q')],
        Action::Back,
        "back",
    ),
];

/// Long lines wrapped: nothing to scroll sideways.
const WRAPPED: &[Binding] = &[
    quiet(keys::UP, Action::Up, "line up"),
    quiet(keys::DOWN, Action::Down, "line down"),
    quiet(keys::PGUP, Action::PageUp, "page up"),
    quiet(keys::PGDN, Action::PageDown, "page down"),
    quiet(&[Key::ch('g')], Action::Top, "first line"),
    quiet(&[Key::ch('G')], Action::Bottom, "last line"),
    bind(&[Key::ch('w')], Action::Wrap, "wrap"),
    bind(&[Key::ch('/')], Action::Search, "find"),
    bind(&[Key::ch('n')], Action::SearchNext, "next"),
    bind(&[Key::ch('N')], Action::SearchPrevious, "prev"),
    bind(
        &[Key::plain(KeyCode::Esc), Key::ch('q')],
        Action::Back,
        "back",
    ),
];

const SEARCHING: &[Binding] = &[
    bind(keys::ENTER, Action::Commit, "find"),
    bind(keys::ESC, Action::Cancel, "cancel"),
];

/// Columns one ←/→ moves.
const STEP: usize = 8;

/// What a key did to the viewer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    /// The key means nothing here.
    Ignored,
    Handled,
    /// Esc or q: the operator is done reading.
    Close,
}

/// Where the operator is in the text.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// The first line shown (0-based).
    top: usize,
    /// The first column shown when not wrapped.
    left: usize,
    wrap: bool,
    search: Option<TextField>,
    needle: String,
    /// The line of the last match, and what the status line says about the search.
    hit: Option<usize>,
    found: Option<String>,
    /// The terminal's size: the viewer fills the screen's body, so this tells how many
    /// lines a page is and how far End scrolls.
    size: (u16, u16),
}

impl Default for Viewer {
    fn default() -> Self {
        Viewer {
            top: 0,
            left: 0,
            wrap: false,
            search: None,
            needle: String::new(),
            hit: None,
            found: None,
            size: (theme::MIN_WIDTH, theme::MIN_HEIGHT),
        }
    }
}

impl Viewer {
    /// A viewer at the top of a text, for a terminal of `size`.
    pub fn new(size: (u16, u16)) -> Self {
        let mut v = Viewer::default();
        v.resize(size);
        v
    }

    /// The terminal's size changed.
    pub fn resize(&mut self, size: (u16, u16)) {
        // Before the terminal's size is known, the smallest the wizard draws in.
        self.size = (size.0.max(theme::MIN_WIDTH), size.1.max(theme::MIN_HEIGHT));
    }

    /// The keys the viewer handles now; the hint bar shows these.
    pub fn bindings(&self) -> &'static [Binding] {
        if self.search.is_some() {
            SEARCHING
        } else if self.wrap {
            WRAPPED
        } else {
            READING
        }
    }

    /// True while the search text is typed.
    pub fn editing(&self) -> bool {
        self.search.is_some()
    }

    /// Text rows on screen: the terminal less the header, the hint bar, the border and
    /// the status line.
    fn page(&self) -> usize {
        (self.size.1 as usize).saturating_sub(5).max(1)
    }

    /// Columns for the text beside the line numbers of a text of `count` lines.
    fn columns(&self, count: usize) -> usize {
        (self.size.0 as usize)
            .saturating_sub(2 + gutter(count))
            .max(1)
    }

    /// One key, with the text as it is now.
    pub fn handle(&mut self, key: &KeyEvent, lines: &[&str]) -> Answer {
        if let Some(field) = self.search.as_mut() {
            match keys::lookup(SEARCHING, key) {
                Some(Action::Cancel) => self.search = None,
                Some(Action::Commit) => {
                    self.needle = field.value().to_owned();
                    self.search = None;
                    self.find(lines, true, true);
                }
                _ => {
                    field.key(*key);
                }
            }
            return Answer::Handled;
        }
        let last = lines.len().saturating_sub(1);
        let widest = lines.iter().map(|l| cells(l).len()).max().unwrap_or(0);
        let right_end = widest.saturating_sub(self.columns(lines.len()));
        match keys::lookup(self.bindings(), key) {
            Some(Action::Up) => self.top = self.top.saturating_sub(1),
            Some(Action::Down) => self.top = (self.top + 1).min(last),
            Some(Action::PageUp) => self.top = self.top.saturating_sub(self.page()),
            Some(Action::PageDown) => self.top = (self.top + self.page()).min(last),
            Some(Action::Top) => self.top = 0,
            Some(Action::Bottom) => self.top = last.saturating_sub(self.page() - 1),
            Some(Action::Left) => self.left = self.left.saturating_sub(STEP),
            Some(Action::Right) => self.left = (self.left + STEP).min(right_end),
            Some(Action::LineStart) => self.left = 0,
            Some(Action::LineEnd) => self.left = right_end,
            Some(Action::Wrap) => {
                self.wrap = !self.wrap;
                self.left = 0;
            }
            Some(Action::Search) => {
                let mut f = TextField::new(self.needle.clone());
                f.start_edit();
                self.search = Some(f);
            }
            Some(Action::SearchNext) => self.find(lines, true, false),
            Some(Action::SearchPrevious) => self.find(lines, false, false),
            Some(Action::Back) => return Answer::Close,
            _ => return Answer::Ignored,
        }
        Answer::Handled
    }

    /// Moves to the next (or previous) line holding the search text, from the last
    /// match (or, for a new search, from the top line shown), around the end.
    fn find(&mut self, lines: &[&str], forward: bool, fresh: bool) {
        let needle = self.needle.to_lowercase();
        if needle.is_empty() || lines.is_empty() {
            return;
        }
        let n = lines.len();
        let from = match (fresh, self.hit) {
            (false, Some(h)) => h,
            // A new search also looks at the top line itself.
            _ if forward => (self.top + n - 1) % n,
            _ => self.top,
        };
        let hit = (1..=n)
            .map(|k| {
                if forward {
                    (from + k) % n
                } else {
                    (from + n * 2 - k) % n
                }
            })
            .find(|&i| lines[i].to_lowercase().contains(&needle));
        self.found = Some(match hit {
            Some(i) => {
                self.hit = Some(i);
                if i < self.top || i >= self.top + self.page() {
                    self.top = i;
                }
                if !self.wrap {
                    self.show_column(lines, i, &needle);
                }
                format!("\"{}\" at line {}", self.needle, i + 1)
            }
            None => {
                self.hit = None;
                format!("\"{}\" not found", self.needle)
            }
        });
    }

    /// Scrolls sideways so the match on line `i` is on screen.
    fn show_column(&mut self, lines: &[&str], i: usize, needle: &str) {
        let lower: String = cells(lines[i])
            .into_iter()
            .collect::<String>()
            .to_lowercase();
        let Some(byte) = lower.find(needle) else {
            return;
        };
        let start = lower[..byte].chars().count();
        let end = start + needle.chars().count();
        let width = self.columns(lines.len());
        if start < self.left || end > self.left + width {
            self.left = end.saturating_sub(width).min(start);
        }
    }

    /// Draws the text full size in `area` under `title`; changes nothing.
    pub fn draw(&self, frame: &mut Frame, area: Rect, title: &str, lines: &[&str]) {
        let [body, status] =
            Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(area);
        let block = theme::block().title(format!(" {title} "));
        let inner = block.inner(body);
        frame.render_widget(block, body);
        let gutter = gutter(lines.len());
        let width = (inner.width as usize).saturating_sub(gutter).max(1);
        let needle = self.needle.to_lowercase();
        let mut rows: Vec<Line> = Vec::new();
        let mut shown_to = self.top;
        'lines: for (i, line) in lines.iter().enumerate().skip(self.top) {
            let chars = cells(line);
            let pieces: Vec<(usize, usize)> = if self.wrap {
                let mut v: Vec<(usize, usize)> = (0..chars.len().max(1))
                    .step_by(width)
                    .map(|s| (s, (s + width).min(chars.len())))
                    .collect();
                if v.is_empty() {
                    v.push((0, 0));
                }
                v
            } else {
                let s = self.left.min(chars.len());
                vec![(s, (s + width).min(chars.len()))]
            };
            for (k, (s, e)) in pieces.into_iter().enumerate() {
                if rows.len() >= inner.height as usize {
                    break 'lines;
                }
                let number = if k == 0 {
                    format!("{:>w$} ", i + 1, w = gutter - 1)
                } else {
                    " ".repeat(gutter)
                };
                let mut spans = vec![Span::styled(number, theme::dim())];
                spans.extend(marked(&chars, s, e, &needle, self.hit == Some(i)));
                rows.push(Line::from(spans));
            }
            shown_to = i + 1;
        }
        frame.render_widget(Paragraph::new(rows), inner);
        let sep = theme::sep();
        let mut state = format!(
            " lines {}-{}/{} {sep} wrap {}",
            (self.top + 1).min(lines.len()),
            shown_to,
            lines.len(),
            if self.wrap { "on" } else { "off" }
        );
        if !self.wrap {
            state.push_str(&format!(" {sep} column {}", self.left + 1));
        }
        let status_text = match (&self.search, &self.found) {
            (Some(f), _) => format!(" find: {}", f.shown(40)),
            (None, Some(found)) => format!("{state} {sep} {found}"),
            (None, None) => state,
        };
        frame.render_widget(Paragraph::new(status_text).style(theme::dim()), status);
    }
}

/// What a line shows, one character per column: a tab as spaces to the next multiple
/// of 8, any other control character in caret notation (`^M` for a carriage return),
/// so every byte of the text is seen and none moves the terminal's cursor.
fn cells(line: &str) -> Vec<char> {
    let mut out = Vec::with_capacity(line.len());
    for c in line.chars() {
        match c {
            '\t' => {
                let pad = 8 - out.len() % 8;
                out.extend(std::iter::repeat_n(' ', pad));
            }
            c if c.is_control() => {
                out.push('^');
                out.push(match c as u32 {
                    n @ 0..=0x1f => char::from_u32(n + 0x40).unwrap_or('?'),
                    0x7f => '?',
                    _ => '?',
                });
            }
            c => out.push(c),
        }
    }
    out
}

/// Columns of the line numbers (and the space after them) for `count` lines.
fn gutter(count: usize) -> usize {
    count.max(1).to_string().len().max(3) + 1
}

/// Characters `s..e` of a line, with the search text's occurrences marked (on the
/// line of the current match, more strongly).
fn marked(chars: &[char], s: usize, e: usize, needle: &str, current: bool) -> Vec<Span<'static>> {
    let piece: String = chars[s..e].iter().collect();
    let n = needle.chars().count();
    if n == 0 {
        return vec![Span::raw(piece)];
    }
    let lower: Vec<char> = chars.iter().flat_map(|c| c.to_lowercase()).collect();
    // Lowercase can change a character's length; then marks would be misplaced.
    if lower.len() != chars.len() {
        return vec![Span::raw(piece)];
    }
    let needle: Vec<char> = needle.chars().collect();
    let mut marks = vec![false; chars.len()];
    let mut i = 0;
    while i + n <= lower.len() {
        if lower[i..i + n] == needle[..] {
            marks[i..i + n].iter_mut().for_each(|m| *m = true);
            i += n;
        } else {
            i += 1;
        }
    }
    let style = if current {
        theme::selected()
    } else {
        theme::key()
    };
    let mut spans = Vec::new();
    let mut run = String::new();
    let mut on = false;
    for (k, c) in chars.iter().enumerate().take(e).skip(s) {
        if marks[k] != on && !run.is_empty() {
            let text = std::mem::take(&mut run);
            spans.push(if on {
                Span::styled(text, style)
            } else {
                Span::raw(text)
            });
        }
        on = marks[k];
        run.push(*c);
    }
    if !run.is_empty() {
        spans.push(if on {
            Span::styled(run, style)
        } else {
            Span::raw(run)
        });
    }
    spans
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::crossterm::event::KeyModifiers;

    fn press(v: &mut Viewer, lines: &[&str], c: KeyCode) -> Answer {
        v.handle(&KeyEvent::new(c, KeyModifiers::NONE), lines)
    }

    #[test]
    fn end_scrolls_to_the_longest_lines_end_and_search_wraps_around() {
        let long = format!("start {} finish", "x".repeat(200));
        let lines = ["alpha", long.as_str(), "beta alpha"];
        let mut v = Viewer::new((80, 24));
        press(&mut v, &lines, KeyCode::End);
        // 80 columns less the border (2) and the gutter (4).
        assert_eq!(v.left, long.len() - 74);
        press(&mut v, &lines, KeyCode::Home);
        assert_eq!(v.left, 0);
        press(&mut v, &lines, KeyCode::Char('/'));
        for c in "ALPHA".chars() {
            press(&mut v, &lines, KeyCode::Char(c));
        }
        press(&mut v, &lines, KeyCode::Enter);
        assert_eq!(v.hit, Some(0));
        press(&mut v, &lines, KeyCode::Char('n'));
        assert_eq!(v.hit, Some(2));
        press(&mut v, &lines, KeyCode::Char('n'));
        assert_eq!(v.hit, Some(0));
        press(&mut v, &lines, KeyCode::Char('N'));
        assert_eq!(v.hit, Some(2));
        assert_eq!(press(&mut v, &lines, KeyCode::Char('q')), Answer::Close);
    }

    #[test]
    fn tabs_and_control_characters_take_visible_columns() {
        let shown: String = cells("a\tb\r").into_iter().collect();
        assert_eq!(shown, "a       b^M");
    }
}
