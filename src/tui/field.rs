//! A text field that parses what is typed with the spec's own types on every
//! keystroke, so the error shown is the one `kubewiz validate` would give.

use ratatui::crossterm::event::{Event as TermEvent, KeyEvent};
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

/// One editable value: its text, whether it is being edited, and the parse error of
/// the text (None when it parses).
#[derive(Debug, Clone, Default)]
pub struct TextField {
    pub input: Input,
    /// The text before editing started, for Esc.
    before: Option<String>,
    pub error: Option<String>,
}

impl TextField {
    /// A field holding `value`, not being edited.
    pub fn new(value: impl Into<String>) -> Self {
        TextField {
            input: Input::new(value.into()),
            before: None,
            error: None,
        }
    }

    /// The text as typed (parse it with the spec's types before use).
    pub fn value(&self) -> &str {
        self.input.value()
    }

    /// True while keys go into the text.
    pub fn editing(&self) -> bool {
        self.before.is_some()
    }

    /// Gives the keys to the text; Esc later restores what it holds now.
    pub fn start_edit(&mut self) {
        self.before = Some(self.input.value().to_owned());
    }

    /// Keeps the text.
    pub fn commit(&mut self) {
        self.before = None;
    }

    /// Restores the text from before editing; returns it so the caller re-parses.
    pub fn cancel(&mut self) {
        if let Some(before) = self.before.take() {
            self.input = Input::new(before);
        }
    }

    /// Replaces the text (not while editing).
    pub fn set(&mut self, value: impl Into<String>) {
        self.input = Input::new(value.into());
    }

    /// Feeds a key to the text; true when the text changed.
    pub fn key(&mut self, key: KeyEvent) -> bool {
        let before = self.input.value().len();
        let changed = self
            .input
            .handle_event(&TermEvent::Key(key))
            .is_some_and(|r| r.value);
        changed || before != self.input.value().len()
    }

    /// The text as shown in a cell `width` wide, with a cursor mark while editing.
    pub fn shown(&self, width: usize) -> String {
        let value = self.input.value();
        if !self.editing() {
            return value.to_owned();
        }
        // Keep the cursor in view: show the tail when the text is wider than the cell.
        let cursor = self.input.visual_cursor();
        let chars: Vec<char> = value.chars().collect();
        let mut text: String = chars[..cursor.min(chars.len())].iter().collect();
        text.push(crate::tui::theme::cursor());
        text.extend(chars[cursor.min(chars.len())..].iter());
        let n = text.chars().count();
        if width > 0 && n > width {
            let skip = (cursor + 2).saturating_sub(width).min(n - width);
            text.chars().skip(skip).take(width).collect()
        } else {
            text
        }
    }
}

/// Parses optional text: empty is `None`.
pub fn optional<T>(
    text: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Result<Option<T>, String> {
    let text = text.trim();
    if text.is_empty() {
        Ok(None)
    } else {
        parse(text).map(Some)
    }
}

/// Parses with `FromStr`, turning the error into text.
pub fn parse<T: std::str::FromStr>(text: &str) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    text.trim().parse::<T>().map_err(|e| e.to_string())
}

/// Parses a TCP port, 1 to 65535.
pub fn port(text: &str) -> Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(0) | Err(_) => Err(format!(
            "\"{}\" is not a port; give a number from 1 to 65535",
            text.trim()
        )),
        Ok(p) => Ok(p),
    }
}
