//! Random key presses on every screen never panic and always draw, at 80×24 and on a
//! terminal that is too small.

#[path = "tui_support.rs"]
mod support;

use kubewiz::exec::{Event, Stamped, StepOutcome};
use ratatui::crossterm::event::KeyCode;
use support::Harness;

/// A small deterministic generator, so a failure replays from its seed.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const KEYS: &[KeyCode] = &[
    KeyCode::Enter,
    KeyCode::Esc,
    KeyCode::Up,
    KeyCode::Down,
    KeyCode::Left,
    KeyCode::Right,
    KeyCode::Tab,
    KeyCode::BackTab,
    KeyCode::Backspace,
    KeyCode::Delete,
    KeyCode::PageUp,
    KeyCode::PageDown,
    KeyCode::Home,
    KeyCode::End,
    KeyCode::Char('n'),
    KeyCode::Char('n'),
    KeyCode::Char('n'),
    KeyCode::Char('a'),
    KeyCode::Char('b'),
    KeyCode::Char('c'),
    KeyCode::Char('d'),
    KeyCode::Char('x'),
    KeyCode::Char('s'),
    KeyCode::Char('t'),
    KeyCode::Char('z'),
    KeyCode::Char('l'),
    KeyCode::Char('r'),
    KeyCode::Char('/'),
    KeyCode::Char('?'),
    KeyCode::Char('{'),
    KeyCode::Char('.'),
    KeyCode::Char(':'),
    KeyCode::Char('1'),
    KeyCode::Char('9'),
    KeyCode::Char('é'),
    KeyCode::Char(' '),
];

fn stamped(event: Event) -> Stamped {
    Stamped {
        at: "2026-01-01T00:00:00Z".into(),
        event,
    }
}

#[test]
fn random_keys_never_panic() {
    let mut reached = std::collections::BTreeSet::new();
    for seed in 1..=8u64 {
        let mut rng = XorShift(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let (w, ht) = if seed % 4 == 0 { (60, 20) } else { (80, 24) };
        let mut h = Harness::new(w, ht);
        for step in 0..300 {
            let code = KEYS[(rng.next() % KEYS.len() as u64) as usize];
            if code == KeyCode::Char('s') || code == KeyCode::Char('y') {
                // Saving writes a file in the working directory: not here.
                continue;
            }
            h.press(code);
            // Now and then the engine speaks, whatever screen is shown.
            if step % 50 == 0 {
                h.app.engine_events(&[stamped(Event::StepFinished {
                    host: "ghost".into(),
                    step: "s".into(),
                    outcome: StepOutcome::Failed {
                        exit_code: None,
                        message: "lost".into(),
                    },
                    duration_ms: 1,
                })]);
            }
            h.screen();
            reached.insert(format!("{:?}", h.app.screen));
        }
    }
    println!("screens reached: {reached:?}");
    assert!(
        reached.len() >= 5,
        "the walk should reach most screens: {reached:?}"
    );
}
