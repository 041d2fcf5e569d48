//! Topology: the four shapes a cluster can have, each with a small diagram, the least
//! hosts it needs and what failures it survives.

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{List, ListItem, ListState, Paragraph, Wrap};

use super::Screen;
use crate::spec::{ClusterSpec, Topology};
use crate::tui::flow::{Outcome, View};
use crate::tui::keys::{self, Action, Binding, bind, quiet};
use crate::tui::theme;

const BINDINGS: &[Binding] = &[
    quiet(keys::UP, Action::Up, "previous"),
    quiet(keys::DOWN, Action::Down, "next choice"),
    bind(keys::ENTER, Action::Select, "choose"),
    bind(keys::NEXT, Action::Next, "next"),
    bind(keys::ESC, Action::Back, "back"),
];

/// The topology chooser.
#[derive(Debug)]
pub struct TopologyScreen {
    selected: usize,
}

impl TopologyScreen {
    /// The chooser with `current` highlighted.
    pub fn new(current: Topology) -> Self {
        TopologyScreen {
            selected: Topology::ALL
                .iter()
                .position(|t| *t == current)
                .unwrap_or(0),
        }
    }
}

/// (diagram, least hosts, what it survives)
fn about(t: Topology) -> (&'static [&'static str], &'static str, &'static str) {
    match t {
        Topology::SingleNode => (
            &[
                "   +--------------+",
                "   | kubemaster-1 |  API, etcd and",
                "   +--------------+  your workloads",
            ],
            "1 host",
            "nothing: losing the host loses the cluster. For labs and CI.",
        ),
        Topology::SingleMaster => (
            &[
                "        +------+",
                "        |  cp  |  API + etcd",
                "        +------+",
                "       /    |    \\",
                "   [ w ]  [ w ]  [ w ]",
            ],
            "2 hosts: 1 control plane + 1 or more workers",
            "a worker; losing the control plane stops the API (pods keep running).",
        ),
        Topology::StackedHa => (
            &[
                "            ( VIP )",
                "         /     |     \\",
                "   [cp+etcd] [cp+etcd] [cp+etcd]",
                "         \\     |     /",
                "     [ w ]   [ w ]   [ w ]",
            ],
            "3 control planes (an odd number), workers optional",
            "one control plane of 3 (two of 5): etcd keeps its quorum.",
        ),
        Topology::ExternalEtcd => (
            &[
                "          ( VIP on 2 LBs )",
                "            /        \\",
                "        [ cp ]      [ cp ]",
                "          |   \\    /  |",
                "    [etcd]   [etcd]   [etcd]",
                "     workers join via the VIP",
            ],
            "3 etcd hosts (odd) + 2 control planes, workers",
            "one etcd host and one control plane at the same time.",
        ),
    }
}

impl Screen for TopologyScreen {
    fn title(&self) -> &'static str {
        "Topology"
    }

    fn help(&self) -> &'static str {
        "Choose the shape of the cluster. For a new cluster whose hosts you have not edited \
         yet, choosing a topology also fills in a matching example set of hosts, which you \
         adapt on the next screen.\nHA topologies put the API behind a virtual IP (VIP) held \
         by haproxy+keepalived or kube-vip."
    }

    fn bindings(&self) -> &'static [Binding] {
        BINDINGS
    }

    fn handle(&mut self, key: &KeyEvent, _spec: &mut ClusterSpec) -> Outcome {
        match keys::lookup(BINDINGS, key) {
            Some(Action::Up) => self.selected = self.selected.saturating_sub(1),
            Some(Action::Down) => self.selected = (self.selected + 1).min(Topology::ALL.len() - 1),
            Some(Action::Select) => return Outcome::Topology(Topology::ALL[self.selected]),
            Some(Action::Next) => return Outcome::Next,
            Some(Action::Back) => return Outcome::Back,
            _ => return Outcome::Ignored,
        }
        Outcome::Handled
    }

    fn draw(&self, frame: &mut Frame, area: Rect, view: &View) {
        let [list, detail] =
            Layout::horizontal([Constraint::Length(26), Constraint::Min(40)]).areas(area);
        let items: Vec<ListItem> = Topology::ALL
            .iter()
            .map(|t| {
                let mark = if *t == view.spec.topology {
                    theme::current_mark()
                } else {
                    " "
                };
                ListItem::new(format!("{mark} {t}"))
            })
            .collect();
        let mut state = ListState::default().with_selected(Some(self.selected));
        frame.render_stateful_widget(
            List::new(items)
                .block(
                    theme::block()
                        .title(format!(" Topology ({} = current) ", theme::current_mark())),
                )
                .highlight_symbol(">")
                .highlight_style(theme::selected()),
            list,
            &mut state,
        );
        let t = Topology::ALL[self.selected];
        let (diagram, least, survives) = about(t);
        let mut lines: Vec<Line> = vec![Line::raw("")];
        lines.extend(diagram.iter().map(|l| Line::raw(*l)));
        lines.push(Line::raw(""));
        lines.push(Line::from(vec![
            ratatui::text::Span::styled("Needs:    ", theme::title()),
            ratatui::text::Span::raw(least),
        ]));
        lines.push(Line::from(vec![
            ratatui::text::Span::styled("Survives: ", theme::title()),
            ratatui::text::Span::raw(survives),
        ]));
        frame.render_widget(
            Paragraph::new(lines)
                .wrap(Wrap { trim: false })
                .block(theme::block().title(format!(" {t} "))),
            detail,
        );
    }
}
