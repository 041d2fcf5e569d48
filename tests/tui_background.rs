//! Work the wizard runs off the UI thread, ending badly: a job that panics comes back
//! to the screen that waits for it as an error the operator can read, through the same
//! `work::Jobs` and `Done::apply` the event loop uses, instead of leaving the wait on
//! screen forever.

#[path = "tui_support.rs"]
mod support;

use kubewiz::exec::{Event, Stamped};
use kubewiz::tui::app::Effect;
use kubewiz::tui::prepare::Prepared;
use kubewiz::tui::work::{Done, Jobs};
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use support::Harness;

#[test]
fn a_panic_while_generating_ends_the_wait_with_a_readable_error() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Review");
    // Next on Review queues the generation; the harness would run it inline, so the
    // key goes to the app directly and the job is run below instead.
    h.app
        .handle_key(KeyEvent::new(KeyCode::Char('n'), KeyModifiers::NONE));
    assert!(h.app.preparing());
    assert!(matches!(h.app.take_effects()[..], [Effect::Prepare { .. }]));
    assert!(h.screen().contains("Generating the PKI"), "{}", h.screen());

    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let done = runtime.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        Jobs::new(tx).blocking(
            || -> Result<Prepared, String> { panic!("deliberate panic while generating") },
            |result| Done::Prepared(Box::new(result)),
        );
        rx.recv().await.expect("the job reports back")
    });
    done.apply(&mut h.app);

    assert!(!h.app.preparing());
    let screen = h.screen();
    assert!(!screen.contains("Generating the PKI"), "{screen}");
    assert!(screen.contains("Nothing was generated"), "{screen}");
    assert!(
        dialog(&screen).contains("internal error (deliberate panic while generating)"),
        "{screen}"
    );
    assert!(screen.contains("6/9 Review"), "{screen}");
    // The message closes like any other, and Next tries again.
    h.press(KeyCode::Esc);
    assert!(!h.screen().contains("Nothing was generated"));
    h.press(KeyCode::Char('n'));
    assert!(h.screen().contains("7/9 Preview"), "{}", h.screen());
}

#[test]
fn an_engine_that_breaks_mid_run_shows_the_install_failed_and_why() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Preview");
    h.press(KeyCode::Char('n'));
    assert_eq!(h.take_effects(), vec![Effect::Run { dry_run: true }]);
    h.app.engine_events(&[Stamped {
        at: "2026-01-01T00:00:00Z".into(),
        event: Event::RunStarted {
            run_id: "r".into(),
            cluster: "kvm-lab".into(),
            dry_run: true,
            phases: vec!["connect".into()],
            hosts: vec![("kubemaster-1".into(), vec!["control-plane".into()])],
            steps: 2,
        },
    }]);
    assert!(h.app.execute.running());

    // The engine's task panics: its events end without RunFinished, and the loop
    // hands what the task's watcher found to the app.
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let done = runtime.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        Jobs::new(tx).spawn(broken_engine(), Done::RunEnded);
        rx.recv().await.expect("the job reports back")
    });
    done.apply(&mut h.app);

    assert!(!h.app.execute.running());
    let screen = h.screen();
    let text = dialog(&screen);
    assert!(text.contains("The install stopped"), "{screen}");
    assert!(text.contains("deliberate panic in the engine"), "{screen}");
    h.press(KeyCode::Esc);
    assert!(h.screen().contains("install FAILED"), "{}", h.screen());
}

/// Stands for the engine's task when it panics.
async fn broken_engine() -> Result<kubewiz::tui::flow::RunEnd, String> {
    panic!("deliberate panic in the engine")
}

/// The text of the message dialog over the screen, its wrapped lines joined by spaces.
fn dialog(screen: &str) -> String {
    let lines: Vec<Vec<char>> = screen.lines().map(|l| l.chars().collect()).collect();
    let top = lines
        .iter()
        .position(|l| l.iter().collect::<String>().contains("┌ kubewiz "))
        .unwrap_or_else(|| panic!("no message dialog:\n{screen}"));
    let left = lines[top].iter().position(|c| *c == '┌').unwrap_or(0);
    let right = lines[top].iter().rposition(|c| *c == '┐').unwrap_or(0);
    lines[top + 1..]
        .iter()
        .take_while(|l| l.get(left) != Some(&'└'))
        .map(|l| {
            let inner = l.get(left + 1..right.min(l.len())).unwrap_or_default();
            inner.iter().collect::<String>().trim().to_owned()
        })
        .collect::<Vec<_>>()
        .join(" ")
}
