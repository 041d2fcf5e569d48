//! Takes the terminal exactly as the wizard does (`kubewiz::tui::terminal::enter`),
//! lets a background thread panic while the screen is drawn (as a job of the wizard
//! can), draws again, then leaves normally. `tests/tui_terminal_background.rs` runs it
//! in tmux and checks that such a panic neither gives the terminal back early nor
//! writes over the screen, and that its message is printed once the terminal is back.
//! Not part of the shipped binary.

use std::time::Duration;

use ratatui::DefaultTerminal;
use ratatui::widgets::{Block, Paragraph};

fn draw(terminal: &mut DefaultTerminal, text: &str) {
    terminal
        .draw(|f| {
            f.render_widget(
                Paragraph::new(text).block(Block::bordered().title(" background panic check ")),
                f.area(),
            );
        })
        .expect("draw");
}

fn main() {
    let (mut terminal, guard) =
        kubewiz::tui::terminal::enter().expect("take the terminal as the wizard does");
    draw(
        &mut terminal,
        "FULL-SCREEN-DRAWN before the background panic",
    );
    let job = std::thread::Builder::new()
        .name("background-job".into())
        .spawn(|| panic!("deliberate panic in background work (kubewiz panic check)"))
        .expect("start the background thread");
    assert!(job.join().is_err(), "the background thread panicked");
    draw(
        &mut terminal,
        "STILL-FULL-SCREEN after the background panic",
    );
    // Long enough for the test to look at the screen while it is still taken.
    std::thread::sleep(Duration::from_secs(3));
    drop(guard);
    println!("LEFT-NORMALLY");
}
