//! One module per screen. A screen owns its editing state, turns keys into changes of
//! the spec and an [`Outcome`], and draws from a read-only [`View`].

pub mod done;
pub mod execute;
pub mod hosts;
pub mod import;
pub mod installed;
pub mod manage;
pub mod network;
pub mod options;
pub mod preview;
pub mod review;
pub mod start;
pub mod topology;

use ratatui::Frame;
use ratatui::crossterm::event::KeyEvent;
use ratatui::layout::Rect;

use super::flow::{Outcome, View};
use super::keys::Binding;
use crate::spec::ClusterSpec;

/// What the app needs from every screen.
pub trait Screen {
    /// The name in the header and the help.
    fn title(&self) -> &'static str;
    /// What the screen is for, shown by `?`.
    fn help(&self) -> &'static str;
    /// The keys the screen handles in its current mode; the hint bar shows these.
    fn bindings(&self) -> &'static [Binding];
    /// True while a text field has the keyboard: `?` is then a character.
    fn editing(&self) -> bool {
        false
    }
    /// Handles one key; may change `spec`.
    fn handle(&mut self, key: &KeyEvent, spec: &mut ClusterSpec) -> Outcome;
    /// Draws into `area`; never changes anything.
    fn draw(&self, frame: &mut Frame, area: Rect, view: &View);
    /// What stops Next on this screen; empty when the operator may go on.
    fn problems(&self, _view: &View) -> Vec<String> {
        Vec::new()
    }
}
