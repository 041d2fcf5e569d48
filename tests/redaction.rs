//! Redaction proven, not assumed: every kind of secret kubewiz handles (bootstrap
//! token, kubeadm certificate key, PEM private keys, proxy credentials in URLs, a
//! kubeconfig's client-key-data), planted in command output, step commands and error
//! texts, reaches none of the sinks: the JSONL audit log, the readable `.log`, the
//! journal, the line output, nor the wizard's panes. Events are redacted as the runner
//! redacts them (commands and error texts whole, output line by line), with no known
//! secret given: the shapes alone must catch them.

#[path = "tui_support.rs"]
mod support;

use std::sync::LazyLock;

use kubewiz::audit::{AuditLog, Identity, Redactor, RunKind, Start};
use kubewiz::exec::journal::Journal;
use kubewiz::exec::sink::EventSink;
use kubewiz::exec::{Event, RunOutcome, Stamped, StepOutcome, Stream, lines};
use proptest::prelude::*;
use proptest::test_runner::Config;
use ratatui::crossterm::event::KeyCode;

static IDENTITY: LazyLock<Identity> = LazyLock::new(Identity::current);

/// A planted secret: the text as it appears, and the parts that must never be seen.
#[derive(Debug, Clone)]
struct Planted {
    text: String,
    secret: Vec<String>,
}

fn token() -> impl Strategy<Value = Planted> {
    ("[a-z0-9]{6}", "[a-z0-9]{16}", 0..3usize).prop_map(|(id, secret, form)| {
        let token = format!("{id}.{secret}");
        let text = match form {
            0 => format!("kubeadm join 10.0.0.1:6443 --token {token} --discovery-token-ca-cert-hash sha256:0f"),
            1 => format!("  token: {token}"),
            _ => format!("token={token}"),
        };
        Planted {
            text,
            secret: vec![secret],
        }
    })
}

fn certificate_key() -> impl Strategy<Value = Planted> {
    ("[0-9a-f]{64}", 0..4usize).prop_map(|(key, form)| {
        let text = match form {
            0 => format!("kubeadm join --control-plane --certificate-key {key}"),
            1 => format!("--certificate-key={key} --v=5"),
            2 => format!("certificateKey: \"{key}\""),
            // kubeadm init --upload-certs prints it alone on its line. (A bare key
            // amid other words cannot be told from a SHA-256 digest, which stays.)
            _ => format!("[upload-certs] Using certificate key:\n{key}\n"),
        };
        Planted {
            text,
            secret: vec![key],
        }
    })
}

fn pem_key() -> impl Strategy<Value = Planted> {
    (
        prop::sample::select(vec![
            "PRIVATE KEY",
            "RSA PRIVATE KEY",
            "EC PRIVATE KEY",
            "ENCRYPTED PRIVATE KEY",
            "OPENSSH PRIVATE KEY",
        ]),
        prop::collection::vec("[A-Za-z0-9+/]{24,64}", 1..5),
    )
        .prop_map(|(label, body)| Planted {
            text: format!(
                "-----BEGIN {label}-----\n{}\n-----END {label}-----",
                body.join("\n")
            ),
            secret: body,
        })
}

fn proxy_url() -> impl Strategy<Value = Planted> {
    (
        prop::sample::select(vec!["http", "https", "socks5"]),
        "[a-z]{1,8}",
        "P[0-9]{2}[A-Za-z0-9%]{5,14}",
        0..2usize,
    )
        .prop_map(|(scheme, user, password, form)| {
            let url = format!("{scheme}://{user}:{password}@proxy.lan:3128");
            let text = match form {
                0 => format!("export HTTPS_PROXY={url} NO_PROXY=.svc"),
                _ => format!("curl: (7) Failed to connect to {url}/ after 0 ms"),
            };
            Planted {
                text,
                secret: vec![password],
            }
        })
}

fn client_key_data() -> impl Strategy<Value = Planted> {
    ("LS0t[A-Za-z0-9+/]{40,90}={0,2}", 0..2usize).prop_map(|(data, form)| Planted {
        text: match form {
            0 => format!("    client-key-data: {data}"),
            _ => format!("{{\"client-key-data\": \"{data}\"}}"),
        },
        secret: vec![data],
    })
}

fn planted() -> impl Strategy<Value = Planted> {
    prop_oneof![
        token(),
        certificate_key(),
        pem_key(),
        proxy_url(),
        client_key_data()
    ]
}

/// Where the secret is planted: what a step runs, what it prints, how it fails.
#[derive(Debug, Clone, Copy)]
enum Place {
    Command,
    Output,
    Error,
}

fn place() -> impl Strategy<Value = Place> {
    prop_oneof![
        Just(Place::Command),
        Just(Place::Output),
        Just(Place::Error)
    ]
}

/// The events of one failing step with `planted` in `place`, redacted as the runner
/// redacts them.
fn events(planted: &Planted, place: Place, before: &str, after: &str) -> Vec<Event> {
    let r = Redactor::default();
    let (host, step) = ("kubenode-1".to_string(), "join/kubenode-1/join".to_string());
    let planted_text = format!("{before} {} {after}", planted.text);
    let command = match place {
        Place::Command => planted_text.clone(),
        _ => format!("kubeadm join {before}"),
    };
    let output = match place {
        Place::Output => planted_text.clone(),
        _ => format!("{before}\n{after}"),
    };
    let error = match place {
        Place::Error => planted_text.clone(),
        _ => format!("the command exited with 1: {after}"),
    };
    let mut in_key = false;
    let lines: Vec<String> = output.lines().map(|l| r.line(l, &mut in_key)).collect();
    let mut events = vec![
        Event::PhaseStarted {
            phase: "workers".into(),
            title: "Workers".into(),
            hosts: vec![host.clone()],
            one_at_a_time: false,
            at_once: None,
        },
        Event::StepStarted {
            phase: "workers".into(),
            host: host.clone(),
            step: step.clone(),
            title: "join the cluster".into(),
            command: Some(r.text(&command)),
        },
    ];
    events.extend(lines.iter().map(|line| Event::StepOutput {
        host: host.clone(),
        step: step.clone(),
        stream: Stream::Stderr,
        line: line.clone(),
    }));
    events.extend([
        Event::StepFinished {
            host: host.clone(),
            step: step.clone(),
            outcome: StepOutcome::Failed {
                exit_code: Some(1),
                message: r.text(&error),
            },
            duration_ms: 12,
        },
        Event::HostFailed {
            host: host.clone(),
            phase: "workers".into(),
            step: step.clone(),
            command: Some(r.text(&command)),
            exit_code: Some(1),
            message: r.text(&error),
            output_tail: lines.clone(),
            journal_tail: lines,
        },
        Event::PhaseFinished {
            phase: "workers".into(),
            failed_hosts: vec![host],
        },
        Event::RunFinished {
            outcome: RunOutcome::Failed,
            log_path: None,
        },
    ]);
    events
}

fn stamped(events: Vec<Event>) -> Vec<Stamped> {
    events
        .into_iter()
        .map(|event| Stamped {
            at: "2026-12-03T22:00:00Z".into(),
            event,
        })
        .collect()
}

/// Everything the file sinks and the line output hold after the events.
fn written(events: &[Stamped], command: Option<&str>) -> Vec<(&'static str, String)> {
    // Memory, where there is some: 10,000 runs' fsyncs on a disk take minutes.
    let shm = std::path::Path::new("/dev/shm");
    let dir = if shm.is_dir() {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    let logs = dir.path().join("logs");
    let mut audit = AuditLog::create(
        Start {
            dir: &logs,
            index: &dir.path().join("runs.jsonl"),
            stamp: "20261203T220000Z",
            at: "2026-12-03T22:00:00Z",
            kind: RunKind::Install,
            cluster: "kvm-lab",
            dry_run: false,
            preset_sha256: "0",
        },
        IDENTITY.clone(),
    )
    .unwrap();
    let mut journal = Journal::create(&dir.path().join("journal")).unwrap();
    let mut line_output = String::new();
    for e in events {
        audit.event(e).unwrap();
        if let (Event::StepFinished { step, .. }, Some(c)) = (&e.event, command) {
            // What the runner records: the step and the hash of its inputs.
            journal
                .step_done(step, &kubewiz::digest::sha256_hex(c.as_bytes()), &e.at)
                .unwrap();
        }
        if let Some(l) = lines::format(&e.event) {
            line_output.push_str(&l);
            line_output.push('\n');
        }
    }
    let read = |name: &str| std::fs::read_to_string(logs.join(name)).unwrap();
    vec![
        ("the JSONL audit log", read("20261203T220000Z.jsonl")),
        ("the readable log", read("20261203T220000Z.log")),
        (
            "the journal",
            std::fs::read_to_string(dir.path().join("journal")).unwrap(),
        ),
        ("the line output", line_output),
    ]
}

proptest! {
    #![proptest_config(Config { cases: 10_000, ..Config::default() })]

    #[test]
    fn no_planted_secret_reaches_a_log_the_journal_or_the_line_output(
        planted in planted(),
        place in place(),
        before in "[a-z]{3,10}",
        after in "[a-z]{3,10}",
    ) {
        let events = stamped(events(&planted, place, &before, &after));
        let command = events.iter().find_map(|e| match &e.event {
            Event::StepStarted { command, .. } => command.clone(),
            _ => None,
        });
        let written = written(&events, command.as_deref());
        for (sink, text) in &written {
            for secret in &planted.secret {
                prop_assert!(
                    !text.contains(secret.as_str()),
                    "{} holds {:?} planted in the {:?} as {:?}",
                    sink, secret, place, planted.text
                );
            }
        }
        // The secret was there to be found: the log shows where it was taken out.
        let jsonl = &written[0].1;
        prop_assert!(jsonl.contains("<redacted>"), "nothing redacted from {:?}", planted.text);
    }
}

proptest! {
    // Each case walks the wizard to a run; fewer cases, the same secrets.
    #![proptest_config(Config { cases: 48, ..Config::default() })]

    #[test]
    fn no_planted_secret_reaches_the_wizards_panes(
        planted in planted(),
        place in place(),
        before in "[a-z]{3,10}",
        after in "[a-z]{3,10}",
    ) {
        let mut h = support::Harness::new(200, 60);
        h.walk_to("Preview");
        h.press(KeyCode::Char('n'));
        h.app.take_effects();
        let mut events = events(&planted, place, &before, &after);
        // The run finishes last: before it, the panes show the failing step's output.
        let finished = events.pop().unwrap();
        h.app.engine_events(&stamped(events));
        let running = h.screen();
        h.app.engine_events(&stamped(vec![finished]));
        let done = h.screen();
        for screen in [running, done] {
            for secret in &planted.secret {
                prop_assert!(
                    !screen.contains(secret.as_str()),
                    "the wizard shows {:?} planted in the {:?}:\n{}",
                    secret, place, screen
                );
            }
        }
    }
}
