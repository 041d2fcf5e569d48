//! Key bindings as data. Each screen declares a table of [`Binding`]s; the same table
//! decides what a key does ([`lookup`]), what the key-hint bar shows ([`hints`]) and
//! what the help overlay lists, so a hint can never name a key that does nothing.

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

/// What a key asks for. Shared by every screen so tables stay plain data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    Left,
    Right,
    PageUp,
    PageDown,
    Top,
    Bottom,
    /// Choose the highlighted entry, or start editing the highlighted field.
    Select,
    /// Finish editing and keep the text.
    Commit,
    /// Leave the field and restore what it held before.
    Cancel,
    Next,
    Back,
    Quit,
    Help,
    Add,
    Remove,
    Duplicate,
    BulkAdd,
    /// Fill in hosts from the VMs libvirt knows.
    Import,
    Save,
    SwitchTab,
    SwitchFocus,
    ToggleDryRun,
    Search,
    SearchNext,
    SearchPrevious,
    /// Scroll to the start / end of the lines sideways.
    LineStart,
    LineEnd,
    /// Wrap long lines, or not.
    Wrap,
    Zoom,
    OpenLog,
    Abort,
    /// Leave a running install to go on without the wizard.
    Detach,
    Resume,
    Cycle,
    Confirm,
}

/// A key with the modifiers it needs (Shift is ignored for characters: the
/// character already says it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    pub const fn plain(code: KeyCode) -> Key {
        Key { code, ctrl: false }
    }

    pub const fn ch(c: char) -> Key {
        Key::plain(KeyCode::Char(c))
    }

    pub const fn ctrl(c: char) -> Key {
        Key {
            code: KeyCode::Char(c),
            ctrl: true,
        }
    }

    fn matches(&self, ev: &KeyEvent) -> bool {
        let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
        let code = match ev.code {
            // Terminals report Shift-Tab either way.
            KeyCode::Tab if ev.modifiers.contains(KeyModifiers::SHIFT) => KeyCode::BackTab,
            other => other,
        };
        code == self.code && ctrl == self.ctrl
    }

    /// How the key is written in hints and help: `↑`, `Enter`, `^C`, `a`.
    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Up | KeyCode::Down | KeyCode::Left | KeyCode::Right => {
                crate::tui::theme::arrow(self.code).into()
            }
            KeyCode::Enter => "Enter".into(),
            KeyCode::Esc => "Esc".into(),
            KeyCode::Tab => "Tab".into(),
            KeyCode::BackTab => "S-Tab".into(),
            KeyCode::PageUp => "PgUp".into(),
            KeyCode::PageDown => "PgDn".into(),
            KeyCode::Home => "Home".into(),
            KeyCode::End => "End".into(),
            KeyCode::Delete => "Del".into(),
            KeyCode::Char(' ') => "Space".into(),
            KeyCode::Char(c) => c.to_string(),
            KeyCode::F(n) => format!("F{n}"),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("^{}", base.to_uppercase())
        } else {
            base
        }
    }
}

/// One entry of a screen's key table.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub keys: &'static [Key],
    pub action: Action,
    /// What the key does, in two or three words.
    pub label: &'static str,
    /// Shown in the hint bar; bindings that are not are still listed in the help.
    pub hint: bool,
}

impl Binding {
    /// The keys as written in the hint bar: `↑/k`.
    pub fn keys_label(&self) -> String {
        self.keys
            .iter()
            .map(Key::label)
            .collect::<Vec<_>>()
            .join("/")
    }
}

/// Shorthand for a binding that is shown in the hint bar.
pub const fn bind(keys: &'static [Key], action: Action, label: &'static str) -> Binding {
    Binding {
        keys,
        action,
        label,
        hint: true,
    }
}

/// Shorthand for a binding listed only in the help overlay.
pub const fn quiet(keys: &'static [Key], action: Action, label: &'static str) -> Binding {
    Binding {
        keys,
        action,
        label,
        hint: false,
    }
}

/// The action `ev` triggers in `table`, if any. Key releases never trigger anything.
pub fn lookup(table: &[Binding], ev: &KeyEvent) -> Option<Action> {
    if ev.kind == KeyEventKind::Release {
        return None;
    }
    table
        .iter()
        .find(|b| b.keys.iter().any(|k| k.matches(ev)))
        .map(|b| b.action)
}

/// The hint-bar entries of `table`: (first key, label) of every binding with `hint`.
pub fn hints(table: &[Binding]) -> Vec<(String, &'static str)> {
    table
        .iter()
        .filter(|b| b.hint)
        .map(|b| (b.keys.first().map(Key::label).unwrap_or_default(), b.label))
        .collect()
}

// Keys used by several screens.
pub const UP: &[Key] = &[Key::plain(KeyCode::Up), Key::ch('k')];
pub const DOWN: &[Key] = &[Key::plain(KeyCode::Down), Key::ch('j')];
pub const LEFT: &[Key] = &[Key::plain(KeyCode::Left), Key::plain(KeyCode::BackTab)];
pub const RIGHT: &[Key] = &[Key::plain(KeyCode::Right), Key::plain(KeyCode::Tab)];
pub const ENTER: &[Key] = &[Key::plain(KeyCode::Enter)];
pub const ESC: &[Key] = &[Key::plain(KeyCode::Esc)];
pub const NEXT: &[Key] = &[Key::ch('n')];
pub const PGUP: &[Key] = &[Key::plain(KeyCode::PageUp)];
pub const PGDN: &[Key] = &[
    Key::plain(KeyCode::PageDown),
    Key::plain(KeyCode::Char(' ')),
];
pub const HOME: &[Key] = &[Key::plain(KeyCode::Home), Key::ch('g')];
pub const END: &[Key] = &[Key::plain(KeyCode::End), Key::ch('G')];

/// Keys every screen has, handled by the app before the screen sees the key.
pub const GLOBAL: &[Binding] = &[
    bind(&[Key::ch('?')], Action::Help, "help"),
    quiet(&[Key::ctrl('c')], Action::Quit, "quit kubewiz"),
];

/// The bindings of a text field being edited: everything else goes into the field.
pub const EDITING: &[Binding] = &[
    bind(ENTER, Action::Commit, "keep"),
    bind(ESC, Action::Cancel, "undo edit"),
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_honours_ctrl_and_backtab() {
        const CTRL_C: &[Key] = &[Key::ctrl('c')];
        let table = [
            bind(CTRL_C, Action::Quit, "quit"),
            bind(LEFT, Action::Left, "l"),
        ];
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(lookup(&table, &ctrl_c), Some(Action::Quit));
        let c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::NONE);
        assert_eq!(lookup(&table, &c), None);
        let shift_tab = KeyEvent::new(KeyCode::Tab, KeyModifiers::SHIFT);
        assert_eq!(lookup(&table, &shift_tab), Some(Action::Left));
    }
}
