//! The runner's guarantees, on the dry-run transport at its real pace: cancelling
//! starts nothing new, a resumed run skips what the journal says finished, no more
//! hosts run at once than the limit (or a phase's batch), and control planes join one at
//! a time.

use std::collections::{BTreeMap, HashSet};

use kubewiz::exec::journal::Finished;
use std::path::Path;
use std::sync::Arc;

use kubewiz::audit::Redactor;
use kubewiz::exec::dry_run::DryRun;
use kubewiz::exec::journal::{self, Journal};
use kubewiz::exec::runner::{self, RunOptions};
use kubewiz::exec::{Event, RunOutcome, Stamped, StepOutcome};
use kubewiz::plan::{Local, Plan};
use kubewiz::render::{self, File, Layout};
use kubewiz::spec::{self, ClusterSpec};

struct Setup {
    spec: ClusterSpec,
    plan: Plan,
    files: Vec<File>,
    state: tempfile::TempDir,
}

fn setup(preset: &str) -> Setup {
    let spec = spec::load_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join(preset))
        .unwrap()
        .spec;
    let state = tempfile::tempdir().unwrap();
    let layout = Layout::new(&spec).unwrap();
    let (pki, _) = kubewiz::pki::load_or_create(&state.path().join("pki"), &layout).unwrap();
    let files = render::render(&spec, &pki).unwrap();
    let plan = kubewiz::plan::build(&layout, &files, &local(state.path()));
    drop(layout);
    Setup {
        spec,
        plan,
        files,
        state,
    }
}

fn local(state: &Path) -> Local {
    Local {
        libvirt_uri: "test:///default".into(),
        state_dir: state.to_path_buf(),
        hosts_file: state.join("hosts"),
    }
}

fn options(concurrency: usize) -> RunOptions {
    RunOptions {
        concurrency,
        finished: Finished::new(),
        sinks: Vec::new(),
        log_path: None,
        redactor: Redactor::default(),
    }
}

async fn collect(mut handle: runner::RunHandle) -> (Vec<Stamped>, RunOutcome) {
    let mut events = Vec::new();
    while let Some(e) = handle.events.recv().await {
        events.push(e);
    }
    (events, handle.task.await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancelling_lets_running_steps_finish_and_starts_nothing_new() {
    let s = setup("presets/stacked-ha.toml");
    let mut handle = runner::start(s.plan, Arc::new(DryRun::new(1.0)), options(32));
    let canceller = handle.canceller();
    let mut events = Vec::new();
    let mut cancelled_at = None;
    while let Some(e) = handle.events.recv().await {
        // Cancel in the middle of the prepare phase, while steps are running. The
        // moment is what counts, not this loop's place in the stream, which may lag
        // behind the run on a loaded machine.
        if cancelled_at.is_none()
            && matches!(&e.event, Event::StepStarted { step, .. } if step.starts_with("prepare/kubenode-1/modules"))
        {
            canceller.cancel();
            cancelled_at = Some(time::OffsetDateTime::now_utc());
        }
        events.push(e);
    }
    assert_eq!(handle.task.await.unwrap(), RunOutcome::Cancelled);
    let cut = cancelled_at.expect("the run reached prepare");
    let after = |at: &str| {
        time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).unwrap()
            > cut
    };
    let mut running: HashSet<String> = HashSet::new();
    let mut late_starts: BTreeMap<String, usize> = BTreeMap::new();
    for e in &events {
        match &e.event {
            Event::StepStarted { step, host, .. } => {
                // A host that had just checked before the cancel may still announce
                // the step it was starting; a second one would be a new step.
                if after(&e.at) {
                    let n = late_starts.entry(host.clone()).or_default();
                    *n += 1;
                    assert!(*n <= 1, "{host} started {step} after the cancel");
                }
                running.insert(step.clone());
            }
            Event::StepFinished { step, .. } => {
                running.remove(step);
            }
            Event::PhaseStarted { phase, .. } => assert!(
                !after(&e.at) || phase == "prepare",
                "phase {phase} started after the cancel"
            ),
            _ => {}
        }
    }
    assert!(running.is_empty(), "steps that never finished: {running:?}");
    assert!(matches!(
        events.last().unwrap().event,
        Event::RunFinished {
            outcome: RunOutcome::Cancelled,
            ..
        }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resumed_run_skips_what_the_journal_says_finished() {
    let s = setup("presets/single-master.toml");
    let journal_path = s.state.path().join("journal");
    let mut first = options(32);
    first
        .sinks
        .push(Box::new(Journal::create(&journal_path).unwrap()));
    let (_, outcome) = collect(runner::start(
        s.plan.clone(),
        Arc::new(DryRun::new(0.0)),
        first,
    ))
    .await;
    assert_eq!(outcome, RunOutcome::Succeeded);
    let finished = journal::finished_steps(&journal_path).unwrap();
    assert!(finished.contains_key("prepare/kubenode-1/swap"));

    let mut again = options(32);
    again.finished = finished.clone();
    again
        .sinks
        .push(Box::new(Journal::append(&journal_path).unwrap()));
    let (events, outcome) = collect(runner::start(
        s.plan.clone(),
        Arc::new(DryRun::new(0.0)),
        again,
    ))
    .await;
    assert_eq!(outcome, RunOutcome::Succeeded);
    let outcomes: BTreeMap<&str, &StepOutcome> = events
        .iter()
        .filter_map(|e| match &e.event {
            Event::StepFinished { step, outcome, .. } => Some((step.as_str(), outcome)),
            _ => None,
        })
        .collect();
    for (_, _, step) in s.plan.steps() {
        let outcome = outcomes[step.id.as_str()];
        let skipped_by_journal = matches!(outcome, StepOutcome::Skipped { reason } if reason == "finished in an earlier run");
        // Idempotent steps that finished are skipped; waits, facts and connections
        // always run again, since they check the present.
        assert_eq!(
            skipped_by_journal,
            step.idempotent() && finished.contains_key(&step.id),
            "{}: {outcome:?}",
            step.id
        );
    }
    assert!(
        outcomes.values().any(|o| **o == StepOutcome::Done),
        "waits and facts ran again"
    );
}

/// The most hosts that had a step running at the same moment, per phase.
fn max_parallel_hosts(events: &[Stamped]) -> BTreeMap<String, usize> {
    let mut phase = String::new();
    let mut busy: HashSet<String> = HashSet::new();
    let mut most: BTreeMap<String, usize> = BTreeMap::new();
    for e in events {
        match &e.event {
            Event::PhaseStarted { phase: p, .. } => phase = p.clone(),
            Event::StepStarted { host, .. } => {
                busy.insert(host.clone());
                let m = most.entry(phase.clone()).or_default();
                *m = (*m).max(busy.len());
            }
            Event::StepFinished { host, .. } => {
                busy.remove(host);
            }
            _ => {}
        }
    }
    most
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_run_at_once_up_to_the_limit_and_control_planes_one_at_a_time() {
    let s = setup("presets/kvm-lab.toml");
    let (events, outcome) = collect(runner::start(
        s.plan.clone(),
        Arc::new(DryRun::new(0.3)),
        options(32),
    ))
    .await;
    assert_eq!(outcome, RunOutcome::Succeeded);
    let most = max_parallel_hosts(&events);
    assert!(
        most["connect"] >= 10,
        "connect ran only {} hosts at once",
        most["connect"]
    );
    assert!(
        most["prepare"] >= 6,
        "prepare ran only {} hosts at once",
        most["prepare"]
    );
    assert_eq!(
        most["control-planes"], 1,
        "two control planes joined at once"
    );

    let (events, _) = collect(runner::start(
        s.plan,
        Arc::new(DryRun::new(0.3)),
        options(3),
    ))
    .await;
    let most = max_parallel_hosts(&events);
    assert!(
        most.values().all(|m| *m <= 3),
        "more than 3 hosts at once: {most:?}"
    );
    assert_eq!(most["connect"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_whose_inputs_changed_runs_again() {
    let s = setup("presets/single-master.toml");
    let journal_path = s.state.path().join("journal");
    let mut first = options(32);
    first
        .sinks
        .push(Box::new(Journal::create(&journal_path).unwrap()));
    collect(runner::start(
        s.plan.clone(),
        Arc::new(DryRun::new(0.0)),
        first,
    ))
    .await;

    // The containerd configuration of one worker changed since the first run.
    let mut files = s.files.clone();
    let changed = files
        .iter_mut()
        .find(|f| {
            f.target == kubewiz::render::Target::Host("kubenode-2".into())
                && f.path == "/etc/containerd/config.toml"
        })
        .unwrap();
    changed.content.push_str("# changed\n");
    let mut again = options(32);
    again.finished = journal::finished_steps(&journal_path).unwrap();
    let layout = Layout::new(&s.spec).unwrap();
    let plan = kubewiz::plan::build(&layout, &files, &local(s.state.path()));
    let (events, _) = collect(runner::start(plan, Arc::new(DryRun::new(0.0)), again)).await;
    let outcome = |id: &str| {
        events
            .iter()
            .find_map(|e| match &e.event {
                Event::StepFinished { step, outcome, .. } if step == id => Some(outcome.clone()),
                _ => None,
            })
            .unwrap()
    };
    assert_eq!(
        outcome("prepare/kubenode-2/upload:etc:containerd:config.toml"),
        StepOutcome::Done
    );
    assert!(matches!(
        outcome("prepare/kubenode-1/upload:etc:containerd:config.toml"),
        StepOutcome::Skipped { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_phase_of_batches_runs_no_more_hosts_at_once_than_its_batch() {
    let s = setup("presets/kvm-lab.toml");
    let mut plan = s.plan.clone();
    let prepare = plan
        .phases
        .iter_mut()
        .find(|p| p.id.name() == "prepare")
        .unwrap();
    assert!(prepare.hosts.len() > 4);
    prepare.at_most = Some(2);
    let (events, outcome) =
        collect(runner::start(plan, Arc::new(DryRun::new(0.3)), options(32))).await;
    assert_eq!(outcome, RunOutcome::Succeeded);
    let most = max_parallel_hosts(&events);
    assert_eq!(most["prepare"], 2, "{most:?}");
    assert!(most["connect"] > 2, "{most:?}");
}
