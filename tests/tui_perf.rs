//! The execute screen with 100 hosts streaming output: one frame stays cheap, memory
//! per host is bounded, and an idle wizard asks for no redraw.

#[path = "tui_support.rs"]
mod support;

use std::time::Instant;

use kubewiz::exec::{Event, Stamped, Stream};
use kubewiz::tui::screens::execute::{Execute, LOG_CAP};
use ratatui::crossterm::event::KeyCode;
use support::Harness;

fn stamped(event: Event) -> Stamped {
    Stamped {
        at: "2026-01-01T00:00:00Z".into(),
        event,
    }
}

fn hundred_hosts() -> Vec<Stamped> {
    let hosts: Vec<(String, Vec<String>)> = (1..=100)
        .map(|i| (format!("kubenode-{i}"), vec!["worker".to_owned()]))
        .collect();
    let mut events = vec![stamped(Event::RunStarted {
        run_id: "perf".into(),
        cluster: "big".into(),
        dry_run: true,
        phases: vec!["prepare".into()],
        hosts: hosts.clone(),
        steps: 2000,
    })];
    for (h, _) in &hosts {
        events.push(stamped(Event::StepStarted {
            phase: "prepare".into(),
            host: h.clone(),
            step: "s".into(),
            title: "install packages".into(),
            command: Some("apt-get install -y kubelet".into()),
        }));
        for n in 0..(LOG_CAP + 500) {
            events.push(stamped(Event::StepOutput {
                host: h.clone(),
                step: "s".into(),
                stream: Stream::Stdout,
                line: format!("Unpacking package {n} of many ..."),
            }));
        }
    }
    events
}

#[test]
fn one_frame_with_100_streaming_hosts() {
    let mut h = Harness::new(120, 40);
    h.walk_to("Preview");
    h.press(KeyCode::Char('n'));
    h.app.engine_events(&hundred_hosts());
    assert!(
        h.app.execute.hosts.iter().all(|p| p.log.len() == LOG_CAP),
        "each host keeps at most LOG_CAP lines"
    );
    h.screen(); // warm up
    let frames = 50;
    let start = Instant::now();
    for _ in 0..frames {
        h.screen();
    }
    let per_frame = start.elapsed() / frames;
    println!("one frame, 100 hosts, 120x40: {per_frame:?}");
    // Generous: this also runs unoptimised and on a busy CI machine.
    assert!(per_frame.as_millis() < 100, "{per_frame:?} per frame");
    let screen = h.screen();
    assert!(screen.contains("kubenode-1"), "{screen}");
    assert!(screen.contains("Unpacking package"), "{screen}");
}

#[test]
fn folding_a_burst_of_events_is_cheap() {
    let events = hundred_hosts();
    let mut state = Execute::default();
    let start = Instant::now();
    for e in &events {
        state.update(&e.event);
    }
    println!("{} events folded in {:?}", events.len(), start.elapsed());
    assert_eq!(state.hosts.len(), 100);
}

#[test]
fn idle_wizard_asks_for_no_redraw() {
    let mut h = Harness::new(80, 24);
    assert!(!h.app.tick(), "the start screen does not change with time");
    h.walk_to("Review");
    assert!(!h.app.tick());
    assert!(!h.app.engine_events(&[]));
}
