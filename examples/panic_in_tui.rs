//! Takes the terminal exactly as the wizard does (`kubewiz::tui::terminal::enter`),
//! draws a full screen, then panics. `tests/tui_terminal.rs` runs it in tmux and checks
//! that the panic leaves the terminal usable: the shell prompt back, the panic message
//! readable on the main screen, raw mode off. Not part of the shipped binary.

use ratatui::widgets::{Block, Paragraph};

fn main() {
    let (mut terminal, _guard) =
        kubewiz::tui::terminal::enter().expect("take the terminal as the wizard does");
    terminal
        .draw(|f| {
            f.render_widget(
                Paragraph::new("FULL-SCREEN-DRAWN: the wizard is on the alternate screen")
                    .block(Block::bordered().title(" panic check ")),
                f.area(),
            );
        })
        .expect("draw");
    std::thread::sleep(std::time::Duration::from_millis(300));
    panic!("deliberate panic inside the terminal UI (kubewiz panic check)");
}
