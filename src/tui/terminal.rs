//! Entering and leaving full-screen mode: the one way the wizard takes the terminal
//! and gives it back.
//!
//! [`enter`] installs a panic hook (once per process), switches to raw mode and the
//! alternate screen, and returns the terminal with a [`Guard`] that restores it when
//! dropped, whichever way the program leaves the scope: a normal return, an error, or
//! a panic that unwinds.
//!
//! The terminal is given back once, when the wizard really ends. A panic of the
//! thread that took the terminal ends it: the hook restores the terminal before the
//! panic message is printed. A panic of any other thread (background work, whose
//! task catches it and reports it on screen as an error) does not: the wizard keeps
//! drawing, so the hook keeps the message and prints it once the terminal is back.
//!
//! It is public so that test programs can enter the terminal exactly as the wizard
//! does and then panic: `examples/panic_in_tui.rs` on the UI thread (driven by
//! `tests/tui_terminal.rs`), `examples/background_panic_in_tui.rs` on another thread
//! (driven by `tests/tui_terminal_background.rs`).

use std::io::{self, stdout};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, Once};
use std::thread::{self, ThreadId};

use ratatui::crossterm::cursor::Show;
use ratatui::crossterm::execute;
use ratatui::crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::prelude::CrosstermBackend;
use ratatui::{DefaultTerminal, Terminal};

/// Whether [`enter`] has taken the terminal and nothing has given it back yet.
static ENTERED: AtomicBool = AtomicBool::new(false);
/// The thread that called [`enter`]: the wizard's own, whose panic ends it.
static UI_THREAD: Mutex<Option<ThreadId>> = Mutex::new(None);
/// Panic messages of other threads while the terminal was taken, for [`restore`].
static HELD: Mutex<Vec<String>> = Mutex::new(Vec::new());

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
    *lock(&UI_THREAD) = Some(thread::current().id());
    ENTERED.store(true, Ordering::SeqCst);
    enable_raw_mode()?;
    execute!(stdout(), EnterAlternateScreen)?;
    let terminal = Terminal::new(CrosstermBackend::new(stdout()))?;
    Ok((terminal, guard))
}

/// Restores the terminal once after [`enter`]; later calls (the guard dropping while
/// a panic unwinds, after the hook has restored) do nothing. That matters: leaving the
/// alternate screen a second time moves the cursor back to where it was saved, and the
/// shell would then write over the panic message. Then prints the panics of background
/// threads that were held while the wizard drew.
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
    for message in std::mem::take(&mut *lock(&HELD)) {
        eprintln!("kubewiz: background work panicked while the wizard ran: {message}");
    }
}

/// For a panic of the wizard's own thread: restores the terminal before the previous
/// hook prints the panic, so the message lands on the main screen in cooked mode where
/// it can be read. For a panic of another thread while the terminal is taken: keeps
/// the message for [`restore`], since printing it now would scribble over a screen
/// the wizard keeps drawing on.
fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let current = thread::current();
            if ENTERED.load(Ordering::SeqCst) && *lock(&UI_THREAD) != Some(current.id()) {
                let name = current.name().unwrap_or("<unnamed>");
                lock(&HELD).push(format!("thread '{name}' {info}"));
                return;
            }
            restore();
            previous(info);
        }));
    });
}

/// Locks `m` even if a thread panicked holding it: these hold plain data that a
/// panic cannot leave half-written, and the hook itself must not panic.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
