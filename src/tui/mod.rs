//! The wizard: a full-screen terminal UI from "new cluster" to live per-host panes.
//!
//! One tokio event loop merges terminal input, a tick and the engine's events; bursts
//! are drained with `recv_many` so a flood of output lines costs one redraw, resize
//! bursts collapse into one, and nothing is drawn while nothing changed. The terminal
//! is taken and given back by [`terminal`]: a guard on every exit path and a panic
//! hook, once, when the wizard ends. Work off the UI thread goes through [`work`],
//! which reports every job's end, a panic included, back to the screen that waits.
//! With `--ascii` every glyph is drawn in ASCII ([`theme::set_ascii`]).

pub mod app;
pub mod diags;
pub mod engine;
pub mod field;
pub mod flow;
pub mod form;
pub mod keys;
pub mod prepare;
pub mod screens;
pub mod templates;
pub mod terminal;
pub mod theme;
pub mod viewer;
pub mod widgets;
pub mod work;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use ratatui::DefaultTerminal;
use ratatui::crossterm::event::{self as term, Event as TermEvent};
use tokio::sync::mpsc;

use crate::exec::Stamped;
use app::App;
use flow::Effect;
use work::{Done, Jobs};

/// How often the clock on a running install moves.
const TICK: Duration = Duration::from_millis(500);
/// The most events taken from a channel for one redraw.
const BURST: usize = 512;

/// Opens the wizard (optionally prefilled from `preset`, drawn in ASCII only when
/// `ascii`, its runs announced to the system log too with `syslog`) and runs it until
/// the operator leaves. The exit code is 0 unless the terminal could not be used.
pub fn run(preset: Option<&Path>, state_dir: Option<&Path>, ascii: bool, syslog: bool) -> ExitCode {
    theme::set_ascii(ascii);
    let state_dir = state_dir.map_or_else(crate::state::default_dir, Path::to_path_buf);
    let app = initial_app(preset, state_dir);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("kubewiz: cannot start: {e}");
            return ExitCode::from(crate::exit::FAILED);
        }
    };
    let (terminal, guard) = match terminal::enter() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("kubewiz: cannot use this terminal for the wizard: {e}");
            return ExitCode::from(crate::exit::FAILED);
        }
    };
    let result = runtime.block_on(event_loop(terminal, app, syslog));
    drop(guard);
    // The input thread may still be blocked reading the terminal; do not wait for it.
    runtime.shutdown_background();
    match result {
        Ok(farewell) => {
            if let Some(line) = farewell {
                eprintln!("{line}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("kubewiz: the terminal failed: {e}");
            ExitCode::from(crate::exit::FAILED)
        }
    }
}

/// The app as it opens: the start screen, or the review of `--preset FILE`.
pub fn initial_app(preset: Option<&Path>, state_dir: PathBuf) -> App {
    let Some(path) = preset else {
        return App::new(state_dir);
    };
    match crate::spec::load_file(path) {
        Ok(loaded) => App::with_spec(state_dir, loaded.spec, format!("preset {}", path.display())),
        Err(crate::spec::LoadError::Invalid { diagnostics, .. }) => {
            let mut app = App::new(state_dir);
            let list: Vec<String> = diagnostics
                .iter()
                .take(5)
                .map(|d| format!("{}: {}", d.path, d.message))
                .collect();
            app.show_message(format!(
                "{} could not be loaded ({} problem(s); `kubewiz validate` lists them all): {}",
                path.display(),
                diagnostics.len(),
                list.join("; ")
            ));
            app
        }
        Err(e) => {
            let mut app = App::new(state_dir);
            app.show_message(e.to_string());
            app
        }
    }
}

async fn event_loop(
    mut terminal: DefaultTerminal,
    mut app: App,
    syslog: bool,
) -> std::io::Result<Option<String>> {
    let (input_tx, mut input_rx) = mpsc::unbounded_channel::<TermEvent>();
    // crossterm's reads block; a plain thread feeds them into the loop.
    std::thread::spawn(move || {
        while let Ok(ev) = term::read() {
            if input_tx.send(ev).is_err() {
                break;
            }
        }
    });
    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<Done>();
    let jobs = Jobs::new(done_tx);
    let mut run: Option<engine::Running> = None;
    let mut signals = Signals::new();
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut inputs = Vec::with_capacity(BURST);
    let mut events: Vec<Stamped> = Vec::with_capacity(BURST);
    let mut dirty = true;
    let size = terminal.size()?;
    app.resize(size.width, size.height);
    loop {
        if dirty {
            terminal.draw(|f| {
                app.draw(f);
                // Text from outside (command output, file contents) in ASCII too.
                theme::asciify(f.buffer_mut());
            })?;
            dirty = false;
        }
        if app.quit {
            // A run still going on goes on in its engine process (the operator chose
            // to stop it or to detach: App::leave).
            return Ok(app.farewell());
        }
        tokio::select! {
            n = input_rx.recv_many(&mut inputs, BURST) => {
                if n == 0 {
                    return Ok(None);
                }
                let mut resized = false;
                for ev in inputs.drain(..) {
                    match ev {
                        TermEvent::Key(key) => dirty |= app.handle_key(key),
                        TermEvent::Resize(..) => resized = true,
                        _ => {}
                    }
                }
                if resized {
                    terminal.autoresize()?;
                    let size = terminal.size()?;
                    app.resize(size.width, size.height);
                    dirty = true;
                }
            }
            _ = tick.tick() => dirty |= app.tick(),
            Some(done) = done_rx.recv() => {
                done.apply(&mut app);
                dirty = true;
            }
            n = engine::recv_many(&mut run, &mut events, BURST) => {
                if n == 0 {
                    // The events ended; learn whether the engine ended or broke.
                    if let Some(r) = run.take() {
                        jobs.spawn(r.ended(), Done::RunEnded);
                    }
                } else {
                    dirty |= app.engine_events(&events);
                    events.clear();
                }
            }
            _ = signals.next() => {
                // SIGTERM or SIGHUP: leave cleanly so the guard restores the terminal.
                // An install goes on in its engine process; `kubewiz attach` follows it.
                return Ok(None);
            }
        }
        for effect in app.take_effects() {
            match effect {
                Effect::Prepare {
                    spec,
                    state_dir,
                    libvirt_uri,
                } => jobs.blocking(
                    move || prepare::prepare(&spec, &state_dir, &libvirt_uri),
                    |result| Done::Prepared(Box::new(result)),
                ),
                Effect::PrepareDay2 {
                    operation,
                    spec,
                    state_dir,
                    libvirt_uri,
                } => jobs.blocking(
                    move || prepare::day2(&operation, &spec, &state_dir, &libvirt_uri),
                    |result| Done::Prepared(Box::new(result)),
                ),
                Effect::CheckCerts { state_dir, name } => jobs.blocking(
                    move || engine::check_certs(&state_dir, &name),
                    Done::CertsChecked,
                ),
                Effect::NodeStates { state_dir, name } => {
                    jobs.spawn(engine::node_states(state_dir, name), Done::NodeStates);
                }
                // virsh blocks; the screen keeps drawing the wait meanwhile.
                Effect::ImportLibvirt { uri, network } => jobs.blocking(
                    move || crate::kvm::import(&uri, &network).map_err(|e| e.to_string()),
                    |result| Done::Imported(Box::new(result)),
                ),
                Effect::Run { dry_run } => match app
                    .prepared
                    .as_ref()
                    .map(|p| engine::start(&app.spec, p, dry_run, syslog))
                {
                    Some(Ok(r)) => run = Some(r),
                    Some(Err(e)) => app.run_failed_to_start(e),
                    None => {
                        app.run_failed_to_start("nothing was generated; go back to Review".into())
                    }
                },
                Effect::Attach { name } => match engine::attach(&app.state_dir, &name) {
                    Ok(r) => run = Some(r),
                    Err(e) => app.run_failed_to_start(e),
                },
                Effect::TrustHostKeys { spec, keys } => jobs.spawn(
                    async move { engine::trust_host_keys(&spec, &keys).await },
                    Done::KeysRecorded,
                ),
                Effect::Cancel => {
                    if let Some(r) = &run {
                        r.cancel();
                    }
                }
            }
            dirty = true;
        }
    }
}

/// SIGTERM and SIGHUP as one stream; never fires where they cannot be caught.
struct Signals {
    term: Option<tokio::signal::unix::Signal>,
    hup: Option<tokio::signal::unix::Signal>,
}

impl Signals {
    fn new() -> Self {
        use tokio::signal::unix::{SignalKind, signal};
        Signals {
            term: signal(SignalKind::terminate()).ok(),
            hup: signal(SignalKind::hangup()).ok(),
        }
    }

    async fn next(&mut self) {
        async fn one(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        }
        tokio::select! {
            _ = one(&mut self.term) => {},
            _ = one(&mut self.hup) => {},
        }
    }
}
