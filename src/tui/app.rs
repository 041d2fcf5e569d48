//! The wizard's state and its one update path: a key goes through [`App::handle_key`],
//! engine events through [`App::engine_events`]; both return whether anything on
//! screen changed. Drawing ([`App::draw`]) only reads.
//!
//! Screens never talk to each other: they return an [`Outcome`], and the app moves
//! between them, validates the spec and queues [`Effect`]s (work done off the UI
//! thread) for the event loop. Those types live in [`super::flow`], below both the app
//! and the screens. [`Effect`] and [`prepare`] are re-exported here for the callers
//! that drive the app in place of the event loop (the wizard's tests).

use std::path::PathBuf;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{KeyCode, KeyEvent};

mod chrome;

pub use super::flow::Effect;
pub use super::prepare::prepare;
pub use chrome::hint_bar;

use super::flow::{Outcome, RunEnd, View};
use super::prepare::Prepared;

use super::keys::{self, Action, Binding};
use super::screens::{self, Screen};
use super::templates;
use super::theme;
use crate::exec::{Event, RunOutcome, Stamped};
use crate::spec::{ClusterSpec, Diagnostic};

pub use super::theme::{MIN_HEIGHT, MIN_WIDTH};

/// Two Ctrl-C this close together leave the wizard from any screen outside an install.
const TWICE: Duration = Duration::from_secs(1);

/// The screens, in the order Next walks them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ScreenId {
    Start,
    Topology,
    Hosts,
    Network,
    Options,
    Review,
    Preview,
    Execute,
    Done,
    /// An installed cluster, off the install's path: Start leads to it, its actions
    /// lead to Topology (add hosts) or Preview (a day-2 operation).
    Manage,
}

impl ScreenId {
    /// Every screen, in wizard order.
    pub const ALL: [ScreenId; 9] = [
        ScreenId::Start,
        ScreenId::Topology,
        ScreenId::Hosts,
        ScreenId::Network,
        ScreenId::Options,
        ScreenId::Review,
        ScreenId::Preview,
        ScreenId::Execute,
        ScreenId::Done,
    ];

    fn index(self) -> usize {
        Self::ALL.iter().position(|s| *s == self).unwrap_or(0)
    }

    fn prev(self) -> Option<ScreenId> {
        self.index().checked_sub(1).map(|i| Self::ALL[i])
    }

    fn next(self) -> Option<ScreenId> {
        Self::ALL.get(self.index() + 1).copied()
    }
}

/// Something drawn over the screen until it is answered.
#[derive(Debug, Clone, PartialEq)]
enum Modal {
    /// Next was refused: what must be fixed first.
    Refused(Vec<String>),
    Message(String),
    ConfirmQuit,
    ConfirmAbort,
    /// Ctrl-C during an install: stop it, or leave the wizard and let it go on in its
    /// engine process.
    StopOrDetach,
    /// Dry run off: installing changes the hosts (the workers it adds to an installed
    /// cluster, and what it changes on the libvirt network, one line each), so ask.
    ConfirmInstall(Vec<String>),
    /// Dry run off for a day-2 operation: what it does to which cluster, then its
    /// notices (what it renews).
    ConfirmDay2(String, Vec<String>),
    /// Unknown host keys to compare and trust.
    ConfirmHostKeys(Vec<(String, String)>),
    /// The second confirmation of a run that deletes a cluster's data (the reset before
    /// a restore over a cluster that still answers): the cluster's name, typed out.
    TypeName {
        name: String,
        typed: String,
    },
}

/// The whole wizard.
pub struct App {
    pub spec: ClusterSpec,
    pub diags: Vec<Diagnostic>,
    pub state_dir: PathBuf,
    pub screen: ScreenId,
    /// "new cluster" or where the spec came from.
    pub origin: String,
    /// Set once the operator edits a host, so picking a topology no longer replaces
    /// the hosts with that topology's shipped layout.
    pub hosts_touched: bool,
    pub prepared: Option<Prepared>,
    pub quit: bool,
    /// The libvirt connection for the import and the plan's network preview:
    /// `kvm::connect_uri()` unless set otherwise (tests use libvirt's test driver).
    pub libvirt_uri: String,
    /// Work for the event loop; taken with [`App::take_effects`].
    effects: Vec<Effect>,
    help: bool,
    modal: Option<Modal>,
    /// A Prepare is running: Next on Review waits for it.
    preparing: bool,
    /// The terminal is below 80×24: nothing is drawn but a notice, so keys other
    /// than Ctrl-C are ignored rather than acting on a screen no one can see.
    too_small: bool,
    /// The terminal's size, for the screens that fill it.
    size: (u16, u16),
    /// When Ctrl-C was last pressed.
    last_ctrl_c: Option<Instant>,
    /// The cluster whose run the execute screen follows (started here or attached to).
    run_of: Option<String>,
    /// The operator left while that run went on: it goes on without the wizard.
    left_running: Option<String>,
    pub start: screens::start::Start,
    pub topology: screens::topology::TopologyScreen,
    pub hosts: screens::hosts::Hosts,
    pub network: screens::network::Network,
    pub options: screens::options::Options,
    pub review: screens::review::Review,
    pub preview: screens::preview::Preview,
    pub execute: screens::execute::Execute,
    pub done: screens::done::Done,
    pub manage: screens::manage::Manage,
}

impl App {
    /// A wizard on the start screen with the built-in default spec.
    pub fn new(state_dir: PathBuf) -> Self {
        let spec = templates::default_spec();
        let mut app = App {
            start: screens::start::Start::new(&state_dir, &crate::state::preset_dirs()),
            diags: Vec::new(),
            state_dir,
            screen: ScreenId::Start,
            origin: "new cluster".into(),
            hosts_touched: false,
            prepared: None,
            quit: false,
            libvirt_uri: crate::kvm::connect_uri(),
            effects: Vec::new(),
            help: false,
            modal: None,
            preparing: false,
            too_small: false,
            size: (MIN_WIDTH, MIN_HEIGHT),
            last_ctrl_c: None,
            run_of: None,
            left_running: None,
            topology: screens::topology::TopologyScreen::new(spec.topology),
            hosts: screens::hosts::Hosts::new(&spec),
            network: screens::network::Network::new(&spec),
            options: screens::options::Options::new(&spec),
            review: screens::review::Review::default(),
            preview: screens::preview::Preview::default(),
            execute: screens::execute::Execute::default(),
            done: screens::done::Done::default(),
            manage: screens::manage::Manage::default(),
            spec,
        };
        app.revalidate();
        app
    }

    /// A wizard prefilled from a preset, opened on the review screen so every choice
    /// is seen at once; Esc walks back through the screens to change any of them.
    pub fn with_spec(state_dir: PathBuf, spec: ClusterSpec, origin: String) -> Self {
        let mut app = App::new(state_dir);
        app.load(spec, origin);
        app.go(ScreenId::Review);
        app
    }

    /// Shows a message over the start screen (e.g. a preset that did not load).
    pub fn show_message(&mut self, text: String) {
        self.modal = Some(Modal::Message(text));
    }

    fn load(&mut self, spec: ClusterSpec, origin: String) {
        self.hosts = screens::hosts::Hosts::new(&spec);
        self.network = screens::network::Network::new(&spec);
        self.options = screens::options::Options::new(&spec);
        self.topology = screens::topology::TopologyScreen::new(spec.topology);
        self.spec = spec;
        self.origin = origin;
        self.hosts_touched = false;
        self.prepared = None;
        self.revalidate();
    }

    fn revalidate(&mut self) {
        self.diags = crate::spec::validate::validate(&self.spec);
    }

    fn view(&self) -> View<'_> {
        View {
            spec: &self.spec,
            diags: &self.diags,
            state_dir: &self.state_dir,
            prepared: self.prepared.as_ref(),
            origin: &self.origin,
        }
    }

    fn current(&self) -> &dyn Screen {
        match self.screen {
            ScreenId::Start => &self.start,
            ScreenId::Topology => &self.topology,
            ScreenId::Hosts => &self.hosts,
            ScreenId::Network => &self.network,
            ScreenId::Options => &self.options,
            ScreenId::Review => &self.review,
            ScreenId::Preview => &self.preview,
            ScreenId::Execute => &self.execute,
            ScreenId::Done => &self.done,
            ScreenId::Manage => &self.manage,
        }
    }

    fn current_mut(&mut self) -> &mut dyn Screen {
        match self.screen {
            ScreenId::Start => &mut self.start,
            ScreenId::Topology => &mut self.topology,
            ScreenId::Hosts => &mut self.hosts,
            ScreenId::Network => &mut self.network,
            ScreenId::Options => &mut self.options,
            ScreenId::Review => &mut self.review,
            ScreenId::Preview => &mut self.preview,
            ScreenId::Execute => &mut self.execute,
            ScreenId::Done => &mut self.done,
            ScreenId::Manage => &mut self.manage,
        }
    }

    /// The bindings the focused screen handles right now (its mode decides), followed
    /// by the global ones; the hint bar shows exactly these.
    pub fn bindings(&self) -> Vec<Binding> {
        match &self.modal {
            Some(
                Modal::ConfirmQuit
                | Modal::ConfirmAbort
                | Modal::ConfirmInstall(_)
                | Modal::ConfirmDay2(..)
                | Modal::ConfirmHostKeys(_),
            ) => {
                return CONFIRM.to_vec();
            }
            Some(Modal::StopOrDetach) => return STOP_OR_DETACH.to_vec(),
            Some(Modal::TypeName { .. }) => return TYPE_NAME.to_vec(),
            Some(_) => return DISMISS.to_vec(),
            None => {}
        }
        if self.help {
            return DISMISS.to_vec();
        }
        let screen = self.current();
        let mut all = screen.bindings().to_vec();
        if screen.editing() {
            all.extend(keys::GLOBAL.iter().filter(|b| b.action == Action::Quit));
        } else {
            all.extend_from_slice(keys::GLOBAL);
        }
        all
    }

    /// Takes the work queued for the event loop.
    pub fn take_effects(&mut self) -> Vec<Effect> {
        std::mem::take(&mut self.effects)
    }

    /// The terminal's size, as the event loop learns it.
    pub fn resize(&mut self, width: u16, height: u16) {
        self.too_small = width < MIN_WIDTH || height < MIN_HEIGHT;
        self.size = (width, height);
        self.preview.resize(self.size);
        self.execute.resize(self.size);
    }

    /// One key from the operator. Returns true when the screen must be redrawn.
    pub fn handle_key(&mut self, key: KeyEvent) -> bool {
        if key.kind == ratatui::crossterm::event::KeyEventKind::Release {
            return false;
        }
        if keys::lookup(keys::GLOBAL, &key) == Some(Action::Quit) {
            return self.ctrl_c();
        }
        if self.too_small {
            return false;
        }
        if let Some(Modal::TypeName { name, typed }) = &mut self.modal {
            match key.code {
                KeyCode::Enter if *typed == *name => {
                    self.modal = None;
                    self.start_run();
                }
                KeyCode::Enter => {
                    let text =
                        format!("Nothing was done: {typed:?} is not the cluster's name ({name}).");
                    self.modal = Some(Modal::Message(text));
                }
                KeyCode::Esc => self.modal = None,
                KeyCode::Backspace => {
                    typed.pop();
                }
                KeyCode::Char(c) if typed.len() < 64 => typed.push(c),
                _ => {}
            }
            return true;
        }
        if let Some(modal) = self.modal.take() {
            let answers = match modal {
                Modal::StopOrDetach => STOP_OR_DETACH,
                _ => CONFIRM,
            };
            let action = keys::lookup(answers, &key);
            match (modal, action) {
                (Modal::ConfirmQuit, Some(Action::Confirm)) => self.quit = true,
                (Modal::ConfirmDay2(..), Some(Action::Confirm)) if self.deletes_data() => {
                    self.modal = Some(Modal::TypeName {
                        name: self.spec.name.as_str().to_owned(),
                        typed: String::new(),
                    });
                }
                (Modal::ConfirmInstall(_) | Modal::ConfirmDay2(..), Some(Action::Confirm)) => {
                    self.start_run()
                }
                (Modal::ConfirmHostKeys(keys), Some(Action::Confirm)) => {
                    self.effects.push(Effect::TrustHostKeys {
                        spec: Box::new(self.spec.clone()),
                        keys,
                    });
                }
                (Modal::ConfirmAbort, Some(Action::Confirm))
                | (Modal::StopOrDetach, Some(Action::Abort)) => self.stop_run(),
                (Modal::StopOrDetach, Some(Action::Detach)) => self.leave(),
                _ => {}
            }
            return true;
        }
        if self.help {
            if keys::lookup(DISMISS, &key).is_some()
                || keys::lookup(keys::GLOBAL, &key) == Some(Action::Help)
            {
                self.help = false;
            }
            return true;
        }
        let editing = self.current().editing();
        if keys::lookup(keys::GLOBAL, &key) == Some(Action::Help) && !editing {
            self.help = true;
            return true;
        }
        let mut spec = self.spec.clone();
        let outcome = self.current_mut().handle(&key, &mut spec);
        if spec != self.spec {
            if self.screen == ScreenId::Hosts {
                self.hosts_touched = true;
            }
            self.spec = spec;
            self.prepared = None;
            self.revalidate();
        }
        self.apply(outcome)
    }

    /// Ctrl-C. During an install, which runs in its engine process: the first asks
    /// whether to stop it (running steps finish, nothing new starts) or to detach (leave
    /// the wizard, the install goes on); a Ctrl-C in that question, or once the stop
    /// was asked for, leaves at once. Elsewhere: it asks whether to quit, and a Ctrl-C
    /// in that question, or a second one within [`TWICE`] whatever is on screen, leaves.
    fn ctrl_c(&mut self) -> bool {
        let now = Instant::now();
        let twice = self
            .last_ctrl_c
            .is_some_and(|t| now.saturating_duration_since(t) <= TWICE);
        self.last_ctrl_c = Some(now);
        if self.execute.running() {
            if self.execute.cancel_requested || self.modal == Some(Modal::StopOrDetach) {
                self.leave();
            } else {
                self.help = false;
                self.modal = Some(Modal::StopOrDetach);
            }
        } else if twice || self.modal == Some(Modal::ConfirmQuit) || self.too_small {
            self.quit = true;
        } else {
            self.help = false;
            self.ask_quit();
        }
        true
    }

    /// Asks the running install to stop after its running steps.
    fn stop_run(&mut self) {
        self.effects.push(Effect::Cancel);
        self.execute.cancel_requested = true;
    }

    /// Leaves the wizard; a run still going on goes on in its engine process.
    fn leave(&mut self) {
        self.modal = None;
        if self.execute.running() {
            self.left_running = self.run_of.clone();
        }
        self.quit = true;
    }

    /// What to tell the operator once the terminal is back, when they left a run
    /// going on.
    pub fn farewell(&self) -> Option<String> {
        let name = self.left_running.as_deref()?;
        let state = if self.execute.cancel_requested {
            "stops after its running steps"
        } else {
            "goes on"
        };
        Some(format!(
            "kubewiz: the run of {name} {state} in its own process; `kubewiz attach {name}` follows it again"
        ))
    }

    fn ask_quit(&mut self) {
        if self.screen == ScreenId::Done {
            // The work is over and its summary was seen: nothing to lose by leaving.
            self.quit = true;
        } else if self.execute.running() {
            self.modal = Some(Modal::ConfirmAbort);
        } else {
            self.modal = Some(Modal::ConfirmQuit);
        }
    }

    fn apply(&mut self, outcome: Outcome) -> bool {
        match outcome {
            Outcome::Ignored => return false,
            Outcome::Handled => {}
            Outcome::Quit => self.ask_quit(),
            Outcome::Message(text) => self.modal = Some(Modal::Message(text)),
            Outcome::AskAbort => self.modal = Some(Modal::ConfirmAbort),
            Outcome::Rerun => self.start_run(),
            Outcome::TrustHostKeys(keys) if keys.is_empty() => {}
            Outcome::TrustHostKeys(keys) => self.modal = Some(Modal::ConfirmHostKeys(keys)),
            Outcome::ImportLibvirt => {
                // At most one import at a time: the screen shows the one running.
                if !self.hosts.importing() {
                    let network = crate::render::kvm::libvirt_network(&self.spec).to_owned();
                    self.hosts.start_import(&network, &self.libvirt_uri);
                    self.effects.push(Effect::ImportLibvirt {
                        uri: self.libvirt_uri.clone(),
                        network,
                    });
                }
            }
            Outcome::Attach(name) => self.attach(name),
            Outcome::Manage(name) => self.manage(name),
            Outcome::CheckCerts => self.effects.push(Effect::CheckCerts {
                state_dir: self.state_dir.clone(),
                name: self.manage.name.clone(),
            }),
            Outcome::FollowUp => {
                // The cluster as the operation left it: its kept preset, read again.
                let name = self.spec.name.as_str().to_owned();
                let next = self
                    .done
                    .follow_up
                    .as_ref()
                    .map(|f| f.operation.clone())
                    .unwrap_or_default();
                self.manage(name);
                if next != super::prepare::Operation::Install {
                    return self.apply(Outcome::Day2(next));
                }
                if !self.preparing {
                    self.preparing = true;
                    self.effects.push(Effect::Prepare {
                        spec: Box::new(self.spec.clone()),
                        state_dir: self.state_dir.clone(),
                        libvirt_uri: self.libvirt_uri.clone(),
                    });
                }
            }
            Outcome::Day2(operation) => {
                if !self.preparing {
                    self.preparing = true;
                    self.effects.push(Effect::PrepareDay2 {
                        operation,
                        spec: Box::new(self.spec.clone()),
                        state_dir: self.state_dir.clone(),
                        libvirt_uri: self.libvirt_uri.clone(),
                    });
                }
            }
            Outcome::Back => self.back(),
            Outcome::Next => self.next(),
            Outcome::Load { spec, origin } => {
                self.load(*spec, origin);
                self.go(ScreenId::Topology);
            }
            Outcome::Topology(topology) => {
                if !self.hosts_touched
                    && self.origin == "new cluster"
                    && self.spec.topology != topology
                {
                    let fresh = templates::for_topology(topology);
                    self.load(fresh, "new cluster".into());
                } else {
                    self.spec.topology = topology;
                    self.prepared = None;
                    self.revalidate();
                }
                self.topology = screens::topology::TopologyScreen::new(topology);
                self.go(ScreenId::Hosts);
            }
        }
        true
    }

    fn back(&mut self) {
        match self.screen {
            ScreenId::Start => self.modal = Some(Modal::ConfirmQuit),
            ScreenId::Manage => self.go(ScreenId::Start),
            ScreenId::Preview if self.day2() => self.go(ScreenId::Manage),
            ScreenId::Execute if self.execute.running() => self.modal = Some(Modal::ConfirmAbort),
            ScreenId::Done => self.go(ScreenId::Execute),
            other => {
                if let Some(prev) = other.prev() {
                    self.go(prev);
                }
            }
        }
    }

    fn next(&mut self) {
        let problems = self.current().problems(&self.view());
        if !problems.is_empty() {
            self.modal = Some(Modal::Refused(problems));
            return;
        }
        match self.screen {
            ScreenId::Review => {
                if let Some(p) = &self.prepared {
                    self.preview.reset(p);
                    self.go(ScreenId::Preview);
                } else if !self.preparing {
                    self.preparing = true;
                    self.effects.push(Effect::Prepare {
                        spec: Box::new(self.spec.clone()),
                        state_dir: self.state_dir.clone(),
                        libvirt_uri: self.libvirt_uri.clone(),
                    });
                }
            }
            ScreenId::Preview if self.preview.dry_run => self.start_run(),
            ScreenId::Preview if self.day2() => {
                let (what, lines) = self
                    .prepared
                    .as_ref()
                    .map(|p| (p.operation.noun(), p.notices.clone()))
                    .unwrap_or_default();
                let headline = format!(
                    "The dry run is off: this runs the {what} on the hosts of cluster {} over SSH, changing them.",
                    self.spec.name
                );
                self.modal = Some(Modal::ConfirmDay2(headline, lines));
            }
            ScreenId::Preview => {
                let mut lines = self.growth();
                lines.extend(self.libvirt_changes());
                self.modal = Some(Modal::ConfirmInstall(lines));
            }
            ScreenId::Execute => {
                self.done = screens::done::Done {
                    outcome: self.execute.outcome,
                    log_path: self.execute.log_path.clone(),
                    head: self.execute.head.clone(),
                    dry_run: self.execute.dry_run,
                    operation: self
                        .prepared
                        .as_ref()
                        .map(|p| p.operation.clone())
                        .unwrap_or_default(),
                    follow_up: self.prepared.as_ref().and_then(|p| p.follow_up.clone()),
                };
                self.go(ScreenId::Done);
            }
            other => {
                if let Some(next) = other.next() {
                    self.go(next);
                }
            }
        }
    }

    /// True when what was prepared deletes the cluster's data (the reset before a
    /// restore): its confirmation asks for the cluster's name too.
    fn deletes_data(&self) -> bool {
        self.prepared.as_ref().is_some_and(|p| {
            matches!(
                p.operation,
                super::prepare::Operation::ResetForRestore { .. }
            )
        })
    }

    /// True when what was prepared is a day-2 operation on the installed cluster (its
    /// preview leads back to the manage view).
    fn day2(&self) -> bool {
        self.prepared
            .as_ref()
            .is_some_and(|p| p.operation != super::prepare::Operation::Install)
    }

    /// Opens the manage view of installed cluster `name`: its kept preset becomes the
    /// spec, and its API is asked for its nodes.
    fn manage(&mut self, name: String) {
        self.manage = screens::manage::Manage::new(&self.state_dir, &name);
        if let Some(spec) = self.manage.spec() {
            self.load(spec.clone(), format!("installed cluster {name}"));
        }
        self.effects.push(Effect::NodeStates {
            state_dir: self.state_dir.clone(),
            name,
        });
        self.go(ScreenId::Manage);
    }

    /// The report of [`Effect::CheckCerts`], for the manage view.
    pub fn certs_checked(&mut self, result: Result<(Vec<String>, String), String>) {
        self.manage.set_report(result);
    }

    /// The answer of [`Effect::NodeStates`], for the manage view.
    pub fn node_states(&mut self, result: Result<Vec<(String, String)>, String>) {
        self.manage.set_nodes(result);
    }

    /// For an installed cluster, the workers the install adds: the question says so.
    fn growth(&self) -> Vec<String> {
        match self.prepared.as_ref().map(|p| p.added.as_slice()) {
            Some(added) if !added.is_empty() => vec![format!(
                "{} is installed: this adds {}; the hosts already in it are only checked.",
                self.spec.name,
                added.join(", ")
            )],
            _ => Vec::new(),
        }
    }

    /// What the install changes on the libvirt network, for the install question: a
    /// sentence, then the first changes (the question must fit an 80×24 console; the
    /// plan tab lists them all); empty when it changes nothing there.
    fn libvirt_changes(&self) -> Vec<String> {
        const SHOWN: usize = 6;
        let Some(step) = self.prepared.as_ref().and_then(|p| p.plan.libvirt()) else {
            return Vec::new();
        };
        let Some(question) = step.question() else {
            return Vec::new();
        };
        let changes = step.change_list();
        let mut lines = vec![format!("On the KVM host it will also {question}.")];
        lines.extend(
            changes
                .iter()
                .take(SHOWN)
                .map(|c| format!("  {}", theme::text(c))),
        );
        if changes.len() > SHOWN {
            lines.push(format!(
                "  {} and {} more: the plan tab (t) lists each command",
                theme::ellipsis(),
                changes.len() - SHOWN
            ));
        }
        lines
    }

    /// Queues the install of what was prepared and opens the execute screen.
    fn start_run(&mut self) {
        let dry_run = self.preview.dry_run;
        self.execute = match &self.prepared {
            Some(p) => {
                let mut execute = screens::execute::Execute::for_plan(&p.plan, dry_run);
                execute.what = Some(p.operation.noun());
                execute
            }
            None => screens::execute::Execute::default(),
        };
        self.execute.resize(self.size);
        self.run_of = Some(self.spec.name.as_str().to_owned());
        self.effects.push(Effect::Run { dry_run });
        self.go(ScreenId::Execute);
    }

    /// Follows the run going on for cluster `name` on the execute screen, whose panes
    /// the replayed events build; the cluster's last applied preset, when there is
    /// one, becomes the spec.
    fn attach(&mut self, name: String) {
        let preset = crate::state::ClusterState::new(&self.state_dir, &name).preset();
        if let Ok(loaded) = crate::spec::load_file(&preset) {
            self.load(loaded.spec, format!("the run of {name}"));
        }
        self.execute = screens::execute::Execute::default();
        self.run_of = Some(name.clone());
        self.effects.push(Effect::Attach { name });
        self.go(ScreenId::Execute);
    }

    fn go(&mut self, screen: ScreenId) {
        self.screen = screen;
        if screen == ScreenId::Preview
            && let Some(p) = &self.prepared
        {
            self.preview.ensure(p);
        }
    }

    /// True while the Review screen waits for the PKI, files and plan.
    pub fn preparing(&self) -> bool {
        self.preparing
    }

    /// The result of [`Effect::Prepare`]: on success the preview opens.
    pub fn prepared(&mut self, result: Result<Prepared, String>) {
        self.preparing = false;
        match result {
            Ok(p) => {
                self.preview.reset(&p);
                self.prepared = Some(p);
                if matches!(self.screen, ScreenId::Review | ScreenId::Manage) {
                    self.go(ScreenId::Preview);
                }
            }
            Err(e) => self.modal = Some(Modal::Message(format!("Nothing was generated: {e}"))),
        }
    }

    /// The result of [`Effect::ImportLibvirt`]: the Hosts screen fills in the hosts
    /// and shows what it did, or why the import failed.
    pub fn imported(&mut self, result: Result<crate::kvm::Import, String>) {
        let mut spec = self.spec.clone();
        self.hosts.finish_import(result, &mut spec);
        if spec != self.spec {
            self.hosts_touched = true;
            self.spec = spec;
            self.prepared = None;
            self.revalidate();
        }
    }

    /// The result of [`Effect::TrustHostKeys`]: on success the install runs again.
    pub fn host_keys_recorded(&mut self, result: Result<(), String>) {
        match result {
            Ok(()) => self.start_run(),
            Err(e) => self.modal = Some(Modal::Message(e)),
        }
    }

    /// The install could not start (the message says why).
    pub fn run_failed_to_start(&mut self, message: String) {
        self.execute.not_started(message);
    }

    /// The result of watching the install's engine to its end: when it broke (a
    /// panic) without saying how the run ended, the run is shown as failed and the
    /// reason is shown over it, instead of a run that seems to go on forever.
    pub fn run_ended(&mut self, result: Result<RunEnd, String>) {
        let e = match result {
            Ok(end) => {
                self.execute.head = end.head.clone();
                self.done.head = end.head;
                if let Some(problem) = end.syslog_problem {
                    self.modal = Some(Modal::Message(problem));
                }
                return;
            }
            Err(e) => e,
        };
        if self.execute.running() {
            self.execute.update(&Event::RunFinished {
                outcome: RunOutcome::Failed,
                log_path: None,
            });
            self.modal = Some(Modal::Message(format!("The install stopped: {e}")));
        } else if self.execute.started.is_none() && self.execute.outcome.is_none() {
            self.execute.not_started(e);
        }
    }

    /// A burst of engine events; true when anything changed.
    pub fn engine_events(&mut self, events: &[Stamped]) -> bool {
        for ev in events {
            self.execute.update(&ev.event);
        }
        if self.modal == Some(Modal::StopOrDetach) && !self.execute.running() {
            // The run ended while the question was open: nothing left to stop.
            self.modal = None;
        }
        !events.is_empty()
    }

    /// The clock moved: a running install and a running import show time passing.
    pub fn tick(&mut self) -> bool {
        self.hosts.tick() | self.execute.running()
    }
}

/// The keys of a yes/no question.
const CONFIRM: &[Binding] = &[
    keys::bind(&[keys::Key::ch('y')], Action::Confirm, "yes"),
    keys::bind(
        &[
            keys::Key::ch('n'),
            keys::Key::plain(ratatui::crossterm::event::KeyCode::Esc),
        ],
        Action::Cancel,
        "no",
    ),
];

/// The keys of the question Ctrl-C asks during an install.
const STOP_OR_DETACH: &[Binding] = &[
    keys::bind(&[keys::Key::ch('s')], Action::Abort, "stop"),
    keys::bind(&[keys::Key::ch('d')], Action::Detach, "detach"),
    keys::bind(
        &[keys::Key::plain(ratatui::crossterm::event::KeyCode::Esc)],
        Action::Cancel,
        "go on",
    ),
];

/// The keys that close a message or the help.
/// While the cluster's name is typed out.
const TYPE_NAME: &[Binding] = &[
    keys::bind(
        &[keys::Key::plain(KeyCode::Enter)],
        Action::Confirm,
        "reset it",
    ),
    keys::bind(&[keys::Key::plain(KeyCode::Esc)], Action::Cancel, "cancel"),
];

const DISMISS: &[Binding] = &[keys::bind(
    &[
        keys::Key::plain(ratatui::crossterm::event::KeyCode::Esc),
        keys::Key::plain(ratatui::crossterm::event::KeyCode::Enter),
    ],
    Action::Cancel,
    "close",
)];
