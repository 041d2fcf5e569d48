//! Styles. Colour only ever repeats what a symbol or a word already says (✗ error,
//! ! warning, ✓ done), so the wizard reads the same with `NO_COLOR` set or on a
//! monochrome serial console.

use std::sync::OnceLock;

use ratatui::style::{Color, Modifier, Style};

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

/// The symbol in front of an error, so it is not told by colour alone.
pub const ERR: &str = "✗";
/// The symbol in front of a warning.
pub const WARN: &str = "!";
/// The symbol of something finished well.
pub const OK: &str = "✓";
