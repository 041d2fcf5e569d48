//! `kubewiz --ascii`: the wizard drawn with ASCII only, for serial consoles without
//! UTF-8. Snapshots at 80x24 of the screens with the most glyphs (marks, borders,
//! gauges, the edit cursor, arrows in the hints), and a check that no cell of any
//! screen on the way to a finished dry run holds anything but ASCII.
//!
//! Every test here switches the process-wide ASCII setting on; this file is its own
//! test binary so the Unicode snapshots in tui_screens.rs are not affected.

#[path = "tui_support.rs"]
mod support;

use kubewiz::exec::{Event, RunOutcome, Stamped, StepOutcome, Stream};
use kubewiz::tui::theme;
use ratatui::crossterm::event::KeyCode;
use support::{Harness, filters};

fn ascii_harness() -> Harness {
    theme::set_ascii(true);
    Harness::new(80, 24)
}

/// Draws the screen and fails, naming the cell, if any cell is not plain ASCII.
fn assert_ascii(what: &str, h: &mut Harness) -> String {
    let screen = h.screen();
    let buf = h.term.backend().buffer();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            let symbol = buf[(x, y)].symbol();
            assert!(
                symbol.is_ascii() && symbol.chars().count() == 1,
                "{what}: cell ({x},{y}) holds {symbol:?}, not one ASCII character:\n{screen}"
            );
        }
    }
    screen
}

fn snap(name: &str, h: &mut Harness) {
    let screen = assert_ascii(name, h);
    insta::with_settings!({ filters => filters() }, {
        insta::assert_snapshot!(name, screen);
    });
}

fn run_events() -> Vec<Event> {
    let hosts: Vec<(String, Vec<String>)> = vec![
        ("kubemaster-1".into(), vec!["control-plane".into()]),
        ("kubenode-1".into(), vec!["worker".into()]),
        ("kubenode-2".into(), vec!["worker".into()]),
    ];
    let mut events = vec![
        Event::RunStarted {
            run_id: "r1".into(),
            cluster: "kvm-lab".into(),
            dry_run: true,
            phases: vec!["connect".into(), "preflight".into(), "prepare".into()],
            hosts: hosts.clone(),
            steps: 12,
        },
        Event::PhaseStarted {
            phase: "connect".into(),
            title: "Connect and gather facts".into(),
            hosts: hosts.iter().map(|h| h.0.clone()).collect(),
            one_at_a_time: false,
            at_once: None,
        },
    ];
    for (i, (host, _)) in hosts.iter().enumerate() {
        events.push(Event::StepStarted {
            phase: "connect".into(),
            host: host.clone(),
            step: format!("connect/{host}/ssh"),
            title: "open the SSH connection".into(),
            command: Some(format!("ssh {host} true")),
        });
        events.push(Event::StepOutput {
            host: host.clone(),
            step: format!("connect/{host}/ssh"),
            stream: Stream::Stdout,
            line: format!("connected to {host}"),
        });
        // One host with a finished step, one with a failed step, one still running.
        match i {
            0 => events.push(Event::StepFinished {
                host: host.clone(),
                step: format!("connect/{host}/ssh"),
                outcome: StepOutcome::Done,
                duration_ms: 120,
            }),
            1 => events.push(Event::StepFinished {
                host: host.clone(),
                step: format!("connect/{host}/ssh"),
                outcome: StepOutcome::Failed {
                    exit_code: Some(255),
                    message: "connection refused".into(),
                },
                duration_ms: 80,
            }),
            _ => {}
        }
    }
    events
}

fn stamp(events: Vec<Event>) -> Vec<Stamped> {
    events
        .into_iter()
        .map(|event| Stamped {
            at: "2026-01-01T00:00:00Z".into(),
            event,
        })
        .collect()
}

#[test]
fn topology_in_ascii() {
    let mut h = ascii_harness();
    h.walk_to("Topology");
    snap("ascii_topology_80x24", &mut h);
}

#[test]
fn hosts_with_an_error_in_ascii() {
    let mut h = ascii_harness();
    h.walk_to("Hosts");
    h.press(KeyCode::Right);
    h.press(KeyCode::Enter);
    h.erase(20);
    h.type_text("192.168.122.300");
    snap("ascii_hosts_editing_error_80x24", &mut h);
    h.press(KeyCode::Enter);
    h.press(KeyCode::Char('n'));
    assert_ascii("hosts, Next refused", &mut h);
    h.press(KeyCode::Esc);
    h.press(KeyCode::Char('?'));
    assert_ascii("hosts help", &mut h);
}

#[test]
fn execute_running_in_ascii() {
    let mut h = ascii_harness();
    h.walk_to("Preview");
    h.press(KeyCode::Char('n'));
    h.take_effects();
    h.app.engine_events(&stamp(run_events()));
    let screen = assert_ascii("execute", &mut h);
    for mark in [
        "> running",
        "x failed (exit 255)",
        "+ kubenode-1",
        "|#",
        "---+",
    ] {
        assert!(screen.contains(mark), "no {mark:?} on:\n{screen}");
    }
    snap("ascii_execute_running_80x24", &mut h);
}

/// Every screen on the way to a finished dry run, the help and the preview's tabs.
#[test]
fn every_screen_is_ascii() {
    let mut h = ascii_harness();
    assert_ascii("start", &mut h);
    h.press(KeyCode::Enter);
    for _ in 0..5 {
        let title = h.screen().lines().next().unwrap_or("").to_owned();
        assert_ascii(&title, &mut h);
        h.press(KeyCode::Char('?'));
        assert_ascii(&format!("help on {title}"), &mut h);
        h.press(KeyCode::Esc);
        h.press(KeyCode::Char('n'));
    }
    assert!(h.screen().lines().next().unwrap_or("").contains("Preview"));
    h.press(KeyCode::Tab);
    h.press(KeyCode::Down);
    assert_ascii("preview viewer", &mut h);
    h.press(KeyCode::Char('t'));
    assert_ascii("preview plan", &mut h);
    h.press(KeyCode::Char('t'));
    h.press(KeyCode::Char('n'));
    h.take_effects();
    let mut events = run_events();
    events.push(Event::RunFinished {
        outcome: RunOutcome::Failed,
        log_path: Some("/var/lib/kubewiz/kvm-lab/logs/20260101T000000Z.log".into()),
    });
    h.app.engine_events(&stamp(events));
    assert_ascii("execute, failed", &mut h);
    h.press(KeyCode::Char('n'));
    assert_ascii("after the run", &mut h);
}

#[test]
fn full_screen_file_view_in_ascii() {
    let mut h = ascii_harness();
    h.open_haproxy_full_screen();
    h.press(KeyCode::Char('G'));
    h.press(KeyCode::End);
    let screen = h.screen();
    assert!(
        screen.contains("haproxy-1: /etc/haproxy/haproxy.cfg"),
        "{screen}"
    );
    assert!(screen.contains("fall 3 rise 2"), "{screen}");
    snap("ascii_viewer_haproxy_scrolled_right_80x24", &mut h);
}
