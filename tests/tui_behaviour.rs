//! What an operator notices, driven through the same `handle_key` the app uses:
//! validation as you type, Next refused with the reasons, Esc back, honest key hints,
//! building a cluster from the keyboard, saving a preset, the execute screen's log
//! and abort.

#[path = "tui_support.rs"]
mod support;

use kubewiz::exec::{Event, Stamped, StepOutcome, Stream};
use kubewiz::spec::{self, Role, Topology};
use kubewiz::tui::app::{Effect, ScreenId};
use kubewiz::tui::keys;
use kubewiz::tui::templates;
use ratatui::crossterm::event::KeyCode;
use support::Harness;

/// Selects the address cell of the first host and replaces its text.
fn edit_first_address(h: &mut Harness, text: &str) {
    h.press(KeyCode::Right); // name → address
    h.press(KeyCode::Enter);
    h.erase(20);
    h.type_text(text);
}

#[test]
fn invalid_address_is_shown_beside_the_field_and_blocks_next() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Hosts");
    edit_first_address(&mut h, "192.168.122.300");
    let screen = h.screen();
    let row = screen.lines().find(|l| l.contains("kubemaster-1")).unwrap();
    assert!(
        row.contains("✗192.168.122.300") || row.contains("192.168.122.300"),
        "{screen}"
    );
    assert!(
        screen.contains("✗ address: \"192.168.122.300\" is not an IP address"),
        "{screen}"
    );
    h.press(KeyCode::Enter); // keep the text
    h.press(KeyCode::Char('n'));
    assert_eq!(h.app.screen, ScreenId::Hosts, "Next must be refused");
    let screen = h.screen();
    assert!(screen.contains("Cannot go on"), "{screen}");
    assert!(screen.contains("row 1 (kubemaster-1) address"), "{screen}");
    h.press(KeyCode::Esc); // close the message
    assert_eq!(h.app.screen, ScreenId::Hosts);

    // Fixing it clears the error, and Next works.
    h.press(KeyCode::Enter);
    h.erase(20);
    h.type_text("192.168.122.11");
    h.press(KeyCode::Enter);
    let screen = h.screen();
    assert!(!screen.contains('✗'), "{screen}");
    assert!(screen.contains("no problems with these hosts"), "{screen}");
    h.press(KeyCode::Char('n'));
    assert_eq!(h.app.screen, ScreenId::Network);
}

#[test]
fn validator_problems_land_on_the_cells_their_path_names() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Hosts");
    // kubemaster-1 gets kubemaster-2's address: a duplicate the validator reports.
    edit_first_address(&mut h, "192.168.122.12");
    h.press(KeyCode::Enter);
    let screen = h.screen();
    // The validator names the second holder of the address: its cell is marked, and
    // the selected row's notes point at it.
    let second = screen.lines().find(|l| l.contains("kubemaster-2")).unwrap();
    assert!(second.contains("✗192.168.122.12"), "{screen}");
    assert!(
        screen.contains("1 other row(s) marked ✗ have errors"),
        "{screen}"
    );
    h.press(KeyCode::Down);
    let screen = h.screen();
    assert!(
        screen.contains("✗ address:") && screen.contains("kubemaster-1"),
        "{screen}"
    );
    h.press(KeyCode::Char('n'));
    assert_eq!(h.app.screen, ScreenId::Hosts);
    assert!(h.screen().contains("hosts["), "{}", h.screen());
}

#[test]
fn pod_range_inside_the_service_range_shows_on_network() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Network");
    h.press(KeyCode::Enter); // pod CIDR
    h.erase(30);
    h.type_text("10.96.0.0/16");
    h.press(KeyCode::Enter);
    let screen = h.screen();
    let pod_row = screen
        .lines()
        .find(|l| l.contains("pod CIDR") && l.contains("10.96.0.0/16"))
        .unwrap();
    assert!(pod_row.contains('✗'), "{screen}");
    assert!(screen.contains("lies inside"), "{screen}");
    h.press(KeyCode::Char('n'));
    assert_eq!(h.app.screen, ScreenId::Network);
    assert!(h.screen().contains("kubernetes.pod_cidr"), "{}", h.screen());
}

#[test]
fn typed_text_that_does_not_parse_never_reaches_the_spec() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Network");
    let before = h.app.spec.kubernetes.service_cidr;
    h.press(KeyCode::Down);
    h.press(KeyCode::Enter);
    h.erase(30);
    h.type_text("10.96.0.0/33");
    assert!(
        h.screen().contains("✗ invalid IP address syntax") || h.screen().contains('✗'),
        "{}",
        h.screen()
    );
    h.press(KeyCode::Enter);
    h.press(KeyCode::Char('n'));
    assert_eq!(
        h.app.screen,
        ScreenId::Network,
        "Next refused while a field does not parse"
    );
    h.press(KeyCode::Esc); // close the message
    // Editing again and pressing Esc restores the text from before that edit.
    h.press(KeyCode::Enter);
    h.erase(30);
    h.type_text("10.96.0.0/12");
    h.press(KeyCode::Enter);
    assert_eq!(h.app.spec.kubernetes.service_cidr, before);
    h.press(KeyCode::Enter);
    h.type_text("x");
    assert!(h.screen().contains('✗'));
    h.press(KeyCode::Esc);
    let screen = h.screen();
    assert!(!screen.contains('✗'), "{screen}");
    assert_eq!(h.app.spec.kubernetes.service_cidr, before);
    assert_eq!(h.app.screen, ScreenId::Network);
}

#[test]
fn esc_goes_back_one_screen_everywhere() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Preview");
    let order = [
        ScreenId::Review,
        ScreenId::Options,
        ScreenId::Network,
        ScreenId::Hosts,
        ScreenId::Topology,
        ScreenId::Start,
    ];
    for expected in order {
        h.press(KeyCode::Esc);
        assert_eq!(h.app.screen, expected);
    }
    // On the start screen Esc asks before leaving.
    h.press(KeyCode::Esc);
    assert!(h.screen().contains("Quit kubewiz?"));
    h.press(KeyCode::Char('n'));
    assert!(!h.app.quit);
    h.press(KeyCode::Esc);
    h.press(KeyCode::Char('y'));
    assert!(h.app.quit);
}

/// The hint bar as the bindings say it should read.
fn expected_hints(h: &Harness) -> String {
    keys::hints(&h.app.bindings())
        .into_iter()
        .map(|(k, label)| format!("{k} {label}"))
        .collect::<Vec<_>>()
        .join("  ")
}

/// No key is bound twice on a screen: the second binding could never fire.
fn no_key_twice(h: &Harness) {
    let bindings = h.app.bindings();
    let mut seen = Vec::new();
    for b in &bindings {
        for k in b.keys {
            assert!(
                !seen.contains(k),
                "{k:?} is bound twice on {:?}",
                h.app.screen
            );
            seen.push(*k);
        }
    }
}

#[test]
fn hint_bar_lists_exactly_the_focused_bindings() {
    let mut h = Harness::new(80, 24);
    let mut seen = 0;
    let check = |h: &mut Harness| {
        no_key_twice(h);
        let bar = h.hint_bar();
        assert_eq!(
            bar.trim(),
            expected_hints(h),
            "hint bar on {:?}",
            h.app.screen
        );
        // And every key it names does something there.
        for b in h.app.bindings().iter().filter(|b| b.hint) {
            assert!(bar.contains(b.label), "{} missing from {bar}", b.label);
        }
    };
    check(&mut h);
    h.press(KeyCode::Enter);
    for _ in 0..5 {
        check(&mut h);
        seen += 1;
        h.press(KeyCode::Char('n'));
    }
    check(&mut h);
    assert_eq!(h.app.screen, ScreenId::Preview);
    assert!(h.hint_bar().contains("dry run"));
    // Modes change the table: editing a field shows only its keys.
    h.press(KeyCode::Esc);
    h.press(KeyCode::Esc);
    h.press(KeyCode::Enter);
    check(&mut h);
    assert!(h.hint_bar().contains("Enter keep"), "{}", h.hint_bar());
    assert!(!h.hint_bar().contains("n next"));
    assert_eq!(seen, 5);
}

#[test]
fn question_mark_opens_help_but_types_inside_a_field() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Options");
    h.press(KeyCode::Char('?'));
    assert!(h.screen().contains("Help (Esc closes)"));
    h.press(KeyCode::Esc);
    assert!(!h.screen().contains("Help (Esc closes)"));
    assert_eq!(
        h.app.screen,
        ScreenId::Options,
        "Esc closes the help, not the screen"
    );
    h.press(KeyCode::Enter);
    h.type_text("?");
    assert!(!h.screen().contains("Help (Esc closes)"));
    assert!(h.screen().contains("kvm-lab?"), "{}", h.screen());
}

#[test]
fn stacked_ha_from_the_keyboard() {
    let mut h = Harness::new(80, 24);
    h.press(KeyCode::Enter); // new cluster
    h.press(KeyCode::Up); // external-etcd → stacked-ha
    h.press(KeyCode::Enter);
    assert_eq!(h.app.screen, ScreenId::Hosts);
    assert_eq!(h.app.spec, templates::for_topology(Topology::StackedHa));
    // Select the last host and bulk-add three more workers after it.
    for _ in 0..10 {
        h.press(KeyCode::Down);
    }
    h.press(KeyCode::Char('b'));
    assert!(h.screen().contains("Add several hosts"));
    h.erase(30);
    h.type_text("kubenode-{3..5}");
    h.press(KeyCode::Tab);
    h.erase(30);
    h.type_text("192.168.122.23");
    h.press(KeyCode::Enter);
    let workers: Vec<_> = h
        .app
        .spec
        .hosts_with(Role::Worker)
        .map(|w| w.name.to_string())
        .collect();
    assert_eq!(
        workers,
        [
            "kubenode-1",
            "kubenode-2",
            "kubenode-3",
            "kubenode-4",
            "kubenode-5"
        ]
    );
    assert_eq!(
        h.app.spec.hosts.last().unwrap().address.to_string(),
        "192.168.122.25"
    );
    // Walk on to the preview: the spec is valid all the way.
    for _ in 0..4 {
        h.press(KeyCode::Char('n'));
    }
    let screen = h.screen();
    assert_eq!(h.app.screen, ScreenId::Preview, "{screen}");
    assert_eq!(h.app.spec.topology, Topology::StackedHa);
    assert!(
        spec::validate::validate(&h.app.spec)
            .iter()
            .all(|d| !d.is_error())
    );
}

#[test]
fn add_duplicate_remove() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Hosts");
    let n = h.app.spec.hosts.len();
    h.press(KeyCode::Char('d'));
    assert_eq!(h.app.spec.hosts.len(), n + 1);
    let copy = &h.app.spec.hosts[1];
    assert_eq!(copy.roles, [Role::ControlPlane]);
    assert_ne!(copy.name.as_str(), "kubemaster-1");
    h.press(KeyCode::Char('x'));
    assert_eq!(h.app.spec.hosts.len(), n);
    h.press(KeyCode::Char('a'));
    assert_eq!(h.app.spec.hosts.len(), n + 1);
}

#[test]
fn options_cycle_through_known_mirrors() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Options");
    for _ in 0..3 {
        h.press(KeyCode::Down);
    }
    assert!(h.hint_bar().contains("c next choice"));
    h.press(KeyCode::Char('c'));
    assert_eq!(
        h.app.spec.kubernetes.image_repository.as_str(),
        "registry.aliyuncs.com/google_containers"
    );
}

#[test]
fn options_switch_the_system_log_on_and_the_saved_preset_keeps_it() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Options");
    for _ in 0..15 {
        h.press(KeyCode::Down);
    }
    assert!(
        h.screen().contains(">  system log        no"),
        "{}",
        h.screen()
    );
    h.press(KeyCode::Char('c'));
    assert!(h.app.spec.audit.syslog);
    assert!(h.screen().contains("each run's start and head too"));
    let saved = spec::to_toml(&h.app.spec);
    assert!(saved.contains("[audit]\nsyslog = true"), "{saved}");
    h.press(KeyCode::Char('c'));
    assert!(!h.app.spec.audit.syslog);
    assert!(!spec::to_toml(&h.app.spec).contains("[audit]"));
}

#[test]
fn save_preset_writes_a_preset_that_loads_back() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Review");
    let path = h.dir.path().join("saved.toml");
    h.press(KeyCode::Char('s'));
    h.erase(200);
    h.type_text(path.to_str().unwrap());
    h.press(KeyCode::Enter);
    assert!(h.screen().contains("saved the preset"), "{}", h.screen());
    let loaded = spec::load_file(&path).unwrap();
    assert_eq!(loaded.spec, h.app.spec);
}

fn stamped(event: Event) -> Stamped {
    Stamped {
        at: "2026-01-01T00:00:00Z".into(),
        event,
    }
}

fn start_run(h: &mut Harness) {
    h.walk_to("Preview");
    h.press(KeyCode::Char('n'));
    assert_eq!(h.take_effects(), vec![Effect::Run { dry_run: true }]);
    h.app.engine_events(&[
        stamped(Event::RunStarted {
            run_id: "r".into(),
            cluster: "kvm-lab".into(),
            dry_run: true,
            phases: vec!["connect".into()],
            hosts: vec![("kubemaster-1".into(), vec!["control-plane".into()])],
            steps: 2,
        }),
        stamped(Event::StepStarted {
            phase: "connect".into(),
            host: "kubemaster-1".into(),
            step: "s".into(),
            title: "gather facts".into(),
            command: Some("uname -a".into()),
        }),
    ]);
}

fn output(n: usize) -> Vec<Stamped> {
    (0..n)
        .map(|i| {
            stamped(Event::StepOutput {
                host: "kubemaster-1".into(),
                step: "s".into(),
                stream: Stream::Stdout,
                line: format!("line {i:04}"),
            })
        })
        .collect()
}

#[test]
fn full_log_follows_only_at_the_bottom() {
    let mut h = Harness::new(80, 24);
    start_run(&mut h);
    h.app.engine_events(&output(100));
    h.press(KeyCode::Char('l'));
    assert!(h.screen().contains("line 0099"), "{}", h.screen());
    h.app.engine_events(&output(101)[100..]);
    assert!(
        h.screen().contains("line 0100"),
        "following shows new lines"
    );
    h.press(KeyCode::Up);
    h.press(KeyCode::Up);
    let scrolled = h.screen();
    assert!(!scrolled.contains("line 0100"), "{scrolled}");
    h.app.engine_events(&output(110)[101..]);
    let body = |s: &str| s.lines().skip(4).take(18).collect::<Vec<_>>().join("\n");
    assert_eq!(
        body(&h.screen()),
        body(&scrolled),
        "a scrolled-up log stays where it is"
    );
    h.press(KeyCode::End);
    assert!(h.screen().contains("line 0109"));
}

#[test]
fn abort_asks_first() {
    let mut h = Harness::new(80, 24);
    start_run(&mut h);
    h.press(KeyCode::Char('a'));
    assert!(h.screen().contains("Stop the install?"));
    h.press(KeyCode::Char('n'));
    assert!(h.take_effects().is_empty());
    h.press(KeyCode::Esc);
    assert!(
        h.screen().contains("Stop the install?"),
        "Esc while running asks too"
    );
    h.press(KeyCode::Char('y'));
    assert_eq!(h.take_effects(), vec![Effect::Cancel]);
    assert_eq!(h.app.screen, ScreenId::Execute);
}

#[test]
fn failure_offers_a_rerun() {
    let mut h = Harness::new(80, 24);
    start_run(&mut h);
    h.app.engine_events(&[
        stamped(Event::StepFinished {
            host: "kubemaster-1".into(),
            step: "s".into(),
            outcome: StepOutcome::Failed {
                exit_code: Some(2),
                message: "boom".into(),
            },
            duration_ms: 5,
        }),
        stamped(Event::HostFailed {
            host: "kubemaster-1".into(),
            phase: "connect".into(),
            step: "s".into(),
            command: Some("uname -a".into()),
            exit_code: Some(2),
            message: "boom".into(),
            output_tail: vec!["bad things".into()],
            journal_tail: vec![],
        }),
        stamped(Event::RunFinished {
            outcome: kubewiz::exec::RunOutcome::Failed,
            log_path: Some("/x/logs/run.log".into()),
        }),
    ]);
    let screen = h.screen();
    for expected in [
        "kubemaster-1 failed",
        "uname -a",
        "exit code: 2",
        "bad things",
        "/x/logs/run.log",
    ] {
        assert!(screen.contains(expected), "{expected}: {screen}");
    }
    // A key press elsewhere does not hide it.
    h.press(KeyCode::Down);
    assert!(h.screen().contains("kubemaster-1 failed"));
    h.press(KeyCode::Char('r'));
    assert_eq!(h.take_effects(), vec![Effect::Run { dry_run: true }]);
}

#[test]
fn prefilled_preset_opens_on_review() {
    let dir = tempfile::tempdir().unwrap();
    let preset = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("presets/single-node.toml");
    let app = kubewiz::tui::initial_app(Some(&preset), dir.path().to_path_buf());
    assert_eq!(app.screen, ScreenId::Review);
    assert_eq!(app.spec.topology, Topology::SingleNode);
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "name = \"x\"\ntopology = \"mesh\"\n").unwrap();
    let app = kubewiz::tui::initial_app(Some(&bad), dir.path().to_path_buf());
    assert_eq!(app.screen, ScreenId::Start);
}

#[test]
fn preview_search_jumps_to_the_match() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Preview");
    h.press(KeyCode::Char('t')); // the plan
    h.press(KeyCode::Char('/'));
    assert!(h.hint_bar().contains("Enter find next"), "{}", h.hint_bar());
    h.type_text("kubeadm init");
    h.press(KeyCode::Enter);
    let screen = h.screen();
    assert!(screen.contains("\"kubeadm init\" at line"), "{screen}");
    // The view jumps there: the title's line is the match's line.
    let at = screen.split("\"kubeadm init\" at line ").nth(1).unwrap();
    let n: usize = at.split_whitespace().next().unwrap().parse().unwrap();
    assert!(screen.contains(&format!("plan · line {n}/")), "{screen}");
    assert!(n > 1);
    h.press(KeyCode::Esc);
    h.press(KeyCode::Char('/'));
    h.erase(20);
    h.type_text("no such text anywhere");
    h.press(KeyCode::Enter);
    assert!(h.screen().contains("not found"));
}

#[test]
fn dry_run_switch_is_shown_and_a_real_install_asks_first() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Preview");
    assert!(h.screen().contains("dry run: ON"));
    h.press(KeyCode::Char('d'));
    assert!(h.screen().contains("dry run: OFF"));
    // A real install asks first, naming what it changes on the KVM host's libvirt
    // network too; "n" keeps everything as it was.
    h.press(KeyCode::Char('n'));
    let screen = h.screen();
    assert!(screen.contains("changing them."), "{screen}");
    assert!(
        screen.contains("On the KVM host it will also make 18 change(s) to libvirt"),
        "{screen}"
    );
    assert!(
        screen.contains("reserve 192.168.122.11 for kubemaster-1 (52:54:00:00:00:11)"),
        "{screen}"
    );
    assert!(
        screen.contains("and 12 more: the plan tab (t) lists each command"),
        "{screen}"
    );
    assert!(screen.contains("Go on? (y/n)"), "{screen}");
    h.press(KeyCode::Char('n'));
    assert!(h.take_effects().is_empty());
    assert_eq!(h.app.screen, ScreenId::Preview);
    h.press(KeyCode::Char('n'));
    h.press(KeyCode::Char('y'));
    assert_eq!(h.take_effects(), vec![Effect::Run { dry_run: false }]);
    assert_eq!(h.app.screen, ScreenId::Execute);
}

#[test]
fn unknown_host_keys_are_shown_to_compare_and_trust() {
    let mut h = Harness::new(80, 24);
    start_run(&mut h);
    let fingerprint = "SHA256:q2nC0Vf6vZ3r0m0Fv1q9Wq0mJ8s5cX0uV4a9Yb7k1ZQ";
    let message = kubewiz::exec::TransportError::UnknownHostKey {
        fingerprint: fingerprint.into(),
    }
    .to_string();
    h.app.engine_events(&[
        stamped(Event::HostFailed {
            host: "kubemaster-1".into(),
            phase: "connect".into(),
            step: "connect/kubemaster-1/ssh".into(),
            command: None,
            exit_code: None,
            message,
            output_tail: vec![],
            journal_tail: vec![],
        }),
        stamped(Event::RunFinished {
            outcome: kubewiz::exec::RunOutcome::Failed,
            log_path: None,
        }),
    ]);
    assert!(
        h.hint_bar().contains("t trust host keys"),
        "{}",
        h.hint_bar()
    );
    no_key_twice(&h);
    h.press(KeyCode::Char('t'));
    let screen = h.screen();
    assert!(screen.contains("Unknown host keys"), "{screen}");
    assert!(
        screen.contains(&format!("kubemaster-1  {fingerprint}")),
        "{screen}"
    );
    h.press(KeyCode::Char('n'));
    assert!(
        h.take_effects().is_empty(),
        "nothing is trusted without a yes"
    );
    h.press(KeyCode::Char('t'));
    h.press(KeyCode::Char('y'));
    match h.take_effects().as_slice() {
        [Effect::TrustHostKeys { keys, .. }] => {
            assert_eq!(keys, &[("kubemaster-1".to_owned(), fingerprint.to_owned())]);
        }
        other => panic!("{other:?}"),
    }
    // Once recorded, the install runs again.
    h.app.host_keys_recorded(Ok(()));
    h.settle();
    assert_eq!(h.take_effects(), vec![Effect::Run { dry_run: true }]);
}

#[test]
fn a_changed_host_key_is_explained_and_not_offered_for_trust() {
    let mut h = Harness::new(80, 24);
    start_run(&mut h);
    let message = kubewiz::exec::TransportError::ChangedHostKey {
        known: "SHA256:old".into(),
        offered: "SHA256:new".into(),
    }
    .to_string();
    h.app.engine_events(&[stamped(Event::HostFailed {
        host: "kubemaster-1".into(),
        phase: "connect".into(),
        step: "connect/kubemaster-1/ssh".into(),
        command: None,
        exit_code: None,
        message,
        output_tail: vec![],
        journal_tail: vec![],
    })]);
    let screen = h.screen();
    assert!(screen.contains("host key changed"), "{screen}");
    assert!(!h.hint_bar().contains("trust"), "{}", h.hint_bar());
}

#[test]
fn private_files_are_not_shown_on_screen() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Preview");
    let mut saw_private = false;
    for _ in 0..40 {
        h.press(KeyCode::Down);
        let screen = h.screen();
        assert!(!screen.contains("PRIVATE KEY"), "{screen}");
        saw_private |= screen.contains("Private file (mode 0600)");
    }
    assert!(saw_private, "the first host's keys were passed over");
}

#[test]
fn too_small_a_terminal_ignores_keys_but_lets_the_operator_leave() {
    let mut h = Harness::new(60, 20);
    assert!(h.screen().contains("terminal too small (need 80x24"));
    h.press(KeyCode::Enter);
    assert_eq!(
        h.app.screen,
        ScreenId::Start,
        "no key acts on a screen no one can see"
    );
    h.app.resize(80, 24);
    h.press(KeyCode::Enter);
    assert_eq!(h.app.screen, ScreenId::Topology);
    h.app.resize(79, 24);
    h.ctrl('c');
    assert!(h.app.quit);
}

fn host<'a>(h: &'a Harness, name: &str) -> &'a spec::HostSpec {
    h.app
        .spec
        .hosts
        .iter()
        .find(|x| x.name.as_str() == name)
        .unwrap_or_else(|| panic!("no host {name}: {:?}", h.app.spec.hosts))
}

#[test]
fn import_from_libvirt_fills_in_the_hosts_off_the_ui_thread() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Hosts");
    assert!(h.hint_bar().contains("i import"), "{}", h.hint_bar());
    h.press(KeyCode::Char('i'));
    // The import is work for the event loop; the screen shows what it waits for and
    // keeps being drawn, with time passing.
    assert_eq!(
        h.effects,
        vec![Effect::ImportLibvirt {
            uri: h.app.libvirt_uri.clone(),
            network: "default".into(),
        }]
    );
    let screen = h.screen();
    assert!(
        screen.contains("Reading the VMs of libvirt network default"),
        "{screen}"
    );
    assert_eq!(h.hint_bar().trim(), "Esc stop waiting  ? help");
    assert!(h.app.tick() && h.app.tick() && h.app.tick());
    assert!(h.screen().contains("waited 1s"), "{}", h.screen());
    // At most one import at a time.
    h.press(KeyCode::Char('i'));
    assert_eq!(h.effects.len(), 1);

    assert!(h.finish_import());
    // Rows of the same name get the VM's address and keep their roles.
    assert_eq!(
        host(&h, "kubemaster-1").address.to_string(),
        "192.168.122.3"
    );
    assert_eq!(host(&h, "kubemaster-1").roles, [Role::ControlPlane]);
    assert_eq!(host(&h, "kubenode-1").address.to_string(), "192.168.122.23");
    assert_eq!(host(&h, "kubenode-1").roles, [Role::Worker]);
    assert_eq!(h.app.spec.hosts.len(), 13, "no VM of a new name");
    assert!(h.app.hosts_touched);
    // The report names what changed and every VM left out, with why.
    let screen = h.screen();
    for text in [
        "Imported from libvirt",
        "6 VM(s) in libvirt, 2 with an address on network default.",
        "kubemaster-1: address 192.168.122.3 (was 192.168.122.11)",
        "Not imported:",
        "kubemaster-2: shut off; start it and import again once it has",
        "nfs-1: not on this network (it is on network storage)",
        "haproxy-1: running, but no DHCP lease yet for 52:54:00:00:00:31",
    ] {
        assert!(screen.contains(text), "{text} missing:\n{screen}");
    }
    assert!(
        h.hint_bar().contains("r keep only these"),
        "{}",
        h.hint_bar()
    );
    // Closed, the table shows what the validator makes of it: kubenode-1 took the
    // address kubenode-3 has in the preset.
    h.press(KeyCode::Esc);
    let screen = h.screen();
    assert!(!screen.contains("Not imported:"), "{screen}");
    assert!(
        screen
            .lines()
            .any(|l| l.contains("kubenode-3") && l.contains("✗192.168.122.23")),
        "{screen}"
    );
}

#[test]
fn import_keeps_only_the_imported_hosts_when_asked() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Hosts");
    h.press(KeyCode::Char('i'));
    assert!(h.finish_import());
    h.press(KeyCode::Char('r'));
    let hosts: Vec<(String, String, Vec<Role>)> = h
        .app
        .spec
        .hosts
        .iter()
        .map(|x| (x.name.to_string(), x.address.to_string(), x.roles.clone()))
        .collect();
    assert_eq!(
        hosts,
        [
            (
                "kubemaster-1".to_string(),
                "192.168.122.3".to_string(),
                vec![Role::ControlPlane]
            ),
            (
                "kubenode-1".to_string(),
                "192.168.122.23".to_string(),
                vec![Role::Worker]
            ),
        ]
    );
    assert!(!h.screen().contains("Imported from libvirt"));
}

#[test]
fn import_reads_the_spec_s_libvirt_network_and_adds_new_vms_without_roles() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Hosts");
    h.app
        .spec
        .kvm
        .as_mut()
        .expect("the lab has [kvm]")
        .libvirt_network = "storage".into();
    h.press(KeyCode::Char('i'));
    assert_eq!(
        h.effects,
        vec![Effect::ImportLibvirt {
            uri: h.app.libvirt_uri.clone(),
            network: "storage".into(),
        }]
    );
    assert!(h.finish_import());
    let nfs = host(&h, "nfs-1");
    assert!(nfs.roles.is_empty());
    assert!(nfs.address.to_string().starts_with("10.0.5."), "{nfs:?}");
    let screen = h.screen();
    assert!(screen.contains("nfs-1: added with 10.0.5."), "{screen}");
    assert!(screen.contains("give it its roles"), "{screen}");
    // Its missing roles are an error the operator sees and must fix before Next.
    h.press(KeyCode::Esc);
    h.press(KeyCode::Char('n'));
    assert_eq!(h.app.screen, ScreenId::Hosts);
    assert!(h.screen().contains("Cannot go on"), "{}", h.screen());
}

#[test]
fn a_failed_import_says_why_and_changes_nothing() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Hosts");
    let before = h.app.spec.clone();
    h.app.libvirt_uri = "test:///nonexistent/node.xml".into();
    h.press(KeyCode::Char('i'));
    assert!(h.finish_import());
    let screen = h.screen();
    assert!(screen.contains("Import from libvirt failed"), "{screen}");
    assert!(
        screen.contains("Reading libvirt network default on test:///nonexistent/node.xml failed:"),
        "{screen}"
    );
    assert!(screen.contains("The hosts were not changed."), "{screen}");
    assert_eq!(h.app.spec, before);
    assert!(!h.app.hosts_touched);
    h.press(KeyCode::Enter);
    assert!(!h.screen().contains("Import from libvirt failed"));

    // No virsh at all: the import's own message, on screen.
    h.press(KeyCode::Char('i'));
    h.take_effects();
    h.app
        .imported(Err(kubewiz::kvm::KvmError::VirshMissing.to_string()));
    let screen = h.screen();
    assert!(
        screen.contains("virsh is not installed: apt-get install libvirt-clients"),
        "{screen}"
    );
    assert_eq!(h.app.spec, before);
}

#[test]
fn stopping_the_wait_drops_the_import() {
    let mut h = Harness::new(80, 24);
    h.walk_to("Hosts");
    let before = h.app.spec.clone();
    h.press(KeyCode::Char('i'));
    h.press(KeyCode::Esc);
    assert_eq!(
        h.app.screen,
        ScreenId::Hosts,
        "Esc stops waiting, not the screen"
    );
    assert!(!h.screen().contains("Reading the VMs"));
    // The result that arrives later is not used.
    assert!(h.finish_import());
    assert_eq!(h.app.spec, before);
    assert!(!h.screen().contains("Imported from libvirt"));
}

#[test]
fn ctrl_c_answers_the_quit_question_and_twice_leaves_from_anywhere() {
    // Ctrl-C asks; Ctrl-C in the question says yes.
    let mut h = Harness::new(80, 24);
    h.press(KeyCode::Enter);
    h.ctrl('c');
    assert!(!h.app.quit);
    assert!(h.screen().contains("Quit kubewiz?"), "{}", h.screen());
    h.ctrl('c');
    assert!(h.app.quit);
    // With something else over the screen (the help, a field being edited), two
    // Ctrl-C in a row still leave.
    let mut h = Harness::new(80, 24);
    h.walk_to("Hosts");
    h.press(KeyCode::Char('?'));
    assert!(h.screen().contains("Help (Esc closes)"), "{}", h.screen());
    h.ctrl('c');
    h.ctrl('c');
    assert!(h.app.quit, "{}", h.screen());
    let mut h = Harness::new(80, 24);
    h.walk_to("Network");
    h.press(KeyCode::Enter);
    assert!(h.app.bindings().iter().any(|b| b.label == "undo edit"));
    h.ctrl('c');
    h.ctrl('c');
    assert!(h.app.quit, "{}", h.screen());
    // One Ctrl-C, then "no": nothing is lost.
    let mut h = Harness::new(80, 24);
    h.walk_to("Network");
    h.ctrl('c');
    h.press(KeyCode::Char('n'));
    assert!(!h.app.quit);
    assert_eq!(h.app.screen, ScreenId::Network);
}

#[test]
fn the_manage_view_renews_certificates_after_a_preview_and_saves_nothing_before() {
    let mut h = Harness::new(80, 24);
    let (_, cluster) = h.manage_homelab();
    assert_eq!(h.app.screen, ScreenId::Manage);
    h.press(KeyCode::Down);
    h.press(KeyCode::Enter);
    let preview = h.screen();
    assert_eq!(h.app.screen, ScreenId::Preview, "{preview}");
    assert!(preview.contains("Preview"), "{preview}");
    let prepared = h.app.prepared.as_ref().unwrap();
    assert_eq!(
        prepared.operation,
        kubewiz::tui::prepare::Operation::RenewCerts { names: vec![] }
    );
    assert!(
        prepared.notices[0].starts_with("renews ")
            && prepared.notices[0]
                .ends_with(" certificate(s) from the kept CAs, one host at a time"),
        "{:?}",
        prepared.notices
    );
    assert!(
        prepared
            .plan_text
            .contains("certs-control-planes/kubemaster-1/restart:kube-apiserver"),
        "{}",
        prepared.plan_text
    );
    // The preview issued its certificates in memory only: the engine issues and saves
    // its own when the run starts.
    assert!(!cluster.pki_dir().join("renewal").exists());
    // Esc goes back to the manage view.
    h.press(KeyCode::Esc);
    assert_eq!(h.app.screen, ScreenId::Manage);
    h.press(KeyCode::Enter);
    assert_eq!(h.app.screen, ScreenId::Preview);
    // With the dry run off the question says what runs, on which cluster.
    h.press(KeyCode::Char('d'));
    h.press(KeyCode::Char('n'));
    let asked = h.screen();
    assert!(
        asked.contains("this runs the renewal on the hosts of cluster"),
        "{asked}"
    );
    h.press(KeyCode::Char('n'));
    assert_eq!(h.app.screen, ScreenId::Preview);
    h.press(KeyCode::Char('d'));
    h.press(KeyCode::Char('n'));
    assert_eq!(h.take_effects(), vec![Effect::Run { dry_run: true }]);
    assert_eq!(h.app.screen, ScreenId::Execute);
    h.app.engine_events(&[stamped(Event::RunFinished {
        outcome: kubewiz::exec::RunOutcome::Succeeded,
        log_path: None,
    })]);
    let status = h.screen();
    assert!(status.contains("renewal finished"), "{status}");
    h.press(KeyCode::Char('n'));
    let done = h.screen();
    assert_eq!(h.app.screen, ScreenId::Done, "{done}");
    assert!(done.contains("To run the renewal for real"), "{done}");
}

#[test]
fn the_start_screen_names_an_installed_cluster_and_opens_its_choices() {
    let mut h = Harness::new(80, 24);
    // What an install leaves in the state directory: the preset of its last run, the
    // kept PKI, the operator's kubeconfig and the run in the index of runs.
    let (spec, cluster) = h.installed_homelab();
    let run = |kind, dry_run, finished: &str| kubewiz::audit::index::Entry {
        log: "x.jsonl".into(),
        run: "x".into(),
        kind,
        dry_run,
        started: finished.into(),
        finished: finished.into(),
        operator: "root".into(),
        outcome: kubewiz::exec::RunOutcome::Succeeded,
        records: 3,
        head: "0".repeat(64),
    };
    let index = cluster.dir().join(kubewiz::audit::index::FILE);
    kubewiz::audit::index::add(
        &index,
        &run(
            kubewiz::audit::RunKind::Install,
            false,
            "2026-12-01T10:00:00Z",
        ),
    )
    .unwrap();
    // A later dry run is not the cluster's last run.
    kubewiz::audit::index::add(
        &index,
        &run(kubewiz::audit::RunKind::Reset, true, "2026-12-02T10:00:00Z"),
    )
    .unwrap();
    h.app.start = kubewiz::tui::screens::start::Start::new(h.dir.path(), &[]);
    h.app.resize(120, 40);
    h.term
        .resize(ratatui::layout::Rect::new(0, 0, 120, 40))
        .unwrap();
    h.press(KeyCode::Down);
    let screen = h.screen();
    assert!(
        screen.contains("Cluster homelab: installed; manage it"),
        "{screen}"
    );
    let about: String = screen.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        about.contains(
            "Installed: single-master, 4 hosts; last run: install succeeded (2026-12-01); first certificate to expire: "
        ),
        "{screen}"
    );
    assert!(about.contains(" days). Enter opens it:"), "{screen}");
    // Enter opens its manage view, which asks the API for its nodes.
    h.press(KeyCode::Enter);
    assert_eq!(h.app.screen, ScreenId::Manage);
    assert_eq!(
        h.take_effects(),
        vec![Effect::NodeStates {
            state_dir: h.dir.path().to_path_buf(),
            name: "homelab".into()
        }]
    );
    let manage = h.screen();
    for host in &spec.hosts {
        assert!(
            manage.contains(host.name.as_str()) && manage.contains(&host.address.to_string()),
            "{manage}"
        );
    }
    assert!(manage.contains("asking the API..."), "{manage}");
    h.app
        .node_states(Ok(vec![("kubemaster-1".into(), "Ready v1.34.2".into())]));
    let manage = h.screen();
    assert!(manage.contains("Ready v1.34.2"), "{manage}");
    assert!(manage.contains("no node"), "{manage}");
    assert!(manage.contains("first certificate to expire"), "{manage}");
    // Esc goes back to the start; Enter on "Add hosts" opens the cluster's choices.
    h.press(KeyCode::Esc);
    assert_eq!(h.app.screen, ScreenId::Start);
    h.press(KeyCode::Enter);
    assert_eq!(h.app.screen, ScreenId::Manage);
    h.take_effects();
    h.press(KeyCode::Enter);
    assert_eq!(h.app.screen, ScreenId::Topology);
    assert_eq!(h.app.origin, "installed cluster homelab");
    assert_eq!(h.app.spec, spec);

    // A copy of the last worker is a new worker; the install's question names it.
    h.press(KeyCode::Char('n'));
    assert_eq!(h.app.screen, ScreenId::Hosts);
    for _ in 0..spec.hosts.len() {
        h.press(KeyCode::Down);
    }
    h.press(KeyCode::Char('d'));
    let added = h.app.spec.hosts.last().unwrap().clone();
    assert_eq!(h.app.spec.hosts.len(), spec.hosts.len() + 1);
    assert_eq!(added.roles, [Role::Worker]);
    for _ in 0..4 {
        h.press(KeyCode::Char('n'));
    }
    let screen = h.screen();
    assert_eq!(h.app.screen, ScreenId::Preview, "{screen}");
    h.press(KeyCode::Char('d'));
    h.press(KeyCode::Char('n'));
    let asked = h.screen();
    assert!(
        asked.contains(&format!(
            "homelab is installed: this adds {}; the hosts",
            added.name
        )) && asked.contains("are only checked."),
        "{asked}"
    );
}

/// After a removal that changes the other hosts' configuration, Done offers the install
/// run that makes it: `a` reads the cluster's kept preset again and prepares that run,
/// whose plan the preview then shows.
#[test]
fn done_offers_the_install_run_that_follows_a_removal() {
    let mut h = Harness::new(80, 24);
    let (spec, _) = h.manage_homelab();
    assert_eq!(h.app.screen, ScreenId::Manage);
    h.app.done = kubewiz::tui::screens::done::Done {
        outcome: Some(kubewiz::exec::RunOutcome::Succeeded),
        log_path: None,
        head: None,
        dry_run: false,
        operation: kubewiz::tui::prepare::Operation::RemoveNode {
            host: "haproxy-2".into(),
            answers: true,
        },
        follow_up: Some(kubewiz::tui::prepare::FollowUp {
            what: "reloads haproxy and keepalived on the other load balancers".into(),
            operation: kubewiz::tui::prepare::Operation::Install,
        }),
    };
    h.app.screen = ScreenId::Done;
    let done = h.screen();
    assert!(
        done.contains("haproxy-2 is out of cluster homelab."),
        "{done}"
    );
    assert!(
        done.contains("a: the install run of the cluster as it is now"),
        "{done}"
    );
    assert!(h.hint_bar().contains("a install run"), "{}", h.hint_bar());
    h.press(KeyCode::Char('a'));
    let preview = h.screen();
    assert_eq!(h.app.screen, ScreenId::Preview, "{preview}");
    assert_eq!(h.app.spec, spec);
    let prepared = h.app.prepared.as_ref().unwrap();
    assert_eq!(
        prepared.operation,
        kubewiz::tui::prepare::Operation::Install
    );
    assert!(matches!(h.take_effects()[..], [Effect::NodeStates { .. }]));
    // The same Done after a dry run offers nothing: nothing was taken out.
    h.app.done.dry_run = true;
    h.app.screen = ScreenId::Done;
    assert!(!h.screen().contains("a: the install run"));
}

/// The host to take out is chosen on the manage view's host table; Esc leaves the
/// choice without doing anything.
#[test]
fn the_manage_view_asks_which_host_to_remove() {
    let mut h = Harness::new(80, 24);
    h.manage_homelab();
    h.press(KeyCode::Down);
    h.press(KeyCode::Down);
    h.press(KeyCode::Enter);
    let asked = h.screen();
    assert!(asked.contains("Which host goes?"), "{asked}");
    assert!(h.hint_bar().contains("Esc cancel"), "{}", h.hint_bar());
    h.press(KeyCode::Esc);
    assert_eq!(h.app.screen, ScreenId::Manage);
    assert!(!h.screen().contains("Which host goes?"));
    assert!(h.take_effects().is_empty());
}

/// Replace a host: the host is chosen on the host table, then its new address typed
/// (a wrong one is said so, in place); the preview shows the old one's removal, and
/// its question says the new one joins in the install run Done offers.
#[test]
fn the_manage_view_replaces_a_host_at_a_typed_address() {
    let mut h = Harness::new(80, 24);
    h.manage_homelab();
    for _ in 0..3 {
        h.press(KeyCode::Down);
    }
    h.press(KeyCode::Enter);
    assert!(h.screen().contains("Which host is replaced?"));
    h.press(KeyCode::Down);
    h.press(KeyCode::Enter);
    let asked = h.screen();
    assert!(
        asked.contains("The new kubenode-1's address") && asked.contains("192.168.122.21"),
        "{asked}"
    );
    h.erase(20);
    h.type_text("192.168.122.3x");
    h.press(KeyCode::Enter);
    let wrong = h.screen();
    assert!(wrong.contains("is no IP address"), "{wrong}");
    assert_eq!(h.app.screen, ScreenId::Manage);
    h.press(KeyCode::Backspace);
    h.type_text("1");
    h.press(KeyCode::Enter);
    let preview = h.screen();
    assert_eq!(h.app.screen, ScreenId::Preview, "{preview}");
    let prepared = h.app.prepared.as_ref().unwrap();
    assert!(matches!(
        &prepared.operation,
        kubewiz::tui::prepare::Operation::ReplaceNode { host, address, .. }
            if host == "kubenode-1" && address.to_string() == "192.168.122.31"
    ));
    assert!(
        prepared
            .plan_text
            .contains("kubectl --kubeconfig /etc/kubernetes/admin.conf delete node kubenode-1"),
        "{}",
        prepared.plan_text
    );
    assert!(
        prepared
            .notices
            .iter()
            .any(|n| n.contains("joins a new kubenode-1 at 192.168.122.31")),
        "{:?}",
        prepared.notices
    );
    assert_eq!(
        prepared
            .follow_up
            .as_ref()
            .map(|f| f.what.starts_with("joins a new kubenode-1")),
        Some(true)
    );
}

/// Upgrade: the next minor is offered, kubeadm's version policy is checked where the
/// version is typed, and the preview shows the upgrade's plan in kubeadm's order.
#[test]
fn the_manage_view_upgrades_one_minor_after_a_preview() {
    let mut h = Harness::new(80, 24);
    h.manage_homelab();
    for _ in 0..4 {
        h.press(KeyCode::Down);
    }
    h.press(KeyCode::Enter);
    let asked = h.screen();
    assert!(
        asked.contains("The version to go to") && asked.contains("1.35.0"),
        "{asked}"
    );
    h.erase(10);
    h.type_text("1.36.0");
    h.press(KeyCode::Enter);
    let refused = h.screen();
    assert!(refused.contains("kubeadm upgrades one minor"), "{refused}");
    assert_eq!(h.app.screen, ScreenId::Manage);
    h.erase(10);
    h.type_text("1.35.0");
    h.press(KeyCode::Enter);
    let preview = h.screen();
    assert_eq!(h.app.screen, ScreenId::Preview, "{preview}");
    let prepared = h.app.prepared.as_ref().unwrap();
    assert_eq!(
        prepared.notices,
        [
            "upgrades from 1.34.2 to 1.35.0: 1 control plane(s) one at a time, then 3 worker(s) one at a time, each drained first"
        ]
    );
    assert!(
        prepared.plan_text.contains("kubeadm upgrade apply v1.35.0"),
        "{}",
        prepared.plan_text
    );
    h.press(KeyCode::Char('d'));
    h.press(KeyCode::Char('n'));
    let question = h.screen();
    assert!(
        question.contains("this runs the upgrade on the hosts"),
        "{question}"
    );
}

/// Check every certificate: the report comes back from the hosts off the screen, is
/// shown in the manage view's place with warnings and errors marked, scrolls, and Esc
/// goes back to the actions.
#[test]
fn the_manage_view_checks_every_certificate() {
    let mut h = Harness::new(80, 24);
    h.manage_homelab();
    for _ in 0..7 {
        h.press(KeyCode::Down);
    }
    h.press(KeyCode::Enter);
    assert_eq!(
        h.take_effects(),
        vec![Effect::CheckCerts {
            state_dir: h.dir.path().to_path_buf(),
            name: "homelab".into()
        }]
    );
    assert!(
        h.screen()
            .contains("Reading every certificate on every host")
    );
    let lines: Vec<String> = (0..40)
        .map(|i| format!("ok       kubemaster-1  /etc/kubernetes/pki/leaf-{i:02}.crt  fine"))
        .chain([
            "warning  kubenode-1    /etc/kubernetes/pki/ca.crt  DIFFERS from the kept copy"
                .to_owned(),
        ])
        .collect();
    h.app.certs_checked(Ok((
        lines,
        "41 certificates: 40 ok, 1 warnings, 0 errors".into(),
    )));
    let report = h.screen();
    assert!(
        report.contains("41 certificates: 40 ok, 1 warnings, 0 errors"),
        "{report}"
    );
    assert!(
        report.contains("leaf-00.crt") && !report.contains("DIFFERS"),
        "{report}"
    );
    h.press(KeyCode::PageDown);
    h.press(KeyCode::PageDown);
    h.press(KeyCode::PageDown);
    let scrolled = h.screen();
    assert!(
        scrolled.contains("DIFFERS from the kept copy"),
        "{scrolled}"
    );
    h.press(KeyCode::Esc);
    let back = h.screen();
    assert!(back.contains("Check every certificate"), "{back}");
    assert_eq!(h.app.screen, ScreenId::Manage);
}

/// Back up: the preview asks the etcd members over SSH for the host to take the
/// snapshot on; when none answers, it says so and nothing is written.
#[test]
fn the_manage_view_backs_up_only_from_a_member_that_answers() {
    let mut h = Harness::new(80, 24);
    let (_, cluster) = h.manage_homelab();
    for _ in 0..5 {
        h.press(KeyCode::Down);
    }
    h.press(KeyCode::Enter);
    let said = h.screen();
    assert_eq!(h.app.screen, ScreenId::Manage, "{said}");
    assert!(
        said.contains("none of kubemaster-1 answers over SSH"),
        "{said}"
    );
    assert!(!cluster.dir().join("backups").exists());
}

/// Restore: the archive is asked for (the newest in the cluster's backups/ offered),
/// a path that is no file is said so in place, an archive of another cluster is
/// refused, and the preview of the cluster's own archive shows every step of the
/// restore while the state directory stays as it was.
#[test]
fn the_manage_view_restores_from_an_archive_checked_first() {
    let mut h = Harness::new(80, 24);
    let (_, cluster) = h.manage_homelab();
    let backups = cluster.dir().join("backups");
    std::fs::create_dir_all(&backups).unwrap();
    let archive_of = |name: &str, cluster_name: &str| {
        let pki = cluster.pki_dir();
        let mut members = vec![kubewiz::archive::Member {
            path: kubewiz::archive::SNAPSHOT.into(),
            mode: 0o600,
            content: b"not a real snapshot, never read by a preview".to_vec(),
        }];
        for rel in ["ca.crt", "ca.key", "etcd/ca.crt", "etcd/ca.key"] {
            members.push(kubewiz::archive::Member {
                path: format!("pki/{rel}"),
                mode: 0o600,
                content: std::fs::read(pki.join(rel)).unwrap(),
            });
        }
        let path = backups.join(name);
        kubewiz::archive::write(
            &path,
            cluster_name,
            "2026-12-05T09:00:00Z",
            "kubemaster-1",
            &members,
        )
        .unwrap();
        path
    };
    let older = archive_of("homelab-20261204T090000Z.tar.gz", "homelab");
    let newest = archive_of("homelab-20261205T090000Z.tar.gz", "homelab");
    let other = archive_of("other.tar.gz", "othercluster");
    let kept_pki = std::fs::read(cluster.pki_dir().join("ca.crt")).unwrap();
    for _ in 0..6 {
        h.press(KeyCode::Down);
    }
    h.press(KeyCode::Enter);
    let asked = h.screen();
    assert!(
        asked.contains("The backup archive to restore from"),
        "{asked}"
    );
    assert!(asked.contains("homelab-20261205T090000Z.tar.gz"), "{asked}");
    assert_ne!(older, newest);
    h.erase(200);
    h.type_text("/nowhere/homelab.tar.gz");
    h.press(KeyCode::Enter);
    let wrong = h.screen();
    assert!(wrong.contains("is no file"), "{wrong}");
    h.erase(200);
    h.type_text(other.to_str().unwrap());
    h.press(KeyCode::Enter);
    let refused = h.screen();
    assert!(
        refused.contains("other.tar.gz is")
            && refused.contains("an archive of cluster othercluster"),
        "{refused}"
    );
    assert_eq!(h.app.screen, ScreenId::Manage);
    // The message closes; Restore is still the chosen action, and the newest archive
    // is offered again.
    h.press(KeyCode::Enter);
    h.press(KeyCode::Enter);
    h.press(KeyCode::Enter);
    let preview = h.screen();
    assert_eq!(h.app.screen, ScreenId::Preview, "{preview}");
    let prepared = h.app.prepared.as_ref().unwrap();
    assert_eq!(
        prepared.operation,
        kubewiz::tui::prepare::Operation::Restore {
            from: newest.clone()
        }
    );
    assert!(
        prepared.notices[0].contains("checked (")
            && prepared.notices[0].contains("snapshot of 2026-12-05T09:00:00Z"),
        "{:?}",
        prepared.notices
    );
    assert!(
        prepared.plan_text.contains("etcd-restore") || prepared.plan_text.contains("/restore"),
        "{}",
        prepared.plan_text
    );
    // Nothing is kept before the run: no restore, the kept CA as it was.
    assert!(!cluster.dir().join("restore").exists());
    assert_eq!(
        std::fs::read(cluster.pki_dir().join("ca.crt")).unwrap(),
        kept_pki
    );
    h.press(KeyCode::Char('d'));
    h.press(KeyCode::Char('n'));
    let question = h.screen();
    assert!(
        question.contains("this runs the restore on the hosts"),
        "{question}"
    );
}
