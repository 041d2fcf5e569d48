//! Styles and glyphs. Colour only ever repeats what a symbol or a word already says (✗
//! error, ! warning, ✓ done), so the wizard reads the same with `NO_COLOR` set or on a
//! monochrome serial console. Every non-ASCII glyph the wizard draws comes from here,
//! so one setting ([`set_ascii`], `kubewiz --ascii`) draws it all with ASCII only.

use std::borrow::Cow;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};

use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols::border;
use ratatui::widgets::{Block, Gauge, Paragraph};

/// The smallest terminal the wizard draws in: an 80×24 serial console.
pub const MIN_WIDTH: u16 = 80;
/// See [`MIN_WIDTH`].
pub const MIN_HEIGHT: u16 = 24;

fn colour() -> bool {
    static ON: OnceLock<bool> = OnceLock::new();
    *ON.get_or_init(|| std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()))
}

fn fg(c: Color) -> Style {
    if colour() {
        Style::new().fg(c)
    } else {
        Style::new()
    }
}

/// The highlighted row or field.
pub fn selected() -> Style {
    Style::new().add_modifier(Modifier::REVERSED)
}

/// A field being edited.
pub fn editing() -> Style {
    fg(Color::Yellow).add_modifier(Modifier::BOLD)
}

pub fn error() -> Style {
    fg(Color::Red).add_modifier(Modifier::BOLD)
}

pub fn warning() -> Style {
    fg(Color::Yellow)
}

pub fn ok() -> Style {
    fg(Color::Green)
}

pub fn dim() -> Style {
    if colour() {
        Style::new().fg(Color::DarkGray)
    } else {
        Style::new().add_modifier(Modifier::DIM)
    }
}

pub fn title() -> Style {
    Style::new().add_modifier(Modifier::BOLD)
}

pub fn key() -> Style {
    fg(Color::Cyan).add_modifier(Modifier::BOLD)
}

/// Whether the wizard draws with ASCII only (`kubewiz --ascii`), for serial consoles
/// and terminals without UTF-8. Every glyph below follows this one setting.
static ASCII: AtomicBool = AtomicBool::new(false);

/// Switches every glyph the wizard draws between Unicode and plain ASCII.
pub fn set_ascii(on: bool) {
    ASCII.store(on, Ordering::Relaxed);
}

/// True when only ASCII is drawn.
pub fn ascii() -> bool {
    ASCII.load(Ordering::Relaxed)
}

fn pick(unicode: &'static str, plain: &'static str) -> &'static str {
    if ascii() { plain } else { unicode }
}

/// The mark in front of an error, so it is not told by colour alone: `✗` or `x`.
pub fn err_mark() -> &'static str {
    pick("✗", "x")
}

/// The mark in front of a warning.
pub fn warn_mark() -> &'static str {
    "!"
}

/// The mark of something finished well: `✓` or `ok`.
pub fn ok_mark() -> &'static str {
    pick("✓", "ok")
}

/// The mark of something running: `▶` or `>`.
pub fn run_mark() -> &'static str {
    pick("▶", ">")
}

/// The mark of something waiting, and of a list item: `·` or `-`.
pub fn wait_mark() -> &'static str {
    pick("·", "-")
}

/// The mark of something left out: `–` or `-`.
pub fn skip_mark() -> &'static str {
    pick("–", "-")
}

/// The mark of the current choice in a list: `●` or `*`.
pub fn current_mark() -> &'static str {
    pick("●", "*")
}

/// What separates parts of a title or a status line: `·` or `-`.
pub fn sep() -> &'static str {
    pick("·", "-")
}

/// Where text was cut: `…` or `...`.
pub fn ellipsis() -> &'static str {
    pick("…", "...")
}

/// The cursor inside a field being edited: `▏` or `_`.
pub fn cursor() -> char {
    if ascii() { '_' } else { '▏' }
}

/// How an arrow key is written in hints and help: `↑` or `Up`.
pub fn arrow(code: ratatui::crossterm::event::KeyCode) -> &'static str {
    use ratatui::crossterm::event::KeyCode;
    match code {
        KeyCode::Up => pick("↑", "Up"),
        KeyCode::Down => pick("↓", "Down"),
        KeyCode::Left => pick("←", "Left"),
        KeyCode::Right => pick("→", "Right"),
        _ => "",
    }
}

/// Borders drawn with `+ - |`.
pub const ASCII_BORDER: border::Set<'static> = border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

/// The border of every box: ratatui's plain lines, or [`ASCII_BORDER`].
pub fn border() -> border::Set<'static> {
    if ascii() { ASCII_BORDER } else { border::PLAIN }
}

/// A box with a border in the current glyph set; use instead of `Block::bordered()`.
pub fn block() -> Block<'static> {
    Block::bordered().border_set(border())
}

/// Draws a one-line progress bar at `ratio` (0..=1) with `label` in its middle: ratatui's
/// gauge (full blocks), or in ASCII `#` for done and `.` for the rest.
pub fn gauge(frame: &mut Frame, area: Rect, ratio: f64, label: String) {
    if !ascii() {
        frame.render_widget(
            Gauge::default().ratio(ratio).label(label).gauge_style(ok()),
            area,
        );
        return;
    }
    let width = area.width as usize;
    let filled = ((width as f64) * ratio.clamp(0.0, 1.0)).round() as usize;
    let mut cells: Vec<char> = (0..width)
        .map(|i| if i < filled { '#' } else { '.' })
        .collect();
    let label = format!(" {label} ");
    let n = label.chars().count().min(width);
    let start = (width - n) / 2;
    for (i, c) in label.chars().take(n).enumerate() {
        cells[start + i] = c;
    }
    let line: String = cells.into_iter().collect();
    frame.render_widget(Paragraph::new(line).style(ok()), area);
}

/// `text` with the glyphs above spelled in ASCII when the ASCII setting is on (for
/// fixed texts such as the help); anything else outside ASCII becomes `?`.
pub fn text(text: &str) -> Cow<'_, str> {
    if !ascii() || text.is_ascii() {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            c if c.is_ascii() => out.push(c),
            '✗' => out.push('x'),
            '✓' => out.push_str("ok"),
            '▶' => out.push('>'),
            '·' | '–' | '—' | '─' => out.push('-'),
            '●' => out.push('*'),
            '…' => out.push_str("..."),
            '→' => out.push_str("->"),
            '←' => out.push_str("<-"),
            '↑' => out.push_str("Up"),
            '↓' => out.push_str("Down"),
            '×' => out.push('x'),
            '│' => out.push('|'),
            _ => out.push('?'),
        }
    }
    Cow::Owned(out)
}

/// The last resort for the real terminal in ASCII mode: whatever the glyphs above do
/// not cover (a remote command's output, a file's contents) is drawn as `?` (or a
/// line-drawing character as `+ - |`), so a console without UTF-8 never sees stray
/// bytes. Does nothing when the ASCII setting is off.
pub fn asciify(buf: &mut Buffer) {
    if !ascii() {
        return;
    }
    for cell in &mut buf.content {
        let symbol = cell.symbol();
        if symbol.is_ascii() {
            continue;
        }
        let plain = match symbol {
            "─" | "━" | "═" | "·" | "–" | "—" => "-",
            "│" | "┃" | "║" | "▏" => "|",
            "┌" | "┐" | "└" | "┘" | "├" | "┤" | "┬" | "┴" | "┼" | "╭" | "╮" | "╰" | "╯" => {
                "+"
            }
            "█" | "▉" | "▊" | "▋" | "▌" | "▍" | "▎" => "#",
            "✗" | "×" => "x",
            "▶" | "→" => ">",
            "●" => "*",
            _ => "?",
        };
        cell.set_symbol(plain);
    }
}
