//! Start: a new cluster from the built-in default, one of the shipped presets, or quit.

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, List, ListItem, ListState, Paragraph, Wrap};

use std::path::{Path, PathBuf};

use super::Screen;
use crate::detached::lock::Holder;
use crate::spec::ClusterSpec;
use crate::state::ClusterState;
use crate::tui::flow::{Outcome, View};
use crate::tui::keys::{self, Action, Binding, bind, quiet};
use crate::tui::{templates, theme};

const BINDINGS: &[Binding] = &[
    quiet(keys::UP, Action::Up, "previous"),
    quiet(keys::DOWN, Action::Down, "next entry"),
    bind(keys::ENTER, Action::Select, "choose"),
    bind(&[keys::Key::ch('q')], Action::Quit, "quit"),
    quiet(keys::ESC, Action::Back, "quit"),
];

/// The start menu.
#[derive(Debug, Default)]
pub struct Start {
    selected: usize,
    /// Clusters in the state directory with the preset of their last run:
    /// (name, preset path, whether a journal says a run stopped part way).
    saved: Vec<(String, PathBuf, bool)>,
    /// Clusters a run is working on now, from any terminal, with who runs it.
    running: Vec<(String, Holder)>,
}

enum Entry {
    Running(usize),
    New,
    Preset(usize),
    Saved(usize),
    Quit,
}

impl Start {
    /// The menu, with the clusters found in `state_dir`.
    pub fn new(state_dir: &Path) -> Self {
        let mut saved = Vec::new();
        if let Ok(dirs) = std::fs::read_dir(state_dir) {
            for dir in dirs.flatten() {
                let name = dir.file_name().to_string_lossy().into_owned();
                let cluster = ClusterState::new(state_dir, &name);
                if cluster.preset().is_file() {
                    saved.push((name, cluster.preset(), cluster.journal().is_file()));
                }
            }
        }
        saved.sort();
        let running = crate::detached::running(state_dir);
        Start {
            selected: 0,
            saved,
            running,
        }
    }

    fn entries(&self) -> Vec<Entry> {
        let mut out: Vec<Entry> = (0..self.running.len()).map(Entry::Running).collect();
        out.push(Entry::New);
        out.extend((0..self.saved.len()).map(Entry::Saved));
        out.extend((0..templates::BUILTIN.len()).map(Entry::Preset));
        out.push(Entry::Quit);
        out
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
         kubewiz --preset FILE opens the wizard with your own preset; kubewiz --ascii draws \
         it with ASCII only, for serial consoles without UTF-8."
    }

    fn bindings(&self) -> &'static [Binding] {
        BINDINGS
    }

    fn handle(&mut self, key: &KeyEvent, _spec: &mut ClusterSpec) -> Outcome {
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
                    Some(Entry::Saved(i)) => {
                        let (name, path, _) = &self.saved[*i];
                        match crate::spec::load_file(path) {
                            Ok(loaded) => Outcome::Load {
                                spec: Box::new(loaded.spec),
                                origin: format!("last run of {name}"),
                            },
                            Err(e) => Outcome::Message(format!("{}: {e}", path.display())),
                        }
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
                    let (name, _, stopped) = &self.saved[*i];
                    let what = if *stopped { "continue" } else { "reuse" };
                    ListItem::new(format!("Cluster {name}: {what} its last run's choices"))
                }
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
            Some(Entry::Saved(i)) => format!(
                "The preset of the last run of {}, from {}. `kubewiz resume {}` continues a run that stopped part way.",
                self.saved[*i].0,
                self.saved[*i].1.display(),
                self.saved[*i].0
            ),
            _ => "Leave without changing anything.".into(),
        };
        frame.render_widget(
            Paragraph::new(about)
                .wrap(Wrap { trim: true })
                .style(theme::dim())
                .block(Block::new().padding(ratatui::widgets::Padding::horizontal(1))),
            detail,
        );
    }
}
