//! Snapshots of every screen on the built-in default spec, at 80×24 (the serial
//! console) and 120×40, reached with the keys an operator would press.

#[path = "tui_support.rs"]
mod support;

use kubewiz::exec::{Event, RunOutcome, StepOutcome, Stream};
use kubewiz::tui::flow::RunEnd;
use ratatui::crossterm::event::KeyCode;
use support::{Harness, filters};

fn snap(name: &str, h: &mut Harness) {
    let screen = h.screen();
    insta::with_settings!({ filters => filters() }, {
        insta::assert_snapshot!(name, screen);
    });
}

fn sizes() -> [(u16, u16, &'static str); 2] {
    [(80, 24, "80x24"), (120, 40, "120x40")]
}

#[test]
fn start() {
    for (w, ht, size) in sizes() {
        let mut h = Harness::new(w, ht);
        snap(&format!("start_{size}"), &mut h);
    }
}

#[test]
fn wizard_screens() {
    for (w, ht, size) in sizes() {
        for title in [
            "Topology", "Hosts", "Network", "Options", "Review", "Preview",
        ] {
            let mut h = Harness::new(w, ht);
            h.walk_to(title);
            snap(&format!("{}_{size}", title.to_lowercase()), &mut h);
        }
    }
}

#[test]
fn preview_plan_tab_and_viewer() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Preview");
    h.press(KeyCode::Tab);
    h.press(KeyCode::Down);
    snap("preview_viewer_80x24", &mut h);
    h.press(KeyCode::Char('t'));
    snap("preview_plan_80x24", &mut h);
}

#[test]
fn help_overlay() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Hosts");
    h.press(KeyCode::Char('?'));
    snap("help_hosts_80x24", &mut h);
}

#[test]
fn too_small() {
    let mut h = Harness::new(60, 20);
    snap("too_small", &mut h);
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
        },
    ];
    for (host, _) in &hosts {
        events.push(Event::StepStarted {
            phase: "connect".into(),
            host: host.clone(),
            step: format!("connect/{host}/ssh"),
            title: "open the SSH connection".into(),
            command: None,
        });
        events.push(Event::StepOutput {
            host: host.clone(),
            step: format!("connect/{host}/ssh"),
            stream: Stream::Stdout,
            line: format!("connected to {host}"),
        });
        events.push(Event::StepFinished {
            host: host.clone(),
            step: format!("connect/{host}/ssh"),
            outcome: StepOutcome::Done,
            duration_ms: 120,
        });
    }
    events
}

fn stamp(events: Vec<Event>) -> Vec<kubewiz::exec::Stamped> {
    events
        .into_iter()
        .map(|event| kubewiz::exec::Stamped {
            at: "2026-01-01T00:00:00Z".into(),
            event,
        })
        .collect()
}

#[test]
fn execute_running_grid() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Preview");
    h.press(KeyCode::Char('n'));
    h.app.take_effects();
    h.app.engine_events(&stamp(run_events()));
    snap("execute_running_80x24", &mut h);
}

#[test]
fn execute_failure_stays_on_screen() {
    for (w, ht, size) in sizes() {
        let mut h = Harness::new(w, ht);
        h.walk_to("Preview");
        h.press(KeyCode::Char('n'));
        let mut events = run_events();
        events.push(Event::HostFailed {
            host: "kubenode-2".into(),
            phase: "connect".into(),
            step: "connect/kubenode-2/facts".into(),
            command: Some("cat /etc/os-release".into()),
            exit_code: Some(1),
            message: "the command exited with 1".into(),
            output_tail: vec!["cat: /etc/os-release: No such file or directory".into()],
            journal_tail: vec!["kubelet[812]: failed to load kubelet config".into()],
        });
        events.push(Event::PhaseFinished {
            phase: "connect".into(),
            failed_hosts: vec!["kubenode-2".into()],
        });
        events.push(Event::RunFinished {
            outcome: RunOutcome::Failed,
            log_path: Some("/var/lib/kubewiz/kvm-lab/logs/20260101T000000Z.log".into()),
        });
        h.app.engine_events(&stamp(events));
        snap(&format!("execute_failed_{size}"), &mut h);
    }
}

/// A dry run started from Preview whose events have all come, the last one saying it
/// succeeded.
fn dry_run_succeeded() -> Harness {
    let mut h = Harness::new(80, 24);
    h.walk_to("Preview");
    h.press(KeyCode::Char('n'));
    let mut events = run_events();
    events.push(Event::RunFinished {
        outcome: RunOutcome::Succeeded,
        log_path: Some("/var/lib/kubewiz/kvm-lab/logs/20260101T000000Z.log".into()),
    });
    h.app.engine_events(&stamp(events));
    h
}

#[test]
fn done_after_dry_run() {
    let mut h = dry_run_succeeded();
    snap("execute_succeeded_80x24", &mut h);
    h.press(KeyCode::Char('n'));
    assert!(
        h.screen()
            .contains("head sha256: (being read from the log)"),
        "{}",
        h.screen()
    );
    // The engine stopped and the head of its closed audit log was read.
    h.app.run_ended(Ok(RunEnd {
        head: Some(HEAD.into()),
        syslog_problem: None,
    }));
    snap("done_80x24", &mut h);
}

/// A head of an audit log's chain, as a run closes it.
const HEAD: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

#[test]
fn done_shows_what_the_system_log_did_not_get() {
    let mut h = dry_run_succeeded();
    h.app.run_ended(Ok(RunEnd {
        head: Some(HEAD.into()),
        syslog_problem: Some("cannot run logger (No such file or directory)".into()),
    }));
    let screen = h.screen();
    assert!(screen.contains("cannot run logger"), "{screen}");
    h.press(KeyCode::Esc);
    h.press(KeyCode::Char('n'));
    assert!(
        h.screen().contains(&format!("head sha256: {HEAD}")),
        "{}",
        h.screen()
    );
}

#[test]
fn hosts_with_an_error_and_next_refused() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Hosts");
    h.press(KeyCode::Right);
    h.press(KeyCode::Enter);
    h.erase(20);
    h.type_text("192.168.122.300");
    snap("hosts_editing_error_80x24", &mut h);
    h.press(KeyCode::Enter);
    h.press(KeyCode::Char('n'));
    snap("hosts_next_refused_80x24", &mut h);
}

#[test]
fn hosts_bulk_add_dialog() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Hosts");
    for _ in 0..7 {
        h.press(KeyCode::Down);
    }
    h.press(KeyCode::Char('b'));
    snap("hosts_bulk_80x24", &mut h);
}

#[test]
fn hosts_import_from_libvirt() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Hosts");
    h.press(KeyCode::Char('i'));
    h.app.tick();
    h.app.tick();
    h.app.tick();
    snap("hosts_import_waiting_80x24", &mut h);
    assert!(h.finish_import());
    snap("hosts_import_report_80x24", &mut h);
    h.press(KeyCode::Esc);
    snap("hosts_imported_80x24", &mut h);
}

#[test]
fn network_with_overlapping_ranges() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Network");
    h.press(KeyCode::Enter);
    h.erase(30);
    h.type_text("10.96.0.0/16");
    h.press(KeyCode::Enter);
    snap("network_overlap_80x24", &mut h);
}

#[test]
fn execute_many_hosts_table_and_pane() {
    let mut h = Harness::new(120, 40);
    h.walk_to("Preview");
    h.press(KeyCode::Char('n'));
    let names: Vec<String> = h
        .app
        .spec
        .hosts
        .iter()
        .map(|x| x.name.to_string())
        .collect();
    let mut events = vec![Event::RunStarted {
        run_id: "r".into(),
        cluster: "kvm-lab".into(),
        dry_run: true,
        phases: vec!["connect".into(), "preflight".into()],
        hosts: h
            .app
            .spec
            .hosts
            .iter()
            .map(|x| {
                (
                    x.name.to_string(),
                    x.roles.iter().map(|r| r.to_string()).collect(),
                )
            })
            .collect(),
        steps: 26,
    }];
    events.push(Event::PhaseStarted {
        phase: "connect".into(),
        title: "Connect and gather facts".into(),
        hosts: names.clone(),
    });
    for n in &names {
        events.push(Event::StepStarted {
            phase: "connect".into(),
            host: n.clone(),
            step: format!("connect/{n}/facts"),
            title: "gather facts".into(),
            command: Some("cat /etc/os-release".into()),
        });
        events.push(Event::StepOutput {
            host: n.clone(),
            step: format!("connect/{n}/facts"),
            stream: Stream::Stdout,
            line: "ID=debian".into(),
        });
    }
    h.app.engine_events(&stamp(events));
    snap("execute_many_120x40", &mut h);
}
