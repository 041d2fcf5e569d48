//! Entering and leaving full-screen mode: the one way the wizard takes the terminal
//! and gives it back.
//!
//! [`enter`] installs a panic hook (once per process) that restores the terminal
//! before the panic message is printed, switches to raw mode and the alternate
//! screen, and returns the terminal with a [`Guard`] that restores it when dropped,
//! whichever way the program leaves the scope: a normal return, an error, or a
//! panic that unwinds. It is public so that a test program can enter the terminal
//! exactly as the wizard does and then panic (`examples/panic_in_tui.rs`, driven by
//! `tests/tui_panic.rs`).

use std::io::{self, stdout};
use std::sync::Once;
use std::sync::atomic::{AtomicBool, Ordering};

use ratatui::crossterm::cursor::Show;
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::prelude::CrosstermBackend;
use ratatui::{DefaultTerminal, Terminal};

/// Whether [`enter`] has taken the terminal and nothing has given it back yet.
static ENTERED: AtomicBool = AtomicBool::new(false);

/// Gives the terminal back when dropped: cooked mode, the main screen, a visible cursor.
#[must_use = "the terminal is restored when the guard is dropped"]
pub struct Guard {
    _private: (),
}

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Takes the terminal for full-screen drawing: installs the restoring panic hook,
/// then raw mode and the alternate screen. Keep the [`Guard`] alive as long as the
/// terminal is drawn on. If a step fails, what was already done is undone.
pub fn enter() -> io::Result<(DefaultTerminal, Guard)> {
    install_panic_hook();
    // Made first, so a setup that fails halfway is undone when it drops.
    let guard = Guard { _private: () };
    ENTERED.store(true, Ordering::SeqCst);
    enable_raw_mode()?;
    execute!(stdout(), EnterAlternateScreen)?;
    let terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
    Ok((terminal, guard))
}

/// Restores the terminal once after [`enter`]; later calls (the guard dropping while
/// a panic unwinds, after the hook has restored) do nothing. That matters: leaving the
/// alternate screen a second time moves the cursor back to where it was saved, and the
/// shell would then write over the panic message.
pub fn restore() {
    if !ENTERED.swap(false, Ordering::SeqCst) {
        return;
    }
    // Raw mode first: it matters more than the screen if writing to the terminal fails.
    let raw = disable_raw_mode();
    let screen = execute!(stdout(), LeaveAlternateScreen, Show);
    if let Err(e) = raw.and(screen) {
        eprintln!("kubewiz: could not restore the terminal: {e}");
    }
}

/// Restores the terminal before the previous hook prints the panic, so the message
/// lands on the main screen in cooked mode where it can be read.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            restore();
            previous(info);
        }));
    });
}
