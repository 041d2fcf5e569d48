//! Start: a new cluster from the built-in default, one of the shipped presets, the
//! operator's own presets (`~/.config/kubewiz/presets`, `/etc/kubewiz/presets`), a
//! preset file typed in with path completion, or quit.

use ratatui::Frame;
use ratatui::crossterm::event::{KeyCode, KeyEvent};
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};

use std::path::{Path, PathBuf};

use super::Screen;
use crate::detached::lock::Holder;
use crate::spec::ClusterSpec;
use crate::state::{self, ClusterState};
use crate::tui::field::TextField;
use crate::tui::flow::{Outcome, View};
use crate::tui::keys::{self, Action, Binding, Key, bind, quiet};
use crate::tui::{templates, theme};

const BINDINGS: &[Binding] = &[
    quiet(keys::UP, Action::Up, "previous"),
    quiet(keys::DOWN, Action::Down, "next entry"),
    bind(keys::ENTER, Action::Select, "choose"),
    bind(&[keys::Key::ch('q')], Action::Quit, "quit"),
    quiet(keys::ESC, Action::Back, "quit"),
];

/// While a file name is typed.
const OPEN: &[Binding] = &[
    bind(keys::ENTER, Action::Commit, "open"),
    bind(&[Key::plain(KeyCode::Tab)], Action::Cycle, "complete"),
    bind(keys::ESC, Action::Cancel, "cancel"),
];

/// The start menu.
#[derive(Debug, Default)]
pub struct Start {
    selected: usize,
    /// Clusters in the state directory with the preset of their last run.
    saved: Vec<Saved>,
    /// The operator's presets: (file, shared by every operator of the machine).
    own: Vec<(PathBuf, bool)>,
    /// The file name being typed for "open a file", and what Tab last offered.
    open: Option<(TextField, Vec<String>)>,
    /// Clusters a run is working on now, from any terminal, with who runs it.
    running: Vec<(String, Holder)>,
}

/// A cluster of the state directory, with the preset of its last run.
#[derive(Debug)]
struct Saved {
    name: String,
    preset: PathBuf,
    /// A journal says a run began; for a cluster not installed, it stopped part way.
    journal: bool,
    /// Installed (an install saved its kubeconfig): what it is, its last run and when
    /// its first certificate expires, read from the state directory.
    installed: Option<String>,
}

enum Entry {
    Running(usize),
    New,
    Preset(usize),
    Saved(usize),
    Own(usize),
    OpenFile,
    Quit,
}

impl Start {
    /// The menu, with the clusters found in `state_dir` and the presets in
    /// `preset_dirs` (each marked shared or not; [`state::preset_dirs`] for the
    /// operator's).
    pub fn new(state_dir: &Path, preset_dirs: &[(PathBuf, bool)]) -> Self {
        let mut saved = Vec::new();
        if let Ok(dirs) = std::fs::read_dir(state_dir) {
            for dir in dirs.flatten() {
                let name = dir.file_name().to_string_lossy().into_owned();
                let cluster = ClusterState::new(state_dir, &name);
                if cluster.preset().is_file() {
                    saved.push(Saved {
                        installed: cluster
                            .admin_conf()
                            .is_file()
                            .then(|| super::installed::summary(&cluster)),
                        journal: cluster.journal().is_file(),
                        preset: cluster.preset(),
                        name,
                    });
                }
            }
        }
        saved.sort_by(|a, b| a.name.cmp(&b.name));
        let own: Vec<(PathBuf, bool)> = preset_dirs
            .iter()
            .flat_map(|(dir, shared)| state::presets_in(dir).into_iter().map(|p| (p, *shared)))
            .collect();
        let running = crate::detached::running(state_dir);
        Start {
            selected: 0,
            saved,
            own,
            open: None,
            running,
        }
    }

    fn entries(&self) -> Vec<Entry> {
        let mut out: Vec<Entry> = (0..self.running.len()).map(Entry::Running).collect();
        out.push(Entry::New);
        out.extend((0..self.saved.len()).map(Entry::Saved));
        out.extend((0..templates::BUILTIN.len()).map(Entry::Preset));
        out.extend((0..self.own.len()).map(Entry::Own));
        out.push(Entry::OpenFile);
        out.push(Entry::Quit);
        out
    }

    /// Keys while a file name is typed: Tab completes it, Enter opens the file.
    fn handle_open(&mut self, key: &KeyEvent) -> Outcome {
        let Some((field, offered)) = self.open.as_mut() else {
            return Outcome::Ignored;
        };
        match keys::lookup(OPEN, key) {
            Some(Action::Cancel) => self.open = None,
            Some(Action::Cycle) => {
                let (text, candidates) = complete(field.value(), home().as_deref());
                field.set(text);
                *offered = candidates;
            }
            Some(Action::Commit) => {
                let typed = field.value().trim().to_owned();
                self.open = None;
                return load(
                    &expand(&typed, home().as_deref()),
                    format!("preset {typed}"),
                );
            }
            _ => {
                field.key(*key);
                offered.clear();
            }
        }
        Outcome::Handled
    }
}

fn home() -> Option<PathBuf> {
    std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .map(PathBuf::from)
}

/// `~/x` as `$HOME/x`; anything else as typed.
fn expand(typed: &str, home: Option<&Path>) -> PathBuf {
    match (typed.strip_prefix("~/"), home) {
        (Some(rest), Some(home)) => home.join(rest),
        _ => PathBuf::from(typed),
    }
}

/// Completes the last part of a typed path from what its directory holds: the one
/// match in full (a directory with its `/`), else the longest common beginning, and
/// the matching names to show. Hidden files only when asked for with a leading dot.
fn complete(typed: &str, home: Option<&Path>) -> (String, Vec<String>) {
    let (dir_part, prefix) = match typed.rfind('/') {
        Some(at) => typed.split_at(at + 1),
        None => ("", typed),
    };
    let dir = if dir_part.is_empty() {
        PathBuf::from(".")
    } else {
        expand(dir_part, home)
    };
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_owned();
            let wanted =
                name.starts_with(prefix) && (prefix.starts_with('.') || !name.starts_with('.'));
            let is_dir = e.path().is_dir();
            wanted.then(|| if is_dir { format!("{name}/") } else { name })
        })
        .collect();
    names.sort();
    let common = match names.split_first() {
        None => return (typed.to_owned(), names),
        Some((first, rest)) => rest.iter().fold(first.clone(), |acc, n| {
            acc.chars()
                .zip(n.chars())
                .take_while(|(a, b)| a == b)
                .map(|(a, _)| a)
                .collect()
        }),
    };
    // Every name starts with the prefix, so their common beginning does too.
    let completed = format!("{dir_part}{common}");
    let offered = if names.len() > 1 { names } else { Vec::new() };
    (completed, offered)
}

/// Opens a preset file for the wizard.
fn load(path: &Path, origin: String) -> Outcome {
    match crate::spec::load_file(path) {
        Ok(loaded) => Outcome::Load {
            spec: Box::new(loaded.spec),
            origin,
        },
        Err(crate::spec::LoadError::Invalid { diagnostics, .. }) => Outcome::Message(format!(
            "{} is not a valid preset ({} problem(s)); kubewiz validate {0} lists them",
            path.display(),
            diagnostics.len()
        )),
        Err(e) => Outcome::Message(e.to_string()),
    }
}

impl Screen for Start {
    fn title(&self) -> &'static str {
        "Start"
    }

    fn help(&self) -> &'static str {
        "Start a new cluster from a complete example (the KVM lab: external etcd, 13 hosts) \
         that you then adapt screen by screen, or start from one of the shipped presets.\n\
         Nothing is contacted and nothing is written until the Execute screen; the preview \
         only makes the cluster's PKI in the state directory.\n\
         Your own presets are listed too: those saved on Review (in \
         $XDG_CONFIG_HOME/kubewiz/presets, ~/.config/kubewiz/presets) and the shared ones in \
         /etc/kubewiz/presets. \"Open a file...\" takes any preset's path; Tab completes it.\n\
         The clusters of the state directory are listed too: an installed one opens its \
         last run's choices to add hosts (workers, control planes and load balancers; \
         the preview's plan shows what changes).\n\
         kubewiz --preset FILE opens the wizard with your own preset; kubewiz --ascii draws \
         it with ASCII only, for serial consoles without UTF-8."
    }

    fn bindings(&self) -> &'static [Binding] {
        if self.open.is_some() { OPEN } else { BINDINGS }
    }

    fn editing(&self) -> bool {
        self.open.is_some()
    }

    fn handle(&mut self, key: &KeyEvent, _spec: &mut ClusterSpec) -> Outcome {
        if self.open.is_some() {
            return self.handle_open(key);
        }
        let entries = self.entries();
        match keys::lookup(BINDINGS, key) {
            Some(Action::Up) => self.selected = self.selected.saturating_sub(1),
            Some(Action::Down) => self.selected = (self.selected + 1).min(entries.len() - 1),
            Some(Action::Quit | Action::Back) => return Outcome::Quit,
            Some(Action::Select) => {
                return match entries.get(self.selected) {
                    Some(Entry::Running(i)) => Outcome::Attach(self.running[*i].0.clone()),
                    Some(Entry::New) => Outcome::Load {
                        spec: Box::new(templates::default_spec()),
                        origin: "new cluster".into(),
                    },
                    Some(Entry::Preset(i)) => {
                        let b = &templates::BUILTIN[*i];
                        match b.spec() {
                            Some(spec) => Outcome::Load {
                                spec: Box::new(spec),
                                origin: format!("preset {}", b.file),
                            },
                            None => Outcome::Message(format!("{} does not parse", b.file)),
                        }
                    }
                    Some(Entry::Saved(i)) if self.saved[*i].installed.is_some() => {
                        Outcome::Manage(self.saved[*i].name.clone())
                    }
                    Some(Entry::Saved(i)) => {
                        let saved = &self.saved[*i];
                        match crate::spec::load_file(&saved.preset) {
                            Ok(loaded) => Outcome::Load {
                                spec: Box::new(loaded.spec),
                                origin: match saved.installed {
                                    Some(_) => format!("installed cluster {}", saved.name),
                                    None => format!("last run of {}", saved.name),
                                },
                            },
                            Err(e) => Outcome::Message(format!("{}: {e}", saved.preset.display())),
                        }
                    }
                    Some(Entry::Own(i)) => {
                        let path = &self.own[*i].0;
                        load(path, format!("preset {}", path.display()))
                    }
                    Some(Entry::OpenFile) => {
                        let start = state::user_presets_dir()
                            .filter(|d| d.is_dir())
                            .map(|d| format!("{}/", d.display()))
                            .unwrap_or_default();
                        let mut field = TextField::new(start);
                        field.start_edit();
                        self.open = Some((field, Vec::new()));
                        Outcome::Handled
                    }
                    Some(Entry::Quit) | None => Outcome::Quit,
                };
            }
            _ => return Outcome::Ignored,
        }
        Outcome::Handled
    }

    fn draw(&self, frame: &mut Frame, area: Rect, _view: &View) {
        let [intro, list, detail] = Layout::vertical([
            Constraint::Length(4),
            Constraint::Min(5),
            Constraint::Length(4),
        ])
        .areas(area);
        frame.render_widget(
            Paragraph::new(vec![
                Line::styled(
                    "Install Kubernetes with kubeadm onto your VMs over SSH.",
                    theme::title(),
                ),
                Line::raw("Every file and every command is shown before anything runs;"),
                Line::raw("a dry run contacts no host. Press ? on any screen for help."),
            ])
            .block(Block::new().padding(ratatui::widgets::Padding::horizontal(1))),
            intro,
        );
        let items: Vec<ListItem> = self
            .entries()
            .iter()
            .map(|e| match e {
                Entry::Running(i) => {
                    let (name, holder) = &self.running[*i];
                    ListItem::new(Line::styled(
                        format!("Attach to {name}: {} going on", holder.kind),
                        theme::title(),
                    ))
                }
                Entry::New => ListItem::new(Line::from(vec![
                    Span::styled("New cluster", theme::title()),
                    Span::raw("  (starts from the KVM lab example)"),
                ])),
                Entry::Preset(i) => {
                    ListItem::new(format!("Load preset {}", templates::BUILTIN[*i].file))
                }
                Entry::Saved(i) => {
                    let saved = &self.saved[*i];
                    let what = match (&saved.installed, saved.journal) {
                        (Some(_), _) => "installed; manage it",
                        (None, true) => "continue its last run's choices",
                        (None, false) => "reuse its last run's choices",
                    };
                    ListItem::new(format!("Cluster {}: {what}", saved.name))
                }
                Entry::Own(i) => {
                    let (path, shared) = &self.own[*i];
                    let name = path.file_name().unwrap_or_default().to_string_lossy();
                    let whose = if *shared { "shared" } else { "your" };
                    ListItem::new(format!("Load {whose} preset {name}"))
                }
                Entry::OpenFile => ListItem::new("Open a file..."),
                Entry::Quit => ListItem::new("Quit"),
            })
            .collect();
        let mut state = ListState::default().with_selected(Some(self.selected));
        frame.render_stateful_widget(
            List::new(items)
                .block(theme::block().title(" What do you want to do? "))
                .highlight_symbol("> ")
                .highlight_style(theme::selected()),
            list,
            &mut state,
        );
        let about = match self.entries().get(self.selected) {
            Some(Entry::Running(i)) => format!(
                "Cluster {}: the {}; it goes on in a process of its own. Enter follows it here, as `kubewiz attach {}` does.",
                self.running[*i].0, self.running[*i].1, self.running[*i].0
            ),
            Some(Entry::New) => templates::BUILTIN[0].summary(),
            Some(Entry::Preset(i)) => templates::BUILTIN[*i].summary(),
            Some(Entry::Saved(i)) => match &self.saved[*i].installed {
                Some(summary) => format!(
                    "{summary} Enter opens it: its hosts and nodes, its certificates, adding hosts and renewing certificates."
                ),
                None => format!(
                    "The preset of the last run of {}, from {}. `kubewiz resume {}` continues a run that stopped part way.",
                    self.saved[*i].name,
                    self.saved[*i].preset.display(),
                    self.saved[*i].name
                ),
            },
            Some(Entry::Own(i)) => format!("{}", self.own[*i].0.display()),
            Some(Entry::OpenFile) => {
                "A preset file anywhere on this machine: type its path, Tab completes it.".into()
            }
            _ => "Leave without changing anything.".into(),
        };
        if let Some((field, offered)) = &self.open {
            let width = usize::from(detail.width.saturating_sub(8));
            let mut lines = vec![Line::from(vec![
                Span::styled("File: ", theme::title()),
                Span::raw(field.shown(width)),
            ])];
            if !offered.is_empty() {
                lines.push(Line::styled(offered.join("  "), theme::dim()));
            }
            frame.render_widget(
                Paragraph::new(lines)
                    .wrap(Wrap { trim: false })
                    .block(Block::new().padding(ratatui::widgets::Padding::horizontal(1))),
                detail,
            );
            return;
        }
        frame.render_widget(
            Paragraph::new(about)
                .wrap(Wrap { trim: true })
                .style(theme::dim())
                .block(Block::new().padding(ratatui::widgets::Padding::horizontal(1))),
            detail,
        );
    }
}
