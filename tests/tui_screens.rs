//! Snapshots of every screen on the built-in default spec, at 80×24 (the serial
//! console) and 120×40, reached with the keys an operator would press.

#[path = "tui_support.rs"]
mod support;

use kubewiz::exec::{Event, RunOutcome, StepOutcome, Stream};
use kubewiz::tui::flow::RunEnd;
use kubewiz::tui::screens::execute::HostStatus;
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

/// The manage view of an installed cluster, with what its API said of its nodes. The
/// certificates' expiry dates move with the day the test runs: masked.
#[test]
fn manage() {
    for (w, ht, size) in sizes() {
        let mut h = Harness::new(w, ht);
        h.manage_homelab();
        h.app.node_states(Ok(vec![
            ("kubemaster-1".into(), "Ready v1.34.2".into()),
            ("kubenode-1".into(), "NotReady v1.34.2".into()),
        ]));
        let screen = h.screen();
        let mut masks = filters();
        masks.push((r"\d{4}-\d{2}-\d{2}", "[DATE]"));
        insta::with_settings!({ filters => masks }, {
            insta::assert_snapshot!(format!("manage_{size}"), screen);
        });
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
            one_at_a_time: false,
            at_once: None,
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
        one_at_a_time: false,
        at_once: None,
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

#[test]
fn full_screen_view_of_a_file_wraps_scrolls_and_finds() {
    let mut h = Harness::new(80, 24);
    h.open_haproxy_full_screen();
    assert!(h.hint_bar().contains("w wrap"), "{}", h.hint_bar());
    // The servers are at the end of the file; the longest line's end is off screen
    // until End scrolls there.
    h.press(KeyCode::Char('G'));
    assert!(h.screen().contains("server kubemaster-1"), "{}", h.screen());
    assert!(!h.screen().contains("fall 3 rise 2"), "{}", h.screen());
    h.press(KeyCode::End);
    assert!(h.screen().contains("fall 3 rise 2"), "{}", h.screen());
    snap("viewer_haproxy_scrolled_right_80x24", &mut h);
    h.press(KeyCode::Home);
    h.press(KeyCode::Char('w'));
    snap("viewer_haproxy_wrapped_80x24", &mut h);
    // Search: the first match from the top, then the next one, then around.
    h.press(KeyCode::Char('w'));
    h.press(KeyCode::Char('/'));
    h.type_text("server ");
    h.press(KeyCode::Enter);
    let first = h.screen();
    assert!(first.contains("\"server \" at line"), "{first}");
    h.press(KeyCode::Char('n'));
    let second = h.screen();
    assert!(second.contains("\"server \" at line"), "{second}");
    assert_ne!(first, second, "n moves to the next match");
    h.press(KeyCode::Char('N'));
    assert_eq!(h.screen(), first, "N goes back to the match before");
    // q comes back to the preview, where n installs again.
    h.press(KeyCode::Char('q'));
    assert!(h.hint_bar().contains("n install"), "{}", h.hint_bar());
}

/// The events a dry run of the prepared plan sends, phase by phase, up to (not
/// including) phase `upto`: the KVM host's steps are skipped, as the runner skips them.
fn dry_run_events(plan: &kubewiz::plan::Plan, upto: usize) -> Vec<Event> {
    let mut events = vec![Event::RunStarted {
        run_id: "r".into(),
        cluster: plan.cluster.clone(),
        dry_run: true,
        phases: plan
            .phases
            .iter()
            .map(|p| p.id.name().to_string())
            .collect(),
        hosts: plan
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
        steps: plan.steps().count(),
    }];
    for phase in plan.phases.iter().take(upto) {
        let name = phase.id.name().to_string();
        events.push(Event::PhaseStarted {
            phase: name.clone(),
            title: phase.title.into(),
            hosts: phase.hosts.iter().map(|x| x.host.clone()).collect(),
            one_at_a_time: phase.one_at_a_time,
            at_once: None,
        });
        for host in &phase.hosts {
            for step in &host.steps {
                events.push(Event::StepStarted {
                    phase: name.clone(),
                    host: host.host.clone(),
                    step: step.id.clone(),
                    title: step.title.clone(),
                    command: None,
                });
                let outcome = if host.host == kubewiz::plan::LOCAL {
                    StepOutcome::Skipped {
                        reason: "dry run: nothing would change".into(),
                    }
                } else {
                    StepOutcome::Done
                };
                events.push(Event::StepFinished {
                    host: host.host.clone(),
                    step: step.id.clone(),
                    outcome,
                    duration_ms: 1,
                });
            }
        }
        events.push(Event::PhaseFinished {
            phase: name,
            failed_hosts: Vec::new(),
        });
    }
    events
}

#[test]
fn dry_run_statuses_a_pane_full_screen_and_ctrl_c() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Preview");
    h.press(KeyCode::Char('n'));
    let plan = h.app.prepared.as_ref().unwrap().plan.clone();
    let upto = plan.phases.len() - 1;
    h.app.engine_events(&stamp(dry_run_events(&plan, upto)));
    // Every host whose steps all finished says so while the run goes on; the others
    // wait for their next phase.
    let mut fed: std::collections::HashMap<&str, usize> = Default::default();
    for (_, host, _) in plan.phases.iter().take(upto).flat_map(|p| {
        p.hosts
            .iter()
            .flat_map(move |x| x.steps.iter().map(move |s| (p, x, s)))
    }) {
        *fed.entry(host.host.as_str()).or_default() += 1;
    }
    let mut done = 0;
    for pane in &h.app.execute.hosts {
        let total = plan.steps().filter(|(_, x, _)| x.host == pane.name).count();
        let expected = match (pane.name.as_str(), fed.get(pane.name.as_str())) {
            (kubewiz::plan::LOCAL, _) => HostStatus::Skipped,
            (_, Some(&n)) if n == total => HostStatus::Done,
            _ => HostStatus::Waiting,
        };
        assert_eq!(pane.status, expected, "{}", pane.name);
        done += usize::from(expected == HostStatus::Done);
    }
    assert!(done > 0, "some hosts finish before the last phase");
    // The KVM host's row, selected: its pane says what the dry run left out.
    let local = h
        .app
        .execute
        .hosts
        .iter()
        .position(|p| p.name == kubewiz::plan::LOCAL)
        .unwrap();
    for _ in 0..local {
        h.press(KeyCode::Down);
    }
    let screen = h.screen();
    assert!(screen.contains("skipped (dry run)"), "{screen}");
    // z: the pane over the whole screen, every line of it.
    h.press(KeyCode::Char('z'));
    let full = h.screen();
    let title = full.lines().nth(1).unwrap_or("");
    assert!(
        title.contains("local") && title.contains("skipped (dry run)"),
        "{full}"
    );
    assert!(
        full.contains("skipped (dry run): nothing would change"),
        "{full}"
    );
    h.press(KeyCode::Esc);
    h.take_effects();
    // Ctrl-C during the install asks whether to stop it or detach; Esc goes on.
    h.ctrl('c');
    snap("execute_stop_or_detach_80x24", &mut h);
    h.press(KeyCode::Esc);
    assert!(!h.app.quit && !h.app.execute.cancel_requested);
    assert!(!h.screen().contains("detach: leave"), "{}", h.screen());
    // s stops it after its running steps; Ctrl-C then leaves, the run stopping.
    h.ctrl('c');
    h.press(KeyCode::Char('s'));
    assert!(!h.app.quit);
    assert!(h.app.execute.cancel_requested);
    assert!(
        h.take_effects()
            .contains(&kubewiz::tui::app::Effect::Cancel),
        "the engine is told to start nothing new"
    );
    assert!(h.screen().contains("^C again leaves now"), "{}", h.screen());
    h.ctrl('c');
    assert!(h.app.quit);
    let farewell = h
        .app
        .farewell()
        .expect("the operator is told the run goes on");
    assert!(
        farewell.contains("the run of kvm-lab stops after its running steps")
            && farewell.contains("`kubewiz attach kvm-lab`"),
        "{farewell}"
    );
}

#[test]
fn ctrl_c_during_an_install_detaches_and_leaves_it_running() {
    for detach in [
        &[Key::Ctrl, Key::D][..],    // asked, then d
        &[Key::Ctrl, Key::Ctrl][..], // the reflex: Ctrl-C twice
    ] {
        let mut h = Harness::new(80, 24);
        h.walk_to("Preview");
        h.press(KeyCode::Char('n'));
        let plan = h.app.prepared.as_ref().unwrap().plan.clone();
        h.app.engine_events(&stamp(dry_run_events(&plan, 1)));
        h.take_effects();
        for key in detach {
            match key {
                Key::Ctrl => h.ctrl('c'),
                Key::D => h.press(KeyCode::Char('d')),
            }
        }
        assert!(h.app.quit, "{detach:?}");
        assert!(
            h.take_effects().is_empty(),
            "{detach:?}: the run was not told to stop"
        );
        assert!(!h.app.execute.cancel_requested);
        let farewell = h
            .app
            .farewell()
            .expect("the operator is told the run goes on");
        assert!(
            farewell.contains("the run of kvm-lab goes on"),
            "{farewell}"
        );
    }
}

#[derive(Debug, Clone, Copy)]
enum Key {
    Ctrl,
    D,
}

#[test]
fn the_stop_or_detach_question_closes_when_the_run_ends() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Preview");
    h.press(KeyCode::Char('n'));
    let plan = h.app.prepared.as_ref().unwrap().plan.clone();
    h.app.engine_events(&stamp(dry_run_events(&plan, 1)));
    h.ctrl('c');
    assert!(h.screen().contains("d    detach"), "{}", h.screen());
    h.app.engine_events(&stamp(vec![Event::RunFinished {
        outcome: RunOutcome::Succeeded,
        log_path: None,
    }]));
    let screen = h.screen();
    assert!(!screen.contains("d    detach"), "{screen}");
    // Nothing left to stop: d is no longer an answer that leaves.
    h.press(KeyCode::Char('d'));
    assert!(!h.app.quit);
    assert_eq!(h.app.farewell(), None);
}
